//! The address book's sync state: `cards.sqlite` in the home.
//!
//! Per href: the person, UID, ETag, the change sequence number it last
//! changed at, and whether it was removed (kept as a tombstone so a sync
//! can report it). Per shard: the index's version of the shard the rows
//! were computed from. Like the index it is derived and disposable: a
//! missing, damaged or older-schema file is made again, under a new book id,
//! so tokens handed out before are refused and clients sync afresh.
//!
//! Freshness: the ledger index records, per shard, the names of the chunk
//! files it was derived from, and every write (CLI, web face, a phone, a
//! sync) changes them. [`Book::refresh`] compares those with the versions
//! it recorded and recomputes only the cards a changed shard can affect:
//! its people, people whose company is in it, and people linked to it. One
//! edit costs one shard (about 100 people at 100,000), not the whole book.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use super::{Card, card, is_card};
use crate::error::{Error, Result};
use crate::index::name_key;
use crate::ledger::Ledger;
use crate::model::Id;

/// Bump when the schema or the card mapping changes, so every ETag is
/// computed again. The ledger index's version is part of it.
const SCHEMA_VERSION: &str = "1";

const SCHEMA: &str = "
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE shards(shard TEXT PRIMARY KEY, version TEXT NOT NULL);
CREATE TABLE cards(href TEXT PRIMARY KEY, person TEXT NOT NULL, uid TEXT NOT NULL, etag TEXT NOT NULL, seq INTEGER NOT NULL, removed INTEGER NOT NULL);
CREATE INDEX cards_person ON cards(person);
CREATE INDEX cards_seq ON cards(seq);
CREATE TABLE companies(id TEXT PRIMARY KEY, name TEXT NOT NULL);
";

/// The prefix of every sync token; the book id and sequence follow.
const TOKEN_PREFIX: &str = "urn:x-kith:sync:";

/// What one refresh did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Refreshed {
    /// Shards whose version differed from the one recorded.
    pub shards: usize,
    /// Cards computed again.
    pub computed: usize,
    /// Cards whose ETag or presence changed (each took a new sequence).
    pub changed: usize,
}

/// What changed since a sync token.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// (href, ETag) of cards new or changed, in sequence order.
    pub changed: Vec<(String, String)>,
    /// Hrefs of cards removed.
    pub removed: Vec<String>,
    /// The token to ask with next time.
    pub token: String,
}

/// A sync token the book cannot answer (RFC 6578 `valid-sync-token`).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("sync token '{token}' is not one kith hands out")]
    Malformed { token: String },
    /// From another book, or from this home before `cards.sqlite` was made
    /// again: the client must sync afresh.
    #[error("sync token '{token}' belongs to another address book (this one is {book})")]
    Foreign { token: String, book: String },
    #[error("sync token '{token}' is ahead of this address book (at {at})")]
    Ahead { token: String, at: i64 },
    #[error(transparent)]
    Ledger(#[from] Error),
}

pub struct Book {
    conn: Connection,
    path: PathBuf,
    id: String,
}

/// Whether a SQLite error means the file is damaged.
fn is_damage(e: &rusqlite::Error) -> bool {
    use rusqlite::ffi::ErrorCode;
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if matches!(f.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase))
}

fn remove_files(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

fn schema_version() -> String {
    format!("{SCHEMA_VERSION}/{}", crate::index::SCHEMA_VERSION)
}

impl Book {
    /// The file a home's book lives in.
    pub fn path(home: &Path) -> PathBuf {
        home.join("cards.sqlite")
    }

    /// Opens the book of `home`, making it (empty, to be filled by
    /// [`Book::refresh`]) if it is missing, damaged or of another schema.
    pub fn open(home: &Path) -> Result<Book> {
        let path = Self::path(home);
        match Self::try_open(&path) {
            Err(Error::Index { source, .. }) if is_damage(&source) => {
                tracing::warn!(path = %path.display(), "address book state damaged; making it again");
                remove_files(&path);
                Self::try_open(&path)
            }
            other => other,
        }
    }

    /// Deletes a home's book; the next open makes it again.
    pub fn remove(home: &Path) {
        remove_files(&Self::path(home));
    }

    fn try_open(path: &Path) -> Result<Book> {
        let wrap = |source| Error::Index {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(wrap)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(wrap)?;
        // Derived data: a commit lost to a power cut is computed again.
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            .map_err(wrap)?;
        let mut book = Book {
            conn,
            path: path.to_path_buf(),
            id: String::new(),
        };
        book.id = book.ensure_schema()?;
        Ok(book)
    }

    fn err(&self, source: rusqlite::Error) -> Error {
        Error::Index {
            path: self.path.clone(),
            source,
        }
    }

    fn meta(&self, key: &str) -> Result<Option<String>> {
        let found = self
            .conn
            .query_row("SELECT value FROM meta WHERE key=?1", [key], |r| r.get(0))
            .optional();
        match found {
            Ok(v) => Ok(v),
            Err(rusqlite::Error::SqliteFailure(_, Some(m))) if m.contains("no such table") => {
                Ok(None)
            }
            Err(e) => Err(self.err(e)),
        }
    }

    /// Makes the schema afresh unless it is current; gives the book id.
    /// Checked again inside the write transaction, so two processes opening
    /// a new file at once do not drop each other's tables.
    fn ensure_schema(&mut self) -> Result<String> {
        let want = schema_version();
        if self.meta("schema")?.as_deref() == Some(want.as_str())
            && let Some(id) = self.meta("book")?
        {
            return Ok(id);
        }
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.err(e))?;
        let made = (|| {
            if self.meta("schema")?.as_deref() == Some(want.as_str())
                && let Some(id) = self.meta("book")?
            {
                return Ok(id);
            }
            let id: String = rand::random::<[u8; 8]>()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let mut sql = String::new();
            for t in ["meta", "shards", "cards", "companies"] {
                sql.push_str(&format!("DROP TABLE IF EXISTS {t};"));
            }
            sql.push_str(SCHEMA);
            self.conn.execute_batch(&sql).map_err(|e| self.err(e))?;
            for (k, v) in [("schema", want.as_str()), ("book", &id), ("seq", "0")] {
                self.conn
                    .execute("INSERT INTO meta VALUES(?1, ?2)", [k, v])
                    .map_err(|e| self.err(e))?;
            }
            Ok(id)
        })();
        match made {
            Ok(id) => {
                self.conn.execute_batch("COMMIT").map_err(|e| self.err(e))?;
                Ok(id)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// This book's id: new each time the file is made.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn seq(&self) -> Result<i64> {
        Ok(self.meta("seq")?.and_then(|s| s.parse().ok()).unwrap_or(0))
    }

    /// The sync token for the book as it stands (RFC 6578): a URI naming
    /// the book and its change sequence.
    pub fn sync_token(&self) -> Result<String> {
        Ok(format!("{TOKEN_PREFIX}{}:{}", self.id, self.seq()?))
    }

    /// The CalendarServer ctag: changes exactly when the sync token does.
    pub fn ctag(&self) -> Result<String> {
        self.sync_token()
    }

    /// Brings the book up to date with the ledger: recomputes the cards of
    /// shards whose index version changed, giving a new sequence number to
    /// each card whose ETag changed or that was removed or restored.
    pub fn refresh(&mut self, ledger: &Ledger) -> Result<Refreshed> {
        let index = ledger.index();
        // A rebuild in progress shows an empty index: wait for it rather
        // than report every card removed.
        let built: Option<String> = index
            .conn()
            .query_row("SELECT value FROM meta WHERE key='built'", [], |r| r.get(0))
            .optional()
            .map_err(|e| Error::Index {
                path: index.path().to_path_buf(),
                source: e,
            })?;
        if built.as_deref() != Some("yes") {
            return Ok(Refreshed::default());
        }
        let versions = index.shard_versions()?;
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.err(e))?;
        let outcome = self.refresh_in(ledger, &versions);
        match outcome {
            Ok(r) => {
                self.conn.execute_batch("COMMIT").map_err(|e| self.err(e))?;
                Ok(r)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn refresh_in(
        &mut self,
        ledger: &Ledger,
        versions: &HashMap<String, String>,
    ) -> Result<Refreshed> {
        let recorded: HashMap<String, String> = self
            .rows("SELECT shard, version FROM shards", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .into_iter()
            .collect();
        let mut changed: Vec<String> = versions
            .iter()
            .filter(|(s, v)| recorded.get(*s) != Some(v))
            .map(|(s, _)| s.clone())
            .collect();
        changed.extend(
            recorded
                .keys()
                .filter(|s| !versions.contains_key(*s))
                .cloned(),
        );
        changed.sort();
        let mut out = Refreshed {
            shards: changed.len(),
            ..Refreshed::default()
        };
        if changed.is_empty() {
            return Ok(out);
        }
        let mut people: BTreeSet<String> = BTreeSet::new();
        for shard in &changed {
            for id in self.affected(ledger, shard)? {
                people.insert(id);
            }
        }
        let mut seq = self.seq()?;
        for person in &people {
            out.computed += 1;
            if self.recompute(ledger, person, &mut seq)? {
                out.changed += 1;
            }
        }
        self.conn
            .execute(
                "UPDATE meta SET value=?1 WHERE key='seq'",
                [seq.to_string()],
            )
            .map_err(|e| self.err(e))?;
        for shard in &changed {
            match versions.get(shard) {
                Some(v) => self.conn.execute(
                    "INSERT INTO shards VALUES(?1, ?2) ON CONFLICT(shard) DO UPDATE SET version=?2",
                    params![shard, v],
                ),
                None => self
                    .conn
                    .execute("DELETE FROM shards WHERE shard=?1", [shard]),
            }
            .map_err(|e| self.err(e))?;
        }
        Ok(out)
    }

    /// Every person whose card a change to `shard` can change: its own
    /// people (and any this book served from it), the people of a company
    /// there whose name changed (a card shows only the company's name, and
    /// a shard holds about ten companies of ten people each: recomputing
    /// them all would double the cost of an edit), and both ends of
    /// relationships stored there or pointing there (a card names related
    /// people).
    fn affected(&self, ledger: &Ledger, shard: &str) -> Result<Vec<String>> {
        let index = ledger.index();
        let range = [shard.to_string(), format!("{shard}~")];
        let range = [&range[0], &range[1]];
        let mut out = index.ids_raw("SELECT id FROM people WHERE id >= ?1 AND id < ?2", range)?;
        let names: HashMap<String, String> = index
            .rows(
                "SELECT id, name FROM companies WHERE id >= ?1 AND id < ?2",
                range,
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .into_iter()
            .collect();
        let recorded: HashMap<String, String> = self
            .rows(
                "SELECT id, name FROM companies WHERE id >= ?1 AND id < ?2",
                range,
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .into_iter()
            .collect();
        for (id, name) in &names {
            if recorded.get(id) != Some(name) {
                out.extend(index.ids_raw("SELECT id FROM people WHERE company = ?1", [id])?);
                self.exec(
                    "INSERT INTO companies VALUES(?1, ?2) ON CONFLICT(id) DO UPDATE SET name = ?2",
                    params![id, name],
                )?;
            }
        }
        for id in recorded.keys().filter(|id| !names.contains_key(*id)) {
            out.extend(index.ids_raw("SELECT id FROM people WHERE company = ?1", [id])?);
            self.exec("DELETE FROM companies WHERE id = ?1", [id])?;
        }
        out.extend(index.ids_raw(
            "SELECT other FROM items WHERE subject >= ?1 AND subject < ?2 AND kind = 'link'",
            range,
        )?);
        out.extend(index.ids_raw(
            "SELECT subject FROM items WHERE other >= ?1 AND other < ?2 AND kind = 'link'",
            range,
        )?);
        out.extend(self.rows(
            "SELECT DISTINCT person FROM cards WHERE person >= ?1 AND person < ?2 AND removed = 0",
            range,
            |r| r.get(0),
        )?);
        Ok(out)
    }

    /// Computes one person's card again and records what changed. Returns
    /// whether the card's ETag or presence changed.
    fn recompute(&mut self, ledger: &Ledger, person: &str, seq: &mut i64) -> Result<bool> {
        let entity = match Id::parse(person) {
            Ok(id) => ledger.index().entity(&id)?,
            Err(_) => None,
        };
        let current = match entity.filter(is_card) {
            Some(e) => Some(card(ledger, &e)?),
            None => None,
        };
        let rows: Vec<(String, String, bool)> = self.rows(
            "SELECT href, etag, removed FROM cards WHERE person = ?1",
            [person],
            |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0)),
        )?;
        let mut changed = false;
        // Hrefs the person no longer has (removed, or moved to a phone's
        // href) become tombstones.
        for (href, _, removed) in &rows {
            let keep = current.as_ref().is_some_and(|c| &c.href == href);
            if !keep && !removed {
                *seq += 1;
                self.exec(
                    "UPDATE cards SET removed = 1, seq = ?2 WHERE href = ?1",
                    params![href, *seq],
                )?;
                changed = true;
            }
        }
        if let Some(c) = current {
            let same = rows
                .iter()
                .any(|(h, etag, removed)| *h == c.href && *etag == c.etag && !removed);
            if !same {
                *seq += 1;
                // An href another person held before (a tombstone) is taken
                // over: the client is told of it as changed.
                self.exec(
                    "INSERT INTO cards(href, person, uid, etag, seq, removed) VALUES(?1, ?2, ?3, ?4, ?5, 0)
                     ON CONFLICT(href) DO UPDATE SET person=?2, uid=?3, etag=?4, seq=?5, removed=0",
                    params![c.href, person, c.uid, c.etag, *seq],
                )?;
                changed = true;
            }
        }
        Ok(changed)
    }

    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> Result<()> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(params))
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn rows<T, P, F>(&self, sql: &str, params: P, read: F) -> Result<Vec<T>>
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

    /// What changed since `token`: an empty token gives every card (a first
    /// sync); a token of another book, or one this book never gave, is
    /// refused so the client starts again.
    pub fn changes_since(&self, token: &str) -> Result<Changes, TokenError> {
        let now = self.seq()?;
        let since =
            if token.trim().is_empty() {
                None
            } else {
                let rest = token.trim().strip_prefix(TOKEN_PREFIX).ok_or_else(|| {
                    TokenError::Malformed {
                        token: token.to_string(),
                    }
                })?;
                let (book, seq) = rest.rsplit_once(':').ok_or_else(|| TokenError::Malformed {
                    token: token.to_string(),
                })?;
                let seq: i64 = seq.parse().map_err(|_| TokenError::Malformed {
                    token: token.to_string(),
                })?;
                if book != self.id {
                    return Err(TokenError::Foreign {
                        token: token.to_string(),
                        book: self.id.clone(),
                    });
                }
                if seq > now || seq < 0 {
                    return Err(TokenError::Ahead {
                        token: token.to_string(),
                        at: now,
                    });
                }
                Some(seq)
            };
        let mut out = Changes {
            token: format!("{TOKEN_PREFIX}{}:{now}", self.id),
            ..Changes::default()
        };
        let rows: Vec<(String, String, bool)> = match since {
            // A first sync lists what is there; tombstones mean nothing to
            // a client that never had the cards.
            None => self.rows(
                "SELECT href, etag, removed FROM cards WHERE removed = 0 ORDER BY seq",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, false)),
            )?,
            Some(seq) => self.rows(
                "SELECT href, etag, removed FROM cards WHERE seq > ?1 ORDER BY seq",
                [seq],
                |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0)),
            )?,
        };
        for (href, etag, removed) in rows {
            if removed {
                out.removed.push(href);
            } else {
                out.changed.push((href, etag));
            }
        }
        Ok(out)
    }

    /// Calls `each(href, etag)` for every card, in href order, one row at a
    /// time: a PROPFIND Depth 1 over 100,000 cards streams from here
    /// without holding them. Gives how many there were.
    pub fn list(&self, mut each: impl FnMut(&str, &str)) -> Result<usize> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT href, etag FROM cards WHERE removed = 0 ORDER BY href")
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        let mut n = 0;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let href: String = row.get(0).map_err(|e| self.err(e))?;
            let etag: String = row.get(1).map_err(|e| self.err(e))?;
            each(&href, &etag);
            n += 1;
        }
        Ok(n)
    }

    /// How many cards the book serves.
    pub fn len(&self) -> Result<usize> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM cards WHERE removed = 0", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))?;
        Ok(n as usize)
    }

    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// The person an href names, and whether that card was removed.
    pub fn person(&self, href: &str) -> Result<Option<(Id, bool)>> {
        let row = self.rows(
            "SELECT person, removed FROM cards WHERE href = ?1",
            [href],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? != 0)),
        )?;
        Ok(row
            .into_iter()
            .next()
            .and_then(|(p, removed)| Some((Id::parse(&p).ok()?, removed))))
    }

    /// The card at `href`, computed now from the ledger (so its ETag is
    /// current even before the next refresh); None if there is none.
    pub fn get(&self, ledger: &Ledger, href: &str) -> Result<Option<Card>> {
        let Some((id, false)) = self.person(href)? else {
            return Ok(None);
        };
        let Some(e) = ledger.index().entity(&id)?.filter(is_card) else {
            return Ok(None);
        };
        let c = card(ledger, &e)?;
        Ok((c.href == href).then_some(c))
    }

    /// The cards at `hrefs`, each with its href and the card if there is one
    /// (an addressbook-multiget answers the missing ones with 404).
    pub fn multiget(&self, ledger: &Ledger, hrefs: &[&str]) -> Result<Vec<(String, Option<Card>)>> {
        hrefs
            .iter()
            .map(|h| Ok((h.to_string(), self.get(ledger, h)?)))
            .collect()
    }

    /// The cards matching every (or, with `any`, one) of `filters`, at most
    /// `limit` of them (the first by person id), in href order (an
    /// addressbook-query). Candidates come from the index (kith's own
    /// search, and the name and email columns); each is then checked
    /// against the values its card is written from, so what matches is
    /// exactly what the card says.
    pub fn query(
        &self,
        ledger: &Ledger,
        filters: &[TextMatch],
        any: bool,
        limit: usize,
    ) -> Result<Vec<Card>> {
        let index = ledger.index();
        let mut candidates: BTreeSet<String> = BTreeSet::new();
        let positive: Vec<&TextMatch> = filters.iter().filter(|f| !f.negate).collect();
        if positive.is_empty() {
            // Only negations: every card is a candidate.
            candidates.extend(self.rows(
                "SELECT person FROM cards WHERE removed = 0",
                [],
                |r| r.get(0),
            )?);
        }
        for f in &positive {
            let like = format!("%{}%", like_escape(&name_key(&f.text)));
            let mut ids = match f.prop {
                Prop::Fn => index.ids_raw(
                    "SELECT id FROM people WHERE deleted = 0 AND name_key LIKE ?1 ESCAPE '\\' LIMIT 5000",
                    [&like],
                )?,
                Prop::Email => index.ids_raw(
                    "SELECT id FROM emails WHERE email LIKE ?1 ESCAPE '\\' LIMIT 5000",
                    [&like],
                )?,
                Prop::Tel => Vec::new(),
            };
            if f.text.trim().chars().count() >= 2 {
                ids.extend(
                    index
                        .find(&f.text, 500, false)?
                        .into_iter()
                        .map(|h| h.id.to_string()),
                );
            }
            candidates.extend(ids);
        }
        // The card is written from exactly these fields, so matching the
        // record is matching the card; only the hits are built as cards.
        let mut out = Vec::new();
        for id in candidates {
            if out.len() >= limit {
                break;
            }
            let Ok(id) = Id::parse(&id) else { continue };
            let Some(e) = index.entity(&id)?.filter(is_card) else {
                continue;
            };
            let hit = |f: &TextMatch| f.matches(&e) != f.negate;
            let ok = if any {
                filters.iter().any(hit)
            } else {
                filters.iter().all(hit)
            };
            if ok {
                out.push(card(ledger, &e)?);
            }
        }
        out.sort_by(|a, b| a.href.cmp(&b.href));
        Ok(out)
    }

    /// The shards recorded, for tests and the face's diagnostics.
    pub fn shards_recorded(&self) -> Result<usize> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM shards", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok(n as usize)
    }
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The card properties an addressbook-query can match on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prop {
    Fn,
    Email,
    Tel,
}

/// RFC 6352 text-match match types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchType {
    Contains,
    Equals,
    StartsWith,
    EndsWith,
}

/// One text-match (collation `i;unicode-casemap`: case and accents folded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextMatch {
    pub prop: Prop,
    pub text: String,
    pub match_type: MatchType,
    pub negate: bool,
}

impl TextMatch {
    pub fn contains(prop: Prop, text: &str) -> TextMatch {
        TextMatch {
            prop,
            text: text.to_string(),
            match_type: MatchType::Contains,
            negate: false,
        }
    }

    /// Whether any value of the property on the card matches: FN is the
    /// name, EMAIL and TEL the emails and phones, as the card writes them.
    fn matches(&self, e: &crate::model::Entity) -> bool {
        let want = name_key(&self.text);
        let values: Vec<String> = match self.prop {
            Prop::Fn => vec![e.str("name").unwrap_or("").to_string()],
            Prop::Email => e
                .set_values("emails")
                .into_iter()
                .map(|l| l.value)
                .collect(),
            Prop::Tel => e
                .set_values("phones")
                .into_iter()
                .map(|l| l.value)
                .collect(),
        };
        values.into_iter().any(|v| {
            let v = name_key(&v);
            match self.match_type {
                MatchType::Contains => v.contains(&want),
                MatchType::Equals => v == want,
                MatchType::StartsWith => v.starts_with(&want),
                MatchType::EndsWith => v.ends_with(&want),
            }
        })
    }
}
