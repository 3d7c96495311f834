//! `--json` that scripts can trust (issue 19): every JSON output has a JSON
//! Schema in docs/schema/, and the real output of every command, run on
//! populated homes (one alone, and two teammates syncing on 127.0.0.1), is
//! validated against it with the jsonschema crate. Also: every `--json`
//! flag in the CLI has a schema file, and every schema file is a valid,
//! versioned, self-contained draft 2020-12 schema.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::cli::story;
use crate::cli::team::{Daemon, wait_until};
use crate::common::{Home, NOW};

const SCHEMA_URL: &str = "https://json-schema.org/draft/2020-12/schema";
/// A schema's `$id`: `https://kith.invalid/schema/NAME/VERSION.json`.
const ID_PREFIX: &str = "https://kith.invalid/schema/";

/// The outputs `every_json_output_matches_its_schema` exercises in one home.
const SOLO: &[&str] = &[
    "add",
    "add-company",
    "fact",
    "note",
    "link",
    "log",
    "follow-up",
    "show",
    "list",
    "find",
    "history",
    "today",
    "dupes",
    "merge",
    "check",
    "id",
    "import",
    "export",
    "carddav-devices",
    "about",
    "who-knows",
    "intro-path",
    "who-wants",
    "team-members",
    "team-relays",
    "status",
];

/// The outputs `team_json_outputs_match_their_schemas` exercises.
const TEAM: &[&str] = &[
    "team-invite",
    "device-link",
    "sync",
    "status",
    "team-members",
    "team-relays",
    "list",
    "find",
    "show",
    "history",
    "who-knows",
    "intro-path",
    "who-wants",
    "adopt",
    "about",
    "check",
    "id",
];

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema")
}

/// Every `docs/schema/NAME.schema.json`, parsed, by NAME.
fn schema_files() -> BTreeMap<String, Json> {
    let dir = schema_dir();
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let Some(name) = file.strip_suffix(".schema.json") else {
            continue;
        };
        let text = std::fs::read_to_string(&path).expect("readable");
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("docs/schema/{file} is not JSON: {e}"));
        out.insert(name.to_string(), json);
    }
    out
}

/// Validates outputs against their schemas and remembers which were used.
struct Checker {
    /// Each schema and its validator, by name.
    validators: BTreeMap<String, (Json, jsonschema::Validator)>,
    used: BTreeSet<String>,
}

impl Checker {
    fn new() -> Checker {
        let validators = schema_files()
            .into_iter()
            .map(|(name, schema)| {
                let v = jsonschema::draft202012::new(&schema).unwrap_or_else(|e| {
                    panic!("docs/schema/{name}.schema.json is not a usable schema: {e}")
                });
                (name, (schema, v))
            })
            .collect();
        Checker {
            validators,
            used: BTreeSet::new(),
        }
    }

    /// Runs `kith ARGS` (which must succeed) and validates its stdout
    /// against docs/schema/SCHEMA.schema.json; returns the output.
    fn run(&mut self, home: &Home, schema: &str, args: &[&str]) -> Json {
        self.run_at(home, NOW, schema, args)
    }

    fn run_at(&mut self, home: &Home, now: &str, schema: &str, args: &[&str]) -> Json {
        let out = home.json_at(now, args);
        self.validate(schema, &format!("kith {}", args.join(" ")), &out);
        out
    }

    /// Runs `kith ARGS`, which may fail (`check` prints its report and
    /// then exits 1 naming what is damaged), and validates its stdout.
    fn run_may_fail(&mut self, home: &Home, schema: &str, args: &[&str]) -> Json {
        let r = home.run(args);
        let out = serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
            panic!(
                "kith {args:?} printed no JSON ({e}):\n{}\n{}",
                r.stdout, r.stderr
            )
        });
        self.validate(schema, &format!("kith {}", args.join(" ")), &out);
        out
    }

    fn validate(&mut self, schema: &str, what: &str, out: &Json) {
        let (json, validator) = self
            .validators
            .get(schema)
            .unwrap_or_else(|| panic!("{what}: there is no docs/schema/{schema}.schema.json"));
        let mut lines = Vec::new();
        for e in validator.iter_errors(out) {
            describe(json, "", out, &e, 1, &mut lines);
        }
        assert!(
            lines.is_empty(),
            "{what}: the output does not match docs/schema/{schema}.schema.json\n{}\noutput:\n{}",
            lines.join("\n"),
            serde_json::to_string_pretty(out).unwrap()
        );
        self.used.insert(schema.to_string());
    }

    fn assert_used(&self, expected: &[&str]) {
        let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
        let missed: Vec<&String> = expected.difference(&self.used).collect();
        assert!(
            missed.is_empty(),
            "no output was checked against {missed:?}"
        );
    }
}

/// One line per error: the JSON pointer into the output, what is wrong,
/// and where in the schema. For an anyOf or oneOf that nothing matched,
/// the output is checked against each alternative on its own and those
/// errors are listed below it, so a wrong field is named even inside a
/// choice. `schema` is the (sub)schema that `e` came from, `at` the pointer
/// of the value it was checked against.
fn describe(
    schema: &Json,
    at: &str,
    out: &Json,
    e: &jsonschema::ValidationError<'_>,
    depth: usize,
    lines: &mut Vec<String>,
) {
    let pad = "  ".repeat(depth);
    let mut text = e.to_string();
    if text.chars().count() > 200 {
        text = text.chars().take(200).collect::<String>() + "…";
    }
    let pointer = format!("{at}{}", e.instance_path().as_str());
    let shown = if pointer.is_empty() {
        "(root)"
    } else {
        &pointer
    };
    let keyword = e.schema_path().as_str();
    lines.push(format!("{pad}at {shown}: {text} (schema {keyword})"));
    use jsonschema::error::ValidationErrorKind as K;
    if !matches!(e.kind(), K::AnyOf { .. } | K::OneOfNotValid { .. }) {
        return;
    }
    let (Some(alternatives), Some(value)) = (
        schema.pointer(keyword).and_then(Json::as_array),
        out.pointer(&pointer),
    ) else {
        return;
    };
    for (i, alternative) in alternatives.iter().enumerate() {
        let mut alone = alternative.clone();
        if let (Some(a), Some(defs)) = (alone.as_object_mut(), schema.get("$defs")) {
            a.insert("$defs".into(), defs.clone());
        }
        let Ok(v) = jsonschema::draft202012::new(&alone) else {
            continue;
        };
        lines.push(format!("{pad}  alternative {i} ({keyword}/{i}):"));
        for b in v.iter_errors(value) {
            describe(&alone, &pointer, out, &b, depth + 2, lines);
        }
    }
}

/// A vCard file of two people, and a folder of one.
fn address_books(home: &Home) -> (PathBuf, PathBuf) {
    let file = home.path().join("book.vcf");
    std::fs::write(
        &file,
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Mabel Stark\r\nN:Stark;Mabel;;;\r\nEMAIL;TYPE=work:mabel@circus.example\r\nORG:Big Top Ltd\r\nEND:VCARD\r\n\
         BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Lou Jacobs\r\nN:Jacobs;Lou;;;\r\nTEL;TYPE=cell:+44 7700 900123\r\nEND:VCARD\r\n",
    )
    .unwrap();
    let dir = home.path().join("vdir");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("otto.vcf"),
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:otto-1\r\nFN:Otto Griebling\r\nEMAIL:otto@circus.example\r\nEND:VCARD\r\n",
    )
    .unwrap();
    (file, dir)
}

#[test]
fn every_json_output_matches_its_schema() {
    let mut c = Checker::new();
    let s = story();
    let h = &s.home;

    c.run(
        h,
        "add",
        &[
            "add",
            "Raj Patel",
            "--email",
            "raj@patel.example",
            "--anniversary",
            "2001-12-25",
            "--tag",
            "wine",
            "--private",
            "--json",
        ],
    );
    c.run(
        h,
        "add-company",
        &["add-company", "Lagos Freight", "--json"],
    );
    c.run(h, "fact", &["fact", "raj", "collects Bordeaux", "--json"]);
    c.run(
        h,
        "note",
        &["note", "edna", "wants a bigger order", "--shared", "--json"],
    );
    c.run(h, "link", &["link", "raj", "friend", "edna", "--json"]);
    c.run(
        h,
        "log",
        &[
            "log",
            "edna",
            "raj",
            "Lunch at the shop",
            "--channel",
            "lunch",
            "--date",
            "2026-11-27",
            "--inbound",
            "--json",
        ],
    );
    c.run(
        h,
        "follow-up",
        &[
            "follow-up",
            "raj",
            "Send the wine list",
            "--due",
            "+3d",
            "--json",
        ],
    );

    // A person, a company, one as the ledger held them on a past day.
    let edna = c.run(h, "show", &["show", "edna", "--json"]);
    assert_eq!(
        edna["interactions"].as_array().map(Vec::len),
        Some(2),
        "{edna}"
    );
    c.run(h, "show", &["show", &s.company, "--json"]);
    c.run_at(
        h,
        "2026-12-01",
        "show",
        &["show", "edna", "--at", "2026-11-28", "--json"],
    );

    // Listings: people, by tag, companies, removed people.
    let all = c.run(h, "list", &["list", "--json"]);
    assert!(all.as_array().is_some_and(|a| a.len() >= 4), "{all}");
    c.run(h, "list", &["list", "--tag", "sweets", "--json"]);
    c.run(h, "list", &["list", "--companies", "--json"]);
    let gone = h.add(&["Dora Dormer"]);
    h.ok(&["rm", &gone]);
    let removed = c.run(h, "list", &["list", "--removed", "--json"]);
    assert_eq!(removed.as_array().map(Vec::len), Some(1), "{removed}");

    let found = c.run(h, "find", &["find", "miggins", "--json"]);
    assert!(found.as_array().is_some_and(|a| a.len() >= 3), "{found}");
    c.run(h, "history", &["history", "edna", "--json"]);

    // Weeks on: the quote is overdue, Edna is due a call, birthdays and
    // an anniversary with a year come up.
    let today = c.run_at(
        h,
        "2026-12-20",
        "today",
        &["today", "--days", "120", "--json"],
    );
    for list in ["occasions", "follow_ups", "keep_in_touch"] {
        assert!(
            today[list].as_array().is_some_and(|a| !a.is_empty()),
            "{list} is empty: {today}"
        );
    }

    // A second record of Edna: found as a duplicate, then merged.
    let twin = h.add(&["Edna Migins", "--email", "edna@miggins.co.uk"]);
    let dupes = c.run(h, "dupes", &["dupes", "--json"]);
    assert!(dupes.as_array().is_some_and(|a| !a.is_empty()), "{dupes}");
    c.run(h, "merge", &["merge", &s.edna, &twin, "--json"]);

    c.run(h, "check", &["check", "--json"]);
    c.run(h, "id", &["id", "--json"]);

    // Imports: a file, a dry run, a folder, and a backup read back.
    let (file, dir) = address_books(h);
    let (file, dir) = (file.to_str().unwrap(), dir.to_str().unwrap());
    c.run(h, "import", &["import", file, "--dry-run", "--json"]);
    c.run(h, "import", &["import", file, dir, "--json"]);
    let backup = h.path().join("backup.jsonl");
    h.ok(&["export", "-o", backup.to_str().unwrap()]);
    c.run(h, "import", &["import", backup.to_str().unwrap(), "--json"]);

    // A vdir written, then written again beside a card that is not kith's.
    let vdir = h.path().join("contacts");
    let vdir = vdir.to_str().unwrap();
    let first = c.run(h, "export", &["export", "--vdir", vdir, "--json"]);
    assert!(first["written"].as_u64().is_some_and(|n| n > 0), "{first}");
    std::fs::write(
        Path::new(vdir).join("mine.vcf"),
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:not-kith\r\nFN:Someone Else\r\nEND:VCARD\r\n",
    )
    .unwrap();
    let again = c.run(h, "export", &["export", "--vdir", vdir, "--json"]);
    assert!(
        again["foreign"].as_array().is_some_and(|f| f.len() == 1),
        "{again}"
    );

    h.ok(&["carddav", "pair", "Anna's iPhone"]);
    let devices = c.run(h, "carddav-devices", &["carddav", "devices", "--json"]);
    assert_eq!(devices.as_array().map(Vec::len), Some(1), "{devices}");

    c.run(h, "about", &["about", "edna", "--format", "json"]);

    // Team questions with no team: the own ledger alone.
    c.run(h, "who-knows", &["who-knows", "miggins", "--json"]);
    c.run(
        h,
        "who-knows",
        &["who-knows", "#sweets", "--explain", "--json"],
    );
    c.run(h, "intro-path", &["intro-path", "daisy", "--json"]);
    c.run(h, "who-wants", &["who-wants", "wine", "--json"]);
    c.run(h, "team-members", &["team", "members", "--json"]);
    c.run(h, "team-relays", &["team", "relays", "--json"]);
    c.run(h, "status", &["status", "--json"]);

    // A damaged chunk: check quarantines it and says where it went.
    let chunk = h.chunk_files().pop().expect("a chunk");
    let mut bytes = std::fs::read(&chunk).unwrap();
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..] {
        *b ^= 0x5a;
    }
    std::fs::write(&chunk, bytes).unwrap();
    let damaged = c.run_may_fail(h, "check", &["check", "--json"]);
    assert!(
        damaged["quarantined"]
            .as_array()
            .is_some_and(|q| !q.is_empty()),
        "{damaged}"
    );

    c.assert_used(SOLO);
}

#[test]
fn team_json_outputs_match_their_schemas() {
    let mut c = Checker::new();
    let s = story();
    let alice = &s.home;
    let bob = Home::new();
    alice.ok(&["team", "create", "acme", "--as", "alice"]);
    // A relay named with an address nothing listens on: `team relays` has
    // something to list, and no one can use it.
    let _daemon = Daemon::start(alice, &["--relay", "--external", "/ip4/127.0.0.1/tcp/9"]);
    let ticket = c.run(alice, "team-invite", &["team", "invite", "--json"]);
    let ticket = ticket["ticket"].as_str().expect("a ticket").to_string();
    bob.ok(&["team", "join", &ticket, "--as", "bob"]);
    c.run(alice, "device-link", &["device", "link", "--json"]);

    // Bob knows Edna too, and has spoken to her.
    bob.add(&[
        "Edna Miggins",
        "--email",
        "edna@miggins.co.uk",
        "--tag",
        "sweets",
    ]);
    bob.ok(&[
        "log",
        "edna",
        "Sold her a till",
        "--date",
        "2026-11-20",
        "--shared",
    ]);

    let sync = c.run(
        &bob,
        "sync",
        &["sync", "--no-mdns", "--wait", "10s", "--json"],
    );
    assert!(
        sync["peers"].as_array().is_some_and(|p| !p.is_empty()),
        "{sync}"
    );
    assert!(
        wait_until(20, || {
            let r = bob.run(&["list", "--team", "--json"]);
            r.code == Some(0) && r.stdout.contains("\"owner\": \"alice\"")
        }),
        "alice's ledger never reached bob"
    );
    assert!(
        wait_until(20, || bob
            .ok(&["team", "relays", "--json"])
            .contains("\"member\"")),
        "the relay never reached bob's roster"
    );

    c.run(&bob, "team-relays", &["team", "relays", "--json"]);
    c.run(&bob, "team-members", &["team", "members", "--json"]);
    c.run(&bob, "status", &["status", "--json"]);
    let st = c.run(alice, "status", &["status", "--json"]);
    assert_eq!(st["daemon"], true, "{st}");
    c.run(&bob, "id", &["id", "--json"]);

    c.run(&bob, "list", &["list", "--team", "--json"]);
    c.run(&bob, "list", &["list", "--team", "--companies", "--json"]);
    let hits = c.run(&bob, "find", &["find", "miggins", "--team", "--json"]);
    assert!(
        hits.as_array()
            .is_some_and(|a| a.iter().any(|h| h["owner"] == "alice")),
        "{hits}"
    );
    c.run(&bob, "show", &["show", "alice/edna", "--json"]);
    c.run(
        &bob,
        "show",
        &["show", "alice/Miggins & Daughters", "--json"],
    );
    c.run(&bob, "history", &["history", "edna", "--team", "--json"]);

    let knows = c.run(
        &bob,
        "who-knows",
        &["who-knows", "edna", "--explain", "--json"],
    );
    assert!(
        knows[0]["known_by"]
            .as_array()
            .is_some_and(|k| k.len() == 2),
        "{knows}"
    );
    c.run(&bob, "intro-path", &["intro-path", "daisy", "--json"]);
    c.run(
        &bob,
        "who-wants",
        &["who-wants", "sweets", "--team", "--json"],
    );

    let adopted = c.run(&bob, "adopt", &["adopt", "alice/albert", "--all", "--json"]);
    assert_eq!(adopted["created"], true, "{adopted}");
    // What adopt copied carries where it came from.
    let albert = c.run(&bob, "show", &["show", "albert", "--json"]);
    assert!(albert["adopted_from"].is_object(), "{albert}");
    c.run(
        &bob,
        "about",
        &["about", "edna", "--team", "--format", "json"],
    );
    let check = c.run(&bob, "check", &["check", "--json"]);
    assert!(
        check["replicas"].as_array().is_some_and(|r| !r.is_empty()),
        "{check}"
    );

    c.assert_used(TEAM);
}

/// The commands whose manual page shows a `--json` flag, or `json` among
/// a `--format`'s values: `team-members` for `kith team members`. The
/// pages are made from clap's own command tree, so a `--json` added
/// anywhere shows here.
fn json_commands() -> BTreeSet<String> {
    let home = Home::new();
    let dir = home.path().join("man");
    home.ok(&["man", "--out", dir.to_str().unwrap()]);
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let Some(name) = file
            .strip_prefix("kith-")
            .and_then(|f| f.strip_suffix(".1"))
        else {
            assert!(
                !std::fs::read_to_string(&path)
                    .unwrap()
                    .contains("\\-\\-json\\fR"),
                "{file} shows a --json flag: name its schema in tests/cli/schema.rs"
            );
            continue;
        };
        let page = std::fs::read_to_string(&path).unwrap();
        let flag = page.contains("\\fB\\-\\-json\\fR");
        let format = page.lines().any(|l| l.starts_with("json:"));
        if flag || format {
            out.insert(name.to_string());
        }
    }
    out
}

#[test]
fn every_json_flag_has_a_schema_and_every_schema_a_command() {
    let commands = json_commands();
    assert!(
        commands.len() >= 25,
        "only {} commands with --json found: {commands:?}",
        commands.len()
    );
    let schemas: BTreeSet<String> = schema_files().into_keys().collect();
    let missing: Vec<String> = commands
        .difference(&schemas)
        .map(|c| {
            format!(
                "`kith {}` (docs/schema/{c}.schema.json)",
                c.replace('-', " ")
            )
        })
        .collect();
    assert!(
        missing.is_empty(),
        "these commands print JSON with no schema: {}",
        missing.join(", ")
    );
    let stale: Vec<&String> = schemas.difference(&commands).collect();
    assert!(
        stale.is_empty(),
        "docs/schema/ has schemas for no command's --json: {stale:?}"
    );
    // And the tests above check a real output against each.
    let tested: BTreeSet<String> = SOLO.iter().chain(TEAM).map(|s| s.to_string()).collect();
    let untested: Vec<&String> = schemas.difference(&tested).collect();
    assert!(
        untested.is_empty(),
        "no test runs the command for {untested:?}: add it to SOLO or TEAM"
    );
}

/// Every `$ref` in a schema, with where it is.
fn refs(v: &Json, at: String, out: &mut Vec<(String, String)>) {
    match v {
        Json::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    out.push((at.clone(), x.as_str().unwrap_or("").to_string()));
                } else {
                    refs(x, format!("{at}/{k}"), out);
                }
            }
        }
        Json::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                refs(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn schemas_are_valid_versioned_and_self_contained() {
    let files = schema_files();
    assert!(!files.is_empty(), "no schema in docs/schema/");
    let readme = std::fs::read_to_string(schema_dir().join("README.md"))
        .expect("docs/schema/README.md explains the schemas and their versions");
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/USER-GUIDE.md"))
            .unwrap();
    // A shared part ($defs/NAME) must read the same in every schema that
    // copies it: (first file holding it, its text).
    let mut defs: BTreeMap<String, (String, Json)> = BTreeMap::new();
    for (name, schema) in &files {
        let file = format!("docs/schema/{name}.schema.json");
        if let Err(e) = jsonschema::meta::validate(schema) {
            panic!(
                "{file} is not a valid JSON Schema: at {}: {e}",
                e.instance_path().as_str()
            );
        }
        assert_eq!(schema["$schema"], SCHEMA_URL, "{file}: $schema");
        let id = schema["$id"].as_str().unwrap_or_default();
        let version = id
            .strip_prefix(ID_PREFIX)
            .and_then(|r| r.strip_prefix(name.as_str()))
            .and_then(|r| r.strip_prefix('/'))
            .and_then(|r| r.strip_suffix(".json"))
            .and_then(|v| v.parse::<u32>().ok());
        assert!(
            version.is_some_and(|v| v >= 1),
            "{file}: $id is {id:?}, not {ID_PREFIX}{name}/VERSION.json"
        );
        for (title, key) in [("title", "title"), ("description", "description")] {
            assert!(
                schema[key].as_str().is_some_and(|t| !t.is_empty()),
                "{file} has no {title}"
            );
        }
        // Self-contained: any validator reads it without fetching.
        let mut found = Vec::new();
        refs(schema, String::new(), &mut found);
        for (at, r) in found {
            let target = r.strip_prefix("#/$defs/");
            assert!(
                target.is_some_and(|t| schema["$defs"].get(t).is_some()),
                "{file}: $ref {r:?} at {at} is not one of its own $defs"
            );
        }
        if let Some(own) = schema["$defs"].as_object() {
            for (def, body) in own {
                match defs.get(def) {
                    Some((first, same)) => assert_eq!(
                        same, body,
                        "$defs/{def} differs between docs/schema/{first}.schema.json and {file}: a shared part must read the same everywhere"
                    ),
                    None => {
                        defs.insert(def.clone(), (name.clone(), body.clone()));
                    }
                }
            }
        }
        let link = format!("{name}.schema.json");
        assert!(
            readme.contains(&link),
            "docs/schema/README.md does not list {link}"
        );
        assert!(
            guide.contains(&format!("schema/{link}")),
            "docs/USER-GUIDE.md does not link {link}"
        );
    }
}
