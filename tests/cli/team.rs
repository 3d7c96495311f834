//! Teams over the network: real daemons on 127.0.0.1 in temporary homes,
//! mDNS off. Invitations, sync, live propagation, relaying, restarts,
//! removal, and what must never cross: private data, forged changes,
//! strangers.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::common::Home;

/// A running `kith daemon`, stopped with SIGTERM when dropped.
pub struct Daemon {
    child: Child,
    pub addr: String,
    stderr: PathBuf,
}

impl Daemon {
    pub fn start(home: &Home, extra: &[&str]) -> Daemon {
        Self::start_env(home, extra, &[])
    }

    pub fn start_env(home: &Home, extra: &[&str], env: &[(&str, &str)]) -> Daemon {
        let mut args = vec!["daemon", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"];
        args.extend_from_slice(extra);
        let mut cmd = home.command(&args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self::spawn(home, cmd)
    }

    /// Runs a prepared `kith daemon` command (which may be wrapped, e.g.
    /// in `ip netns exec`) and waits for its first listen address.
    pub fn spawn(home: &Home, mut cmd: std::process::Command) -> Daemon {
        let stderr = home.path().join(format!("daemon-{}.log", rand_suffix()));
        cmd.env("RUST_LOG", "kith=debug");
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("log file"))
            .spawn()
            .expect("daemon starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = tx.send(addr.to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("daemon did not listen: {}", read(&stderr)));
        Daemon {
            child,
            addr,
            stderr,
        }
    }

    pub fn log(&self) -> String {
        read(&self.stderr)
    }

    /// SIGTERM, then wait (bounded) for a clean exit.
    pub fn stop(mut self) -> Option<i32> {
        self.terminate()
    }

    /// SIGKILL, as a power cut or the OOM killer would: no clean exit.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn terminate(&mut self) -> Option<i32> {
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

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
        }
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Polls `f` every 50 ms until it holds or `secs` pass.
pub fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

fn json(s: &str) -> Json {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// Names found across the team for QUERY, with their owners.
pub fn team_hits(home: &Home, query: &str) -> Vec<(String, String)> {
    let r = home.run(&["find", query, "--team", "--json"]);
    if r.code != Some(0) {
        return Vec::new();
    }
    json(&r.stdout)
        .as_array()
        .cloned()
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

fn member_id(home: &Home) -> String {
    json(&home.ok(&["id", "--json"]))["member"]
        .as_str()
        .expect("member id")
        .to_string()
}

/// Alice creates a team and runs a daemon; each name joins with its own
/// ticket. Returns alice's daemon.
pub fn team_of(alice: &Home, others: &[(&Home, &str)]) -> Daemon {
    alice.ok(&["team", "create", "acme", "--as", "alice"]);
    let daemon = Daemon::start(alice, &[]);
    for (home, name) in others {
        let ticket = alice.ok(&["team", "invite"]);
        home.ok(&["team", "join", ticket.trim(), "--as", name]);
    }
    daemon
}

#[test]
fn invite_join_sync_and_live_edits_reach_a_teammate() {
    let (alice, bob) = (Home::new(), Home::new());
    alice.ok(&["add", "Edna Miggins", "--email", "edna@miggins.co.uk"]);
    let _a = team_of(&alice, &[(&bob, "bob")]);
    let members = json(&bob.ok(&["team", "members", "--json"]));
    let names: Vec<&str> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{members}");
    assert!(names.contains(&"alice") && names.contains(&"bob"));

    let _b = Daemon::start(&bob, &[]);
    assert!(
        wait_until(20, || team_hits(&bob, "edna")
            .contains(&("Edna Miggins".into(), "alice".into()))),
        "Edna never reached bob"
    );
    // A teammate's person reads like one's own, marked with whose it is.
    let shown = json(&bob.ok(&["show", "alice/edna", "--json"]));
    assert_eq!(shown["owner"], "alice");
    assert_eq!(shown["emails"][0]["value"], "edna@miggins.co.uk");
    let human = bob.ok(&["show", "alice/edna"]);
    assert!(human.starts_with("from alice's ledger"), "{human}");
    let listed = json(&bob.ok(&["list", "--team", "--json"]));
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "Edna Miggins" && p["owner"] == "alice")
    );

    // Live: an edit with the CLI while both daemons run arrives unasked.
    alice.ok(&["add", "Daisy Miggins", "--company", "Lagos Freight"]);
    assert!(
        wait_until(10, || team_hits(&bob, "daisy")
            .iter()
            .any(|(n, o)| n == "Daisy Miggins" && o == "alice")),
        "a live edit did not propagate"
    );
    alice.ok(&["set", "edna", "title", "Shopkeeper"]);
    assert!(wait_until(10, || {
        let r = bob.run(&["show", "alice/edna", "--json"]);
        r.code == Some(0) && json(&r.stdout)["title"] == "Shopkeeper"
    }));
    // A removal arrives too: bob's daemon derives only what the change
    // touched, and that must include the person it took away.
    alice.ok(&["rm", "daisy"]);
    assert!(
        wait_until(10, || team_hits(&bob, "daisy").is_empty()),
        "a live removal did not propagate"
    );
    assert!(
        team_hits(&bob, "edna")
            .iter()
            .any(|(n, o)| n == "Edna Miggins" && o == "alice"),
        "a removal in the same ledger took Edna with it"
    );

    // Status shows the connection and the last sync.
    let status = json(&bob.ok(&["status", "--json"]));
    assert_eq!(status["daemon"], true);
    let alice_row = status["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "alice")
        .cloned()
        .unwrap();
    assert_eq!(alice_row["connected"], true, "{status}");

    // Replicas are read-only to their holder: the CLI writes only to bob's
    // own ledger, and bob's own ledger did not gain alice's people.
    assert!(team_hits(&bob, "edna").iter().all(|(_, o)| o == "alice"));
    let own = json(&bob.ok(&["find", "edna", "--json"]));
    assert_eq!(own.as_array().unwrap().len(), 0, "{own}");
}

#[test]
fn private_canary_never_reaches_a_teammate() {
    let canary = "canary-7f3a9c-private-mrs-miggins";
    let (alice, bob) = (Home::new(), Home::new());
    alice.ok(&["add", "Edna Miggins"]);
    alice.ok(&[
        "fact",
        "edna",
        &format!("her husband smokes {canary}"),
        "--private",
    ]);
    alice.ok(&["note", "edna", &format!("owes us {canary}"), "--private"]);
    alice.ok(&["fact", "edna", "likes tea", "--shared"]);
    let _a = team_of(&alice, &[(&bob, "bob")]);
    let frames = bob.path().join("frames.bin");
    let _b = Daemon::start_env(
        &bob,
        &[],
        &[("KITH_RECORD_FRAMES", frames.to_str().unwrap())],
    );
    // A shared edit after the private ones: once it arrives, everything
    // alice would ever send about Edna has been sent.
    assert!(
        wait_until(40, || {
            let r = bob.run(&["show", "alice/edna", "--json"]);
            r.code == Some(0) && r.stdout.contains("likes tea")
        }),
        "bob: {}",
        _b.log()
    );
    alice.ok(&["log", "edna", &format!("paid cash {canary}")]);
    alice.ok(&[
        "log",
        "edna",
        "bought pipe tobacco",
        "--shared",
        "-c",
        "visit",
    ]);
    assert!(wait_until(10, || {
        let r = bob.run(&["show", "alice/edna", "--json", "--interactions", "10"]);
        r.code == Some(0) && r.stdout.contains("pipe tobacco")
    }));
    let recorded = std::fs::read(&frames).expect("frames were recorded");
    assert!(recorded.len() > 100, "too few bytes recorded");
    let mut texts = vec![expand_frames(&recorded)];
    for file in walk(bob.path()) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        texts.push(String::from_utf8_lossy(&bytes).into_owned());
        texts.push(expand_automerge_file(&bytes));
    }
    for t in &texts {
        assert!(!t.contains(canary), "the private canary reached bob");
    }
    // The expansion itself works: the shared fact is visible in it.
    assert!(texts.iter().any(|t| t.contains("likes tea")));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Every recorded frame decoded; every automerge change in it loaded and
/// dumped as text (values are compressed inside changes, so a byte search
/// alone could miss them).
pub fn expand_frames(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut rest = bytes;
    while rest.len() >= 4 {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        let frame = &rest[4..4 + len.min(rest.len() - 4)];
        rest = &rest[(4 + len).min(rest.len())..];
        out.push_str(&String::from_utf8_lossy(frame));
        if let Ok(kith::sync::proto::Response::Sync { msg: Some(m), .. }) =
            kith::sync::proto::decode::<kith::sync::proto::Response>(frame)
            && let Ok(message) = automerge::sync::Message::decode(&m)
        {
            for change in message.changes.iter() {
                out.push_str(&dump_automerge(change));
            }
        }
    }
    out
}

/// A chunk file's automerge changes dumped as text (empty for anything
/// that is not a whole chunk), read through the store's own decoder so
/// that every chunk format is expanded.
pub fn expand_automerge_file(bytes: &[u8]) -> String {
    match kith::store::chunk::decode(Path::new("scanned"), bytes) {
        Ok((_, payload)) => dump_automerge(payload),
        Err(_) => String::new(),
    }
}

pub fn dump_automerge(bytes: &[u8]) -> String {
    let mut doc = automerge::AutoCommit::new();
    if doc.load_incremental(bytes).is_err() {
        return String::new();
    }
    use automerge::ReadDoc;
    let mut out = String::new();
    for key in doc.keys(automerge::ROOT) {
        out.push_str(&key);
        if let Ok(Some((value, obj))) = doc.get(automerge::ROOT, key.as_str()) {
            out.push_str(&format!("{value:?}"));
            for k in doc.keys(&obj) {
                out.push_str(&k);
                if let Ok(Some((v, _))) = doc.get(&obj, k.as_str()) {
                    out.push_str(&format!("{v:?}"));
                }
            }
        }
    }
    out
}

#[test]
fn relayed_data_is_verified_and_forgeries_are_refused() {
    let (alice, bob, mallory) = (Home::new(), Home::new(), Home::new());
    alice.ok(&["add", "Edna Miggins", "--email", "edna@miggins.co.uk"]);
    let a = team_of(&alice, &[(&bob, "bob"), (&mallory, "mallory")]);
    let alice_id = member_id(&alice);
    let b = Daemon::start(&bob, &["--peer", &a.addr]);
    let m = Daemon::start(&mallory, &["--peer", &a.addr]);
    for home in [&bob, &mallory] {
        assert!(wait_until(20, || team_hits(home, "edna")
            .contains(&("Edna Miggins".into(), "alice".into()))));
    }
    // Alice goes offline.
    a.stop();
    b.stop();
    m.stop();

    // Mallory, a member, writes a change into her replica of alice's ledger
    // that claims alice's actor: valid automerge, not signed by alice.
    let replica = mallory
        .path()
        .join("replicas")
        .join(&alice_id)
        .join("ledger/shared");
    forge_rename(&replica, "Edna Forged");

    // Bob hears of alice only through mallory, who relays the forgery.
    let m = Daemon::start(&mallory, &[]);
    let b = Daemon::start(&bob, &["--peer", &m.addr]);
    assert!(
        wait_until(20, || b.log().contains("not signed by")),
        "bob never refused the forgery: {}",
        b.log()
    );
    assert!(
        team_hits(&bob, "forged").is_empty(),
        "bob accepted a forged change"
    );
    let shown = json(&bob.ok(&["show", "alice/edna", "--json"]));
    assert_eq!(shown["name"], "Edna Miggins");
    for file in walk(&bob.path().join("replicas").join(&alice_id)) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(!expand_automerge_file(&bytes).contains("Edna Forged"));
    }
    // Mallory's genuine own ledger still syncs: only the forgery is refused.
    mallory.ok(&["add", "Mallory's Customer"]);
    assert!(wait_until(10, || team_hits(&bob, "customer")
        .iter()
        .any(|(_, o)| o == "mallory")));
}

/// Adds a change to every shard of a replica directory, with the actor of
/// the shard's existing changes, renaming whoever is there to `name`.
fn forge_rename(shared: &Path, name: &str) {
    use automerge::transaction::Transactable;
    use automerge::{ReadDoc, ScalarValue};
    let mut forged = 0;
    for dir in std::fs::read_dir(shared).unwrap().flatten() {
        let mut doc = automerge::AutoCommit::new();
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let bytes = std::fs::read(f.path()).unwrap();
            if let Ok((_, payload)) = kith::store::chunk::decode(&f.path(), &bytes) {
                doc.load_incremental(payload).unwrap();
            }
        }
        let Some(change) = doc.get_changes(&[]).first().cloned() else {
            continue;
        };
        doc.set_actor(change.actor_id().clone());
        let keys: Vec<String> = doc
            .keys(automerge::ROOT)
            .filter(|k| k.starts_with("people/"))
            .collect();
        for key in keys {
            if let Ok(Some((_, obj))) = doc.get(automerge::ROOT, key.as_str()) {
                doc.put(&obj, "name", ScalarValue::Str(name.into()))
                    .unwrap();
                forged += 1;
            }
        }
        let heads = change.deps().to_vec();
        let _ = heads;
        let bytes = doc.save_incremental();
        let (file, data) =
            kith::store::chunk::encode(kith::store::chunk::ChunkKind::Incremental, &bytes);
        std::fs::write(dir.path().join(file), data).unwrap();
    }
    assert!(forged > 0, "nothing to forge in {}", shared.display());
}

#[test]
fn three_members_relay_restart_and_resume() {
    let (alice, bob, carol) = (Home::new(), Home::new(), Home::new());
    alice.ok(&["add", "Edna Miggins"]);
    let a = team_of(&alice, &[(&bob, "bob"), (&carol, "carol")]);
    let b = Daemon::start(&bob, &[]);
    assert!(wait_until(20, || !team_hits(&bob, "edna").is_empty()));
    // Alice goes offline; carol gets alice's ledger from bob, verified by
    // alice's signature.
    let a_stopped = a.stop();
    assert_eq!(a_stopped, Some(0), "the daemon exits cleanly on SIGTERM");
    let _c = Daemon::start(&carol, &["--peer", &b.addr]);
    assert!(
        wait_until(20, || team_hits(&carol, "edna")
            .contains(&("Edna Miggins".into(), "alice".into()))),
        "carol did not get alice's ledger relayed by bob"
    );
    // Restart and resume: edits made while alice's daemon was down reach
    // bob after it comes back, and the sync state kept on disk is reused.
    alice.ok(&["add", "Daisy Miggins"]);
    let b_addr = b.addr.clone();
    b.stop();
    let _a = Daemon::start(&alice, &[]);
    let _b = Daemon::start(&bob, &["--peer", &_a.addr]);
    let _ = b_addr;
    assert!(
        wait_until(20, || !team_hits(&bob, "daisy").is_empty()),
        "bob: {}\nalice: {}",
        _b.log(),
        _a.log()
    );
    assert!(
        bob.path().join("sync").is_dir(),
        "sync state is kept on disk"
    );
    // The one-shot sync reports who it synced with.
    let report = json(&carol.ok(&["sync", "--json", "--peer", &_a.addr]));
    assert!(
        report["peers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "alice" && p["synced"] == true),
        "{report}"
    );
    assert!(team_hits(&carol, "daisy").contains(&("Daisy Miggins".into(), "alice".into())));
}

#[test]
fn a_removed_member_is_refused_and_strangers_get_nothing() {
    let (alice, bob, eve) = (Home::new(), Home::new(), Home::new());
    alice.ok(&["add", "Edna Miggins"]);
    let a = team_of(&alice, &[(&bob, "bob")]);
    // Eve has a valid key but is on no list: she gets nothing.
    eve.ok(&["add", "Someone Else"]);
    let r = eve.run(&["sync", "--json", "--wait", "3s", "--peer", &a.addr]);
    assert_ne!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert!(!eve.path().join("replicas").exists());

    // A ticket that expired is refused by the network even if stolen.
    let ticket = alice.ok(&["team", "invite", "--expires", "1s"]);
    std::thread::sleep(Duration::from_millis(2500));
    let r = eve.run(&[
        "team",
        "join",
        ticket.trim(),
        "--as",
        "eve",
        "--timeout",
        "4s",
    ]);
    assert_eq!(r.code, Some(1), "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("could not join"), "{}", r.stderr);
    assert!(!eve.path().join("replicas").exists());
    // A used ticket cannot be used twice.
    let ticket = alice.ok(&["team", "invite"]);
    let carol = Home::new();
    carol.ok(&["team", "join", ticket.trim(), "--as", "carol"]);
    let r = eve.run(&[
        "team",
        "join",
        ticket.trim(),
        "--as",
        "eve",
        "--timeout",
        "4s",
    ]);
    assert_eq!(r.code, Some(1));

    // Bob syncs, then is removed by alice (who created the team).
    let b = Daemon::start(&bob, &[]);
    assert!(wait_until(20, || !team_hits(&bob, "edna").is_empty()));
    alice.ok(&["team", "remove", "bob"]);
    let members = json(&alice.ok(&["team", "members", "--json"]));
    assert!(
        members
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "bob" && !m["left"].is_null())
    );
    // Bob is disconnected and nothing alice writes reaches him any more.
    assert!(wait_until(10, || {
        let s = json(&alice.ok(&["status", "--json"]));
        s["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "bob" && m["connected"] == false)
    }));
    alice.ok(&["add", "Secret Newcustomer"]);
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        team_hits(&bob, "newcustomer").is_empty(),
        "a removed member got new data"
    );
    // Bob restarting does not get him back in.
    drop(b);
    let r = bob.run(&["sync", "--json", "--wait", "3s", "--peer", &a.addr]);
    assert_ne!(r.code, Some(0));
    assert!(team_hits(&bob, "newcustomer").is_empty());
    // Only the creator may remove.
    let r = bob.run(&["team", "remove", "alice"]);
    assert_eq!(r.code, Some(1));
}

#[test]
fn own_devices_share_the_private_part_teammates_do_not() {
    let (laptop, phone, bob) = (Home::new(), Home::new(), Home::new());
    laptop.ok(&["add", "Edna Miggins"]);
    laptop.ok(&["fact", "edna", "private-phone-fact", "--private"]);
    let d = team_of(&laptop, &[(&bob, "bob")]);
    let ticket = laptop.ok(&["device", "link"]);
    phone.ok(&["device", "join", ticket.trim()]);
    assert_eq!(member_id(&phone), member_id(&laptop));
    let _p = Daemon::start(&phone, &["--peer", &d.addr]);
    assert!(wait_until(20, || {
        let r = phone.run(&["show", "edna", "--json"]);
        r.code == Some(0) && r.stdout.contains("private-phone-fact")
    }));
    // An edit on the phone reaches the laptop, in both parts.
    phone.ok(&["fact", "edna", "from-the-phone", "--private"]);
    assert!(wait_until(10, || {
        let r = laptop.run(&["show", "edna", "--json"]);
        r.code == Some(0) && r.stdout.contains("from-the-phone")
    }));
    // Bob sees Edna, but neither private fact.
    let _b = Daemon::start(&bob, &["--peer", &d.addr]);
    assert!(wait_until(20, || !team_hits(&bob, "edna").is_empty()));
    let shown = bob.ok(&["show", "alice/edna", "--json"]);
    assert!(!shown.contains("private-phone-fact") && !shown.contains("from-the-phone"));
}

#[test]
fn bad_tickets_and_flags_get_one_line_errors() {
    let home = Home::new();
    let r = home.run(&["team", "join", "kith1garbage"]);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("not a kith ticket"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    let r = home.run(&["team", "invite"]);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("not in a team"), "{}", r.stderr);
    let r = home.run(&["daemon", "--listen", "not-an-address"]);
    assert_eq!(r.code, Some(2));
    let r = home.run(&["show", "nobody/edna"]);
    assert_eq!(r.code, Some(1));
}

#[test]
fn the_demo_tours_a_team_of_two_on_loopback() {
    let home = Home::new();
    let r = home.run(&["demo"]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("appeared in Bob's replica"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("not in Bob's replica"), "{}", r.stdout);
    assert!(r.stdout.contains("/ip4/127.0.0.1/"));
    // The browser face serves the demo ledger, on loopback, with its key.
    assert!(r.stdout.contains("http://127.0.0.1:"), "{}", r.stdout);
    assert!(
        r.stdout.contains("the browser's Today page: \"Today, "),
        "{}",
        r.stdout
    );
    // The demo never touches the home it was started from.
    assert!(!home.path().join("ledger").exists());
}

/// Connects to `addr` with `key` and sends each payload on its own
/// stream, reconnecting when dropped. Returns what happened to each.
fn send_raw(key: libp2p::identity::Keypair, addr: &str, payloads: Vec<Vec<u8>>) -> Vec<String> {
    use futures::StreamExt;
    use libp2p::request_response;
    use libp2p::swarm::SwarmEvent;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let addr: libp2p::Multiaddr = addr.parse().unwrap();
    rt.block_on(async move {
        let mut swarm = crate::cli::attack::raw_swarm(key, Duration::from_secs(5), None);
        let mut outcomes = Vec::new();
        for payload in payloads {
            swarm.dial(addr.clone()).unwrap();
            let deadline = tokio::time::sleep(Duration::from_secs(10));
            tokio::pin!(deadline);
            let mut payload = Some(payload);
            let outcome = loop {
                tokio::select! {
                    ev = swarm.select_next_some() => match ev {
                        SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                            if let Some(p) = payload.take() {
                                swarm.behaviour_mut().send_request(&peer_id, p);
                            }
                        }
                        SwarmEvent::Behaviour(request_response::Event::Message {
                            message: request_response::Message::Response { response, .. }, ..
                        }) => break if response.is_empty() {
                            // A stream closed without a reply reads as empty.
                            "dropped".to_string()
                        } else {
                            "answered".to_string()
                        },
                        SwarmEvent::Behaviour(request_response::Event::OutboundFailure { error, .. }) => break format!("failed: {error}"),
                        SwarmEvent::ConnectionClosed { .. } if payload.is_none() => break "closed".to_string(),
                        SwarmEvent::OutgoingConnectionError { error, .. } => break format!("refused: {error}"),
                        _ => {}
                    },
                    _ = &mut deadline => break "timed out".to_string(),
                }
            };
            outcomes.push(outcome);
            for peer in swarm.connected_peers().copied().collect::<Vec<_>>() {
                let _ = swarm.disconnect_peer_id(peer);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        outcomes
    })
}

#[test]
fn malformed_and_oversized_messages_drop_only_that_peer() {
    let (alice, bob, mallory) = (Home::new(), Home::new(), Home::new());
    alice.ok(&["add", "Edna Miggins"]);
    let a = team_of(&alice, &[(&bob, "bob"), (&mallory, "mallory")]);
    let key = libp2p::identity::Keypair::from_protobuf_encoding(
        &std::fs::read(mallory.path().join("keys/device.key")).unwrap(),
    )
    .unwrap();
    let oversized = {
        let mut p = u32::MAX.to_be_bytes().to_vec();
        p.extend_from_slice(&[0u8; 64]);
        p
    };
    let malformed = {
        let junk = b"\xff\xfe this is not CBOR at all".to_vec();
        let mut p = (junk.len() as u32).to_be_bytes().to_vec();
        p.extend_from_slice(&junk);
        p
    };
    let mut outcomes = send_raw(key.clone(), &a.addr, vec![oversized]);
    outcomes.extend(send_raw(key, &a.addr, vec![malformed]));
    assert!(outcomes.iter().all(|o| o != "answered"), "{outcomes:?}");
    let log = a.log();
    assert!(log.contains("over the 4194304-byte limit"), "{log}");
    assert!(log.contains("malformed message"), "{outcomes:?} {log}");
    // The daemon goes on serving everyone else.
    let _b = Daemon::start(&bob, &["--peer", &a.addr]);
    assert!(wait_until(20, || team_hits(&bob, "edna")
        .contains(&("Edna Miggins".into(), "alice".into()))));
    // A stranger's key does not even get a stream.
    let stranger = libp2p::identity::Keypair::generate_ed25519();
    let outcomes = send_raw(stranger, &a.addr, vec![b"hello".to_vec()]);
    assert!(outcomes[0] != "answered", "{outcomes:?}");
}
