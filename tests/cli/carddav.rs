//! The CardDAV face end to end with a real client: `kith carddav pair` and
//! `kith carddav serve`, synced with vdirsyncer into a directory of .vcf
//! files as khard keeps them, edited there and synced back.
//!
//! Needs `vdirsyncer` on PATH; skips with a message elsewhere, but fails
//! where KITH_REQUIRE_VDIRSYNCER is set (CI sets it).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value as Json;

use super::story;
use crate::common::Home;
use crate::common::tools::{Khard, TOOL_WAIT, on_path, run_bounded, wait_child};

/// How long the server may take to print its URL, and one vdirsyncer run
/// to finish: both take well under a second or two here.
const WAIT: Duration = Duration::from_secs(20);

/// vdirsyncer, if it is on PATH; else skips with a message, or fails
/// where KITH_REQUIRE_VDIRSYNCER is set.
fn vdirsyncer() -> Option<PathBuf> {
    on_path("vdirsyncer", "the CardDAV end-to-end test")
}

/// A running `kith carddav serve`, killed when dropped.
struct Serve {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Serve {
    fn start(home: &Home, log: PathBuf) -> Serve {
        let err = std::fs::File::create(&log).expect("a log file");
        let mut child = home
            .command(&["carddav", "serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .expect("kith carddav serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            // Keep reading so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let first = rx.recv_timeout(WAIT);
        let url = match first {
            Ok(Some(Ok(line))) => line.trim().to_string(),
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "kith carddav serve printed no URL within {WAIT:?} ({other:?}); its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        assert!(
            url.starts_with("http://127.0.0.1:") && url.ends_with('/'),
            "the first line is the URL: {url}"
        );
        Serve { child, url, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops it with SIGTERM, as a service manager would; it exits 0.
    fn stop(mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let status = wait_child(&mut self.child, WAIT);
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(0),
            "serve exits 0 on SIGTERM; its log:\n{}",
            self.log()
        );
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A vdirsyncer set up in `dir` against the server, syncing its address
/// book into `dir/cards/kith/`.
struct Sync {
    bin: PathBuf,
    dir: PathBuf,
    config: PathBuf,
}

impl Sync {
    fn new(bin: PathBuf, dir: &Path, url: &str, user: &str, password: &str) -> Sync {
        let cards = dir.join("cards");
        std::fs::create_dir_all(&cards).unwrap();
        std::fs::create_dir_all(dir.join("status")).unwrap();
        std::fs::create_dir_all(dir.join("home")).unwrap();
        let config = dir.join("config");
        // Discovery from the root: /.well-known/carddav, the principal,
        // its address-book home and the books in it.
        let text = format!(
            r#"[general]
status_path = "{status}/"

[pair kith]
a = "phone"
b = "server"
collections = ["from b"]
conflict_resolution = "a wins"

[storage phone]
type = "filesystem"
path = "{cards}/"
fileext = ".vcf"

[storage server]
type = "carddav"
url = "{url}"
username = "{user}"
password = "{password}"
"#,
            status = dir.join("status").display(),
            cards = cards.display(),
        );
        std::fs::write(&config, text).unwrap();
        Sync {
            bin,
            dir: dir.to_path_buf(),
            config,
        }
    }

    /// The directory of the own book's cards.
    fn cards(&self) -> PathBuf {
        self.dir.join("cards").join("kith")
    }

    /// Runs `vdirsyncer -c CONFIG ARGS`, which must succeed, answering 'y'
    /// to any prompt; its output (stdout and stderr).
    fn run(&self, args: &[&str]) -> String {
        let (ok, text) = self.try_run(args);
        assert!(
            ok,
            "vdirsyncer {args:?} failed or took over {TOOL_WAIT:?}:\n{text}"
        );
        text
    }

    /// Runs `vdirsyncer -c CONFIG ARGS` for at most [`TOOL_WAIT`]: whether
    /// it succeeded, and its output.
    fn try_run(&self, args: &[&str]) -> (bool, String) {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("-c").arg(&self.config).args(args);
        run_bounded(cmd, &self.dir, &"y\n".repeat(10))
    }

    fn sync(&self) -> String {
        self.run(&["sync"])
    }
}

/// The .vcf files in `dir` by name, with their text.
fn vcf_files(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("the cards directory") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "vcf") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            out.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
    out
}

/// The file whose card is `full_name`'s.
fn card_of(files: &BTreeMap<String, String>, full_name: &str) -> String {
    let fn_line = format!("FN:{full_name}");
    let hits: Vec<&String> = files
        .iter()
        .filter(|(_, text)| text.lines().any(|l| l.trim_end() == fn_line))
        .map(|(name, _)| name)
        .collect();
    assert_eq!(hits.len(), 1, "one card for {full_name}: {files:#?}");
    hits[0].clone()
}

fn people(home: &Home) -> Vec<String> {
    let list = home.json(&["list", "--json"]);
    crate::common::names(&list)
}

fn histories(home: &Home, ids: &[&str]) -> Vec<String> {
    ids.iter()
        .map(|id| home.ok(&["history", id, "--json"]))
        .collect()
}

fn count(person: &Json, field: &str) -> usize {
    person[field].as_array().map_or(0, Vec::len)
}

#[test]
fn vdirsyncer_syncs_both_ways() {
    let Some(bin) = vdirsyncer() else { return };
    let s = story();
    let home = &s.home;
    let work = tempfile::Builder::new()
        .prefix("kith-vdir-")
        .tempdir()
        .unwrap();

    let paired = home.ok(&["carddav", "pair", "vdirsyncer"]);
    let field = |key: &str| {
        paired
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("pair prints {key}: {paired}"))
    };
    let (user, password) = (field("user:"), field("password:"));
    assert_eq!(field("server:"), "http://127.0.0.1:5232/");

    let server = Serve::start(home, work.path().join("serve.log"));
    let sync = Sync::new(bin, work.path(), &server.url, &user, &password);
    let Some(khard) = Khard::new(work.path(), &sync.cards(), "the CardDAV end-to-end test") else {
        return;
    };
    let discovered = sync.run(&["discover"]);
    assert!(
        sync.cards().is_dir(),
        "discovery found the own book 'kith':\n{discovered}\nserver log:\n{}",
        server.log()
    );

    // Everyone arrives as a card.
    let first = sync.sync();
    let files = vcf_files(&sync.cards());
    let everyone = people(home);
    assert_eq!(files.len(), everyone.len(), "{everyone:?}\n{files:#?}");
    assert_eq!(
        first.matches("Copying (uploading)").count(),
        everyone.len(),
        "{first}"
    );
    for name in &everyone {
        card_of(&files, name);
    }
    let listed = home.json(&["carddav", "devices", "--json"]);
    assert!(
        listed[0]["last_sync"].is_string(),
        "a sync is recorded: {listed}"
    );

    // A phone number changed with khard, which writes the whole card anew
    // in its own way (item groups, X-ABLABEL, REV).
    let edna_before = home.show(&s.edna);
    let edna_file = sync.cards().join(card_of(&files, "Edna Miggins"));
    let text = std::fs::read_to_string(&edna_file).unwrap();
    assert!(text.contains("01632 960123"), "{text}");
    let yaml = khard.run(&["show", "--format", "yaml", "Edna Miggins"], "");
    assert!(yaml.contains("01632 960123"), "{yaml}");
    let edited = work.path().join("edna.yaml");
    std::fs::write(&edited, yaml.replace("01632 960123", "01632 960999")).unwrap();
    khard.run(
        &["edit", "-i", edited.to_str().unwrap(), "Edna Miggins"],
        "y\n",
    );
    let rewritten = std::fs::read_to_string(&edna_file).unwrap();
    assert!(rewritten.contains("01632 960999"), "{rewritten}");

    // A card made with khard.
    khard.run(
        &["new", "-a", "kith"],
        "Formatted name: Grace Hopper\nFirst name: Grace\nLast name: Hopper\nPhone:\n    cell: +44 7700 900123\nEmail:\n    work: grace@example.com\n",
    );

    // A card deleted on the phone.
    let albert_file = sync.cards().join(card_of(&files, "Albert Miggins"));
    std::fs::remove_file(&albert_file).unwrap();

    let out = sync.sync();
    for moved in [
        "Copying (updating)",
        "Deleting item",
        "Copying (uploading) item",
    ] {
        assert!(out.contains(moved), "the sync sent {moved}:\n{out}");
    }
    let edna = home.show(&s.edna);
    let phones: Vec<&str> = edna["phones"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["value"].as_str())
        .collect();
    assert_eq!(phones, ["01632 960999"], "{out}\n{edna:#}");
    for kept in [
        "facts",
        "interactions",
        "follow_ups",
        "relationships",
        "emails",
    ] {
        assert_eq!(
            count(&edna, kept),
            count(&edna_before, kept),
            "Edna's {kept} are kept: {edna:#}"
        );
    }
    // The label and the private part stay as they were.
    assert_eq!(
        edna["phones"][0]["label"],
        edna_before["phones"][0]["label"]
    );
    assert_eq!(
        edna["phones"][0]["private"],
        edna_before["phones"][0]["private"]
    );
    assert_eq!(edna["emails"], edna_before["emails"]);
    assert_eq!(edna["company"], edna_before["company"]);
    assert_eq!(edna["birthday"], edna_before["birthday"]);
    assert_eq!(edna["tags"], edna_before["tags"]);

    let grace = home.show("Grace Hopper");
    assert_eq!(grace["name"], "Grace Hopper", "{grace:#}");
    assert!(grace["emails"].to_string().contains("grace@example.com"));

    let now = people(home);
    assert!(
        !now.iter().any(|n| n == "Albert Miggins"),
        "Albert is removed: {now:?}\n{out}"
    );
    home.ok(&["restore", &s.albert]);
    assert!(people(home).iter().any(|n| n == "Albert Miggins"));

    // Albert comes back to the phone; Grace's card is kith's now.
    sync.sync();
    let files = vcf_files(&sync.cards());
    card_of(&files, "Albert Miggins");
    card_of(&files, "Grace Hopper");
    assert_eq!(files.len(), people(home).len(), "{files:#?}");

    // Once more with nothing changed: nothing moves either way.
    sync.sync();
    let before = vcf_files(&sync.cards());
    let grace_id = grace["id"].as_str().unwrap().to_string();
    let ids = [
        s.edna.as_str(),
        s.albert.as_str(),
        s.daisy.as_str(),
        grace_id.as_str(),
    ];
    let history_before = histories(home, &ids);
    let out = sync.sync();
    for verb in ["Copying", "Updating", "Deleting"] {
        assert!(
            !out.contains(verb),
            "a sync with nothing changed transfers nothing:\n{out}"
        );
    }
    assert_eq!(vcf_files(&sync.cards()), before);
    assert_eq!(histories(home, &ids), history_before);

    server.stop();
}

#[test]
fn unpaired_device_is_refused_at_once() {
    let Some(bin) = vdirsyncer() else { return };
    let home = Home::new();
    home.add(&["Ada Lovelace"]);
    let work = tempfile::Builder::new()
        .prefix("kith-vdir-")
        .tempdir()
        .unwrap();
    let paired = home.ok(&["carddav", "pair", "old phone"]);
    let password = paired
        .lines()
        .find_map(|l| l.strip_prefix("password:"))
        .unwrap()
        .trim()
        .to_string();
    let server = Serve::start(&home, work.path().join("serve.log"));
    let sync = Sync::new(bin, work.path(), &server.url, "old-phone", &password);
    sync.run(&["discover"]);
    sync.sync();
    assert_eq!(vcf_files(&sync.cards()).len(), 1);

    home.ok(&["carddav", "unpair", "old phone"]);
    let (ok, out) = sync.try_run(&["sync"]);
    assert!(!ok, "an unpaired device cannot sync:\n{out}");
    let err = home.error(&["carddav", "unpair", "old phone"]);
    assert!(err.contains("no device named 'old phone'"), "{err}");
    server.stop();
}

#[test]
fn pair_devices_unpair() {
    let home = Home::new();
    let out = home.ok(&["carddav", "pair", "Anna's iPhone"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "server:   http://127.0.0.1:5232/", "{out}");
    assert_eq!(lines[1], "user:     anna-s-iphone", "{out}");
    let password = lines[2].strip_prefix("password: ").unwrap();
    let groups: Vec<&str> = password.split('-').collect();
    assert_eq!(groups.len(), 6, "{password}");
    assert!(groups.iter().all(|g| {
        g.len() == 5
            && g.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    }));
    assert_eq!(
        lines.len(),
        3,
        "no QR code when stdout is not a terminal: {out}"
    );

    // Off loopback: HTTPS, and the certificate's fingerprint to compare.
    let out = home.ok(&["carddav", "pair", "pixel", "--listen", "10.1.2.3:6000"]);
    assert!(
        out.starts_with("server:   https://10.1.2.3:6000/\n"),
        "{out}"
    );
    let fp = out
        .lines()
        .find_map(|l| l.strip_prefix("certificate SHA-256: "))
        .unwrap_or_else(|| panic!("a fingerprint: {out}"));
    assert_eq!(fp.len(), 95, "{fp}");

    let err = home.error(&["carddav", "pair", "tablet", "--listen", "127.0.0.1:0"]);
    assert!(err.contains("give the port"), "{err}");

    let err = home.error(&["carddav", "pair", "anna's iphone"]);
    assert!(err.contains("already paired"), "{err}");

    let listed = home.json(&["carddav", "devices", "--json"]);
    assert_eq!(crate::common::names(&listed), ["Anna's iPhone", "pixel"]);
    assert_eq!(listed[0]["user"], "anna-s-iphone");
    assert!(listed[0]["last_sync"].is_null());
    let table = home.ok(&["carddav", "devices"]);
    assert!(table.starts_with("NAME"), "{table}");
    assert!(table.contains("never"), "{table}");

    home.ok(&["carddav", "unpair", "pixel"]);
    let err = home.error(&["carddav", "unpair", "pixel"]);
    assert_eq!(
        err,
        "kith: error: no device named 'pixel' is paired (`kith carddav devices` lists them)"
    );
    let listed = home.json(&["carddav", "devices", "--json"]);
    assert_eq!(crate::common::names(&listed), ["Anna's iPhone"]);

    let err = home.error(&[
        "carddav",
        "serve",
        "--cert",
        "/nonexistent/cert.pem",
        "--key",
        "/nonexistent/key.pem",
    ]);
    assert!(err.contains("/nonexistent/cert.pem"), "{err}");
}
