//! The CSV importer (Google, Outlook, LinkedIn headers, or a column map):
//! any bytes are read without panicking, and every contact it gives can be
//! planned into the ledger.

#![no_main]

use kith::import::{self, csv::ColumnMap};
use kith_fuzz::{planned, with_ledger};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = import::decode("in.csv", data) else {
        return;
    };
    let _ = import::detect(&text);
    let map = ColumnMap::parse("First Name=first,Last Name=last,E-mail 1 - Value=email,Phone=phone,Birthday=birthday,Notes=note")
        .expect("a valid map");
    for map in [None, Some(&map)] {
        if let Ok((_, parsed)) = import::csv::parse("in.csv", &text, map) {
            with_ledger(|ledger| {
                for contact in parsed.contacts.into_iter().take(8) {
                    planned(ledger, contact);
                }
            });
        }
    }
});
