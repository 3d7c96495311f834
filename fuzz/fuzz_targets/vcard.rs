//! The vCard importer: any bytes are read, planned as an import and
//! exported (4.0 and 3.0) without panicking; with KITH_FUZZ_ROUNDTRIP=1
//! every exported card must also read back as one card holding the same
//! record, company, notes and facts.

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
    // The round trip finds differences not fixed yet (a bare CR in a value
    // is exported as a line break, fuzz/known/vcard-bare-cr-export; a name
    // with a CR LF; kept lines with odd parameters; docs/RELIABILITY.md):
    // on with KITH_FUZZ_ROUNDTRIP=1, off in CI until they are fixed.
    let compare = std::env::var_os("KITH_FUZZ_ROUNDTRIP").is_some();
    with_ledger(|ledger| {
        for contact in parsed.contacts.into_iter().take(8) {
            let first = planned(ledger, contact);
            for version in [Version::V4, Version::V3] {
                let out = card(&first, version);
                if !compare {
                    continue;
                }
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
