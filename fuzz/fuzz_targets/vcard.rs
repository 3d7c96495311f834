//! The vCard importer: any bytes are read, planned as an import and
//! exported (4.0 and 3.0) without panicking, and every exported card must
//! read back as one card holding the same record (the properties kith
//! keeps as lines included), company, notes and facts.

#![no_main]

use kith::export::vcard::{Version, card};
use kith::import;
use kith_fuzz::{model_of, planned, with_ledger};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = import::decode("in.vcf", data) else {
        return;
    };
    let _ = import::detect(&text);
    let parsed = import::vcard::parse("in.vcf", &text);
    with_ledger(|ledger| {
        for contact in parsed.contacts.into_iter().take(8) {
            let first = planned(ledger, contact);
            for version in [Version::V4, Version::V3] {
                let out = card(&first, version);
                let again = import::vcard::parse("out.vcf", &out);
                assert!(
                    again.skipped.is_empty() && again.contacts.len() == 1,
                    "kith's own {version:?} card does not read back: {:?}\n{out}",
                    again.skipped
                );
                let second = planned(ledger, again.contacts.into_iter().next().unwrap());
                assert_eq!(
                    model_of(&first, None),
                    model_of(&second, Some(&first)),
                    "{version:?} round trip changed the record\n{out}"
                );
                assert_eq!(first.company, second.company, "company\n{out}");
                assert_eq!(first.notes, second.notes, "notes\n{out}");
                assert_eq!(first.facts, second.facts, "facts\n{out}");
            }
        }
    });
});
