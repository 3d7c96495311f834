//! What a daemon decides and stores, independent of the network: what to
//! offer a peer, how to answer a sync round, what to pull, and what to keep.
//!
//! Trust rules, all enforced here:
//! - A teammate is served the shared part of this person's ledger and the
//!   replicas of other current members; the private part is served only to
//!   this person's own devices, and only through an [`OwnDevice`] token,
//!   which only [`Engine::own_device`] makes.
//! - Changes pulled into a replica are applied to an in-memory copy first.
//!   They are stored only if every change is an ancestor of heads the owner
//!   signed with their member key; otherwise nothing is stored.
//! - This person's own ledger takes changes only from their own devices.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use automerge::sync::{Message, State as SyncState, SyncDoc};
use automerge::{AutoCommit, ChangeHash};
use libp2p::PeerId;
use sha2::Digest;

use super::proto::{BATCH_BYTES, JoinRequest, LedgerDigest, LedgerRef, PartKind, Proof, Response};
use crate::error::{Error, Result};
use crate::identity::{self, Keys};
use crate::index::team::TeamIndex;
use crate::ledger::Incoming;
use crate::model::{Id, Kind, Shard};
use crate::store::doc::parse_key;
use crate::store::{LoadReport, Private, Shared, Store, chunk};
use crate::team::{Claim, Invite, Roster, Statement, TeamDir, TicketKind};
use crate::{Ledger, OpenOptions};

const HEADS_DOMAIN: &[u8] = b"kith heads v1\n";
/// Serving sessions kept per peer; the oldest is dropped beyond this.
const SESSIONS_PER_PEER: usize = 64;
/// Loaded documents kept for serving.
const DOC_CACHE: usize = 64;

/// Proof that a peer is one of this person's own devices.
pub struct OwnDevice(());

/// Who a connected device is to us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    Own,
    Member(String),
    Ticket(Invite),
    Stranger,
}

struct Serving {
    state: SyncState,
    queue: VecDeque<Message>,
    used: u64,
}

/// The roster's verified meaning, computed once per roster change:
/// checking signatures on every request would cost more than serving it.
#[derive(Default, Clone)]
struct TeamView {
    own: std::collections::HashSet<PeerId>,
    device_member: HashMap<PeerId, String>,
    members: Vec<crate::team::Member>,
}

impl TeamView {
    fn of(roster: &Roster, me: &PeerId) -> TeamView {
        let members = roster.members();
        let mut device_member = HashMap::new();
        for m in members.iter().filter(|m| m.removed.is_none()) {
            for d in &m.devices {
                if let Ok(p) = d.id.parse::<PeerId>() {
                    device_member.insert(p, m.id.clone());
                }
            }
        }
        TeamView {
            own: roster.own_devices(me).into_iter().collect(),
            device_member,
            members,
        }
    }
}

#[derive(Default)]
struct Inner {
    roster: Roster,
    view: TeamView,
    /// Per ledger and shard: the part's chunk names and its heads then.
    heads: HeadsCache,
    own_proofs: HashMap<String, Proof>,
    serving: HashMap<(PeerId, LedgerRef, String), Serving>,
    docs: HashMap<(LedgerRef, String), (String, AutoCommit)>,
    doc_order: VecDeque<(LedgerRef, String)>,
    /// Encoded automerge sync states per peer, kept across restarts.
    states: HashMap<PeerId, BTreeMap<String, Vec<u8>>>,
    dirty_states: std::collections::HashSet<PeerId>,
    heads_dirty: bool,
    tick: u64,
}

/// Everything a running node needs, shared between its tasks.
pub struct Engine {
    home: PathBuf,
    pub keys: Keys,
    device_name: String,
    clock: fn() -> i64,
    inner: Mutex<Inner>,
    /// Ledgers (own and replicas) open for storing batches, with when each
    /// was last used; closed again once idle (`close_idle_ledgers`).
    ledgers: Mutex<HashMap<String, (Ledger, Instant)>>,
    /// A replica changed since the team index was last brought up to date.
    team_index_stale: AtomicBool,
    /// When a teammate's change was last stored in a replica.
    replica_changed_at: Mutex<Instant>,
    /// The team index is being brought up to date (by one thread at a time).
    team_index_busy: AtomicBool,
}

impl Engine {
    pub fn open(home: &Path, device_name: &str, clock: fn() -> i64) -> Result<Engine> {
        let keys = Keys::load_or_create(home)?;
        let roster = TeamDir::new(home).roster()?;
        let view = TeamView::of(&roster, &keys.member_id());
        let heads = read_heads_cache(home);
        Ok(Engine {
            home: home.to_path_buf(),
            keys,
            device_name: device_name.to_string(),
            clock,
            inner: Mutex::new(Inner {
                roster,
                view,
                heads,
                ..Inner::default()
            }),
            // Replicas may have changed while no daemon ran.
            team_index_stale: AtomicBool::new(true),
            replica_changed_at: Mutex::new(Instant::now()),
            team_index_busy: AtomicBool::new(false),
            ledgers: Mutex::new(HashMap::new()),
        })
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn me(&self) -> String {
        self.keys.member_id().to_string()
    }

    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn roster(&self) -> Roster {
        self.inner().roster.clone()
    }

    fn view(&self) -> TeamView {
        self.inner().view.clone()
    }

    fn set_roster(&self, roster: Roster) {
        let view = TeamView::of(&roster, &self.keys.member_id());
        let mut inner = self.inner();
        inner.roster = roster;
        inner.view = view;
    }

    /// Re-reads the roster a CLI may have changed.
    pub fn reload_roster(&self) -> Result<()> {
        let roster = TeamDir::new(&self.home).roster()?;
        self.set_roster(roster);
        Ok(())
    }

    /// Takes in a peer's statements; true if anything new was kept.
    pub fn merge_roster(&self, statements: Vec<crate::team::Statement>) -> Result<bool> {
        let dir = TeamDir::new(&self.home);
        let lock = dir.lock()?;
        let mut roster = dir.roster()?;
        let new = roster.merge(statements);
        if new > 0 {
            dir.save_roster(&roster, &lock)?;
        }
        self.set_roster(roster);
        Ok(new > 0)
    }

    /// Who `peer` is: own device, member, holder of an open ticket, or no one.
    pub fn role(&self, peer: &PeerId) -> Role {
        {
            let inner = self.inner();
            if *peer == self.keys.device_id() || inner.view.own.contains(peer) {
                return Role::Own;
            }
            if let Some(m) = inner.view.device_member.get(peer) {
                return Role::Member(m.clone());
            }
        }
        let now = self.now();
        if let Ok(invites) = TeamDir::new(&self.home).invites()
            && let Some(inv) = invites
                .into_iter()
                .find(|i| i.peer == peer.to_string() && !i.used && i.expires > now)
        {
            return Role::Ticket(inv);
        }
        Role::Stranger
    }

    pub fn own_device(&self, peer: &PeerId) -> Option<OwnDevice> {
        (self.role(peer) == Role::Own).then_some(OwnDevice(()))
    }

    /// Every device that may connect now: own devices, current members'
    /// devices, and the one-time keys of open tickets.
    pub fn allowed(&self) -> Vec<PeerId> {
        // From the view made once per roster change: asking the roster
        // checks every statement's signature, and this runs every second.
        let view = self.view();
        let mut out: Vec<PeerId> = view
            .device_member
            .keys()
            .chain(view.own.iter())
            .copied()
            .collect::<std::collections::HashSet<_>>()
            .into_iter()
            .collect();
        let now = self.now();
        if let Ok(invites) = TeamDir::new(&self.home).invites() {
            out.extend(
                invites
                    .iter()
                    .filter(|i| !i.used && i.expires > now)
                    .filter_map(|i| i.peer.parse::<PeerId>().ok()),
            );
        }
        out.retain(|p| *p != self.keys.device_id());
        out
    }

    fn store_of(&self, owner: &str) -> Result<Store> {
        let root = if owner == self.me() {
            self.home.join("ledger")
        } else {
            replica_home(&self.home, owner)?.join("ledger")
        };
        Store::open(&root, [0; 8])
    }

    /// Loads one part of one shard as a plain automerge document.
    fn load(
        &self,
        ledger: &LedgerRef,
        shard: &Shard,
        _own: Option<&OwnDevice>,
    ) -> Result<AutoCommit> {
        let store = self.store_of(&ledger.owner)?;
        let mut report = LoadReport::default();
        let doc = match ledger.part {
            PartKind::Shared => store
                .load::<Shared>(shard, &mut report)?
                .doc
                .into_automerge(),
            PartKind::Private => {
                // Reaching here without a token would be a bug in this
                // module; refuse rather than leak.
                if _own.is_none() {
                    return Err(Error::invalid(
                        "private part requested without an own device",
                    ));
                }
                store
                    .load::<Private>(shard, &mut report)?
                    .doc
                    .into_automerge()
            }
        };
        Ok(doc)
    }

    fn version(&self, ledger: &LedgerRef, shard: &Shard) -> Result<String> {
        let store = self.store_of(&ledger.owner)?;
        match ledger.part {
            PartKind::Shared => store.part_version::<Shared>(shard),
            PartKind::Private => store.part_version::<Private>(shard),
        }
    }

    /// A shard's heads, loading it only if its chunk files changed.
    fn heads(
        &self,
        ledger: &LedgerRef,
        shard: &Shard,
        own: Option<&OwnDevice>,
    ) -> Result<Vec<ChangeHash>> {
        let version = self.version(ledger, shard)?;
        let key = (ledger.clone(), shard.name().to_string());
        if let Some((v, h)) = self.inner().heads.get(&key)
            && *v == version
        {
            return Ok(h.clone());
        }
        let mut doc = self.load(ledger, shard, own)?;
        let mut heads = doc.get_heads();
        heads.sort();
        let mut inner = self.inner();
        inner.heads.insert(key, (version, heads.clone()));
        inner.heads_dirty = true;
        Ok(heads)
    }

    /// Shard digests of one ledger part as held here.
    pub fn digest(&self, ledger: &LedgerRef, own: Option<&OwnDevice>) -> Result<LedgerDigest> {
        let store = self.store_of(&ledger.owner)?;
        let mut shards = Vec::new();
        for shard in store.shards()? {
            if self.version(ledger, &shard)?.is_empty() {
                continue;
            }
            let heads = self.heads(ledger, &shard, own)?;
            shards.push((shard.name().to_string(), heads_digest(&heads)));
        }
        Ok(LedgerDigest {
            ledger: ledger.clone(),
            shards,
        })
    }

    /// Digests of only these shards.
    pub fn digest_of(
        &self,
        ledger: &LedgerRef,
        shards: &[Shard],
        own: Option<&OwnDevice>,
    ) -> Result<LedgerDigest> {
        let mut out = Vec::new();
        for shard in shards {
            let heads = self.heads(ledger, shard, own)?;
            out.push((shard.name().to_string(), heads_digest(&heads)));
        }
        Ok(LedgerDigest {
            ledger: ledger.clone(),
            shards: out,
        })
    }

    /// Ledgers held here that `peer` may read.
    pub fn servable(&self, peer: &PeerId) -> Vec<LedgerRef> {
        let me = self.me();
        let shared = |owner: &str| LedgerRef {
            owner: owner.to_string(),
            part: PartKind::Shared,
        };
        let peer_member = match self.role(peer) {
            Role::Own => me.clone(),
            Role::Member(m) => m,
            _ => return Vec::new(),
        };
        let mut out = vec![shared(&me)];
        if peer_member == me {
            out.push(LedgerRef {
                owner: me.clone(),
                part: PartKind::Private,
            });
        }
        for m in self.view().members {
            if m.id != me
                && m.id != peer_member
                && m.removed.is_none()
                && replica_exists(&self.home, &m.id)
            {
                out.push(shared(&m.id));
            }
        }
        out
    }

    /// What `peer` may pull from here, with digests.
    pub fn offer(&self, peer: &PeerId) -> Result<Vec<LedgerDigest>> {
        let own = self.own_device(peer);
        self.servable(peer)
            .iter()
            .map(|l| self.digest(l, own.as_ref()))
            .collect()
    }

    /// Whether changes to `ledger` may be taken from `peer` at all.
    pub fn may_pull(&self, peer: &PeerId, ledger: &LedgerRef) -> bool {
        let me = self.me();
        if ledger.owner == me {
            return self.role(peer) == Role::Own;
        }
        if ledger.part != PartKind::Shared
            || matches!(self.role(peer), Role::Ticket(_) | Role::Stranger)
        {
            return false;
        }
        self.inner()
            .view
            .members
            .iter()
            .any(|m| m.id == ledger.owner && m.removed.is_none())
    }

    /// The shards of an offer that differ from what is held here.
    pub fn wanted(&self, peer: &PeerId, offer: &[LedgerDigest]) -> Vec<(LedgerRef, Shard)> {
        let own = self.own_device(peer);
        let mut out = Vec::new();
        for digest in offer {
            if !self.may_pull(peer, &digest.ledger) {
                continue;
            }
            for (name, theirs) in &digest.shards {
                let Some(shard) = Shard::parse(name) else {
                    continue;
                };
                let ours = self
                    .heads(&digest.ledger, &shard, own.as_ref())
                    .map(|h| heads_digest(&h))
                    .ok();
                if ours != Some(*theirs) {
                    out.push((digest.ledger.clone(), shard));
                }
            }
        }
        out
    }

    /// Answers one round of sync for `peer`.
    pub fn serve(
        &self,
        peer: &PeerId,
        ledger: &LedgerRef,
        shard: &str,
        first: bool,
        msg: &[u8],
    ) -> Response {
        match self.serve_inner(peer, ledger, shard, first, msg) {
            Ok(r) => r,
            Err(e) => Response::Refused(e.to_string()),
        }
    }

    fn serve_inner(
        &self,
        peer: &PeerId,
        ledger: &LedgerRef,
        shard_name: &str,
        first: bool,
        msg: &[u8],
    ) -> Result<Response> {
        let shard = Shard::parse(shard_name)
            .ok_or_else(|| Error::invalid(format!("no shard '{shard_name}'")))?;
        if !self.servable(peer).contains(ledger) {
            return Err(Error::invalid("not yours to read"));
        }
        let own = match ledger.part {
            PartKind::Private => Some(
                self.own_device(peer)
                    .ok_or_else(|| Error::invalid("not yours to read"))?,
            ),
            PartKind::Shared => None,
        };
        let incoming = if msg.is_empty() {
            None
        } else {
            Some(
                Message::decode(msg)
                    .map_err(|e| Error::invalid(format!("malformed sync message: {e}")))?,
            )
        };
        let has_nothing = incoming
            .as_ref()
            .is_some_and(|m| m.heads.is_empty() && m.have.iter().all(|h| h.last_sync.is_empty()));
        if first
            && has_nothing
            && let Some(resp) = self.serve_whole(peer, ledger, &shard, own.as_ref())?
        {
            return Ok(resp);
        }
        let version = self.version(ledger, &shard)?;
        let doc_key = (ledger.clone(), shard_name.to_string());
        let mut doc = {
            let mut inner = self.inner();
            match inner.docs.remove(&doc_key) {
                Some((v, d)) if v == version => Some(d),
                _ => None,
            }
        };
        let mut doc = match doc.take() {
            Some(d) => d,
            None => self.load(ledger, &shard, own.as_ref())?,
        };
        let key = (*peer, ledger.clone(), shard_name.to_string());
        let mut inner = self.inner();
        inner.tick += 1;
        let tick = inner.tick;
        if first {
            inner.serving.remove(&key);
        }
        let mut serving = inner.serving.remove(&key).unwrap_or_else(|| Serving {
            state: SyncState::new_read_only(),
            queue: VecDeque::new(),
            used: tick,
        });
        serving.used = tick;
        let reply = match serving.queue.pop_front() {
            Some(m) => Some(m),
            None => {
                if let Some(m) = incoming {
                    doc.sync()
                        .receive_sync_message(&mut serving.state, m)
                        .map_err(|e| Error::invalid(format!("bad sync message: {e}")))?;
                }
                match doc.sync().generate_sync_message(&mut serving.state) {
                    Some(m) => {
                        let mut batches = split(m);
                        let head = batches.pop_front();
                        serving.queue = batches;
                        head
                    }
                    None => None,
                }
            }
        };
        let more = !serving.queue.is_empty();
        let proofs = if ledger.owner == self.me() {
            match ledger.part {
                PartKind::Shared => {
                    let mut heads = doc.get_heads();
                    heads.sort();
                    vec![self.own_proof(&mut inner, &shard, heads)?]
                }
                PartKind::Private => Vec::new(),
            }
        } else {
            read_proofs(&self.home, &ledger.owner, &shard)?
        };
        if reply.is_some() || more {
            inner.serving.insert(key, serving);
            evict_sessions(&mut inner, peer);
        }
        inner.docs.insert(doc_key.clone(), (version, doc));
        inner.doc_order.retain(|k| *k != doc_key);
        inner.doc_order.push_back(doc_key);
        while inner.doc_order.len() > DOC_CACHE {
            if let Some(old) = inner.doc_order.pop_front() {
                inner.docs.remove(&old);
            }
        }
        Ok(Response::Sync {
            msg: reply.map(|m| m.encode()),
            proofs,
            more,
        })
    }

    /// The first answer to a peer that holds none of a shard: the chunk
    /// files' bytes as stored, with the heads from the cache. Loading the
    /// document only to have automerge save (and compress) it again costs
    /// most of a first sync. None if the shard is empty or damaged.
    fn serve_whole(
        &self,
        peer: &PeerId,
        ledger: &LedgerRef,
        shard: &Shard,
        own: Option<&OwnDevice>,
    ) -> Result<Option<Response>> {
        let store = self.store_of(&ledger.owner)?;
        let payloads = match ledger.part {
            PartKind::Shared => store.raw_payloads::<Shared>(shard),
            PartKind::Private if own.is_some() => store.raw_payloads::<Private>(shard),
            PartKind::Private => return Err(Error::invalid("not yours to read")),
        };
        let Ok(payloads) = payloads else {
            return Ok(None);
        };
        if payloads.is_empty() {
            return Ok(None);
        }
        // Files come in no particular order, and the puller holds changes
        // whose dependencies have not come yet only up to a limit
        // (`PENDING_CHANGES`): documents (snapshots) first, and when
        // several incremental chunks span batches, the slow path, whose
        // changes come in causal order.
        let is_document = |p: &Vec<u8>| p.len() > 8 && p[8] == 0;
        let mut payloads = payloads;
        payloads.sort_by_key(|p| !is_document(p));
        let increments = payloads.iter().filter(|p| !is_document(p)).count();
        let total: usize = payloads.iter().map(Vec::len).sum();
        if increments > 1 && total > BATCH_BYTES {
            return Ok(None);
        }
        let heads = self.heads(ledger, shard, own)?;
        let message = Message {
            heads: heads.clone(),
            need: Vec::new(),
            have: Vec::new(),
            changes: payloads.into(),
            flags: None,
            version: automerge::sync::MessageVersion::V1,
        };
        let mut batches = split(message);
        let first = batches.pop_front();
        let proofs = match ledger.part {
            PartKind::Shared if ledger.owner == self.me() => {
                let mut inner = self.inner();
                vec![self.own_proof(&mut inner, shard, heads)?]
            }
            PartKind::Shared => read_proofs(&self.home, &ledger.owner, shard)?,
            PartKind::Private => Vec::new(),
        };
        let more = !batches.is_empty();
        let mut inner = self.inner();
        inner.tick += 1;
        let tick = inner.tick;
        inner.serving.insert(
            (*peer, ledger.clone(), shard.name().to_string()),
            Serving {
                state: SyncState::new_read_only(),
                queue: batches,
                used: tick,
            },
        );
        evict_sessions(&mut inner, peer);
        Ok(Some(Response::Sync {
            msg: first.map(|m| m.encode()),
            proofs,
            more,
        }))
    }

    fn own_proof(&self, inner: &mut Inner, shard: &Shard, heads: Vec<ChangeHash>) -> Result<Proof> {
        let raw: Vec<[u8; 32]> = heads.iter().map(|h| h.0).collect();
        if let Some(p) = inner.own_proofs.get(shard.name())
            && p.heads == raw
        {
            return Ok(p.clone());
        }
        let sig = self
            .keys
            .member
            .sign(&heads_message(&self.me(), shard, &raw))
            .map_err(|e| Error::invalid(format!("cannot sign: {e}")))?;
        let proof = Proof { heads: raw, sig };
        inner
            .own_proofs
            .insert(shard.name().to_string(), proof.clone());
        Ok(proof)
    }

    /// The local copy a pull starts from, with its heads.
    pub fn pull_start(&self, peer: &PeerId, ledger: &LedgerRef, shard: &Shard) -> Result<Pull> {
        let own = self.own_device(peer);
        let own = if ledger.part == PartKind::Private {
            own
        } else {
            None
        };
        if ledger.part == PartKind::Private && own.is_none() {
            return Err(Error::invalid("private part from a device not our own"));
        }
        let mut doc = self.load(ledger, shard, own.as_ref())?;
        let heads = doc.get_heads();
        let state = self.sync_state(peer, ledger, shard);
        Ok(Pull::new(doc, heads, state))
    }

    /// Checks a pulled copy and stores what is new. Returns whether anything
    /// was stored. Nothing is stored unless every change is covered by the
    /// owner's signed heads (or comes from our own device, for our ledger).
    pub fn pull_finish(
        &self,
        peer: &PeerId,
        ledger: &LedgerRef,
        shard: &Shard,
        pull: Pull,
        proofs: Vec<Proof>,
    ) -> Result<Option<Absorb>> {
        let Pull {
            mut doc,
            old_heads,
            state,
            ..
        } = pull;
        let old_heads = &old_heads[..];
        let mut new_heads = doc.get_heads();
        new_heads.sort();
        let mut old_sorted = old_heads.to_vec();
        old_sorted.sort();
        if new_heads == old_sorted {
            self.keep_state(peer, ledger, shard, &state);
            return Ok(None);
        }
        let me = self.me();
        let mut keep_proofs = Vec::new();
        if ledger.owner != me {
            let owner = &ledger.owner;
            let mut valid = read_proofs(&self.home, owner, shard)?;
            for p in proofs {
                if verify_proof(owner, shard, &p) && !valid.contains(&p) {
                    valid.push(p);
                }
            }
            let cover: Vec<ChangeHash> = valid
                .iter()
                .flat_map(|p| p.heads.iter().map(|h| ChangeHash(*h)))
                .filter(|h| doc.get_change_by_hash(h).is_some())
                .collect();
            let unsigned = doc.get_changes(&cover).len();
            if unsigned > 0 {
                self.drop_state(peer, ledger, shard);
                return Err(Error::invalid(format!(
                    "{unsigned} change(s) to {owner}'s shard {} are not signed by {owner}; nothing stored",
                    shard.name()
                )));
            }
            keep_proofs = valid
                .into_iter()
                .filter(|p| p.heads.iter().any(|h| new_heads.contains(&ChangeHash(*h))))
                .collect();
        }
        // Into an empty replica, the whole document: automerge compresses
        // it (a 100,000-change history is 0.2 MB saved, 10.7 MB as
        // changes), and loading it later costs a fraction of the changes.
        // Changes still waiting for their dependencies are left out: they
        // were never checked (automerge's default keeps them).
        let (bytes, touched) = if old_heads.is_empty() {
            let whole = doc.save_with_options(automerge::SaveOptions {
                deflate: true,
                retain_orphans: false,
            });
            (whole, None)
        } else {
            (
                doc.save_after(old_heads),
                touched(&mut doc, old_heads, &new_heads),
            )
        };
        Ok(Some(Absorb {
            ledger: ledger.clone(),
            shard: shard.clone(),
            bytes,
            touched,
            proofs: keep_proofs,
            peer: *peer,
            state: state.encode(),
        }))
    }

    /// Stores verified pulls, in one batch per ledger.
    pub fn absorb(&self, items: Vec<Absorb>) -> Result<usize> {
        let mut by_owner: BTreeMap<String, Vec<Absorb>> = BTreeMap::new();
        for a in items {
            by_owner.entry(a.ledger.owner.clone()).or_default().push(a);
        }
        let mut n = 0;
        let me = self.me();
        let view = self.view();
        for (owner, items) in by_owner {
            // A member removed while this batch was pulled: the replica stays
            // as it was when the removal arrived.
            if owner != me
                && !view
                    .members
                    .iter()
                    .any(|m| m.id == owner && m.removed.is_none())
            {
                tracing::info!(%owner, "not storing changes of a removed member");
                continue;
            }
            let home = if owner == me {
                self.home.clone()
            } else {
                replica_home(&self.home, &owner)?
            };
            for a in &items {
                if owner != me {
                    write_proofs(&self.home, &owner, &a.shard, &a.proofs)?;
                }
            }
            let batch = items
                .iter()
                .map(|a| Incoming {
                    shard: a.shard.clone(),
                    private: a.ledger.part == PartKind::Private,
                    bytes: a.bytes.clone(),
                    touched: a.touched.clone(),
                })
                .collect();
            self.with_ledger(&home, |l| l.absorb(batch))?;
            if owner != me {
                self.team_index_stale.store(true, Ordering::SeqCst);
                if let Ok(mut at) = self.replica_changed_at.lock() {
                    *at = Instant::now();
                }
            }
            for a in &items {
                n += 1;
                let mut inner = self.inner();
                inner
                    .states
                    .entry(a.peer)
                    .or_default()
                    .insert(state_key(&a.ledger, &a.shard), a.state.clone());
                inner.dirty_states.insert(a.peer);
            }
        }
        Ok(n)
    }

    /// Whether the team index has replica changes to take in.
    pub fn team_index_stale(&self) -> bool {
        self.team_index_stale.load(Ordering::SeqCst)
    }

    /// Whether to bring the team index up to date now: it is stale and no
    /// teammate's change was stored for `quiet`. Copying a replica no
    /// longer holds its lock, but it still takes a core and the disk for
    /// about a second per 10,000 people, and a copy made while edits
    /// stream in is out of date at once. A team question asked meanwhile
    /// brings the replicas it reads up to date itself.
    pub fn team_index_due(&self, quiet: Duration) -> bool {
        self.team_index_stale()
            && self
                .replica_changed_at
                .lock()
                .map(|at| at.elapsed() >= quiet)
                .unwrap_or(true)
    }

    /// Copies every replica that changed into the team index, so team
    /// questions asked next find it current and answer at once. Slow (a
    /// replica of 5,000 people takes a fraction of a second): run it off
    /// the network loop. Does nothing while another call is at it.
    pub fn refresh_team_index(&self) -> Result<()> {
        if self.team_index_busy.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        self.team_index_stale.store(false, Ordering::SeqCst);
        let result = self.refresh_team_index_now();
        if result.is_err() {
            self.team_index_stale.store(true, Ordering::SeqCst);
        }
        self.team_index_busy.store(false, Ordering::SeqCst);
        result
    }

    fn refresh_team_index_now(&self) -> Result<()> {
        let me = self.me();
        let mut held = Vec::new();
        for m in self.view().members {
            if m.id != me && replica_exists(&self.home, &m.id) {
                held.push((m.id.clone(), replica_home(&self.home, &m.id)?));
            }
        }
        let mut index = TeamIndex::open(&self.home.join("team.sqlite"))?;
        let report = index.refresh(&held, &|home| self.open_ledger(home))?;
        if !report.busy.is_empty() {
            // A replica was being written: take it in again next time.
            self.team_index_stale.store(true, Ordering::SeqCst);
        }
        tracing::debug!(
            copied = report.copied.len(),
            busy = report.busy.len(),
            "team index refreshed"
        );
        Ok(())
    }

    /// Opens a ledger (the own one or a replica) as the daemon reads it.
    fn open_ledger(&self, home: &Path) -> Result<Ledger> {
        Ledger::open(
            home,
            OpenOptions {
                now: jiff::Timestamp::from_second(self.now())
                    .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
                time_zone: jiff::tz::TimeZone::UTC,
                progress: &|_, _| {},
            },
        )
    }

    fn with_ledger<T>(&self, home: &Path, f: impl FnOnce(&mut Ledger) -> Result<T>) -> Result<T> {
        let key = home.display().to_string();
        let mut ledgers = self.ledgers.lock().unwrap_or_else(|p| p.into_inner());
        if !ledgers.contains_key(&key) {
            let ledger = self.open_ledger(home)?;
            ledgers.insert(key.clone(), (ledger, Instant::now()));
        }
        let (ledger, used) = ledgers
            .get_mut(&key)
            .ok_or_else(|| Error::invalid("ledger vanished"))?;
        *used = Instant::now();
        f(ledger)
    }

    /// Closes the ledgers nothing has been stored into for `idle`, and
    /// returns how many. Each holds an index connection whose page cache
    /// grows to 32 MB while a replica is first stored: a daemon that has
    /// just taken ten replicas of 10,000 people held 420 MB this way. A
    /// ledger is opened again (milliseconds) by the next batch for it.
    /// Never waits: if a batch is being stored, nothing is closed now.
    pub fn close_idle_ledgers(&self, idle: std::time::Duration) -> usize {
        let Ok(mut ledgers) = self.ledgers.try_lock() else {
            return 0;
        };
        let before = ledgers.len();
        ledgers.retain(|_, (_, used)| used.elapsed() < idle);
        before - ledgers.len()
    }

    fn sync_state(&self, peer: &PeerId, ledger: &LedgerRef, shard: &Shard) -> SyncState {
        let mut inner = self.inner();
        if !inner.states.contains_key(peer) {
            let loaded = read_states(&self.home, peer);
            inner.states.insert(*peer, loaded);
        }
        inner
            .states
            .get(peer)
            .and_then(|m| m.get(&state_key(ledger, shard)))
            .and_then(|b| SyncState::decode(b).ok())
            .unwrap_or_default()
    }

    fn keep_state(&self, peer: &PeerId, ledger: &LedgerRef, shard: &Shard, state: &SyncState) {
        let mut inner = self.inner();
        inner
            .states
            .entry(*peer)
            .or_default()
            .insert(state_key(ledger, shard), state.encode());
        inner.dirty_states.insert(*peer);
    }

    fn drop_state(&self, peer: &PeerId, ledger: &LedgerRef, shard: &Shard) {
        let mut inner = self.inner();
        if let Some(m) = inner.states.get_mut(peer) {
            m.remove(&state_key(ledger, shard));
        }
        inner.dirty_states.insert(*peer);
    }

    /// Writes sync states (and the heads cache) that changed since the
    /// last call.
    pub fn flush_states(&self) -> Result<()> {
        let heads = {
            let mut inner = self.inner();
            if std::mem::take(&mut inner.heads_dirty) {
                Some(
                    inner
                        .heads
                        .iter()
                        .map(|((l, s), (v, h))| {
                            (
                                l.clone(),
                                s.clone(),
                                v.clone(),
                                h.iter().map(|h| h.0).collect::<Vec<_>>(),
                            )
                        })
                        .collect::<Vec<_>>(),
                )
            } else {
                None
            }
        };
        if let Some(heads) = heads {
            let dir = self.home.join("sync");
            let bytes = super::proto::encode(&heads).map_err(|e| Error::io(&dir, e))?;
            chunk::write_durable(&dir, "heads.cache", &bytes)?;
        }
        let work: Vec<(PeerId, BTreeMap<String, Vec<u8>>)> = {
            let mut inner = self.inner();
            let dirty: Vec<PeerId> = inner.dirty_states.drain().collect();
            dirty
                .into_iter()
                .filter_map(|p| inner.states.get(&p).map(|m| (p, m.clone())))
                .collect()
        };
        for (peer, states) in work {
            let dir = self.home.join("sync");
            let bytes = super::proto::encode(&states).map_err(|e| Error::io(&dir, e))?;
            chunk::write_durable(&dir, &format!("{peer}.state"), &bytes)?;
        }
        Ok(())
    }

    /// Handles a join by a ticket's one-time key.
    pub fn join(&self, peer: &PeerId, invite: &Invite, req: JoinRequest) -> Result<Response> {
        let refuse = |why: &str| Ok(Response::Refused(why.to_string()));
        if invite.kind != req.kind {
            return refuse("this ticket is for something else");
        }
        let Some((joiner, Claim::Device { device, .. })) = req.device.verified() else {
            return refuse("the device certificate does not check out");
        };
        let dir = TeamDir::new(&self.home);
        let lock = dir.lock()?;
        let mut invites = dir.invites()?;
        let now = self.now();
        let Some(inv) = invites
            .iter_mut()
            .find(|i| i.peer == peer.to_string() && !i.used && i.expires > now)
        else {
            return refuse("this ticket was used or has expired");
        };
        inv.used = true;
        let mut roster = dir.roster()?;
        let mut member_key = None;
        match req.kind {
            TicketKind::Team => {
                let team = roster
                    .team
                    .clone()
                    .ok_or_else(|| Error::invalid("not in a team"))?;
                roster.add(req.device.clone());
                roster.add(Statement::sign(
                    &self.keys.member,
                    &Claim::Admit {
                        team,
                        member: joiner.to_string(),
                        name: req.member_name.clone(),
                        at: now,
                    },
                )?);
            }
            TicketKind::Device => {
                roster.add(Statement::sign(
                    &self.keys.member,
                    &Claim::Device {
                        device: device.clone(),
                        name: req.member_name.clone(),
                        at: now,
                    },
                )?);
                member_key = Some(
                    self.keys
                        .member
                        .to_protobuf_encoding()
                        .map_err(|e| Error::invalid(e.to_string()))?,
                );
            }
        }
        dir.save_roster(&roster, &lock)?;
        dir.save_invites(&invites, &lock)?;
        let _ = &self.device_name;
        let statements = roster.statements.clone();
        let team = roster.team.clone();
        self.set_roster(roster);
        Ok(Response::Joined {
            team,
            statements,
            member_key,
        })
    }
}

/// Changes a pull may hold whose dependencies have not arrived, counted
/// since it last held none: they sit in automerge's queue, in memory, and
/// are never stored. A teammate's own answers are in causal order, so an
/// honest pull holds few and only for a moment (a first sync of stored
/// chunks, which come in no particular order, holds one chunk's worth).
pub const PENDING_CHANGES: usize = 20_000;
/// The same in bytes as received.
pub const PENDING_BYTES: usize = 8 << 20;
/// Answers in one pull that carried changes and added nothing (every one
/// already here): an honest peer sends what we lack.
pub const IDLE_ROUNDS: usize = 8;

/// Why a pull stopped on what the peer sent.
#[derive(Debug)]
pub enum Refusal {
    /// What no honest kith peer sends: the caller stops pulling from it
    /// for a while.
    Abuse(String),
    /// What automerge would not read.
    Invalid(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Abuse(why) | Refusal::Invalid(why) => f.write_str(why),
        }
    }
}

/// A pull in progress: the in-memory copy changes are applied to, the
/// heads it started from, and the sync state with that peer.
pub struct Pull {
    pub doc: AutoCommit,
    pub old_heads: Vec<ChangeHash>,
    pub state: SyncState,
    /// Changes and bytes received since the copy last held no change
    /// waiting for its dependencies: an upper bound on what waits now.
    pending: (usize, usize),
    /// Answers with changes that added nothing.
    idle: usize,
}

impl Pull {
    fn new(doc: AutoCommit, old_heads: Vec<ChangeHash>, state: SyncState) -> Pull {
        Pull {
            doc,
            old_heads,
            state,
            pending: (0, 0),
            idle: 0,
        }
    }

    /// Applies one answer from the serving peer, within the limits above.
    /// On `Err` the pull is over and nothing of it may be stored.
    pub fn receive(&mut self, message: Message) -> std::result::Result<(), Refusal> {
        let bytes: usize = message.changes.iter().map(<[u8]>::len).sum();
        let (count, queued_bytes) = message
            .changes
            .iter()
            .map(queueable)
            .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
        // An honest answer is split into batches (`split`); only a single
        // chunk bigger than a batch comes whole.
        if message.changes.len() > 1 && bytes > BATCH_BYTES {
            return Err(Refusal::Abuse(format!(
                "sent {bytes} bytes of changes in one answer, over the {BATCH_BYTES}-byte batch"
            )));
        }
        let before = (!message.changes.is_empty()).then(|| self.doc.get_heads());
        let (doc, state) = (&mut self.doc, &mut self.state);
        // automerge 0.12 panics on some payloads (see store::load_guarded);
        // the copy is thrown away with the pull.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            doc.sync().receive_sync_message(state, message)
        })) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Refusal::Invalid(format!("bad sync message: {e}"))),
            Err(_) => {
                return Err(Refusal::Invalid(
                    "automerge could not read its changes".into(),
                ));
            }
        }
        let Some(before) = before else {
            return Ok(());
        };
        // Non-empty exactly when automerge's queue is.
        let waiting = !self.doc.get_missing_deps(&[]).is_empty();
        if waiting {
            self.pending.0 += count;
            self.pending.1 += queued_bytes;
        } else {
            self.pending = (0, 0);
        }
        if self.pending.0 > PENDING_CHANGES || self.pending.1 > PENDING_BYTES {
            return Err(Refusal::Abuse(format!(
                "sent {} changes ({} bytes) whose dependencies never came, over the limit of \
                 {PENDING_CHANGES} changes or {PENDING_BYTES} bytes held waiting",
                self.pending.0, self.pending.1
            )));
        }
        if !waiting && self.doc.get_heads() == before {
            self.idle += 1;
            if self.idle > IDLE_ROUNDS {
                return Err(Refusal::Abuse(format!(
                    "sent only changes already here, {} times in one pull",
                    self.idle
                )));
            }
        }
        Ok(())
    }
}

/// The changes in one chunk of a sync message that automerge could hold
/// waiting for their dependencies, and their bytes, read from the chunk
/// headers without parsing the changes. Each change chunk counts one. A
/// document chunk counts nothing: it holds its own history whole, so
/// automerge applies it or refuses it, and never queues it. Bytes that do
/// not parse as chunks count one change per 8.
fn queueable(bytes: &[u8]) -> (usize, usize) {
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    let mut rest = bytes;
    let (mut changes, mut size) = (0, 0);
    while rest.len() > 9 && rest[..4] == MAGIC {
        let kind = rest[8];
        let mut len: u64 = 0;
        let mut at = 9;
        let mut shift = 0;
        while let Some(b) = rest.get(at) {
            at += 1;
            if shift < 64 {
                len |= u64::from(b & 0x7f) << shift;
            }
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| at.checked_add(l))
            .unwrap_or(usize::MAX)
            .min(rest.len());
        if kind != 0 {
            changes += 1;
            size += end;
        }
        rest = &rest[end..];
    }
    (changes + rest.len().div_ceil(8), size + rest.len())
}

/// Verified changes waiting to be stored.
pub struct Absorb {
    pub ledger: LedgerRef,
    pub shard: Shard,
    bytes: Vec<u8>,
    /// The entities the new changes touched, so that storing them derives
    /// only those (None: the whole shard, as after a first sync).
    touched: Option<Vec<(Kind, Id)>>,
    proofs: Vec<Proof>,
    peer: PeerId,
    state: Vec<u8>,
}

/// The entities whose visible state differs between `before` and `after`:
/// every entity is one key of the root map (`store::doc`), so each patch's
/// first step names one. None when a patch names no entity, so that the
/// caller derives the whole shard rather than guess.
fn touched(
    doc: &mut AutoCommit,
    before: &[ChangeHash],
    after: &[ChangeHash],
) -> Option<Vec<(Kind, Id)>> {
    use automerge::{PatchAction, Prop};
    let mut out = Vec::new();
    for patch in doc.diff(before, after) {
        let key = match (patch.path.first(), &patch.action) {
            (Some((_, Prop::Map(key))), _) => key.clone(),
            (Some(_), _) => return None,
            (
                None,
                PatchAction::PutMap { key, .. }
                | PatchAction::DeleteMap { key }
                | PatchAction::Increment {
                    prop: Prop::Map(key),
                    ..
                }
                | PatchAction::Conflict {
                    prop: Prop::Map(key),
                },
            ) => key.clone(),
            (None, _) => return None,
        };
        out.push(parse_key(&key)?);
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// Splits a sync message whose changes exceed a batch into several, each
/// with the same heads and bloom, so a big first sync streams.
fn split(m: Message) -> VecDeque<Message> {
    let chunks: Vec<Vec<u8>> = m.changes.iter().map(|c| c.to_vec()).collect();
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    if total <= BATCH_BYTES {
        return VecDeque::from([m]);
    }
    let mut out = VecDeque::new();
    let mut batch: Vec<Vec<u8>> = Vec::new();
    let mut size = 0;
    let mut template = m;
    template.changes = automerge::sync::ChunkList::empty();
    let with = |changes: Vec<Vec<u8>>| {
        let mut part = template.clone();
        part.changes = changes.into();
        part
    };
    for c in chunks {
        if size + c.len() > BATCH_BYTES && !batch.is_empty() {
            out.push_back(with(std::mem::take(&mut batch)));
            size = 0;
        }
        size += c.len();
        batch.push(c);
    }
    if !batch.is_empty() {
        out.push_back(with(batch));
    }
    out
}

fn evict_sessions(inner: &mut Inner, peer: &PeerId) {
    let mut mine: Vec<((PeerId, LedgerRef, String), u64)> = inner
        .serving
        .iter()
        .filter(|(k, _)| k.0 == *peer)
        .map(|(k, v)| (k.clone(), v.used))
        .collect();
    if mine.len() <= SESSIONS_PER_PEER {
        return;
    }
    mine.sort_by_key(|(_, used)| *used);
    for (k, _) in mine.iter().take(mine.len() - SESSIONS_PER_PEER) {
        inner.serving.remove(k);
    }
}

pub fn heads_digest(heads: &[ChangeHash]) -> [u8; 8] {
    let mut sorted = heads.to_vec();
    sorted.sort();
    let mut h = sha2::Sha256::new();
    for head in sorted {
        h.update(head.0);
    }
    let mut out = [0u8; 8];
    out.copy_from_slice(&h.finalize()[..8]);
    out
}

fn heads_message(owner: &str, shard: &Shard, heads: &[[u8; 32]]) -> Vec<u8> {
    let mut m = HEADS_DOMAIN.to_vec();
    m.extend_from_slice(owner.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(shard.name().as_bytes());
    m.push(b'\n');
    for h in heads {
        m.extend_from_slice(h);
    }
    m
}

/// The member's signature over one shard's heads, as its devices send it
/// with every answer (and as a test's scripted member must).
pub fn sign_heads(
    member: &libp2p::identity::Keypair,
    shard: &Shard,
    heads: &[ChangeHash],
) -> Result<Proof> {
    let mut raw: Vec<[u8; 32]> = heads.iter().map(|h| h.0).collect();
    raw.sort();
    let owner = member.public().to_peer_id().to_string();
    let sig = member
        .sign(&heads_message(&owner, shard, &raw))
        .map_err(|e| Error::invalid(format!("cannot sign: {e}")))?;
    Ok(Proof { heads: raw, sig })
}

pub fn verify_proof(owner: &str, shard: &Shard, proof: &Proof) -> bool {
    let Ok(owner_id) = owner.parse::<PeerId>() else {
        return false;
    };
    identity::verify(
        &owner_id,
        &heads_message(owner, shard, &proof.heads),
        &proof.sig,
    )
}

fn state_key(ledger: &LedgerRef, shard: &Shard) -> String {
    let part = match ledger.part {
        PartKind::Shared => "shared",
        PartKind::Private => "private",
    };
    format!("{}/{part}/{}", ledger.owner, shard.name())
}

/// Where a teammate's replica lives. Member ids are peer ids, checked here
/// so a hostile id can never name a path outside `replicas/`.
pub fn replica_home(home: &Path, owner: &str) -> Result<PathBuf> {
    owner
        .parse::<PeerId>()
        .map_err(|_| Error::invalid(format!("'{owner}' is not a member id")))?;
    Ok(home.join("replicas").join(owner))
}

pub fn replica_exists(home: &Path, owner: &str) -> bool {
    replica_home(home, owner).is_ok_and(|p| p.join("ledger").is_dir())
}

fn proofs_path(home: &Path, owner: &str) -> Result<PathBuf> {
    Ok(replica_home(home, owner)?.join("proofs"))
}

fn read_proofs(home: &Path, owner: &str, shard: &Shard) -> Result<Vec<Proof>> {
    let path = proofs_path(home, owner)?.join(format!("{}.proofs", shard.name()));
    match std::fs::read(&path) {
        Ok(bytes) => Ok(super::proto::decode(&bytes).unwrap_or_default()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io(&path, e)),
    }
}

fn write_proofs(home: &Path, owner: &str, shard: &Shard, proofs: &[Proof]) -> Result<()> {
    let dir = proofs_path(home, owner)?;
    let bytes = super::proto::encode(&proofs).map_err(|e| Error::io(&dir, e))?;
    chunk::write_durable(&dir, &format!("{}.proofs", shard.name()), &bytes).map(|_| ())
}

/// Heads of each shard as of its chunk names, saved so that a restarted
/// daemon need not load every shard to answer its first offer. A stale
/// entry is harmless: its chunk names no longer match.
type HeadsCache = HashMap<(LedgerRef, String), (String, Vec<ChangeHash>)>;

fn read_heads_cache(home: &Path) -> HeadsCache {
    let Ok(bytes) = std::fs::read(home.join("sync").join("heads.cache")) else {
        return HashMap::new();
    };
    let rows: Vec<(LedgerRef, String, String, Vec<[u8; 32]>)> =
        super::proto::decode(&bytes).unwrap_or_default();
    rows.into_iter()
        .map(|(l, s, v, h)| ((l, s), (v, h.into_iter().map(ChangeHash).collect())))
        .collect()
}

fn read_states(home: &Path, peer: &PeerId) -> BTreeMap<String, Vec<u8>> {
    std::fs::read(home.join("sync").join(format!("{peer}.state")))
        .ok()
        .and_then(|b| super::proto::decode(&b).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use libp2p::identity::Keypair;

    use super::*;

    fn now() -> i64 {
        1_795_000_000
    }

    /// A home whose member knows `owner` as a teammate.
    fn setup() -> (tempfile::TempDir, Engine, Keypair) {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path(), "test", now).unwrap();
        (dir, engine, Keypair::generate_ed25519())
    }

    fn signed(owner: &Keypair, shard: &Shard, doc: &mut AutoCommit) -> Proof {
        let mut heads: Vec<[u8; 32]> = doc.get_heads().iter().map(|h| h.0).collect();
        heads.sort();
        let id = owner.public().to_peer_id().to_string();
        let sig = owner.sign(&heads_message(&id, shard, &heads)).unwrap();
        Proof { heads, sig }
    }

    #[test]
    fn the_entities_a_pull_touched_are_named_and_no_others() {
        let (edna, bert, call, note) = (
            "people/y5aaaaaaaaaaaaaa",
            "people/y5bbbbbbbbbbbbbb",
            "interactions/y5cccccccccccccc",
            "notes/y5dddddddddddddd",
        );
        let mut doc = AutoCommit::new();
        let person = doc
            .put_object(automerge::ROOT, edna, automerge::ObjType::Map)
            .unwrap();
        doc.put(&person, "name", "Edna").unwrap();
        let other = doc
            .put_object(automerge::ROOT, bert, automerge::ObjType::Map)
            .unwrap();
        doc.put(&other, "name", "Bert").unwrap();
        doc.put(automerge::ROOT, note, "a note").unwrap();
        doc.commit();
        let before = doc.get_heads();
        // A field inside a person, a new item, a removed item.
        doc.put(&person, "name", "Edna Miggins").unwrap();
        doc.put(automerge::ROOT, call, "a call").unwrap();
        doc.delete(automerge::ROOT, note).unwrap();
        doc.commit();
        let after = doc.get_heads();
        let mut named: Vec<String> = touched(&mut doc, &before, &after)
            .expect("every patch names an entity")
            .into_iter()
            .map(|(kind, id)| crate::store::doc::key_of(kind, &id))
            .collect();
        named.sort();
        let mut want = vec![edna.to_string(), call.to_string(), note.to_string()];
        want.sort();
        assert_eq!(named, want, "Bert was not touched");
        // A root key that names no entity: derive the whole shard.
        doc.put(automerge::ROOT, "not an entity", 1).unwrap();
        doc.commit();
        let now = doc.get_heads();
        assert_eq!(touched(&mut doc, &after, &now), None);
    }

    fn pull(doc: AutoCommit) -> Pull {
        Pull::new(doc, Vec::new(), SyncState::new())
    }

    fn ledger_of(owner: &Keypair) -> LedgerRef {
        LedgerRef {
            owner: owner.public().to_peer_id().to_string(),
            part: PartKind::Shared,
        }
    }

    #[test]
    fn only_changes_under_the_owners_signed_heads_are_kept() {
        let (_dir, engine, alice) = setup();
        let shard = Shard::parse("y5").unwrap();
        let peer = Keypair::generate_ed25519().public().to_peer_id();
        let mut doc = AutoCommit::new();
        doc.put(automerge::ROOT, "people/y5aaaaaaaaaaaaaa", "Edna")
            .unwrap();
        doc.commit();
        let proof = signed(&alice, &shard, &mut doc);

        // Signed by alice: kept.
        let ok = engine
            .pull_finish(
                &peer,
                &ledger_of(&alice),
                &shard,
                pull(doc.fork()),
                vec![proof.clone()],
            )
            .unwrap();
        assert!(ok.is_some());

        // One more change on top, with alice's actor, unsigned: refused.
        let mut forged = doc.fork();
        forged.set_actor(doc.get_changes(&[])[0].actor_id().clone());
        forged
            .put(automerge::ROOT, "people/y5aaaaaaaaaaaaaa", "Forged")
            .unwrap();
        forged.commit();
        let refused = engine.pull_finish(
            &peer,
            &ledger_of(&alice),
            &shard,
            pull(forged.fork()),
            vec![proof.clone()],
        );
        let Err(err) = refused else {
            panic!("a forged change was accepted");
        };
        assert!(err.to_string().contains("not signed by"), "{err}");

        // A proof by someone else over the forged heads does not count.
        let mallory = Keypair::generate_ed25519();
        let mut by_mallory = signed(&mallory, &shard, &mut forged);
        assert!(
            engine
                .pull_finish(
                    &peer,
                    &ledger_of(&alice),
                    &shard,
                    pull(forged.fork()),
                    vec![by_mallory.clone()]
                )
                .is_err()
        );
        // Nor does alice's signature moved onto other heads.
        by_mallory.sig = proof.sig.clone();
        assert!(
            engine
                .pull_finish(
                    &peer,
                    &ledger_of(&alice),
                    &shard,
                    pull(forged),
                    vec![by_mallory]
                )
                .is_err()
        );
    }

    /// Johnny is removed while bob, who has not heard, still relays his
    /// ledger: from then on nothing of johnny's is taken from anyone, even
    /// a batch already checked and waiting to be stored.
    #[test]
    fn a_removed_members_ledger_takes_nothing_more_even_relayed() {
        let (dir, engine, _) = setup();
        let keys = Keys::load_or_create(dir.path()).unwrap();
        let (bob, bob_device) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
        let (johnny, johnny_device) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
        let mut roster = Roster::create(
            &keys.member,
            &keys.device_id(),
            "acme",
            "alice",
            "laptop",
            now(),
        )
        .unwrap();
        let team = roster.team.clone().unwrap();
        for (member, device, name) in [
            (&bob, &bob_device, "bob"),
            (&johnny, &johnny_device, "johnny"),
        ] {
            let admit = Claim::Admit {
                team: team.clone(),
                member: member.public().to_peer_id().to_string(),
                name: name.into(),
                at: now(),
            };
            roster.add(Statement::sign(&keys.member, &admit).unwrap());
            let device = Claim::Device {
                device: device.public().to_peer_id().to_string(),
                name: name.into(),
                at: now(),
            };
            roster.add(Statement::sign(member, &device).unwrap());
        }
        engine.set_roster(roster.clone());
        let relay = bob_device.public().to_peer_id();
        let shard = Shard::parse("y5").unwrap();
        let mut doc = AutoCommit::new();
        doc.put(automerge::ROOT, "people/y5aaaaaaaaaaaaaa", "Later Larry")
            .unwrap();
        doc.commit();
        let proof = signed(&johnny, &shard, &mut doc);
        assert!(engine.may_pull(&relay, &ledger_of(&johnny)));
        let checked = engine
            .pull_finish(&relay, &ledger_of(&johnny), &shard, pull(doc), vec![proof])
            .unwrap()
            .expect("johnny's signed change, relayed by bob");

        let removal = Claim::Remove {
            team,
            member: johnny.public().to_peer_id().to_string(),
            at: now(),
        };
        roster.add(Statement::sign(&keys.member, &removal).unwrap());
        engine.set_roster(roster);
        assert!(!engine.may_pull(&relay, &ledger_of(&johnny)));
        assert!(engine.may_pull(&relay, &ledger_of(&bob)));
        assert_eq!(engine.absorb(vec![checked]).unwrap(), 0);
        let johnny_id = johnny.public().to_peer_id().to_string();
        assert!(!replica_exists(dir.path(), &johnny_id));
    }

    #[test]
    fn a_change_whose_dependencies_are_missing_is_never_stored() {
        let (_dir, engine, alice) = setup();
        let shard = Shard::parse("y5").unwrap();
        let peer = Keypair::generate_ed25519().public().to_peer_id();
        let mut full = AutoCommit::new();
        full.put(automerge::ROOT, "people/y5aaaaaaaaaaaaaa", "Edna")
            .unwrap();
        full.commit();
        let first = full.get_heads();
        full.put(automerge::ROOT, "people/y5aaaaaaaaaaaaaa", "Edna M")
            .unwrap();
        full.commit();
        let proof = signed(&alice, &shard, &mut full);
        // Only the second change arrives: automerge queues it.
        let mut partial = AutoCommit::new();
        partial.load_incremental(&full.save_after(&first)).unwrap();
        assert!(partial.get_heads().is_empty());
        let kept = engine
            .pull_finish(
                &peer,
                &ledger_of(&alice),
                &shard,
                pull(partial),
                vec![proof],
            )
            .unwrap();
        assert!(kept.is_none(), "a dependency-less change was kept");
    }

    #[test]
    fn a_large_answer_is_streamed_in_batches_that_rebuild_the_whole() {
        // Random text does not compress: 40 changes of 100 KB each.
        let mut big = AutoCommit::new();
        for i in 0..40 {
            let text: String = (0..100_000)
                .map(|_| char::from(b'a' + rand::random::<u8>() % 26))
                .collect();
            big.put(automerge::ROOT, format!("k{i}"), text).unwrap();
            big.commit();
        }
        let message = Message {
            heads: big.get_heads(),
            need: Vec::new(),
            have: Vec::new(),
            changes: big
                .get_changes(&[])
                .iter()
                .map(|c| c.raw_bytes().to_vec())
                .collect::<Vec<_>>()
                .into(),
            flags: None,
            version: automerge::sync::MessageVersion::V1,
        };
        let batches = split(message);
        assert!(batches.len() >= 3, "{} batches", batches.len());
        let mut copy = AutoCommit::new();
        for b in batches {
            let encoded = b.encode();
            assert!(encoded.len() < super::super::proto::MAX_RESPONSE);
            let decoded = Message::decode(&encoded).unwrap();
            for c in decoded.changes.iter() {
                copy.load_incremental(c).unwrap();
            }
        }
        assert_eq!(copy.get_heads(), big.get_heads());
    }

    /// A chain of N changes, each on top of the one before, as raw chunks.
    fn chain(n: usize) -> (AutoCommit, Vec<Vec<u8>>) {
        let mut doc = AutoCommit::new();
        for i in 0..n {
            doc.put(automerge::ROOT, "k", i as i64).unwrap();
            doc.commit();
        }
        let raw = doc
            .get_changes(&[])
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        (doc, raw)
    }

    fn answer(heads: Vec<ChangeHash>, changes: Vec<Vec<u8>>) -> Message {
        Message {
            heads,
            need: Vec::new(),
            have: Vec::new(),
            changes: changes.into(),
            flags: None,
            version: automerge::sync::MessageVersion::V1,
        }
    }

    /// Batches of at most BATCH_BYTES, as `split` makes them.
    fn in_batches(changes: Vec<Vec<u8>>) -> Vec<Vec<Vec<u8>>> {
        let mut out: Vec<Vec<Vec<u8>>> = vec![Vec::new()];
        let mut size = 0;
        for c in changes {
            if size + c.len() > BATCH_BYTES && !out.last().unwrap().is_empty() {
                out.push(Vec::new());
                size = 0;
            }
            size += c.len();
            out.last_mut().unwrap().push(c);
        }
        out
    }

    #[test]
    fn changes_whose_dependencies_never_come_are_held_only_up_to_the_limit() {
        let (mut full, raw) = chain(PENDING_CHANGES + 5_001);
        let heads = full.get_heads();
        let mut p = pull(AutoCommit::new());
        let mut held = 0;
        let mut refused = None;
        // The first change never comes.
        for batch in in_batches(raw[1..].to_vec()) {
            let n = batch.len();
            match p.receive(answer(heads.clone(), batch)) {
                Ok(()) => held += n,
                Err(r) => {
                    refused = Some(r);
                    break;
                }
            }
        }
        let Some(Refusal::Abuse(why)) = refused else {
            panic!("{held} changes held waiting and no refusal");
        };
        assert!(why.contains("whose dependencies never came"), "{why}");
        assert!(held <= PENDING_CHANGES, "{held} held before the refusal");
        assert!(p.doc.get_heads().is_empty());
    }

    #[test]
    fn an_honest_history_deeper_than_the_limit_arrives_whole() {
        let (mut full, raw) = chain(PENDING_CHANGES + 5_001);
        let heads = full.get_heads();
        let mut p = pull(AutoCommit::new());
        for batch in in_batches(raw) {
            p.receive(answer(heads.clone(), batch)).unwrap();
        }
        assert_eq!(p.doc.get_heads(), heads);
        // Out of order within limits (a relay's stored chunks come in no
        // particular order): held a moment, then applied.
        let (mut small, raw) = chain(1_000);
        let mut p = pull(AutoCommit::new());
        p.receive(answer(small.get_heads(), raw[500..].to_vec()))
            .unwrap();
        p.receive(answer(small.get_heads(), raw[..500].to_vec()))
            .unwrap();
        assert_eq!(p.doc.get_heads(), small.get_heads());
    }

    #[test]
    fn an_answer_bigger_than_a_batch_is_refused_before_it_is_read() {
        let (mut full, raw) = chain(2);
        let mut big = raw.clone();
        big[0].resize(BATCH_BYTES, 0);
        let mut p = pull(AutoCommit::new());
        let Err(Refusal::Abuse(why)) = p.receive(answer(full.get_heads(), big)) else {
            panic!("an oversized answer was read");
        };
        assert!(why.contains("over the"), "{why}");
        // One chunk bigger than a batch alone is how big changes come.
        let mut p = pull(AutoCommit::new());
        let whole = full.save();
        p.receive(answer(full.get_heads(), vec![whole])).unwrap();
        assert_eq!(p.doc.get_heads(), full.get_heads());
    }

    #[test]
    fn the_same_changes_sent_again_and_again_end_the_pull() {
        let (mut full, raw) = chain(100);
        let heads = full.get_heads();
        let mut p = pull(AutoCommit::new());
        p.receive(answer(heads.clone(), raw.clone())).unwrap();
        for _ in 0..IDLE_ROUNDS {
            p.receive(answer(heads.clone(), raw.clone())).unwrap();
        }
        let Err(Refusal::Abuse(why)) = p.receive(answer(heads.clone(), raw)) else {
            panic!("duplicates were taken without end");
        };
        assert!(why.contains("only changes already here"), "{why}");
        // What came first is intact.
        assert_eq!(p.doc.get_heads(), heads);
    }

    #[test]
    fn chunk_headers_are_counted_without_parsing() {
        let (mut full, raw) = chain(3);
        assert_eq!(queueable(&raw[0]), (1, raw[0].len()));
        assert_eq!(queueable(&raw.concat()).0, 3);
        // A document queues nothing; bytes that are not chunks count.
        assert_eq!(queueable(&full.save()), (0, 0));
        assert_eq!(queueable(&[1u8; 16]), (2, 16));
        // A header claiming more than there is ends at the end.
        let mut cut = raw[0].clone();
        cut.truncate(12);
        assert_eq!(queueable(&cut), (1, 12));
    }

    #[test]
    fn a_first_pull_stores_what_was_checked_and_no_change_still_waiting() {
        let (_dir, engine, alice) = setup();
        let shard = Shard::parse("y5").unwrap();
        let peer = Keypair::generate_ed25519().public().to_peer_id();
        let (mut full, raw) = chain(3);
        let mut first = AutoCommit::new();
        first.load_incremental(&raw[0]).unwrap();
        let proof = signed(&alice, &shard, &mut first);
        // The first change and the third; the second never comes.
        let mut p = pull(AutoCommit::new());
        p.receive(answer(
            full.get_heads(),
            vec![raw[0].clone(), raw[2].clone()],
        ))
        .unwrap();
        let kept = engine
            .pull_finish(&peer, &ledger_of(&alice), &shard, p, vec![proof])
            .unwrap()
            .expect("the first change is signed");
        let mut stored = AutoCommit::new();
        stored.load_incremental(&kept.bytes).unwrap();
        assert_eq!(stored.get_heads(), first.get_heads());
        assert!(
            stored.get_missing_deps(&[]).is_empty(),
            "an orphan was stored"
        );
    }
}
