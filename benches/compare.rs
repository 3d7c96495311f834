//! kith side by side with the tools people use instead: khard on a vCard
//! directory, the `sqlite3` shell on an FTS5 table, and Syncthing between
//! two instances, each on the same generated contacts, in the same run, on
//! the same machine. Every figure is a whole process (or, for sync, an edit
//! until the peer has it), and every comparison is a ratio kith / other.
//!
//! ```text
//! cargo bench --bench compare                              # 1k, 10k and 100k
//! cargo bench --bench compare -- --sizes 1000,10000 --runs 10 --edits 100
//! cargo bench --bench compare -- --only khard,sqlite --docs
//! ```
//!
//! For each size the generator of `common` writes a ledger (10 interactions
//! per person), then names are moved into several scripts (Latin with
//! accents, Cyrillic, Greek, CJK, Arabic, Devanagari; the person searched
//! for keeps a unique Latin name) and one person in ten gets a 3 KB photo.
//! The same contacts become:
//! - a kith home, through `kith import` of that JSONL (timed, once);
//! - a vCard directory, one `.vcf` per card as `kith export --format vcard`
//!   writes them (timed, once), for khard 0.18 with a `khard.conf` in a
//!   temporary `XDG_CONFIG_HOME`;
//! - a SQLite database with one FTS5 table (name, emails, notes, facts,
//!   interaction texts), queried by the `sqlite3` shell.
//!
//! Each command runs once to warm the page cache, its output checked to hold
//! the expected person (a wrong answer is reported, not timed), then
//! `--runs` (10) times: median, min and max. A command whose warm-up takes
//! so long that `--runs` would pass `--max-secs` (300) per command runs
//! fewer times, never under 3; the table says how many.
//!
//! Sync: Syncthing shares the vCard directory between two instances on
//! 127.0.0.1 (discovery, relays, NAT traversal, usage reporting and crash
//! reporting off, the watcher on with its shortest delay, rescans hourly;
//! the config is checked before start and through the API after, and the
//! logs are scanned for any address not 127.0.0.1). One card is edited in
//! A's folder `--edits` (100) times, timed until B's copy holds the edit.
//! kith: two daemons on 127.0.0.1 with mDNS off, `kith add` on alice timed
//! from its return until bob's replica index holds the person (the measure
//! of `benches/sync.rs`, from `common/daemons.rs`).
//!
//! Missing tools are installed with apt-get when running as root
//! (`--no-install` to never); otherwise that comparison is skipped with one
//! line saying why. Every process started is stopped at the end, also when
//! a measure fails.
//!
//! Results: stdout and `<target>/kith-bench/compare-results.md`; the plot
//! (gnuplot, SVG, log-log) to `<target>/kith-bench/compare.svg`, or
//! `docs/perf/compare.svg` with `--docs`. Data in `--out`
//! (`<target>/kith-bench/compare`). Nothing here is asserted.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value as Json;

#[path = "common/mod.rs"]
mod common;
use common::*;
#[path = "common/daemons.rs"]
mod daemons;
use daemons::*;

const SEED: u64 = 0x636f_6d70_6172_6531;
/// A word only interaction texts hold ("a joint webinar", one topic in 30).
const FTS_WORD: &str = "webinar";
const FOLDER_ID: &str = "kith-bench-vcards";
const USAGE: &str = "compare [--sizes 1000,10000,100000] [--runs R] [--edits E] [--max-secs S] \
     [--only khard,sqlite,sync] [--docs] [--no-install] [--out DIR] [--kith PATH]";

// ---------------------------------------------------------------- options

struct Opts {
    sizes: Vec<usize>,
    runs: usize,
    edits: usize,
    max_secs: f64,
    only: Vec<String>,
    docs: bool,
    install: bool,
    out: PathBuf,
    kith: PathBuf,
    target: PathBuf,
}

impl Opts {
    /// Whether `--only` leaves this comparison in.
    fn wants(&self, what: &str) -> bool {
        wanted(&self.only, what)
    }
}

fn usage(msg: &str) -> ! {
    eprintln!("compare: {msg}\nusage: {USAGE}");
    std::process::exit(2);
}

fn parse_opts() -> Opts {
    let target = target_dir();
    let mut o = Opts {
        sizes: vec![1_000, 10_000, 100_000],
        runs: 10,
        edits: 100,
        max_secs: 300.0,
        only: Vec::new(),
        docs: false,
        install: true,
        out: target.join("kith-bench").join("compare"),
        kith: PathBuf::new(),
        target: target.clone(),
    };
    let mut kith = None;
    let mut args = Flags::from_env();
    while let Some((flag, inline)) = args.next_flag() {
        let mut value = || -> String {
            args.value(inline.clone())
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        let num = |v: String| -> usize {
            v.replace('_', "")
                .parse()
                .unwrap_or_else(|_| usage(&format!("{flag} takes a number, not {v}")))
        };
        match flag.as_str() {
            "--bench" => {}
            "--sizes" => {
                o.sizes = value()
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| num(s.trim().to_string()))
                    .collect()
            }
            "--runs" => o.runs = num(value()),
            "--edits" => o.edits = num(value()),
            "--max-secs" => o.max_secs = num(value()) as f64,
            "--only" => {
                o.only = value()
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            }
            "--docs" => o.docs = true,
            "--no-install" => o.install = false,
            "--out" => o.out = PathBuf::from(value()),
            "--kith" => kith = Some(PathBuf::from(value())),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other if other.starts_with('-') => usage(&format!("unknown flag {other}")),
            _ => {} // a cargo bench filter: nothing to filter
        }
    }
    for w in &o.only {
        if !["khard", "sqlite", "sync"].contains(&w.as_str()) {
            usage(&format!("--only takes khard, sqlite and sync, not {w}"));
        }
    }
    if o.sizes.is_empty() || o.sizes.iter().any(|&n| n < 10) {
        usage("--sizes takes sizes of at least 10 people");
    }
    o.sizes.sort_unstable();
    o.sizes.dedup();
    o.runs = o.runs.max(1);
    o.kith = kith.unwrap_or_else(|| default_kith(&target));
    o
}

// ---------------------------------------------------------------- tools

/// Whether `bin` is on PATH.
fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
}

struct Tools {
    khard: bool,
    sqlite3: bool,
    syncthing: bool,
    gnuplot: bool,
}

/// Finds the other tools; installs the missing ones with apt-get as root
/// (one `apt-get update`, one install). Says what is still missing.
fn tools(o: &Opts) -> Tools {
    let look = || Tools {
        khard: on_path("khard"),
        sqlite3: on_path("sqlite3"),
        syncthing: on_path("syncthing"),
        gnuplot: on_path("gnuplot"),
    };
    let mut t = look();
    let complete = |t: &Tools| t.khard && t.sqlite3 && t.syncthing && t.gnuplot;
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !complete(&t) && o.install && root && on_path("apt-get") {
        eprintln!("installing khard sqlite3 syncthing gnuplot-nox with apt-get");
        let apt = |args: &[&str]| {
            Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdin(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !(apt(&["update", "-qq"])
            && apt(&[
                "install",
                "-y",
                "-qq",
                "khard",
                "sqlite3",
                "syncthing",
                "gnuplot-nox",
            ]))
        {
            eprintln!("compare: apt-get failed; going on with what is installed");
        }
        t = look();
    }
    let how = if root {
        "(apt-get install it, or drop --no-install)"
    } else {
        "(apt-get install it as root)"
    };
    for (have, what, skip) in [
        (t.khard, "khard", "the khard comparison"),
        (t.sqlite3, "sqlite3", "the SQLite comparison"),
        (t.syncthing, "syncthing", "the Syncthing comparison"),
        (t.gnuplot, "gnuplot", "the plot"),
    ] {
        if !have {
            eprintln!("compare: skipping {skip}: {what} is not installed {how}");
        }
    }
    t
}

// ---------------------------------------------------------------- contacts

/// Names in other scripts: (given names, family names, family name first
/// and unspaced).
const SCRIPTS: &[(&[&str], &[&str], bool)] = &[
    (
        &[
            "José",
            "Zoë",
            "François",
            "Søren",
            "Łukasz",
            "Ömer",
            "Björn",
            "Inês",
            "Agnès",
            "Mihály",
            "Ángel",
            "Dóra",
        ],
        &[
            "Müller",
            "Lefèvre",
            "Ødegård",
            "Wiśniewski",
            "Yılmaz",
            "Núñez",
            "Dvořák",
            "Šimić",
            "Gonçalves",
            "Kovács",
            "Østergaard",
            "Fernández",
        ],
        false,
    ),
    (
        &[
            "Иван",
            "Мария",
            "Алексей",
            "Ольга",
            "Дмитрий",
            "Наталья",
            "Сергей",
            "Екатерина",
        ],
        &[
            "Петров",
            "Смирнова",
            "Иванов",
            "Кузнецова",
            "Соколов",
            "Попова",
            "Лебедев",
            "Козлова",
        ],
        false,
    ),
    (
        &[
            "Γιώργος",
            "Μαρία",
            "Νίκος",
            "Ελένη",
            "Δημήτρης",
            "Κατερίνα",
            "Γιάννης",
            "Σοφία",
        ],
        &[
            "Παπαδόπουλος",
            "Αλεξίου",
            "Νικολάου",
            "Γεωργίου",
            "Οικονόμου",
            "Βασιλείου",
        ],
        false,
    ),
    (
        &["伟", "芳", "娜", "敏", "静", "磊", "洋", "明", "华", "秀英"],
        &[
            "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "佐藤", "鈴木",
        ],
        true,
    ),
    (
        &[
            "محمد",
            "فاطمة",
            "أحمد",
            "مريم",
            "علي",
            "نور",
            "يوسف",
            "ليلى",
        ],
        &["الحسن", "منصور", "حداد", "خليل", "النجار", "سعيد", "عباس"],
        false,
    ),
    (
        &["अमित", "प्रिया", "राहुल", "अनीता", "विकास", "सुनीता"],
        &["शर्मा", "वर्मा", "पटेल", "गुप्ता", "सिंह"],
        false,
    ),
];
/// Per hundred people: which script (the rest keep the generator's Latin).
const SCRIPT_SHARE: &[u32] = &[20, 10, 8, 10, 7, 5];

/// The person every name, email and show query looks for.
#[derive(Clone, Debug, Default)]
struct Target {
    id: String,
    name: String,
    email: String,
}

#[derive(Default)]
struct Row {
    name: String,
    emails: String,
    notes: String,
    facts: String,
    interactions: String,
}

/// What one size's contacts became.
struct Data {
    n: usize,
    home: PathBuf,
    vcards: PathBuf,
    db: PathBuf,
    target: Target,
    people: usize,
    interactions: usize,
    photos: usize,
    by_script: Vec<usize>,
    jsonl_mb: f64,
    vcards_mb: f64,
    import: Sample,
    export: Sample,
}

fn photo(rng: &mut Rng) -> String {
    // A JPEG's start and end markers around 3 KB of noise: kith stores the
    // data URI as it is, khard parses the base64 like any photo.
    let mut b = vec![0xff, 0xd8, 0xff, 0xe0];
    b.extend((0..3000).map(|_| rng.next() as u8));
    b.extend([0xff, 0xd9]);
    format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(b)
    )
}

fn text(v: &Json, part: &str, key: &str) -> Option<String> {
    v.get(part)?.get(key)?.as_str().map(str::to_string)
}

/// Rewrites the generator's JSONL with names in several scripts and photos
/// for one person in ten, and fills the SQLite rows on the way.
fn internationalise(
    raw: &Path,
    out: &Path,
    keep: &str,
    rows: &mut Vec<(String, Row)>,
    by_script: &mut [usize],
) -> Res<(usize, usize, String)> {
    let r = BufReader::with_capacity(1 << 20, File::open(raw).map_err(|e| e.to_string())?);
    let mut w = BufWriter::with_capacity(1 << 20, File::create(out).map_err(|e| e.to_string())?);
    let mut rng = Rng(SEED ^ 0x5c21);
    let mut at: HashMap<String, usize> = HashMap::new();
    let (mut photos, mut interactions, mut keep_email) = (0, 0, String::new());
    for line in r.lines() {
        let line = line.map_err(|e| e.to_string())?;
        let mut v: Json = serde_json::from_str(&line).map_err(|e| format!("{raw:?}: {e}"))?;
        let kind = v["kind"].as_str().unwrap_or("").to_string();
        let id = v["id"].as_str().unwrap_or("").to_string();
        match kind.as_str() {
            "person" => {
                let mut pick = rng.below(100) as u32;
                let mut script = None;
                for (i, share) in SCRIPT_SHARE.iter().enumerate() {
                    if pick < *share {
                        script = Some(i);
                        break;
                    }
                    pick -= share;
                }
                if id != keep
                    && let Some(i) = script
                {
                    let (given, family, family_first) = SCRIPTS[i];
                    let (g, f) = (*rng.pick(given), *rng.pick(family));
                    let (name, sort) = if family_first {
                        (format!("{f}{g}"), format!("{f}{g}"))
                    } else {
                        (format!("{g} {f}"), format!("{f}, {g}"))
                    };
                    v["shared"]["name"] = name.into();
                    v["shared"]["sort_name"] = sort.into();
                    by_script[i + 1] += 1;
                } else {
                    by_script[0] += 1;
                }
                if rng.chance(0.1) {
                    v["private"]["photo"] = photo(&mut rng).into();
                    photos += 1;
                }
                let emails: Vec<String> = v["shared"]["emails"]
                    .as_object()
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                if id == keep {
                    keep_email = emails.first().cloned().unwrap_or_default();
                }
                let row = Row {
                    name: text(&v, "shared", "name").unwrap_or_default(),
                    emails: emails.join(" "),
                    ..Row::default()
                };
                at.insert(id.clone(), rows.len());
                rows.push((id, row));
            }
            "fact" | "follow-up" | "interaction" => {
                let part = if v.get("shared").is_some_and(|s| s.get("subject").is_some()) {
                    "shared"
                } else {
                    "private"
                };
                let (who, body) = match kind.as_str() {
                    "fact" => (text(&v, part, "subject"), text(&v, part, "text")),
                    "follow-up" => (text(&v, "private", "person"), text(&v, "private", "text")),
                    _ => {
                        interactions += 1;
                        (
                            v["shared"]["people"][0].as_str().map(str::to_string),
                            text(&v, "private", "summary")
                                .or_else(|| text(&v, "shared", "summary")),
                        )
                    }
                };
                if let (Some(who), Some(body)) = (who, body)
                    && let Some(&i) = at.get(&who)
                {
                    let row = &mut rows[i].1;
                    let field = match kind.as_str() {
                        "fact" => &mut row.facts,
                        "follow-up" => &mut row.notes,
                        _ => &mut row.interactions,
                    };
                    if !field.is_empty() {
                        field.push('\n');
                    }
                    field.push_str(&body);
                }
            }
            _ => {}
        }
        serde_json::to_writer(&mut w, &v).map_err(|e| e.to_string())?;
        w.write_all(b"\n").map_err(|e| e.to_string())?;
    }
    w.flush().map_err(|e| e.to_string())?;
    Ok((photos, interactions, keep_email))
}

/// The FTS5 table the `sqlite3` shell is timed on.
fn write_sqlite(db: &Path, rows: &[(String, Row)]) -> Res<()> {
    let _ = fs::remove_file(db);
    let mut c = rusqlite::Connection::open(db).map_err(|e| e.to_string())?;
    let err = |e: rusqlite::Error| format!("{}: {e}", db.display());
    c.execute_batch(
        "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
         CREATE VIRTUAL TABLE contacts USING fts5(id UNINDEXED, name, emails, notes, facts, interactions);",
    )
    .map_err(err)?;
    let tx = c.transaction().map_err(err)?;
    {
        let mut st = tx
            .prepare("INSERT INTO contacts VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .map_err(err)?;
        for (id, r) in rows {
            st.execute((id, &r.name, &r.emails, &r.notes, &r.facts, &r.interactions))
                .map_err(err)?;
        }
    }
    tx.commit().map_err(err)?;
    c.execute_batch("INSERT INTO contacts(contacts) VALUES('optimize'); VACUUM;")
        .map_err(err)
}

/// Splits `kith export --format vcard` into one file per card, named by UID.
fn split_vcards(all: &Path, dir: &Path) -> Res<usize> {
    fresh_dir(dir)?;
    let s = fs::read_to_string(all).map_err(|e| format!("{}: {e}", all.display()))?;
    let mut n = 0;
    let mut card = String::new();
    let flush = |card: &mut String, n: &mut usize| -> Res<()> {
        if card.is_empty() {
            return Ok(());
        }
        let uid = card
            .lines()
            .find_map(|l| l.strip_prefix("UID:"))
            .map(|u| u.trim().replace(['/', ':'], "-"))
            .unwrap_or_else(|| format!("card-{n}"));
        fs::write(dir.join(format!("{uid}.vcf")), card.as_bytes()).map_err(|e| e.to_string())?;
        *n += 1;
        card.clear();
        Ok(())
    };
    for line in s.split_inclusive('\n') {
        // A folded line starts with a space, so never reads as a marker.
        if line.trim_end().eq_ignore_ascii_case("BEGIN:VCARD") {
            flush(&mut card, &mut n)?;
        }
        card.push_str(line);
    }
    flush(&mut card, &mut n)?;
    Ok(n)
}

fn dir_mb(dir: &Path) -> f64 {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum::<u64>()
        })
        .unwrap_or(0) as f64
        / 1e6
}

fn prepare(o: &Opts, k: &Kith, n: usize, sqlite: bool) -> Res<Data> {
    let dir = o.out.join(format!("n{n}"));
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let raw = dir.join("generated.jsonl");
    let jsonl = dir.join("contacts.jsonl");
    let t = Instant::now();
    let targets = generate(&raw, n, SEED).map_err(|e| format!("generator: {e}"))?;
    let mut rows = Vec::with_capacity(n);
    let mut by_script = vec![0; SCRIPTS.len() + 1];
    let (photos, interactions, email) =
        internationalise(&raw, &jsonl, &targets.id, &mut rows, &mut by_script)?;
    let _ = fs::remove_file(&raw);
    let target = Target {
        id: targets.id.clone(),
        name: targets.name.clone(),
        email,
    };
    if target.email.is_empty() {
        return Err(format!(
            "the person searched for ({}) has no email",
            target.id
        ));
    }
    eprintln!(
        "  {n}: contacts written in {:.1} s ({photos} photos); searching for {} <{}>",
        t.elapsed().as_secs_f64(),
        target.name,
        target.email
    );

    let home = dir.join("home");
    fresh_dir(&home)?;
    let jarg = jsonl.to_str().ok_or("a non-UTF-8 path")?.to_string();
    let (out, err) = (dir.join("import.out"), dir.join("import.err"));
    let import = run_once(
        k.command(&home, &["import", &jarg]),
        &out,
        &err,
        Some(Duration::from_secs(1800)),
    );
    if import.code != 0 {
        return Err(format!(
            "kith import {jarg} exited {}: {}",
            import.code,
            fs::read_to_string(&err).unwrap_or_default().trim()
        ));
    }
    let all = dir.join("export.vcf");
    let export = run_once(
        k.command(&home, &["export", "--format", "vcard"]),
        &all,
        &err,
        Some(Duration::from_secs(1800)),
    );
    if export.code != 0 {
        return Err(format!(
            "kith export --format vcard exited {}: {}",
            export.code,
            fs::read_to_string(&err).unwrap_or_default().trim()
        ));
    }
    let vcards = dir.join("vcards");
    let cards = split_vcards(&all, &vcards)?;
    let _ = fs::remove_file(&all);
    // Companies are cards too (KIND:org), as in any address book.
    if cards != n + targets.counts.companies {
        return Err(format!(
            "kith export wrote {cards} cards for {n} people and {} companies",
            targets.counts.companies
        ));
    }
    let db = dir.join("contacts.sqlite");
    if sqlite {
        write_sqlite(&db, &rows)?;
    }
    eprintln!(
        "  {n}: imported in {:.1} s, {cards} vCards exported in {:.1} s",
        import.wall.as_secs_f64(),
        export.wall.as_secs_f64()
    );
    Ok(Data {
        n,
        home,
        jsonl_mb: fs::metadata(&jsonl).map(|m| m.len()).unwrap_or(0) as f64 / 1e6,
        vcards_mb: dir_mb(&vcards),
        vcards,
        db,
        target,
        people: rows.len(),
        interactions,
        photos,
        by_script,
        import,
        export,
    })
}

// ---------------------------------------------------------------- timing

/// Median, min and max of a command's runs, ms; or why it was not timed.
#[derive(Clone, Debug)]
enum Stat {
    Timed {
        runs: usize,
        median: f64,
        min: f64,
        max: f64,
    },
    Failed(String),
    Skipped(String),
}

impl Stat {
    fn median(&self) -> Option<f64> {
        match self {
            Stat::Timed { median, .. } => Some(*median),
            _ => None,
        }
    }

    fn cells(&self) -> String {
        match self {
            Stat::Timed {
                runs,
                median,
                min,
                max,
                ..
            } => format!("{} | {} | {} | {runs}", ms(*median), ms(*min), ms(*max)),
            Stat::Failed(why) => format!("failed: {why} | | |"),
            Stat::Skipped(why) => format!("{why} | | |"),
        }
    }
}

fn ms(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// Runs `cmd` once to warm up and check its output, then `runs` times
/// (fewer if that would pass `max_secs`, never under 3).
fn time_command(
    o: &Opts,
    label: &str,
    mk: &dyn Fn() -> Command,
    check: &dyn Fn(&str) -> Result<(), String>,
) -> Stat {
    let scratch = o.out.join("scratch");
    let _ = fs::create_dir_all(&scratch);
    let (out, err) = (scratch.join("cmd.out"), scratch.join("cmd.err"));
    let limit = Some(Duration::from_secs(900));
    let warm = run_once(mk(), &out, &err, limit);
    let output = fs::read_to_string(&out).unwrap_or_default();
    if warm.code != 0 {
        let e = fs::read_to_string(&err).unwrap_or_default();
        let first = e.lines().next().unwrap_or("").to_string();
        eprintln!("    {label}: exited {}: {first}", warm.code);
        return Stat::Failed(format!("exit {}", warm.code));
    }
    if let Err(why) = check(&output) {
        eprintln!("    {label}: wrong output: {why}");
        return Stat::Failed(format!("wrong output ({why})"));
    }
    let each = warm.wall.as_secs_f64();
    let runs = if each * o.runs as f64 > o.max_secs {
        ((o.max_secs / each) as usize).clamp(3, o.runs)
    } else {
        o.runs
    };
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let s = run_once(mk(), &out, &err, limit);
        if s.code != 0 {
            return Stat::Failed(format!("exit {} on a timed run", s.code));
        }
        times.push(s.wall.as_secs_f64() * 1e3);
    }
    // The last run's output too: a command must not start answering wrong.
    if let Err(why) = check(&fs::read_to_string(&out).unwrap_or_default()) {
        return Stat::Failed(format!("wrong output on a timed run ({why})"));
    }
    times.sort_by(f64::total_cmp);
    let st = Stat::Timed {
        runs,
        median: median(&times),
        min: times[0],
        max: times[times.len() - 1],
    };
    eprintln!("    {label}: {}", st.cells().replace(" | ", " / "));
    st
}

fn holds(what: &'static str, needle: String) -> impl Fn(&str) -> Result<(), String> {
    move |out: &str| {
        if out.to_lowercase().contains(&needle.to_lowercase()) {
            Ok(())
        } else {
            Err(format!("no {what} {needle:?} in {} bytes", out.len()))
        }
    }
}

fn lines_at_least(n: usize) -> impl Fn(&str) -> Result<(), String> {
    move |out: &str| {
        let got = out.lines().count();
        if got >= n {
            Ok(())
        } else {
            Err(format!("{got} lines, fewer than the {n} people"))
        }
    }
}

/// The command pairs, by peer.
struct Pair {
    peer: &'static str,
    what: &'static str,
    kith_cmd: String,
    other_cmd: String,
    n: usize,
    kith: Stat,
    other: Stat,
}

fn khard_conf(dir: &Path, vcards: &Path) -> Res<PathBuf> {
    let cfg = dir.join("khard-config");
    fs::create_dir_all(cfg.join("khard")).map_err(|e| e.to_string())?;
    fs::write(
        cfg.join("khard").join("khard.conf"),
        format!(
            "[addressbooks]\n[[bench]]\npath = {}\n\n[general]\ndebug = no\ndefault_action = list\n\
             editor = /bin/false\nmerge_editor = /bin/false\n\n[contact table]\ndisplay = formatted_name\n\
             group_by_addressbook = no\nreverse = no\nshow_nicknames = no\nshow_uids = yes\n\
             sort = last_name\nlocalize_dates = yes\npreferred_phone_number_type = pref, cell, home\n\
             preferred_email_address_type = pref, work, home\n\n[vcard]\npreferred_version = 3.0\n\
             search_in_source_files = no\nskip_unparsable = no\n",
            vcards.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    Ok(cfg)
}

fn tool(bin: &str, scratch: &Path, args: &[&str], env: &[(&str, &Path)]) -> Command {
    let mut c = Command::new(bin);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", scratch)
        .env("LANG", "C.UTF-8")
        .env("LC_ALL", "C.UTF-8")
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn reads(o: &Opts, k: &Kith, d: &Data, t: &Tools) -> Vec<Pair> {
    let tg = &d.target;
    let short = tg.id[..8].to_string();
    let home = &d.home;
    let kith = |label: &str, args: &[&str], check: &dyn Fn(&str) -> Result<(), String>| {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mk = || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            k.command(home, &a)
        };
        time_command(o, label, &mk, check)
    };
    eprintln!("  {}: kith", d.n);
    let list = kith("kith list", &["list"], &lines_at_least(d.n));
    let by_name = kith(
        "kith find NAME",
        &["find", &tg.name],
        &holds("person", short.clone()),
    );
    let by_email = kith(
        "kith find EMAIL",
        &["find", &tg.email],
        &holds("person", short.clone()),
    );
    let show = kith(
        "kith show EMAIL",
        &["show", &tg.email],
        &holds("name", tg.name.clone()),
    );
    let word = kith(
        "kith find WORD",
        &["find", FTS_WORD],
        &holds("word", FTS_WORD.into()),
    );
    let mut pairs = Vec::new();
    let mut pair = |peer, what, kc: String, oc: String, ks: &Stat, os: Stat| {
        pairs.push(Pair {
            peer,
            what,
            kith_cmd: kc,
            other_cmd: oc,
            n: d.n,
            kith: ks.clone(),
            other: os,
        })
    };

    if o.wants("khard") {
        let scratch = d.vcards.with_file_name("khard-home");
        let _ = fs::create_dir_all(&scratch);
        let skip = |why: &str| Stat::Skipped(why.to_string());
        let cfg = if t.khard {
            khard_conf(&scratch, &d.vcards).map_err(|e| skip(&e))
        } else {
            Err(skip("khard not installed"))
        };
        let khard =
            |label: &str, args: &[&str], check: &dyn Fn(&str) -> Result<(), String>| match &cfg {
                Ok(cfg) => {
                    let mk = || tool("khard", &scratch, args, &[("XDG_CONFIG_HOME", cfg)]);
                    time_command(o, label, &mk, check)
                }
                Err(s) => s.clone(),
            };
        eprintln!("  {}: khard", d.n);
        // khard prints names (not ids) in its table; the email is the check.
        let kl = khard("khard list", &["list"], &lines_at_least(d.n));
        let kn = khard(
            "khard list NAME",
            &["list", &tg.name],
            &holds("email", tg.email.clone()),
        );
        let ke = khard(
            "khard email EMAIL",
            &["email", &tg.email],
            &holds("name", tg.name.clone()),
        );
        let ks = khard(
            "khard show EMAIL",
            &["show", &tg.email],
            &holds("name", tg.name.clone()),
        );
        pair(
            "khard",
            "list everyone",
            "kith list".into(),
            "khard list".into(),
            &list,
            kl,
        );
        pair(
            "khard",
            "search by name",
            "kith find NAME".into(),
            "khard list NAME".into(),
            &by_name,
            kn,
        );
        pair(
            "khard",
            "search by email",
            "kith find EMAIL".into(),
            "khard email EMAIL".into(),
            &by_email,
            ke,
        );
        pair(
            "khard",
            "show one person",
            "kith show EMAIL".into(),
            "khard show EMAIL".into(),
            &show,
            ks,
        );
    }
    if o.wants("sqlite") {
        let scratch = d.db.with_file_name("sqlite-home");
        let _ = fs::create_dir_all(&scratch);
        let db = d.db.to_str().unwrap_or_default().to_string();
        let sq = |label: &str, sql: String, check: &dyn Fn(&str) -> Result<(), String>| {
            if !t.sqlite3 {
                return Stat::Skipped("sqlite3 not installed".into());
            }
            let mk = || tool("sqlite3", &scratch, &["-readonly", &db, &sql], &[]);
            time_command(o, label, &mk, check)
        };
        eprintln!("  {}: sqlite3", d.n);
        let name_sql = format!(
            "SELECT id, name, emails FROM contacts WHERE contacts MATCH 'name:\"{}\"' ORDER BY rank LIMIT 20;",
            tg.name.replace(['\'', '"'], "")
        );
        let word_sql = format!(
            "SELECT id, name, snippet(contacts, 5, '[', ']', '…', 8) FROM contacts \
             WHERE contacts MATCH '{FTS_WORD}' ORDER BY rank LIMIT 20;"
        );
        let sn = sq("sqlite3 name", name_sql, &holds("id", tg.id.clone()));
        let sw = sq("sqlite3 word", word_sql, &holds("word", FTS_WORD.into()));
        pair(
            "sqlite",
            "search by name",
            "kith find NAME".into(),
            "sqlite3 FTS5 MATCH name".into(),
            &by_name,
            sn,
        );
        pair(
            "sqlite",
            "full text (a word in interactions)",
            format!("kith find {FTS_WORD}"),
            format!("sqlite3 FTS5 MATCH {FTS_WORD}"),
            &word,
            sw,
        );
    }
    pairs
}

// ---------------------------------------------------------------- sync

#[derive(Clone, Debug, Default)]
struct Lat {
    /// Edit-to-peer times, ms, sorted.
    ms: Vec<f64>,
    lost: usize,
    note: String,
    error: Option<String>,
}

impl Lat {
    fn cells(&self) -> String {
        if let Some(e) = &self.error {
            return format!("failed: {e} | | | |");
        }
        let v = &self.ms;
        format!(
            "{} | {} | {} | {}{}",
            ms(pct(v, 50.0)),
            ms(pct(v, 99.0)),
            ms(v.last().copied().unwrap_or(f64::NAN)),
            v.len(),
            if self.lost > 0 {
                format!(" ({} lost)", self.lost)
            } else {
                String::new()
            }
        )
    }
}

/// Alice (the imported ledger) and a fresh bob, each with a daemon; bob's
/// replica synced whole before the edits start.
fn kith_latency(o: &Opts, k: &Kith, d: &Data) -> Res<Lat> {
    let dir = o.out.join(format!("n{}", d.n)).join("kith-sync");
    fresh_dir(&dir)?;
    let alice = dir.join("alice");
    copy_home(&d.home, &alice)?;
    k.ok(
        &alice,
        &["team", "create", "bench", "--as", "alice"],
        Duration::from_secs(60),
    )?;
    let member = k.member_id(&alice)?;
    let mut ad = Daemon::start(k, &alice, "alice", None)?;
    let bob = dir.join("bob");
    fresh_dir(&bob)?;
    k.invite_and_join(&alice, &bob, "bob")?;
    let mut bd = Daemon::start(k, &bob, "bob", Some(&ad.addr))?;
    let replica = replica_home(&bob, &member);
    let mut idx = IndexReader::of_home(&replica);
    let t = Instant::now();
    let want = d.people as i64;
    let synced = poll(Duration::from_secs(900), Duration::from_millis(200), || {
        (idx.people() >= want).then_some(())
    });
    drop(idx);
    if synced.is_none() {
        return Err(format!(
            "bob's replica did not reach {want} people in 900 s"
        ));
    }
    let note = format!(
        "initial sync of {want} people {:.1} s",
        t.elapsed().as_secs_f64()
    );
    eprintln!("    kith: {note}; {} edits", o.edits);
    let edits = propagation(k, &alice, &replica, o.edits, &mut bd)?;
    let mut v: Vec<f64> = edits.iter().filter_map(|e| e.after_ms).collect();
    v.sort_by(f64::total_cmp);
    let lost = edits.len() - v.len();
    bd.stop()?;
    if !ad.alive() {
        return Err(format!("alice's daemon exited: {}", ad.log_tail()));
    }
    ad.stop()?;
    Ok(Lat {
        ms: v,
        lost,
        note,
        error: None,
    })
}

/// A free TCP port on 127.0.0.1 (bound and released; nothing else here
/// takes ports, so it is still free when Syncthing binds it).
fn free_port() -> Res<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
}

/// One Syncthing instance, stopped (SIGTERM, then SIGKILL) when dropped.
struct Syncthing {
    child: Option<Child>,
    name: &'static str,
    home: PathBuf,
    folder: PathBuf,
    id: String,
    listen: u16,
    gui: u16,
    key: String,
    log: PathBuf,
}

impl Syncthing {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("syncthing");
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("STNODEFAULTFOLDER", "1")
            .env("STNOUPGRADE", "1")
            .env("STNORESTART", "1")
            .args(args)
            .stdin(Stdio::null());
        c
    }

    fn new(dir: &Path, name: &'static str, vcards: &Path) -> Res<Syncthing> {
        let home = dir.join(name).join("home");
        let folder = dir.join(name).join("folder");
        fresh_dir(&home)?;
        let _ = fs::remove_dir_all(&folder);
        // The same cards on both sides before start (mtimes kept), so the
        // instances only compare indexes instead of copying the directory.
        let ok = Command::new("cp")
            .arg("-a")
            .arg(vcards)
            .arg(&folder)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err(format!(
                "cp -a {} {} failed",
                vcards.display(),
                folder.display()
            ));
        }
        fs::create_dir_all(folder.join(".stfolder")).map_err(|e| e.to_string())?;
        let mut s = Syncthing {
            child: None,
            name,
            log: dir.join(format!("{name}.log")),
            home,
            folder,
            id: String::new(),
            listen: free_port()?,
            gui: free_port()?,
            key: format!("kith-bench-{name}-{:x}", Rng(SEED).next()),
        };
        let h = format!("--home={}", s.home.display());
        let out = s
            .cmd(&["generate", &h, "--no-default-folder", "--skip-port-probing"])
            .output()
            .map_err(|e| format!("syncthing generate: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        s.id = text
            .lines()
            .find_map(|l| l.split("Device ID: ").nth(1))
            .map(|x| x.trim().to_string())
            .ok_or_else(|| format!("syncthing generate printed no device id: {}", text.trim()))?;
        Ok(s)
    }

    /// Its whole config: only 127.0.0.1, nothing announced or reported, the
    /// peer at its 127.0.0.1 address, the folder watched with `delay`.
    fn write_config(&self, peer: &Syncthing, delay: u32) -> Res<()> {
        let dev = |s: &Syncthing| {
            format!(
                "    <device id=\"{}\" name=\"{}\" compression=\"metadata\" introducer=\"false\" skipIntroductionRemovals=\"false\" introducedBy=\"\">\n        <address>tcp://127.0.0.1:{}</address>\n        <paused>false</paused>\n        <autoAcceptFolders>false</autoAcceptFolders>\n    </device>\n",
                s.id, s.name, s.listen
            )
        };
        let xml = format!(
            r#"<configuration version="36">
    <folder id="{FOLDER_ID}" label="vcards" path="{folder}" type="sendreceive" rescanIntervalS="86400" fsWatcherEnabled="true" fsWatcherDelayS="{delay}" ignorePerms="false" autoNormalize="true">
        <filesystemType>basic</filesystemType>
        <device id="{me}" introducedBy=""></device>
        <device id="{them}" introducedBy=""></device>
        <minDiskFree unit="%">1</minDiskFree>
        <markerName>.stfolder</markerName>
    </folder>
{dev_me}{dev_them}    <gui enabled="true" tls="false" debugging="false">
        <address>127.0.0.1:{gui}</address>
        <apikey>{key}</apikey>
    </gui>
    <options>
        <listenAddress>tcp://127.0.0.1:{listen}</listenAddress>
        <globalAnnounceServer></globalAnnounceServer>
        <globalAnnounceEnabled>false</globalAnnounceEnabled>
        <localAnnounceEnabled>false</localAnnounceEnabled>
        <relaysEnabled>false</relaysEnabled>
        <natEnabled>false</natEnabled>
        <urAccepted>-1</urAccepted>
        <urURL></urURL>
        <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
        <releasesURL></releasesURL>
        <crashReportingEnabled>false</crashReportingEnabled>
        <crashReportingURL></crashReportingURL>
        <stunKeepaliveStartS>0</stunKeepaliveStartS>
        <stunKeepaliveMinS>0</stunKeepaliveMinS>
        <stunServer></stunServer>
        <announceLANAddresses>false</announceLANAddresses>
        <startBrowser>false</startBrowser>
        <setLowPriority>false</setLowPriority>
        <restartOnWakeup>false</restartOnWakeup>
    </options>
</configuration>
"#,
            folder = self.folder.display(),
            me = self.id,
            them = peer.id,
            dev_me = dev(self),
            dev_them = dev(peer),
            gui = self.gui,
            key = self.key,
            listen = self.listen,
        );
        let path = self.home.join("config.xml");
        fs::write(&path, &xml).map_err(|e| format!("{}: {e}", path.display()))?;
        check_loopback_config(&fs::read_to_string(&path).map_err(|e| e.to_string())?)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    fn start(&mut self) -> Res<()> {
        let h = format!("--home={}", self.home.display());
        let log = File::create(&self.log).map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = self
            .cmd(&[
                "serve",
                &h,
                "--no-browser",
                "--no-restart",
                "--no-upgrade",
                "--no-default-folder",
                "--skip-port-probing",
                "--logflags=3",
            ])
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start syncthing: {e}"))?;
        self.child = Some(child);
        poll(Duration::from_secs(60), Duration::from_millis(100), || {
            self.api("/rest/system/ping").ok()
        })
        .map(|_| ())
        .ok_or_else(|| {
            format!(
                "syncthing {} did not answer on 127.0.0.1:{} in 60 s",
                self.name, self.gui
            )
        })
    }

    /// GET on its REST API, on 127.0.0.1 only.
    fn api(&self, path: &str) -> Res<Json> {
        let mut s = TcpStream::connect(("127.0.0.1", self.gui)).map_err(|e| e.to_string())?;
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        write!(
            s,
            "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nX-API-Key: {}\r\n\r\n",
            self.key
        )
        .map_err(|e| e.to_string())?;
        let mut body = String::new();
        s.read_to_string(&mut body).map_err(|e| e.to_string())?;
        let (head, json) = body.split_once("\r\n\r\n").ok_or("no HTTP body")?;
        if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
            return Err(head.lines().next().unwrap_or("").to_string());
        }
        serde_json::from_str(json).map_err(|e| format!("{path}: {e}"))
    }

    /// What it says about anything but 127.0.0.1 in its log.
    fn foreign_addresses(&self) -> Vec<String> {
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| !foreign(l).is_empty())
            .map(str::to_string)
            .collect()
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on our own child, which has not been reaped.
            unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGTERM) };
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(20) {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Syncthing {
    fn drop(&mut self) {
        self.stop();
    }
}

/// IPv4 addresses and URL hosts in a line that are not 127.0.0.1.
fn foreign(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    for word in line.split(|c: char| c.is_whitespace() || "\"'<>()[],;=".contains(c)) {
        let host = word.split("://").nth(1).unwrap_or(word);
        let host = host.split('/').next().unwrap_or("");
        let bare = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
        let is_ip = bare.split('.').count() == 4
            && bare
                .split('.')
                .all(|p| !p.is_empty() && p.parse::<u8>().is_ok());
        let is_url = word.contains("://") && !bare.is_empty();
        if (is_ip || is_url) && bare != "127.0.0.1" && bare != "0.0.0.0" {
            found.push(word.to_string());
        }
    }
    found
}

/// Refuses a config that could reach past 127.0.0.1.
fn check_loopback_config(xml: &str) -> Res<()> {
    for must in [
        "<globalAnnounceEnabled>false</globalAnnounceEnabled>",
        "<localAnnounceEnabled>false</localAnnounceEnabled>",
        "<relaysEnabled>false</relaysEnabled>",
        "<natEnabled>false</natEnabled>",
        "<urAccepted>-1</urAccepted>",
        "<crashReportingEnabled>false</crashReportingEnabled>",
        "<autoUpgradeIntervalH>0</autoUpgradeIntervalH>",
    ] {
        if !xml.contains(must) {
            return Err(format!("config lacks {must}"));
        }
    }
    for line in xml.lines() {
        let l = line.trim();
        if (l.starts_with("<address>") || l.starts_with("<listenAddress>"))
            && !l.contains("127.0.0.1")
        {
            return Err(format!("refusing a config with {l}"));
        }
        if let Some(f) = foreign(l).first() {
            return Err(format!("refusing a config naming {f}"));
        }
    }
    Ok(())
}

/// The options that keep Syncthing on 127.0.0.1, as the running instance
/// reads them, and its folder's watcher delay.
fn check_running(s: &Syncthing) -> Res<String> {
    let opt = s.api("/rest/config/options")?;
    for (key, want) in [
        ("globalAnnounceEnabled", Json::Bool(false)),
        ("localAnnounceEnabled", Json::Bool(false)),
        ("relaysEnabled", Json::Bool(false)),
        ("natEnabled", Json::Bool(false)),
        ("urAccepted", Json::from(-1)),
        ("crashReportingEnabled", Json::Bool(false)),
    ] {
        if opt[key] != want {
            return Err(format!("syncthing {} runs with {key}={}", s.name, opt[key]));
        }
    }
    let listen = opt["listenAddresses"].to_string();
    if listen != format!("[\"tcp://127.0.0.1:{}\"]", s.listen) {
        return Err(format!("syncthing {} listens on {listen}", s.name));
    }
    let f = s.api(&format!("/rest/config/folders/{FOLDER_ID}"))?;
    if f["fsWatcherEnabled"] != Json::Bool(true) {
        return Err(format!("syncthing {}: the folder watcher is off", s.name));
    }
    Ok(format!("fsWatcherDelayS={}", f["fsWatcherDelayS"]))
}

/// Both connected, nothing to pull on either side.
fn in_sync(a: &Syncthing, b: &Syncthing) -> bool {
    let idle = |s: &Syncthing| {
        s.api(&format!("/rest/db/status?folder={FOLDER_ID}"))
            .is_ok_and(|v| v["state"] == "idle" && v["needTotalItems"] == 0)
    };
    let connected = a
        .api("/rest/system/connections")
        .is_ok_and(|v| v["connections"][&b.id]["connected"] == Json::Bool(true));
    let complete = a
        .api(&format!(
            "/rest/db/completion?folder={FOLDER_ID}&device={}",
            b.id
        ))
        .is_ok_and(|v| v["completion"].as_f64() == Some(100.0));
    connected && complete && idle(a) && idle(b)
}

fn syncthing_latency(o: &Opts, d: &Data) -> Res<Lat> {
    let dir = o.out.join(format!("n{}", d.n)).join("syncthing");
    fresh_dir(&dir)?;
    let mut a = Syncthing::new(&dir, "a", &d.vcards)?;
    let mut b = Syncthing::new(&dir, "b", &d.vcards)?;
    // Syncthing 1.19 reads the delay as whole seconds and turns the watcher
    // off below 1: 1 is its shortest.
    a.write_config(&b, 1)?;
    b.write_config(&a, 1)?;
    let result = (|| {
        a.start()?;
        b.start()?;
        let delay = check_running(&a)?;
        check_running(&b)?;
        let t = Instant::now();
        poll(
            Duration::from_secs(1800),
            Duration::from_millis(500),
            || in_sync(&a, &b).then_some(()),
        )
        .ok_or("the two instances were not in sync within 1800 s")?;
        let note = format!(
            "{delay}; {} cards in sync after start in {:.1} s",
            d.n,
            t.elapsed().as_secs_f64()
        );
        eprintln!("    syncthing: {note}; {} edits", o.edits);
        let names: Vec<PathBuf> = fs::read_dir(&d.vcards)
            .map_err(|e| e.to_string())?
            .flatten()
            .map(|e| PathBuf::from(e.file_name()))
            .collect();
        let mut rng = Rng(0x7374_6c61_7465);
        let mut v = Vec::with_capacity(o.edits);
        let mut lost = 0;
        let limit = Duration::from_secs(30);
        for i in 0..o.edits {
            std::thread::sleep(Duration::from_millis(100 + rng.below(200) as u64));
            let name = rng.pick(&names).clone();
            let (pa, pb) = (a.folder.join(&name), b.folder.join(&name));
            let card = fs::read_to_string(&pa).map_err(|e| e.to_string())?;
            let token = format!("NOTE:bench edit {i:03} {}", rng.id());
            let edited = match card.rfind("END:VCARD") {
                Some(at) => format!("{}{token}\r\n{}", &card[..at], &card[at..]),
                None => format!("{card}{token}\r\n"),
            };
            fs::write(&pa, edited).map_err(|e| e.to_string())?;
            let t1 = Instant::now();
            let arrived = poll(limit, Duration::from_millis(1), || {
                fs::read_to_string(&pb)
                    .ok()
                    .filter(|s| s.contains(&token))
                    .map(|_| t1.elapsed())
            });
            match arrived {
                Some(t) => v.push(t.as_secs_f64() * 1e3),
                None => {
                    lost += 1;
                    eprintln!("    syncthing edit {i} did not reach b within {limit:?}");
                }
            }
        }
        v.sort_by(f64::total_cmp);
        Ok(Lat {
            ms: v,
            lost,
            note,
            error: None,
        })
    })();
    a.stop();
    b.stop();
    let mut foreign_lines = a.foreign_addresses();
    foreign_lines.extend(b.foreign_addresses());
    if let Some(l) = foreign_lines.first() {
        eprintln!(
            "compare: syncthing logged {} line(s) naming an address not 127.0.0.1, first: {l}",
            foreign_lines.len()
        );
        return Err(format!("syncthing named an address not 127.0.0.1: {l}"));
    }
    result
}

struct Sync {
    n: usize,
    kith: Lat,
    other: Lat,
}

// ---------------------------------------------------------------- report

fn ratio(k: Option<f64>, o: Option<f64>) -> String {
    match (k, o) {
        (Some(k), Some(o)) if o > 0.0 && k / o < 0.1 => format!("{:.4}× (1/{:.0})", k / o, o / k),
        (Some(k), Some(o)) if o > 0.0 => format!("{:.2}×", k / o),
        _ => "–".into(),
    }
}

fn render(o: &Opts, datas: &[Data], pairs: &[Pair], syncs: &[Sync], load: &str) -> String {
    let mut s = String::new();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let _ = writeln!(s, "# kith side by side: khard, SQLite, Syncthing\n");
    let _ = writeln!(
        s,
        "- kith {} at {}, binary `{}`",
        env!("CARGO_PKG_VERSION"),
        git_state(),
        o.kith.display()
    );
    let version = |bin: &str, arg: &str| {
        Command::new(bin)
            .arg(arg)
            .output()
            .ok()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_else(|| "not installed".into())
    };
    let _ = writeln!(
        s,
        "- peers: {}; sqlite3 {}; {}",
        version("khard", "--version"),
        version("sqlite3", "--version")
            .split_whitespace()
            .next()
            .unwrap_or(""),
        version("syncthing", "--version")
            .split(" (")
            .next()
            .unwrap_or("")
    );
    let _ = writeln!(
        s,
        "- machine: {cores} cores, load average {load} before, {} after; shared with other work, so expect ±20% between runs",
        loadavg()
    );
    let _ = writeln!(
        s,
        "- every command is a whole process, output to a file, after one checked warm-up run; times in ms\n"
    );
    let _ = writeln!(s, "## The contacts\n");
    let _ = writeln!(
        s,
        "| people | interactions | photos | names by script (Latin, accented, Cyrillic, Greek, CJK, Arabic, Devanagari) | JSONL MB | vCard dir MB | searched for |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---|---:|---:|---|");
    for d in datas {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.1} | {:.1} | {} <{}> |",
            d.people,
            d.interactions,
            d.photos,
            d.by_script
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(" / "),
            d.jsonl_mb,
            d.vcards_mb,
            d.target.name,
            d.target.email
        );
    }
    let _ = writeln!(s, "\n## Reads\n");
    let _ = writeln!(
        s,
        "| peer | query | people | kith command | kith median | min | max | runs | other command | other median | min | max | runs | kith / other |"
    );
    let _ = writeln!(
        s,
        "|---|---|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"
    );
    for p in pairs {
        let _ = writeln!(
            s,
            "| {} | {} | {} | `{}` | {} | `{}` | {} | {} |",
            p.peer,
            p.what,
            p.n,
            p.kith_cmd,
            p.kith.cells(),
            p.other_cmd,
            p.other.cells(),
            ratio(p.kith.median(), p.other.median())
        );
    }
    if !syncs.is_empty() {
        let _ = writeln!(s, "\n## Edit to peer, both on 127.0.0.1\n");
        let _ = writeln!(
            s,
            "| people | kith p50 | p99 | max | edits | Syncthing p50 | p99 | max | edits | kith / Syncthing p50 | p99 |"
        );
        let _ = writeln!(
            s,
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for y in syncs {
            let p =
                |l: &Lat, q: f64| (l.error.is_none() && !l.ms.is_empty()).then(|| pct(&l.ms, q));
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                y.n,
                y.kith.cells(),
                y.other.cells(),
                ratio(p(&y.kith, 50.0), p(&y.other, 50.0)),
                ratio(p(&y.kith, 99.0), p(&y.other, 99.0))
            );
        }
        for y in syncs {
            for (who, l) in [("kith", &y.kith), ("Syncthing", &y.other)] {
                if !l.note.is_empty() {
                    let _ = writeln!(s, "\n- {}, {who}: {}", y.n, l.note);
                }
            }
        }
    }
    growth(&mut s, datas, pairs, syncs);
    s
}

/// Every kith figure by size, and the issue's growth check from 10k to
/// 100k: a read growing more than 1.5×, a bulk operation more than 12×.
fn growth(s: &mut String, datas: &[Data], pairs: &[Pair], syncs: &[Sync]) {
    let mut rows: BTreeMap<(u8, String), BTreeMap<usize, f64>> = BTreeMap::new();
    for d in datas {
        rows.entry((1, "`kith import` of the JSONL".into()))
            .or_default()
            .insert(d.n, d.import.wall.as_secs_f64() * 1e3);
        rows.entry((1, "`kith export --format vcard`".into()))
            .or_default()
            .insert(d.n, d.export.wall.as_secs_f64() * 1e3);
    }
    for p in pairs {
        if let Some(m) = p.kith.median() {
            rows.entry((0, format!("`{}`", p.kith_cmd)))
                .or_default()
                .insert(p.n, m);
        }
    }
    for y in syncs {
        if y.kith.error.is_none() && !y.kith.ms.is_empty() {
            rows.entry((2, "edit to peer, p50".into()))
                .or_default()
                .insert(y.n, pct(&y.kith.ms, 50.0));
        }
    }
    let sizes: Vec<usize> = datas.iter().map(|d| d.n).collect();
    let _ = writeln!(s, "\n## kith by ledger size (ms)\n");
    let _ = writeln!(
        s,
        "| kith | {} | 10k → 100k | limit |",
        sizes
            .iter()
            .map(|n| format!("{n} people"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(s, "|---|{}---:|---|", "---:|".repeat(sizes.len()));
    let mut over = Vec::new();
    for ((kind, name), by) in &rows {
        let g = match (by.get(&10_000), by.get(&100_000)) {
            (Some(a), Some(b)) if *a > 0.0 => Some(b / a),
            _ => None,
        };
        let limit = match kind {
            0 => Some(1.5),
            1 => Some(12.0),
            _ => None,
        };
        if let (Some(g), Some(l)) = (g, limit)
            && g > l
        {
            over.push(format!(
                "{name} grows {g:.1}× from 10k to 100k (limit {l}×)"
            ));
        }
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} |",
            sizes
                .iter()
                .map(|n| by.get(n).map(|x| ms(*x)).unwrap_or_else(|| "–".into()))
                .collect::<Vec<_>>()
                .join(" | "),
            g.map(|g| format!("{g:.2}×")).unwrap_or_else(|| "–".into()),
            limit
                .map(|l| format!("≤ {l}×"))
                .unwrap_or_else(|| "–".into())
        );
    }
    let _ = writeln!(s);
    if !(sizes.contains(&10_000) && sizes.contains(&100_000)) {
        let _ = writeln!(s, "Growth check: needs both 10,000 and 100,000 in --sizes.");
    } else if over.is_empty() {
        let _ = writeln!(
            s,
            "Growth check: nothing grows past its limit from 10k to 100k."
        );
    } else {
        let _ = writeln!(s, "Growth check, past the limit:");
        for l in &over {
            let _ = writeln!(s, "- {l}");
            eprintln!("growth: {l}");
        }
    }
}

/// One line pair of the plot: panel, key, "kith label / other label", and
/// (size, kith ms, other ms) points.
type Series<'a> = (
    &'a str,
    String,
    String,
    Vec<(usize, Option<f64>, Option<f64>)>,
);

/// Time against size, log-log, kith (thick) beside its peer (thin), one
/// panel per peer. No dashes: some SVG rasterisers join a dashed path to
/// its key sample.
fn plot(o: &Opts, pairs: &[Pair], syncs: &[Sync], svg: &Path) -> Res<()> {
    let dir = o.out.join("plot");
    fresh_dir(&dir)?;
    let mut series: Vec<Series> = Vec::new();
    for p in pairs {
        let key = format!("{}: {}", p.peer, p.what);
        match series.iter_mut().find(|s| s.1 == key) {
            Some(s) => s.3.push((p.n, p.kith.median(), p.other.median())),
            None => series.push((
                p.peer,
                key,
                format!("{} / {}", p.kith_cmd, p.other_cmd),
                vec![(p.n, p.kith.median(), p.other.median())],
            )),
        }
    }
    if !syncs.is_empty() {
        let pts = syncs
            .iter()
            .map(|y| {
                let p = |l: &Lat| (l.error.is_none() && !l.ms.is_empty()).then(|| pct(&l.ms, 50.0));
                (y.n, p(&y.kith), p(&y.other))
            })
            .collect();
        series.push((
            "sync",
            "sync".into(),
            "edit to peer p50: kith daemons / Syncthing".into(),
            pts,
        ));
    }
    let mut gp = String::new();
    let _ = writeln!(
        gp,
        "set terminal svg size 1500,700 dynamic font 'sans,11' background '#ffffff'\nset output '{}'",
        svg.display()
    );
    let _ = writeln!(
        gp,
        "set logscale xy\nset grid\nset xlabel 'people in the address book'\nset ylabel 'ms (median of whole processes)'\nset key below left vertical font ',9' noenhanced\nset xtics ('1k' 1000, '10k' 10000, '100k' 100000)\nset xrange [700:140000]\nset multiplot layout 1,3 title 'kith (thick line, filled points) beside each peer (thin line, open points), same machine, same run'"
    );
    for (panel, title) in [
        ("khard", "khard 0.18 on a vCard directory"),
        ("sqlite", "sqlite3 shell on an FTS5 table (the floor)"),
        ("sync", "edit until the peer has it, p50 (ms)"),
    ] {
        let mine: Vec<_> = series.iter().filter(|s| s.0 == panel).collect();
        if mine.is_empty() {
            continue;
        }
        let mut plots = Vec::new();
        for (i, (_, _, label, pts)) in mine.iter().enumerate() {
            let file = dir.join(format!("{panel}-{i}.dat"));
            let mut data = String::new();
            for (n, k, x) in pts {
                let cell = |v: &Option<f64>| v.map(|v| format!("{v}")).unwrap_or("NaN".into());
                let _ = writeln!(data, "{n} {} {}", cell(k), cell(x));
            }
            fs::write(&file, data).map_err(|e| e.to_string())?;
            let (kl, ol) = label.split_once(" / ").unwrap_or((label, ""));
            let c = i + 1;
            plots.push(format!(
                "'{f}' using 1:2 with linespoints lc {c} lw 2 pt 7 dt 1 title '{kl}', '{f}' using 1:3 with linespoints lc {c} lw 1 pt 6 dt 1 title '{ol}'",
                f = file.display(),
                kl = kl.replace('\'', ""),
                ol = ol.replace('\'', "")
            ));
        }
        let _ = writeln!(gp, "set title '{title}'\nplot {}", plots.join(", "));
    }
    let _ = writeln!(gp, "unset multiplot");
    let script = dir.join("compare.gp");
    fs::write(&script, &gp).map_err(|e| e.to_string())?;
    let out = Command::new("gnuplot")
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("gnuplot: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "gnuplot {}: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

fn main() {
    let o = parse_opts();
    let scratch = o.out.join("scratch");
    fs::create_dir_all(&scratch).expect("create the output directory");
    let t = tools(&o);
    let k = Kith {
        bin: o.kith.clone(),
        scratch,
        daemon_log: None,
    };
    let load = loadavg();
    eprintln!(
        "kith compare: sizes {:?}, {} runs, {} edits, binary {}, data in {}",
        o.sizes,
        o.runs,
        o.edits,
        o.kith.display(),
        o.out.display()
    );
    let mut datas = Vec::new();
    let mut pairs = Vec::new();
    let mut syncs = Vec::new();
    for &n in &o.sizes {
        eprintln!("{n} people");
        let d = match prepare(&o, &k, n, o.wants("sqlite") && t.sqlite3) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("compare: the {n}-person contacts could not be made: {e}");
                continue;
            }
        };
        if o.wants("khard") || o.wants("sqlite") {
            pairs.extend(reads(&o, &k, &d, &t));
        }
        if o.wants("sync") {
            let kith = kith_latency(&o, &k, &d).unwrap_or_else(|e| {
                eprintln!("    kith sync: {e}");
                Lat {
                    error: Some(e),
                    ..Lat::default()
                }
            });
            let other = if t.syncthing {
                syncthing_latency(&o, &d).unwrap_or_else(|e| {
                    eprintln!("    syncthing: {e}");
                    Lat {
                        error: Some(e),
                        ..Lat::default()
                    }
                })
            } else {
                Lat {
                    error: Some("syncthing not installed".into()),
                    ..Lat::default()
                }
            };
            syncs.push(Sync { n, kith, other });
        }
        datas.push(d);
        // Written after each size, so a long last size leaves the others.
        let last = n == *o.sizes.last().unwrap_or(&n);
        report(&o, &t, &datas, &pairs, &syncs, &load, last);
    }
}

/// The markdown file and plot; stdout too when `last`.
fn report(
    o: &Opts,
    t: &Tools,
    datas: &[Data],
    pairs: &[Pair],
    syncs: &[Sync],
    load: &str,
    last: bool,
) {
    let mut s = render(o, datas, pairs, syncs, load);
    let dir = o.target.join("kith-bench");
    let _ = fs::create_dir_all(&dir);
    let svg = if o.docs {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/perf/compare.svg")
    } else {
        dir.join("compare.svg")
    };
    if t.gnuplot {
        let _ = fs::create_dir_all(svg.parent().unwrap_or(Path::new(".")));
        match plot(o, pairs, syncs, &svg) {
            Ok(()) => {
                let _ = writeln!(s, "\nPlot: `{}`", svg.display());
            }
            Err(e) => eprintln!("compare: no plot: {e}"),
        }
    }
    if last {
        println!("{s}");
    }
    let md = dir.join("compare-results.md");
    match fs::write(&md, &s) {
        Ok(()) => eprintln!("wrote {}", md.display()),
        Err(e) => {
            eprintln!("compare: {}: {e}", md.display());
            std::process::exit(1);
        }
    }
}
