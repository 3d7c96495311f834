//! The durable store: the ledger's automerge documents on disk.
//!
//! A ledger is two parts, `shared/` and `private/`, each split into up to 1024
//! shards named by the first two characters of the ids they hold
//! (`shared/mg/`). A shard directory holds chunk files ([`chunk`]); its
//! document is the merge of every chunk in it. Writers only ever add chunk
//! files, and compaction removes only the chunks it has folded into a new
//! snapshot, so concurrent writers never overwrite each other.
//!
//! The store owns durability, checksums and quarantine. It knows nothing of
//! the index or of what the fields mean.
//!
//! An edit that writes more than one chunk (both parts of a shard, or
//! several shards) is all or nothing against a crash, a power cut or an I/O
//! error through an undo record (the file `undo`): before its first chunk
//! is renamed into place, the names of the chunks each part it touches
//! holds are written down durably ([`Store::begin_undo`]); once every chunk
//! is durable the record is cleared, durably, before the edit is
//! acknowledged ([`Store::end_undo`]), and only then are the chunks its
//! snapshots replaced removed. A record still there names an edit that
//! never finished: the next writer, under the lock, removes every chunk of
//! those parts it does not list ([`Store::roll_back`]). That is exact
//! because writers hold the lock and each one takes back what was left
//! before writing anything. One chunk needs no record: a rename is atomic.
//!
//! Each store has a ledger id (`ledger.id`, 32 hex digits), made when the
//! store is first opened and written into every chunk it writes: a chunk
//! that says another ledger (copied in from another home or from a
//! teammate's replica) is quarantined, never merged. A `ledger.id` that is
//! lost or damaged is made again from the id most chunks carry, so losing
//! it never makes a ledger's own chunks look foreign.

pub mod chunk;
pub mod doc;
pub mod fs;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use automerge::{ActorId, AutoCommit};
use serde_json::Value as Json;
use sha2::Digest as _;

use crate::error::{Error, Result};
use crate::model::{Fields, Id, Kind, Privacy, Shard};
use chunk::ChunkKind;
pub use doc::{Part, Private, ShardDoc, Shared};
pub use fs::{Fs, StdFs};

/// The undo record of the edit of several chunks under way, if any (see
/// the module header); empty when none is.
pub const UNDO_FILE: &str = "undo";
/// How an undo record begins: then the SHA-256 of its JSON, then the JSON.
const UNDO_MAGIC: &[u8; 8] = b"KITHUND1";

/// Compact a shard once it has this many incremental chunks.
const COMPACT_AFTER: usize = 16;
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// One edit to one entity. Edits are grouped by shard and applied together.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum Change {
    /// A new entity with its first fields, in both parts at once.
    Create {
        kind: Kind,
        id: Id,
        shared: Fields,
        private: Fields,
    },
    /// Set a field in one part and remove it from the other.
    Put {
        kind: Kind,
        id: Id,
        field: String,
        value: Json,
        privacy: Privacy,
    },
    /// Remove a field from both parts.
    Remove { kind: Kind, id: Id, field: String },
    /// Add or relabel one member of a set-like field.
    PutMember {
        kind: Kind,
        id: Id,
        field: String,
        member: String,
        meta: Json,
        privacy: Privacy,
    },
    RemoveMember {
        kind: Kind,
        id: Id,
        field: String,
        member: String,
    },
}

impl Change {
    pub fn target(&self) -> (Kind, &Id) {
        match self {
            Change::Create { kind, id, .. }
            | Change::Put { kind, id, .. }
            | Change::Remove { kind, id, .. }
            | Change::PutMember { kind, id, .. }
            | Change::RemoveMember { kind, id, .. } => (*kind, id),
        }
    }
}

/// What loading found wrong, for the user to hear about.
#[derive(Debug, Default, Clone)]
pub struct LoadReport {
    pub quarantined: Vec<Quarantined>,
    /// Shards holding changes that wait for a chunk that is gone.
    pub incomplete: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Quarantined {
    pub file: PathBuf,
    pub moved_to: PathBuf,
    pub reason: String,
    /// Whole and valid, but written into another ledger.
    pub foreign: bool,
}

impl LoadReport {
    pub fn is_clean(&self) -> bool {
        self.quarantined.is_empty() && self.incomplete.is_empty()
    }

    pub fn absorb(&mut self, other: LoadReport) {
        self.quarantined.extend(other.quarantined);
        self.incomplete.extend(other.incomplete);
    }
}

/// A shard document with the chunk files it was loaded from.
pub struct Loaded<P: Part> {
    pub doc: ShardDoc<P>,
    files: Vec<(PathBuf, ChunkKind)>,
    complete: bool,
    /// Started empty without reading the shard: saves only append.
    blank: bool,
}

/// A chunk written for an edit, not yet taken as the part's own.
struct Written {
    dir: PathBuf,
    path: PathBuf,
    kind: ChunkKind,
    /// The same bytes were already there (a rename onto identical content).
    existed: bool,
}

/// How to take back an edit of several chunks that did not finish: the
/// chunk files each part directory it may write held before it began
/// ([`Store::begin_undo`]). Every chunk not listed there is the edit's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undo {
    /// Part directory (`shared/ab`, relative to the store) → chunk files.
    before: BTreeMap<String, Vec<String>>,
}

/// An undo record as written: what [`Undo::before`] holds.
#[derive(serde::Serialize, serde::Deserialize)]
struct UndoRecord {
    before: BTreeMap<String, Vec<String>>,
}

impl Undo {
    /// The shards the edit touched.
    pub fn shards(&self) -> Vec<Shard> {
        let mut out: Vec<Shard> = self
            .before
            .keys()
            .filter_map(|dir| part_dir(dir).map(|(_, shard)| shard))
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// `shared/ab` or `private/ab` as (part, shard); anything else (a damaged
/// or forged record) is None and never touched.
fn part_dir(dir: &str) -> Option<(&'static str, Shard)> {
    let (part, shard) = dir.split_once('/')?;
    let part = [Shared::DIR, Private::DIR]
        .into_iter()
        .find(|p| *p == part)?;
    Some((part, Shard::parse(shard)?))
}

/// Both parts of one shard, loaded for reading or editing.
pub struct ShardPair {
    pub shard: Shard,
    pub shared: Loaded<Shared>,
    pub private: Loaded<Private>,
}

impl ShardPair {
    /// Applies changes in order. New entities on empty (blank) documents are
    /// created in one batch per part, which is many times faster than one
    /// at a time. Fails only on automerge errors, which mean a bug.
    pub fn apply_all(&mut self, changes: &[Change]) -> Result<()> {
        let blank = self.shared.blank && self.private.blank;
        let creates_only = changes.iter().all(|c| matches!(c, Change::Create { .. }));
        if !(blank && creates_only) {
            return changes.iter().try_for_each(|c| self.apply(c));
        }
        let mut shared = Vec::new();
        let mut private = Vec::new();
        for change in changes {
            if let Change::Create {
                kind,
                id,
                shared: s,
                private: p,
            } = change
            {
                if !s.is_empty() || doc::is_map_kind(*kind) {
                    shared.push((*kind, id, s));
                }
                if !p.is_empty() || doc::is_map_kind(*kind) {
                    private.push((*kind, id, p));
                }
            }
        }
        if !shared.is_empty() {
            self.shared.doc.create_all(&shared)?;
        }
        if !private.is_empty() {
            self.private.doc.create_all(&private)?;
        }
        Ok(())
    }

    /// Applies one change.
    pub fn apply(&mut self, change: &Change) -> Result<()> {
        let (s, p) = (&mut self.shared.doc, &mut self.private.doc);
        match change {
            Change::Create {
                kind,
                id,
                shared,
                private,
            } => {
                // People and companies exist in both parts from the start, so
                // no later edit has to create their map (a map created twice
                // concurrently would hide one of them). An item lives only in
                // the parts it has fields in: a wholly private item leaves no
                // trace, not even its id, in the shared part.
                let map = doc::is_map_kind(*kind);
                if map || !shared.is_empty() {
                    s.create(*kind, id, shared)?;
                }
                if map || !private.is_empty() {
                    p.create(*kind, id, private)?;
                }
            }
            Change::Put {
                kind,
                id,
                field,
                value,
                privacy,
            } => match privacy {
                Privacy::Shared => {
                    s.put(*kind, id, field, value)?;
                    p.remove(*kind, id, field)?;
                }
                Privacy::Private => {
                    p.put(*kind, id, field, value)?;
                    s.remove(*kind, id, field)?;
                }
            },
            Change::Remove { kind, id, field } => {
                s.remove(*kind, id, field)?;
                p.remove(*kind, id, field)?;
            }
            Change::PutMember {
                kind,
                id,
                field,
                member,
                meta,
                privacy,
            } => match privacy {
                Privacy::Shared => {
                    s.put_member(*kind, id, field, member, meta)?;
                    p.remove_member(*kind, id, field, member)?;
                }
                Privacy::Private => {
                    p.put_member(*kind, id, field, member, meta)?;
                    s.remove_member(*kind, id, field, member)?;
                }
            },
            Change::RemoveMember {
                kind,
                id,
                field,
                member,
            } => {
                s.remove_member(*kind, id, field, member)?;
                p.remove_member(*kind, id, field, member)?;
            }
        }
        Ok(())
    }

    /// An entity as both parts hold it, or None if neither has it.
    pub fn entity(&self, kind: Kind, id: &Id) -> Result<Option<crate::model::Entity>> {
        let shared = self.shared.doc.fields(kind, id)?;
        let private = self.private.doc.fields(kind, id)?;
        if shared.is_none() && private.is_none() {
            return Ok(None);
        }
        Ok(Some(crate::model::Entity {
            kind,
            id: id.clone(),
            shared: shared.unwrap_or_default(),
            private: private.unwrap_or_default(),
        }))
    }

    /// Every entity in the shard as it stood at `at` (seconds since the
    /// epoch): only changes made by then count.
    pub fn entities_at(&mut self, at: i64) -> Result<Vec<crate::model::Entity>> {
        let shared = heads_at(self.shared.doc.automerge(), at);
        let private = heads_at(self.private.doc.automerge(), at);
        let mut all: BTreeMap<(Kind, Id), crate::model::Entity> = BTreeMap::new();
        for (kind, id, fields) in self.shared.doc.entities(Some(&shared))? {
            all.entry((kind, id.clone()))
                .or_insert_with(|| crate::model::Entity::new(kind, id))
                .shared = fields;
        }
        for (kind, id, fields) in self.private.doc.entities(Some(&private))? {
            all.entry((kind, id.clone()))
                .or_insert_with(|| crate::model::Entity::new(kind, id))
                .private = fields;
        }
        Ok(all.into_values().collect())
    }

    /// Every entity in the shard, both parts merged.
    pub fn entities(&self) -> Result<Vec<crate::model::Entity>> {
        let mut all: BTreeMap<(Kind, Id), crate::model::Entity> = BTreeMap::new();
        for (kind, id, fields) in self.shared.doc.entities(None)? {
            all.entry((kind, id.clone()))
                .or_insert_with(|| crate::model::Entity::new(kind, id))
                .shared = fields;
        }
        for (kind, id, fields) in self.private.doc.entities(None)? {
            all.entry((kind, id.clone()))
                .or_insert_with(|| crate::model::Entity::new(kind, id))
                .private = fields;
        }
        Ok(all.into_values().collect())
    }
}

/// The heads of a document as it stood at `at`: the changes made by then
/// that no other change made by then depends on. A change stamped later
/// than one it depends on (a device's clock behind) still counts.
fn heads_at(doc: &mut AutoCommit, at: i64) -> Vec<automerge::ChangeHash> {
    let kept: Vec<(automerge::ChangeHash, Vec<automerge::ChangeHash>)> = doc
        .get_changes_meta(&[])
        .into_iter()
        .filter(|m| m.timestamp <= at)
        .map(|m| (m.hash, m.deps.clone()))
        .collect();
    let depended: std::collections::HashSet<automerge::ChangeHash> = kept
        .iter()
        .flat_map(|(_, deps)| deps.iter().copied())
        .collect();
    kept.into_iter()
        .map(|(hash, _)| hash)
        .filter(|h| !depended.contains(h))
        .collect()
}

/// The ledger's directory of automerge data.
pub struct Store {
    root: PathBuf,
    actor: ActorId,
    fs: Arc<dyn Fs>,
    ledger: chunk::LedgerId,
    /// Why this store must not be written to, when it must not.
    read_only: Option<String>,
}

/// Held while a process writes; released when dropped or when the process dies.
pub struct WriteLock {
    _file: File,
}

impl Store {
    /// Opens (creating if needed) the store under `root`. `device` is the
    /// 8-byte id of this device; each process adds 8 random bytes to make
    /// its automerge actor, so no two processes ever share an actor.
    pub fn open(root: &Path, device: [u8; 8]) -> Result<Store> {
        Store::open_with(root, device, Arc::new(StdFs))
    }

    /// [`Store::open`] with every file operation going through `fs`: for
    /// tests that record them or make them fail.
    pub fn open_with(root: &Path, device: [u8; 8], fs: Arc<dyn Fs>) -> Result<Store> {
        for dir in [root.join(Shared::DIR), root.join(Private::DIR)] {
            chunk::ensure_dir(&*fs, &dir)?;
        }
        let ledger = establish_ledger_id(&*fs, root)?;
        let mut actor = device.to_vec();
        actor.extend_from_slice(&rand::random::<[u8; 8]>());
        Ok(Store {
            root: root.to_path_buf(),
            actor: ActorId::from(actor),
            fs,
            ledger,
            read_only: None,
        })
    }

    /// The id written into every chunk of this ledger.
    pub fn ledger_id(&self) -> chunk::LedgerId {
        self.ledger
    }

    /// From now on every write fails with `why` (one line saying what is
    /// wrong and what to do); reading and quarantining go on.
    pub fn set_read_only(&mut self, why: String) {
        self.read_only = Some(why);
    }

    fn writable(&self) -> Result<()> {
        match &self.read_only {
            Some(why) => Err(Error::Invalid(why.clone())),
            None => Ok(()),
        }
    }

    /// The directory of each part of a shard, named by part.
    pub fn part_dirs(&self, shard: &Shard) -> [(&'static str, PathBuf); 2] {
        [
            (Shared::DIR, self.shard_dir::<Shared>(shard)),
            (Private::DIR, self.shard_dir::<Private>(shard)),
        ]
    }

    /// The file system this store reads and writes through.
    pub fn fs(&self) -> &dyn Fs {
        &*self.fs
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn actor(&self) -> &ActorId {
        &self.actor
    }

    /// This device's id followed by 8 new random bytes.
    fn fresh_actor(&self) -> ActorId {
        let mut bytes = self.actor.to_bytes()[..8].to_vec();
        bytes.extend_from_slice(&rand::random::<[u8; 8]>());
        ActorId::from(bytes)
    }

    fn shard_dir<P: Part>(&self, shard: &Shard) -> PathBuf {
        self.root.join(P::DIR).join(shard.name())
    }

    pub fn quarantine_dir(&self) -> PathBuf {
        self.root.join("quarantine")
    }

    fn lock_file(&self) -> Result<(PathBuf, File)> {
        let path = self.root.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        Ok((path, file))
    }

    /// The write lock if no one holds it, else None.
    pub fn try_lock(&self) -> Result<Option<WriteLock>> {
        let (path, file) = self.lock_file()?;
        match file.try_lock() {
            Ok(()) => Ok(Some(WriteLock { _file: file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }

    /// Takes the ledger's write lock, waiting up to 30 s for another writer.
    pub fn lock(&self) -> Result<WriteLock> {
        let (path, file) = self.lock_file()?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(WriteLock { _file: file }),
                Err(TryLockError::WouldBlock) if start.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::io(
                        &path,
                        io::Error::other("another kith process has held the ledger lock for 30 s"),
                    ));
                }
                Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
            }
        }
    }

    /// Shards that have a directory in either part.
    pub fn shards(&self) -> Result<Vec<Shard>> {
        let mut out = std::collections::BTreeSet::new();
        for part in [Shared::DIR, Private::DIR] {
            let dir = self.root.join(part);
            let entries = self.fs.read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
            for name in entries {
                if let Some(shard) = Shard::parse(&name) {
                    out.insert(shard);
                }
            }
        }
        Ok(out.into_iter().collect())
    }

    /// Sorted chunk file names of a shard in both parts: its on-disk version.
    pub fn shard_version(&self, shard: &Shard) -> Result<String> {
        let mut names = Vec::new();
        for (part, dir) in [
            (Shared::DIR, self.shard_dir::<Shared>(shard)),
            (Private::DIR, self.shard_dir::<Private>(shard)),
        ] {
            for name in list_chunks(&*self.fs, &dir)? {
                names.push(format!("{part}/{}", name.0));
            }
        }
        names.sort();
        Ok(names.join(","))
    }

    /// Both parts of a shard as empty documents, without reading the shard,
    /// for edits that only create new entities. Their changes depend on
    /// nothing, so they merge with whatever the shard holds,
    /// and adding a record costs the same in a ledger of any size. None when
    /// the shard has enough chunk files that the edit should load and
    /// compact it instead.
    pub fn blank_pair(&self, shard: &Shard) -> Result<Option<ShardPair>> {
        for dir in [
            self.shard_dir::<Shared>(shard),
            self.shard_dir::<Private>(shard),
        ] {
            if list_chunks(&*self.fs, &dir)?.len() + 1 >= COMPACT_AFTER {
                return Ok(None);
            }
        }
        Ok(Some(ShardPair {
            shard: shard.clone(),
            shared: self.blank(),
            private: self.blank(),
        }))
    }

    fn blank<P: Part>(&self) -> Loaded<P> {
        let mut doc = ShardDoc::<P>::empty();
        // A blank document starts its actor's sequence at 1 again, so it
        // needs an actor of its own: reusing one would give two different
        // changes the same actor and sequence number.
        doc.set_actor(&self.fresh_actor());
        Loaded {
            doc,
            files: Vec::new(),
            complete: true,
            blank: true,
        }
    }

    pub fn load_pair(&self, shard: &Shard, report: &mut LoadReport) -> Result<ShardPair> {
        Ok(ShardPair {
            shard: shard.clone(),
            shared: self.load::<Shared>(shard, report)?,
            private: self.load::<Private>(shard, report)?,
        })
    }

    /// Loads one part of a shard: every chunk verified, bad ones quarantined.
    pub fn load<P: Part>(&self, shard: &Shard, report: &mut LoadReport) -> Result<Loaded<P>> {
        let dir = self.shard_dir::<P>(shard);
        // A concurrent compaction may remove a chunk between listing and
        // reading; its content is then in a newer snapshot, so list again.
        for _ in 0..8 {
            match self.try_load::<P>(&dir, shard, report)? {
                Some(loaded) => return Ok(loaded),
                None => continue,
            }
        }
        Err(Error::io(
            &dir,
            io::Error::other("chunks kept disappearing while loading"),
        ))
    }

    fn try_load<P: Part>(
        &self,
        dir: &Path,
        shard: &Shard,
        report: &mut LoadReport,
    ) -> Result<Option<Loaded<P>>> {
        let mut names = list_chunks(&*self.fs, dir)?;
        // Snapshots first: incrementals usually build on them.
        names.sort_by_key(|(name, kind)| (*kind != ChunkKind::Snapshot, name.clone()));
        let mut doc = AutoCommit::new();
        let mut files = Vec::new();
        let mut local_report = LoadReport::default();
        // A chunk that makes automerge panic leaves the document half
        // loaded: it is quarantined and the shard loaded again without it,
        // at most once per chunk.
        let attempts = names.len() + 1;
        'attempt: for _ in 0..attempts {
            doc = AutoCommit::new();
            files.clear();
            for (name, _) in names.clone() {
                let path = dir.join(&name);
                let bytes = match self.fs.read(&path) {
                    Ok(b) => b,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(Error::io(&path, e)),
                };
                let mut panicked = false;
                let decoded = chunk::decode_full(&path, &bytes);
                if let Ok(chunk::Decoded {
                    ledger: Some(other),
                    ..
                }) = &decoded
                    && *other != self.ledger
                {
                    // Whole and valid automerge: only the id tells it
                    // does not belong here. Merging it would mix another
                    // ledger's people into this one.
                    let reason = format!(
                        "it belongs to another ledger ({}; this ledger is {})",
                        other.short(),
                        self.ledger.short()
                    );
                    let mut q = self.quarantine::<P>(shard, &path, &reason)?;
                    q.foreign = true;
                    local_report.quarantined.push(q);
                    continue;
                }
                let verdict = decoded.and_then(|chunk::Decoded { kind, payload, .. }| {
                    match load_guarded(&mut doc, payload) {
                        Ok(()) => Ok(kind),
                        Err(reason) => {
                            panicked = reason.is_none();
                            Err(Error::BadDocument {
                                path: path.clone(),
                                reason: reason.unwrap_or_else(|| {
                                    "automerge could not read it (it stopped on it)".into()
                                }),
                            })
                        }
                    }
                });
                match verdict {
                    Ok(kind) => files.push((path, kind)),
                    Err(err) => {
                        local_report.quarantined.push(self.quarantine::<P>(
                            shard,
                            &path,
                            &err.to_string(),
                        )?);
                        if panicked {
                            names.retain(|(n, _)| *n != name);
                            continue 'attempt;
                        }
                    }
                }
            }
            break;
        }
        let complete = doc.get_missing_deps(&[]).is_empty();
        if !complete {
            local_report
                .incomplete
                .push(format!("{}/{}", P::DIR, shard.name()));
        }
        report.absorb(local_report);
        let mut shard_doc = ShardDoc::<P>::from_doc(doc);
        shard_doc.set_actor(&self.actor);
        Ok(Some(Loaded {
            doc: shard_doc,
            files,
            complete,
            blank: false,
        }))
    }

    fn quarantine<P: Part>(&self, shard: &Shard, path: &Path, reason: &str) -> Result<Quarantined> {
        let qdir = self.quarantine_dir();
        chunk::ensure_dir(&*self.fs, &qdir)?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let moved_to = qdir.join(format!("{}-{}-{file_name}", P::DIR, shard.name()));
        match self.fs.rename(path, &moved_to) {
            Ok(()) => {}
            // Another process quarantined it first.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(path, e)),
        }
        if let Some(parent) = path.parent() {
            chunk::sync_dir_with(&*self.fs, parent)?;
        }
        chunk::sync_dir_with(&*self.fs, &qdir)?;
        tracing::info!(file = %path.display(), %reason, "chunk quarantined");
        Ok(Quarantined {
            file: path.to_path_buf(),
            moved_to,
            reason: reason.to_string(),
            foreign: false,
        })
    }

    /// Makes the pair's new changes durable: one incremental chunk per part
    /// that changed, or a snapshot of a part with many chunks (compaction).
    /// All or nothing: when both parts changed, an undo record covers the
    /// two chunks (see the module header), so a crash or power cut between
    /// them is taken back by the next writer; an I/O error takes the first
    /// back at once. The chunks a compaction replaces are removed only
    /// once both parts are on disk and the record is gone.
    pub fn save_pair(&self, pair: &mut ShardPair) -> Result<()> {
        if !(pair.shared.doc.has_unsaved() && pair.private.doc.has_unsaved()) {
            let retired = self.save_pair_covered(pair)?;
            self.retire(&retired);
            return Ok(());
        }
        let undo = self.begin_undo(std::slice::from_ref(&pair.shard))?;
        let saved = self
            .save_pair_covered(pair)
            .and_then(|retired| self.end_undo(&undo, &retired));
        if saved.is_err() {
            self.roll_back_or_leave(&undo);
        }
        saved
    }

    /// [`Store::save_pair`] for an edit an undo record already covers
    /// ([`Store::begin_undo`]): removes nothing, and returns the chunks its
    /// snapshots replaced, for [`Store::end_undo`] to remove once the whole
    /// edit is on disk. Takes back its own first chunk if the second
    /// cannot be written.
    pub fn save_pair_covered(&self, pair: &mut ShardPair) -> Result<Vec<PathBuf>> {
        let shared = self.write_part(&pair.shard, &mut pair.shared)?;
        let private = match self.write_part(&pair.shard, &mut pair.private) {
            Ok(w) => w,
            Err(e) => {
                if let Some(w) = shared {
                    self.unwrite(w);
                }
                return Err(e);
            }
        };
        let mut retired = Vec::new();
        if let Some(w) = shared {
            retired.extend(self.finish_part(&mut pair.shared, w, true)?);
        }
        if let Some(w) = private {
            retired.extend(self.finish_part(&mut pair.private, w, true)?);
        }
        Ok(retired)
    }

    pub fn save<P: Part>(&self, shard: &Shard, loaded: &mut Loaded<P>) -> Result<()> {
        match self.write_part(shard, loaded)? {
            Some(w) => self.finish_part(loaded, w, false).map(drop),
            None => Ok(()),
        }
    }

    /// Writes one part's new chunk durably, changing nothing else.
    fn write_part<P: Part>(
        &self,
        shard: &Shard,
        loaded: &mut Loaded<P>,
    ) -> Result<Option<Written>> {
        if !loaded.doc.has_unsaved() {
            return Ok(None);
        }
        let dir = self.shard_dir::<P>(shard);
        let kind = if !loaded.blank
            && loaded.complete
            && (loaded.files.len() + 1 >= COMPACT_AFTER || loaded.files.is_empty())
        {
            ChunkKind::Snapshot
        } else {
            ChunkKind::Incremental
        };
        self.write_chunk(&dir, loaded, kind).map(Some)
    }

    fn write_chunk<P: Part>(
        &self,
        dir: &Path,
        loaded: &mut Loaded<P>,
        kind: ChunkKind,
    ) -> Result<Written> {
        self.writable()?;
        let bytes = match kind {
            ChunkKind::Snapshot => loaded.doc.save(),
            ChunkKind::Incremental => loaded.doc.save_incremental(),
        };
        let (name, data) = chunk::encode_for(kind, &self.ledger, &bytes);
        let target = dir.join(&name);
        let existed = loaded.files.iter().any(|(p, _)| p == &target);
        let path = match chunk::write_durable_with(&*self.fs, dir, &name, &data) {
            Ok(path) => path,
            Err(e) => {
                // The rename may have landed before the directory's fsync
                // failed: the edit failed, so its chunk goes too.
                if !existed && self.fs.remove_file(&target).is_ok() {
                    let _ = chunk::sync_dir_with(&*self.fs, dir);
                }
                return Err(e);
            }
        };
        Ok(Written {
            dir: dir.to_path_buf(),
            path,
            kind,
            existed,
        })
    }

    /// Takes back a chunk [`Store::write_part`] wrote, as far as it can: the
    /// edit it belongs to failed. Errors are ignored (the caller reports the
    /// first one); a chunk left behind only holds a whole, valid change.
    fn unwrite(&self, w: Written) {
        if !w.existed && self.fs.remove_file(&w.path).is_ok() {
            let _ = chunk::sync_dir_with(&*self.fs, &w.dir);
        }
    }

    /// Records a written chunk as the part's own; after a snapshot, removes
    /// the chunks it was made from (and only those), or with `defer`
    /// returns them for the caller to remove once its edit is whole.
    fn finish_part<P: Part>(
        &self,
        loaded: &mut Loaded<P>,
        w: Written,
        defer: bool,
    ) -> Result<Vec<PathBuf>> {
        loaded.doc.mark_saved();
        if w.kind == ChunkKind::Incremental {
            loaded.files.push((w.path, w.kind));
            return Ok(Vec::new());
        }
        let replaced: Vec<PathBuf> = loaded
            .files
            .drain(..)
            .map(|(old, _)| old)
            .filter(|old| *old != w.path)
            .collect();
        loaded.files.push((w.path, w.kind));
        if defer {
            return Ok(replaced);
        }
        let mut removed = false;
        for old in &replaced {
            match self.fs.remove_file(old) {
                Ok(()) => removed = true,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(old, e)),
            }
        }
        if removed {
            chunk::sync_dir_with(&*self.fs, &w.dir)?;
        }
        Ok(Vec::new())
    }

    /// Writes the whole document as one snapshot, durably, then removes the
    /// chunks it was loaded from (and only those).
    fn compact<P: Part>(&self, dir: &Path, loaded: &mut Loaded<P>) -> Result<()> {
        let w = self.write_chunk(dir, loaded, ChunkKind::Snapshot)?;
        self.finish_part(loaded, w, false).map(drop)
    }

    /// Folds every shard's chunks into one snapshot per part.
    pub fn compact_all(&self, report: &mut LoadReport) -> Result<usize> {
        let mut n = 0;
        for shard in self.shards()? {
            let mut pair = self.load_pair(&shard, report)?;
            for (dir, loaded_files, complete) in [
                (
                    self.shard_dir::<Shared>(&shard),
                    pair.shared.files.len(),
                    pair.shared.complete,
                ),
                (
                    self.shard_dir::<Private>(&shard),
                    pair.private.files.len(),
                    pair.private.complete,
                ),
            ] {
                if loaded_files > 1 && complete {
                    n += 1;
                    if dir.ends_with(Path::new(Shared::DIR).join(shard.name())) {
                        self.compact(&dir, &mut pair.shared)?;
                    } else {
                        self.compact(&dir, &mut pair.private)?;
                    }
                }
            }
        }
        Ok(n)
    }

    /// Sorted chunk file names of one part of a shard: that part's on-disk
    /// version. Equal names mean equal content.
    pub fn part_version<P: Part>(&self, shard: &Shard) -> Result<String> {
        let mut names: Vec<String> = list_chunks(&*self.fs, &self.shard_dir::<P>(shard))?
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        names.sort();
        Ok(names.join(","))
    }

    /// The verified automerge bytes of every chunk of one part of a shard,
    /// as stored: for serving a whole shard to a peer that has none of it,
    /// without loading (and recompressing) the document. Errors if any
    /// chunk is damaged; the caller then takes the slow path.
    pub fn raw_payloads<P: Part>(&self, shard: &Shard) -> Result<Vec<Vec<u8>>> {
        let dir = self.shard_dir::<P>(shard);
        'retry: for _ in 0..8 {
            let mut out = Vec::new();
            for (name, _) in list_chunks(&*self.fs, &dir)? {
                let path = dir.join(&name);
                let bytes = match self.fs.read(&path) {
                    Ok(b) => b,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue 'retry,
                    Err(e) => return Err(Error::io(&path, e)),
                };
                let d = chunk::decode_full(&path, &bytes)?;
                if d.ledger.is_some_and(|l| l != self.ledger) {
                    // Loading quarantines it; serve nothing of it.
                    return Err(Error::BadChunk {
                        path,
                        reason: "it belongs to another ledger".into(),
                    });
                }
                out.push(d.payload.to_vec());
            }
            return Ok(out);
        }
        Err(Error::io(
            &dir,
            io::Error::other("chunks kept disappearing while reading"),
        ))
    }

    /// Stores automerge changes that arrived from elsewhere (sync) as one
    /// incremental chunk of a part, durably. The caller holds the lock.
    pub fn append<P: Part>(&self, shard: &Shard, changes: &[u8]) -> Result<()> {
        self.writable()?;
        let (name, data) = chunk::encode_for(ChunkKind::Incremental, &self.ledger, changes);
        chunk::write_durable_with(&*self.fs, &self.shard_dir::<P>(shard), &name, &data).map(|_| ())
    }

    /// [`Store::append`] for many shards at once, made durable together.
    /// Each item is (shard, private part?, changes). The caller holds the lock.
    pub fn append_many(&self, items: &[(Shard, bool, Vec<u8>)]) -> Result<()> {
        self.writable()?;
        let files: Vec<(PathBuf, Vec<u8>)> = items
            .iter()
            .map(|(shard, private, changes)| {
                let dir = if *private {
                    self.shard_dir::<Private>(shard)
                } else {
                    self.shard_dir::<Shared>(shard)
                };
                let (name, data) = chunk::encode_for(ChunkKind::Incremental, &self.ledger, changes);
                (dir.join(name), data)
            })
            .collect();
        chunk::write_many_durable_with(&*self.fs, &self.root, &files)
    }

    /// Tells a watching daemon that the ledger changed. Not durable: it is
    /// only a nudge, and a daemon also rescans when it starts.
    pub fn touch_generation(&self) {
        let path = self.root.join("generation");
        let _ = self.fs.replace(&path, &rand::random::<u64>().to_le_bytes());
    }

    /// What [`Store::touch_generation`] last wrote.
    pub fn generation(&self) -> Vec<u8> {
        read_generation(&self.root)
    }

    /// Replaces the generation, durably, before a write changes anything:
    /// a cache of this ledger recorded against the old generation (the
    /// team index) is then never taken as current, even if the write dies
    /// before its end. Call with the write lock held.
    pub fn begin_generation(&self) -> Result<()> {
        let path = self.root.join("generation");
        let existed = path.exists();
        self.fs
            .replace(&path, &rand::random::<u64>().to_le_bytes())
            .and_then(|()| self.fs.sync_file(&path))
            .map_err(|e| Error::io(&path, e))?;
        if !existed {
            chunk::sync_dir_with(&*self.fs, &self.root)?;
        }
        Ok(())
    }

    fn intent_dir(&self) -> PathBuf {
        self.root.join("intents")
    }

    /// Records, durably, what a write of several shards is about to do, so
    /// that a crash half-way can be finished by the next process to open
    /// the ledger ([`Store::intents`]). Returns the intent's file, for
    /// [`Store::clear_intent`] once every shard is written.
    pub fn write_intent(&self, bytes: &[u8]) -> Result<PathBuf> {
        self.writable()?;
        // Named by time, then content: intents are finished in the order
        // they were made.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let (hash, _) = chunk::encode(ChunkKind::Incremental, bytes);
        let hash = hash.trim_start_matches("incr-").trim_end_matches(".chunk");
        let name = format!("{nanos:024}-{hash}.intent");
        chunk::write_durable_with(&*self.fs, &self.intent_dir(), &name, bytes)
    }

    /// Intents left by writes that did not finish, oldest first, each with
    /// its file. An intent that cannot be read whole (it was never made
    /// durable, so its write never started) is skipped.
    pub fn intents(&self) -> Result<Vec<(PathBuf, Vec<u8>)>> {
        let dir = self.intent_dir();
        let mut names = match self.fs.read_dir(&dir) {
            Ok(names) => names,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&dir, e)),
        };
        // A writer killed while writing one leaves a temp file (`.tmp-…`),
        // never renamed: its write never began.
        names.retain(|n| n.ends_with(".intent") && !n.starts_with('.'));
        names.sort();
        let mut out = Vec::new();
        for name in names {
            let path = dir.join(&name);
            match self.fs.read(&path) {
                Ok(bytes) => out.push((path, bytes)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Ok(out)
    }

    /// Removes a finished intent, durably.
    pub fn clear_intent(&self, path: &Path) -> Result<()> {
        match self.fs.remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(path, e)),
        }
        chunk::sync_dir_with(&*self.fs, &self.intent_dir())
    }

    fn undo_file(&self) -> PathBuf {
        self.root.join(UNDO_FILE)
    }

    /// Writes down, durably, the chunk files both parts of each of
    /// `shards` hold now, before an edit of several chunks writes any: if
    /// the edit does not finish, every chunk not listed is its own and
    /// [`Store::roll_back`] removes it. Call with the write lock held, once
    /// any record left before is taken back, and finish with
    /// [`Store::end_undo`] or [`Store::roll_back`].
    pub fn begin_undo(&self, shards: &[Shard]) -> Result<Undo> {
        self.writable()?;
        let mut before = BTreeMap::new();
        for shard in shards {
            for (part, dir) in self.part_dirs(shard) {
                let names = list_chunks(&*self.fs, &dir)?
                    .into_iter()
                    .map(|(name, _)| name)
                    .collect();
                before.insert(format!("{part}/{}", shard.name()), names);
            }
        }
        let record = UndoRecord { before };
        let json = serde_json::to_vec(&record)
            .map_err(|e| Error::invalid(format!("cannot write an undo record: {e}")))?;
        let mut bytes = Vec::with_capacity(UNDO_MAGIC.len() + 32 + json.len());
        bytes.extend_from_slice(UNDO_MAGIC);
        bytes.extend_from_slice(&sha2::Sha256::digest(&json));
        bytes.extend_from_slice(&json);
        self.write_undo(&bytes)?;
        Ok(Undo {
            before: record.before,
        })
    }

    /// Overwrites the undo file in place and fsyncs it: one fsync, where a
    /// new file each time would need its directory's too. Only the first
    /// write in a ledger creates it (and fsyncs the directory). A power cut
    /// during the write leaves it torn, which reads as no record: no chunk
    /// of the edit was renamed into place before it was durable.
    fn write_undo(&self, bytes: &[u8]) -> Result<()> {
        let path = self.undo_file();
        let new = !self.fs.exists(&path);
        self.fs
            .replace(&path, bytes)
            .and_then(|()| self.fs.sync_file(&path))
            .map_err(|e| Error::io(&path, e))?;
        if new {
            chunk::sync_dir_with(&*self.fs, &self.root)?;
        }
        Ok(())
    }

    /// The edit `undo` covers is wholly on disk: clears its record,
    /// durably (from then on the edit is acknowledged and never taken
    /// back), then removes the chunks its snapshots replaced. An error
    /// means the record may still be there: the caller takes the edit back
    /// ([`Store::roll_back`]).
    pub fn end_undo(&self, _undo: &Undo, retired: &[PathBuf]) -> Result<()> {
        self.write_undo(b"")?;
        self.retire(retired);
        Ok(())
    }

    /// Removes chunks a snapshot replaced, once the edit that wrote the
    /// snapshot is whole. A chunk left behind (an I/O error here) holds
    /// only changes the snapshot holds too, and the next compaction
    /// removes it, so this only warns: failing would tell the user an edit
    /// that landed had not.
    fn retire(&self, chunks: &[PathBuf]) {
        let mut dirs = std::collections::BTreeSet::new();
        for old in chunks {
            match self.fs.remove_file(old) {
                Ok(()) => {
                    dirs.extend(old.parent().map(Path::to_path_buf));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(file = %old.display(), error = %e, "a chunk a snapshot replaced could not be removed");
                }
            }
        }
        for dir in dirs {
            if let Err(e) = chunk::sync_dir_with(&*self.fs, &dir) {
                tracing::warn!(error = %e, "removing replaced chunks");
            }
        }
    }

    /// Takes back the edit `undo` covers: removes every chunk its parts did
    /// not hold before it, durably, then clears the record. Idempotent:
    /// after a crash half-way, running it again finishes it.
    pub fn roll_back(&self, undo: &Undo) -> Result<()> {
        for (rel, keep) in &undo.before {
            let Some((part, shard)) = part_dir(rel) else {
                continue;
            };
            let dir = self.root.join(part).join(shard.name());
            let mut removed = false;
            for (name, _) in list_chunks(&*self.fs, &dir)? {
                if keep.contains(&name) {
                    continue;
                }
                let path = dir.join(&name);
                match self.fs.remove_file(&path) {
                    Ok(()) => removed = true,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io(&path, e)),
                }
            }
            if removed {
                chunk::sync_dir_with(&*self.fs, &dir)?;
            }
        }
        self.write_undo(b"")
    }

    /// [`Store::roll_back`] for an edit that already failed: its own error
    /// is the one to report, and a record left behind is taken back by the
    /// next writer.
    pub fn roll_back_or_leave(&self, undo: &Undo) {
        if let Err(e) = self.roll_back(undo) {
            tracing::warn!(error = %e, "could not take back a failed edit; the next command will");
        }
    }

    /// Whether the undo file holds anything (a cheap look, without the
    /// lock, before [`Store::unfinished`]).
    pub fn has_unfinished(&self) -> Result<bool> {
        let path = self.undo_file();
        match self.fs.read(&path) {
            Ok(bytes) => Ok(!bytes.is_empty()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// The undo record of an edit that never finished (its writer died, or
    /// a power cut came first), if there is one. Call with the write lock
    /// held: a live writer's record is its own business. A record that
    /// does not hold together (torn by a power cut while it was written,
    /// so its edit never began) is cleared.
    pub fn unfinished(&self) -> Result<Option<Undo>> {
        let path = self.undo_file();
        let bytes = match self.fs.read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        if bytes.is_empty() {
            return Ok(None);
        }
        let header = UNDO_MAGIC.len() + 32;
        let record = (bytes.len() >= header
            && &bytes[..UNDO_MAGIC.len()] == UNDO_MAGIC
            && sha2::Sha256::digest(&bytes[header..])[..] == bytes[UNDO_MAGIC.len()..header])
            .then(|| serde_json::from_slice::<UndoRecord>(&bytes[header..]).ok())
            .flatten();
        match record {
            Some(UndoRecord { before }) => Ok(Some(Undo { before })),
            None => {
                tracing::info!(file = %path.display(), "an undo record torn before it was whole: its edit never began");
                self.write_undo(b"")?;
                Ok(None)
            }
        }
    }

    /// Loads a shard's shared part from raw automerge bytes; used by import
    /// of whole shards and by tests.
    pub fn doc_from_bytes<P: Part>(bytes: &[u8]) -> Result<ShardDoc<P>> {
        let doc = AutoCommit::load(bytes)?;
        Ok(ShardDoc::from_doc(doc))
    }

    /// Removes temp files left by writers that died mid-write. Only files
    /// older than a minute: a live writer may be using a newer one.
    pub fn sweep_temp_files(&self) -> Result<usize> {
        let mut n = 0;
        let mut dirs = vec![self.intent_dir()];
        for shard in self.shards()? {
            dirs.push(self.shard_dir::<Shared>(&shard));
            dirs.push(self.shard_dir::<Private>(&shard));
        }
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let stale = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > Duration::from_secs(60));
                if name.to_string_lossy().starts_with(".tmp-")
                    && stale
                    && self.fs.remove_file(&entry.path()).is_ok()
                {
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}

/// The file holding a store's ledger id.
pub const LEDGER_ID_FILE: &str = "ledger.id";

/// Reads the ledger id of the store at `root`, making it if the store has
/// none: the id most of its chunks carry (`ledger.id` was lost or damaged),
/// or a new one (a new ledger, or one whose chunks all predate ids). Two
/// processes making it at once agree: the first link wins and both read it.
fn establish_ledger_id(fs: &dyn Fs, root: &Path) -> Result<chunk::LedgerId> {
    let path = root.join(LEDGER_ID_FILE);
    let damaged = match fs.read(&path) {
        Ok(bytes) => match std::str::from_utf8(&bytes)
            .ok()
            .and_then(chunk::LedgerId::parse)
        {
            Some(id) => return Ok(id),
            None => true,
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(Error::io(&path, e)),
    };
    let (found, seen) = ledger_id_of_chunks(root);
    let id = found.unwrap_or_else(chunk::LedgerId::random);
    let text = format!("{}\n", id.hex());
    if damaged {
        tracing::warn!(file = %path.display(), from_chunks = seen, "ledger id damaged; written again");
        chunk::write_durable_with(fs, root, LEDGER_ID_FILE, text.as_bytes())?;
        return Ok(id);
    }
    // Not through `fs`: linking is how concurrent first opens agree, and
    // the file is made again from the chunks if a crash loses it.
    let tmp = chunk::write_durable_with(
        fs,
        root,
        &format!(".{LEDGER_ID_FILE}.{}.new", std::process::id()),
        text.as_bytes(),
    )?;
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => chunk::sync_dir_with(fs, root)?,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io(&path, e)),
    }
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    std::str::from_utf8(&bytes)
        .ok()
        .and_then(chunk::LedgerId::parse)
        .ok_or_else(|| Error::BadChunk {
            path,
            reason: "not a ledger id".into(),
        })
}

/// The ledger id most chunks under `root` carry (None when none carries
/// one), and how many chunks carried one. Reads only each chunk's header.
fn ledger_id_of_chunks(root: &Path) -> (Option<chunk::LedgerId>, usize) {
    use std::io::Read as _;
    let mut counts: BTreeMap<chunk::LedgerId, usize> = BTreeMap::new();
    for part in [Shared::DIR, Private::DIR] {
        let Ok(shards) = std::fs::read_dir(root.join(part)) else {
            continue;
        };
        for shard in shards.flatten() {
            let Ok(files) = std::fs::read_dir(shard.path()) else {
                continue;
            };
            for file in files.flatten() {
                let name = file.file_name();
                if chunk::kind_of_name(&name.to_string_lossy()).is_none() {
                    continue;
                }
                let mut header = Vec::with_capacity(32);
                let read = std::fs::File::open(file.path())
                    .and_then(|f| f.take(32).read_to_end(&mut header));
                if read.is_ok()
                    && let Some(id) = chunk::ledger_of_header(&header)
                {
                    *counts.entry(id).or_default() += 1;
                }
            }
        }
    }
    let seen = counts.values().sum();
    let best = counts.into_iter().max_by_key(|(_, n)| *n).map(|(id, _)| id);
    (best, seen)
}

/// What a store at `root` holds as its generation (empty if none).
pub fn read_generation(root: &Path) -> Vec<u8> {
    std::fs::read(root.join("generation")).unwrap_or_default()
}

fn list_chunks(fs: &dyn Fs, dir: &Path) -> Result<Vec<(String, ChunkKind)>> {
    let entries = match fs.read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut out = Vec::new();
    for name in entries {
        if let Some(kind) = chunk::kind_of_name(&name) {
            out.push((name, kind));
        }
    }
    Ok(out)
}

/// Loads PAYLOAD into DOC. Err(Some(reason)) when automerge refuses it,
/// Err(None) when automerge panicked on it (automerge 0.12 does, inside
/// its column decoder, on some payloads behind a valid checksum): DOC must
/// then be thrown away, as it may be half changed.
pub fn load_guarded(
    doc: &mut AutoCommit,
    payload: &[u8],
) -> std::result::Result<(), Option<String>> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        doc.load_incremental(payload)
    })) {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(Some(e.to_string())),
        Err(_) => Err(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_intent_is_read_only_once_renamed_into_place_and_cleared_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), [1; 8]).unwrap();
        assert!(store.intents().unwrap().is_empty());
        // What a writer killed before its rename leaves.
        let intents = dir.path().join("intents");
        std::fs::create_dir_all(&intents).unwrap();
        std::fs::write(intents.join(".tmp-1-2-0001-ab.intent"), b"{\"wha").unwrap();
        assert!(store.intents().unwrap().is_empty());
        let path = store.write_intent(b"{}").unwrap();
        let found = store.intents().unwrap();
        assert_eq!(found, vec![(path.clone(), b"{}".to_vec())]);
        store.clear_intent(&path).unwrap();
        store.clear_intent(&path).unwrap();
        assert!(store.intents().unwrap().is_empty());
    }

    fn chunk_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| chunk::kind_of_name(n).is_some())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn name_of(store: &Store, id: &Id) -> Option<String> {
        let mut report = LoadReport::default();
        let pair = store.load_pair(&id.shard(), &mut report).unwrap();
        assert!(report.is_clean(), "{report:?}");
        pair.entity(Kind::Person, id)
            .unwrap()
            .and_then(|e| e.str("name").map(str::to_string))
    }

    /// One edit of one shard, written as a standalone edit is, or under an
    /// undo record (returning the chunks its snapshots replaced).
    fn edit(store: &Store, change: Change, covered: bool) -> Vec<PathBuf> {
        let mut report = LoadReport::default();
        let shard = change.target().1.shard();
        let mut pair = store.load_pair(&shard, &mut report).unwrap();
        pair.apply(&change).unwrap();
        pair.shared.doc.commit("test", 0);
        pair.private.doc.commit("test", 0);
        if covered {
            store.save_pair_covered(&mut pair).unwrap()
        } else {
            store.save_pair(&mut pair).unwrap();
            Vec::new()
        }
    }

    fn create(id: &Id, name: &str) -> Change {
        Change::Create {
            kind: Kind::Person,
            id: id.clone(),
            shared: Fields::from([("name".into(), Json::from(name))]),
            private: Fields::from([("email".into(), Json::from(format!("{name}@example.com")))]),
        }
    }

    fn rename(id: &Id, name: &str) -> Change {
        Change::Put {
            kind: Kind::Person,
            id: id.clone(),
            field: "name".into(),
            value: Json::from(name),
            privacy: Privacy::Shared,
        }
    }

    /// An edit of two shards that never finished (its writer died after
    /// writing every chunk, before clearing its record) is taken back
    /// whole, and the chunks its compaction replaced are still there to
    /// take back to; finished, it leaves only the snapshot.
    #[test]
    fn an_unfinished_edit_is_taken_back_whole_even_across_a_compaction() {
        for finish in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path(), [1; 8]).unwrap();
            let a = Id::random();
            let b = (0..1000)
                .map(|_| Id::random())
                .find(|b| b.shard() != a.shard())
                .unwrap();
            edit(&store, create(&a, "Edna"), false);
            let shared_a = dir.path().join(Shared::DIR).join(a.shard().name());
            // Enough chunks that the next edit of the shard compacts it.
            for i in 0..COMPACT_AFTER {
                if chunk_names(&shared_a).len() + 1 >= COMPACT_AFTER {
                    break;
                }
                edit(&store, rename(&a, &format!("Edna {i}")), false);
            }
            let before = chunk_names(&shared_a);
            assert_eq!(before.len() + 1, COMPACT_AFTER);
            let was = name_of(&store, &a);
            let undo = store.begin_undo(&[a.shard(), b.shard()]).unwrap();
            let mut retired = edit(&store, rename(&a, "Edna Miggins"), true);
            retired.extend(edit(&store, create(&b, "Albert"), true));
            assert_eq!(retired.len(), before.len(), "the compaction's chunks wait");
            assert_eq!(chunk_names(&shared_a).len(), before.len() + 1);
            assert!(store.has_unfinished().unwrap());
            if finish {
                store.end_undo(&undo, &retired).unwrap();
                assert!(!store.has_unfinished().unwrap());
                assert_eq!(store.unfinished().unwrap(), None);
                assert_eq!(chunk_names(&shared_a).len(), 1);
                assert_eq!(name_of(&store, &a).as_deref(), Some("Edna Miggins"));
                assert_eq!(name_of(&store, &b).as_deref(), Some("Albert"));
                continue;
            }
            // The writer died here: the next one finds the record.
            let again = Store::open(dir.path(), [2; 8]).unwrap();
            let found = again.unfinished().unwrap().expect("the record");
            assert_eq!(found, undo);
            let mut shards = vec![a.shard(), b.shard()];
            shards.sort();
            assert_eq!(found.shards(), shards);
            again.roll_back(&found).unwrap();
            again.roll_back(&found).unwrap();
            assert!(!again.has_unfinished().unwrap());
            assert_eq!(chunk_names(&shared_a), before);
            assert_eq!(name_of(&again, &a), was);
            assert_eq!(name_of(&again, &b), None);
            for (_, d) in again.part_dirs(&b.shard()) {
                assert!(chunk_names(&d).is_empty(), "{}", d.display());
            }
        }
    }

    /// A record torn by a power cut while it was written (its edit never
    /// began) or one naming paths outside the shards reads as nothing to
    /// take back, and removes nothing.
    #[test]
    fn a_torn_or_strange_undo_record_takes_nothing_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), [1; 8]).unwrap();
        let a = Id::random();
        edit(&store, create(&a, "Edna"), false);
        let undo = store.begin_undo(&[a.shard()]).unwrap();
        let whole = std::fs::read(dir.path().join(UNDO_FILE)).unwrap();
        std::fs::write(dir.path().join(UNDO_FILE), &whole[..whole.len() / 2]).unwrap();
        assert!(store.has_unfinished().unwrap());
        assert_eq!(store.unfinished().unwrap(), None);
        assert!(!store.has_unfinished().unwrap());
        assert_eq!(name_of(&store, &a).as_deref(), Some("Edna"));
        // A record whose directories are not shard parts touches nothing.
        let strange = Undo {
            before: BTreeMap::from([
                ("..".to_string(), Vec::new()),
                ("shared/../private".to_string(), Vec::new()),
                ("quarantine/ab".to_string(), Vec::new()),
            ]),
        };
        assert!(strange.shards().is_empty());
        store.roll_back(&strange).unwrap();
        assert_eq!(name_of(&store, &a).as_deref(), Some("Edna"));
        drop(undo);
    }

    fn one_person(name: &str) -> Vec<u8> {
        use automerge::transaction::Transactable;
        let mut doc = AutoCommit::new();
        doc.put(automerge::ROOT, format!("people/{name}"), name)
            .unwrap();
        doc.save()
    }

    fn keys_of<P: Part>(loaded: Loaded<P>) -> Vec<String> {
        use automerge::ReadDoc;
        let doc = loaded.doc.into_automerge();
        doc.keys(automerge::ROOT).collect()
    }

    /// Chunks written before ledger ids (version 1) load as this ledger's;
    /// a version 2 chunk of another ledger is quarantined, never merged;
    /// a lost `ledger.id` is made again from the chunks, so the ledger's
    /// own chunks never look foreign.
    #[test]
    fn chunks_of_another_ledger_are_quarantined_and_old_chunks_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), [1; 8]).unwrap();
        let id = store.ledger_id();
        let shard = Shard::parse("ab").unwrap();
        let sdir = dir.path().join("shared").join("ab");
        std::fs::create_dir_all(&sdir).unwrap();
        let (name, old) = chunk::encode(ChunkKind::Snapshot, &one_person("old"));
        std::fs::write(sdir.join(name), old).unwrap();
        let (name, own) = chunk::encode_for(ChunkKind::Incremental, &id, &one_person("own"));
        std::fs::write(sdir.join(name), own).unwrap();
        let other = chunk::LedgerId([9; 16]);
        let (name, foreign) =
            chunk::encode_for(ChunkKind::Incremental, &other, &one_person("stranger"));
        std::fs::write(sdir.join(&name), foreign).unwrap();
        let mut report = LoadReport::default();
        let loaded = store.load::<Shared>(&shard, &mut report).unwrap();
        let mut keys = keys_of(loaded);
        keys.sort();
        assert_eq!(keys, vec!["people/old", "people/own"]);
        assert_eq!(report.quarantined.len(), 1);
        assert!(report.quarantined[0].foreign);
        assert!(report.quarantined[0].reason.contains("another ledger"));
        assert!(!sdir.join(&name).exists());
        // ledger.id lost: made again from the chunks, the same id.
        drop(store);
        std::fs::remove_file(dir.path().join(LEDGER_ID_FILE)).unwrap();
        let again = Store::open(dir.path(), [1; 8]).unwrap();
        assert_eq!(again.ledger_id(), id);
        // Damaged: the same.
        std::fs::write(dir.path().join(LEDGER_ID_FILE), b"zz").unwrap();
        let again = Store::open(dir.path(), [1; 8]).unwrap();
        assert_eq!(again.ledger_id(), id);
        let mut report = LoadReport::default();
        let loaded = again.load::<Shared>(&shard, &mut report).unwrap();
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(keys_of(loaded).len(), 2);
        // A new ledger whose chunks all predate ids gets a new one.
        let fresh = tempfile::tempdir().unwrap();
        let a = Store::open(fresh.path(), [1; 8]).unwrap().ledger_id();
        assert_eq!(Store::open(fresh.path(), [2; 8]).unwrap().ledger_id(), a);
        assert_ne!(a, id);
    }
}
