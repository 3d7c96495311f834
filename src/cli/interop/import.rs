//! `kith import FILE…`: contacts from vCard and CSV files, a vdir folder of
//! `.vcf` files, or a kith JSONL export, matched against the ledger so
//! nothing is doubled.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use kith::import::{self, Format, Input, csv::ColumnMap};
use kith::transfer::ImportSummary;

use crate::cli::style::Progress;
use crate::cli::{Env, print_json};

#[derive(ValueEnum, Clone, Copy, Debug)]
enum FormatArg {
    Vcard,
    Csv,
    Jsonl,
}

/// Import contacts: vCard (2.1, 3.0, 4.0), CSV (Google, Outlook, LinkedIn,
/// or any with --map) or a kith JSONL export; known people are matched and
/// merged, never doubled
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The files to import; a folder is read as a vdir (every .vcf file in it)
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The format [default: told from the content]
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// For a CSV kith does not recognise: which column holds what, as
    /// "COLUMN=FIELD,…" (fields: name, first, last, email, phone, company,
    /// title, birthday, note, tag, …; email:work gives a label)
    #[arg(long, value_name = "MAP")]
    map: Option<String>,
    /// Say what would be imported and merged, and change nothing
    #[arg(long)]
    dry_run: bool,
    /// Print the summary as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(env: &Env, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let map = args.map.as_deref().map(ColumnMap::parse).transpose()?;
    let mut ledger = env.open()?;
    let mut skipped_any = false;
    let mut summaries = Vec::new();
    for path in &args.files {
        let name = path.display().to_string();
        let bar = Progress::new(env.interactive, "importing");
        let progress = |d, t| bar.set(d, t);
        let (source, summary) = if path.is_dir() {
            if matches!(args.format, Some(FormatArg::Csv | FormatArg::Jsonl)) || map.is_some() {
                anyhow::bail!("{name} is a folder: kith reads a folder as a vdir of .vcf files");
            }
            import::import_vdir(&mut ledger, path, args.dry_run, &progress)?
        } else {
            import_one(
                &mut ledger,
                path,
                &name,
                args.format,
                map.as_ref(),
                args.dry_run,
                &progress,
            )?
        };
        bar.finish();
        report(
            &name,
            &source,
            &summary,
            args.json,
            &mut skipped_any,
            &mut summaries,
        );
    }
    if args.json {
        print_json(&summaries)?;
    }
    Ok(if skipped_any {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Imports one file: a JSONL export streamed, anything else read whole.
fn import_one(
    ledger: &mut kith::Ledger,
    path: &std::path::Path,
    name: &str,
    format: Option<FormatArg>,
    map: Option<&ColumnMap>,
    dry_run: bool,
    progress: &dyn Fn(usize, usize),
) -> anyhow::Result<(String, ImportSummary)> {
    let format = match format {
        Some(FormatArg::Vcard) => Format::Vcard,
        Some(FormatArg::Csv) => Format::Csv,
        Some(FormatArg::Jsonl) => Format::Jsonl,
        None => sniff(path, name)?,
    };
    let read = || format!("cannot read {name}");
    let done = if format == Format::Jsonl {
        // Streamed: a backup of 100,000 people is not read into memory.
        let file = std::fs::File::open(path).with_context(read)?;
        let mut input = std::io::BufReader::new(file);
        let input = Input::Reader(&mut input);
        import::import_file(ledger, name, input, Some(format), map, dry_run, progress)?
    } else {
        let bytes = std::fs::read(path).with_context(read)?;
        let input = Input::Bytes(&bytes);
        import::import_file(ledger, name, input, Some(format), map, dry_run, progress)?
    };
    Ok(done)
}

/// Says what one file or folder gave: each record skipped on stderr, the
/// summary on stdout (or kept for the JSON list).
fn report(
    name: &str,
    source: &str,
    summary: &ImportSummary,
    json: bool,
    skipped_any: &mut bool,
    summaries: &mut Vec<serde_json::Value>,
) {
    for s in &summary.skipped {
        eprintln!("kith: skipped {s}");
    }
    *skipped_any |= !summary.skipped.is_empty();
    if !json {
        print_summary(name, source, summary);
    }
    summaries.push(serde_json::json!({ "file": name, "format": source, "summary": summary }));
}

/// The format of a file: by its name, or failing that its first bytes.
fn sniff(path: &std::path::Path, name: &str) -> anyhow::Result<Format> {
    if let Some(format) = import::format_from_name(name) {
        return Ok(format);
    }
    let mut head = Vec::with_capacity(import::SNIFF_BYTES);
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {name}"))?;
    let limit = import::SNIFF_BYTES as u64;
    std::io::Read::read_to_end(&mut std::io::Read::take(file, limit), &mut head)
        .with_context(|| format!("cannot read {name}"))?;
    Ok(import::sniff(name, &head)?)
}

fn print_summary(name: &str, source: &str, s: &ImportSummary) {
    let would = if s.dry_run {
        " (dry run: nothing written)"
    } else {
        ""
    };
    println!(
        "{name} ({source}): {} created, {} merged, {} updated, {} unchanged, {} skipped{would}",
        s.created,
        s.merged,
        s.updated,
        s.unchanged,
        s.skipped.len()
    );
    for m in &s.merges {
        println!("  {m}");
    }
}
