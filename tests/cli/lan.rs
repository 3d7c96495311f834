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

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::common::{Home, NOW, kith_bin};

const ALICE_IP: &str = "10.77.0.1";
const BOB_IP: &str = "10.77.0.2";

/// How long the daemons may take to find each other and sync.
const DISCOVERY: Duration = Duration::from_secs(20);
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
        let steps: Vec<Vec<&str>> = vec![
            vec!["-n", &br, "link", "set", "lo", "up"],
            vec!["-n", &br, "link", "add", "br0", "type", "bridge"],
            vec!["-n", &br, "link", "set", "br0", "up"],
            // Each pair is made in the bridge's namespace with its other
            // end moved straight into a host's: never in the root one.
            vec![
                "-n", &br, "link", "add", "va", "type", "veth", "peer", "name", "eth0", "netns",
                &lan.a,
            ],
            vec![
                "-n", &br, "link", "add", "vb", "type", "veth", "peer", "name", "eth0", "netns",
                &lan.b,
            ],
            vec!["-n", &br, "link", "set", "va", "master", "br0"],
            vec!["-n", &br, "link", "set", "vb", "master", "br0"],
            vec!["-n", &br, "link", "set", "va", "up"],
            vec!["-n", &br, "link", "set", "vb", "up"],
        ];
        let a_cidr = format!("{ALICE_IP}/24");
        let b_cidr = format!("{BOB_IP}/24");
        let mut hosts: Vec<Vec<&str>> = Vec::new();
        for (ns, cidr) in [(&lan.a, &a_cidr), (&lan.b, &b_cidr)] {
            hosts.push(vec!["-n", ns, "link", "set", "lo", "up"]);
            hosts.push(vec!["-n", ns, "addr", "add", cidr, "dev", "eth0"]);
            hosts.push(vec!["-n", ns, "link", "set", "eth0", "up"]);
        }
        for step in steps.iter().chain(&hosts) {
            if let Err(e) = ip(&lan.ip, step) {
                panic!("setting up the namespaces: {e}");
            }
        }
        Some(lan)
    }

    /// `kith ARGS` inside namespace NS, with the same clean, pinned
    /// environment as `Home::command`.
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
    fn ok(&self, ns: &str, home: &Home, args: &[&str]) -> String {
        let out = self
            .kith(ns, home, args)
            .output()
            .expect("ip netns exec runs");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert!(
            out.status.success(),
            "kith {args:?} in {ns} failed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}",
            out.status
        );
        stdout
    }

    /// `kith daemon --listen /ip4/IP/tcp/0 EXTRA` inside NS.
    fn daemon(&self, ns: &str, home: &Home, ip: &str, extra: &[&str]) -> NsDaemon {
        let listen = format!("/ip4/{ip}/tcp/0");
        let mut args = vec!["daemon", "--listen", &listen];
        args.extend_from_slice(extra);
        NsDaemon::start(self.kith(ns, home, &args), home, ns)
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
        // Hosts first, then the bridge: deleting a namespace deletes the
        // veth ends in it, and with them their peers.
        for ns in self.names.iter().rev() {
            if let Err(e) = ip(&self.ip, &["netns", "del", ns]) {
                eprintln!("cleanup: {e}");
            }
        }
    }
}

/// A `kith daemon` inside a namespace, stopped with SIGTERM when dropped.
struct NsDaemon {
    child: Child,
    /// The address it printed first: `/ip4/…/tcp/PORT/p2p/PEERID`.
    addr: String,
    log: PathBuf,
}

impl NsDaemon {
    fn start(mut cmd: Command, home: &Home, ns: &str) -> NsDaemon {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let log = home.path().join(format!(
            "daemon-{ns}-{}.log",
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        // `ip netns exec` execs kith in place, so the child is the daemon.
        let mut child = cmd
            .env("RUST_LOG", "kith=debug,libp2p_mdns=debug")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("ip netns exec runs");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = tx.send(addr.to_string());
                }
            }
        });
        let mut daemon = NsDaemon {
            child,
            addr: String::new(),
            log,
        };
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(addr) => daemon.addr = addr,
            Err(_) => panic!("the daemon in {ns} did not listen:\n{}", daemon.log()),
        }
        daemon
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then a bounded wait; SIGKILL if it does not go. Its exit
    /// code, or None when it had to be killed.
    fn stop(&mut self) -> Option<i32> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return status.code();
        }
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for NsDaemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `(name, owner)` of every hit for QUERY across the team, as bob sees it.
fn team_hits(home: &Home, query: &str) -> Vec<(String, String)> {
    let r = home.run(&["find", query, "--team", "--json"]);
    if r.code != Some(0) {
        return Vec::new();
    }
    serde_json::from_str::<Json>(&r.stdout)
        .ok()
        .and_then(|j| j.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap_or("").to_string(),
                h["owner"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Every file under HOME/team whose bytes mention NEEDLE.
fn team_files_mentioning(home: &Home, needle: &str) -> Vec<PathBuf> {
    crate::common::files_under(&home.path().join("team"))
        .into_iter()
        .filter(|p| {
            let bytes = std::fs::read(p).unwrap_or_default();
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
        .collect()
}

fn device_id(home: &Home) -> String {
    let id: Json = serde_json::from_str(&home.ok(&["id", "--json"])).expect("id --json");
    id["device"]
        .as_str()
        .unwrap_or_else(|| panic!("no device in {id}"))
        .to_string()
}

#[test]
fn two_daemons_on_a_lan_find_each_other_by_mdns_and_sync() {
    let Some(lan) = Lan::new() else { return };
    let started = Instant::now();
    let (alice, bob) = (Home::new(), Home::new());

    // Joining uses the ticket, with alice's address on the namespace LAN.
    alice.ok(&["team", "create", "acme", "--as", "alice"]);
    let mut a = lan.daemon(&lan.a, &alice, ALICE_IP, &["--no-mdns"]);
    assert!(
        a.addr.starts_with(&format!("/ip4/{ALICE_IP}/tcp/")),
        "{}",
        a.addr
    );
    let ticket = lan.ok(&lan.a, &alice, &["team", "invite"]);
    let joined = lan
        .kith(
            &lan.b,
            &bob,
            &["team", "join", ticket.trim(), "--as", "bob"],
        )
        .output()
        .expect("ip netns exec runs");
    assert!(
        joined.status.success(),
        "bob could not join\nstderr:\n{}\nalice's daemon:\n{}",
        String::from_utf8_lossy(&joined.stderr),
        a.log()
    );
    assert_eq!(a.stop(), Some(0), "alice's daemon:\n{}", a.log());
    drop(a);

    // Then both forget every address they know, so only mDNS can bring
    // them together again.
    for home in [&alice, &bob] {
        let book = home.path().join("team").join("peers.json");
        if book.exists() {
            std::fs::remove_file(&book).expect("peers.json removed");
        }
    }
    assert_eq!(team_files_mentioning(&bob, ALICE_IP), Vec::<PathBuf>::new());
    assert_eq!(team_files_mentioning(&alice, BOB_IP), Vec::<PathBuf>::new());

    // Both daemons with mDNS on (the default) and no --peer.
    let a = lan.daemon(&lan.a, &alice, ALICE_IP, &[]);
    let b = lan.daemon(&lan.b, &bob, BOB_IP, &[]);
    let running = Instant::now();
    lan.ok(&lan.a, &alice, &["add", "Edna Miggins"]);
    eprintln!("DEBUG add done after {:?}", running.elapsed());

    let want = ("Edna Miggins".to_string(), "alice".to_string());
    let mut arrived = false;
    for _ in 0..(DISCOVERY.as_millis() / POLL.as_millis()) {
        if running.elapsed() > DISCOVERY {
            break;
        }
        let t = Instant::now();
        let hits = team_hits(&bob, "edna");
        if t.elapsed() > Duration::from_secs(1) {
            eprintln!("DEBUG find took {:?}", t.elapsed());
        }
        if hits.contains(&want) {
            arrived = true;
            break;
        }
        std::thread::sleep(POLL);
    }
    assert!(
        arrived,
        "Edna never reached bob over the LAN in {DISCOVERY:?}\n\
         alice's daemon:\n{}\nbob's daemon:\n{}",
        a.log(),
        b.log()
    );
    eprintln!(
        "LAN discovery: found and synced {:?} after the daemons started",
        running.elapsed()
    );

    // They found each other on the LAN, and remember where.
    for (d, who) in [(&a, "alice"), (&b, "bob")] {
        assert!(
            d.log().contains("found on the LAN"),
            "{who}'s daemon never found anyone by mDNS:\n{}",
            d.log()
        );
    }
    let book: Json = serde_json::from_str(
        &std::fs::read_to_string(bob.path().join("team").join("peers.json"))
            .expect("bob's peers.json"),
    )
    .expect("peers.json is JSON");
    let alice_addrs = &book["devices"][device_id(&alice)]["addrs"];
    assert!(
        alice_addrs.as_array().is_some_and(|l| l.iter().any(|x| x
            .as_str()
            .is_some_and(|s| s.starts_with(&format!("/ip4/{ALICE_IP}/tcp/"))))),
        "bob did not remember alice's LAN address: {book}"
    );
    let status: Json = serde_json::from_str(&bob.ok(&["status", "--json"])).expect("status");
    assert!(
        status["members"].as_array().is_some_and(|m| m
            .iter()
            .any(|m| m["name"] == "alice" && m["connected"] == true)),
        "bob's status does not show alice connected: {status}"
    );

    let (mut a, mut b) = (a, b);
    assert_eq!(a.stop(), Some(0), "alice's daemon:\n{}", a.log());
    assert_eq!(b.stop(), Some(0), "bob's daemon:\n{}", b.log());
    drop((a, b));
    drop(lan);
    eprintln!("LAN discovery test took {:?}", started.elapsed());
}

#[allow(dead_code)]
fn _unused(_: OsString) {}
