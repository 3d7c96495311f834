//! The one integration test binary: every test module, linked once.
//!
//! - `cli`: end-to-end tests of every command through the real `kith` binary.
//! - `reliability`: concurrent writers, writers killed at random, damaged
//!   chunks, and replicas merging (see docs/RELIABILITY.md).

mod cli;
mod common;
mod reliability;
