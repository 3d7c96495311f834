//! Chunk files: the only bytes kith keeps on disk as the source of truth.
//!
//! A chunk is automerge data (a full save, `snap`, or the changes since a
//! load, `incr`) behind a small header that lets kith check it before
//! automerge sees it:
//!
//! ```text
//! "KITHCHK1"  8 bytes  magic and format version
//! kind        1 byte   1 = snapshot, 2 = incremental
//! length      8 bytes  little-endian payload length
//! sha256     32 bytes  SHA-256 of the payload
//! payload              automerge bytes
//! ```
//!
//! Files are named `{snap|incr}-{first 16 hex digits of the sha256}.chunk`, so
//! two writers never pick the same name for different bytes, and a rename can
//! never overwrite anything but identical content.

use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::fs::{Fs, StdFs};
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"KITHCHK1";
const HEADER_LEN: usize = 8 + 1 + 8 + 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkKind {
    Snapshot,
    Incremental,
}

impl ChunkKind {
    fn code(self) -> u8 {
        match self {
            ChunkKind::Snapshot => 1,
            ChunkKind::Incremental => 2,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            ChunkKind::Snapshot => "snap",
            ChunkKind::Incremental => "incr",
        }
    }
}

/// Encodes a chunk and returns its file name and bytes.
pub fn encode(kind: ChunkKind, payload: &[u8]) -> (String, Vec<u8>) {
    let digest = Sha256::digest(payload);
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.push(kind.code());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&digest);
    out.extend_from_slice(payload);
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    (format!("{}-{hex}.chunk", kind.prefix()), out)
}

/// Checks a chunk's header and checksum and returns its kind and payload.
pub fn decode<'a>(path: &Path, bytes: &'a [u8]) -> Result<(ChunkKind, &'a [u8])> {
    let bad = |reason: &str| Error::BadChunk {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if bytes.len() < HEADER_LEN {
        return Err(bad("truncated header"));
    }
    if &bytes[..8] != MAGIC {
        return Err(bad("bad magic"));
    }
    let kind = match bytes[8] {
        1 => ChunkKind::Snapshot,
        2 => ChunkKind::Incremental,
        _ => return Err(bad("unknown chunk kind")),
    };
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[9..17]);
    let len = u64::from_le_bytes(len) as usize;
    let payload = &bytes[HEADER_LEN..];
    if payload.len() != len {
        return Err(bad(&format!(
            "truncated: {} of {len} payload bytes",
            payload.len()
        )));
    }
    if Sha256::digest(payload)[..] != bytes[17..HEADER_LEN] {
        return Err(bad("checksum mismatch"));
    }
    Ok((kind, payload))
}

/// Kind of a chunk judged by its file name, or None for files that are not chunks.
pub fn kind_of_name(name: &str) -> Option<ChunkKind> {
    if !name.ends_with(".chunk") {
        None
    } else if name.starts_with("snap-") {
        Some(ChunkKind::Snapshot)
    } else if name.starts_with("incr-") {
        Some(ChunkKind::Incremental)
    } else {
        None
    }
}

/// Writes `bytes` to `dir/name` so that it is either wholly there or not at
/// all, and is on disk when this returns: temp file, fsync, rename, fsync of
/// the directory.
pub fn write_durable(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    write_durable_with(&StdFs, dir, name, bytes)
}

/// [`write_durable`] through `fs`.
pub fn write_durable_with(fs: &dyn Fs, dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    let target = dir.join(name);
    write_whole(fs, &target, bytes, true)?;
    sync_dir_with(fs, dir)?;
    Ok(target)
}

/// Writes `bytes` to a temp file beside `target` and renames it into place,
/// so `target` is either absent, old or whole. With `fsync`, the file's
/// data is on disk before the rename.
fn write_whole(fs: &dyn Fs, target: &Path, bytes: &[u8], fsync: bool) -> Result<()> {
    let dir = target.parent().unwrap_or(Path::new("."));
    ensure_dir(fs, dir)?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".tmp-{}-{}-{name}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let write = || -> io::Result<()> {
        fs.create_new(&tmp, bytes)?;
        if fsync { fs.sync_file(&tmp) } else { Ok(()) }
    };
    if let Err(e) = write() {
        let _ = fs.remove_file(&tmp);
        return Err(Error::io(&tmp, e));
    }
    if let Err(e) = fs.rename(&tmp, target) {
        let _ = fs.remove_file(&tmp);
        return Err(Error::io(target, e));
    }
    Ok(())
}

/// Creates `dir` and any missing parents, durably: the parent of each
/// directory created is fsynced, so a file made durable inside it cannot be
/// lost with the directory's own entry.
pub fn ensure_dir(fs: &dyn Fs, dir: &Path) -> Result<()> {
    if fs.is_dir(dir) {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at {
        if d.as_os_str().is_empty() || fs.is_dir(d) {
            break;
        }
        missing.push(d);
        at = d.parent();
    }
    fs.create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for d in missing.iter().rev() {
        if let Some(parent) = d.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir_with(fs, parent)?;
        }
    }
    Ok(())
}

/// Writes many files whole (temp file, rename), then makes them all
/// durable with one `syncfs` of the file system instead of two fsyncs each:
/// for a batch of synced shards, where a few hundred fsyncs would cost
/// seconds. Nothing is acknowledged before this returns; a crash before
/// it leaves at worst a damaged chunk, which loading quarantines and the
/// next sync fetches again.
pub fn write_many_durable(root: &Path, files: &[(PathBuf, Vec<u8>)]) -> Result<()> {
    write_many_durable_with(&StdFs, root, files)
}

/// [`write_many_durable`] through `fs`.
pub fn write_many_durable_with(
    fs: &dyn Fs,
    root: &Path,
    files: &[(PathBuf, Vec<u8>)],
) -> Result<()> {
    let mut written = Vec::new();
    let result = files.iter().try_for_each(|(target, bytes)| {
        // A chunk already there holds these very bytes (names are hashes):
        // it is not this batch's to take back.
        if !fs.exists(target) {
            written.push(target);
        }
        write_whole(fs, target, bytes, false)
    });
    let result = result.and_then(|()| fs.sync_all(root).map_err(|e| Error::io(root, e)));
    if result.is_err() {
        // The batch failed: take back what it wrote, so that the ledger is
        // as it was (the next sync fetches it all again).
        for target in written {
            let _ = fs.remove_file(target);
        }
        let _ = fs.sync_all(root);
    }
    result
}

/// Makes renames and removals in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    sync_dir_with(&StdFs, dir)
}

/// [`sync_dir`] through `fs`.
pub fn sync_dir_with(fs: &dyn Fs, dir: &Path) -> Result<()> {
    fs.sync_dir(dir).map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage_is_caught() {
        let (name, bytes) = encode(ChunkKind::Incremental, b"hello automerge");
        assert!(name.starts_with("incr-") && name.ends_with(".chunk"));
        let p = Path::new("x.chunk");
        assert_eq!(
            decode(p, &bytes).unwrap(),
            (ChunkKind::Incremental, &b"hello automerge"[..])
        );
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x40;
        assert!(
            decode(p, &flipped)
                .unwrap_err()
                .to_string()
                .contains("checksum")
        );
        assert!(
            decode(p, &bytes[..bytes.len() - 3])
                .unwrap_err()
                .to_string()
                .contains("truncated")
        );
        assert!(decode(p, b"KITH").is_err());
    }
}
