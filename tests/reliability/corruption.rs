//! A damaged chunk is named, moved to quarantine, and everything else loads.

use std::path::{Path, PathBuf};

use crate::common::{Home, Run, shard_of_path, strings};

/// Three people in three different shards, and the shared chunk file of
/// each of the first two.
struct Damaged {
    home: Home,
    flipped: PathBuf,
    truncated: PathBuf,
    intact_id: String,
}

fn shard_of(id: &str) -> &str {
    &id[..2]
}

/// A shared chunk of `id`'s shard (there may be two, when someone added
/// later landed in the same shard).
fn shared_chunk(h: &Home, id: &str) -> PathBuf {
    let dir = h.ledger().join("shared").join(shard_of(id));
    let files: Vec<PathBuf> = crate::common::files_under(&dir);
    assert!(!files.is_empty(), "no chunk in {}", dir.display());
    files.into_iter().next().unwrap()
}

/// Adds people until three of them sit in three different shards, and
/// returns those three ids.
fn three_people_in_three_shards(home: &Home) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for i in 0..20 {
        let id = home.add(&[
            &format!("Person Number{i}"),
            "--email",
            &format!("p{i}@example.com"),
        ]);
        if ids.iter().all(|other| shard_of(other) != shard_of(&id)) {
            ids.push(id);
        }
        if ids.len() == 3 {
            break;
        }
    }
    assert_eq!(ids.len(), 3, "no three people in three shards");
    ids
}

fn damaged_ledger() -> Damaged {
    let home = Home::new();
    let ids = three_people_in_three_shards(&home);
    let flipped = shared_chunk(&home, &ids[0]);
    let truncated = shared_chunk(&home, &ids[1]);
    let mut bytes = std::fs::read(&flipped).unwrap();
    let at = 49 + (bytes.len() - 49) / 2;
    bytes[at] ^= 0x10;
    std::fs::write(&flipped, bytes).unwrap();
    let len = std::fs::metadata(&truncated).unwrap().len();
    std::fs::File::options()
        .write(true)
        .open(&truncated)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    Damaged {
        home,
        flipped,
        truncated,
        intact_id: ids[2].clone(),
    }
}

/// Each damaged file is named on stderr and now lies in quarantine.
fn assert_reported_and_quarantined(d: &Damaged, r: &Run) {
    for file in [&d.flipped, &d.truncated] {
        let line = r
            .stderr
            .lines()
            .find(|l| l.contains(&format!("{} is damaged", file.display())))
            .unwrap_or_else(|| {
                panic!(
                    "{} is not reported as damaged:\n{}",
                    file.display(),
                    r.stderr
                )
            });
        assert!(line.starts_with("kith: warning: "), "{line}");
        assert!(line.contains("moved to "), "{line}");
        assert!(!file.exists(), "{} was left in place", file.display());
        assert!(
            quarantined(&d.home, file).exists(),
            "{} not in quarantine",
            file.display()
        );
    }
}

/// Where quarantine puts a chunk: `ledger/quarantine/{part}-{shard}-{name}`.
fn quarantined(h: &Home, file: &Path) -> PathBuf {
    let name = file.file_name().unwrap().to_str().unwrap();
    let shard = file
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    h.ledger()
        .join("quarantine")
        .join(format!("shared-{shard}-{name}"))
}

fn assert_intact_person_shows(d: &Damaged) {
    let listed = d.home.json(&["list", "--json"]);
    assert!(
        strings(&listed, Some("id")).contains(&d.intact_id),
        "{listed}"
    );
    let p = d.home.show(&d.intact_id);
    assert_eq!(p["emails"].as_array().unwrap().len(), 1);
}

#[test]
fn check_quarantines_a_flipped_byte_and_a_truncated_chunk() {
    let d = damaged_ledger();
    let r = d.home.run(&["check"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_reported_and_quarantined(&d, &r);
    assert!(
        r.stdout.contains("2 damaged chunks quarantined"),
        "{}",
        r.stdout
    );
    assert_intact_person_shows(&d);
    // Reported once: the next check is quiet.
    let r = d.home.run(&["check", "--json"]);
    assert_eq!(r.code, Some(0));
    assert_eq!(r.stderr, "");
    // Writing still works, in a damaged shard too.
    let flipped_shard = shard_of_path(&d.flipped);
    let survivors = d.home.json(&["list", "--json"]);
    let id = strings(&survivors, Some("id"))
        .into_iter()
        .find(|i| i.starts_with(&flipped_shard));
    if let Some(id) = id {
        d.home.ok(&["fact", &id, "written after the damage"]);
    }
    d.home.add(&["After Damage"]);
    assert!(names_listed(&d.home).contains(&"After Damage".to_string()));
}

fn names_listed(h: &Home) -> Vec<String> {
    crate::common::names(&h.json(&["list", "--json"]))
}

#[test]
fn export_reads_past_damage_and_says_so() {
    let d = damaged_ledger();
    let r = d.home.run(&["export"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_reported_and_quarantined(&d, &r);
    assert!(r.stdout.contains(&d.intact_id), "{}", r.stdout);
    assert_intact_person_shows(&d);
}

/// A read command that has to load the chunks (here because the index is
/// gone) reports the damage the same way, and answers.
#[test]
fn a_read_that_rebuilds_the_index_reports_damage() {
    let d = damaged_ledger();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(d.home.path().join(format!("index.sqlite{suffix}")));
    }
    let r = d.home.run(&["list", "--json"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let listed: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(strings(&listed, Some("id")).contains(&d.intact_id));
    assert_reported_and_quarantined(&d, &r);
}

/// A chunk file left empty (a crash between create and write on a file
/// system without ordered data) is named, quarantined, and the rest loads.
#[test]
fn a_zero_length_chunk_is_named_and_quarantined() {
    let home = Home::new();
    let first = home.add(&["Edna Miggins", "--email", "edna@miggins.co.uk"]);
    let mut other = home.add(&["Albert Miggins"]);
    for i in 0..20 {
        if shard_of(&other) != shard_of(&first) {
            break;
        }
        other = home.add(&[&format!("Person Number{i}")]);
    }
    let empty = shared_chunk(&home, &first);
    std::fs::write(&empty, b"").unwrap();
    let r = home.run(&["check"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains(&format!("{} is damaged", empty.display())))
        .unwrap_or_else(|| panic!("the empty chunk is not named:\n{}", r.stderr));
    assert!(line.contains("truncated header"), "{line}");
    assert!(quarantined(&home, &empty).exists());
    assert!(home.show(&other)["name"].is_string());
    assert_eq!(home.run(&["check"]).stderr, "", "reported once");
}

/// A home with a team and two people, for damaging the files beside the
/// ledger.
fn home_with_team() -> (Home, String) {
    let home = Home::new();
    let id = home.add(&["Edna Miggins", "--email", "edna@miggins.co.uk"]);
    home.ok(&["team", "create", "Pie Shop"]);
    (home, id)
}

/// `kith check` names the damaged file in one line and exits 1; the
/// ledger still reads.
fn assert_check_names(home: &Home, file: &Path, id: &str) {
    let r = home.run(&["check"]);
    assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
    let errors: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    assert!(errors[0].starts_with("kith: error: "), "{}", errors[0]);
    assert!(
        errors[0].contains(&file.display().to_string()),
        "{} not named: {}",
        file.display(),
        errors[0]
    );
    // The ledger was checked all the same, and reads.
    assert!(r.stdout.contains("checked "), "{}", r.stdout);
    let r = home.run(&["check", "--json"]);
    assert_eq!(r.code, Some(1));
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["damaged"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(home.show(id)["name"], "Edna Miggins");
    assert!(strings(&home.json(&["list", "--json"]), Some("id")).contains(&id.to_string()));
    home.add(&["Written After"]);
}

#[test]
fn a_damaged_roster_is_named_and_the_ledger_still_reads() {
    let (home, id) = home_with_team();
    let roster = home.path().join("team").join("roster.json");
    let mut bytes = std::fs::read(&roster).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&roster, bytes).unwrap();
    assert_check_names(&home, &roster, &id);
    let r = home.run(&["team", "members"]);
    assert_eq!(r.code, Some(1));
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(&roster.display().to_string()),
        "{}",
        r.stderr
    );
}

#[test]
fn damaged_keys_are_named_and_the_ledger_still_reads() {
    let (home, id) = home_with_team();
    let member = home.path().join("keys").join("member.key");
    std::fs::write(&member, b"\x08\x01\x12\x40 not a key").unwrap();
    assert_check_names(&home, &member, &id);
    let (home, id) = home_with_team();
    let device = home.path().join("keys").join("device.key");
    std::fs::write(&device, b"").unwrap();
    assert_check_names(&home, &device, &id);
}

/// `device.json` says which device writes: damaged, reading goes on
/// (list, show, find, today, export), every write stops with one line
/// naming it and saying what to do, `kith check` names it, and `kith check
/// --repair` makes it again (a new device id; the name from the roster).
#[test]
fn a_damaged_device_json_stops_writes_not_reads_and_repair_makes_it_again() {
    let (home, id) = home_with_team();
    let device = home.path().join("device.json");
    let before: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&device).unwrap()).unwrap();
    std::fs::write(&device, b"{\"id\": \"03f0").unwrap();
    for args in [
        &["list"][..],
        &["show", "edna"][..],
        &["find", "miggins"][..],
        &["today"][..],
        &["export"][..],
    ] {
        let r = home.run(args);
        assert_eq!(r.code, Some(0), "{args:?}: {}", r.stderr);
        if args[0] != "today" {
            assert!(r.stdout.contains("Edna"), "{args:?}: {}", r.stdout);
        }
    }
    for args in [&["add", "Albert Miggins"][..], &["note", "edna", "met"][..]] {
        let r = home.run(args);
        assert_eq!(r.code, Some(1), "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(r.stderr.starts_with("kith: error: "), "{}", r.stderr);
        assert!(
            r.stderr.contains(&device.display().to_string()),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("kith check --repair"), "{}", r.stderr);
    }
    assert_eq!(
        strings(&home.json(&["list", "--json"]), Some("id")),
        vec![id.clone()]
    );
    let r = home.run(&["check"]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(&device.display().to_string()),
        "{}",
        r.stderr
    );
    let r = home.run(&["check", "--repair"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("repaired: ") && l.contains("device.json")),
        "{}",
        r.stdout
    );
    let after: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&device).unwrap()).unwrap();
    assert_eq!(after["name"], before["name"], "the roster's name for it");
    home.add(&["Albert Miggins"]);
    assert_eq!(home.run(&["check"]).code, Some(0));
    assert_eq!(home.show(&id)["name"], "Edna Miggins");
}

/// A chunk copied in from another ledger is whole and valid automerge:
/// only its ledger id tells. It is named, quarantined, never merged, and
/// `kith check` counts it; the ledger's own people still read.
#[test]
fn a_chunk_from_another_ledger_is_quarantined_not_merged() {
    let (mine, other) = (Home::new(), Home::new());
    let albert = mine.add(&["Albert Miggins"]);
    let edna = other.add(&["Edna Miggins", "--email", "edna@miggins.co.uk"]);
    let theirs = shared_chunk(&other, &edna);
    let dir = mine.ledger().join("shared").join(shard_of(&edna));
    std::fs::create_dir_all(&dir).unwrap();
    let copied = dir.join(theirs.file_name().unwrap());
    std::fs::copy(&theirs, &copied).unwrap();
    let r = mine.run(&["check"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains(&copied.display().to_string()))
        .unwrap_or_else(|| panic!("the copied chunk is not named:\n{}", r.stderr));
    assert!(line.contains("belongs to another ledger"), "{line}");
    assert!(r.stdout.contains("(1 from another ledger)"), "{}", r.stdout);
    assert!(!copied.exists());
    assert!(quarantined(&mine, &copied).exists());
    let listed = strings(&mine.json(&["list", "--json"]), Some("id"));
    assert_eq!(listed, vec![albert.clone()], "edna was merged");
    assert_eq!(mine.run(&["show", &edna]).code, Some(1));
    assert_eq!(mine.show(&albert)["name"], "Albert Miggins");
    // Reported once, and the ledger still writes.
    let r = mine.run(&["check", "--json"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stderr, "");
    mine.add(&["Written After"]);
    // The other ledger is untouched and reads its own chunk.
    assert_eq!(other.show(&edna)["name"], "Edna Miggins");
}

/// A shard directory that goes missing is named by `kith check` (exit 1),
/// not re-indexed away: what the index holds of it still lists, the rest
/// reads and writes, and `--repair` says it cannot make it again.
#[test]
fn a_missing_shard_directory_is_named_and_the_rest_reads() {
    let home = Home::new();
    let ids = three_people_in_three_shards(&home);
    let lost = home.ledger().join("shared").join(shard_of(&ids[0]));
    std::fs::remove_dir_all(&lost).unwrap();
    for _ in 0..2 {
        let r = home.run(&["check"]);
        assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(r.stderr.starts_with("kith: error: "), "{}", r.stderr);
        assert!(
            r.stderr.contains(&format!("{} is missing", lost.display())),
            "{}",
            r.stderr
        );
    }
    let r = home.run(&["check", "--repair", "--json"]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["missing"][0], lost.display().to_string(), "{report}");
    // What is left reads; what the index held of the lost part still lists.
    for id in &ids[1..] {
        assert_eq!(home.show(id)["emails"].as_array().unwrap().len(), 1);
    }
    let listed = strings(&home.json(&["list", "--json"]), Some("id"));
    assert!(ids.iter().all(|id| listed.contains(id)), "{listed:?}");
    home.add(&["After The Loss"]);
    assert!(names_listed(&home).contains(&"After The Loss".to_string()));
}

/// `kith check --repair` derives the index again from the store, even a
/// healthy one, and says so; a ledger with nothing else wrong exits 0.
#[test]
fn check_repair_derives_the_index_again() {
    let d = damaged_ledger();
    let index = d.home.path().join("index.sqlite");
    let r = d.home.run(&["check", "--repair"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_reported_and_quarantined(&d, &r);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("repaired: ") && l.contains(&index.display().to_string())),
        "{}",
        r.stdout
    );
    assert_intact_person_shows(&d);
    let r = d.home.run(&["check", "--repair", "--json"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["repaired"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["damaged"].as_array().unwrap().len(), 0, "{report}");
}

/// Bob's replica of alice's ledger (synced by real daemons) is damaged:
/// `kith check` names the file (exit 1), and `kith check --repair`, with
/// the daemons stopped, removes the replica and bob's sync state for it
/// (exit 0); the daemons started again fetch it whole from alice.
#[test]
fn a_damaged_replica_is_dropped_by_repair_and_fetched_again() {
    use crate::cli::team::{Daemon, team_of, wait_until};
    let (alice, bob) = (Home::new(), Home::new());
    alice.ok(&["add", "Edna Miggins", "--email", "edna@miggins.co.uk"]);
    for i in 0..6 {
        alice.ok(&["add", &format!("Person Number{i}")]);
    }
    let a = team_of(&alice, &[(&bob, "bob")]);
    let b = Daemon::start(&bob, &[]);
    let alice_names = || {
        let mut n = crate::common::names(&alice.json(&["list", "--json"]));
        n.sort();
        n
    };
    let bobs_copy = || {
        let r = bob.run(&["list", "--team", "--json"]);
        let listed: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_default();
        let mut n: Vec<String> = listed
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|p| p["owner"] == "alice")
            .filter_map(|p| p["name"].as_str().map(str::to_string))
            .collect();
        n.sort();
        n
    };
    let want = alice_names();
    assert_eq!(want.len(), 7);
    assert!(
        wait_until(30, || bobs_copy() == want),
        "bob never had alice's ledger"
    );
    drop(b);
    drop(a);
    let replicas = bob.path().join("replicas");
    let replica = std::fs::read_dir(&replicas)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .next()
        .expect("a replica");
    let chunks: Vec<PathBuf> = crate::common::files_under(&replica.join("ledger").join("shared"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "chunk"))
        .collect();
    let damaged = chunks.first().expect("a chunk").clone();
    let mut bytes = std::fs::read(&damaged).unwrap();
    let at = bytes.len() - 2;
    bytes[at] ^= 0x10;
    std::fs::write(&damaged, bytes).unwrap();
    let r = bob.run(&["check"]);
    assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
    let last = r.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("kith: error: alice's replica is damaged"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&damaged.display().to_string()),
        "{}",
        r.stderr
    );
    // Bob's own ledger was not touched.
    assert_eq!(bob.run(&["list"]).code, Some(0));
    let r = bob.run(&["check", "--repair"]);
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("repaired: alice's replica") && l.contains("fetches it again")),
        "{}",
        r.stdout
    );
    assert!(!replica.exists(), "the replica is still there");
    assert_eq!(bob.run(&["check"]).code, Some(0));
    // The daemons, started again, fetch the dropped replica from alice.
    // Both listen on new ports, so bob is told where alice is.
    let a = Daemon::start(&alice, &[]);
    let _b = Daemon::start(&bob, &["--peer", &a.addr]);
    assert!(
        wait_until(30, || bobs_copy() == want),
        "bob's dropped copy of alice's ledger was not fetched again: {:?}",
        bobs_copy()
    );
    assert_eq!(bob.run(&["check"]).code, Some(0));
}

/// A chunk whose checksum holds but whose payload makes automerge 0.12
/// panic (found by the `chunk` fuzz target, fuzz/known/): kith quarantines
/// it like any damaged chunk and the shard loads without it, instead of
/// stopping.
#[test]
fn a_chunk_automerge_cannot_read_is_quarantined_not_fatal() {
    let home = Home::new();
    let id = home.add(&["Edna Miggins", "--email", "edna@miggins.co.uk"]);
    let known = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/known/chunk-automerge-hexane-panic"),
    )
    .expect("the fuzz input is in the repo");
    // The fuzz input's first byte chose the mode: a payload behind a valid
    // checksum.
    let (_, file) =
        kith::store::chunk::encode(kith::store::chunk::ChunkKind::Incremental, &known[1..]);
    let bad = home
        .ledger()
        .join("shared")
        .join(shard_of(&id))
        .join("incr-ffffffffffffffff.chunk");
    std::fs::write(&bad, file).unwrap();
    let r = home.run(&["check"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains(&format!("{} is damaged", bad.display())))
        .unwrap_or_else(|| panic!("the chunk is not named:\n{}", r.stderr));
    // Automerge stopped on it (rather than refusing it): the path this
    // test is for.
    assert!(line.contains("stopped on it"), "{line}");
    assert!(quarantined(&home, &bad).exists());
    assert_eq!(home.show(&id)["name"], "Edna Miggins");
}
