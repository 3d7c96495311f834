//! Peers under load and attack (issue 17): a running member daemon on
//! 127.0.0.1 takes a flood of connection attempts from keys that are not on
//! its team, and keeps serving its teammate meanwhile; a member floods it
//! with offers; and a member's device, speaking raw frames with its own
//! keys, answers the daemon's pulls with changes whose dependencies never
//! come, with a history 100,000 changes deep (honest: it must arrive), and
//! with the same changes again and again. [`Raw`] is the codec every raw
//! client here and in `team.rs` uses.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::cli::team::{Daemon, team_hits, team_of, wait_until};
use crate::common::Home;

/// Bytes straight onto a `/kith/sync/1` stream, as a hostile member (or
/// one scripted by a test) writes them: each request and answer is the
/// whole frame, a 4-byte length and CBOR, read up to 1 MiB.
#[derive(Clone, Default)]
pub struct Raw;

#[async_trait::async_trait]
impl libp2p::request_response::Codec for Raw {
    type Protocol = libp2p::StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &Self::Protocol, io: &mut T) -> std::io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        use futures::AsyncReadExt;
        let mut out = Vec::new();
        io.take(1 << 20).read_to_end(&mut out).await?;
        Ok(out)
    }

    async fn read_response<T>(&mut self, p: &Self::Protocol, io: &mut T) -> std::io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        self.read_request(p, io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> std::io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        use futures::AsyncWriteExt;
        io.write_all(&req).await?;
        io.close().await
    }

    async fn write_response<T>(
        &mut self,
        p: &Self::Protocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> std::io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        self.write_request(p, io, res).await
    }
}

/// A libp2p client that speaks `/kith/sync/1` through [`Raw`] over TCP with
/// `key`'s identity; `idle_timeout` keeps a quiet connection open longer
/// than libp2p's default. Build it inside the tokio runtime that drives it.
pub fn raw_swarm(
    key: libp2p::identity::Keypair,
    request_timeout: Duration,
    idle_timeout: Option<Duration>,
) -> libp2p::Swarm<libp2p::request_response::Behaviour<Raw>> {
    use libp2p::request_response::{self, ProtocolSupport};
    libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default(),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                Raw,
                [(
                    libp2p::StreamProtocol::new("/kith/sync/1"),
                    ProtocolSupport::Full,
                )],
                request_response::Config::default().with_request_timeout(request_timeout),
            )
        })
        .unwrap()
        .with_swarm_config(|c| match idle_timeout {
            Some(t) => c.with_idle_connection_timeout(t),
            None => c,
        })
        .build()
}

/// A well-formed `Request::Offer` frame.
fn offer_frame() -> Vec<u8> {
    let body = kith::sync::proto::encode(&kith::sync::proto::Request::Offer).unwrap();
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

/// One connection attempt with `key`: dial, send an Offer on
/// `/kith/sync/1`, and say what came of it (at most 5 s).
async fn attempt(key: libp2p::identity::Keypair, addr: libp2p::Multiaddr) -> String {
    use futures::StreamExt;
    use libp2p::request_response;
    use libp2p::swarm::SwarmEvent;
    let mut swarm = raw_swarm(key, Duration::from_secs(4), None);
    if let Err(e) = swarm.dial(addr) {
        return format!("refused: {e}");
    }
    let deadline = tokio::time::sleep(Duration::from_secs(5));
    tokio::pin!(deadline);
    let mut sent = false;
    loop {
        tokio::select! {
            ev = swarm.select_next_some() => match ev {
                SwarmEvent::ConnectionEstablished { peer_id, .. } if !sent => {
                    sent = true;
                    swarm.behaviour_mut().send_request(&peer_id, offer_frame());
                }
                SwarmEvent::Behaviour(request_response::Event::Message {
                    message: request_response::Message::Response { response, .. }, ..
                }) => return if response.is_empty() { "dropped".into() } else { "answered".into() },
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure { .. }) => return "failed".into(),
                SwarmEvent::ConnectionClosed { .. } => return "closed".into(),
                SwarmEvent::OutgoingConnectionError { .. } => return "refused".into(),
                _ => {}
            },
            _ = &mut deadline => return "timed out".into(),
        }
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn daemon_pid(home: &Home) -> u32 {
    let text = std::fs::read_to_string(home.path().join("team/daemon.json")).unwrap();
    let status: serde_json::Value = serde_json::from_str(&text).unwrap();
    status["pid"].as_u64().expect("daemon.json has its pid") as u32
}

/// Adds `name` at alice and returns how long until bob's replica has it
/// (None if not within 30 s).
fn edit_latency(alice: &Home, bob: &Home, name: &str) -> Option<Duration> {
    let started = Instant::now();
    alice.ok(&["add", name]);
    let query = name.split(' ').next_back().unwrap().to_lowercase();
    wait_until(30, || !team_hits(bob, &query).is_empty()).then(|| started.elapsed())
}

const ATTEMPTS: usize = 1000;
const ATTACKERS: usize = 8;
/// Over the daemon's RSS before the flood (RELIABILITY.md has the figures).
const RSS_HEADROOM_KIB: u64 = 50 * 1024;

#[test]
fn a_thousand_non_member_connections_open_no_stream_and_sync_goes_on() {
    let (alice, bob, rick, carol, eve) = (
        Home::new(),
        Home::new(),
        Home::new(),
        Home::new(),
        Home::new(),
    );
    alice.ok(&["add", "Edna Miggins"]);
    let a = team_of(&alice, &[(&bob, "bob"), (&rick, "rick")]);
    // The keys that may not come in: a ticket that expired, a ticket
    // already used (by carol), a removed member (rick), and strangers.
    let expired = alice.ok(&["team", "invite", "--expires", "1s"]);
    let used = alice.ok(&["team", "invite"]);
    carol.ok(&["team", "join", used.trim(), "--as", "carol"]);
    // A used ticket's key stays allowed for 3 s while the join answer
    // leaves (net.rs, `keep_allowed`); reuse comes after that.
    let joined = Instant::now();
    alice.ok(&["team", "remove", "rick"]);
    eve.ok(&["add", "Someone Else"]);
    let ticket_key = |t: &str| kith::team::Ticket::decode(t.trim()).unwrap().key().unwrap();
    let rick_key = libp2p::identity::Keypair::from_protobuf_encoding(
        &std::fs::read(rick.path().join("keys/device.key")).unwrap(),
    )
    .unwrap();
    let fixed = [ticket_key(&expired), ticket_key(&used), rick_key];

    let _b = Daemon::start(&bob, &["--peer", &a.addr]);
    assert!(
        wait_until(30, || !team_hits(&bob, "edna").is_empty()),
        "bob never synced: {}",
        a.log()
    );
    // The 1 s ticket has expired, and the used one's grace is over.
    std::thread::sleep(Duration::from_secs(5).saturating_sub(joined.elapsed()));
    let pid = daemon_pid(&alice);
    let baseline_latency = edit_latency(&alice, &bob, "Baseline Quiet").expect("baseline edit");
    let baseline_rss = rss_kib(pid);

    // The flood: ATTACKERS threads, ATTEMPTS in all, a quarter each from
    // the three known keys and from fresh keys.
    let addr: libp2p::Multiaddr = a.addr.parse().unwrap();
    let log_before = a.log().len();
    let done = Arc::new(AtomicBool::new(false));
    let flood_started = Instant::now();
    let threads: Vec<_> = (0..ATTACKERS)
        .map(|t| {
            let addr = addr.clone();
            let fixed = fixed.clone(); // expired, used, removed
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let started = Instant::now();
                let mut out = Vec::new();
                for i in (t..ATTEMPTS).step_by(ATTACKERS) {
                    if started.elapsed() > Duration::from_secs(180) {
                        break;
                    }
                    let key = match i % 4 {
                        3 => libp2p::identity::Keypair::generate_ed25519(),
                        k => fixed[k].clone(),
                    };
                    let peer = key.public().to_peer_id();
                    out.push((peer, rt.block_on(attempt(key, addr.clone()))));
                }
                out
            })
        })
        .collect();
    // Meanwhile: RSS sampled, and alice's edits timed to bob.
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            let start = Instant::now();
            while !done.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(300) {
                peak = peak.max(rss_kib(pid));
                std::thread::sleep(Duration::from_millis(100));
            }
            peak
        })
    };
    let mut flood_latencies = Vec::new();
    for n in 0..5 {
        if threads.iter().all(|t| t.is_finished()) {
            break;
        }
        let name = format!("Flood Edit{n}");
        flood_latencies.push(
            edit_latency(&alice, &bob, &name).unwrap_or_else(|| {
                panic!("an edit did not reach bob during the flood: {}", a.log())
            }),
        );
    }
    let outcomes: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let flood_secs = flood_started.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(2));
    done.store(true, Ordering::Relaxed);
    let peak_rss = sampler.join().unwrap().max(rss_kib(pid));
    let after_rss = rss_kib(pid);
    let after_latency = edit_latency(&alice, &bob, "After Flood").expect("an edit after the flood");

    // Every attempt was made, and not one was answered.
    assert_eq!(outcomes.len(), ATTEMPTS);
    let answered: Vec<_> = outcomes.iter().filter(|(_, o)| o == "answered").collect();
    let log = a.log();
    if let Some((p, _)) = answered.first() {
        let p = p.to_string();
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(&p)).take(20).collect();
        panic!(
            "{} attempts answered, first by {p} (fixed keys: {:?}): {lines:#?}",
            answered.len(),
            fixed
                .iter()
                .map(|k| k.public().to_peer_id())
                .collect::<Vec<_>>()
        );
    }
    // The daemon's log names them only to say it refused them: no stream,
    // no request, no frame.
    let attackers: HashSet<String> = outcomes.iter().map(|(p, _)| p.to_string()).collect();
    let mut refused = 0;
    for line in log[log_before..].lines() {
        if let Some(p) = attackers.iter().find(|p| line.contains(p.as_str())) {
            assert!(
                line.contains("refused a connection: not on the team's roster"),
                "the daemon did more than refuse {p}: {line}"
            );
            refused += 1;
        }
    }
    assert!(refused > 0, "no refusal logged: {log}");
    assert!(
        peak_rss < baseline_rss + RSS_HEADROOM_KIB && after_rss < baseline_rss + RSS_HEADROOM_KIB,
        "RSS {baseline_rss} KiB before, {peak_rss} KiB at peak, {after_rss} KiB after"
    );
    let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
    for (_, o) in &outcomes {
        *kinds.entry(o.as_str()).or_default() += 1;
    }
    eprintln!(
        "flood: {ATTEMPTS} attempts in {flood_secs:.1} s ({kinds:?}); {refused} refusals logged; \
         RSS {baseline_rss} KiB before, peak {peak_rss} KiB, {after_rss} KiB after; \
         edit to bob {baseline_latency:?} quiet, {flood_latencies:?} during, {after_latency:?} after"
    );
}

/// A member's client sending up to `total` Offers on one connection, 50 in
/// flight, for at most `secs`. Returns (answered, not answered).
fn flood_offers(
    key: libp2p::identity::Keypair,
    addr: &str,
    total: usize,
    secs: u64,
) -> (usize, usize) {
    use futures::StreamExt;
    use libp2p::request_response;
    use libp2p::swarm::SwarmEvent;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let addr: libp2p::Multiaddr = addr.parse().unwrap();
    rt.block_on(async move {
        let mut swarm = raw_swarm(key, Duration::from_secs(3), Some(Duration::from_secs(60)));
        swarm.dial(addr).unwrap();
        let deadline = tokio::time::sleep(Duration::from_secs(secs));
        tokio::pin!(deadline);
        let (mut sent, mut answered, mut failed, mut target) = (0, 0, 0, None);
        loop {
            if let Some(peer) = target {
                while sent < total && sent - answered - failed < 50 {
                    swarm.behaviour_mut().send_request(&peer, offer_frame());
                    sent += 1;
                }
                if answered + failed == total {
                    break;
                }
            }
            tokio::select! {
                ev = swarm.select_next_some() => match ev {
                    SwarmEvent::ConnectionEstablished { peer_id, .. } => target = Some(peer_id),
                    SwarmEvent::Behaviour(request_response::Event::Message {
                        message: request_response::Message::Response { response, .. }, ..
                    }) => if response.is_empty() { failed += 1 } else { answered += 1 },
                    SwarmEvent::Behaviour(request_response::Event::OutboundFailure { .. }) => failed += 1,
                    SwarmEvent::ConnectionClosed { .. } | SwarmEvent::OutgoingConnectionError { .. } => break,
                    _ => {}
                },
                _ = &mut deadline => break,
            }
        }
        (answered, sent - answered)
    })
}

#[test]
fn a_member_flooding_offers_is_rate_limited_and_sync_goes_on() {
    let (alice, bob, mallory) = (Home::new(), Home::new(), Home::new());
    alice.ok(&["add", "Edna Miggins"]);
    let a = team_of(&alice, &[(&bob, "bob"), (&mallory, "mallory")]);
    let _b = Daemon::start(&bob, &["--peer", &a.addr]);
    assert!(wait_until(30, || !team_hits(&bob, "edna").is_empty()));
    let key = libp2p::identity::Keypair::from_protobuf_encoding(
        &std::fs::read(mallory.path().join("keys/device.key")).unwrap(),
    )
    .unwrap();
    let addr = a.addr.clone();
    let flood = std::thread::spawn(move || flood_offers(key, &addr, 3000, 60));
    alice.ok(&["add", "Daisy Miggins"]);
    assert!(
        wait_until(30, || !team_hits(&bob, "daisy").is_empty()),
        "an edit did not reach bob during the flood: {}",
        a.log()
    );
    let (answered, dropped) = flood.join().unwrap();
    let log = a.log();
    let warned = log.matches("offers and announcements a second").count();
    eprintln!("offer flood: {answered} answered, {dropped} dropped");
    assert!(answered > 0, "the member got no answer at all");
    assert!(dropped > 0, "nothing was dropped: {answered} answered");
    assert_eq!(warned, 1, "the excess is logged once: {log}");
    // The flooder is still a member: once it stops, it is answered again.
    alice.ok(&["add", "Albert Miggins"]);
    assert!(wait_until(30, || !team_hits(&bob, "albert").is_empty()));
}

// A member attacking through sync itself: its device, on the roster and
// with its own keys, dials the daemon and answers the daemon's sync
// requests with frames the test writes. Bob, an honest teammate, edits
// meanwhile; his edits must still reach alice (the daemon under attack).

use automerge::sync::{Message, State as SyncState, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ReadDoc};
use kith::sync::proto::{LedgerDigest, LedgerRef, PartKind, Proof, Request, Response};

/// A frame as the daemon reads it: a 4-byte length, then CBOR.
fn frame<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let body = kith::sync::proto::encode(value).unwrap();
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

fn key_of(home: &Home, which: &str) -> libp2p::identity::Keypair {
    let bytes = std::fs::read(home.path().join(format!("keys/{which}.key"))).unwrap();
    libp2p::identity::Keypair::from_protobuf_encoding(&bytes).unwrap()
}

/// A member's own shard with something in it: the shard and its document,
/// read from the member's ledger as stored.
fn own_shard(home: &Home) -> (kith::model::Shard, AutoCommit) {
    let store = kith::store::Store::open(&home.path().join("ledger"), [0; 8]).unwrap();
    for shard in store.shards().unwrap() {
        let payloads = store
            .raw_payloads::<kith::store::Shared>(&shard)
            .unwrap_or_default();
        if payloads.is_empty() {
            continue;
        }
        let mut doc = AutoCommit::new();
        for p in payloads {
            doc.load_incremental(&p).unwrap();
        }
        return (shard, doc);
    }
    panic!("no shard with anything in it");
}

/// The person map in DOC and the key under which it holds VALUE.
fn field_holding(doc: &AutoCommit, value: &str) -> (automerge::ObjId, String) {
    for key in doc.keys(automerge::ROOT) {
        if !key.starts_with("people/") {
            continue;
        }
        let Ok(Some((_, obj))) = doc.get(automerge::ROOT, key.as_str()) else {
            continue;
        };
        for field in doc.keys(&obj) {
            if let Ok(Some((v, _))) = doc.get(&obj, field.as_str())
                && v.as_str() == Some(value)
            {
                return (obj, field);
            }
        }
    }
    panic!("no field holds {value:?}");
}

/// What alice's replica of OWNER holds of SHARD, as heads.
fn replica_heads(
    home: &Home,
    owner: &str,
    shard: &kith::model::Shard,
) -> Vec<automerge::ChangeHash> {
    let root = kith::sync::replica_home(home.path(), owner)
        .unwrap()
        .join("ledger");
    let Ok(store) = kith::store::Store::open(&root, [0; 8]) else {
        return Vec::new();
    };
    let mut doc = AutoCommit::new();
    for p in store
        .raw_payloads::<kith::store::Shared>(shard)
        .unwrap_or_default()
    {
        doc.load_incremental(&p).unwrap();
    }
    let mut heads = doc.get_heads();
    heads.sort();
    heads
}

/// Changes as raw chunks, in batches of at most 1 MiB, as kith batches.
fn batches(changes: Vec<Vec<u8>>) -> Vec<Vec<Vec<u8>>> {
    let mut out = vec![Vec::new()];
    let mut size = 0;
    for c in changes {
        if size + c.len() > 1 << 20 && !out.last().unwrap().is_empty() {
            out.push(Vec::new());
            size = 0;
        }
        size += c.len();
        out.last_mut().unwrap().push(c);
    }
    out
}

fn message(heads: Vec<automerge::ChangeHash>, changes: Vec<Vec<u8>>) -> Vec<u8> {
    Message {
        heads,
        need: Vec::new(),
        have: Vec::new(),
        changes: changes.into(),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    }
    .encode()
}

/// Serves DOC as an honest kith device does: automerge's sync protocol,
/// answers split into batches.
struct Honest {
    doc: AutoCommit,
    state: SyncState,
    queue: std::collections::VecDeque<Vec<Vec<u8>>>,
    heads: Vec<automerge::ChangeHash>,
    proof: Proof,
}

impl Honest {
    fn new(
        mut doc: AutoCommit,
        member: &libp2p::identity::Keypair,
        shard: &kith::model::Shard,
    ) -> Honest {
        let heads = doc.get_heads();
        let proof = kith::sync::engine::sign_heads(member, shard, &heads).unwrap();
        Honest {
            doc,
            state: SyncState::new_read_only(),
            queue: Default::default(),
            heads,
            proof,
        }
    }

    fn answer(&mut self, first: bool, msg: &[u8]) -> Response {
        if first {
            self.state = SyncState::new_read_only();
            self.queue.clear();
        }
        let reply = match self.queue.pop_front() {
            Some(b) => Some(message(self.heads.clone(), b)),
            None => {
                if let Ok(m) = Message::decode(msg) {
                    let _ = self.doc.sync().receive_sync_message(&mut self.state, m);
                }
                self.doc
                    .sync()
                    .generate_sync_message(&mut self.state)
                    .map(|m| {
                        let changes: Vec<Vec<u8>> = m.changes.iter().map(<[u8]>::to_vec).collect();
                        self.queue = batches(changes).into();
                        let first = self.queue.pop_front().unwrap_or_default();
                        Message {
                            changes: first.into(),
                            ..m
                        }
                        .encode()
                    })
            }
        };
        Response::Sync {
            msg: reply,
            proofs: vec![self.proof.clone()],
            more: !self.queue.is_empty(),
        }
    }
}

type Script = Box<dyn FnMut(bool, &[u8]) -> Response + Send>;

/// What the scripted member saw: when the daemon asked it for a sync
/// round, and what the daemon answered to its change announcements.
#[derive(Default)]
struct Seen {
    syncs: Vec<Instant>,
    announced: Vec<(Instant, String)>,
}

/// A member's device, scripted: dials ADDR with KEY, answers the daemon's
/// roster and offer requests (offering SHARD of OWNER's ledger, always as
/// changed), its sync requests with SYNC, and announces a change every
/// 300 ms while ANNOUNCE is set; until STOP is set or 150 s pass.
fn scripted_member(
    key: libp2p::identity::Keypair,
    addr: String,
    owner: String,
    shard: String,
    mut sync: Script,
    announce: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> Seen {
    use futures::StreamExt;
    use libp2p::request_response;
    use libp2p::swarm::SwarmEvent;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut swarm = raw_swarm(key, Duration::from_secs(20), Some(Duration::from_secs(150)));
        swarm
            .dial(addr.parse::<libp2p::Multiaddr>().unwrap())
            .unwrap();
        let digest = |shard: &str| LedgerDigest {
            ledger: LedgerRef {
                owner: owner.clone(),
                part: PartKind::Shared,
            },
            // Never what the daemon holds: it always pulls.
            shards: vec![(shard.to_string(), rand::random())],
        };
        let mut seen = Seen::default();
        let mut target = None;
        let mut tick = tokio::time::interval(Duration::from_millis(300));
        let started = Instant::now();
        while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(150) {
            tokio::select! {
                ev = swarm.select_next_some() => match ev {
                    SwarmEvent::ConnectionEstablished { peer_id, .. } => target = Some(peer_id),
                    SwarmEvent::Behaviour(request_response::Event::Message {
                        message: request_response::Message::Request { request, channel, .. }, ..
                    }) => {
                        let request = request
                            .get(4..)
                            .and_then(|b| kith::sync::proto::decode::<Request>(b).ok());
                        let answer = match request {
                            Some(Request::Roster(_)) => Response::Roster(Vec::new()),
                            Some(Request::Offer) => Response::Offer(vec![digest(&shard)]),
                            Some(Request::Sync { first, msg, .. }) => {
                                seen.syncs.push(Instant::now());
                                sync(first, &msg)
                            }
                            _ => Response::Ack,
                        };
                        let _ = swarm.behaviour_mut().send_response(channel, frame(&answer));
                    }
                    SwarmEvent::Behaviour(request_response::Event::Message {
                        message: request_response::Message::Response { response, .. }, ..
                    }) => {
                        let answer = response
                            .get(4..)
                            .and_then(|b| kith::sync::proto::decode::<Response>(b).ok());
                        seen.announced.push((Instant::now(), format!("{answer:?}")));
                    }
                    SwarmEvent::ConnectionClosed { .. } => target = None,
                    _ => {}
                },
                _ = tick.tick() => {
                    if let Some(peer) = target
                        && announce.load(Ordering::Relaxed)
                    {
                        let req = Request::Changed(vec![digest(&shard)]);
                        swarm.behaviour_mut().send_request(&peer, frame(&req));
                    }
                }
            }
        }
        seen
    })
}

/// Peak VmRSS of PID, sampled every 100 ms until DONE (at most 300 s).
fn sample_rss(pid: u32, done: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut peak = 0;
        let start = Instant::now();
        while !done.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(300) {
            peak = peak.max(rss_kib(pid));
            std::thread::sleep(Duration::from_millis(100));
        }
        peak
    })
}

/// Over the daemon's RSS before the attack (RELIABILITY.md has the figures).
const SYNC_ATTACK_HEADROOM_KIB: u64 = 150 * 1024;
/// Over the daemon's RSS before an honest history 100,000 changes deep
/// arrives: the pulled copy holds every change parsed until it is checked
/// (218 MB over the baseline measured).
const DEEP_HISTORY_HEADROOM_KIB: u64 = 320 * 1024;

/// Alice's daemon with bob's connected and synced, and mallory a member
/// who has added NAME to her own ledger. Returns alice's daemon, bob's,
/// mallory's device and member keys, her member id, and her shard with
/// its document.
struct Stage {
    alice: Home,
    bob: Home,
    a: crate::cli::team::Daemon,
    _b: crate::cli::team::Daemon,
    device: libp2p::identity::Keypair,
    member: libp2p::identity::Keypair,
    owner: String,
    shard: kith::model::Shard,
    doc: AutoCommit,
}

fn stage(name: &str) -> Stage {
    let (alice, bob, mallory) = (Home::new(), Home::new(), Home::new());
    alice.ok(&["add", "Edna Miggins"]);
    mallory.ok(&["add", name]);
    let a = team_of(&alice, &[(&bob, "bob"), (&mallory, "mallory")]);
    let b = crate::cli::team::Daemon::start(&bob, &["--peer", &a.addr]);
    assert!(
        wait_until(30, || !team_hits(&bob, "edna").is_empty()),
        "bob never synced: {}",
        a.log()
    );
    let member = key_of(&mallory, "member");
    let owner = member.public().to_peer_id().to_string();
    let (shard, doc) = own_shard(&mallory);
    Stage {
        alice,
        bob,
        a,
        _b: b,
        device: key_of(&mallory, "device"),
        member,
        owner,
        shard,
        doc,
    }
}

impl Stage {
    /// Runs SCRIPT as mallory's device until STOP; returns its thread.
    fn mallory(
        &self,
        script: Script,
        announce: Arc<AtomicBool>,
        stop: Arc<AtomicBool>,
    ) -> std::thread::JoinHandle<Seen> {
        let (key, addr, owner, shard) = (
            self.device.clone(),
            self.a.addr.clone(),
            self.owner.clone(),
            self.shard.name().to_string(),
        );
        std::thread::spawn(move || scripted_member(key, addr, owner, shard, script, announce, stop))
    }

    /// Bob adds NAME; true once alice's team search finds it (30 s at most).
    fn honest_edit_arrives(&self, name: &str) -> bool {
        self.bob.ok(&["add", name]);
        let query = name.split(' ').next().unwrap().to_lowercase();
        wait_until(30, || {
            team_hits(&self.alice, &query)
                .iter()
                .any(|(n, o)| n == name && o == "bob")
        })
    }

    /// Waits (60 s at most) for the daemon to log REFUSAL, checks that
    /// bob's edit still reaches alice, lets mallory announce for 2 s more,
    /// then stops her and the RSS sampler: the refusal line names her and
    /// nothing of hers was pulled after it. Returns the time from STARTED
    /// to the refusal, the peak RSS in KiB and what mallory saw.
    fn expect_refusal(
        &self,
        refusal: &str,
        started: Instant,
        mallory: std::thread::JoinHandle<Seen>,
        sampler: std::thread::JoinHandle<u64>,
        (announce, stop, done): (&AtomicBool, &AtomicBool, &AtomicBool),
    ) -> (Duration, u64, Seen) {
        let caught = wait_until(60, || self.a.log().contains(refusal));
        let refused = Instant::now();
        let took = started.elapsed();
        assert!(caught, "the daemon never refused mallory: {}", self.a.log());
        assert!(
            self.honest_edit_arrives("Hilda Honest"),
            "bob's edit did not reach alice: {}",
            self.a.log()
        );
        announce.store(true, Ordering::Relaxed);
        std::thread::sleep(Duration::from_secs(2));
        stop.store(true, Ordering::Relaxed);
        let seen = mallory.join().unwrap();
        done.store(true, Ordering::Relaxed);
        let peak = sampler.join().unwrap();
        let log = self.a.log();
        let line = log.lines().find(|l| l.contains(refusal)).unwrap();
        assert!(
            line.contains(&self.mallory_peer()),
            "the line names mallory: {line}"
        );
        assert_refused_after(&seen, refused, &log);
        (took, peak, seen)
    }

    fn mallory_peer(&self) -> String {
        self.device.public().to_peer_id().to_string()
    }
}

/// After the refusal was seen at REFUSED: the daemon asked nothing more
/// of mallory, and answered her announcements with a refusal.
fn assert_refused_after(seen: &Seen, refused: Instant, log: &str) {
    let later_syncs = seen
        .syncs
        .iter()
        .filter(|t| **t > refused + Duration::from_millis(500))
        .count();
    assert_eq!(
        later_syncs, 0,
        "the daemon pulled again while refusing: {log}"
    );
    let answers: Vec<&String> = seen
        .announced
        .iter()
        .filter(|(t, _)| *t > refused + Duration::from_millis(500))
        .map(|(_, a)| a)
        .collect();
    assert!(!answers.is_empty(), "no announcement was answered");
    assert!(
        answers.iter().all(|a| a.contains("refused for")),
        "announcements not refused: {answers:?}"
    );
}

#[test]
fn a_member_sending_changes_without_their_dependencies_is_refused_within_bounded_memory() {
    const ORPHANS: usize = 100_000;
    let s = stage("Mallory Own");
    // A chain of ORPHANS + 1 changes; the first is never sent, so no other
    // can ever be applied.
    let mut chain = AutoCommit::new();
    for i in 0..=ORPHANS {
        chain.put(automerge::ROOT, "k", i as i64).unwrap();
        chain.commit();
    }
    let changes: Vec<Vec<u8>> = chain
        .get_changes(&[])
        .iter()
        .skip(1)
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    let heads = chain.get_heads();
    let proof = kith::sync::engine::sign_heads(&s.member, &s.shard, &heads).unwrap();
    let all = batches(changes);
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let script: Script = {
        let sent = sent.clone();
        let mut round = 0;
        Box::new(move |_, _| {
            // Batch after batch, round and round: always more to come.
            let batch = all[round % all.len()].clone();
            round += 1;
            sent.fetch_add(batch.len(), Ordering::Relaxed);
            Response::Sync {
                msg: Some(message(heads.clone(), batch)),
                proofs: vec![proof.clone()],
                more: true,
            }
        })
    };
    let pid = daemon_pid(&s.alice);
    let baseline = rss_kib(pid);
    let (announce, stop, done) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let sampler = sample_rss(pid, done.clone());
    let started = Instant::now();
    let mallory = s.mallory(script, announce.clone(), stop.clone());
    let (took, peak, seen) = s.expect_refusal(
        "whose dependencies never came",
        started,
        mallory,
        sampler,
        (&announce, &stop, &done),
    );
    assert!(
        peak < baseline + SYNC_ATTACK_HEADROOM_KIB,
        "RSS {baseline} KiB before, {peak} KiB at peak"
    );
    // Nothing of it was stored: alice's replica of mallory is as it was.
    assert!(replica_heads(&s.alice, &s.owner, &s.shard).is_empty());
    eprintln!(
        "orphans: {} of {ORPHANS} sent before the refusal ({took:?}); RSS {baseline} KiB before, \
         peak {peak} KiB; {} sync rounds asked",
        sent.load(Ordering::Relaxed),
        seen.syncs.len()
    );
}

#[test]
fn a_history_a_hundred_thousand_changes_deep_syncs_within_bounded_memory() {
    const DEPTH: usize = 100_000;
    let mut s = stage("Deep Person");
    let mut doc = s.doc.fork();
    let (person, field) = field_holding(&doc, "Deep Person");
    let made = Instant::now();
    for i in 0..DEPTH - 1 {
        doc.put(&person, field.as_str(), format!("Deep Person {i}"))
            .unwrap();
        doc.commit();
    }
    doc.put(&person, field.as_str(), "Deepest Person").unwrap();
    doc.commit();
    let made = made.elapsed();
    let mut heads = doc.get_heads();
    heads.sort();
    let mut honest = Honest::new(doc, &s.member, &s.shard);
    let script: Script = Box::new(move |first, msg| honest.answer(first, msg));
    let pid = daemon_pid(&s.alice);
    let baseline = rss_kib(pid);
    let (announce, stop, done) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let sampler = sample_rss(pid, done.clone());
    let started = Instant::now();
    let mallory = s.mallory(script, announce, stop.clone());
    let arrived = wait_until(90, || {
        team_hits(&s.alice, "deepest")
            .iter()
            .any(|(n, o)| n == "Deepest Person" && o == "mallory")
    });
    let took = started.elapsed();
    assert!(arrived, "the deep history never arrived: {}", s.a.log());
    assert!(
        s.honest_edit_arrives("Hilda Honest"),
        "bob's edit did not reach alice: {}",
        s.a.log()
    );
    stop.store(true, Ordering::Relaxed);
    let seen = mallory.join().unwrap();
    done.store(true, Ordering::Relaxed);
    let peak = sampler.join().unwrap();
    let log = s.a.log();
    assert!(!log.contains("refusing its changes"), "{log}");
    assert_eq!(replica_heads(&s.alice, &s.owner, &s.shard), heads);
    assert!(
        peak < baseline + DEEP_HISTORY_HEADROOM_KIB,
        "RSS {baseline} KiB before, {peak} KiB at peak"
    );
    eprintln!(
        "deep history: {DEPTH} changes made in {made:?}, at alice {took:?} later in {} rounds; \
         RSS {baseline} KiB before, peak {peak} KiB",
        seen.syncs.len()
    );
}

#[test]
fn a_member_sending_the_same_changes_again_and_again_is_refused() {
    const EDITS: usize = 5_000;
    let mut s = stage("Dupe Person");
    let mut doc = s.doc.fork();
    let (person, field) = field_holding(&doc, "Dupe Person");
    for i in 0..EDITS - 1 {
        doc.put(&person, field.as_str(), format!("Dupe Person {i}"))
            .unwrap();
        doc.commit();
    }
    doc.put(&person, field.as_str(), "Dupe Final").unwrap();
    doc.commit();
    let mut heads = doc.get_heads();
    heads.sort();
    let all: Vec<Vec<u8>> = doc
        .get_changes(&[])
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    let proof = kith::sync::engine::sign_heads(&s.member, &s.shard, &heads).unwrap();
    // Honest until alice has it all, then the same changes in every answer.
    let again = Arc::new(AtomicBool::new(false));
    let sent_again = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let script: Script = {
        let (again, sent_again) = (again.clone(), sent_again.clone());
        let mut honest = Honest::new(doc, &s.member, &s.shard);
        let first_batch = batches(all).remove(0);
        let heads = heads.clone();
        Box::new(move |first, msg| {
            if !again.load(Ordering::Relaxed) {
                return honest.answer(first, msg);
            }
            sent_again.fetch_add(first_batch.len(), Ordering::Relaxed);
            Response::Sync {
                msg: Some(message(heads.clone(), first_batch.clone())),
                proofs: vec![proof.clone()],
                more: true,
            }
        })
    };
    let pid = daemon_pid(&s.alice);
    let (announce, stop, done) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let mallory = s.mallory(script, announce.clone(), stop.clone());
    assert!(
        wait_until(60, || team_hits(&s.alice, "dupe")
            .iter()
            .any(|(n, o)| n == "Dupe Final" && o == "mallory")),
        "mallory's honest edits never arrived: {}",
        s.a.log()
    );
    let baseline = rss_kib(pid);
    let sampler = sample_rss(pid, done.clone());
    again.store(true, Ordering::Relaxed);
    announce.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let (took, peak, _) = s.expect_refusal(
        "only changes already here",
        started,
        mallory,
        sampler,
        (&announce, &stop, &done),
    );
    // The replica holds exactly what mallory signed, once.
    assert_eq!(replica_heads(&s.alice, &s.owner, &s.shard), heads);
    assert!(
        peak < baseline + SYNC_ATTACK_HEADROOM_KIB,
        "RSS {baseline} KiB before, {peak} KiB at peak"
    );
    eprintln!(
        "duplicates: {} changes sent again before the refusal ({took:?}); RSS {baseline} KiB \
         before, peak {peak} KiB",
        sent_again.load(Ordering::Relaxed)
    );
}
