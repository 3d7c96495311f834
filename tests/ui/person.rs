//! A person's page: a field changed in place is what `kith show` then
//! shows, a call logged there is in the timeline and the ledger, and a
//! value the ledger refuses is refused beside its field.

use fantoccini::Locator;

use super::{
    Browser, UiServer, error_beside, fill, labelled, left, main_text, press, runtime, sign_in,
};
use crate::common::Home;

fn edna(home: &Home) -> String {
    home.add(&[
        "Edna Miggins",
        "--company",
        "Miggins & Daughters",
        "--title",
        "Owner",
    ])
}

#[test]
fn a_field_edited_on_the_page_is_what_kith_shows() {
    let home = Home::new();
    let id = edna(&home);
    let ui = UiServer::start(&home);
    runtime().block_on(async {
        let Some(b) = Browser::start().await else {
            return;
        };
        let c = &b.client;
        sign_in(c, &ui).await;
        let page = format!("/people/{id}");
        c.goto(&ui.at(&page)).await.unwrap();
        let text = main_text(c).await;
        assert!(text.contains("Owner"), "{text}");

        labelled(c, "Field")
            .await
            .select_by_label("Title")
            .await
            .expect("Title");
        fill(c, "Value", "Managing director").await;
        press(c, Some("form#edit"), "Save").await;
        let now = left(c, &page).await;
        assert!(now.starts_with(&page), "left the person for {now}");
        let text = main_text(c).await;
        assert!(text.contains("Managing director"), "{text}");
        assert_eq!(home.show("edna")["title"], "Managing director");

        // A field that adds a value: an email.
        labelled(c, "Field")
            .await
            .select_by_label("Email (adds one)")
            .await
            .expect("Email");
        fill(c, "Value", "work: edna@miggins.co.uk").await;
        let before = super::path(c).await;
        press(c, Some("form#edit"), "Save").await;
        left(c, &before).await;
        let shown = home.show("edna");
        assert_eq!(shown["emails"][0]["value"], "edna@miggins.co.uk", "{shown}");
        assert_eq!(shown["emails"][0]["label"], "work", "{shown}");

        // A bad email is refused beside the value, as the CLI words it.
        labelled(c, "Field")
            .await
            .select_by_label("Email (adds one)")
            .await
            .unwrap();
        fill(c, "Value", "notanemail").await;
        press(c, Some("form#edit"), "Save").await;
        let message = error_beside(c, "Value").await;
        assert!(
            message.contains("'notanemail' is not an email address"),
            "{message}"
        );
        let kept = labelled(c, "Value").await.prop("value").await.unwrap();
        assert_eq!(kept.as_deref(), Some("notanemail"), "the input was lost");
        assert_eq!(home.show("edna")["emails"].as_array().unwrap().len(), 1);
        b.close().await;
    });
}

#[test]
fn a_call_logged_on_the_page_is_in_the_timeline_and_the_ledger() {
    let home = Home::new();
    let id = edna(&home);
    let ui = UiServer::start(&home);
    runtime().block_on(async {
        let Some(b) = Browser::start().await else {
            return;
        };
        let c = &b.client;
        sign_in(c, &ui).await;
        let page = format!("/people/{id}");
        c.goto(&ui.at(&page)).await.unwrap();
        fill(c, "What was said", "Phoned about the Christmas order").await;
        labelled(c, "How")
            .await
            .select_by_label("call")
            .await
            .unwrap();
        fill(c, "When", "yesterday").await;
        press(c, None, "Log it").await;
        left(c, &page).await;

        let timeline = c
            .find(Locator::Css("section[aria-labelledby=h-timeline]"))
            .await
            .expect("the timeline")
            .text()
            .await
            .unwrap();
        assert!(
            timeline.contains("Phoned about the Christmas order"),
            "{timeline}"
        );
        let shown = home.show("edna");
        let call = &shown["interactions"][0];
        assert_eq!(
            call["summary"], "Phoned about the Christmas order",
            "{shown}"
        );
        assert_eq!(call["channel"], "call");
        assert!(
            call["at"].as_str().unwrap().starts_with("2026-11-27"),
            "yesterday is 27 November: {call}"
        );
        b.close().await;
    });
}
