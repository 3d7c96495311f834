//! The team and its devices: the roster, this person's devices, the daemon, one-shot sync and status.

pub(super) mod daemon;
pub(super) mod device;
pub(super) mod status;
pub(super) mod sync;
pub(super) mod team;
