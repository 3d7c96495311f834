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
use crate::store::{Change, LoadReport, Store, WriteLock, chunk};

/// This device: an id that prefixes every automerge actor it writes with,
/// and a name people recognise in `kith history`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Device {
    pub id: String,
    pub name: String,
}

impl Device {
    /// What a ledger runs as while `device.json` is damaged: it reads, and
    /// its store refuses every write, so this id is never written.
    fn unknown() -> Device {
        Device {
            id: "0000000000000000".into(),
            name: "this device".into(),
        }
    }

    /// Writes `device.json` afresh for `kith check --repair`: a new random
    /// id (it only prefixes automerge actors, which each process makes
    /// unique with random bytes of its own, so nothing depends on the old
    /// one) and `name`. Replaces whatever is there.
    pub fn rebuild(home: &Path, name: &str) -> Result<Device> {
        let id: String = rand::random::<[u8; 8]>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let device = Device {
            id,
            name: name.to_string(),
        };
        let bytes = serde_json::to_vec_pretty(&device).unwrap_or_default();
        chunk::write_durable(home, "device.json", &bytes)?;
        Ok(device)
    }

    /// Why `device.json` in `home` does not read, or None if it reads (or
    /// is not there yet).
    pub fn damage(home: &Path) -> Option<String> {
        let path = home.join("device.json");
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str::<Device>(&text)
                .err()
                .map(|e| format!("{} is damaged ({e})", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => Some(format!("{} cannot be read ({e})", path.display())),
        }
    }

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
    /// Set when `device.json` does not read: the ledger then reads but
    /// refuses to write (it would not know which device writes).
    pub device_damage: Option<String>,
    now: Timestamp,
    tz: jiff::tz::TimeZone,
    /// Problems found while loading shards, for the caller to report.
    pub report: LoadReport,
}

impl Ledger {
    /// Opens the ledger in `home`, creating it if needed, and brings the
    /// index up to date with the store.
    pub fn open(home: &Path, opts: OpenOptions<'_>) -> Result<Ledger> {
        Ledger::open_with(home, opts, std::sync::Arc::new(crate::store::StdFs))
    }

    /// [`Ledger::open`] with the store's file operations going through
    /// `fs` (tests record them, or make them fail).
    pub fn open_with(
        home: &Path,
        opts: OpenOptions<'_>,
        fs: std::sync::Arc<dyn crate::store::Fs>,
    ) -> Result<Ledger> {
        std::fs::create_dir_all(home).map_err(|e| Error::io(home, e))?;
        let settings = Settings::load(&home.join("config.toml"))?;
        // A damaged device.json is not guessed afresh here (that would
        // quietly give this device a new id): reading goes on, writing
        // stops with a line saying what to do.
        let (device, device_damage) = match Device::load_or_create(home) {
            Ok(d) => (d, None),
            Err(Error::Settings { path, reason }) => (
                Device::unknown(),
                Some(format!("{} is damaged ({reason})", path.display())),
            ),
            Err(e) => return Err(e),
        };
        let mut store = Store::open_with(&home.join("ledger"), device.bytes(), fs)?;
        if let Some(damage) = &device_damage {
            store.set_read_only(format!(
                "{damage}: kith reads but will not write without it; `kith check --repair` makes it again"
            ));
        }
        let index = Index::open(&home.join("index.sqlite"))?;
        let mut ledger = Ledger {
            home: home.to_path_buf(),
            store,
            index,
            settings,
            device,
            device_damage,
            now: opts.now,
            tz: opts.time_zone,
            report: LoadReport::default(),
        };
        // An edit a crash cut short is taken back before anything is read
        // or derived from its half (unless a live writer holds the lock:
        // then it is that writer's, or that writer took it back first).
        if let Err(e) = ledger.take_back_unfinished_if_free() {
            tracing::warn!(error = %e, "could not take back an interrupted edit; the next write will retry");
        }
        ledger.refresh(opts.progress)?;
        // A merge a crash cut short is finished before anyone reads it
        // (once the ledger may be written).
        if ledger.device_damage.is_none()
            && let Err(e) = ledger.finish_intents()
        {
            tracing::warn!(error = %e, "could not finish an interrupted write; kith check will retry");
        }
        Ok(ledger)
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Moves the ledger's clock: a long-running face (`kith ui`) keeps one
    /// ledger open and acts at each request's time.
    pub fn set_now(&mut self, now: Timestamp) {
        self.now = now;
    }

    pub fn time_zone(&self) -> &jiff::tz::TimeZone {
        &self.tz
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
            let _lock = self.lock_for_write()?;
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
        // A dirty shard with the lock held is a write in progress: the index
        // still answers as of before it. Only a dirty shard nobody is
        // writing (a writer died) needs deriving again.
        let Some(_lock) = self.store.try_lock()? else {
            return Ok(());
        };
        let dirty = self.index.dirty_shards()?;
        self.reindex_shards(&dirty)
    }

    /// Throws the index away and derives it again from every shard.
    pub fn rebuild_index(&mut self, progress: &dyn Fn(usize, usize)) -> Result<()> {
        let _lock = self.lock_for_write()?;
        self.rebuild_locked(progress)
    }

    /// Takes the write lock, then takes back any edit that died before it
    /// was whole (see `store`'s header), so that nothing is written on top
    /// of half an edit.
    fn lock_for_write(&mut self) -> Result<WriteLock> {
        let lock = self.store.lock()?;
        if self.store.has_unfinished()? {
            self.take_back_unfinished()?;
        }
        Ok(lock)
    }

    /// [`Ledger::take_back_unfinished`] if there is anything to take back
    /// and nobody holds the write lock.
    fn take_back_unfinished_if_free(&mut self) -> Result<usize> {
        if !self.store.has_unfinished()? {
            return Ok(0);
        }
        match self.store.try_lock()? {
            Some(_lock) => self.take_back_unfinished(),
            None => Ok(0),
        }
    }

    /// Takes back the edit whose undo record is still there: it was never
    /// acknowledged, and may be half on disk. Its shards are marked dirty
    /// first (a crash while taking back leaves them to be derived again),
    /// then derived again. Returns how many edits (0 or 1). Call with the
    /// lock held.
    fn take_back_unfinished(&mut self) -> Result<usize> {
        let Some(undo) = self.store.unfinished()? else {
            return Ok(0);
        };
        let shards = undo.shards();
        self.index.mark_dirty(&shards)?;
        self.store.roll_back(&undo)?;
        tracing::warn!(
            shards = shards.len(),
            "took back an edit that a crash cut short (it had not been acknowledged)"
        );
        self.reindex_shards(&shards)?;
        self.store.touch_generation();
        Ok(1)
    }

    fn rebuild_locked(&mut self, progress: &dyn Fn(usize, usize)) -> Result<()> {
        self.index.clear()?;
        let shards = self.store.shards()?;
        let total = shards.len();
        let work = shards.into_iter().map(|s| (s, Vec::new())).collect();
        self.index.begin_bulk()?;
        self.index.begin_unsynced()?;
        let mut done = 0;
        let report = pipeline(
            &self.store,
            &mut self.index,
            work,
            derive_whole,
            &mut |_| {
                done += 1;
                progress(done, total);
            },
        )?;
        self.report.absorb(report);
        self.index.commit_unsynced()?;
        self.index.end_bulk()
    }

    /// Runs `f` with the index in bulk mode when it is empty: for a first
    /// import, where rebuilding the secondary indexes once at the end is far
    /// faster than maintaining them row by row.
    pub fn bulk_if_empty<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if !self.index.is_empty()? {
            return f(self);
        }
        self.index.begin_bulk()?;
        let out = f(self)?;
        self.index.end_bulk()?;
        Ok(out)
    }

    fn reindex_shards(&mut self, shards: &[Shard]) -> Result<()> {
        let work = shards.iter().map(|s| (s.clone(), Vec::new())).collect();
        self.index.begin()?;
        let result = pipeline(
            &self.store,
            &mut self.index,
            work,
            derive_whole,
            &mut |_| {},
        );
        // Whatever was derived is committed either way; failed shards stay dirty.
        let committed = self.index.commit();
        self.report.absorb(result?);
        committed
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

    /// Applies changes already grouped by shard, durably, then updates the
    /// index. See [`pipeline`] for how the work is spread.
    pub fn write_shards(&mut self, what: &str, work: Vec<(Shard, Vec<Change>)>) -> Result<()> {
        self.write_shards_with(what, work, &mut |_| {})
    }

    /// [`Ledger::write_shards`], calling `on_done` as each shard lands.
    pub fn write_shards_with(
        &mut self,
        what: &str,
        work: Vec<(Shard, Vec<Change>)>,
        on_done: &mut dyn FnMut(&Shard),
    ) -> Result<()> {
        if work.is_empty() {
            return Ok(());
        }
        let _lock = self.lock_for_write()?;
        let shards: Vec<Shard> = work.iter().map(|(s, _)| s.clone()).collect();
        self.index.mark_dirty(&shards)?;
        let message = json!({ "device": self.device.name, "what": what }).to_string();
        let time = self.now.as_second();
        // An edit of several shards is all or nothing through an undo
        // record (see `store`'s header); one shard's two parts are covered
        // by `save_pair` itself. The chunks compactions replace are
        // removed only once the record is gone.
        let undo = match shards.len() {
            1 => None,
            _ => Some(self.store.begin_undo(&shards)?),
        };
        let retired = std::sync::Mutex::new(Vec::new());
        // A bulk batch need not survive power loss: its shards are marked
        // dirty durably, so a lost batch is derived again.
        let bulk = shards.len() > 8;
        if bulk {
            self.index.begin_unsynced()?;
        } else {
            self.index.begin()?;
        }
        let covered = undo.as_ref().map(|_| &retired);
        let edit = |store: &Store, shard: Shard, changes: &[Change]| {
            edit_shard(store, shard, changes, &message, time, covered)
        };
        let result = pipeline(&self.store, &mut self.index, work, edit, on_done);
        let retired = retired.into_inner().unwrap_or_else(|e| e.into_inner());
        // Once the record is gone the edit is whole and acknowledged: from
        // there on it is never taken back (a snapshot's replaced chunks may
        // already be gone).
        let result = match (result, &undo) {
            (Ok(report), Some(undo)) => self.store.end_undo(undo, &retired).map(|()| report),
            (result, _) => result,
        };
        if let (Err(e), Some(undo)) = (&result, &undo) {
            // Take the whole edit back: its shards dirty again (dropping
            // the index rows of the half that landed), its chunks removed,
            // the shards derived again from what is left.
            tracing::debug!(error = %e, "taking back an edit of several shards");
            let marked = self.index.mark_dirty(&shards);
            self.store.roll_back_or_leave(undo);
            if marked.is_ok()
                && let Err(e) = self.reindex_shards(&shards)
            {
                tracing::warn!(error = %e, "could not derive the index again after a failed edit");
            }
            self.store.touch_generation();
            return result.map(drop);
        }
        let reversioned = self.reversion(&retired);
        // Whatever landed is committed either way; failed shards stay dirty.
        let committed = if bulk {
            self.index.commit_unsynced()
        } else {
            self.index.commit()
        };
        self.store.touch_generation();
        self.report.absorb(result?);
        reversioned.and(committed)
    }

    /// After the chunks a compaction replaced are removed, the index holds
    /// the shard's version as it now is on disk.
    fn reversion(&mut self, retired: &[PathBuf]) -> Result<()> {
        let mut shards: Vec<Shard> = retired
            .iter()
            .filter_map(|p| p.parent()?.file_name()?.to_str().and_then(Shard::parse))
            .collect();
        shards.sort();
        shards.dedup();
        for shard in shards {
            let version = self.store.shard_version(&shard)?;
            self.index.set_shard_clean(&shard, &version)?;
        }
        Ok(())
    }

    /// Stores automerge changes that arrived by sync, durably and under the
    /// write lock, then derives the index rows they affect: the same lock
    /// and dirty marks as a local edit, so a crash in between is repaired
    /// the same way. A shard whose every item names the entities it
    /// touched derives only those; any other, the whole shard.
    pub fn absorb(&mut self, items: Vec<Incoming>) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let _lock = self.lock_for_write()?;
        // A first sync into an empty replica loads like a first import:
        // secondary indexes are built once at the end.
        let bulk = self.index.is_empty()?;
        if bulk {
            self.index.begin_bulk()?;
        }
        // Per shard: the entities to derive, or None for all of them.
        let mut touched: BTreeMap<Shard, Option<Vec<(Kind, Id)>>> = BTreeMap::new();
        for item in &items {
            let slot = touched
                .entry(item.shard.clone())
                .or_insert_with(|| Some(Vec::new()));
            match (slot, &item.touched) {
                (Some(all), Some(these)) if !bulk => all.extend(these.iter().cloned()),
                (slot, _) => *slot = None,
            }
        }
        let shards: Vec<Shard> = touched.keys().cloned().collect();
        // Marks first, then the generation: the team index copies this
        // replica without its lock, and takes a copy as current only if
        // it saw no dirty mark and the same generation before and after
        // (`TeamIndex::copy`), which holds only in this order.
        self.index.mark_dirty(&shards)?;
        self.store.begin_generation()?;
        let files: Vec<(Shard, bool, Vec<u8>)> = items
            .into_iter()
            .map(|i| (i.shard, i.private, i.bytes))
            .collect();
        self.store.append_many(&files)?;
        drop(files);
        self.index.begin()?;
        let work = shards.iter().map(|s| (s.clone(), Vec::new())).collect();
        let derive = |store: &Store, shard: Shard, _: &[Change]| match &touched[&shard] {
            Some(these) => derive_touched(store, shard, these),
            None => derive_whole(store, shard, &[]),
        };
        let result = pipeline(&self.store, &mut self.index, work, derive, &mut |_| {});
        // Whatever was derived is committed either way; failed shards stay dirty.
        let committed = self.index.commit();
        self.report.absorb(result?);
        committed?;
        if bulk {
            self.index.end_bulk()?;
        }
        self.store.touch_generation();
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
        self.check_with(false)
    }

    /// [`Ledger::check`]; with `repair`, the whole index is derived again
    /// from the store (it is never the source of truth), unless a shard
    /// directory is missing: then the index is the last place what it held
    /// can still be read, and it is left as it is for those shards.
    pub fn check_with(&mut self, repair: bool) -> Result<CheckReport> {
        if self.device_damage.is_none() {
            self.finish_intents()?;
        }
        let _lock = self.lock_for_write()?;
        let versions = self.index.shard_versions()?;
        let mut report = CheckReport::default();
        // A part the index was derived from whose directory is gone: not
        // derived again (which would quietly drop what it held from the
        // index too), but reported.
        let mut gone = std::collections::BTreeSet::new();
        for (name, version) in &versions {
            let Some(shard) = Shard::parse(name) else {
                continue;
            };
            for (part, dir) in self.store.part_dirs(&shard) {
                let prefix = format!("{part}/");
                let had = version
                    .split(',')
                    .filter(|n| n.starts_with(&prefix))
                    .count();
                if had > 0 && !self.store.fs().is_dir(&dir) {
                    report.missing.push(MissingPart {
                        dir: dir.clone(),
                        chunks: had,
                    });
                    gone.insert(shard.clone());
                }
            }
        }
        let mut stale = Vec::new();
        for shard in self.store.shards()? {
            report.shards += 1;
            let mut load = LoadReport::default();
            let pair = self.store.load_pair(&shard, &mut load)?;
            drop(pair);
            let on_disk = self.store.shard_version(&shard)?;
            if (!load.is_clean() || versions.get(shard.name()) != Some(&on_disk))
                && !gone.contains(&shard)
            {
                stale.push(shard);
            }
            self.report.absorb(load);
        }
        if repair && gone.is_empty() {
            report.reindexed = report.shards;
            report.index_rebuilt = true;
            self.rebuild_locked(&|_, _| {})?;
        } else {
            report.reindexed = stale.len();
            self.reindex_shards(&stale)?;
        }
        report.temp_files_removed = self.store.sweep_temp_files()? + self.sweep_import_spools();
        report.people = self
            .index
            .count("SELECT count(*) FROM people WHERE deleted=0")? as usize;
        Ok(report)
    }

    /// Removes spool directories left by imports that were killed. Only
    /// old ones: a running import's first pass holds no lock.
    fn sweep_import_spools(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.home) else {
            return 0;
        };
        entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".import-"))
            .filter(|e| {
                e.metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > std::time::Duration::from_secs(3600))
            })
            .filter(|e| std::fs::remove_dir_all(e.path()).is_ok())
            .count()
    }

    /// Folds each shard's chunks into one snapshot.
    pub fn compact(&mut self) -> Result<usize> {
        let _lock = self.lock_for_write()?;
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

/// What loading (and perhaps editing) one shard produced, for the index.
pub(crate) struct ShardOutcome {
    pub(crate) shard: Shard,
    /// Every entity of the shard is here: replace all its index rows.
    pub(crate) whole: bool,
    pub(crate) entities: Vec<Entity>,
    /// Entities the shard no longer holds at all: their rows go.
    pub(crate) gone: Vec<Id>,
    pub(crate) report: LoadReport,
}

/// Runs `work` on up to four threads, one shard at a time each, and feeds
/// each outcome to the index on this thread as it arrives. Memory stays
/// bounded by the shards in flight; SQLite is only touched from here. On
/// the first error no new shard is started and the error is returned once
/// the threads finish.
pub(crate) fn pipeline<F>(
    store: &Store,
    index: &mut Index,
    work: Vec<(Shard, Vec<Change>)>,
    job: F,
    on_done: &mut dyn FnMut(&Shard),
) -> Result<LoadReport>
where
    F: Fn(&Store, Shard, &[Change]) -> Result<ShardOutcome> + Sync,
{
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4)
        .min(work.len().max(1));
    let queue = std::sync::Mutex::new(work.into_iter());
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<ShardOutcome>>(threads * 2);
    let mut report = LoadReport::default();
    let mut first_error = None;
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (queue, job) = (&queue, &job);
            scope.spawn(move || {
                loop {
                    let next = queue.lock().map(|mut q| q.next()).unwrap_or(None);
                    let Some((shard, changes)) = next else { break };
                    let outcome = job(store, shard, &changes);
                    let failed = outcome.is_err();
                    if tx.send(outcome).is_err() || failed {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for outcome in rx {
            let applied = outcome.and_then(|o| {
                apply_outcome(index, store, &o)?;
                on_done(&o.shard);
                report.absorb(o.report);
                Ok(())
            });
            if let Err(e) = applied {
                first_error.get_or_insert(e);
                if let Ok(mut q) = queue.lock() {
                    q.by_ref().for_each(drop);
                }
            }
        }
    });
    match first_error {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// Loads a shard and hands over all its entities.
fn derive_whole(store: &Store, shard: Shard, _: &[Change]) -> Result<ShardOutcome> {
    let mut report = LoadReport::default();
    let pair = store.load_pair(&shard, &mut report)?;
    Ok(ShardOutcome {
        entities: pair.entities()?,
        gone: Vec::new(),
        shard,
        whole: true,
        report,
    })
}

/// Loads a shard and hands over the entities named (all of them if
/// loading found damage): what changes that arrived by sync touched.
fn derive_touched(store: &Store, shard: Shard, touched: &[(Kind, Id)]) -> Result<ShardOutcome> {
    let mut report = LoadReport::default();
    let pair = store.load_pair(&shard, &mut report)?;
    if !report.is_clean() {
        return Ok(ShardOutcome {
            entities: pair.entities()?,
            gone: Vec::new(),
            shard,
            whole: true,
            report,
        });
    }
    let mut keys: Vec<&(Kind, Id)> = touched.iter().collect();
    keys.sort();
    keys.dedup();
    let (mut entities, mut gone) = (Vec::with_capacity(keys.len()), Vec::new());
    for (kind, id) in keys {
        match pair.entity(*kind, id)? {
            Some(e) => entities.push(e),
            None => gone.push(id.clone()),
        }
    }
    Ok(ShardOutcome {
        entities,
        gone,
        shard,
        whole: false,
        report,
    })
}

/// Loads a shard, applies changes, saves durably, and hands over the
/// entities the changes touched (all of them if loading found damage).
///
/// With `covered`, an undo record of the whole edit is already there: the
/// chunks this shard's snapshots replace are handed over, to be removed
/// once every shard of the edit is on disk.
fn edit_shard(
    store: &Store,
    shard: Shard,
    changes: &[Change],
    message: &str,
    time: i64,
    covered: Option<&std::sync::Mutex<Vec<PathBuf>>>,
) -> Result<ShardOutcome> {
    let mut report = LoadReport::default();
    let only_creates = changes.iter().all(|c| matches!(c, Change::Create { .. }));
    let blank = if only_creates {
        store.blank_pair(&shard)?
    } else {
        None
    };
    let mut pair = match blank {
        Some(pair) => pair,
        None => store.load_pair(&shard, &mut report)?,
    };
    pair.apply_all(changes)?;
    pair.shared.doc.commit(message, time);
    pair.private.doc.commit(message, time);
    match covered {
        Some(retired) => {
            let replaced = store.save_pair_covered(&mut pair)?;
            if let Ok(mut all) = retired.lock() {
                all.extend(replaced);
            }
        }
        None => store.save_pair(&mut pair)?,
    }
    let whole = !report.is_clean();
    let (entities, gone) = if whole {
        (pair.entities()?, Vec::new())
    } else {
        touched_entities(&pair, changes)?
    };
    Ok(ShardOutcome {
        shard,
        whole,
        entities,
        gone,
        report,
    })
}

/// The entities a batch of changes touched, as the shard now holds them,
/// and those it no longer holds. An entity whose only change was its
/// creation is taken from the change itself: reading it back from
/// automerge would cost more than writing it.
fn touched_entities(
    pair: &crate::store::ShardPair,
    changes: &[Change],
) -> Result<(Vec<Entity>, Vec<Id>)> {
    let mut count: std::collections::HashMap<(Kind, &Id), usize> = Default::default();
    for c in changes {
        *count.entry(c.target()).or_default() += 1;
    }
    let mut out = Vec::with_capacity(count.len());
    let mut read_back: Vec<(Kind, &Id)> = Vec::new();
    for c in changes {
        match c {
            Change::Create {
                kind,
                id,
                shared,
                private,
            } if count[&(*kind, id)] == 1 => out.push(Entity {
                kind: *kind,
                id: id.clone(),
                shared: shared.clone(),
                private: private.clone(),
            }),
            other => read_back.push(other.target()),
        }
    }
    read_back.sort();
    read_back.dedup();
    let mut gone = Vec::new();
    for (kind, id) in read_back {
        match pair.entity(kind, id)? {
            Some(e) => out.push(e),
            None => gone.push(id.clone()),
        }
    }
    Ok((out, gone))
}

fn apply_outcome(index: &mut Index, store: &Store, o: &ShardOutcome) -> Result<()> {
    if o.whole {
        index.clear_shard(&o.shard)?;
    }
    for id in &o.gone {
        index.remove(id)?;
    }
    for e in &o.entities {
        index.put(e)?;
    }
    let version = store.shard_version(&o.shard)?;
    index.set_shard_clean(&o.shard, &version)
}

/// Changes that arrived by sync for one part of one shard, as
/// [`Ledger::absorb`] stores them.
#[derive(Clone, Debug)]
pub struct Incoming {
    pub shard: Shard,
    /// The private part (from the owner's own device), or the shared one.
    pub private: bool,
    /// The changes, as automerge's `save_after` bytes.
    pub bytes: Vec<u8>,
    /// The entities the changes touched, when the receiver could tell
    /// (it diffed its copy before and after); None derives the whole shard.
    pub touched: Option<Vec<(Kind, Id)>>,
}

impl Incoming {
    /// Changes whose effect is not known: the whole shard is derived again.
    pub fn whole(shard: Shard, private: bool, bytes: Vec<u8>) -> Self {
        Incoming {
            shard,
            private,
            bytes,
            touched: None,
        }
    }
}

#[derive(Debug, Default, Serialize)]
pub struct CheckReport {
    pub shards: usize,
    pub reindexed: usize,
    pub temp_files_removed: usize,
    pub people: usize,
    /// The whole index was derived again (`--repair`).
    pub index_rebuilt: bool,
    /// Shard parts the index was derived from whose directory is gone.
    pub missing: Vec<MissingPart>,
}

/// A shard part's directory that is gone, and how many chunk files the
/// index last saw in it.
#[derive(Debug, Clone, Serialize)]
pub struct MissingPart {
    pub dir: PathBuf,
    pub chunks: usize,
}

/// A field value as JSON: strings stay strings.
pub fn text(s: impl Into<String>) -> Json {
    Json::String(s.into())
}
