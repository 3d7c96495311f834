//! Open pages follow the ledger: a write with the CLI, and a teammate's new
//! contact stored by the daemon, show on a page already open in the browser
//! without a reload. Each test prints how long the change took to show
//! (docs/PERFORMANCE.md quotes it); the bound it asserts is only the
//! harness's wait, never a speed target.

use std::time::Instant;

use fantoccini::Client;

use super::{Browser, UiServer, runtime, sign_in, wait_for_text};
use crate::cli::team::{Daemon, team_of};
use crate::common::Home;

/// Marks the page so a reload would be noticed: a reload forgets it.
async fn mark(c: &Client) {
    c.execute("window.kithMark = 'still here';", vec![])
        .await
        .expect("script runs");
}

async fn still_marked(c: &Client) -> bool {
    c.execute("return window.kithMark === 'still here';", vec![])
        .await
        .expect("script runs")
        .as_bool()
        .unwrap_or(false)
}

#[test]
fn a_cli_write_shows_on_an_open_page_without_a_reload() {
    let home = Home::new();
    home.add(&["Edna Miggins"]);
    let ui = UiServer::start(&home);
    runtime().block_on(async {
        let Some(b) = Browser::start().await else {
            return;
        };
        let c = &b.client;
        sign_in(c, &ui).await;
        c.goto(&ui.at("/people")).await.expect("People opens");
        wait_for_text(c, "Edna Miggins").await;
        mark(c).await;
        // Let the page's live stream connect before writing.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;

        home.add(&["Albert Miggins", "--company", "Old Holborn Ltd"]);
        let written = Instant::now();
        let text = wait_for_text(c, "Albert Miggins").await;
        let took = written.elapsed();
        eprintln!("live: a CLI write showed on the open People page in {took:?}");
        assert!(text.contains("Edna Miggins"), "{text}");
        assert!(still_marked(c).await, "the page was reloaded, not updated");

        // The Today page follows too: a follow-up added now shows there.
        c.goto(&ui.at("/")).await.expect("Today opens");
        mark(c).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        home.ok(&[
            "follow-up",
            "albert",
            "Send the tobacco catalogue",
            "--due",
            "today",
        ]);
        let written = Instant::now();
        wait_for_text(c, "Send the tobacco catalogue").await;
        eprintln!(
            "live: a follow-up showed on the open Today page in {:?}",
            written.elapsed()
        );
        assert!(still_marked(c).await, "the page was reloaded, not updated");
        b.close().await;
    });
}

#[test]
fn a_teammates_new_contact_appears_live() {
    let (alice, bob) = (Home::new(), Home::new());
    alice.add(&["Edna Miggins", "--company", "Miggins & Daughters"]);
    let _a = team_of(&alice, &[(&bob, "bob")]);
    let _b = Daemon::start(&bob, &[]);
    let ui = UiServer::start(&alice);
    runtime().block_on(async {
        let Some(b) = Browser::start().await else {
            return;
        };
        let c = &b.client;
        sign_in(c, &ui).await;
        // Alice is searching for a name nobody has yet.
        c.goto(&ui.at("/people?q=zebedee"))
            .await
            .expect("a search opens");
        wait_for_text(c, "Nothing in your ledger matches").await;
        mark(c).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;

        // Bob meets Zebedee; bob's daemon sends it to alice's, which stores it.
        bob.add(&["Zebedee Quill", "--company", "Quill Stationers"]);
        let written = Instant::now();
        let text = wait_for_text(c, "Zebedee Quill").await;
        eprintln!(
            "live: bob's new contact showed on alice's open page in {:?} (sync included)",
            written.elapsed()
        );
        assert!(text.contains("From the team"), "{text}");
        assert!(text.contains("bob's, read-only"), "{text}");
        assert!(still_marked(c).await, "the page was reloaded, not updated");

        // It opens read-only, with bob's name, and alice can adopt it.
        c.goto(&ui.at("/people?q=zebedee"))
            .await
            .expect("the search opens");
        c.find(fantoccini::Locator::LinkText("Zebedee Quill"))
            .await
            .expect("a link to bob's record")
            .click()
            .await
            .expect("it opens");
        let text = wait_for_text(c, "read-only").await;
        assert!(text.contains("From bob's ledger"), "{text}");
        c.find(fantoccini::Locator::XPath(
            "//button[starts-with(normalize-space(.), 'Adopt')]",
        ))
        .await
        .expect("an Adopt button")
        .click()
        .await
        .expect("Adopt clicks");
        wait_for_text(c, "Adopted Zebedee Quill").await;
        b.close().await;
    });
    let mine = alice.json(&["find", "zebedee", "--json"]);
    assert_eq!(mine.as_array().map(Vec::len), Some(1), "{mine}");
}
