//! What every request shares: the open ledger, the secrets of this run, the
//! clock, and the channel that tells open pages the ledger changed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::auth::Secrets;
use super::error::PageError;
use crate::error::Result;
use crate::ledger::{Ledger, OpenOptions};

/// Where the time comes from: the real clock, or one pinned for tests and
/// demos (as `KITH_NOW` pins the CLI's).
#[derive(Clone, Copy, Debug)]
pub enum Clock {
    System,
    Pinned(jiff::Timestamp),
}

impl Clock {
    pub fn now(self) -> jiff::Timestamp {
        match self {
            Clock::System => jiff::Timestamp::now(),
            Clock::Pinned(t) => t,
        }
    }
}

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    home: PathBuf,
    tz: jiff::tz::TimeZone,
    clock: Clock,
    addr: SocketAddr,
    secrets: Secrets,
    /// One ledger for the server's life: its index sees every other
    /// process's commits (SQLite), and each write takes the store's lock.
    ledger: Mutex<Ledger>,
    /// Bumped whenever the watcher sees the ledger or a replica change.
    changes: watch::Sender<u64>,
    /// Set when the server is asked to stop, so live streams end.
    closing: watch::Sender<bool>,
}

impl AppState {
    pub async fn open(
        home: PathBuf,
        tz: jiff::tz::TimeZone,
        clock: Clock,
        addr: SocketAddr,
    ) -> Result<AppState> {
        let open_home = home.clone();
        let open_tz = tz.clone();
        let ledger = tokio::task::spawn_blocking(move || {
            Ledger::open(
                &open_home,
                OpenOptions {
                    now: clock.now(),
                    time_zone: open_tz,
                    progress: &|_, _| {},
                },
            )
        })
        .await
        .map_err(|e| crate::Error::invalid(format!("opening the ledger failed: {e}")))??;
        Ok(AppState(Arc::new(Inner {
            home,
            tz,
            clock,
            addr,
            secrets: Secrets::new(),
            ledger: Mutex::new(ledger),
            changes: watch::channel(0).0,
            closing: watch::channel(false).0,
        })))
    }

    pub fn home(&self) -> &std::path::Path {
        &self.0.home
    }

    pub fn tz(&self) -> &jiff::tz::TimeZone {
        &self.0.tz
    }

    pub fn now(&self) -> jiff::Timestamp {
        self.0.clock.now()
    }

    pub fn addr(&self) -> SocketAddr {
        self.0.addr
    }

    pub fn secrets(&self) -> &Secrets {
        &self.0.secrets
    }

    pub fn changes(&self) -> &watch::Sender<u64> {
        &self.0.changes
    }

    pub fn closing(&self) -> &watch::Sender<bool> {
        &self.0.closing
    }

    /// Runs `f` with the ledger on a blocking thread, its clock set to now.
    /// A poisoned lock (a panic in an earlier request) is recovered: the
    /// ledger's state lives on disk, not in the value.
    pub async fn ledger<T, F>(&self, f: F) -> Result<T, PageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Ledger) -> Result<T, PageError> + Send + 'static,
    {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut ledger = state.0.ledger.lock().unwrap_or_else(|p| p.into_inner());
            ledger.set_now(state.now());
            f(&mut ledger)
        })
        .await
        .map_err(|e| PageError::internal(format!("the request failed: {e}")))?
    }
}
