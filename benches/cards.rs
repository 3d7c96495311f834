//! Address-book cards benchmark (`kith::cards`, the core of CardDAV) over a
//! 100,000-person ledger.
//!
//! ```text
//! cargo bench --bench cards                       # 100k people
//! cargo bench --bench cards -- --people 10000
//! cargo bench --bench cards -- --reuse            # keep the imported ledger
//! ```
//!
//! What it does, in this process through the library: writes the
//! deterministic JSONL ledger `kith_bench` uses and imports it (as
//! `kith import` does) into an empty home, then times: building the book
//! from nothing (every card computed and hashed), a refresh with nothing
//! changed, a refresh after one CLI-style edit, `changes_since` with that
//! one change, streaming the whole listing (PROPFIND Depth 1), a multiget
//! of 100 cards spread over the book, a text query on FN, and a phone's
//! PUT of an unchanged card. Figures go to stdout and to
//! `<target>/kith-bench/cards-results.md`; the issue's targets (50 ms for a
//! sync with one change and for a multiget of 100) are reported, not
//! asserted.

use std::fmt::Write as _;
use std::fs;
use std::io::BufReader;
use std::path::PathBuf;
use std::time::Instant;

use kith::cards::{Book, Prop, TextMatch};
use kith::import::{Input, import_file};
use kith::{Ledger, OpenOptions};

#[path = "common/mod.rs"]
mod common;
use common::*;

struct Opts {
    people: usize,
    out: PathBuf,
    reuse: bool,
}

fn parse_opts() -> Opts {
    let target = target_dir();
    let mut opts = Opts {
        people: 100_000,
        out: target.join("kith-bench").join("cards"),
        reuse: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| panic!("{name} needs a value"))
        };
        match arg.as_str() {
            "--people" => opts.people = value("--people").parse().expect("a count"),
            "--out" => opts.out = PathBuf::from(value("--out")),
            "--reuse" => opts.reuse = true,
            "--bench" => {}
            other => panic!("unknown flag {other}; cards [--people N] [--out DIR] [--reuse]"),
        }
    }
    opts
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn open(home: &std::path::Path) -> Ledger {
    Ledger::open(
        home,
        OpenOptions {
            now: "2026-11-28T09:00:00Z".parse().expect("a time"),
            time_zone: jiff::tz::TimeZone::UTC,
            progress: &|_, _| {},
        },
    )
    .expect("open the ledger")
}

fn main() {
    let opts = parse_opts();
    let home = opts.out.join(format!("home-{}", opts.people));
    let mut figures: Vec<(String, String)> = Vec::new();
    let mut note = |what: &str, value: String| {
        println!("{what:<48} {value}");
        figures.push((what.to_string(), value));
    };

    let imported = home.join("index.sqlite").exists() && opts.reuse;
    if !imported {
        let _ = fs::remove_dir_all(&home);
        fs::create_dir_all(&opts.out).expect("bench dir");
        let file = opts.out.join(format!("people-{}.jsonl", opts.people));
        generate(&file, opts.people, 42).expect("generate");
        let mut ledger = open(&home);
        let t = Instant::now();
        let mut reader = BufReader::new(fs::File::open(&file).expect("open jsonl"));
        import_file(
            &mut ledger,
            "people.jsonl",
            Input::Reader(&mut reader),
            None,
            None,
            false,
            &|_, _| {},
        )
        .expect("import");
        note(
            "import (setup, not a card figure)",
            format!("{:.1} s", ms(t) / 1000.0),
        );
    }
    let mut ledger = open(&home);

    Book::remove(&home);
    let t = Instant::now();
    let mut book = Book::open(&home).expect("open book");
    let built = book.refresh(&ledger).expect("build");
    note(
        "build of the book from nothing",
        format!(
            "{:.2} s ({} cards, {} shards)",
            ms(t) / 1000.0,
            built.changed,
            built.shards
        ),
    );

    let t = Instant::now();
    book.refresh(&ledger).expect("refresh");
    note("refresh with nothing changed", format!("{:.1} ms", ms(t)));

    let token = book.sync_token().expect("token");
    let t = Instant::now();
    let all = book.changes_since("").expect("all");
    note(
        "changes_since(empty token): every card",
        format!("{:.1} ms ({} cards)", ms(t), all.changed.len()),
    );

    let t = Instant::now();
    let mut bytes = 0usize;
    let n = book
        .list(|href, etag| bytes += href.len() + etag.len())
        .expect("list");
    note(
        "list (PROPFIND Depth 1), streamed",
        format!(
            "{:.1} ms ({n} cards, {} kB of href+etag)",
            ms(t),
            bytes / 1000
        ),
    );

    // One CLI-style edit of someone in the middle of the book.
    let (href, _) = &all.changed[all.changed.len() / 2];
    let (person, _) = book.person(href).expect("person").expect("known");
    let who = ledger.entity(&person).expect("entity");
    ledger
        .set_field(&who, "title", "Head of benchmarks", None)
        .expect("edit");
    let t = Instant::now();
    let r = book.refresh(&ledger).expect("refresh");
    let refresh_ms = ms(t);
    note(
        "refresh after one edit",
        format!(
            "{refresh_ms:.1} ms ({} shard, {} cards computed, {} changed)",
            r.shards, r.computed, r.changed
        ),
    );
    let t = Instant::now();
    let one = book.changes_since(&token).expect("changes");
    let since_ms = ms(t);
    note(
        "changes_since with one change",
        format!("{since_ms:.2} ms ({} changed)", one.changed.len()),
    );
    note(
        "sync with one change: refresh + changes_since",
        format!("{:.1} ms (goal 50 ms)", refresh_ms + since_ms),
    );

    let step = (all.changed.len() / 100).max(1);
    let hrefs: Vec<&str> = all
        .changed
        .iter()
        .step_by(step)
        .take(100)
        .map(|(h, _)| h.as_str())
        .collect();
    let t = Instant::now();
    let cards = book.multiget(&ledger, &hrefs).expect("multiget");
    let found = cards.iter().filter(|(_, c)| c.is_some()).count();
    let card_bytes: usize = cards
        .iter()
        .filter_map(|(_, c)| c.as_ref())
        .map(|c| c.text.len())
        .sum();
    note(
        "multiget (get) of 100 cards",
        format!(
            "{:.1} ms ({found} found, {} kB; goal 50 ms)",
            ms(t),
            card_bytes / 1000
        ),
    );

    let name = who.str("name").unwrap_or("").to_string();
    let family = name.split_whitespace().last().unwrap_or("x").to_string();
    let t = Instant::now();
    let hits = book
        .query(&ledger, &[TextMatch::contains(Prop::Fn, &name)], false, 50)
        .expect("query");
    note(
        "query FN contains a full name",
        format!("{:.1} ms ({} cards)", ms(t), hits.len()),
    );
    let t = Instant::now();
    let hits = book
        .query(
            &ledger,
            &[TextMatch::contains(Prop::Fn, &family)],
            false,
            50,
        )
        .expect("query");
    note(
        "query FN contains a family name (limit 50)",
        format!("{:.1} ms ({} cards)", ms(t), hits.len()),
    );

    let c = book.get(&ledger, href).expect("get").expect("card");
    let t = Instant::now();
    let out = book
        .apply_put(
            &mut ledger,
            href,
            &c.text,
            Some(&c.etag),
            false,
            "bench phone",
        )
        .expect("put");
    note(
        "PUT of an unchanged card",
        format!("{:.1} ms (changed: {})", ms(t), out.changed),
    );
    let edited = c.text.replace("Head of benchmarks", "Chief of benchmarks");
    let t = Instant::now();
    let out = book
        .apply_put(
            &mut ledger,
            href,
            &edited,
            Some(&c.etag),
            false,
            "bench phone",
        )
        .expect("put");
    note(
        "PUT of an edited card (write + refresh)",
        format!("{:.1} ms (changed: {})", ms(t), out.changed),
    );
    let size: u64 = ["", "-wal"]
        .iter()
        .filter_map(|s| fs::metadata(format!("{}{s}", Book::path(&home).display())).ok())
        .map(|m| m.len())
        .sum();
    note("cards.sqlite size", format!("{:.1} MB", size as f64 / 1e6));
    note(
        "RSS of this process",
        format!("{:.0} MB", self_rss() as f64 / 1e6),
    );

    let mut md = String::new();
    let _ = writeln!(md, "# cards benchmark, {} people\n", opts.people);
    let _ = writeln!(md, "{} · load {}\n", git_state(), loadavg());
    let _ = writeln!(md, "| measure | figure |\n|---|---|");
    for (what, value) in &figures {
        let _ = writeln!(md, "| {what} | {value} |");
    }
    let results = opts
        .out
        .parent()
        .unwrap_or(&opts.out)
        .join("cards-results.md");
    fs::write(&results, md).expect("write results");
    println!("figures written to {}", results.display());
}
