//! The native backup format: JSON Lines, one entity per line, exactly as the
//! ledger holds it (kind, id, shared fields, private fields). Export then
//! import is a complete round trip; `--no-private` leaves out every private
//! field and every wholly private item.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use serde::Serialize;
use serde_json::Value as Json;

use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::model::{Entity, Fields, Kind, SET_FIELDS, Shard};
use crate::store::{Change, LoadReport};

/// The first line of an export, so a file says what it is.
const HEADER_KEY: &str = "kith-export";

#[derive(Debug, Default, Serialize)]
pub struct ExportSummary {
    pub entities: usize,
    pub people: usize,
    pub private_left_out: usize,
}

#[derive(Debug, Default, Serialize)]
pub struct ImportSummary {
    pub created: usize,
    /// Matched a record by the same id or address-book UID and added to it.
    pub updated: usize,
    /// Matched a record by email or phone (another source) and added to it.
    pub merged: usize,
    pub unchanged: usize,
    /// `FILE:LINE: reason` for every record that was not imported.
    pub skipped: Vec<String>,
    /// `FILE:LINE: NAME merged into NAME (ID) by email …`, one per merge.
    pub merges: Vec<String>,
    /// Nothing was written: this is what the import would do.
    pub dry_run: bool,
}

impl Ledger {
    /// Writes every entity, shard by shard, from the store itself.
    pub fn export_jsonl(
        &mut self,
        out: &mut dyn Write,
        include_private: bool,
        progress: &dyn Fn(usize, usize),
    ) -> Result<ExportSummary> {
        let io = |e| Error::io("export", e);
        let header = serde_json::json!({
            HEADER_KEY: 1,
            "exported": self.now().to_string(),
            "private": include_private,
        });
        writeln!(out, "{header}").map_err(io)?;
        let mut summary = ExportSummary::default();
        let shards = self.store().shards()?;
        for (i, shard) in shards.iter().enumerate() {
            let mut report = LoadReport::default();
            let pair = self.store().load_pair(shard, &mut report)?;
            self.report.absorb(report);
            for mut entity in pair.entities()? {
                if !include_private && !entity.private.is_empty() {
                    summary.private_left_out += 1;
                    entity.private.clear();
                    if entity.shared.is_empty() {
                        continue;
                    }
                }
                summary.entities += 1;
                summary.people += (entity.kind == Kind::Person) as usize;
                let line =
                    serde_json::to_string(&entity).map_err(|e| Error::invalid(e.to_string()))?;
                writeln!(out, "{line}").map_err(io)?;
            }
            progress(i + 1, shards.len());
        }
        out.flush().map_err(io)?;
        Ok(summary)
    }

    /// Reads a JSONL export and merges it into the ledger: new entities are
    /// created, known ones get the fields the file has. Lines that do not
    /// parse are skipped whole and reported; nothing is half-imported.
    ///
    /// The file is read twice over: first every line is checked and filed
    /// into one of 32 temporary buckets by the first character of its id,
    /// then each bucket is written as one batch. Memory stays bounded by a
    /// bucket, not by the file.
    pub fn import_jsonl(
        &mut self,
        name: &str,
        input: &mut dyn BufRead,
        dry_run: bool,
        progress: &dyn Fn(usize, usize),
    ) -> Result<ImportSummary> {
        let mut summary = ImportSummary {
            dry_run,
            ..ImportSummary::default()
        };
        let spool = tempfile::Builder::new()
            .prefix(".import-")
            .tempdir_in(self.home())
            .map_err(|e| Error::io(self.home(), e))?;
        let mut buckets: BTreeMap<char, std::io::BufWriter<std::fs::File>> = BTreeMap::new();
        let mut buf = Vec::new();
        let mut line_no = 0;
        let mut saw_content = false;
        let mut accepted = 0usize;
        loop {
            buf.clear();
            let n = input
                .read_until(b'\n', &mut buf)
                .map_err(|e| Error::io(name, e))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            if buf.contains(&0) {
                return Err(Error::BadInput {
                    file: name.into(),
                    line: line_no,
                    reason: "binary data, not a kith JSONL export".into(),
                });
            }
            let Ok(line) = std::str::from_utf8(&buf) else {
                saw_content = true;
                summary
                    .skipped
                    .push(format!("{name}:{line_no}: not UTF-8 text"));
                continue;
            };
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            saw_content = true;
            match parse_line(line) {
                Ok(Some(entity)) => {
                    let key = entity.id.as_str().chars().next().unwrap_or('0');
                    let out = match buckets.entry(key) {
                        std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                        std::collections::btree_map::Entry::Vacant(v) => {
                            let path = spool.path().join(format!("bucket-{key}"));
                            let file =
                                std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
                            v.insert(std::io::BufWriter::new(file))
                        }
                    };
                    writeln!(out, "{line}").map_err(|e| Error::io(spool.path(), e))?;
                    accepted += 1;
                }
                Ok(None) => {}
                Err(reason) => summary.skipped.push(format!("{name}:{line_no}: {reason}")),
            }
        }
        if !saw_content {
            return Err(Error::invalid(format!("{name} is empty")));
        }
        if accepted == 0 {
            let first = summary.skipped.first().cloned().unwrap_or_default();
            return Err(Error::invalid(format!(
                "{name}: nothing could be imported ({first}; {} bad lines in all)",
                summary.skipped.len()
            )));
        }
        tracing::debug!(
            lines = line_no,
            accepted,
            "import: lines checked and spooled"
        );
        if dry_run {
            return self.import_buckets(name, spool.path(), buckets, summary, progress);
        }
        self.bulk_if_empty(|ledger| {
            ledger.import_buckets(name, spool.path(), buckets, summary, progress)
        })
    }

    /// The second pass of an import: each bucket written as one batch.
    fn import_buckets(
        &mut self,
        name: &str,
        spool: &std::path::Path,
        buckets: BTreeMap<char, std::io::BufWriter<std::fs::File>>,
        mut summary: ImportSummary,
        progress: &dyn Fn(usize, usize),
    ) -> Result<ImportSummary> {
        let total = buckets.len();
        for (i, (key, writer)) in buckets.into_iter().enumerate() {
            writer
                .into_inner()
                .map_err(|e| Error::io(spool, e.into_error()))?;
            let path = spool.join(format!("bucket-{key}"));
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            let entities = parse_lines_in_parallel(&text);
            drop(text);
            let work = self.changes_for(entities, &mut summary)?;
            tracing::debug!(bucket = %key, "import: bucket parsed");
            if !summary.dry_run {
                self.write_shards(&format!("import {name}"), work)?;
            }
            tracing::debug!(bucket = %key, "import: bucket written");
            progress(i + 1, total);
        }
        Ok(summary)
    }

    /// Changes, grouped by shard, that bring the ledger up to what the
    /// imported entities say.
    fn changes_for(
        &mut self,
        entities: Vec<Entity>,
        summary: &mut ImportSummary,
    ) -> Result<Vec<(Shard, Vec<Change>)>> {
        let mut by_shard: BTreeMap<Shard, Vec<Entity>> = BTreeMap::new();
        for e in entities {
            by_shard.entry(e.id.shard()).or_default().push(e);
        }
        let mut work = Vec::with_capacity(by_shard.len());
        for (shard, entities) in by_shard {
            // Only shards the ledger has need loading to tell new from known.
            let known = if self.index().count_shard(&shard)? > 0 {
                let mut report = LoadReport::default();
                let pair = self.store().load_pair(&shard, &mut report)?;
                self.report.absorb(report);
                Some(pair)
            } else {
                None
            };
            let mut changes = Vec::new();
            for e in entities {
                let existing = match &known {
                    Some(pair) => pair.entity(e.kind, &e.id)?,
                    None => None,
                };
                match existing {
                    None => {
                        summary.created += 1;
                        changes.push(Change::Create {
                            kind: e.kind,
                            id: e.id,
                            shared: e.shared,
                            private: e.private,
                        });
                    }
                    Some(old) => {
                        let before = changes.len();
                        diff_into(&old, &e, &mut changes);
                        if changes.len() > before {
                            summary.updated += 1;
                        } else {
                            summary.unchanged += 1;
                        }
                    }
                }
            }
            if !changes.is_empty() {
                work.push((shard, changes));
            }
        }
        Ok(work)
    }
}

/// Parses lines already checked in the first pass, on every core: the
/// second pass of a large import is otherwise bound by one thread parsing.
fn parse_lines_in_parallel(text: &str) -> Vec<Entity> {
    let parse = |part: &str| -> Vec<Entity> {
        part.lines()
            .filter_map(|l| parse_line(l).ok().flatten())
            .collect()
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4);
    if threads == 1 || text.len() < 1 << 20 {
        return parse(text);
    }
    // Cut at line ends, about evenly.
    let mut parts = Vec::with_capacity(threads);
    let mut rest = text;
    for i in (1..threads).rev() {
        let target = rest.len() / (i + 1);
        // Search bytes: `target` need not fall on a character boundary, but
        // just after a newline always does.
        let cut = rest.as_bytes()[target..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(rest.len(), |n| target + n + 1);
        let (head, tail) = rest.split_at(cut);
        parts.push(head);
        rest = tail;
    }
    parts.push(rest);
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts.iter().map(|p| scope.spawn(|| parse(p))).collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// Puts for every field `new` has that `old` lacks or holds differently.
fn diff_into(old: &Entity, new: &Entity, changes: &mut Vec<Change>) {
    for (privacy, fields) in [
        (crate::model::Privacy::Shared, &new.shared),
        (crate::model::Privacy::Private, &new.private),
    ] {
        for (field, value) in fields {
            let same_place = old.privacy_of(field) == Some(privacy);
            if SET_FIELDS.contains(&field.as_str()) {
                let Json::Object(members) = value else {
                    continue;
                };
                let old_members = match old.get(field) {
                    Some(Json::Object(m)) => m.clone(),
                    _ => Default::default(),
                };
                for (member, meta) in members {
                    if same_place && old_members.get(member) == Some(meta) {
                        continue;
                    }
                    changes.push(Change::PutMember {
                        kind: new.kind,
                        id: new.id.clone(),
                        field: field.clone(),
                        member: member.clone(),
                        meta: meta.clone(),
                        privacy,
                    });
                }
            } else if !(same_place && old.get(field) == Some(value)) {
                changes.push(Change::Put {
                    kind: new.kind,
                    id: new.id.clone(),
                    field: field.clone(),
                    value: value.clone(),
                    privacy,
                });
            }
        }
    }
}

/// One line of an export: an entity, the header (None), or why not.
fn parse_line(line: &str) -> std::result::Result<Option<Entity>, String> {
    // Records are parsed straight into entities; only a line that is not
    // one is looked at again, to tell the header and plain bad JSON apart.
    let entity: Entity = match serde_json::from_str(line) {
        Ok(e) => e,
        Err(record_err) => {
            let value: Json = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
            if value.get(HEADER_KEY).is_some() {
                return Ok(None);
            }
            return Err(format!("not a kith record: {record_err}"));
        }
    };
    for fields in [&entity.shared, &entity.private] {
        check_fields(entity.kind, fields)?;
    }
    if entity.is_empty() {
        return Err("a record with no fields".into());
    }
    Ok(Some(entity))
}

fn check_fields(kind: Kind, fields: &Fields) -> std::result::Result<(), String> {
    for (field, value) in fields {
        if field.is_empty() || field.contains(':') {
            return Err(format!("bad field name '{field}'"));
        }
        let problem = if SET_FIELDS.contains(&field.as_str()) {
            match value {
                Json::Object(members) if members.values().all(Json::is_object) => None,
                Json::Object(_) => Some("has a malformed member"),
                _ => Some("must be an object of members"),
            }
        } else {
            match value {
                Json::Object(_) => Some("cannot hold an object"),
                Json::Null => Some("is null"),
                _ => None,
            }
        };
        if let Some(problem) = problem {
            return Err(format!("{} field '{field}' {problem}", kind.name()));
        }
    }
    Ok(())
}
