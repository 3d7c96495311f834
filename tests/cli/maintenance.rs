//! check, reindex, compact: looking after the ledger changes nothing a user sees.

use serde_json::Value as Json;

use super::story;
use crate::common::Home;

fn view(h: &Home) -> Json {
    let people = h.json(&["list", "--json"]);
    let shown: Vec<Json> = people
        .as_array()
        .unwrap()
        .iter()
        .map(|p| h.show(p["id"].as_str().unwrap()))
        .collect();
    serde_json::json!({
        "people": people,
        "shown": shown,
        "today": h.json_at("2026-12-20", &["today", "--days", "200", "--json"]),
        "find": h.json(&["find", "christmas", "--json"]),
    })
}

fn sorted(events: Json) -> Vec<String> {
    let mut all: Vec<String> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.to_string())
        .collect();
    all.sort();
    all
}

#[test]
fn check_on_a_healthy_ledger() {
    let s = story();
    let h = &s.home;
    let r = h.run(&["check"]);
    assert_eq!(r.code, Some(0));
    assert_eq!(r.stderr, "");
    assert!(r.stdout.starts_with("checked "), "{}", r.stdout);
    assert!(
        r.stdout
            .contains(" 3 people, 0 shards re-indexed, 0 damaged chunks quarantined"),
        "{}",
        r.stdout
    );
    let report = h.json(&["check", "--json"]);
    assert_eq!(report["people"], 3);
    assert_eq!(report["reindexed"], 0);
    assert_eq!(report["quarantined"], serde_json::json!([]));
    let shards: std::collections::BTreeSet<String> = h
        .chunk_files()
        .iter()
        .map(|p| crate::common::shard_of_path(p))
        .collect();
    assert_eq!(report["shards"], shards.len());
}

#[test]
fn the_index_can_be_thrown_away() {
    let s = story();
    let h = &s.home;
    let before = view(h);
    let out = h.ok(&["reindex"]);
    assert_eq!(out.trim(), "index rebuilt");
    assert_eq!(view(h), before);
    std::fs::remove_file(h.path().join("index.sqlite")).unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(h.path().join(format!("index.sqlite{suffix}")));
    }
    assert_eq!(view(h), before);
    // A damaged index is rebuilt too.
    std::fs::write(h.path().join("index.sqlite"), b"this is not a database at all, not even close....................................................").unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(h.path().join(format!("index.sqlite{suffix}")));
    }
    assert_eq!(view(h), before);
}

#[test]
fn compact_folds_chunks_and_keeps_everything() {
    let s = story();
    let h = &s.home;
    // Many edits to one person: many chunks in one shard.
    for i in 0..20 {
        h.ok_at(
            &format!("2026-11-28T12:{i:02}:00Z"),
            &["log", "edna", &format!("call number {i}")],
        );
    }
    h.ok(&["set", "edna", "title", "Owner and buyer"]);
    let before = view(h);
    let history = h.json(&["history", "edna", "--json"]);
    let out = h.ok(&["compact"]);
    assert!(out.starts_with("compacted "), "{out}");
    // At most one snapshot per shard part.
    let mut dirs = std::collections::BTreeMap::new();
    for f in h.chunk_files() {
        *dirs.entry(f.parent().unwrap().to_path_buf()).or_insert(0) += 1;
    }
    assert!(dirs.values().all(|n| *n == 1), "{dirs:?}");
    assert_eq!(view(h), before);
    // The same events (edits made in the same second may list in another order).
    assert_eq!(
        sorted(h.json(&["history", "edna", "--json"])),
        sorted(history)
    );
    assert_eq!(h.json(&["check", "--json"])["reindexed"], 0);
    assert_eq!(h.ok(&["compact"]).trim(), "compacted 0 shard parts");
    // Writing after compaction still works.
    h.ok(&["fact", "edna", "after compaction"]);
    assert_eq!(h.show("edna")["facts"].as_array().unwrap().len(), 3);
}

#[test]
fn check_notices_chunks_that_arrived_from_elsewhere() {
    // A copy of the home (a backup restored on a second machine, say) is
    // written to, and its new chunk files are copied back, as a file sync
    // would: check picks them up. Chunks of another ledger are not taken
    // (`reliability::corruption::a_chunk_from_another_ledger_is_quarantined_not_merged`).
    let a = Home::new();
    a.add(&["Alice Anderson"]);
    let b = Home::new();
    for f in crate::common::files_under(a.path()) {
        let to = b.path().join(f.strip_prefix(a.path()).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&f, &to).unwrap();
    }
    let bob = b.add(&["Bob Brown", "--email", "bob@example.com"]);
    for f in b.chunk_files() {
        let rel = f.strip_prefix(b.ledger()).unwrap();
        let to = a.ledger().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&f, &to).unwrap();
    }
    let report = a.json(&["check", "--json"]);
    assert!(report["reindexed"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(report["people"], 2);
    assert_eq!(report["quarantined"], serde_json::json!([]), "{report}");
    assert_eq!(a.show("bob@example.com")["id"], bob.as_str());
}

#[test]
fn check_sweeps_only_stale_temp_files() {
    let s = story();
    let h = &s.home;
    let shard = h.chunk_files()[0].parent().unwrap().to_path_buf();
    let fresh = shard.join(".tmp-1-2-incr-0000000000000000.chunk");
    let stale = shard.join(".tmp-3-4-incr-1111111111111111.chunk");
    std::fs::write(&fresh, b"half a chunk").unwrap();
    std::fs::write(&stale, b"half a chunk").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(old)
        .unwrap();
    // Temp files are never read as chunks.
    let r = h.run(&["export"]);
    assert_eq!(r.code, Some(0));
    assert_eq!(r.stderr, "");
    let report = h.json(&["check", "--json"]);
    assert_eq!(report["temp_files_removed"], 1);
    assert!(fresh.exists(), "a writer may still be using it");
    assert!(!stale.exists());
}
