//! kith performance benchmark: whole `kith` processes against a large
//! synthetic ledger.
//!
//! ```text
//! cargo bench --bench kith_bench                      # 100k people, 30 runs
//! cargo bench --bench kith_bench -- --people 10000    # smaller ledger
//! cargo bench --bench kith_bench -- --runs 10 --out /tmp/kb
//! ```
//!
//! Flags (after `--`): `--people N` (companies N/10, interactions 10N),
//! `--runs R` (default 30), `--out DIR` (default `<target>/kith-bench/data`),
//! `--kith PATH` (binary to measure; default the one cargo built for this
//! bench), `--import-timeout SECS` (default 600; the import is killed past
//! it), `--reuse` (keep an already imported ledger in DIR if it was made
//! with the same --people, skipping the import; the JSONL is still written, as the queries come from it).
//!
//! What it does: writes a deterministic JSONL ledger (the format of
//! `kith export`), imports it into an empty home, then times whole
//! processes of the read and write commands with KITH_HOME and KITH_NOW
//! set, recording each child's peak RSS through `wait4`. The figures are
//! printed as a table and written as markdown to
//! `<target>/kith-bench/results.md`. Targets are reported, not asserted.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "common/mod.rs"]
mod common;
use common::*;

// ---------------------------------------------------------------- options

struct Opts {
    people: usize,
    runs: usize,
    out: PathBuf,
    kith: PathBuf,
    import_timeout: Duration,
    reuse: bool,
    target_dir: PathBuf,
}

fn parse_opts() -> Opts {
    let target = target_dir();
    let mut opts = Opts {
        people: 100_000,
        runs: 30,
        out: target.join("kith-bench").join("data"),
        kith: PathBuf::new(),
        import_timeout: Duration::from_secs(600),
        reuse: false,
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
        match flag.as_str() {
            "--bench" => {}
            "--people" => opts.people = value("--people").parse().expect("--people N"),
            "--runs" => opts.runs = value("--runs").parse().expect("--runs R"),
            "--out" => opts.out = PathBuf::from(value("--out")),
            "--kith" => kith = Some(PathBuf::from(value("--kith"))),
            "--import-timeout" => {
                opts.import_timeout =
                    Duration::from_secs(value("--import-timeout").parse().expect("seconds"))
            }
            "--reuse" => opts.reuse = true,
            "-h" | "--help" => {
                println!(
                    "kith_bench [--people N] [--runs R] [--out DIR] [--kith PATH] [--import-timeout SECS] [--reuse]"
                );
                std::process::exit(0);
            }
            other if other.starts_with('-') => {
                eprintln!("kith_bench: ignoring unknown flag {other}")
            }
            _ => {} // a cargo bench filter: nothing to filter
        }
    }
    opts.runs = opts.runs.max(1);
    opts.people = opts.people.max(10);
    opts.kith = kith.unwrap_or_else(|| default_kith(&target));
    opts
}

// ---------------------------------------------------------------- running

struct Runner {
    kith: PathBuf,
    scratch: PathBuf,
}

impl Runner {
    fn command(&self, home: Option<&Path>, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.kith);
        cmd.args(args)
            .env_remove("RUST_LOG")
            .env("KITH_NOW", NOW)
            .env("KITH_TZ", "UTC")
            .env("NO_COLOR", "1");
        match home {
            Some(h) => cmd.env("KITH_HOME", h),
            None => cmd.env_remove("KITH_HOME"),
        };
        cmd
    }

    fn out_path(&self) -> PathBuf {
        self.scratch.join("stdout.txt")
    }

    fn err_path(&self) -> PathBuf {
        self.scratch.join("stderr.txt")
    }

    /// One run; returns the sample, the first MB of stdout, stdout's length
    /// and stderr. Output is never read whole: this process's own memory
    /// would show up in the next child's peak RSS (see [`run_once`]).
    fn once(&self, cmd: Command, timeout: Option<Duration>) -> (Sample, String, u64, String) {
        use std::io::Read;
        let (o, e) = (self.out_path(), self.err_path());
        let s = run_once(cmd, &o, &e, timeout);
        let mut head = Vec::new();
        if let Ok(f) = File::open(&o) {
            let _ = f.take(1 << 20).read_to_end(&mut head);
        }
        let len = fs::metadata(&o).map(|m| m.len()).unwrap_or(0);
        let mut err = Vec::new();
        if let Ok(f) = File::open(&e) {
            let _ = f.take(1 << 20).read_to_end(&mut err);
        }
        (
            s,
            String::from_utf8_lossy(&head).into_owned(),
            len,
            String::from_utf8_lossy(&err).into_owned(),
        )
    }
}

/// A command to time: its label, target, arguments and output check.
type Timed = (String, &'static str, Vec<String>, Box<dyn Fn(&str) -> bool>);

/// Figures for one command over many runs.
struct Row {
    name: String,
    target: String,
    first: Sample,
    samples: Vec<Sample>,
    /// Did the output hold what it should (e.g. the person searched for)?
    check: String,
    note: String,
}

impl Row {
    fn walls_ms(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self
            .samples
            .iter()
            .map(|s| s.wall.as_secs_f64() * 1e3)
            .collect();
        v.sort_by(f64::total_cmp);
        v
    }
    fn pct(&self, p: f64) -> f64 {
        let v = self.walls_ms();
        let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
        v[rank.clamp(1, v.len()) - 1]
    }
    fn peak_rss(&self) -> u64 {
        self.samples
            .iter()
            .chain([&self.first])
            .map(|s| s.rss)
            .max()
            .unwrap_or(0)
    }
    fn floor(&self) -> u64 {
        self.samples
            .iter()
            .chain([&self.first])
            .map(|s| s.floor)
            .max()
            .unwrap_or(0)
    }
    fn failures(&self) -> usize {
        self.samples
            .iter()
            .chain([&self.first])
            .filter(|s| s.code != 0)
            .count()
    }
}

/// Runs `args` once (the first, reported apart) and then `runs` times.
fn measure(
    r: &Runner,
    home: &Path,
    name: &str,
    target: &str,
    args: &[&str],
    runs: usize,
    check: &dyn Fn(&str) -> bool,
) -> Row {
    let (first, out, first_len, err) = r.once(r.command(Some(home), args), None);
    // Kept for a look at what the command said.
    let slug: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(40)
        .collect();
    let _ = fs::copy(r.out_path(), r.scratch.join(format!("first-{slug}.txt")));
    let mut ok = check(&out) && first.code == 0;
    let mut note = String::new();
    if first.code != 0 {
        note = format!("exit {}: {}", first.code, err.lines().next().unwrap_or(""));
    }
    let mut samples = Vec::with_capacity(runs);
    let mut out_bytes = first_len;
    for _ in 0..runs {
        let (s, _, len, err) = r.once(r.command(Some(home), args), None);
        if s.code != 0 && note.is_empty() {
            note = format!("exit {}: {}", s.code, err.lines().next().unwrap_or(""));
        }
        ok &= s.code == 0;
        out_bytes = len;
        samples.push(s);
    }
    if note.is_empty() && out_bytes > 100_000 {
        note = format!("{:.1} MB of output", out_bytes as f64 / 1e6);
    }
    let row = Row {
        name: name.to_string(),
        target: target.to_string(),
        first,
        samples,
        check: if ok { "ok".into() } else { "MISS".into() },
        note,
    };
    eprintln!(
        "  {:<44} p50 {:>9.1} ms  p90 {:>9.1} ms  rss {:>6.1} MB  {}",
        row.name,
        row.pct(50.0),
        row.pct(90.0),
        mb(row.peak_rss()),
        row.check
    );
    row
}

// ---------------------------------------------------------------- disk

#[derive(Default, Clone, Copy)]
struct Usage {
    apparent: u64,
    allocated: u64,
    files: u64,
    dirs: u64,
}

fn disk_usage(path: &Path) -> Usage {
    use std::os::unix::fs::MetadataExt;
    let mut u = Usage::default();
    let Ok(meta) = fs::symlink_metadata(path) else {
        return u;
    };
    if meta.is_dir() {
        u.dirs += 1;
        u.allocated += meta.blocks() * 512;
        if let Ok(entries) = fs::read_dir(path) {
            for e in entries.flatten() {
                let sub = disk_usage(&e.path());
                u.apparent += sub.apparent;
                u.allocated += sub.allocated;
                u.files += sub.files;
                u.dirs += sub.dirs;
            }
        }
    } else {
        u.files += 1;
        u.apparent += meta.len();
        u.allocated += meta.blocks() * 512;
    }
    u
}

fn sqlite_usage(home: &Path) -> Usage {
    let mut u = Usage::default();
    for suffix in ["", "-wal", "-shm"] {
        let s = disk_usage(&home.join(format!("index.sqlite{suffix}")));
        u.apparent += s.apparent;
        u.allocated += s.allocated;
        u.files += s.files;
    }
    u
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

// ---------------------------------------------------------------- import phases

/// Seconds since process start of each tracing line kith printed at debug.
fn import_phases(stderr: &str, total: Duration) -> Vec<(String, f64)> {
    let strip = |s: &str| {
        let mut out = String::new();
        let mut esc = false;
        for c in s.chars() {
            match (esc, c) {
                (false, '\x1b') => esc = true,
                (true, 'm') => esc = false,
                (true, _) => {}
                (false, c) => out.push(c),
            }
        }
        out
    };
    let mut spooled = None;
    let mut parse = 0.0;
    let mut write = 0.0;
    let mut last = None;
    let mut first_bucket = None;
    for line in stderr.lines().map(strip) {
        let t: Option<f64> = line
            .split_whitespace()
            .next()
            .and_then(|w| w.trim_end_matches('s').parse().ok());
        let Some(t) = t else { continue };
        if line.contains("lines checked and spooled") {
            spooled = Some(t);
            last = Some(t);
        } else if line.contains("bucket parsed") {
            first_bucket.get_or_insert(t);
            parse += t - last.unwrap_or(t);
            last = Some(t);
        } else if line.contains("bucket written") {
            write += t - last.unwrap_or(t);
            last = Some(t);
        }
    }
    let mut out = Vec::new();
    if let Some(s) = spooled {
        out.push(("open + read, check and spool every line".into(), s));
        out.push(("parse buckets again into changes".into(), parse));
        out.push((
            "write shards (automerge + chunks + index rows)".into(),
            write,
        ));
        if let Some(l) = last {
            out.push((
                "after the last bucket: end_bulk (CREATE INDEX, touch) + exit".into(),
                total.as_secs_f64() - l,
            ));
        }
    }
    out
}

// ---------------------------------------------------------------- main

fn import(
    r: &Runner,
    home: &Path,
    jsonl: &Path,
    timeout: Duration,
) -> (Sample, String, Vec<(String, f64)>) {
    let _ = fs::remove_dir_all(home);
    let mut cmd = r.command(Some(home), &["import", jsonl.to_str().expect("utf-8 path")]);
    cmd.env("RUST_LOG", "warn,kith=debug");
    let (s, out, _, err) = r.once(cmd, Some(timeout));
    let phases = import_phases(&err, s.wall);
    let mut summary = out.lines().last().unwrap_or("").to_string();
    if s.code != 0 {
        let tail: Vec<&str> = err
            .lines()
            .filter(|l| !l.contains("DEBUG"))
            .take(3)
            .collect();
        summary = format!("exit {}: {summary} {}", s.code, tail.join(" / "));
    }
    (s, summary, phases)
}

fn main() {
    let opts = parse_opts();
    fs::create_dir_all(&opts.out).expect("create --out");
    let scratch = opts.out.join("scratch");
    fs::create_dir_all(&scratch).expect("scratch dir");
    let r = Runner {
        kith: opts.kith.clone(),
        scratch,
    };
    let load_before = loadavg();
    eprintln!(
        "kith bench: {} people, {} runs, binary {}, data in {}",
        opts.people,
        opts.runs,
        opts.kith.display(),
        opts.out.display()
    );

    // 1. The ledgers, as JSONL.
    let big = opts.out.join(format!("big-{}.jsonl", opts.people));
    let small = opts.out.join("small-100.jsonl");
    let big_home = opts.out.join(format!("home-{}", opts.people));
    let small_home = opts.out.join("home-100");
    let stamp = big_home.join("bench-stamp");
    let reuse = opts.reuse
        && fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == opts.people.to_string())
        && big.is_file();
    let t = Instant::now();
    let targets = generate(&big, opts.people, 0x6b69_7468).expect("write the big ledger");
    let gen_secs = t.elapsed().as_secs_f64();
    let small_targets = generate(&small, 100, 0x736d_616c).expect("write the small ledger");
    // Give the generator's memory back: children start from our RSS.
    // SAFETY: malloc_trim only releases free heap memory.
    unsafe { libc::malloc_trim(0) };
    let jsonl_bytes = fs::metadata(&big).map(|m| m.len()).unwrap_or(0);
    let c = &targets.counts;
    eprintln!(
        "generated {} ({:.1} MB, {} lines) in {gen_secs:.1} s; target {} '{}', typo '{}'",
        big.display(),
        mb(jsonl_bytes),
        c.lines,
        targets.id,
        targets.name,
        targets.typo
    );

    // 2. kith --version.
    let version = measure(
        &r,
        &opts.out,
        "kith --version",
        "≤ 5 ms",
        &["--version"],
        opts.runs,
        &|o| o.starts_with("kith"),
    );

    // 3. Import into an empty home.
    let (import_sample, import_summary, import_phases) = if reuse {
        eprintln!("reusing the imported ledger in {}", big_home.display());
        (
            Sample {
                wall: Duration::ZERO,
                rss: 0,
                floor: 0,
                code: 0,
            },
            "(reused; not measured)".to_string(),
            Vec::new(),
        )
    } else {
        eprintln!("importing {} …", big.display());
        let got = import(&r, &big_home, &big, opts.import_timeout);
        eprintln!(
            "  import: {:.1} s, peak RSS {:.1} MB, exit {}: {}",
            got.0.wall.as_secs_f64(),
            mb(got.0.rss),
            got.0.code,
            got.1
        );
        if got.0.code == 0 {
            let _ = fs::write(&stamp, opts.people.to_string());
        }
        got
    };
    let imported = import_sample.code == 0;
    let (small_import, small_summary, _) = import(&r, &small_home, &small, opts.import_timeout);
    if small_import.code != 0 {
        eprintln!("small import failed: {small_summary}");
    }

    // 4. Size on disk, right after the import.
    let ledger_du = disk_usage(&big_home.join("ledger"));
    let index_du = sqlite_usage(&big_home);
    let home_du = disk_usage(&big_home);

    // 5. Commands.
    let mut rows = vec![version];
    if imported {
        let prefix = &targets.id[..8];
        let name_l = targets.name.clone();
        let has_name = move |o: &str| o.contains(&name_l);
        let cmds: Vec<Timed> = vec![
            (
                format!("find '{}' (typo)", targets.typo),
                "≤ 20 ms",
                vec!["find".into(), targets.typo.clone()],
                Box::new(has_name.clone()),
            ),
            (
                format!(
                    "find {} (fact word, {} facts)",
                    FACT_WORD.to_lowercase(),
                    c.fact_word_facts
                ),
                "≤ 20 ms",
                vec!["find".into(), FACT_WORD.to_lowercase()],
                Box::new(|o: &str| o.contains("fact:")),
            ),
            (
                format!("show {prefix} (id prefix)"),
                "≤ 20 ms",
                vec!["show".into(), prefix.to_string()],
                Box::new(has_name.clone()),
            ),
            (
                format!("show '{}' (full name)", targets.name),
                "≤ 20 ms",
                vec!["show".into(), targets.name.clone()],
                Box::new(has_name.clone()),
            ),
            // `list`'s fixed cost (one person) and, against it, its cost
            // per listed person (a tag with a known count), both ways.
            (
                "list --limit 1".into(),
                "≤ 15 ms",
                vec!["list".into(), "--limit".into(), "1".into()],
                Box::new(|o: &str| o.lines().count() == 1),
            ),
            (
                "list --limit 1 --json".into(),
                "≤ 15 ms",
                vec!["list".into(), "--limit".into(), "1".into(), "--json".into()],
                Box::new(|o: &str| o.contains("\"id\"")),
            ),
            (
                format!(
                    "list --tag {BENCH_TAG} ({} people)",
                    targets.bench_tag_people
                ),
                "(per person)",
                vec!["list".into(), "--tag".into(), BENCH_TAG.into()],
                Box::new(|o: &str| o.contains(&format!("#{BENCH_TAG}"))),
            ),
            (
                format!(
                    "list --tag {BENCH_TAG} --json ({} people)",
                    targets.bench_tag_people
                ),
                "(per person)",
                vec![
                    "list".into(),
                    "--tag".into(),
                    BENCH_TAG.into(),
                    "--json".into(),
                ],
                Box::new(|o: &str| o.contains("\"id\"")),
            ),
            (
                format!(
                    "list --tag {COMMON_TAG} --json ({} people) [extra]",
                    targets.common_tag_people
                ),
                "(extra)",
                vec![
                    "list".into(),
                    "--tag".into(),
                    COMMON_TAG.into(),
                    "--json".into(),
                ],
                Box::new(|o: &str| o.contains("\"id\"")),
            ),
            (
                "today".into(),
                "≤ 20 ms",
                vec!["today".into()],
                Box::new(|o: &str| o.starts_with("Today")),
            ),
        ];
        eprintln!("timing commands on the {}-person ledger …", opts.people);
        for (name, target, args, check) in &cmds {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            rows.push(measure(
                &r,
                &big_home,
                name,
                target,
                &args,
                opts.runs,
                check.as_ref(),
            ));
        }
        rows.push(measure(
            &r,
            &big_home,
            &format!("log {prefix} \"…\" ({} people)", opts.people),
            "≤ 10 ms",
            &["log", prefix, "Bench call about the spring order"],
            opts.runs,
            &|o| o.starts_with("logged"),
        ));
    }
    if small_import.code == 0 {
        let prefix = &small_targets.id[..8];
        rows.push(measure(
            &r,
            &small_home,
            &format!("log {prefix} \"…\" (100 people)"),
            "baseline",
            &["log", prefix, "Bench call about the spring order"],
            opts.runs,
            &|o| o.starts_with("logged"),
        ));
    }
    let load_after = loadavg();

    // 6. Report.
    let report = render(&Report {
        opts: &opts,
        targets: &targets,
        jsonl_bytes,
        gen_secs,
        import_sample,
        import_summary: &import_summary,
        import_phases: &import_phases,
        reused: reuse,
        ledger_du,
        index_du,
        home_du,
        rows: &rows,
        load: (load_before, load_after),
    });
    println!("{report}");
    let dir = opts.target_dir.join("kith-bench");
    let _ = fs::create_dir_all(&dir);
    let md = dir.join("results.md");
    fs::write(&md, &report).expect("write results.md");
    let _ = fs::write(dir.join(format!("results-{}.md", opts.people)), &report);
    eprintln!("wrote {}", md.display());
}

struct Report<'a> {
    opts: &'a Opts,
    targets: &'a Targets,
    jsonl_bytes: u64,
    gen_secs: f64,
    import_sample: Sample,
    import_summary: &'a str,
    import_phases: &'a [(String, f64)],
    reused: bool,
    ledger_du: Usage,
    index_du: Usage,
    home_du: Usage,
    rows: &'a [Row],
    load: (String, String),
}

fn verdict(ok: bool) -> &'static str {
    if ok { "meets" } else { "**misses**" }
}

/// The figures as markdown; the same text is printed and written.
fn render(rep: &Report<'_>) -> String {
    let mut s = String::new();
    let c = &rep.targets.counts;
    let o = rep.opts;
    let _ = writeln!(s, "# kith benchmark: {} people\n", o.people);
    let _ = writeln!(
        s,
        "- binary: `{}` (kith {}), source {}",
        o.kith.display(),
        env!("CARGO_PKG_VERSION"),
        git_state()
    );
    let _ = writeln!(
        s,
        "- machine: {} cores, load average {} before, {} after; other builds may be running, so figures are noisy",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        rep.load.0,
        rep.load.1
    );
    let _ = writeln!(
        s,
        "- KITH_NOW={NOW}, KITH_TZ=UTC; every figure is a whole process (spawn to exit, wall clock); RSS is the child's ru_maxrss from wait4"
    );
    let floor = rep
        .rows
        .iter()
        .map(Row::floor)
        .chain([rep.import_sample.floor])
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        s,
        "- a child's ru_maxrss cannot read below the bench process's own RSS when it spawns (Linux carries it across exec); the bench resets its peak before each spawn, and its RSS then was at most {:.1} MB",
        mb(floor)
    );
    let _ = writeln!(
        s,
        "- ledger: {} people, {} companies, {} interactions, {} facts, {} follow-ups ({} open), {} keep-in-touch cadences, {} birthdays; {} JSONL lines, {:.1} MB (generated in {:.1} s)",
        c.people,
        c.companies,
        c.interactions,
        c.facts,
        c.follow_ups,
        c.open_follow_ups,
        c.cadences,
        c.birthdays,
        c.lines,
        mb(rep.jsonl_bytes),
        rep.gen_secs
    );
    let _ = writeln!(
        s,
        "- asked about: `{}` \"{}\" (typo \"{}\"); {} runs per command after one first run\n",
        rep.targets.id, rep.targets.name, rep.targets.typo, o.runs
    );

    let _ = writeln!(s, "## Import\n");
    let _ = writeln!(s, "| what | figure | target | verdict |");
    let _ = writeln!(s, "|---|---:|---|---|");
    let imp = rep.import_sample;
    if rep.reused {
        let _ = writeln!(
            s,
            "| `kith import` | reused an earlier import; not measured | ≤ 10 s | |"
        );
    } else {
        let _ = writeln!(
            s,
            "| `kith import` wall time | {:.2} s | ≤ 10 s | {} |",
            imp.wall.as_secs_f64(),
            verdict(imp.code == 0 && imp.wall.as_secs_f64() <= 10.0)
        );
        let _ = writeln!(
            s,
            "| `kith import` peak RSS | {:.1} MB | ≤ 300 MB | {} |",
            mb(imp.rss),
            verdict(imp.code == 0 && mb(imp.rss) <= 300.0)
        );
        let _ = writeln!(s, "| import said | {} | | |", rep.import_summary);
        for (phase, secs) in rep.import_phases {
            let _ = writeln!(s, "| phase: {phase} | {secs:.2} s | | |");
        }
    }
    let _ = writeln!(s);

    let _ = writeln!(s, "## Size on disk (right after the import)\n");
    let _ = writeln!(
        s,
        "| what | apparent | allocated | files | × JSONL (allocated) |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|");
    let j = rep.jsonl_bytes.max(1) as f64;
    let _ = writeln!(
        s,
        "| JSONL export | {:.1} MB | | 1 | 1.00 |",
        mb(rep.jsonl_bytes)
    );
    for (name, u) in [
        ("ledger/ (automerge chunks)", rep.ledger_du),
        ("index.sqlite (+wal, shm)", rep.index_du),
        ("whole home", rep.home_du),
    ] {
        let _ = writeln!(
            s,
            "| {name} | {:.1} MB | {:.1} MB | {} | {:.2} |",
            mb(u.apparent),
            mb(u.allocated),
            u.files,
            u.allocated as f64 / j
        );
    }
    let _ = writeln!(
        s,
        "\nTarget: ledger on disk ≤ 2× the JSONL: ledger/ alone {}, whole home {}.\n",
        verdict(rep.ledger_du.allocated as f64 <= 2.0 * j),
        verdict(rep.home_du.allocated as f64 <= 2.0 * j)
    );

    let _ = writeln!(s, "## Commands\n");
    let _ = writeln!(
        s,
        "| command | p50 ms | p90 ms | p99 ms | first ms | peak RSS MB | target | verdict (p50, RSS ≤ 300 MB) | output | note |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---|---|---|---|");
    let mut log_big = None;
    let mut log_small = None;
    for row in rep.rows {
        let p50 = row.pct(50.0);
        let limit = match row.target.as_str() {
            "≤ 5 ms" => Some(5.0),
            "≤ 10 ms" => Some(10.0),
            "≤ 15 ms" => Some(15.0),
            "≤ 20 ms" => Some(20.0),
            _ => None,
        };
        let rss_ok = mb(row.peak_rss()) <= 300.0;
        let v = match limit {
            Some(l) => verdict(p50 <= l && rss_ok && row.failures() == 0).to_string(),
            None => format!("RSS {}", verdict(rss_ok)),
        };
        if row.name.starts_with("log ") {
            if row.target == "baseline" {
                log_small = Some(p50);
            } else {
                log_big = Some(p50);
            }
        }
        let _ = writeln!(
            s,
            "| `{}` | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} |",
            row.name,
            p50,
            row.pct(90.0),
            row.pct(99.0),
            row.first.wall.as_secs_f64() * 1e3,
            mb(row.peak_rss()),
            row.target,
            v,
            row.check,
            row.note
        );
    }
    if let (Some(b), Some(sm)) = (log_big, log_small) {
        let ratio = b / sm;
        let _ = writeln!(
            s,
            "\n`log` on {} people vs 100 people: {b:.1} ms / {sm:.1} ms = **{ratio:.2}×** (target ≤ 1.5×: {}).",
            o.people,
            verdict(ratio <= 1.5)
        );
    }
    // `list` per listed person: a tag's listing less the one-person one,
    // over the tag's count.
    let p50 = |exact: bool, name: &str| {
        rep.rows
            .iter()
            .find(|r| {
                if exact {
                    r.name == name
                } else {
                    r.name.starts_with(name)
                }
            })
            .map(|r| r.pct(50.0))
    };
    let n = rep.targets.bench_tag_people;
    for json in ["", " --json"] {
        let one = p50(true, &format!("list --limit 1{json}"));
        let many = p50(false, &format!("list --tag {BENCH_TAG}{json} ("));
        let (Some(one), Some(many)) = (one, many) else {
            continue;
        };
        let per = (many - one) / n.max(1) as f64 * 1e3;
        let _ = writeln!(
            s,
            "\n`list{json}`: fixed cost {one:.1} ms (target ≤ 15 ms: {}); per listed person ({many:.1} − {one:.1} ms) / {n} = **{per:.1} µs** (target ≤ 10 µs: {}).",
            verdict(one <= 15.0),
            verdict(per <= 10.0)
        );
    }
    let peak = rep
        .rows
        .iter()
        .map(Row::peak_rss)
        .chain([rep.import_sample.rss])
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        s,
        "\nPeak RSS of any command: {:.1} MB (target ≤ 300 MB: {}).",
        mb(peak),
        verdict(mb(peak) <= 300.0)
    );
    let _ = writeln!(
        s,
        "\n`first` is the first run of each command, not counted in the percentiles; `output` says whether the output held what it should (the person searched for, a fact hit, JSON rows, `logged`). `log` runs append to the same shard each time, so its p90/p99 include the compactions that kith does every 16 chunks."
    );
    s
}
