//! kith: a local-first contact and relationship ledger for people who sell.
//!
//! The library owns the data and every rule about it; the `kith` binary is
//! a thin layer that parses arguments and prints. Nothing here touches the
//! terminal, reads the environment or looks up a home directory: callers
//! pass paths, the time and callbacks.
//!
//! - [`model`]: what a ledger holds, ids, shards, privacy.
//! - [`store`]: the automerge shards on disk, durability, quarantine.
//! - [`index`]: the derived SQLite index every read goes through.
//! - [`ledger`]: store and index kept in step; [`ops`], [`view`],
//!   [`agenda`], [`history`] and [`transfer`] are what commands do with it.
//! - [`cards`]: people as address-book cards with their sync state, the
//!   core the CardDAV face stands on.
//! - [`devices`]: the phones and address books paired with the CardDAV
//!   face, their passwords, the login throttle and the TLS material.
//! - [`import`], [`export`] and [`dupes`]: address books in and out (vCard,
//!   CSV, iCalendar), and finding and merging people entered twice.
//! - [`knows`] and [`strength`]: what the team knows across ledgers
//!   (who knows whom, warm intro paths, who wants what) and how strong a
//!   relationship is.
//! - [`replicas`]: the own ledger and teammates' replicas opened for the
//!   team's questions, the same way for every face.
//! - [`asof`]: a ledger as it stood at a past moment, from its history
//!   (`show --at`, `who-knows --at`).
//! - [`when`] and [`settings`]: dates as people type them; config.toml.
//! - [`ui`]: the web face (`kith ui`), and [`watch`], how a long-running
//!   face learns that the ledger changed.

pub mod about;
pub mod adopt;
pub mod agenda;
pub mod asof;
pub mod carddav;
pub mod cards;
pub mod devices;
pub mod dupes;
pub mod error;
pub mod export;
pub mod history;
pub mod identity;
pub mod import;
pub mod index;
pub mod knows;
pub mod ledger;
pub mod model;
pub mod ops;
pub mod replicas;
pub mod settings;
pub mod store;
pub mod strength;
pub mod sync;
pub mod team;
pub mod transfer;
pub mod ui;
pub mod view;
pub mod watch;
pub mod when;

pub use error::{Error, Result};
pub use ledger::{Ledger, OpenOptions};
