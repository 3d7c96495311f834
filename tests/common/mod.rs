//! What every test needs: a throwaway kith home and a way to run the real
//! `kith` binary in it with a clean, pinned environment.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value as Json;

pub mod netns;
pub mod tools;

/// The day every command runs on unless a test says otherwise: a Saturday.
pub const NOW: &str = "2026-11-28";

/// The binary under test.
pub fn kith_bin() -> &'static str {
    env!("CARGO_BIN_EXE_kith")
}

/// What a finished `kith` process left behind.
#[derive(Debug)]
pub struct Run {
    /// The exit code, or None when a signal ended the process.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// A kith home in a temporary directory, removed when dropped.
pub struct Home {
    dir: tempfile::TempDir,
}

impl Default for Home {
    fn default() -> Self {
        Self::new()
    }
}

impl Home {
    pub fn new() -> Home {
        Home {
            dir: tempfile::Builder::new()
                .prefix("kith-test-")
                .tempdir()
                .expect("a temporary directory"),
        }
    }

    /// A home inside `parent`, for tests that need a particular file system.
    pub fn new_in(parent: &Path) -> Home {
        Home {
            dir: tempfile::Builder::new()
                .prefix("kith-test-")
                .tempdir_in(parent)
                .expect("a temporary directory"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn ledger(&self) -> PathBuf {
        self.path().join("ledger")
    }

    /// `kith ARGS` with nothing from the test's environment but PATH, the
    /// clock pinned to `now`, UTC and no colour.
    pub fn command_at(&self, now: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(kith_bin());
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("KITH_HOME", self.path())
            .env("KITH_NOW", now)
            .env("KITH_TZ", "UTC")
            .env("NO_COLOR", "1")
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    pub fn command(&self, args: &[&str]) -> Command {
        self.command_at(NOW, args)
    }

    pub fn run_at(&self, now: &str, args: &[&str]) -> Run {
        self.command_at(now, args)
            .output()
            .expect("kith runs")
            .into()
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_at(NOW, args)
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok_at(&self, now: &str, args: &[&str]) -> String {
        let r = self.run_at(now, args);
        assert_eq!(
            r.code,
            Some(0),
            "kith {args:?} (KITH_NOW={now}) failed\nstdout:\n{}\nstderr:\n{}",
            r.stdout,
            r.stderr
        );
        r.stdout
    }

    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_at(NOW, args)
    }

    /// Runs a command that must fail; returns its exit code and stderr.
    pub fn fails(&self, args: &[&str]) -> (i32, String) {
        let r = self.run(args);
        let code = r.code.expect("kith exited rather than being killed");
        assert_ne!(code, 0, "kith {args:?} succeeded\nstdout:\n{}", r.stdout);
        (code, r.stderr)
    }

    /// Runs a command that must fail with status 1 and a one-line
    /// `kith: error: …`; returns that line.
    pub fn error(&self, args: &[&str]) -> String {
        let (code, stderr) = self.fails(args);
        assert_eq!(code, 1, "kith {args:?}: stderr:\n{stderr}");
        one_line_error(&stderr)
    }

    /// Runs a `--json` command that must succeed and parses its output.
    pub fn json_at(&self, now: &str, args: &[&str]) -> Json {
        let out = self.ok_at(now, args);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("kith {args:?} printed no JSON ({e}):\n{out}"))
    }

    pub fn json(&self, args: &[&str]) -> Json {
        self.json_at(NOW, args)
    }

    /// Adds a person and returns their id (the only thing `add` prints).
    pub fn add(&self, args: &[&str]) -> String {
        let mut all = vec!["add"];
        all.extend_from_slice(args);
        let id = self.ok(&all).trim().to_string();
        assert_eq!(id.len(), 16, "`kith add` printed {id:?}, not an id");
        id
    }

    /// `show WHO --json`.
    pub fn show(&self, who: &str) -> Json {
        self.json(&["show", who, "--json"])
    }

    /// Every file under `ledger/` with its bytes: compared before and after
    /// something that must not change the ledger.
    pub fn ledger_files(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        files_under(&self.ledger())
            .into_iter()
            .filter(|p| p.file_name().is_some_and(|n| n != "lock"))
            .map(|p| {
                let bytes = std::fs::read(&p).expect("readable");
                (p.strip_prefix(self.ledger()).unwrap().to_path_buf(), bytes)
            })
            .collect()
    }

    /// Every chunk file of the ledger, sorted.
    pub fn chunk_files(&self) -> Vec<PathBuf> {
        files_under(&self.ledger())
            .into_iter()
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                (name.starts_with("snap-") || name.starts_with("incr-"))
                    && name.ends_with(".chunk")
                    && !p.starts_with(self.ledger().join("quarantine"))
            })
            .collect()
    }
}

/// Every regular file under `dir`, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let t = e.file_type().expect("file type");
            if t.is_dir() {
                todo.push(e.path());
            } else if t.is_file() {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// The one line of a failed command's stderr, checked for its form.
pub fn one_line_error(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "expected one line on stderr, got:\n{stderr}"
    );
    assert!(
        lines[0].starts_with("kith: error: "),
        "expected `kith: error: …`, got:\n{stderr}"
    );
    lines[0].to_string()
}

/// The `name` of every element of a JSON array.
pub fn names(list: &Json) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|p| p["name"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The values of a JSON array of strings, or of one field of its objects.
pub fn strings(list: &Json, field: Option<&str>) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|v| {
            let v = match field {
                Some(f) => &v[f],
                None => v,
            };
            v.as_str()
                .unwrap_or_else(|| panic!("not a string: {v}"))
                .to_string()
        })
        .collect()
}

/// The shard a chunk file belongs to: the name of its directory.
pub fn shard_of_path(p: &Path) -> String {
    p.parent()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string()
}
