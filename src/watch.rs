//! How a long-running face learns that something changed on disk: a
//! fingerprint of the generation files that every write to the own ledger,
//! and every teammate's change stored by the daemon, replaces. Comparing two
//! fingerprints costs a few small file reads, whatever the ledger's size.

use std::hash::{Hash, Hasher};
use std::path::Path;

/// A value that differs whenever the own ledger, a replica held here, the
/// roster or the daemon's state changed since it was last taken.
pub fn fingerprint(home: &Path) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    crate::store::read_generation(&home.join("ledger")).hash(&mut h);
    if let Ok(entries) = std::fs::read_dir(home.join("replicas")) {
        let mut names: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        names.sort();
        for dir in names {
            dir.hash(&mut h);
            crate::store::read_generation(&dir.join("ledger")).hash(&mut h);
        }
    }
    // Small files, rewritten whole: their bytes say more than their times.
    for file in ["team/roster.json", "team/daemon.json", "team/peers.json"] {
        std::fs::read(home.join(file)).ok().hash(&mut h);
    }
    h.finish()
}
