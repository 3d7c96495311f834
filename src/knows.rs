//! What the team knows, answered across the own ledger and every teammate's
//! replica: who knows someone (`who_knows`), the warm ways to reach them
//! (`intro_paths`) and who is likely to want something (`who_wants`).
//!
//! Each ledger is read through its own index, or, for `who_knows`, every
//! replica at once through the team index (`index::team`); every answer
//! says whose ledger each part came from. A replica only ever holds its
//! owner's shared part, so nothing private of a teammate can reach an
//! answer; evidence from the own private part is marked private and shown
//! only here, to its owner.
//!
//! The same person is usually a separate record in each ledger. Records are
//! taken to be one person when they share an email address, or when their
//! names match and their companies do not differ.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use jiff::civil::Date;
use rusqlite::params;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::index::team::{self, TeamIndex};
use crate::index::{Index, name_key};
use crate::model::{Entity, Id, Kind};
use crate::strength::{Strength, Term, Touch, strength};

/// One ledger to answer from.
pub struct Source<'a> {
    /// "you", or the teammate's name (with "left on DATE" for one removed).
    pub owner: String,
    /// The member id; None for the own ledger when not in a team.
    pub owner_id: Option<String>,
    /// The own ledger: its private part may be read.
    pub mine: bool,
    pub index: &'a Index,
}

/// Whose ledger an answer part comes from.
#[derive(Clone, Debug)]
pub struct Owner {
    /// "you", or the teammate's name (with "left on DATE" for one removed).
    pub owner: String,
    /// The member id; None for the own ledger when not in a team.
    pub owner_id: Option<String>,
    /// The own ledger.
    pub mine: bool,
}

impl Source<'_> {
    fn as_owner(&self) -> Owner {
        Owner {
            owner: self.owner.clone(),
            owner_id: self.owner_id.clone(),
            mine: self.mine,
        }
    }
}

/// Teammates' replicas read through the team index instead of one by one.
pub struct TeamPart<'a> {
    pub index: &'a TeamIndex,
    /// Each replica to answer from: its label and member id.
    pub owners: Vec<(String, String)>,
}

/// Every ledger a who-knows question is put to: some opened one by one,
/// the rest through the team index. `owners[i]` owns records of source `i`.
struct Asked<'a> {
    owners: Vec<Owner>,
    indexes: Vec<Option<&'a Index>>,
    team: Option<&'a TeamIndex>,
    /// Team index owner number → source.
    team_sources: HashMap<i64, usize>,
}

impl<'a> Asked<'a> {
    fn new(sources: &[Source<'a>], team: Option<TeamPart<'a>>) -> Asked<'a> {
        let mut asked = Asked {
            owners: sources.iter().map(Source::as_owner).collect(),
            indexes: sources.iter().map(|s| Some(s.index)).collect(),
            team: None,
            team_sources: HashMap::new(),
        };
        if let Some(team) = team {
            let numbers: HashMap<String, i64> = team
                .index
                .owner_numbers()
                .into_iter()
                .map(|(n, m)| (m, n))
                .collect();
            for (label, member) in team.owners {
                if let Some(&n) = numbers.get(&member) {
                    asked.team_sources.insert(n, asked.owners.len());
                }
                asked.owners.push(Owner {
                    owner: label,
                    owner_id: Some(member),
                    mine: false,
                });
                asked.indexes.push(None);
            }
            asked.team = Some(team.index);
        }
        asked
    }

    /// Every record the query names, in every ledger, with its score on
    /// `today`: those of ledgers opened one by one in full, with bounds on
    /// their scores from their interactions' days (scored in full only if
    /// ranking needs it); the team index's rows only as far as grouping
    /// and ranking need them.
    fn matching(&self, query: &Query, today: Date) -> Result<Matched> {
        let started = std::time::Instant::now();
        let mut full = Vec::new();
        let mut bounds = Vec::new();
        for (i, index) in self.indexes.iter().enumerate() {
            let Some(index) = index else { continue };
            let mut ids = matching_people(index, query)?;
            ids.sort();
            ids.dedup();
            let records = records_in(index, i, &ids)?;
            let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
            for mut days in days_in(index, &ids)? {
                bounds.push(crate::strength::bounds(&mut days, today));
            }
            full.extend(records);
        }
        // Keys as the team index numbers them, where it holds them.
        let mut m = Matched {
            keys: match self.team {
                Some(team) => {
                    let strings = full.iter().flat_map(|r| {
                        [r.name_key.as_str()]
                            .into_iter()
                            .chain(r.company_key.as_deref())
                            .chain(r.emails.iter().map(String::as_str))
                    });
                    let (numbers, next) = team.key_numbers(strings.chain([""]))?;
                    KeyTable::with_numbers(numbers, next)
                }
                None => KeyTable::default(),
            },
            ..Matched::default()
        };
        for (n, (r, (low, high))) in full.iter().zip(bounds).enumerate() {
            m.keys.push_strings(
                &r.name_key,
                r.company_key.as_deref(),
                r.emails.iter().map(String::as_str),
            );
            let found = Found {
                source: r.source,
                low,
                high,
                name: (0, 0),
                at: At::Full(n),
            };
            m.push(found, &r.name);
        }
        m.full = full;
        let own = started.elapsed();
        if let Some(team) = self.team {
            self.team_matching(team, query, today, &mut m)?;
        }
        tracing::debug!(?own, team = ?started.elapsed(), records = m.found.len(), "who-knows matching");
        Ok(m)
    }

    /// Scores exactly the records `pending` of `m` whose scores were only
    /// bounded.
    fn score_exactly(&self, m: &mut Matched, pending: &[usize], today: Date) -> Result<()> {
        let mut by_source: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for &i in pending {
            by_source.entry(m.found[i].source).or_default().push(i);
        }
        for (source, records) in by_source {
            let Some(index) = self.indexes[source] else {
                continue;
            };
            let ids = records.iter().filter_map(|&i| match m.found[i].at {
                At::Full(n) => Some(m.full[n].id.as_str()),
                At::Team(_) => None,
            });
            let mut touches = touches_in(index, ids)?;
            for i in records {
                if let At::Full(n) = m.found[i].at {
                    let t = touches.remove(m.full[n].id.as_str()).unwrap_or_default();
                    let score = score_of(t, today);
                    m.found[i].low = score;
                    m.found[i].high = score;
                }
            }
        }
        Ok(())
    }

    /// The team index's rows a query names, as [`team_matching`] reads
    /// them, added to `m` lean: a broad tag names tens of thousands, and
    /// only the people shown are read in full.
    fn team_matching(
        &self,
        team: &TeamIndex,
        query: &Query,
        today: Date,
        m: &mut Matched,
    ) -> Result<()> {
        let mut seen = HashSet::new();
        let mut summary = crate::strength::Summary::empty();
        let mut memo = crate::strength::Memo::default();
        let day = crate::strength::day_number(today);
        // Rows whose stored summary cannot score today: scored from their
        // interactions once the query is done.
        let mut unscored = Vec::new();
        let damaged = |i| {
            rusqlite::Error::FromSqlConversionFailure(
                i,
                rusqlite::types::Type::Blob,
                "not a lean row of this kith".into(),
            )
        };
        team_matching(team, query, "p.person, p.lean", &mut |row| {
            let person: i64 = row.get(0)?;
            // A tag's rows come once each (its primary key); other
            // queries may find a row twice.
            if !matches!(query, Query::Tag(_)) && !seen.insert(person) {
                return Ok(());
            }
            let bytes = row.get_ref(1)?.as_blob().map_err(|_| damaged(1))?;
            let lean = team::Lean::decode(bytes).ok_or_else(|| damaged(1))?;
            let Some(&source) = self.team_sources.get(&lean.owner) else {
                return Ok(());
            };
            let score = match lean.summary {
                Some(bytes) if summary.decode_into(bytes) && summary.covers(today) => {
                    Some(summary.score_memo(day, &mut memo))
                }
                None if lean.interactions == 0 => Some(0),
                _ => None,
            };
            if score.is_none() {
                unscored.push((m.found.len(), person));
            }
            m.keys.push(lean.name_key, lean.company_key, lean.emails());
            let score = score.unwrap_or(0);
            let found = Found {
                source,
                low: score,
                high: score,
                name: (0, 0),
                at: At::Team(person),
            };
            m.push(found, lean.name);
            Ok(())
        })?;
        for (i, person) in unscored {
            let touches = team
                .rows(
                    "SELECT packed FROM touches WHERE person = ?1",
                    [person],
                    |r| r.get::<_, String>(0),
                )?
                .first()
                .map(|packed| team::unpack_touches(packed))
                .unwrap_or_default();
            let score = score_of(touches, today);
            m.found[i].low = score;
            m.found[i].high = score;
        }
        Ok(())
    }

    /// Record `i` of `m` in full.
    fn record_of(&self, m: &Matched, i: usize) -> Result<Option<Record>> {
        let found = &m.found[i];
        Ok(match (found.at, self.team) {
            (At::Full(n), _) => Some(m.full[n].clone()),
            (At::Team(person), Some(team)) => {
                team_rows(team, "FROM people p WHERE p.person = ?1", [person])?
                    .into_iter()
                    .next()
                    .map(|(_, mut r)| {
                        r.source = found.source;
                        r
                    })
            }
            (At::Team(_), None) => None,
        })
    }

    /// Records of the same person as `seed`, in every ledger.
    fn same_as(&self, seed: &Record) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        for (i, index) in self.indexes.iter().enumerate() {
            if let Some(index) = index {
                out.extend(same_in(index, i, seed)?);
            }
        }
        if let Some(team) = self.team {
            let found = self.placed(team_same_as(team, seed)?);
            out.extend(found.into_iter().filter(|r| same_person(seed, r)));
        }
        Ok(out)
    }

    /// Team index rows as records of their sources; rows of replicas not
    /// asked are left out.
    fn placed(&self, rows: Vec<(i64, Record)>) -> Vec<Record> {
        rows.into_iter()
            .filter_map(|(owner, mut r)| {
                r.source = *self.team_sources.get(&owner)?;
                Some(r)
            })
            .collect()
    }

    /// A record's strength and last channel. A team record's stored
    /// summary answers for any day from its last interaction on; only a
    /// record with later interactions (dated ahead) needs them read.
    fn strength(
        &self,
        r: &Record,
        today: Date,
        explain: bool,
    ) -> Result<(Strength, Option<String>)> {
        if let Some(row) = &r.team_row {
            match row.summary.as_deref().map(crate::strength::Summary::decode) {
                Some(Some(summary)) if summary.covers(today) => {
                    let s = if explain {
                        summary.score(today)
                    } else {
                        summary.score_only(today)
                    };
                    return Ok((s, row.last_channel.clone()));
                }
                None if row.interactions == 0 => return Ok((strength(&[], today), None)),
                _ => {}
            }
        }
        Ok(strength_from(self.touches(r)?, today))
    }

    fn knower(&self, r: &Record, today: Date, explain: bool) -> Result<Knower> {
        let (s, last_channel) = self.strength(r, today, explain)?;
        let owner = &self.owners[r.source];
        Ok(Knower {
            owner: owner.owner.clone(),
            owner_id: owner.owner_id.clone(),
            mine: owner.mine,
            person_id: r.id.clone(),
            strength: s.score,
            interactions: s.interactions,
            last_contact: s.last,
            last_channel,
            terms: explain.then_some(s.terms),
        })
    }

    /// Every interaction of a record, from its ledger's index or the team index.
    fn touches(&self, r: &Record) -> Result<Vec<(Touch, String)>> {
        Ok(match (&r.team_row, self.indexes[r.source], self.team) {
            (Some(row), _, Some(team)) => team
                .rows(
                    "SELECT packed FROM touches WHERE person = ?1",
                    [row.rowid],
                    |r| r.get::<_, String>(0),
                )?
                .first()
                .map(|packed| team::unpack_touches(packed))
                .unwrap_or_default(),
            (None, Some(index), _) => touches(index, &r.id)?,
            _ => Vec::new(),
        })
    }
}

/// The records a who-knows query matched, in the order met, each with
/// what grouping and ranking need: its keys, its score (or bounds on it)
/// and the name it would be shown by. Only the records of the people
/// shown are then read in full.
#[derive(Default)]
struct Matched {
    keys: KeyTable,
    found: Vec<Found>,
    /// Every record's name, one after another (`Found::name`).
    names: String,
    /// Records of ledgers read one by one, already in full.
    full: Vec<Record>,
}

struct Found {
    source: usize,
    /// The score lies in `low..=high`; known when they are equal.
    low: u8,
    high: u8,
    /// Where its name is in `Matched::names`.
    name: (usize, usize),
    at: At,
}

#[derive(Clone, Copy)]
enum At {
    /// `Matched::full[n]`.
    Full(usize),
    /// The team index's row of this person.
    Team(i64),
}

impl Matched {
    fn push(&mut self, mut found: Found, name: &str) {
        let start = self.names.len();
        self.names.push_str(name);
        found.name = (start, self.names.len());
        self.found.push(found);
    }

    fn name(&self, i: usize) -> &str {
        let (start, end) = self.found[i].name;
        &self.names[start..end]
    }
}

/// What [`same_person`] compares of each record, as numbers: the team
/// index's numbers for keys its rows hold (`index::team::Lean`), others
/// numbered here from `next` on.
#[derive(Default)]
struct KeyTable {
    numbers: HashMap<String, usize>,
    next: usize,
    /// Per record: name key, company key, and its emails' range in `emails`.
    keys: Vec<(usize, Option<usize>, (usize, usize))>,
    emails: Vec<usize>,
    /// Above every number used.
    size: usize,
}

impl KeyTable {
    /// Numbers strings as the team index does, where it holds them.
    fn with_numbers(numbers: HashMap<String, usize>, next: usize) -> KeyTable {
        KeyTable {
            numbers,
            next,
            ..KeyTable::default()
        }
    }

    fn number(&mut self, s: &str) -> usize {
        if let Some(&n) = self.numbers.get(s) {
            return n;
        }
        let n = self.next;
        self.next += 1;
        self.numbers.insert(s.to_string(), n);
        n
    }

    /// The number of the empty name, which matches no one by name.
    fn empty(&mut self) -> usize {
        self.number("")
    }

    fn push_strings<'e>(
        &mut self,
        name_key: &str,
        company_key: Option<&str>,
        emails: impl Iterator<Item = &'e str>,
    ) {
        let name = self.number(name_key);
        let company = company_key.map(|c| self.number(c));
        let emails: Vec<usize> = emails.map(|e| self.number(e)).collect();
        self.push(name, company, emails.into_iter());
    }

    fn push(&mut self, name: usize, company: Option<usize>, emails: impl Iterator<Item = usize>) {
        let start = self.emails.len();
        self.emails.extend(emails);
        let most = self.emails[start..]
            .iter()
            .copied()
            .chain([name, company.unwrap_or(0)])
            .max()
            .unwrap_or(0);
        self.size = self.size.max(most + 1);
        self.keys.push((name, company, (start, self.emails.len())));
    }

    fn emails(&self, i: usize) -> &[usize] {
        let (start, end) = self.keys[i].2;
        &self.emails[start..end]
    }

    /// [`same_person`] of records `a` and `b`.
    fn same_person(&self, a: usize, b: usize, empty: usize) -> bool {
        let other = self.emails(b);
        if self.emails(a).iter().any(|e| other.contains(e)) {
            return true;
        }
        let (name_a, company_a, _) = self.keys[a];
        let (name_b, company_b, _) = self.keys[b];
        let companies_agree = match (company_a, company_b) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        };
        name_a != empty && name_a == name_b && companies_agree
    }

    /// The records grouped into people (see [`group`]), as indexes.
    fn groups(&mut self) -> Vec<Vec<usize>> {
        let empty = self.empty();
        let n = self.keys.len();
        let mut parent: Vec<usize> = (0..n).collect();
        fn root(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        let join = |parent: &mut Vec<usize>, i: usize, j: usize| {
            let (a, b) = (root(parent, i), root(parent, j));
            parent[a] = b;
        };
        // By email and by name, so grouping stays near-linear. The first
        // record with a name stands for it. Each holds a record + 1 (0:
        // none), so the tables start as zeroed memory the system hands
        // out lazily, however large the numbers.
        let size = self.size.max(empty + 1);
        let mut by_email = vec![0usize; size];
        let mut by_name = vec![0usize; size];
        for i in 0..n {
            for &e in self.emails(i) {
                match by_email[e] {
                    0 => by_email[e] = i + 1,
                    j => join(&mut parent, i, j - 1),
                }
            }
            let name = self.keys[i].0;
            match by_name[name] {
                0 => by_name[name] = i + 1,
                j if self.same_person(j - 1, i, empty) => join(&mut parent, i, j - 1),
                _ => {}
            }
        }
        // Groups in the order of their roots, each in record order.
        let mut slot = vec![usize::MAX; n];
        let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
        for i in 0..n {
            let r = root(&mut parent, i);
            if slot[r] == usize::MAX {
                slot[r] = groups.len();
                groups.push((r, Vec::new()));
            }
            groups[slot[r]].1.push(i);
        }
        groups.sort_unstable_by_key(|g| g.0);
        groups.into_iter().map(|g| g.1).collect()
    }
}

/// A person record in one source.
#[derive(Clone, Debug)]
struct Record {
    source: usize,
    id: Id,
    name: String,
    name_key: String,
    company: Option<String>,
    company_key: Option<String>,
    emails: Vec<String>,
    /// In the team index: the row, with the interactions summed up (read
    /// in full only when the summary cannot answer).
    team_row: Option<TeamRow>,
}

#[derive(Clone, Debug)]
struct TeamRow {
    rowid: i64,
    interactions: usize,
    /// All interactions summed up, encoded (None when there are none).
    summary: Option<Vec<u8>>,
    last_channel: Option<String>,
}

/// A person as the team knows them, with each ledger that knows them.
#[derive(Debug, Serialize)]
pub struct Contact {
    pub name: String,
    pub company: Option<String>,
    pub known_by: Vec<Knower>,
}

/// One ledger's owner knowing a contact.
#[derive(Debug, Serialize)]
pub struct Knower {
    pub owner: String,
    pub owner_id: Option<String>,
    pub mine: bool,
    /// The contact's id in that ledger.
    pub person_id: Id,
    /// 0–100, see [`crate::strength`].
    pub strength: u8,
    pub interactions: usize,
    pub last_contact: Option<Date>,
    pub last_channel: Option<String>,
    /// The terms the strength is the sum of (`--explain`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms: Option<Vec<Term>>,
}

/// What a who-knows query names.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Query {
    Tag(String),
    Domain(String),
    Email(String),
    Words(String),
}

fn parse_query(q: &str) -> Result<Query> {
    let q = q.trim();
    if q.is_empty() {
        return Err(Error::invalid("say who or what to look for"));
    }
    let lower = q.to_lowercase();
    if let Some(tag) = lower.strip_prefix('#').or(lower.strip_prefix("tag:")) {
        return Ok(Query::Tag(tag.trim().to_string()));
    }
    if let Some(domain) = lower.strip_prefix('@') {
        return Ok(Query::Domain(domain.to_string()));
    }
    if lower.contains('@') {
        return Ok(Query::Email(lower));
    }
    if lower.contains('.') && !lower.contains(char::is_whitespace) {
        return Ok(Query::Domain(lower));
    }
    Ok(Query::Words(q.to_string()))
}

/// People in `index` a query names, as ids.
fn matching_people(index: &Index, query: &Query) -> Result<Vec<Id>> {
    // Joins, not `id IN (SELECT …)`: SQLite would build that list of every
    // live person again for each query.
    let tagged =
        "SELECT t.id FROM tags t JOIN people p ON p.id = t.id WHERE t.tag = ?1 AND p.deleted = 0";
    match query {
        Query::Tag(tag) => index.ids(tagged, [tag]),
        Query::Email(email) => index.ids(
            "SELECT e.id FROM emails e JOIN people p ON p.id = e.id WHERE e.email = ?1 AND p.deleted = 0",
            [email],
        ),
        Query::Domain(domain) => {
            let mut ids = index.ids(
                "SELECT e.id FROM emails e JOIN people p ON p.id = e.id WHERE e.domain = ?1 AND p.deleted = 0",
                [domain],
            )?;
            // People recorded at a company whose domain this is.
            ids.extend(index.ids(
                "SELECT p.id FROM companies c JOIN people p ON p.company = c.id
                 WHERE lower(c.domain) = ?1 AND c.deleted = 0 AND p.deleted = 0",
                [domain],
            )?);
            Ok(ids)
        }
        Query::Words(words) => {
            let key = name_key(words);
            let mut ids = index.ids(tagged, [words.to_lowercase()])?;
            // "acme" finds people at "Acme" and "Acme Ltd", by the index.
            ids.extend(index.ids(
                "SELECT p.id FROM companies c JOIN people p ON p.company = c.id
                 WHERE c.deleted = 0 AND p.deleted = 0
                   AND (c.name_key = ?1 OR (c.name_key >= ?2 AND c.name_key < ?3))",
                params![key, format!("{key} "), format!("{key}!")],
            )?);
            ids.extend(people_named(index, &key)?);
            Ok(ids)
        }
    }
}

/// People whose name contains `key` (already a [`name_key`]).
fn people_named(index: &Index, key: &str) -> Result<Vec<Id>> {
    if key.chars().count() < 3 {
        return index.ids(
            "SELECT id FROM people WHERE deleted = 0 AND name_key = ?1",
            [key],
        );
    }
    let phrase = format!("\"{}\"", key.replace('"', "\"\""));
    index.ids(
        "SELECT p.id FROM names n JOIN entities e ON e.rowid = n.rowid JOIN people p ON p.id = e.id
         WHERE names MATCH ?1 AND p.deleted = 0 LIMIT 500",
        [phrase],
    )
}

fn record(index: &Index, source: usize, id: &Id) -> Result<Option<Record>> {
    let row = index.rows(
        "SELECT p.name, p.name_key, c.name, c.name_key FROM people p
         LEFT JOIN companies c ON c.id = p.company AND c.deleted = 0 WHERE p.id = ?1",
        [id.as_str()],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        },
    )?;
    let Some((name, name_key, company, company_key)) = row.into_iter().next() else {
        return Ok(None);
    };
    let emails = index.ids_raw(
        "SELECT email FROM emails WHERE id = ?1 ORDER BY email",
        [id.as_str()],
    )?;
    Ok(Some(Record {
        source,
        id: id.clone(),
        name,
        name_key,
        company,
        company_key,
        emails,
        team_row: None,
    }))
}

/// Whether two records are the same person (see the module doc).
fn same_person(a: &Record, b: &Record) -> bool {
    if a.emails.iter().any(|e| b.emails.contains(e)) {
        return true;
    }
    let companies_agree = match (&a.company_key, &b.company_key) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    };
    !a.name_key.is_empty() && a.name_key == b.name_key && companies_agree
}

/// Records of the same person as `r` in another source.
fn same_in(index: &Index, source: usize, r: &Record) -> Result<Vec<Record>> {
    let mut ids: Vec<Id> = Vec::new();
    for email in &r.emails {
        ids.extend(index.ids(
            "SELECT e.id FROM emails e JOIN people p ON p.id = e.id WHERE e.email = ?1 AND p.deleted = 0",
            [email],
        )?);
    }
    ids.extend(index.ids(
        "SELECT id FROM people WHERE name_key = ?1 AND deleted = 0",
        [&r.name_key],
    )?);
    ids.sort();
    ids.dedup();
    let mut out = Vec::new();
    for id in ids {
        if let Some(other) = record(index, source, &id)?
            && same_person(r, &other)
        {
            out.push(other);
        }
    }
    Ok(out)
}

/// Groups records into people: union of every pair that is the same
/// person, found through each email's and each name's first record.
/// Groups come in the order of their union-find roots.
fn group(records: Vec<Record>) -> Vec<Vec<Record>> {
    let mut keys = KeyTable::default();
    for r in &records {
        keys.push_strings(
            &r.name_key,
            r.company_key.as_deref(),
            r.emails.iter().map(String::as_str),
        );
    }
    let mut records: Vec<Option<Record>> = records.into_iter().map(Some).collect();
    keys.groups()
        .into_iter()
        .map(|g| g.into_iter().filter_map(|i| records[i].take()).collect())
        .collect()
}

/// The interactions a ledger holds with one person.
fn touches(index: &Index, id: &Id) -> Result<Vec<(Touch, String)>> {
    index
        .rows(
            "SELECT at, channel, direction FROM involved WHERE person = ?1",
            [id.as_str()],
            |r| {
                let at: String = r.get(0)?;
                let channel: String = r.get(1)?;
                let direction: Option<String> = r.get(2)?;
                Ok((at, channel, direction))
            },
        )
        .map(|rows| {
            rows.into_iter()
                .filter_map(|(at, channel, direction)| {
                    Touch::stored(at, channel, direction.as_deref())
                })
                .collect()
        })
}

/// How well the owner of `index` knows one of its people, on `today`.
pub fn strength_of(index: &Index, id: &Id, today: Date) -> Result<(Strength, Option<String>)> {
    Ok(strength_from(touches(index, id)?, today))
}

/// The score alone of these interactions on `today`: as
/// [`strength_from`] gives it, without wording its terms.
fn score_of(touches: Vec<(Touch, String)>, today: Date) -> u8 {
    let past: Vec<&Touch> = touches
        .iter()
        .map(|(t, _)| t)
        .filter(|t| t.date <= today)
        .collect();
    crate::strength::Summary::of(past).map_or(0, |s| s.score_only(today).score)
}

/// A list of ids as SQL reads it through `json_each`: one query for many
/// people instead of one each.
fn id_list<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    serde_json::Value::from(ids.collect::<Vec<_>>()).to_string()
}

/// The records of `ids` in one ledger, in that order, each as [`record`]
/// reads it; ids of no one are left out.
fn records_in(index: &Index, source: usize, ids: &[Id]) -> Result<Vec<Record>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = id_list(ids.iter().map(Id::as_str));
    let mut emails: HashMap<String, Vec<String>> = HashMap::new();
    for (id, email) in index.rows(
        "SELECT e.id, e.email FROM json_each(?1) j JOIN emails e ON e.id = j.value
         ORDER BY e.id, e.email",
        [&list],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
    )? {
        emails.entry(id).or_default().push(email);
    }
    index.rows(
        "SELECT p.id, p.name, p.name_key, c.name, c.name_key
         FROM json_each(?1) j JOIN people p ON p.id = j.value
           LEFT JOIN companies c ON c.id = p.company AND c.deleted = 0
         ORDER BY j.key",
        [&list],
        |r| {
            let id: String = r.get(0)?;
            Ok(Record {
                source,
                emails: emails.remove(&id).unwrap_or_default(),
                // Ids in an index were checked when written.
                id: Id::trusted(id),
                name: r.get(1)?,
                name_key: r.get(2)?,
                company: r.get(3)?,
                company_key: r.get(4)?,
                team_row: None,
            })
        },
    )
}

/// The days of the interactions a ledger holds with each of `ids`, as
/// [`crate::strength::day_number`]s, by position in `ids`: the index on
/// (person, at) answers without reading the interactions.
fn days_in(index: &Index, ids: &[&str]) -> Result<Vec<Vec<i32>>> {
    let mut out = vec![Vec::new(); ids.len()];
    for (n, day) in index.rows(
        "SELECT j.key, i.at FROM json_each(?1) j JOIN involved i ON i.person = j.value",
        [id_list(ids.iter().copied())],
        |r| {
            // As `Touch::stored`: an interaction whose day cannot be read
            // does not count.
            let day = r
                .get_ref(1)?
                .as_str()
                .ok()
                .and_then(|at| at.get(..10))
                .and_then(|d| d.parse::<Date>().ok())
                .map(crate::strength::day_number);
            Ok((r.get::<_, i64>(0)?, day))
        },
    )? {
        if let (Some(list), Some(day)) = (usize::try_from(n).ok().and_then(|n| out.get_mut(n)), day)
        {
            list.push(day);
        }
    }
    Ok(out)
}

/// The interactions a ledger holds with each of `ids`, as [`touches`]
/// reads them for one.
fn touches_in<'a>(
    index: &Index,
    ids: impl Iterator<Item = &'a str>,
) -> Result<HashMap<String, Vec<(Touch, String)>>> {
    let mut out: HashMap<String, Vec<(Touch, String)>> = HashMap::new();
    for (person, at, channel, direction) in index.rows(
        "SELECT i.person, i.at, i.channel, i.direction
         FROM json_each(?1) j JOIN involved i ON i.person = j.value",
        [id_list(ids)],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        },
    )? {
        if let Some(t) = Touch::stored(at, channel, direction.as_deref()) {
            out.entry(person).or_default().push(t);
        }
    }
    Ok(out)
}

/// The strength of these interactions, and the channel of the last one.
fn strength_from(touches: Vec<(Touch, String)>, today: Date) -> (Strength, Option<String>) {
    let last_channel = crate::strength::last_channel(&touches, today);
    let plain: Vec<Touch> = touches.into_iter().map(|(t, _)| t).collect();
    (strength(&plain, today), last_channel)
}

/// The columns a team index record is read from, by [`team_record`].
const TEAM_RECORD: &str = "p.owner, p.id, p.name, p.name_key, p.company, p.company_key, p.emails, \
     p.person, p.interactions, p.summary, p.last_channel";

fn team_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, Record)> {
    // Ids in an index were checked when written.
    let id = Id::trusted(r.get(1)?);
    let emails: String = r.get(6)?;
    let team_row = TeamRow {
        rowid: r.get(7)?,
        interactions: r.get::<_, i64>(8)?.max(0) as usize,
        summary: r.get(9)?,
        last_channel: r.get(10)?,
    };
    Ok((
        r.get(0)?,
        Record {
            source: 0,
            id,
            name: r.get(2)?,
            name_key: r.get(3)?,
            company: r.get(4)?,
            company_key: r.get(5)?,
            emails: emails
                .split(team::FIELD)
                .filter(|e| !e.is_empty())
                .map(str::to_string)
                .collect(),
            team_row: Some(team_row),
        },
    ))
}

fn team_rows<P: rusqlite::Params>(
    team: &TeamIndex,
    from: &str,
    params: P,
) -> Result<Vec<(i64, Record)>> {
    let sql = format!("SELECT {TEAM_RECORD} {from}");
    team.rows(&sql, params, team_record)
}

/// Every replica's people a query names, from the team index: the same
/// rules as [`matching_people`] for one ledger. Each row's `columns` are
/// passed to `each`, in order; a row found by two lookups comes twice.
fn team_matching(
    team: &TeamIndex,
    query: &Query,
    columns: &str,
    each: &mut dyn FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<()>,
) -> Result<()> {
    // `tags` carries the record's columns: a tag's rows are read in one
    // run, not looked up one by one.
    const TAGGED: &str = "FROM tags p WHERE p.tag = ?1";
    let sql = |from: &str| format!("SELECT {columns} {from}");
    match query {
        Query::Tag(tag) => team.each_row(&sql(TAGGED), [tag], &mut *each),
        Query::Email(email) => team.each_row(
            &sql("FROM emails e JOIN people p ON p.person = e.person WHERE e.email = ?1"),
            [email],
            &mut *each,
        ),
        Query::Domain(domain) => {
            team.each_row(
                &sql("FROM emails e JOIN people p ON p.person = e.person WHERE e.domain = ?1"),
                [domain],
                &mut *each,
            )?;
            team.each_row(
                &sql("FROM people p WHERE p.company_domain = ?1"),
                [domain],
                &mut *each,
            )
        }
        Query::Words(words) => {
            let key = name_key(words);
            team.each_row(&sql(TAGGED), [words.to_lowercase()], &mut *each)?;
            team.each_row(
                &sql("FROM people p WHERE p.company_key = ?1 OR (p.company_key >= ?2 AND p.company_key < ?3)"),
                params![key, format!("{key} "), format!("{key}!")],
                &mut *each,
            )?;
            if key.chars().count() < 3 {
                team.each_row(
                    &sql("FROM people p WHERE p.name_key = ?1"),
                    [&key],
                    &mut *each,
                )
            } else {
                let phrase = format!("\"{}\"", key.replace('"', "\"\""));
                team.each_row(
                    &sql("FROM names n JOIN people p ON p.person = n.rowid WHERE names MATCH ?1 LIMIT 10000"),
                    [phrase],
                    &mut *each,
                )
            }
        }
    }
}

/// Each team index row once (several lookups may find it).
fn distinct(mut rows: Vec<(i64, Record)>) -> Vec<(i64, Record)> {
    let mut seen = HashSet::new();
    rows.retain(|(_, r)| r.team_row.as_ref().is_none_or(|t| seen.insert(t.rowid)));
    rows
}

/// Team index records sharing an email or the name of `seed`.
fn team_same_as(team: &TeamIndex, seed: &Record) -> Result<Vec<(i64, Record)>> {
    let mut rows = Vec::new();
    for email in &seed.emails {
        rows.extend(team_rows(
            team,
            "FROM emails e JOIN people p ON p.person = e.person WHERE e.email = ?1",
            [email],
        )?);
    }
    rows.extend(team_rows(
        team,
        "FROM people p WHERE p.name_key = ?1",
        [&seed.name_key],
    )?);
    Ok(distinct(rows))
}

/// Who on the team knows the people a query names: a company, a person, an
/// email domain (`acme.com`, `@acme.com`) or a tag (`#wine`, `tag:wine`).
/// Strongest first; at most `limit` people. `sources` are read one by one;
/// `team`, if given, holds the other replicas.
pub fn who_knows(
    sources: &[Source<'_>],
    team: Option<TeamPart<'_>>,
    query: &str,
    today: Date,
    limit: usize,
    explain: bool,
) -> Result<Vec<Contact>> {
    let query = parse_query(query)?;
    let asked = Asked::new(sources, team);
    let _snapshot = asked.team.map(TeamIndex::snapshot).transpose()?;
    let started = std::time::Instant::now();
    let mut found = asked.matching(&query, today)?;
    let matched = started.elapsed();
    let groups = found.keys.groups();
    let grouped = started.elapsed();
    let ranked = rank(&asked, &mut found, groups, today, limit, explain)?;
    tracing::debug!(?matched, ?grouped, ranked = ?started.elapsed(), "who-knows");
    // A teammate may know someone the query matched only in another ledger
    // (the company recorded by one of them): complete the people shown.
    let mut contacts = Vec::with_capacity(ranked.len());
    for (mut contact, seed) in ranked {
        complete(&asked, &mut contact, &seed, today, explain)?;
        contacts.push(contact);
    }
    contacts.sort_by(contact_order);
    Ok(contacts)
}

/// The `limit` strongest contacts, strongest first, each with the record
/// it is best known by. Every record is scored (from the team index's
/// stored summary, which is cheap) or bounded (from its interactions'
/// days); only the records that could change which contacts are shown are
/// scored in full, and only the contacts shown are read in full and built.
fn rank(
    asked: &Asked<'_>,
    found: &mut Matched,
    groups: Vec<Vec<usize>>,
    today: Date,
    limit: usize,
    explain: bool,
) -> Result<Vec<(Contact, Record)>> {
    // The record each group is shown by, as `shown`.
    let shown: Vec<usize> = groups
        .iter()
        .map(|g| {
            g.iter()
                .copied()
                .find(|&i| asked.owners[found.found[i].source].mine)
                .unwrap_or(g[0])
        })
        .collect();
    let high = |found: &Matched, g: &[usize]| -> u8 {
        g.iter().map(|&i| found.found[i].high).max().unwrap_or(0)
    };
    let mut highs: Vec<u8> = groups.iter().map(|g| high(found, g)).collect();
    let top = loop {
        let view: &Matched = found;
        // A group's score is its best record's. Where a bounded record
        // could beat its group's best known score, the group is ranked by
        // the bound: when the first `limit` so ranked all have known
        // scores, no other group can rank above any of them.
        let known = |g: &[usize]| -> Option<u8> {
            g.iter()
                .filter(|&&i| view.found[i].low == view.found[i].high)
                .map(|&i| view.found[i].high)
                .max()
        };
        let mut order: Vec<(u8, usize)> = highs.iter().copied().zip(0..).collect();
        // As `contact_order`: strongest first, then by the name shown,
        // then as grouped (a stable sort of the groups).
        let cmp = |a: &(u8, usize), b: &(u8, usize)| {
            b.0.cmp(&a.0)
                .then_with(|| view.name(shown[a.1]).cmp(view.name(shown[b.1])))
                .then(a.1.cmp(&b.1))
        };
        if order.len() > limit && limit > 0 {
            order.select_nth_unstable_by(limit - 1, cmp);
        }
        order.truncate(limit);
        order.sort_unstable_by(cmp);
        let pending: Vec<usize> = order
            .iter()
            .flat_map(|&(_, n)| {
                let known = known(&groups[n]);
                groups[n]
                    .iter()
                    .copied()
                    .filter(move |&i| {
                        let f = &view.found[i];
                        f.low != f.high && known.is_none_or(|k| f.high > k)
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        if pending.is_empty() {
            break order;
        }
        asked.score_exactly(found, &pending, today)?;
        for (_, n) in order {
            highs[n] = high(found, &groups[n]);
        }
    };
    let mut ranked = Vec::with_capacity(top.len());
    for (_, n) in top {
        let mut records = Vec::with_capacity(groups[n].len());
        for &i in &groups[n] {
            records.extend(asked.record_of(found, i)?);
        }
        if !records.is_empty() {
            ranked.push(contact_of(asked, records, today, explain)?);
        }
    }
    Ok(ranked)
}

/// The record a contact is shown by: the own ledger's, else the first.
fn shown<'r>(asked: &Asked<'_>, records: &'r [Record]) -> &'r Record {
    records
        .iter()
        .find(|r| asked.owners[r.source].mine)
        .unwrap_or(&records[0])
}

/// One group of records as a contact, with its strongest record.
fn contact_of(
    asked: &Asked<'_>,
    records: Vec<Record>,
    today: Date,
    explain: bool,
) -> Result<(Contact, Record)> {
    let mut known_by = Vec::new();
    for r in &records {
        known_by.push((asked.knower(r, today, explain)?, r));
    }
    known_by.sort_by(|a, b| knower_order(&a.0, &b.0));
    let seed = known_by[0].1.clone();
    let best = shown(asked, &records);
    Ok((
        Contact {
            name: best.name.clone(),
            company: records.iter().find_map(|r| r.company.clone()),
            known_by: known_by.into_iter().map(|(k, _)| k).collect(),
        },
        seed,
    ))
}

fn knower_order(a: &Knower, b: &Knower) -> std::cmp::Ordering {
    b.strength
        .cmp(&a.strength)
        .then(b.last_contact.cmp(&a.last_contact))
        .then(a.owner.cmp(&b.owner))
}

fn contact_order(a: &Contact, b: &Contact) -> std::cmp::Ordering {
    let best = |c: &Contact| c.known_by.first().map(|k| k.strength).unwrap_or(0);
    best(b).cmp(&best(a)).then(a.name.cmp(&b.name))
}

/// Adds the ledgers that know `contact` but were not matched by the query.
fn complete(
    asked: &Asked<'_>,
    contact: &mut Contact,
    seed: &Record,
    today: Date,
    explain: bool,
) -> Result<()> {
    let known: HashSet<(String, Id)> = contact
        .known_by
        .iter()
        .map(|k| (k.owner.clone(), k.person_id.clone()))
        .collect();
    for r in asked.same_as(seed)? {
        if !known.contains(&(asked.owners[r.source].owner.clone(), r.id.clone())) {
            contact.known_by.push(asked.knower(&r, today, explain)?);
        }
    }
    contact.known_by.sort_by(knower_order);
    Ok(())
}

/// One step on a warm path.
#[derive(Debug, Serialize)]
pub struct Step {
    /// Who this step reaches.
    pub name: String,
    /// How: "teammate", "knows", or the relationship ("daughter"…).
    pub how: String,
    /// The link's strength, 0–100.
    pub strength: u8,
    /// The ledger the link is recorded in; None for the team itself.
    pub recorded_by: Option<String>,
}

/// A way from the asking member to someone, through teammates and recorded
/// relationships.
#[derive(Debug, Serialize)]
pub struct IntroPath {
    /// The weakest link's strength: what the path is ranked by.
    pub weakest: u8,
    pub steps: Vec<Step>,
}

/// How close a recorded relationship is, 0–100 (docs/USER-GUIDE.md).
pub fn relation_strength(relation: &str) -> u8 {
    match relation {
        "spouse" | "partner" | "husband" | "wife" => 90,
        "parent" | "child" | "sibling" | "daughter" | "son" | "mother" | "father" | "brother"
        | "sister" | "family" => 85,
        "friend" => 70,
        "colleague" | "reports-to" | "manages" | "employer" | "employee" | "mentor" | "mentee" => {
            55
        }
        "introduced-by" | "introduced" => 45,
        _ => 40,
    }
}

/// How strong the link between two teammates counts: being on one team.
pub const TEAMMATE_STRENGTH: u8 = 100;

/// How many relationships a path may follow from the person known to the
/// person sought.
const MAX_RELATION_HOPS: usize = 2;

/// A person reached while searching back from the one sought: the records
/// that are them, and the relationship that leads on towards the target.
struct Reached {
    records: Vec<Record>,
    /// (how this person stands to the next one, recorded by, next's index)
    next: Option<(String, String, usize)>,
}

/// Warm paths from the asking member (`sources` with `mine`) to `who`:
/// through a teammate who knows someone, then up to two recorded
/// relationships. Ranked by the weakest link, then by length.
pub fn intro_paths(
    sources: &[Source<'_>],
    who: &str,
    today: Date,
    limit: usize,
) -> Result<Vec<IntroPath>> {
    let target = find_person(sources, who)?;
    let mut reached = vec![Reached {
        records: target,
        next: None,
    }];
    let mut seen: HashSet<(usize, Id)> = reached[0]
        .records
        .iter()
        .map(|r| (r.source, r.id.clone()))
        .collect();
    let mut queue = VecDeque::from([(0usize, 0usize)]);
    while let Some((at, hops)) = queue.pop_front() {
        if hops == MAX_RELATION_HOPS {
            continue;
        }
        for (relation, recorded_by, record) in neighbours(sources, &reached[at].records)? {
            if seen.contains(&(record.source, record.id.clone())) {
                continue;
            }
            let mut records = vec![record.clone()];
            for (i, s) in sources.iter().enumerate() {
                if i != record.source {
                    records.extend(same_in(s.index, i, &record)?);
                }
            }
            seen.extend(records.iter().map(|r| (r.source, r.id.clone())));
            // The neighbour stands as `relation` to the reached person; the
            // step towards the target reads the other way.
            let how = crate::model::inverse_relation(&relation);
            reached.push(Reached {
                records,
                next: Some((how, recorded_by, at)),
            });
            queue.push_back((reached.len() - 1, hops + 1));
        }
    }
    let mut paths = Vec::new();
    for (i, r) in reached.iter().enumerate() {
        for record in &r.records {
            paths.push(path_through(sources, &reached, i, record, today)?);
        }
    }
    paths.sort_by(|a, b| {
        b.weakest
            .cmp(&a.weakest)
            .then(a.steps.len().cmp(&b.steps.len()))
    });
    paths.dedup_by(|a, b| {
        a.steps
            .iter()
            .map(|s| (&s.name, &s.recorded_by))
            .collect::<Vec<_>>()
            == b.steps
                .iter()
                .map(|s| (&s.name, &s.recorded_by))
                .collect::<Vec<_>>()
    });
    paths.truncate(limit);
    Ok(paths)
}

/// The path: me → (teammate →) the person known → relationships → target.
fn path_through(
    sources: &[Source<'_>],
    reached: &[Reached],
    start: usize,
    record: &Record,
    today: Date,
) -> Result<IntroPath> {
    let source = &sources[record.source];
    let mut steps = Vec::new();
    if !source.mine {
        steps.push(Step {
            name: source.owner.clone(),
            how: "teammate".into(),
            strength: TEAMMATE_STRENGTH,
            recorded_by: None,
        });
    }
    let (s, _) = strength_of(source.index, &record.id, today)?;
    steps.push(Step {
        name: record.name.clone(),
        how: "knows".into(),
        strength: s.score,
        recorded_by: Some(source.owner.clone()),
    });
    let mut at = start;
    while let Some((how, recorded_by, next)) = &reached[at].next {
        let person = &reached[*next].records[0];
        steps.push(Step {
            name: person.name.clone(),
            how: how.clone(),
            strength: relation_strength(how),
            recorded_by: Some(recorded_by.clone()),
        });
        at = *next;
    }
    Ok(IntroPath {
        weakest: steps.iter().map(|s| s.strength).min().unwrap_or(0),
        steps,
    })
}

/// Everyone a recorded relationship ties to one of `records`, with how
/// they stand to them and whose ledger records it.
fn neighbours(sources: &[Source<'_>], records: &[Record]) -> Result<Vec<(String, String, Record)>> {
    let mut out = Vec::new();
    for r in records {
        let index = sources[r.source].index;
        for link in crate::view::relationships(index, &r.id)? {
            if let Some(other) = record(index, r.source, &link.person_id)? {
                out.push((link.relation, sources[r.source].owner.clone(), other));
            }
        }
    }
    Ok(out)
}

/// The one person `who` names, as (source, id) in every source that holds
/// them: what `kith history WHO --team` and `kith about WHO --team` read.
pub fn locate(sources: &[Source<'_>], who: &str) -> Result<Vec<(usize, Id)>> {
    Ok(find_person(sources, who)?
        .into_iter()
        .map(|r| (r.source, r.id))
        .collect())
}

/// Every record, in every source, of the one person `who` names: an email
/// or a name. The closest name wins when several people match.
fn find_person(sources: &[Source<'_>], who: &str) -> Result<Vec<Record>> {
    let query = if who.contains('@') {
        Query::Email(who.trim().to_lowercase())
    } else {
        Query::Words(who.to_string())
    };
    let key = name_key(who);
    let mut records = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        let ids = match &query {
            Query::Words(_) => people_named(s.index, &key)?,
            q => matching_people(s.index, q)?,
        };
        for id in ids {
            records.extend(record(s.index, i, &id)?);
        }
    }
    if records.is_empty() && matches!(query, Query::Words(_)) {
        // No name contains the words: forgive a typo, as `kith show` does.
        for (i, s) in sources.iter().enumerate() {
            if let Some((e, score)) = s
                .index
                .match_names(who, &[Kind::Person])?
                .into_iter()
                .next()
                && score >= 0.8
                && !e.is_deleted()
            {
                records.extend(record(s.index, i, &e.id)?);
            }
        }
    }
    let mut groups = group(records);
    groups.sort_by_key(|g| {
        let exact = g.iter().any(|r| r.name_key == key);
        (!exact, g[0].name.len(), g[0].name.clone())
    });
    let mut best = groups
        .into_iter()
        .next()
        .ok_or_else(|| Error::NotFound(format!("no one on the team matching {who:?}")))?;
    // The same person under another name in some ledger, found by email.
    let seed = best[0].clone();
    for (i, s) in sources.iter().enumerate() {
        for r in same_in(s.index, i, &seed)? {
            if !best.iter().any(|b| b.source == r.source && b.id == r.id) {
                best.push(r);
            }
        }
    }
    Ok(best)
}

/// Something that shows a person may want a topic.
#[derive(Debug, Serialize)]
pub struct Evidence {
    pub owner: String,
    pub owner_id: Option<String>,
    /// "tag", "fact", "note" or "interaction".
    pub kind: &'static str,
    pub text: String,
    pub date: Option<String>,
    /// From the own private part: shown only to its owner.
    pub private: bool,
    pub points: f64,
}

/// A person likely to care about a topic.
#[derive(Debug, Serialize)]
pub struct Want {
    pub name: String,
    pub company: Option<String>,
    /// 0–100: the evidence's points summed (docs/USER-GUIDE.md).
    pub score: u8,
    /// Each ledger's id for this person.
    pub ids: Vec<(String, Id)>,
    pub evidence: Vec<Evidence>,
}

/// Points per piece of evidence; interactions fade with a 180-day half-life.
const TAG_POINTS: f64 = 40.0;
const FACT_POINTS: f64 = 30.0;
const NOTE_POINTS: f64 = 20.0;
const INTERACTION_POINTS: f64 = 15.0;
const INTERACTION_HALF_LIFE: f64 = 180.0;

/// The people most likely to care about `topic`, with the evidence: their
/// tags, facts and notes about them, and interactions that mention it.
/// `sources` are read one by one; `team`, if given, holds the other
/// replicas, read as each would be on its own.
pub fn who_wants(
    sources: &[Source<'_>],
    team: Option<TeamPart<'_>>,
    topic: &str,
    today: Date,
    limit: usize,
) -> Result<Vec<Want>> {
    let topic = topic.trim().to_lowercase();
    if topic.is_empty() {
        return Err(Error::invalid("say what topic to look for"));
    }
    let asked = Asked::new(sources, team);
    let _snapshot = asked.team.map(TeamIndex::snapshot).transpose()?;
    let started = std::time::Instant::now();
    // Each ledger's evidence in the order reading it alone gives: records
    // are met, and grouped, in that order.
    let mut found: Vec<(Record, Evidence)> = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let mut records: HashMap<Id, Record> = HashMap::new();
        for (id, e) in evidence_in(source, &topic, today)? {
            let r = match records.get(&id) {
                Some(r) => r.clone(),
                None => match record(source.index, i, &id)? {
                    Some(r) => {
                        records.insert(id, r.clone());
                        r
                    }
                    None => continue,
                },
            };
            found.push((r, e));
        }
    }
    let own = started.elapsed();
    if let Some(team) = asked.team {
        found.extend(team_evidence(&asked, team, &topic, today)?);
    }
    let read = started.elapsed();
    let mut records = Vec::new();
    let mut evidence: HashMap<(usize, Id), Vec<Evidence>> = HashMap::new();
    for (r, e) in found {
        let key = (r.source, r.id.clone());
        if !evidence.contains_key(&key) {
            records.push(r);
        }
        evidence.entry(key).or_default().push(e);
    }
    let mut wants: Vec<Want> = group(records)
        .into_iter()
        .map(|records| {
            let mut ev: Vec<Evidence> = records
                .iter()
                .flat_map(|r| {
                    evidence
                        .remove(&(r.source, r.id.clone()))
                        .unwrap_or_default()
                })
                .collect();
            ev.sort_by(|a, b| b.points.total_cmp(&a.points).then(b.date.cmp(&a.date)));
            let total: f64 = ev.iter().map(|e| e.points).sum();
            let best = shown(&asked, &records);
            Want {
                name: best.name.clone(),
                company: records.iter().find_map(|r| r.company.clone()),
                score: total.round().clamp(0.0, 100.0) as u8,
                ids: records
                    .iter()
                    .map(|r| (asked.owners[r.source].owner.clone(), r.id.clone()))
                    .collect(),
                evidence: ev,
            }
        })
        .collect();
    wants.sort_by(|a, b| b.score.cmp(&a.score).then(a.name.cmp(&b.name)));
    wants.truncate(limit);
    tracing::debug!(?own, ?read, ranked = ?started.elapsed(), "who-wants");
    Ok(wants)
}

/// The evidence in every replica of the team index, in source order and,
/// within a replica, in the order reading it alone gives: its tags as its
/// index holds them, then at most 2,000 matching items in index order.
fn team_evidence(
    asked: &Asked<'_>,
    team: &TeamIndex,
    topic: &str,
    today: Date,
) -> Result<Vec<(Record, Evidence)>> {
    // Per source: tags, then items.
    type Found = Vec<(Record, Evidence)>;
    let mut by_source: BTreeMap<usize, (Found, Found)> = BTreeMap::new();
    let make = |source: usize, kind, text: String, date: Option<String>, points| {
        let owner = &asked.owners[source];
        Evidence {
            owner: owner.owner.clone(),
            owner_id: owner.owner_id.clone(),
            kind,
            text,
            date,
            private: false,
            points,
        }
    };
    let like = format!("%{}%", topic.replace(['%', '_'], ""));
    let sql = format!(
        "SELECT {TEAM_RECORD}, g.tag FROM tag_rows g JOIN people p ON p.person = g.person
         WHERE g.tag IN (SELECT tag FROM tag_names WHERE tag LIKE ?1) ORDER BY g.rowid"
    );
    for (owner, mut r, tag) in team.rows(&sql, [&like], |row| {
        let (owner, r) = team_record(row)?;
        Ok((owner, r, row.get::<_, String>(11)?))
    })? {
        let Some(&source) = asked.team_sources.get(&owner) else {
            continue;
        };
        r.source = source;
        let e = make(source, "tag", tag, None, TAG_POINTS);
        by_source.entry(source).or_default().0.push((r, e));
    }
    if let Some(fts) = crate::index::search::word_query(topic, true) {
        // The per-replica limit of `evidence_in`, counted over every
        // matching item, deleted or not, as there. Two plain queries, the
        // matching items then whom they are about, each led by the word
        // index (CROSS JOIN) so SQLite never scans a whole table.
        let mut counted: HashMap<i64, usize> = HashMap::new();
        let mut items: HashMap<i64, (String, String, Option<String>)> = HashMap::new();
        for (item, owner, kind, text, date, shown) in team.rows(
            "SELECT i.item, i.owner, i.kind, i.text, i.date, i.private = 0 AND i.deleted = 0
             FROM item_texts t CROSS JOIN items i ON i.item = t.rowid
             WHERE item_texts MATCH ?1 ORDER BY i.item",
            [&fts],
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, Option<String>>(4)?,
                    row.get::<_, bool>(5)?,
                ))
            },
        )? {
            let n = counted.entry(owner).or_default();
            *n += 1;
            if *n <= ITEM_LIMIT && shown {
                items.insert(item, (kind, text, date));
            }
        }
        let sql = format!(
            "SELECT {TEAM_RECORD}, ip.item FROM item_texts t
               CROSS JOIN item_people ip ON ip.item = t.rowid
               CROSS JOIN people p ON p.person = ip.person
             WHERE item_texts MATCH ?1 ORDER BY ip.item, ip.seq"
        );
        for (owner, mut r, item) in team.rows(&sql, [&fts], |row| {
            let (owner, r) = team_record(row)?;
            Ok((owner, r, row.get::<_, i64>(11)?))
        })? {
            let (Some(&source), Some((kind, text, date))) =
                (asked.team_sources.get(&owner), items.get(&item))
            else {
                continue;
            };
            r.source = source;
            let (kind, points) = match kind.as_str() {
                "fact" => ("fact", FACT_POINTS),
                "note" => ("note", NOTE_POINTS),
                _ => ("interaction", interaction_points(date.as_deref(), today)),
            };
            let e = make(source, kind, text.clone(), date.clone(), points);
            by_source.entry(source).or_default().1.push((r, e));
        }
    }
    Ok(by_source
        .into_values()
        .flat_map(|(tags, items)| tags.into_iter().chain(items))
        .collect())
}

/// An interaction's points on `today`: fading with its age.
fn interaction_points(date: Option<&str>, today: Date) -> f64 {
    let age = date
        .and_then(|d| d.parse::<Date>().ok())
        .map(|d| (today - d).get_days().max(0) as f64)
        .unwrap_or(0.0);
    INTERACTION_POINTS * 0.5f64.powf(age / INTERACTION_HALF_LIFE)
}

/// At most this many matching facts, notes and interactions are read per
/// ledger.
const ITEM_LIMIT: usize = 2000;

/// Every piece of evidence in one ledger, by the person it is about.
fn evidence_in(source: &Source<'_>, topic: &str, today: Date) -> Result<Vec<(Id, Evidence)>> {
    let index = source.index;
    let mut out = Vec::new();
    let make = |kind, text: String, date: Option<String>, private, points| Evidence {
        owner: source.owner.clone(),
        owner_id: source.owner_id.clone(),
        kind,
        text,
        date,
        private,
        points,
    };
    let like = format!("%{}%", topic.replace(['%', '_'], ""));
    for (tag, id) in index.rows(
        "SELECT t.tag, t.id FROM tags t JOIN people p ON p.id = t.id WHERE t.tag LIKE ?1 AND p.deleted = 0",
        [&like],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
    )? {
        if let Ok(id) = Id::parse(&id) {
            out.push((id, make("tag", tag, None, false, TAG_POINTS)));
        }
    }
    let Some(fts) = crate::index::search::word_query(topic, true) else {
        return Ok(out);
    };
    let items = index.query_entities(
        &format!("SELECT e.json FROM texts t JOIN entities e ON e.rowid = t.rowid WHERE texts MATCH ?1 AND e.kind IN ('fact', 'note', 'interaction') LIMIT {ITEM_LIMIT}"),
        [fts],
    )?;
    for item in items {
        if item.is_deleted() {
            continue;
        }
        let (field, kind, points) = match item.kind {
            Kind::Fact => ("text", "fact", FACT_POINTS),
            Kind::Note => ("text", "note", NOTE_POINTS),
            _ => ("summary", "interaction", INTERACTION_POINTS),
        };
        let private = item.private.contains_key(field);
        if private && !source.mine {
            continue;
        }
        let Some(text) = item.str(field).map(str::to_string) else {
            continue;
        };
        let date = item
            .str("at")
            .or(item.str("learned"))
            .map(|d| d.chars().take(10).collect::<String>());
        let points = if item.kind == Kind::Interaction {
            interaction_points(date.as_deref(), today)
        } else {
            points
        };
        for subject in subjects(index, &item)? {
            out.push((
                subject,
                make(kind, text.clone(), date.clone(), private, points),
            ));
        }
    }
    Ok(out)
}

/// The live people an item is about.
fn subjects(index: &Index, item: &Entity) -> Result<Vec<Id>> {
    let ids: Vec<String> = match item.kind {
        Kind::Interaction => item
            .get("people")
            .and_then(|p| p.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        _ => item
            .str("subject")
            .map(str::to_string)
            .into_iter()
            .collect(),
    };
    let mut out = Vec::new();
    for id in ids {
        let live = index.count_with(
            "SELECT count(*) FROM people WHERE id = ?1 AND deleted = 0",
            [&id],
        )? > 0;
        if live && let Ok(id) = Id::parse(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_read_by_shape() {
        assert_eq!(parse_query("#Wine").unwrap(), Query::Tag("wine".into()));
        assert_eq!(parse_query("tag:vip").unwrap(), Query::Tag("vip".into()));
        assert_eq!(
            parse_query("@Acme.com").unwrap(),
            Query::Domain("acme.com".into())
        );
        assert_eq!(
            parse_query("acme.co.uk").unwrap(),
            Query::Domain("acme.co.uk".into())
        );
        assert_eq!(
            parse_query("edna@acme.com").unwrap(),
            Query::Email("edna@acme.com".into())
        );
        assert_eq!(
            parse_query("Acme Ltd").unwrap(),
            Query::Words("Acme Ltd".into())
        );
        assert!(parse_query("  ").is_err());
    }

    fn rec(source: usize, name: &str, company: Option<&str>, emails: &[&str]) -> Record {
        Record {
            source,
            id: Id::random(),
            name: name.into(),
            name_key: name_key(name),
            company: company.map(Into::into),
            company_key: company.map(name_key),
            emails: emails.iter().map(|e| e.to_string()).collect(),
            team_row: None,
        }
    }

    #[test]
    fn records_group_by_email_or_by_name_when_companies_agree() {
        let groups = group(vec![
            rec(0, "Edna Miggins", Some("Acme"), &["edna@acme.com"]),
            rec(1, "E. Miggins", None, &["edna@acme.com"]),
            rec(2, "Edna Miggins", None, &[]),
            rec(1, "John Smith", Some("Acme"), &[]),
            rec(2, "John Smith", Some("Globex"), &[]),
        ]);
        let mut sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
        sizes.sort();
        assert_eq!(sizes, vec![1, 1, 3]);
    }

    #[test]
    fn relations_rank_family_above_acquaintance() {
        assert!(relation_strength("child") > relation_strength("colleague"));
        assert!(relation_strength("colleague") > relation_strength("met-once"));
    }
}
