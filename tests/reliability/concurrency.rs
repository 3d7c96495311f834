//! Two kith processes writing to one home at the same time both land.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

use super::{assert_ledger_sound, items_of};
use crate::common::{Home, Run, names, strings};

/// One thread's acknowledged writes, and any command that failed.
#[derive(Default)]
struct Acked {
    people: Vec<(String, String)>,
    logs: Vec<(String, String)>,
    facts: Vec<(String, String)>,
    failures: Vec<String>,
}

fn record_failure(acked: &mut Acked, args: &[&str], r: &Run) {
    acked
        .failures
        .push(format!("kith {args:?} exited {:?}: {}", r.code, r.stderr));
}

#[test]
fn two_writers_at_once_into_a_new_home() {
    let home = Arc::new(Home::new());
    let start = Arc::new(Barrier::new(2));
    let writers: Vec<_> = ["A", "B"]
        .into_iter()
        .map(|t| {
            let home = Arc::clone(&home);
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                let mut acked = Acked::default();
                start.wait();
                let mut last: Option<String> = None;
                for i in 0..20 {
                    match (&last, i % 2) {
                        (Some(who), 1) => {
                            let summary = format!("writer {t} call {i}");
                            let args = ["log", who.as_str(), summary.as_str()];
                            let r = home.run(&args);
                            if r.code == Some(0) {
                                acked.logs.push((who.clone(), summary));
                            } else {
                                record_failure(&mut acked, &args, &r);
                            }
                        }
                        _ => {
                            let name = format!("Writer{t} Person{i}");
                            let email = format!("writer{t}.{i}@example.com");
                            let args = ["add", name.as_str(), "--email", email.as_str()];
                            let r = home.run(&args);
                            if r.code == Some(0) {
                                let id = r.stdout.trim().to_string();
                                acked.people.push((id.clone(), name));
                                last = Some(id);
                            } else {
                                record_failure(&mut acked, &args, &r);
                            }
                        }
                    }
                }
                acked
            })
        })
        .collect();
    let results: Vec<Acked> = writers.into_iter().map(|w| w.join().unwrap()).collect();

    let listed = home.json(&["list", "--json"]);
    let listed_ids: BTreeSet<String> = strings(&listed, Some("id")).into_iter().collect();
    let listed_names = names(&listed);
    let mut people = BTreeSet::new();
    for acked in &results {
        for (id, name) in &acked.people {
            assert!(
                listed_ids.contains(id),
                "acknowledged {name} ({id}) is missing"
            );
            assert!(listed_names.contains(name), "{name} is missing");
            people.insert(id.clone());
        }
    }
    let items = items_of(&home, &people);
    for acked in &results {
        for (who, summary) in &acked.logs {
            assert!(
                items[who].1.contains(summary),
                "acknowledged log {summary:?} is missing"
            );
        }
    }
    assert_ledger_sound(&home);
    let failures: Vec<&String> = results.iter().flat_map(|a| &a.failures).collect();
    assert!(failures.is_empty(), "writers failed: {failures:#?}");
    assert_eq!(people.len(), 20);
}

#[test]
fn two_writers_editing_one_person() {
    let home = Arc::new(Home::new());
    let edna = home.add(&["Edna Miggins"]);
    let start = Arc::new(Barrier::new(2));
    let writers: Vec<_> = ["A", "B"]
        .into_iter()
        .map(|t| {
            let home = Arc::clone(&home);
            let start = Arc::clone(&start);
            let edna = edna.clone();
            std::thread::spawn(move || {
                let mut acked = Acked::default();
                start.wait();
                for i in 0..12 {
                    let (args, done): (Vec<String>, _) = match i % 3 {
                        0 => (
                            vec![
                                "set".into(),
                                edna.clone(),
                                "email".into(),
                                format!("{}{i}@example.com", t.to_lowercase()),
                            ],
                            0,
                        ),
                        1 => (vec!["fact".into(), edna.clone(), format!("fact {t}{i}")], 1),
                        _ => (vec!["log".into(), edna.clone(), format!("call {t}{i}")], 2),
                    };
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let r = home.run(&args);
                    if r.code != Some(0) {
                        record_failure(&mut acked, &args, &r);
                        continue;
                    }
                    let entry = (edna.clone(), args[args.len() - 1].to_string());
                    match done {
                        0 => acked.people.push(entry),
                        1 => acked.facts.push(entry),
                        _ => acked.logs.push(entry),
                    }
                }
                acked
            })
        })
        .collect();
    let results: Vec<Acked> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    let shown = home.show(&edna);
    let emails = strings(&shown["emails"], Some("value"));
    let items = items_of(&home, &BTreeSet::from([edna.clone()]));
    let (facts, logs) = &items[&edna];
    for acked in &results {
        for (_, email) in &acked.people {
            assert!(
                emails.contains(email),
                "email {email} is missing: {emails:?}"
            );
        }
        for (_, fact) in &acked.facts {
            assert!(facts.contains(fact), "fact {fact:?} is missing");
        }
        for (_, log) in &acked.logs {
            assert!(logs.contains(log), "log {log:?} is missing");
        }
    }
    assert_ledger_sound(&home);
    let failures: Vec<&String> = results.iter().flat_map(|a| &a.failures).collect();
    assert!(failures.is_empty(), "writers failed: {failures:#?}");
    assert_eq!(emails.len(), 8);
    assert_eq!(facts.len(), 8);
    assert_eq!(logs.len(), 8);
}

/// The index is derived on first open. Several processes opening a home
/// whose index is gone must agree on who builds it: none may fail or
/// answer from tables another process dropped and is refilling.
#[test]
fn readers_opening_a_home_with_no_index_at_once() {
    let home = Arc::new(Home::new());
    for i in 0..30 {
        home.add(&[&format!("Reader Person{i}"), "--tag", "stock"]);
    }
    let index = home.path().join("index.sqlite");
    for round in 0..12 {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", index.display()));
        }
        let start = Arc::new(Barrier::new(4));
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (home, start) = (Arc::clone(&home), Arc::clone(&start));
                std::thread::spawn(move || {
                    start.wait();
                    home.run(&["find", "Reader", "--limit", "50", "--json"])
                })
            })
            .collect();
        for reader in readers {
            let run = reader.join().expect("reader thread");
            assert_eq!(run.code, Some(0), "round {round}: {}", run.stderr);
            assert!(run.stderr.is_empty(), "round {round}: {}", run.stderr);
            let hits: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
            assert_eq!(hits.as_array().map(Vec::len), Some(30), "round {round}");
        }
    }
}
