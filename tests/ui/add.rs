//! Adding someone through the /add form: the person the CLI then shows,
//! and a refusal beside its field that keeps what was typed and writes
//! nothing.

use super::{
    Browser, UiServer, error_beside, fill, labelled, left, main_text, press, runtime, sign_in,
};
use crate::common::Home;

#[test]
fn a_person_added_in_the_form_is_the_one_kith_shows() {
    let home = Home::new();
    let ui = UiServer::start(&home);
    runtime().block_on(async {
        let Some(b) = Browser::start().await else {
            return;
        };
        let c = &b.client;
        sign_in(c, &ui).await;
        c.goto(&ui.at("/add")).await.unwrap();
        fill(c, "Name (required)", "Edna Miggins").await;
        fill(c, "Emails", "shop: edna@miggins.co.uk").await;
        fill(c, "Phones", "01632 960123").await;
        fill(c, "Company", "Miggins & Daughters").await;
        fill(c, "Title", "Owner").await;
        fill(c, "Birthday", "--04-05").await;
        fill(c, "Tags", "sweets, tobacco").await;
        press(c, None, "Add person").await;

        // The new person's page, saying so.
        let now = left(c, "/add").await;
        assert!(now.starts_with("/people/"), "landed on {now}");
        let text = main_text(c).await;
        assert!(text.contains("Added Edna Miggins"), "{text}");

        let shown = home.show("edna");
        assert_eq!(shown["name"], "Edna Miggins");
        assert!(
            now.contains(shown["id"].as_str().unwrap()),
            "{now} is not Edna's page"
        );
        assert_eq!(shown["emails"][0]["value"], "edna@miggins.co.uk");
        assert_eq!(shown["emails"][0]["label"], "shop");
        assert_eq!(shown["phones"][0]["value"], "01632 960123");
        assert_eq!(shown["company"], "Miggins & Daughters");
        assert_eq!(shown["title"], "Owner");
        assert_eq!(shown["birthday"], "--04-05");
        assert_eq!(shown["tags"], serde_json::json!(["sweets", "tobacco"]));
        b.close().await;
    });
}

#[test]
fn a_bad_birthday_is_refused_beside_it_and_nothing_is_added() {
    let home = Home::new();
    let ui = UiServer::start(&home);
    runtime().block_on(async {
        let Some(b) = Browser::start().await else {
            return;
        };
        let c = &b.client;
        sign_in(c, &ui).await;
        c.goto(&ui.at("/add")).await.unwrap();
        fill(c, "Name (required)", "Edna Miggins").await;
        fill(c, "Emails", "edna@miggins.co.uk").await;
        fill(c, "Birthday", "nonsense").await;
        press(c, None, "Add person").await;

        // The CLI's own message, beside the birthday field.
        let message = error_beside(c, "Birthday").await;
        assert!(
            message.contains("'nonsense' is not a date"),
            "the message beside Birthday: {message}"
        );
        // What was typed is kept.
        for (label, typed) in [
            ("Name (required)", "Edna Miggins"),
            ("Emails", "edna@miggins.co.uk"),
            ("Birthday", "nonsense"),
        ] {
            let value = labelled(c, label).await.prop("value").await.unwrap();
            assert_eq!(value.as_deref(), Some(typed), "{label} lost its value");
        }
        // And nothing is half-written.
        let listed = home.json(&["list", "--json"]);
        assert_eq!(listed, serde_json::json!([]), "{listed}");
        b.close().await;
    });
}
