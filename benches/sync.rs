//! Team sync benchmark: real `kith daemon` processes talking over
//! 127.0.0.1, driven the way a person would drive them.
//!
//! ```text
//! cargo bench --bench sync                          # all three measures, about 4 minutes
//! cargo bench --bench sync -- --only initial,latency
//! cargo bench --bench sync -- --reuse               # keep the imported ledgers between runs
//! ```
//!
//! The binary measured is the release `kith` that `cargo bench` builds
//! (`target/release/kith`). Run some other way, build it first with
//! `cargo build --release`, or pass `--kith PATH`.
//!
//! Every daemon listens on `/ip4/127.0.0.1/tcp/0` with `--no-mdns` and
//! `KITH_MDNS=off`; every ticket is checked to carry only 127.0.0.1
//! addresses before it is used. Nothing else is ever dialled. Every daemon
//! is stopped with SIGTERM at the end, also when a measure fails or the
//! bench panics.
//!
//! What it measures (goals are reported, not asserted):
//!
//! 1. **Initial sync** (`initial`): alice's home holds a 10,000-person
//!    ledger with 100,000 interactions (the JSONL generator of
//!    `kith_bench.rs`, imported with `kith import`). Alice creates a team
//!    and runs a daemon; a fresh bob joins with a ticket each run. Timed
//!    from spawning bob's daemon until bob's replica of alice
//!    (`replicas/<alice>/index.sqlite`) holds every person, and until it
//!    holds every shared entity. Median of `--runs` (3). Goal ≤ 2 s.
//! 2. **Edit propagation** (`latency`): with both daemons running, alice
//!    runs `kith add "…"` `--edits` (100) times; each is timed from the
//!    moment the command returns until bob's replica index holds the new
//!    person (the replica's `ledger/generation` nudge file is polled every
//!    millisecond, then the index is asked). Goals p50 ≤ 250 ms,
//!    p99 ≤ 1 s. The `kith add` process's own time is reported apart.
//! 3. **Idle daemon** (`idle`): an observer creates a team; `--replicas`
//!    (10) members with 10,000 people each join, and each member's daemon
//!    runs only until the observer holds that member's whole replica,
//!    then is stopped. The observer's daemon is then measured over
//!    `--idle-secs` (10) of idleness: CPU (utime+stime from
//!    /proc/PID/stat), context switches, VmRSS and VmHWM. Again after
//!    restarting it. Goals: CPU ≈ 0, RSS ≤ 200 MB.
//!
//! Flags (after `--`): `--people N` (alice's ledger, 10000),
//! `--interactions K` (per person, 10), `--runs R` (3), `--edits E` (100),
//! `--replicas M` (10), `--replica-people N` (10000),
//! `--replica-interactions K` (10), `--idle-secs S` (10),
//! `--only initial,latency,idle`, `--out DIR`
//! (`<target>/kith-bench/sync`), `--kith PATH`, `--reuse` (keep imported
//! base homes made with the same sizes; they are copied before use),
//! `--log FILTER` (RUST_LOG for the daemons; their logs stay in
//! `<out>/scratch/`).
//! Results go to stdout and `<target>/kith-bench/sync-results.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[path = "common/mod.rs"]
mod common;
use common::*;
#[path = "common/daemons.rs"]
mod daemons;
use daemons::*;

const ALICE_SEED: u64 = 0x6b69_7468;
const MEMBER_SEED: u64 = 0x7465_616d_0000;

// ---------------------------------------------------------------- options

#[derive(Clone)]
struct Opts {
    people: usize,
    interactions: u32,
    runs: usize,
    edits: usize,
    replicas: usize,
    replica_people: usize,
    replica_interactions: u32,
    idle_secs: u64,
    only: Vec<String>,
    out: PathBuf,
    kith: PathBuf,
    reuse: bool,
    /// RUST_LOG for the daemons (default: unset, so warnings only).
    log: Option<String>,
    target_dir: PathBuf,
}

impl Opts {
    fn wants(&self, what: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == what)
    }
}

fn parse_opts() -> Opts {
    let target = target_dir();
    let mut opts = Opts {
        people: 10_000,
        interactions: 10,
        runs: 3,
        edits: 100,
        replicas: 10,
        replica_people: 10_000,
        replica_interactions: 10,
        idle_secs: 10,
        only: Vec::new(),
        out: target.join("kith-bench").join("sync"),
        kith: PathBuf::new(),
        reuse: false,
        log: None,
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
            "--people" => opts.people = num("--people", value("--people")),
            "--interactions" => {
                opts.interactions = num("--interactions", value("--interactions")) as u32
            }
            "--runs" => opts.runs = num("--runs", value("--runs")),
            "--edits" => opts.edits = num("--edits", value("--edits")),
            "--replicas" => opts.replicas = num("--replicas", value("--replicas")),
            "--replica-people" => {
                opts.replica_people = num("--replica-people", value("--replica-people"))
            }
            "--replica-interactions" => {
                opts.replica_interactions =
                    num("--replica-interactions", value("--replica-interactions")) as u32
            }
            "--idle-secs" => opts.idle_secs = num("--idle-secs", value("--idle-secs")) as u64,
            "--only" => {
                opts.only = value("--only")
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            }
            "--out" => opts.out = PathBuf::from(value("--out")),
            "--kith" => kith = Some(PathBuf::from(value("--kith"))),
            "--reuse" => opts.reuse = true,
            "--log" => opts.log = Some(value("--log")),
            "-h" | "--help" => {
                println!(
                    "sync [--people N] [--interactions K] [--runs R] [--edits E] [--replicas M] \
                     [--replica-people N] [--replica-interactions K] [--idle-secs S] \
                     [--only initial,latency,idle] [--out DIR] [--kith PATH] [--reuse] [--log RUST_LOG]"
                );
                std::process::exit(0);
            }
            other if other.starts_with('-') => {
                eprintln!("sync bench: ignoring unknown flag {other}")
            }
            _ => {} // a cargo bench filter: nothing to filter
        }
    }
    for o in &opts.only {
        assert!(
            ["initial", "latency", "idle"].contains(&o.as_str()),
            "--only takes initial, latency and idle, not {o}"
        );
    }
    opts.runs = opts.runs.max(1);
    opts.people = opts.people.max(10);
    opts.replica_people = opts.replica_people.max(10);
    opts.idle_secs = opts.idle_secs.max(1);
    opts.kith = kith.unwrap_or_else(|| default_kith(&target));
    opts
}

// ---------------------------------------------------------------- processes

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
    // Fields 14 and 15 of stat(5); `rest` starts at field 3.
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

/// Voluntary and involuntary context switches of each of a process's
/// threads, by thread id.
fn ctx_switches(pid: u32) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        let Ok(s) = fs::read_to_string(t.path().join("status")) else {
            continue;
        };
        let n: u64 = s
            .lines()
            .filter(|l| {
                l.starts_with("voluntary_ctxt_switches")
                    || l.starts_with("nonvoluntary_ctxt_switches")
            })
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        out.insert(t.file_name().to_string_lossy().into_owned(), n);
    }
    out
}

/// Context switches between two [`ctx_switches`] readings (threads that
/// ended in between are not counted).
fn switches_between(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> u64 {
    after
        .iter()
        .map(|(tid, n)| n.saturating_sub(before.get(tid).copied().unwrap_or(0)))
        .sum()
}

// ---------------------------------------------------------------- homes

/// Allocated bytes under `path`.
fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    let mut n = meta.blocks() * 512;
    if meta.is_dir()
        && let Ok(entries) = fs::read_dir(path)
    {
        for e in entries.flatten() {
            n += disk_usage(&e.path());
        }
    }
    n
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The generator of `common` (kith_bench's ledger), with `per_person`
/// interactions per person; what it wrote.
fn generate_counts(path: &Path, people: usize, per_person: u32, seed: u64) -> Res<Counts> {
    let shape = Shape {
        per_person,
        team: false,
    };
    generate_shaped(path, people, seed, shape)
        .map(|t| t.counts)
        .map_err(|e| e.to_string())
}

/// A home holding an imported ledger, made once and copied for each use.
struct Base {
    home: PathBuf,
    counts: Counts,
    gen_secs: f64,
    import_secs: Option<f64>,
}

fn base_home(
    k: &Kith,
    dir: &Path,
    name: &str,
    people: usize,
    per_person: u32,
    seed: u64,
    reuse: bool,
) -> Res<Base> {
    let home = dir.join(name);
    let jsonl = dir.join(format!("{name}.jsonl"));
    let stamp_text = format!("{people} {per_person} {seed:x}");
    let stamp = dir.join(format!("{name}.stamp"));
    if reuse && fs::read_to_string(&stamp).is_ok_and(|s| s == stamp_text) && home.is_dir() {
        // Counting needs the generator's pass; it is cheap next to an import.
        let t = Instant::now();
        let counts = generate_counts(&jsonl, people, per_person, seed)?;
        let _ = fs::remove_file(&jsonl);
        return Ok(Base {
            home,
            counts,
            gen_secs: t.elapsed().as_secs_f64(),
            import_secs: None,
        });
    }
    let _ = fs::remove_file(&stamp);
    let t = Instant::now();
    let counts = generate_counts(&jsonl, people, per_person, seed)?;
    let gen_secs = t.elapsed().as_secs_f64();
    fresh_dir(&home)?;
    let r = k.run(
        &home,
        &["import", jsonl.to_str().expect("utf-8 path")],
        Duration::from_secs(900),
    );
    if r.code != 0 {
        return Err(format!(
            "import of {} failed ({}): {}",
            jsonl.display(),
            r.code,
            r.stderr.trim()
        ));
    }
    let _ = fs::remove_file(&jsonl);
    fs::write(&stamp, &stamp_text).map_err(|e| e.to_string())?;
    eprintln!(
        "  {name}: {} people, {} interactions generated in {gen_secs:.1} s, imported in {:.1} s",
        counts.people,
        counts.interactions,
        r.wall.as_secs_f64()
    );
    Ok(Base {
        home,
        counts,
        gen_secs,
        import_secs: Some(r.wall.as_secs_f64()),
    })
}

fn verdict(ok: bool) -> &'static str {
    if ok { "meets" } else { "**misses**" }
}

// ---------------------------------------------------------------- 1. initial sync

struct Alice {
    home: PathBuf,
    member: String,
    daemon: Daemon,
    counts: Counts,
    /// Shared entities alice's index holds, by kind: what a replica should hold.
    shared_kinds: BTreeMap<String, i64>,
    digest: (usize, u64),
    setup: String,
}

/// Kinds that live in the shared part, so reach a teammate.
const SHARED_KINDS: &[&str] = &["person", "company", "interaction"];

fn setup_alice(o: &Opts, k: &Kith) -> Res<Alice> {
    let bases = o.out.join("base");
    fs::create_dir_all(&bases).map_err(|e| e.to_string())?;
    eprintln!(
        "alice: {} people, {} interactions per person",
        o.people, o.interactions
    );
    let base = base_home(
        k,
        &bases,
        &format!("alice-{}x{}", o.people, o.interactions),
        o.people,
        o.interactions,
        ALICE_SEED,
        o.reuse,
    )?;
    let home = o.out.join("alice");
    copy_home(&base.home, &home)?;
    k.ok(
        &home,
        &["team", "create", "acme", "--as", "alice"],
        Duration::from_secs(60),
    )?;
    let member = k.member_id(&home)?;
    let mut idx = IndexReader::of_home(&home);
    let kinds = idx.kinds();
    let shared_kinds: BTreeMap<String, i64> = kinds
        .iter()
        .filter(|(kd, _)| SHARED_KINDS.contains(&kd.as_str()))
        .map(|(kd, n)| (kd.clone(), *n))
        .collect();
    let digest = idx.people_digest();
    drop(idx);
    let daemon = Daemon::start(k, &home, "alice", None)?;
    let c = &base.counts;
    let setup = format!(
        "{} people, {} companies, {} interactions ({} facts and {} follow-ups, private); JSONL generated in {:.1} s, {}; alice's index holds {:?}",
        c.people,
        c.companies,
        c.interactions,
        c.facts,
        c.follow_ups,
        base.gen_secs,
        match base.import_secs {
            Some(s) => format!("imported in {s:.1} s"),
            None => "import reused (--reuse)".into(),
        },
        kinds
    );
    Ok(Alice {
        home,
        member,
        daemon,
        counts: base.counts,
        shared_kinds,
        digest,
        setup,
    })
}

struct InitialRun {
    listening: Duration,
    first_person: Option<Duration>,
    all_people: Option<Duration>,
    everything: Option<Duration>,
    bob_cpu: f64,
    alice_cpu: f64,
    /// This bench's own CPU while it polled.
    poll_cpu: f64,
    bob_hwm: u64,
    replica_disk: u64,
    check: String,
}

/// One fresh bob joins and syncs alice's whole ledger. Returns the run and
/// bob's daemon, still running.
fn initial_run(
    o: &Opts,
    k: &Kith,
    alice: &Alice,
    run: usize,
    timeout: Duration,
) -> Res<(InitialRun, Daemon, PathBuf)> {
    let bob = o.out.join(format!("bob-{run}"));
    fresh_dir(&bob)?;
    JOINS.fetch_add(1, Ordering::Relaxed);
    k.invite_and_join(&alice.home, &bob, &format!("bob{run}"))?;
    let replica = replica_home(&bob, &alice.member);
    let want_people = alice.shared_kinds.get("person").copied().unwrap_or(0);
    let want_all: i64 = alice.shared_kinds.values().sum();
    let mut idx = IndexReader::of_home(&replica);
    let tck = clk_tck();
    let alice_before = cpu_ticks(alice.daemon.pid()).unwrap_or(0);
    let self_before = cpu_ticks(std::process::id()).unwrap_or(0);

    let t0 = Instant::now();
    let mut daemon = Daemon::start(k, &bob, &format!("bob{run}"), Some(&alice.daemon.addr))?;
    let mut first_person = None;
    let mut all_people = None;
    let mut everything = None;
    let mut bob_ticks = 0;
    let mut bob_hwm = 0;
    let mut polls = 0u64;
    while t0.elapsed() < timeout {
        if !daemon.alive() {
            return Err(format!("bob's daemon exited: {}", daemon.log_tail()));
        }
        let people = idx.people();
        let now = t0.elapsed();
        if people > 0 && first_person.is_none() {
            first_person = Some(now);
        }
        if people >= want_people && all_people.is_none() {
            all_people = Some(now);
        }
        if all_people.is_some() && idx.entities() >= want_all {
            everything = Some(t0.elapsed());
        }
        // CPU and peak memory of bob's daemon, read while it lives.
        bob_ticks = cpu_ticks(daemon.pid()).unwrap_or(bob_ticks);
        bob_hwm = status_field(daemon.pid(), "VmHWM:").unwrap_or(bob_hwm);
        if everything.is_some() {
            break;
        }
        polls += 1;
        std::thread::sleep(Duration::from_millis(if polls < 2000 { 5 } else { 50 }));
    }
    let alice_cpu = (cpu_ticks(alice.daemon.pid()).unwrap_or(0) - alice_before) as f64 / tck;
    let poll_cpu = (cpu_ticks(std::process::id()).unwrap_or(0) - self_before) as f64 / tck;
    // Let bob's daemon write its sync state, then compare the replica.
    std::thread::sleep(Duration::from_millis(300));
    let kinds = idx.kinds();
    let digest = idx.people_digest();
    let mut problems = Vec::new();
    for (kd, n) in &alice.shared_kinds {
        let got = kinds.get(kd).copied().unwrap_or(0);
        if got != *n {
            problems.push(format!("{kd}: {got} of {n}"));
        }
    }
    for (kd, n) in &kinds {
        if !alice.shared_kinds.contains_key(kd) {
            problems.push(format!("{n} {kd} rows, which should be private"));
        }
    }
    if digest != alice.digest {
        problems.push(format!(
            "people (id, name) differ: {} rows vs alice's {}",
            digest.0, alice.digest.0
        ));
    }
    let check = if problems.is_empty() {
        format!(
            "replica = alice's shared part ({})",
            kinds
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        format!("MISMATCH: {}", problems.join("; "))
    };
    let r = InitialRun {
        listening: daemon.listening_after,
        first_person,
        all_people,
        everything,
        bob_cpu: bob_ticks as f64 / tck,
        alice_cpu,
        poll_cpu,
        bob_hwm: bob_hwm * 1024,
        replica_disk: disk_usage(&replica),
        check,
    };
    let secs = |d: Option<Duration>| {
        d.map(|d| format!("{:.2} s", d.as_secs_f64()))
            .unwrap_or_else(|| "timeout".into())
    };
    eprintln!(
        "  run {}: all people {}, everything {}, bob CPU {:.2} s, alice CPU {:.2} s; {}",
        run + 1,
        secs(r.all_people),
        secs(r.everything),
        r.bob_cpu,
        r.alice_cpu,
        r.check
    );
    drop(idx);
    daemon_warnings(&daemon);
    Ok((r, daemon, bob))
}

// ---------------------------------------------------------------- 3. idle

struct IdleSample {
    cpu_secs: f64,
    ticks: u64,
    switches: u64,
    rss: u64,
    hwm: u64,
    threads: u64,
}

fn idle_sample(d: &Daemon, secs: u64) -> IdleSample {
    let pid = d.pid();
    let (t0, s0) = (cpu_ticks(pid).unwrap_or(0), ctx_switches(pid));
    std::thread::sleep(Duration::from_secs(secs));
    let (t1, s1) = (cpu_ticks(pid).unwrap_or(0), ctx_switches(pid));
    IdleSample {
        cpu_secs: t1.saturating_sub(t0) as f64 / clk_tck(),
        ticks: t1.saturating_sub(t0),
        switches: switches_between(&s0, &s1),
        rss: status_field(pid, "VmRSS:").unwrap_or(0) * 1024,
        hwm: status_field(pid, "VmHWM:").unwrap_or(0) * 1024,
        threads: status_field(pid, "Threads:").unwrap_or(0),
    }
}

struct Idle {
    member_syncs: Vec<f64>,
    /// The observer's VmRSS once each replica had arrived, bytes.
    member_rss: Vec<u64>,
    member_imports: Vec<f64>,
    synced_hwm: u64,
    synced_rss: u64,
    idle: IdleSample,
    restarted: Option<IdleSample>,
    replicas_disk: u64,
    held: String,
}

fn idle(o: &Opts, k: &Kith) -> Res<Idle> {
    let bases = o.out.join("base");
    fs::create_dir_all(&bases).map_err(|e| e.to_string())?;
    let observer = o.out.join("observer");
    fresh_dir(&observer)?;
    eprintln!(
        "idle: {} members of {} people, {} interactions per person",
        o.replicas, o.replica_people, o.replica_interactions
    );
    let mut homes = Vec::new();
    let mut member_imports = Vec::new();
    for i in 0..o.replicas {
        let base = base_home(
            k,
            &bases,
            &format!("member{i}-{}x{}", o.replica_people, o.replica_interactions),
            o.replica_people,
            o.replica_interactions,
            MEMBER_SEED + i as u64,
            o.reuse,
        )?;
        if let Some(s) = base.import_secs {
            member_imports.push(s);
        }
        let home = o.out.join(format!("member{i}"));
        copy_home(&base.home, &home)?;
        homes.push(home);
    }
    k.ok(
        &observer,
        &["team", "create", "idle", "--as", "observer"],
        Duration::from_secs(60),
    )?;
    let mut obs = Daemon::start(k, &observer, "observer", None)?;
    let mut member_syncs = Vec::new();
    let mut member_rss = Vec::new();
    let mut members = Vec::new();
    for (i, home) in homes.iter().enumerate() {
        JOINS.fetch_add(1, Ordering::Relaxed);
        k.invite_and_join(&observer, home, &format!("member{i}"))?;
        let id = k.member_id(home)?;
        let mut idx = IndexReader::of_home(&replica_home(&observer, &id));
        let t = Instant::now();
        let d = Daemon::start(k, home, &format!("member{i}"), Some(&obs.addr))?;
        let want = o.replica_people as i64;
        let done = poll(Duration::from_secs(300), Duration::from_millis(50), || {
            (idx.people() >= want).then_some(())
        });
        let secs = t.elapsed().as_secs_f64();
        daemon_warnings(&d);
        d.stop()?;
        if done.is_none() {
            return Err(format!(
                "the observer did not get member{i}'s {want} people within 300 s (has {})",
                idx.people()
            ));
        }
        let rss = status_field(obs.pid(), "VmRSS:").unwrap_or(0) * 1024;
        eprintln!(
            "  member{i}: replica on the observer after {secs:.1} s; observer RSS {:.0} MB",
            mb(rss)
        );
        member_syncs.push(secs);
        member_rss.push(rss);
        members.push(id);
        if !obs.alive() {
            return Err(format!("the observer's daemon exited: {}", obs.log_tail()));
        }
    }
    let mut held = Vec::new();
    for id in &members {
        held.push(IndexReader::of_home(&replica_home(&observer, id)).people());
    }
    let synced_hwm = status_field(obs.pid(), "VmHWM:").unwrap_or(0) * 1024;
    let synced_rss = status_field(obs.pid(), "VmRSS:").unwrap_or(0) * 1024;
    // Let the last session's state and book writes finish.
    std::thread::sleep(Duration::from_secs(3));
    eprintln!(
        "  measuring the observer over {} s of idleness",
        o.idle_secs
    );
    let idle = idle_sample(&obs, o.idle_secs);
    daemon_warnings(&obs);
    obs.stop()?;
    // A restarted daemon holds the same replicas without having loaded them.
    let restarted = match Daemon::start(k, &observer, "observer-restarted", None) {
        Ok(d) => {
            std::thread::sleep(Duration::from_secs(3));
            let s = idle_sample(&d, o.idle_secs);
            daemon_warnings(&d);
            d.stop()?;
            Some(s)
        }
        Err(e) => {
            eprintln!("  restarting the observer: {e}");
            None
        }
    };
    Ok(Idle {
        member_syncs,
        member_rss,
        member_imports,
        synced_hwm,
        synced_rss,
        idle,
        restarted,
        replicas_disk: disk_usage(&observer.join("replicas")),
        held: format!(
            "{} replicas holding {} people in all ({:?})",
            held.len(),
            held.iter().sum::<i64>(),
            held
        ),
    })
}

// ---------------------------------------------------------------- report

fn secs_cell(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.2}", d.as_secs_f64()))
        .unwrap_or_else(|| "timeout".into())
}

fn render_initial(
    s: &mut String,
    planned: usize,
    alice: &Alice,
    runs: &[InitialRun],
    err: Option<&str>,
) {
    let _ = writeln!(s, "## 1. Initial sync to a new member\n");
    let _ = writeln!(s, "- alice: {}", alice.setup);
    let _ = writeln!(
        s,
        "- each run: a fresh bob home joins with a new ticket; timed from spawning bob's daemon (`--peer` alice's 127.0.0.1 address) until `replicas/<alice>/index.sqlite` counts every person, and every shared entity (polled every 5 ms); alice's daemon keeps running across runs\n"
    );
    let _ = writeln!(
        s,
        "| run | daemon listening ms | first person s | all {} people s | everything s | bob CPU s | alice CPU s | bench's polling CPU s | bob peak RSS MB | replica on disk MB | check |",
        alice.counts.people
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for (i, r) in runs.iter().enumerate() {
        let _ = writeln!(
            s,
            "| {} | {:.0} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} | {} |",
            i + 1,
            r.listening.as_secs_f64() * 1e3,
            secs_cell(r.first_person),
            secs_cell(r.all_people),
            secs_cell(r.everything),
            r.bob_cpu,
            r.alice_cpu,
            r.poll_cpu,
            mb(r.bob_hwm),
            mb(r.replica_disk),
            r.check
        );
    }
    let done: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.all_people.map(|d| d.as_secs_f64()))
        .collect();
    let every: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.everything.map(|d| d.as_secs_f64()))
        .collect();
    if !done.is_empty() {
        let m = median(&done);
        let _ = writeln!(
            s,
            "\n**Median of {} run(s): all people in {m:.2} s, everything in {:.2} s** (goal ≤ 2 s: {}{}).",
            done.len(),
            median(&every),
            verdict(m <= 2.0 && done.len() == runs.len()),
            if m > 2.0 {
                format!(", {:.1}× the goal", m / 2.0)
            } else {
                String::new()
            }
        );
    }
    if runs.len() < planned || err.is_some() {
        let _ = writeln!(
            s,
            "\n{} of {} runs completed{}",
            runs.len(),
            planned,
            err.map(|e| format!(": {e}")).unwrap_or_default()
        );
    }
    let _ = writeln!(s);
}

/// CPU of two connected daemons with nothing to do, over `secs`.
fn connected_idle(a: &Daemon, b: &Daemon, secs: u64) -> String {
    let (a0, b0) = (cpu_ticks(a.pid()), cpu_ticks(b.pid()));
    std::thread::sleep(Duration::from_secs(secs));
    let (a1, b1) = (cpu_ticks(a.pid()), cpu_ticks(b.pid()));
    let tck = clk_tck();
    let cpu = |x: Option<u64>, y: Option<u64>| match (x, y) {
        (Some(x), Some(y)) => format!("{:.2} s", y.saturating_sub(x) as f64 / tck),
        _ => "?".into(),
    };
    format!(
        "with both daemons connected and nothing to sync, over {secs} s: alice's daemon used {} of CPU, bob's {}",
        cpu(a0, a1),
        cpu(b0, b1)
    )
}

fn render_latency(s: &mut String, edits: &[Edit], quiet: Option<&str>, err: Option<&str>) {
    let _ = writeln!(s, "## 2. Edit propagation between running daemons\n");
    if let Some(q) = quiet {
        let _ = writeln!(s, "- {q}");
    }
    let _ = writeln!(
        s,
        "- alice runs `kith add \"Sync Bench …\"` while both daemons run (100–300 ms apart; the daemon wakes on the ledger's generation file through inotify); the bench polls bob's `replicas/<alice>/ledger/generation` every 1 ms and asks the replica index for the new id when it changes (and every 50 ms: the file is rewritten just after the index commit, so now and then the index answers first and that edit has no `generation` figure)\n"
    );
    let sorted = |f: &dyn Fn(&Edit) -> Option<f64>| {
        let mut v: Vec<f64> = edits.iter().filter_map(f).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let after = sorted(&|e| e.after_ms);
    let total = sorted(&|e| e.total_ms);
    let gen_v = sorted(&|e| e.gen_ms);
    let add = sorted(&|e| Some(e.add_ms));
    let _ = writeln!(
        s,
        "| measure | n | p50 ms | p90 ms | p99 ms | max ms | goal | |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---|---|");
    let row = |s: &mut String, name: &str, v: &[f64], goal: &str, ok: &str| {
        let _ = writeln!(
            s,
            "| {name} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {goal} | {ok} |",
            v.len(),
            pct(v, 50.0),
            pct(v, 90.0),
            pct(v, 99.0),
            v.last().copied().unwrap_or(f64::NAN)
        );
    };
    let all = after.len() == edits.len() && !edits.is_empty();
    let p50_ok = all && pct(&after, 50.0) <= 250.0;
    let p99_ok = all && pct(&after, 99.0) <= 1000.0;
    row(
        s,
        "`kith add` returns → in bob's replica index",
        &after,
        "p50 ≤ 250, p99 ≤ 1000",
        &format!("p50 {}, p99 {}", verdict(p50_ok), verdict(p99_ok)),
    );
    row(
        s,
        "`kith add` starts → in bob's replica index",
        &total,
        "",
        "",
    );
    row(
        s,
        "`kith add` returns → bob's replica `generation` changes",
        &gen_v,
        "",
        "",
    );
    row(s, "`kith add` itself (whole process)", &add, "", "");
    let lost = edits.len() - after.len();
    if lost > 0 {
        let _ = writeln!(s, "\n{lost} edit(s) never arrived within 10 s.");
    }
    if let Some(e) = err {
        let _ = writeln!(s, "\nStopped early: {e}");
    }
    let _ = writeln!(s);
}

fn render_idle(s: &mut String, o: &Opts, r: &Idle) {
    let _ = writeln!(s, "## 3. Idle daemon holding {} replicas\n", o.replicas);
    let _ = writeln!(
        s,
        "- {} members, each {} people with {} interactions per person, joined the observer's team one by one; each member's daemon ran only until the observer held its whole replica, then was stopped (SIGTERM), so the observer idles with no connections",
        o.replicas, o.replica_people, o.replica_interactions
    );
    let _ = writeln!(
        s,
        "- the observer holds {}; replicas on disk {:.0} MB",
        r.held,
        mb(r.replicas_disk)
    );
    if !r.member_imports.is_empty() {
        let _ = writeln!(
            s,
            "- member imports (setup): median {:.1} s",
            median(&r.member_imports)
        );
    }
    let _ = writeln!(
        s,
        "- each member's replica reached the observer in {} s (median {:.1} s; while it ran, the member also pulled the observer's replicas of earlier members)",
        r.member_syncs
            .iter()
            .map(|x| format!("{x:.1}"))
            .collect::<Vec<_>>()
            .join(", "),
        median(&r.member_syncs)
    );
    let _ = writeln!(
        s,
        "- the observer's VmRSS as each replica arrived: {} MB",
        r.member_rss
            .iter()
            .map(|x| format!("{:.0}", mb(*x)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        s,
        "- the observer right after the last replica: VmRSS {:.1} MB, VmHWM {:.1} MB\n",
        mb(r.synced_rss),
        mb(r.synced_hwm)
    );
    let _ = writeln!(
        s,
        "| observer daemon | CPU over {} s | CPU % of one core | context switches /s | threads | VmRSS MB | VmHWM MB | goal | |",
        o.idle_secs
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---|---|");
    let row = |s: &mut String, name: &str, x: &IdleSample| {
        let pct = x.cpu_secs / o.idle_secs as f64 * 100.0;
        let _ = writeln!(
            s,
            "| {name} | {:.2} s ({} ticks) | {pct:.2} | {:.1} | {} | {:.1} | {:.1} | CPU ≈ 0 (< 1% of a core), RSS ≤ 200 MB | CPU {}, RSS {} |",
            x.cpu_secs,
            x.ticks,
            x.switches as f64 / o.idle_secs as f64,
            x.threads,
            mb(x.rss),
            mb(x.hwm),
            verdict(pct < 1.0),
            verdict(mb(x.rss) <= 200.0)
        );
    };
    row(s, "after syncing the replicas", &r.idle);
    if let Some(x) = &r.restarted {
        row(s, "restarted, same replicas", x);
    }
    let _ = writeln!(s);
}

fn main() {
    let o = parse_opts();
    let scratch = o.out.join("scratch");
    fs::create_dir_all(&scratch).expect("create the output directory");
    let k = Kith {
        bin: o.kith.clone(),
        scratch,
        daemon_log: o.log.clone(),
    };
    let load_before = loadavg();
    eprintln!(
        "kith sync bench: binary {}, data in {}",
        o.kith.display(),
        o.out.display()
    );
    let mut s = String::new();
    let _ = writeln!(s, "# kith team sync benchmark\n");
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
    let mut body = String::new();

    // 1 and 2: alice and bob.
    if o.wants("initial") || o.wants("latency") {
        match setup_alice(&o, &k) {
            Err(e) => {
                let _ = writeln!(body, "## 1–2. Alice's home could not be set up\n\n{e}\n");
                eprintln!("alice: {e}");
            }
            Ok(alice) => {
                let runs = if o.wants("initial") { o.runs } else { 1 };
                let mut results = Vec::new();
                let mut last: Option<(Daemon, PathBuf)> = None;
                let mut err = None;
                eprintln!("initial sync: {runs} run(s)");
                for run in 0..runs {
                    if let Some((d, _)) = last.take()
                        && let Err(e) = d.stop()
                    {
                        eprintln!("  {e}");
                    }
                    match initial_run(&o, &k, &alice, run, Duration::from_secs(180)) {
                        Ok((r, d, home)) => {
                            results.push(r);
                            last = Some((d, home));
                        }
                        Err(e) => {
                            eprintln!("  run {}: {e}", run + 1);
                            err = Some(e);
                            break;
                        }
                    }
                }
                render_initial(&mut body, runs, &alice, &results, err.as_deref());
                if o.wants("latency") {
                    match last.as_mut() {
                        Some((d, bob)) => {
                            eprintln!("edit propagation: {} edits", o.edits);
                            // Let the first sync's last writes settle, then
                            // see what two connected daemons cost at rest.
                            std::thread::sleep(Duration::from_secs(2));
                            let quiet = connected_idle(&alice.daemon, d, 5);
                            match propagation(
                                &k,
                                &alice.home,
                                &replica_home(bob, &alice.member),
                                o.edits,
                                d,
                            ) {
                                Ok(edits) => render_latency(&mut body, &edits, Some(&quiet), None),
                                Err(e) => render_latency(&mut body, &[], Some(&quiet), Some(&e)),
                            }
                        }
                        None => {
                            render_latency(&mut body, &[], None, Some("no synced bob to edit for"))
                        }
                    }
                }
                if let Some((d, _)) = last
                    && let Err(e) = d.stop()
                {
                    eprintln!("{e}");
                }
                daemon_warnings(&alice.daemon);
                if let Err(e) = alice.daemon.stop() {
                    eprintln!("{e}");
                }
            }
        }
    }

    // 3: an observer holding many replicas.
    if o.wants("idle") {
        match idle(&o, &k) {
            Ok(r) => render_idle(&mut body, &o, &r),
            Err(e) => {
                let _ = writeln!(body, "## 3. Idle daemon\n\nFailed: {e}\n");
                eprintln!("idle: {e}");
            }
        }
    }

    let _ = writeln!(
        s,
        "- machine: {cores} cores, load average {load_before} before, {} after; every daemon and the bench share these cores",
        loadavg()
    );
    let _ = writeln!(
        s,
        "- daemons listen on {LISTEN} with --no-mdns and KITH_MDNS=off; logging: {}",
        o.log
            .as_deref()
            .map(|f| format!("RUST_LOG={f}"))
            .unwrap_or_else(|| "default (warnings)".into())
    );
    let failed = JOINS_FAILED.load(Ordering::Relaxed);
    let _ = writeln!(
        s,
        "- `kith team join`: {} member(s) joined; {failed} join attempt(s) failed and were retried with a new ticket{}\n",
        JOINS.load(Ordering::Relaxed),
        if failed > 0 {
            " (the inviter's daemon dropped the connection before its answer left: see PERFORMANCE.md)"
        } else {
            ""
        }
    );
    s.push_str(&body);
    println!("{s}");
    let dir = o.target_dir.join("kith-bench");
    let _ = fs::create_dir_all(&dir);
    let md = dir.join("sync-results.md");
    fs::write(&md, &s).expect("write sync-results.md");
    eprintln!("wrote {}", md.display());
}
