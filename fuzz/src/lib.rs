//! What the fuzz targets share: an empty ledger to plan imports against
//! (planning reads only the index and writes nothing), and a contact
//! planned into the record an import would create.

use std::cell::RefCell;
use std::collections::BTreeMap;

use kith::export::Record;
use kith::import::{Contact, ContactImport, Parsed};
use kith::model::{Entity, Fields, Id, Kind};
use kith::store::Change;
use kith::{Ledger, OpenOptions};

thread_local! {
    static LEDGER: RefCell<Option<(tempfile::TempDir, Ledger)>> = const { RefCell::new(None) };
}

/// Runs `f` with an empty ledger in a temporary home, opened once per
/// process.
pub fn with_ledger<T>(f: impl FnOnce(&mut Ledger) -> T) -> T {
    LEDGER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let dir = tempfile::Builder::new()
                .prefix("kith-fuzz-")
                .tempdir()
                .expect("a temporary directory");
            let ledger = Ledger::open(
                dir.path(),
                OpenOptions {
                    now: "2026-11-28T09:00:00Z".parse().unwrap(),
                    time_zone: jiff::tz::TimeZone::UTC,
                    progress: &|_, _| {},
                },
            )
            .expect("an empty ledger opens");
            *slot = Some((dir, ledger));
        }
        f(&mut slot.as_mut().unwrap().1)
    })
}

/// What an import of this one contact would create, as the export sees
/// it: the record (both parts), its company's name, and its notes and
/// facts (sorted: their order in an export follows random ids).
/// Relationships are left out: they are read from the index on export.
pub fn planned(ledger: &Ledger, mut contact: Contact) -> Record {
    contact.related.clear();
    let mut plan = ContactImport::new(ledger, "fuzz");
    plan.plan(Parsed {
        contacts: vec![contact],
        skipped: Vec::new(),
    })
    .expect("planning against an empty ledger");
    let id = plan.records()[0].clone();
    let (work, _) = plan.into_work();
    let mut created: BTreeMap<Id, Entity> = BTreeMap::new();
    for (_, changes) in work {
        for c in changes {
            match c {
                Change::Create {
                    kind,
                    id,
                    shared,
                    private,
                } => {
                    created.insert(
                        id.clone(),
                        Entity {
                            kind,
                            id,
                            shared,
                            private,
                        },
                    );
                }
                other => panic!("an import into an empty ledger planned {other:?}"),
            }
        }
    }
    let entity = created.get(&id).expect("the contact's record").clone();
    let company = entity
        .get("company")
        .and_then(|c| c.as_str())
        .and_then(|c| Id::parse(c).ok())
        .and_then(|c| created.get(&c))
        .and_then(|c| c.str("name").map(str::to_string));
    let mut notes = Vec::new();
    let mut facts = Vec::new();
    for e in created.values() {
        if e.str("subject") != Some(id.as_str()) {
            continue;
        }
        let body = e.str("text").unwrap_or("").to_string();
        match e.kind {
            Kind::Note => notes.push(body),
            Kind::Fact => facts.push((body, e.str("learned").unwrap_or("").to_string())),
            _ => {}
        }
    }
    notes.sort();
    facts.sort();
    Record {
        entity,
        company,
        notes,
        facts,
        related: Vec::new(),
    }
}

/// A record's fields, both parts, without what an import stamps on it
/// (`created`) and its company's id, for comparing two imports of the same person. `source` is
/// the record `r` was exported from, if any: the export names it in its
/// UID (`kith-<id>`), which an import into another record keeps as `uid`.
pub fn model_of(r: &Record, source: Option<&Record>) -> (Kind, Fields, Fields) {
    let source_uid =
        source.map(|s| format!("{}{}", kith::import::KITH_UID_PREFIX, s.entity.id.as_str()));
    let strip = |f: &Fields| {
        let mut f = f.clone();
        f.remove("created");
        // A new company record each time: compared by name instead.
        f.remove("company");
        if f.get("uid").and_then(|u| u.as_str()) == source_uid.as_deref() {
            f.remove("uid");
        }
        f
    };
    (
        r.entity.kind,
        strip(&r.entity.shared),
        strip(&r.entity.private),
    )
}
