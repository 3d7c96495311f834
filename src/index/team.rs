//! The team index: one SQLite file (`team.sqlite` in the home) holding, for
//! every teammate's replica, what team questions read about each person:
//! name, company, emails, tags and the shared when/channel/direction of
//! each interaction. Opening fifty replica indexes costs more than the
//! whole answer may take; one file with every replica's rows answers
//! `who-knows` in one query.
//!
//! Like the ledger index it is derived and disposable: deleting it only
//! costs a rebuild. Freshness: each replica's store keeps a generation
//! file that every write to the replica replaces, durably, after marking
//! its shards dirty and before it changes anything (`Ledger::absorb`). The
//! team index records, per replica, the generation its rows were copied
//! at, and only when the copy's snapshot held no dirty shard and the
//! generation was the same before and after it (`TeamIndex::copy`), so no
//! write is half in a copy taken as current. A reader that finds a
//! different generation copies that replica again. A write that dies
//! half-way has already replaced the generation and left its marks, so its
//! replica is copied again once its own index is repaired. The copy takes
//! no lock on the replica: a teammate's edit is never kept waiting by it.
//!
//! The verified roster is cached here too, keyed by a hash of the roster
//! file: checking every signature again on each question costs more than
//! the question.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::strength::{Summary, Touch};

/// Bump when the schema or what is copied changes (the encoding of
/// `strength::Summary` included): the file is rebuilt. The ledger index's
/// version is part of it, since rows are copied from those indexes.
const SCHEMA_VERSION: &str = "9";

const SCHEMA: &str = "
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE owners(owner INTEGER PRIMARY KEY, member TEXT NOT NULL UNIQUE, generation BLOB NOT NULL);
CREATE TABLE keys(n INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE);
CREATE TABLE people(person INTEGER PRIMARY KEY, owner INTEGER NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, name_key TEXT NOT NULL, company TEXT, company_key TEXT, company_domain TEXT, emails TEXT NOT NULL, interactions INTEGER NOT NULL, summary BLOB, last_channel TEXT, lean BLOB);
CREATE INDEX people_owner ON people(owner, id);
CREATE INDEX people_name ON people(name_key);
CREATE INDEX people_company ON people(company_key);
CREATE INDEX people_domain ON people(company_domain);
CREATE TABLE touches(person INTEGER PRIMARY KEY, packed TEXT NOT NULL);
CREATE TABLE emails(email TEXT NOT NULL, domain TEXT NOT NULL, person INTEGER NOT NULL);
CREATE INDEX emails_email ON emails(email);
CREATE INDEX emails_domain ON emails(domain);
CREATE INDEX emails_person ON emails(person);
CREATE TABLE tags(tag TEXT NOT NULL, person INTEGER NOT NULL, lean BLOB NOT NULL, PRIMARY KEY(tag, person)) WITHOUT ROWID;
CREATE INDEX tags_person ON tags(person);
CREATE VIRTUAL TABLE names USING fts5(text, content='', contentless_delete=1, tokenize='trigram remove_diacritics 1');
CREATE TABLE tag_rows(tag TEXT NOT NULL, person INTEGER NOT NULL);
CREATE INDEX tag_rows_tag ON tag_rows(tag);
CREATE INDEX tag_rows_person ON tag_rows(person);
CREATE TABLE tag_names(tag TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE items(item INTEGER PRIMARY KEY, owner INTEGER NOT NULL, source INTEGER NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL, date TEXT, private INTEGER NOT NULL, deleted INTEGER NOT NULL);
CREATE INDEX items_owner ON items(owner);
CREATE TABLE item_people(item INTEGER NOT NULL, seq INTEGER NOT NULL, person INTEGER NOT NULL, PRIMARY KEY(item, seq)) WITHOUT ROWID;
CREATE VIRTUAL TABLE item_texts USING fts5(text, content='', contentless_delete=1, detail=none, tokenize='unicode61 remove_diacritics 2');
";

/// Separates fields, and records, in the packed columns (`emails`,
/// `touches`): control characters no field holds.
pub const FIELD: char = '\u{1f}';
pub const RECORD: char = '\u{1e}';

/// Interactions as the team index packs them, each with its `at`.
pub fn unpack_touches(packed: &str) -> Vec<(Touch, String)> {
    packed
        .split(RECORD)
        .filter_map(|t| {
            let mut fields = t.split(FIELD);
            let at = fields.next()?.to_string();
            let channel = fields.next()?.to_string();
            let direction = fields.next().filter(|d| !d.is_empty());
            Touch::stored(at, channel, direction)
        })
        .collect()
}

/// Copies one replica's rows from its index, attached as `r`.
const COPY: &str = "
INSERT INTO people(owner, id, name, name_key, company, company_key, company_domain, emails, interactions)
SELECT ?1, p.id, p.name, p.name_key, c.name, c.name_key, lower(c.domain),
  coalesce((SELECT group_concat(email, char(31)) FROM
     (SELECT email FROM r.emails WHERE id = p.id ORDER BY email)), ''),
  (SELECT count(*) FROM r.involved WHERE person = p.id)
FROM r.people p LEFT JOIN r.companies c ON c.id = p.company AND c.deleted = 0
WHERE p.deleted = 0
ORDER BY c.name_key, p.name_key;
INSERT INTO touches(person, packed)
  SELECT t.person, group_concat(i.at || char(31) || i.channel || char(31) || coalesce(i.direction, ''), char(30))
  FROM people t JOIN r.involved i ON i.person = t.id WHERE t.owner = ?1 GROUP BY t.person;
";

/// The rest of a copy, once each person's strength summary and lean row
/// are in.
const COPY_AFTER: &str = "
INSERT INTO emails(email, domain, person)
  SELECT e.email, e.domain, t.person FROM r.emails e JOIN people t ON t.owner = ?1 AND t.id = e.id;
INSERT OR IGNORE INTO tags(tag, person, lean)
  SELECT g.tag, t.person, t.lean FROM r.tags g JOIN people t ON t.owner = ?1 AND t.id = g.id;
";

/// A person's row as a broad question reads it: one blob, since SQLite
/// spends more per column read than per byte, and numbers for the keys
/// records are grouped by (`keys`), so grouping compares numbers. Written
/// by [`Lean::encode`]: varints for the owner, the name key's number, the
/// company key's number + 1 (0: none), the interactions, the count of
/// emails and each one's number, then the name and the strength summary
/// (`strength::Summary::encode`), each after its length.
#[derive(Debug)]
pub struct Lean<'a> {
    pub owner: i64,
    pub name_key: usize,
    pub company_key: Option<usize>,
    pub interactions: u64,
    emails: &'a [u8],
    email_count: usize,
    pub name: &'a str,
    pub summary: Option<&'a [u8]>,
}

impl<'a> Lean<'a> {
    #[allow(clippy::too_many_arguments)]
    fn encode(
        owner: i64,
        name_key: usize,
        company_key: Option<usize>,
        interactions: i64,
        emails: &[usize],
        name: &str,
        summary: Option<&[u8]>,
    ) -> Vec<u8> {
        use crate::strength::push_varint as put;
        let mut out = Vec::with_capacity(24 + name.len() + summary.map_or(0, <[u8]>::len));
        put(&mut out, owner.max(0) as u64);
        put(&mut out, name_key as u64);
        put(&mut out, company_key.map_or(0, |c| c as u64 + 1));
        put(&mut out, interactions.max(0) as u64);
        put(&mut out, emails.len() as u64);
        for e in emails {
            put(&mut out, *e as u64);
        }
        put(&mut out, name.len() as u64);
        out.extend_from_slice(name.as_bytes());
        put(&mut out, summary.map_or(0, <[u8]>::len) as u64);
        out.extend_from_slice(summary.unwrap_or_default());
        out
    }

    /// What `encode` wrote; None for anything else.
    pub fn decode(bytes: &'a [u8]) -> Option<Lean<'a>> {
        use crate::strength::take_varint as take;
        let mut at = 0;
        let owner = i64::try_from(take(bytes, &mut at)?).ok()?;
        let name_key = usize::try_from(take(bytes, &mut at)?).ok()?;
        let company_key = match take(bytes, &mut at)? {
            0 => None,
            n => Some(usize::try_from(n - 1).ok()?),
        };
        let interactions = take(bytes, &mut at)?;
        let email_count = usize::try_from(take(bytes, &mut at)?).ok()?;
        let start = at;
        for _ in 0..email_count {
            take(bytes, &mut at)?;
        }
        let emails = &bytes[start..at];
        let slice = |at: &mut usize| -> Option<&'a [u8]> {
            let len = usize::try_from(take(bytes, at)?).ok()?;
            let s = bytes.get(*at..at.checked_add(len)?)?;
            *at += len;
            Some(s)
        };
        let name = std::str::from_utf8(slice(&mut at)?).ok()?;
        let summary = Some(slice(&mut at)?).filter(|s| !s.is_empty());
        (at == bytes.len()).then_some(Lean {
            owner,
            name_key,
            company_key,
            interactions,
            emails,
            email_count,
            name,
            summary,
        })
    }

    /// The numbers of the emails, in the order of the person's `emails`.
    pub fn emails(&self) -> impl Iterator<Item = usize> + '_ {
        let mut at = 0;
        (0..self.email_count).map_while(move |_| {
            crate::strength::take_varint(self.emails, &mut at).map(|n| n as usize)
        })
    }
}

/// SQL reading a field of the entity `e.json` as `Entity::get` does: the
/// private value when the field is there, else the shared one.
fn json_get(field: &str) -> String {
    format!(
        "CASE WHEN json_type(e.json, '$.private.{field}') IS NOT NULL \
         THEN json_extract(e.json, '$.private.{field}') ELSE json_extract(e.json, '$.shared.{field}') END"
    )
}

/// SQL for the JSON type of `json_get(field)` (NULL when absent).
fn json_type_of(field: &str) -> String {
    format!(
        "coalesce(json_type(e.json, '$.private.{field}'), json_type(e.json, '$.shared.{field}'))"
    )
}

/// SQL for `Entity::str(field)`: a non-empty string, else NULL.
fn json_str(field: &str) -> String {
    let get = json_get(field);
    format!(
        "CASE WHEN {} = 'text' AND {get} <> '' THEN {get} END",
        json_type_of(field)
    )
}

/// Copies one replica's facts, notes and interactions (`who-wants` reads
/// them): each with the text its ledger's word index holds for it, in the
/// order of that index, so the first 2,000 matches per replica are the
/// ones reading the replica on its own gives.
fn copy_items_sql() -> String {
    format!(
        "INSERT INTO items(owner, source, kind, text, date, private, deleted)
         SELECT ?1, e.rowid, e.kind,
           CASE e.kind WHEN 'interaction' THEN {summary} ELSE {text} END,
           substr(coalesce({at}, {learned}), 1, 10),
           CASE e.kind WHEN 'interaction' THEN json_type(e.json, '$.private.summary') IS NOT NULL
             ELSE json_type(e.json, '$.private.text') IS NOT NULL END,
           coalesce({deleted}, 'null') <> 'null'
         FROM r.entities e
         WHERE e.kind IN ('fact', 'note', 'interaction')
           AND (CASE e.kind WHEN 'interaction' THEN {summary} ELSE {text} END) IS NOT NULL
         ORDER BY e.rowid",
        summary = json_str("summary"),
        text = json_str("text"),
        at = json_str("at"),
        learned = json_str("learned"),
        deleted = json_type_of("deleted"),
    )
}

/// Who each copied item is about: the live people an interaction
/// involves, in its order, or a fact's or note's subject. CROSS JOIN keeps
/// SQLite from reading every person of the replica for each item.
fn copy_item_people_sql() -> [String; 2] {
    let people = "CASE WHEN json_type(e.json, '$.private.people') IS NOT NULL \
                  THEN '$.private.people' ELSE '$.shared.people' END";
    [
        format!(
            "INSERT INTO item_people(item, seq, person)
             SELECT i.item, j.key, t.person
             FROM items i JOIN r.entities e ON e.rowid = i.source
               CROSS JOIN json_each(e.json, {people}) j
               CROSS JOIN people t ON t.owner = ?1 AND t.id = j.value
             WHERE i.owner = ?1 AND i.kind = 'interaction' AND i.deleted = 0 AND i.private = 0
               AND json_type(e.json, {people}) = 'array' AND j.type = 'text'"
        ),
        format!(
            "INSERT INTO item_people(item, seq, person)
             SELECT i.item, 0, t.person
             FROM items i JOIN r.entities e ON e.rowid = i.source
               JOIN people t ON t.owner = ?1 AND t.id = {subject}
             WHERE i.owner = ?1 AND i.kind IN ('fact', 'note') AND i.deleted = 0 AND i.private = 0",
            subject = json_str("subject")
        ),
    ]
}

/// What one refresh did.
#[derive(Debug, Default)]
pub struct Refresh {
    /// Replicas copied again (changed since the last copy, or new).
    pub copied: Vec<String>,
    /// Replicas being written right now: copied as they stood, and copied
    /// again next time.
    pub busy: Vec<String>,
}

pub struct TeamIndex {
    conn: Connection,
    path: PathBuf,
    owners: HashMap<String, (i64, Vec<u8>)>,
}

impl TeamIndex {
    /// Opens `path`, creating it (empty) if it is missing, damaged or of
    /// another schema.
    pub fn open(path: &Path) -> Result<TeamIndex> {
        match Self::try_open(path) {
            Err(err) if super::is_damage(&err) => {
                tracing::warn!(error = %err, "team index damaged; rebuilding");
                super::remove_files(path);
                Self::try_open(path)
            }
            other => other,
        }
    }

    /// Deletes the team index of a home, if there is one: it is rebuilt
    /// when next needed.
    pub fn remove(home: &Path) {
        super::remove_files(&home.join("team.sqlite"));
    }

    fn try_open(path: &Path) -> Result<TeamIndex> {
        // Derived data: a commit lost to a power cut is only copied again.
        // Mapped into memory: a broad question reads thousands of pages,
        // each otherwise a system call and a copy into a fresh buffer.
        let conn = super::connect(
            path,
            "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-32000; PRAGMA mmap_size=1073741824;",
        )?;
        let mut index = TeamIndex {
            conn,
            path: path.to_path_buf(),
            owners: HashMap::new(),
        };
        if index.version()?.as_deref() != Some(&version()) {
            index.reset()?;
        }
        index.owners = index
            .rows("SELECT member, owner, generation FROM owners", [], |r| {
                Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?)))
            })?
            .into_iter()
            .collect();
        Ok(index)
    }

    fn err(&self, source: rusqlite::Error) -> Error {
        Error::Index {
            path: self.path.clone(),
            source,
        }
    }

    fn version(&self) -> Result<Option<String>> {
        let found = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .optional();
        match found {
            Ok(v) => Ok(v),
            // No meta table: a new file.
            Err(rusqlite::Error::SqliteFailure(_, Some(msg))) if msg.contains("no such table") => {
                Ok(None)
            }
            Err(e) => Err(self.err(e)),
        }
    }

    /// Starts the file again with the current schema. Re-checked inside the
    /// write transaction: another process may have just done it.
    fn reset(&mut self) -> Result<()> {
        let path = self.path.clone();
        let wrap = |source| Error::Index {
            path: path.clone(),
            source,
        };
        self.conn
            .execute_batch("PRAGMA journal_mode=WAL;")
            .map_err(wrap)?;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(wrap)?;
        let current: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .optional()
            .unwrap_or(None);
        if current.as_deref() != Some(&version()) {
            let tables: Vec<String> = tx
                .prepare(
                    "SELECT name FROM sqlite_master WHERE type = 'table' \
                     AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'names_%'",
                )
                .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect())
                .map_err(wrap)?;
            let mut sql = String::new();
            for t in tables {
                sql.push_str(&format!("DROP TABLE IF EXISTS \"{t}\";"));
            }
            sql.push_str(SCHEMA);
            tx.execute_batch(&sql)
                .and_then(|()| {
                    tx.execute(
                        "INSERT INTO meta(key, value) VALUES('schema', ?1)",
                        [version()],
                    )
                })
                .map_err(wrap)?;
        }
        tx.commit().map_err(wrap)
    }

    /// Brings every replica's rows up to date and drops the rows of
    /// replicas no longer held. `replicas` are (member id, replica home);
    /// `open` opens a replica's ledger, repairing its index if a writer
    /// died.
    pub fn refresh(
        &mut self,
        replicas: &[(String, PathBuf)],
        open: &dyn Fn(&Path) -> Result<Ledger>,
    ) -> Result<Refresh> {
        let mut report = Refresh::default();
        let held: Vec<&str> = replicas.iter().map(|(m, _)| m.as_str()).collect();
        let gone: Vec<String> = self
            .owners
            .keys()
            .filter(|m| !held.contains(&m.as_str()))
            .cloned()
            .collect();
        for member in gone {
            self.forget(&member)?;
        }
        for (member, home) in replicas {
            let now = crate::store::read_generation(&home.join("ledger"));
            if !now.is_empty()
                && self
                    .owners
                    .get(member)
                    .is_some_and(|(_, seen)| *seen == now)
            {
                continue;
            }
            let ledger = open(home)?;
            if self.copy(member, &ledger)? {
                report.copied.push(member.clone());
            } else {
                report.busy.push(member.clone());
            }
        }
        Ok(report)
    }

    /// Copies one replica's rows again. True when the copy is known
    /// current; false when a write was under way, and the copy is to be
    /// made again next time.
    ///
    /// The copy takes no lock on the replica, so a teammate's edit
    /// arriving meanwhile is stored at once (holding the write lock made
    /// it wait for the whole copy, seconds at 100,000 people). It is known
    /// current by this rule: a replica's writer marks its shards dirty in
    /// the index, then replaces the generation durably, then writes, then
    /// clears the marks (`Ledger::absorb`). The copy reads the generation
    /// (g1), copies from one snapshot of the replica's index that must
    /// hold no dirty mark, and reads the generation again (g2). With
    /// g1 = g2, every write that replaced the generation before g1 had
    /// marked its shards before it, so a clean snapshot taken after holds
    /// its rows; a write that replaces it later changes what the next
    /// refresh reads. A writer that died leaves its marks until the
    /// replica's index is repaired, so nothing is recorded current before.
    pub fn copy(&mut self, member: &str, ledger: &Ledger) -> Result<bool> {
        let store = ledger.store();
        let mut before = crate::store::read_generation(store.root());
        if before.is_empty() {
            // Written before kith kept generations: start one, as a writer
            // would, so this copy can be known current.
            if let Some(_lock) = store.try_lock()? {
                store.begin_generation()?;
            }
            before = crate::store::read_generation(store.root());
        }
        let source = ledger.index().path().to_string_lossy().into_owned();
        self.conn
            .execute("ATTACH DATABASE ?1 AS r", [&source])
            .map_err(|e| self.err(e))?;
        let copied = self.copy_attached(member, &before, store.root());
        let detached = self
            .conn
            .execute_batch("DETACH DATABASE r")
            .map_err(|e| self.err(e));
        let (owner, generation) = copied?;
        detached?;
        let current = !generation.is_empty();
        self.owners.insert(member.to_string(), (owner, generation));
        Ok(current)
    }

    /// Copies the attached replica `r` in one transaction and records the
    /// generation it is current at: `before` if the snapshot held no dirty
    /// shard and the generation is still `before` after it, else none.
    fn copy_attached(
        &mut self,
        member: &str,
        before: &[u8],
        root: &Path,
    ) -> Result<(i64, Vec<u8>)> {
        // Deferred, not immediate: an immediate transaction would take a
        // write lock on the attached replica index too, and its writer
        // would wait for the copy. The first read of `r` fixes the
        // snapshot every later statement copies from.
        self.write_with(rusqlite::TransactionBehavior::Deferred, |tx| {
            let clean: bool = tx.query_row(
                "SELECT NOT EXISTS(SELECT 1 FROM r.shards WHERE dirty = 1)",
                [],
                |r| r.get(0),
            )?;
            let owner: i64 = tx.query_row(
                "INSERT INTO owners(member, generation) VALUES(?1, x'')
                 ON CONFLICT(member) DO UPDATE SET generation = x''
                 RETURNING owner",
                [member],
                |r| r.get(0),
            )?;
            clear_owner(tx, owner)?;
            for statement in COPY.split(';').filter(|s| !s.trim().is_empty()) {
                tx.execute(statement, [owner])?;
            }
            summarize(tx, owner)?;
            for statement in COPY_AFTER.split(';').filter(|s| !s.trim().is_empty()) {
                tx.execute(statement, [owner])?;
            }
            tx.execute(
                "INSERT INTO names(rowid, text) SELECT person, lower(name) FROM people WHERE owner = ?1",
                [owner],
            )?;
            copy_wants(tx, owner)?;
            // The second look at the generation, after every read of `r`.
            let after = crate::store::read_generation(root);
            let generation = if clean && after == before {
                before.to_vec()
            } else {
                Vec::new()
            };
            tx.execute(
                "UPDATE owners SET generation = ?2 WHERE owner = ?1",
                params![owner, generation],
            )?;
            Ok((owner, generation))
        })
    }

    /// Runs `f` in one write transaction, committed if it succeeds.
    fn write<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        self.write_with(rusqlite::TransactionBehavior::Immediate, f)
    }

    /// [`TeamIndex::write`] with the transaction's behaviour chosen.
    fn write_with<T>(
        &mut self,
        behavior: rusqlite::TransactionBehavior,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let path = self.path.clone();
        let wrap = |source| Error::Index {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(behavior)
            .map_err(wrap)?;
        let out = f(&tx).map_err(wrap)?;
        tx.commit().map_err(wrap)?;
        Ok(out)
    }

    /// Drops a replica's rows (a member no longer held here).
    fn forget(&mut self, member: &str) -> Result<()> {
        let Some((owner, _)) = self.owners.remove(member) else {
            return Ok(());
        };
        self.write(|tx| {
            clear_owner(tx, owner)?;
            tx.execute("DELETE FROM owners WHERE owner = ?1", [owner])
                .map(|_| ())
        })
    }

    /// Owner number → member id, for reading many rows.
    pub fn owner_numbers(&self) -> HashMap<i64, String> {
        self.owners
            .iter()
            .map(|(m, (o, _))| (*o, m.clone()))
            .collect()
    }

    /// Holds one read transaction until dropped: every query of a question
    /// sees the same state, and locks are taken once, not per statement.
    pub fn snapshot(&self) -> Result<Snapshot<'_>> {
        self.conn
            .execute_batch("BEGIN DEFERRED")
            .map_err(|e| self.err(e))?;
        Ok(Snapshot { index: self })
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

    /// Calls `each` on every row of a query, in order, without collecting
    /// them: a broad question reads tens of thousands of rows and keeps
    /// little of each.
    pub fn each_row<P, F>(&self, sql: &str, params: P, mut each: F) -> Result<()>
    where
        P: rusqlite::Params,
        F: FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<()>,
    {
        let run = || -> rusqlite::Result<()> {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let mut rows = stmt.query(params)?;
            while let Some(row) = rows.next()? {
                each(row)?;
            }
            Ok(())
        };
        run().map_err(|e| self.err(e))
    }

    /// The numbers of those of `keys` some replica's rows hold (see
    /// [`Lean`]), and a number above every number in use.
    pub fn key_numbers<'k>(
        &self,
        keys: impl Iterator<Item = &'k str>,
    ) -> Result<(HashMap<String, usize>, usize)> {
        let list = serde_json::Value::from(keys.collect::<Vec<_>>()).to_string();
        let found = self.rows(
            "SELECT j.value, k.n FROM json_each(?1) j JOIN keys k ON k.key = j.value",
            [list],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as usize)),
        )?;
        let next = self
            .conn
            .query_row("SELECT coalesce(max(n), 0) + 1 FROM keys", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(|e| self.err(e))?;
        Ok((found.into_iter().collect(), next.max(0) as usize))
    }

    /// The team's members as the roster says, its signatures checked once
    /// per roster version.
    pub fn roster_members(&self, dir: &crate::team::TeamDir) -> Result<Vec<crate::team::Member>> {
        let bytes = dir.roster_bytes()?;
        if let Some(members) = self
            .cached("members", &bytes)
            .and_then(|json| serde_json::from_str(&json).ok())
        {
            return Ok(members);
        }
        let members = dir.roster()?.members();
        if let Ok(json) = serde_json::to_string(&members) {
            self.cache("members", &bytes, &json);
        }
        Ok(members)
    }

    /// A value cached under `key` for input hashing to `hash`.
    pub fn cached(&self, key: &str, input: &[u8]) -> Option<String> {
        let want = hash(input);
        self.conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [format!("cache:{key}")],
                |r| r.get::<_, String>(0),
            )
            .ok()
            .and_then(|v| v.strip_prefix(&format!("{want}:")).map(str::to_string))
    }

    /// Keeps `value`, computed from `input`, under `key`. Best effort: a
    /// cache that cannot be written is only slower next time.
    pub fn cache(&self, key: &str, input: &[u8], value: &str) {
        let stored = format!("{}:{value}", hash(input));
        if let Err(e) = self.conn.execute(
            "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
            params![format!("cache:{key}"), stored],
        ) {
            tracing::debug!(error = %e, "could not cache {key}");
        }
    }
}

/// A read transaction on the team index; ends when dropped.
pub struct Snapshot<'a> {
    index: &'a TeamIndex,
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        let _ = self.index.conn.execute_batch("COMMIT");
    }
}

/// Stores each of an owner's people's strength summary, last channel
/// and lean row: a question then scores a record from its row alone, with
/// no lookup, and groups records by number.
fn summarize(tx: &rusqlite::Transaction<'_>, owner: i64) -> rusqlite::Result<()> {
    type Row = (
        i64,
        String,
        String,
        Option<String>,
        String,
        i64,
        Option<String>,
    );
    // Read first, written after: a statement reading a table it writes
    // may see rows twice.
    let rows: Vec<Row> = tx
        .prepare(
            "SELECT p.person, p.name, p.name_key, p.company_key, p.emails, p.interactions, t.packed
             FROM people p LEFT JOIN touches t ON t.person = p.person WHERE p.owner = ?1",
        )?
        .query_map([owner], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut write = tx.prepare(
        "UPDATE people SET summary = ?2, last_channel = ?3, lean = ?4 WHERE person = ?1",
    )?;
    let mut keys = KeyNumbers::new(tx)?;
    for (person, name, name_key, company_key, emails, interactions, packed) in rows {
        let touches = packed.as_deref().map(unpack_touches).unwrap_or_default();
        let summary = Summary::of(touches.iter().map(|(t, _)| t).collect());
        let last = summary
            .as_ref()
            .and_then(|s| crate::strength::last_channel(&touches, s.last()));
        let encoded = summary.as_ref().map(Summary::encode);
        let mut email_numbers = Vec::new();
        for e in emails.split(FIELD).filter(|e| !e.is_empty()) {
            email_numbers.push(keys.number(e)?);
        }
        let company = company_key.as_deref().map(|c| keys.number(c)).transpose()?;
        let lean = Lean::encode(
            owner,
            keys.number(&name_key)?,
            company,
            interactions,
            &email_numbers,
            &name,
            encoded.as_deref(),
        );
        write.execute(params![person, encoded, last, lean])?;
    }
    Ok(())
}

/// Numbers for the keys records are grouped by (`keys`): kept across
/// copies, so every replica's rows use the same number for the same key.
struct KeyNumbers<'t> {
    find: rusqlite::Statement<'t>,
    add: rusqlite::Statement<'t>,
    known: HashMap<String, usize>,
}

impl<'t> KeyNumbers<'t> {
    fn new(tx: &'t rusqlite::Transaction<'_>) -> rusqlite::Result<KeyNumbers<'t>> {
        Ok(KeyNumbers {
            find: tx.prepare("SELECT n FROM keys WHERE key = ?1")?,
            add: tx.prepare("INSERT INTO keys(key) VALUES(?1) RETURNING n")?,
            known: HashMap::new(),
        })
    }

    fn number(&mut self, key: &str) -> rusqlite::Result<usize> {
        if let Some(&n) = self.known.get(key) {
            return Ok(n);
        }
        let n: i64 = match self.find.query_row([key], |r| r.get(0)).optional()? {
            Some(n) => n,
            None => self.add.query_row([key], |r| r.get(0))?,
        };
        let n = n.max(0) as usize;
        self.known.insert(key.to_string(), n);
        Ok(n)
    }
}

/// Copies what `who-wants` reads: tags in the replica's order, and its
/// facts, notes and interactions with their words and whom they are about.
fn copy_wants(tx: &rusqlite::Transaction<'_>, owner: i64) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO tag_rows(tag, person)
         SELECT g.tag, t.person FROM r.tags g JOIN people t ON t.owner = ?1 AND t.id = g.id ORDER BY g.rowid",
        [owner],
    )?;
    tx.execute(
        "INSERT OR IGNORE INTO tag_names(tag) SELECT DISTINCT tag FROM r.tags",
        [],
    )?;
    tx.execute(&copy_items_sql(), [owner])?;
    // As the ledger index: a text that is only white space is not indexed.
    let mut read = tx.prepare("SELECT item, text FROM items WHERE owner = ?1")?;
    let mut write = tx.prepare("INSERT INTO item_texts(rowid, text) VALUES(?1, ?2)")?;
    let mut rows = read.query([owner])?;
    while let Some(row) = rows.next()? {
        let text = row.get_ref(1)?.as_str().unwrap_or("");
        if !text.trim().is_empty() {
            write.execute(params![row.get::<_, i64>(0)?, text])?;
        }
    }
    for sql in copy_item_people_sql() {
        tx.execute(&sql, [owner])?;
    }
    Ok(())
}

fn clear_owner(tx: &rusqlite::Transaction<'_>, owner: i64) -> rusqlite::Result<()> {
    for sql in [
        "DELETE FROM item_texts WHERE rowid IN (SELECT item FROM items WHERE owner = ?1)",
        "DELETE FROM item_people WHERE item IN (SELECT item FROM items WHERE owner = ?1)",
        "DELETE FROM items WHERE owner = ?1",
        "DELETE FROM tag_rows WHERE person IN (SELECT person FROM people WHERE owner = ?1)",
        "DELETE FROM names WHERE rowid IN (SELECT person FROM people WHERE owner = ?1)",
        "DELETE FROM emails WHERE person IN (SELECT person FROM people WHERE owner = ?1)",
        "DELETE FROM tags WHERE person IN (SELECT person FROM people WHERE owner = ?1)",
        "DELETE FROM touches WHERE person IN (SELECT person FROM people WHERE owner = ?1)",
        "DELETE FROM people WHERE owner = ?1",
    ] {
        tx.execute(sql, [owner])?;
    }
    Ok(())
}

fn version() -> String {
    format!("{SCHEMA_VERSION}/{}", super::SCHEMA_VERSION)
}

fn hash(input: &[u8]) -> String {
    Sha256::digest(input)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
