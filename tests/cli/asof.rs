//! `kith show WHO --at DATE`: a record as the ledger held it at the end of a
//! past day, read from the automerge history. Edits are made on different
//! days with the clock pinned; the questions are asked on 2026-11-28.

use serde_json::Value as Json;

use super::team::{Daemon, team_hits, team_of, wait_until};
use crate::common::Home;

/// A moment on a November 2026 day, for `ok_at`.
fn on(day: u32) -> String {
    format!("2026-11-{day:02}T10:00:00Z")
}

/// `show WHO --at DAY --json`.
fn show_at(home: &Home, who: &str, day: &str) -> Json {
    home.json(&["show", who, "--at", day, "--json"])
}

/// Edna is added on the 1st as a buyer, becomes the owner on the 3rd, a fact
/// is learned on the 4th and she is removed on the 5th.
fn edna_over_five_days() -> Home {
    let home = Home::new();
    home.ok_at(&on(1), &["add", "Edna Miggins", "--title", "Buyer"]);
    home.ok_at(&on(3), &["set", "edna", "title", "Owner"]);
    home.ok_at(&on(4), &["fact", "edna", "likes humbugs"]);
    home.ok_at(&on(5), &["rm", "edna"]);
    home
}

#[test]
fn a_person_reads_as_they_were_at_the_end_of_each_day() {
    let home = edna_over_five_days();
    let day2 = show_at(&home, "edna", "2026-11-02");
    assert_eq!(day2["name"], "Edna Miggins");
    assert_eq!(day2["title"], "Buyer");
    assert_eq!(day2["facts"], serde_json::json!([]));
    assert_eq!(day2["deleted"], false);
    assert_eq!(show_at(&home, "edna", "2026-11-03")["title"], "Owner");
    let day4 = show_at(&home, "edna", "2026-11-04");
    assert_eq!(day4["facts"][0]["text"], "likes humbugs", "{day4}");
    assert_eq!(day4["deleted"], false);
    // Removed on the 5th: shown as they were, removed, though plain `show`
    // no longer finds them.
    assert_eq!(show_at(&home, "edna", "2026-11-05")["deleted"], true);
    let e = home.error(&["show", "edna"]);
    assert!(e.contains("was removed"), "{e}");
    // The other date forms: 24 days before the 28th is the 4th.
    assert_eq!(show_at(&home, "edna", "-24d"), day4);
    assert_eq!(show_at(&home, "edna", "yesterday")["deleted"], true);

    // Human output: the day first, then the record as `show` prints it.
    let human = home.ok(&["show", "edna", "--at", "2026-11-02"]);
    let first = human.lines().next().unwrap_or_default();
    assert_eq!(first, "as of 2026-11-02 (end of day)", "{human}");
    assert!(human.contains("Edna Miggins"), "{human}");
    assert!(human.contains("Buyer"), "{human}");
    assert!(
        !human.contains("Owner") && !human.contains("humbugs"),
        "{human}"
    );
}

#[test]
fn before_they_were_added_there_is_no_one_and_bad_dates_are_refused() {
    let home = edna_over_five_days();
    let e = home.error(&["show", "edna", "--at", "2026-10-31"]);
    assert!(e.contains("Edna Miggins"), "{e}");
    assert!(e.contains("not in the ledger yet on 2026-10-31"), "{e}");
    let e = home.error(&["show", "edna", "--at", "2026-10-31", "--json"]);
    assert!(e.contains("not in the ledger yet"), "{e}");
    // Someone no one has ever heard of: the usual answer.
    let e = home.error(&["show", "nobody-at-all", "--at", "2026-11-02"]);
    assert!(e.contains("no one matches"), "{e}");
    // A malformed day names the flag, exits 1 like other date flags.
    let e = home.error(&["show", "edna", "--at", "someday"]);
    assert!(e.contains("--at someday"), "{e}");
    assert!(e.contains("is not a date"), "{e}");
    let e = home.error(&["show", "edna", "--at", "2026-02-30"]);
    assert!(e.contains("--at 2026-02-30"), "{e}");
    // Today and later days hold everything: the record as it is now, with
    // no "as of" line.
    let now = show_at(&home, "edna", "today");
    assert_eq!(now["title"], "Owner");
    assert_eq!(now["deleted"], true);
    assert_eq!(show_at(&home, "edna", "2027-06-01"), now);
    let human = home.ok(&["show", "edna", "--at", "2027-06-01"]);
    assert!(!human.contains("as of"), "{human}");
    assert!(human.starts_with("Edna Miggins"), "{human}");
}

/// Relationships and interactions recorded from someone else's side live in
/// that person's shard; names and companies shown are those of the day.
#[test]
fn relationships_interactions_and_names_added_later_are_absent_earlier() {
    let home = Home::new();
    home.ok_at(&on(1), &["add", "Edna Miggins", "--company", "Acme"]);
    home.ok_at(&on(1), &["add", "Albert Miggins"]);
    home.ok_at(&on(2), &["link", "albert", "spouse", "edna"]);
    home.ok_at(
        &on(3),
        &[
            "log",
            "albert",
            "edna",
            "Christmas order",
            "-c",
            "visit",
            "-d",
            "2026-11-03",
        ],
    );
    home.ok_at(
        &on(4),
        &["follow-up", "edna", "send the quote", "--due", "2026-11-20"],
    );
    home.ok_at(&on(5), &["set", "albert", "name", "Bert Miggins"]);
    home.ok_at(&on(5), &["set", "edna", "company", "Globex"]);

    let day1 = show_at(&home, "edna", "2026-11-01");
    assert_eq!(day1["company"], "Acme", "{day1}");
    assert_eq!(day1["relationships"], serde_json::json!([]));
    assert_eq!(day1["interactions"], serde_json::json!([]));
    assert_eq!(day1["follow_ups"], serde_json::json!([]));
    assert_eq!(day1["last_contact"], Json::Null);

    let day2 = show_at(&home, "edna", "2026-11-02");
    assert_eq!(
        day2["relationships"][0]["person"], "Albert Miggins",
        "{day2}"
    );
    assert_eq!(day2["relationships"][0]["relation"], "spouse");
    assert_eq!(day2["interactions"], serde_json::json!([]));

    let day3 = show_at(&home, "edna", "2026-11-03");
    let with: Vec<&str> = day3["interactions"][0]["with"]
        .as_array()
        .unwrap_or_else(|| panic!("no interaction: {day3}"))
        .iter()
        .filter_map(Json::as_str)
        .collect();
    assert_eq!(with, ["Albert Miggins", "Edna Miggins"], "{day3}");
    assert!(
        day3["last_contact"]
            .as_str()
            .is_some_and(|d| d.starts_with("2026-11-03")),
        "{day3}"
    );
    assert_eq!(day3["follow_ups"], serde_json::json!([]));

    let day4 = show_at(&home, "edna", "2026-11-04");
    assert_eq!(day4["follow_ups"][0]["text"], "send the quote", "{day4}");
    assert_eq!(day4["relationships"][0]["person"], "Albert Miggins");
    assert_eq!(day4["company"], "Acme");

    // Albert's new name and Edna's new company from the 5th on.
    let day5 = show_at(&home, "edna", "2026-11-05");
    assert_eq!(day5["relationships"][0]["person"], "Bert Miggins", "{day5}");
    assert_eq!(day5["company"], "Globex");
    // Albert, read from his side, under the name he had then.
    let albert = show_at(&home, "bert", "2026-11-02");
    assert_eq!(albert["name"], "Albert Miggins", "{albert}");
    assert_eq!(albert["relationships"][0]["person"], "Edna Miggins");

    // A company lists the people who worked there on the day.
    let acme = show_at(&home, "acme", "2026-11-04");
    assert_eq!(crate::common::names(&acme["people"]), ["Edna Miggins"]);
    let acme_now = home.json(&["show", "acme", "--json"]);
    assert_eq!(acme_now["people"], serde_json::json!([]), "{acme_now}");
    let e = home.error(&["show", "globex", "--at", "2026-11-04"]);
    assert!(e.contains("not in the ledger yet on 2026-11-04"), "{e}");
}

/// `show` derives only the shards around the person; the whole ledger as of
/// the same moment must say exactly the same about them, for everyone on
/// every day, through merges, renames and moves between companies.
#[test]
fn the_shards_around_a_person_say_what_the_whole_ledger_says() {
    let home = Home::new();
    let names = [
        "Edna Miggins",
        "Albert Miggins",
        "Daisy Miggins",
        "Sam Baker",
        "Rita Skeeter",
        "Colin Goodins",
        "Edna Migins",
    ];
    for (i, name) in names.iter().enumerate() {
        let company = ["Acme", "Globex", "Initech"][i % 3];
        home.ok_at(&on(1 + i as u32 % 3), &["add", name, "--company", company]);
    }
    home.ok_at(&on(3), &["link", "albert", "spouse", "edna miggins"]);
    home.ok_at(&on(3), &["link", "daisy", "child", "edna miggins"]);
    home.ok_at(&on(4), &["link", "sam", "friend", "rita"]);
    home.ok_at(
        &on(4),
        &["log", "sam", "rita", "colin", "lunch", "-c", "meeting"],
    );
    home.ok_at(
        &on(5),
        &["log", "daisy", "edna migins", "sweets", "-c", "visit"],
    );
    home.ok_at(
        &on(5),
        &["fact", "edna migins", "likes humbugs", "--shared"],
    );
    home.ok_at(
        &on(6),
        &["follow-up", "colin", "call back", "--due", "2026-12-01"],
    );
    home.ok_at(&on(6), &["set", "rita", "company", "Acme"]);
    home.ok_at(&on(7), &["merge", "edna miggins", "edna migins"]);
    home.ok_at(&on(8), &["set", "sam", "name", "Samuel Baker"]);
    home.ok_at(&on(8), &["rm", "colin"]);
    home.ok_at(
        &on(9),
        &["log", "albert", "samuel", "pub quiz", "-c", "meeting"],
    );

    let ledger = kith::Ledger::open(
        home.path(),
        kith::OpenOptions {
            now: "2026-11-28T10:00:00Z".parse().unwrap(),
            time_zone: jiff::tz::TimeZone::UTC,
            progress: &|_, _| {},
        },
    )
    .expect("the ledger opens");
    let everyone = ledger
        .index()
        .ids("SELECT id FROM people ORDER BY id", [])
        .unwrap();
    assert_eq!(everyone.len(), names.len());
    let detail = kith::view::Detail::Full { interactions: 10 };
    let mut compared = 0;
    for day in 0..=10 {
        let date = jiff::civil::date(2026, 10, 31) + jiff::Span::new().days(day);
        let at = kith::asof::end_of_day(date, &jiff::tz::TimeZone::UTC).unwrap();
        let whole = kith::asof::index_at(&ledger, at).unwrap();
        for id in &everyone {
            let around = kith::asof::index_around(&ledger, at, id).unwrap();
            let (a, w) = (
                around.index().entity(id).unwrap(),
                whole.index().entity(id).unwrap(),
            );
            assert_eq!(a.is_some(), w.is_some(), "{id} on {date}");
            let (Some(a), Some(w)) = (a, w) else { continue };
            let a = serde_json::to_value(kith::view::person(around.index(), &a, detail).unwrap());
            let w = serde_json::to_value(kith::view::person(whole.index(), &w, detail).unwrap());
            assert_eq!(a.unwrap(), w.unwrap(), "{id} on {date}");
            compared += 1;
        }
    }
    // Nobody on the 31st; everyone from the 3rd.
    assert!(compared > 50, "only {compared} comparisons");
}

/// MEMBER/WHO --at reads a teammate's replica (only its shared part holds
/// anything) as it stood then: changes keep their times through sync.
#[test]
fn a_teammates_record_as_it_was() {
    let (alice, bob) = (Home::new(), Home::new());
    alice.ok_at(&on(1), &["add", "Edna Miggins", "--title", "Buyer"]);
    alice.ok_at(&on(3), &["set", "edna", "title", "Owner"]);
    alice.ok_at(&on(4), &["fact", "edna", "likes humbugs", "--shared"]);
    let _a = team_of(&alice, &[(&bob, "bob")]);
    let _b = Daemon::start(&bob, &[]);
    assert!(
        wait_until(20, || {
            team_hits(&bob, "edna").contains(&("Edna Miggins".into(), "alice".into()))
                && bob
                    .run(&["show", "alice/edna", "--json"])
                    .stdout
                    .contains("humbugs")
        }),
        "Edna never reached bob"
    );
    let day2 = show_at(&bob, "alice/edna", "2026-11-02");
    assert_eq!(day2["owner"], "alice", "{day2}");
    assert_eq!(day2["title"], "Buyer");
    assert_eq!(day2["facts"], serde_json::json!([]));
    let day4 = show_at(&bob, "alice/edna", "2026-11-04");
    assert_eq!(day4["title"], "Owner");
    assert_eq!(day4["facts"][0]["text"], "likes humbugs", "{day4}");
    let human = bob.ok(&["show", "alice/edna", "--at", "2026-11-02"]);
    let mut lines = human.lines();
    assert_eq!(
        lines.next(),
        Some("as of 2026-11-02 (end of day)"),
        "{human}"
    );
    assert!(
        lines
            .next()
            .is_some_and(|l| l.starts_with("from alice's ledger")),
        "{human}"
    );
    let e = bob.error(&["show", "alice/edna", "--at", "2026-10-31"]);
    assert!(e.contains("not in the ledger yet on 2026-10-31"), "{e}");
    // Bob's own ledger never had her.
    let e = bob.error(&["show", "edna", "--at", "2026-11-04"]);
    assert!(e.contains("no one matches"), "{e}");
}
