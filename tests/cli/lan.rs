//! LAN discovery end to end: two daemons, each in a Linux network namespace
//! this test creates, wired by veth pairs to a bridge in a third namespace,
//! find each other by mDNS alone (neither knows an address of the other)
//! and sync.
//!
//! Nothing is added to the machine's own network namespace, so mDNS
//! multicast never reaches a real interface: every daemon with mDNS on runs
//! inside the test's namespaces. Needs root and `ip` (Debian's iproute2);
//! skips with a message elsewhere, but fails where KITH_REQUIRE_NETNS is set
//! (CI sets it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::team::{Daemon, team_hits};
use crate::common::{Home, NOW, kith_bin};

const ALICE_IP: &str = "10.77.0.1";
const BOB_IP: &str = "10.77.0.2";

/// How long each wait may take: finding each other and syncing, and a
/// live edit arriving. Both take well under a second here.
const WAIT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(200);

/// `ip`, wherever it is: PATH may lack the sbin directories.
fn ip_bin() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join("ip"))
        .find(|p| p.is_file())
}

/// Runs `ip ARGS`; its stderr when it fails.
fn ip(bin: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Skips the test with a message, or fails it where KITH_REQUIRE_NETNS is set.
fn unavailable(why: &str) -> Option<Lan> {
    assert!(
        std::env::var_os("KITH_REQUIRE_NETNS").is_none(),
        "KITH_REQUIRE_NETNS is set but network namespaces cannot be used: {why}"
    );
    eprintln!("skipped: the LAN discovery test needs network namespaces: {why}");
    None
}

/// Three network namespaces: a bridge and two hosts on it, alice at
/// 10.77.0.1/24 and bob at 10.77.0.2/24. Dropping it kills whatever still
/// runs inside them and deletes them, which deletes the veth pairs too.
struct Lan {
    ip: PathBuf,
    /// Every namespace created so far, bridge first.
    names: Vec<String>,
    a: String,
    b: String,
}

impl Lan {
    fn new() -> Option<Lan> {
        // SAFETY: geteuid(2) has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return unavailable("not running as root");
        }
        let Some(bin) = ip_bin() else {
            return unavailable("`ip` is not installed (Debian package iproute2)");
        };
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let tag = format!(
            "{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut lan = Lan {
            ip: bin,
            names: Vec::new(),
            a: format!("kith-a-{tag}"),
            b: format!("kith-b-{tag}"),
        };
        let br = format!("kith-br-{tag}");
        for ns in [br.clone(), lan.a.clone(), lan.b.clone()] {
            if let Err(e) = ip(&lan.ip, &["netns", "add", &ns]) {
                return unavailable(&e);
            }
            lan.names.push(ns);
        }
        // From here on a failure is a broken setup, not a missing feature.
        let mut steps: Vec<Vec<&str>> = vec![
            vec!["-n", &br, "link", "set", "lo", "up"],
            vec!["-n", &br, "link", "add", "br0", "type", "bridge"],
            vec!["-n", &br, "link", "set", "br0", "up"],
        ];
        let a_cidr = format!("{ALICE_IP}/24");
        let b_cidr = format!("{BOB_IP}/24");
        for (host, port, cidr) in [(&lan.a, "va", &a_cidr), (&lan.b, "vb", &b_cidr)] {
            // The pair is made in the bridge's namespace with its other end
            // moved straight into the host's: never in the root namespace.
            steps.extend([
                vec![
                    "-n", &br, "link", "add", port, "type", "veth", "peer", "name", "eth0",
                    "netns", host,
                ],
                vec!["-n", &br, "link", "set", port, "master", "br0"],
                vec!["-n", &br, "link", "set", port, "up"],
                vec!["-n", host, "link", "set", "lo", "up"],
                vec!["-n", host, "addr", "add", cidr, "dev", "eth0"],
                vec!["-n", host, "link", "set", "eth0", "up"],
            ]);
        }
        for step in &steps {
            if let Err(e) = ip(&lan.ip, step) {
                panic!("setting up the namespaces: {e}");
            }
        }
        Some(lan)
    }

    /// `kith ARGS` inside namespace NS, with the same clean, pinned
    /// environment as `Home::command`. `ip netns exec` execs kith in its
    /// own place, so the child's pid is kith's.
    fn kith(&self, ns: &str, home: &Home, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.ip);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("KITH_HOME", home.path())
            .env("KITH_NOW", NOW)
            .env("KITH_TZ", "UTC")
            .env("NO_COLOR", "1")
            .args(["netns", "exec", ns])
            .arg(kith_bin())
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `kith ARGS` inside NS; it must succeed. Returns its stdout.
    /// CONTEXT (a daemon's log, say) goes into the failure message.
    fn ok(&self, ns: &str, home: &Home, args: &[&str], context: &dyn Fn() -> String) -> String {
        let out = self
            .kith(ns, home, args)
            .output()
            .expect("ip netns exec runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "kith {args:?} in {ns} failed ({})\nstdout:\n{stdout}\nstderr:\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            context()
        );
        stdout
    }

    /// `kith daemon --listen /ip4/IP/tcp/0 EXTRA` inside NS.
    fn daemon(&self, ns: &str, home: &Home, ip: &str, extra: &[&str]) -> Daemon {
        let listen = format!("/ip4/{ip}/tcp/0");
        let mut args = vec!["daemon", "--listen", &listen];
        args.extend_from_slice(extra);
        let daemon = Daemon::spawn(home, self.kith(ns, home, &args));
        assert!(
            daemon.addr.starts_with(&format!("/ip4/{ip}/tcp/")),
            "the daemon in {ns} listens on {}",
            daemon.addr
        );
        daemon
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        // Anything still running in our namespaces was started by this
        // test (the daemons' own guards normally got there first).
        for ns in &self.names {
            let pids = Command::new(&self.ip)
                .args(["netns", "pids", ns])
                .stdin(Stdio::null())
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            for pid in pids
                .split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok())
            {
                // SAFETY: kill(2) on a process in a namespace we created.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
        // Deleting a namespace deletes the veth ends in it, and with them
        // their peers.
        for ns in self.names.iter().rev() {
            if let Err(e) = ip(&self.ip, &["netns", "del", ns]) {
                eprintln!("cleanup: {e}");
            }
        }
    }
}

/// Polls `f` every POLL until it holds: at most WAIT and a bounded number
/// of times. How long it took, or None.
fn poll(mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    for _ in 0..=WAIT.as_millis() / POLL.as_millis() {
        if f() {
            return Some(start.elapsed());
        }
        if start.elapsed() >= WAIT {
            break;
        }
        std::thread::sleep(POLL);
    }
    None
}

fn parse(s: &str) -> Json {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// Alice's row in bob's `status --json`, if it says connected and synced.
/// (`status` reads only bob's team files, never a replica.)
fn alice_connected_and_synced(bob: &Home) -> bool {
    let r = bob.run(&["status", "--json"]);
    r.code == Some(0)
        && parse(&r.stdout)["members"].as_array().is_some_and(|m| {
            m.iter().any(|m| {
                m["name"] == "alice" && m["connected"] == true && m["last_synced"].is_string()
            })
        })
}

fn device_of(home: &Home) -> String {
    parse(&home.ok(&["id", "--json"]))["device"]
        .as_str()
        .expect("a device id")
        .to_string()
}

/// Whether HOME's team/peers.json has an address at IP for DEVICE.
fn remembers(home: &Home, device: &str, ip: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(home.path().join("team").join("peers.json")) else {
        return false;
    };
    parse(&text)["devices"][device]["addrs"]
        .as_array()
        .is_some_and(|l| {
            l.iter().any(|x| {
                x.as_str()
                    .is_some_and(|s| s.starts_with(&format!("/ip4/{ip}/tcp/")))
            })
        })
}

/// Files under HOME/team whose bytes mention NEEDLE.
fn team_files_mentioning(home: &Home, needle: &str) -> Vec<PathBuf> {
    crate::common::files_under(&home.path().join("team"))
        .into_iter()
        .filter(|p| {
            std::fs::read(p)
                .unwrap_or_default()
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
        })
        .collect()
}

#[test]
fn two_daemons_on_a_lan_find_each_other_by_mdns_and_sync() {
    let Some(lan) = Lan::new() else { return };
    let started = Instant::now();
    let (alice, bob) = (Home::new(), Home::new());
    let none = || String::new();

    // Joining uses the ticket, with alice's address on the namespace LAN.
    alice.ok(&["team", "create", "acme", "--as", "alice"]);
    let a = lan.daemon(&lan.a, &alice, ALICE_IP, &["--no-mdns"]);
    let ticket = lan.ok(&lan.a, &alice, &["team", "invite"], &none);
    lan.ok(
        &lan.b,
        &bob,
        &["team", "join", ticket.trim(), "--as", "bob"],
        &|| format!("alice's daemon:\n{}", a.log()),
    );
    assert_eq!(a.stop(), Some(0), "alice's daemon did not stop cleanly");

    // Then both forget every address they were told or learned, so only
    // mDNS can bring them together again.
    for home in [&alice, &bob] {
        let book = home.path().join("team").join("peers.json");
        if book.exists() {
            std::fs::remove_file(&book).expect("peers.json removed");
        }
    }
    assert_eq!(team_files_mentioning(&bob, ALICE_IP), Vec::<PathBuf>::new());
    assert_eq!(team_files_mentioning(&alice, BOB_IP), Vec::<PathBuf>::new());
    // Something for the first sync to carry, so bob's replica of alice's
    // ledger is made by that sync, before this test reads it.
    alice.add(&["Albert Miggins"]);

    // Both daemons with mDNS on (the default) and no --peer.
    let a = lan.daemon(&lan.a, &alice, ALICE_IP, &[]);
    let b = lan.daemon(&lan.b, &bob, BOB_IP, &[]);
    let logs = || format!("alice's daemon:\n{}\nbob's daemon:\n{}", a.log(), b.log());
    // First they must find each other and finish a sync; only then does
    // the test read bob's replica of alice's ledger.
    let Some(met) = poll(|| alice_connected_and_synced(&bob)) else {
        panic!(
            "bob's daemon never connected to alice's and synced in {WAIT:?}\n{}",
            logs()
        );
    };
    assert!(
        team_hits(&bob, "albert").contains(&("Albert Miggins".into(), "alice".into())),
        "synced, but Albert is not in bob's replica of alice's ledger\n{}",
        logs()
    );
    // Whoever found the other on the LAN dialed it and now remembers the
    // address mDNS gave. (Both usually do; the second may already be
    // connected to when its discovery comes.)
    let mut found = 0;
    for (d, home, other, other_ip) in [(&a, &alice, &bob, BOB_IP), (&b, &bob, &alice, ALICE_IP)] {
        if d.log().contains("found on the LAN") {
            found += 1;
            assert!(
                remembers(home, &device_of(other), other_ip),
                "found on the LAN but not remembered\n{}",
                logs()
            );
        }
    }
    assert!(
        found > 0,
        "neither daemon found the other by mDNS\n{}",
        logs()
    );

    // A live edit at alice reaches bob over the connection mDNS made.
    lan.ok(&lan.a, &alice, &["add", "Edna Miggins"], &logs);
    let edna = ("Edna Miggins".to_string(), "alice".to_string());
    let Some(live) = poll(|| team_hits(&bob, "edna").contains(&edna)) else {
        panic!(
            "Edna never reached bob over the LAN in {WAIT:?}\n{}",
            logs()
        );
    };
    eprintln!("LAN discovery: connected and synced {met:?} after start; a live edit took {live:?}");

    assert_eq!(a.stop(), Some(0), "alice's daemon did not stop cleanly");
    assert_eq!(b.stop(), Some(0), "bob's daemon did not stop cleanly");
    drop(lan);
    eprintln!("LAN discovery test took {:?}", started.elapsed());
}
