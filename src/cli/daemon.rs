//! `kith daemon`: stay connected to the team and keep replicas current.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use kith::sync::{Engine, NodeConfig};
use kith::team::TeamDir;
use libp2p::Multiaddr;

use super::Env;

/// Sync with teammates and your own devices until stopped (Ctrl-C or SIGTERM)
#[derive(Args, Debug)]
pub struct DaemonArgs {
    /// Listen here (repeatable) [default: all interfaces, the port used last time]
    #[arg(long, value_name = "MULTIADDR")]
    listen: Vec<Multiaddr>,
    /// Also connect to this address, e.g. /ip4/192.168.1.7/tcp/4001/p2p/12D3Koo… (repeatable)
    #[arg(long, value_name = "MULTIADDR")]
    peer: Vec<Multiaddr>,
    /// Do not look for teammates on the local network (also KITH_MDNS=off)
    #[arg(long)]
    no_mdns: bool,
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

fn default_listen(home: &Path) -> Vec<Multiaddr> {
    let port = kith::sync::daemon::status_file(home)
        .and_then(|v| v.get("listen").cloned())
        .and_then(|l| serde_json::from_value::<Vec<String>>(l).ok())
        .and_then(|l| {
            l.iter().find_map(|a| {
                a.parse::<Multiaddr>().ok()?.iter().find_map(|p| match p {
                    libp2p::multiaddr::Protocol::Tcp(port) => Some(port),
                    _ => None,
                })
            })
        })
        .unwrap_or(0);
    vec![
        format!("/ip4/0.0.0.0/tcp/{port}")
            .parse()
            .expect("valid address"),
    ]
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
        once: false,
        wait: Duration::MAX,
    };
    let mdns = config.mdns;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let keys_device = engine.keys.device_id();
    rt.block_on(async move {
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
            "kith: daemon for device {keys_device}{}",
            if mdns {
                "; looking for teammates on the LAN"
            } else {
                "; LAN discovery off"
            }
        );
        let result = kith::sync::run(engine, config, shutdown, |addr| {
            println!("listening on {addr}/p2p/{keys_device}");
        })
        .await;
        // Lines go to a pipe in tests; make each appear at once.
        use std::io::Write;
        let _ = std::io::stdout().flush();
        result
    })?;
    eprintln!("kith: daemon stopped");
    drop(lock);
    Ok(())
}
