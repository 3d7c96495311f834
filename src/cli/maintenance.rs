//! `kith check`, `kith reindex` and `kith compact`: looking after the ledger.

use std::path::Path;

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
    let damaged = damaged_beside_ledger(&env.home);
    if args.json {
        print_json(&serde_json::json!({
            "shards": report.shards,
            "reindexed": report.reindexed,
            "temp_files_removed": report.temp_files_removed,
            "people": report.people,
            "quarantined": ledger.report.quarantined.iter().map(|q| q.moved_to.display().to_string()).collect::<Vec<_>>(),
            "damaged": damaged,
        }))?;
    } else {
        println!(
            "checked {} shards: {} people, {} shards re-indexed, {} damaged chunks quarantined",
            report.shards,
            report.people,
            report.reindexed,
            ledger.report.quarantined.len()
        );
    }
    match damaged.as_slice() {
        [] => Ok(()),
        [one] => anyhow::bail!("{one}"),
        many => {
            for d in many {
                eprintln!("kith: warning: {d}");
            }
            anyhow::bail!("{} files beside the ledger are damaged (above)", many.len())
        }
    }
}

/// The files beside the ledger that cannot be rebuilt from it (the team's
/// roster and invitations, this home's two keys), each named with why it
/// does not read. The ledger itself is checked by `Ledger::check`.
fn damaged_beside_ledger(home: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let team = kith::team::TeamDir::new(home);
    if let Err(e) = team.roster() {
        out.push(format!("the team's roster is damaged: {e}"));
    }
    if let Err(e) = team.invites() {
        out.push(format!("the team's invitations are damaged: {e}"));
    }
    for name in ["device.key", "member.key"] {
        let path = home.join("keys").join(name);
        match std::fs::read(&path) {
            Ok(bytes) => {
                if let Err(e) = libp2p::identity::Keypair::from_protobuf_encoding(&bytes) {
                    out.push(format!(
                        "{} is damaged: not a kith key ({e})",
                        path.display()
                    ));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => out.push(format!("{} cannot be read: {e}", path.display())),
        }
    }
    out
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
