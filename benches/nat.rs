//! Teammates behind NATs: real `kith daemon` processes in the small
//! internet of `tests/common/netns.rs` (a relay R at 10.99.0.1 and a
//! stranger at 10.99.0.9 on a wan bridge; alice, bob and carol each behind
//! a NAT router, carol's symmetric).
//!
//! ```text
//! cargo bench --bench nat                              # everything, about 10 minutes
//! cargo bench --bench nat -- --only relayed,direct     # the two edit latencies
//! cargo bench --bench nat -- --only crowd --members 20 --crowd nat
//! ```
//!
//! Needs root, `ip` and `nft`; says so and writes no figures elsewhere.
//! Everything runs inside the namespaces the topology makes (`ip netns
//! exec`); the machine's own network namespace and firewall are never
//! touched, and dropping the topology kills what still runs in it. Every
//! daemon runs with `--no-mdns` and `KITH_MDNS=off`. The office (R)
//! creates the team `acme`, runs `kith daemon --no-mdns --relay` on
//! `/ip4/10.99.0.1/tcp/4001` and `/ip4/10.99.0.1/udp/4001/quic-v1`, and
//! every member joins with a ticket it prints (`kith team invite` on R,
//! `kith team join` in the member's namespace).
//!
//! What it measures (goals from the issue, reported, never asserted):
//!
//! 1. **Edit to peer, relayed** (`relayed`): alice (nat-a) and carol (nat-c,
//!    symmetric: no hole can be punched) with their daemons running. Alice
//!    runs `kith add` `--edits` (50) times, 100–300 ms apart; each is timed
//!    from the command returning until carol's replica of alice holds the
//!    new person (`replicas/<alice>/ledger/generation` polled every
//!    millisecond, then the replica's index asked for the id). The link is
//!    read from carol's `team/daemon.json` at every edit and from `kith
//!    status --json` before and after. Goal p50 ≤ 100 ms.
//! 2. **Edit to peer, direct after DCUtR** (`direct`): the same, alice to
//!    bob (nat-b), once the link is direct (below). Goal p50 ≤ 60 ms.
//! 3. **Daemons started to direct** (`punch`): `--runs` (5) times, a fresh
//!    topology, office and homes; R runs, then alice's and bob's daemons
//!    are spawned together and bob's `team/daemon.json` (what `kith
//!    status` reads) is polled every 10 ms until alice's link is direct;
//!    then it is watched 5 s more, and `kith status --json` read. Median.
//!    Goal ≤ 5 s.
//!
//!    A link counts as direct only when the status says so **and** nat-a's
//!    or nat-b's conntrack holds a two-way flow between the two public
//!    addresses (`Internet::two_way_flow`): only a punched hole makes one.
//!    A status label alone once called a relayed link direct.
//! 4. **Relay RSS with N members** (`crowd`): `--members` (50) homes join
//!    from one host (`--crowd wan`: the stranger's namespace on the wan,
//!    default; `--crowd nat`: alice's, behind nat-a; their homes on
//!    /dev/shm unless `--crowd-homes DIR`). Their daemons start one at a
//!    time, each once R's daemon.json names the one before connected (at
//!    most 10 s each, 90 s in all, then the rest at once); once R's `kith
//!    status --json` shows every one connected (or 60 s more have passed)
//!    and `--settle-secs` (20) after, R's VmRSS and VmHWM from /proc.
//!    Goal ≤ 100 MB, judged only when every member is connected.
//! 5. **Relay CPU when idle** (`crowd`): then R's utime+stime over
//!    `--idle-secs` (30), as % of one core, and the members' beside it.
//!    Goal ≈ 0.
//!
//! Other flags: `--out DIR` (`<target>/kith-bench/nat`: homes while it
//! runs, daemon logs kept in `logs/`), `--homes DIR` (the other homes
//! elsewhere), `--kith PATH`, `--log FILTER` (RUST_LOG for every daemon,
//! `kith=debug`). Results go to stdout and
//! `<target>/kith-bench/nat-results.md`.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

#[path = "common/mod.rs"]
mod bench;
#[path = "common/netns_env.rs"]
mod netns_env;
/// What `tests/common/netns.rs` takes from `crate::common`.
mod common {
    pub use crate::bench::NOW;
    pub use crate::netns_env::{Home, Run, kith_bin};
}
#[path = "../tests/common/netns.rs"]
#[allow(dead_code)]
mod netns;

use bench::{Rng, default_kith, git_state, loadavg, median, pct, poll, target_dir};
use netns::Host::{self, *};
use netns::Internet;
use netns_env::Home;

const OFFICE_TCP: &str = "/ip4/10.99.0.1/tcp/4001";
const OFFICE_QUIC: &str = "/ip4/10.99.0.1/udp/4001/quic-v1";
/// How long any one thing may take to happen on a busy 2-core machine.
const WAIT: Duration = Duration::from_secs(60);
/// How long an edit may take to arrive before it counts as lost.
const ARRIVE: Duration = Duration::from_secs(10);
/// How long a direct link may take (six times the goal): DCUtR itself
/// gives up after three attempts, about 30 s.
const PUNCH_WAIT: Duration = Duration::from_secs(30);
/// How long a punched link is watched afterwards.
const HOLD: Duration = Duration::from_secs(5);
/// Crowd: how long R may take to see each member come online before the
/// next starts, and how long the one-by-one start may take in all.
const STAGGER: Duration = Duration::from_secs(10);
const RAMP: Duration = Duration::from_secs(90);

// ---------------------------------------------------------------- options

struct Opts {
    edits: usize,
    runs: usize,
    members: usize,
    idle_secs: u64,
    settle_secs: u64,
    crowd: Host,
    crowd_homes: Option<PathBuf>,
    /// Where the other homes (R's, alice's, …) go.
    homes: Option<PathBuf>,
    only: Vec<String>,
    out: PathBuf,
    kith: PathBuf,
    log: String,
    target_dir: PathBuf,
}

impl Opts {
    fn wants(&self, what: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == what)
    }
}

const MEASURES: [&str; 4] = ["relayed", "direct", "punch", "crowd"];

fn parse_opts() -> Opts {
    let target = target_dir();
    let mut o = Opts {
        edits: 50,
        runs: 5,
        members: 50,
        idle_secs: 30,
        settle_secs: 20,
        crowd: Stranger,
        crowd_homes: None,
        homes: None,
        only: Vec::new(),
        out: target.join("kith-bench").join("nat"),
        kith: PathBuf::new(),
        log: "kith=debug".into(),
        target_dir: target.clone(),
    };
    let mut kith = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> String {
            inline
                .clone()
                .or_else(|| args.next())
                .unwrap_or_else(|| panic!("{name} needs a value"))
        };
        let num = |name: &str, v: String| -> usize {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number, not {v}"))
        };
        match flag.as_str() {
            "--bench" => {}
            "--edits" => o.edits = num("--edits", value("--edits")),
            "--runs" => o.runs = num("--runs", value("--runs")),
            "--members" => o.members = num("--members", value("--members")),
            "--idle-secs" => o.idle_secs = num("--idle-secs", value("--idle-secs")) as u64,
            "--settle-secs" => o.settle_secs = num("--settle-secs", value("--settle-secs")) as u64,
            "--crowd" => {
                o.crowd = match value("--crowd").as_str() {
                    "wan" | "stranger" => Stranger,
                    "nat" | "alice" => Alice,
                    other => panic!("--crowd takes wan or nat, not {other}"),
                }
            }
            "--only" => {
                o.only = value("--only")
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            }
            "--out" => o.out = PathBuf::from(value("--out")),
            "--crowd-homes" => o.crowd_homes = Some(PathBuf::from(value("--crowd-homes"))),
            "--homes" => o.homes = Some(PathBuf::from(value("--homes"))),
            "--kith" => kith = Some(PathBuf::from(value("--kith"))),
            "--log" => o.log = value("--log"),
            "-h" | "--help" => {
                println!(
                    "nat [--edits N] [--runs N] [--members N] [--idle-secs S] [--settle-secs S] \
                     [--crowd wan|nat] [--homes DIR] [--crowd-homes DIR] [--only relayed,direct,punch,crowd] [--out DIR] \
                     [--kith PATH] [--log RUST_LOG]"
                );
                std::process::exit(0);
            }
            other if other.starts_with('-') => {
                eprintln!("nat bench: ignoring unknown flag {other}")
            }
            _ => {} // a cargo bench filter: nothing to filter
        }
    }
    for m in &o.only {
        assert!(
            MEASURES.contains(&m.as_str()),
            "--only takes {}, not {m}",
            MEASURES.join(", ")
        );
    }
    o.edits = o.edits.max(1);
    o.runs = o.runs.max(1);
    o.members = o.members.max(1);
    o.idle_secs = o.idle_secs.max(1);
    o.kith = kith.unwrap_or_else(|| default_kith(&target));
    o
}

type Res<T> = Result<T, String>;

static SEQ: AtomicU64 = AtomicU64::new(0);

fn seq() -> u64 {
    SEQ.fetch_add(1, Ordering::Relaxed)
}

/// Where homes and logs go.
struct Dirs {
    homes: PathBuf,
    logs: PathBuf,
    /// The crowd's member homes (scaffolding: on tmpfs when there is one,
    /// so their fsyncs do not load the disk R writes to).
    crowd_homes: PathBuf,
}

// ---------------------------------------------------------------- commands

/// `kith ARGS` in HOST's namespace; it must succeed. Its stdout.
fn kith_ok(net: &Internet, host: Host, home: &Home, args: &[&str]) -> Res<String> {
    let r = net.run(host, home, args);
    if r.code == Some(0) {
        Ok(r.stdout)
    } else {
        Err(format!(
            "`kith {}` in {} exited {:?}: {}",
            args.join(" "),
            host.role(),
            r.code,
            r.stderr.trim()
        ))
    }
}

fn kith_json(net: &Internet, host: Host, home: &Home, args: &[&str]) -> Res<Json> {
    let out = kith_ok(net, host, home, args)?;
    serde_json::from_str(&out).map_err(|e| format!("`kith {}`: not JSON ({e})", args.join(" ")))
}

/// The member and device ids of a home.
fn ids(net: &Internet, host: Host, home: &Home) -> Res<(String, String)> {
    let v = kith_json(net, host, home, &["id", "--json"])?;
    let get = |k: &str| {
        v[k].as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("kith id --json has no {k}: {v}"))
    };
    Ok((get("member")?, get("device")?))
}

/// HOME's `kith status --json`, run in HOST's namespace; Null on failure.
fn status(net: &Internet, host: Host, home: &Home) -> Json {
    kith_json(net, host, home, &["status", "--json"]).unwrap_or(Json::Null)
}

/// NAME's row in a status.
fn row<'a>(status: &'a Json, name: &str) -> &'a Json {
    status["members"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["name"] == name))
        .unwrap_or(&Json::Null)
}

/// "link via" of NAME's row, for the report.
fn row_words(status: &Json, name: &str) -> String {
    let r = row(status, name);
    match (r["link"].as_str(), r["via"].as_str()) {
        (Some(l), Some(v)) => format!("{l} via {v}"),
        (Some(l), None) => l.to_string(),
        _ => format!("(no row: {})", compact(status)),
    }
}

fn compact(v: &Json) -> String {
    let s = v.to_string();
    if s.len() > 600 {
        format!("{}…", &s[..600])
    } else {
        s
    }
}

/// What the running daemon last wrote to HOME's `team/daemon.json` (what
/// `kith status` reads), or Null.
fn daemon_file(home: &Home) -> Json {
    fs::read(home.path().join("team").join("daemon.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Json::Null)
}

/// How HOME's daemon reaches DEVICE, as `kith status` would say it: ""
/// when not connected, else `direct` or `relayed`.
fn link_to(file: &Json, device: &str) -> &'static str {
    let connected = file["connected"]
        .as_array()
        .is_some_and(|c| c.iter().any(|d| d == device));
    if !connected {
        return "";
    }
    match file["links"][device]["link"].as_str() {
        Some("relayed") => "relayed",
        // As `kith status`: connected without a link is direct.
        _ => "direct",
    }
}

// ---------------------------------------------------------------- daemons

/// A `kith daemon --no-mdns` in a namespace, stopped with SIGTERM when
/// dropped. `ip netns exec` execs kith in its own place, so the child's
/// pid is the daemon's.
struct Daemon {
    child: Child,
    name: String,
    log: PathBuf,
    listening: Receiver<String>,
    addr: Option<String>,
}

impl Daemon {
    fn spawn(
        net: &Internet,
        o: &Opts,
        dirs: &Dirs,
        host: Host,
        home: &Home,
        name: &str,
        extra: &[&str],
    ) -> Res<Daemon> {
        let log = dirs.logs.join(format!("{:03}-{name}.log", seq()));
        let mut cmd = net.daemon_command(host, home, extra);
        cmd.env("RUST_LOG", &o.log)
            .env("KITH_MDNS", "off")
            .stdout(Stdio::piped())
            .stderr(File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name}'s daemon: {e}"))?;
        let rx = bench::listening_lines(&mut child);
        Ok(Daemon {
            child,
            name: name.to_string(),
            log,
            listening: rx,
            addr: None,
        })
    }

    /// Waits for the first `listening on` line.
    fn wait_listening(&mut self) -> Res<()> {
        if self.addr.is_some() {
            return Ok(());
        }
        match self.listening.recv_timeout(WAIT) {
            Ok(a) => {
                self.addr = Some(a);
                Ok(())
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => Err(format!(
                "{}'s daemon printed no address: {}",
                self.name,
                self.tail(10)
            )),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last N lines of the log, joined for one line of a report.
    fn tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Log lines holding every one of WORDS.
    fn grep(&self, words: &[&str]) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| words.iter().all(|w| l.contains(w)))
            .map(str::to_string)
            .collect()
    }

    /// SIGTERM, then a bounded wait; SIGKILL past 15 s.
    fn terminate(&mut self) -> Option<i32> {
        bench::terminate(&mut self.child, &self.name, Duration::from_secs(15))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// The last lines of each daemon's log, for a report of what went wrong.
fn tails(daemons: &[&Daemon], n: usize) -> String {
    let mut s = String::new();
    for d in daemons {
        let _ = writeln!(
            s,
            "--- {}'s daemon ({}), last {n} lines:\n{}",
            d.name,
            d.log.display(),
            d.tail(n)
        );
    }
    s
}

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of proc(5); `rest` starts at field 3.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// A field of /proc/PID/status, as its first number (kB for memory).
fn status_field(pid: u32, field: &str) -> Option<u64> {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn mb_of_kb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

// ---------------------------------------------------------------- the team

/// R: the office on the wan, who created the team and runs the relay.
struct Office {
    home: Home,
    daemon: Daemon,
}

impl Office {
    /// Creates the team and starts the relay; returns once the office's
    /// roster names it as the team's relay, so tickets carry it.
    fn open(net: &Internet, o: &Opts, dirs: &Dirs) -> Res<Office> {
        let home = Home::new_in(&dirs.homes);
        kith_ok(
            net,
            Relay,
            &home,
            &["team", "create", "acme", "--as", "office"],
        )?;
        let args = ["--relay", "--listen", OFFICE_TCP, "--listen", OFFICE_QUIC];
        let mut daemon = Daemon::spawn(net, o, dirs, Relay, &home, "office", &args)?;
        daemon.wait_listening()?;
        let (_, device) = ids(net, Relay, &home)?;
        let named = poll(WAIT, Duration::from_millis(100), || {
            let v = kith_json(net, Relay, &home, &["team", "relays", "--json"]).ok()?;
            v.as_array()?
                .iter()
                .any(|r| r["device"] == device.as_str())
                .then_some(())
        });
        if named.is_none() {
            return Err(format!(
                "the office's roster never named it as the relay\n{}",
                tails(&[&daemon], 20)
            ));
        }
        Ok(Office { home, daemon })
    }

    /// NAME joins from HOST with a ticket the office prints; a failed
    /// join is tried again with a new ticket, three tickets at most.
    fn join(&self, net: &Internet, host: Host, home: &Home, name: &str) -> Res<u32> {
        let mut last = String::new();
        for failed in 0..3 {
            let ticket = kith_ok(net, Relay, &self.home, &["team", "invite"])?;
            let args = [
                "team",
                "join",
                ticket.trim(),
                "--as",
                name,
                "--timeout",
                "20s",
            ];
            match kith_ok(net, host, home, &args) {
                Ok(_) => return Ok(failed),
                Err(e) => {
                    eprintln!("  {name}'s join failed, trying a new ticket: {e}");
                    last = e;
                }
            }
        }
        Err(format!(
            "{name} could not join: {last}\n{}",
            tails(&[&self.daemon], 20)
        ))
    }
}

/// A member: their home, host, name and ids.
struct Member {
    host: Host,
    name: String,
    home: Home,
    id: String,
    device: String,
}

impl Member {
    fn join(net: &Internet, dirs: &Dirs, office: &Office, host: Host, name: &str) -> Res<Member> {
        let home = Home::new_in(&dirs.homes);
        office.join(net, host, &home, name)?;
        let (id, device) = ids(net, host, &home)?;
        Ok(Member {
            host,
            name: name.to_string(),
            home,
            id,
            device,
        })
    }

    fn daemon(&self, net: &Internet, o: &Opts, dirs: &Dirs) -> Res<Daemon> {
        Daemon::spawn(net, o, dirs, self.host, &self.home, &self.name, &[])
    }
}

// ---------------------------------------------------------------- replicas

/// A member's replica of another's ledger, read as the daemon writes it:
/// its `ledger/generation` nudge file and its `index.sqlite`.
struct Replica {
    generation: PathBuf,
    index: PathBuf,
    conn: Option<(rusqlite::Connection, u64)>,
}

impl Replica {
    fn of(home: &Home, owner: &str) -> Replica {
        let dir = home.path().join("replicas").join(owner);
        Replica {
            generation: dir.join("ledger").join("generation"),
            index: dir.join("index.sqlite"),
            conn: None,
        }
    }

    fn generation(&self) -> Vec<u8> {
        fs::read(&self.generation).unwrap_or_default()
    }

    /// Whether the replica's index holds entity ID (reopened when the
    /// file is replaced).
    fn has(&mut self, id: &str) -> bool {
        use std::os::unix::fs::MetadataExt;
        let Ok(ino) = fs::metadata(&self.index).map(|m| m.ino()) else {
            return false;
        };
        if self.conn.as_ref().is_some_and(|(_, i)| *i != ino) {
            self.conn = None;
        }
        if self.conn.is_none() {
            // Read-write without create: a read-only connection cannot
            // open a WAL database whose -shm does not exist yet. Only
            // SELECTs run.
            let Ok(c) = rusqlite::Connection::open_with_flags(
                &self.index,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            ) else {
                return false;
            };
            let _ = c.busy_timeout(Duration::from_millis(500));
            self.conn = Some((c, ino));
        }
        let Some((c, _)) = &self.conn else {
            return false;
        };
        match c.query_row("SELECT count(*) FROM entities WHERE id=?1", [id], |r| {
            r.get::<_, i64>(0)
        }) {
            Ok(n) => n > 0,
            Err(_) => {
                self.conn = None;
                false
            }
        }
    }
}

// ---------------------------------------------------------------- 1, 2: edits

struct Edit {
    /// `kith add` (with `ip netns exec`) spawn to exit.
    add_ms: f64,
    /// From `kith add` returning to the peer's replica index holding it.
    after_ms: Option<f64>,
    /// From `kith add` returning to the replica's generation changing.
    gen_ms: Option<f64>,
    /// The peer's link to alice when the edit arrived (or was given up).
    link: &'static str,
}

/// Alice adds people one by one, each timed until PEER's replica of
/// alice holds them. A first, untimed edit checks that edits arrive.
fn edits(net: &Internet, alice: &Member, peer: &Member, n: usize, seed: u64) -> Res<Vec<Edit>> {
    let mut replica = Replica::of(&peer.home, &alice.id);
    let mut rng = Rng(seed);
    let add = |name: &str| -> Res<(String, f64, Instant)> {
        let t0 = Instant::now();
        let out = kith_ok(net, Alice, &alice.home, &["add", name])?;
        let t1 = Instant::now();
        Ok((
            out.trim().to_string(),
            t1.duration_since(t0).as_secs_f64() * 1e3,
            t1,
        ))
    };
    let (id, _, _) = add(&format!("Nat Warmup {}", rng.id()))?;
    if poll(WAIT, Duration::from_millis(20), || {
        replica.has(&id).then_some(())
    })
    .is_none()
    {
        return Err(format!(
            "a first edit of alice's never reached {} in {WAIT:?}",
            peer.name
        ));
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        // Edits 100–300 ms apart, as a person types them.
        std::thread::sleep(Duration::from_millis(100 + rng.below(200) as u64));
        let generation = replica.generation();
        let (id, add_ms, t1) = add(&format!("Nat Bench {i:03} {}", rng.id()))?;
        let (gen_at, arrived) = bench::await_arrival(
            generation,
            {
                let path = replica.generation.clone();
                move || fs::read(&path).unwrap_or_default()
            },
            || replica.has(&id),
            ARRIVE.saturating_sub(t1.elapsed()),
        );
        let ms = |a: Instant| a.duration_since(t1).as_secs_f64() * 1e3;
        let link = link_to(&daemon_file(&peer.home), &alice.device);
        if arrived.is_none() {
            eprintln!(
                "  edit {i}: {id} did not reach {} within {ARRIVE:?}",
                peer.name
            );
        }
        out.push(Edit {
            add_ms,
            after_ms: arrived.map(ms),
            gen_ms: gen_at.map(ms),
            link,
        });
    }
    Ok(out)
}

/// What one link's measure found.
#[derive(Default)]
struct LinkRun {
    seen: Seen,
    /// Alice's row in the peer's `kith status --json`, before and after
    /// the edits.
    before: String,
    after: String,
    /// Whether the routers tracked a two-way flow between the two after
    /// the edits.
    punched_after: bool,
    edits: Vec<Edit>,
    err: Option<String>,
    /// DCUtR's verdicts in both daemons' logs.
    dcutr: Vec<String>,
}

/// When a link was first seen, in seconds from the daemons' spawn.
#[derive(Clone, Copy, Default)]
struct Seen {
    /// PEER's daemon.json (what `kith status` reads) said alice was
    /// connected relayed, or direct.
    relayed: Option<f64>,
    status_direct: Option<f64>,
    /// The status said direct and a router tracked a two-way flow between
    /// the two NATs' public addresses: a hole was really punched.
    direct: Option<f64>,
}

/// Whether a hole was punched between A and B, as their routers see it:
/// a flow from one to the other's public address that packets crossed
/// both ways (never through the relay).
fn punched(net: &Internet, a: Host, b: Host) -> bool {
    net.two_way_flow(a, b) || net.two_way_flow(b, a)
}

/// Polls PEER's daemon.json every 10 ms until its link to alice is
/// relayed or direct (WANT `connected`), or until it says direct and the
/// routers agree (WANT `direct`).
fn watch_link(
    net: &Internet,
    alice: &Member,
    peer: &Member,
    start: Instant,
    want: &str,
    limit: Duration,
) -> Seen {
    let mut seen = Seen::default();
    let secs = || start.elapsed().as_secs_f64();
    let _ = poll(limit, Duration::from_millis(10), || {
        match link_to(&daemon_file(&peer.home), &alice.device) {
            "relayed" => {
                seen.relayed.get_or_insert_with(secs);
            }
            "direct" => {
                seen.status_direct.get_or_insert_with(secs);
                if seen.direct.is_none() && punched(net, alice.host, peer.host) {
                    seen.direct = Some(secs());
                }
            }
            _ => {}
        }
        match want {
            "connected" => (seen.relayed.is_some() || seen.status_direct.is_some()).then_some(()),
            _ => seen.direct.is_some().then_some(()),
        }
    });
    seen
}

/// DCUtR's verdicts about each other in the logs of A (alice) and B.
fn dcutr_lines(a: (&Daemon, &Member), b: (&Daemon, &Member)) -> Vec<String> {
    let mut out = Vec::new();
    for ((d, _), (_, other)) in [(a, b), (b, a)] {
        for l in d.grep(&["hole punched", &other.device]) {
            out.push(format!("{}: {}", d.name, after_level(&l)));
        }
    }
    out
}

/// One of measures 1 and 2: PEER's daemon starts (alice's runs), the
/// link is awaited (WANT `connected` or `direct`), then alice's edits are
/// timed to PEER.
fn link_run(
    (net, o, dirs): (&Internet, &Opts, &Dirs),
    office: &Office,
    alice: (&Daemon, &Member),
    peer: &Member,
    want: &str,
    seed: u64,
) -> Res<LinkRun> {
    let limit = if want == "direct" { PUNCH_WAIT } else { WAIT };
    let mut d = peer.daemon(net, o, dirs)?;
    let start = Instant::now();
    d.wait_listening()?;
    let mut r = LinkRun {
        seen: watch_link(net, alice.1, peer, start, want, limit),
        ..LinkRun::default()
    };
    let st = || status(net, peer.host, &peer.home);
    r.before = row_words(&st(), "alice");
    let ready = match want {
        "connected" => r.seen.relayed.or(r.seen.status_direct).is_some(),
        _ => r.seen.direct.is_some(),
    };
    let context = |why: String| {
        format!(
            "{why}\n{}'s status: {}\nalice's status: {}\n{}",
            peer.name,
            compact(&st()),
            compact(&status(net, Alice, &alice.1.home)),
            tails(&[&office.daemon, alice.0, &d], 25)
        )
    };
    if !ready {
        let why = match (want, r.seen.status_direct) {
            ("connected", _) => format!(
                "{}'s daemon never connected to alice in {WAIT:?}",
                peer.name
            ),
            (_, Some(t)) => format!(
                "{}'s status said alice was direct {t:.2} s after the spawn, but in {limit:?} neither router tracked a two-way flow between nat-a and nat-b: the link went through the relay",
                peer.name
            ),
            _ => format!(
                "{}'s status never showed alice direct in {limit:?} (relayed after {})",
                peer.name,
                secs(r.seen.relayed)
            ),
        };
        r.err = Some(context(why));
    } else {
        match edits(net, alice.1, peer, o.edits, seed) {
            Ok(e) => r.edits = e,
            Err(e) => r.err = Some(context(e)),
        }
        r.after = row_words(&st(), "alice");
    }
    r.punched_after = punched(net, Alice, peer.host);
    r.dcutr = dcutr_lines(alice, (&d, peer));
    Ok(r)
}

/// Measures 1 and 2 in one topology: alice and carol (relayed), then
/// alice and bob (direct), each peer's daemon running only for its own.
fn links(o: &Opts, dirs: &Dirs) -> Res<(Option<LinkRun>, Option<LinkRun>)> {
    let net = Internet::new().ok_or("the NAT namespaces cannot be made here (see stderr)")?;
    let office = Office::open(&net, o, dirs)?;
    let alice = Member::join(&net, dirs, &office, Alice, "alice")?;
    let mut a = alice.daemon(&net, o, dirs)?;
    a.wait_listening()?;
    let relayed = if o.wants("relayed") {
        eprintln!(
            "relayed: alice (nat-a) to carol (nat-c, symmetric), {} edits",
            o.edits
        );
        let carol = Member::join(&net, dirs, &office, Carol, "carol")?;
        let r = link_run(
            (&net, o, dirs),
            &office,
            (&a, &alice),
            &carol,
            "connected",
            0x6e61_7401,
        )?;
        Some(r)
    } else {
        None
    };
    let direct = if o.wants("direct") {
        eprintln!("direct: alice (nat-a) to bob (nat-b), {} edits", o.edits);
        let bob = Member::join(&net, dirs, &office, Bob, "bob")?;
        let r = link_run(
            (&net, o, dirs),
            &office,
            (&a, &alice),
            &bob,
            "direct",
            0x6e61_7402,
        )?;
        Some(r)
    } else {
        None
    };
    Ok((relayed, direct))
}

// ---------------------------------------------------------------- 3: punch

struct Punch {
    seen: Seen,
    /// What bob's `kith status --json` said of alice HOLD after going
    /// direct, and every other link his daemon.json showed meanwhile.
    status: String,
    lapses: Vec<&'static str>,
    dcutr: Vec<String>,
    err: Option<String>,
}

/// One run: a fresh topology and team; alice's and bob's daemons spawned
/// together, timed until bob's daemon.json shows alice direct and a
/// router tracks the punched flow.
fn punch_run(o: &Opts, dirs: &Dirs) -> Res<Punch> {
    let net = Internet::new().ok_or("the NAT namespaces cannot be made here (see stderr)")?;
    let office = Office::open(&net, o, dirs)?;
    let alice = Member::join(&net, dirs, &office, Alice, "alice")?;
    let bob = Member::join(&net, dirs, &office, Bob, "bob")?;
    let start = Instant::now();
    let mut a = alice.daemon(&net, o, dirs)?;
    let mut b = bob.daemon(&net, o, dirs)?;
    a.wait_listening()?;
    b.wait_listening()?;
    let seen = watch_link(&net, &alice, &bob, start, "direct", PUNCH_WAIT);
    // Does the direct link hold?
    let mut lapses = Vec::new();
    if seen.direct.is_some() {
        let _ = poll(HOLD, Duration::from_millis(10), || {
            let l = link_to(&daemon_file(&bob.home), &alice.device);
            if l != "direct" && lapses.last() != Some(&l) {
                lapses.push(if l.is_empty() { "not connected" } else { l });
            }
            None::<()>
        });
    }
    let st = status(&net, Bob, &bob.home);
    let err = seen.direct.is_none().then(|| {
        format!(
            "not direct in {PUNCH_WAIT:?} (bob's status: relayed after {}, direct after {}; no two-way flow through the routers); bob's status: {}\nalice's: {}\n{}",
            secs(seen.relayed),
            secs(seen.status_direct),
            compact(&st),
            compact(&status(&net, Alice, &alice.home)),
            tails(&[&office.daemon, &a, &b], 25)
        )
    });
    Ok(Punch {
        seen,
        status: row_words(&st, "alice"),
        lapses,
        dcutr: dcutr_lines((&a, &alice), (&b, &bob)),
        err,
    })
}

/// A log line from its level on (the timestamp dropped).
fn after_level(line: &str) -> &str {
    for level in ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"] {
        if let Some(i) = line.find(level) {
            return line[i..].trim();
        }
    }
    line.trim()
}

// ---------------------------------------------------------------- 4, 5: crowd

struct Crowd {
    members: usize,
    /// Where the member homes were.
    homes: String,
    joined_in: f64,
    join_retries: u32,
    /// R's VmRSS with the team made but no member daemon running, kB.
    rss_alone: u64,
    /// From the member daemons spawned to R's status showing each connected.
    connected_in: Option<f64>,
    connected: usize,
    connected_after_idle: usize,
    rss: u64,
    hwm: u64,
    threads: u64,
    cpu_ticks: u64,
    /// Every member daemon's CPU over the same window.
    members_ticks: u64,
    /// How long the members took to come online one by one, and how many
    /// R had not seen within STAGGER.
    ramp_secs: f64,
    late: usize,
    /// R's CPU from the member daemons spawned to the idle window.
    busy_cpu: f64,
    busy_secs: f64,
    /// Links among members, from their daemon.json files: direct, relayed.
    member_links: (usize, usize),
    /// Member daemons' VmRSS, kB: sum and largest.
    member_rss: (u64, u64),
    /// Lines of R's log during the idle window.
    idle_log_lines: usize,
    log_counts: Vec<(&'static str, usize)>,
    load: String,
    err: Option<String>,
}

/// utime + stime of every daemon, in clock ticks.
fn members_ticks(daemons: &[Daemon]) -> u64 {
    daemons.iter().filter_map(|d| cpu_ticks(d.pid())).sum()
}

fn connected_count(net: &Internet, office: &Office) -> usize {
    status(net, Relay, &office.home)["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter(|m| m["you"] != true && m["connected"] == true)
                .count()
        })
        .unwrap_or(0)
}

fn crowd(o: &Opts, dirs: &Dirs) -> Res<Crowd> {
    let net = Internet::new().ok_or("the NAT namespaces cannot be made here (see stderr)")?;
    let office = Office::open(&net, o, dirs)?;
    let rpid = office.daemon.pid();
    let file_pid = daemon_file(&office.home)["pid"].as_u64();
    if file_pid != Some(rpid as u64) {
        return Err(format!(
            "R's daemon.json names pid {file_pid:?}, the child is {rpid}"
        ));
    }
    let host = o.crowd;
    eprintln!(
        "crowd: {} members join from {} ({})",
        o.members,
        host.role(),
        host.ip().unwrap_or("?")
    );
    let t = Instant::now();
    let mut members = Vec::with_capacity(o.members);
    let mut retries = 0;
    for i in 0..o.members {
        let name = format!("m{i:02}");
        let home = Home::new_in(&dirs.crowd_homes);
        retries += office.join(&net, host, &home, &name)?;
        let (id, device) = ids(&net, host, &home)?;
        members.push(Member {
            host,
            name,
            home,
            id,
            device,
        });
        if (i + 1) % 10 == 0 {
            eprintln!("  {} joined", i + 1);
        }
    }
    let joined_in = t.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(2));
    let rss_alone = status_field(rpid, "VmRSS:").unwrap_or(0);

    let cpu0 = cpu_ticks(rpid).unwrap_or(0);
    let t0 = Instant::now();
    // One member comes online at a time, as a team does in the morning:
    // the next daemon starts once R's daemon.json names the last one
    // connected (or after STAGGER), until the whole phase has taken
    // RAMP; the rest then start at once.
    let mut daemons = Vec::with_capacity(members.len());
    let mut late = 0;
    for (i, m) in members.iter().enumerate() {
        let mut d = m.daemon(&net, o, dirs)?;
        // On a starved machine a daemon may be slow to listen: counted
        // as late, not fatal.
        if let Err(e) = d.wait_listening() {
            eprintln!("  {}", e.lines().next().unwrap_or(""));
        }
        daemons.push(d);
        if t0.elapsed() < RAMP {
            let on_r = poll(STAGGER, Duration::from_millis(50), || {
                daemon_file(&office.home)["connected"]
                    .as_array()?
                    .iter()
                    .any(|c| c == m.device.as_str())
                    .then_some(())
            });
            late += on_r.is_none() as usize;
        }
        if (i + 1) % 10 == 0 {
            eprintln!(
                "  {} member daemons running after {:.0} s",
                i + 1,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    let ramp_secs = t0.elapsed().as_secs_f64();
    eprintln!("  waiting for R's status to show them all");
    let want = members.len();
    let mut seen = 0;
    let connected_in = poll(WAIT, Duration::from_millis(500), || {
        seen = connected_count(&net, &office);
        (seen == want).then(|| t0.elapsed().as_secs_f64())
    });
    let mut err = None;
    if connected_in.is_none() {
        err = Some(format!(
            "R's status showed {seen} of {want} members connected {:.0} s after the first member daemon started; measured anyway\n{}",
            t0.elapsed().as_secs_f64(),
            tails(&[&office.daemon], 25)
        ));
    }
    eprintln!(
        "  R sees {seen} of {want} connected after {:.1} s; settling {} s",
        t0.elapsed().as_secs_f64(),
        o.settle_secs
    );
    std::thread::sleep(Duration::from_secs(o.settle_secs));
    let connected = connected_count(&net, &office);
    let busy_secs = t0.elapsed().as_secs_f64();
    let cpu1 = cpu_ticks(rpid).unwrap_or(0);
    let rss = status_field(rpid, "VmRSS:").unwrap_or(0);
    let hwm = status_field(rpid, "VmHWM:").unwrap_or(0);
    let threads = status_field(rpid, "Threads:").unwrap_or(0);
    let log_before = office.daemon.log().lines().count();
    let m1 = members_ticks(&daemons);
    let load = loadavg();
    eprintln!("  R's CPU over {} s of idleness", o.idle_secs);
    std::thread::sleep(Duration::from_secs(o.idle_secs));
    let cpu2 = cpu_ticks(rpid).unwrap_or(0);
    let members_ticks =
        |ds: &[Daemon]| -> u64 { ds.iter().filter_map(|d| cpu_ticks(d.pid())).sum() };
    let m2 = members_ticks(&daemons);
    let idle_log_lines = office.daemon.log().lines().count() - log_before;
    let connected_after_idle = connected_count(&net, &office);

    let (mut direct, mut relayed) = (0, 0);
    let mut member_rss = (0u64, 0u64);
    for (m, d) in members.iter().zip(&daemons) {
        let f = daemon_file(&m.home);
        for other in &members {
            match link_to(&f, &other.device) {
                "direct" => direct += 1,
                "relayed" => relayed += 1,
                _ => {}
            }
        }
        let r = status_field(d.pid(), "VmRSS:").unwrap_or(0);
        member_rss.0 += r;
        member_rss.1 = member_rss.1.max(r);
    }
    let log = office.daemon.log();
    let count = |w: &str| log.lines().filter(|l| l.contains(w)).count();
    let log_counts = vec![
        ("relay: slot reserved", count("relay: slot reserved")),
        ("relay: circuit opened", count("relay: circuit opened")),
        ("relay: circuit refused", count("relay: circuit refused")),
        ("relay: circuit closed", count("relay: circuit closed")),
        ("refused a connection", count("refused a connection")),
    ];
    Ok(Crowd {
        members: want,
        homes: dirs.crowd_homes.display().to_string(),
        joined_in,
        join_retries: retries,
        rss_alone,
        connected_in,
        connected,
        connected_after_idle,
        rss,
        hwm,
        threads,
        cpu_ticks: cpu2.saturating_sub(cpu1),
        members_ticks: m2.saturating_sub(m1),
        ramp_secs,
        late,
        busy_cpu: cpu1.saturating_sub(cpu0) as f64 / clk_tck(),
        busy_secs,
        member_links: (direct / 2, relayed / 2),
        member_rss,
        idle_log_lines,
        log_counts,
        load,
        err,
    })
}

// ---------------------------------------------------------------- report

fn verdict(ok: bool) -> &'static str {
    if ok { "meets" } else { "**misses**" }
}

fn secs(v: Option<f64>) -> String {
    v.map(|s| format!("{s:.2} s"))
        .unwrap_or_else(|| "never".into())
}

fn render_link(s: &mut String, title: &str, peer: &str, goal_ms: f64, want: &str, r: &LinkRun) {
    let _ = writeln!(s, "## {title}\n");
    let _ = writeln!(
        s,
        "- from spawning {peer}'s daemon (alice's already running), {peer}'s `team/daemon.json` said alice was relayed after {}, direct after {}; direct with a two-way flow through the routers after {}",
        secs(r.seen.relayed),
        secs(r.seen.status_direct),
        secs(r.seen.direct)
    );
    let _ = writeln!(
        s,
        "- `kith status --json` on {peer}, alice's row: before the edits `{}`, after `{}`; a two-way flow between the NATs after the edits: {}",
        r.before,
        if r.after.is_empty() { "–" } else { &r.after },
        if r.punched_after { "yes" } else { "no" }
    );
    if r.dcutr.is_empty() {
        let _ = writeln!(s, "- DCUtR in the logs: nothing");
    }
    for l in &r.dcutr {
        let _ = writeln!(s, "- DCUtR in the logs: `{l}`");
    }
    if !r.edits.is_empty() {
        let mut by_link: Vec<(&str, usize)> = Vec::new();
        for e in &r.edits {
            let l = if e.link.is_empty() {
                "not connected"
            } else {
                e.link
            };
            match by_link.iter_mut().find(|(k, _)| *k == l) {
                Some((_, n)) => *n += 1,
                None => by_link.push((l, 1)),
            }
        }
        let words: Vec<String> = by_link.iter().map(|(l, n)| format!("{l} {n}")).collect();
        let mislabel =
            if want == "relayed" && !r.punched_after && by_link.iter().any(|(l, _)| *l == "direct")
            {
                " — **mislabelled**: no flow ever crossed the routers, so every byte went through R"
            } else {
                ""
            };
        let _ = writeln!(
            s,
            "- {peer}'s link to alice in daemon.json (what `kith status` shows) as each edit arrived: {} (of {}){mislabel}",
            words.join(", "),
            r.edits.len()
        );
        let _ = writeln!(
            s,
            "- alice runs `kith add \"Nat Bench …\"` in her namespace 100–300 ms apart; each is timed from the command returning until {peer}'s `replicas/<alice>/index.sqlite` holds the new id (the replica's `ledger/generation` polled every 1 ms, then the index asked)\n"
        );
        let sorted = |f: &dyn Fn(&Edit) -> Option<f64>| {
            let mut v: Vec<f64> = r.edits.iter().filter_map(f).collect();
            v.sort_by(f64::total_cmp);
            v
        };
        let after = sorted(&|e| e.after_ms);
        let gen_v = sorted(&|e| e.gen_ms);
        let add = sorted(&|e| Some(e.add_ms));
        let _ = writeln!(s, "| measure | n | p50 ms | p90 ms | max ms | goal | |");
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---|---|");
        let line = |s: &mut String, name: &str, v: &[f64], goal: &str, ok: &str| {
            let _ = writeln!(
                s,
                "| {name} | {} | {:.1} | {:.1} | {:.1} | {goal} | {ok} |",
                v.len(),
                pct(v, 50.0),
                pct(v, 90.0),
                v.last().copied().unwrap_or(f64::NAN)
            );
        };
        let all = after.len() == r.edits.len();
        // What the link really was: a two-way flow through the routers
        // or none; the labels are reported above as they were.
        let mut ok = verdict(all && pct(&after, 50.0) <= goal_ms).to_string();
        if (want == "direct") != r.punched_after {
            let _ = write!(ok, " (but the routers say the link was not {want})");
        }
        line(
            s,
            &format!("`kith add` returns → in {peer}'s replica index"),
            &after,
            &format!("p50 ≤ {goal_ms:.0}"),
            &ok,
        );
        line(
            s,
            &format!("`kith add` returns → {peer}'s replica `generation` changes"),
            &gen_v,
            "",
            "",
        );
        line(
            s,
            "`kith add` itself (`ip netns exec` and the whole process)",
            &add,
            "",
            "",
        );
        let lost = r.edits.len() - after.len();
        if lost > 0 {
            let _ = writeln!(s, "\n{lost} edit(s) never arrived within {ARRIVE:?}.");
        }
    }
    if let Some(e) = &r.err {
        let _ = writeln!(s, "\n**Not measured:**\n\n```text\n{e}\n```");
    }
    let _ = writeln!(s);
}

fn cell(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.2}"))
        .unwrap_or_else(|| "never".into())
}

fn render_punch(s: &mut String, runs: &[Res<Punch>]) {
    let _ = writeln!(s, "## 3. Daemons started to a direct link\n");
    let _ = writeln!(
        s,
        "- each run: a fresh topology, team and homes; R's relay running and named in the roster, alice and bob joined; their daemons spawned together; bob's `team/daemon.json` (what `kith status` reads) polled every 10 ms until alice's link is `direct` and nat-a's or nat-b's conntrack holds a two-way flow between the two public addresses (limit {PUNCH_WAIT:?}); then bob's `kith status --json`\n"
    );
    let _ = writeln!(
        s,
        "| run | status: relayed after s | status: direct after s | **direct, flow through the routers, after s** | in the next {HOLD:?} bob's daemon.json also showed | bob's status of alice then | DCUtR in the logs |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---|---|---|");
    let mut direct = Vec::new();
    let mut errs = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        match r {
            Ok(p) => {
                if let Some(d) = p.seen.direct {
                    direct.push(d);
                }
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    i + 1,
                    cell(p.seen.relayed),
                    cell(p.seen.status_direct),
                    cell(p.seen.direct),
                    if p.lapses.is_empty() {
                        "nothing else".to_string()
                    } else {
                        p.lapses.join(", ")
                    },
                    p.status,
                    if p.dcutr.is_empty() {
                        "none".to_string()
                    } else {
                        p.dcutr
                            .iter()
                            .map(|l| format!("`{l}`"))
                            .collect::<Vec<_>>()
                            .join("<br>")
                    }
                );
                if let Some(e) = &p.err {
                    errs.push(format!("run {}: {e}", i + 1));
                }
            }
            Err(e) => {
                let _ = writeln!(s, "| {} | – | – | – | – | failed | |", i + 1);
                errs.push(format!("run {}: {e}", i + 1));
            }
        }
    }
    if direct.is_empty() {
        let _ = writeln!(
            s,
            "\n**No run went direct** (goal ≤ 5 s: not met; the first run's logs follow)."
        );
    } else {
        let m = median(&direct);
        let _ = writeln!(
            s,
            "\n**Median of the {} of {} run(s) that went direct: {m:.2} s** (goal ≤ 5 s: {}).",
            direct.len(),
            runs.len(),
            verdict(m <= 5.0 && direct.len() == runs.len())
        );
    }
    // The first failure in full; the others' first line.
    for (i, e) in errs.iter().enumerate() {
        if i == 0 {
            let _ = writeln!(s, "\n```text\n{e}\n```");
        } else {
            let _ = writeln!(s, "\n- {}", e.lines().next().unwrap_or(""));
        }
    }
    let _ = writeln!(s);
}

fn render_crowd(s: &mut String, o: &Opts, c: &Res<Crowd>) {
    let _ = writeln!(s, "## 4–5. The relay with {} members\n", o.members);
    let c = match c {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(s, "**Not measured:**\n\n```text\n{e}\n```\n");
            return;
        }
    };
    let _ = writeln!(
        s,
        "- {} member homes (in `{}`) joined from {} ({}, {}) in {:.1} s ({} join(s) retried)",
        c.members,
        c.homes,
        o.crowd.role(),
        o.crowd.ip().unwrap_or("?"),
        if o.crowd == Stranger {
            "on the wan, no NAT"
        } else {
            "behind nat-a"
        },
        c.joined_in,
        c.join_retries
    );
    let _ = writeln!(
        s,
        "- their daemons started one at a time, each once R's daemon.json named the one before connected (at most {STAGGER:?} each, {RAMP:?} in all, then the rest at once): {:.1} s for all {}, {} not seen by R within {STAGGER:?}",
        c.ramp_secs, c.members, c.late
    );
    let _ = writeln!(
        s,
        "- R's `kith status --json` showed every member connected {} after the first member daemon started; {} connected after settling {} s, {} after the idle window",
        secs(c.connected_in),
        c.connected,
        o.settle_secs,
        c.connected_after_idle
    );
    let _ = writeln!(
        s,
        "- links among the members as their daemon.json files label them: {} direct, {} relayed",
        c.member_links.0, c.member_links.1
    );
    let count = |w: &str| {
        c.log_counts
            .iter()
            .find(|(k, _)| *k == w)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let _ = writeln!(
        s,
        "- circuits R was relaying at the end (opened − closed in its log): {}",
        count("relay: circuit opened").saturating_sub(count("relay: circuit closed"))
    );
    let _ = writeln!(
        s,
        "- R's CPU while the members connected and settled: {:.2} s over {:.1} s",
        c.busy_cpu, c.busy_secs
    );
    let _ = writeln!(
        s,
        "- R's log (RUST_LOG={}): {}; {} line(s) during the idle window",
        o.log,
        c.log_counts
            .iter()
            .map(|(w, n)| format!("`{w}` ×{n}"))
            .collect::<Vec<_>>()
            .join(", "),
        c.idle_log_lines
    );
    let _ = writeln!(
        s,
        "- member daemons' VmRSS: {:.0} MB in all, {:.1} MB the largest; load average at the idle window {}\n",
        mb_of_kb(c.member_rss.0),
        mb_of_kb(c.member_rss.1),
        c.load
    );
    let pct_core = c.cpu_ticks as f64 / clk_tck() / o.idle_secs as f64 * 100.0;
    let _ = writeln!(s, "| R, the relay daemon | result | goal | |");
    let _ = writeln!(s, "|---|---:|---|---|");
    let _ = writeln!(
        s,
        "| VmRSS, team made, no member daemon running | {:.1} MB | | |",
        mb_of_kb(c.rss_alone)
    );
    // A verdict only for the team size asked for.
    let all = c.connected == c.members && c.connected_after_idle == c.members;
    let judged = |ok: bool| {
        if all {
            verdict(ok).to_string()
        } else {
            format!("not judged: {} of {} connected", c.connected, c.members)
        }
    };
    let _ = writeln!(
        s,
        "| **VmRSS with {} members connected** | **{:.1} MB** | ≤ 100 MB | {} |",
        c.connected,
        mb_of_kb(c.rss),
        judged(mb_of_kb(c.rss) <= 100.0)
    );
    let _ = writeln!(s, "| VmHWM (peak) | {:.1} MB | | |", mb_of_kb(c.hwm));
    let _ = writeln!(s, "| threads | {} | | |", c.threads);
    let _ = writeln!(
        s,
        "| **CPU when idle, over {} s** | **{:.2} % of one core** ({} ticks) | ≈ 0 | {} |",
        o.idle_secs,
        pct_core,
        c.cpu_ticks,
        judged(pct_core < 1.0)
    );
    let _ = writeln!(
        s,
        "| all {} member daemons' CPU over the same window | {:.2} % of one core | | |",
        c.members,
        c.members_ticks as f64 / clk_tck() / o.idle_secs as f64 * 100.0
    );
    if let Some(e) = &c.err {
        let _ = writeln!(s, "\n```text\n{e}\n```");
    }
    let _ = writeln!(s);
}

fn main() {
    let o = parse_opts();
    netns_env::set_kith_bin(&o.kith);
    let shm = Path::new("/dev/shm");
    let dirs = Dirs {
        homes: o.homes.clone().unwrap_or_else(|| o.out.join("homes")),
        logs: o.out.join("logs"),
        crowd_homes: match &o.crowd_homes {
            Some(d) => d.clone(),
            None if shm.is_dir() => shm.join(format!("kith-bench-nat-{}", std::process::id())),
            None => o.out.join("crowd-homes"),
        },
    };
    // Only what an earlier run of this bench left.
    let _ = fs::remove_dir_all(o.out.join("homes"));
    let _ = fs::remove_dir_all(&dirs.logs);
    fs::create_dir_all(&dirs.homes).expect("the homes directory");
    fs::create_dir_all(&dirs.logs).expect("the logs directory");
    fs::create_dir_all(&dirs.crowd_homes).expect("the crowd's homes directory");
    let load_before = loadavg();
    eprintln!(
        "kith nat bench: binary {}, homes and logs in {}",
        o.kith.display(),
        o.out.display()
    );
    let mut body = String::new();

    if o.wants("relayed") || o.wants("direct") {
        match links(&o, &dirs) {
            Ok((relayed, direct)) => {
                if let Some(r) = relayed {
                    render_link(
                        &mut body,
                        "1. Edit to peer, relayed (alice behind nat-a, carol behind nat-c)",
                        "carol",
                        100.0,
                        "relayed",
                        &r,
                    );
                }
                if let Some(r) = direct {
                    render_link(
                        &mut body,
                        "2. Edit to peer, direct after DCUtR (alice behind nat-a, bob behind nat-b)",
                        "bob",
                        60.0,
                        "direct",
                        &r,
                    );
                }
            }
            Err(e) => {
                eprintln!("links: {e}");
                let _ = writeln!(
                    body,
                    "## 1–2. Edits to a peer\n\n**Not measured:**\n\n```text\n{e}\n```\n"
                );
            }
        }
    }
    if o.wants("punch") {
        let mut runs = Vec::new();
        for i in 0..o.runs {
            eprintln!("punch: run {} of {}", i + 1, o.runs);
            let r = punch_run(&o, &dirs);
            match &r {
                Ok(p) => eprintln!(
                    "  status: relayed after {}, direct after {}; a punched flow after {}",
                    secs(p.seen.relayed),
                    secs(p.seen.status_direct),
                    secs(p.seen.direct)
                ),
                Err(e) => eprintln!("  {e}"),
            }
            runs.push(r);
        }
        render_punch(&mut body, &runs);
    }
    if o.wants("crowd") {
        let c = crowd(&o, &dirs);
        if let Err(e) = &c {
            eprintln!("crowd: {e}");
        }
        render_crowd(&mut body, &o, &c);
    }

    let mut s = String::new();
    let _ = writeln!(s, "# kith NAT traversal benchmark\n");
    let _ = writeln!(
        s,
        "- binary: `{}` (kith {}), source {}",
        o.kith.display(),
        env!("CARGO_PKG_VERSION"),
        git_state()
    );
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let _ = writeln!(
        s,
        "- machine: {cores} cores, load average {load_before} before, {} after; every daemon and the bench share these cores",
        loadavg()
    );
    let _ = writeln!(
        s,
        "- network: `tests/common/netns.rs` (veth pairs and a bridge, no delay added); every daemon with --no-mdns and KITH_MDNS=off, RUST_LOG={}; R listens on {OFFICE_TCP} and {OFFICE_QUIC}\n",
        o.log
    );
    s.push_str(&body);
    println!("{s}");
    let dir = o.target_dir.join("kith-bench");
    let _ = fs::create_dir_all(&dir);
    if o.crowd_homes.is_none() {
        let _ = fs::remove_dir_all(&dirs.crowd_homes);
    }
    let md = dir.join("nat-results.md");
    fs::write(&md, &s).expect("write nat-results.md");
    eprintln!("wrote {}", md.display());
}
