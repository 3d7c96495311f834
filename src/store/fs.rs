//! The store's window on the file system: every create, write, fsync,
//! rename, removal and read of ledger files goes through [`Fs`].
//!
//! Production uses [`StdFs`], a unit struct that calls `std::fs` and
//! nothing else. Tests hand the store their own implementation to record
//! every operation (and so compute what a power cut at each point could
//! leave on disk) or to fail the N-th one. The index (SQLite) and the
//! lock file do not go through here: SQLite keeps its own journal, and a
//! lock is released by the kernel when its process dies.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::Path;

/// The file operations the store needs. Every mutating call is one step a
/// power cut or an I/O error can land between.
pub trait Fs: Send + Sync + std::fmt::Debug {
    /// Creates `path` (which must not exist) holding `bytes`, not synced.
    fn create_new(&self, path: &Path, bytes: &[u8]) -> io::Result<()>;
    /// Creates or truncates `path` to hold `bytes`, not synced.
    fn replace(&self, path: &Path, bytes: &[u8]) -> io::Result<()>;
    /// Puts `path`'s data on disk.
    fn sync_file(&self, path: &Path) -> io::Result<()>;
    /// Puts the entries of `dir` (creations, renames, removals) on disk.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Puts everything on the file system holding `root` on disk (`syncfs`).
    fn sync_all(&self, root: &Path) -> io::Result<()>;
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    fn is_dir(&self, path: &Path) -> bool;
    fn exists(&self, path: &Path) -> bool;
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// The names in `dir` (files and directories), in no particular order.
    fn read_dir(&self, dir: &Path) -> io::Result<Vec<String>>;
}

/// The real file system: `std::fs`, nothing added.
#[derive(Clone, Copy, Debug, Default)]
pub struct StdFs;

impl Fs for StdFs {
    fn create_new(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
        f.write_all(bytes)
    }

    fn replace(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        fs::write(path, bytes)
    }

    fn sync_file(&self, path: &Path) -> io::Result<()> {
        OpenOptions::new().write(true).open(path)?.sync_all()
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn sync_all(&self, root: &Path) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let dir = File::open(root)?;
        // SAFETY: syncfs on a valid, open descriptor.
        if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }

    fn read_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir)? {
            out.push(entry?.file_name().to_string_lossy().into_owned());
        }
        Ok(out)
    }
}
