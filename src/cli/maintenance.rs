//! `kith check`, `kith reindex` and `kith compact`: looking after the ledger.

use clap::Args;

use super::style::Progress;
use super::{Env, print_json};

/// Verify every chunk, quarantine damaged ones, and bring the index up to date
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

/// Rebuild the index from the ledger (it is derived and never the source of truth)
#[derive(Args, Debug)]
pub struct ReindexArgs {}

/// Fold each shard's chunks into one snapshot
#[derive(Args, Debug)]
pub struct CompactArgs {}

pub fn run_check(env: &Env, args: CheckArgs) -> anyhow::Result<()> {
    let mut ledger = env.open()?;
    let report = ledger.check()?;
    if args.json {
        return print_json(&serde_json::json!({
            "shards": report.shards,
            "reindexed": report.reindexed,
            "temp_files_removed": report.temp_files_removed,
            "people": report.people,
            "quarantined": ledger.report.quarantined.iter().map(|q| q.moved_to.display().to_string()).collect::<Vec<_>>(),
        }));
    }
    println!(
        "checked {} shards: {} people, {} shards re-indexed, {} damaged chunks quarantined",
        report.shards,
        report.people,
        report.reindexed,
        ledger.report.quarantined.len()
    );
    Ok(())
}

pub fn run_reindex(env: &Env, _args: ReindexArgs) -> anyhow::Result<()> {
    let mut ledger = env.open()?;
    let bar = Progress::new(env.interactive, "indexing");
    ledger.rebuild_index(&|d, t| bar.set(d, t))?;
    bar.finish();
    // The team index is derived from the replicas' indexes: the next team
    // question builds it again.
    kith::index::team::TeamIndex::remove(&env.home);
    println!("index rebuilt");
    Ok(())
}

pub fn run_compact(env: &Env, _args: CompactArgs) -> anyhow::Result<()> {
    let mut ledger = env.open()?;
    let n = ledger.compact()?;
    println!("compacted {n} shard parts");
    Ok(())
}
