//! A ledger: the store (source of truth) and the index (for reading) kept in
//! step, with the settings, the device and the day it is. Every command goes
//! through here. No terminal I/O: callers pass paths, the time and a
//! progress callback, and get values and typed errors back.
//!
//! Layout of a kith home:
//!
//! ```text
//! config.toml       settings (optional)
//! device.json       this device's id and name
//! ledger/           the automerge shards (see `store`)
//! index.sqlite      the derived index (see `index`)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::error::{Error, Result};
use crate::index::Index;
use crate::model::{Entity, Id, Kind, Privacy, Shard};
use crate::settings::Settings;
use crate::store::{Change, LoadReport, Store, chunk};

/// This device: an id that prefixes every automerge actor it writes with,
/// and a name people recognise in `kith history`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Device {
    pub id: String,
    pub name: String,
}

impl Device {
    fn bytes(&self) -> [u8; 8] {
        let mut out = [0u8; 8];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(self.id.get(i * 2..i * 2 + 2).unwrap_or("00"), 16).unwrap_or(0);
        }
        out
    }

    /// Loads the device file, creating it on first use. Two processes
    /// starting at once agree: the first link wins and both read it.
    fn load_or_create(home: &Path) -> Result<Device> {
        let path = home.join("device.json");
        if let Ok(text) = std::fs::read_to_string(&path) {
            return serde_json::from_str(&text).map_err(|e| Error::Settings {
                path: path.clone(),
                reason: e.to_string(),
            });
        }
        let name = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "this device".into());
        let id: String = rand::random::<[u8; 8]>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let device = Device { id, name };
        let bytes = serde_json::to_vec_pretty(&device).unwrap_or_default();
        let tmp_name = format!("device-{}.json.new", std::process::id());
        let tmp = chunk::write_durable(home, &tmp_name, &bytes)?;
        match std::fs::hard_link(&tmp, &path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io(&path, e)),
        }
        let _ = std::fs::remove_file(&tmp);
        chunk::sync_dir(home)?;
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::Settings {
            path,
            reason: e.to_string(),
        })
    }
}

/// How a ledger is opened.
pub struct OpenOptions<'a> {
    /// The time commands act at; tests pin it.
    pub now: Timestamp,
    pub time_zone: jiff::tz::TimeZone,
    /// Told (done, total) while the index is rebuilt.
    pub progress: &'a dyn Fn(usize, usize),
}

pub struct Ledger {
    home: PathBuf,
    store: Store,
    index: Index,
    pub settings: Settings,
    pub device: Device,
    now: Timestamp,
    tz: jiff::tz::TimeZone,
    /// Problems found while loading shards, for the caller to report.
    pub report: LoadReport,
}

impl Ledger {
    /// Opens the ledger in `home`, creating it if needed, and brings the
    /// index up to date with the store.
    pub fn open(home: &Path, opts: OpenOptions<'_>) -> Result<Ledger> {
        std::fs::create_dir_all(home).map_err(|e| Error::io(home, e))?;
        let settings = Settings::load(&home.join("config.toml"))?;
        let device = Device::load_or_create(home)?;
        let store = Store::open(&home.join("ledger"), device.bytes())?;
        let index = Index::open(&home.join("index.sqlite"))?;
        let mut ledger = Ledger {
            home: home.to_path_buf(),
            store,
            index,
            settings,
            device,
            now: opts.now,
            tz: opts.time_zone,
            report: LoadReport::default(),
        };
        ledger.refresh(opts.progress)?;
        Ok(ledger)
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn now(&self) -> Timestamp {
        self.now
    }

    pub fn local_now(&self) -> jiff::Zoned {
        self.now.to_zoned(self.tz.clone())
    }

    pub fn today(&self) -> Date {
        self.now.to_zoned(self.tz.clone()).date()
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Rebuilds the index if it was never built, and re-derives shards a
    /// writer left dirty.
    fn refresh(&mut self, progress: &dyn Fn(usize, usize)) -> Result<()> {
        if !self.index.is_built() {
            let _lock = self.store.lock()?;
            // Another process may have built it while we waited.
            self.index = Index::open(&self.home.join("index.sqlite"))?;
            if !self.index.is_built() {
                self.rebuild_locked(progress)?;
            }
            return Ok(());
        }
        if self.index.dirty_shards()?.is_empty() {
            return Ok(());
        }
        let _lock = self.store.lock()?;
        let dirty = self.index.dirty_shards()?;
        self.reindex_shards(&dirty)
    }

    /// Throws the index away and derives it again from every shard.
    pub fn rebuild_index(&mut self, progress: &dyn Fn(usize, usize)) -> Result<()> {
        let _lock = self.store.lock()?;
        self.rebuild_locked(progress)
    }

    fn rebuild_locked(&mut self, progress: &dyn Fn(usize, usize)) -> Result<()> {
        self.index.clear()?;
        let shards = self.store.shards()?;
        self.index.begin()?;
        for (i, shard) in shards.iter().enumerate() {
            self.derive_shard(shard)?;
            progress(i + 1, shards.len());
        }
        self.index.mark_built()?;
        self.index.commit()
    }

    fn reindex_shards(&mut self, shards: &[Shard]) -> Result<()> {
        self.index.begin()?;
        for shard in shards {
            self.index.clear_shard(shard)?;
            self.derive_shard(shard)?;
        }
        self.index.commit()
    }

    fn derive_shard(&mut self, shard: &Shard) -> Result<()> {
        let pair = self.store.load_pair(shard, &mut self.report)?;
        for entity in pair.entities()? {
            self.index.put(&entity)?;
        }
        let version = self.store.shard_version(shard)?;
        self.index.set_shard_clean(shard, &version)
    }

    /// Applies changes durably, then updates the index. `what` describes the
    /// edit for `kith history`. Returns once every chunk is on disk.
    pub fn write(&mut self, what: &str, changes: Vec<Change>) -> Result<()> {
        let mut by_shard: BTreeMap<Shard, Vec<Change>> = BTreeMap::new();
        for change in changes {
            by_shard
                .entry(change.target().1.shard())
                .or_default()
                .push(change);
        }
        self.write_shards(what, by_shard.into_iter().collect())
    }

    /// Applies changes already grouped by shard. Shards are loaded, edited
    /// and saved on several threads; the index is updated on this one as
    /// each shard finishes, so memory stays bounded by the shards in flight.
    pub fn write_shards(&mut self, what: &str, work: Vec<(Shard, Vec<Change>)>) -> Result<()> {
        if work.is_empty() {
            return Ok(());
        }
        let _lock = self.store.lock()?;
        let shards: Vec<Shard> = work.iter().map(|(s, _)| s.clone()).collect();
        self.index.mark_dirty(&shards)?;
        let message = json!({ "device": self.device.name, "what": what }).to_string();
        let time = self.now.as_second();
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 4)
            .min(work.len());
        let queue = std::sync::Mutex::new(work.into_iter());
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<ShardOutcome>>(threads * 2);
        let store = &self.store;
        let index = &mut self.index;
        let mut report = LoadReport::default();
        let bulk = shards.len() > 8;
        std::thread::scope(|scope| -> Result<()> {
            for _ in 0..threads {
                let tx = tx.clone();
                let queue = &queue;
                let message = &message;
                scope.spawn(move || {
                    loop {
                        let next = queue.lock().map(|mut q| q.next()).unwrap_or(None);
                        let Some((shard, changes)) = next else { break };
                        let outcome = edit_shard(store, shard, &changes, message, time);
                        let failed = outcome.is_err();
                        if tx.send(outcome).is_err() || failed {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            if bulk {
                index.begin_unsynced()?;
            } else {
                index.begin()?;
            }
            let mut first_error = None;
            for outcome in rx {
                match outcome {
                    Ok(o) => {
                        if first_error.is_none()
                            && let Err(e) = apply_outcome(index, store, &o)
                        {
                            first_error = Some(e);
                        }
                        report.absorb(o.report);
                    }
                    Err(e) => {
                        first_error.get_or_insert(e);
                        // Stop handing out work; threads finish their shard.
                        if let Ok(mut q) = queue.lock() {
                            for _ in q.by_ref() {}
                        }
                    }
                }
            }
            if let Some(e) = first_error {
                // Shards stay marked dirty, so the next command re-derives
                // whatever did land.
                let _ = index.commit();
                return Err(e);
            }
            if bulk {
                index.commit_unsynced()
            } else {
                index.commit()
            }
        })?;
        self.report.absorb(report);
        Ok(())
    }

    /// Loads an entity from the store itself (not the index).
    pub fn load_entity(&mut self, kind: Kind, id: &Id) -> Result<Option<Entity>> {
        let pair = self.store.load_pair(&id.shard(), &mut self.report)?;
        pair.entity(kind, id)
    }

    pub fn entity(&self, id: &Id) -> Result<Entity> {
        self.index
            .entity(id)?
            .ok_or_else(|| Error::NotFound(id.to_string()))
    }

    pub fn now_string(&self) -> String {
        self.now.to_string()
    }

    /// Where a new item of this kind goes, unless the command says otherwise.
    pub fn default_privacy(&self, kind: Kind) -> Privacy {
        let p = &self.settings.privacy;
        match kind {
            Kind::Fact => p.facts,
            Kind::Note => p.notes,
            Kind::Link => p.relationships,
            _ => Privacy::Private,
        }
    }

    /// Compares every shard on disk with what the index was derived from,
    /// re-deriving any that differ, and verifies every chunk's checksum.
    pub fn check(&mut self) -> Result<CheckReport> {
        let _lock = self.store.lock()?;
        let versions = self.index.shard_versions()?;
        let mut report = CheckReport::default();
        let mut stale = Vec::new();
        for shard in self.store.shards()? {
            report.shards += 1;
            let mut load = LoadReport::default();
            let pair = self.store.load_pair(&shard, &mut load)?;
            drop(pair);
            let on_disk = self.store.shard_version(&shard)?;
            if !load.is_clean() || versions.get(shard.name()) != Some(&on_disk) {
                stale.push(shard);
            }
            self.report.absorb(load);
        }
        report.reindexed = stale.len();
        self.reindex_shards(&stale)?;
        report.temp_files_removed = self.store.sweep_temp_files()?;
        report.people = self
            .index
            .count("SELECT count(*) FROM people WHERE deleted=0")? as usize;
        Ok(report)
    }

    /// Folds each shard's chunks into one snapshot.
    pub fn compact(&mut self) -> Result<usize> {
        let _lock = self.store.lock()?;
        let mut report = LoadReport::default();
        let n = self.store.compact_all(&mut report)?;
        self.report.absorb(report);
        let shards = self.store.shards()?;
        self.index.begin()?;
        for shard in &shards {
            let version = self.store.shard_version(shard)?;
            self.index.set_shard_clean(shard, &version)?;
        }
        self.index.commit()?;
        Ok(n)
    }

    /// Loads both parts of the shard that holds `id`, for history.
    pub fn load_pair(&mut self, id: &Id) -> Result<crate::store::ShardPair> {
        self.store.load_pair(&id.shard(), &mut self.report)
    }
}

/// What editing one shard produced, for the index.
struct ShardOutcome {
    shard: Shard,
    /// Loading found damage: derive the whole shard again.
    whole: bool,
    entities: Vec<Entity>,
    report: LoadReport,
}

fn edit_shard(
    store: &Store,
    shard: Shard,
    changes: &[Change],
    message: &str,
    time: i64,
) -> Result<ShardOutcome> {
    let mut report = LoadReport::default();
    let mut pair = store.load_pair(&shard, &mut report)?;
    for change in changes {
        pair.apply(change)?;
    }
    pair.shared.doc.commit(message, time);
    pair.private.doc.commit(message, time);
    store.save_pair(&mut pair)?;
    let whole = !report.is_clean();
    let entities = if whole {
        pair.entities()?
    } else {
        let mut targets: Vec<(Kind, &Id)> = changes.iter().map(|c| c.target()).collect();
        targets.sort();
        targets.dedup();
        let mut out = Vec::with_capacity(targets.len());
        for (kind, id) in targets {
            if let Some(e) = pair.entity(kind, id)? {
                out.push(e);
            }
        }
        out
    };
    Ok(ShardOutcome {
        shard,
        whole,
        entities,
        report,
    })
}

fn apply_outcome(index: &mut Index, store: &Store, o: &ShardOutcome) -> Result<()> {
    if o.whole {
        index.clear_shard(&o.shard)?;
    }
    for e in &o.entities {
        index.put(e)?;
    }
    let version = store.shard_version(&o.shard)?;
    index.set_shard_clean(&o.shard, &version)
}

#[derive(Debug, Default, Serialize)]
pub struct CheckReport {
    pub shards: usize,
    pub reindexed: usize,
    pub temp_files_removed: usize,
    pub people: usize,
}

/// A field value as JSON: strings stay strings.
pub fn text(s: impl Into<String>) -> Json {
    Json::String(s.into())
}
