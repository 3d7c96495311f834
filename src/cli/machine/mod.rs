//! Fitting the machine: the manual pages, shell completion, and the ledger's upkeep (check, reindex, compact).

pub(super) mod completions;
pub(super) mod maintenance;
pub(super) mod man;
