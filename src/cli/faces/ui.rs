//! `kith ui`: serves the ledger to the browser on this machine, prints the
//! URL (with this run's key) as the first line, and opens it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::Context;
use clap::Args;

use crate::cli::Env;

/// Open the ledger in a web browser, served on this machine only
#[derive(Args, Debug)]
pub struct UiArgs {
    /// The port to serve on [default: any free port]
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The address to serve on: 127.0.0.1 or ::1 only
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    address: IpAddr,
    /// Print the URL but do not open a browser
    #[arg(long)]
    no_open: bool,
}

pub fn run(env: &Env, args: UiArgs) -> anyhow::Result<()> {
    if !args.address.is_loopback() {
        anyhow::bail!(
            "kith ui serves only on 127.0.0.1 or ::1, not {}: your ledger is for this machine's browser",
            args.address
        );
    }
    let clock = if env.pinned_now {
        kith::ui::Clock::Pinned(env.now)
    } else {
        kith::ui::Clock::System
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the web server's runtime")?;
    runtime.block_on(async {
        let server = kith::ui::Server::bind(kith::ui::Options {
            home: env.home.clone(),
            time_zone: env.tz.clone(),
            clock,
            listen: SocketAddr::new(args.address, args.port),
        })
        .await
        .with_context(|| format!("cannot serve the ledger in {}", env.home.display()))?;
        // The first line is the whole URL: scripts and tests read it.
        println!("{}", server.url());
        eprintln!("kith: serving your ledger; Ctrl-C stops");
        if !args.no_open {
            open_browser(server.url());
        }
        server.run(crate::cli::stopped()).await?;
        eprintln!("kith: stopped");
        anyhow::Ok(())
    })
}

/// Opens the URL in the default browser, when there is a display to show
/// it on; otherwise the printed URL is the way in.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
            return;
        }
        "xdg-open"
    };
    let spawned = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if spawned.is_err() {
        eprintln!("kith: could not start a browser; open the URL above");
    }
}
