//! Teammates behind NATs, end to end: the small internet of
//! `common::netns` (a relay and a stranger on the wan, alice, bob and carol
//! each behind a NAT of their own, carol's symmetric), real daemons in it.
//! Needs root, `ip` and `nft`; skips with a message elsewhere, but fails
//! where KITH_REQUIRE_NETNS is set (CI sets it).
//!
//! The office (R, on the wan) created the team and runs `kith daemon
//! --relay`; everyone joins through it. Every wait is bounded, and none
//! asserts speed: `cargo bench` measures that.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::team::{Daemon, expand_automerge_file, expand_frames, team_hits};
use crate::common::netns::Host::{self, *};
use crate::common::netns::Internet;
use crate::common::{Home, files_under};

/// The topology itself, with no kith in it: out through every NAT, never
/// in, and the two kinds of mapping the NATs make.
#[test]
fn the_nat_topology_routes_out_and_not_in() {
    let Some(net) = Internet::new() else { return };
    let relay = Relay.ip().unwrap();
    for host in [Alice, Bob, Carol, Stranger] {
        assert!(net.pings(host, relay), "{host:?} cannot ping the relay");
    }
    // Nothing on the wan has a route into a LAN, and the LANs do not
    // reach each other's private addresses.
    for (from, to) in [
        (Relay, Alice),
        (Relay, Bob),
        (Stranger, Carol),
        (Alice, Bob),
    ] {
        let to = to.ip().unwrap();
        assert!(!net.pings(from, to), "{from:?} can ping {to}");
    }
    // A router drops what comes unasked, even to its own address.
    assert!(!net.pings(Relay, NatA.ip().unwrap()));
    let ruleset = net.ruleset(NatC);
    assert!(ruleset.contains("masquerade fully-random"), "{ruleset}");
    for router in [NatA, NatB] {
        let ruleset = net.ruleset(router);
        assert!(
            ruleset.contains("masquerade") && !ruleset.contains("fully-random"),
            "{ruleset}"
        );
    }

    // One UDP socket behind each NAT sends to three ports of the relay;
    // the relay sees where each datagram came from.
    let seen = |host| -> Vec<SocketAddr> {
        let listeners: Vec<UdpSocket> = net.within(Relay, || {
            (0..3)
                .map(|i| UdpSocket::bind((relay, 7000 + i)).expect("bind on the relay"))
                .collect()
        });
        let sender = net.within(host, || UdpSocket::bind(("0.0.0.0", 5000)).expect("bind"));
        listeners
            .iter()
            .map(|l| {
                l.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                sender
                    .send_to(b"hello", l.local_addr().unwrap())
                    .expect("sent");
                let mut buf = [0u8; 16];
                let (_, from) = l.recv_from(&mut buf).expect("the datagram arrives");
                from
            })
            .collect()
    };
    // nat-a and nat-b: the same public port whoever the peer (the source
    // port kept), so a peer told that address can punch a hole to it.
    for (host, router) in [(Alice, NatA), (Bob, NatB)] {
        let from = seen(host);
        let public: SocketAddr = format!("{}:5000", router.ip().unwrap()).parse().unwrap();
        assert_eq!(from, vec![public; 3], "{host:?} behind {router:?}");
    }
    // nat-c: a new random port for every peer; the address the relay sees
    // is useless to anyone else.
    let from = seen(Carol);
    assert!(
        from.iter()
            .all(|a| a.ip().to_string() == NatC.ip().unwrap()),
        "{from:?}"
    );
    assert!(
        from.iter().any(|a| a.port() != from[0].port()),
        "carol's NAT kept one port for every peer: {from:?}"
    );
}

/// How long any one thing may take to happen (the machine may be slow and
/// busy); WAIT_LONG for a relay that was killed coming back into use.
const WAIT: Duration = Duration::from_secs(30);
const WAIT_LONG: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(250);

/// Polls `f` every POLL until it holds: at most LIMIT and a bounded number
/// of times. How long it took, or None.
fn poll(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    for _ in 0..=limit.as_millis() / POLL.as_millis() {
        if f() {
            return Some(start.elapsed());
        }
        if start.elapsed() >= limit {
            break;
        }
        std::thread::sleep(POLL);
    }
    None
}

/// `kith daemon --no-mdns EXTRA` running inside HOST's namespace.
fn daemon(net: &Internet, host: Host, home: &Home, extra: &[&str]) -> Daemon {
    daemon_env(net, host, home, extra, &[])
}

/// As `daemon`, with ENV set for the daemon.
fn daemon_env(
    net: &Internet,
    host: Host,
    home: &Home,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Daemon {
    let mut cmd = net.daemon_command(host, home, extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Daemon::spawn(home, cmd)
}

fn parse(s: &str) -> Json {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// HOME's `status --json` (it reads files only, so it runs anywhere), or
/// Null when it fails.
fn status(home: &Home) -> Json {
    let r = home.run(&["status", "--json"]);
    if r.code == Some(0) {
        parse(&r.stdout)
    } else {
        Json::Null
    }
}

/// NAME's row in HOME's status, or Null.
fn row(home: &Home, name: &str) -> Json {
    status(home)["members"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["name"] == name).cloned())
        .unwrap_or(Json::Null)
}

/// How HOME reaches NAME now: "direct", "relayed", "unreachable", or ""
/// when status does not say.
fn link(home: &Home, name: &str) -> String {
    row(home, name)["link"].as_str().unwrap_or("").to_string()
}

fn device_of(home: &Home) -> String {
    parse(&home.ok(&["id", "--json"]))["device"]
        .as_str()
        .expect("a device id")
        .to_string()
}

/// The last lines of each daemon's log, for a failure message.
fn logs(daemons: &[(&str, &Daemon)]) -> String {
    let mut out = String::new();
    for (who, d) in daemons {
        let log = d.log();
        let lines: Vec<&str> = log.lines().collect();
        let tail = &lines[lines.len().saturating_sub(60)..];
        out.push_str(&format!(
            "--- {who}'s daemon (last {} lines):\n",
            tail.len()
        ));
        for l in tail {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// Whether some line of LOG has every one of WORDS.
fn logged(log: &str, words: &[&str]) -> bool {
    log.lines().any(|l| words.iter().all(|w| l.contains(w)))
}

/// Whether HOME holds OWNER's person NAME (in a replica, through `find
/// --team`).
fn has(home: &Home, query: &str, name: &str, owner: &str) -> bool {
    team_hits(home, query).contains(&(name.to_string(), owner.to_string()))
}

/// The office: R, on the wan, who created the team and runs the always-on
/// relay on TCP and QUIC port 4001.
struct Office<'n> {
    net: &'n Internet,
    home: Home,
    daemon: Option<Daemon>,
    /// R's device (libp2p peer id).
    device: String,
    /// KITH_RECORD_FRAMES for R's daemon, if wanted.
    frames: Option<String>,
}

const OFFICE_TCP: &str = "/ip4/10.99.0.1/tcp/4001";
const OFFICE_QUIC: &str = "/ip4/10.99.0.1/udp/4001/quic-v1";

impl<'n> Office<'n> {
    /// Creates the team and starts the relay; returns once the roster
    /// names it as the team's relay, so tickets carry it.
    fn open(net: &'n Internet, record_frames: bool) -> Office<'n> {
        let home = Home::new();
        let none = || String::new();
        net.ok(
            Relay,
            &home,
            &["team", "create", "acme", "--as", "office"],
            &none,
        );
        let frames = record_frames.then(|| {
            home.path()
                .join("frames.bin")
                .to_str()
                .expect("a UTF-8 path")
                .to_string()
        });
        let mut office = Office {
            net,
            home,
            daemon: None,
            device: String::new(),
            frames,
        };
        office.start();
        office.device = device_of(&office.home);
        assert!(
            office
                .daemon()
                .addr
                .ends_with(&format!("/p2p/{}", office.device)),
            "{}",
            office.daemon().addr
        );
        // Both addresses: the statement may first name only the one that
        // was listening first.
        let named = poll(WAIT, || {
            let r = office.home.run(&["team", "relays", "--json"]);
            r.code == Some(0)
                && parse(&r.stdout).as_array().is_some_and(|l| {
                    l.iter().any(|x| {
                        x["device"] == office.device.as_str()
                            && x["member"] == "office"
                            && [OFFICE_TCP, OFFICE_QUIC].iter().all(|want| {
                                x["addrs"].as_array().is_some_and(|a| {
                                    a.iter()
                                        .any(|a| a.as_str().is_some_and(|a| a.starts_with(want)))
                                })
                            })
                    })
                })
        });
        assert!(
            named.is_some(),
            "the office's roster never named it as a relay at {OFFICE_TCP} and {OFFICE_QUIC}\n{}",
            office.logs()
        );
        office
    }

    /// `kith daemon --relay` on port 4001, TCP and QUIC.
    fn start(&mut self) {
        assert!(self.daemon.is_none(), "the office's daemon already runs");
        let args = ["--relay", "--listen", OFFICE_TCP, "--listen", OFFICE_QUIC];
        let env: Vec<(&str, &str)> = match &self.frames {
            Some(f) => vec![("KITH_RECORD_FRAMES", f.as_str())],
            None => Vec::new(),
        };
        let d = daemon_env(self.net, Relay, &self.home, &args, &env);
        assert!(
            d.addr.starts_with(OFFICE_TCP),
            "the office listens first on {}",
            d.addr
        );
        self.daemon = Some(d);
    }

    fn daemon(&self) -> &Daemon {
        self.daemon.as_ref().expect("the office's daemon runs")
    }

    fn log(&self) -> String {
        self.daemon.as_ref().map(Daemon::log).unwrap_or_default()
    }

    fn logs(&self) -> String {
        self.daemon
            .as_ref()
            .map(|d| logs(&[("the office", d)]))
            .unwrap_or_default()
    }

    /// NAME joins from HOST with a ticket the office printed.
    fn join(&self, host: Host, home: &Home, name: &str) {
        let context = || self.logs();
        let ticket = self
            .net
            .ok(Relay, &self.home, &["team", "invite"], &context);
        self.net.ok(
            host,
            home,
            &["team", "join", ticket.trim(), "--as", name],
            &context,
        );
    }

    /// SIGKILL for the office's daemon, as a power cut would: the pid from
    /// its status file, checked to be a process in the office's namespace.
    fn kill(&mut self) {
        let daemon = self.daemon.take().expect("the office's daemon runs");
        let file = self.home.path().join("team").join("daemon.json");
        let pid = parse(&std::fs::read_to_string(&file).expect("daemon.json"))["pid"]
            .as_i64()
            .expect("a pid in daemon.json") as i32;
        assert!(
            self.net.pids(Relay).contains(&pid),
            "pid {pid} from daemon.json is not in the office's namespace"
        );
        // SAFETY: kill(2) on the daemon this test started, in its namespace.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
        let gone = poll(WAIT, || !self.net.pids(Relay).contains(&pid));
        assert!(gone.is_some(), "the office's daemon outlived SIGKILL");
        // Reaps it: the child has exited, so Drop does not signal it.
        drop(daemon);
    }
}

/// The office and a member for each (host, home, name), joined through it.
fn team<'n>(net: &'n Internet, record_frames: bool, members: &[(Host, &Home, &str)]) -> Office<'n> {
    let office = Office::open(net, record_frames);
    for (host, home, name) in members {
        office.join(*host, home, name);
    }
    // Every ticket carried the office's addresses and its relay statement.
    for (_, home, name) in members {
        let relays = parse(&home.ok(&["team", "relays", "--json"]));
        let ours = relays
            .as_array()
            .and_then(|l| l.iter().find(|r| r["device"] == office.device.as_str()))
            .unwrap_or_else(|| panic!("{name} knows no relay: {relays}"));
        assert_eq!(ours["member"], "office", "{relays}");
        let addrs: Vec<&str> = ours["addrs"]
            .as_array()
            .expect("addrs")
            .iter()
            .filter_map(Json::as_str)
            .collect();
        for want in [OFFICE_TCP, OFFICE_QUIC] {
            assert!(
                addrs.iter().any(|a| a.starts_with(want)),
                "{name}'s roster names the relay at {addrs:?}, not {want}"
            );
        }
    }
    office
}

/// Alice and bob, each behind a NAT that keeps ports, meet through the
/// relay and then punch a hole: the relayed link becomes a direct one.
#[test]
fn through_the_relay_then_direct() {
    let Some(net) = Internet::new() else { return };
    let (alice, bob) = (Home::new(), Home::new());
    let office = team(&net, false, &[(Alice, &alice, "alice"), (Bob, &bob, "bob")]);
    alice.add(&["Edna Miggins"]);
    let a = daemon(&net, Alice, &alice, &[]);
    let b = daemon(&net, Bob, &bob, &[]);
    let all = || format!("{}{}", office.logs(), logs(&[("alice", &a), ("bob", &b)]));

    // Every link bob's status shows for alice, in order, until direct.
    let (mut seen, mut vias) = (Vec::<String>::new(), Vec::<Json>::new());
    let watch = |seen: &mut Vec<String>, vias: &mut Vec<Json>| {
        let r = row(&bob, "alice");
        let l = r["link"].as_str().unwrap_or("").to_string();
        if l == "relayed" {
            vias.push(r["via"].clone());
        }
        if seen.last() != Some(&l) {
            seen.push(l.clone());
        }
        l
    };
    let linked = poll(WAIT, || {
        matches!(watch(&mut seen, &mut vias).as_str(), "relayed" | "direct")
    });
    assert!(
        linked.is_some(),
        "bob's status never showed alice relayed or direct: {seen:?}\n{}",
        all()
    );
    assert!(
        poll(WAIT, || has(&bob, "edna", "Edna Miggins", "alice")).is_some(),
        "Edna never reached bob\n{}",
        all()
    );
    let direct = poll(WAIT, || watch(&mut seen, &mut vias) == "direct");
    assert!(
        direct.is_some(),
        "alice never became direct in bob's status: {seen:?}\n{}",
        all()
    );
    // Status says direct: the routers must agree. A packet went each way
    // between alice and bob's NATs, which only a punched hole allows.
    assert!(
        net.two_way_flow(Alice, Bob) && net.two_way_flow(Bob, Alice),
        "bob's status says alice is direct, but no flow crossed between their NATs\n\
         nat-a:\n{}\nnat-b:\n{}\n{}",
        net.conntrack(NatA),
        net.conntrack(NatB),
        all()
    );
    assert!(
        vias.iter().all(|v| v == "office"),
        "relayed, but not via the office: {vias:?}"
    );
    eprintln!(
        "bob's status showed alice as {seen:?}; hole punched: alice {}, bob {}",
        a.log().contains("hole punched: direct"),
        b.log().contains("hole punched: direct")
    );
    // The direct link stays once the relayed one beside it is closed
    // (a few seconds later): sampled for 5 s.
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(500));
        let l = watch(&mut seen, &mut vias);
        assert_eq!(
            l,
            "direct",
            "the direct link did not stay: {seen:?}\n{}",
            all()
        );
    }
    // AutoNAT: teammates could not dial alice back through her NAT, and
    // could dial the office.
    assert!(
        poll(WAIT, || status(&alice)["nat"] == "private").is_some(),
        "alice's status never said she is behind a NAT: {}\n{}",
        status(&alice),
        all()
    );
    assert!(
        poll(WAIT, || status(&office.home)["nat"] == "public").is_some(),
        "the office's status never said it is reachable: {}\n{}",
        status(&office.home),
        all()
    );
    // A ticket made now carries the office's TCP and QUIC addresses.
    let ticket = parse(
        &net.ok(Relay, &office.home, &["team", "invite", "--json"], &|| {
            office.logs()
        }),
    );
    for want in [OFFICE_TCP, OFFICE_QUIC] {
        assert!(
            ticket["addrs"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a.as_str() == Some(want))),
            "the ticket does not carry {want}: {ticket}"
        );
    }
    // The direct link carries live edits.
    alice.add(&["Daisy Miggins"]);
    assert!(
        poll(WAIT, || has(&bob, "daisy", "Daisy Miggins", "alice")).is_some(),
        "a live edit did not reach bob over the direct link\n{}",
        all()
    );
}

/// Carol's NAT gives every flow a new port, so no hole can be punched:
/// she stays relayed, and edits cross both ways through the relay.
#[test]
fn symmetric_nat_stays_relayed_and_syncs() {
    let Some(net) = Internet::new() else { return };
    let (alice, carol) = (Home::new(), Home::new());
    let office = team(
        &net,
        false,
        &[(Alice, &alice, "alice"), (Carol, &carol, "carol")],
    );
    let a = daemon(&net, Alice, &alice, &[]);
    let c = daemon(&net, Carol, &carol, &[]);
    let all = || format!("{}{}", office.logs(), logs(&[("alice", &a), ("carol", &c)]));
    assert!(
        poll(WAIT, || link(&carol, "alice") == "relayed").is_some(),
        "carol's status never showed alice relayed: {}\n{}",
        status(&carol),
        all()
    );
    assert_eq!(row(&carol, "alice")["via"], "office", "{}", status(&carol));
    // Fifteen seconds in which hole punching has every chance, and fails.
    let start = Instant::now();
    let mut seen = Vec::new();
    while start.elapsed() < Duration::from_secs(15) {
        let l = link(&carol, "alice");
        assert_ne!(
            l,
            "direct",
            "a hole was punched through a symmetric NAT\n{}",
            all()
        );
        if seen.last() != Some(&l) {
            seen.push(l);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!("carol's status showed alice as {seen:?} over 15 s");

    alice.add(&["Edna Miggins"]);
    assert!(
        poll(WAIT, || has(&carol, "edna", "Edna Miggins", "alice")).is_some(),
        "alice's edit never reached carol\n{}",
        all()
    );
    carol.add(&["Daisy Miggins"]);
    assert!(
        poll(WAIT, || has(&alice, "daisy", "Daisy Miggins", "carol")).is_some(),
        "carol's edit never reached alice\n{}",
        all()
    );
    assert_ne!(link(&carol, "alice"), "direct");
    // What carol reads.
    let human = carol.ok(&["status"]);
    assert!(
        human
            .lines()
            .any(|l| l.starts_with("alice") && l.contains("relayed via office")),
        "{human}"
    );
    assert!(human.contains("behind a NAT"), "{human}");
    // The routers agree: no packet ever crossed between the two NATs.
    assert!(
        !net.two_way_flow(Carol, Alice) && !net.two_way_flow(Alice, Carol),
        "a flow crossed between carol's and alice's NATs\nnat-c:\n{}\nnat-a:\n{}",
        net.conntrack(NatC),
        net.conntrack(NatA)
    );
}

/// The office keeps the team's shared ledgers: bob's laptop wakes after
/// alice's went to sleep and still gets what she wrote.
#[test]
fn a_sleeping_laptop_catches_up_from_the_hub() {
    let Some(net) = Internet::new() else { return };
    let (alice, bob) = (Home::new(), Home::new());
    let office = team(&net, false, &[(Alice, &alice, "alice"), (Bob, &bob, "bob")]);
    let a = daemon(&net, Alice, &alice, &[]);
    alice.add(&["Edna Miggins"]);
    assert!(
        poll(WAIT, || has(&office.home, "edna", "Edna Miggins", "alice")).is_some(),
        "Edna never reached the office\n{}{}",
        office.logs(),
        logs(&[("alice", &a)])
    );
    assert_eq!(a.stop(), Some(0), "alice's daemon did not stop cleanly");
    assert!(
        net.pids(Alice).is_empty(),
        "something still runs at alice's"
    );

    let b = daemon(&net, Bob, &bob, &[]);
    assert!(
        poll(WAIT, || has(&bob, "edna", "Edna Miggins", "alice")).is_some(),
        "bob never got alice's Edna from the office\n{}{}",
        office.logs(),
        logs(&[("bob", &b)])
    );
    assert_eq!(row(&bob, "alice")["connected"], false, "{}", status(&bob));
}

/// The relay serves the team only: a stranger with a valid key gets no
/// slot, and a member removed from the team loses slot and circuits.
#[test]
fn no_free_rides() {
    let Some(net) = Internet::new() else { return };
    let (alice, bob, stranger) = (Home::new(), Home::new(), Home::new());
    let office = team(&net, false, &[(Alice, &alice, "alice"), (Bob, &bob, "bob")]);
    net.ok(
        Stranger,
        &stranger,
        &["team", "create", "other", "--as", "stranger"],
        &|| String::new(),
    );
    let via = format!("{OFFICE_TCP}/p2p/{}", office.device);
    let s = daemon(&net, Stranger, &stranger, &["--relay-via", &via]);
    let stranger_device = device_of(&stranger);
    assert!(
        poll(WAIT, || logged(
            &office.log(),
            &["not on the team's roster", &stranger_device]
        ))
        .is_some(),
        "the office never named its refusal of the stranger\n{}{}",
        office.logs(),
        logs(&[("the stranger", &s)])
    );
    // A few seconds more for a slot to be (wrongly) granted.
    std::thread::sleep(Duration::from_secs(3));
    let st = status(&stranger);
    assert_eq!(st["relayed"], Json::Array(Vec::new()), "{st}");
    assert!(
        !logged(&office.log(), &["slot reserved", &stranger_device]),
        "the office reserved a slot for the stranger\n{}",
        office.logs()
    );
    assert!(
        !s.log().contains("holding a slot on the relay"),
        "{}",
        logs(&[("the stranger", &s)])
    );
    let said: Vec<String> = s
        .log()
        .lines()
        .filter(|l| l.contains("relay"))
        .take(5)
        .map(String::from)
        .collect();
    eprintln!("the stranger's log on the relay: {said:#?}");
    drop(s);

    // Alice and bob hold slots and sync through the office.
    alice.add(&["Edna Miggins"]);
    let a = daemon(&net, Alice, &alice, &[]);
    let b = daemon(&net, Bob, &bob, &[]);
    let all = || format!("{}{}", office.logs(), logs(&[("alice", &a), ("bob", &b)]));
    let bob_device = device_of(&bob);
    for (name, device) in [("alice", device_of(&alice)), ("bob", bob_device.clone())] {
        assert!(
            poll(WAIT, || logged(&office.log(), &["slot reserved", &device])).is_some(),
            "{name} never held a slot on the office\n{}",
            all()
        );
    }
    assert!(
        poll(WAIT, || has(&bob, "edna", "Edna Miggins", "alice")).is_some(),
        "Edna never reached bob\n{}",
        all()
    );
    assert!(
        poll(WAIT, || row(&bob, "alice")["connected"] == true).is_some(),
        "bob is not connected to alice: {}\n{}",
        status(&bob),
        all()
    );

    // The office, who created the team, removes bob.
    net.ok(Relay, &office.home, &["team", "remove", "bob"], &all);
    assert!(
        poll(WAIT, || logged(
            &office.log(),
            &["no longer allowed", &bob_device]
        ))
        .is_some(),
        "the office never dropped bob\n{}",
        all()
    );
    // Alice hears of it and drops him too.
    assert!(
        poll(WAIT, || {
            let r = alice.run(&["team", "members", "--json"]);
            r.code == Some(0)
                && parse(&r.stdout)
                    .as_array()
                    .is_some_and(|m| m.iter().any(|m| m["name"] == "bob" && !m["left"].is_null()))
        })
        .is_some(),
        "alice never heard that bob left\n{}",
        all()
    );
    assert!(
        poll(WAIT, || row(&alice, "bob")["connected"] == false).is_some(),
        "alice is still connected to bob: {}\n{}",
        status(&alice),
        all()
    );
    alice.add(&["Secret Newcustomer"]);
    let leaked = poll(Duration::from_secs(10), || {
        !team_hits(&bob, "newcustomer").is_empty()
    });
    assert!(
        leaked.is_none(),
        "a removed member got new data after {leaked:?}\n{}",
        all()
    );
    eprintln!(
        "after removal the office refused bob again: {}",
        logged(&office.log(), &["refused", &bob_device])
    );
}

/// Every file under DIR, as text: its bytes, and for a chunk file the
/// automerge changes in it dumped as text (values are compressed inside
/// changes, so a byte search alone could miss them).
fn texts_under(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for file in files_under(dir) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        let name = file.display().to_string();
        out.push((name.clone(), String::from_utf8_lossy(&bytes).into_owned()));
        out.push((name, expand_automerge_file(&bytes)));
    }
    out
}

/// The office relays and keeps shared ledgers, and never holds a private
/// byte: not on its disk, not in a frame it received.
#[test]
fn private_stays_private() {
    let Some(net) = Internet::new() else { return };
    let canary = format!("canary-{:016x}-private", rand::random::<u64>());
    let (alice, bob) = (Home::new(), Home::new());
    alice.add(&["Edna Miggins"]);
    alice.ok(&[
        "fact",
        "edna",
        &format!("her husband smokes {canary}"),
        "--private",
    ]);
    alice.ok(&["note", "edna", &format!("owes us {canary}"), "--private"]);
    alice.ok(&["fact", "edna", "likes tea", "--shared"]);
    let office = team(&net, true, &[(Alice, &alice, "alice"), (Bob, &bob, "bob")]);
    let a = daemon(&net, Alice, &alice, &[]);
    let b = daemon(&net, Bob, &bob, &[]);
    let all = || format!("{}{}", office.logs(), logs(&[("alice", &a), ("bob", &b)]));
    let shows = |home: &Home, args: &[&str], needle: &str| {
        let r = home.run(args);
        r.code == Some(0) && r.stdout.contains(needle)
    };
    let edna = ["show", "alice/edna", "--json", "--interactions", "10"];
    for (who, home) in [("the office", &office.home), ("bob", &bob)] {
        assert!(
            poll(WAIT, || shows(home, &edna, "likes tea")).is_some(),
            "alice's shared fact never reached {who}\n{}",
            all()
        );
    }
    // Live, while everyone is connected: a private log, then a shared
    // one; once the shared one is everywhere, so would the private be.
    alice.ok(&["log", "edna", &format!("paid cash {canary}")]);
    alice.ok(&[
        "log",
        "edna",
        "bought pipe tobacco",
        "--shared",
        "-c",
        "visit",
    ]);
    for (who, home) in [("the office", &office.home), ("bob", &bob)] {
        assert!(
            poll(WAIT, || shows(home, &edna, "pipe tobacco")).is_some(),
            "alice's shared log never reached {who}\n{}",
            all()
        );
    }
    let frames = std::fs::read(office.frames.as_ref().unwrap()).expect("frames were recorded");
    assert!(
        frames.len() > 100,
        "too few bytes recorded: {}",
        frames.len()
    );
    let mut texts = texts_under(office.home.path());
    texts.push(("the office's frames".into(), expand_frames(&frames)));
    texts.extend(texts_under(bob.path()));
    for (place, text) in &texts {
        assert!(!text.contains(&canary), "the private canary is in {place}");
    }
    // The search itself works: the shared fact is there, in the office's
    // frames and on its disk.
    let office_texts = texts_under(office.home.path());
    assert!(expand_frames(&frames).contains("likes tea"));
    assert!(office_texts.iter().any(|(_, t)| t.contains("likes tea")));
}

/// A vCard file of N people, each named uniquely.
fn people_vcf(path: &Path, n: usize) {
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Hubert Relaytest{i:03}\r\nN:Relaytest{i:03};Hubert;;;\r\nEMAIL:hubert{i:03}@example.com\r\nEND:VCARD\r\n"
        ));
    }
    std::fs::write(path, text).expect("the vCard file");
}

/// How many of OWNER's people HOME holds.
fn people_of(home: &Home, owner: &str) -> usize {
    let r = home.run(&["list", "--team", "--json"]);
    if r.code != Some(0) {
        return 0;
    }
    parse(&r.stdout)
        .as_array()
        .map(|l| l.iter().filter(|p| p["owner"] == owner).count())
        .unwrap_or(0)
}

/// The relay dies (SIGKILL) while a teammate behind it is syncing 200
/// people, and comes back on the same port: the sync finishes. The
/// teammate is carol, behind the symmetric NAT, so no hole punching can
/// route around the relay.
#[test]
fn relay_restarts_mid_sync() {
    const N: usize = 200;
    let Some(net) = Internet::new() else { return };
    let (alice, carol) = (Home::new(), Home::new());
    let vcf = alice.path().join("people.vcf");
    people_vcf(&vcf, N);
    alice.ok(&["import", vcf.to_str().unwrap()]);
    let own = parse(&alice.ok(&["list", "--json"]));
    assert_eq!(own.as_array().map(Vec::len), Some(N), "the import");
    let mut office = team(
        &net,
        false,
        &[(Alice, &alice, "alice"), (Carol, &carol, "carol")],
    );
    let a = daemon(&net, Alice, &alice, &[]);
    let c = daemon(&net, Carol, &carol, &[]);
    let all =
        |office: &Office| format!("{}{}", office.logs(), logs(&[("alice", &a), ("carol", &c)]));
    // Kill the relay as soon as carol has anything of alice's: usually
    // with part of the 200 still to come.
    let started = poll(WAIT, || people_of(&carol, "alice") > 0);
    assert!(
        started.is_some(),
        "carol never got any of alice's people\n{}",
        all(&office)
    );
    office.kill();
    let at_kill = people_of(&carol, "alice");
    office.start();
    // A live edit after the restart must reach carol too: through the
    // relay, the only way between their NATs.
    alice.add(&["Zelda Afterwards"]);
    let done = poll(WAIT_LONG, || people_of(&carol, "alice") == N + 1);
    assert!(
        done.is_some(),
        "carol has {} of alice's {} people ({at_kill} when the relay was killed)\n{}",
        people_of(&carol, "alice"),
        N + 1,
        all(&office)
    );
    eprintln!(
        "relay killed with {at_kill} of {N} at carol; all {} there {:?} after the restart",
        N + 1,
        done.unwrap()
    );
}
