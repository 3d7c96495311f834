//! Importing an address book through the page: the good cards arrive, and
//! the report names the line of the one that is broken.

use super::{Browser, UiServer, labelled, main_text, press, runtime, sign_in};
use crate::common::{Home, names};

/// Three cards; the second never ends (line 5).
const BOOK: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Mabel Pike\r\nEND:VCARD\r\n\
                    BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Harold Sump\r\n\
                    BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Winifred Oddie\r\nEND:VCARD\r\n";

#[test]
fn an_upload_imports_the_good_cards_and_names_the_broken_ones_line() {
    let home = Home::new();
    let file = home.path().join("address-book.vcf");
    std::fs::write(&file, BOOK).unwrap();
    let ui = UiServer::start(&home);
    runtime().block_on(async {
        let Some(b) = Browser::start().await else {
            return;
        };
        let c = &b.client;
        sign_in(c, &ui).await;
        c.goto(&ui.at("/import")).await.unwrap();
        labelled(c, "File (required)")
            .await
            .send_keys(file.to_str().unwrap())
            .await
            .expect("the file is chosen");
        press(c, Some("form[action='/import']"), "Import").await;
        // The report, on the same address.
        super::eventually("the import report", || async {
            main_text(c).await.contains("2 created").then_some(())
        })
        .await;
        let text = main_text(c).await;
        assert!(text.contains("1 skipped"), "{text}");
        assert!(
            text.contains("address-book.vcf:5"),
            "the report does not name line 5:\n{text}"
        );
        assert!(text.contains("card never ends"), "{text}");
        let listed = names(&home.json(&["list", "--json"]));
        assert_eq!(listed, ["Winifred Oddie", "Mabel Pike"], "{listed:?}");
        b.close().await;
    });
}
