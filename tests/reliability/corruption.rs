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

fn damaged_ledger() -> Damaged {
    let home = Home::new();
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
