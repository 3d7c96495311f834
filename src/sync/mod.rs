//! Team sync: teammates' ledgers over libp2p, with no server.
//!
//! - [`proto`]: the `/kith/sync/1` messages and their framing.
//! - [`engine`]: what is offered, served, pulled, checked and stored; the
//!   trust rules live there.
//! - [`net`]: the libp2p node that carries it (TCP and QUIC, Noise,
//!   Yamux, allow list, mDNS, relay, DCUtR, AutoNAT).
//! - [`reach`]: beyond the LAN: the team relay's limits, relayed
//!   addresses, how each connection reaches its peer.
//! - [`daemon`]: what a running daemon leaves for others to read (its lock,
//!   its addresses, who it is connected to).

pub mod daemon;
pub mod engine;
pub mod net;
pub mod proto;
pub mod reach;

pub use engine::{Engine, replica_exists, replica_home};
pub use net::{NodeConfig, SyncReport, run};
