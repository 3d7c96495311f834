//! `--team`: a teammate's shared people, as they reach this home through
//! the daemon, in a second, read-only book, each card marked with whose it
//! is; the book's token moves when a replica changes.

use crate::cli::team::{Daemon, team_of, wait_until};

use super::*;

const TEAM: &str = "/dav/books/team/";

fn sync(dav: &Dav, token: &str) -> Reply {
    dav.report(
        TEAM,
        &format!(
            "<sync-collection xmlns=\"DAV:\"><sync-token>{token}</sync-token><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>"
        ),
    )
}

#[test]
fn teammates_people_in_the_team_book() {
    let (alice, bob) = (Home::new(), Home::new());
    alice.ok(&["add", "Edna Miggins", "--email", "edna@miggins.co.uk"]);
    let _a = team_of(&alice, &[(&bob, "bob")]);
    let _b = Daemon::start(&bob, &[]);
    assert!(
        wait_until(20, || bob.run(&["show", "alice/edna", "--json"]).code
            == Some(0)),
        "Edna never reached bob"
    );
    bob.ok(&["add", "Own Person"]);
    let dav = Dav::start(&bob, &["--team"]);

    let ms = sync(&dav, "").multistatus();
    let cards: Vec<&Member> = ms.members.iter().collect();
    assert_eq!(cards.len(), 1, "{ms:?}");
    let href = cards[0].href.clone();
    assert!(href.starts_with(TEAM), "{href}");
    let token = ms.sync_token.clone().expect("a token");
    let r = dav.call("GET", &href, &[], "");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("FN:Edna Miggins (alice)"), "{}", r.body);
    assert!(r.body.contains("X-KITH-OWNER:alice"), "{}", r.body);
    assert_eq!(r.header("etag"), Some(cards[0].text("getetag").as_str()));
    // Read-only.
    assert_eq!(dav.call("PUT", &href, &[], &r.body).status, 403);
    assert_eq!(dav.call("DELETE", &href, &[], "").status, 403);
    // The own book is not mixed in.
    let own = dav.report("/dav/books/kith/", &sync_own()).multistatus();
    assert_eq!(own.members.len(), 1);

    // A teammate's new person moves the token: the old one is refused, so
    // the phone syncs afresh and sees both.
    alice.ok(&["add", "Daisy Miggins"]);
    assert!(
        wait_until(20, || bob.run(&["show", "alice/daisy", "--json"]).code
            == Some(0)),
        "Daisy never reached bob"
    );
    let r = sync(&dav, &token);
    assert_eq!(r.status, 403, "{r:?}");
    assert!(parse_xml(&r.body).child(DAV, "valid-sync-token").is_some());
    assert_eq!(sync(&dav, "").multistatus().members.len(), 2);
}

fn sync_own() -> String {
    "<sync-collection xmlns=\"DAV:\"><sync-token/><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>".into()
}
