//! How a long-running face learns that something changed on disk.
//!
//! Two pieces: [`DirWatch`] wakes a task when a file in a watched
//! directory is created, replaced or removed (inotify, through `notify`),
//! so an idle daemon or web UI does no work at all; and [`fingerprint`], a
//! value over the generation files that every write to the own ledger, and
//! every teammate's change stored by the daemon, replaces. A woken task
//! compares fingerprints to see whether what it cares about moved; that
//! costs a few small file reads, whatever the ledger's size. Where inotify
//! is not available (its watch limit reached), [`DirWatch::is_live`] says
//! so and the caller polls instead.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::Notify;

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

/// Wakes waiters when an entry of a watched directory changes (not its
/// subdirectories: the generation files sit at the top of each ledger).
/// Wakes are coalesced: any number of changes before a waiter looks is one
/// wake, so a burst of writes costs one look.
pub struct DirWatch {
    watcher: Option<RecommendedWatcher>,
    watched: HashSet<PathBuf>,
    wake: Arc<Notify>,
}

impl Default for DirWatch {
    fn default() -> Self {
        Self::new()
    }
}

impl DirWatch {
    /// A watch of nothing yet. If the system gives no watcher, the result
    /// is not [`live`](Self::is_live) and never wakes.
    pub fn new() -> Self {
        let wake = Arc::new(Notify::new());
        let waker = wake.clone();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            // Reads are not changes. Waking on them would make a looker
            // wake itself: its own look opens the files it watches.
            let read = matches!(
                &event,
                Ok(e) if matches!(
                    e.kind,
                    EventKind::Access(
                        AccessKind::Open(_)
                            | AccessKind::Read
                            | AccessKind::Close(AccessMode::Read | AccessMode::Execute)
                    )
                )
            );
            // An error (the kernel's queue overflowed) may hide a change.
            if !read {
                waker.notify_one();
            }
        });
        match watcher {
            Ok(w) => Self {
                watcher: Some(w),
                watched: HashSet::new(),
                wake,
            },
            Err(e) => {
                tracing::debug!("no file watcher, polling instead: {e}");
                Self {
                    watcher: None,
                    watched: HashSet::new(),
                    wake,
                }
            }
        }
    }

    /// Watches `dir` if it exists and is not watched yet. Cheap to call
    /// again for a directory that may appear later. Returns whether `dir`
    /// is watched.
    pub fn watch(&mut self, dir: &Path) -> bool {
        if self.watched.contains(dir) {
            return true;
        }
        let Some(w) = self.watcher.as_mut() else {
            return false;
        };
        match w.watch(dir, RecursiveMode::NonRecursive) {
            Ok(()) => {
                self.watched.insert(dir.to_path_buf());
                true
            }
            Err(e) => {
                tracing::debug!(dir = %dir.display(), "not watched: {e}");
                false
            }
        }
    }

    /// Whether changes wake waiters; if not, the caller must poll.
    pub fn is_live(&self) -> bool {
        self.watcher.is_some()
    }

    /// What to wait on: `wake().notified().await` returns after the next
    /// change, or at once if one happened since the last wait.
    pub fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}
