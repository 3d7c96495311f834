//! A writer killed with SIGKILL at a random moment loses at most the edit
//! it had not acknowledged; everything acknowledged survives and the ledger
//! stays sound. The writers are `add`, `log`, `fact`, `import` of a card
//! and `merge` of two people (several shards: a merge killed half-way is
//! finished by the next command, never left half done). A second test
//! kills a daemon while it stores a teammate's batch.
//!
//! 500 writers by default (11 to 42 s on two busy cores); `KITH_CRASH_ITERATIONS`
//! and `KITH_CRASH_BUDGET_SECS` raise both for a release soak
//! (`scripts/crash-soak`).

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

use super::{assert_ledger_sound, items_of};
use crate::common::{Home, strings};

/// Stop starting writers after this long, whatever the iteration count,
/// unless `KITH_CRASH_BUDGET_SECS` says otherwise.
const BUDGET: Duration = Duration::from_secs(120);
/// Fewer iterations than this (or than asked for, if fewer) is a failure.
const MIN_ITERATIONS: usize = 50;
/// Longest a killed writer is left running, unless writes take longer here
/// (a loaded machine, a debug build): then as long as two writes take, so
/// that kills land all through the write rather than always before its end.
const MAX_DELAY_MS: u64 = 40;
/// Every this many writers one is left to finish, so that acknowledged
/// edits are interleaved with killed ones whatever the machine's speed.
const UNKILLED_EVERY: usize = 4;
/// A writer left to finish that takes longer than this has hung.
const WRITER_TIMEOUT: Duration = Duration::from_secs(60);

/// How long an uninterrupted `kith log` takes here, in milliseconds: the
/// median of a few.
fn write_time(h: &Home, who: &str) -> u64 {
    let mut times: Vec<u64> = (0..5)
        .map(|i| {
            let t = Instant::now();
            h.ok(&["log", who, &format!("calibration {i}")]);
            t.elapsed().as_millis() as u64
        })
        .collect();
    times.sort();
    times[2]
}

fn iterations() -> usize {
    std::env::var("KITH_CRASH_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500)
}

fn budget() -> Duration {
    std::env::var("KITH_CRASH_BUDGET_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(BUDGET)
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Add,
    Log,
    Fact,
    Import,
    Merge,
}

#[test]
fn writers_killed_at_random_lose_nothing_acknowledged() {
    let wanted = iterations();
    let seed: u64 = std::env::var("KITH_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("crash test: {wanted} iterations, KITH_CRASH_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let h = Home::new();
    let target = h.add(&["Crash Target", "--email", "target@example.com"]);
    // Acknowledged edits: people added (id → name), and facts and
    // interactions by person id.
    let mut people: BTreeMap<String, String> = BTreeMap::new();
    let mut facts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut logs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    people.insert(target.clone(), "Crash Target".into());
    let max_delay = MAX_DELAY_MS.max(2 * write_time(&h, &target));
    eprintln!("crash test: killing after 0 to {max_delay} ms");
    let budget = budget();
    // People merged away (id → the one kept), and names imported.
    let mut merged: BTreeMap<String, String> = BTreeMap::new();
    let mut imported: BTreeSet<String> = BTreeSet::new();
    let cards = tempfile::tempdir().unwrap();
    let (mut killed, mut finished, mut ran) = (0, 0, 0);
    // Killed merges: finished by the next command, or never begun.
    let (mut merges_finished, mut merges_undone) = (0, 0);
    let mut failures = Vec::new();
    let started = Instant::now();

    for i in 0..wanted {
        if started.elapsed() > budget {
            break;
        }
        ran += 1;
        let mut op = [
            Op::Add,
            Op::Log,
            Op::Fact,
            Op::Add,
            Op::Log,
            Op::Fact,
            Op::Import,
            Op::Merge,
        ][rng.random_range(0..8)];
        // Items go to the target (whose shard fills up and is compacted
        // while writers die) or to someone added earlier.
        let ids: Vec<&String> = people.keys().collect();
        let who = if rng.random_bool(0.5) {
            target.clone()
        } else {
            ids[rng.random_range(0..ids.len())].clone()
        };
        // A merge keeps anyone and merges away anyone but the target.
        let others: Vec<&String> = people.keys().filter(|id| **id != target).collect();
        if matches!(op, Op::Merge) && others.len() < 2 {
            op = Op::Add;
        }
        let gone = others
            .get(rng.random_range(0..others.len().max(1)))
            .map(|s| s.to_string())
            .unwrap_or_default();
        let keepers: Vec<&&String> = ids.iter().filter(|id| ***id != gone).collect();
        let keep = keepers[rng.random_range(0..keepers.len())].to_string();
        let name = format!("Crash Person{i}");
        let text = format!("crash edit {i}");
        let card = cards.path().join(format!("import-{i}.vcf"));
        let imported_name = format!("Imported Person{i}");
        if matches!(op, Op::Import) {
            std::fs::write(
                &card,
                format!(
                    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:{imported_name}\r\nEMAIL:import{i}@example.com\r\nEND:VCARD\r\n"
                ),
            )
            .unwrap();
        }
        let card_path = card.to_string_lossy().to_string();
        let args: Vec<&str> = match op {
            Op::Add => vec![
                "add",
                &name,
                "--email",
                "crash@example.com",
                "--tag",
                "crash",
            ],
            Op::Log => vec!["log", &who, &text],
            Op::Fact => vec!["fact", &who, &text],
            Op::Import => vec!["import", &card_path],
            Op::Merge => vec!["merge", &keep, &gone],
        };
        let mut child = h
            .command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kith starts");
        let mut hung = false;
        if i % UNKILLED_EVERY != 0 {
            std::thread::sleep(Duration::from_millis(rng.random_range(0..=max_delay)));
            if child.try_wait().expect("wait").is_none() {
                // Already-exited children are not killed: their exit code stands.
                let _ = child.kill();
            }
        } else {
            // Left to finish, but not for ever.
            let deadline = Instant::now() + WRITER_TIMEOUT;
            while child.try_wait().expect("wait").is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    hung = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let out = child.wait_with_output().expect("wait");
        if hung {
            failures.push(format!(
                "kith {args:?} still running after {WRITER_TIMEOUT:?}"
            ));
            continue;
        }
        match (out.status.code(), out.status.signal()) {
            (Some(0), _) => {
                finished += 1;
                match op {
                    Op::Add => {
                        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
                        assert_eq!(id.len(), 16, "add printed {id:?}");
                        people.insert(id, name);
                    }
                    Op::Log => logs.entry(who).or_default().push(text),
                    Op::Fact => facts.entry(who).or_default().push(text),
                    Op::Import => {
                        imported.insert(imported_name);
                    }
                    Op::Merge => merge_into(
                        &mut people,
                        &mut facts,
                        &mut logs,
                        &mut merged,
                        &gone,
                        &keep,
                    ),
                }
            }
            (None, Some(libc::SIGKILL)) => {
                killed += 1;
                // A killed merge is finished by the next command or never
                // started: ask which, so no later writer aims at someone gone.
                if matches!(op, Op::Merge) {
                    let listed = h.json(&["list", "--json"]);
                    if strings(&listed, Some("id")).contains(&gone) {
                        merges_undone += 1;
                    } else {
                        merges_finished += 1;
                        merge_into(
                            &mut people,
                            &mut facts,
                            &mut logs,
                            &mut merged,
                            &gone,
                            &keep,
                        );
                    }
                }
            }
            (code, signal) => failures.push(format!(
                "kith {args:?}: code {code:?}, signal {signal:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            )),
        }
    }
    eprintln!(
        "crash test: {ran} writers in {:.1?}: {finished} acknowledged, {killed} killed; \
         {} merges and {} imports acknowledged; of the merges killed, \
         {merges_finished} finished by the next command, {merges_undone} never begun",
        started.elapsed(),
        merged.len() - merges_finished,
        imported.len()
    );
    assert!(
        ran >= MIN_ITERATIONS.min(wanted),
        "only {ran} iterations ran in {budget:?}"
    );
    assert!(
        failures.is_empty(),
        "writers failed on their own: {failures:#?}"
    );

    // Every acknowledged person is listed, and every acknowledged item shows.
    let listed = h.json(&["list", "--json"]);
    let ids: BTreeSet<String> = strings(&listed, Some("id")).into_iter().collect();
    for (id, name) in &people {
        assert!(ids.contains(id), "acknowledged {name} ({id}) is missing");
    }
    for (gone, keep) in &merged {
        assert!(!ids.contains(gone), "{gone}, merged into {keep}, is listed");
    }
    let names: BTreeSet<String> = strings(&listed, Some("name")).into_iter().collect();
    for name in &imported {
        assert!(
            names.contains(name),
            "acknowledged import of {name} is missing"
        );
    }
    let everyone: BTreeSet<String> = people.keys().cloned().collect();
    let shown = items_of(&h, &everyone);
    for (who, (shown_facts, shown_logs)) in &shown {
        for f in facts.get(who).into_iter().flatten() {
            assert!(
                shown_facts.contains(f),
                "acknowledged fact {f:?} is missing"
            );
        }
        for l in logs.get(who).into_iter().flatten() {
            assert!(shown_logs.contains(l), "acknowledged log {l:?} is missing");
        }
        // Nothing landed twice.
        let unique: BTreeSet<&String> = shown_facts.iter().chain(shown_logs).collect();
        assert_eq!(
            unique.len(),
            shown_facts.len() + shown_logs.len(),
            "{who}: doubled edits"
        );
    }
    assert_eq!(h.show("target@example.com")["id"], target.as_str());
    assert_ledger_sound(&h);
}

/// Records that `gone` was merged into `keep`: their items are now `keep`'s.
fn merge_into(
    people: &mut BTreeMap<String, String>,
    facts: &mut BTreeMap<String, Vec<String>>,
    logs: &mut BTreeMap<String, Vec<String>>,
    merged: &mut BTreeMap<String, String>,
    gone: &str,
    keep: &str,
) {
    people.remove(gone);
    for items in [facts, logs] {
        if let Some(moved) = items.remove(gone) {
            items.entry(keep.to_string()).or_default().extend(moved);
        }
    }
    // Whoever was merged into `gone` before is now in `keep` too.
    for into in merged.values_mut() {
        if into == gone {
            *into = keep.to_string();
        }
    }
    merged.insert(gone.to_string(), keep.to_string());
}

/// Rounds of the daemon test (a teammate's batch arrives and the daemon
/// storing it is killed), unless `KITH_CRASH_DAEMON_ROUNDS` says otherwise.
const DAEMON_ROUNDS: usize = 10;

fn daemon_rounds() -> usize {
    std::env::var("KITH_CRASH_DAEMON_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DAEMON_ROUNDS)
}
/// People in each batch the teammate adds before a round.
const BATCH: usize = 200;

/// A daemon killed with SIGKILL while it stores a teammate's batch leaves
/// its owner's ledger and the replica sound: every round alice imports a
/// batch of people, bob's daemon starts, fetches them and is killed after a
/// delay that follows the store window (shorter when the batch was already
/// whole, longer when nothing had arrived), while bob writes to his own
/// ledger beside it. Between rounds `kith check` passes on bob's home with
/// the daemon dead; at the end one uninterrupted sync makes bob's replica
/// hold exactly alice's people, and every add of bob's that was
/// acknowledged is there.
#[test]
fn a_daemon_killed_while_storing_a_batch_loses_nothing() {
    use crate::cli::team::{Daemon, team_of, wait_until};

    let (alice, bob) = (Home::new(), Home::new());
    let _alice_daemon = team_of(&alice, &[(&bob, "bob")]);
    let cards = tempfile::tempdir().unwrap();
    let alices = |bob: &Home| -> BTreeSet<String> {
        let listed = bob.json(&["list", "--team", "--json"]);
        listed
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["owner"] == "alice")
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    let mut own: BTreeMap<String, String> = BTreeMap::new();
    let mut delay_ms: u64 = 400;
    let (mut mid_store, mut too_late, mut too_early) = (0, 0, 0);
    let rounds = daemon_rounds();
    for round in 0..rounds {
        let file = cards.path().join(format!("batch-{round}.vcf"));
        let batch: String = (0..BATCH)
            .map(|i| {
                format!(
                    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Batch{round} Person{i}\r\n\
                     EMAIL:b{round}p{i}@example.com\r\nORG:Batch {round} Ltd\r\n\
                     NOTE:round {round}\\, card {i}\r\nEND:VCARD\r\n"
                )
            })
            .collect();
        std::fs::write(&file, batch).unwrap();
        alice.ok(&["import", &file.to_string_lossy()]);
        let before = alices(&bob).len();

        let daemon = Daemon::start(&bob, &[]);
        // bob writes to his own ledger while his daemon stores alice's batch.
        let name = format!("Bob Own{round}");
        let writer = bob
            .command(&["add", &name, "--tag", "own"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kith starts");
        std::thread::sleep(Duration::from_millis(delay_ms));
        daemon.kill9();
        let out = writer.wait_with_output().expect("add exits");
        assert!(
            out.status.success(),
            "bob's add beside the daemon failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        own.insert(
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            name,
        );

        let r = bob.run(&["check", "--json"]);
        assert_eq!(
            r.code,
            Some(0),
            "round {round}: check after the kill failed: {}",
            r.stderr
        );
        let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(report["quarantined"], serde_json::json!([]), "{report}");
        let after = alices(&bob).len();
        let whole = (round + 1) * BATCH;
        // Follow the window in which the batch is being stored.
        if after == whole {
            too_late += 1;
            delay_ms = (delay_ms * 2 / 3).max(20);
        } else if after == before {
            too_early += 1;
            delay_ms = (delay_ms * 3 / 2).min(8_000);
        } else {
            mid_store += 1;
        }
    }
    eprintln!(
        "daemon crash test: {rounds} kills: {mid_store} with part of a batch stored, \
         {too_early} before any of it, {too_late} after all of it (last delay {delay_ms} ms)"
    );

    // One sync without a kill completes the replica, exactly.
    let _bob_daemon = Daemon::start(&bob, &[]);
    let expected: BTreeSet<String> = strings(&alice.json(&["list", "--json"]), Some("name"))
        .into_iter()
        .collect();
    assert_eq!(expected.len(), rounds * BATCH);
    assert!(
        wait_until(120, || alices(&bob) == expected),
        "bob's replica of alice never became whole: {} of {} people",
        alices(&bob).len(),
        expected.len()
    );
    let listed = bob.json(&["list", "--json"]);
    let ids: BTreeSet<String> = strings(&listed, Some("id")).into_iter().collect();
    for (id, name) in &own {
        assert!(
            ids.contains(id),
            "bob's acknowledged {name} ({id}) is missing"
        );
    }
    assert_eq!(ids.len(), own.len(), "bob's own ledger gained people");
    assert_ledger_sound(&bob);
}
