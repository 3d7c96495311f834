//! Two replicas of one ledger edited apart, then merged by exchanging chunk
//! files: every edit from both sides survives, and both converge. Run at
//! library level with `kith::Ledger`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use kith::Ledger;
use kith::model::{Id, Kind};
use kith::ops::NewPerson;
use kith::view::{self, Detail};
use proptest::prelude::*;
use serde_json::Value as Json;

use super::copy_chunks;

fn open(home: &Path) -> Ledger {
    super::open_ledger(home).expect("the ledger opens")
}

/// Everything `show --json` would say about everyone, by id.
fn state(ledger: &Ledger) -> BTreeMap<String, Json> {
    let people = ledger.list_people(&Default::default()).unwrap();
    people
        .iter()
        .map(|p| {
            let v = view::person(
                ledger.index(),
                p,
                Detail::Full {
                    interactions: 10_000,
                },
            )
            .unwrap();
            (p.id.to_string(), serde_json::to_value(v).unwrap())
        })
        .collect()
}

#[derive(Clone, Debug)]
enum Op {
    AddPerson,
    SetTitle(usize, u8),
    AddEmail(usize),
    AddFact(usize),
    Log(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::AddPerson),
        (any::<usize>(), 0u8..4).prop_map(|(p, t)| Op::SetTitle(p, t)),
        any::<usize>().prop_map(Op::AddEmail),
        any::<usize>().prop_map(Op::AddFact),
        any::<usize>().prop_map(Op::Log),
    ]
}

/// What one replica did, to be found after the merge.
#[derive(Default, Debug)]
struct Done {
    people: Vec<(Id, String)>,
    titles: BTreeMap<Id, String>,
    emails: Vec<(Id, String)>,
    facts: Vec<(Id, String)>,
    logs: Vec<(Id, String)>,
}

/// How a replica's edits are made.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Writer {
    /// One `Ledger` makes every edit, as a long-running program would.
    OneLedger,
    /// The ledger is opened afresh for each edit, as each `kith` command does.
    LedgerPerEdit,
}

/// Applies `ops` to a replica; `side` keeps its names and values apart
/// from the other replica's.
fn apply(ledger: &mut Ledger, writer: Writer, side: &str, common: &[Id], ops: &[Op]) -> Done {
    let mut done = Done::default();
    let mut known: Vec<Id> = common.to_vec();
    for (n, op) in ops.iter().enumerate() {
        if writer == Writer::LedgerPerEdit {
            let home = ledger.home().to_path_buf();
            *ledger = open(&home);
        }
        let pick = |i: &usize| known[i % known.len()].clone();
        match op {
            Op::AddPerson => {
                let name = format!("Replica{side} Person{n}");
                let id = ledger
                    .add_person(&NewPerson {
                        name: name.clone(),
                        emails: vec![format!("{side}{n}.new@example.com")],
                        ..Default::default()
                    })
                    .unwrap();
                done.emails
                    .push((id.clone(), format!("{side}{n}.new@example.com")));
                done.people.push((id.clone(), name));
                known.push(id);
            }
            Op::SetTitle(i, t) => {
                let id = pick(i);
                let title = format!("Title {side}{t}");
                let who = ledger.entity(&id).unwrap();
                ledger.set_field(&who, "title", &title, None).unwrap();
                done.titles.insert(id, title);
            }
            Op::AddEmail(i) => {
                let id = pick(i);
                let email = format!("{side}{n}@example.com");
                let who = ledger.entity(&id).unwrap();
                ledger.set_field(&who, "email", &email, None).unwrap();
                done.emails.push((id, email));
            }
            Op::AddFact(i) => {
                let id = pick(i);
                let text = format!("fact {side}{n}");
                let who = ledger.entity(&id).unwrap();
                ledger.add_fact(&who, &text, None, None).unwrap();
                done.facts.push((id, text));
            }
            Op::Log(i) => {
                let id = pick(i);
                let text = format!("call {side}{n}");
                let who = ledger.entity(&id).unwrap();
                ledger.log(&[who], &text, "call", None, None).unwrap();
                done.logs.push((id, text));
            }
        }
    }
    done
}

fn values(v: &Json, field: &str) -> Vec<String> {
    v[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            x.get("value")
                .or_else(|| x.get("text"))
                .or_else(|| x.get("summary"))
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

/// Every edit in `done` is visible in `state`.
fn assert_all_there(state: &BTreeMap<String, Json>, done: &Done) {
    let get = |id: &Id| {
        state
            .get(id.as_str())
            .unwrap_or_else(|| panic!("{id} is missing after the merge"))
    };
    for (id, name) in &done.people {
        assert_eq!(get(id)["name"], name.as_str());
    }
    for (id, email) in &done.emails {
        assert!(
            values(get(id), "emails").contains(email),
            "email {email} lost"
        );
    }
    for (id, text) in &done.facts {
        assert!(values(get(id), "facts").contains(text), "{text} lost");
    }
    for (id, text) in &done.logs {
        assert!(
            values(get(id), "interactions").contains(text),
            "{text} lost"
        );
    }
}

/// Two replicas from one common state; returns their homes and the common people.
fn replicas() -> (tempfile::TempDir, tempfile::TempDir, Vec<Id>) {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let mut common = Vec::new();
    {
        let mut ledger = open(a.path());
        for (name, email) in [
            ("Edna Miggins", "edna@miggins.co.uk"),
            ("Albert Miggins", "albert@miggins.co.uk"),
        ] {
            common.push(
                ledger
                    .add_person(&NewPerson {
                        name: name.into(),
                        emails: vec![email.into()],
                        ..Default::default()
                    })
                    .unwrap(),
            );
        }
    }
    // B is another device: the chunks only, its own device file and index.
    copy_chunks(&a.path().join("ledger"), &b.path().join("ledger"));
    (a, b, common)
}

/// Exchanges chunk files both ways and brings both indexes up to date.
fn sync(a: &mut Ledger, b: &mut Ledger) {
    copy_chunks(&b.home().join("ledger"), &a.home().join("ledger"));
    copy_chunks(&a.home().join("ledger"), &b.home().join("ledger"));
    a.check().unwrap();
    b.check().unwrap();
    assert!(a.report.is_clean(), "{:?}", a.report);
    assert!(b.report.is_clean(), "{:?}", b.report);
}

fn check_merge(writer: Writer, ops_a: &[Op], ops_b: &[Op]) {
    let (home_a, home_b, common) = replicas();
    let mut a = open(home_a.path());
    let mut b = open(home_b.path());
    let done_a = apply(&mut a, writer, "a", &common, ops_a);
    let done_b = apply(&mut b, writer, "b", &common, ops_b);
    sync(&mut a, &mut b);
    let merged = state(&a);
    assert_all_there(&merged, &done_a);
    assert_all_there(&merged, &done_b);
    // Titles set on both sides: one of the two last ones wins.
    let ids: BTreeSet<&Id> = done_a.titles.keys().chain(done_b.titles.keys()).collect();
    for id in ids {
        let title = merged[id.as_str()]["title"].as_str().unwrap().to_string();
        let candidates: Vec<&String> = [done_a.titles.get(id), done_b.titles.get(id)]
            .into_iter()
            .flatten()
            .collect();
        assert!(
            candidates.contains(&&title),
            "{title} not one of {candidates:?}"
        );
    }
    let people = 2 + done_a.people.len() + done_b.people.len();
    assert_eq!(merged.len(), people);
    // Both replicas converge, and agree with indexes rebuilt from scratch.
    assert_eq!(state(&b), merged, "the replicas differ");
    a.rebuild_index(&|_, _| {}).unwrap();
    assert_eq!(state(&a), merged, "the index differs from a rebuilt one");
    drop(a);
    assert_eq!(state(&open(home_a.path())), merged, "differs when reopened");
}

#[test]
fn concurrent_emails_to_one_person_both_survive() {
    let (home_a, home_b, common) = replicas();
    let edna = &common[0];
    // Each edit by its own Ledger, as each `kith` command makes it.
    let edit = |home: &Path, f: &dyn Fn(&mut Ledger, &kith::model::Entity)| {
        let mut ledger = open(home);
        let who = ledger.entity(edna).unwrap();
        f(&mut ledger, &who);
    };
    edit(home_a.path(), &|l, who| {
        l.set_field(who, "email", "shop@miggins.co.uk", None)
            .unwrap()
    });
    edit(home_a.path(), &|l, who| {
        l.set_field(who, "title", "Owner", None).unwrap()
    });
    edit(home_a.path(), &|l, who| {
        l.add_fact(who, "likes sherbet lemons", None, None).unwrap();
    });
    edit(home_b.path(), &|l, who| {
        l.set_field(who, "email", "home@miggins.example", None)
            .unwrap()
    });
    edit(home_b.path(), &|l, who| {
        l.set_field(who, "phone", "01632 960123", None).unwrap()
    });
    edit(home_b.path(), &|l, who| {
        l.add_fact(who, "daughter Daisy", None, None).unwrap();
    });
    let mut a = open(home_a.path());
    let mut b = open(home_b.path());
    sync(&mut a, &mut b);
    let merged = state(&a);
    let edna_now = &merged[edna.as_str()];
    let mut emails = values(edna_now, "emails");
    emails.sort();
    assert_eq!(
        emails,
        [
            "edna@miggins.co.uk",
            "home@miggins.example",
            "shop@miggins.co.uk"
        ]
    );
    assert_eq!(edna_now["title"], "Owner");
    assert_eq!(values(edna_now, "phones"), ["01632 960123"]);
    let mut facts = values(edna_now, "facts");
    facts.sort();
    assert_eq!(facts, ["daughter Daisy", "likes sherbet lemons"]);
    assert_eq!(state(&b), merged);
    // The kinds the index knows of: everything it holds came from the merge.
    assert_eq!(a.index().entity(edna).unwrap().unwrap().kind, Kind::Person);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        max_shrink_iters: 32,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Each edit by its own `Ledger`, as `kith` commands make them.
    #[test]
    fn edits_on_two_replicas_all_survive_a_merge(
        ops_a in proptest::collection::vec(op(), 1..10),
        ops_b in proptest::collection::vec(op(), 1..10),
    ) {
        check_merge(Writer::LedgerPerEdit, &ops_a, &ops_b);
    }

    /// Every edit of a replica by one `Ledger`, as a program using the
    /// library (or a sync daemon) would make them.
    #[test]
    fn edits_by_one_ledger_per_replica_all_survive_a_merge(
        ops_a in proptest::collection::vec(op(), 1..10),
        ops_b in proptest::collection::vec(op(), 1..10),
    ) {
        check_merge(Writer::OneLedger, &ops_a, &ops_b);
    }
}

/// One `Ledger` adding a person and then a fact about them: two writes
/// that each only create, to the same shard, from the same process.
#[test]
fn one_ledger_two_creates_in_one_shard() {
    let home = tempfile::tempdir().unwrap();
    let mut ledger = open(home.path());
    let id = ledger
        .add_person(&NewPerson {
            name: "Edna Miggins".into(),
            ..Default::default()
        })
        .unwrap();
    let edna = ledger.entity(&id).unwrap();
    ledger
        .add_fact(&edna, "likes sherbet lemons", None, None)
        .unwrap();
    ledger.log(&[edna], "a call", "call", None, None).unwrap();
    let report = ledger.check().unwrap();
    assert!(ledger.report.is_clean(), "{:?}", ledger.report);
    assert_eq!(report.people, 1);
    drop(ledger);
    let mut again = open(home.path());
    again.rebuild_index(&|_, _| {}).unwrap();
    assert!(again.report.is_clean(), "{:?}", again.report);
    let edna = again.entity(&id).unwrap();
    let v = view::person(again.index(), &edna, Detail::Full { interactions: 10 }).unwrap();
    assert_eq!(v.facts.len(), 1, "the fact is lost");
    assert_eq!(v.interactions.map(|i| i.len()), Some(1), "the call is lost");
}
