//! fact, note, link, log, follow-up, done, keep-in-touch.

use serde_json::{Value as Json, json};

use super::story;
use crate::common::{Home, names, strings};

/// One relationship as a person's `show --json` lists it: (relation, name).
fn relations(person: &Json) -> Vec<(String, String)> {
    person["relationships"]
        .as_array()
        .expect("show lists relationships")
        .iter()
        .map(|r| {
            (
                r["relation"].as_str().unwrap().to_string(),
                r["person"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pair(relation: &str, person: &str) -> (String, String) {
    (relation.to_string(), person.to_string())
}

#[test]
fn relationships_read_from_both_sides() {
    let s = story();
    let h = &s.home;
    let edna = h.show("edna");
    assert_eq!(
        relations(&edna),
        [
            pair("spouse", "Albert Miggins"),
            pair("child", "Daisy Miggins")
        ]
    );
    assert_eq!(edna["relationships"][1]["person_id"], s.daisy.as_str());
    assert_eq!(
        edna["relationships"][1]["private"], false,
        "shared by default"
    );
    assert_eq!(
        relations(&h.show("daisy")),
        [pair("parent", "Edna Miggins")]
    );
    assert_eq!(
        h.show("daisy")["relationships"][0]["person_id"],
        s.edna.as_str()
    );
    assert_eq!(
        relations(&h.show("albert")),
        [pair("spouse", "Edna Miggins")]
    );
    let text = h.ok(&["show", "edna"]);
    assert!(
        text.contains(
            "Relationships\n  spouse        Albert Miggins\n  child         Daisy Miggins\n"
        ),
        "{text}"
    );
    let text = h.ok(&["show", "daisy"]);
    assert!(text.contains("  parent        Edna Miggins\n"), "{text}");

    // Inverted words, words that read the same both ways, and any other word.
    let bob = h.add(&["Bob Buyer"]);
    let sue = h.add(&["Sue Supervisor"]);
    h.ok_at("2026-11-28T10:00:00Z", &["link", &bob, "reports-to", &sue]);
    h.ok_at(
        "2026-11-28T10:01:00Z",
        &["link", &bob, "Introduced-By", "edna", "--private"],
    );
    h.ok_at(
        "2026-11-28T10:02:00Z",
        &["link", &sue, "golf-partner", &bob],
    );
    assert_eq!(
        relations(&h.show(&bob)),
        [
            pair("manages", "Sue Supervisor"),
            pair("introduced", "Edna Miggins"),
            pair("golf-partner", "Sue Supervisor")
        ]
    );
    assert_eq!(
        relations(&h.show(&sue)),
        [
            pair("reports-to", "Bob Buyer"),
            pair("golf-partner", "Bob Buyer")
        ]
    );
    let edna = h.show("edna");
    assert_eq!(relations(&edna)[2], pair("introduced-by", "Bob Buyer"));
    assert_eq!(edna["relationships"][2]["private"], true);
    assert!(
        h.ok(&["show", "edna"])
            .contains("  introduced-by Bob Buyer [private]\n")
    );
    let e = h.error(&["link", "edna", "spouse", "edna"]);
    assert!(e.contains("themselves"), "{e}");
    h.error(&["link", "edna", "spouse", "nobody at all"]);
}

#[test]
fn link_command_says_what_it_recorded() {
    let h = Home::new();
    h.add(&["Daisy Miggins"]);
    h.add(&["Edna Miggins"]);
    assert_eq!(
        h.ok(&["link", "daisy", "CHILD", "edna"]).trim(),
        "Daisy Miggins is child of Edna Miggins"
    );
    let id = h.json(&["link", "daisy", "friend", "edna", "--json"])["id"].clone();
    assert_eq!(id.as_str().unwrap().len(), 16);
}

#[test]
fn facts_and_notes() {
    let s = story();
    let h = &s.home;
    let out = h.ok(&["fact", "albert", "smokes Old Holborn, prefers the 50 g tin"]);
    assert!(
        out.starts_with("fact ") && out.trim_end().ends_with("about Albert Miggins [private]"),
        "{out}"
    );
    let shared = h.json(&[
        "fact",
        "albert",
        "supports Leeds United",
        "--shared",
        "--learned",
        "yesterday",
        "--json",
    ]);
    assert_eq!(shared["private"], false);
    let albert = h.show("albert");
    assert_eq!(
        strings(&albert["facts"], Some("text")),
        [
            "supports Leeds United",
            "smokes Old Holborn, prefers the 50 g tin"
        ]
    );
    assert_eq!(albert["facts"][0]["date"], "2026-11-27");
    assert_eq!(albert["facts"][0]["id"], shared["id"]);
    assert_eq!(albert["facts"][1]["private"], true);

    let note = h.json(&["note", "edna", "prefers calls before ten", "--json"]);
    assert_eq!(note["private"], true, "notes are private by default");
    h.ok_at(
        "2026-11-28T11:00:00Z",
        &["note", "edna", "closed Wednesdays", "--shared"],
    );
    let edna = h.show("edna");
    assert_eq!(
        edna["notes"],
        json!([
            {"id": note["id"], "text": "prefers calls before ten", "date": "2026-11-28", "private": true},
            {"id": edna["notes"][1]["id"], "text": "closed Wednesdays", "date": "2026-11-28", "private": false}
        ])
    );
    let text = h.ok(&["show", "edna"]);
    assert!(text.contains("Notes\n  - prefers calls before ten (2026-11-28) [private]\n  - closed Wednesdays (2026-11-28)\n"), "{text}");
    // Notes on a company.
    h.ok(&["note", "miggins & daughters", "shop refit in January"]);
    let c = h.json(&["show", "miggins & daughters", "--json"]);
    assert_eq!(c["notes"][0]["text"], "shop refit in January");
    h.error(&["fact", "edna", "   "]);
    h.error(&["note", "edna", ""]);
}

#[test]
fn log_interactions() {
    let s = story();
    let h = &s.home;
    let out = h.ok_at(
        "2026-11-28T15:00:00Z",
        &[
            "log",
            "edna",
            "albert",
            "Dropped off samples",
            "--channel",
            "Visit",
            "--date",
            "2026-11-26 10:30",
            "--shared",
        ],
    );
    assert_eq!(out.trim(), "logged visit with Edna Miggins, Albert Miggins");
    h.ok_at(
        "2026-11-28T15:30:00Z",
        &["log", "albert", "Rang about the order", "-d", "today"],
    );
    let edna = h.show("edna");
    let i = &edna["interactions"];
    assert_eq!(i.as_array().unwrap().len(), 2);
    assert_eq!(i[0]["at"], "2026-11-26T10:30");
    assert_eq!(i[0]["channel"], "visit");
    assert_eq!(i[0]["summary"], "Dropped off samples");
    assert_eq!(i[0]["with"], json!(["Edna Miggins", "Albert Miggins"]));
    assert_eq!(i[0]["private"], false);
    assert_eq!(i[1]["at"], "2026-11-24");
    assert_eq!(i[1]["channel"], "call");
    assert_eq!(i[1]["summary"], "Phoned about the Christmas order");
    assert_eq!(i[1]["private"], true, "summaries are private by default");
    // The latest contact counts.
    assert_eq!(edna["last_contact"], "2026-11-26T10:30");
    let albert = h.show("albert");
    assert_eq!(albert["last_contact"], "2026-11-28");
    assert_eq!(albert["interactions"].as_array().unwrap().len(), 2);
    // --interactions caps the list.
    let capped = h.json(&["show", "albert", "--interactions", "1", "--json"]);
    assert_eq!(capped["interactions"].as_array().unwrap().len(), 1);
    assert_eq!(capped["interactions"][0]["summary"], "Rang about the order");
    let text = h.ok(&["show", "edna"]);
    assert!(
        text.contains("  2026-11-26  visit   Dropped off samples (with Albert Miggins)\n"),
        "{text}"
    );
    assert!(
        text.contains("  2026-11-24  call    Phoned about the Christmas order [private]\n"),
        "{text}"
    );
    // Without a date it is now.
    h.ok_at(
        "2026-11-29T08:15:00Z",
        &["log", "daisy", "Said hello", "--json"],
    );
    assert_eq!(h.show("daisy")["interactions"][0]["at"], "2026-11-29T08:15");
}

#[test]
fn follow_up_then_done() {
    let s = story();
    let h = &s.home;
    let edna = h.show("edna");
    let f = &edna["follow_ups"][0];
    assert_eq!(f["id"], s.quote.as_str());
    assert_eq!(f["person_id"], s.edna.as_str());
    assert_eq!(f["person"], "Edna Miggins");
    assert_eq!(f["text"], "Send a quote for the Christmas order");
    assert_eq!(f["due"], "2026-12-04");
    assert_eq!(f["done"], json!(null));
    assert_eq!(f["private"], true);
    let out = h.ok(&["follow-up", "albert", "Ask about the tin", "--due", "+3d"]);
    assert!(
        out.trim_end()
            .ends_with("for Albert Miggins due 2026-12-01"),
        "{out}"
    );
    let text = h.ok(&["show", "edna"]);
    assert!(
        text.contains(&format!(
            "  open  due 2026-12-04  Send a quote for the Christmas order  {} [private]\n",
            &s.quote[..8]
        )),
        "{text}"
    );
    let listed = |h: &Home| {
        let today = h.json(&["today", "--json"]);
        strings(&today["follow_ups"], Some("text"))
    };
    assert_eq!(
        listed(h),
        ["Ask about the tin", "Send a quote for the Christmas order"]
    );
    // Done by the short id `today` shows.
    let out = h.ok_at("2026-11-30", &["done", &s.quote[..8]]);
    assert_eq!(out.trim(), "done: Send a quote for the Christmas order");
    let f = h.show("edna")["follow_ups"][0].clone();
    assert_eq!(f["done"], "2026-11-30T09:00:00Z");
    assert!(h.ok(&["show", "edna"]).contains("  done  due 2026-12-04"));
    assert_eq!(listed(h), ["Ask about the tin"]);
    let e = h.error(&["done", &s.quote]);
    assert!(e.contains("done already"), "{e}");
    let e = h.error(&["done", "zzzzzzzz"]);
    assert!(e.contains("zzzzzzzz"), "{e}");
    // Follow-ups live in their person's shard, so their ids share the first
    // two characters: a short prefix is ambiguous, and says so.
    h.ok(&[
        "follow-up",
        "edna",
        "Deliver the order",
        "--due",
        "2026-12-10",
    ]);
    let (code, stderr) = h.fails(&["done", &s.edna[..2]]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with(&format!(
            "kith: error: '{}' could be more than one; name one of:\n",
            &s.edna[..2]
        )),
        "{stderr}"
    );
    assert!(stderr.lines().count() >= 3, "{stderr}");
    let e = h.error(&["follow-up", "edna", "x", "--due", "whenever"]);
    assert!(e.contains("'whenever' is not a date"), "{e}");
}

#[test]
fn keep_in_touch_every_and_stop() {
    let s = story();
    let h = &s.home;
    assert_eq!(h.show("edna")["keep_in_touch"], "3w");
    let out = h.ok(&["keep-in-touch", "albert", "--every", "2m"]);
    assert_eq!(out.trim(), "keep in touch with Albert Miggins every 2m");
    assert_eq!(h.show("albert")["keep_in_touch"], "2m");
    h.ok(&["keep-in-touch", "albert", "--every", "10d"]);
    assert_eq!(h.show("albert")["keep_in_touch"], "10d");
    // Albert was added today and never contacted: due in ten days.
    assert!(
        h.ok(&["show", "albert"])
            .contains("every 10d, no contact yet [private]")
    );
    let out = h.ok(&["keep-in-touch", "albert", "--stop"]);
    assert_eq!(out.trim(), "no more reminders for Albert Miggins");
    assert_eq!(h.show("albert")["keep_in_touch"], json!(null));
    // `set` speaks the same language.
    h.ok(&["set", "daisy", "keep-in-touch", "1y"]);
    assert_eq!(h.show("daisy")["keep_in_touch"], "1y");
    let due = h.json_at("2027-11-28", &["today", "--json"]);
    assert_eq!(
        names_of(&due["keep_in_touch"]),
        ["Edna Miggins", "Daisy Miggins"]
    );
}

fn names_of(list: &Json) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["person"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn items_for_people_in_many_shards_all_show() {
    // Items live in their owner's shard; a log with several people lives
    // with the first. Everyone still sees everything.
    let h = Home::new();
    let ids: Vec<String> = (0..6)
        .map(|i| h.add(&[&format!("Person Number{i}")]))
        .collect();
    let mut args: Vec<&str> = vec!["log"];
    args.extend(ids.iter().map(String::as_str));
    args.push("Trade fair");
    h.ok(&args);
    for id in &ids {
        let p = h.show(id);
        assert_eq!(p["interactions"][0]["summary"], "Trade fair");
        assert_eq!(p["interactions"][0]["with"].as_array().unwrap().len(), 6);
    }
    assert_eq!(names(&h.json(&["list", "--json"])).len(), 6);
}
