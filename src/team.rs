//! The team: who belongs, which devices are theirs, invitations, and where
//! teammates were last seen.
//!
//! Membership is a grow-only set of signed statements (a CRDT of its own):
//! the creator's genesis, admissions signed by a member, device
//! certificates signed by the device's owner, and removals signed by the
//! creator. Every member keeps the whole set and passes it on; anyone can
//! check every statement, so a relayed roster cannot be forged. The team id
//! is a hash of the genesis, so no one can make a second genesis for it.
//!
//! ```text
//! team/roster.json   {"team": id, "statements": [...]}
//! team/invites.json  open invitations: the peer id a ticket's secret
//!                    yields, its kind and expiry (the secret is not kept)
//! team/peers.json    addresses and last sync time per device
//! team/lock          flock for read-modify-write of the files above
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::error::{Error, Result};
use crate::identity;
use crate::store::chunk;

/// What a statement says. The signer is recorded beside it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Claim {
    /// The signer creates a team. `nonce` makes every genesis unique.
    Genesis {
        name: String,
        member_name: String,
        nonce: String,
        at: i64,
    },
    /// The signer, a member, admits `member`.
    Admit {
        team: String,
        member: String,
        name: String,
        at: i64,
    },
    /// The signer says `device` is one of theirs.
    Device {
        device: String,
        name: String,
        at: i64,
    },
    /// The signer, the team's creator, removes `member`.
    Remove {
        team: String,
        member: String,
        at: i64,
    },
    /// The signer, a member, says `device` (one of theirs) relays for the
    /// team at `addrs`. The latest statement per device wins; no addresses
    /// withdraws it.
    Relay {
        team: String,
        device: String,
        addrs: Vec<String>,
        at: i64,
    },
}

/// A claim, signed. `body` is the exact JSON that was signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    pub signer: String,
    pub body: String,
    #[serde(with = "serde_bytes")]
    pub sig: Vec<u8>,
}

const STATEMENT_DOMAIN: &[u8] = b"kith statement v1\n";
/// A roster larger than this is hostile: no team of people needs it.
pub const MAX_STATEMENTS: usize = 20_000;

impl Statement {
    pub fn sign(key: &Keypair, claim: &Claim) -> Result<Statement> {
        let body = serde_json::to_string(claim).map_err(|e| Error::invalid(e.to_string()))?;
        let sig = key
            .sign(&[STATEMENT_DOMAIN, body.as_bytes()].concat())
            .map_err(|e| Error::invalid(format!("cannot sign: {e}")))?;
        Ok(Statement {
            signer: key.public().to_peer_id().to_string(),
            body,
            sig,
        })
    }

    /// The claim and its signer, if the signature holds.
    pub fn verified(&self) -> Option<(PeerId, Claim)> {
        let signer: PeerId = self.signer.parse().ok()?;
        if !self.signature_holds(&signer) {
            return None;
        }
        let claim = serde_json::from_str(&self.body).ok()?;
        Some((signer, claim))
    }

    /// Whether `sig` is `signer`'s over the body, remembered per exact
    /// (signer, body, signature) for the life of the process: a daemon
    /// asks the roster who may connect and where the relays are every
    /// second, and each answer checks every statement again (about 50 µs
    /// each), which was most of an idle daemon's CPU. A statement altered
    /// in any byte is a different key, so it is checked afresh.
    fn signature_holds(&self, signer: &PeerId) -> bool {
        use std::collections::HashMap;
        use std::sync::{Mutex, OnceLock};
        type Key = (String, String, Vec<u8>);
        /// A roster holds at most [`MAX_STATEMENTS`]; past twice that the
        /// memo starts again rather than grow.
        const MEMO_CAP: usize = 2 * MAX_STATEMENTS;
        static MEMO: OnceLock<Mutex<HashMap<Key, bool>>> = OnceLock::new();
        let memo = MEMO.get_or_init(Default::default);
        let key = (self.signer.clone(), self.body.clone(), self.sig.clone());
        if let Some(ok) = memo.lock().ok().and_then(|m| m.get(&key).copied()) {
            return ok;
        }
        let message = [STATEMENT_DOMAIN, self.body.as_bytes()].concat();
        let ok = identity::verify(signer, &message, &self.sig);
        if let Ok(mut m) = memo.lock() {
            if m.len() >= MEMO_CAP {
                m.clear();
            }
            m.insert(key, ok);
        }
        ok
    }

    /// The id a genesis statement gives its team.
    pub fn team_id(&self) -> String {
        let mut h = sha2::Sha256::new();
        h.update(self.signer.as_bytes());
        h.update(b"\n");
        h.update(self.body.as_bytes());
        hex(&h.finalize()[..16])
    }
}

/// One member as the roster says.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub creator: bool,
    pub joined: i64,
    pub removed: Option<i64>,
    pub devices: Vec<DeviceInfo>,
}

/// A relay as the roster names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayInfo {
    /// The name of the member whose device it is.
    pub member: String,
    pub member_id: String,
    /// The relay's device (its libp2p peer id).
    pub device: String,
    pub device_name: String,
    pub addrs: Vec<String>,
    pub at: i64,
}

impl RelayInfo {
    /// The relay's addresses, each ending in its peer id.
    pub fn dial_addrs(&self) -> Vec<Multiaddr> {
        let Ok(peer) = self.device.parse::<PeerId>() else {
            return Vec::new();
        };
        self.addrs
            .iter()
            .filter_map(|a| a.parse::<Multiaddr>().ok())
            .map(|a| with_peer(a, peer))
            .collect()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub id: String,
    pub name: String,
}

/// The team as a set of statements.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Roster {
    pub team: Option<String>,
    pub statements: Vec<Statement>,
}

impl Roster {
    /// A new team created by `key`'s member, with this device on it.
    pub fn create(
        key: &Keypair,
        device: &PeerId,
        name: &str,
        member_name: &str,
        device_name: &str,
        at: i64,
    ) -> Result<Roster> {
        let genesis = Statement::sign(
            key,
            &Claim::Genesis {
                name: name.into(),
                member_name: member_name.into(),
                nonce: hex(&rand::random::<[u8; 8]>()),
                at,
            },
        )?;
        let mut roster = Roster {
            team: Some(genesis.team_id()),
            statements: vec![genesis],
        };
        roster.add(Statement::sign(
            key,
            &Claim::Device {
                device: device.to_string(),
                name: device_name.into(),
                at,
            },
        )?);
        Ok(roster)
    }

    fn genesis(&self) -> Option<(PeerId, String, String, i64)> {
        let team = self.team.as_ref()?;
        self.statements.iter().find_map(|s| {
            if &s.team_id() != team {
                return None;
            }
            match s.verified()? {
                (
                    signer,
                    Claim::Genesis {
                        name,
                        member_name,
                        at,
                        ..
                    },
                ) => Some((signer, name, member_name, at)),
                _ => None,
            }
        })
    }

    pub fn team_name(&self) -> Option<String> {
        self.genesis().map(|g| g.1)
    }

    pub fn creator(&self) -> Option<PeerId> {
        self.genesis().map(|g| g.0)
    }

    /// Adds a statement if it is new. Returns whether it was.
    pub fn add(&mut self, statement: Statement) -> bool {
        if self.statements.iter().any(|s| s.sig == statement.sig) {
            return false;
        }
        self.statements.push(statement);
        true
    }

    /// What stays after leaving the team: this member's own device
    /// certificates, so linked devices stay linked.
    pub fn without_team(&self, me: &PeerId) -> Roster {
        Roster {
            team: None,
            statements: self
                .statements
                .iter()
                .filter(|s| {
                    matches!(s.verified(), Some((signer, Claim::Device { .. })) if signer == *me)
                })
                .cloned()
                .collect(),
        }
    }

    /// Takes in statements from a peer: only well-signed ones about this
    /// team (or device certificates) are kept. Returns how many were new.
    pub fn merge(&mut self, incoming: Vec<Statement>) -> usize {
        let Some(team) = self.team.clone() else {
            return 0;
        };
        let mut new = 0;
        for s in incoming {
            if self.statements.len() >= MAX_STATEMENTS {
                break;
            }
            let relevant = match s.verified() {
                Some((_, Claim::Genesis { .. })) => s.team_id() == team,
                Some((
                    _,
                    Claim::Admit { team: t, .. }
                    | Claim::Remove { team: t, .. }
                    | Claim::Relay { team: t, .. },
                )) => t == team,
                Some((_, Claim::Device { .. })) => true,
                None => false,
            };
            if relevant && self.add(s) {
                new += 1;
            }
        }
        new
    }

    /// Everyone ever admitted, with their devices and whether they left.
    pub fn members(&self) -> Vec<Member> {
        let Some((creator, _, creator_name, created)) = self.genesis() else {
            return Vec::new();
        };
        let team = self.team.clone().unwrap_or_default();
        let claims: Vec<(PeerId, Claim)> = self
            .statements
            .iter()
            .filter_map(|s| s.verified())
            .collect();
        let mut admitted: BTreeMap<PeerId, (String, i64)> = BTreeMap::new();
        admitted.insert(creator, (creator_name, created));
        // Admissions by members admit; repeat until nothing changes, since
        // statements arrive in any order.
        loop {
            let before = admitted.len();
            for (signer, claim) in &claims {
                if let Claim::Admit {
                    team: t,
                    member,
                    name,
                    at,
                } = claim
                    && *t == team
                    && admitted.contains_key(signer)
                    && let Ok(member) = member.parse::<PeerId>()
                {
                    admitted.entry(member).or_insert((name.clone(), *at));
                }
            }
            if admitted.len() == before {
                break;
            }
        }
        let mut removed: BTreeMap<PeerId, i64> = BTreeMap::new();
        let mut devices: BTreeMap<PeerId, BTreeMap<String, String>> = BTreeMap::new();
        for (signer, claim) in &claims {
            match claim {
                Claim::Remove {
                    team: t,
                    member,
                    at,
                } if *t == team && *signer == creator => {
                    if let Ok(member) = member.parse::<PeerId>()
                        && member != creator
                    {
                        let e = removed.entry(member).or_insert(*at);
                        *e = (*e).min(*at);
                    }
                }
                Claim::Device { device, name, .. } if device.parse::<PeerId>().is_ok() => {
                    devices
                        .entry(*signer)
                        .or_default()
                        .insert(device.clone(), name.clone());
                }
                _ => {}
            }
        }
        admitted
            .into_iter()
            .map(|(id, (name, joined))| Member {
                id: id.to_string(),
                name,
                creator: id == creator,
                joined,
                removed: removed.get(&id).copied(),
                devices: devices
                    .get(&id)
                    .map(|d| {
                        d.iter()
                            .map(|(id, name)| DeviceInfo {
                                id: id.clone(),
                                name: name.clone(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// The team's relays: the latest `relay` statement of each device that
    /// belongs to the member who signed it, while that member is on the
    /// team. A removed member's relay, or one claimed for someone else's
    /// device, is no relay.
    pub fn relays(&self) -> Vec<RelayInfo> {
        let Some(team) = self.team.clone() else {
            return Vec::new();
        };
        let members = self.members();
        let mut latest: BTreeMap<String, RelayInfo> = BTreeMap::new();
        for (signer, claim) in self.statements.iter().filter_map(|s| s.verified()) {
            let Claim::Relay {
                team: t,
                device,
                addrs,
                at,
            } = claim
            else {
                continue;
            };
            let signer = signer.to_string();
            let Some(member) = members
                .iter()
                .find(|m| m.id == signer && m.removed.is_none())
            else {
                continue;
            };
            let Some(dev) = member.devices.iter().find(|d| d.id == device) else {
                continue;
            };
            if t != team || latest.get(&device).is_some_and(|r| r.at >= at) {
                continue;
            }
            latest.insert(
                device.clone(),
                RelayInfo {
                    member: member.name.clone(),
                    member_id: member.id.clone(),
                    device,
                    device_name: dev.name.clone(),
                    addrs: addrs
                        .into_iter()
                        .filter(|a| a.parse::<Multiaddr>().is_ok())
                        .collect(),
                    at,
                },
            );
        }
        latest
            .into_values()
            .filter(|r| !r.addrs.is_empty())
            .collect()
    }

    /// The relay statement this device would sign now, or None when the
    /// roster already says the same.
    pub fn relay_claim(&self, device: &PeerId, addrs: &[Multiaddr], at: i64) -> Option<Claim> {
        let team = self.team.clone()?;
        let mut want: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
        want.sort();
        want.dedup();
        let device = device.to_string();
        let current = self.relays().into_iter().find(|r| r.device == device);
        if current.is_some_and(|r| {
            let mut have = r.addrs.clone();
            have.sort();
            have == want
        }) {
            return None;
        }
        Some(Claim::Relay {
            team,
            device,
            addrs: want,
            at,
        })
    }

    /// The member a device belongs to, if that member is still on the team.
    pub fn current_member_of(&self, device: &PeerId) -> Option<Member> {
        let device = device.to_string();
        self.members()
            .into_iter()
            .find(|m| m.removed.is_none() && m.devices.iter().any(|d| d.id == device))
    }

    /// Devices `me` has certified as theirs.
    pub fn own_devices(&self, me: &PeerId) -> Vec<PeerId> {
        self.statements
            .iter()
            .filter_map(|s| s.verified())
            .filter(|(signer, _)| signer == me)
            .filter_map(|(_, c)| match c {
                Claim::Device { device, .. } => device.parse().ok(),
                _ => None,
            })
            .collect()
    }

    /// A member by id, name or unique name prefix.
    pub fn find_member(&self, query: &str) -> Result<Member> {
        let members = self.members();
        if let Some(m) = members.iter().find(|m| m.id == query) {
            return Ok(m.clone());
        }
        let q = query.to_lowercase();
        let exact: Vec<&Member> = members
            .iter()
            .filter(|m| m.name.to_lowercase() == q)
            .collect();
        let hits: Vec<&Member> = if exact.is_empty() {
            members
                .iter()
                .filter(|m| m.name.to_lowercase().starts_with(&q))
                .collect()
        } else {
            exact
        };
        match hits.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::NotFound(format!("team member {query}"))),
            many => Err(Error::Ambiguous {
                query: query.into(),
                candidates: many
                    .iter()
                    .map(|m| format!("{} ({})", m.name, m.id))
                    .collect(),
            }),
        }
    }
}

/// What a ticket lets its holder do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketKind {
    /// Join the team as a new member.
    Team,
    /// Become another device of the inviting person.
    Device,
}

/// An invitation, pasted from one person to another. Its secret is the seed
/// of a one-time libp2p key: the inviter allows exactly that key's peer id
/// until the ticket is used or expires, so without the secret no connection
/// gets past the handshake, and after expiry not even with it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ticket {
    pub kind: TicketKind,
    pub team: Option<String>,
    pub team_name: Option<String>,
    pub inviter: String,
    pub addrs: Vec<String>,
    /// The team's relays when the ticket was made, each address ending in
    /// the relay's peer id, so a new member behind a NAT can reach the
    /// team before its first roster arrives.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relays: Vec<String>,
    pub secret: String,
    pub expires: i64,
}

const TICKET_PREFIX: &str = "kith1";

impl Ticket {
    pub fn new(
        kind: TicketKind,
        roster: &Roster,
        inviter: &PeerId,
        addrs: &[Multiaddr],
        expires: i64,
    ) -> Ticket {
        Ticket {
            kind,
            team: roster.team.clone(),
            team_name: roster.team_name(),
            inviter: inviter.to_string(),
            addrs: addrs.iter().map(|a| a.to_string()).collect(),
            relays: roster
                .relays()
                .iter()
                .flat_map(|r| r.dial_addrs())
                .map(|a| a.to_string())
                .collect(),
            secret: hex(&rand::random::<[u8; 32]>()),
            expires,
        }
    }

    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!(
            "{TICKET_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
        )
    }

    pub fn decode(text: &str) -> Result<Ticket> {
        let bad = |why: &str| Error::invalid(format!("not a kith ticket: {why}"));
        let body = text
            .trim()
            .strip_prefix(TICKET_PREFIX)
            .ok_or_else(|| bad("it should start with 'kith1'"))?;
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| bad("it was cut or changed while copying"))?;
        let ticket: Ticket = serde_json::from_slice(&json)
            .map_err(|_| bad("it was cut or changed while copying"))?;
        ticket.key()?;
        ticket
            .inviter
            .parse::<PeerId>()
            .map_err(|_| bad("the inviter's id is damaged"))?;
        Ok(ticket)
    }

    /// The one-time key the secret seeds.
    pub fn key(&self) -> Result<Keypair> {
        let mut bytes = unhex(&self.secret)
            .filter(|b| b.len() == 32)
            .ok_or_else(|| Error::invalid("not a kith ticket: its secret is damaged"))?;
        Keypair::ed25519_from_bytes(&mut bytes)
            .map_err(|_| Error::invalid("not a kith ticket: its secret is damaged"))
    }

    pub fn peer(&self) -> Result<PeerId> {
        Ok(self.key()?.public().to_peer_id())
    }

    /// The inviter's addresses, each ending in its peer id.
    pub fn dial_addrs(&self) -> Vec<Multiaddr> {
        let Ok(inviter) = self.inviter.parse::<PeerId>() else {
            return Vec::new();
        };
        self.addrs
            .iter()
            .filter_map(|a| a.parse::<Multiaddr>().ok())
            .map(|a| with_peer(a, inviter))
            .collect()
    }
}

/// `addr` ending in `/p2p/peer`.
pub fn with_peer(addr: Multiaddr, peer: PeerId) -> Multiaddr {
    if matches!(
        addr.iter().last(),
        Some(libp2p::multiaddr::Protocol::P2p(_))
    ) {
        addr
    } else {
        addr.with(libp2p::multiaddr::Protocol::P2p(peer))
    }
}

/// An invitation as the inviter keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    pub peer: String,
    pub kind: TicketKind,
    pub created: i64,
    pub expires: i64,
    pub used: bool,
}

/// Where teammates' devices were reached, and when each last synced.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PeerBook {
    pub devices: BTreeMap<String, PeerRecord>,
    /// Relay addresses learnt from the ticket this device joined with,
    /// used until the roster names the team's relays.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub relays: BTreeSet<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PeerRecord {
    pub addrs: BTreeSet<String>,
    pub last_synced: Option<i64>,
    pub last_seen: Option<i64>,
}

/// The `team/` directory of a home.
pub struct TeamDir {
    dir: PathBuf,
}

/// Held while the team files are read and rewritten.
pub struct TeamLock {
    _file: File,
}

impl TeamDir {
    pub fn new(home: &Path) -> TeamDir {
        TeamDir {
            dir: home.join("team"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn lock(&self) -> Result<TeamLock> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let path = self.dir.join("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        file.lock().map_err(|e| Error::io(&path, e))?;
        Ok(TeamLock { _file: file })
    }

    fn read<T: serde::de::DeserializeOwned + Default>(&self, name: &str) -> Result<T> {
        let path = self.dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::BadInput {
                file: path.display().to_string(),
                line: e.line(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    fn write<T: Serialize>(&self, name: &str, value: &T, _lock: &TeamLock) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::invalid(e.to_string()))?;
        chunk::write_durable(&self.dir, name, &bytes).map(|_| ())
    }

    pub fn roster(&self) -> Result<Roster> {
        self.read("roster.json")
    }

    /// The roster file as stored (empty when there is none).
    pub fn roster_bytes(&self) -> Result<Vec<u8>> {
        let path = self.dir.join("roster.json");
        match std::fs::read(&path) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    pub fn save_roster(&self, roster: &Roster, lock: &TeamLock) -> Result<()> {
        self.write("roster.json", roster, lock)
    }

    pub fn invites(&self) -> Result<Vec<Invite>> {
        self.read("invites.json")
    }

    pub fn save_invites(&self, invites: &[Invite], lock: &TeamLock) -> Result<()> {
        self.write("invites.json", &invites, lock)
    }

    pub fn peers(&self) -> Result<PeerBook> {
        self.read("peers.json")
    }

    pub fn save_peers(&self, peers: &PeerBook, lock: &TeamLock) -> Result<()> {
        self.write("peers.json", peers, lock)
    }

    /// A fingerprint of the files a running daemon must follow, so it can
    /// notice a CLI's invite or removal without re-reading them each tick.
    pub fn fingerprint(&self) -> Vec<(u64, i128)> {
        ["roster.json", "invites.json"]
            .iter()
            .map(|n| match std::fs::metadata(self.dir.join(n)) {
                Ok(m) => {
                    use std::os::unix::fs::MetadataExt;
                    (
                        m.ino() ^ m.len(),
                        m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
                    )
                }
                Err(_) => (0, 0),
            })
            .collect()
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relay_counts_only_for_a_current_members_own_device() {
        let alice = Keypair::generate_ed25519();
        let bob = Keypair::generate_ed25519();
        let server = Keypair::generate_ed25519().public().to_peer_id();
        let laptop = Keypair::generate_ed25519().public().to_peer_id();
        let mut roster = Roster::create(&alice, &laptop, "acme", "alice", "laptop", 1).unwrap();
        let team = roster.team.clone().unwrap();
        let sign = |key: &Keypair, claim: Claim| Statement::sign(key, &claim).unwrap();
        let device = |key: &Keypair, d: &PeerId| {
            sign(
                key,
                Claim::Device {
                    device: d.to_string(),
                    name: "server".into(),
                    at: 2,
                },
            )
        };
        roster.merge(vec![device(&alice, &server)]);
        let addr: Multiaddr = "/ip4/10.99.0.1/tcp/4001".parse().unwrap();
        let claim = roster
            .relay_claim(&server, std::slice::from_ref(&addr), 3)
            .unwrap();
        // Bob is no member: his statement about alice's server is no relay.
        roster.merge(vec![sign(&bob, claim.clone())]);
        assert!(roster.relays().is_empty());
        roster.merge(vec![sign(&alice, claim)]);
        let relays = roster.relays();
        assert_eq!(relays.len(), 1);
        assert_eq!(relays[0].member, "alice");
        assert_eq!(
            relays[0].dial_addrs(),
            vec![addr.clone().with(libp2p::multiaddr::Protocol::P2p(server))]
        );
        // The same addresses again need no new statement; new ones win.
        assert!(roster.relay_claim(&server, &[addr], 4).is_none());
        let moved: Multiaddr = "/ip4/10.99.0.7/udp/4001/quic-v1".parse().unwrap();
        let claim = roster
            .relay_claim(&server, std::slice::from_ref(&moved), 5)
            .unwrap();
        roster.merge(vec![sign(&alice, claim)]);
        assert_eq!(roster.relays()[0].addrs, vec![moved.to_string()]);
        // A ticket carries the relays.
        let t = Ticket::new(TicketKind::Team, &roster, &laptop, &[], 10);
        let t = Ticket::decode(&t.encode()).unwrap();
        assert_eq!(t.relays.len(), 1);
        // A removed member's relay is no relay.
        let bob_id = bob.public().to_peer_id();
        roster.merge(vec![
            sign(
                &alice,
                Claim::Admit {
                    team: team.clone(),
                    member: bob_id.to_string(),
                    name: "bob".into(),
                    at: 6,
                },
            ),
            device(&bob, &laptop),
        ]);
        let bobs = roster
            .relay_claim(&laptop, &["/ip4/10.0.0.2/tcp/1".parse().unwrap()], 7)
            .unwrap();
        roster.merge(vec![sign(&bob, bobs)]);
        assert_eq!(roster.relays().len(), 2);
        roster.merge(vec![sign(
            &alice,
            Claim::Remove {
                team,
                member: bob_id.to_string(),
                at: 8,
            },
        )]);
        assert_eq!(roster.relays().len(), 1);
    }

    #[test]
    fn admissions_only_count_when_signed_by_a_member() {
        let alice = Keypair::generate_ed25519();
        let bob = Keypair::generate_ed25519();
        let mallory = Keypair::generate_ed25519();
        let dev = Keypair::generate_ed25519().public().to_peer_id();
        let mut roster = Roster::create(&alice, &dev, "acme", "alice", "laptop", 1).unwrap();
        let team = roster.team.clone().unwrap();
        // Mallory, not a member, admits herself: ignored.
        let forged = Statement::sign(
            &mallory,
            &Claim::Admit {
                team: team.clone(),
                member: mallory.public().to_peer_id().to_string(),
                name: "m".into(),
                at: 2,
            },
        )
        .unwrap();
        assert_eq!(roster.merge(vec![forged]), 1);
        assert_eq!(roster.members().len(), 1);
        let admit = Statement::sign(
            &alice,
            &Claim::Admit {
                team: team.clone(),
                member: bob.public().to_peer_id().to_string(),
                name: "bob".into(),
                at: 3,
            },
        )
        .unwrap();
        roster.merge(vec![admit]);
        assert_eq!(roster.members().len(), 2);
        // A statement whose body was changed after signing is refused.
        let mut tampered = Statement::sign(
            &alice,
            &Claim::Remove {
                team,
                member: bob.public().to_peer_id().to_string(),
                at: 4,
            },
        )
        .unwrap();
        tampered.body = tampered.body.replace("4", "5");
        assert_eq!(roster.merge(vec![tampered]), 0);
        assert!(roster.members().iter().all(|m| m.removed.is_none()));
    }

    #[test]
    fn tickets_survive_copying_and_reject_damage() {
        let alice = Keypair::generate_ed25519();
        let dev = alice.public().to_peer_id();
        let roster = Roster::create(&alice, &dev, "acme", "alice", "laptop", 1).unwrap();
        let t = Ticket::new(
            TicketKind::Team,
            &roster,
            &dev,
            &["/ip4/127.0.0.1/tcp/1".parse().unwrap()],
            99,
        );
        let text = t.encode();
        let back = Ticket::decode(&format!("  {text}\n")).unwrap();
        assert_eq!(back.peer().unwrap(), t.peer().unwrap());
        assert!(Ticket::decode(&text[..text.len() - 5]).is_err());
        assert!(Ticket::decode("hello").is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Rosters merge like a CRDT: whatever order statements arrive in,
        /// and however often, every member computes the same team.
        #[test]
        fn any_order_and_repetition_gives_the_same_members(
            order in proptest::collection::vec(0usize..1000, 1..40),
        ) {
            let alice = Keypair::generate_ed25519();
            let dev = alice.public().to_peer_id();
            let reference = Roster::create(&alice, &dev, "acme", "alice", "laptop", 1).unwrap();
            let team = reference.team.clone().unwrap();
            let mut all = reference.statements.clone();
            let bob = Keypair::generate_ed25519();
            let carol = Keypair::generate_ed25519();
            let id = |k: &Keypair| k.public().to_peer_id().to_string();
            // Alice admits bob, bob admits carol, alice removes bob.
            all.push(Statement::sign(&alice, &Claim::Admit { team: team.clone(), member: id(&bob), name: "bob".into(), at: 2 }).unwrap());
            all.push(Statement::sign(&bob, &Claim::Admit { team: team.clone(), member: id(&carol), name: "carol".into(), at: 3 }).unwrap());
            all.push(Statement::sign(&carol, &Claim::Device { device: id(&Keypair::generate_ed25519()), name: "phone".into(), at: 3 }).unwrap());
            all.push(Statement::sign(&alice, &Claim::Remove { team: team.clone(), member: id(&bob), at: 4 }).unwrap());
            let mut in_order = reference.clone();
            in_order.merge(all.clone());
            let mut shuffled = Roster { team: Some(team), statements: Vec::new() };
            for i in order {
                shuffled.merge(vec![all[i % all.len()].clone()]);
            }
            shuffled.merge(all);
            let summary = |r: &Roster| {
                r.members()
                    .into_iter()
                    .map(|m| (m.id, m.removed, m.devices.len()))
                    .collect::<Vec<_>>()
            };
            proptest::prop_assert_eq!(summary(&in_order), summary(&shuffled));
            proptest::prop_assert_eq!(in_order.members().len(), 3);
        }
    }
}
