//! Address books in and out: import and export.

pub(super) mod export;
pub(super) mod import;
