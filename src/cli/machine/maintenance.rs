//! `kith check`, `kith reindex` and `kith compact`: looking after the ledger.

use std::path::Path;

use anyhow::Context as _;
use clap::Args;

use crate::cli::style::Progress;
use crate::cli::{Env, print_json};

/// Verify every chunk, quarantine damaged ones, and bring the index up to date
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
    /// Also fix what can be fixed: derive the index again, make a damaged
    /// device.json again, and remove damaged teammates' replicas so the
    /// next sync fetches them again
    #[arg(long)]
    repair: bool,
}

/// Rebuild the index from the ledger (it is derived and never the source of truth)
#[derive(Args, Debug)]
pub struct ReindexArgs {}

/// Fold each shard's chunks into one snapshot
#[derive(Args, Debug)]
pub struct CompactArgs {}

pub fn run_check(env: &Env, args: CheckArgs) -> anyhow::Result<()> {
    let mut repaired: Vec<String> = Vec::new();
    // What is still wrong when the command ends, one line each, naming the
    // file and what to do.
    let mut damaged: Vec<String> = Vec::new();
    if let Some(damage) = kith::ledger::Device::damage(&env.home) {
        if args.repair {
            let (name, from) = device_name_for_rebuild(&env.home);
            kith::ledger::Device::rebuild(&env.home, &name)
                .with_context(|| format!("{damage}, and it could not be written again"))?;
            repaired.push(format!(
                "{} made again: a new device id (changes already made keep theirs) and the name '{name}' ({from})",
                env.home.join("device.json").display()
            ));
        } else {
            damaged.push(format!(
                "{damage}: kith reads but will not write without it; `kith check --repair` makes it again"
            ));
        }
    }
    let mut ledger = env.open()?;
    let report = ledger.check_with(args.repair)?;
    if report.index_rebuilt {
        // Derived from the replicas' indexes: the next team question
        // builds it again.
        kith::index::team::TeamIndex::remove(&env.home);
        repaired.push(format!(
            "{} derived again from {} shards (and the team index dropped, to be built again)",
            env.home.join("index.sqlite").display(),
            report.shards
        ));
    }
    let foreign: Vec<&kith::store::Quarantined> = ledger
        .report
        .quarantined
        .iter()
        .filter(|q| q.foreign)
        .collect();
    for m in &report.missing {
        damaged.push(format!(
            "{} is missing (the index last saw {} chunk files in it): restore it from a backup; until then list and show answer from the index, and `kith reindex` accepts the loss",
            m.dir.display(),
            m.chunks
        ));
    }
    damaged.extend(damaged_beside_ledger(&env.home));
    let replicas = kith::replicas::check_replicas(&env.opener(), args.repair)?;
    for r in &replicas {
        if r.problems.is_empty() {
            continue;
        }
        if r.dropped {
            repaired.push(format!(
                "{}'s replica in {} removed ({}); the next sync fetches it again",
                r.owner,
                r.home.display(),
                r.problems[0]
            ));
            continue;
        }
        for p in &r.problems[1..] {
            eprintln!("kith: warning: {}'s replica: {p}", r.owner);
        }
        let todo = r.not_dropped.clone().unwrap_or_else(|| {
            "`kith check --repair` removes it so the next sync fetches it again".into()
        });
        damaged.push(format!(
            "{}'s replica is damaged: {}; {todo}",
            r.owner, r.problems[0]
        ));
    }
    if args.json {
        print_json(&serde_json::json!({
            "shards": report.shards,
            "reindexed": report.reindexed,
            "temp_files_removed": report.temp_files_removed,
            "people": report.people,
            "quarantined": ledger.report.quarantined.iter().map(|q| q.moved_to.display().to_string()).collect::<Vec<_>>(),
            "foreign": foreign.iter().map(|q| q.file.display().to_string()).collect::<Vec<_>>(),
            "missing": report.missing.iter().map(|m| m.dir.display().to_string()).collect::<Vec<_>>(),
            "replicas": replicas,
            "repaired": repaired,
            "damaged": damaged,
        }))?;
    } else {
        let from_elsewhere = if foreign.is_empty() {
            String::new()
        } else {
            format!(" ({} from another ledger)", foreign.len())
        };
        println!(
            "checked {} shards: {} people, {} shards re-indexed, {} damaged chunks quarantined{from_elsewhere}",
            report.shards,
            report.people,
            report.reindexed,
            ledger.report.quarantined.len()
        );
        for r in &repaired {
            println!("repaired: {r}");
        }
    }
    match damaged.as_slice() {
        [] => Ok(()),
        [one] => anyhow::bail!("{one}"),
        many => {
            for d in many {
                eprintln!("kith: warning: {d}");
            }
            anyhow::bail!("{} things are damaged (above)", many.len())
        }
    }
}

/// The name to give a `device.json` made again, and where it came from:
/// the one the team's roster has for this device's key, else the host's.
fn device_name_for_rebuild(home: &Path) -> (String, &'static str) {
    let device_id = std::fs::read(home.join("keys").join("device.key"))
        .ok()
        .and_then(|b| libp2p::identity::Keypair::from_protobuf_encoding(&b).ok())
        .map(|k| k.public().to_peer_id().to_string());
    if let (Some(id), Ok(roster)) = (device_id, kith::team::TeamDir::new(home).roster()) {
        for m in roster.members() {
            if let Some(d) = m.devices.iter().find(|d| d.id == id) {
                return (d.name.clone(), "as the team's roster names this device");
            }
        }
    }
    match std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
    {
        Some(host) => (host, "the host's name"),
        None => ("this device".into(), "no name was found"),
    }
}

/// The files beside the ledger that cannot be rebuilt from it (the team's
/// roster and invitations, this home's two keys), each named with why it
/// does not read and what to do. The ledger itself is checked by
/// `Ledger::check`.
fn damaged_beside_ledger(home: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let team = kith::team::TeamDir::new(home);
    if let Err(e) = team.roster() {
        out.push(format!("the team's roster is damaged: {e}"));
    }
    if let Err(e) = team.invites() {
        out.push(format!("the team's invitations are damaged: {e}"));
    }
    for (name, todo) in [
        (
            "device.key",
            "it is this device's identity and cannot be made again; restore it from a backup",
        ),
        (
            "member.key",
            "it cannot be made again; restore it from a backup, or link this device again from another of yours",
        ),
    ] {
        let path = home.join("keys").join(name);
        match std::fs::read(&path) {
            Ok(bytes) => {
                if let Err(e) = libp2p::identity::Keypair::from_protobuf_encoding(&bytes) {
                    out.push(format!(
                        "{} is damaged: not a kith key ({e}); {todo}",
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
