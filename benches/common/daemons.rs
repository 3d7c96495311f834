//! Real `kith daemon` processes on 127.0.0.1 for the benches that time
//! sync (`sync.rs`, `compare.rs`): a clean-environment runner for the kith
//! binary, a daemon that is always stopped, a reader of a home's index
//! while a daemon writes it, and the edit-to-peer measure (`kith add`
//! returns → the peer's replica index holds the person).
//!
//! Include it beside `common/mod.rs`, which it uses as `crate::common`:
//!
//! ```text
//! #[path = "common/mod.rs"] mod common;
//! #[path = "common/daemons.rs"] mod daemons;
//! ```
//!
//! Every daemon listens on [`LISTEN`] with `--no-mdns` and `KITH_MDNS=off`;
//! a peer or ticket address that is not 127.0.0.1 is refused.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::common::Rng;

/// The only address any daemon listens on.
pub const LISTEN: &str = "/ip4/127.0.0.1/tcp/0";
pub const LOOPBACK: &str = "/ip4/127.0.0.1/";

pub type Res<T> = Result<T, String>;

pub static SEQ: AtomicU64 = AtomicU64::new(0);

pub fn seq() -> u64 {
    SEQ.fetch_add(1, Ordering::Relaxed)
}

/// Runs the kith binary with a clean environment: only PATH, the home,
/// UTC, no colour, and LAN discovery off.
pub struct Kith {
    pub bin: PathBuf,
    pub scratch: PathBuf,
    pub daemon_log: Option<String>,
}

pub struct Ran {
    pub code: i32,
    pub wall: Duration,
    pub stdout: String,
    pub stderr: String,
}

impl Kith {
    pub fn command(&self, home: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("KITH_HOME", home)
            .env("KITH_TZ", "UTC")
            .env("KITH_MDNS", "off")
            .env("NO_COLOR", "1")
            .env("USER", "bench")
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// One whole process, killed past `timeout`. Output goes to files, so
    /// pipes never fill; `wall` is spawn to exit.
    pub fn run(&self, home: &Path, args: &[&str], timeout: Duration) -> Ran {
        let n = seq();
        let (o, e) = (
            self.scratch.join(format!("{n}.out")),
            self.scratch.join(format!("{n}.err")),
        );
        let mut cmd = self.command(home, args);
        cmd.stdout(File::create(&o).expect("stdout file"))
            .stderr(File::create(&e).expect("stderr file"));
        let start = Instant::now();
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(err) => {
                return Ran {
                    code: -1,
                    wall: start.elapsed(),
                    stdout: String::new(),
                    stderr: format!("cannot start {}: {err}", self.bin.display()),
                };
            }
        };
        let pid = child.id() as libc::pid_t;
        let (cancel, watch) = std::sync::mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = watch.recv_timeout(timeout) {
                // SAFETY: kill(2) on our own child, not yet reaped (the
                // main thread reaps it only after cancelling this).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        });
        let status = child.wait();
        let wall = start.elapsed();
        let _ = cancel.send(());
        let _ = watchdog.join();
        let code = match status {
            Ok(s) => s.code().unwrap_or(-1),
            Err(_) => -1,
        };
        let ran = Ran {
            code,
            wall,
            stdout: fs::read_to_string(&o).unwrap_or_default(),
            stderr: fs::read_to_string(&e).unwrap_or_default(),
        };
        let _ = fs::remove_file(&o);
        let _ = fs::remove_file(&e);
        ran
    }

    /// A command that must succeed: its stdout.
    pub fn ok(&self, home: &Path, args: &[&str], timeout: Duration) -> Res<String> {
        let r = self.run(home, args, timeout);
        if r.code != 0 {
            return Err(format!(
                "kith {} (home {}) exited {} after {:.1} s: {}",
                args.join(" "),
                home.display(),
                r.code,
                r.wall.as_secs_f64(),
                r.stderr.trim()
            ));
        }
        Ok(r.stdout)
    }

    pub fn json(&self, home: &Path, args: &[&str]) -> Res<serde_json::Value> {
        let out = self.ok(home, args, Duration::from_secs(60))?;
        serde_json::from_str(&out).map_err(|e| format!("kith {}: not JSON ({e})", args.join(" ")))
    }

    pub fn member_id(&self, home: &Path) -> Res<String> {
        self.json(home, &["id", "--json"])?["member"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| "kith id --json has no member".to_string())
    }

    /// A team ticket from `inviter` (whose daemon runs), checked to name
    /// only loopback addresses.
    pub fn invite(&self, inviter: &Path) -> Res<String> {
        let v = self.json(inviter, &["team", "invite", "--json"])?;
        let addrs: Vec<&str> = v["addrs"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
            .unwrap_or_default();
        if addrs.is_empty() || addrs.iter().any(|a| !a.starts_with(LOOPBACK)) {
            return Err(format!(
                "the ticket names {addrs:?}: refusing to use anything but 127.0.0.1"
            ));
        }
        v["ticket"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| "kith team invite --json has no ticket".into())
    }

    /// Invites and joins; a join that fails is tried again with a new
    /// ticket, up to three tickets. Failed joins are counted in
    /// [`JOINS_FAILED`]: a known race in the daemon (see PERFORMANCE.md)
    /// can drop the connection before the inviter's answer leaves.
    pub fn invite_and_join(&self, inviter: &Path, home: &Path, name: &str) -> Res<()> {
        let mut last = String::new();
        for _ in 0..3 {
            let ticket = self.invite(inviter)?;
            match self.ok(
                home,
                &["team", "join", &ticket, "--as", name, "--timeout", "10s"],
                Duration::from_secs(30),
            ) {
                Ok(_) => return Ok(()),
                Err(e) => {
                    JOINS_FAILED.fetch_add(1, Ordering::Relaxed);
                    eprintln!("  join as {name} failed, trying a new ticket: {e}");
                    last = e;
                }
            }
        }
        Err(last)
    }
}

/// Joins that failed (and were retried with a new ticket).
pub static JOINS_FAILED: AtomicU64 = AtomicU64::new(0);
pub static JOINS: AtomicU64 = AtomicU64::new(0);

/// A running `kith daemon` on 127.0.0.1, stopped with SIGTERM when dropped.
pub struct Daemon {
    pub child: Child,
    pub name: String,
    pub addr: String,
    pub log: PathBuf,
    /// From spawn to the `listening on` line.
    pub listening_after: Duration,
}

impl Daemon {
    pub fn start(k: &Kith, home: &Path, name: &str, peer: Option<&str>) -> Res<Daemon> {
        let log = k.scratch.join(format!("daemon-{name}-{}.log", seq()));
        let mut args = vec!["daemon", "--listen", LISTEN, "--no-mdns"];
        if let Some(p) = peer {
            if !p.starts_with(LOOPBACK) {
                return Err(format!("refusing to dial {p}: not 127.0.0.1"));
            }
            args.extend(["--peer", p]);
        }
        let mut cmd = k.command(home, &args);
        if let Some(filter) = &k.daemon_log {
            cmd.env("RUST_LOG", filter);
        }
        cmd.stdout(Stdio::piped())
            .stderr(File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?);
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start the daemon: {e}"))?;
        let rx = crate::common::listening_lines(&mut child);
        let mut d = Daemon {
            child,
            name: name.to_string(),
            addr: String::new(),
            log,
            listening_after: Duration::ZERO,
        };
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => {
                d.listening_after = started.elapsed();
                d.addr = addr;
            }
            Err(_) => {
                d.terminate();
                return Err(format!(
                    "daemon {name} did not print its address: {}",
                    d.log_tail()
                ));
            }
        }
        if !d.addr.starts_with(LOOPBACK) {
            d.terminate();
            return Err(format!("daemon {name} listens on {}: not loopback", d.addr));
        }
        Ok(d)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn log_tail(&self) -> String {
        let s = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" / ")
    }

    /// Warnings and errors the daemon logged.
    pub fn warnings(&self) -> Vec<String> {
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR") || l.contains("panicked"))
            .map(str::to_string)
            .collect()
    }

    /// SIGTERM, then wait (bounded) for the exit; SIGKILL past 20 s.
    pub fn terminate(&mut self) -> Option<i32> {
        crate::common::terminate(&mut self.child, &self.name, Duration::from_secs(20))
    }

    pub fn stop(mut self) -> Res<()> {
        match self.terminate() {
            Some(0) => Ok(()),
            other => Err(format!(
                "daemon {} stopped with {other:?}: {}",
                self.name,
                self.log_tail()
            )),
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.terminate();
    }
}

// ---------------------------------------------------------------- replica index

/// Reads a home's `index.sqlite` as kith writes it (a writer may be busy in
/// it). Reopened when the file is replaced.
pub struct IndexReader {
    pub path: PathBuf,
    pub conn: Option<(rusqlite::Connection, u64)>,
}

impl IndexReader {
    pub fn of_home(home: &Path) -> IndexReader {
        IndexReader {
            path: home.join("index.sqlite"),
            conn: None,
        }
    }

    pub fn conn(&mut self) -> Option<&rusqlite::Connection> {
        use std::os::unix::fs::MetadataExt;
        let ino = fs::metadata(&self.path).ok()?.ino();
        if self.conn.as_ref().is_some_and(|(_, i)| *i != ino) {
            self.conn = None;
        }
        if self.conn.is_none() {
            // Read-write without create: a read-only connection cannot open
            // a WAL database whose -shm does not exist yet. Only SELECTs run.
            let c = rusqlite::Connection::open_with_flags(
                &self.path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .ok()?;
            let _ = c.busy_timeout(Duration::from_millis(500));
            self.conn = Some((c, ino));
        }
        self.conn.as_ref().map(|(c, _)| c)
    }

    pub fn count(&mut self, sql: &str, arg: Option<&str>) -> Option<i64> {
        let c = self.conn()?;
        let r = match arg {
            Some(a) => c.query_row(sql, [a], |r| r.get::<_, i64>(0)),
            None => c.query_row(sql, [], |r| r.get::<_, i64>(0)),
        };
        match r {
            Ok(n) => Some(n),
            Err(_) => {
                self.conn = None;
                None
            }
        }
    }

    /// People, from the `people` table: its count reads an index, where
    /// counting `entities` by kind scans every row (18 ms at 10k people, so
    /// polling it would take a core from the daemons being measured).
    pub fn people(&mut self) -> i64 {
        self.count("SELECT count(*) FROM people", None).unwrap_or(0)
    }

    /// Every entity (1 ms at 110k rows).
    pub fn entities(&mut self) -> i64 {
        self.count("SELECT count(*) FROM entities", None)
            .unwrap_or(0)
    }

    pub fn has(&mut self, id: &str) -> bool {
        self.count("SELECT count(*) FROM entities WHERE id=?1", Some(id))
            .unwrap_or(0)
            > 0
    }

    pub fn kinds(&mut self) -> BTreeMap<String, i64> {
        let Some(c) = self.conn() else {
            return BTreeMap::new();
        };
        let Ok(mut st) = c.prepare("SELECT kind, count(*) FROM entities GROUP BY kind") else {
            return BTreeMap::new();
        };
        st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map(|rows| rows.flatten().collect())
            .unwrap_or_default()
    }

    /// How many people and a hash of every (id, name), to compare a replica
    /// with its original.
    pub fn people_digest(&mut self) -> (usize, u64) {
        use std::hash::{Hash, Hasher};
        let Some(c) = self.conn() else {
            return (0, 0);
        };
        let Ok(mut st) = c.prepare("SELECT id, name FROM people ORDER BY id") else {
            return (0, 0);
        };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let mut n = 0;
        if let Ok(rows) = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        {
            for row in rows.flatten() {
                row.hash(&mut h);
                n += 1;
            }
        }
        (n, h.finish())
    }
}

pub fn replica_home(home: &Path, member: &str) -> PathBuf {
    home.join("replicas").join(member)
}

pub fn fresh_dir(path: &Path) -> Res<()> {
    if path.exists() {
        fs::remove_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    fs::create_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// A working copy of a base home (keys included: each base is its own person).
pub fn copy_home(from: &Path, to: &Path) -> Res<()> {
    if to.exists() {
        fs::remove_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    }
    let ok = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(())
    } else {
        Err(format!("cp -a {} {} failed", from.display(), to.display()))
    }
}

pub fn daemon_warnings(d: &Daemon) {
    let w = d.warnings();
    if !w.is_empty() {
        eprintln!(
            "  daemon {} logged {} warning(s), first: {}",
            d.name,
            w.len(),
            w[0]
        );
    }
}

// ---------------------------------------------------------------- edit to peer

/// One `kith add` on alice and its arrival in bob's replica.
pub struct Edit {
    pub add_ms: f64,
    /// From `kith add` returning to bob's replica index holding the person.
    pub after_ms: Option<f64>,
    /// From `kith add` starting to the same.
    pub total_ms: Option<f64>,
    /// From `kith add` returning to the replica's generation file changing.
    pub gen_ms: Option<f64>,
}

pub fn propagation(
    k: &Kith,
    alice_home: &Path,
    replica: &Path,
    count: usize,
    bob_daemon: &mut Daemon,
) -> Res<Vec<Edit>> {
    let gen_file = replica.join("ledger").join("generation");
    let mut idx = IndexReader::of_home(replica);
    let mut rng = Rng(0x6c61_7465);
    let mut edits = Vec::with_capacity(count);
    let start_people = idx.people();
    let limit = Duration::from_secs(10);
    for i in 0..count {
        if !bob_daemon.alive() {
            return Err(format!("bob's daemon exited: {}", bob_daemon.log_tail()));
        }
        // Edits 100–300 ms apart, as a person types them.
        std::thread::sleep(Duration::from_millis(100 + rng.below(200) as u64));
        let generation = fs::read(&gen_file).unwrap_or_default();
        let name = format!("Sync Bench {i:03} {}", rng.id());
        let t0 = Instant::now();
        let r = k.run(alice_home, &["add", &name], Duration::from_secs(30));
        let t1 = Instant::now();
        if r.code != 0 {
            return Err(format!("kith add failed: {}", r.stderr.trim()));
        }
        let id = r.stdout.trim().to_string();
        let (gen_at, arrived) = crate::common::await_arrival(
            generation,
            || fs::read(&gen_file).unwrap_or_default(),
            || idx.has(&id),
            limit,
        );
        let ms = |a: Instant, b: Instant| a.duration_since(b).as_secs_f64() * 1e3;
        edits.push(Edit {
            add_ms: ms(t1, t0),
            after_ms: arrived.map(|a| ms(a, t1)),
            total_ms: arrived.map(|a| ms(a, t0)),
            gen_ms: gen_at.map(|g| ms(g, t1)),
        });
        if arrived.is_none() {
            eprintln!("  edit {i}: {id} did not reach bob within {limit:?}");
        }
    }
    let end_people = idx.people();
    if end_people != start_people + count as i64 {
        eprintln!(
            "  bob's replica has {end_people} people after the edits, expected {}",
            start_people + count as i64
        );
    }
    daemon_warnings(bob_daemon);
    Ok(edits)
}
