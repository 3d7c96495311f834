//! What a running daemon leaves for other processes to read: the lock it
//! holds while it runs (`team/daemon.lock`) and `team/daemon.json`, where
//! it listens and which devices it is connected to. Plain file reads, so
//! `kith status` and the web face can ask without talking to it.

use std::path::{Path, PathBuf};

use crate::team::TeamDir;

/// The file a running daemon holds locked.
pub fn lock_path(home: &Path) -> PathBuf {
    TeamDir::new(home).path().join("daemon.lock")
}

/// Whether a daemon holds this home's daemon lock.
pub fn is_running(home: &Path) -> bool {
    let Ok(file) = std::fs::OpenOptions::new()
        .write(true)
        .open(lock_path(home))
    else {
        return false;
    };
    matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

/// Devices the running daemon is connected to (none if it is not running).
pub fn connected(home: &Path) -> Vec<String> {
    if !is_running(home) {
        return Vec::new();
    }
    status_file(home)
        .and_then(|v| v.get("connected").cloned())
        .and_then(|c| serde_json::from_value(c).ok())
        .unwrap_or_default()
}

/// What the daemon last wrote to `daemon.json`, if it is there and reads.
pub fn status_file(home: &Path) -> Option<serde_json::Value> {
    let bytes = std::fs::read(TeamDir::new(home).path().join("daemon.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}
