//! Reaching teammates beyond the LAN: the team relay's limits, relayed
//! (`/p2p-circuit`) addresses, and how each connection reached its peer.
//!
//! A relay is an ordinary member daemon started with `--relay`. Who may
//! use it is decided before any relay protocol runs: the node's allow list
//! admits only devices on the team's roster, so a stranger's connection is
//! refused after the handshake and never gets to ask for a reservation or
//! a circuit, and a removed member's connections (with the reservation and
//! circuits they carry) are closed the moment the roster says so. What a
//! member may use is bounded by [`relay_config`].

use std::time::Duration;

use libp2p::core::ConnectedPoint;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId, autonat, relay};

/// How a connection reaches its peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Direct,
    /// Through a relay, the peer id of which is given.
    Relayed(PeerId),
}

impl Link {
    /// How a connection reaches its peer. A relayed connection shows it in
    /// the address dialed or, on the receiving end, in the local (circuit
    /// listening) address: the remote's address there is only `/p2p/ID`.
    pub fn of(endpoint: &ConnectedPoint) -> Link {
        let addr = match endpoint {
            ConnectedPoint::Dialer { address, .. } => address,
            ConnectedPoint::Listener { local_addr, .. } => local_addr,
        };
        match relay_of(addr) {
            Some(relay) => Link::Relayed(relay),
            None => Link::Direct,
        }
    }
}

/// A relay's addresses in the order to try them: QUIC first. Hole punching
/// needs the address a relay observes to be the one we listen on, and a
/// QUIC connection always leaves from the listening UDP socket, while a
/// TCP dial made before the listener is up (or by a NAT that rewrites
/// ports) does not.
pub fn quic_first(addrs: &mut [Multiaddr]) {
    addrs.sort_by_key(|a| !a.iter().any(|p| matches!(p, Protocol::QuicV1)));
}

/// Whether ADDR goes through a relay.
pub fn is_relayed(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| matches!(p, Protocol::P2pCircuit))
}

/// The relay a `/p2p-circuit` address goes through: the last peer id
/// before the circuit.
pub fn relay_of(addr: &Multiaddr) -> Option<PeerId> {
    let mut relay = None;
    for p in addr.iter() {
        match p {
            Protocol::P2p(id) => relay = Some(id),
            Protocol::P2pCircuit => return relay,
            _ => {}
        }
    }
    None
}

/// The address of PEER through the relay at RELAY (which ends in the
/// relay's peer id).
pub fn through(relay: &Multiaddr, peer: PeerId) -> Multiaddr {
    relay
        .clone()
        .with(Protocol::P2pCircuit)
        .with(Protocol::P2p(peer))
}

/// The address to listen on to hold a slot on the relay at RELAY.
pub fn slot_on(relay: &Multiaddr) -> Multiaddr {
    relay.clone().with(Protocol::P2pCircuit)
}

/// Whether ADDR can be given to teammates as where a relay is reached: not
/// loopback, not unspecified, not itself relayed.
pub fn announceable(addr: &Multiaddr) -> bool {
    !is_relayed(addr)
        && addr.iter().all(|p| match p {
            Protocol::Ip4(ip) => !ip.is_loopback() && !ip.is_unspecified(),
            Protocol::Ip6(ip) => !ip.is_loopback() && !ip.is_unspecified(),
            _ => true,
        })
}

/// What a team relay grants each member. Every member behind a NAT may
/// hold a circuit to every other until a hole is punched (one where the
/// peer is either end counts), so a member may have as many circuits as
/// the team has members, up to [`CIRCUITS_PER_MEMBER`]. The limits that
/// bound what one member can take are per circuit: a circuit lives at most
/// [`CIRCUIT_TIME`] and carries at most [`CIRCUIT_BYTES`] each way before
/// the relay closes it (the peers then open a new one, or have already
/// gone direct), and requests per minute.
pub fn relay_config() -> relay::Config {
    relay::Config {
        max_reservations: 512,
        max_reservations_per_peer: 4,
        reservation_duration: Duration::from_secs(3600),
        max_circuits: 8192,
        max_circuits_per_peer: CIRCUITS_PER_MEMBER,
        max_circuit_duration: CIRCUIT_TIME,
        max_circuit_bytes: CIRCUIT_BYTES,
        // libp2p's default limiters also count per IP address, which on a
        // team relay would starve a whole office behind one NAT (60
        // circuits an hour for everyone there); only members get this
        // far, so the limits are per member.
        reservation_rate_limiters: Vec::new(),
        circuit_src_rate_limiters: Vec::new(),
    }
    .reservation_rate_per_peer(nonzero(30), Duration::from_secs(60))
    .circuit_src_per_peer(nonzero(120), Duration::from_secs(60))
}

/// Circuits one member may be an end of at once: a team of this many
/// members behind NATs can all be linked through the relay.
pub const CIRCUITS_PER_MEMBER: usize = 128;
/// How long one relayed circuit may stay open.
pub const CIRCUIT_TIME: Duration = Duration::from_secs(30 * 60);
/// How many bytes one relayed circuit may carry.
pub const CIRCUIT_BYTES: u64 = 256 * 1024 * 1024;

fn nonzero(n: u32) -> std::num::NonZeroU32 {
    std::num::NonZeroU32::new(n).unwrap_or(std::num::NonZeroU32::MIN)
}

/// AutoNAT: teammates dial us back to tell whether we are reachable.
/// Private (10.x, 192.168.x) addresses count: a team's relay is often on
/// an office network, and the test namespaces use 10.x.
pub fn autonat_config() -> autonat::Config {
    autonat::Config {
        boot_delay: Duration::from_secs(2),
        retry_interval: Duration::from_secs(30),
        refresh_interval: Duration::from_secs(5 * 60),
        throttle_server_period: Duration::from_secs(15),
        only_global_ips: false,
        confidence_max: 2,
        ..autonat::Config::default()
    }
}

/// AutoNAT's verdict in one word.
pub fn nat_word(status: &autonat::NatStatus) -> &'static str {
    match status {
        autonat::NatStatus::Public(_) => "public",
        autonat::NatStatus::Private => "private",
        autonat::NatStatus::Unknown => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_circuit_address_names_its_relay() {
        let relay: PeerId = PeerId::random();
        let peer: PeerId = PeerId::random();
        let at: Multiaddr = format!("/ip4/10.99.0.1/tcp/4001/p2p/{relay}")
            .parse()
            .unwrap();
        let via = through(&at, peer);
        assert!(is_relayed(&via));
        let dialed = |address: &Multiaddr| ConnectedPoint::Dialer {
            address: address.clone(),
            role_override: libp2p::core::Endpoint::Dialer,
            port_use: libp2p::core::transport::PortUse::Reuse,
        };
        assert_eq!(Link::of(&dialed(&via)), Link::Relayed(relay));
        assert_eq!(Link::of(&dialed(&at)), Link::Direct);
        // The receiving end of a circuit sees the relay in its own address.
        let received = ConnectedPoint::Listener {
            local_addr: slot_on(&at),
            send_back_addr: format!("/p2p/{peer}").parse().unwrap(),
        };
        assert_eq!(Link::of(&received), Link::Relayed(relay));
        let mut addrs: Vec<Multiaddr> = vec![
            "/ip4/10.99.0.1/tcp/4001".parse().unwrap(),
            "/ip4/10.99.0.1/udp/4001/quic-v1".parse().unwrap(),
        ];
        quic_first(&mut addrs);
        assert!(addrs[0].to_string().ends_with("quic-v1"));
        assert!(!announceable(&"/ip4/127.0.0.1/tcp/1".parse().unwrap()));
        assert!(!announceable(&"/ip4/0.0.0.0/tcp/1".parse().unwrap()));
        assert!(announceable(
            &"/ip4/10.99.0.1/udp/4001/quic-v1".parse().unwrap()
        ));
        assert!(!announceable(&slot_on(&at)));
    }
}
