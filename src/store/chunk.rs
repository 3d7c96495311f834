//! Chunk files: the only bytes kith keeps on disk as the source of truth.
//!
//! A chunk is automerge data (a full save, `snap`, or the changes since a
//! load, `incr`) behind a small header that lets kith check it before
//! automerge sees it:
//!
//! ```text
//! "KITHCHK2"  8 bytes  magic and format version
//! kind        1 byte   1 = snapshot, 2 = incremental
//! ledger     16 bytes  id of the ledger the chunk was written into
//! length      8 bytes  little-endian payload length
//! sha256     32 bytes  SHA-256 of the ledger id and the payload
//! payload              automerge bytes
//! ```
//!
//! The ledger id lets a store tell its own chunks from one copied in from
//! another ledger (another home, or a teammate's replica): such a chunk is
//! whole and its automerge data valid, so nothing else would stop it being
//! merged. Version 1 chunks (`"KITHCHK1"`, no ledger field, the checksum
//! over the payload alone) were written before the field existed; they
//! still load, as belonging to whatever ledger holds them.
//!
//! Files are named `{snap|incr}-{first 16 hex digits of the sha256}.chunk`, so
//! two writers never pick the same name for different bytes, and a rename can
//! never overwrite anything but identical content.

use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::fs::{Fs, StdFs};
use crate::error::{Error, Result};

const MAGIC_V1: &[u8; 8] = b"KITHCHK1";
const MAGIC: &[u8; 8] = b"KITHCHK2";
const HEADER_LEN_V1: usize = 8 + 1 + 8 + 32;
const HEADER_LEN: usize = 8 + 1 + 16 + 8 + 32;

/// Which ledger a chunk was written into: 16 random bytes, made once per
/// ledger (see [`super::Store::ledger_id`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LedgerId(pub [u8; 16]);

impl LedgerId {
    pub fn random() -> LedgerId {
        LedgerId(rand::random())
    }

    /// 32 lowercase hex digits.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn parse(s: &str) -> Option<LedgerId> {
        let s = s.trim();
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[i * 2..i * 2 + 2], 16).ok()?;
        }
        Some(LedgerId(out))
    }

    /// The first 8 hex digits, enough to tell ledgers apart in a message.
    pub fn short(&self) -> String {
        self.hex()[..8].to_string()
    }
}

/// A chunk whose header and checksum hold.
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded<'a> {
    pub kind: ChunkKind,
    /// None for a version 1 chunk, written before chunks said.
    pub ledger: Option<LedgerId>,
    pub payload: &'a [u8],
}

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

/// Encodes a version 1 chunk (no ledger id) and returns its file name and
/// bytes. The store writes [`encode_for`]; this stays for tools and tests
/// that make chunks as kith wrote them before ledger ids.
pub fn encode(kind: ChunkKind, payload: &[u8]) -> (String, Vec<u8>) {
    let digest = Sha256::digest(payload);
    let mut out = Vec::with_capacity(HEADER_LEN_V1 + payload.len());
    out.extend_from_slice(MAGIC_V1);
    out.push(kind.code());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&digest);
    out.extend_from_slice(payload);
    (name(kind, &digest), out)
}

/// Encodes a chunk of ledger `ledger` and returns its file name and bytes.
pub fn encode_for(kind: ChunkKind, ledger: &LedgerId, payload: &[u8]) -> (String, Vec<u8>) {
    let digest = digest_v2(&ledger.0, payload);
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.push(kind.code());
    out.extend_from_slice(&ledger.0);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&digest);
    out.extend_from_slice(payload);
    (name(kind, &digest), out)
}

fn name(kind: ChunkKind, digest: &[u8]) -> String {
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}.chunk", kind.prefix())
}

/// The checksum covers the ledger id too: a flipped bit there is damage,
/// not a chunk of some other ledger.
fn digest_v2(ledger: &[u8], payload: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(ledger);
    h.update(payload);
    h.finalize().into()
}

/// Checks a chunk's header and checksum and returns its kind and payload.
pub fn decode<'a>(path: &Path, bytes: &'a [u8]) -> Result<(ChunkKind, &'a [u8])> {
    decode_full(path, bytes).map(|d| (d.kind, d.payload))
}

/// Checks a chunk's header and checksum (either version) and returns what
/// it holds, with the ledger it was written into.
pub fn decode_full<'a>(path: &Path, bytes: &'a [u8]) -> Result<Decoded<'a>> {
    let bad = |reason: &str| Error::BadChunk {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let v1 = bytes.len() >= 8 && &bytes[..8] == MAGIC_V1;
    let header = if v1 { HEADER_LEN_V1 } else { HEADER_LEN };
    if bytes.len() < header {
        return Err(bad("truncated header"));
    }
    if !v1 && &bytes[..8] != MAGIC {
        return Err(bad("bad magic"));
    }
    let kind = match bytes[8] {
        1 => ChunkKind::Snapshot,
        2 => ChunkKind::Incremental,
        _ => return Err(bad("unknown chunk kind")),
    };
    let (ledger, at) = if v1 {
        (None, 9)
    } else {
        let mut id = [0u8; 16];
        id.copy_from_slice(&bytes[9..25]);
        (Some(LedgerId(id)), 25)
    };
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[at..at + 8]);
    let len = u64::from_le_bytes(len) as usize;
    let payload = &bytes[header..];
    if payload.len() != len {
        return Err(bad(&format!(
            "truncated: {} of {len} payload bytes",
            payload.len()
        )));
    }
    let sum = &bytes[at + 8..header];
    let holds = match &ledger {
        None => Sha256::digest(payload)[..] == *sum,
        Some(id) => digest_v2(&id.0, payload)[..] == *sum,
    };
    if !holds {
        return Err(bad("checksum mismatch"));
    }
    Ok(Decoded {
        kind,
        ledger,
        payload,
    })
}

/// The ledger a chunk file says it belongs to, reading only its header:
/// None for a version 1 chunk or a file too short to say.
pub fn ledger_of_header(bytes: &[u8]) -> Option<LedgerId> {
    if bytes.len() < 25 || &bytes[..8] != MAGIC {
        return None;
    }
    let mut id = [0u8; 16];
    id.copy_from_slice(&bytes[9..25]);
    Some(LedgerId(id))
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

    #[test]
    fn version_2_says_its_ledger_and_version_1_still_reads() {
        let ledger = LedgerId([7; 16]);
        let p = Path::new("x.chunk");
        let (name, bytes) = encode_for(ChunkKind::Snapshot, &ledger, b"payload");
        assert!(name.starts_with("snap-"));
        assert_eq!(&bytes[..8], b"KITHCHK2");
        let d = decode_full(p, &bytes).unwrap();
        assert_eq!(d.ledger, Some(ledger));
        assert_eq!((d.kind, d.payload), (ChunkKind::Snapshot, &b"payload"[..]));
        assert_eq!(ledger_of_header(&bytes), Some(ledger));
        // A flipped bit in the ledger id is damage, not another ledger.
        let mut flipped = bytes.clone();
        flipped[12] ^= 1;
        assert!(
            decode_full(p, &flipped)
                .unwrap_err()
                .to_string()
                .contains("checksum")
        );
        // The same payload in another ledger gets another name.
        let (other, _) = encode_for(ChunkKind::Snapshot, &LedgerId([8; 16]), b"payload");
        assert_ne!(name, other);
        // Chunks written before ledger ids load, saying no ledger.
        let (_, old) = encode(ChunkKind::Incremental, b"old");
        let d = decode_full(p, &old).unwrap();
        assert_eq!(d.ledger, None);
        assert_eq!(d.payload, b"old");
        assert_eq!(ledger_of_header(&old), None);
        assert!(decode_full(p, &old[..20]).is_err());
        assert!(decode_full(p, &bytes[..30]).is_err());
        assert_eq!(LedgerId::parse(&ledger.hex()), Some(ledger));
        assert_eq!(LedgerId::parse("nothex"), None);
    }
}
