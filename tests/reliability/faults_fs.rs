//! A test file system for the store ([`kith::store::Fs`]): it does every
//! operation on a real directory, records it, and can fail the N-th
//! mutating one. From the record, [`crash_states`] computes what a power
//! cut after any operation could leave on disk.
//!
//! The model of a power cut: a file's data is on disk once the file was
//! fsynced (or the whole file system was, `syncfs`); before that it may be
//! gone, torn (a prefix kept) or whole. A directory entry (a creation, a
//! rename, a removal, a new directory) is on disk once its directory was
//! fsynced; before that each may be undone or kept.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use kith::store::{Fs, StdFs};

#[derive(Clone, Debug)]
pub enum Op {
    /// A new file (or one truncated and rewritten) with these bytes.
    Write {
        path: PathBuf,
        bytes: Vec<u8>,
    },
    SyncFile(PathBuf),
    SyncDir(PathBuf),
    SyncAll,
    Rename {
        from: PathBuf,
        to: PathBuf,
    },
    Remove(PathBuf),
    Mkdir(PathBuf),
    /// Not a file operation: edit number `n` of the workload returned Ok here.
    Ack(usize),
}

impl Op {
    pub fn is_sync(&self) -> bool {
        matches!(self, Op::SyncFile(_) | Op::SyncDir(_) | Op::SyncAll)
    }
}

/// Records every operation; fails the `fail_at`-th mutating one (1-based).
#[derive(Debug, Default)]
pub struct Recorder {
    pub ops: Mutex<Vec<Op>>,
    fail_at: Option<usize>,
    mutating: AtomicUsize,
    pub injected: AtomicUsize,
}

impl Recorder {
    pub fn failing_at(n: usize) -> Recorder {
        Recorder {
            fail_at: Some(n),
            ..Recorder::default()
        }
    }

    /// How many mutating operations were asked for.
    pub fn mutating(&self) -> usize {
        self.mutating.load(Ordering::SeqCst)
    }

    pub fn ack(&self, n: usize) {
        self.ops.lock().unwrap().push(Op::Ack(n));
    }

    pub fn take(&self) -> Vec<Op> {
        std::mem::take(&mut *self.ops.lock().unwrap())
    }

    /// Runs a mutating operation: fails it if it is the chosen one, else
    /// does it and records what it did, under the one lock so that the
    /// record's order is the order on disk.
    fn mutate(&self, op: impl FnOnce() -> io::Result<Vec<Op>>) -> io::Result<()> {
        let mut ops = self.ops.lock().unwrap();
        let n = self.mutating.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail_at == Some(n) {
            self.injected.fetch_add(1, Ordering::SeqCst);
            return Err(io::Error::other(format!(
                "injected I/O error at operation {n}"
            )));
        }
        ops.extend(op()?);
        Ok(())
    }
}

impl Fs for Recorder {
    fn create_new(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        self.mutate(|| {
            StdFs.create_new(path, bytes)?;
            Ok(vec![Op::Write {
                path: path.into(),
                bytes: bytes.to_vec(),
            }])
        })
    }

    fn replace(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        self.mutate(|| {
            StdFs.replace(path, bytes)?;
            Ok(vec![Op::Write {
                path: path.into(),
                bytes: bytes.to_vec(),
            }])
        })
    }

    fn sync_file(&self, path: &Path) -> io::Result<()> {
        self.mutate(|| {
            StdFs
                .sync_file(path)
                .map(|()| vec![Op::SyncFile(path.into())])
        })
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.mutate(|| StdFs.sync_dir(dir).map(|()| vec![Op::SyncDir(dir.into())]))
    }

    fn sync_all(&self, root: &Path) -> io::Result<()> {
        self.mutate(|| StdFs.sync_all(root).map(|()| vec![Op::SyncAll]))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.mutate(|| {
            StdFs.rename(from, to)?;
            Ok(vec![Op::Rename {
                from: from.into(),
                to: to.into(),
            }])
        })
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.mutate(|| {
            StdFs
                .remove_file(path)
                .map(|()| vec![Op::Remove(path.into())])
        })
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.mutate(|| {
            let mut made = Vec::new();
            let mut at = Some(dir);
            while let Some(d) = at.filter(|d| !d.as_os_str().is_empty() && !d.is_dir()) {
                made.push(Op::Mkdir(d.into()));
                at = d.parent();
            }
            made.reverse();
            StdFs.create_dir_all(dir)?;
            Ok(made)
        })
    }

    fn is_dir(&self, path: &Path) -> bool {
        StdFs.is_dir(path)
    }

    fn exists(&self, path: &Path) -> bool {
        StdFs.exists(path)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        StdFs.read(path)
    }

    fn read_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        StdFs.read_dir(dir)
    }
}

/// A directory tree as a power cut left it: directories and files.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DiskState {
    pub dirs: BTreeSet<PathBuf>,
    pub files: BTreeMap<PathBuf, Vec<u8>>,
}

impl DiskState {
    /// The tree under `root` as it is now, all of it taken as durable.
    pub fn read(root: &Path) -> DiskState {
        let mut state = DiskState {
            dirs: BTreeSet::new(),
            files: BTreeMap::new(),
        };
        let mut stack = vec![root.to_path_buf()];
        state.dirs.insert(root.to_path_buf());
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    state.dirs.insert(path.clone());
                    stack.push(path);
                } else {
                    state
                        .files
                        .insert(path.clone(), std::fs::read(&path).unwrap());
                }
            }
        }
        state
    }

    /// Writes the tree under `to` in place of `from` (its paths' prefix).
    pub fn materialize(&self, from: &Path, to: &Path) {
        for d in &self.dirs {
            std::fs::create_dir_all(to.join(d.strip_prefix(from).unwrap())).unwrap();
        }
        for (f, bytes) in &self.files {
            std::fs::write(to.join(f.strip_prefix(from).unwrap()), bytes).unwrap();
        }
    }
}

type Ino = usize;

#[derive(Clone, Debug)]
enum Entry {
    Link(PathBuf, Ino),
    Unlink(PathBuf),
    Rename(PathBuf, PathBuf),
    Mkdir(PathBuf),
}

impl Entry {
    /// The directory whose fsync makes this entry durable.
    fn dir(&self) -> PathBuf {
        let p = match self {
            Entry::Link(p, _) | Entry::Unlink(p) | Entry::Mkdir(p) => p,
            Entry::Rename(_, to) => to,
        };
        p.parent().unwrap().to_path_buf()
    }
}

/// The file system both as a process sees it and as it is on disk.
#[derive(Clone, Debug, Default)]
struct Model {
    names: BTreeMap<PathBuf, Ino>,
    dirs: BTreeSet<PathBuf>,
    data: HashMap<Ino, Vec<u8>>,
    durable_names: BTreeMap<PathBuf, Ino>,
    durable_dirs: BTreeSet<PathBuf>,
    durable_data: HashMap<Ino, Vec<u8>>,
    /// Directory entries not yet on disk, in the order they were made.
    pending: Vec<Entry>,
    next: Ino,
    root: PathBuf,
}

#[derive(Clone, Copy, Debug)]
enum Data {
    Dropped,
    Torn,
    Kept,
}

fn apply(names: &mut BTreeMap<PathBuf, Ino>, dirs: &mut BTreeSet<PathBuf>, e: &Entry) {
    match e {
        Entry::Link(p, ino) => {
            names.insert(p.clone(), *ino);
        }
        Entry::Unlink(p) => {
            names.remove(p);
        }
        Entry::Rename(from, to) => {
            if let Some(ino) = names.remove(from) {
                names.insert(to.clone(), ino);
            }
        }
        Entry::Mkdir(d) => {
            dirs.insert(d.clone());
        }
    }
}

impl Model {
    fn new(root: &Path, initial: &DiskState) -> Model {
        let mut m = Model {
            root: root.to_path_buf(),
            dirs: initial.dirs.clone(),
            durable_dirs: initial.dirs.clone(),
            ..Model::default()
        };
        for (path, bytes) in &initial.files {
            let ino = m.fresh();
            m.names.insert(path.clone(), ino);
            m.data.insert(ino, bytes.clone());
            m.durable_data.insert(ino, bytes.clone());
        }
        m.durable_names = m.names.clone();
        m
    }

    fn fresh(&mut self) -> Ino {
        self.next += 1;
        self.next
    }

    fn step(&mut self, op: &Op) {
        match op {
            Op::Write { path, bytes } => {
                let ino = match self.names.get(path) {
                    Some(&ino) => ino,
                    None => {
                        let ino = self.fresh();
                        self.names.insert(path.clone(), ino);
                        self.pending.push(Entry::Link(path.clone(), ino));
                        ino
                    }
                };
                self.data.insert(ino, bytes.clone());
            }
            Op::SyncFile(path) => {
                if let Some(&ino) = self.names.get(path) {
                    let bytes = self.data.get(&ino).cloned().unwrap_or_default();
                    self.durable_data.insert(ino, bytes);
                }
            }
            Op::SyncDir(dir) => {
                let (now, later): (Vec<Entry>, Vec<Entry>) =
                    self.pending.drain(..).partition(|e| &e.dir() == dir);
                for e in &now {
                    apply(&mut self.durable_names, &mut self.durable_dirs, e);
                }
                self.pending = later;
            }
            Op::SyncAll => {
                self.durable_names = self.names.clone();
                self.durable_dirs = self.dirs.clone();
                self.durable_data = self.data.clone();
                self.pending.clear();
            }
            Op::Rename { from, to } => {
                let e = Entry::Rename(from.clone(), to.clone());
                apply(&mut self.names, &mut self.dirs, &e);
                self.pending.push(e);
            }
            Op::Remove(path) => {
                let e = Entry::Unlink(path.clone());
                apply(&mut self.names, &mut self.dirs, &e);
                self.pending.push(e);
            }
            Op::Mkdir(dir) => {
                let e = Entry::Mkdir(dir.clone());
                apply(&mut self.names, &mut self.dirs, &e);
                self.pending.push(e);
            }
            Op::Ack(_) => {}
        }
    }

    /// What is on disk after a power cut now, keeping the pending entries
    /// `keep` says, and the data not yet synced as `data` says.
    fn cut(&self, keep: impl Fn(usize) -> bool, data: Data) -> DiskState {
        let mut names = self.durable_names.clone();
        let mut dirs = self.durable_dirs.clone();
        for (i, e) in self.pending.iter().enumerate() {
            if keep(i) {
                apply(&mut names, &mut dirs, e);
            }
        }
        // A directory whose own entry was lost takes its contents with it
        // (parents sort before their children).
        let mut kept = BTreeSet::new();
        for d in dirs {
            if d == self.root || d.parent().is_some_and(|p| kept.contains(p)) {
                kept.insert(d);
            }
        }
        let dirs = kept;
        let mut files = BTreeMap::new();
        for (path, ino) in names {
            if !path.parent().is_some_and(|p| dirs.contains(p)) {
                continue;
            }
            let now = self.data.get(&ino).cloned().unwrap_or_default();
            let synced = self.durable_data.get(&ino).cloned().unwrap_or_default();
            let bytes = match data {
                _ if now == synced => now,
                Data::Dropped => synced,
                Data::Torn => now[..now.len() / 2].to_vec(),
                Data::Kept => now,
            };
            files.insert(path, bytes);
        }
        DiskState { dirs, files }
    }

    /// The distinct states a power cut now could leave.
    fn cuts(&self) -> Vec<DiskState> {
        let all = |_| true;
        let mut out = vec![
            self.cut(|_| false, Data::Dropped),
            self.cut(all, Data::Dropped),
            self.cut(all, Data::Torn),
            self.cut(all, Data::Kept),
            self.cut(|_| false, Data::Kept),
        ];
        for undone in 0..self.pending.len() {
            out.push(self.cut(|i| i != undone, Data::Kept));
            // Entries made durable in order up to a point (a journal).
            out.push(self.cut(|i| i < undone, Data::Kept));
        }
        out.sort();
        out.dedup();
        out
    }
}

/// Every state a power cut could leave, at every fsync point (just before
/// and just after each fsync) of `ops` applied to `initial` (the tree under
/// `root`), with how many
/// edits had been acknowledged there. Distinct (state, acknowledged) only.
pub fn crash_states(root: &Path, initial: &DiskState, ops: &[Op]) -> Vec<(DiskState, usize)> {
    let mut model = Model::new(root, initial);
    let mut acked = 0;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut take = |model: &Model, acked: usize, out: &mut Vec<(DiskState, usize)>| {
        for s in model.cuts() {
            if seen.insert((s.clone(), acked)) {
                out.push((s, acked));
            }
        }
    };
    take(&model, acked, &mut out);
    for op in ops {
        if op.is_sync() {
            take(&model, acked, &mut out);
        }
        model.step(op);
        if let Op::Ack(n) = op {
            acked = *n;
        }
        if op.is_sync() || matches!(op, Op::Ack(_)) {
            take(&model, acked, &mut out);
        }
    }
    take(&model, acked, &mut out);
    out
}
