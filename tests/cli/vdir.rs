//! `kith export --format vcard --vdir DIR`: one .vcf file per card, as
//! khard and vdirsyncer keep contacts. Only changed cards are rewritten
//! (other tools watch modification times), cards of people removed since
//! go, and files that are not kith's stay. The round trip goes through
//! Debian's khard: read, edited with its own commands, imported back.
//!
//! The khard test needs `khard` on PATH; it skips with a message elsewhere,
//! but fails where KITH_REQUIRE_VDIRSYNCER is set (CI sets it).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde_json::Value as Json;

use super::story;
use crate::common::Home;
use crate::common::tools::Khard;

/// A card put in the folder by hand: not one of kith's.
const FOREIGN: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:by-hand-1\r\nFN:Someone Else\r\nN:Else;Someone;;;\r\nEND:VCARD\r\n";

/// Each .vcf file in `dir` by name: (inode, modification time, text). A
/// file rewritten, even with the same bytes, has a new inode.
fn snapshot(dir: &Path) -> BTreeMap<String, (u64, i64, i64, String)> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("the vdir") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "vcf") {
            let m = std::fs::metadata(&path).unwrap();
            out.insert(
                path.file_name().unwrap().to_string_lossy().into_owned(),
                (
                    m.ino(),
                    m.mtime(),
                    m.mtime_nsec(),
                    std::fs::read_to_string(&path).unwrap(),
                ),
            );
        }
    }
    out
}

/// The file whose card is `full_name`'s.
fn file_of(files: &BTreeMap<String, (u64, i64, i64, String)>, full_name: &str) -> String {
    let fn_line = format!("FN:{full_name}");
    let hits: Vec<&String> = files
        .iter()
        .filter(|(_, f)| f.3.lines().any(|l| l.trim_end() == fn_line))
        .map(|(name, _)| name)
        .collect();
    assert_eq!(hits.len(), 1, "one card for {full_name}: {files:#?}");
    hits[0].clone()
}

/// The names of the files that differ between two snapshots (changed,
/// new or gone).
fn changed(
    a: &BTreeMap<String, (u64, i64, i64, String)>,
    b: &BTreeMap<String, (u64, i64, i64, String)>,
) -> Vec<String> {
    let mut names: Vec<String> = a.keys().chain(b.keys()).cloned().collect();
    names.sort();
    names.dedup();
    names.retain(|n| a.get(n) != b.get(n));
    names
}

fn export(home: &Home, dir: &Path) -> Json {
    home.json(&[
        "export",
        "--format",
        "vcard",
        "--vdir",
        dir.to_str().unwrap(),
        "--json",
    ])
}

fn counts(report: &Json) -> [u64; 3] {
    ["written", "unchanged", "removed"].map(|k| report[k].as_u64().unwrap())
}

#[test]
fn a_vdir_export_rewrites_only_what_changed() {
    let s = story();
    let home = &s.home;
    let zed = home.add(&["Zed Parker", "--email", "zed@example.com"]);
    let dir = home.path().join("contacts");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("someone.vcf"), FOREIGN).unwrap();
    std::fs::write(dir.join("README"), "not a card").unwrap();

    // Everyone (four people and Edna's company, as the one-file vCard
    // export has them) is a file named by UID; the foreign card stays.
    let line = home.ok(&[
        "export",
        "--format",
        "vcard",
        "--vdir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(
        line.trim(),
        format!(
            "{}: 5 written, 0 unchanged, 0 removed, 1 kept that are not kith's (someone.vcf)",
            dir.display()
        )
    );
    let first = snapshot(&dir);
    assert_eq!(first.len(), 6, "{first:#?}");
    assert_eq!(first["someone.vcf"].3, FOREIGN);
    for name in [
        "Edna Miggins",
        "Albert Miggins",
        "Daisy Miggins",
        "Zed Parker",
    ] {
        file_of(&first, name);
    }
    assert_eq!(file_of(&first, "Zed Parker"), format!("kith-{zed}.vcf"));
    // Each file holds the card the one-file export writes.
    let all = home.ok(&["export", "--format", "vcard"]);
    for (name, f) in &first {
        if name != "someone.vcf" {
            assert!(all.contains(&f.3), "{name} is one of the export's cards");
        }
    }

    // Nothing changed: nothing is written, not even the same bytes again.
    let again = export(home, &dir);
    assert_eq!(counts(&again), [0, 5, 0], "{again}");
    assert_eq!(again["foreign"], serde_json::json!(["someone.vcf"]));
    assert_eq!(snapshot(&dir), first);

    // One person edited: exactly that file changes.
    home.ok(&["set", "edna", "title", "Proprietor"]);
    let after_set = export(home, &dir);
    assert_eq!(counts(&after_set), [1, 4, 0], "{after_set}");
    let second = snapshot(&dir);
    assert_eq!(changed(&first, &second), [file_of(&first, "Edna Miggins")]);
    assert!(
        second[&file_of(&first, "Edna Miggins")]
            .3
            .contains("TITLE:Proprietor")
    );

    // One person removed: that file goes; the foreign card stays.
    home.ok(&["rm", &zed]);
    let after_rm = export(home, &dir);
    assert_eq!(counts(&after_rm), [0, 4, 1], "{after_rm}");
    let third = snapshot(&dir);
    assert_eq!(changed(&second, &third), [format!("kith-{zed}.vcf")]);
    assert!(!third.contains_key(&format!("kith-{zed}.vcf")));
    assert_eq!(third["someone.vcf"].3, FOREIGN);
    assert!(dir.join("README").exists());

    // Naming one person writes only hers; the others' files stay.
    home.ok(&["set", "daisy", "title", "Apprentice"]);
    home.ok(&["set", "edna", "title", "Owner"]);
    let named = home.json(&["export", "--vdir", dir.to_str().unwrap(), "--json", "daisy"]);
    assert_eq!(counts(&named), [1, 0, 0], "{named}");
    assert_eq!(named["not_named"], 3, "{named}");
    let fourth = snapshot(&dir);
    assert_eq!(changed(&third, &fourth), [file_of(&third, "Daisy Miggins")]);

    // Restored, Zed is written again under the same name.
    home.ok(&["restore", &zed]);
    let back = export(home, &dir);
    assert_eq!(counts(&back), [2, 3, 0], "{back}");
    assert!(dir.join(format!("kith-{zed}.vcf")).exists());
}

/// A card already in the folder keeps its file name (vdirsyncer tracks
/// cards by it); a second file for the same card is kith's and goes.
#[test]
fn a_card_keeps_the_file_name_it_has() {
    let home = Home::new();
    let edna = home.add(&["Edna Miggins", "--email", "edna@miggins.co.uk"]);
    let dir = home.path().join("contacts");
    home.ok(&["export", "--vdir", dir.to_str().unwrap()]);
    let own = dir.join(format!("kith-{edna}.vcf"));
    let text = std::fs::read_to_string(&own).unwrap();
    std::fs::rename(&own, dir.join("0a1b2c.vcf")).unwrap();
    std::fs::write(dir.join("zz-copy.vcf"), &text).unwrap();

    let r = export(&home, &dir);
    assert_eq!(counts(&r), [0, 1, 1], "{r}");
    let files = snapshot(&dir);
    assert_eq!(files.keys().collect::<Vec<_>>(), ["0a1b2c.vcf"]);
}

#[test]
fn vdir_refusals() {
    let home = Home::new();
    home.add(&["Edna Miggins"]);
    let file = home.path().join("cards.vcf");
    std::fs::write(&file, "precious").unwrap();
    let e = home.error(&[
        "export",
        "--format",
        "vcard",
        "--vdir",
        file.to_str().unwrap(),
    ]);
    assert!(
        e.contains(&file.display().to_string()) && e.contains("not a folder"),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "precious");

    let dir = home.path().join("contacts");
    for args in [
        vec!["export", "--format", "csv", "--vdir", dir.to_str().unwrap()],
        vec![
            "export",
            "--format",
            "jsonl",
            "--vdir",
            dir.to_str().unwrap(),
        ],
        vec![
            "export",
            "--vdir",
            dir.to_str().unwrap(),
            "--output",
            "x.vcf",
        ],
        vec!["export", "--json"],
    ] {
        let (code, err) = home.fails(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
    }
    assert!(!dir.exists(), "a refused export makes no folder");

    // A folder that does not exist yet is made, parents included.
    let nested = home.path().join("new").join("contacts");
    let r = export(&home, &nested);
    assert_eq!(counts(&r), [1, 0, 0], "{r}");
    assert_eq!(snapshot(&nested).len(), 1);
}

/// The JSONL backup's records by id (the header, which holds the time of
/// the export, left out).
fn records(home: &Home) -> BTreeMap<String, Json> {
    home.ok(&["export", "--format", "jsonl"])
        .lines()
        .filter_map(|l| serde_json::from_str::<Json>(l).ok())
        .filter_map(|r| Some((r["id"].as_str()?.to_string(), r)))
        .collect()
}

#[test]
fn a_vdir_round_trips_through_khard() {
    let s = story();
    let home = &s.home;
    let dir = home.path().join("contacts");
    let Some(khard) = Khard::new(&home.path().join("khard"), &dir, "the vdir round trip") else {
        return;
    };
    export(home, &dir);

    // khard reads every card.
    let listed = khard.run(&["list"], "");
    for name in [
        "Edna Miggins",
        "Albert Miggins",
        "Daisy Miggins",
        "Miggins & Daughters",
    ] {
        assert!(listed.contains(name), "khard lists {name}:\n{listed}");
    }
    let shown = khard.run(&["show", "Edna Miggins"], "");
    assert!(
        shown.contains("edna@miggins.co.uk") && shown.contains("01632 960123"),
        "{shown}"
    );

    // An email added with khard's own command, from a mail's From: line.
    let before = records(home);
    let header = home.path().join("mail.txt");
    std::fs::write(
        &header,
        "From: Edna Miggins <edna@home.example>\nSubject: the order\n\n",
    )
    .unwrap();
    let edna_file = dir.join(format!("kith-{}.vcf", s.edna));
    let kith_text = std::fs::read_to_string(&edna_file).unwrap();
    khard.run(
        &["add-email", "-i", header.to_str().unwrap()],
        // Select the address, the contact khard found, and a label.
        "y\ny\nhome\n",
    );
    let khard_text = std::fs::read_to_string(&edna_file).unwrap();
    assert!(khard_text.contains("edna@home.example"), "{khard_text}");
    assert_ne!(khard_text, kith_text, "khard wrote the card in its own way");

    // Imported: the edit arrives, and nothing else changes.
    let imported = home.ok(&["import", dir.to_str().unwrap()]);
    let edna = home.show(&s.edna);
    let emails: Vec<&str> = edna["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["value"].as_str())
        .collect();
    assert_eq!(
        emails,
        ["edna@miggins.co.uk", "edna@home.example"],
        "{imported}\n{edna:#}"
    );
    let after = records(home);
    let made: Vec<&Json> = after
        .iter()
        .filter(|(id, _)| !before.contains_key(*id))
        .map(|(_, r)| r)
        .collect();
    assert!(made.is_empty(), "no record made: {imported}\n{made:#?}");
    assert_eq!(after.len(), before.len(), "no record lost: {imported}");
    for (id, record) in &before {
        if *id != s.edna {
            assert_eq!(&after[id], record, "{id} is as it was: {imported}");
        }
    }
    let mut expected = before[&s.edna].clone();
    expected["shared"]["emails"]["edna@home.example"] =
        serde_json::json!({"label": "home", "pos": 1});
    assert_eq!(after[&s.edna], expected, "{imported}");

    // Exported again, Edna's card is kith's own again; no other file moves.
    let files = snapshot(&dir);
    let r = export(home, &dir);
    assert_eq!(counts(&r), [1, 3, 0], "{r}");
    assert_eq!(
        changed(&files, &snapshot(&dir)),
        [format!("kith-{}.vcf", s.edna)]
    );
}
