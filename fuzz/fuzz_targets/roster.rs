//! Roster statements as they arrive from a peer, and the roster that
//! merges them. Each line of the input is one statement: its first byte
//! picks which of three fixed keys signs it (or none: sent as is), the rest
//! is the claim's JSON body, with `TEAM` standing for the team's id and
//! `KEY0`..`KEY2` for the keys' peer ids, so that well-signed, relevant
//! claims of every kind reach `Roster::merge` and what reads the roster.
//! A line starting with `{"signer"` is a whole `Statement` as JSON.

#![no_main]

use std::cell::RefCell;

use kith::team::{Roster, Statement};
use libfuzzer_sys::fuzz_target;
use libp2p::PeerId;
use libp2p::identity::Keypair;

struct Fixed {
    keys: Vec<Keypair>,
    peers: Vec<String>,
    roster: Roster,
}

thread_local! {
    static FIXED: RefCell<Option<Fixed>> = const { RefCell::new(None) };
}

fn fixed<T>(f: impl FnOnce(&Fixed) -> T) -> T {
    FIXED.with(|cell| {
        let mut slot = cell.borrow_mut();
        let fixed = slot.get_or_insert_with(|| {
            let keys: Vec<Keypair> = (1..=3u8)
                .map(|i| Keypair::ed25519_from_bytes([i; 32]).unwrap())
                .collect();
            let peers = keys
                .iter()
                .map(|k| k.public().to_peer_id().to_string())
                .collect();
            let device = Keypair::ed25519_from_bytes([9; 32])
                .unwrap()
                .public()
                .to_peer_id();
            let roster = Roster::create(&keys[0], &device, "fuzz team", "Alice", "laptop", 1)
                .expect("a roster");
            Fixed {
                keys,
                peers,
                roster,
            }
        });
        f(fixed)
    })
}

fuzz_target!(|data: &[u8]| {
    fixed(|fx| {
        let team = fx.roster.team.clone().unwrap_or_default();
        let mut incoming = Vec::new();
        for line in data.split(|b| *b == b'\n').take(16) {
            let Some((&signer, body)) = line.split_first() else {
                continue;
            };
            let mut body = String::from_utf8_lossy(body).replace("TEAM", &team);
            for (i, peer) in fx.peers.iter().enumerate() {
                body = body.replace(&format!("KEY{i}"), peer);
            }
            if line.starts_with(b"{\"signer\"") {
                if let Ok(s) = serde_json::from_slice::<Statement>(line) {
                    let _ = s.verified();
                    let _ = s.team_id();
                    incoming.push(s);
                }
                continue;
            }
            let statement = match fx.keys.get((signer % 4) as usize) {
                Some(key) => sign_raw(key, &body),
                None => Statement {
                    signer: fx.peers[0].clone(),
                    body,
                    sig: line.to_vec(),
                },
            };
            let _ = statement.verified();
            incoming.push(statement);
        }
        let mut roster = fx.roster.clone();
        roster.merge(incoming);
        let members = roster.members();
        let _ = roster.relays();
        let _ = roster.team_name();
        let _ = roster.creator();
        for peer in &fx.peers {
            let peer: PeerId = peer.parse().unwrap();
            let _ = roster.own_devices(&peer);
            let _ = roster.current_member_of(&peer);
            let _ = roster.without_team(&peer);
        }
        for m in members.iter().take(8) {
            let _ = roster.find_member(&m.name);
        }
        // What is saved as team/roster.json reads back the same.
        let saved = serde_json::to_vec(&roster).unwrap();
        let back: Roster = serde_json::from_slice(&saved).expect("a saved roster reads back");
        assert_eq!(back.statements, roster.statements);
    });
});

/// A statement over any body, signed as `Statement::sign` signs a claim.
fn sign_raw(key: &Keypair, body: &str) -> Statement {
    let sig = key
        .sign(&[&b"kith statement v1\n"[..], body.as_bytes()].concat())
        .unwrap();
    Statement {
        signer: key.public().to_peer_id().to_string(),
        body: body.to_string(),
        sig,
    }
}
