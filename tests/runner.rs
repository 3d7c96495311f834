//! The one integration test binary: every test module, linked once.
//!
//! - `carddav`: `kith carddav serve` in plain HTTP: the request sequences
//!   iOS Contacts and DAVx5 send, and every refusal.
//! - `cli`: end-to-end tests of every command through the real `kith` binary.
//! - `reliability`: concurrent writers, writers killed at random, damaged
//!   chunks, and replicas merging (see docs/RELIABILITY.md).
//! - `ui`: `kith ui` in headless Chromium (chromedriver, fantoccini) and in
//!   plain HTTP: who may connect, each page used as a user would, axe-core
//!   on every page, and the screenshots in docs/screenshots/.

mod carddav;
mod cli;
mod common;
mod reliability;
mod ui;
