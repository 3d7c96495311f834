//! A kith JSONL export read back (`kith import x.jsonl --dry-run`): any
//! bytes give a summary or a clear error, never a panic.

#![no_main]

use kith::import::{self, Format, Input};
use kith_fuzz::with_ledger;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    with_ledger(|ledger| {
        let _ = import::import_file(
            ledger,
            "in.jsonl",
            Input::Bytes(data),
            Some(Format::Jsonl),
            None,
            true,
            &|_, _| {},
        );
    });
});
