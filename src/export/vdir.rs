//! A vdir: a folder of `.vcf` files, one card each, as khard, vdirsyncer
//! and aerc keep contacts (`kith export --format vcard --vdir DIR`).
//!
//! Each person (and company, as in the one-file vCard export) is one file
//! holding the card [`super::vcard::card`] writes. A new file is named as
//! the CardDAV face names the card ([`crate::cards::file_name_of`]:
//! `<UID>.vcf`, or `kith-<id>.vcf` when the UID is not safe in a file
//! name); a card already in the folder keeps its file name, whatever it is,
//! so a tool that tracks files by name (vdirsyncer) sees an update, not a
//! removal and a new card.
//!
//! Other tools watch these files' modification times, so a file whose
//! bytes would not change is not touched. A changed file is written beside
//! its target and renamed over it once it is on disk, so a reader (or a
//! power cut) never leaves half a card under a card's name. Files are made
//! durable in batches of [`BATCH`] with one `syncfs` rather than an fsync
//! each (as the store syncs a batch of chunks): a first export of 10,000
//! people took 33 s with an fsync per file. The folder is synced once at
//! the end.
//!
//! Whose files are whose: a file belongs to kith when the UID of its one
//! card is one of kith's: `kith-<id>` of a record in the ledger, or the
//! address-book UID of one (removed records included: the index keeps
//! them). Only those are ever rewritten or removed. A file with another
//! UID, with none, with several cards, or one kith cannot read as text is
//! someone else's (a card put there by hand, another tool's) and stays as
//! it is, counted as foreign. A file of kith's that the export does not
//! cover is removed when its record was removed (or merged away), or when
//! it repeats a card another file already holds; with WHO named, the files
//! of people not named stay as they are.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Record;
use super::vcard::{self, Version};
use crate::error::{Error, Result};
use crate::import::KITH_UID_PREFIX;
use crate::ledger::Ledger;
use crate::model::{Entity, Id, Kind};
use crate::store::fs::{Fs, StdFs};

/// What one vdir export did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct VdirSummary {
    /// The folder written.
    pub dir: String,
    /// Cards written: new, or changed since the file was last written.
    pub written: usize,
    /// Cards whose file already held exactly these bytes (left untouched).
    pub unchanged: usize,
    /// Files of kith's removed: records removed or merged since, or a
    /// second file for one card.
    pub removed: usize,
    /// Files of kith's people not named in a WHO export, left as they are.
    pub not_named: usize,
    /// `.vcf` files that are not kith's, left as they are, by file name.
    pub foreign: Vec<String>,
}

/// One `.vcf` file found in the folder.
struct Found {
    name: String,
    /// The UID of its one card, if it holds exactly one card with a UID.
    uid: Option<String>,
    digest: [u8; 32],
}

/// What becomes of a file found in the folder.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// The file of the record at this position in the export.
    Record(usize),
    Remove,
    /// Kith's, of a live record this export does not cover.
    NotNamed,
    Foreign,
}

/// Cards written (unsynced) before one `syncfs` makes them all durable and
/// they are renamed into place: bounds the temporary files left if kith is
/// stopped midway.
const BATCH: usize = 1000;

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Writes `records` (from [`Ledger::export_records`]) as a vdir in `dir`,
/// making the folder if it is missing. `who_named` says the records are
/// the people a WHO export named, so kith's files of anyone else are left.
pub fn write_vdir(
    ledger: &Ledger,
    dir: &Path,
    records: &[Record],
    version: Version,
    who_named: bool,
    progress: &dyn Fn(usize, usize),
) -> Result<VdirSummary> {
    prepare(dir)?;
    let mut summary = VdirSummary {
        dir: dir.display().to_string(),
        ..VdirSummary::default()
    };
    let found = scan(dir)?;

    // Which record each UID names: its card's UID first, then `kith-<id>`
    // (a file written before the record was given an address-book UID).
    let mut by_uid: HashMap<String, usize> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        by_uid.entry(vcard::entity_uid(&r.entity)).or_insert(i);
    }
    let mut by_own_id: HashMap<String, usize> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        by_own_id
            .entry(format!("{KITH_UID_PREFIX}{}", r.entity.id))
            .or_insert(i);
    }

    let mut fates = vec![Fate::Foreign; found.len()];
    let mut file_of: Vec<Option<usize>> = vec![None; records.len()];
    // Two passes, so a file carrying a record's current UID wins over one
    // carrying its old `kith-<id>`.
    for map in [&by_uid, &by_own_id] {
        for (f, file) in found.iter().enumerate() {
            if fates[f] != Fate::Foreign {
                continue;
            }
            if let Some(&i) = file.uid.as_ref().and_then(|u| map.get(u))
                && file_of[i].is_none()
            {
                file_of[i] = Some(f);
                fates[f] = Fate::Record(i);
            }
        }
    }
    for (f, file) in found.iter().enumerate() {
        if fates[f] != Fate::Foreign {
            continue;
        }
        let Some(uid) = &file.uid else { continue };
        if by_uid.contains_key(uid) || by_own_id.contains_key(uid) {
            // A second file for a card another file holds.
            fates[f] = Fate::Remove;
            continue;
        }
        fates[f] = match known(ledger, uid)? {
            None => Fate::Foreign,
            Some(e) if e.is_deleted() || !who_named => Fate::Remove,
            Some(_) => Fate::NotNamed,
        };
    }

    // File names in use once this export is done: every file that stays,
    // and the names given to new cards.
    let mut taken: HashSet<String> = found
        .iter()
        .zip(&fates)
        .filter(|(_, fate)| **fate != Fate::Remove)
        .map(|(file, _)| file.name.clone())
        .collect();
    let mut wrote_any = false;
    let mut batch = Batch {
        dir,
        files: Vec::new(),
    };
    for (i, r) in records.iter().enumerate() {
        progress(i, records.len());
        let text = vcard::card(r, version);
        let name = match file_of[i] {
            Some(f) => {
                if found[f].digest == digest(text.as_bytes()) {
                    summary.unchanged += 1;
                    continue;
                }
                found[f].name.clone()
            }
            None => new_name(&r.entity, &mut taken)?,
        };
        batch.write(&name, text.as_bytes())?;
        summary.written += 1;
        wrote_any = true;
        if batch.files.len() >= BATCH {
            batch.commit()?;
        }
    }
    batch.commit()?;
    progress(records.len(), records.len());
    for (file, fate) in found.iter().zip(&fates) {
        match fate {
            Fate::Remove => {
                let path = dir.join(&file.name);
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    // Gone already (another tool's sync): as good.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io(path, e)),
                }
                summary.removed += 1;
                wrote_any = true;
            }
            Fate::NotNamed => summary.not_named += 1,
            Fate::Foreign => summary.foreign.push(file.name.clone()),
            Fate::Record(_) => {}
        }
    }
    if wrote_any {
        crate::store::chunk::sync_dir(dir)?;
    }
    Ok(summary)
}

/// Makes `dir` if it is missing; refuses anything that is not a folder.
fn prepare(dir: &Path) -> Result<()> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::invalid(format!(
            "{} is not a folder: --vdir writes one .vcf file per person into a folder",
            dir.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                crate::store::chunk::sync_dir(parent)?;
            }
            Ok(())
        }
        Err(e) => Err(Error::io(dir, e)),
    }
}

/// Every `.vcf` file in `dir` (by name, sorted), with its card's UID and a
/// digest of its bytes. Sub-folders, other files and links are not cards
/// of kith's and are left alone, as `kith import` leaves them.
fn scan(dir: &Path) -> Result<Vec<Found>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let is_vcf = path
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("vcf"));
        // The entry's own type: a link to a card elsewhere is not replaced.
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if !is_vcf || !is_file {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let uid = card_uid(&String::from_utf8_lossy(&bytes));
        found.push(Found {
            name,
            uid,
            digest: digest(&bytes),
        });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// The UID of the one card in `text`; None when there is no card, more
/// than one, or a card without exactly one UID.
fn card_uid(text: &str) -> Option<String> {
    // Unfolded: a long UID may continue on the next line.
    let unfolded = text
        .replace("\r\n ", "")
        .replace("\r\n\t", "")
        .replace("\n ", "")
        .replace("\n\t", "");
    let mut cards = 0;
    let mut uid = None;
    for line in unfolded.lines() {
        let Some((head, value)) = line.split_once(':') else {
            continue;
        };
        let name = head.split(';').next().unwrap_or("");
        // Without a group (`item1.UID` is still the UID).
        let name = name.rsplit('.').next().unwrap_or("").trim();
        if name.eq_ignore_ascii_case("BEGIN") && value.trim().eq_ignore_ascii_case("VCARD") {
            cards += 1;
        } else if name.eq_ignore_ascii_case("UID") {
            if uid.is_some() {
                return None;
            }
            uid = Some(unescape(value.trim()));
        }
    }
    uid.filter(|u| cards == 1 && !u.is_empty())
}

/// A vCard text value as it reads: `\,` `\;` `\\` `\n`.
fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// The record of the ledger (live or removed) a UID names, if any: one
/// `kith-<id>` kith wrote, or an address book's UID kith keeps.
fn known(ledger: &Ledger, uid: &str) -> Result<Option<Entity>> {
    let index = ledger.index();
    let is_contact = |e: &Entity| matches!(e.kind, Kind::Person | Kind::Company);
    if let Some(id) = uid
        .strip_prefix(KITH_UID_PREFIX)
        .and_then(|s| Id::parse(s).ok())
        && let Some(e) = index.entity(&id)?.filter(is_contact)
    {
        return Ok(Some(e));
    }
    let ids = index.ids(
        "SELECT id FROM handles WHERE handle = ?1 ORDER BY id LIMIT 8",
        [format!("uid:{uid}")],
    )?;
    let mut found = None;
    for id in ids {
        if let Some(e) = index.entity(&id)?.filter(is_contact) {
            // A live record with this UID outranks a removed one.
            if !e.is_deleted() {
                return Ok(Some(e));
            }
            found.get_or_insert(e);
        }
    }
    Ok(found)
}

/// The file name for a card new to the folder: the CardDAV face's, or
/// `kith-<id>.vcf` when that is taken by a file kept or another card.
fn new_name(e: &Entity, taken: &mut HashSet<String>) -> Result<String> {
    let fallback = format!("{KITH_UID_PREFIX}{}.vcf", e.id);
    for name in [crate::cards::file_name_of(e), fallback] {
        if taken.insert(name.clone()) {
            return Ok(name);
        }
    }
    Err(Error::invalid(format!(
        "no free file name for {} ({}): {KITH_UID_PREFIX}{}.vcf is another card's",
        e.str("name").unwrap_or(""),
        e.id,
        e.id
    )))
}

/// Changed cards on their way into the folder: temporary files (never
/// named `.vcf`, so no vdir reader takes one for a card) with their
/// targets. Dropped before [`Batch::commit`], the temporary files go.
struct Batch<'a> {
    dir: &'a Path,
    files: Vec<(PathBuf, PathBuf)>,
}

impl Batch<'_> {
    /// Writes one card beside its target, with the permissions of the file
    /// it will replace; not yet synced or renamed.
    fn write(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let target = self.dir.join(name);
        let tmp = self.dir.join(format!(
            ".{name}.{}-{:08x}.kith-tmp",
            std::process::id(),
            rand::random::<u32>()
        ));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)?;
            f.write_all(bytes)?;
            if let Ok(old) = std::fs::metadata(&target) {
                f.set_permissions(old.permissions())?;
            }
            Ok(())
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::io(&tmp, e));
        }
        self.files.push((tmp, target));
        Ok(())
    }

    /// Puts the batch on disk with one `syncfs`, then renames each card
    /// into place.
    fn commit(&mut self) -> Result<()> {
        if self.files.is_empty() {
            return Ok(());
        }
        StdFs
            .sync_all(self.dir)
            .map_err(|e| Error::io(self.dir, e))?;
        while let Some((tmp, target)) = self.files.pop() {
            if let Err(e) = std::fs::rename(&tmp, &target) {
                let _ = std::fs::remove_file(&tmp);
                return Err(Error::io(&target, e));
            }
        }
        Ok(())
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        for (tmp, _) in &self.files {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::card_uid;

    #[test]
    fn reads_the_one_uid_of_one_card() {
        let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Edna\r\nUID:kith-abc\r\n d\r\nEND:VCARD\r\n";
        assert_eq!(card_uid(card).as_deref(), Some("kith-abcd"));
        let params = "BEGIN:VCARD\nuid;VALUE=text:urn:uuid:1\\,2\nEND:VCARD\n";
        assert_eq!(card_uid(params).as_deref(), Some("urn:uuid:1,2"));
        assert_eq!(card_uid("BEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\n"), None);
        let two = format!("{card}{card}");
        assert_eq!(card_uid(&two), None, "two cards are not one file's card");
        assert_eq!(card_uid("not a card"), None);
    }
}
