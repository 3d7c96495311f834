//! End-to-end tests: the real `kith` binary, one file per area.

mod about;
mod asof;
mod attack;
mod carddav;
mod contacts;
mod errors;
mod find;
mod history;
mod items;
mod knows;
mod lan;
mod machine;
mod maintenance;
pub mod nat;
mod people;
mod schema;
mod snapshots;
pub mod team;
mod today;
mod transfer;
mod vdir;

use crate::common::Home;

/// The ids of everyone and everything in the Edna Miggins story.
pub struct Story {
    pub home: Home,
    pub edna: String,
    pub albert: String,
    pub daisy: String,
    pub company: String,
    pub quote: String,
}

/// Edna Miggins keeps the corner shop. Her birthday is 5 April (year
/// unknown); her husband Albert smokes Old Holborn, the 50 g tin; their
/// daughter Daisy loves penny chews. She phoned last Tuesday about the
/// Christmas order and was promised a quote by Friday; keep in touch every
/// three weeks. The clock reads Saturday 2026-11-28 throughout; edits whose
/// order shows are a minute apart, so every listing is deterministic.
pub fn story() -> Story {
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
        "--04-05",
        "--tag",
        "sweets",
        "--tag",
        "tobacco",
    ]);
    let albert = home.add(&["Albert Miggins"]);
    let daisy = home.add(&["Daisy Miggins"]);
    home.ok_at(
        "2026-11-28T09:01:00Z",
        &["link", "albert", "spouse", "edna"],
    );
    home.ok_at("2026-11-28T09:02:00Z", &["link", "daisy", "child", "edna"]);
    home.ok(&[
        "fact",
        "edna",
        "husband Albert smokes Old Holborn, 50 g tin",
        "--learned",
        "2026-11-24",
    ]);
    home.ok(&["fact", "daisy", "loves penny chews", "--shared"]);
    home.ok(&["fact", "edna", "daughter Daisy loves penny chews"]);
    home.ok(&[
        "log",
        "edna",
        "Phoned about the Christmas order",
        "--date",
        "last tuesday",
    ]);
    let quote = home.json(&[
        "follow-up",
        "edna",
        "Send a quote for the Christmas order",
        "--due",
        "friday",
        "--json",
    ]);
    assert_eq!(
        quote["due"], "2026-12-04",
        "friday after Saturday 28 November"
    );
    home.ok(&["keep-in-touch", "edna", "--every", "3w"]);
    let company = home.show("edna")["company_id"]
        .as_str()
        .expect("Edna has a company")
        .to_string();
    Story {
        home,
        edna,
        albert,
        daisy,
        company,
        quote: quote["id"].as_str().unwrap().to_string(),
    }
}
