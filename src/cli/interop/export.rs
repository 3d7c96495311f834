//! `kith export`: the complete JSONL backup, or contacts as vCard or CSV,
//! or a calendar of birthdays, anniversaries and follow-ups as ICS; vCards
//! also as a vdir (`--vdir DIR`: one .vcf file per card, for khard and
//! vdirsyncer), written by [`kith::export::vdir`].

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use kith::export::{self, vcard::Version};
use kith::model::Kind;

use crate::cli::style::Progress;
use crate::cli::{Env, print_json};

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
    /// The format [default: jsonl; vcard with --vdir]
    #[arg(long, value_enum)]
    format: Option<Format>,
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
    /// Write vCards into this folder, one .vcf file per card named by its
    /// UID, as khard and vdirsyncer keep them: only changed cards are
    /// rewritten, cards of people removed since are removed, and files not
    /// of kith's stay
    #[arg(long, value_name = "DIR", conflicts_with = "output")]
    vdir: Option<PathBuf>,
    /// Print the --vdir report as JSON
    #[arg(long, requires = "vdir")]
    json: bool,
}

/// A usage error (exit 2, with `kith export`'s usage), as clap's own are.
fn usage_error(message: &str) -> ! {
    use clap::CommandFactory;
    let mut kith = crate::cli::Cli::command();
    kith.build();
    match kith.find_subcommand_mut("export") {
        Some(export) => export
            .error(clap::error::ErrorKind::ArgumentConflict, message)
            .exit(),
        None => kith
            .error(clap::error::ErrorKind::ArgumentConflict, message)
            .exit(),
    }
}

pub fn run(env: &Env, args: ExportArgs) -> anyhow::Result<()> {
    let format = match (args.format, &args.vdir) {
        (Some(Format::Vcard) | None, Some(_)) => Format::Vcard,
        (Some(_), Some(_)) => usage_error("--vdir writes vCards: it goes with --format vcard only"),
        (Some(f), None) => f,
        (None, None) => Format::Jsonl,
    };
    if let Some(dir) = &args.vdir {
        return run_vdir(env, &args, dir);
    }
    if format == Format::Jsonl && !args.who.is_empty() {
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
        Ok(match format {
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
                match format {
                    Format::Csv => export::csv::write_all(&records, out)?,
                    _ => export::vcard::write_all(&records, version(&args), out)?,
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

fn version(args: &ExportArgs) -> Version {
    match args.vcard_version {
        VcardVersion::V3 => Version::V3,
        VcardVersion::V4 => Version::V4,
    }
}

/// `--vdir DIR`: the cards written into a folder, and a one-line report
/// (or JSON) on standard output.
fn run_vdir(env: &Env, args: &ExportArgs, dir: &Path) -> anyhow::Result<()> {
    let ledger = env.open()?;
    let who = args
        .who
        .iter()
        .map(|w| ledger.resolve(w, &[Kind::Person, Kind::Company], false))
        .collect::<Result<Vec<_>, _>>()?;
    let records = ledger.export_records(&who, !args.no_private)?;
    let bar = Progress::new(env.interactive, "exporting");
    let s = export::vdir::write_vdir(
        &ledger,
        dir,
        &records,
        version(args),
        !who.is_empty(),
        &|d, t| bar.set(d, t),
    )?;
    bar.finish();
    if args.json {
        return print_json(&s);
    }
    let mut line = format!(
        "{}: {} written, {} unchanged, {} removed",
        s.dir, s.written, s.unchanged, s.removed
    );
    if !s.foreign.is_empty() {
        let first = &s.foreign[0];
        let more = match s.foreign.len() - 1 {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        line.push_str(&format!(
            ", {} kept that are not kith's ({first}{more})",
            s.foreign.len()
        ));
    }
    if s.not_named > 0 {
        line.push_str(&format!(
            ", {} of people not named left as they are",
            s.not_named
        ));
    }
    println!("{line}");
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
