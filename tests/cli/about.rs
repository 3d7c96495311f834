//! about: the account of everything held about one person, as Markdown,
//! HTML and JSON, from one's own ledger and, with --team, teammates' shared
//! parts (never their private ones).

use serde_json::Value as Json;

use super::story;
use super::team::{Daemon, team_of, wait_until};
use crate::common::{Home, one_line_error};

/// The line of `text` that holds `needle`.
fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
}

fn texts(items: &Json) -> Vec<&str> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {items}"))
        .iter()
        .map(|i| i["text"].as_str().unwrap_or_default())
        .collect()
}

#[test]
fn markdown_tells_everything_and_marks_what_is_private() {
    let s = story();
    let h = &s.home;
    h.ok_at("2026-11-29T10:00:00Z", &["set", "edna", "title", "Buyer"]);
    h.ok(&["note", "edna", "prefers calls after 2pm"]);
    let md = h.ok(&["about", "edna"]);
    assert!(
        md.starts_with("# What we hold about Edna Miggins\n"),
        "{md}"
    );
    assert!(
        md.contains("## From my ledger (shared and private)"),
        "{md}"
    );
    // Private facts are there, and say so; shared ones say that.
    let private = line_with(&md, "husband Albert smokes Old Holborn");
    assert!(private.contains("**[private]**"), "{private}");
    assert!(private.contains("learned 2026-11-24"), "{private}");
    // Fields from both parts, each with when it was last set.
    let title = line_with(&md, "| title |");
    assert!(
        title.contains("Buyer") && title.contains("[shared]"),
        "{title}"
    );
    assert!(title.contains("2026-11-29 10:00 on "), "{title}");
    let phone = line_with(&md, "| phone |");
    assert!(phone.contains("01632 960123 (shop)"), "{phone}");
    assert!(phone.contains("**[private]**"), "{phone}");
    let birthday = line_with(&md, "| birthday |");
    assert!(birthday.contains("**[private]**"), "{birthday}");
    assert!(md.contains("First recorded 2026-11-28 09:00 on "), "{md}");
    // Relationships, interactions (with whom; the summary is private),
    // follow-ups and notes.
    assert!(line_with(&md, "spouse: Albert Miggins").contains("[shared]"));
    assert!(line_with(&md, "child: Daisy Miggins").contains("[shared]"));
    let call = line_with(&md, "Phoned about the Christmas order");
    assert!(call.starts_with("- 2026-11-24 call"), "{call}");
    assert!(call.contains("**[private]**"), "{call}");
    let quote = line_with(&md, "Send a quote for the Christmas order");
    assert!(quote.contains("due 2026-12-04, open"), "{quote}");
    assert!(line_with(&md, "prefers calls after 2pm").contains("**[private]**"));
}

#[test]
fn html_is_a_whole_escaped_document() {
    let h = Home::new();
    h.add(&[
        "Robert <script>alert(1)</script> Tables",
        "--email",
        "bobby@tables.example",
    ]);
    h.ok(&[
        "fact",
        "bobby@tables.example",
        "likes <b>bold</b> & \"quotes\"",
    ]);
    let html = h.ok(&["about", "bobby@tables.example", "--format", "html"]);
    assert!(
        html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"),
        "{html}"
    );
    assert!(html.trim_end().ends_with("</html>"), "{html}");
    assert!(html.contains("<meta charset=\"utf-8\">"), "{html}");
    assert!(html.contains("<style>"), "{html}");
    assert!(
        html.contains("Robert &lt;script&gt;alert(1)&lt;/script&gt; Tables"),
        "{html}"
    );
    assert!(
        html.contains("likes &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quotes&quot;"),
        "{html}"
    );
    assert!(!html.contains("<script") && !html.contains("<b>"), "{html}");
    // Nothing to fetch from anywhere.
    for outside in ["http://", "https://", "src=", "<link", "@import"] {
        assert!(!html.contains(outside), "{outside} in {html}");
    }
    let fact = line_with(&html, "likes &lt;b&gt;");
    assert!(fact.contains("class=\"mark private\""), "{fact}");
    // Markdown keeps the same text from becoming markup too.
    let md = h.ok(&["about", "bobby@tables.example"]);
    assert!(
        md.contains("Robert \\<script\\>alert(1)\\</script\\> Tables"),
        "{md}"
    );
}

#[test]
fn json_has_every_section_field_and_item() {
    let s = story();
    let h = &s.home;
    h.ok_at("2026-11-29T10:00:00Z", &["set", "edna", "title", "Buyer"]);
    let a = h.json(&["about", "edna", "--format", "json"]);
    assert_eq!(a["person"], "Edna Miggins");
    assert_eq!(a["generated_at"], "2026-11-28T09:00:00+00:00");
    let sections = a["sections"].as_array().unwrap();
    assert_eq!(sections.len(), 1, "{a:#}");
    let me = &sections[0];
    assert_eq!(me["owner"], "me");
    assert_eq!(me["part"], "all");
    assert_eq!(me["person_id"], s.edna.as_str());
    assert_eq!(me["source"]["what"], "add Edna Miggins");
    assert_eq!(me["source"]["imported"], false);
    let field = |name: &str| -> Json {
        me["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no field {name} in {me:#}"))
    };
    let title = field("title");
    assert_eq!(title["value"], "Buyer");
    assert_eq!(title["private"], false);
    assert_eq!(title["set_at"], "2026-11-29T10:00:00");
    assert!(title["device"].is_string(), "{title}");
    assert_eq!(field("birthday")["private"], true);
    assert_eq!(field("company")["value"], "Miggins & Daughters");
    assert_eq!(field("cadence_days")["value"], "every 3w");
    assert_eq!(
        texts(&me["facts"]),
        [
            "husband Albert smokes Old Holborn, 50 g tin",
            "daughter Daisy loves penny chews"
        ]
    );
    assert!(
        me["facts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["private"] == true)
    );
    assert!(me["facts"][0]["recorded_at"].is_string(), "{me:#}");
    let rels = me["relationships"].as_array().unwrap();
    assert_eq!(rels.len(), 2, "{me:#}");
    let call = &me["interactions"][0];
    assert_eq!(call["channel"], "call");
    assert_eq!(call["summary"], "Phoned about the Christmas order");
    assert_eq!(call["private"], true);
    assert_eq!(call["with"][0], "Edna Miggins");
    assert_eq!(me["follow_ups"][0]["due"], "2026-12-04");
    assert_eq!(me["follow_ups"][0]["done"], Json::Null);
    assert_eq!(me["notes"], Json::Array(Vec::new()));
}

#[test]
fn an_imported_person_names_the_import_as_the_source() {
    let h = Home::new();
    let card = h.path().join("shop.vcf");
    std::fs::write(
        &card,
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Zed Importe\r\nEMAIL:zed@shop.example\r\nEND:VCARD\r\n",
    )
    .unwrap();
    h.ok(&["import", card.to_str().unwrap()]);
    let md = h.ok(&["about", "zed"]);
    assert!(
        line_with(&md, "Source: import ").contains("shop.vcf"),
        "{md}"
    );
    let a = h.json(&["about", "zed", "--format", "json"]);
    assert_eq!(a["sections"][0]["source"]["imported"], true);
    assert!(
        a["sections"][0]["fields"][0]["source"]
            .as_str()
            .unwrap()
            .starts_with("import ")
    );
}

#[test]
fn output_goes_to_a_file_with_one_line_said() {
    let s = story();
    let h = &s.home;
    let path = h.path().join("edna.html");
    std::fs::write(&path, "an older account").unwrap();
    let r = h.run(&[
        "about",
        "edna",
        "--format",
        "html",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "");
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains(path.to_str().unwrap()), "{}", r.stderr);
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(written, h.ok(&["about", "edna", "--format", "html"]));
    // No temporary file is left beside it.
    let left: Vec<_> = std::fs::read_dir(h.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn unknown_people_bad_formats_and_unwritable_files_are_refused() {
    let s = story();
    let h = &s.home;
    let err = h.error(&["about", "nobody-by-that-name"]);
    assert!(err.contains("nobody-by-that-name"), "{err}");
    let (code, stderr) = h.fails(&["about", "edna", "--format", "pdf"]);
    assert_eq!(code, 2, "{stderr}");
    let bad = h.path().join("no-such-dir").join("edna.md");
    let err = h.error(&["about", "edna", "-o", bad.to_str().unwrap()]);
    assert!(err.contains(bad.to_str().unwrap()), "{err}");
    assert!(!bad.exists());
}

#[test]
fn team_accounts_show_teammates_shared_parts_and_never_their_private_ones() {
    let canary = "carol-private-canary-5b1e";
    let (alice, bob) = (Home::new(), Home::new());
    alice.add(&[
        "Carol Known",
        "--email",
        "carol@known.example",
        "--phone",
        "0770 900 111",
    ]);
    alice.ok(&[
        "fact",
        "carol",
        "carol-shared-fact: likes sailing",
        "--shared",
    ]);
    alice.ok(&["fact", "carol", &format!("{canary} in a fact"), "--private"]);
    alice.ok(&["note", "carol", &format!("{canary} in a note")]);
    alice.ok(&["log", "carol", &format!("{canary} in a summary")]);
    let _a = team_of(&alice, &[(&bob, "bob")]);
    let b = Daemon::start(&bob, &[]);
    let about = |home: &Home, args: &[&str]| {
        let r = home.run(args);
        (r.code == Some(0)).then_some(r.stdout)
    };
    let mut md = String::new();
    assert!(
        wait_until(40, || {
            md = about(&bob, &["about", "carol", "--team"]).unwrap_or_default();
            md.contains("carol-shared-fact")
        }),
        "carol's shared fact never reached bob: {}",
        b.log()
    );
    // Bob knows Carol only through alice: alice's section, and only it.
    assert!(!md.contains("From my ledger"), "{md}");
    let heading = md
        .find("## From alice's ledger (shared with the team)")
        .unwrap_or_else(|| panic!("no section of alice's:\n{md}"));
    assert!(md.find("carol-shared-fact").unwrap() > heading, "{md}");
    for secret in [canary, "0770 900 111", "[private]"] {
        assert!(!md.contains(secret), "{secret} in bob's account:\n{md}");
    }
    // The interaction alice logged shows that it happened, not its summary.
    assert!(
        line_with(&md, "- 2026-11-28 09:00 call").contains("[shared]"),
        "{md}"
    );
    // Without --team, bob's own ledger has no Carol.
    bob.error(&["about", "carol"]);

    // Bob's own record, by another name but the same email, comes first,
    // with everything of his; alice's stays shared-only.
    bob.add(&["Carol K.", "--email", "carol@known.example"]);
    bob.ok(&["fact", "carol@known.example", "bob-shared-fact", "--shared"]);
    bob.ok(&["fact", "carol@known.example", "bob-private-fact"]);
    let a = bob.json(&["about", "carol@known.example", "--team", "--format", "json"]);
    let sections = a["sections"].as_array().unwrap();
    assert_eq!(sections.len(), 2, "{a:#}");
    assert_eq!(sections[0]["owner"], "bob");
    assert_eq!(sections[0]["part"], "all");
    // Facts learned the same day come in id order: compare them as a set.
    let mut mine = texts(&sections[0]["facts"]);
    mine.sort_unstable();
    assert_eq!(mine, ["bob-private-fact", "bob-shared-fact"]);
    assert_eq!(sections[1]["owner"], "alice");
    assert_eq!(sections[1]["part"], "shared");
    assert_eq!(sections[1]["name"], "Carol Known");
    assert!(sections[1]["owner_id"].is_string());
    assert_eq!(
        texts(&sections[1]["facts"]),
        ["carol-shared-fact: likes sailing"]
    );
    assert!(!a.to_string().contains(canary), "{a:#}");

    // When bob leaves, alice still reads what he shared, labelled so.
    assert!(
        wait_until(40, || about(&alice, &["about", "carol", "--team"])
            .is_some_and(|t| t.contains("bob-shared-fact"))),
        "bob's fact never reached alice"
    );
    alice.ok(&["team", "remove", "bob"]);
    let md = alice.ok(&["about", "carol", "--team"]);
    assert!(
        md.contains("## From my ledger (shared and private)"),
        "{md}"
    );
    assert!(
        md.contains("## From bob's ledger (shared with the team)"),
        "{md}"
    );
    assert!(md.contains("bob (left on "), "{md}");
    assert!(!md.contains("bob-private-fact"), "{md}");
    one_line_error(&alice.run(&["about", "nobody-at-all", "--team"]).stderr);
}
