//! Team questions at team scale: `kith who-knows`, `intro-path` and
//! `who-wants --team` with 50 teammates' replicas of 5,000 people each,
//! plus the own ledger of 5,000.
//!
//! ```text
//! cargo bench --bench knows                                   # 50 × 5,000, 20 runs
//! cargo bench --bench knows -- --members 10 --people 1000     # smaller
//! cargo bench --bench knows -- --rebuild                      # new data
//! ```
//!
//! Flags (after `--`): `--members M` (50), `--people N` (5000, per ledger),
//! `--distinct D` (5: ledgers generated for the teammates; member `m` gets
//! a copy of ledger `m % D`), `--runs R` (20, after 2 warm-up runs),
//! `--rebuild` (make the data again), `--out DIR` (`<target>/kith-bench/data`),
//! `--kith PATH` (the binary measured; default the release `kith` cargo
//! builds for this bench).
//!
//! The data (`<out>/team-MxN/`, `-dD` added unless D is 5; made once and
//! reused, checked against `meta.json`): the generator of
//! `common` writes `D + 1` distinct ledgers (with the team extras: who got
//! in touch, relationships, some shared facts and summaries); each is
//! loaded with `kith import`. The first is the viewer's own home. Of each
//! other one only `ledger/shared/` is kept, as sync would deliver it (a
//! replica never holds a teammate's private part), its index is built by
//! `kith reindex`, and it is copied to the replica directory
//! (`replicas/<member id>/`) of each member it stands for. The viewer's
//! roster is signed as `kith team` writes it: the viewer's genesis and
//! device, an admission and a device certificate for each member.
//!
//! What is measured: whole `kith` processes (spawn to exit, wall clock)
//! with KITH_HOME, KITH_NOW, KITH_TZ=UTC and KITH_MDNS=off, each child's
//! peak RSS through `wait4`; then, in a child of this bench (so this
//! process's memory stays small for the next spawn's RSS floor), the same
//! work through the library: reading the roster, `Ledger::open` of the own
//! ledger and of every replica, closing them, and each question alone
//! (`kith::knows::who_knows`, `intro_paths`, `who_wants`), both as the
//! first question on freshly opened ledgers (as in a process) and asked
//! again on open ones. The queries are chosen from the data: the company
//! and the email domain known in the most ledgers, that company's first
//! word (as someone types "Acme"), a tag, the person whose name is in the
//! most ledgers, a name nobody has (the fixed cost), a broad tag, and for
//! intro-path someone the viewer does not know whose relationships
//! teammates recorded.
//!
//! Results go to stdout and `<target>/kith-bench/knows-results.md`. The
//! target (who-knows ≤ 50 ms) is reported, not asserted. Nothing here
//! starts a daemon or touches the network.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kith::identity::Keys;
use kith::knows::Source;
use kith::team::{Claim, Roster, Statement, TeamDir};
use kith::{Ledger, OpenOptions};
use libp2p::identity::Keypair;
use serde_json::{Value, json};

#[path = "common/mod.rs"]
mod common;
use common::*;

/// who-knows must answer within this, end to end.
const TARGET_MS: f64 = 50.0;
/// Bumped when the data changes shape, so older data is made again.
const DATA_VERSION: u32 = 1;
const SEED: u64 = 0x6b6e_6f77_7300;
/// Interactions per person in every ledger.
const PER_PERSON: u32 = 10;
/// The topic `who-wants` is asked about: a tag and a hobby in facts and
/// interaction summaries.
const TOPIC: &str = "sailing";
/// The tag asked about (a few % of people), and a broad one.
const TAG: &str = BENCH_TAG;
const BROAD_TAG: &str = COMMON_TAG;
/// A who-knows query that matches no one in any ledger: what asking costs
/// before any answer.
const NOBODY: &str = "Zzyzx Qwv";
/// How often the in-process child opens every ledger again.
const OPEN_ROUNDS: usize = 10;

// ---------------------------------------------------------------- options

struct Opts {
    members: usize,
    people: usize,
    distinct: usize,
    runs: usize,
    rebuild: bool,
    out: PathBuf,
    kith: PathBuf,
    target_dir: PathBuf,
}

fn parse_opts(mut args: impl Iterator<Item = String>) -> Opts {
    let target = target_dir();
    let mut o = Opts {
        members: 50,
        people: 5000,
        distinct: 5,
        runs: 20,
        rebuild: false,
        out: target.join("kith-bench").join("data"),
        kith: PathBuf::new(),
        target_dir: target.clone(),
    };
    let mut kith = None;
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
                .unwrap_or_else(|_| panic!("{name} needs a number"))
        };
        match flag.as_str() {
            "--bench" => {}
            "--members" => o.members = num("--members", value("--members")),
            "--people" => o.people = num("--people", value("--people")),
            "--distinct" => o.distinct = num("--distinct", value("--distinct")),
            "--runs" => o.runs = num("--runs", value("--runs")),
            "--rebuild" => o.rebuild = true,
            "--out" => o.out = PathBuf::from(value("--out")),
            "--kith" => kith = Some(PathBuf::from(value("--kith"))),
            "-h" | "--help" => {
                println!(
                    "knows [--members M] [--people N] [--distinct D] [--runs R] [--rebuild] [--out DIR] [--kith PATH]"
                );
                std::process::exit(0);
            }
            other if other.starts_with('-') => eprintln!("knows: ignoring unknown flag {other}"),
            _ => {} // a cargo bench filter: nothing to filter
        }
    }
    o.members = o.members.max(1);
    o.people = o.people.max(10);
    o.distinct = o.distinct.clamp(1, o.members);
    o.runs = o.runs.max(1);
    o.kith = kith.unwrap_or_else(|| default_kith(&target));
    o
}

// ---------------------------------------------------------------- running kith

struct Runner {
    kith: PathBuf,
    scratch: PathBuf,
}

impl Runner {
    fn command(&self, home: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.kith);
        cmd.args(args)
            .env_remove("RUST_LOG")
            .env("KITH_HOME", home)
            .env("KITH_NOW", NOW)
            .env("KITH_TZ", "UTC")
            .env("KITH_MDNS", "off")
            .env("NO_COLOR", "1");
        cmd
    }

    /// One whole process; its sample, stdout and stderr.
    fn once(&self, home: &Path, args: &[&str], timeout: Duration) -> (Sample, String, String) {
        let (o, e) = (self.scratch.join("stdout"), self.scratch.join("stderr"));
        let s = run_once(self.command(home, args), &o, &e, Some(timeout));
        (
            s,
            fs::read_to_string(&o).unwrap_or_default(),
            fs::read_to_string(&e).unwrap_or_default(),
        )
    }

    /// Runs a command that must succeed (building the data).
    fn must(&self, home: &Path, args: &[&str]) -> Sample {
        let (s, out, err) = self.once(home, args, Duration::from_secs(1800));
        assert!(
            s.code == 0,
            "kith {} failed ({}): {}{}",
            args.join(" "),
            s.code,
            out.trim(),
            err.trim()
        );
        s
    }
}

// ---------------------------------------------------------------- data

/// What was built, kept beside the data (`meta.json`).
struct Meta {
    /// Member ids, in roster order of admission; member `m` holds a copy
    /// of teammate ledger `m % distinct`.
    members: Vec<String>,
    /// Per distinct ledger: (people, interactions, links, shared facts,
    /// shared summaries, import seconds).
    ledgers: Vec<Value>,
    build_secs: f64,
}

fn data_dir(o: &Opts) -> PathBuf {
    let mut name = format!("team-{}x{}", o.members, o.people);
    if o.distinct != 5 {
        let _ = write!(name, "-d{}", o.distinct);
    }
    o.out.join(name)
}

fn stamp(o: &Opts) -> Value {
    json!({
        "version": DATA_VERSION,
        "members": o.members,
        "people": o.people,
        "distinct": o.distinct,
        "per_person": PER_PERSON,
    })
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    for entry in fs::read_dir(from).expect("read dir").flatten() {
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            copy_dir(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        }
    }
}

/// The data for these options: reused when a previous run made it with the
/// same options, otherwise made now.
fn data(o: &Opts, r: &Runner) -> (PathBuf, Meta) {
    let dir = data_dir(o);
    let viewer = dir.join("viewer");
    let meta_path = dir.join("meta.json");
    if !o.rebuild
        && let Ok(text) = fs::read_to_string(&meta_path)
        && let Ok(v) = serde_json::from_str::<Value>(&text)
        && v.get("stamp") == Some(&stamp(o))
        && viewer.join("team").is_dir()
    {
        let meta = Meta {
            members: v["members"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|m| m.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            ledgers: v["ledgers"].as_array().cloned().unwrap_or_default(),
            build_secs: v["build_secs"].as_f64().unwrap_or(0.0),
        };
        eprintln!("knows: reusing {}", dir.display());
        return (viewer, meta);
    }
    if dir.exists() {
        fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    let scratch = dir.join("scratch");
    fs::create_dir_all(&scratch).expect("data dir");
    let started = Instant::now();
    eprintln!(
        "knows: building {} ({} members, {} distinct ledgers of {} people)",
        dir.display(),
        o.members,
        o.distinct,
        o.people
    );
    let shape = Shape {
        per_person: PER_PERSON,
        team: true,
    };
    let mut ledgers = Vec::new();
    // Ledger 0 is the viewer's own; 1..=distinct are the teammates'.
    for k in 0..=o.distinct {
        let jsonl = scratch.join(format!("ledger-{k}.jsonl"));
        let t = generate_shaped(&jsonl, o.people, SEED + k as u64, shape).expect("generate");
        let home = if k == 0 {
            viewer.clone()
        } else {
            scratch.join(format!("teammate-{k}"))
        };
        let s = r.must(&home, &["import", jsonl.to_str().expect("utf-8 path")]);
        let _ = fs::remove_file(&jsonl);
        let c = &t.counts;
        eprintln!(
            "  ledger {k}: {} people, {} interactions, {} relationships, imported in {:.1} s",
            c.people,
            c.interactions,
            c.links,
            s.wall.as_secs_f64()
        );
        ledgers.push(json!({
            "ledger": k,
            "people": c.people,
            "companies": c.companies,
            "interactions": c.interactions,
            "facts": c.facts,
            "shared_facts": c.shared_facts,
            "shared_summaries": c.shared_summaries,
            "links": c.links,
            "import_secs": s.wall.as_secs_f64(),
        }));
        if k == 0 {
            continue;
        }
        // What sync delivers of a teammate's ledger: the shared part. Its
        // index is derived here as for any replica.
        let replica = scratch.join(format!("replica-{k}"));
        copy_dir(&home.join("ledger/shared"), &replica.join("ledger/shared"));
        fs::create_dir_all(replica.join("ledger/private")).expect("private dir");
        r.must(&replica, &["reindex"]);
        fs::remove_dir_all(&home).expect("remove teammate home");
    }

    let keys = Keys::load_or_create(&viewer).expect("viewer keys");
    let at = 1_767_225_600; // 2026-01-01
    let mut roster = Roster::create(
        &keys.member,
        &keys.device_id(),
        "bench team",
        "me",
        "laptop",
        at,
    )
    .expect("roster");
    let team = roster.team.clone().expect("team id");
    let mut members = Vec::with_capacity(o.members);
    for m in 0..o.members {
        let member = Keypair::generate_ed25519();
        let id = member.public().to_peer_id().to_string();
        let admit = Claim::Admit {
            team: team.clone(),
            member: id.clone(),
            name: format!("member{m:02}"),
            at: at + m as i64,
        };
        roster.add(Statement::sign(&keys.member, &admit).expect("sign admission"));
        let device = Claim::Device {
            device: Keypair::generate_ed25519()
                .public()
                .to_peer_id()
                .to_string(),
            name: "laptop".into(),
            at: at + m as i64,
        };
        roster.add(Statement::sign(&member, &device).expect("sign device"));
        let home = kith::sync::replica_home(&viewer, &id).expect("replica home");
        copy_dir(
            &scratch.join(format!("replica-{}", 1 + m % o.distinct)),
            &home,
        );
        assert!(kith::sync::replica_exists(&viewer, &id));
        members.push(id);
    }
    let team_dir = TeamDir::new(&viewer);
    let lock = team_dir.lock().expect("team lock");
    team_dir.save_roster(&roster, &lock).expect("save roster");
    drop(lock);
    fs::remove_dir_all(&scratch).expect("remove scratch");
    let build_secs = started.elapsed().as_secs_f64();
    let meta = json!({
        "stamp": stamp(o),
        "members": members,
        "ledgers": ledgers,
        "build_secs": build_secs,
    });
    fs::write(
        &meta_path,
        serde_json::to_string_pretty(&meta).expect("json"),
    )
    .expect("meta");
    eprintln!("knows: built in {build_secs:.0} s");
    (
        viewer,
        Meta {
            members,
            ledgers,
            build_secs,
        },
    )
}

// ---------------------------------------------------------------- choosing queries

/// How many ledgers hold something, and how many records, counting each
/// replica that is a copy.
#[derive(Clone, Copy, Default)]
struct Reach {
    in_own: bool,
    ledgers: usize,
    records: usize,
}

/// Counts `sql`'s rows (key, display, count) over the own ledger and one
/// replica of each distinct teammate ledger, weighted by copies.
fn reach(indexes: &[(PathBuf, usize)], sql: &str) -> BTreeMap<String, (String, Reach)> {
    let mut out: BTreeMap<String, (String, Reach)> = BTreeMap::new();
    for (i, (path, weight)) in indexes.iter().enumerate() {
        let conn =
            rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut stmt = conn.prepare(sql).expect("query");
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .expect("rows");
        for row in rows {
            let (key, shown, n) = row.expect("row");
            let e = out.entry(key).or_insert((shown, Reach::default()));
            e.1.in_own |= i == 0;
            e.1.ledgers += weight;
            e.1.records += weight * n as usize;
        }
    }
    out
}

/// The entry known in the most ledgers (then with the most records),
/// among those `keep` accepts.
fn most_known(
    found: &BTreeMap<String, (String, Reach)>,
    keep: impl Fn(&str, &Reach) -> bool,
) -> Option<(String, Reach)> {
    found
        .iter()
        .filter(|(k, (_, r))| keep(k, r))
        .max_by(|a, b| {
            (a.1.1.ledgers, a.1.1.records, std::cmp::Reverse(a.0)).cmp(&(
                b.1.1.ledgers,
                b.1.1.records,
                std::cmp::Reverse(b.0),
            ))
        })
        .map(|(_, (shown, r))| (shown.clone(), *r))
}

/// A question, asked of the CLI and of the library.
#[derive(Clone)]
struct Case {
    label: String,
    /// The `kith` arguments.
    args: Vec<String>,
    /// "who-knows", "intro-path" or "who-wants".
    what: &'static str,
    query: String,
    explain: bool,
    limit: usize,
    /// Whether the 50 ms target applies.
    target: bool,
    /// What the data says about the query.
    note: String,
}

fn who_knows_case(label: &str, query: &str, explain: bool, note: String) -> Case {
    let mut args = vec!["who-knows".to_string(), query.to_string(), "--json".into()];
    if explain {
        args.push("--explain".into());
    }
    Case {
        label: label.to_string(),
        args,
        what: "who-knows",
        query: query.to_string(),
        explain,
        limit: 20,
        target: true,
        note,
    }
}

fn reach_note(r: &Reach, total: usize) -> String {
    format!(
        "in {} of {total} ledgers{}, {} records",
        r.ledgers,
        if r.in_own { " (own too)" } else { "" },
        r.records
    )
}

fn choose_cases(viewer: &Path, o: &Opts, meta: &Meta) -> Vec<Case> {
    // The own index, and one replica of each distinct teammate ledger.
    let mut indexes = vec![(viewer.join("index.sqlite"), 1usize)];
    for k in 0..o.distinct {
        let copies = (k..o.members).step_by(o.distinct).count();
        let home = kith::sync::replica_home(viewer, &meta.members[k]).expect("replica");
        indexes.push((home.join("index.sqlite"), copies));
    }
    let total = o.members + 1;
    let companies = reach(
        &indexes,
        "SELECT c.name_key, c.name, count(*) FROM people p JOIN companies c ON c.id = p.company
         WHERE p.deleted = 0 AND c.deleted = 0 GROUP BY c.name_key",
    );
    let (company, company_reach) =
        most_known(&companies, |_, r| r.in_own).expect("a company in the own ledger");
    let word = company
        .split_whitespace()
        .next()
        .unwrap_or(&company)
        .to_string();
    let word_key = word.to_lowercase();
    let word_reach = companies
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{word_key} ")))
        .fold(Reach::default(), |a, (_, (_, r))| Reach {
            in_own: a.in_own || r.in_own,
            ledgers: a.ledgers.max(r.ledgers),
            records: a.records + r.records,
        });
    let domains = reach(
        &indexes,
        "SELECT domain, domain, count(*) FROM emails GROUP BY domain",
    );
    let (domain, domain_reach) = most_known(&domains, |k, r| r.in_own && k != "example.net")
        .expect("a domain in the own ledger");
    let tags = reach(&indexes, "SELECT tag, tag, count(*) FROM tags GROUP BY tag");
    let tag_reach = |t: &str| tags.get(t).map(|(_, r)| *r).unwrap_or_default();
    let names = reach(
        &indexes,
        "SELECT name_key, name, count(*) FROM people WHERE deleted = 0 GROUP BY name_key",
    );
    let (person, person_reach) =
        most_known(&names, |_, r| r.in_own).expect("a person in the own ledger");
    // Someone the viewer does not know, with relationships recorded by
    // teammates: where a warm introduction is the point.
    let linked = reach(
        &indexes,
        "SELECT p.name_key, p.name, count(DISTINCT i.id) FROM people p
         JOIN items i ON i.kind = 'link' AND (i.subject = p.id OR i.other = p.id)
         WHERE p.deleted = 0 GROUP BY p.name_key",
    );
    let (stranger, stranger_reach) =
        most_known(&linked, |k, _| !names.get(k).is_some_and(|(_, r)| r.in_own))
            .expect("someone with relationships");

    let mut cases = vec![
        who_knows_case(
            &format!("who-knows \"{company}\" (company)"),
            &company,
            false,
            reach_note(&company_reach, total),
        ),
        who_knows_case(
            &format!("who-knows \"{word}\" (company word)"),
            &word,
            false,
            format!(
                "names {} records at companies \"{word} …\"",
                word_reach.records
            ),
        ),
        who_knows_case(
            &format!("who-knows {domain} (email domain)"),
            &domain,
            false,
            reach_note(&domain_reach, total),
        ),
        who_knows_case(
            &format!("who-knows \"#{TAG}\" (tag)"),
            &format!("#{TAG}"),
            false,
            reach_note(&tag_reach(TAG), total),
        ),
        who_knows_case(
            &format!("who-knows \"{person}\" (person)"),
            &person,
            false,
            reach_note(&person_reach, total),
        ),
        who_knows_case(
            &format!("who-knows \"{company}\" --explain"),
            &company,
            true,
            reach_note(&company_reach, total),
        ),
        who_knows_case(
            &format!("who-knows \"{NOBODY}\" (no match)"),
            NOBODY,
            false,
            "matches no one: the fixed cost of asking".into(),
        ),
        who_knows_case(
            &format!("who-knows \"#{BROAD_TAG}\" (broad tag)"),
            &format!("#{BROAD_TAG}"),
            false,
            reach_note(&tag_reach(BROAD_TAG), total),
        ),
    ];
    cases.push(Case {
        label: format!("intro-path \"{stranger}\""),
        args: vec!["intro-path".into(), stranger.clone(), "--json".into()],
        what: "intro-path",
        query: stranger.clone(),
        explain: false,
        limit: 5,
        target: false,
        note: format!(
            "not in the own ledger; relationships in {} ledgers ({} links)",
            stranger_reach.ledgers, stranger_reach.records
        ),
    });
    cases.push(Case {
        label: format!("who-wants {TOPIC} --team"),
        args: vec![
            "who-wants".into(),
            TOPIC.into(),
            "--team".into(),
            "--json".into(),
        ],
        what: "who-wants",
        query: TOPIC.into(),
        explain: false,
        limit: 20,
        target: false,
        note: format!(
            "tag \"{TOPIC}\" {}; also a hobby in facts and summaries",
            reach_note(&tag_reach(TOPIC), total)
        ),
    });
    cases
}

// ---------------------------------------------------------------- measuring processes

struct Stats {
    min: f64,
    median: f64,
    p90: f64,
    max: f64,
}

/// Min, median (mean of the middle two for an even count), p90 (nearest
/// rank) and max of milliseconds.
fn stats(ms: &[f64]) -> Stats {
    let mut v = ms.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    let rank = (0.9 * n as f64).ceil() as usize;
    Stats {
        min: v[0],
        median,
        p90: v[rank.clamp(1, n) - 1],
        max: v[n - 1],
    }
}

struct Measured {
    stats: Stats,
    /// Contacts, paths or people returned.
    results: usize,
    /// who-knows: ledgers' records across the contacts returned.
    knowers: usize,
    rss: u64,
    floor: u64,
}

fn count_output(what: &str, out: &str) -> (usize, usize) {
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(out) else {
        return (0, 0);
    };
    let knowers = if what == "who-knows" {
        items
            .iter()
            .map(|c| c["known_by"].as_array().map_or(0, Vec::len))
            .sum()
    } else {
        0
    };
    (items.len(), knowers)
}

fn measure(r: &Runner, home: &Path, what: &str, args: &[&str], runs: usize) -> Measured {
    measure_after(r, home, what, args, runs, &|| {})
}

/// [`measure`], with `before` run ahead of every run (not timed).
fn measure_after(
    r: &Runner,
    home: &Path,
    what: &str,
    args: &[&str],
    runs: usize,
    before: &dyn Fn(),
) -> Measured {
    let timeout = Duration::from_secs(120);
    let mut first = None;
    for _ in 0..2 {
        before();
        let (s, out, err) = r.once(home, args, timeout);
        assert!(
            s.code == 0,
            "kith {} failed ({}): {}",
            args.join(" "),
            s.code,
            err.trim()
        );
        first.get_or_insert(count_output(what, &out));
    }
    let mut ms = Vec::with_capacity(runs);
    let (mut rss, mut floor) = (0, 0);
    for _ in 0..runs {
        before();
        let (s, _, err) = r.once(home, args, timeout);
        assert!(
            s.code == 0,
            "kith {} failed: {}",
            args.join(" "),
            err.trim()
        );
        ms.push(s.wall.as_secs_f64() * 1e3);
        rss = rss.max(s.rss);
        floor = floor.max(s.floor);
    }
    let (results, knowers) = first.expect("warm-up ran");
    let m = Measured {
        stats: stats(&ms),
        results,
        knowers,
        rss,
        floor,
    };
    eprintln!(
        "  {:<52} median {:>8.1} ms  p90 {:>8.1} ms  rss {:>6.1} MB  {} results",
        format!("{} {}", "kith", args.join(" ")),
        m.stats.median,
        m.stats.p90,
        mb(m.rss),
        m.results
    );
    m
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

// ---------------------------------------------------------------- in process

/// The own ledger and every replica, opened as `TeamLedgers::open` does.
struct Team {
    own: Ledger,
    me: String,
    replicas: Vec<Ledger>,
    /// (name, member id) of each replica's owner.
    owners: Vec<(String, String)>,
}

impl Team {
    /// Opens everything, adding each step's milliseconds to `steps`.
    fn open(viewer: &Path, steps: &mut BTreeMap<&'static str, Vec<f64>>) -> Team {
        let now: jiff::Timestamp = NOW.parse().expect("NOW");
        let opts = || OpenOptions {
            now,
            time_zone: jiff::tz::TimeZone::UTC,
            progress: &|_, _| {},
        };
        let mut step = |name: &'static str, t: Instant| {
            steps.entry(name).or_default().push(ms(t));
        };
        let all = Instant::now();
        let t = Instant::now();
        let own = Ledger::open(viewer, opts()).expect("open own ledger");
        step("own", t);
        let t = Instant::now();
        let me = Keys::load_or_create(viewer)
            .expect("keys")
            .member_id()
            .to_string();
        step("keys", t);
        let t = Instant::now();
        let roster = TeamDir::new(viewer).roster().expect("roster");
        step("roster", t);
        let t = Instant::now();
        let members: Vec<_> = roster
            .members()
            .into_iter()
            .filter(|m| m.id != me && kith::sync::replica_exists(viewer, &m.id))
            .collect();
        step("members", t);
        let t = Instant::now();
        let mut replicas = Vec::with_capacity(members.len());
        for m in &members {
            let home = kith::sync::replica_home(viewer, &m.id).expect("replica home");
            let one = Instant::now();
            replicas.push(Ledger::open(&home, opts()).expect("open replica"));
            step("one replica", one);
        }
        step("replicas", t);
        step("all", all);
        Team {
            own,
            me,
            replicas,
            owners: members.into_iter().map(|m| (m.name, m.id)).collect(),
        }
    }

    fn sources(&self) -> Vec<Source<'_>> {
        let mut out = vec![Source {
            owner: "you".into(),
            owner_id: Some(self.me.clone()),
            mine: true,
            index: self.own.index(),
        }];
        for (l, (name, id)) in self.replicas.iter().zip(&self.owners) {
            out.push(Source {
                owner: name.clone(),
                owner_id: Some(id.clone()),
                mine: false,
                index: l.index(),
            });
        }
        out
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// Asks one question; the number of answers.
fn ask(sources: &[Source<'_>], today: jiff::civil::Date, c: &Value) -> usize {
    let (what, query) = (
        c["what"].as_str().expect("what"),
        c["query"].as_str().expect("query"),
    );
    let explain = c["explain"].as_bool().unwrap_or(false);
    let limit = c["limit"].as_u64().unwrap_or(20) as usize;
    match what {
        "who-knows" => kith::knows::who_knows(sources, None, query, today, limit, explain)
            .expect("who_knows")
            .len(),
        "intro-path" => kith::knows::intro_paths(sources, query, today, limit)
            .expect("intro_paths")
            .len(),
        _ => kith::knows::who_wants(sources, None, query, today, limit)
            .expect("who_wants")
            .len(),
    }
}

/// The child's side of `--in-process VIEWER CASES RUNS`: the same work as
/// the CLI through the library, timed by step; a JSON report on stdout.
///
/// Opening and closing are timed `OPEN_ROUNDS` times. Each question is
/// timed twice over: "cold", the first question on freshly opened ledgers
/// (as in a `kith` process: SQLite's page cache is empty, statements are
/// prepared for the first time), `runs` times with a fresh open each; and
/// "warm", asked again and again on one set of open ledgers.
fn in_process(viewer: &Path, cases: &Value, runs: usize) {
    let mut steps: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    let mut sources_n = 0;
    for _ in 0..OPEN_ROUNDS {
        let team = Team::open(viewer, &mut steps);
        sources_n = team.sources().len();
        let files: Vec<PathBuf> = std::iter::once(team.own.home().join("index.sqlite"))
            .chain(team.replicas.iter().map(|l| l.home().join("index.sqlite")))
            .collect();
        let t = Instant::now();
        drop(team);
        steps.entry("close").or_default().push(ms(t));
        // For comparison: the same index files opened read-only with
        // nothing else, each answering one statement (which parses its
        // schema): the least 51 separate databases can cost.
        let t = Instant::now();
        let conns: Vec<rusqlite::Connection> = files
            .iter()
            .map(|f| {
                let c = rusqlite::Connection::open_with_flags(
                    f,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .expect("read-only open");
                c.query_row("SELECT count(*) FROM meta", [], |r| r.get::<_, i64>(0))
                    .expect("first statement");
                c
            })
            .collect();
        steps.entry("ro open").or_default().push(ms(t));
        let t = Instant::now();
        drop(conns);
        steps.entry("ro close").or_default().push(ms(t));
    }
    let mut out_cases = Vec::new();
    let mut ignored = BTreeMap::new();
    for c in cases.as_array().expect("cases") {
        let mut cold = Vec::with_capacity(runs);
        let mut close = Vec::with_capacity(runs);
        for _ in 0..runs {
            let team = Team::open(viewer, &mut ignored);
            let today = team.own.today();
            let sources = team.sources();
            let t = Instant::now();
            ask(&sources, today, c);
            cold.push(ms(t));
            drop(sources);
            let t = Instant::now();
            drop(team);
            close.push(ms(t));
        }
        let team = Team::open(viewer, &mut ignored);
        let today = team.own.today();
        let sources = team.sources();
        let mut results = 0;
        for _ in 0..2 {
            results = ask(&sources, today, c);
        }
        let mut warm = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            ask(&sources, today, c);
            warm.push(ms(t));
        }
        out_cases.push(json!({
            "label": c["label"], "cold": cold, "warm": warm, "close": close, "results": results,
        }));
    }
    let report = json!({
        "sources": sources_n,
        "steps": steps,
        "cases": out_cases,
        "rss_mb": mb(self_rss()),
    });
    println!("{report}");
}

struct InProcess {
    sources: usize,
    /// Opening (by step) and closing, `OPEN_ROUNDS` times.
    steps: BTreeMap<String, Stats>,
    /// By case label.
    cases: BTreeMap<String, LibCase>,
    rss_mb: f64,
}

struct LibCase {
    /// The first question on freshly opened ledgers.
    cold: Stats,
    /// The same question again on ledgers already open.
    warm: Stats,
    /// Dropping every ledger after the cold question.
    close: Stats,
    results: usize,
}

fn run_in_process(viewer: &Path, cases: &[Case], runs: usize, scratch: &Path) -> InProcess {
    let list: Vec<Value> = cases
        .iter()
        .map(|c| {
            json!({
                "label": c.label, "what": c.what, "query": c.query,
                "explain": c.explain, "limit": c.limit,
            })
        })
        .collect();
    let file = scratch.join("cases.json");
    fs::write(&file, serde_json::to_string(&list).expect("json")).expect("cases file");
    let out = Command::new(std::env::current_exe().expect("this bench"))
        .arg("--in-process")
        .arg(viewer)
        .arg(&file)
        .arg(runs.to_string())
        .env_remove("RUST_LOG")
        .output()
        .expect("run the in-process child");
    assert!(
        out.status.success(),
        "in-process child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("child's report");
    let floats = |v: &Value| -> Vec<f64> {
        v.as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    InProcess {
        sources: v["sources"].as_u64().unwrap_or(0) as usize,
        steps: v["steps"]
            .as_object()
            .expect("steps")
            .iter()
            .map(|(k, t)| (k.clone(), stats(&floats(t))))
            .collect(),
        cases: v["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .map(|c| {
                (
                    c["label"].as_str().unwrap_or("").to_string(),
                    LibCase {
                        cold: stats(&floats(&c["cold"])),
                        warm: stats(&floats(&c["warm"])),
                        close: stats(&floats(&c["close"])),
                        results: c["results"].as_u64().unwrap_or(0) as usize,
                    },
                )
            })
            .collect(),
        rss_mb: v["rss_mb"].as_f64().unwrap_or(0.0),
    }
}

// ---------------------------------------------------------------- report

/// The first replica directory of the viewer's home.
fn first_replica(viewer: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = fs::read_dir(viewer.join("replicas"))
        .expect("replicas")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    dirs.sort();
    dirs.into_iter().next().expect("a replica")
}

fn main() {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("--in-process") {
        let viewer = PathBuf::from(args.next().expect("viewer"));
        let cases: Value = serde_json::from_str(
            &fs::read_to_string(args.next().expect("cases file")).expect("cases"),
        )
        .expect("cases json");
        let runs = args.next().and_then(|r| r.parse().ok()).unwrap_or(20);
        in_process(&viewer, &cases, runs);
        return;
    }
    let o = parse_opts(std::env::args().skip(1));
    // Per process: two runs at once must not share output files.
    let scratch = o.out.join(format!("scratch-knows-{}", std::process::id()));
    fs::create_dir_all(&scratch).expect("scratch dir");
    let r = Runner {
        kith: o.kith.clone(),
        scratch: scratch.clone(),
    };
    let load_before = loadavg();
    let (viewer, meta) = data(&o, &r);
    let cases = choose_cases(&viewer, &o, &meta);

    eprintln!(
        "knows: {} runs per command after 2 warm-up runs, binary {}",
        o.runs,
        o.kith.display()
    );
    let version = measure(&r, &viewer, "", &["--version"], o.runs);
    let own_only = measure(
        &r,
        &viewer,
        "who-wants",
        &["who-wants", TOPIC, "--json"],
        o.runs,
    );
    // The team index: built from every replica by the first team question,
    // then copied again only for a replica that changed.
    let _ = fs::remove_file(viewer.join("team.sqlite"));
    let t = Instant::now();
    let (s, _, err) = r.once(
        &viewer,
        &["who-knows", NOBODY, "--json"],
        Duration::from_secs(600),
    );
    assert!(
        s.code == 0,
        "building the team index failed: {}",
        err.trim()
    );
    let build_ms = ms(t);
    eprintln!(
        "  team index built from {} replicas in {build_ms:.0} ms",
        o.members
    );
    let changed = first_replica(&viewer).join("ledger").join("generation");
    let one_changed = measure_after(
        &r,
        &viewer,
        "who-knows",
        &["who-knows", NOBODY, "--json"],
        o.runs.min(10),
        &|| {
            let _ = fs::remove_file(&changed);
        },
    );
    let mut measured = Vec::new();
    for c in &cases {
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        measured.push(measure(&r, &viewer, c.what, &args, o.runs));
    }
    eprintln!("knows: the same through the library, in a child process");
    let lib = run_in_process(&viewer, &cases, o.runs, &scratch);
    let load_after = loadavg();

    let report = render(&Report {
        o: &o,
        meta: &meta,
        viewer: &viewer,
        cases: &cases,
        measured: &measured,
        version: &version,
        own_only: &own_only,
        lib: &lib,
        load: (load_before, load_after),
        build_ms,
        one_changed: &one_changed,
    });
    print!("{report}");
    let path = o.target_dir.join("kith-bench").join("knows-results.md");
    fs::write(&path, &report).expect("write results");
    let _ = fs::remove_dir_all(&scratch);
    eprintln!("knows: written to {}", path.display());
}

struct Report<'a> {
    o: &'a Opts,
    meta: &'a Meta,
    viewer: &'a Path,
    cases: &'a [Case],
    measured: &'a [Measured],
    version: &'a Measured,
    own_only: &'a Measured,
    lib: &'a InProcess,
    load: (String, String),
    /// The first team question, building the team index from nothing.
    build_ms: f64,
    /// A question after one replica changed (copied again).
    one_changed: &'a Measured,
}

fn render(rep: &Report<'_>) -> String {
    let (o, lib) = (rep.o, rep.lib);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Team questions: {} teammates' replicas × {} people, plus the own ledger\n",
        o.members, o.people
    );
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(
        s,
        "- binary: `{}`, source {}\n- machine: {cores} cores, load average {} before, {} after; other builds may be running, so figures are noisy",
        o.kith.display(),
        git_state(),
        rep.load.0,
        rep.load.1
    );
    let teammates: Vec<&Value> = rep.meta.ledgers.iter().skip(1).collect();
    let mean = |f: &str| -> f64 {
        teammates.iter().filter_map(|x| x[f].as_u64()).sum::<u64>() as f64
            / teammates.len().max(1) as f64
    };
    let _ = writeln!(
        s,
        "- data: `{}` (built in {:.0} s). The own ledger and {} distinct teammate ledgers, each {} people, {} interactions, {:.0} relationships, {:.0} shared facts and {:.0} shared summaries on average; member m holds a copy of teammate ledger m mod {}, as sync delivers it (the shared part only: no private facts, summaries, phones or birthdays) with its own index. The roster: {} members with a device each, all signed. The CLI opened {} ledgers.",
        rep.viewer.display(),
        rep.meta.build_secs,
        o.distinct,
        o.people,
        o.people * PER_PERSON as usize,
        mean("links"),
        mean("shared_facts"),
        mean("shared_summaries"),
        o.distinct,
        o.members + 1,
        lib.sources
    );
    let _ = writeln!(
        s,
        "- every figure: KITH_NOW={NOW}, KITH_TZ=UTC, KITH_MDNS=off; a whole process is spawn to exit (wall clock), after 2 warm-up runs, {} runs; median = mean of the middle two, p90 = nearest rank; RSS = the child's ru_maxrss from wait4 (it cannot read below this bench's own RSS when it spawns, at most {:.1} MB)\n",
        o.runs,
        mb(rep
            .measured
            .iter()
            .map(|m| m.floor)
            .chain([rep.version.floor])
            .max()
            .unwrap_or(0))
    );

    let _ = writeln!(s, "## Whole processes\n");
    let _ = writeln!(
        s,
        "| command | results | knowers | min ms | median ms | p90 ms | max ms | peak RSS MB | ≤ {TARGET_MS:.0} ms | the query |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---|---|");
    let row = |s: &mut String, label: &str, m: &Measured, target: bool, note: &str| {
        let verdict = if !target {
            "—".to_string()
        } else if m.stats.median <= TARGET_MS {
            "PASS".into()
        } else {
            "**FAIL**".into()
        };
        let knowers = if m.knowers > 0 {
            m.knowers.to_string()
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "| `{label}` | {} | {knowers} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {verdict} | {note} |",
            m.results,
            m.stats.min,
            m.stats.median,
            m.stats.p90,
            m.stats.max,
            mb(m.rss),
        );
    };
    row(
        &mut s,
        "kith --version",
        rep.version,
        false,
        "process start, nothing opened",
    );
    row(
        &mut s,
        &format!("who-wants {TOPIC} (own ledger only)"),
        rep.own_only,
        false,
        "one ledger opened",
    );
    for (c, m) in rep.cases.iter().zip(rep.measured) {
        row(&mut s, &c.label, m, c.target, &c.note);
    }
    row(
        &mut s,
        &format!("who-knows \"{NOBODY}\" after one replica changed"),
        rep.one_changed,
        false,
        "that replica is copied into the team index again first (no daemon did it)",
    );
    let _ = writeln!(
        s,
        "\nwho-knows reads replicas through the team index (`team.sqlite`). The first team question on this home, with no team index yet, built it from all {} replicas in **{:.0} ms** (one run); after that a question copies again only the replicas that changed, as the row above shows, and a running daemon does that itself after each sync.",
        rep.o.members, rep.build_ms
    );

    let _ = writeln!(
        s,
        "\n## The same work through the library, in a child process\n"
    );
    let _ = writeln!(
        s,
        "Here every replica is opened on its own, as `intro-path`, `who-wants --team` and `who-knows --at` read them; who-knows itself reads replicas through the team index (the rows above), so its rows below show what that index saves. Opening every ledger as `TeamLedgers::open` does, then dropping them, {OPEN_ROUNDS} times (page cache warm):\n"
    );
    let _ = writeln!(s, "| step | min ms | median ms | p90 ms | max ms |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|");
    let step_names = [
        ("own", "`Ledger::open` of the own ledger".to_string()),
        ("keys", "`Keys::load_or_create`".into()),
        ("roster", "`TeamDir::roster` (read roster.json)".into()),
        (
            "members",
            "`Roster::members` (signature checks) + `replica_exists`".into(),
        ),
        (
            "replicas",
            format!(
                "`Ledger::open` of all {} replicas",
                lib.sources.saturating_sub(1)
            ),
        ),
        ("one replica", "… one replica's `Ledger::open`".into()),
        ("all", "all of the above".into()),
        (
            "close",
            "dropping them all (process exit does the same)".into(),
        ),
        (
            "ro open",
            "for comparison, no kith: `rusqlite` read-only open of the same index files + one statement each (parses the schema)".into(),
        ),
        ("ro close", "… and closing those".into()),
    ];
    for (key, label) in step_names {
        if let Some(t) = lib.steps.get(key) {
            let _ = writeln!(
                s,
                "| {label} | {:.2} | {:.2} | {:.2} | {:.2} |",
                t.min, t.median, t.p90, t.max
            );
        }
    }
    let _ = writeln!(
        s,
        "\nEach question alone: *cold* is the first question on freshly opened ledgers, as in a `kith` process ({} times, a fresh open each); *warm* is the same question again on ledgers already open ({} runs after 2 warm-up runs). The last columns set the whole process against the sum of its parts (process start from `kith --version`, the open median above, the cold question, closing); the rest is printing the JSON and what else the process does. The child's RSS at the end: {:.0} MB.\n",
        o.runs, o.runs, lib.rss_mb
    );
    let _ = writeln!(
        s,
        "| question | results | cold median ms | cold p90 ms | warm median ms | warm p90 ms | close ms | process median ms | start + open + cold + close ms | rest ms |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let open_ms = lib.steps.get("all").map_or(0.0, |t| t.median);
    let start_ms = rep.version.stats.median;
    for (c, m) in rep.cases.iter().zip(rep.measured) {
        if let Some(l) = lib.cases.get(&c.label) {
            let parts = start_ms + open_ms + l.cold.median + l.close.median;
            let _ = writeln!(
                s,
                "| `{}` | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
                c.label,
                l.results,
                l.cold.median,
                l.cold.p90,
                l.warm.median,
                l.warm.p90,
                l.close.median,
                m.stats.median,
                parts,
                m.stats.median - parts
            );
        }
    }

    let _ = writeln!(s, "\n## Verdict\n");
    let mut pass = 0;
    let mut total = 0;
    for (c, m) in rep.cases.iter().zip(rep.measured) {
        if !c.target {
            continue;
        }
        total += 1;
        pass += (m.stats.median <= TARGET_MS) as usize;
    }
    let worst = rep
        .cases
        .iter()
        .zip(rep.measured)
        .filter(|(c, _)| c.target)
        .max_by(|a, b| a.1.stats.median.total_cmp(&b.1.stats.median));
    let _ = writeln!(
        s,
        "who-knows ≤ {TARGET_MS:.0} ms (whole process, median): **{}** — {pass} of {total} queries meet it.{}",
        if pass == total { "PASS" } else { "FAIL" },
        worst
            .map(|(c, m)| format!(
                " Slowest: `{}` at {:.1} ms median ({:.1} ms p90), of which process start ≈ {:.1} ms, opening {} ledgers ≈ {:.1} ms, the question on them ≈ {:.1} ms (cold; {:.1} ms warm) and closing ≈ {:.1} ms.",
                c.label,
                m.stats.median,
                m.stats.p90,
                start_ms,
                lib.sources,
                open_ms,
                lib.cases.get(&c.label).map_or(0.0, |l| l.cold.median),
                lib.cases.get(&c.label).map_or(0.0, |l| l.warm.median),
                lib.cases.get(&c.label).map_or(0.0, |l| l.close.median),
            ))
            .unwrap_or_default()
    );
    s
}
