//! `kith sync`: sync once with every reachable member, then exit.

use std::time::Duration;

use clap::Args;
use kith::sync::NodeConfig;
use libp2p::Multiaddr;

use crate::cli::{Env, print_json};

/// Sync once with every reachable teammate and your own devices, then print what came in
#[derive(Args, Debug)]
pub struct SyncArgs {
    /// Also connect to this address (repeatable)
    #[arg(long, value_name = "MULTIADDR")]
    peer: Vec<Multiaddr>,
    /// Do not look for teammates on the local network (also KITH_MDNS=off)
    #[arg(long)]
    no_mdns: bool,
    /// Give up on members who have not answered by then
    #[arg(long, default_value = "20s", value_parser = crate::cli::team::parse_duration)]
    wait: Duration,
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(env: &Env, args: SyncArgs) -> anyhow::Result<std::process::ExitCode> {
    let engine = crate::cli::daemon::engine(env)?;
    let config = NodeConfig {
        // A one-shot sync only dials out.
        listen: Vec::new(),
        peers: args.peer,
        mdns: crate::cli::daemon::mdns_wanted(args.no_mdns),
        record_frames: std::env::var_os("KITH_RECORD_FRAMES").map(Into::into),
        once: true,
        wait: args.wait,
        ..NodeConfig::new(Vec::new())
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = rt.block_on(kith::sync::run(
        engine,
        config,
        std::future::pending(),
        |_| {},
    ))?;
    if args.json {
        print_json(&report)?;
    } else {
        let s = env.style();
        for p in &report.peers {
            let who = p.name.clone().unwrap_or_else(|| "your other device".into());
            let what = if p.shards_stored == 0 {
                "up to date".to_string()
            } else {
                format!("{} shard(s) received", p.shards_stored)
            };
            let rejected = if p.rejected > 0 {
                format!("; {} refused (see -v)", p.rejected)
            } else {
                String::new()
            };
            println!("synced with {}: {what}{rejected}", s.bold(&who));
        }
        if report.peers.is_empty() {
            println!("no one was reachable");
        }
        for name in &report.unreachable {
            println!("not reachable: {name}");
        }
    }
    // Nothing synced at all, or someone half-way, is a failure.
    let failed = report.peers.is_empty() || report.peers.iter().any(|p| !p.synced);
    Ok(if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    })
}
