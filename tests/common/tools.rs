//! The other programs the tests drive beside kith (vdirsyncer, khard):
//! each run with a clean environment and a HOME of its own, its stdin
//! given, and a time limit after which it is killed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long one run of another program may take: well under a few
/// seconds here, even on a loaded machine.
pub const TOOL_WAIT: Duration = Duration::from_secs(60);

/// Whether `program` is on PATH; if not, says the test skips, or fails
/// where KITH_REQUIRE_VDIRSYNCER is set (CI installs vdirsyncer and khard
/// together and sets it).
pub fn on_path(program: &str, needed_for: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("KITH_REQUIRE_VDIRSYNCER").is_none(),
            "KITH_REQUIRE_VDIRSYNCER is set but {program} is not on PATH"
        );
        eprintln!("skipped: {needed_for} needs {program} (apt-get install {program})");
    }
    found
}

/// Waits for `child` at most `limit`; kills it if it is still running.
pub fn wait_child(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Runs `cmd` with a clean environment (PATH, HOME in `dir`, a UTF-8
/// locale), `input` on its stdin, for at most [`TOOL_WAIT`]: whether it
/// succeeded, and its stdout and stderr.
pub fn run_bounded(mut cmd: Command, dir: &Path, input: &str) -> (bool, String) {
    let mut child = cmd
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.join("home"))
        .env("LANG", "C.UTF-8")
        .env("LC_ALL", "C.UTF-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the program starts");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    let read = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = read(Box::new(child.stdout.take().unwrap()));
    let err = read(Box::new(child.stderr.take().unwrap()));
    let status = wait_child(&mut child, TOOL_WAIT);
    let text = format!(
        "{}{}",
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default()
    );
    (status.is_some_and(|s| s.success()), text)
}

/// khard, the command-line address book, on a folder of .vcf files, with
/// a config of its own in `dir`: cards read and edited as its user would.
pub struct Khard {
    config: PathBuf,
    dir: PathBuf,
}

impl Khard {
    /// khard on `cards`, if it is on PATH (see [`on_path`]).
    pub fn new(dir: &Path, cards: &Path, needed_for: &str) -> Option<Khard> {
        on_path("khard", needed_for)?;
        std::fs::create_dir_all(dir.join("home")).unwrap();
        let config = dir.join("khard.conf");
        std::fs::write(
            &config,
            format!(
                "[addressbooks]\n[[kith]]\npath = {}/\n[general]\neditor = /bin/false\nmerge_editor = /bin/false\n[vcard]\npreferred_version = 3.0\n",
                cards.display()
            ),
        )
        .unwrap();
        Some(Khard {
            config,
            dir: dir.to_path_buf(),
        })
    }

    /// `khard ARGS` with `input` on stdin, which must succeed; its output.
    pub fn run(&self, args: &[&str], input: &str) -> String {
        let mut cmd = Command::new("khard");
        cmd.arg("-c").arg(&self.config).args(args);
        let (ok, text) = run_bounded(cmd, &self.dir, input);
        assert!(
            ok,
            "khard {args:?} failed or took over {TOOL_WAIT:?}:\n{text}"
        );
        text
    }
}
