//! Today in the browser: what is due shows, Done marks it done, and a call
//! is logged from the keep-in-touch list without leaving the page; the CLI
//! sees each change.

use fantoccini::Locator;

use super::{Browser, UiServer, eventually, main_text, path, runtime, sign_in, wait_for_text};
use crate::common::Home;

/// Edna with a follow-up due today; Albert, not called for weeks.
fn home() -> Home {
    let home = Home::new();
    home.add(&["Edna Miggins", "--company", "Miggins & Daughters"]);
    home.add(&["Albert Miggins"]);
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
    home
}

#[test]
fn a_follow_up_due_shows_and_done_marks_it_done() {
    let home = home();
    let ui = UiServer::start(&home);
    runtime().block_on(async {
        let Some(b) = Browser::start().await else {
            return;
        };
        let c = &b.client;
        sign_in(c, &ui).await;
        // The token is gone from the address bar once traded.
        assert_eq!(path(c).await, "/");
        let text = wait_for_text(c, "Send a quote for the Christmas order").await;
        assert!(text.contains("Follow-ups"), "{text}");
        assert!(text.contains("due today"), "{text}");

        let item = c
            .find(Locator::XPath(
                "//li[contains(., 'Send a quote for the Christmas order')]",
            ))
            .await
            .expect("the follow-up's line");
        item.find(Locator::XPath(".//button[normalize-space(.)='Done']"))
            .await
            .expect("a Done button beside it")
            .click()
            .await
            .expect("Done clicks");
        let text = wait_for_text(c, "Done: Send a quote for the Christmas order").await;
        assert!(!text.contains("due today"), "still listed as due:\n{text}");

        let shown = home.show("edna");
        assert_eq!(
            shown["follow_ups"][0]["text"],
            "Send a quote for the Christmas order"
        );
        let done = shown["follow_ups"][0]["done"].as_str().unwrap_or_default();
        assert!(
            done.starts_with("2026-11-28"),
            "the CLI does not see it done today: {shown}"
        );
        b.close().await;
    });
}

#[test]
fn a_call_is_logged_from_the_keep_in_touch_list() {
    let home = home();
    let ui = UiServer::start(&home);
    runtime().block_on(async {
        let Some(b) = Browser::start().await else {
            return;
        };
        let c = &b.client;
        sign_in(c, &ui).await;
        let text = wait_for_text(c, "Keep in touch").await;
        assert!(text.contains("37 days overdue"), "{text}");

        let field = c
            .find(Locator::Css(
                "input[placeholder='Log a call with Albert Miggins']",
            ))
            .await
            .expect("a field to log a call with Albert");
        // Its label names whom the call was with.
        let id = field.attr("id").await.unwrap().expect("the field's id");
        let label = c
            .find(Locator::Css(&format!("label[for='{id}']")))
            .await
            .expect("a label for the field");
        assert!(
            label.html(true).await.unwrap().contains("Albert Miggins"),
            "the label does not name Albert"
        );
        field
            .send_keys("Rang about his birthday present\n")
            .await
            .expect("typing");
        // Back on Today, with a line saying it was done, and Albert is
        // no longer overdue.
        eventually("the page to come back after logging", || async {
            path(c).await.starts_with("/?done=").then_some(())
        })
        .await;
        let text = main_text(c).await;
        assert!(!text.contains("37 days overdue"), "{text}");
        assert!(
            c.find(Locator::Css("p.notice")).await.is_ok(),
            "no notice saying the call was logged:\n{text}"
        );

        let shown = home.show("albert");
        let logged = shown["interactions"]
            .as_array()
            .expect("interactions")
            .iter()
            .find(|i| i["summary"] == "Rang about his birthday present")
            .unwrap_or_else(|| panic!("the CLI does not see the call: {shown}"));
        assert_eq!(logged["channel"], "call", "{logged}");
        b.close().await;
    });
}
