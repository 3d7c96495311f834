//! Every page passes axe-core with no serious or critical violation, on a
//! ledger with something on each page; each is photographed for the docs
//! (docs/screenshots/), and the person page is also read at 400 px wide.

use fantoccini::{Client, Locator};

use super::{Browser, UiServer, axe, eventually, runtime, screenshot, sign_in};
use crate::common::Home;

/// A small ledger with something on every page: a company with people, a
/// follow-up due, a keep-in-touch overdue, a likely duplicate, a team.
fn home() -> (Home, String, String) {
    let home = Home::new();
    let edna = home.add(&[
        "Edna Miggins",
        "--company",
        "Miggins & Daughters",
        "--title",
        "Owner",
        "--email",
        "shop:edna@miggins.co.uk",
        "--phone",
        "shop:01632 960123",
        "--birthday",
        "--12-02",
        "--tag",
        "sweets",
        "--tag",
        "tobacco",
    ]);
    home.add(&["Albert Miggins", "--company", "Miggins & Daughters"]);
    home.add(&["Daisy Miggins"]);
    home.add(&["E. Miggins", "--email", "edna@miggins.co.uk"]);
    home.ok_at(
        "2026-11-28T09:01:00Z",
        &["link", "albert", "spouse", "edna"],
    );
    home.ok(&[
        "fact",
        "edna",
        "husband Albert smokes Old Holborn, 50 g tin",
    ]);
    home.ok(&[
        "fact",
        "edna",
        "daughter Daisy loves penny chews",
        "--shared",
    ]);
    home.ok(&["note", "edna", "Prefers a call before ten"]);
    home.ok(&[
        "log",
        "edna",
        "Phoned about the Christmas order",
        "--date",
        "last tuesday",
    ]);
    home.ok(&[
        "follow-up",
        "edna",
        "Send a quote for the Christmas order",
        "--due",
        "2026-11-28",
    ]);
    home.ok(&[
        "log",
        "albert",
        "Chat about tobacco",
        "--date",
        "2026-10-01",
    ]);
    home.ok(&["keep-in-touch", "albert", "--every", "3w"]);
    home.ok(&["team", "create", "acme", "--as", "alice"]);
    let company = home.show("edna")["company_id"]
        .as_str()
        .expect("a company")
        .to_string();
    (home, edna, company)
}

/// Opens `path`, waits for its heading, runs axe, and photographs it.
async fn check(c: &Client, url: &str, name: &str) {
    c.goto(url).await.unwrap_or_else(|e| {
        panic!("{url} did not load (a stall after several live pages is what people::going_from_section_to_section_never_stalls checks): {e}")
    });
    eventually(&format!("the {name} page's heading"), || async {
        c.find(Locator::Css("main h1")).await.ok()
    })
    .await;
    let title = c.title().await.unwrap();
    assert!(
        !["Not found", "Refused", "Not signed in"]
            .iter()
            .any(|bad| title.starts_with(bad)),
        "{url} is an error page: {title}"
    );
    axe(c).await;
    screenshot(c, name).await;
}

#[test]
fn every_page_passes_axe_and_is_photographed() {
    let (home, edna, company) = home();
    let ui = UiServer::start(&home);
    runtime().block_on(async {
        let Some(b) = Browser::start().await else {
            return;
        };
        let c = &b.client;
        sign_in(c, &ui).await;
        for (path, name) in [
            ("/".to_string(), "today"),
            ("/people".to_string(), "people"),
            (format!("/people/{edna}"), "person"),
            ("/companies".to_string(), "companies"),
            (format!("/companies/{company}"), "company"),
            ("/team".to_string(), "team"),
            ("/import".to_string(), "import"),
            ("/add".to_string(), "add"),
            ("/dupes".to_string(), "dupes"),
        ] {
            check(c, &ui.at(&path), name).await;
        }

        // At 400 px wide the person page still reads: nothing runs off to
        // the side.
        c.set_window_size(400, 900).await.expect("a narrow window");
        c.goto(&ui.at(&format!("/people/{edna}"))).await.unwrap();
        let overflow = c
            .execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
                Vec::new(),
            )
            .await
            .unwrap();
        assert!(
            overflow.as_i64().unwrap_or(0) <= 0,
            "the person page is {overflow} px wider than a 400 px window"
        );
        axe(c).await;
        screenshot(c, "person-narrow").await;
        b.close().await;
    });
}
