//! The requests iOS Contacts and DAVx5 send, in their order, on a first
//! sync and a later one (from their public documentation and traces):
//! service discovery (well-known, then the principal, then the home), the
//! book's ctag and sync-token, sync-collection with an empty token, a
//! multiget of what it listed, an edit PUT with If-Match, a conflicting
//! PUT, and a later sync-collection that shows exactly what changed.

use super::*;

const PRINCIPAL_BODY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<A:propfind xmlns:A="DAV:">
  <A:prop>
    <A:current-user-principal/>
    <A:principal-URL/>
    <A:resourcetype/>
  </A:prop>
</A:propfind>"#;

const HOME_SET_BODY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<A:propfind xmlns:A="DAV:" xmlns:B="urn:ietf:params:xml:ns:carddav">
  <A:prop>
    <B:addressbook-home-set/>
    <A:displayname/>
    <A:principal-collection-set/>
    <A:email-address-set xmlns:A="http://calendarserver.org/ns/"/>
  </A:prop>
</A:propfind>"#;

/// What iOS asks of the home, Depth 1.
const HOME_BODY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<A:propfind xmlns:A="DAV:" xmlns:B="urn:ietf:params:xml:ns:carddav" xmlns:C="http://calendarserver.org/ns/">
  <A:prop>
    <A:current-user-privilege-set/>
    <A:displayname/>
    <C:getctag/>
    <A:resourcetype/>
    <A:sync-token/>
    <A:supported-report-set/>
    <B:max-resource-size/>
    <A:quota-available-bytes/>
  </A:prop>
</A:propfind>"#;

const CTAG_BODY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<propfind xmlns="DAV:" xmlns:CS="http://calendarserver.org/ns/"><prop><CS:getctag/><sync-token/></prop></propfind>"#;

fn sync_body(token: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<sync-collection xmlns="DAV:"><sync-token>{token}</sync-token><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>"#
    )
}

fn multiget_body(hrefs: &[&str]) -> String {
    let mut b = String::from(
        r#"<?xml version="1.0" encoding="utf-8"?>
<CARD:addressbook-multiget xmlns="DAV:" xmlns:CARD="urn:ietf:params:xml:ns:carddav"><prop><getetag/><CARD:address-data/></prop>"#,
    );
    for h in hrefs {
        b.push_str(&format!("<href>{h}</href>"));
    }
    b.push_str("</CARD:addressbook-multiget>");
    b
}

fn setup() -> Home {
    let home = Home::new();
    home.ok(&[
        "add",
        "Ann Lee",
        "--email",
        "ann@lee.example",
        "--phone",
        "+44 20 7946 0001",
    ]);
    home.ok(&["fact", "Ann Lee", "likes sailing"]);
    home.ok(&["add", "Bob Stone", "--email", "bob@stone.example"]);
    home.ok(&["add", "Cara Diaz", "--phone", "+44 20 7946 0003"]);
    home
}

const BOOK: &str = "/dav/books/kith/";

/// The card hrefs of a sync-collection answer, with their ETags.
fn listed(ms: &Multistatus) -> Vec<(String, String)> {
    ms.members
        .iter()
        .filter(|m| m.status.is_none())
        .map(|m| (m.href.clone(), m.text("getetag")))
        .collect()
}

#[test]
fn first_and_later_sync() {
    let home = setup();
    let dav = Dav::start(&home, &[]);

    // Discovery: OPTIONS and the well-known URL need no credentials.
    let r = http(dav.port, "OPTIONS", "/", &[], b"");
    assert_eq!(r.status, 200);
    let dav_header = r.header("dav").expect("a DAV header");
    for class in ["1", "3", "addressbook"] {
        assert!(
            dav_header.split(',').any(|c| c.trim() == class),
            "{dav_header}"
        );
    }
    assert!(r.header("allow").unwrap().contains("PROPFIND"));
    for method in ["GET", "PROPFIND"] {
        let r = http(dav.port, method, "/.well-known/carddav", &[], b"");
        assert_eq!(r.status, 301, "{method} well-known");
        assert_eq!(r.header("location"), Some("/dav/"));
    }

    // Without credentials: 401 and a Basic challenge.
    let r = http(
        dav.port,
        "PROPFIND",
        "/dav/",
        &[("Depth", "0")],
        PRINCIPAL_BODY.as_bytes(),
    );
    assert_eq!(r.status, 401);
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .starts_with("Basic realm=\"kith\"")
    );

    // The principal.
    let ms = dav.propfind("/dav/", "0", PRINCIPAL_BODY).multistatus();
    let cup = &ms.members[0].found["current-user-principal"];
    let principal = cup.child(DAV, "href").unwrap().text.clone();
    assert_eq!(principal, "/dav/principal/");

    // The home set, asked of the principal; an unknown property is a 404.
    let ms = dav.propfind(&principal, "0", HOME_SET_BODY).multistatus();
    let m = ms.member("/dav/principal/");
    let home_set = m.found["addressbook-home-set"]
        .child(DAV, "href")
        .unwrap()
        .text
        .clone();
    assert_eq!(home_set, "/dav/books/");
    assert!(
        m.missing.contains(&"email-address-set".to_string()),
        "{m:?}"
    );

    // The home, Depth 1: the books, "kith" first.
    let ms = dav.propfind(&home_set, "1", HOME_BODY).multistatus();
    let books: Vec<&Member> = ms
        .members
        .iter()
        .filter(|m| m.found["resourcetype"].child(CARD, "addressbook").is_some())
        .collect();
    assert_eq!(books.len(), 1, "{ms:?}");
    assert_eq!(books[0].href, BOOK);
    assert_eq!(books[0].text("displayname"), "kith");
    let reports = &books[0].found["supported-report-set"];
    for (ns, name) in [
        (CARD, "addressbook-multiget"),
        (CARD, "addressbook-query"),
        (DAV, "sync-collection"),
    ] {
        assert!(reports.find(ns, name).is_some(), "no {name} in {reports:?}");
    }
    assert!(
        books[0].found["current-user-privilege-set"]
            .find(DAV, "write")
            .is_some()
    );
    assert!(
        books[0]
            .missing
            .contains(&"quota-available-bytes".to_string())
    );

    // The book, Depth 0: ctag and sync token.
    let ms = dav.propfind(BOOK, "0", CTAG_BODY).multistatus();
    let ctag = ms.member(BOOK).text("getctag");
    let token0 = ms.member(BOOK).text("sync-token");
    assert!(!ctag.is_empty() && !token0.is_empty());

    // DAVx5's first sync: an empty token lists every card.
    let ms = dav.report(BOOK, &sync_body("")).multistatus();
    let cards = listed(&ms);
    assert_eq!(cards.len(), 3, "{ms:?}");
    let token1 = ms.sync_token.clone().expect("a new sync token");
    assert_eq!(token1, token0, "nothing changed between the two");

    // Multiget of what was listed.
    let hrefs: Vec<&str> = cards.iter().map(|(h, _)| h.as_str()).collect();
    let ms = dav.report(BOOK, &multiget_body(&hrefs)).multistatus();
    assert_eq!(ms.members.len(), 3);
    let mut ann = None;
    for (href, etag) in &cards {
        let m = ms.member(href);
        assert_eq!(&m.text("getetag"), etag);
        let text = m.text("address-data");
        assert!(text.starts_with("BEGIN:VCARD"), "{text}");
        if text.contains("FN:Ann Lee") {
            ann = Some((href.clone(), etag.clone(), text));
        }
    }
    let (ann_href, ann_etag, ann_text) = ann.expect("Ann's card");

    // GET agrees with the multiget.
    let r = dav.call("GET", &ann_href, &[], "");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("etag"), Some(ann_etag.as_str()));
    assert!(r.header("content-type").unwrap().starts_with("text/vcard"));
    assert_eq!(r.body, ann_text);

    // iOS edits Ann's number: a PUT with If-Match.
    let edited = ann_text.replace("+44 20 7946 0001", "+44 20 7946 0999");
    assert_ne!(edited, ann_text);
    let r = dav.call(
        "PUT",
        &ann_href,
        &[
            ("If-Match", &ann_etag),
            ("Content-Type", "text/vcard; charset=utf-8"),
        ],
        &edited,
    );
    assert_eq!(r.status, 204, "{r:?}");
    let shown = home.show("Ann Lee");
    let shown = shown.to_string();
    assert!(shown.contains("+44 20 7946 0999"), "{shown}");
    assert!(!shown.contains("+44 20 7946 0001"), "{shown}");
    assert!(
        shown.contains("likes sailing"),
        "the fact was lost: {shown}"
    );
    let history = home.ok(&["history", "Ann Lee"]);
    assert!(
        history.contains("iphone"),
        "the device is not in the history:\n{history}"
    );

    // The same PUT again, with the now stale ETag: 412, nothing written.
    let conflicting = ann_text.replace("+44 20 7946 0001", "+44 20 7946 0555");
    let r = dav.call("PUT", &ann_href, &[("If-Match", &ann_etag)], &conflicting);
    assert_eq!(r.status, 412, "{r:?}");
    assert!(!home.show("Ann Lee").to_string().contains("0555"));

    // A sync after the PUT shows Ann's card, with a new ETag.
    let ms = dav.report(BOOK, &sync_body(&token1)).multistatus();
    let changed = listed(&ms);
    assert_eq!(changed.len(), 1, "{ms:?}");
    assert_eq!(changed[0].0, ann_href);
    assert_ne!(changed[0].1, ann_etag);
    let token2 = ms.sync_token.clone().unwrap();
    assert_ne!(token2, token1);

    // Meanwhile, the CLI edits Bob and removes Cara.
    home.ok(&["set", "Bob Stone", "title", "Buyer"]);
    home.ok(&["rm", "Cara Diaz"]);
    let bob_href = cards
        .iter()
        .find(|(h, _)| ms_text(&dav, h).contains("FN:Bob Stone"))
        .map(|(h, _)| h.clone())
        .expect("Bob's href");
    let cara_href = cards
        .iter()
        .map(|(h, _)| h.clone())
        .find(|h| *h != ann_href && *h != bob_href)
        .unwrap();

    // iOS checks the ctag first: it moved.
    let ms = dav.propfind(BOOK, "0", CTAG_BODY).multistatus();
    assert_ne!(ms.member(BOOK).text("getctag"), ctag);

    // The later sync: exactly Bob changed and Cara gone (a 404 member).
    let ms = dav.report(BOOK, &sync_body(&token2)).multistatus();
    let changed = listed(&ms);
    assert_eq!(changed.len(), 1, "{ms:?}");
    assert_eq!(changed[0].0, bob_href);
    let removed: Vec<&Member> = ms
        .members
        .iter()
        .filter(|m| m.status == Some(404))
        .collect();
    assert_eq!(removed.len(), 1, "{ms:?}");
    assert_eq!(removed[0].href, cara_href);
    let token3 = ms.sync_token.clone().unwrap();

    // And nothing more on the next one.
    let ms = dav.report(BOOK, &sync_body(&token3)).multistatus();
    assert!(ms.members.is_empty(), "{ms:?}");
    assert_eq!(ms.sync_token.as_deref(), Some(token3.as_str()));

    // A token this book never gave (macOS can send one): 403 valid-sync-token.
    for bad in [
        "http://example.com/ns/sync/1234",
        "urn:x-kith:sync:0000000000000000:1",
    ] {
        let r = dav.report(BOOK, &sync_body(bad));
        assert_eq!(r.status, 403, "{r:?}");
        let err = parse_xml(&r.body);
        assert!(err.is(DAV, "error"));
        assert!(err.child(DAV, "valid-sync-token").is_some(), "{err:?}");
    }

    // The multiget of a removed card is a 404 member.
    let ms = dav
        .report(BOOK, &multiget_body(&[&cara_href, &bob_href]))
        .multistatus();
    assert_eq!(ms.member(&cara_href).status, Some(404));
    assert!(
        ms.member(&bob_href)
            .text("address-data")
            .contains("TITLE:Buyer")
    );

    // PROPFIND Depth 1 on the book lists the two cards left.
    let ms = dav
        .propfind(
            BOOK,
            "1",
            "<propfind xmlns=\"DAV:\"><prop><getetag/><getcontenttype/></prop></propfind>",
        )
        .multistatus();
    let members: Vec<&Member> = ms.members.iter().filter(|m| m.href != BOOK).collect();
    assert_eq!(members.len(), 2, "{ms:?}");
    for m in members {
        assert!(m.text("getcontenttype").starts_with("text/vcard"));
        assert!(m.text("getetag").starts_with('"'));
    }
}

/// A card's text by GET.
fn ms_text(dav: &Dav, href: &str) -> String {
    dav.call("GET", href, &[], "").body
}

const NEW_CARD: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:5E1B7C2A-PHONE-0001\r\nFN:Dora Mill\r\nN:Mill;Dora;;;\r\nEMAIL;TYPE=INTERNET:dora@mill.example\r\nEND:VCARD\r\n";

#[test]
fn create_query_delete_and_limits() {
    let home = setup();
    let dav = Dav::start(&home, &[]);
    let href = format!("{BOOK}5E1B7C2A-PHONE-0001.vcf");

    // A card made on the phone: 201, and a person in kith.
    let r = dav.call("PUT", &href, &[("If-None-Match", "*")], NEW_CARD);
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(home.show("Dora Mill")["name"], "Dora Mill");
    let r = dav.call("GET", &href, &[], "");
    assert_eq!(r.status, 200, "the phone's href is kept: {r:?}");
    assert!(r.body.contains("UID:5E1B7C2A-PHONE-0001"));
    // Made again with If-None-Match: * is refused.
    let r = dav.call("PUT", &href, &[("If-None-Match", "*")], NEW_CARD);
    assert_eq!(r.status, 412);
    // A stale If-Match on a card that does not exist is refused too.
    let r = dav.call(
        "PUT",
        &format!("{BOOK}nobody.vcf"),
        &[("If-Match", "\"abc\"")],
        NEW_CARD,
    );
    assert_eq!(r.status, 412);

    // addressbook-query: text-match on FN, EMAIL and TEL.
    let query = |prop: &str, text: &str, how: &str| {
        let body = format!(
            r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop><C:filter><C:prop-filter name="{prop}"><C:text-match collation="i;unicode-casemap" match-type="{how}">{text}</C:text-match></C:prop-filter></C:filter></C:addressbook-query>"#
        );
        let ms = dav.report(BOOK, &body).multistatus();
        let mut names: Vec<String> = ms
            .members
            .iter()
            .map(|m| {
                let t = m.text("address-data");
                t.lines()
                    .find_map(|l| l.strip_prefix("FN:"))
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            })
            .collect();
        names.sort();
        names
    };
    assert_eq!(query("FN", "ann", "contains"), ["Ann Lee"]);
    assert_eq!(query("FN", "dora", "starts-with"), ["Dora Mill"]);
    assert_eq!(query("EMAIL", "stone.example", "ends-with"), ["Bob Stone"]);
    assert_eq!(query("TEL", "0003", "contains"), ["Cara Diaz"]);
    assert_eq!(query("FN", "Bob Stone", "equals"), ["Bob Stone"]);
    let r = dav.report(
        BOOK,
        r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/></D:prop><C:filter><C:prop-filter name="X-UNKNOWN"><C:text-match>x</C:text-match></C:prop-filter></C:filter></C:addressbook-query>"#,
    );
    assert_eq!(r.status, 403);

    // An unreadable card: 400 with the reason, nothing written.
    let before = home.json(&["list", "--json"]).to_string();
    let r = dav.call(
        "PUT",
        &format!("{BOOK}broken.vcf"),
        &[],
        "BEGIN:VCARD\r\nFN:No End\r\n",
    );
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body.contains("broken.vcf"), "{}", r.body);
    assert_eq!(home.json(&["list", "--json"]).to_string(), before);

    // A card over 1 MiB: 413, nothing written.
    let big = format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Big\r\nNOTE:{}\r\nEND:VCARD\r\n",
        "x".repeat(1024 * 1024 + 10)
    );
    let r = dav.call("PUT", &format!("{BOOK}big.vcf"), &[], &big);
    assert_eq!(r.status, 413, "{:?}", r.status);
    assert_eq!(home.json(&["list", "--json"]).to_string(), before);

    // DELETE is kith rm: gone from the book, back with kith restore.
    let r = dav.call("DELETE", &href, &[], "");
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(dav.call("GET", &href, &[], "").status, 404);
    assert!(
        !home
            .json(&["list", "--json"])
            .to_string()
            .contains("Dora Mill")
    );
    home.ok(&["restore", "Dora Mill"]);
    assert_eq!(dav.call("GET", &href, &[], "").status, 200);
    assert_eq!(
        dav.call("DELETE", &format!("{BOOK}nobody.vcf"), &[], "")
            .status,
        404
    );
}

#[test]
fn cli_and_phone_writing_at_once_lose_nothing() {
    let home = setup();
    let dav = Dav::start(&home, &[]);
    const N: usize = 8;
    let phone = std::thread::scope(|s| {
        let phone = s.spawn(|| {
            (0..N)
                .map(|i| {
                    let card = format!(
                        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:phone-{i}\r\nFN:Phone Person {i}\r\nEMAIL:phone{i}@example.com\r\nEND:VCARD\r\n"
                    );
                    dav.call("PUT", &format!("{BOOK}phone-{i}.vcf"), &[], &card).status
                })
                .collect::<Vec<u16>>()
        });
        for i in 0..N {
            home.ok(&[
                "add",
                &format!("Cli Person {i}"),
                "--email",
                &format!("cli{i}@example.com"),
            ]);
        }
        phone.join().unwrap()
    });
    assert!(phone.iter().all(|s| *s == 201), "{phone:?}");
    let list = home.json(&["list", "--json"]).to_string();
    for i in 0..N {
        assert!(
            list.contains(&format!("Phone Person {i}")),
            "phone card {i} lost"
        );
        assert!(
            list.contains(&format!("Cli Person {i}")),
            "CLI add {i} lost"
        );
    }
    let ms = dav.report(BOOK, &sync_body("")).multistatus();
    assert_eq!(listed(&ms).len(), 3 + 2 * N, "{ms:?}");
}

#[test]
fn a_big_book_is_streamed() {
    let home = Home::new();
    const N: usize = 300;
    let mut vcf = String::new();
    for i in 0..N {
        vcf.push_str(&format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person {i}\r\nEMAIL:p{i}@example.com\r\nEND:VCARD\r\n"
        ));
    }
    let file = home.path().join("many.vcf");
    std::fs::write(&file, vcf).unwrap();
    home.ok(&["import", file.to_str().unwrap()]);
    let dav = Dav::start(&home, &[]);
    // More than one piece (32 KiB) of answer: sent chunked, as it is made.
    for (method, body, depth) in [
        (
            "PROPFIND",
            "<propfind xmlns=\"DAV:\"><prop><getetag/></prop></propfind>".to_string(),
            "1",
        ),
        ("REPORT", sync_body(""), "1"),
    ] {
        let r = dav.call(method, BOOK, &[("Depth", depth)], &body);
        assert_eq!(r.header("transfer-encoding"), Some("chunked"), "{method}");
        let ms = r.multistatus();
        let cards = ms.members.iter().filter(|m| m.href != BOOK).count();
        assert_eq!(cards, N, "{method}");
        for m in ms.members.iter().filter(|m| m.href != BOOK) {
            assert!(m.text("getetag").starts_with('"'));
        }
    }
}
