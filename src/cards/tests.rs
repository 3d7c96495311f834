//! Cards over real ledgers in temporary homes.

use proptest::prelude::*;

use super::*;
use crate::model::{Id, Privacy};
use crate::ops::NewPerson;
use crate::{Ledger, OpenOptions};

fn open(home: &std::path::Path) -> Ledger {
    Ledger::open(
        home,
        OpenOptions {
            now: "2026-11-28T09:00:00Z".parse().unwrap(),
            time_zone: jiff::tz::TimeZone::UTC,
            progress: &|_, _| {},
        },
    )
    .unwrap()
}

/// Edna, with something of everything a card does not carry.
fn edna(ledger: &mut Ledger) -> Entity {
    let id = ledger
        .add_person(&NewPerson {
            name: "Edna Miggins".into(),
            emails: vec!["shop:edna@miggins.co.uk".into()],
            phones: vec!["mobile:+44 7700 900123".into()],
            addresses: vec!["12 High Street, Leeds".into()],
            company: Some("Miggins Pies".into()),
            title: Some("Owner".into()),
            birthday: Some("1961-04-05".into()),
            tags: vec!["customer".into()],
            ..NewPerson::default()
        })
        .unwrap();
    let e = ledger.entity(&id).unwrap();
    ledger
        .add_fact(&e, "allergic to walnuts", None, None)
        .unwrap();
    ledger.add_note(&e, "prefers mornings", None).unwrap();
    ledger
        .log(
            std::slice::from_ref(&e),
            "called about pies",
            "call",
            None,
            None,
        )
        .unwrap();
    ledger
        .follow_up(&e, "send the catalogue", "2026-12-10", None)
        .unwrap();
    let albert = ledger
        .add_person(&NewPerson {
            name: "Albert Miggins".into(),
            ..NewPerson::default()
        })
        .unwrap();
    let albert = ledger.entity(&albert).unwrap();
    ledger.link(&albert, "spouse", &e, None).unwrap();
    ledger.entity(&id).unwrap()
}

/// Everything about a person a PUT must not lose, as the index holds it.
fn keepsakes(ledger: &Ledger, id: &Id) -> Vec<String> {
    ledger
        .index()
        .ids_raw(
            "SELECT e.json FROM items i JOIN entities e ON e.id = i.id WHERE i.subject = ?1 OR i.other = ?1
             UNION ALL SELECT e.json FROM follow_ups f JOIN entities e ON e.id = f.id WHERE f.person = ?1
             UNION ALL SELECT e.json FROM involved v JOIN entities e ON e.id = v.interaction WHERE v.person = ?1
             ORDER BY 1",
            [id.as_str()],
        )
        .unwrap()
}

fn versions(ledger: &Ledger) -> Vec<(String, String)> {
    let mut v: Vec<_> = ledger
        .index()
        .shard_versions()
        .unwrap()
        .into_iter()
        .collect();
    v.sort();
    v
}

#[test]
fn a_person_is_the_card_the_export_writes_with_a_stable_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let e = edna(&mut ledger);
    let c = card(&ledger, &e).unwrap();
    assert_eq!(c.uid, format!("kith-{}", e.id));
    assert_eq!(c.href, format!("kith-{}.vcf", e.id));
    let r = ledger
        .export_records(std::slice::from_ref(&e), true)
        .unwrap();
    assert_eq!(c.text, crate::export::vcard::card(&r[0], VERSION));
    assert!(
        c.text.contains("TEL;TYPE=cell:+44 7700 900123"),
        "{}",
        c.text
    );
    assert_eq!(c.etag, etag_of(&c.text));
    assert_eq!(card(&ledger, &e).unwrap(), c, "the same bytes twice");
}

#[test]
fn a_card_sent_back_unchanged_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let e = edna(&mut ledger);
    let mut book = Book::open(dir.path()).unwrap();
    book.refresh(&ledger).unwrap();
    let c = book
        .get(&ledger, &format!("kith-{}.vcf", e.id))
        .unwrap()
        .unwrap();
    let before = versions(&ledger);
    let out = book
        .apply_put(
            &mut ledger,
            &c.href,
            &c.text,
            Some(&c.etag),
            false,
            "Edna's iPhone",
        )
        .unwrap();
    assert_eq!(out.written, Written::Updated);
    assert!(!out.changed, "nothing written");
    assert_eq!(out.etag, c.etag);
    assert_eq!(versions(&ledger), before);
    // A 3.0 card as a phone rewrites it (different order, no groups) too.
    let v4 = crate::export::vcard::card(
        &ledger
            .export_records(std::slice::from_ref(&e), true)
            .unwrap()[0],
        crate::export::vcard::Version::V4,
    );
    let out = book
        .apply_put(
            &mut ledger,
            &c.href,
            &v4,
            Some(&c.etag),
            false,
            "Edna's iPhone",
        )
        .unwrap();
    assert!(
        !out.changed,
        "a 4.0 rendering of the same card changes nothing"
    );
}

#[test]
fn a_phone_edit_of_a_number_keeps_everything_else() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let e = edna(&mut ledger);
    let kept = keepsakes(&ledger, &e.id);
    assert_eq!(kept.len(), 5, "fact, note, link, follow-up, interaction");
    let mut book = Book::open(dir.path()).unwrap();
    book.refresh(&ledger).unwrap();
    let c = card(&ledger, &e).unwrap();
    let edited = c
        .text
        .replace(
            "TEL;TYPE=cell:+44 7700 900123",
            "TEL;TYPE=cell:+44 7700 900999",
        )
        .replace("TITLE:Owner", "TITLE:Head baker");
    assert_ne!(edited, c.text);
    let out = book
        .apply_put(
            &mut ledger,
            &c.href,
            &edited,
            Some(&c.etag),
            false,
            "Edna's iPhone",
        )
        .unwrap();
    assert!(out.changed);
    assert_ne!(out.etag, c.etag);
    let after = ledger.entity(&e.id).unwrap();
    let phones = after.set_values("phones");
    assert_eq!(phones.len(), 1, "{phones:?}");
    assert_eq!(phones[0].value, "+44 7700 900999");
    assert_eq!(phones[0].label, "mobile");
    assert!(phones[0].private, "the phone stays in the private part");
    assert_eq!(after.privacy_of("birthday"), Some(Privacy::Private));
    assert_eq!(after.str("title"), Some("Head baker"));
    assert_eq!(after.privacy_of("title"), e.privacy_of("title"));
    assert_eq!(
        keepsakes(&ledger, &e.id),
        kept,
        "facts, notes, links, follow-ups, interactions"
    );
    assert_eq!(after.set_values("emails").len(), 1);
    let history = ledger.history(&after, None).unwrap();
    assert!(
        history
            .iter()
            .any(|h| h.summary.contains("carddav edit from Edna's iPhone")),
        "{:?}",
        history.iter().map(|h| &h.summary).collect::<Vec<_>>()
    );
    // The book now serves what the ledger holds.
    assert_eq!(book.get(&ledger, &c.href).unwrap().unwrap().etag, out.etag);
}

#[test]
fn a_value_left_out_is_removed_only_when_the_put_names_the_card_it_edited() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let e = edna(&mut ledger);
    let mut book = Book::open(dir.path()).unwrap();
    book.refresh(&ledger).unwrap();
    let c = card(&ledger, &e).unwrap();
    let without: String = c
        .text
        .split("\r\n")
        .filter(|l| {
            !l.starts_with("TEL") && !l.starts_with("NICKNAME") && !l.starts_with("CATEGORIES")
        })
        .collect::<Vec<_>>()
        .join("\r\n");
    // Without If-Match kith cannot know the phone saw the number: kept.
    let out = book
        .apply_put(&mut ledger, &c.href, &without, None, false, "phone")
        .unwrap();
    assert!(!out.changed);
    assert_eq!(ledger.entity(&e.id).unwrap().set_values("phones").len(), 1);
    let out = book
        .apply_put(
            &mut ledger,
            &c.href,
            &without,
            Some(&c.etag),
            false,
            "phone",
        )
        .unwrap();
    assert!(out.changed);
    let after = ledger.entity(&e.id).unwrap();
    assert!(
        after.set_values("phones").is_empty(),
        "TEL left out: removed"
    );
    assert_eq!(
        after.set_values("tags").len(),
        1,
        "CATEGORIES left out: kept"
    );
}

#[test]
fn a_new_card_with_a_known_email_merges_instead_of_doubling() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let e = edna(&mut ledger);
    let mut book = Book::open(dir.path()).unwrap();
    book.refresh(&ledger).unwrap();
    let people = book.len().unwrap();
    let token = book.sync_token().unwrap();
    let text = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Edna Miggins\r\nN:Miggins;Edna;;;\r\nEMAIL:edna@miggins.co.uk\r\nTEL;TYPE=WORK:0113 496 0000\r\nUID:5A1E2F3C-0000-4000-8000-000000000001\r\nEND:VCARD\r\n";
    let href = "5A1E2F3C-0000-4000-8000-000000000001.vcf";
    let out = book
        .apply_put(&mut ledger, href, text, None, true, "Edna's iPhone")
        .unwrap();
    assert_eq!(out.written, Written::Created);
    assert!(out.merged);
    assert_eq!(out.person, e.id);
    assert_eq!(out.href, href);
    assert_eq!(book.len().unwrap(), people, "nobody doubled");
    let after = ledger.entity(&e.id).unwrap();
    assert_eq!(
        after.set_values("phones").len(),
        2,
        "the work number was added"
    );
    let c = book.get(&ledger, href).unwrap().unwrap();
    assert_eq!(c.uid, "5A1E2F3C-0000-4000-8000-000000000001");
    assert_eq!(c.etag, out.etag);
    // Other clients see the old name go and the new one come.
    let changes = book.changes_since(&token).unwrap();
    assert_eq!(changes.removed, vec![format!("kith-{}.vcf", e.id)]);
    assert_eq!(changes.changed, vec![(href.to_string(), out.etag.clone())]);
}

#[test]
fn a_card_created_on_a_phone_keeps_its_href_and_uid() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let mut book = Book::open(dir.path()).unwrap();
    book.refresh(&ledger).unwrap();
    let text = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Daisy Okafor\r\nTEL;TYPE=cell:07700 900456\r\nUID:urn:uuid:6f1c0a1e-2b3c-4d5e-8f90-a1b2c3d4e5f6\r\nEND:VCARD\r\n";
    let href = "phone-made card 1.vcf";
    let out = book
        .apply_put(&mut ledger, href, text, None, true, "Daisy's Pixel")
        .unwrap();
    assert_eq!(out.written, Written::Created);
    assert!(!out.merged);
    let c = book.get(&ledger, href).unwrap().unwrap();
    assert_eq!(c.href, href);
    assert_eq!(c.uid, "urn:uuid:6f1c0a1e-2b3c-4d5e-8f90-a1b2c3d4e5f6");
    let p = ledger.entity(&out.person).unwrap();
    assert_eq!(p.str(HREF_FIELD), Some(href));
    assert_eq!(p.privacy_of(HREF_FIELD), Some(Privacy::Private));
    // The same card again (a retry) is the same person.
    let again = book
        .apply_put(
            &mut ledger,
            href,
            text,
            Some(&c.etag),
            false,
            "Daisy's Pixel",
        )
        .unwrap();
    assert_eq!((again.person, again.changed), (out.person, false));
    // If-None-Match: * on it now refuses.
    let err = book
        .apply_put(&mut ledger, href, text, None, true, "Daisy's Pixel")
        .unwrap_err();
    assert!(matches!(err, CardError::Exists { .. }), "{err}");
}

#[test]
fn a_stale_if_match_or_an_unreadable_card_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let e = edna(&mut ledger);
    let mut book = Book::open(dir.path()).unwrap();
    book.refresh(&ledger).unwrap();
    let c = card(&ledger, &e).unwrap();
    let before = versions(&ledger);
    let edited = c.text.replace("TITLE:Owner", "TITLE:Baker");
    let err = book
        .apply_put(
            &mut ledger,
            &c.href,
            &edited,
            Some("\"0000\""),
            false,
            "phone",
        )
        .unwrap_err();
    assert!(matches!(err, CardError::Changed { .. }), "{err}");
    assert!(err.to_string().contains(&c.href), "{err}");
    for junk in [
        "hello",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Edna\r\n",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nEND:VCARD\r\n",
    ] {
        let err = book
            .apply_put(&mut ledger, &c.href, junk, Some(&c.etag), false, "phone")
            .unwrap_err();
        assert!(matches!(err, CardError::Unreadable { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with(&format!("card {}: not a readable vCard: ", c.href)),
            "{err}"
        );
    }
    let err = book
        .apply_put(&mut ledger, "a/b.vcf", &c.text, None, false, "phone")
        .unwrap_err();
    assert!(matches!(err, CardError::BadHref { .. }), "{err}");
    assert_eq!(versions(&ledger), before, "nothing written");
    let err = book
        .delete(&mut ledger, &c.href, Some("\"0000\""), "phone")
        .unwrap_err();
    assert!(matches!(err, CardError::Changed { .. }), "{err}");
    assert_eq!(versions(&ledger), before, "nothing written");
}

#[test]
fn sync_follows_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let e = edna(&mut ledger);
    let mut book = Book::open(dir.path()).unwrap();
    let first = book.refresh(&ledger).unwrap();
    assert_eq!(first.changed, 2, "Edna and Albert");
    let all = book.changes_since("").unwrap();
    assert_eq!(all.changed.len(), 2);
    assert!(all.removed.is_empty());
    assert_eq!(all.token, book.sync_token().unwrap());
    assert_eq!(book.ctag().unwrap(), all.token);
    let mut listed = Vec::new();
    assert_eq!(
        book.list(|h, t| listed.push((h.to_string(), t.to_string())))
            .unwrap(),
        2
    );
    // Nothing changed: nothing to say, and refresh is a no-op.
    assert_eq!(book.refresh(&ledger).unwrap(), Refreshed::default());
    assert!(book.changes_since(&all.token).unwrap().changed.is_empty());

    // A CLI edit (another process would do the same through the index).
    ledger.set_field(&e, "title", "Head baker", None).unwrap();
    let r = book.refresh(&ledger).unwrap();
    assert_eq!((r.shards, r.changed), (1, 1), "{r:?}");
    let one = book.changes_since(&all.token).unwrap();
    let href = format!("kith-{}.vcf", e.id);
    assert_eq!(one.changed.len(), 1);
    assert_eq!(one.changed[0].0, href);
    assert!(one.removed.is_empty());
    assert_ne!(one.token, all.token);

    // A removal is reported as one.
    let e = ledger.entity(&e.id).unwrap();
    ledger.remove(&e).unwrap();
    book.refresh(&ledger).unwrap();
    let gone = book.changes_since(&one.token).unwrap();
    assert_eq!(gone.removed, vec![href.clone()]);
    assert!(gone.changed.is_empty());
    assert!(book.get(&ledger, &href).unwrap().is_none());
    assert!(
        book.changes_since("")
            .unwrap()
            .changed
            .iter()
            .all(|(h, _)| *h != href)
    );
    // And restoring brings it back under the same name.
    let e = ledger.entity(&e.id).unwrap();
    ledger.restore(&e).unwrap();
    book.refresh(&ledger).unwrap();
    let back = book.changes_since(&gone.token).unwrap();
    assert_eq!(back.changed.len(), 1);
    assert_eq!(back.changed[0].0, href);

    // A foreign token, a made-up one, one from the future: refused.
    let other = tempfile::tempdir().unwrap();
    let other_book = Book::open(other.path()).unwrap();
    let err = book
        .changes_since(&other_book.sync_token().unwrap())
        .unwrap_err();
    assert!(matches!(err, TokenError::Foreign { .. }), "{err}");
    assert!(matches!(
        book.changes_since("http://example.com/sync/1").unwrap_err(),
        TokenError::Malformed { .. }
    ));
    let ahead = format!("urn:x-kith:sync:{}:99999", book.id());
    assert!(matches!(
        book.changes_since(&ahead).unwrap_err(),
        TokenError::Ahead { .. }
    ));

    // A book made again (deleted, damaged) is a new book: old tokens refused.
    drop(book);
    Book::remove(dir.path());
    let mut again = Book::open(dir.path()).unwrap();
    again.refresh(&ledger).unwrap();
    assert!(matches!(
        again.changes_since(&back.token).unwrap_err(),
        TokenError::Foreign { .. }
    ));
    assert_eq!(again.changes_since("").unwrap().changed.len(), 2);
}

#[test]
fn a_company_rename_changes_its_peoples_cards() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let e = edna(&mut ledger);
    let mut book = Book::open(dir.path()).unwrap();
    book.refresh(&ledger).unwrap();
    let token = book.sync_token().unwrap();
    let company = ledger
        .entity(&Id::parse(e.str("company").unwrap()).unwrap())
        .unwrap();
    ledger
        .set_field(&company, "name", "Miggins & Daughters", None)
        .unwrap();
    book.refresh(&ledger).unwrap();
    let changes = book.changes_since(&token).unwrap();
    assert_eq!(changes.changed.len(), 1, "{changes:?}");
    let c = book.get(&ledger, &changes.changed[0].0).unwrap().unwrap();
    assert!(c.text.contains("ORG:Miggins & Daughters"), "{}", c.text);
}

#[test]
fn delete_is_kith_rm_and_restorable() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let e = edna(&mut ledger);
    let mut book = Book::open(dir.path()).unwrap();
    book.refresh(&ledger).unwrap();
    let c = card(&ledger, &e).unwrap();
    book.delete(&mut ledger, &c.href, Some(&c.etag), "phone")
        .unwrap();
    assert!(ledger.entity(&e.id).unwrap().is_deleted());
    assert!(book.get(&ledger, &c.href).unwrap().is_none());
    assert!(matches!(
        book.delete(&mut ledger, &c.href, None, "phone")
            .unwrap_err(),
        CardError::NotFound { .. }
    ));
    let removed = ledger.entity(&e.id).unwrap();
    ledger.restore(&removed).unwrap();
    book.refresh(&ledger).unwrap();
    let back = book.get(&ledger, &c.href).unwrap().unwrap();
    assert_eq!(back.etag, c.etag, "the same card as before");
    assert_eq!(keepsakes(&ledger, &e.id).len(), 5);
}

#[test]
fn multiget_and_query_answer_from_the_book() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let e = edna(&mut ledger);
    let mut book = Book::open(dir.path()).unwrap();
    book.refresh(&ledger).unwrap();
    let href = format!("kith-{}.vcf", e.id);
    let got = book.multiget(&ledger, &[&href, "nobody.vcf"]).unwrap();
    assert!(got[0].1.is_some());
    assert!(got[1].1.is_none());
    let names = |q: &[TextMatch], any| -> Vec<String> {
        book.query(&ledger, q, any, 10)
            .unwrap()
            .into_iter()
            .map(|c| {
                c.text
                    .lines()
                    .find(|l| l.starts_with("FN:"))
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    };
    assert_eq!(
        names(&[TextMatch::contains(Prop::Fn, "miggins")], false).len(),
        2
    );
    assert_eq!(
        names(&[TextMatch::contains(Prop::Email, "MIGGINS.co")], false),
        vec!["FN:Edna Miggins"]
    );
    assert_eq!(
        names(&[TextMatch::contains(Prop::Tel, "900123")], false),
        vec!["FN:Edna Miggins"]
    );
    let albert_only = [
        TextMatch::contains(Prop::Fn, "miggins"),
        TextMatch {
            negate: true,
            ..TextMatch::contains(Prop::Fn, "edna")
        },
    ];
    assert_eq!(names(&albert_only, false), vec!["FN:Albert Miggins"]);
    assert!(names(&[TextMatch::contains(Prop::Fn, "nobody")], false).is_empty());
}

#[test]
fn a_damaged_book_is_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    edna(&mut ledger);
    std::fs::write(
        Book::path(dir.path()),
        b"this is not a database, not at all....",
    )
    .unwrap();
    let mut book = Book::open(dir.path()).unwrap();
    book.refresh(&ledger).unwrap();
    assert_eq!(book.len().unwrap(), 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The ETag changes exactly when the bytes do.
    #[test]
    fn etag_changes_iff_the_text_does(a in ".{0,200}", b in ".{0,200}", same in any::<bool>()) {
        let b = if same { a.clone() } else { b };
        prop_assert_eq!(etag_of(&a) == etag_of(&b), a == b);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Over a real ledger: an edit changes a card's ETag exactly when it
    /// changes the card's text.
    #[test]
    fn a_cards_etag_changes_iff_its_text_does(a in "[A-Za-z ]{1,12}", b in "[A-Za-z ]{1,12}") {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = open(dir.path());
        let id = ledger.add_person(&NewPerson { name: "Edna Miggins".into(), title: Some(a), ..NewPerson::default() }).unwrap();
        let e = ledger.entity(&id).unwrap();
        let before = card(&ledger, &e).unwrap();
        ledger.set_field(&e, "title", &b, None).unwrap();
        let after = card(&ledger, &ledger.entity(&id).unwrap()).unwrap();
        prop_assert_eq!(before.etag == after.etag, before.text == after.text);
    }
}

#[test]
fn an_imported_apple_card_round_trips_through_a_phone() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let apple = "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//iPhone OS 17.0//EN\r\nN:Okafor;Daisy;Adaeze;Dr;\r\nFN:Dr Daisy Adaeze Okafor\r\nNICKNAME:Dee\r\nORG:Okafor Imports;Sales\r\nTITLE:Director\r\nitem1.EMAIL;type=INTERNET;type=pref:daisy@okafor.example\r\nitem1.X-ABLabel:Shop\r\nEMAIL;type=INTERNET;type=HOME:dee@home.example\r\nTEL;type=CELL;type=VOICE;type=pref:+44 7700 900456\r\nitem2.TEL:+44 113 496 0001\r\nitem2.X-ABLabel:Warehouse\r\nitem3.ADR;type=WORK:;;1 Dock Road;Hull;;HU1 1AA;United Kingdom\r\nitem3.X-ABADR:gb\r\nBDAY;X-APPLE-OMIT-YEAR=1604:1604-07-14\r\nitem4.URL:https://okafor.example\r\nitem4.X-ABLabel:_$!<HomePage>!$_\r\nIMPP;X-SERVICE-TYPE=Skype:skype:daisy.okafor\r\nX-SOCIALPROFILE;type=linkedin:https://linkedin.com/in/daisy\r\nNOTE:Met at the trade fair\r\nUID:7C2F8B4E-1111-4A2B-9C3D-ABCDEF012345\r\nEND:VCARD\r\n";
    crate::import::import_file(
        &mut ledger,
        "apple.vcf",
        crate::import::Input::Bytes(apple.as_bytes()),
        None,
        None,
        false,
        &|_, _| {},
    )
    .unwrap();
    let mut book = Book::open(dir.path()).unwrap();
    book.refresh(&ledger).unwrap();
    let href = "7C2F8B4E-1111-4A2B-9C3D-ABCDEF012345.vcf";
    let c = book
        .get(&ledger, href)
        .unwrap()
        .expect("served at its own UID");
    let before = versions(&ledger);
    // The card as served, and the card the phone first sent, both change nothing.
    for text in [c.text.as_str(), apple] {
        let out = book
            .apply_put(&mut ledger, href, text, Some(&c.etag), false, "iPhone")
            .unwrap();
        assert!(!out.changed, "{text}");
    }
    assert_eq!(versions(&ledger), before);
    // Relabelling the warehouse number keeps it where it was.
    let relabelled = c.text.replace("X-ABLabel:warehouse", "X-ABLabel:Depot");
    assert_ne!(relabelled, c.text, "{}", c.text);
    book.apply_put(
        &mut ledger,
        href,
        &relabelled,
        Some(&c.etag),
        false,
        "iPhone",
    )
    .unwrap();
    let p = ledger
        .index()
        .query_entities("SELECT json FROM entities WHERE kind = 'person'", [])
        .unwrap()
        .remove(0);
    let phones = p.set_values("phones");
    assert!(
        phones
            .iter()
            .any(|l| l.value == "+44 113 496 0001" && l.label == "depot" && l.private),
        "{phones:?}"
    );
    assert_eq!(phones.len(), 2);
    // A client that leaves N out keeps the name's parts.
    let c = book.get(&ledger, href).unwrap().unwrap();
    let without_n: String = c
        .text
        .split("\r\n")
        .filter(|l| !l.starts_with("N:"))
        .collect::<Vec<_>>()
        .join("\r\n");
    let out = book
        .apply_put(
            &mut ledger,
            href,
            &without_n,
            Some(&c.etag),
            false,
            "iPhone",
        )
        .unwrap();
    assert!(!out.changed);
    assert_eq!(book.get(&ledger, href).unwrap().unwrap().text, c.text);
}

#[test]
fn an_edit_through_another_ledger_handle_shows_on_the_next_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let e = edna(&mut ledger);
    let mut book = Book::open(dir.path()).unwrap();
    book.refresh(&ledger).unwrap();
    let token = book.sync_token().unwrap();
    // The CLI, the web face or the daemon: another handle on the same home.
    let mut cli = open(dir.path());
    let edna = cli.entity(&e.id).unwrap();
    cli.set_field(&edna, "phone", "home:0113 496 0999", None)
        .unwrap();
    drop(cli);
    let r = book.refresh(&ledger).unwrap();
    assert_eq!(r.changed, 1, "{r:?}");
    let changes = book.changes_since(&token).unwrap();
    assert_eq!(changes.changed.len(), 1);
    let c = book.get(&ledger, &changes.changed[0].0).unwrap().unwrap();
    assert!(c.text.contains("0113 496 0999"), "{}", c.text);
    assert_eq!(c.etag, changes.changed[0].1);
}

#[test]
fn a_phone_and_the_cli_writing_at_once_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = open(dir.path());
    let e = edna(&mut ledger);
    let home = dir.path().to_path_buf();
    let id = e.id.clone();
    // The CLI, in its own handle, adds notes while a phone edits the card.
    let cli = std::thread::spawn(move || {
        let mut cli = open(&home);
        let edna = cli.entity(&id).unwrap();
        for i in 0..15 {
            cli.add_note(&edna, &format!("cli note {i}"), None).unwrap();
        }
    });
    let mut book = Book::open(dir.path()).unwrap();
    for i in 0..15 {
        // If-Match may lose to the CLI's note: then the phone reads the
        // card again and retries, as it does after a 412.
        loop {
            let c = card(&ledger, &ledger.entity(&e.id).unwrap()).unwrap();
            let text = with_title(&c.text, &format!("Baker {i}"));
            match book.apply_put(&mut ledger, &c.href, &text, Some(&c.etag), false, "phone") {
                Ok(_) => break,
                Err(CardError::Changed { .. }) => continue,
                Err(other) => panic!("{other}"),
            }
        }
    }
    cli.join().unwrap();
    book.refresh(&ledger).unwrap();
    let after = ledger.entity(&e.id).unwrap();
    assert_eq!(after.str("title"), Some("Baker 14"));
    let notes = ledger
        .index()
        .count_with(
            "SELECT count(*) FROM items WHERE subject = ?1 AND kind = 'note'",
            [e.id.as_str()],
        )
        .unwrap();
    assert_eq!(notes, 16, "the first note and the CLI's fifteen");
    assert_eq!(keepsakes(&ledger, &e.id).len(), 5 + 15);
}

/// A card's text with its TITLE line replaced.
fn with_title(text: &str, title: &str) -> String {
    text.split("\r\n")
        .map(|l| {
            if l.starts_with("TITLE:") {
                format!("TITLE:{title}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}
