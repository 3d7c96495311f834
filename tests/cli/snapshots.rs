//! What people read: `show`, `list` and `today` as printed, pinned with insta.
//! Ids are random, so each is replaced by a name in brackets first.

use super::{Story, story};

fn redact(s: &Story, text: &str) -> String {
    let mut out = text.to_string();
    for (id, name) in [
        (&s.edna, "[edna]"),
        (&s.albert, "[albert]"),
        (&s.daisy, "[daisy]"),
        (&s.company, "[company]"),
        (&s.quote, "[quote]"),
    ] {
        out = out.replace(id.as_str(), name).replace(&id[..8], name);
    }
    out
}

#[test]
fn show_edna() {
    let s = story();
    s.home.ok(&["note", "edna", "prefers calls before ten"]);
    let out = s.home.ok(&["show", "edna"]);
    insta::assert_snapshot!(redact(&s, &out));
}

#[test]
fn show_daisy_and_the_company() {
    let s = story();
    let daisy = s.home.ok(&["show", "daisy"]);
    let company = s.home.ok(&["show", "miggins & daughters"]);
    insta::assert_snapshot!(redact(&s, &format!("{daisy}\n{company}")));
}

#[test]
fn list_and_today() {
    let s = story();
    let list = s.home.ok(&["list"]);
    let companies = s.home.ok(&["list", "--companies"]);
    let today = s.home.ok_at("2026-12-20", &["today", "--days", "120"]);
    insta::assert_snapshot!(redact(&s, &format!("{list}\n{companies}\n{today}")));
}
