//! The libp2p node: TCP and QUIC (Noise + Yamux over TCP), an allow list
//! of member devices, connection limits for everyone else, optional mDNS,
//! the team relay (server with `--relay`, client always), DCUtR hole
//! punching, AutoNAT, and the `/kith/sync/1` request-response protocol.
//! One task owns the swarm; sessions and pulls run as their own tasks and
//! talk to it by channel. [`super::reach`] holds the relay's rules.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use automerge::sync::{Message, SyncDoc};
use futures::StreamExt;
use libp2p::allow_block_list::{self, AllowedPeers};
use libp2p::connection_limits::{self, ConnectionLimits};
use libp2p::core::transport::ListenerId;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, autonat, dcutr, identify, mdns, noise, relay, tcp,
    yamux,
};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::engine::{Absorb, Engine, Refusal, Role};
use super::proto::{Codec, JoinRequest, LedgerRef, PROTOCOL, PartKind, Request, Response};
use super::reach::{self, Link};
use crate::error::{Error, Result};
use crate::model::Shard;
use crate::team::{self, TeamDir, Ticket};

/// Pulls run this many shards at once per peer.
const PULLS_IN_FLIGHT: usize = 8;
/// A pull that has not converged after this many rounds is abandoned.
const MAX_ROUNDS: usize = 512;
const REDIAL_EVERY: Duration = Duration::from_secs(2);
/// Redials of a device that keeps failing back off up to this. Waiting
/// long costs little: a device that comes online (or gets a slot on a
/// relay) dials every teammate itself at once.
const REDIAL_AT_MOST: Duration = Duration::from_secs(30);
/// How long a direct connection is up before the relayed ones beside it
/// are closed.
const DIRECT_SETTLES: Duration = Duration::from_secs(2);
/// How long changes are not taken from a peer that sent what no honest
/// peer sends (see `engine::Pull::receive`); doubled each time it does it
/// again, up to [`PENALTY_AT_MOST`]. It stays connected and may still
/// read from us: only what it sends is refused.
const PENALTY_FIRST: Duration = Duration::from_secs(60);
const PENALTY_AT_MOST: Duration = Duration::from_secs(3600);

#[derive(NetworkBehaviour)]
struct Behaviour {
    allow: allow_block_list::Behaviour<AllowedPeers>,
    limits: connection_limits::Behaviour,
    rr: request_response::Behaviour<Codec>,
    mdns: Toggle<mdns::tokio::Behaviour>,
    relay: Toggle<relay::Behaviour>,
    relay_client: relay::client::Behaviour,
    dcutr: dcutr::Behaviour,
    identify: identify::Behaviour,
    autonat: autonat::Behaviour,
}

/// How a node runs.
pub struct NodeConfig {
    pub listen: Vec<Multiaddr>,
    pub peers: Vec<Multiaddr>,
    pub mdns: bool,
    /// Test hook: append every frame received to this file.
    pub record_frames: Option<PathBuf>,
    /// Sync once with every reachable member, then return.
    pub once: bool,
    /// How long a one-shot sync waits for members to answer.
    pub wait: Duration,
    /// Serve as the team's relay, and say so in the roster.
    pub relay: bool,
    /// Where teammates reach this relay, when not where it listens (a
    /// public address in front of a port forward, say).
    pub external: Vec<Multiaddr>,
    /// Relays to hold a slot on besides those the roster names, each
    /// ending in the relay's peer id.
    pub relay_via: Vec<Multiaddr>,
}

impl NodeConfig {
    /// A node that listens on LISTEN and does nothing else by default.
    pub fn new(listen: Vec<Multiaddr>) -> NodeConfig {
        NodeConfig {
            listen,
            peers: Vec::new(),
            mdns: false,
            record_frames: None,
            once: false,
            wait: Duration::MAX,
            relay: false,
            external: Vec::new(),
            relay_via: Vec::new(),
        }
    }
}

/// What a node did, per peer device.
#[derive(Debug, Default, Clone, Serialize)]
pub struct PeerReport {
    pub device: String,
    pub member: Option<String>,
    pub name: Option<String>,
    pub shards_pulled: usize,
    pub shards_stored: usize,
    pub rejected: usize,
    pub synced: bool,
}

#[derive(Debug, Default, Serialize)]
pub struct SyncReport {
    pub listen: Vec<String>,
    pub peers: Vec<PeerReport>,
    pub unreachable: Vec<String>,
}

enum Cmd {
    Request {
        peer: PeerId,
        req: Request,
        tx: oneshot::Sender<std::result::Result<Response, String>>,
    },
    Respond {
        channel: ResponseChannel<Response>,
        resp: Response,
    },
    RosterChanged,
    Announce {
        except: PeerId,
        ledger: LedgerRef,
        shards: Vec<Shard>,
    },
    SessionDone(PeerId),
    Allow(PeerId),
    /// Changes from this peer were stored.
    Synced(PeerId),
}

/// Shared between the swarm task and the session and pull tasks.
struct Ctx {
    engine: Arc<Engine>,
    cmd: mpsc::UnboundedSender<Cmd>,
    in_flight: Mutex<HashSet<(PeerId, LedgerRef, Shard)>>,
    again: Mutex<HashSet<(PeerId, LedgerRef, Shard)>>,
    reports: Mutex<BTreeMap<PeerId, PeerReport>>,
    last_activity: Mutex<Instant>,
    /// Pulls in flight per peer, however many announcements arrive, so a
    /// chatty or hostile peer cannot make us hold unbounded work.
    pull_slots: Mutex<HashMap<PeerId, Arc<tokio::sync::Semaphore>>>,
    /// Peers kept on the allow list until the instant given, whatever the
    /// roster says: a used ticket's key while the join answer leaves. Set
    /// by the answering task itself, before the ticket is marked used, so
    /// no refresh of the allow list can come in between.
    grace: Mutex<HashMap<PeerId, Instant>>,
    /// Peers whose changes are refused until the instant given, and how
    /// many times they were caught.
    penalties: Mutex<HashMap<PeerId, (Instant, u32)>>,
}

impl Ctx {
    /// Refuses PEER's changes for a while, longer each time; logged once
    /// per time, naming the peer and what it did.
    fn penalize(&self, peer: PeerId, shard: &Shard, why: &str) {
        let Ok(mut p) = self.penalties.lock() else {
            return;
        };
        let now = Instant::now();
        let (until, strikes) = p.entry(peer).or_insert((now, 0));
        if *until > now {
            // Caught already, by another pull of the same round.
            return;
        }
        *strikes += 1;
        let long = PENALTY_FIRST
            .saturating_mul(1 << (*strikes - 1).min(16))
            .min(PENALTY_AT_MOST);
        *until = now + long;
        tracing::warn!(
            %peer,
            shard = shard.name(),
            "refusing its changes for {} s: it {why}",
            long.as_secs()
        );
    }

    /// How much longer PEER's changes are refused, if they are.
    fn penalized(&self, peer: &PeerId) -> Option<Duration> {
        let p = self.penalties.lock().ok()?;
        let (until, _) = p.get(peer)?;
        until
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }

    /// Keeps PEER allowed until HOW_LONG from now.
    fn keep_allowed(&self, peer: PeerId, how_long: Duration) {
        if let Ok(mut grace) = self.grace.lock() {
            grace.insert(peer, Instant::now() + how_long);
        }
    }

    async fn request(&self, peer: PeerId, req: Request) -> Result<Response> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Cmd::Request { peer, req, tx })
            .map_err(|_| Error::invalid("node stopped"))?;
        match rx.await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(Error::invalid(format!("{peer}: {e}"))),
            Err(_) => Err(Error::invalid("node stopped")),
        }
    }

    fn touch(&self) {
        if let Ok(mut t) = self.last_activity.lock() {
            *t = Instant::now();
        }
    }

    fn report(&self, peer: PeerId, f: impl FnOnce(&mut PeerReport)) {
        if let Ok(mut r) = self.reports.lock() {
            let entry = r.entry(peer).or_insert_with(|| PeerReport {
                device: peer.to_string(),
                ..PeerReport::default()
            });
            f(entry);
        }
    }
}

fn build_swarm(
    key: libp2p::identity::Keypair,
    mdns_on: bool,
    relay_on: bool,
    codec: Codec,
) -> Result<Swarm<Behaviour>> {
    // Per peer: a relayed connection, the direct one DCUtR makes beside
    // it, and a simultaneous dial from each side.
    let limits = ConnectionLimits::default()
        .with_max_pending_incoming(Some(16))
        .with_max_pending_outgoing(Some(64))
        .with_max_established_incoming(Some(256))
        .with_max_established_per_peer(Some(4));
    let swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| Error::invalid(format!("cannot set up TCP: {e}")))?
        .with_quic()
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .map_err(|e| Error::invalid(format!("cannot set up the relay client: {e}")))?
        .with_behaviour(|key, relay_client| {
            let me = key.public().to_peer_id();
            let mdns = if mdns_on {
                Some(mdns::tokio::Behaviour::new(
                    mdns::Config::default(),
                    key.public().to_peer_id(),
                )?)
            } else {
                None
            };
            Ok(Behaviour {
                allow: allow_block_list::Behaviour::default(),
                limits: connection_limits::Behaviour::new(limits),
                rr: request_response::Behaviour::with_codec(
                    codec,
                    [(StreamProtocol::new(PROTOCOL), ProtocolSupport::Full)],
                    request_response::Config::default()
                        .with_request_timeout(Duration::from_secs(60)),
                ),
                mdns: Toggle::from(mdns),
                relay: Toggle::from(
                    relay_on.then(|| relay::Behaviour::new(me, reach::relay_config())),
                ),
                relay_client,
                dcutr: dcutr::Behaviour::new(me),
                identify: identify::Behaviour::new(
                    identify::Config::new("/kith/1".into(), key.public())
                        .with_push_listen_addr_updates(true),
                ),
                autonat: autonat::Behaviour::new(me, reach::autonat_config()),
            })
        })
        .map_err(|e| Error::invalid(format!("cannot start the network: {e}")))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(24 * 3600)))
        .build();
    Ok(swarm)
}

/// Runs a node until `shutdown` resolves (a daemon) or, with `once`, until
/// every reachable member has been synced with.
pub async fn run(
    engine: Arc<Engine>,
    config: NodeConfig,
    shutdown: impl std::future::Future<Output = ()>,
    on_listen: impl Fn(&Multiaddr),
) -> Result<SyncReport> {
    let codec = Codec::recording(config.record_frames.clone())
        .map_err(|e| Error::io("frame recorder", e))?;
    let mut swarm = build_swarm(engine.keys.device.clone(), config.mdns, config.relay, codec)?;
    let mut listeners = HashSet::new();
    for addr in &config.listen {
        listeners.insert(
            swarm
                .listen_on(addr.clone())
                .map_err(|e| Error::invalid(format!("cannot listen on {addr}: {e}")))?,
        );
    }
    let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel();
    let ctx = Arc::new(Ctx {
        engine: engine.clone(),
        cmd: cmd_tx,
        in_flight: Mutex::new(HashSet::new()),
        again: Mutex::new(HashSet::new()),
        reports: Mutex::new(BTreeMap::new()),
        last_activity: Mutex::new(Instant::now()),
        pull_slots: Mutex::new(HashMap::new()),
        penalties: Mutex::new(HashMap::new()),
        grace: Mutex::new(HashMap::new()),
    });
    let mut node = Node {
        swarm,
        ctx: ctx.clone(),
        pending: HashMap::new(),
        allowed: HashSet::new(),
        connected: HashSet::new(),
        sessions: HashSet::new(),
        done: HashSet::new(),
        listen: Vec::new(),
        extra_peers: config.peers.clone(),
        last_dial: HashMap::new(),
        generation: Vec::new(),
        versions: HashMap::new(),
        team_print: TeamDir::new(engine.home()).fingerprint(),
        book_dirty: false,
        slow_ticks: 0,
        links: HashMap::new(),
        slots: HashMap::new(),
        slot_tries: HashMap::new(),
        relayed_listen: Vec::new(),
        nat: "unknown",
        relay_mode: config.relay,
        external: config.external.clone(),
        relay_via: config.relay_via.clone(),
        announced: Vec::new(),
        failures: HashMap::new(),
        resync: HashSet::new(),
        direct_since: HashMap::new(),
        listeners,
        announce_rate: HashMap::new(),
        started: Instant::now(),
        reaching_out: false,
    };
    node.refresh_allowed();
    node.versions = node.own_versions();
    node.generation = engine_store_generation(&engine);
    node.reach_out();
    let started = Instant::now();
    // A write to the own ledger replaces `ledger/generation`, and the
    // roster lives in `team/`: the daemon wakes on those (inotify), so an
    // edit leaves at once and an idle daemon does nothing. The 50 ms tick
    // runs only until the first dials went out, or for good where the
    // system gives no watcher; the 1 s tick looks again anyway, in case a
    // change came before a directory was watched.
    let home = engine.home().to_path_buf();
    let watched = [home.join("ledger"), home.join("team")];
    let mut watch = crate::watch::DirWatch::new();
    for dir in &watched {
        watch.watch(dir);
    }
    let wake = watch.wake();
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let mut slow = tokio::time::interval(Duration::from_secs(1));
    tokio::pin!(shutdown);
    loop {
        let poll = !watch.is_live() || !node.reaching_out;
        tokio::select! {
            event = node.swarm.select_next_some() => node.on_event(event, &on_listen),
            Some(cmd) = cmd_rx.recv() => node.on_cmd(cmd),
            _ = wake.notified() => node.on_tick(),
            _ = tick.tick(), if poll => node.on_tick(),
            _ = slow.tick() => {
                for dir in &watched {
                    watch.watch(dir);
                }
                node.on_tick();
                node.on_slow_tick();
                if config.once && node.finished(started, config.wait) {
                    break;
                }
            }
            _ = &mut shutdown => break,
        }
    }
    let _ = engine.flush_states();
    node.save_book();
    let reports = ctx.reports.lock().map(|r| r.clone()).unwrap_or_default();
    let roster = engine.roster();
    let mut report = SyncReport {
        listen: node.listen.iter().map(|a| a.to_string()).collect(),
        ..SyncReport::default()
    };
    for (peer, mut r) in reports {
        if let Some(m) = roster.current_member_of(&peer) {
            r.member = Some(m.id);
            r.name = Some(m.name);
        }
        r.synced = node.done.contains(&peer);
        report.peers.push(r);
    }
    let me = engine.me();
    for m in roster.members() {
        if m.id == me || m.removed.is_some() {
            continue;
        }
        let reached = m
            .devices
            .iter()
            .any(|d| d.id.parse().is_ok_and(|p: PeerId| node.done.contains(&p)));
        if !reached {
            report.unreachable.push(m.name.clone());
        }
    }
    Ok(report)
}

fn engine_store_generation(engine: &Engine) -> Vec<u8> {
    crate::store::Store::open(&engine.home().join("ledger"), [0; 8])
        .map(|s| s.generation())
        .unwrap_or_default()
}

struct Node {
    swarm: Swarm<Behaviour>,
    ctx: Arc<Ctx>,
    pending: HashMap<OutboundRequestId, oneshot::Sender<std::result::Result<Response, String>>>,
    allowed: HashSet<PeerId>,
    connected: HashSet<PeerId>,
    sessions: HashSet<PeerId>,
    done: HashSet<PeerId>,
    listen: Vec<Multiaddr>,
    extra_peers: Vec<Multiaddr>,
    last_dial: HashMap<String, Instant>,
    generation: Vec<u8>,
    versions: HashMap<(PartKind, Shard), String>,
    team_print: Vec<(u64, i128)>,
    book_dirty: bool,
    slow_ticks: u64,
    /// Every open connection of every peer, and how it reaches them.
    links: HashMap<PeerId, HashMap<ConnectionId, Link>>,
    /// Slots held (or being asked for) on relays: the listener per relay,
    /// and whether the relay has accepted.
    slots: HashMap<PeerId, (ListenerId, bool)>,
    /// When a slot was last asked for per relay, and how many times in a
    /// row it failed (which address is tried next).
    slot_tries: HashMap<PeerId, (Instant, usize)>,
    /// Our `/p2p-circuit` addresses: where teammates reach us through a
    /// relay.
    relayed_listen: Vec<Multiaddr>,
    /// AutoNAT's verdict: "public", "private" or "unknown".
    nat: &'static str,
    relay_mode: bool,
    external: Vec<Multiaddr>,
    relay_via: Vec<Multiaddr>,
    /// The addresses our relay statement names, once signed.
    announced: Vec<Multiaddr>,
    /// Failed dials in a row per device, for backing off.
    failures: HashMap<PeerId, u32>,
    /// Peers to start a session with again once the current one ends: a
    /// relayed connection was closed under it.
    resync: HashSet<PeerId>,
    /// When each peer's first direct connection came up: its relayed ones
    /// are closed a little later (see `on_slow_tick`).
    direct_since: HashMap<PeerId, Instant>,
    /// Our listeners that have not yet said where they listen.
    listeners: HashSet<ListenerId>,
    started: Instant,
    /// Whether the first round of dials (and slot requests) went out.
    reaching_out: bool,
    /// Offers and change announcements answered per peer in the current
    /// second, and whether the excess was logged (once per peer).
    announce_rate: HashMap<PeerId, (Instant, u32, bool)>,
}

/// How long replicas must have had no change stored before the daemon
/// brings the team index up to date (see `Engine::team_index_due`).
const TEAM_INDEX_QUIET: Duration = Duration::from_secs(2);

/// Offers and change announcements answered per peer per second; more are
/// dropped unanswered. An honest peer sends one per session and one per
/// edit; each costs us a look at every shard.
const ANNOUNCES_PER_SEC: u32 = 100;

impl Node {
    fn engine(&self) -> &Engine {
        &self.ctx.engine
    }

    /// Brings the allow list in line with the roster and open tickets, and
    /// drops connections of devices no longer on it.
    fn refresh_allowed(&mut self) {
        let mut now: HashSet<PeerId> = self.engine().allowed().into_iter().collect();
        // A relay named with --relay-via carries our connections; it is
        // let through the allow list, but as no member (`Role::Stranger`)
        // it is never synced with.
        now.extend(self.relay_via.iter().filter_map(peer_of));
        if let Ok(mut grace) = self.ctx.grace.lock() {
            grace.retain(|_, until| *until > Instant::now());
            now.extend(grace.keys().copied());
        }
        for gone in self.allowed.difference(&now).copied().collect::<Vec<_>>() {
            self.swarm.behaviour_mut().allow.disallow_peer(gone);
            tracing::info!(peer = %gone, "no longer allowed; disconnecting");
            let _ = self.swarm.disconnect_peer_id(gone);
        }
        for new in now.difference(&self.allowed).copied().collect::<Vec<_>>() {
            self.swarm.behaviour_mut().allow.allow_peer(new);
        }
        self.allowed = now;
    }

    /// Dials every allowed device not connected, at every address known
    /// for it (remembered, from --peer), in one dial per device: libp2p
    /// refuses a second dial to a peer while one is in progress.
    fn dial_known(&mut self, force: bool) {
        let book = TeamDir::new(self.engine().home())
            .peers()
            .unwrap_or_default();
        let mut by_peer: BTreeMap<PeerId, Vec<Multiaddr>> = BTreeMap::new();
        let mut anonymous: Vec<Multiaddr> = Vec::new();
        for addr in &self.extra_peers {
            match addr.iter().find_map(|p| match p {
                libp2p::multiaddr::Protocol::P2p(id) => Some(id),
                _ => None,
            }) {
                Some(peer) => by_peer.entry(peer).or_default().push(addr.clone()),
                None => anonymous.push(addr.clone()),
            }
        }
        for (device, rec) in &book.devices {
            let Ok(peer) = device.parse::<PeerId>() else {
                continue;
            };
            for a in &rec.addrs {
                if let Ok(addr) = a.parse::<Multiaddr>() {
                    by_peer
                        .entry(peer)
                        .or_default()
                        .push(team::with_peer(addr, peer));
                }
            }
        }
        // Every member device, also through each relay we know, so a
        // teammate behind a NAT is reached at its slot there.
        let relays = self.relays();
        let me = self.engine().keys.device_id();
        for m in self.engine().roster().members() {
            if m.removed.is_some() {
                continue;
            }
            for d in &m.devices {
                let Ok(peer) = d.id.parse::<PeerId>() else {
                    continue;
                };
                for (relay, addrs) in &relays {
                    if *relay == peer || peer == me {
                        continue;
                    }
                    if let Some(at) = self.relay_addr(relay, addrs) {
                        by_peer
                            .entry(peer)
                            .or_default()
                            .push(reach::through(&at, peer));
                    }
                }
            }
        }
        let due = |last: Option<&Instant>, failures: u32| {
            let wait = REDIAL_EVERY
                .saturating_mul(1 << failures.min(8))
                .min(REDIAL_AT_MOST);
            force || last.is_none_or(|t| t.elapsed() >= wait)
        };
        for (peer, addrs) in by_peer {
            // A relay we are asking for a slot is being dialed by the relay
            // client: a dial of ours now would make its dial fail (libp2p
            // dials a peer once at a time), and the slot with it.
            if !self.allowed.contains(&peer)
                || self.connected.contains(&peer)
                || self.slots.contains_key(&peer)
            {
                continue;
            }
            let key = peer.to_string();
            let failures = self.failures.get(&peer).copied().unwrap_or(0);
            if !due(self.last_dial.get(&key), failures) {
                continue;
            }
            self.last_dial.insert(key, Instant::now());
            if let Err(e) = self
                .swarm
                .dial(DialOpts::peer_id(peer).addresses(addrs).build())
            {
                tracing::debug!(%peer, "dial: {e}");
            }
        }
        // Addresses without a peer id: only while no one is connected.
        for addr in anonymous {
            let key = addr.to_string();
            if (!self.connected.is_empty() && !force) || !due(self.last_dial.get(&key), 0) {
                continue;
            }
            self.last_dial.insert(key, Instant::now());
            if let Err(e) = self
                .swarm
                .dial(DialOpts::unknown_peer_id().address(addr.clone()).build())
            {
                tracing::debug!(%addr, "dial: {e}");
            }
        }
    }

    fn remember(&mut self, peer: PeerId, addr: &Multiaddr) {
        // A relayed address is rebuilt from the roster's relays each time.
        if reach::is_relayed(addr) {
            return;
        }
        let dir = TeamDir::new(self.engine().home());
        let Ok(lock) = dir.lock() else { return };
        let mut book = dir.peers().unwrap_or_default();
        let plain: Multiaddr = addr
            .iter()
            .filter(|p| !matches!(p, libp2p::multiaddr::Protocol::P2p(_)))
            .collect();
        let rec = book.devices.entry(peer.to_string()).or_default();
        if rec.addrs.insert(plain.to_string()) {
            let _ = dir.save_peers(&book, &lock);
        }
    }

    fn save_book(&mut self) {
        let reports = self
            .ctx
            .reports
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default();
        let dir = TeamDir::new(self.engine().home());
        let Ok(lock) = dir.lock() else { return };
        let mut book = dir.peers().unwrap_or_default();
        let now = self.engine().now();
        for peer in &self.done {
            let rec = book.devices.entry(peer.to_string()).or_default();
            rec.last_synced = Some(now);
        }
        for peer in &self.connected {
            book.devices.entry(peer.to_string()).or_default().last_seen = Some(now);
        }
        let _ = reports;
        let _ = dir.save_peers(&book, &lock);
        self.book_dirty = false;
        self.write_status();
    }

    fn write_status(&self) {
        let links: BTreeMap<String, serde_json::Value> = self
            .connected
            .iter()
            .filter_map(|p| {
                let link = match self.link(p)? {
                    Link::Direct => serde_json::json!({"link": "direct"}),
                    Link::Relayed(via) => {
                        serde_json::json!({"link": "relayed", "via": via.to_string()})
                    }
                };
                Some((p.to_string(), link))
            })
            .collect();
        let status = serde_json::json!({
            "pid": std::process::id(),
            "listen": self.listen.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "relayed": self.relayed_listen.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "connected": self.connected.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            "links": links,
            "nat": self.nat,
            "relay": self.relay_mode,
            "device": self.engine().keys.device_id().to_string(),
        });
        let dir = TeamDir::new(self.engine().home());
        let bytes = serde_json::to_vec_pretty(&status).unwrap_or_default();
        let _ = crate::store::chunk::write_durable(dir.path(), "daemon.json", &bytes);
    }

    fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>, on_listen: &impl Fn(&Multiaddr)) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } if reach::is_relayed(&address) => {
                tracing::info!(%address, "reachable through the relay");
                if !self.relayed_listen.contains(&address) {
                    self.relayed_listen.push(address);
                }
                self.write_status();
            }
            SwarmEvent::NewListenAddr {
                address,
                listener_id,
            } => {
                // The status file first: whoever reads the line may
                // immediately ask for a ticket, which reads the file.
                self.listen.push(address.clone());
                self.write_status();
                on_listen(&address);
                self.listeners.remove(&listener_id);
                self.reach_out();
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } => self.slot_closed(listener_id, reason.err().map(|e| e.to_string())),
            SwarmEvent::ListenerError { listener_id, error } => {
                self.slot_closed(listener_id, Some(error.to_string()))
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                if !self.allowed.contains(&peer_id) {
                    // The allow list should have stopped it; belt and braces.
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    return;
                }
                let link = Link::of(&endpoint);
                tracing::debug!(peer = %peer_id, ?link, "connected");
                if endpoint.is_dialer() {
                    self.remember(peer_id, endpoint.get_remote_address());
                }
                self.failures.remove(&peer_id);
                self.links
                    .entry(peer_id)
                    .or_default()
                    .insert(connection_id, link);
                if link == Link::Direct {
                    self.direct_since
                        .entry(peer_id)
                        .or_insert_with(Instant::now);
                }
                self.connected.insert(peer_id);
                if num_established.get() == 1 {
                    self.start_session(peer_id);
                }
                self.write_status();
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                cause,
                ..
            } => {
                if let Some(links) = self.links.get_mut(&peer_id) {
                    links.remove(&connection_id);
                    if links.is_empty() {
                        self.links.remove(&peer_id);
                    }
                }
                if self.link(&peer_id) != Some(Link::Direct) {
                    self.direct_since.remove(&peer_id);
                }
                if num_established == 0 {
                    tracing::debug!(peer = %peer_id, ?cause, "disconnected");
                    self.connected.remove(&peer_id);
                    self.sessions.remove(&peer_id);
                }
                self.write_status();
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                error,
                ..
            } => {
                tracing::debug!(%peer, "dial failed: {error}");
                *self.failures.entry(peer).or_default() += 1;
            }
            SwarmEvent::Behaviour(BehaviourEvent::Relay(ev)) => self.on_relay_event(ev),
            SwarmEvent::Behaviour(BehaviourEvent::RelayClient(ev)) => {
                self.on_relay_client_event(ev)
            }
            SwarmEvent::Behaviour(BehaviourEvent::Dcutr(dcutr::Event {
                remote_peer_id,
                result,
            })) => match result {
                Ok(_) => tracing::info!(peer = %remote_peer_id, "hole punched: direct connection"),
                Err(e) => tracing::info!(peer = %remote_peer_id, "no hole punched: {e}"),
            },
            SwarmEvent::Behaviour(BehaviourEvent::Autonat(ev)) => self.on_autonat_event(ev),
            SwarmEvent::Behaviour(BehaviourEvent::Rr(ev)) => self.on_rr(ev),
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(found))) => {
                for (peer, addr) in found {
                    if self.allowed.contains(&peer) && !self.connected.contains(&peer) {
                        tracing::info!(%peer, %addr, "found on the LAN");
                        self.remember(peer, &addr);
                        let _ = self
                            .swarm
                            .dial(DialOpts::peer_id(peer).addresses(vec![addr]).build());
                    }
                }
            }
            SwarmEvent::IncomingConnectionError {
                error: libp2p::swarm::ListenError::Denied { .. },
                peer_id: Some(peer),
                send_back_addr,
                ..
            } => {
                tracing::warn!(%peer, from = %send_back_addr, "refused a connection: not on the team's roster");
            }
            SwarmEvent::IncomingConnectionError { error, .. } => {
                tracing::debug!("incoming connection refused: {error}");
            }
            _ => {}
        }
    }

    fn start_session(&mut self, peer: PeerId) {
        match self.engine().role(&peer) {
            Role::Own | Role::Member(_) => {}
            _ => return,
        }
        if !self.sessions.insert(peer) {
            return;
        }
        let ctx = self.ctx.clone();
        tokio::spawn(async move {
            if let Err(e) = session(&ctx, peer).await {
                tracing::warn!(%peer, "sync session: {e}");
            }
            let _ = ctx.cmd.send(Cmd::SessionDone(peer));
        });
    }

    fn on_rr(&mut self, ev: request_response::Event<Request, Response>) {
        use request_response::{Event, Message as M};
        match ev {
            Event::Message {
                peer,
                message:
                    M::Request {
                        request: Request::Malformed(reason),
                        ..
                    },
                ..
            } => {
                // A malformed or oversized message: drop that peer's
                // connection, keep serving everyone else.
                tracing::warn!(%peer, "dropping the connection: {reason}");
                let _ = self.swarm.disconnect_peer_id(peer);
            }
            Event::Message {
                peer,
                message: M::Request {
                    request, channel, ..
                },
                ..
            } => {
                if matches!(request, Request::Offer | Request::Changed(_))
                    && !self.announce_allowed(peer)
                {
                    // Dropped unanswered: the channel goes with it.
                    return;
                }
                self.ctx.touch();
                let ctx = self.ctx.clone();
                tokio::spawn(async move {
                    let resp = answer(&ctx, peer, request).await;
                    let _ = ctx.cmd.send(Cmd::Respond { channel, resp });
                });
            }
            Event::Message {
                message:
                    M::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                self.ctx.touch();
                if let Some(tx) = self.pending.remove(&request_id) {
                    let _ = tx.send(Ok(response));
                }
            }
            Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                tracing::debug!(%peer, "request failed: {error}");
                if let request_response::OutboundFailure::Io(e) = &error
                    && e.kind() == std::io::ErrorKind::InvalidData
                {
                    tracing::warn!(%peer, "dropping the connection: {e}");
                    let _ = self.swarm.disconnect_peer_id(peer);
                }
                if let Some(tx) = self.pending.remove(&request_id) {
                    let _ = tx.send(Err(error.to_string()));
                }
            }
            Event::InboundFailure { peer, error, .. } => {
                // A malformed or oversized message: drop that peer's
                // session, keep serving everyone else.
                if matches!(error, request_response::InboundFailure::ResponseOmission) {
                    // A request we chose not to answer (over the rate).
                    tracing::debug!(%peer, "request left unanswered");
                } else if matches!(error, request_response::InboundFailure::ConnectionClosed) {
                    // The connection it came on is gone (a relayed one
                    // closed once a direct one is up): the peer did
                    // nothing wrong, and its other connections stay.
                    tracing::debug!(%peer, "a request's connection closed before the answer");
                } else {
                    tracing::warn!(%peer, "dropping the connection: {error}");
                    let _ = self.swarm.disconnect_peer_id(peer);
                }
            }
            _ => {}
        }
    }

    /// Counts an offer or announcement from PEER; false once it is over
    /// [`ANNOUNCES_PER_SEC`] in the current second (logged once per peer).
    fn announce_allowed(&mut self, peer: PeerId) -> bool {
        let now = Instant::now();
        let (since, count, warned) = self.announce_rate.entry(peer).or_insert((now, 0, false));
        if now.duration_since(*since) >= Duration::from_secs(1) {
            *since = now;
            *count = 0;
        }
        *count += 1;
        if *count <= ANNOUNCES_PER_SEC {
            return true;
        }
        if !*warned {
            *warned = true;
            tracing::warn!(
                %peer,
                "more than {ANNOUNCES_PER_SEC} offers and announcements a second: dropping the excess"
            );
        }
        false
    }

    fn on_cmd(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Request { peer, req, tx } => {
                let id = self.swarm.behaviour_mut().rr.send_request(&peer, req);
                self.pending.insert(id, tx);
            }
            Cmd::Respond { channel, resp } => {
                let _ = self.swarm.behaviour_mut().rr.send_response(channel, resp);
            }
            Cmd::RosterChanged => {
                self.refresh_allowed();
                self.team_print = TeamDir::new(self.engine().home()).fingerprint();
                // Pass the news on, so removals spread without the creator.
                let statements = self.engine().roster().statements;
                for peer in self.connected.clone() {
                    let ctx = self.ctx.clone();
                    let req = Request::Roster(statements.clone());
                    tokio::spawn(async move {
                        let _ = ctx.request(peer, req).await;
                    });
                }
            }
            Cmd::Announce {
                except,
                ledger,
                shards,
            } => self.announce(Some(except), &ledger, &shards),
            Cmd::Allow(peer) => {
                self.swarm.behaviour_mut().allow.allow_peer(peer);
                self.allowed.insert(peer);
            }
            Cmd::SessionDone(peer) => {
                self.done.insert(peer);
                self.sessions.remove(&peer);
                self.save_book();
            }
            Cmd::Synced(peer) => {
                if self.done.contains(&peer) {
                    self.book_dirty = true;
                }
            }
        }
    }

    /// Tells connected peers which shards changed, so they pull them now.
    fn announce(&mut self, except: Option<PeerId>, ledger: &LedgerRef, shards: &[Shard]) {
        for peer in self.connected.clone() {
            if Some(peer) == except || !self.ctx.engine.servable(&peer).contains(ledger) {
                continue;
            }
            let own = self.ctx.engine.own_device(&peer);
            let Ok(digest) = self.ctx.engine.digest_of(ledger, shards, own.as_ref()) else {
                continue;
            };
            let ctx = self.ctx.clone();
            tokio::spawn(async move {
                let _ = ctx.request(peer, Request::Changed(vec![digest])).await;
            });
        }
    }

    fn own_versions(&self) -> HashMap<(PartKind, Shard), String> {
        let mut out = HashMap::new();
        let Ok(store) = crate::store::Store::open(&self.engine().home().join("ledger"), [0; 8])
        else {
            return out;
        };
        for shard in store.shards().unwrap_or_default() {
            if let Ok(v) = store.part_version::<crate::store::Shared>(&shard) {
                out.insert((PartKind::Shared, shard.clone()), v);
            }
            if let Ok(v) = store.part_version::<crate::store::Private>(&shard) {
                out.insert((PartKind::Private, shard), v);
            }
        }
        out
    }

    /// The first dials and slot requests, once every listener is up (or
    /// after a second at most): a dial made earlier would leave from a
    /// port of its own, and the address teammates and relays observe
    /// (which hole punching uses) would not be one we listen on.
    fn reach_out(&mut self) {
        if self.reaching_out
            || (!self.listeners.is_empty() && self.started.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        self.reaching_out = true;
        self.announce_relay();
        self.ensure_slots();
        self.dial_known(true);
    }

    fn on_tick(&mut self) {
        self.reach_out();
        let generation = engine_store_generation(self.engine());
        if generation != self.generation {
            self.generation = generation;
            let now = self.own_versions();
            let mut changed: BTreeMap<PartKind, Vec<Shard>> = BTreeMap::new();
            for (key, v) in &now {
                if self.versions.get(key) != Some(v) {
                    changed.entry(key.0).or_default().push(key.1.clone());
                }
            }
            self.versions = now;
            tracing::debug!(
                shards = changed.values().map(Vec::len).sum::<usize>(),
                "own ledger changed"
            );
            let me = self.engine().me();
            for (part, shards) in changed {
                let ledger = LedgerRef {
                    owner: me.clone(),
                    part,
                };
                self.announce(None, &ledger, &shards);
            }
        }
        let print = TeamDir::new(self.engine().home()).fingerprint();
        if print != self.team_print {
            self.team_print = print;
            if let Err(e) = self.ctx.engine.reload_roster() {
                tracing::warn!("team roster: {e}");
            }
            let _ = self.ctx.cmd.send(Cmd::RosterChanged);
        }
    }

    fn on_slow_tick(&mut self) {
        self.refresh_allowed();
        if self.reaching_out {
            self.announce_relay();
            self.ensure_slots();
            self.dial_known(false);
        }
        // Relayed connections are closed once a direct one has been up for
        // a moment, not at once: hole punching is still talking over the
        // relayed connection when the direct one appears, and closing it
        // then made libp2p drop the new direct connection too.
        let settled: Vec<PeerId> = self
            .direct_since
            .iter()
            .filter(|(_, t)| t.elapsed() >= DIRECT_SETTLES)
            .map(|(p, _)| *p)
            .collect();
        for peer in settled {
            self.direct_since.remove(&peer);
            if self.link(&peer) == Some(Link::Direct) {
                self.drop_relayed(peer);
            }
        }
        for peer in std::mem::take(&mut self.resync) {
            if self.sessions.contains(&peer) {
                self.resync.insert(peer);
            } else if self.connected.contains(&peer) {
                self.start_session(peer);
            }
        }
        // Anti-entropy: every 10 s, compare offers again with every
        // connected peer, so a pull that failed (a timeout, a roster not
        // yet passed on) is retried without waiting for the next edit.
        self.slow_ticks += 1;
        if self.slow_ticks.is_multiple_of(10) {
            for peer in self.connected.clone() {
                self.start_session(peer);
            }
        }
        if let Err(e) = self.ctx.engine.flush_states() {
            tracing::warn!("saving sync state: {e}");
        }
        if self.ctx.engine.close_idle_ledgers(LEDGER_IDLE) > 0 {
            release_freed_memory();
        }
        if self.ctx.engine.team_index_due(TEAM_INDEX_QUIET) {
            let engine = self.ctx.engine.clone();
            tokio::task::spawn_blocking(move || {
                if let Err(e) = engine.refresh_team_index() {
                    tracing::warn!("bringing the team index up to date: {e}");
                }
            });
        }
        if self.book_dirty {
            self.save_book();
        }
    }

    /// A one-shot sync is done when every connected member was synced with
    /// and no one has asked anything for a moment, or when time is up.
    fn finished(&self, started: Instant, wait: Duration) -> bool {
        let quiet = self
            .ctx
            .last_activity
            .lock()
            .map(|t| t.elapsed() > Duration::from_millis(800))
            .unwrap_or(true);
        let members: Vec<PeerId> = self
            .allowed
            .iter()
            .copied()
            .filter(|p| matches!(self.engine().role(p), Role::Own | Role::Member(_)))
            .collect();
        let all_done =
            !self.done.is_empty() && self.connected.iter().all(|p| self.done.contains(p));
        let everyone = members.iter().all(|p| self.done.contains(p));
        (all_done && quiet && (everyone || started.elapsed() > Duration::from_secs(3)))
            || started.elapsed() > wait
    }
}

/// The peer id an address ends in.
fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    match addr.iter().last() {
        Some(libp2p::multiaddr::Protocol::P2p(id)) => Some(id),
        _ => None,
    }
}

/// The team relay, both sides of it.
impl Node {
    /// Relays to use, with their addresses: those the roster names (not
    /// this device), those the ticket named, and those given with
    /// `--relay-via`.
    fn relays(&self) -> BTreeMap<PeerId, Vec<Multiaddr>> {
        let me = self.engine().keys.device_id();
        let mut out: BTreeMap<PeerId, Vec<Multiaddr>> = BTreeMap::new();
        let from_roster = self
            .engine()
            .roster()
            .relays()
            .into_iter()
            .flat_map(|r| r.dial_addrs());
        let from_ticket = TeamDir::new(self.engine().home())
            .peers()
            .unwrap_or_default()
            .relays
            .into_iter()
            .filter_map(|a| a.parse::<Multiaddr>().ok());
        for addr in from_roster
            .chain(from_ticket)
            .chain(self.relay_via.iter().cloned())
        {
            if let Some(peer) = peer_of(&addr)
                && peer != me
                && self.allowed.contains(&peer)
            {
                let addrs = out.entry(peer).or_default();
                if !addrs.contains(&addr) {
                    addrs.push(addr);
                }
            }
        }
        for addrs in out.values_mut() {
            reach::quic_first(addrs);
        }
        out
    }

    /// Which of a relay's addresses to use: the one tried last for a slot
    /// (the one that works, once a slot is held).
    fn relay_addr(&self, relay: &PeerId, addrs: &[Multiaddr]) -> Option<Multiaddr> {
        if addrs.is_empty() {
            return None;
        }
        let tries = self.slot_tries.get(relay).map(|t| t.1).unwrap_or(0);
        addrs.get(tries.saturating_sub(1) % addrs.len()).cloned()
    }

    /// Holds a slot on every relay: asks again for any slot lost, at most
    /// every few seconds per relay, trying the relay's next address after
    /// a failure.
    fn ensure_slots(&mut self) {
        for (relay, addrs) in self.relays() {
            if self.slots.contains_key(&relay) {
                continue;
            }
            let (last, tries) = self
                .slot_tries
                .get(&relay)
                .copied()
                .unwrap_or((Instant::now() - REDIAL_AT_MOST, 0));
            let wait = REDIAL_EVERY
                .saturating_mul(1 << tries.saturating_sub(1).min(8) as u32)
                .min(REDIAL_AT_MOST);
            if tries > 0 && last.elapsed() < wait {
                continue;
            }
            let at = &addrs[tries % addrs.len()];
            self.slot_tries.insert(relay, (Instant::now(), tries + 1));
            match self.swarm.listen_on(reach::slot_on(at)) {
                Ok(id) => {
                    tracing::debug!(%relay, %at, "asking for a slot on the relay");
                    self.slots.insert(relay, (id, false));
                }
                Err(e) => tracing::warn!(%relay, %at, "reservation failed: {e}"),
            }
        }
        // Slots on relays no longer named (a relay withdrawn, a member
        // removed) are given up.
        let named = self.relays();
        for relay in self.slots.keys().copied().collect::<Vec<_>>() {
            if !named.contains_key(&relay)
                && let Some((id, _)) = self.slots.remove(&relay)
            {
                self.swarm.remove_listener(id);
            }
        }
    }

    /// A relay's listener ended: the slot is gone (the relay stopped, or
    /// refused us).
    fn slot_closed(&mut self, listener: ListenerId, why: Option<String>) {
        let Some(relay) = self
            .slots
            .iter()
            .find(|(_, (id, _))| *id == listener)
            .map(|(r, _)| *r)
        else {
            return;
        };
        let held = self.slots.remove(&relay).is_some_and(|s| s.1);
        self.relayed_listen
            .retain(|a| reach::relay_of(a) != Some(relay));
        match why {
            Some(e) if !held => tracing::warn!(%relay, "reservation failed: {e}"),
            Some(e) => tracing::info!(%relay, "slot on the relay lost: {e}"),
            None => tracing::info!(%relay, "slot on the relay closed"),
        }
        self.write_status();
    }

    /// A relay says where it is reached: the addresses given with
    /// `--external`, or else those it listens on that others can reach.
    /// Signed into the roster (so every member learns it from any
    /// teammate) when they change, and made the swarm's external
    /// addresses, which the relay hands out with each reservation.
    fn announce_relay(&mut self) {
        if !self.relay_mode {
            return;
        }
        let addrs: Vec<Multiaddr> = if self.external.is_empty() {
            self.listen
                .iter()
                .filter(|a| reach::announceable(a))
                .cloned()
                .collect()
        } else {
            self.external.clone()
        };
        if addrs.is_empty() || addrs == self.announced {
            return;
        }
        for a in &addrs {
            self.swarm.add_external_address(a.clone());
        }
        self.announced = addrs.clone();
        let engine = self.ctx.engine.clone();
        let roster = engine.roster();
        if roster.team.is_none() {
            tracing::warn!("relaying, but not in a team: no one will use this relay");
            return;
        }
        let Some(claim) = roster.relay_claim(&engine.keys.device_id(), &addrs, engine.now()) else {
            return;
        };
        match crate::team::Statement::sign(&engine.keys.member, &claim)
            .and_then(|st| engine.merge_roster(vec![st]))
        {
            Ok(_) => {
                tracing::info!(
                    addrs = %addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(" "),
                    "the roster names this daemon as the team's relay"
                );
                let _ = self.ctx.cmd.send(Cmd::RosterChanged);
            }
            Err(e) => tracing::warn!("cannot name this relay in the roster: {e}"),
        }
    }

    /// How PEER is reached now: direct if any connection is, else through
    /// the first relay.
    fn link(&self, peer: &PeerId) -> Option<Link> {
        let links = self.links.get(peer)?;
        if links.values().any(|l| *l == Link::Direct) {
            return Some(Link::Direct);
        }
        links.values().next().copied()
    }

    /// A direct connection to PEER is up: its relayed ones are closed, so
    /// requests (spread over a peer's connections) stop using the relay.
    fn drop_relayed(&mut self, peer: PeerId) {
        let Some(links) = self.links.get(&peer) else {
            return;
        };
        let relayed: Vec<ConnectionId> = links
            .iter()
            .filter(|(_, l)| matches!(l, Link::Relayed(_)))
            .map(|(c, _)| *c)
            .collect();
        if !relayed.is_empty() {
            tracing::info!(%peer, "direct connection up; closing the relayed one");
            self.resync.insert(peer);
        }
        for c in relayed {
            self.swarm.close_connection(c);
        }
    }

    fn on_relay_event(&mut self, ev: relay::Event) {
        use relay::Event as E;
        #[allow(deprecated)]
        match ev {
            E::ReservationReqAccepted {
                src_peer_id,
                renewed,
            } => {
                if !renewed {
                    tracing::info!(peer = %src_peer_id, "relay: slot reserved");
                }
            }
            E::ReservationReqDenied {
                src_peer_id,
                status,
            } => {
                tracing::warn!(peer = %src_peer_id, ?status, "relay: reservation refused")
            }
            E::ReservationTimedOut { src_peer_id } | E::ReservationClosed { src_peer_id } => {
                tracing::info!(peer = %src_peer_id, "relay: slot released")
            }
            E::CircuitReqDenied {
                src_peer_id,
                dst_peer_id,
                status,
            } => tracing::info!(
                src = %src_peer_id, dst = %dst_peer_id, ?status,
                "relay: circuit refused"
            ),
            E::CircuitReqAccepted {
                src_peer_id,
                dst_peer_id,
            } => tracing::info!(src = %src_peer_id, dst = %dst_peer_id, "relay: circuit opened"),
            E::CircuitClosed {
                src_peer_id,
                dst_peer_id,
                error,
            } => tracing::debug!(
                src = %src_peer_id, dst = %dst_peer_id, ?error,
                "relay: circuit closed"
            ),
            other => tracing::debug!("relay: {other:?}"),
        }
    }

    fn on_relay_client_event(&mut self, ev: relay::client::Event) {
        match ev {
            relay::client::Event::ReservationReqAccepted {
                relay_peer_id,
                renewal,
                ..
            } => {
                if let Some(slot) = self.slots.get_mut(&relay_peer_id) {
                    slot.1 = true;
                }
                if let Some(t) = self.slot_tries.get_mut(&relay_peer_id) {
                    // Keep the address that worked, but start counting
                    // failures afresh.
                    t.1 = t.1.max(1);
                }
                if !renewal {
                    tracing::info!(relay = %relay_peer_id, "holding a slot on the relay");
                    // Teammates may now reach us there: dial them too.
                    self.dial_known(true);
                }
            }
            other => tracing::debug!("relay client: {other:?}"),
        }
    }

    fn on_autonat_event(&mut self, ev: autonat::Event) {
        if let autonat::Event::StatusChanged { new, .. } = ev {
            let word = reach::nat_word(&new);
            if word != self.nat {
                tracing::info!(reachable = word, "AutoNAT");
                self.nat = word;
                self.write_status();
            }
        }
    }
}

/// One peer, just connected: swap rosters, ask what they have, pull what
/// differs.
async fn session(ctx: &Arc<Ctx>, peer: PeerId) -> Result<()> {
    let statements = ctx.engine.roster().statements;
    if let Response::Roster(theirs) = ctx.request(peer, Request::Roster(statements)).await?
        && ctx.engine.merge_roster(theirs)?
    {
        let _ = ctx.cmd.send(Cmd::RosterChanged);
    }
    let offer = match ctx.request(peer, Request::Offer).await? {
        Response::Offer(o) => o,
        Response::Refused(why) => return Err(Error::invalid(format!("refused: {why}"))),
        _ => return Err(Error::invalid("unexpected answer to an offer request")),
    };
    let wanted = tokio::task::block_in_place(|| ctx.engine.wanted(&peer, &offer));
    ctx.report(peer, |_| {});
    pull_many(ctx, peer, wanted).await;
    Ok(())
}

/// Pulls shards a few at a time and stores verified results in batches.
async fn pull_many(ctx: &Arc<Ctx>, peer: PeerId, work: Vec<(LedgerRef, Shard)>) {
    if work.is_empty() {
        return;
    }
    let mut results = futures::stream::iter(work)
        .map(|(ledger, shard)| {
            let ctx = ctx.clone();
            async move { pull_guarded(&ctx, peer, ledger, shard).await }
        })
        .buffer_unordered(PULLS_IN_FLIGHT);
    let mut batch: Vec<Absorb> = Vec::new();
    // One batch is stored while the next is pulled; batches are stored in
    // order, one at a time.
    let mut storing: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        let next = results.next().await;
        let end = next.is_none();
        if let Some(Some(a)) = next {
            batch.push(a);
        }
        let idle = storing.as_ref().is_none_or(|h| h.is_finished());
        if !batch.is_empty() && (end || idle) {
            if let Some(h) = storing.take() {
                let _ = h.await;
            }
            let (ctx, batch) = (ctx.clone(), std::mem::take(&mut batch));
            storing = Some(tokio::task::spawn_blocking(move || {
                store_batch(&ctx, peer, batch)
            }));
        }
        if end {
            break;
        }
    }
    if let Some(h) = storing {
        let _ = h.await;
    }
}

fn store_batch(ctx: &Arc<Ctx>, peer: PeerId, batch: Vec<Absorb>) {
    let mut changed: BTreeMap<LedgerRef, Vec<Shard>> = BTreeMap::new();
    for a in &batch {
        changed
            .entry(a.ledger.clone())
            .or_default()
            .push(a.shard.clone());
    }
    let n = batch.len();
    let started = Instant::now();
    match ctx.engine.absorb(batch) {
        Ok(_) => {
            tracing::debug!(%peer, shards = n, ms = started.elapsed().as_millis() as u64, "stored");
            ctx.report(peer, |r| r.shards_stored += n);
            let _ = ctx.cmd.send(Cmd::Synced(peer));
            // Relay: teammates connected to us but not to the source hear now.
            for (ledger, shards) in changed {
                let _ = ctx.cmd.send(Cmd::Announce {
                    except: peer,
                    ledger,
                    shards,
                });
            }
        }
        Err(e) => tracing::warn!(%peer, "storing synced changes: {e}"),
    }
}

/// One pull at a time per peer and shard; a change announced meanwhile
/// pulls again once the first finishes.
async fn pull_guarded(
    ctx: &Arc<Ctx>,
    peer: PeerId,
    ledger: LedgerRef,
    shard: Shard,
) -> Option<Absorb> {
    if let Some(left) = ctx.penalized(&peer) {
        tracing::debug!(%peer, shard = shard.name(), "not pulling: its changes are refused for {} s more", left.as_secs());
        return None;
    }
    let key = (peer, ledger.clone(), shard.clone());
    {
        let mut f = ctx.in_flight.lock().ok()?;
        if !f.insert(key.clone()) {
            ctx.again.lock().ok()?.insert(key);
            return None;
        }
    }
    let slots = ctx
        .pull_slots
        .lock()
        .ok()?
        .entry(peer)
        .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(PULLS_IN_FLIGHT)))
        .clone();
    let _slot = slots.acquire_owned().await.ok()?;
    let mut out = None;
    for _ in 0..4 {
        match pull(ctx, peer, &ledger, &shard).await {
            Ok(Some(a)) => {
                // Store before pulling again, so the next round starts
                // from what this one got.
                if let Some(done) = out.take() {
                    tokio::task::block_in_place(|| store_batch(ctx, peer, vec![done]));
                }
                out = Some(a);
            }
            Ok(None) => {}
            Err(PullError::Abuse(why)) => {
                ctx.penalize(peer, &shard, &why);
                ctx.report(peer, |r| r.rejected += 1);
                break;
            }
            Err(PullError::Stopped) => break,
            Err(PullError::Other(e)) => {
                tracing::warn!(%peer, shard = shard.name(), "pull: {e}");
                ctx.report(peer, |r| r.rejected += 1);
            }
        }
        let again = ctx
            .again
            .lock()
            .map(|mut a| a.remove(&key))
            .unwrap_or(false);
        if !again {
            break;
        }
        if let Some(a) = out.take() {
            tokio::task::block_in_place(|| store_batch(ctx, peer, vec![a]));
        }
    }
    if let Ok(mut f) = ctx.in_flight.lock() {
        f.remove(&key);
    }
    out
}

/// Why a pull ended without a result.
enum PullError {
    /// The peer sent what no honest peer sends: refuse it for a while.
    Abuse(String),
    /// Another pull from the same peer caught it meanwhile.
    Stopped,
    Other(Error),
}

impl From<Error> for PullError {
    fn from(e: Error) -> PullError {
        PullError::Other(e)
    }
}

/// The pulling side of automerge's sync protocol for one shard: our
/// messages carry no changes (we only take), theirs are applied to an
/// in-memory copy that is checked before anything is stored. What the
/// copy may hold waiting, and how many useless answers it takes, is
/// bounded in `engine::Pull::receive`.
async fn pull(
    ctx: &Arc<Ctx>,
    peer: PeerId,
    ledger: &LedgerRef,
    shard: &Shard,
) -> std::result::Result<Option<Absorb>, PullError> {
    let mut pulled = tokio::task::block_in_place(|| ctx.engine.pull_start(&peer, ledger, shard))?;
    ctx.report(peer, |r| r.shards_pulled += 1);
    let mut proofs = Vec::new();
    let mut first = true;
    let mut more = false;
    let mut converged = false;
    for _ in 0..MAX_ROUNDS {
        if ctx.penalized(&peer).is_some() {
            return Err(PullError::Stopped);
        }
        let ours = pulled
            .doc
            .sync()
            .generate_sync_message(&mut pulled.state)
            .map(|m| {
                Message {
                    changes: automerge::sync::ChunkList::empty(),
                    ..m
                }
                .encode()
            });
        if !first && ours.is_none() && !more {
            converged = true;
            break;
        }
        let req = Request::Sync {
            ledger: ledger.clone(),
            shard: shard.name().to_string(),
            first,
            msg: ours.unwrap_or_default(),
        };
        first = false;
        match ctx.request(peer, req).await? {
            Response::Sync {
                msg,
                proofs: p,
                more: m,
            } => {
                more = m;
                if !p.is_empty() {
                    proofs = p;
                }
                match msg {
                    Some(bytes) => {
                        let message = Message::decode(&bytes)
                            .map_err(|e| Error::invalid(format!("malformed sync message: {e}")))?;
                        tokio::task::block_in_place(|| pulled.receive(message)).map_err(
                            |r| match r {
                                Refusal::Abuse(why) => PullError::Abuse(why),
                                Refusal::Invalid(why) => PullError::Other(Error::invalid(why)),
                            },
                        )?;
                    }
                    None if !more => {
                        converged = true;
                        break;
                    }
                    None => {}
                }
            }
            Response::Refused(why) => return Err(Error::invalid(format!("refused: {why}")).into()),
            _ => return Err(Error::invalid("unexpected answer to a sync request").into()),
        }
    }
    if !converged {
        return Err(Error::invalid("sync did not converge").into());
    }
    Ok(tokio::task::block_in_place(|| {
        ctx.engine.pull_finish(&peer, ledger, shard, pulled, proofs)
    })?)
}

/// Answers a request from a connected device.
async fn answer(ctx: &Arc<Ctx>, peer: PeerId, request: Request) -> Response {
    let engine = &ctx.engine;
    let role = engine.role(&peer);
    match (&role, request) {
        (Role::Ticket(invite), Request::Join(req)) => {
            let invite = invite.clone();
            let device = req.device.verified().and_then(|(_, claim)| match claim {
                crate::team::Claim::Device { device, .. } => device.parse::<PeerId>().ok(),
                _ => None,
            });
            // `engine.join` marks the ticket used on disk, and the swarm
            // task may refresh the allow list the moment it sees that: the
            // ticket's key is kept allowed from before, so its connection
            // stays until the answer has left.
            ctx.keep_allowed(peer, Duration::from_secs(10));
            let resp = tokio::task::block_in_place(|| engine.join(&peer, &invite, req))
                .unwrap_or_else(|e| Response::Refused(e.to_string()));
            // The new device may connect the moment it has the answer.
            if let (Response::Joined { .. }, Some(device)) = (&resp, device) {
                let _ = ctx.cmd.send(Cmd::Allow(device));
            }
            // The ticket is used now, but its key keeps the connection until
            // the answer has left.
            ctx.keep_allowed(peer, Duration::from_secs(3));
            // The used ticket's key is dropped from the allow list only
            // once the answer has had time to leave.
            let later = ctx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let _ = later.cmd.send(Cmd::RosterChanged);
            });
            resp
        }
        (Role::Own | Role::Member(_), Request::Roster(theirs)) => {
            match tokio::task::block_in_place(|| engine.merge_roster(theirs)) {
                Ok(true) => {
                    let _ = ctx.cmd.send(Cmd::RosterChanged);
                }
                Ok(false) => {}
                Err(e) => tracing::warn!("roster: {e}"),
            }
            Response::Roster(engine.roster().statements)
        }
        (Role::Own | Role::Member(_), Request::Offer) => {
            match tokio::task::block_in_place(|| engine.offer(&peer)) {
                Ok(o) => Response::Offer(o),
                Err(e) => Response::Refused(e.to_string()),
            }
        }
        (Role::Own | Role::Member(_), Request::Changed(_)) if ctx.penalized(&peer).is_some() => {
            let left = ctx.penalized(&peer).unwrap_or_default();
            Response::Refused(format!(
                "your changes are refused for {} s more",
                left.as_secs()
            ))
        }
        (Role::Own | Role::Member(_), Request::Changed(digests)) => {
            let wanted = tokio::task::block_in_place(|| engine.wanted(&peer, &digests));
            let ctx = ctx.clone();
            tokio::spawn(async move { pull_many(&ctx, peer, wanted).await });
            Response::Ack
        }
        (
            Role::Own | Role::Member(_),
            Request::Sync {
                ledger,
                shard,
                first,
                msg,
            },
        ) => tokio::task::block_in_place(|| engine.serve(&peer, &ledger, &shard, first, &msg)),
        _ => Response::Refused("not allowed".into()),
    }
}

/// Joins with a ticket: connects with the ticket's one-time key (the only
/// key the inviter lets in for it) and presents this device.
pub async fn join(ticket: &Ticket, request: JoinRequest, timeout: Duration) -> Result<Response> {
    let key = ticket.key()?;
    let inviter: PeerId = ticket
        .inviter
        .parse()
        .map_err(|_| Error::invalid("the ticket's inviter id is damaged"))?;
    let mut swarm = build_swarm(key, false, false, Codec::default())?;
    swarm.behaviour_mut().allow.allow_peer(inviter);
    let addrs = ticket.dial_addrs();
    if addrs.is_empty() {
        return Err(Error::invalid(
            "the ticket has no address to reach the inviter at",
        ));
    }
    swarm
        .dial(DialOpts::peer_id(inviter).addresses(addrs.clone()).build())
        .map_err(|e| Error::invalid(format!("cannot reach the inviter: {e}")))?;
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut sent = false;
    let mut last_error = String::from("no answer");
    // The inviter's daemon notices a new ticket within a moment; until
    // then it refuses the ticket's key, so a refusal is retried.
    let mut retry = tokio::time::interval(Duration::from_millis(500));
    retry.tick().await;
    let mut connected = false;
    loop {
        tokio::select! {
            ev = swarm.select_next_some() => match ev {
                SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == inviter => {
                    connected = true;
                    if !sent {
                        sent = true;
                        swarm.behaviour_mut().rr.send_request(&inviter, Request::Join(request.clone()));
                    }
                }
                SwarmEvent::OutgoingConnectionError { error, .. } => {
                    last_error = format!(
                        "cannot reach the inviter at {}: {error}",
                        addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
                    );
                }
                SwarmEvent::ConnectionClosed { peer_id, .. } if peer_id == inviter => {
                    connected = false;
                    sent = false;
                    last_error = "the inviter closed the connection: the ticket may have expired or been used, or their daemon is not running".into();
                }
                SwarmEvent::Behaviour(BehaviourEvent::Rr(request_response::Event::Message {
                    message: request_response::Message::Response { response, .. }, ..
                })) => return Ok(response),
                SwarmEvent::Behaviour(BehaviourEvent::Rr(request_response::Event::OutboundFailure { error, .. })) => {
                    sent = false;
                    last_error = format!("the inviter did not answer: {error}");
                }
                _ => {}
            },
            _ = retry.tick() => {
                if !connected {
                    let _ = swarm.dial(DialOpts::peer_id(inviter).addresses(addrs.clone()).build());
                }
            }
            _ = &mut deadline => return Err(Error::invalid(format!("could not join: {last_error}"))),
        }
    }
}

/// How long a ledger opened to store batches stays open with nothing to
/// store (see `Engine::close_idle_ledgers`).
const LEDGER_IDLE: Duration = Duration::from_secs(5);

/// Hands memory freed by closing ledgers back to the system. glibc keeps
/// freed heap in its arenas otherwise, and a daemon's RSS would stay at its
/// peak for ever.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns unused heap pages; it has no
    // preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}
