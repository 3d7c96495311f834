//! What a ledger held at a past moment, from its automerge history: a
//! temporary, read-only index derived from the shards as they stood then.
//!
//! This module owns choosing what to derive and building that index; the
//! heads of each document as of a moment are `store::ShardPair::entities_at`,
//! and the index rows are derived by the same `ledger::pipeline` the rebuild
//! uses. [`index_at`] derives every shard: `kith who-knows --at DATE` asks it
//! of the own ledger and of each replica (a replica is a ledger whose private
//! part is empty). [`index_around`] derives only the shards one person's
//! record draws on: what `kith show WHO --at DATE` reads, in about the same
//! time at any ledger size; [`resolve_at`] is that whole question (which
//! record, as it was then), and [`parse_at`] reads the day as people type it.

use std::collections::BTreeSet;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::error::{Error, Result};
use crate::index::Index;
use crate::ledger::{Ledger, ShardOutcome, pipeline};
use crate::model::{Entity, Id, Kind, Shard};
use crate::store::{Change, LoadReport, Store};

/// An index of a ledger as it was; its files go when this is dropped.
pub struct AsOf {
    index: Index,
    _dir: tempfile::TempDir,
}

impl AsOf {
    pub fn index(&self) -> &Index {
        &self.index
    }
}

/// The last second of `date` in `tz`: "as of 2026-11-20" includes all of it.
pub fn end_of_day(date: Date, tz: &TimeZone) -> Result<Timestamp> {
    date.tomorrow()
        .and_then(|d| d.to_zoned(tz.clone()))
        .and_then(|z| {
            z.timestamp()
                .checked_sub(jiff::SignedDuration::from_secs(1))
        })
        .map_err(|e| Error::invalid(format!("no end of day for {date}: {e}")))
}

/// The day `at` names, as people type it (`2026-11-20`, `yesterday`,
/// `-30d`; bare days lean to the past), relative to `today`.
pub fn parse_at(at: &str, today: Date) -> Result<Date> {
    crate::when::parse_day(at, today, crate::when::Lean::Past)
        .map_err(|e| e.context(format!("--at {at}")))
}

/// The person or company `who` names, as `ledger` held them at the end of
/// the day `at` names (`kith show WHO --at DAY`): named as they are now
/// (even if removed since), read as they were, with the day and the index
/// they were read from. No day and index when `at` is today or later: the
/// end of today holds everything, so that is the ledger as it is now.
pub fn resolve_at(
    ledger: &Ledger,
    who: &str,
    kinds: &[Kind],
    at: &str,
) -> Result<(Entity, Option<(Date, AsOf)>)> {
    let day = parse_at(at, ledger.today())?;
    let now = match ledger.resolve(who, kinds, false) {
        Ok(e) => e,
        Err(live) => ledger.resolve(who, kinds, true).map_err(|_| live)?,
    };
    if day >= ledger.today() {
        return Ok((now, None));
    }
    let moment = end_of_day(day, ledger.time_zone())?;
    let past = index_around(ledger, moment, &now.id)?;
    let Some(then) = past.index().entity(&now.id)? else {
        return Err(Error::invalid(format!(
            "{} was not in the ledger yet on {day}",
            now.str("name").unwrap_or(who)
        )));
    };
    Ok((then, Some((day, past))))
}

/// An index of the whole of `ledger` as it stood at `at`: every shard, both
/// parts, at the heads of the changes made by then. Entities created later
/// are absent; fields show the value they had then.
pub fn index_at(ledger: &Ledger, at: Timestamp) -> Result<AsOf> {
    let mut past = Derivation::start(ledger, at)?;
    past.derive(ledger.store().shards()?)?;
    past.finish()
}

/// An index of `ledger` as it stood at `at` that holds what showing the
/// person `id` needs (`view::person`): their record, every fact, note,
/// relationship, interaction and follow-up about them, and the records those
/// name (their company, the other side of a relationship, the others at an
/// interaction), each as it was then. Only the shards holding these are
/// derived, so this costs about the same in a ledger of any size.
///
/// Which shards hold items about the person is read from the current index:
/// items pointing at them now, or at the record they were merged into since
/// (a merge re-points items). An item that pointed at them then and has been
/// re-pointed by an `unmerge` since is missed. For a company, whose people
/// are found by a field any of them may have changed since, and for an id
/// the current index does not hold, this is [`index_at`].
pub fn index_around(ledger: &Ledger, at: Timestamp, id: &Id) -> Result<AsOf> {
    let now = ledger.index();
    let Some(person) = now.entity(id)?.filter(|e| e.kind == Kind::Person) else {
        return index_at(ledger, at);
    };
    // Everyone whose items may have been theirs: merges since moved them on.
    let mut were = vec![id.clone()];
    let mut next = person.str("merged_into").and_then(|i| Id::parse(i).ok());
    while let Some(into) = next.filter(|i| !were.contains(i) && were.len() < 16) {
        next = now
            .entity(&into)?
            .and_then(|e| e.str("merged_into").and_then(|i| Id::parse(i).ok()));
        were.push(into);
    }
    // The person's own shard holds them and the items made from their side;
    // items made from others' sides (a relationship, an interaction with
    // several people) live in those people's shards.
    let mut about = vec![id.clone()];
    for who in &were {
        about.extend(now.ids(
            "SELECT id FROM items WHERE subject = ?1 OR other = ?1
             UNION SELECT interaction FROM involved WHERE person = ?1
             UNION SELECT id FROM follow_ups WHERE person = ?1",
            [who.as_str()],
        )?);
    }
    let mut past = Derivation::start(ledger, at)?;
    past.derive(shards_of(&about))?;
    // Then the records those name, as they were then.
    let named = past.index.ids_raw(
        "SELECT company FROM people WHERE id = ?1
         UNION SELECT subject FROM items WHERE subject = ?1 OR other = ?1
         UNION SELECT other FROM items WHERE subject = ?1 OR other = ?1
         UNION SELECT person FROM involved WHERE interaction IN
             (SELECT interaction FROM involved WHERE person = ?1)",
        [id.as_str()],
    )?;
    let named: Vec<Id> = named.iter().filter_map(|s| Id::parse(s).ok()).collect();
    past.derive(shards_of(&named))?;
    past.finish()
}

/// The shards the given ids live in, once each.
fn shards_of<'a>(ids: impl IntoIterator<Item = &'a Id>) -> Vec<Shard> {
    ids.into_iter()
        .map(Id::shard)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// A temporary index being loaded, in bulk mode, with the shards so far.
struct Derivation<'a> {
    store: &'a Store,
    secs: i64,
    dir: tempfile::TempDir,
    index: Index,
    done: BTreeSet<Shard>,
}

impl<'a> Derivation<'a> {
    fn start(ledger: &'a Ledger, at: Timestamp) -> Result<Derivation<'a>> {
        let dir = tempfile::Builder::new()
            .prefix("kith-asof-")
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        let mut index = Index::open(&dir.path().join("index.sqlite"))?;
        index.begin_bulk()?;
        index.begin_unsynced()?;
        Ok(Derivation {
            store: ledger.store(),
            secs: at.as_second(),
            dir,
            index,
            done: BTreeSet::new(),
        })
    }

    /// Derives the shards not derived yet, on the rebuild's worker threads.
    fn derive(&mut self, shards: Vec<Shard>) -> Result<()> {
        let work: Vec<(Shard, Vec<Change>)> = shards
            .into_iter()
            .filter(|s| self.done.insert(s.clone()))
            .map(|s| (s, Vec::new()))
            .collect();
        if work.is_empty() {
            return Ok(());
        }
        let secs = self.secs;
        let derive = move |store: &Store, shard: Shard, _: &[Change]| {
            let mut report = LoadReport::default();
            let mut pair = store.load_pair(&shard, &mut report)?;
            Ok(ShardOutcome {
                entities: pair.entities_at(secs)?,
                gone: Vec::new(),
                shard,
                whole: false,
                report,
            })
        };
        pipeline(self.store, &mut self.index, work, derive, &mut |_| {})?;
        Ok(())
    }

    fn finish(mut self) -> Result<AsOf> {
        self.index.commit_unsynced()?;
        self.index.end_bulk()?;
        Ok(AsOf {
            index: self.index,
            _dir: self.dir,
        })
    }
}
