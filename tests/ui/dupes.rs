//! Duplicates: a pair sharing an email is offered, merged keeping the
//! record chosen, and unmerged again; the CLI agrees at each step.

use super::{Browser, UiServer, labelled, left, main_text, press, runtime, sign_in};
use crate::common::Home;

#[test]
fn a_pair_is_merged_keeping_the_chosen_record_then_unmerged() {
    let home = Home::new();
    let edna = home.add(&[
        "Edna Miggins",
        "--email",
        "edna@miggins.co.uk",
        "--company",
        "Miggins & Daughters",
    ]);
    let other = home.add(&[
        "E. Miggins",
        "--email",
        "edna@miggins.co.uk",
        "--phone",
        "01632 960123",
    ]);
    home.ok(&["note", &other[..8], "Met at the trade fair"]);
    let ui = UiServer::start(&home);
    runtime().block_on(async {
        let Some(b) = Browser::start().await else {
            return;
        };
        let c = &b.client;
        sign_in(c, &ui).await;
        c.goto(&ui.at("/dupes")).await.unwrap();
        let text = main_text(c).await;
        assert!(text.contains("same email edna@miggins.co.uk"), "{text}");

        // Keep Edna's record, whichever the page offers first.
        let keep = labelled(c, &format!("Keep Edna Miggins ({})", &edna[..8])).await;
        keep.click().await.expect("the choice");
        press(c, None, "Merge").await;
        left(c, "/dupes").await;
        let text = main_text(c).await;
        assert!(text.contains("Merged"), "{text}");
        assert!(text.contains("No likely duplicates."), "{text}");
        assert_eq!(home.json(&["dupes", "--json"]), serde_json::json!([]));
        let kept = home.show(&edna[..8]);
        assert_eq!(kept["phones"][0]["value"], "01632 960123", "{kept}");
        assert_eq!(kept["notes"][0]["text"], "Met at the trade fair", "{kept}");
        let removed = home.json(&["list", "--removed", "--json"]);
        let gone = removed
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == other.as_str())
            .unwrap_or_else(|| panic!("E. Miggins is not among the removed: {removed}"));
        assert_eq!(gone["merged_into"], edna.as_str(), "{gone}");

        // Undone from the list of merged records.
        let before = super::path(c).await;
        press(c, Some("section[aria-labelledby=merged]"), "Unmerge").await;
        left(c, &before).await;
        let text = main_text(c).await;
        assert!(text.contains("two records again"), "{text}");
        assert!(text.contains("same email edna@miggins.co.uk"), "{text}");
        let back = home.show(&other[..8]);
        assert!(back["merged_into"].is_null(), "{back}");
        assert_eq!(back["notes"][0]["text"], "Met at the trade fair", "{back}");
        let pairs = home.json(&["dupes", "--json"]);
        assert_eq!(pairs.as_array().map(Vec::len), Some(1), "{pairs}");
        b.close().await;
    });
}
