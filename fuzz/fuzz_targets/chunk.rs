//! The chunk loader, as `Store::load` reads one file: header and checksum
//! checked, then automerge's incremental load, then the shard's entities
//! read. Mode 0 gives the bytes as a whole file (a broken checksum,
//! mostly); mode 1 wraps them as the payload of a chunk with a valid
//! checksum, so automerge and the document layout see arbitrary bytes.
//! Never a panic: a damaged chunk is an error, which the store quarantines.

#![no_main]

use std::path::Path;

use kith::store::chunk::{self, ChunkKind};
use kith::store::{Private, ShardDoc, Shared};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let path = Path::new("ledger/shared/y5/incr-0000000000000000.chunk");
    let file = match mode % 3 {
        0 => body.to_vec(),
        1 => chunk::encode(ChunkKind::Incremental, body).1,
        _ => chunk::encode(ChunkKind::Snapshot, body).1,
    };
    let Ok((_, payload)) = chunk::decode(path, &file) else {
        assert!(mode % 3 == 0, "a chunk kith encoded does not decode");
        return;
    };
    // Known and not fixed yet: automerge 0.12 panics (in hexane) on some
    // payloads (fuzz/known/chunk-automerge-hexane-panic), so the load
    // panics where it should quarantine. On with KITH_FUZZ_AUTOMERGE=1,
    // off in CI until it is fixed.
    if std::env::var_os("KITH_FUZZ_AUTOMERGE").is_none() {
        return;
    }
    let mut doc = automerge::AutoCommit::new();
    if doc.load_incremental(payload).is_err() {
        return;
    }
    let _ = doc.get_missing_deps(&[]);
    let shared = ShardDoc::<Shared>::from_doc(doc.clone());
    if let Ok(entities) = shared.entities(None) {
        for (kind, id, _) in entities.iter().take(64) {
            let _ = shared.fields(*kind, id);
        }
    }
    let private = ShardDoc::<Private>::from_doc(doc);
    let _ = private.entities(None);
});
