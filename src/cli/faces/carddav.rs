//! `kith carddav pair|devices|unpair|serve`: the ledger as an address book
//! for phones and mail programs. Pairing makes a user name and password
//! for one device; `serve` answers only paired devices.
//!
//! The default address is 127.0.0.1:5232 (5232 is the port Radicale, the
//! usual personal CardDAV server, uses; pass --listen for another). A
//! phone needs the server on the network: `--listen 0.0.0.0:5232`, which
//! serves HTTPS with a self-signed certificate kept in the home (or the
//! one given with --cert/--key).

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use kith::devices;

use crate::cli::Env;

/// The port served on when --listen gives none.
pub const DEFAULT_PORT: u16 = 5232;

/// Sync contacts with a phone or an address book (CardDAV)
#[derive(Args, Debug)]
pub struct CarddavArgs {
    #[command(subcommand)]
    command: CarddavCommand,
}

#[derive(Subcommand, Debug)]
enum CarddavCommand {
    /// Pair a device: print the server, a user name and its password (shown once)
    Pair(PairArgs),
    /// List the paired devices
    Devices(DevicesArgs),
    /// Revoke a paired device at once
    Unpair(UnpairArgs),
    /// Serve your contacts to paired devices until Ctrl-C
    Serve(ServeArgs),
}

#[derive(Args, Debug)]
struct PairArgs {
    /// What to call the device ("iphone", "Anna's Pixel")
    name: String,
    /// Where `kith carddav serve` will listen [default: 127.0.0.1:5232]
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,
    /// The certificate `serve --cert` will use (for its fingerprint)
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// The key for --cert
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct DevicesArgs {
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct UnpairArgs {
    /// The device's name (or its user name)
    name: String,
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// The address and port to serve on; anything but 127.0.0.1 or ::1
    /// is served over HTTPS [default: 127.0.0.1:5232]
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,
    /// Serve the team's contacts too, as a second, read-only address book
    #[arg(long)]
    team: bool,
    /// A PEM certificate to serve HTTPS with [default: a self-signed one
    /// kept in the home]
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// The PEM private key for --cert
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
}

pub fn run(env: &Env, args: CarddavArgs) -> anyhow::Result<()> {
    match args.command {
        CarddavCommand::Pair(a) => pair(env, a),
        CarddavCommand::Devices(a) => list(env, a),
        CarddavCommand::Unpair(a) => unpair(env, a),
        CarddavCommand::Serve(a) => serve(env, a),
    }
}

fn listen_or_default(listen: Option<SocketAddr>) -> SocketAddr {
    listen.unwrap_or(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        DEFAULT_PORT,
    ))
}

/// TLS when the address is not loopback or a certificate is given.
fn tls_for(
    env: &Env,
    listen: SocketAddr,
    cert: Option<&Path>,
    key: Option<&Path>,
) -> anyhow::Result<Option<devices::Tls>> {
    if listen.ip().is_loopback() && cert.is_none() {
        return Ok(None);
    }
    Ok(Some(devices::tls(&env.home, cert, key)?))
}

/// The URL a device types: this machine's address on the network when
/// listening on every address, else the address itself.
fn device_url(listen: SocketAddr, https: bool) -> String {
    let scheme = if https { "https" } else { "http" };
    let host = if listen.ip().is_unspecified() {
        lan_address(listen.ip())
            .map(|ip| ip.to_string())
            .or_else(host_name)
            .unwrap_or_else(|| listen.ip().to_string())
    } else {
        listen.ip().to_string()
    };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    format!("{scheme}://{host}:{}/", listen.port())
}

/// The address this machine reaches the network from: the source address
/// the kernel picks for a route outward (a UDP "connect" sends nothing).
fn lan_address(like: IpAddr) -> Option<IpAddr> {
    let (bind, probe): (SocketAddr, SocketAddr) = if like.is_ipv6() {
        ("[::]:0".parse().ok()?, "[2001:db8::1]:9".parse().ok()?)
    } else {
        ("0.0.0.0:0".parse().ok()?, "192.0.2.1:9".parse().ok()?)
    };
    let socket = std::net::UdpSocket::bind(bind).ok()?;
    socket.connect(probe).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}

fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn pair(env: &Env, args: PairArgs) -> anyhow::Result<()> {
    let listen = listen_or_default(args.listen);
    if listen.port() == 0 {
        anyhow::bail!(
            "--listen {listen}: give the port `kith carddav serve` will listen on, for the device to use"
        );
    }
    let tls = tls_for(env, listen, args.cert.as_deref(), args.key.as_deref())?;
    let (paired, password) = devices::pair(&env.home, &args.name, env.now)?;
    let url = device_url(listen, tls.is_some());
    println!("server:   {url}");
    println!("user:     {}", paired.user);
    println!("password: {password}");
    if let Some(tls) = &tls {
        println!("certificate SHA-256: {}", tls.fingerprint);
    }
    if std::io::stdout().is_terminal()
        && let Some(qr) = qr(&url)
    {
        println!();
        print!("{qr}");
    }
    eprintln!(
        "kith: paired '{}'; the password is shown only now. Start the server with `kith carddav serve{}`.",
        paired.name,
        args.listen
            .map(|l| format!(" --listen {l}"))
            .unwrap_or_default()
    );
    if tls.is_some() {
        eprintln!(
            "kith: the certificate is self-signed unless you gave one: accept it on the device only if its SHA-256 matches the one above."
        );
    }
    Ok(())
}

/// The URL as a QR code in half blocks, light on dark.
fn qr(url: &str) -> Option<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build()
            + "\n",
    )
}

fn list(env: &Env, args: DevicesArgs) -> anyhow::Result<()> {
    let paired = devices::list(&env.home)?;
    if args.json {
        return crate::cli::print_json(&paired);
    }
    if paired.is_empty() {
        eprintln!("kith: no devices paired; pair one with `kith carddav pair NAME`");
        return Ok(());
    }
    let when = |s: &str| {
        s.parse::<jiff::Timestamp>()
            .map(|t| {
                t.to_zoned(env.tz.clone())
                    .strftime("%Y-%m-%d %H:%M")
                    .to_string()
            })
            .unwrap_or_else(|_| s.to_string())
    };
    let rows: Vec<[String; 4]> = paired
        .iter()
        .map(|p| {
            [
                p.name.clone(),
                p.user.clone(),
                when(&p.created),
                p.last_sync
                    .as_deref()
                    .map(when)
                    .unwrap_or_else(|| "never".into()),
            ]
        })
        .collect();
    let head = ["NAME", "USER", "PAIRED", "LAST SYNCED"];
    let mut widths = head.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 4]| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i == 3 {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out
    };
    println!("{}", line(head));
    for row in &rows {
        println!("{}", line([&row[0], &row[1], &row[2], &row[3]]));
    }
    Ok(())
}

fn unpair(env: &Env, args: UnpairArgs) -> anyhow::Result<()> {
    match devices::unpair(&env.home, &args.name) {
        Ok(gone) => {
            eprintln!(
                "kith: unpaired '{}' (user {}); it can no longer sync",
                gone.name, gone.user
            );
            Ok(())
        }
        Err(kith::Error::NotFound(_)) => anyhow::bail!(
            "no device named '{}' is paired (`kith carddav devices` lists them)",
            args.name
        ),
        Err(e) => Err(e.into()),
    }
}

fn serve(env: &Env, args: ServeArgs) -> anyhow::Result<()> {
    let listen = listen_or_default(args.listen);
    let tls = tls_for(env, listen, args.cert.as_deref(), args.key.as_deref())?;
    let fingerprint = tls.as_ref().map(|t| t.fingerprint.clone());
    let clock = if env.pinned_now {
        kith::ui::Clock::Pinned(env.now)
    } else {
        kith::ui::Clock::System
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the CardDAV server's runtime")?;
    runtime.block_on(async {
        let server = kith::carddav::Server::bind(kith::carddav::Options {
            home: env.home.clone(),
            time_zone: env.tz.clone(),
            clock,
            listen,
            team: args.team,
            tls,
        })
        .await
        .with_context(|| format!("cannot serve the contacts in {}", env.home.display()))?;
        // The first line is the whole URL: scripts and tests read it.
        println!("{}", server.url());
        let bound: Option<SocketAddr> = server
            .url()
            .rsplit_once(':')
            .and_then(|(_, port)| port.trim_end_matches('/').parse::<u16>().ok())
            .map(|port| SocketAddr::new(listen.ip(), port));
        if let Some(bound) = bound
            && listen.ip().is_unspecified()
        {
            eprintln!(
                "kith: devices on your network: {}",
                device_url(bound, fingerprint.is_some())
            );
        }
        if let Some(fp) = &fingerprint {
            eprintln!("kith: certificate SHA-256: {fp}");
        }
        match devices::list(&env.home) {
            Ok(d) if d.is_empty() => {
                eprintln!("kith: no devices are paired yet; pair one with `kith carddav pair NAME`")
            }
            _ => {}
        }
        eprintln!("kith: serving your contacts; Ctrl-C stops");
        server.run(crate::cli::stopped()).await?;
        eprintln!("kith: stopped");
        anyhow::Ok(())
    })
}
