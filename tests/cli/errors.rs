//! Bad input: ambiguous and unknown names, bad dates, cadences and emails,
//! usage errors. Each fails with the right status, says so in one line, and
//! leaves the ledger as it was.

use std::os::fd::{FromRawFd, OwnedFd};

use super::story;
use crate::common::{Home, one_line_error};

#[test]
fn an_ambiguous_name_lists_the_candidates() {
    let h = Home::new();
    let edna = h.add(&["Edna Miggins", "--company", "Corner Shop"]);
    let daisy = h.add(&["Daisy Miggins"]);
    let before = h.ledger_files();
    for args in [
        vec!["show", "miggins"],
        vec!["fact", "miggins", "likes toffee"],
        vec!["set", "miggins", "title", "Owner"],
        vec!["log", "miggins", "a call"],
        vec!["rm", "miggins"],
    ] {
        let (code, stderr) = h.fails(&args);
        assert_eq!(code, 1, "{args:?}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(
            lines[0], "kith: error: 'miggins' could be more than one; name one of:",
            "{args:?}: {stderr}"
        );
        let mut candidates = lines[1..].to_vec();
        candidates.sort();
        assert_eq!(
            candidates,
            [
                format!("  Daisy Miggins {}", &daisy[..8]),
                format!("  Edna Miggins (Corner Shop) {}", &edna[..8]),
            ],
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(h.ledger_files(), before, "a failed command wrote");
    // More of the name, or the id, settles it.
    assert_eq!(h.show("edna miggins")["id"], edna.as_str());
    assert_eq!(h.show(&daisy[..6])["id"], daisy.as_str());
}

#[test]
fn two_people_with_one_name() {
    let h = Home::new();
    let first = h.add(&["Edna Miggins", "--email", "edna@miggins.co.uk"]);
    let second = h.add(&["Edna Miggins", "--email", "edna@elsewhere.example"]);
    let (code, stderr) = h.fails(&["show", "Edna Miggins"]);
    assert_eq!(code, 1);
    assert_eq!(stderr.lines().count(), 3, "{stderr}");
    assert!(
        stderr.contains(&format!("  Edna Miggins {}\n", &first[..8])),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("  Edna Miggins {}\n", &second[..8])),
        "{stderr}"
    );
    assert_eq!(h.show("edna@elsewhere.example")["id"], second.as_str());
    assert_eq!(h.show(&first[..8])["id"], first.as_str());
    assert_eq!(h.show(&first)["id"], first.as_str());
}

#[test]
fn an_unknown_person_is_an_error() {
    let s = story();
    let h = &s.home;
    let before = h.ledger_files();
    for args in [
        vec!["show", "Zebedee Quux"],
        vec!["set", "zebedee", "title", "x"],
        vec!["unset", "zebedee", "title"],
        vec!["fact", "zebedee", "x"],
        vec!["note", "zebedee", "x"],
        vec!["log", "edna", "zebedee", "x"],
        vec!["link", "edna", "friend", "zebedee"],
        vec!["follow-up", "zebedee", "x", "--due", "friday"],
        vec!["keep-in-touch", "zebedee", "--every", "1w"],
        vec!["history", "zebedee"],
        vec!["rm", "zebedee"],
        vec!["restore", "zebedee"],
        vec!["list", "--company", "Nobody Ltd"],
    ] {
        let e = h.error(&args);
        assert!(e.contains("no one matches"), "{args:?}: {e}");
    }
    let e = h.error(&["done", "0000"]);
    assert!(
        e.contains("no follow-up has an id starting with '0000'"),
        "{e}"
    );
    assert_eq!(h.ledger_files(), before, "a failed command wrote");
}

#[test]
fn bad_dates_cadences_and_emails() {
    let s = story();
    let h = &s.home;
    let before = h.ledger_files();
    let cases: &[(&[&str], &str)] = &[
        (
            &["add", "X", "--birthday", "1961-02-30"],
            "'1961-02-30' is not a date",
        ),
        (
            &["add", "X", "--birthday", "--13-01"],
            "'--13-01' is not a date",
        ),
        (&["add", "X", "--birthday", "next week"], "is not a date"),
        (
            &["add", "X", "--anniversary", "1961-02-29"],
            "is not a date",
        ),
        (&["set", "edna", "birthday", "5th April"], "is not a date"),
        (
            &["follow-up", "edna", "x", "--due", "someday"],
            "'someday' is not a date",
        ),
        (
            &["log", "edna", "x", "--date", "the other day"],
            "is not a date",
        ),
        (
            &["fact", "edna", "x", "--learned", "2026-13-01"],
            "is not a date",
        ),
        (
            &["keep-in-touch", "edna", "--every", "often"],
            "'often' is not a cadence",
        ),
        (
            &["keep-in-touch", "edna", "--every", "0d"],
            "is not a cadence",
        ),
        (
            &["keep-in-touch", "edna", "--every", "3"],
            "is not a cadence",
        ),
        (
            &["keep-in-touch", "edna", "--every", "11y"],
            "is not a cadence",
        ),
        (
            &["set", "edna", "keep-in-touch", "3 fortnights"],
            "is not a cadence",
        ),
        (
            &["add", "X", "--email", "edna.miggins.co.uk"],
            "'edna.miggins.co.uk' is not an email address",
        ),
        (
            &["add", "X", "--email", "edna @miggins.co.uk"],
            "is not an email address",
        ),
        (
            &["set", "edna", "email", "nope"],
            "'nope' is not an email address",
        ),
        (&["add", "X", "--phone", "call me"], "is not a phone number"),
        (&["add", "   "], "a person needs a name"),
        (&["add-company", " "], "a company needs a name"),
        (&["set", "edna", "company", " "], "a company needs a name"),
        (&["log", "edna", "   "], "the summary is empty"),
        (
            &["follow-up", "edna", "", "--due", "friday"],
            "the follow-up is empty",
        ),
        (&["link", "daisy", " ", "edna"], "the relationship is empty"),
    ];
    for (args, message) in cases {
        let e = h.error(args);
        assert!(
            e.contains(message),
            "kith {args:?}: expected {message:?}, got {e}"
        );
    }
    assert_eq!(h.ledger_files(), before, "a failed command wrote");
    assert_eq!(h.json(&["list", "--json"]).as_array().unwrap().len(), 3);
}

#[test]
fn usage_errors_exit_2() {
    let s = story();
    let h = &s.home;
    let before = h.ledger_files();
    for args in [
        vec!["add", "X", "--bogus"],
        vec!["show", "edna", "--frobnicate"],
        vec!["frobnicate"],
        vec![],
        vec!["add"],
        vec!["log", "edna"],
        vec!["keep-in-touch", "edna"],
        vec!["keep-in-touch", "edna", "--every", "3w", "--stop"],
        vec!["follow-up", "edna", "x"],
        vec!["fact", "edna", "x", "--shared", "--private"],
        vec!["list", "--companies", "--tag", "x"],
        vec!["today", "--days", "many"],
        vec!["export", "--format", "xml"],
        vec!["import"],
        vec!["--color", "sometimes", "list"],
    ] {
        let (code, stderr) = h.fails(&args);
        assert_eq!(code, 2, "kith {args:?}: {stderr}");
        assert!(!stderr.contains("kith: error:"), "{stderr}");
    }
    assert_eq!(h.ledger_files(), before);
    // --help and --version are not errors.
    assert!(h.ok(&["--help"]).contains("today"));
    assert!(h.ok(&["--version"]).starts_with("kith "));
}

/// A lookup given nothing to look for is a usage error, not an empty
/// answer: `kith find ""` used to print "nothing matches ''" and exit 0.
#[test]
fn an_empty_or_meaningless_lookup_is_a_usage_error() {
    let s = story();
    let h = &s.home;
    let before = h.ledger_files();
    for args in [
        vec!["find", ""],
        vec!["find", "   "],
        vec!["find", "?!"],
        vec!["show", ""],
        vec!["history", " "],
        vec!["note", "", "hello"],
        vec!["set", "", "title", "Owner"],
        vec!["who-knows", "#"],
        vec!["who-knows", ""],
        vec!["who-wants", ""],
        vec!["intro-path", ""],
        vec!["export", "--format", "vcard", ""],
    ] {
        let r = h.run(&args);
        assert_eq!(r.code, Some(2), "kith {args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "kith {args:?} printed {}", r.stdout);
        assert!(
            r.stderr.contains("nothing to look for") || r.stderr.contains("no letter or digit"),
            "kith {args:?}: {}",
            r.stderr
        );
    }
    assert_eq!(h.ledger_files(), before);
    // Something to look for is still looked for.
    assert!(h.ok(&["find", "edna"]).contains("Edna Miggins"));
    assert!(h.ok(&["show", "edna"]).contains("Edna Miggins"));
}

#[test]
fn a_bad_environment_is_one_line() {
    let h = Home::new();
    let r = h.run_at("last Christmas", &["list"]);
    assert_eq!(r.code, Some(1));
    let e = one_line_error(&r.stderr);
    assert!(e.contains("KITH_NOW='last Christmas' is not a time"), "{e}");
    let r = h
        .command(&["list"])
        .env("KITH_TZ", "Mars/Olympus_Mons")
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    let e = one_line_error(&String::from_utf8_lossy(&r.stderr));
    assert!(e.contains("is not a time zone"), "{e}");
    // A broken config.toml names itself.
    std::fs::write(
        h.path().join("config.toml"),
        "[privacy]\nfacts = \"secret\"\n",
    )
    .unwrap();
    let e = h.error(&["list"]);
    assert!(e.contains("config.toml"), "{e}");
    std::fs::write(
        h.path().join("config.toml"),
        "[privacy]\nshare_fields = [\"shoe_size\"]\n",
    )
    .unwrap();
    let e = h.error(&["list"]);
    assert!(e.contains("'shoe_size' is not a person field"), "{e}");
}

#[test]
fn config_changes_where_new_things_go() {
    let h = Home::new();
    std::fs::write(
        h.path().join("config.toml"),
        "[privacy]\nfacts = \"shared\"\nsummaries = \"shared\"\nrelationships = \"private\"\nshare_fields = [\"phones\"]\nprivate_fields = [\"emails\"]\n",
    )
    .unwrap();
    h.add(&[
        "Edna Miggins",
        "--phone",
        "01632 960123",
        "--email",
        "edna@miggins.co.uk",
    ]);
    h.add(&["Albert Miggins"]);
    h.ok(&["fact", "edna", "likes toffee"]);
    h.ok(&["log", "edna", "a call"]);
    h.ok(&["link", "albert", "spouse", "edna"]);
    let edna = h.show("edna");
    assert_eq!(edna["private"], serde_json::json!(["emails"]));
    assert_eq!(edna["facts"][0]["private"], false);
    assert_eq!(edna["interactions"][0]["private"], false);
    assert_eq!(edna["relationships"][0]["private"], true);
}

/// `kith … | head -1`: the reader goes away. kith must not panic.
#[test]
fn a_closed_stdout_is_not_a_crash() {
    let s = story();
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe(2) to fill.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: pipe(2) just returned these descriptors; each is owned once.
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    let out = s
        .home
        .command(&["show", "edna", "--json"])
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "kith panicked:\n{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
}
