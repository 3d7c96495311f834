//! The derived index: a SQLite file that answers every read quickly and is
//! never the source of truth. It can be deleted at any time; kith rebuilds it
//! from the automerge shards.
//!
//! Freshness: writers mark the shards they are about to change as dirty (a
//! durable SQLite commit) before writing any chunk, and clear the mark after
//! the index rows are updated. A reader that finds a dirty shard (a writer
//! died between the two) re-derives that shard before answering. Each shard
//! also records the chunk names it was derived from, which `kith check`
//! compares with the disk.

pub mod search;
pub mod team;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value as Json;

use crate::error::{Error, Result};
use crate::model::{Entity, Id, Kind, PartialDate, Shard};

/// Bump when the schema or what is derived changes: the index is rebuilt.
pub(crate) const SCHEMA_VERSION: &str = "18";

/// `entities` holds each record's two parts as JSON, and its kind as a
/// number ([`kind_code`]); `kind` and `json` (the record as
/// `serde_json::to_string` writes it) are computed when read. Storing the
/// record's kind, id and part names once per row instead was a third of the
/// table: 82 MB of 303 at 100,000 people with 1,000,000 interactions.
///
/// A person's row in `people`, and a fact's, note's or link's in `items`,
/// has the rowid of its record in `entities`, and `tags.row` is the tagged
/// record's, so lists reach the person and the record without a lookup by
/// id. A person's tag rows also copy `deleted` and `sort_key` from
/// `people` (a company's have no sort key), so `list --tag` reads the
/// tag's index entries already in list order and then only the records:
/// one page read per person where it read the tag row, the person by id
/// and the person's row, and sorted them.
const SCHEMA: &str = r#"
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE shards(shard TEXT PRIMARY KEY, version TEXT NOT NULL DEFAULT '', dirty INTEGER NOT NULL DEFAULT 0);
CREATE TABLE entities(rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, k INTEGER NOT NULL, shared TEXT, private TEXT, kind TEXT GENERATED ALWAYS AS (CASE k WHEN 0 THEN 'person' WHEN 1 THEN 'company' WHEN 2 THEN 'fact' WHEN 3 THEN 'note' WHEN 4 THEN 'link' WHEN 5 THEN 'interaction' WHEN 6 THEN 'follow-up' END) VIRTUAL, json TEXT GENERATED ALWAYS AS ('{"kind":"' || kind || '","id":"' || id || '"' || CASE WHEN shared IS NULL THEN '' ELSE ',"shared":' || shared END || CASE WHEN private IS NULL THEN '' ELSE ',"private":' || private END || '}') VIRTUAL);
CREATE TABLE people(id TEXT PRIMARY KEY, name TEXT NOT NULL, name_key TEXT NOT NULL, sort_key TEXT NOT NULL, company TEXT, birthday TEXT, birthday_md INTEGER, anniversary TEXT, anniversary_md INTEGER, cadence INTEGER, since TEXT, deleted INTEGER NOT NULL, last TEXT, touch_due TEXT);
CREATE INDEX people_touch ON people(touch_due, name) WHERE deleted = 0;
CREATE INDEX people_removed ON people(id) WHERE deleted = 1;
CREATE INDEX people_name ON people(name_key);
CREATE INDEX people_sort ON people(sort_key);
CREATE INDEX people_company ON people(company);
CREATE INDEX people_birthday ON people(birthday_md, deleted, name);
CREATE INDEX people_anniversary ON people(anniversary_md, deleted, name);
CREATE INDEX people_cadence ON people(cadence);
CREATE TABLE companies(id TEXT PRIMARY KEY, name TEXT NOT NULL, name_key TEXT NOT NULL, domain TEXT, deleted INTEGER NOT NULL);
CREATE INDEX companies_name ON companies(name_key);
CREATE TABLE tags(tag TEXT NOT NULL, id TEXT NOT NULL, row INTEGER NOT NULL, deleted INTEGER NOT NULL, sort_key TEXT);
CREATE INDEX tags_tag ON tags(tag, deleted, sort_key, row);
CREATE INDEX tags_id ON tags(id);
CREATE TABLE emails(email TEXT NOT NULL, id TEXT NOT NULL, domain TEXT NOT NULL);
CREATE INDEX emails_email ON emails(email);
CREATE INDEX emails_id ON emails(id);
CREATE INDEX emails_domain ON emails(domain);
CREATE TABLE handles(handle TEXT NOT NULL, id TEXT NOT NULL);
CREATE INDEX handles_handle ON handles(handle);
CREATE INDEX handles_id ON handles(id);
CREATE TABLE items(id TEXT PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL, other TEXT, at TEXT);
CREATE INDEX items_subject ON items(subject);
CREATE INDEX items_other ON items(other);
CREATE TABLE involved(interaction TEXT NOT NULL, person TEXT NOT NULL, at TEXT NOT NULL, channel TEXT NOT NULL, direction TEXT);
CREATE INDEX involved_person ON involved(person, at);
CREATE INDEX involved_interaction ON involved(interaction);
CREATE TABLE follow_ups(id TEXT PRIMARY KEY, person TEXT NOT NULL, due TEXT NOT NULL, done INTEGER NOT NULL);
CREATE INDEX follow_ups_open ON follow_ups(done, due);
CREATE INDEX follow_ups_person ON follow_ups(person, done, due);
CREATE VIRTUAL TABLE names USING fts5(text, content='', contentless_delete=1, tokenize='trigram remove_diacritics 1');
CREATE VIRTUAL TABLE texts USING fts5(text, content='', contentless_delete=1, detail=none, tokenize='unicode61 remove_diacritics 2');
"#;

/// Whether an index error means another process holds the file for now.
fn is_busy(err: &Error) -> bool {
    use rusqlite::ffi::ErrorCode;
    matches!(
        err,
        Error::Index {
            source: rusqlite::Error::SqliteFailure(e, _),
            ..
        } if matches!(e.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Whether an index error means the file itself is damaged.
fn is_damage(err: &Error) -> bool {
    use rusqlite::ffi::ErrorCode;
    matches!(
        err,
        Error::Index {
            source: rusqlite::Error::SqliteFailure(e, _),
            ..
        } if matches!(e.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

/// Opens a SQLite file that waits up to 30 s for another process's write,
/// and runs `pragmas` on it.
fn connect(path: &Path, pragmas: &str) -> Result<Connection> {
    let wrap = |source| Error::Index {
        path: path.to_path_buf(),
        source,
    };
    let conn = Connection::open(path).map_err(wrap)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(wrap)?;
    conn.execute_batch(pragmas).map_err(wrap)?;
    Ok(conn)
}

/// Deletes a SQLite file with its WAL and shared-memory files, if present.
fn remove_files(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// The id range a shard's entities fall in: ids start with the shard's name.
fn shard_range(shard: &Shard) -> [String; 2] {
    [shard.name().to_string(), format!("{}~", shard.name())]
}

pub struct Index {
    conn: Connection,
    path: PathBuf,
    fresh: bool,
    /// Loading many rows at once: secondary indexes are dropped and derived
    /// columns filled in at the end (see [`Index::begin_bulk`]).
    bulk: bool,
}

/// The schema's secondary indexes, as (name, CREATE statement).
fn secondary_indexes() -> Vec<(&'static str, &'static str)> {
    SCHEMA
        .lines()
        .filter(|l| l.starts_with("CREATE INDEX "))
        .filter_map(|l| Some((l["CREATE INDEX ".len()..].split(' ').next()?, l)))
        .collect()
}

/// How `entities.k` stores a kind: its place in [`Kind::ALL`], which the
/// schema's `kind` column turns back into [`Kind::name`].
fn kind_code(kind: Kind) -> i64 {
    Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0) as i64
}

/// The part of an email address after the last `@`, lower case: what
/// `kith who-knows acme.com` looks up.
pub fn email_domain(email: &str) -> String {
    email
        .rsplit_once('@')
        .map(|(_, d)| d.trim().to_lowercase())
        .unwrap_or_default()
}

/// The key names are compared by: lower case, single spaces, accents
/// removed, so "zoe" finds Zoë and "muller" finds Müller.
pub fn name_key(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .collect::<String>()
        .to_lowercase()
}

impl Index {
    /// Opens the index, creating it (empty, to be rebuilt) if it is missing,
    /// unreadable or of another schema version.
    pub fn open(path: &Path) -> Result<Index> {
        match Self::try_open_patiently(path) {
            Err(err) if is_damage(&err) => {
                // The index is derived: a damaged one is thrown away. Any
                // other failure (a full disk, permissions) is reported, and
                // the index is left alone.
                tracing::warn!(error = %err, "index damaged; rebuilding");
                remove_files(path);
                Self::try_open_patiently(path)
            }
            other => other,
        }
    }

    /// Some first steps (switching a new file to WAL) answer "busy" at once
    /// instead of waiting while another process sets the index up: retry
    /// for up to 30 s.
    fn try_open_patiently(path: &Path) -> Result<Index> {
        let start = std::time::Instant::now();
        loop {
            match Self::try_open(path) {
                Err(err)
                    if is_busy(&err) && start.elapsed() < std::time::Duration::from_secs(30) =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => return other,
            }
        }
    }

    fn try_open(path: &Path) -> Result<Index> {
        let conn = connect(
            path,
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-32000;",
        )?;
        let mut index = Index {
            conn,
            path: path.to_path_buf(),
            fresh: true,
            bulk: false,
        };
        if index.schema_version()?.as_deref() != Some(SCHEMA_VERSION) {
            index.reset_if_stale()?;
        }
        index.fresh = index.meta("built")?.as_deref() == Some("yes");
        Ok(index)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens an existing index for reading only: never creating,
    /// migrating or rebuilding it, and waiting at most 200 ms for a writer.
    /// For shell completion, which must answer at once and change nothing.
    /// None when there is no index of this schema to read.
    pub fn open_read_only(path: &Path) -> Option<Index> {
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).ok()?;
        conn.busy_timeout(std::time::Duration::from_millis(200))
            .ok()?;
        let index = Index {
            conn,
            path: path.to_path_buf(),
            fresh: true,
            bulk: false,
        };
        let current = index.schema_version().ok()?? == SCHEMA_VERSION;
        current.then_some(index)
    }

    /// Live people whose name starts with `prefix` (letter case and accents
    /// aside) in name order, then those whose id starts with it: (id, name,
    /// company's name), at most `limit`. Reads the name index's range only, so it
    /// costs the same at 100 people or 100,000.
    pub fn people_starting(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<(String, String, Option<String>)>> {
        let key = name_key(prefix);
        let mut out: Vec<(String, String, Option<String>)> = Vec::new();
        let read = |r: &rusqlite::Row<'_>| Ok((r.get(0)?, r.get(1)?, r.get(2)?));
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT p.id, p.name, c.name FROM people p LEFT JOIN companies c ON c.id = p.company
                 WHERE p.name_key >= ?1 AND p.name_key < ?1 || char(1114111) AND p.deleted = 0
                 ORDER BY p.name_key LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![key, limit as i64], read)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e))?;
        out.extend(rows);
        let id = prefix.trim().to_lowercase();
        if out.len() < limit && !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()) {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT p.id, p.name, c.name FROM people p LEFT JOIN companies c ON c.id = p.company
                     WHERE p.id >= ?1 AND p.id < ?1 || 'zzzz' AND p.deleted = 0
                     ORDER BY p.id LIMIT ?2",
                )
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map(params![id, (limit - out.len()) as i64], read)
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(|e| self.err(e))?;
            for row in rows {
                if !out.iter().any(|(i, _, _)| *i == row.0) {
                    out.push(row);
                }
            }
        }
        Ok(out)
    }

    fn err(&self, source: rusqlite::Error) -> Error {
        Error::Index {
            path: self.path.clone(),
            source,
        }
    }

    /// The schema version the file was built with; None for a new file.
    fn schema_version(&self) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key='schema'", [], |r| {
                r.get(0)
            })
            .optional()
            .or_else(|e| match e {
                rusqlite::Error::SqliteFailure(_, Some(ref m)) if m.contains("no such table") => {
                    Ok(None)
                }
                other => Err(other),
            })
            .map_err(|e| self.err(e))
    }

    /// Recreates the schema unless another process did so while this one
    /// waited for the write lock: checking again inside the transaction is
    /// what keeps two first opens from dropping each other's tables.
    fn reset_if_stale(&mut self) -> Result<()> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.err(e))?;
        let outcome = match self.schema_version() {
            Ok(v) if v.as_deref() == Some(SCHEMA_VERSION) => Ok(()),
            Ok(_) => self
                .conn
                .execute_batch(&schema_sql())
                .map_err(|e| self.err(e)),
            Err(e) => Err(e),
        };
        self.end_transaction(outcome)
    }

    /// Commits on success; rolls back on failure, so a failed batch never
    /// leaves a transaction open for the next statement to trip over.
    fn end_transaction(&mut self, outcome: Result<()>) -> Result<()> {
        match outcome {
            Ok(()) => self.conn.execute_batch("COMMIT").map_err(|e| self.err(e)),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn reset(&mut self) -> Result<()> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.err(e))?;
        let outcome = self
            .conn
            .execute_batch(&schema_sql())
            .map_err(|e| self.err(e));
        self.end_transaction(outcome)
    }
}

/// Drops every table and creates the schema afresh (run inside a transaction).
fn schema_sql() -> String {
    let mut sql = String::new();
    for t in [
        "meta",
        "shards",
        "entities",
        "people",
        "companies",
        "tags",
        "emails",
        "handles",
        "items",
        "involved",
        "follow_ups",
        "names",
        "texts",
    ] {
        sql.push_str(&format!("DROP TABLE IF EXISTS {t};"));
    }
    sql.push_str(SCHEMA);
    sql.push_str(&format!(
        "INSERT INTO meta VALUES('schema','{SCHEMA_VERSION}');"
    ));
    sql
}

impl Index {
    fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key=?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// False until a full build has completed once.
    pub fn is_built(&self) -> bool {
        self.fresh
    }

    /// Empties the index and marks it unbuilt, before a full rebuild.
    pub fn clear(&mut self) -> Result<()> {
        self.reset()?;
        self.fresh = false;
        Ok(())
    }

    /// Prepares to load many rows into an index that holds few: marks it
    /// unbuilt (so a crash part-way leads to a rebuild) and drops the
    /// secondary indexes, which are rebuilt far faster in one go at the end
    /// than row by row.
    pub fn begin_bulk(&mut self) -> Result<()> {
        let mut sql = String::from("DELETE FROM meta WHERE key='built';");
        for (name, _) in secondary_indexes() {
            sql.push_str(&format!("DROP INDEX IF EXISTS {name};"));
        }
        self.conn.execute_batch(&sql).map_err(|e| self.err(e))?;
        self.fresh = false;
        self.bulk = true;
        Ok(())
    }

    /// Rebuilds the secondary indexes and derived columns after a bulk load
    /// and marks the index built.
    pub fn end_bulk(&mut self) -> Result<()> {
        let mut sql = String::from("BEGIN;");
        for (_, create) in secondary_indexes() {
            sql.push_str(&create.replacen("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1));
        }
        sql.push_str(
            "UPDATE people SET last = (SELECT max(at) FROM involved WHERE person = people.id);
             UPDATE people SET touch_due = date(substr(coalesce(last, since), 1, 10), '+' || cadence || ' days') WHERE cadence > 0;
             INSERT OR REPLACE INTO meta VALUES('built','yes');
             COMMIT;",
        );
        self.conn.execute_batch(&sql).map_err(|e| self.err(e))?;
        // Fold the load into the database file now: a large WAL left behind
        // would be read again by every later process that opens the index.
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| self.err(e))?;
        self.bulk = false;
        self.fresh = true;
        Ok(())
    }

    pub fn is_bulk(&self) -> bool {
        self.bulk
    }

    pub fn mark_built(&mut self) -> Result<()> {
        self.conn
            .execute("INSERT OR REPLACE INTO meta VALUES('built','yes')", [])
            .map_err(|e| self.err(e))?;
        self.fresh = true;
        Ok(())
    }

    /// Durably records that these shards are about to change.
    pub fn mark_dirty(&mut self, shards: &[Shard]) -> Result<()> {
        self.abandon_open_transaction();
        self.conn
            .execute_batch("PRAGMA synchronous=FULL; BEGIN IMMEDIATE;")
            .map_err(|e| self.err(e))?;
        for shard in shards {
            self.conn
                .execute(
                    "INSERT INTO shards(shard, dirty) VALUES(?1, 1) ON CONFLICT(shard) DO UPDATE SET dirty=1",
                    [shard.name()],
                )
                .map_err(|e| self.err(e))?;
        }
        self.conn
            .execute_batch("COMMIT; PRAGMA synchronous=NORMAL;")
            .map_err(|e| self.err(e))
    }

    pub fn dirty_shards(&self) -> Result<Vec<Shard>> {
        self.strings("SELECT shard FROM shards WHERE dirty=1", [])
            .map(|v| v.iter().filter_map(|s| Shard::parse(s)).collect())
    }

    pub fn shard_versions(&self) -> Result<HashMap<String, String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT shard, version FROM shards")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// Starts a batch of index writes; call [`Index::commit`] to finish it.
    pub fn begin(&mut self) -> Result<()> {
        self.abandon_open_transaction();
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.err(e))
    }

    pub fn commit(&mut self) -> Result<()> {
        self.conn.execute_batch("COMMIT").map_err(|e| self.err(e))
    }

    /// Starts a batch that need not survive power loss: the shards it
    /// derives were marked dirty durably first, so a lost batch is redone.
    pub fn begin_unsynced(&mut self) -> Result<()> {
        self.abandon_open_transaction();
        self.conn
            .execute_batch("PRAGMA synchronous=OFF; BEGIN IMMEDIATE")
            .map_err(|e| self.err(e))
    }

    pub fn commit_unsynced(&mut self) -> Result<()> {
        self.conn
            .execute_batch("COMMIT; PRAGMA synchronous=NORMAL")
            .map_err(|e| self.err(e))
    }

    /// A batch whose work failed part-way may still be open; its rows are
    /// only derived data, and the shards they came from are still marked
    /// dirty, so rolling it back loses nothing.
    fn abandon_open_transaction(&mut self) {
        if !self.conn.is_autocommit() {
            tracing::debug!("rolling back an index batch left open by a failed write");
            let _ = self
                .conn
                .execute_batch("ROLLBACK; PRAGMA synchronous=NORMAL");
        }
    }

    /// Records a shard as derived from the given on-disk version.
    pub fn set_shard_clean(&mut self, shard: &Shard, version: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO shards(shard, version, dirty) VALUES(?1, ?2, 0) ON CONFLICT(shard) DO UPDATE SET version=?2, dirty=0",
                params![shard.name(), version],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Removes every row derived from a shard (inside a batch).
    pub fn clear_shard(&mut self, shard: &Shard) -> Result<()> {
        let [from, to] = shard_range(shard);
        let ids = self.strings(
            "SELECT id FROM entities WHERE id >= ?1 AND id < ?2",
            [from, to],
        )?;
        for id in ids {
            self.remove_rows(&id)?;
        }
        Ok(())
    }

    /// Drops every row derived from an entity the store no longer holds.
    pub fn remove(&mut self, id: &Id) -> Result<()> {
        self.remove_rows(id.as_str())
    }

    fn remove_rows(&mut self, id: &str) -> Result<()> {
        let rowid: Option<i64> = self
            .conn
            .prepare_cached("SELECT rowid FROM entities WHERE id=?1")
            .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        let Some(rowid) = rowid else { return Ok(()) };
        // People an interaction involved need their last contact again.
        let involved = self.strings("SELECT person FROM involved WHERE interaction=?1", [id])?;
        for sql in [
            "DELETE FROM names WHERE rowid=?1",
            "DELETE FROM texts WHERE rowid=?1",
        ] {
            self.conn
                .prepare_cached(sql)
                .and_then(|mut s| s.execute([rowid]))
                .map_err(|e| self.err(e))?;
        }
        for sql in [
            "DELETE FROM entities WHERE id=?1",
            "DELETE FROM people WHERE id=?1",
            "DELETE FROM companies WHERE id=?1",
            "DELETE FROM tags WHERE id=?1",
            "DELETE FROM emails WHERE id=?1",
            "DELETE FROM handles WHERE id=?1",
            "DELETE FROM items WHERE id=?1",
            "DELETE FROM involved WHERE interaction=?1",
            "DELETE FROM follow_ups WHERE id=?1",
        ] {
            self.conn
                .prepare_cached(sql)
                .and_then(|mut s| s.execute([id]))
                .map_err(|e| self.err(e))?;
        }
        for person in involved {
            self.refresh_touch(&person)?;
        }
        Ok(())
    }

    /// Recomputes a person's last contact, and keep-in-touch due date if
    /// they have a cadence, from their interactions.
    fn refresh_touch(&mut self, person: &str) -> Result<()> {
        if self.bulk {
            return Ok(());
        }
        self.exec(
            "UPDATE people SET last = (SELECT max(at) FROM involved WHERE person = ?1),
                touch_due = CASE WHEN cadence > 0 THEN date(substr(coalesce((SELECT max(at) FROM involved WHERE person = ?1), since), 1, 10), '+' || cadence || ' days') END
             WHERE id = ?1",
            [person],
        )
    }

    /// Replaces the rows derived from one entity (inside a batch).
    pub fn put(&mut self, entity: &Entity) -> Result<()> {
        // A bulk load starts from an empty index: there is nothing to replace.
        if !self.bulk {
            self.remove_rows(entity.id.as_str())?;
        }
        self.insert(entity)
    }

    /// Adds the rows derived from an entity the index does not hold yet.
    pub fn insert(&mut self, entity: &Entity) -> Result<()> {
        let id = entity.id.as_str();
        let part = |fields: &crate::model::Fields| {
            (!fields.is_empty()).then(|| serde_json::to_string(fields).unwrap_or_default())
        };
        self.exec(
            "INSERT INTO entities(id, k, shared, private) VALUES(?1, ?2, ?3, ?4)",
            params![
                id,
                kind_code(entity.kind),
                part(&entity.shared),
                part(&entity.private)
            ],
        )?;
        let rowid = self.conn.last_insert_rowid();
        let deleted = entity.is_deleted() as i64;
        let text_of = |field: &str| entity.str(field).unwrap_or("").to_string();
        match entity.kind {
            Kind::Person => {
                let name = text_of("name");
                let sort = entity
                    .str("sort_name")
                    .map(str::to_string)
                    .unwrap_or_else(|| crate::model::default_sort_name(&name));
                let md = |f: &str| {
                    entity
                        .str(f)
                        .and_then(|s| PartialDate::parse(s).ok())
                        .map(|d| d.month_day() as i64)
                };
                self.exec(
                    "INSERT INTO people(rowid, id, name, name_key, sort_key, company, birthday, birthday_md, anniversary, anniversary_md, cadence, since, deleted) VALUES(?13, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                    params![
                        id,
                        name,
                        name_key(&name),
                        name_key(&sort),
                        entity.str("company"),
                        entity.str("birthday"),
                        md("birthday"),
                        entity.str("anniversary"),
                        md("anniversary"),
                        entity.get("cadence_days").and_then(Json::as_i64),
                        entity.str("created").and_then(|c| c.get(..10)),
                        deleted,
                        rowid
                    ],
                )?;
                let mut names = name.clone();
                if let Some(nick) = entity.str("nickname") {
                    names.push(' ');
                    names.push_str(nick);
                }
                self.exec(
                    "INSERT INTO names(rowid, text) VALUES(?1, ?2)",
                    params![rowid, names.to_lowercase()],
                )?;
                self.refresh_touch(id)?;
                self.put_tags(id, rowid, deleted, Some(&name_key(&sort)), entity)?;
                for e in entity.set_values("emails") {
                    self.exec(
                        "INSERT INTO emails VALUES(?1, ?2, ?3)",
                        params![e.value.to_lowercase(), id, email_domain(&e.value)],
                    )?;
                }
                self.put_handles(id, entity)?;
                let mut text = Vec::new();
                for field in ["emails", "phones", "addresses"] {
                    for v in entity.set_values(field) {
                        text.push(v.value.clone());
                        if field == "phones" {
                            text.push(v.value.chars().filter(char::is_ascii_digit).collect());
                        }
                    }
                }
                text.push(text_of("title"));
                self.put_text(rowid, &text.join(" "))?;
            }
            Kind::Company => {
                let name = text_of("name");
                self.exec(
                    "INSERT INTO companies(id, name, name_key, domain, deleted) VALUES(?1, ?2, ?3, ?4, ?5)",
                    params![id, name, name_key(&name), entity.str("domain"), deleted],
                )?;
                self.exec(
                    "INSERT INTO names(rowid, text) VALUES(?1, ?2)",
                    params![rowid, name.to_lowercase()],
                )?;
                self.put_tags(id, rowid, deleted, None, entity)?;
                self.put_handles(id, entity)?;
                self.put_text(rowid, &format!("{name} {}", text_of("domain")))?;
            }
            Kind::Fact | Kind::Note => {
                self.exec(
                    "INSERT INTO items(rowid, id, kind, subject, other, at) VALUES(?5, ?1, ?2, ?3, NULL, ?4)",
                    params![
                        id,
                        entity.kind.name(),
                        text_of("subject"),
                        entity.str("learned").or(entity.str("at")),
                        rowid
                    ],
                )?;
                self.put_text(rowid, &text_of("text"))?;
            }
            Kind::Link => {
                self.exec(
                    "INSERT INTO items(rowid, id, kind, subject, other, at) VALUES(?5, ?1, 'link', ?2, ?3, ?4)",
                    params![id, text_of("from"), text_of("to"), entity.str("at"), rowid],
                )?;
            }
            Kind::Interaction => {
                let at = text_of("at");
                let channel = text_of("channel");
                let direction = entity.str("direction");
                if let Some(Json::Array(people)) = entity.get("people") {
                    for p in people.iter().filter_map(Json::as_str) {
                        self.exec(
                            "INSERT INTO involved VALUES(?1, ?2, ?3, ?4, ?5)",
                            params![id, p, at, channel, direction],
                        )?;
                        if self.bulk {
                            continue;
                        }
                        // A newer contact moves the keep-in-touch due date.
                        self.exec(
                            "UPDATE people SET last = ?2,
                                touch_due = CASE WHEN cadence > 0 THEN date(substr(?2, 1, 10), '+' || cadence || ' days') END
                             WHERE id = ?1 AND (last IS NULL OR last < ?2)",
                            params![p, at],
                        )?;
                    }
                }
                self.put_text(rowid, &text_of("summary"))?;
            }
            Kind::FollowUp => {
                self.exec(
                    "INSERT INTO follow_ups VALUES(?1, ?2, ?3, ?4)",
                    params![
                        id,
                        text_of("person"),
                        text_of("due"),
                        entity.get("done").is_some_and(|v| !v.is_null()) as i64
                    ],
                )?;
                self.put_text(rowid, &text_of("text"))?;
            }
        }
        Ok(())
    }

    fn put_tags(
        &mut self,
        id: &str,
        rowid: i64,
        deleted: i64,
        sort_key: Option<&str>,
        entity: &Entity,
    ) -> Result<()> {
        for t in entity.set_values("tags") {
            self.exec(
                "INSERT INTO tags(tag, id, row, deleted, sort_key) VALUES(?1, ?2, ?3, ?4, ?5)",
                params![t.value.to_lowercase(), id, rowid, deleted, sort_key],
            )?;
        }
        Ok(())
    }

    /// What imports match records by besides emails: `uid:` the address
    /// book's own id, `tel:` the phone key.
    fn put_handles(&mut self, id: &str, entity: &Entity) -> Result<()> {
        let mut handles: Vec<String> = Vec::new();
        if let Some(uid) = entity.str("uid") {
            handles.push(format!("uid:{uid}"));
        }
        for p in entity.set_values("phones") {
            if let Some(key) = crate::model::phone_key(&p.value) {
                handles.push(format!("tel:{key}"));
            }
        }
        handles.sort();
        handles.dedup();
        for h in handles {
            self.exec("INSERT INTO handles VALUES(?1, ?2)", params![h, id])?;
        }
        Ok(())
    }

    fn put_text(&mut self, rowid: i64, text: &str) -> Result<()> {
        if text.trim().is_empty() {
            return Ok(());
        }
        self.exec(
            "INSERT INTO texts(rowid, text) VALUES(?1, ?2)",
            params![rowid, text],
        )
    }

    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> Result<()> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(params))
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn strings<P: rusqlite::Params>(&self, sql: &str, params: P) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;

        stmt.query_map(params, |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// Non-null strings from a query's first column.
    pub fn ids_raw<P: rusqlite::Params>(&self, sql: &str, params: P) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params, |r| r.get::<_, Option<String>>(0))
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(rows.into_iter().flatten().collect())
    }

    /// Rows of a query, each read by `read`.
    pub fn rows<T, P, F>(&self, sql: &str, params: P, read: F) -> Result<Vec<T>>
    where
        P: rusqlite::Params,
        F: FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params, read)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// Ids from a query whose first column is an id.
    pub fn ids<P: rusqlite::Params>(&self, sql: &str, params: P) -> Result<Vec<Id>> {
        Ok(self
            .strings(sql, params)?
            .iter()
            .filter_map(|s| Id::parse(s).ok())
            .collect())
    }

    pub fn entity(&self, id: &Id) -> Result<Option<Entity>> {
        let json: Option<String> = self
            .conn
            .prepare_cached("SELECT json FROM entities WHERE id=?1")
            .and_then(|mut s| s.query_row([id.as_str()], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// Entities for the given ids, in that order, skipping unknown ones.
    pub fn entities(&self, ids: &[Id]) -> Result<Vec<Entity>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(e) = self.entity(id)? {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Entities from a query whose first column is `json`.
    pub fn query_entities<P: rusqlite::Params>(&self, sql: &str, params: P) -> Result<Vec<Entity>> {
        Ok(self
            .strings(sql, params)?
            .iter()
            .filter_map(|j| serde_json::from_str(j).ok())
            .collect())
    }

    /// Ids whose id starts with `prefix`, of the given kinds.
    pub fn ids_with_prefix(&self, prefix: &str, kinds: &[Kind]) -> Result<Vec<(Id, Kind)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, kind FROM entities WHERE id >= ?1 AND id < ?2 LIMIT 50")
            .map_err(|e| self.err(e))?;
        let upper = format!("{prefix}\u{7f}");
        let rows: Vec<(String, String)> = stmt
            .query_map(params![prefix, upper], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, kind)| {
                let kind = Kind::ALL.into_iter().find(|k| k.name() == kind)?;
                (kinds.contains(&kind)).then_some((Id::parse(&id).ok()?, kind))
            })
            .collect())
    }

    /// How many entities the index holds from a shard.
    pub fn count_shard(&self, shard: &Shard) -> Result<i64> {
        self.conn
            .prepare_cached("SELECT count(*) FROM entities WHERE id >= ?1 AND id < ?2")
            .and_then(|mut s| s.query_row(shard_range(shard), |r| r.get(0)))
            .map_err(|e| self.err(e))
    }

    pub fn count_with<P: rusqlite::Params>(&self, sql: &str, params: P) -> Result<usize> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut s| s.query_row(params, |r| r.get::<_, i64>(0)))
            .map(|n| n as usize)
            .map_err(|e| self.err(e))
    }

    /// Whether the index holds no entity at all. Asked before every write
    /// a daemon stores: `count(*)` would read all 1.1 million rows of a
    /// 100,000-person ledger (tens of milliseconds); this reads one.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.count("SELECT NOT EXISTS (SELECT 1 FROM entities)")? == 1)
    }

    pub fn count(&self, sql: &str) -> Result<i64> {
        self.conn
            .query_row(sql, [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}

#[cfg(test)]
mod tests {
    use super::Index;
    use crate::model::{Entity, Id, Kind};

    /// The record read back from `entities` is what serde_json writes for
    /// it, byte for byte, for every kind and with either part empty.
    #[test]
    fn records_read_back_as_serde_writes_them() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut index = Index::open(&dir.path().join("index.sqlite")).expect("an index");
        let mut records = Vec::new();
        for kind in Kind::ALL {
            for (shared, private) in [(true, true), (true, false), (false, true), (false, false)] {
                let mut e = Entity::new(kind, Id::random());
                if shared {
                    e.shared
                        .insert("name".into(), "Zoë \"Z\" Ångström\n".into());
                    e.shared
                        .insert("people".into(), serde_json::json!(["a", "b"]));
                }
                if private {
                    e.private.insert("summary".into(), "tea at 4".into());
                    e.private
                        .insert("tags".into(), serde_json::json!({"Tea": {}}));
                }
                records.push(e);
            }
        }
        index.begin().expect("begin");
        for e in &records {
            index.put(e).expect("put");
        }
        index.commit().expect("commit");
        for e in &records {
            let (kind, json): (String, String) = index
                .conn()
                .query_row(
                    "SELECT kind, json FROM entities WHERE id = ?1",
                    [e.id.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .expect("the record");
            assert_eq!(kind, e.kind.name());
            assert_eq!(json, serde_json::to_string(e).expect("json"));
            assert_eq!(index.entity(&e.id).expect("read").as_ref(), Some(e));
        }
        // A person's and a fact's rows share their record's rowid; a tag
        // row holds its record's.
        let unlinked: i64 = index
            .count(
                "SELECT (SELECT count(*) FROM people p LEFT JOIN entities e ON e.rowid = p.rowid WHERE e.id IS NOT p.id)
                      + (SELECT count(*) FROM items i LEFT JOIN entities e ON e.rowid = i.rowid WHERE e.id IS NOT i.id)
                      + (SELECT count(*) FROM tags t LEFT JOIN entities e ON e.rowid = t.row WHERE e.id IS NOT t.id)
                      + (SELECT count(*) FROM tags t JOIN people p ON p.rowid = t.row WHERE t.deleted IS NOT p.deleted OR t.sort_key IS NOT p.sort_key)",
            )
            .expect("count");
        assert_eq!(unlinked, 0);
    }
}
