//! export and import: the JSONL round trip, privacy, idempotence, bad files.

use std::path::Path;

use serde_json::Value as Json;

use super::{Story, story};
use crate::common::{Home, strings};

/// Everything a user can read about a ledger through `--json`, as one value.
fn everything(h: &Home) -> Json {
    let people = h.json(&["list", "--json"]);
    let removed = h.json(&["list", "--removed", "--json"]);
    let companies = h.json(&["list", "--companies", "--json"]);
    let mut shown = Vec::new();
    for p in people
        .as_array()
        .unwrap()
        .iter()
        .chain(companies.as_array().unwrap())
    {
        shown.push(h.show(p["id"].as_str().unwrap()));
    }
    serde_json::json!({
        "people": people,
        "removed": removed,
        "companies": companies,
        "shown": shown,
        "today": h.json_at("2026-12-20", &["today", "--days", "200", "--json"]),
        "find": h.json(&["find", "miggins", "--json"]),
    })
}

/// The story, with a removed person, a note, a private link and a shared
/// interaction added, so every kind of record is in the export.
fn full_story() -> Story {
    let s = story();
    let h = &s.home;
    h.ok(&["note", "edna", "prefers calls before ten"]);
    h.ok(&[
        "note",
        "miggins & daughters",
        "refit in January",
        "--shared",
    ]);
    h.ok_at(
        "2026-11-28T10:00:00Z",
        &[
            "add",
            "Percy Pratt",
            "--phone",
            "07700 900123",
            "--tag",
            "cigars",
        ],
    );
    h.ok_at(
        "2026-11-28T10:01:00Z",
        &["link", "percy", "introduced-by", "edna", "--private"],
    );
    h.ok(&[
        "log",
        "edna",
        "percy",
        "Shop visit",
        "--channel",
        "visit",
        "--shared",
        "--date",
        "2026-11-27",
    ]);
    h.ok(&["add", "Gone Away"]);
    h.ok(&["rm", "gone away"]);
    s
}

/// `kith export -o HOME/NAME.jsonl EXTRA…`; returns the file and what was said.
fn export(h: &Home, name: &str, extra: &[&str]) -> (std::path::PathBuf, String) {
    let path = h.path().join(format!("{name}.jsonl"));
    let p = path.to_str().unwrap();
    let mut args = vec!["export", "--format", "jsonl", "-o", p];
    args.extend_from_slice(extra);
    let r = h.run(&args);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "");
    (path, r.stderr)
}

fn import(h: &Home, file: &Path) -> Json {
    h.json(&["import", file.to_str().unwrap(), "--json"])
}

/// An export's records, sorted, without the header line.
fn records(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut lines: Vec<String> = text.lines().skip(1).map(str::to_string).collect();
    lines.sort();
    lines
}

#[test]
fn export_then_import_is_a_round_trip() {
    let s = full_story();
    let (file, said) = export(&s.home, "export1", &[]);
    assert!(said.starts_with("exported "), "{said}");
    let text = std::fs::read_to_string(&file).unwrap();
    let header: Json = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(header["kith-export"], 1);
    assert_eq!(header["private"], true);
    let kinds: std::collections::BTreeSet<String> = text
        .lines()
        .skip(1)
        .map(|l| {
            serde_json::from_str::<Json>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            "company",
            "fact",
            "follow-up",
            "interaction",
            "link",
            "note",
            "person"
        ]
    );

    let fresh = Home::new();
    let summary = import(&fresh, &file);
    let n = records(&file).len();
    assert_eq!(summary[0]["file"], file.to_str().unwrap());
    assert_eq!(summary[0]["summary"]["created"], n);
    assert_eq!(summary[0]["summary"]["updated"], 0);
    assert_eq!(summary[0]["summary"]["unchanged"], 0);
    assert_eq!(summary[0]["summary"]["skipped"], serde_json::json!([]));
    assert_eq!(everything(&fresh), everything(&s.home));
    // And the imported ledger exports the same records.
    let (again, _) = export(&fresh, "export2", &[]);
    assert_eq!(records(&again), records(&file));
    // Export to standard output is the same file.
    let out = s.home.ok(&["export"]);
    assert_eq!(out, text);
}

#[test]
fn reimport_changes_nothing() {
    let s = full_story();
    let (file, _) = export(&s.home, "export3", &[]);
    let n = records(&file).len();
    // Into the ledger it came from.
    let before = s.home.ledger_files();
    let out = s.home.ok(&["import", file.to_str().unwrap()]);
    assert_eq!(
        out.trim(),
        format!(
            "{} (kith JSONL): 0 created, 0 merged, 0 updated, {n} unchanged, 0 skipped",
            file.display()
        )
    );
    assert_eq!(s.home.ledger_files(), before, "a no-op import wrote chunks");
    // Into a fresh ledger, twice.
    let fresh = Home::new();
    import(&fresh, &file);
    let view = everything(&fresh);
    let before = fresh.ledger_files();
    let summary = import(&fresh, &file);
    assert_eq!(summary[0]["summary"]["created"], 0);
    assert_eq!(summary[0]["summary"]["updated"], 0);
    assert_eq!(summary[0]["summary"]["unchanged"], n);
    assert_eq!(fresh.ledger_files(), before);
    assert_eq!(everything(&fresh), view);
}

#[test]
fn import_updates_what_changed() {
    let s = story();
    let (file, _) = export(&s.home, "export4", &[]);
    s.home.ok(&["set", "edna", "title", "Buyer"]);
    s.home.ok(&["set", "edna", "email", "edna@example.com"]);
    s.home.ok(&["add", "New Person"]);
    let (newer, _) = export(&s.home, "export5", &[]);
    let copy = Home::new();
    import(&copy, &file);
    let summary = import(&copy, &newer);
    assert_eq!(summary[0]["summary"]["created"], 1);
    assert_eq!(summary[0]["summary"]["updated"], 1);
    let edna = copy.show(&s.edna);
    assert_eq!(edna["title"], "Buyer");
    assert_eq!(
        strings(&edna["emails"], Some("value")),
        ["edna@miggins.co.uk", "edna@example.com"]
    );
    assert_eq!(everything(&copy), everything(&s.home));
}

/// Strings that only the private part holds in the full story.
const PRIVATE_STRINGS: [&str; 10] = [
    "01632",
    "960123",
    "--04-05",
    "Old Holborn",
    "daughter Daisy loves penny chews",
    "Phoned about the Christmas order",
    "Send a quote",
    "prefers calls before ten",
    "07700",
    "introduced-by",
];

#[test]
fn no_private_leaves_out_every_private_thing() {
    let s = full_story();
    let (file, said) = export(&s.home, "export6", &["--no-private"]);
    assert!(
        said.contains("private records or fields left out"),
        "{said}"
    );
    let text = std::fs::read_to_string(&file).unwrap();
    for secret in PRIVATE_STRINGS {
        assert!(
            !text.contains(secret),
            "{secret:?} in a --no-private export:\n{text}"
        );
    }
    assert!(!text.contains("\"private\":{"), "{text}");
    assert!(!text.contains("cadence_days"), "{text}");
    let header: Json = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(header["private"], false);
    // The shared part is all there.
    for shared in [
        "Edna Miggins",
        "edna@miggins.co.uk",
        "Owner",
        "Miggins & Daughters",
        "loves penny chews",
        "refit in January",
        "Shop visit",
        "spouse",
    ] {
        assert!(text.contains(shared), "{shared:?} missing:\n{text}");
    }
    let stdout = s.home.ok(&["export", "--no-private"]);
    for secret in PRIVATE_STRINGS {
        assert!(!stdout.contains(secret), "{secret:?} on stdout");
    }

    // Imported elsewhere, it is the shared part of the ledger and nothing more.
    let team = Home::new();
    import(&team, &file);
    let edna = team.show(&s.edna);
    assert_eq!(edna["name"], "Edna Miggins");
    assert_eq!(edna["company"], "Miggins & Daughters");
    assert_eq!(edna["title"], "Owner");
    assert_eq!(edna["emails"][0]["value"], "edna@miggins.co.uk");
    assert_eq!(edna["phones"], serde_json::json!([]));
    assert_eq!(edna["birthday"], Json::Null);
    assert_eq!(edna["keep_in_touch"], Json::Null);
    assert_eq!(edna["private"], serde_json::json!([]));
    assert_eq!(edna["facts"], serde_json::json!([]));
    assert_eq!(edna["follow_ups"], serde_json::json!([]));
    assert_eq!(edna["notes"], serde_json::json!([]));
    // That the call happened is shared; what was said is not.
    let calls = edna["interactions"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| c["private"] == false));
    let summaries: Vec<&Json> = calls.iter().map(|c| &c["summary"]).collect();
    assert_eq!(summaries, [&Json::from("Shop visit"), &Json::Null]);
    let relations: Vec<&str> = edna["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["relation"].as_str().unwrap())
        .collect();
    assert_eq!(relations, ["spouse", "child"]);
    assert_eq!(team.show("daisy")["facts"][0]["text"], "loves penny chews");
    let everything_shown = serde_json::to_string(&everything(&team)).unwrap();
    for secret in PRIVATE_STRINGS {
        assert!(
            !everything_shown.contains(secret),
            "{secret:?} reached the team ledger"
        );
    }
    // Its own export holds exactly the records of the --no-private one.
    let (again, _) = export(&team, "export7", &[]);
    assert_eq!(records(&again), records(&file));
    let (again_np, _) = export(&team, "export8", &["--no-private"]);
    assert_eq!(records(&again_np), records(&file));
    // And a second import of the same file changes nothing.
    let summary = import(&team, &file);
    assert_eq!(summary[0]["summary"]["created"], 0);
    assert_eq!(summary[0]["summary"]["updated"], 0);
}

#[test]
fn bad_lines_are_skipped_and_named() {
    let s = story();
    let (file, _) = export(&s.home, "export9", &[]);
    let good: Vec<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let mut lines = good.clone();
    lines.insert(2, "{this is not json".into());
    lines.insert(4, r#"{"kind":"person","id":"zz"}"#.into());
    lines.insert(5, "".into());
    lines.insert(
        6,
        r#"{"kind":"person","id":"abcdefghjkmnpqrs","shared":{"emails":"x"}}"#.into(),
    );
    lines.insert(
        7,
        r#"{"kind":"spaceship","id":"abcdefghjkmnpqrs","shared":{"name":"x"}}"#.into(),
    );
    lines.insert(8, r#"{"kind":"person","id":"abcdefghjkmnpqrs"}"#.into());
    let mixed = s.home.path().join("mixed.jsonl");
    std::fs::write(&mixed, lines.join("\n") + "\n").unwrap();
    let name = mixed.to_str().unwrap();

    let fresh = Home::new();
    let r = fresh.run(&["import", name]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let skipped: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(skipped.len(), 5, "{}", r.stderr);
    for (line, what) in [
        (3, "not JSON"),
        (5, "not a kith id"),
        (7, "'emails' must be an object"),
        (8, "not a kith record"),
        (9, "no fields"),
    ] {
        let prefix = format!("kith: skipped {name}:{line}: ");
        assert!(
            skipped
                .iter()
                .any(|l| l.starts_with(&prefix) && l.contains(what)),
            "no {prefix}…{what} in:\n{}",
            r.stderr
        );
    }
    assert_eq!(
        r.stdout.trim(),
        format!(
            "{name} (kith JSONL): {} created, 0 merged, 0 updated, 0 unchanged, 5 skipped",
            good.len() - 1
        )
    );
    // The good lines all came in.
    assert_eq!(everything(&fresh), everything(&s.home));
}

#[test]
fn a_file_that_cannot_be_imported_changes_nothing() {
    let s = story();
    let h = &s.home;
    let (file, _) = export(h, "export10", &[]);
    let good = std::fs::read(&file).unwrap();
    let before = h.ledger_files();
    let view = everything(h);
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_string()
    };

    let empty = write("empty.jsonl", b"");
    let e = h.error(&["import", &empty]);
    assert_eq!(e, format!("kith: error: {empty} is empty"));
    let blank = write("blank.jsonl", b"\n  \n\n");
    let e = h.error(&["import", &blank]);
    assert!(e.contains("is empty"), "{e}");

    // The kith binary itself: NUL bytes on the first line.
    let binary = write(
        "kith.jsonl",
        &std::fs::read(crate::common::kith_bin()).unwrap()[..4096],
    );
    let e = h.error(&["import", &binary]);
    assert!(e.contains(&format!("{binary}:1: binary data")), "{e}");
    // Good lines and then binary data: refused whole, nothing half-imported.
    let mut tail = good.clone();
    tail.extend_from_slice(b"\x00\x01\x02\xff\xfe\n");
    let tail = write("tail.jsonl", &tail);
    let n = std::str::from_utf8(&good).unwrap().lines().count() + 1;
    let e = h.error(&["import", &tail]);
    assert!(e.contains(&format!("{tail}:{n}: binary data")), "{e}");
    // Not JSON at all.
    let prose = write("prose.jsonl", b"Dear Edna,\nthe quote follows.\n");
    let e = h.error(&["import", &prose]);
    assert!(e.contains(&format!("{prose}:1: not JSON")), "{e}");
    let missing = dir.path().join("missing.jsonl");
    let e = h.error(&["import", missing.to_str().unwrap()]);
    assert!(e.contains("cannot read"), "{e}");

    assert_eq!(
        h.ledger_files(),
        before,
        "a refused import changed the ledger"
    );
    assert_eq!(everything(h), view);
    // Into an empty ledger, too: no records, no chunks.
    let fresh = Home::new();
    fresh.error(&["import", &tail]);
    fresh.error(&["import", &binary]);
    assert!(fresh.chunk_files().is_empty(), "{:?}", fresh.chunk_files());
}

#[test]
fn import_several_files_at_once() {
    let a = story();
    let b = Home::new();
    b.add(&["Walter Wholesale", "--email", "walter@wholesale.example"]);
    let (fa, _) = export(&a.home, "export11", &[]);
    let (fb, _) = export(&b, "export12", &[]);
    let both = Home::new();
    let summary = both.json(&[
        "import",
        fa.to_str().unwrap(),
        fb.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(summary.as_array().unwrap().len(), 2);
    assert_eq!(summary[1]["summary"]["created"], 1);
    let people = both.json(&["list", "--json"]);
    assert_eq!(people.as_array().unwrap().len(), 4);
    assert_eq!(
        both.show("walter@wholesale.example")["name"],
        "Walter Wholesale"
    );
}

/// A file of lines that are not UTF-8 is not empty: it is refused for
/// what it is, with the lines named.
#[test]
fn a_file_that_is_not_utf8_is_refused_for_what_it_is() {
    let h = Home::new();
    h.add(&["Edna Miggins"]);
    let before = h.ledger_files();
    let latin1 = h.path().join("latin1.jsonl");
    std::fs::write(&latin1, b"caf\xe9\n\xff\xfe\n").unwrap();
    let name = latin1.to_str().unwrap();
    let (code, stderr) = h.fails(&["import", name]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!("{name}:1: not UTF-8")),
        "the bad lines are not named:\n{stderr}"
    );
    assert!(
        !stderr.contains("is empty"),
        "a two-line file called empty:\n{stderr}"
    );
    assert_eq!(h.ledger_files(), before);
}
