//! `kith export --format jsonl`: the complete native backup.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::Env;
use super::style::Progress;

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Format {
    Jsonl,
}

/// Export the ledger
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The format: jsonl is complete and imports back exactly
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    format: Format,
    /// Write to this file instead of standard output
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Leave out everything kept in the private part
    #[arg(long)]
    no_private: bool,
}

pub fn run(env: &Env, args: ExportArgs) -> anyhow::Result<()> {
    let mut ledger = env.open()?;
    let bar = Progress::new(env.interactive && args.output.is_some(), "exporting");
    let progress = |d, t| bar.set(d, t);
    let Format::Jsonl = args.format;
    let summary = match &args.output {
        Some(path) => {
            // Write beside the target and rename, so a failed export never
            // leaves half a backup under the name of a good one.
            let tmp = path.with_extension("partial");
            let file = std::fs::File::create(&tmp)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            let mut out = std::io::BufWriter::new(file);
            let summary = ledger
                .export_jsonl(&mut out, !args.no_private, &progress)
                .with_context(|| format!("exporting to {}", path.display()))?;
            let file = out.into_inner().context("flushing the export")?;
            file.sync_all()
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            std::fs::rename(&tmp, path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            summary
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let summary = ledger.export_jsonl(&mut out, !args.no_private, &progress)?;
            out.flush()?;
            summary
        }
    };
    bar.finish();
    if let Some(path) = &args.output {
        eprintln!(
            "exported {} records ({} people) to {}{}",
            summary.entities,
            summary.people,
            path.display(),
            if args.no_private {
                format!(
                    "; {} private records or fields left out",
                    summary.private_left_out
                )
            } else {
                String::new()
            }
        );
    }
    Ok(())
}
