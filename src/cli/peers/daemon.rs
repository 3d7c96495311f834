//! `kith daemon`: stay connected to the team and keep replicas current.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;
use kith::sync::{Engine, NodeConfig};
use kith::team::TeamDir;
use libp2p::Multiaddr;

use crate::cli::Env;

/// Sync with teammates and your own devices until stopped (Ctrl-C or SIGTERM)
#[derive(Args, Debug)]
pub struct DaemonArgs {
    /// Listen here (repeatable) [default: TCP and QUIC on all interfaces, the ports used last time]
    #[arg(long, value_name = "MULTIADDR")]
    listen: Vec<Multiaddr>,
    /// Also connect to this address, e.g. /ip4/192.168.1.7/tcp/4001/p2p/12D3Koo… (repeatable)
    #[arg(long, value_name = "MULTIADDR")]
    peer: Vec<Multiaddr>,
    /// Do not look for teammates on the local network (also KITH_MDNS=off)
    #[arg(long)]
    no_mdns: bool,
    /// Also be the team's relay and hub: members behind NATs reach each
    /// other through this daemon, and it keeps their shared ledgers while
    /// their laptops sleep. For an always-on machine teammates can reach.
    #[arg(long)]
    relay: bool,
    /// With --relay: where teammates reach this machine, when not where it
    /// listens, e.g. /ip4/203.0.113.7/tcp/4001 (repeatable)
    #[arg(long, value_name = "MULTIADDR", requires = "relay")]
    external: Vec<Multiaddr>,
    /// Also hold a slot on this relay, even if the team's roster does not
    /// name it, e.g. /ip4/203.0.113.7/tcp/4001/p2p/12D3Koo… (repeatable)
    #[arg(long, value_name = "MULTIADDR")]
    relay_via: Vec<Multiaddr>,
}

pub fn mdns_wanted(flag_off: bool) -> bool {
    !flag_off
        && !matches!(
            std::env::var("KITH_MDNS").as_deref(),
            Ok("off" | "0" | "false" | "no")
        )
}

pub fn clock() -> i64 {
    // KITH_NOW pins the clock of one-shot commands; a daemon lives for a
    // while, so it reads the real clock, shifted by the same offset.
    let offset = OFFSET.get().copied().unwrap_or(0);
    jiff::Timestamp::now().as_second() + offset
}

static OFFSET: std::sync::OnceLock<i64> = std::sync::OnceLock::new();

pub fn engine(env: &Env) -> anyhow::Result<Arc<Engine>> {
    let _ = OFFSET.set(env.now.as_second() - jiff::Timestamp::now().as_second());
    std::fs::create_dir_all(&env.home)?;
    // Opening the ledger creates it and brings its index up to date.
    drop(env.open()?);
    Ok(Arc::new(Engine::open(
        &env.home,
        &kith::replicas::device_name(&env.home),
        clock,
    )?))
}

/// TCP and QUIC on every interface, each on the port it had last time (so
/// addresses teammates remember stay good), or any port the first time.
fn default_listen(home: &Path) -> Vec<Multiaddr> {
    use libp2p::multiaddr::Protocol;
    let last: Vec<Multiaddr> = kith::sync::daemon::status_file(home)
        .and_then(|v| v.get("listen").cloned())
        .and_then(|l| serde_json::from_value::<Vec<String>>(l).ok())
        .unwrap_or_default()
        .iter()
        .filter_map(|a| a.parse().ok())
        .collect();
    let tcp = last
        .iter()
        .find_map(|a| match (a.iter().nth(1), a.iter().nth(2)) {
            (Some(Protocol::Tcp(port)), None) => Some(port),
            _ => None,
        })
        .unwrap_or(0);
    let udp = last
        .iter()
        .find_map(|a| match (a.iter().nth(1), a.iter().nth(2)) {
            (Some(Protocol::Udp(port)), Some(Protocol::QuicV1)) => Some(port),
            _ => None,
        })
        .unwrap_or(0);
    [
        format!("/ip4/0.0.0.0/tcp/{tcp}"),
        format!("/ip4/0.0.0.0/udp/{udp}/quic-v1"),
    ]
    .iter()
    .map(|a| a.parse().expect("valid address"))
    .collect()
}

pub fn run(env: &Env, args: DaemonArgs) -> anyhow::Result<()> {
    let engine = engine(env)?;
    let dir = TeamDir::new(&env.home);
    std::fs::create_dir_all(dir.path())?;
    let lock_path = kith::sync::daemon::lock_path(&env.home);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
    if lock.try_lock().is_err() {
        bail!(
            "a kith daemon is already running for {}",
            env.home.display()
        );
    }
    let listen = if args.listen.is_empty() {
        default_listen(&env.home)
    } else {
        args.listen
    };
    let config = NodeConfig {
        listen,
        peers: args.peer,
        mdns: mdns_wanted(args.no_mdns),
        record_frames: std::env::var_os("KITH_RECORD_FRAMES").map(Into::into),
        relay: args.relay,
        external: args.external,
        relay_via: args.relay_via,
        ..NodeConfig::new(Vec::new())
    };
    let mdns = config.mdns;
    let relay = config.relay;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let keys_device = engine.keys.device_id();
    let result = rt.block_on(async move {
        let shutdown = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        };
        eprintln!(
            "kith: daemon for device {keys_device}{}{}",
            if mdns {
                "; looking for teammates on the LAN"
            } else {
                "; LAN discovery off"
            },
            if relay { "; relaying for the team" } else { "" }
        );
        let result = kith::sync::run(engine, config, shutdown, |addr| {
            println!("listening on {addr}/p2p/{keys_device}");
        })
        .await;
        // Lines go to a pipe in tests; make each appear at once.
        use std::io::Write;
        let _ = std::io::stdout().flush();
        result
    });
    // Work still running on blocking threads (serving a large pull, say)
    // is not waited for beyond a moment: every write is safe to cut off
    // (a kill -9 is), and a daemon told to stop should stop.
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    result?;
    eprintln!("kith: daemon stopped");
    drop(lock);
    Ok(())
}
