//! `kith export`: the complete JSONL backup, or contacts as vCard or CSV,
//! or a calendar of birthdays, anniversaries and follow-ups as ICS.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use kith::export::{self, vcard::Version};
use kith::model::Kind;

use crate::cli::Env;
use crate::cli::style::Progress;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// Everything, exactly: imports back into kith
    Jsonl,
    /// Contacts for Apple Contacts, Google Contacts, Thunderbird…
    Vcard,
    /// Contacts as Google Contacts CSV
    Csv,
    /// Birthdays, anniversaries and open follow-ups for a calendar
    Ics,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum VcardVersion {
    #[value(name = "3.0")]
    V3,
    #[value(name = "4.0")]
    V4,
}

/// Export the ledger, or some people in it
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Only these people (vcard, csv, ics) [default: everyone]
    #[arg(add = crate::cli::completions::who(), value_parser = crate::cli::lookup)]
    who: Vec<String>,
    /// The format
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    format: Format,
    /// The vCard version: 3.0 is read by every address book, Apple's
    /// included; 4.0 is the current standard
    #[arg(long, value_enum, default_value_t = VcardVersion::V3)]
    vcard_version: VcardVersion,
    /// Write to this file instead of standard output
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Leave out everything kept in the private part
    #[arg(long)]
    no_private: bool,
}

pub fn run(env: &Env, args: ExportArgs) -> anyhow::Result<()> {
    if args.format == Format::Jsonl && !args.who.is_empty() {
        anyhow::bail!(
            "a JSONL export is the whole ledger; name people only with --format vcard, csv or ics"
        );
    }
    let mut ledger = env.open()?;
    let who = args
        .who
        .iter()
        .map(|w| ledger.resolve(w, &[Kind::Person, Kind::Company], false))
        .collect::<Result<Vec<_>, _>>()?;
    let include_private = !args.no_private;
    let bar = Progress::new(env.interactive && args.output.is_some(), "exporting");
    let said = write_to(args.output.as_deref(), |out| {
        Ok(match args.format {
            Format::Jsonl => {
                let s = ledger.export_jsonl(out, include_private, &|d, t| bar.set(d, t))?;
                let left = if args.no_private {
                    format!(
                        "; {} private records or fields left out",
                        s.private_left_out
                    )
                } else {
                    String::new()
                };
                (
                    format!("{} records ({} people)", s.entities, s.people),
                    left,
                )
            }
            Format::Vcard | Format::Csv => {
                let records = ledger.export_records(&who, include_private)?;
                match args.format {
                    Format::Csv => export::csv::write_all(&records, out)?,
                    _ => {
                        let version = match args.vcard_version {
                            VcardVersion::V3 => Version::V3,
                            VcardVersion::V4 => Version::V4,
                        };
                        export::vcard::write_all(&records, version, out)?
                    }
                }
                (format!("{} contacts", records.len()), String::new())
            }
            Format::Ics => {
                let events = ledger.calendar_events(&who, include_private)?;
                let stamp = ledger.now().strftime("%Y%m%dT%H%M%SZ").to_string();
                export::ics::write_all(&events, &stamp, out)?;
                (format!("{} events", events.len()), String::new())
            }
        })
    })?;
    bar.finish();
    if let Some(path) = &args.output {
        eprintln!("exported {} to {}{}", said.0, path.display(), said.1);
    }
    Ok(())
}

/// Runs `write` into the output file, or standard output. A file is
/// written beside its target and renamed, so a failed export never leaves
/// half a file under the name of a good one.
fn write_to(
    path: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<(String, String)>,
) -> anyhow::Result<(String, String)> {
    match path {
        Some(path) => {
            let tmp = path.with_extension("partial");
            let file = std::fs::File::create(&tmp)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            let mut out = std::io::BufWriter::new(file);
            let said = write(&mut out).with_context(|| format!("exporting to {}", path.display()));
            let said = match said {
                Ok(s) => s,
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e);
                }
            };
            let file = out.into_inner().context("flushing the export")?;
            file.sync_all()
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            std::fs::rename(&tmp, path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(said)
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let said = write(&mut out)?;
            out.flush()?;
            Ok(said)
        }
    }
}
