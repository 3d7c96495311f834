//! The team index (`team.sqlite`) never answers from a stale copy of a
//! replica: a replica written since its copy, even by a writer that died
//! half-way, is copied again; one being written is copied again once the
//! writer is done; a damaged file is rebuilt; a replica no longer held
//! leaves no rows. Run at library level on ledgers in temporary homes.

use std::path::{Path, PathBuf};

use kith::Ledger;
use kith::index::team::TeamIndex;
use kith::ops::NewPerson;

fn open(home: &Path) -> kith::Result<Ledger> {
    super::open_ledger(home)
}

fn add(home: &Path, name: &str) {
    open(home)
        .unwrap()
        .add_person(&NewPerson {
            name: name.into(),
            ..Default::default()
        })
        .unwrap();
}

/// Names the team index holds, sorted.
fn names(index: &TeamIndex) -> Vec<String> {
    let mut v = index
        .rows("SELECT name FROM people", [], |r| r.get::<_, String>(0))
        .unwrap();
    v.sort();
    v
}

struct Setup {
    _dir: tempfile::TempDir,
    team: PathBuf,
    replicas: Vec<(String, PathBuf)>,
}

/// A home's team index path and one replica holding Edna.
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let replica = dir.path().join("replicas").join("alice");
    add(&replica, "Edna Miggins");
    Setup {
        team: dir.path().join("team.sqlite"),
        replicas: vec![("alice".into(), replica)],
        _dir: dir,
    }
}

fn refresh(s: &Setup) -> (TeamIndex, kith::index::team::Refresh) {
    let mut index = TeamIndex::open(&s.team).unwrap();
    let report = index.refresh(&s.replicas, &open).unwrap();
    (index, report)
}

#[test]
fn a_replica_is_copied_once_and_again_only_after_it_changes() {
    let s = setup();
    let (index, first) = refresh(&s);
    assert_eq!(first.copied, ["alice"]);
    assert_eq!(names(&index), ["Edna Miggins"]);
    drop(index);
    let (_, again) = refresh(&s);
    assert!(again.copied.is_empty(), "copied with nothing changed");

    add(&s.replicas[0].1, "Albert Miggins");
    let (index, after) = refresh(&s);
    assert_eq!(after.copied, ["alice"]);
    assert_eq!(names(&index), ["Albert Miggins", "Edna Miggins"]);
}

/// A writer replaces the generation before it changes anything; if it dies
/// after changing the index but before its last step, the replica must
/// still be copied again.
#[test]
fn a_write_that_died_half_way_is_still_noticed() {
    let s = setup();
    let root = s.replicas[0].1.join("ledger");
    refresh(&s);
    let writer = open(&s.replicas[0].1).unwrap();
    writer.store().begin_generation().unwrap();
    let begun = std::fs::read(root.join("generation")).unwrap();
    drop(writer);
    add(&s.replicas[0].1, "Albert Miggins");
    // The writer died before its closing nudge: the generation is the one
    // it began with.
    std::fs::write(root.join("generation"), &begun).unwrap();
    let (index, report) = refresh(&s);
    assert_eq!(report.copied, ["alice"]);
    assert_eq!(names(&index), ["Albert Miggins", "Edna Miggins"]);
}

/// Sets or clears every shard's dirty mark in a replica's index, as a
/// writer does before and after it writes.
fn mark_dirty(home: &Path, dirty: bool) {
    let index = rusqlite::Connection::open(home.join("index.sqlite")).unwrap();
    index
        .execute("UPDATE shards SET dirty = ?1", [dirty])
        .unwrap();
}

#[test]
fn a_replica_being_written_is_copied_again_when_the_writer_is_done() {
    let s = setup();
    let home = &s.replicas[0].1;
    refresh(&s);
    add(home, "Albert Miggins");
    // A writer half-way: lock held, shards marked, generation replaced.
    let writer = open(home).unwrap();
    let lock = writer.store().lock().unwrap();
    mark_dirty(home, true);
    writer.store().begin_generation().unwrap();
    let (index, busy) = refresh(&s);
    assert_eq!(busy.busy, ["alice"]);
    // Copied as it stood: the answer is as fresh as it can be.
    assert_eq!(names(&index), ["Albert Miggins", "Edna Miggins"]);
    drop(index);
    let (_, still) = refresh(&s);
    assert_eq!(
        still.busy,
        ["alice"],
        "taken as current while a write is under way"
    );
    mark_dirty(home, false);
    drop(lock);
    let (_, done) = refresh(&s);
    assert_eq!(done.copied, ["alice"], "not copied again after the writer");
    let (_, settled) = refresh(&s);
    assert!(settled.copied.is_empty() && settled.busy.is_empty());
}

/// A teammate's edit must not wait for the team index: the copy takes no
/// lock on the replica, and a held lock with nothing marked (a writer not
/// yet started, or one that has only locked) does not make it stale.
#[test]
fn a_copy_takes_no_lock_on_the_replica() {
    let s = setup();
    let home = &s.replicas[0].1;
    let writer = open(home).unwrap();
    let lock = writer.store().lock().unwrap();
    let (index, report) = refresh(&s);
    assert_eq!(report.copied, ["alice"]);
    assert_eq!(names(&index), ["Edna Miggins"]);
    drop(lock);
}

#[test]
fn a_damaged_team_index_is_rebuilt() {
    let s = setup();
    refresh(&s);
    std::fs::write(&s.team, vec![0x5a; 8192]).unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", s.team.display()));
    }
    let (index, report) = refresh(&s);
    assert_eq!(report.copied, ["alice"]);
    assert_eq!(names(&index), ["Edna Miggins"]);
}

#[test]
fn a_replica_no_longer_held_leaves_no_rows() {
    let mut s = setup();
    let bob = s._dir.path().join("replicas").join("bob");
    add(&bob, "Sam Baker");
    s.replicas.push(("bob".into(), bob));
    let (index, _) = refresh(&s);
    assert_eq!(names(&index), ["Edna Miggins", "Sam Baker"]);
    drop(index);
    s.replicas.truncate(1);
    let (index, _) = refresh(&s);
    assert_eq!(names(&index), ["Edna Miggins"]);
}
