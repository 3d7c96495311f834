//! A full disk: a write fails with one clear line and changes nothing, what
//! was acknowledged before is all there, and kith works again once there is
//! room. Needs root to mount a small tmpfs; CI sets KITH_REQUIRE_ROOT=1 so
//! the test cannot quietly skip there.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::Home;

/// Unmounts the tmpfs when the test ends, however it ends.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn mount_small_tmpfs(at: &Path) -> Option<Mounted> {
    std::fs::create_dir_all(at).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(at)
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| Mounted(at.to_path_buf()))
}

/// Writes zeros until the file system is full (at most 16 MiB).
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 64 * 1024];
    for _ in 0..256 {
        if f.write_all(&block).is_err() {
            break;
        }
    }
    let _ = f.sync_all();
    path
}

fn summaries(h: &Home) -> Vec<String> {
    let edna = h.json(&["show", "edna", "--json"]);
    edna["interactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["summary"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_full_disk_fails_cleanly_and_loses_nothing() {
    let outer = tempfile::tempdir().unwrap();
    let mnt = outer.path().join("small");
    let Some(_mounted) = mount_small_tmpfs(&mnt) else {
        assert!(
            std::env::var_os("KITH_REQUIRE_ROOT").is_none(),
            "KITH_REQUIRE_ROOT is set but a tmpfs could not be mounted"
        );
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    };
    let h = Home::new_in(&mnt);
    h.ok(&["add", "Edna Miggins", "--email", "edna@miggins.co.uk"]);
    h.ok(&["log", "edna", "first call"]);
    h.ok(&["fact", "edna", "likes humbugs"]);

    let filler = fill(&mnt);
    for args in [
        vec!["log", "edna", "a call while the disk is full"],
        vec!["add", "Albert Miggins"],
    ] {
        let (code, stderr) = h.fails(&args);
        assert_eq!(code, 1, "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains("full"),
            "{args:?} does not say the disk is full: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }

    std::fs::remove_file(filler).unwrap();
    assert_eq!(summaries(&h), vec!["first call"]);
    let edna = h.json(&["show", "edna", "--json"]);
    assert_eq!(edna["facts"][0]["text"], "likes humbugs");
    let found = h.json(&["find", "albert", "--json"]);
    assert_eq!(
        found,
        serde_json::json!([]),
        "a failed add left a person behind"
    );
    h.ok(&["log", "edna", "after the disk had room again"]);
    assert_eq!(summaries(&h).len(), 2);
    crate::reliability::assert_ledger_sound(&h);
}
