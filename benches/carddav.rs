//! `kith carddav serve` benchmark: the real vdirsyncer's first full sync of
//! 10,000 people, and the server's answers over 100,000.
//!
//! ```text
//! cargo bench --bench carddav                    # 10k for vdirsyncer, 100k for the rest
//! cargo bench --bench carddav -- --runs 10 --reuse
//! cargo bench --bench carddav -- --big 20000     # a smaller big ledger
//! ```
//!
//! What it does: writes and imports the deterministic ledgers `kith_bench`
//! uses (10,000 and 100,000 people), pairs a device, starts the real
//! `kith carddav serve` on 127.0.0.1, then
//! - times `vdirsyncer sync` (discovery done first) into an empty directory
//!   for the 10,000-person ledger, and a second sync with nothing changed;
//! - over 100,000: the start-up (the card book is brought up to date
//!   before the URL is printed), the first request,
//!   a `sync-collection` REPORT answering one change made with the CLI just
//!   before (each run makes a new one), a multiget of 100 cards, and the
//!   server's resident memory. HTTP requests are whole requests from this
//!   process over a fresh connection: an upper bound on the server's time.
//!
//! Figures go to stdout and `<target>/kith-bench/carddav-results.md`.
//! Targets are reported, not asserted. Needs vdirsyncer on PATH for the
//! first part (skipped with a note otherwise).

use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

#[path = "common/mod.rs"]
mod common;
use common::*;

struct Opts {
    small: usize,
    big: usize,
    runs: usize,
    out: PathBuf,
    kith: PathBuf,
    reuse: bool,
}

fn parse_opts() -> Opts {
    let target = target_dir();
    let mut o = Opts {
        small: 10_000,
        big: 100_000,
        runs: 20,
        out: target.join("kith-bench").join("carddav"),
        kith: default_kith(&target),
        reuse: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut v = |n: &str| args.next().unwrap_or_else(|| panic!("{n} needs a value"));
        match a.as_str() {
            "--small" => o.small = v("--small").parse().expect("a count"),
            "--big" => o.big = v("--big").parse().expect("a count"),
            "--runs" => o.runs = v("--runs").parse().expect("a count"),
            "--out" => o.out = PathBuf::from(v("--out")),
            "--kith" => o.kith = PathBuf::from(v("--kith")),
            "--reuse" => o.reuse = true,
            "--bench" => {}
            other => panic!(
                "unknown flag {other}; carddav [--small N] [--big N] [--runs R] [--out DIR] [--kith PATH] [--reuse]"
            ),
        }
    }
    o
}

fn kith(o: &Opts, home: &Path) -> Command {
    let mut c = Command::new(&o.kith);
    c.env("KITH_HOME", home)
        .env("KITH_NOW", NOW)
        .env("KITH_TZ", "UTC");
    c
}

/// A home holding `people` generated people, imported once (kept with
/// --reuse when it was made for the same count).
fn ledger(o: &Opts, people: usize) -> (PathBuf, Targets) {
    let jsonl = o.out.join(format!("people-{people}.jsonl"));
    let home = o.out.join(format!("home-{people}"));
    let stamp = home.join("bench-stamp");
    let targets = generate(&jsonl, people, 0x6b69_7468).expect("write the ledger");
    let reuse = o.reuse && fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == people.to_string());
    if !reuse {
        let _ = fs::remove_dir_all(&home);
        fs::create_dir_all(&home).expect("home");
        let t = Instant::now();
        let ok = kith(o, &home)
            .args(["import", jsonl.to_str().expect("utf-8")])
            .stdout(Stdio::null())
            .status()
            .expect("kith import")
            .success();
        assert!(ok, "the import of {people} people failed");
        eprintln!(
            "  imported {people} people in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        fs::write(&stamp, people.to_string()).expect("stamp");
    }
    (home, targets)
}

/// Pairs a device; its user name and password.
fn pair(o: &Opts, home: &Path, name: &str) -> (String, String) {
    let _ = kith(o, home).args(["carddav", "unpair", name]).output();
    let out = kith(o, home)
        .args(["carddav", "pair", name])
        .output()
        .expect("kith carddav pair");
    assert!(
        out.status.success(),
        "pair: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |f: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(f))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no {f} in {text}"))
    };
    (field("user:"), field("password:"))
}

struct Serve {
    child: Child,
    /// From the spawn to the URL printed: the card book is brought up to
    /// date before the server answers.
    started: Duration,
    port: u16,
    url: String,
    auth: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

fn serve(o: &Opts, home: &Path, user: &str, password: &str) -> Serve {
    let t = Instant::now();
    let mut child = kith(o, home)
        .args(["carddav", "serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kith carddav serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the URL");
    let started = t.elapsed();
    let url = line.trim().to_string();
    let port = url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches('/')
        .parse()
        .expect("a port");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    Serve {
        child,
        started,
        port,
        url,
        auth,
    }
}

/// One request over a fresh connection: the status line and the body.
fn request(
    s: &Serve,
    method: &str,
    path: &str,
    depth: Option<&str>,
    body: &str,
) -> (String, String) {
    let mut c = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    let depth = depth.map(|d| format!("Depth: {d}\r\n")).unwrap_or_default();
    write!(
        c,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Basic {}\r\n{depth}\
         Content-Type: application/xml; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        s.port,
        s.auth,
        body.len()
    )
    .expect("send");
    let mut all = Vec::new();
    c.read_to_end(&mut all).expect("read");
    let all = String::from_utf8_lossy(&all).to_string();
    let (head, body) = all.split_once("\r\n\r\n").unwrap_or((&all, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

const BOOK: &str = "/dav/books/kith/";

fn sync_report(token: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
    )
}

/// The text of the first `…sync-token>` element in an answer.
fn token_of(body: &str) -> String {
    body.split("sync-token>")
        .nth(1)
        .and_then(|t| t.split("</").next())
        .unwrap_or_default()
        .to_string()
}

fn hrefs(body: &str) -> Vec<String> {
    body.split("href>")
        .filter_map(|p| p.split("</").next())
        .filter(|h| h.ends_with(".vcf"))
        .map(str::to_string)
        .collect()
}

fn stats(v: &[f64]) -> (f64, f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
    (s[0], at(0.5), at(0.9), s[s.len() - 1])
}

fn proc_kb(pid: u32, field: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_secs(pid: u32) -> f64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

/// vdirsyncer's first full sync of the small ledger, then a no-op sync:
/// (seconds, the server's CPU seconds in it, seconds, cards in the directory).
fn vdirsyncer(o: &Opts, home: &Path) -> Option<(f64, f64, f64, usize)> {
    let bin = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("vdirsyncer"))
            .find(|p| p.is_file())
    })?;
    let (user, password) = pair(o, home, "bench-vdirsyncer");
    let server = serve(o, home, &user, &password);
    let dir = tempfile::tempdir().expect("a temp dir");
    let (cards, status) = (dir.path().join("cards"), dir.path().join("status"));
    fs::create_dir_all(&cards).expect("cards dir");
    fs::create_dir_all(&status).expect("status dir");
    let config = dir.path().join("config");
    fs::write(
        &config,
        format!(
            "[general]\nstatus_path = \"{}/\"\n\n[pair kith]\na = \"phone\"\nb = \"server\"\ncollections = [\"kith\"]\n\n\
             [storage phone]\ntype = \"filesystem\"\npath = \"{}/\"\nfileext = \".vcf\"\n\n\
             [storage server]\ntype = \"carddav\"\nurl = \"{}\"\nusername = \"{user}\"\npassword = \"{password}\"\n",
            status.display(),
            cards.display(),
            server.url
        ),
    )
    .expect("config");
    let run = |args: &[&str]| {
        let t = Instant::now();
        let mut child = Command::new(&bin)
            .env("HOME", dir.path())
            .arg("-c")
            .arg(&config)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("vdirsyncer");
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all("y\n".repeat(5).as_bytes());
        }
        assert!(
            child.wait().expect("vdirsyncer ends").success(),
            "vdirsyncer {args:?} failed"
        );
        t.elapsed().as_secs_f64()
    };
    run(&["discover"]);
    let cpu = cpu_secs(server.child.id());
    let first = run(&["sync"]);
    let server_cpu = cpu_secs(server.child.id()) - cpu;
    let second = run(&["sync"]);
    let n = fs::read_dir(cards.join("kith"))
        .map(|d| d.count())
        .unwrap_or(0);
    Some((first, server_cpu, second, n))
}

fn main() {
    let o = parse_opts();
    fs::create_dir_all(&o.out).expect("create --out");
    eprintln!(
        "kith carddav bench: {} people for vdirsyncer, {} for the server, {} runs",
        o.small, o.big, o.runs
    );
    let mut md = String::new();
    let _ = writeln!(
        md,
        "`cargo bench --bench carddav`: commit {}, load {}\n",
        git_state(),
        loadavg()
    );
    let _ = writeln!(md, "| measure | min | median | p90 | max | goal |");
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---|");
    let mut row = |name: &str, goal: &str, v: &[f64], unit: &str| {
        let (min, med, p90, max) = stats(v);
        let _ = writeln!(
            md,
            "| {name} | {min:.1} {unit} | **{med:.1} {unit}** | {p90:.1} {unit} | {max:.1} {unit} | {goal} |"
        );
    };

    let (small, _) = ledger(&o, o.small);
    match vdirsyncer(&o, &small) {
        Some((first, server_cpu, second, n)) => {
            eprintln!(
                "  vdirsyncer: first sync {first:.2} s ({n} cards; the server's CPU {server_cpu:.2} s), second {second:.2} s"
            );
            row("the server's CPU time in that sync", "", &[server_cpu], "s");
            row(
                &format!(
                    "vdirsyncer's first full sync of {} people ({n} cards)",
                    o.small
                ),
                "≤ 5 s",
                &[first],
                "s",
            );
            row(
                "vdirsyncer's second sync, nothing changed",
                "",
                &[second],
                "s",
            );
        }
        None => eprintln!("  vdirsyncer is not on PATH: its figures are skipped"),
    }

    let (big, targets) = ledger(&o, o.big);
    let (user, password) = pair(&o, &big, "bench-phone");
    let server = serve(&o, &big, &user, &password);
    let pid = server.child.id();
    let propfind = r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:sync-token/></d:prop></d:propfind>"#;
    let t = Instant::now();
    let (status, body) = request(&server, "PROPFIND", BOOK, Some("0"), propfind);
    let first = t.elapsed().as_secs_f64() * 1000.0;
    assert!(status.contains("207"), "PROPFIND: {status} {body}");
    let mut token = token_of(&body);
    row(
        &format!(
            "`kith carddav serve` start-up, its card book brought up to date ({} people)",
            o.big
        ),
        "",
        &[server.started.as_secs_f64()],
        "s",
    );
    row(
        "first request after start (PROPFIND Depth 0)",
        "",
        &[first],
        "ms",
    );

    let mut one = Vec::new();
    for i in 0..o.runs {
        let ok = kith(&o, &big)
            .args(["set", &targets.id, "title", &format!("Buyer no. {i}")])
            .stdout(Stdio::null())
            .status()
            .expect("kith set")
            .success();
        assert!(ok, "kith set failed");
        let t = Instant::now();
        let (status, body) = request(&server, "REPORT", BOOK, Some("1"), &sync_report(&token));
        one.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(status.contains("207"), "sync-collection: {status} {body}");
        let changed = hrefs(&body);
        assert_eq!(changed.len(), 1, "one change, one card: {body}");
        token = token_of(&body);
    }
    row(
        &format!("sync-collection with one change, {} people", o.big),
        "≤ 50 ms",
        &one,
        "ms",
    );

    let (_, all) = request(&server, "REPORT", BOOK, Some("1"), &sync_report(""));
    let some: Vec<String> = hrefs(&all).into_iter().step_by(997).take(100).collect();
    let multiget = format!(
        r#"<?xml version="1.0"?><c:addressbook-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><c:address-data/></d:prop>{}</c:addressbook-multiget>"#,
        some.iter()
            .map(|h| format!("<d:href>{h}</d:href>"))
            .collect::<String>()
    );
    let mut mg = Vec::new();
    for _ in 0..o.runs {
        let t = Instant::now();
        let (status, body) = request(&server, "REPORT", BOOK, Some("1"), &multiget);
        mg.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(status.contains("207"), "multiget: {status}");
        assert_eq!(
            body.matches("BEGIN:VCARD").count(),
            some.len(),
            "every card came"
        );
    }
    row(
        &format!("multiget of {} cards", some.len()),
        "≤ 50 ms",
        &mg,
        "ms",
    );

    let t = Instant::now();
    let (_, listing) = request(
        &server,
        "PROPFIND",
        BOOK,
        Some("1"),
        r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#,
    );
    let depth1 = t.elapsed().as_secs_f64() * 1000.0;
    row(
        &format!(
            "PROPFIND Depth 1 on the book ({} cards, streamed)",
            hrefs(&listing).len()
        ),
        "",
        &[depth1],
        "ms",
    );
    std::thread::sleep(Duration::from_secs(3));
    let _ = writeln!(
        md,
        "| RSS of `kith carddav serve` serving {} cards: idle after the runs / peak | | **{:.1} MB** | | {:.1} MB | ≤ 100 MB |",
        o.big,
        proc_kb(pid, "VmRSS:") as f64 / 1024.0,
        proc_kb(pid, "VmHWM:") as f64 / 1024.0
    );
    println!("{md}");
    let results = target_dir().join("kith-bench").join("carddav-results.md");
    let _ = fs::write(&results, &md);
    eprintln!("written to {}", results.display());
}
