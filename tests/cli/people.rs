//! add, add-company, show, list, set, unset, rm, restore.

use serde_json::json;

use super::story;
use crate::common::{Home, names, strings};

#[test]
fn show_json_has_every_field_of_edna() {
    let s = story();
    let edna = s.home.show("edna");
    assert_eq!(edna["id"], s.edna.as_str());
    assert_eq!(edna["kind"], "person");
    assert_eq!(edna["name"], "Edna Miggins");
    assert_eq!(edna["sort_name"], "Miggins, Edna");
    assert_eq!(
        edna["emails"],
        json!([{"value": "edna@miggins.co.uk", "label": "shop"}])
    );
    assert_eq!(
        edna["phones"],
        json!([{"value": "01632 960123", "label": "shop", "private": true}])
    );
    assert_eq!(edna["addresses"], json!([]));
    assert_eq!(edna["company"], "Miggins & Daughters");
    assert_eq!(edna["company_id"], s.company.as_str());
    assert_eq!(edna["title"], "Owner");
    assert_eq!(edna["birthday"], "--04-05");
    assert_eq!(edna["anniversary"], json!(null));
    assert_eq!(edna["tags"], json!(["sweets", "tobacco"]));
    assert_eq!(edna["keep_in_touch"], "3w");
    assert_eq!(edna["last_contact"], "2026-11-24");
    assert_eq!(edna["deleted"], false);
    // Phones, birthday and the cadence are private by default; name, emails,
    // company, title and tags are shared.
    assert_eq!(
        edna["private"],
        json!(["birthday", "cadence_days", "phones"])
    );
    let facts = &edna["facts"];
    assert_eq!(
        strings(facts, Some("text")),
        [
            "husband Albert smokes Old Holborn, 50 g tin",
            "daughter Daisy loves penny chews"
        ]
    );
    assert_eq!(facts[0]["date"], "2026-11-24");
    assert_eq!(facts[1]["date"], "2026-11-28");
    assert_eq!(facts[0]["private"], true);
    let daisy = s.home.show("daisy");
    assert_eq!(daisy["facts"][0]["text"], "loves penny chews");
    assert_eq!(daisy["facts"][0]["private"], false, "added with --shared");
}

#[test]
fn show_marks_private_items() {
    let s = story();
    let out = s.home.ok(&["show", "edna"]);
    let line = |start: &str| -> &str {
        out.lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("no line starting {start:?} in:\n{out}"))
    };
    assert!(out.starts_with(&format!("Edna Miggins  {}\n", &s.edna[..8])));
    assert_eq!(line("Owner at"), "  Owner at Miggins & Daughters");
    assert!(!line("email").contains("[private]"), "{out}");
    assert!(line("email").contains("edna@miggins.co.uk (shop)"));
    assert!(line("phone").ends_with("01632 960123 (shop) [private]"));
    assert!(line("birthday").ends_with("--04-05 [private]"));
    assert!(!line("tags").contains("[private]"));
    assert!(line("keep in touch").ends_with("every 3w, last contact 2026-11-24 [private]"));
    assert!(line("- husband Albert").ends_with("(2026-11-24) [private]"));
    // Daisy's fact was added with --shared.
    let daisy = s.home.ok(&["show", "daisy"]);
    assert!(
        daisy.contains("  - loves penny chews (2026-11-28)\n"),
        "{daisy}"
    );
}

#[test]
fn list_is_by_sort_name_and_filters() {
    let s = story();
    let h = &s.home;
    h.add(&["Zed Aardvark", "--tag", "Sweets"]);
    h.add(&["Bob Zimmer", "--company", "Miggins & Daughters"]);
    let all = h.json(&["list", "--json"]);
    assert_eq!(
        names(&all),
        [
            "Zed Aardvark",
            "Albert Miggins",
            "Daisy Miggins",
            "Edna Miggins",
            "Bob Zimmer"
        ]
    );
    // A list entry is the person's summary: no show-only sections.
    let edna = &all[3];
    assert_eq!(edna["id"], s.edna.as_str());
    assert_eq!(edna["company"], "Miggins & Daughters");
    assert_eq!(edna["facts"].as_array().unwrap().len(), 2);
    for show_only in ["notes", "relationships", "interactions", "follow_ups"] {
        assert!(edna.get(show_only).is_none(), "{show_only} in list");
    }
    // Tags are kept lower case, so --tag matches either way.
    assert_eq!(
        names(&h.json(&["list", "--tag", "SWEETS", "--json"])),
        ["Zed Aardvark", "Edna Miggins"]
    );
    assert_eq!(
        names(&h.json(&["list", "--company", "miggins & daughters", "--json"])),
        ["Edna Miggins", "Bob Zimmer"]
    );
    assert_eq!(
        names(&h.json(&["list", "--limit", "2", "--json"])),
        ["Zed Aardvark", "Albert Miggins"]
    );
    let text = h.ok(&["list"]);
    assert_eq!(text.lines().count(), 5, "{text}");
    let edna_line = text.lines().find(|l| l.starts_with("Edna")).unwrap();
    assert!(
        edna_line.contains("Owner, Miggins & Daughters"),
        "{edna_line}"
    );
    assert!(edna_line.contains("#sweets #tobacco"), "{edna_line}");
    assert!(edna_line.ends_with(&s.edna[..8]), "{edna_line}");
}

#[test]
fn companies_are_added_once_and_list_their_people() {
    let h = Home::new();
    let ogden = h.ok(&[
        "add-company",
        "Ogden's",
        "--domain",
        "OGDENS.co.uk",
        "--tag",
        "supplier",
    ]);
    let ogden = ogden.trim();
    let e = h.error(&["add-company", "ogden's"]);
    assert!(e.contains("exists already"), "{e}");
    // `add --company` joins the company of that name rather than making another.
    h.add(&["Sam Rep", "--company", "OGDEN'S", "--title", "Rep"]);
    h.add(&["Ann Boss", "--company", "Ogden's"]);
    let companies = h.json(&["list", "--companies", "--json"]);
    assert_eq!(names(&companies), ["Ogden's"]);
    let c = h.json(&["show", "ogden's", "--json"]);
    assert_eq!(c["id"], ogden);
    assert_eq!(c["kind"], "company");
    assert_eq!(c["domain"], "ogdens.co.uk");
    assert_eq!(c["tags"], json!(["supplier"]));
    assert_eq!(names(&c["people"]), ["Ann Boss", "Sam Rep"]);
    assert_eq!(c["people"][1]["title"], "Rep");
    let text = h.ok(&["show", "ogdens"]);
    assert!(text.contains("  Sam Rep, Rep\n"), "{text}");
    let listed = h.ok(&["list", "--companies"]);
    assert!(listed.contains("2 people"), "{listed}");
    h.ok(&["fact", "ogden's", "delivers on Thursdays", "--shared"]);
    let c = h.json(&["show", "ogden's", "--json"]);
    assert_eq!(c["facts"][0]["text"], "delivers on Thursdays");
    h.ok(&["add-company", "Wills", "--json"]);
    assert_eq!(
        names(&h.json(&["list", "--companies", "--json"])),
        ["Ogden's", "Wills"]
    );
}

#[test]
fn set_and_unset_fields() {
    let s = story();
    let h = &s.home;
    assert_eq!(
        h.ok(&["set", "edna", "title", "Proprietor"]).trim(),
        "Edna Miggins: title set"
    );
    // Set-like fields gain a value.
    h.ok(&["set", "edna", "email", "home:Edna@Example.COM"]);
    h.ok(&["set", "edna", "tag", "Cash-and-carry"]);
    h.ok(&["set", "edna", "address", "home:12 High St, Leeds"]);
    h.ok(&["set", "edna", "birthday", "1961-04-05"]);
    h.ok(&["set", "edna", "nickname", "Eddie"]);
    h.ok(&["set", "edna", "company", "Wills & Co"]);
    let edna = h.show("edna");
    assert_eq!(edna["title"], "Proprietor");
    assert_eq!(
        edna["emails"],
        json!([
            {"value": "edna@miggins.co.uk", "label": "shop"},
            {"value": "edna@example.com", "label": "home"}
        ])
    );
    assert_eq!(edna["tags"], json!(["sweets", "tobacco", "cash-and-carry"]));
    assert_eq!(
        edna["addresses"],
        json!([{"value": "12 High St, Leeds", "label": "home", "private": true}])
    );
    assert_eq!(edna["birthday"], "1961-04-05");
    assert_eq!(edna["nickname"], "Eddie");
    assert_eq!(edna["company"], "Wills & Co");
    // The new email finds her; so does her nickname.
    assert_eq!(h.show("edna@example.com")["id"], s.edna.as_str());
    assert_eq!(h.show("eddie")["id"], s.edna.as_str());
    assert_eq!(
        names(&h.json(&["list", "--companies", "--json"])),
        ["Miggins & Daughters", "Wills & Co"]
    );

    // --shared moves a field out of the private part.
    h.ok(&["set", "edna", "birthday", "1961-04-05", "--shared"]);
    let private = h.show("edna")["private"].clone();
    assert!(!strings(&private, None).contains(&"birthday".to_string()));
    h.ok(&["set", "edna", "birthday", "1961-04-05", "--private"]);
    let private = h.show("edna")["private"].clone();
    assert!(strings(&private, None).contains(&"birthday".to_string()));

    assert_eq!(
        h.ok(&["unset", "edna", "email", "edna@example.com"]).trim(),
        "Edna Miggins: email removed"
    );
    h.ok(&["unset", "edna", "title"]);
    h.ok(&["unset", "edna", "nickname"]);
    h.ok(&["unset", "edna", "tag", "TOBACCO"]);
    let edna = h.show("edna");
    assert_eq!(
        edna["emails"],
        json!([{"value": "edna@miggins.co.uk", "label": "shop"}])
    );
    assert_eq!(edna["title"], json!(null));
    assert_eq!(edna["nickname"], json!(null));
    assert_eq!(edna["tags"], json!(["sweets", "cash-and-carry"]));
    let e = h.error(&["unset", "edna", "email", "nobody@example.com"]);
    assert!(e.contains("has no"), "{e}");
    let e = h.error(&["unset", "edna", "name"]);
    assert!(e.contains("kith rm"), "{e}");
    let e = h.error(&["set", "edna", "shoe-size", "5"]);
    assert!(e.contains("'shoe-size' is not a person field"), "{e}");
    let e = h.error(&["set", "miggins & daughters", "title", "x"]);
    assert!(e.contains("not a company field"), "{e}");
    h.ok(&["set", "miggins & daughters", "domain", "Miggins.co.uk"]);
    assert_eq!(
        h.json(&["show", "miggins & daughters", "--json"])["domain"],
        "miggins.co.uk"
    );
}

#[test]
fn renaming_keeps_the_person() {
    let s = story();
    let h = &s.home;
    h.ok(&["set", "edna", "name", "Edna May Miggins"]);
    let edna = h.show("edna may");
    assert_eq!(edna["id"], s.edna.as_str());
    assert_eq!(edna["name"], "Edna May Miggins");
    let e = h.error(&["set", "edna may", "name", "  "]);
    assert!(e.contains("cannot be empty"), "{e}");
}

#[test]
fn rm_then_restore() {
    let s = story();
    let h = &s.home;
    let out = h.ok(&["rm", "daisy"]);
    assert!(
        out.contains(&format!("removed Daisy Miggins ({})", &s.daisy[..8])),
        "{out}"
    );
    assert_eq!(
        names(&h.json(&["list", "--json"])),
        ["Albert Miggins", "Edna Miggins"]
    );
    let removed = h.json(&["list", "--removed", "--json"]);
    assert_eq!(names(&removed), ["Daisy Miggins"]);
    assert_eq!(removed[0]["deleted"], true);
    let e = h.error(&["show", "daisy"]);
    assert!(
        e.contains("was removed") && e.contains("kith restore"),
        "{e}"
    );
    // A removed person is not found, nor offered as a candidate.
    let found = names(&h.json(&["find", "daisy", "--json"]));
    assert!(!found.contains(&"Daisy Miggins".to_string()), "{found:?}");
    let found = names(&h.json(&["find", "penny chews", "--json"]));
    assert_eq!(found, ["Edna Miggins"], "her fact mentions Daisy");
    // Removing takes nothing away: she comes back with her facts and links.
    let out = h.ok(&["restore", &s.daisy[..8]]);
    assert!(out.contains("restored Daisy Miggins"), "{out}");
    let daisy = h.show("daisy");
    assert_eq!(daisy["deleted"], false);
    assert_eq!(daisy["facts"][0]["text"], "loves penny chews");
    assert_eq!(daisy["relationships"][0]["person"], "Edna Miggins");
    assert_eq!(names(&h.json(&["list", "--json"])).len(), 3);
    assert!(
        h.json(&["list", "--removed", "--json"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    h.error(&["restore", "daisy"]);
    // Companies too.
    h.ok(&["rm", "miggins & daughters"]);
    assert!(
        h.json(&["list", "--companies", "--json"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        names(&h.json(&["list", "--companies", "--removed", "--json"])),
        ["Miggins & Daughters"]
    );
    h.ok(&["restore", "miggins & daughters"]);
    assert_eq!(
        names(&h.json(&["list", "--companies", "--json"])),
        ["Miggins & Daughters"]
    );
}

/// `kith set WHO email X --private` on someone whose emails are shared must
/// not lose the emails they already have.
#[test]
fn a_private_email_does_not_hide_the_shared_ones() {
    let s = story();
    let h = &s.home;
    h.ok(&[
        "set",
        "edna",
        "email",
        "edna.private@example.com",
        "--private",
    ]);
    let emails = strings(&h.show(&s.edna)["emails"], Some("value"));
    assert!(
        emails.contains(&"edna@miggins.co.uk".to_string())
            && emails.contains(&"edna.private@example.com".to_string()),
        "Edna's emails after adding a private one: {emails:?}"
    );
    assert_eq!(h.show("edna@miggins.co.uk")["id"], s.edna.as_str());
}

#[test]
fn add_with_every_option() {
    let h = Home::new();
    let id = h.json(&[
        "add",
        "Percy Pratt",
        "--email",
        "percy@pratt.example",
        "--email",
        "home:PERCY@home.example",
        "--phone",
        "mobile:07700 900123",
        "--address",
        "1 Mill Lane",
        "--company",
        "Pratt's",
        "--role",
        "Buyer",
        "--birthday",
        "--0229",
        "--anniversary",
        "1990-06-01",
        "--nickname",
        "Perce",
        "--tag",
        "cigars",
        "--shared",
        "--json",
    ])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let p = h.show("perce");
    assert_eq!(p["id"], id.as_str());
    assert_eq!(
        strings(&p["emails"], Some("value")),
        ["percy@pratt.example", "percy@home.example"]
    );
    assert_eq!(p["emails"][1]["label"], "home");
    assert_eq!(p["phones"][0]["label"], "mobile");
    assert_eq!(p["addresses"][0]["value"], "1 Mill Lane");
    assert_eq!(p["title"], "Buyer");
    assert_eq!(p["birthday"], "--02-29");
    assert_eq!(p["anniversary"], "1990-06-01");
    assert_eq!(p["nickname"], "Perce");
    // --shared put every field in the shared part.
    assert_eq!(p["private"], json!([]));
    let q = h.add(&["Quentin Private", "--email", "q@example.com", "--private"]);
    let q = h.show(&q);
    assert!(strings(&q["private"], None).contains(&"emails".to_string()));
    assert!(strings(&q["private"], None).contains(&"name".to_string()));
}

#[test]
fn list_by_tag_follows_renames_removals_and_restores() {
    let h = Home::new();
    h.add(&["Ann Abbot", "--tag", "choir"]);
    h.add(&["Cy Corder", "--tag", "choir"]);
    h.add(&["Bea Bell", "--tag", "choir"]);
    // A company's tag is not a person's: never listed by `list --tag`.
    h.ok(&["add-company", "Choral Supplies", "--tag", "choir"]);
    let choir = |extra: &[&str]| {
        let mut args = vec!["list", "--tag", "choir", "--json"];
        args.extend_from_slice(extra);
        names(&h.json(&args))
    };
    assert_eq!(choir(&[]), ["Ann Abbot", "Bea Bell", "Cy Corder"]);
    // A new sort name moves her; the list as text keeps the same order.
    h.ok(&["set", "ann", "sort-name", "Zabbot, Ann"]);
    assert_eq!(choir(&[]), ["Bea Bell", "Cy Corder", "Ann Abbot"]);
    let text = h.ok(&["list", "--tag", "choir"]);
    let firsts: Vec<&str> = text
        .lines()
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(firsts, ["Bea", "Cy", "Ann"], "{text}");
    // Removed people leave the tag's list for the removed list, and come back.
    h.ok(&["rm", "bea"]);
    assert_eq!(choir(&[]), ["Cy Corder", "Ann Abbot"]);
    assert_eq!(choir(&["--removed"]), ["Bea Bell"]);
    h.ok(&["restore", "bea"]);
    assert_eq!(choir(&["--removed"]), Vec::<String>::new());
    assert_eq!(choir(&["--limit", "1"]), ["Bea Bell"]);
}
