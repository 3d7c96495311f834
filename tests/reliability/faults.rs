//! Storage under faults, at library level, through a recording file system
//! ([`super::faults_fs::Recorder`]):
//!
//! - a power cut at every fsync point of a workload (adds, logs, a set, a
//!   merge, a compaction, an add with a new company, a call with two
//!   people, a batch from another device as sync stores it): in every
//!   state it could leave, the ledger opens, `check` passes, every
//!   acknowledged edit is there, and every edit of several chunks (a
//!   person's two parts, a person and their new company, a call and its
//!   private summary, a merge) is wholly there or not at all;
//! - an I/O error at the N-th write, fsync, rename or removal, for every N:
//!   a clean error, and after reopening the ledger is as it was before the
//!   failed edit, or (if the edit was already durable) after it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use kith::Ledger;
use kith::model::{Entity, Id, Kind};
use kith::ops::NewPerson;

use super::faults_fs::{DiskState, Recorder, crash_states};

fn options() -> kith::OpenOptions<'static> {
    kith::OpenOptions {
        now: "2026-11-28T09:00:00Z".parse().unwrap(),
        time_zone: jiff::tz::TimeZone::UTC,
        progress: &|_, _| {},
    }
}

/// What an acknowledged edit left, to look for after a crash.
#[derive(Clone, Debug)]
enum Expect {
    Person(Id, String),
    Item(Id, String),
    Company(Id, String),
    Field(Id, &'static str, String),
    Merged { keep: Id, gone: Id },
    Compacted,
}

/// Ids the workload made, for checking a merge (and every other edit of
/// several chunks) is whole.
#[derive(Clone, Debug, Default)]
struct Made {
    edna: Option<Id>,
    dupe: Option<Id>,
    dupe_call: Option<Id>,
    /// People added: (id, name, email), each written as two parts.
    people: Vec<(Id, String, String)>,
    /// Daisy and the company made with her, most likely in two shards.
    daisy: Option<(Id, Id)>,
    /// The call with Edna and Albert (shared part, private summary).
    call_two: Option<Id>,
}

fn person(name: &str, email: &str) -> NewPerson {
    NewPerson {
        name: name.into(),
        emails: vec![email.into()],
        tags: vec!["faults".into()],
        ..NewPerson::default()
    }
}

/// The workload: each step is one edit; `ack(n)` is called once the n-th
/// has returned Ok. Stops at the first error and returns it.
fn workload(
    ledger: &mut Ledger,
    batch: &Batch,
    ack: &dyn Fn(usize),
    expect: &mut Vec<Expect>,
    made: &mut Made,
) -> kith::Result<()> {
    let edna = add(ledger, made, "Edna Miggins", "edna@miggins.co.uk")?;
    made.edna = Some(edna.clone());
    expect.push(Expect::Person(edna.clone(), "Edna Miggins".into()));
    ack(1);
    let albert = add(ledger, made, "Albert Miggins", "albert@miggins.co.uk")?;
    expect.push(Expect::Person(albert.clone(), "Albert Miggins".into()));
    ack(2);
    let e = ledger.entity(&edna)?;
    let call = ledger.log(&[e], "first call", "call", None, None)?;
    expect.push(Expect::Item(call, "first call".into()));
    ack(3);
    let e = ledger.entity(&edna)?;
    ledger.set_field(&e, "title", "Humbug taster", None)?;
    expect.push(Expect::Field(edna.clone(), "title", "Humbug taster".into()));
    ack(4);
    let dupe = ledger.add_person(&person("Edna M Miggins", "edna.m@example.com"))?;
    made.dupe = Some(dupe.clone());
    expect.push(Expect::Person(dupe.clone(), "Edna M Miggins".into()));
    ack(5);
    let d = ledger.entity(&dupe)?;
    let call2 = ledger.log(&[d], "call about humbugs", "call", None, None)?;
    made.dupe_call = Some(call2.clone());
    expect.push(Expect::Item(call2, "call about humbugs".into()));
    ack(6);
    let (e, d) = (ledger.entity(&edna)?, ledger.entity(&dupe)?);
    ledger.merge(&e, &d)?;
    expect.push(Expect::Merged {
        keep: edna.clone(),
        gone: dupe.clone(),
    });
    ack(7);
    ledger.compact()?;
    expect.push(Expect::Compacted);
    ack(8);
    let a = ledger.entity(&albert)?;
    let call3 = ledger.log(&[a], "after compaction", "call", None, None)?;
    expect.push(Expect::Item(call3, "after compaction".into()));
    ack(9);
    // A new company: the person in one shard, the company in another.
    let mut daisy = person("Daisy Okafor", "daisy@humbug.example");
    daisy.company = Some("Humbug Holdings".into());
    let id = ledger.add_person(&daisy)?;
    let company = ledger
        .entity(&id)?
        .str("company")
        .and_then(|c| Id::parse(c).ok())
        .ok_or_else(|| kith::Error::invalid("Daisy has no company"))?;
    made.daisy = Some((id.clone(), company.clone()));
    expect.push(Expect::Person(id, "Daisy Okafor".into()));
    expect.push(Expect::Company(company, "Humbug Holdings".into()));
    ack(10);
    // A call with two people in different shards: one item, in Edna's
    // shard, its summary in the private part.
    let (e, a) = (ledger.entity(&edna)?, ledger.entity(&albert)?);
    let call4 = ledger.log(&[e, a], "call with both", "call", None, None)?;
    made.call_two = Some(call4.clone());
    expect.push(Expect::Item(call4, "call with both".into()));
    ack(11);
    // Another device's edits arriving by sync (as the daemon stores them).
    ledger.absorb(batch.items.clone())?;
    for (id, name) in &batch.people {
        expect.push(Expect::Person(id.clone(), name.clone()));
    }
    ack(12);
    Ok(())
}

/// Adds a person, noting them for the check that each add is whole.
fn add(ledger: &mut Ledger, made: &mut Made, name: &str, email: &str) -> kith::Result<Id> {
    let id = ledger.add_person(&person(name, email))?;
    made.people.push((id.clone(), name.into(), email.into()));
    Ok(id)
}

const STEPS: usize = 12;
/// The step that stores a synced batch (not fsynced file by file).
const ABSORB_STEP: usize = 12;

/// Changes made on another device, as sync hands them to the ledger.
struct Batch {
    items: Vec<kith::ledger::Incoming>,
    people: Vec<(Id, String)>,
}

fn batch() -> Batch {
    let other = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(other.path(), options()).unwrap();
    let mut people = Vec::new();
    for name in ["Synced Alice", "Synced Bob", "Synced Carol"] {
        let id = ledger
            .add_person(&person(name, "synced@example.com"))
            .unwrap();
        people.push((id, name.to_string()));
    }
    let store = ledger.store();
    let mut items = Vec::new();
    // Named as the daemon names them after diffing its copy, so the
    // receiver derives only these people, not their whole shards.
    let incoming = |shard: &kith::model::Shard, private, bytes| kith::ledger::Incoming {
        shard: shard.clone(),
        private,
        bytes,
        touched: Some(
            people
                .iter()
                .filter(|(id, _)| id.shard() == *shard)
                .map(|(id, _)| (kith::model::Kind::Person, id.clone()))
                .collect(),
        ),
    };
    for shard in store.shards().unwrap() {
        for bytes in store.raw_payloads::<kith::store::Shared>(&shard).unwrap() {
            items.push(incoming(&shard, false, bytes));
        }
        for bytes in store.raw_payloads::<kith::store::Private>(&shard).unwrap() {
            items.push(incoming(&shard, true, bytes));
        }
    }
    Batch { items, people }
}

/// A home with its device file and an empty, built index: where every run
/// starts from.
fn template() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    drop(Ledger::open(dir.path(), options()).unwrap());
    dir
}

fn copy_home(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    DiskState::read(from).materialize(from, to.path());
    to
}

fn json(e: &Entity) -> String {
    serde_json::to_string(e).unwrap()
}

/// The edits acknowledged after `acked` steps: one per step, but the
/// synced batch's people all at once.
fn expect_upto(expect: &[Expect], acked: usize) -> &[Expect] {
    if acked >= ABSORB_STEP {
        expect
    } else {
        &expect[..acked]
    }
}

/// The merge of `made` is wholly there or not at all. Returns whether it is.
fn merge_is_whole(ledger: &Ledger, made: &Made) -> Result<bool, String> {
    let (Some(edna), Some(dupe), Some(call)) = (&made.edna, &made.dupe, &made.dupe_call) else {
        return Ok(false);
    };
    let (Ok(e), Ok(d), Ok(c)) = (
        ledger.entity(edna),
        ledger.entity(dupe),
        ledger.entity(call),
    ) else {
        return Ok(false);
    };
    let gone = d.is_deleted() && d.get("merge").is_some();
    let email = json(&e).contains("edna.m@example.com");
    let call_moved = json(&c).contains(edna.as_str()) && !json(&c).contains(dupe.as_str());
    if gone == email && email == call_moved {
        Ok(gone)
    } else {
        Err(format!(
            "half a merge: removed {gone}, email moved {email}, call moved {call_moved}"
        ))
    }
}

/// Every edit of several chunks but the merge (see [`merge_is_whole`]) is
/// wholly there or not at all, whether or not it was acknowledged.
fn edits_are_whole(ledger: &Ledger, made: &Made) -> Result<(), String> {
    let found = |id: &Id| ledger.entity(id).ok();
    // An add writes the person's shared part (the name) and private part
    // (the email, the tag) as two chunks.
    for (id, name, email) in &made.people {
        if let Some(p) = found(id) {
            let text = json(&p);
            if p.str("name") != Some(name) || !text.contains(email) || !text.contains("faults") {
                return Err(format!("half an add of {name}: {text}"));
            }
        }
    }
    if let Some((daisy, company)) = &made.daisy {
        let (p, c) = (found(daisy), found(company));
        let person_whole = p.as_ref().is_some_and(|p| {
            p.str("name") == Some("Daisy Okafor")
                && p.str("company") == Some(company.as_str())
                && json(p).contains("daisy@humbug.example")
        });
        let company_whole = c
            .as_ref()
            .is_some_and(|c| c.str("name") == Some("Humbug Holdings"));
        if p.is_some() != person_whole
            || c.is_some() != company_whole
            || person_whole != company_whole
        {
            return Err(format!(
                "half an add with a new company: person {:?}, company {:?}",
                p.as_ref().map(json),
                c.as_ref().map(json)
            ));
        }
    }
    if let (Some(call), Some(edna), Some((albert, _, _))) =
        (&made.call_two, &made.edna, made.people.get(1))
        && let Some(c) = found(call)
    {
        let text = json(&c);
        let both = text.contains(edna.as_str()) && text.contains(albert.as_str());
        if !both || c.str("summary") != Some("call with both") {
            return Err(format!("half a call with two people: {text}"));
        }
    }
    Ok(())
}

/// Opens the ledger in `home` as the next command would, runs check, and
/// returns what is wrong (None if nothing).
fn verify(home: &Path, expect: &[Expect], made: &Made, acked: usize) -> Option<String> {
    let mut ledger = match Ledger::open(home, options()) {
        Ok(l) => l,
        Err(e) => return Some(format!("does not open: {e}")),
    };
    match ledger.check() {
        Ok(_) => {}
        Err(e) => return Some(format!("check fails: {e}")),
    }
    // A synced batch is made durable by one syncfs at its end: a cut before
    // that may tear its chunks, which are quarantined (and fetched again).
    let torn_batch = acked < ABSORB_STEP
        && ledger
            .report
            .quarantined
            .iter()
            .all(|q| q.reason.contains("truncated") || q.reason.contains("checksum"));
    if !ledger.report.is_clean() && !torn_batch {
        return Some(format!("check found damage: {:?}", ledger.report));
    }
    if let Err(e) = merge_is_whole(&ledger, made).and_then(|_| edits_are_whole(&ledger, made)) {
        return Some(e);
    }
    for x in expect {
        let missing = match x {
            Expect::Person(id, name) => ledger
                .entity(id)
                .map_or(true, |e| e.str("name") != Some(name)),
            Expect::Item(id, text) => ledger.entity(id).map_or(true, |e| !json(&e).contains(text)),
            Expect::Company(id, name) => ledger
                .entity(id)
                .map_or(true, |e| e.str("name") != Some(name)),
            Expect::Field(id, field, value) => ledger
                .entity(id)
                .map_or(true, |e| e.str(field) != Some(value)),
            Expect::Merged { keep, gone } => ledger.entity(gone).map_or(true, |g| {
                g.str("merged_into") != Some(keep.as_str()) || !g.is_deleted()
            }),
            Expect::Compacted => false,
        };
        if missing {
            return Some(format!("acknowledged {x:?} is missing"));
        }
    }
    None
}

#[test]
fn a_power_cut_at_every_fsync_point_loses_nothing_acknowledged() {
    let batch = batch();
    let home = template();
    let root = home.path().join("ledger");
    let initial = DiskState::read(&root);
    let recorder = Arc::new(Recorder::default());
    let mut expect = Vec::new();
    let mut made = Made::default();
    {
        let mut ledger = Ledger::open_with(home.path(), options(), recorder.clone()).unwrap();
        let rec = recorder.clone();
        workload(&mut ledger, &batch, &|n| rec.ack(n), &mut expect, &mut made).unwrap();
    }
    let ops = recorder.take();
    let syncs = ops.iter().filter(|o| o.is_sync()).count();
    let states = crash_states(&root, &initial, &ops);
    eprintln!(
        "power cuts: {} file operations, {syncs} fsync points, {} distinct crash states",
        ops.len(),
        states.len()
    );
    assert!(syncs > 20, "the workload fsynced only {syncs} times");
    let mut failures = BTreeMap::new();
    for (i, (state, acked)) in states.iter().enumerate() {
        let cut = tempfile::tempdir().unwrap();
        for f in ["device.json", "config.toml"] {
            if home.path().join(f).exists() {
                std::fs::copy(home.path().join(f), cut.path().join(f)).unwrap();
            }
        }
        state.materialize(&root, &cut.path().join("ledger"));
        let known = expect_upto(&expect, *acked);
        if let Some(what) = verify(cut.path(), known, &made, *acked) {
            failures.entry(what).or_insert(i);
        }
    }
    assert!(
        failures.is_empty(),
        "{} kinds of failure (first state of each): {failures:#?}",
        failures.len()
    );
}

/// What a ledger holds, without ids: each entity's kind and fields, with
/// every id in them replaced by the name (or summary) of what it names.
fn view(home: &Path) -> BTreeSet<String> {
    let ledger = Ledger::open(home, options()).unwrap();
    let all = ledger
        .index()
        .query_entities("SELECT json FROM entities", [])
        .unwrap();
    let label = |e: &Entity| match e.kind {
        Kind::Person => e.str("name").unwrap_or("?").to_string(),
        _ => format!(
            "{:?}:{}",
            e.kind,
            e.str("summary").or(e.str("text")).unwrap_or("?")
        ),
    };
    let labels: Vec<(String, String)> = all
        .iter()
        .map(|e| (e.id.as_str().to_string(), label(e)))
        .collect();
    all.iter()
        .map(|e| {
            let mut s = format!(
                "{:?} {} | {}",
                e.kind,
                serde_json::to_string(&e.shared).unwrap(),
                serde_json::to_string(&e.private).unwrap()
            );
            for (id, label) in &labels {
                s = s.replace(id, label);
            }
            s
        })
        .collect()
}

#[test]
fn an_io_error_at_every_operation_fails_cleanly_and_keeps_the_previous_state() {
    let batch = batch();
    let template = template();
    // A run with no fault: the view after each step, and how many mutating
    // operations the whole workload asks for.
    let clean = copy_home(template.path());
    let recorder = Arc::new(Recorder::default());
    let views = {
        let mut ledger = Ledger::open_with(clean.path(), options(), recorder.clone()).unwrap();
        let views = std::cell::RefCell::new(vec![view(clean.path())]);
        let path = clean.path().to_path_buf();
        workload(
            &mut ledger,
            &batch,
            &|_| views.borrow_mut().push(view(&path)),
            &mut Vec::new(),
            &mut Made::default(),
        )
        .unwrap();
        views.into_inner()
    };
    assert_eq!(views.len(), STEPS + 1);
    let total = recorder.mutating();
    let mut injected = 0;
    let mut failed_edits = 0;
    let mut failures = Vec::new();
    for n in 1..=total {
        let home = copy_home(template.path());
        let faulty = Arc::new(Recorder::failing_at(n));
        let steps = std::cell::Cell::new(0);
        let (mut expect, mut made) = (Vec::new(), Made::default());
        let outcome = match Ledger::open_with(home.path(), options(), faulty.clone()) {
            Ok(mut ledger) => workload(
                &mut ledger,
                &batch,
                &|k| steps.set(k),
                &mut expect,
                &mut made,
            ),
            Err(e) => Err(e),
        };
        injected += faulty.injected.load(std::sync::atomic::Ordering::SeqCst);
        let done = steps.get();
        if outcome.is_err() {
            failed_edits += 1;
        }
        if let Some(what) = verify(home.path(), &expect, &made, done) {
            failures.push(format!("fault at operation {n}: {what}"));
            continue;
        }
        let now = view(home.path());
        let before = &views[done];
        let after = views.get(done + 1).unwrap_or(before);
        if &now != before && &now != after {
            let extra: Vec<_> = now.difference(before).collect();
            let lost: Vec<_> = before.difference(&now).collect();
            failures.push(format!(
                "fault at operation {n} (edit {}): neither before nor after it; \
                 new since before: {extra:#?}; gone since before: {lost:#?}",
                done + 1
            ));
        }
    }
    eprintln!(
        "I/O errors: {total} operations in the workload, {injected} errors injected, \
         {failed_edits} edits failed cleanly"
    );
    assert!(
        injected >= total - 1,
        "only {injected} of {total} faults landed"
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The real `kith` on every state a power cut in the middle of
/// `add --company` could leave: the next command lists Daisy and her new
/// company both or neither; where the undo record was there with part of
/// the edit on disk, it says it took the edit back; `kith check` passes.
#[test]
fn the_next_command_takes_back_half_an_add_left_by_a_power_cut() {
    let home = template();
    let root = home.path().join("ledger");
    let initial = DiskState::read(&root);
    let recorder = Arc::new(Recorder::default());
    {
        let mut ledger = Ledger::open_with(home.path(), options(), recorder.clone()).unwrap();
        let mut daisy = person("Daisy Okafor", "daisy@humbug.example");
        daisy.company = Some("Humbug Holdings".into());
        ledger.add_person(&daisy).unwrap();
    }
    let ops = recorder.take();
    let states = crash_states(&root, &initial, &ops);
    let new_chunks = |state: &DiskState| {
        state
            .files
            .keys()
            .filter(|p| {
                p.extension().is_some_and(|e| e == "chunk") && !initial.files.contains_key(*p)
            })
            .count()
    };
    let (mut taken_back, mut whole, mut absent) = (0, 0, 0);
    for (state, _) in &states {
        let recorded = state
            .files
            .get(&root.join(kith::store::UNDO_FILE))
            .is_some_and(|b| !b.is_empty());
        let cut = crate::common::Home::new();
        std::fs::copy(
            home.path().join("device.json"),
            cut.path().join("device.json"),
        )
        .unwrap();
        state.materialize(&root, &cut.ledger());
        let list = cut.run(&["list"]);
        assert_eq!(list.code, Some(0), "{}", list.stderr);
        let said = list.stderr.contains("took back an edit");
        match (
            list.stdout.contains("Daisy Okafor"),
            list.stdout.contains("Humbug Holdings"),
        ) {
            (true, true) => whole += 1,
            (false, false) => absent += 1,
            _ => panic!("half an add listed:\n{}", list.stdout),
        }
        if recorded && new_chunks(state) > 0 {
            assert!(said, "a half edit was taken back silently: {}", list.stderr);
            taken_back += 1;
        }
        let check = cut.run(&["check"]);
        assert_eq!(check.code, Some(0), "{}{}", check.stdout, check.stderr);
        assert!(!check.stderr.contains("took back"), "{}", check.stderr);
    }
    eprintln!(
        "add --company cut at every fsync point: {} states; {taken_back} taken back by the next \
         command, {whole} whole, {absent} without it",
        states.len()
    );
    assert!(
        taken_back > 0 && whole > 0,
        "no state had half the edit on disk"
    );
}
