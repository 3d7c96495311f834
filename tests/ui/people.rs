//! People in the browser: search answers as the user types, typos
//! forgiven; `/` jumps to the search box; a long list comes a page at a
//! time.

use fantoccini::{Client, Locator};

use super::{Browser, UiServer, eventually, path, runtime, sign_in, wait_for_text};
use crate::common::Home;

/// 119 customers, imported in one go, and Edna Miggins, who sorts last.
pub fn crowded_home() -> Home {
    let home = Home::new();
    let mut cards = String::new();
    for i in 1..120 {
        cards.push_str(&format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Customer {i:03}\r\nN:{i:03};Customer;;;\r\nEND:VCARD\r\n"
        ));
    }
    let file = home.path().join("customers.vcf");
    std::fs::write(&file, cards).unwrap();
    home.ok(&["import", file.to_str().unwrap()]);
    home.add(&["Edna Miggins", "--company", "Miggins & Daughters"]);
    home
}

/// The names listed in #results, in order, read in one step (search as
/// you type may replace the list at any moment).
async fn listed(c: &Client) -> Vec<String> {
    let names = c
        .execute(
            "return [...document.querySelectorAll('#results li a.name')].map(a => a.textContent);",
            Vec::new(),
        )
        .await
        .expect("the results");
    serde_json::from_value(names).expect("a list of names")
}

/// Sets a marker on the window: gone if the page is loaded again.
async fn mark(c: &Client) {
    c.execute("window.kithTestMark = 1;", Vec::new())
        .await
        .expect("script runs");
}

async fn still_marked(c: &Client) -> bool {
    c.execute("return window.kithTestMark === 1;", Vec::new())
        .await
        .expect("script runs")
        == serde_json::json!(true)
}

#[test]
fn search_answers_as_you_type_and_forgives_a_typo() {
    let home = crowded_home();
    let ui = UiServer::start(&home);
    runtime().block_on(async {
        let Some(b) = Browser::start().await else {
            return;
        };
        let c = &b.client;
        sign_in(c, &ui).await;
        c.goto(&ui.at("/people")).await.unwrap();
        wait_for_text(c, "120 people").await;
        assert!(!listed(c).await.contains(&"Edna Miggins".to_string()));
        mark(c).await;

        let box_ = c
            .find(Locator::Css("#people-q"))
            .await
            .expect("a search box");
        box_.send_keys("migins").await.expect("typing");
        let names = eventually("Edna to be found while typing", || async {
            let names = listed(c).await;
            names.contains(&"Edna Miggins".to_string()).then_some(names)
        })
        .await;
        assert!(
            !names.iter().any(|n| n.starts_with("Customer")),
            "customers among the hits for 'migins': {names:?}"
        );
        // Found in place: no Enter, no new page; the address follows the
        // query, so reloading or sharing it shows the same.
        assert!(still_marked(c).await, "the page was loaded again");
        let why = c
            .find(Locator::Css("#results .why"))
            .await
            .expect("why each hit matched")
            .text()
            .await
            .unwrap();
        assert!(why.contains("name"), "{why}");
        let address = path(c).await;
        assert!(
            address.starts_with("/people?") && address.contains("q=migins"),
            "{address}"
        );
        b.close().await;
    });
}

#[test]
fn slash_jumps_to_the_search_box() {
    let home = Home::new();
    home.add(&["Edna Miggins"]);
    let ui = UiServer::start(&home);
    runtime().block_on(async {
        let Some(b) = Browser::start().await else {
            return;
        };
        let c = &b.client;
        sign_in(c, &ui).await;
        for (page, field) in [("/", "q"), ("/people", "people-q")] {
            c.goto(&ui.at(page)).await.unwrap();
            let focused = c.active_element().await.unwrap().attr("id").await.unwrap();
            assert_ne!(focused.as_deref(), Some(field), "{page}: focused already");
            c.find(Locator::Css("body"))
                .await
                .unwrap()
                .send_keys("/")
                .await
                .expect("pressing /");
            let focused = c.active_element().await.unwrap();
            assert_eq!(
                focused.attr("id").await.unwrap().as_deref(),
                Some(field),
                "{page}: / did not focus the search box"
            );
            // The slash itself is not typed into it.
            assert_eq!(focused.prop("value").await.unwrap().as_deref(), Some(""));
        }
        // Typing in a field, / is just a character.
        c.goto(&ui.at("/people")).await.unwrap();
        let company = c.find(Locator::Css("#company")).await.unwrap();
        company.send_keys("A/B").await.unwrap();
        assert_eq!(company.prop("value").await.unwrap().as_deref(), Some("A/B"));
        b.close().await;
    });
}

#[test]
fn a_long_list_comes_a_page_at_a_time() {
    let home = crowded_home();
    let ui = UiServer::start(&home);
    runtime().block_on(async {
        let Some(b) = Browser::start().await else {
            return;
        };
        let c = &b.client;
        sign_in(c, &ui).await;
        c.goto(&ui.at("/people")).await.unwrap();
        wait_for_text(c, "120 people").await;
        let first = listed(c).await;
        assert_eq!(first.len(), 50, "{first:?}");
        assert_eq!(first[0], "Customer 001");

        let mut seen = first.clone();
        let mut pages = 1;
        loop {
            let next = c.find(Locator::Css("a[rel=next]")).await;
            let Ok(next) = next else { break };
            assert!(pages < 5, "more pages than 120 people need");
            assert_eq!(next.text().await.unwrap(), "Next page →");
            next.click().await.expect("the next page");
            let before = seen.last().cloned().unwrap();
            let page = eventually("the next page", || async {
                let names = listed(c).await;
                (names.first().is_some_and(|n| *n != first[0]) && !names.contains(&before))
                    .then_some(names)
            })
            .await;
            pages += 1;
            seen.extend(page);
        }
        assert_eq!(pages, 3, "120 people at 50 a page");
        assert_eq!(seen.len(), 120, "everyone once: {seen:?}");
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 120, "someone listed twice");
        assert_eq!(seen.last().map(String::as_str), Some("Edna Miggins"));
        b.close().await;
    });
}

#[test]
fn going_from_section_to_section_never_stalls() {
    let home = Home::new();
    home.add(&["Edna Miggins", "--company", "Miggins & Daughters"]);
    let ui = UiServer::start(&home);
    runtime().block_on(async {
        let Some(b) = Browser::start().await else {
            return;
        };
        let c = &b.client;
        sign_in(c, &ui).await;
        // Pages that follow the ledger live hold a connection open while
        // shown; one left behind must let it go, or after six pages the
        // browser has none left for the next one.
        for (n, section) in ["People", "Companies", "Team", "Today"]
            .iter()
            .cycle()
            .take(10)
            .enumerate()
        {
            let start = std::time::Instant::now();
            c.find(Locator::XPath(&format!(
                "//nav[@aria-label='Sections']//a[normalize-space(.)='{section}']"
            )))
            .await
            .unwrap_or_else(|_| panic!("no {section} in the navigation"))
            .click()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "page {} ({section}) did not open within {:?}: {e}",
                    n + 1,
                    start.elapsed()
                )
            });
            let heading = c
                .find(Locator::Css("main h1"))
                .await
                .expect("a heading")
                .text()
                .await
                .unwrap();
            let took = start.elapsed();
            assert!(
                took < std::time::Duration::from_secs(3),
                "page {} ({section}) took {took:?} to open",
                n + 1
            );
            assert!(heading.starts_with(section), "{section}: {heading}");
        }
        b.close().await;
    });
}
