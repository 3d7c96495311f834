//! What a ledger held at a past moment, from its automerge history: a
//! temporary, read-only index derived from every shard as it stood then.
//! `kith who-knows --at DATE` answers from these, for the own ledger and for
//! each replica, with the same code that answers today.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::error::{Error, Result};
use crate::index::Index;
use crate::ledger::{Ledger, ShardOutcome, pipeline};
use crate::model::Shard;
use crate::store::{LoadReport, Store};

/// An index of a ledger as it was; the files go when this is dropped.
pub struct AsOf {
    index: Index,
    _dir: tempfile::TempDir,
}

impl AsOf {
    pub fn index(&self) -> &Index {
        &self.index
    }
}

/// The last moment of `date` in `tz`: "as of 2026-11-20" includes all of it.
pub fn end_of_day(date: Date, tz: &TimeZone) -> Result<Timestamp> {
    date.tomorrow()
        .and_then(|d| d.to_zoned(tz.clone()))
        .map(|z| z.timestamp() - jiff::SignedDuration::from_secs(1))
        .map_err(|e| Error::invalid(format!("no end of day for {date}: {e}")))
}

/// Derives an index of `ledger` as it stood at `at`.
pub fn index_at(ledger: &Ledger, at: Timestamp) -> Result<AsOf> {
    let dir = tempfile::Builder::new()
        .prefix("kith-asof-")
        .tempdir()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let mut index = Index::open(&dir.path().join("index.sqlite"))?;
    let store = ledger.store();
    let work = store
        .shards()?
        .into_iter()
        .map(|s| (s, Vec::new()))
        .collect();
    let secs = at.as_second();
    let derive = move |store: &Store, shard: Shard, _: &[crate::store::Change]| {
        let mut report = LoadReport::default();
        let mut pair = store.load_pair(&shard, &mut report)?;
        Ok(ShardOutcome {
            entities: pair.entities_at(secs)?,
            shard,
            whole: false,
            report,
        })
    };
    index.begin_bulk()?;
    index.begin_unsynced()?;
    pipeline(store, &mut index, work, derive, &mut |_| {})?;
    index.commit_unsynced()?;
    index.end_bulk()?;
    Ok(AsOf { index, _dir: dir })
}
