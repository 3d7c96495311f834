//! `kith import FILE.jsonl`: bring a kith export back in.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::style::Progress;
use super::{Env, print_json};

/// Import a kith JSONL export; known records are updated, none doubled
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The files to import
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print the summary as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(env: &Env, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let mut ledger = env.open()?;
    let mut skipped_any = false;
    let mut summaries = Vec::new();
    for path in &args.files {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).with_context(|| format!("cannot read {name}"))?;
        let mut input = std::io::BufReader::new(file);
        let bar = Progress::new(env.interactive, "importing");
        let summary = ledger.import_jsonl(&name, &mut input, &|d, t| bar.set(d, t))?;
        bar.finish();
        for s in &summary.skipped {
            eprintln!("kith: skipped {s}");
        }
        skipped_any |= !summary.skipped.is_empty();
        if !args.json {
            println!(
                "{name}: {} created, {} updated, {} unchanged, {} skipped",
                summary.created,
                summary.updated,
                summary.unchanged,
                summary.skipped.len()
            );
        }
        summaries.push(serde_json::json!({ "file": name, "summary": summary }));
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
