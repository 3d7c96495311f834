//! find: names with typos, and full text over everything else.

use super::story;
use crate::common::{Home, names};

/// Who `find QUERY` returns, best first, and why the first matched.
fn find(h: &Home, query: &str) -> (Vec<String>, String) {
    let found = h.json(&["find", query, "--json"]);
    let why = found[0]["why"].as_str().unwrap_or("").to_string();
    (names(&found), why)
}

#[test]
fn a_typo_still_finds_miggins() {
    let s = story();
    let h = &s.home;
    let found = h.json(&["find", "migins", "--json"]);
    let all = names(&found);
    for who in [
        "Edna Miggins",
        "Albert Miggins",
        "Daisy Miggins",
        "Miggins & Daughters",
    ] {
        assert!(all.contains(&who.to_string()), "{who} not in {all:?}");
    }
    let edna = found
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Edna Miggins")
        .unwrap();
    assert_eq!(edna["id"], s.edna.as_str());
    assert_eq!(edna["kind"], "person");
    assert_eq!(edna["company"], "Miggins & Daughters");
    assert_eq!(edna["why"], "name (similar)");
    let score = edna["score"].as_f64().unwrap();
    assert!(score > 0.0 && score <= 1.0, "{score}");
    let company = found
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Miggins & Daughters")
        .unwrap();
    assert_eq!(company["kind"], "company");
    // Typos in a first and last name, an exact name, a prefix.
    assert_eq!(find(h, "edna migins").0[0], "Edna Miggins");
    assert_eq!(find(h, "Ednaa Miggins").0[0], "Edna Miggins");
    assert_eq!(
        find(h, "Albert Miggins"),
        (vec!["Albert Miggins".to_string()], "name".to_string())
    );
    assert_eq!(find(h, "dais").0[0], "Daisy Miggins");
    // A typo also resolves WHO when only one person is close.
    assert_eq!(h.show("albret")["id"], s.albert.as_str());
    assert_eq!(h.show("edna migins")["id"], s.edna.as_str());
}

#[test]
fn full_text_over_facts_emails_phones_summaries() {
    let s = story();
    let h = &s.home;
    h.ok(&["note", "albert", "Prefers Bradford bitter"]);
    let cases = [
        (
            "holborn",
            "Edna Miggins",
            "fact: husband Albert smokes Old Holborn, 50 g tin",
        ),
        ("penny chews", "Daisy Miggins", "fact: loves penny chews"),
        ("edna@miggins.co.uk", "Edna Miggins", "email"),
        ("960123", "Edna Miggins", "phone"),
        ("01632 960123", "Edna Miggins", "phone"),
        (
            "phoned",
            "Edna Miggins",
            "call 2026-11-24: Phoned about the Christmas order",
        ),
        (
            "quote",
            "Edna Miggins",
            "follow-up: Send a quote for the Christmas order",
        ),
        (
            "bradford",
            "Albert Miggins",
            "note: Prefers Bradford bitter",
        ),
    ];
    for (query, who, why) in cases {
        let found = h.json(&["find", query, "--json"]);
        let hit = found
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == who)
            .unwrap_or_else(|| panic!("find {query:?} does not list {who}: {found}"));
        assert_eq!(hit["why"], why, "find {query:?}");
    }
    // A word from the company name finds the company and who works there.
    let (all, _) = find(h, "daughters");
    assert!(all.contains(&"Miggins & Daughters".to_string()), "{all:?}");
    assert!(all.contains(&"Edna Miggins".to_string()), "{all:?}");
    // Word prefixes work when no whole word matches.
    assert!(find(h, "holb").0.contains(&"Edna Miggins".to_string()));
}

#[test]
fn find_prints_and_limits() {
    let s = story();
    let h = &s.home;
    let out = h.ok(&["find", "migins", "--limit", "2"]);
    assert_eq!(out.lines().count(), 2, "{out}");
    let out = h.ok(&["find", "holborn"]);
    assert_eq!(
        out,
        format!(
            "Edna Miggins, Miggins & Daughters  fact: husband Albert smokes Old Holborn, 50 g tin  {}\n",
            &s.edna[..8]
        )
    );
    let r = h.run(&["find", "xylophone"]);
    assert_eq!(r.code, Some(0));
    assert_eq!(r.stdout, "");
    assert_eq!(r.stderr.trim(), "nothing matches 'xylophone'");
    assert_eq!(
        h.json(&["find", "xylophone", "--json"]),
        serde_json::json!([])
    );
    // Names rank above text: Daisy by name before Edna by her fact about Daisy.
    assert_eq!(find(h, "daisy").0, ["Daisy Miggins", "Edna Miggins"]);
}

#[test]
fn names_match_without_their_accents() {
    let h = Home::new();
    h.ok(&["add", "Zoë Ångström"]);
    h.ok(&["add", "José Müller"]);
    let (found, _) = find(&h, "angstrom");
    assert_eq!(found, vec!["Zoë Ångström"]);
    let (found, _) = find(&h, "muller");
    assert_eq!(found, vec!["José Müller"]);
    assert_eq!(h.show("jose")["name"], "José Müller");
    assert_eq!(h.show("zoe angstrom")["name"], "Zoë Ångström");
    // Typed with the accents, too.
    assert_eq!(h.show("Zoë")["name"], "Zoë Ångström");
}

#[test]
fn the_limit_takes_the_best_live_hits_and_ties_go_by_sort_name() {
    let h = Home::new();
    h.ok(&["add", "Cleo Cornwall"]);
    h.ok(&["add", "Bea Cornwall"]);
    h.ok(&["add", "Al Cornwall"]);
    h.ok(&["add", "Dot Penrose"]);
    h.ok(&["fact", "dot", "Spent last summer in Cornwall"]);
    h.ok(&["rm", "al cornwall"]);
    // Al would tie with Bea and Cleo and sort first, but is removed: the
    // one hit shown is Bea, the first live one of the tie by sort name.
    assert_eq!(
        names(&h.json(&["find", "cornwall", "--limit", "1", "--json"])),
        ["Bea Cornwall"]
    );
    assert_eq!(
        names(&h.json(&["find", "cornwall", "--limit", "3", "--json"])),
        ["Bea Cornwall", "Cleo Cornwall", "Dot Penrose"]
    );
    let out = h.ok(&["find", "cornwall", "--limit", "2"]);
    assert_eq!(out.lines().count(), 2, "{out}");
}
