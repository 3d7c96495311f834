//! Teammates behind NATs, end to end: the small internet of
//! `common::netns` (a relay and a stranger on the wan, alice, bob and carol
//! each behind a NAT of their own, carol's symmetric), real daemons in it.
//! Needs root, `ip` and `nft`; skips with a message elsewhere, but fails
//! where KITH_REQUIRE_NETNS is set (CI sets it).

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use crate::common::netns::Host::*;
use crate::common::netns::Internet;

/// The topology itself, with no kith in it: out through every NAT, never
/// in, and the two kinds of mapping the NATs make.
#[test]
fn the_nat_topology_routes_out_and_not_in() {
    let Some(net) = Internet::new() else { return };
    let relay = Relay.ip().unwrap();
    for host in [Alice, Bob, Carol, Stranger] {
        assert!(net.pings(host, relay), "{host:?} cannot ping the relay");
    }
    // Nothing on the wan has a route into a LAN, and the LANs do not
    // reach each other's private addresses.
    for (from, to) in [
        (Relay, Alice),
        (Relay, Bob),
        (Stranger, Carol),
        (Alice, Bob),
    ] {
        let to = to.ip().unwrap();
        assert!(!net.pings(from, to), "{from:?} can ping {to}");
    }
    // A router drops what comes unasked, even to its own address.
    assert!(!net.pings(Relay, NatA.ip().unwrap()));
    let ruleset = net.ruleset(NatC);
    assert!(ruleset.contains("masquerade fully-random"), "{ruleset}");
    for router in [NatA, NatB] {
        let ruleset = net.ruleset(router);
        assert!(
            ruleset.contains("masquerade") && !ruleset.contains("fully-random"),
            "{ruleset}"
        );
    }

    // One UDP socket behind each NAT sends to three ports of the relay;
    // the relay sees where each datagram came from.
    let seen = |host| -> Vec<SocketAddr> {
        let listeners: Vec<UdpSocket> = net.within(Relay, || {
            (0..3)
                .map(|i| UdpSocket::bind((relay, 7000 + i)).expect("bind on the relay"))
                .collect()
        });
        let sender = net.within(host, || UdpSocket::bind(("0.0.0.0", 5000)).expect("bind"));
        listeners
            .iter()
            .map(|l| {
                l.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                sender
                    .send_to(b"hello", l.local_addr().unwrap())
                    .expect("sent");
                let mut buf = [0u8; 16];
                let (_, from) = l.recv_from(&mut buf).expect("the datagram arrives");
                from
            })
            .collect()
    };
    // nat-a and nat-b: the same public port whoever the peer (the source
    // port kept), so a peer told that address can punch a hole to it.
    for (host, router) in [(Alice, NatA), (Bob, NatB)] {
        let from = seen(host);
        let public: SocketAddr = format!("{}:5000", router.ip().unwrap()).parse().unwrap();
        assert_eq!(from, vec![public; 3], "{host:?} behind {router:?}");
    }
    // nat-c: a new random port for every peer; the address the relay sees
    // is useless to anyone else.
    let from = seen(Carol);
    assert!(
        from.iter()
            .all(|a| a.ip().to_string() == NatC.ip().unwrap()),
        "{from:?}"
    );
    assert!(
        from.iter().any(|a| a.port() != from[0].port()),
        "carol's NAT kept one port for every peer: {from:?}"
    );
}
