//! What kith promises about data (docs/RELIABILITY.md): concurrent writers,
//! writers killed at random, damaged chunks, replicas that merge.

mod concurrency;
mod corruption;
mod crash;
mod disk_full;
mod faults;
mod faults_fs;
mod hostile_input;
mod merge;
mod team_index;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value as Json;

use crate::common::Home;

/// Opens a ledger at library level, as the CLI would on 2026-11-28 (UTC).
pub fn open_ledger(home: &Path) -> kith::Result<kith::Ledger> {
    kith::Ledger::open(
        home,
        kith::OpenOptions {
            now: "2026-11-28T09:00:00Z".parse().unwrap(),
            time_zone: jiff::tz::TimeZone::UTC,
            progress: &|_, _| {},
        },
    )
}

/// Every chunk file decodes (header, length and checksum), and nothing sits
/// in quarantine.
pub fn assert_every_chunk_loads(h: &Home) {
    for path in h.chunk_files() {
        let bytes = std::fs::read(&path).unwrap();
        if let Err(e) = kith::store::chunk::decode(&path, &bytes) {
            panic!("{} does not load: {e}", path.display());
        }
    }
    let q = h.ledger().join("quarantine");
    let quarantined = crate::common::files_under(&q);
    assert!(quarantined.is_empty(), "quarantined: {quarantined:?}");
}

/// `kith check` passes quietly, and the index answers exactly as one
/// rebuilt from the chunks would.
pub fn assert_ledger_sound(h: &Home) {
    let before = h.json(&["list", "--json"]);
    let r = h.run(&["check", "--json"]);
    assert_eq!(r.code, Some(0), "check failed: {}", r.stderr);
    assert_eq!(r.stderr, "", "check complained");
    let report: Json = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["quarantined"], serde_json::json!([]), "{report}");
    assert_eq!(
        report["reindexed"], 0,
        "the index had drifted from the chunks: {report}"
    );
    let r = h.run(&["export"]);
    assert_eq!(r.code, Some(0), "export failed: {}", r.stderr);
    assert_eq!(r.stderr, "", "export complained");
    h.ok(&["reindex"]);
    assert_eq!(
        h.json(&["list", "--json"]),
        before,
        "index differs from a rebuilt one"
    );
    assert_every_chunk_loads(h);
}

/// For each person (by id), the texts of their facts and the summaries of
/// their interactions, read through `show --json`.
pub fn items_of(h: &Home, ids: &BTreeSet<String>) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    ids.iter()
        .map(|id| {
            let p = h.json(&["show", id, "--interactions", "100000", "--json"]);
            let texts = |list: &Json, field: &str| -> Vec<String> {
                list.as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|i| i[field].as_str().map(str::to_string))
                    .collect()
            };
            (
                id.clone(),
                (
                    texts(&p["facts"], "text"),
                    texts(&p["interactions"], "summary"),
                ),
            )
        })
        .collect()
}

/// Copies every chunk file of one ledger into another, at the same relative
/// path: how sync will exchange data. Returns how many files were new.
pub fn copy_chunks(from: &Path, to: &Path) -> usize {
    let mut copied = 0;
    for part in ["shared", "private"] {
        for f in crate::common::files_under(&from.join(part)) {
            if f.extension().is_none_or(|e| e != "chunk") {
                continue;
            }
            let target = to.join(f.strip_prefix(from).unwrap());
            if target.exists() {
                continue;
            }
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(&f, &target).unwrap();
            copied += 1;
        }
    }
    copied
}
