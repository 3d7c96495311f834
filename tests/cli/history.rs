//! history: interactions and every change, newest first.

use serde_json::Value as Json;

use super::story;
use crate::common::Home;

/// The event whose summary is `summary`.
fn event<'a>(events: &'a Json, summary: &str) -> &'a Json {
    events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["summary"] == summary)
        .unwrap_or_else(|| panic!("no event {summary:?} in {events:#}"))
}

fn details(e: &Json) -> Vec<String> {
    e["details"]
        .as_array()
        .map(|d| d.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn history_shows_every_change() {
    let s = story();
    let h = &s.home;
    h.ok_at("2026-11-29T10:00:00Z", &["set", "edna", "title", "Buyer"]);
    h.ok_at("2026-11-29T10:05:00Z", &["unset", "edna", "tag", "tobacco"]);
    h.ok_at("2026-11-30T08:00:00Z", &["done", &s.quote[..8]]);
    h.ok_at("2026-12-01T08:00:00Z", &["rm", "edna"]);
    h.ok_at("2026-12-01T08:01:00Z", &["restore", "edna"]);
    let events = h.json(&["history", "edna", "--json"]);
    let list = events.as_array().unwrap();
    // Newest first.
    let ats: Vec<&str> = list.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = ats.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ats, sorted);
    assert_eq!(list[0]["summary"], "restore Edna Miggins");
    assert_eq!(list[0]["at"], "2026-12-01T08:01:00");
    assert_eq!(list[1]["summary"], "remove Edna Miggins");

    let title = event(&events, "set title of Edna Miggins");
    assert_eq!(title["kind"], "change");
    assert_eq!(title["at"], "2026-11-29T10:00:00");
    assert_eq!(details(title), ["title: Buyer"]);
    assert_eq!(title["private"], false);
    assert!(title["device"].is_string(), "{title}");
    assert!(title["actor"].is_string(), "{title}");
    assert_eq!(
        details(event(&events, "unset tags of Edna Miggins")),
        ["tag tobacco removed"]
    );
    let added = details(event(&events, "add Edna Miggins"));
    for d in [
        "name: Edna Miggins",
        "title: Owner",
        "email edna@miggins.co.uk (shop) added",
        "tag sweets added",
        "birthday: --04-05 (private)",
        "phone 01632 960123 (shop) added (private)",
    ] {
        assert!(added.contains(&d.to_string()), "{d:?} not in {added:?}");
    }
    let call = event(
        &events,
        "call with Edna Miggins: Phoned about the Christmas order",
    );
    assert_eq!(call["kind"], "interaction");
    assert_eq!(call["at"], "2026-11-24");
    assert_eq!(call["private"], true);
    let cadence = event(&events, "set cadence_days of Edna Miggins");
    assert_eq!(details(cadence), ["cadence_days: 21"]);
    assert_eq!(cadence["private"], true);
    let quote = event(&events, "follow-up for Edna Miggins");
    assert_eq!(
        details(quote),
        [format!(
            "follow-up {}: due: 2026-12-04, text: Send a quote for the Christmas order",
            &s.quote[..8]
        )]
    );
    event(&events, "follow-up done");
    let facts = details(event(&events, "fact about Edna Miggins"));
    assert!(
        facts
            .iter()
            .any(|d| d.contains("husband Albert smokes Old Holborn")),
        "{facts:?}"
    );

    let limited = h.json(&["history", "edna", "--limit", "2", "--json"]);
    assert_eq!(limited.as_array().unwrap().len(), 2);
    assert_eq!(limited[0]["summary"], "restore Edna Miggins");

    let text = h.ok(&["history", "edna", "--limit", "3"]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("2026-12-01 08:01  restore Edna Miggins on "),
        "{text}"
    );
    assert_eq!(lines[1], "      deleted removed", "{text}");
    assert!(text.contains("  remove Edna Miggins on "), "{text}");
    let all = h.ok(&["history", "edna"]);
    assert!(
        all.contains(
            "2026-11-24  call with Edna Miggins: Phoned about the Christmas order [private]\n"
        ),
        "{all}"
    );
}

#[test]
fn history_of_the_person_who_made_a_link() {
    let s = story();
    let events = s.home.json(&["history", "daisy", "--json"]);
    let link = event(&events, "link Daisy Miggins child Edna Miggins");
    assert!(
        details(link).iter().any(|d| d.contains("relation: child")),
        "{link}"
    );
}

/// A relationship is part of both people's record, and `show` lists it on
/// both sides; so does the timeline.
#[test]
fn history_of_the_other_side_of_a_link() {
    let s = story();
    let events = s.home.json(&["history", "edna", "--json"]);
    let summaries: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert!(
        summaries.contains(&"link Daisy Miggins child Edna Miggins"),
        "Edna's history lacks the link Daisy made: {summaries:#?}"
    );
}

#[test]
fn history_of_someone_unknown_fails() {
    let s = story();
    let e = s.home.error(&["history", "nobody-at-all"]);
    assert!(e.contains("no one matches"), "{e}");
}

/// `show --at DATE`: the record as the ledger held it at the end of that
/// day, read from the automerge history; later changes, items and removals
/// are not in it.
#[test]
fn show_at_a_past_day_reads_the_record_as_it_was() {
    let home = Home::new();
    home.ok_at(
        "2026-11-01T10:00:00Z",
        &["add", "Edna Miggins", "--title", "Buyer"],
    );
    home.ok_at("2026-11-03T10:00:00Z", &["set", "edna", "title", "Owner"]);
    home.ok_at("2026-11-04T10:00:00Z", &["fact", "edna", "likes humbugs"]);
    home.ok_at("2026-11-04T11:00:00Z", &["add", "Daisy Miggins"]);
    home.ok_at("2026-11-04T12:00:00Z", &["link", "daisy", "child", "edna"]);
    home.ok_at("2026-11-05T10:00:00Z", &["rm", "edna"]);

    let at = |day: &str| home.json(&["show", "edna", "--at", day, "--json"]);
    let day2 = at("2026-11-02");
    assert_eq!(day2["title"], "Buyer");
    assert_eq!(day2["facts"], serde_json::json!([]));
    assert_eq!(day2["relationships"], serde_json::json!([]));
    assert_eq!(at("2026-11-03")["title"], "Owner");
    let day4 = at("2026-11-04");
    assert_eq!(day4["facts"][0]["text"], "likes humbugs");
    assert_eq!(day4["relationships"][0]["person"], "Daisy Miggins");
    assert_eq!(day4["deleted"], false);
    assert_eq!(at("2026-11-05")["deleted"], true);
    let human = home.ok(&["show", "edna", "--at", "2026-11-02"]);
    assert!(
        human.starts_with("as of 2026-11-02 (end of day)"),
        "{human}"
    );
    assert!(
        human.contains("Buyer") && !human.contains("humbugs"),
        "{human}"
    );
    let err = home.error(&["show", "edna", "--at", "2026-10-31"]);
    assert!(err.contains("not in the ledger yet on 2026-10-31"), "{err}");
    let err = home.error(&["show", "edna", "--at", "someday"]);
    assert!(err.contains("--at someday"), "{err}");
}
