//! `kith ui` benchmark: the web face over a 100,000-person ledger.
//!
//! ```text
//! cargo bench --bench ui                          # 100k people, 30 runs
//! cargo bench --bench ui -- --people 10000 --runs 10
//! cargo bench --bench ui -- --reuse               # keep the imported ledger
//! cargo bench --bench ui -- --no-browser          # HTTP figures only
//! ```
//!
//! What it does: writes the deterministic JSONL ledger `kith_bench` uses,
//! plus one customer with 1,000 interactions, imports both into an empty
//! home, starts the real `kith ui --no-open` on 127.0.0.1 and times whole
//! HTTP requests from this process (connect, request, the whole body read:
//! an upper bound on the server's time). Then, with headless Chromium
//! through chromedriver, it types a name into the People page's search box
//! one key at a time and times each key from the input event to the frame
//! painted after the results changed. Last, the server's resident memory
//! after it has sat idle. Figures go to stdout and to
//! `<target>/kith-bench/ui-results.md`. Targets are reported, not asserted.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "common/mod.rs"]
mod common;
use common::*;

struct Opts {
    people: usize,
    runs: usize,
    out: PathBuf,
    kith: PathBuf,
    reuse: bool,
    browser: bool,
}

fn parse_opts() -> Opts {
    let target = target_dir();
    let mut opts = Opts {
        people: 100_000,
        runs: 30,
        out: target.join("kith-bench").join("ui"),
        kith: default_kith(&target),
        reuse: false,
        browser: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| panic!("{name} needs a value"))
        };
        match arg.as_str() {
            "--people" => opts.people = value("--people").parse().expect("a count"),
            "--runs" => opts.runs = value("--runs").parse().expect("a count"),
            "--out" => opts.out = PathBuf::from(value("--out")),
            "--kith" => opts.kith = PathBuf::from(value("--kith")),
            "--reuse" => opts.reuse = true,
            "--no-browser" => opts.browser = false,
            // cargo bench passes --bench.
            "--bench" => {}
            other => panic!(
                "unknown flag {other}; ui [--people N] [--runs R] [--out DIR] [--kith PATH] [--reuse] [--no-browser]"
            ),
        }
    }
    opts
}

/// One customer with 1,000 interactions, in the same shard as its id.
fn heavy_customer(path: &Path) -> std::io::Result<String> {
    let mut rng = Rng(0x6865_6176);
    let id = rng.id();
    let mut out = std::io::BufWriter::new(File::create(path)?);
    writeln!(
        out,
        "{{\"exported\":{},\"kith-export\":1,\"private\":true}}",
        js(NOW)
    )?;
    writeln!(
        out,
        "{{\"kind\":\"person\",\"id\":\"{id}\",\"shared\":{{\"name\":\"Hermione Heavyweather\",\"sort_name\":\"Heavyweather, Hermione\",\"created\":\"2020-01-01T09:00:00Z\"}},\"private\":{{}}}}"
    )?;
    let today = today_days();
    for i in 0..1000 {
        let iid = rng.id_near(&id);
        let at = timestamp(&mut rng, today - 1000 + i);
        writeln!(
            out,
            "{{\"kind\":\"interaction\",\"id\":\"{iid}\",\"shared\":{{\"at\":\"{at}\",\"channel\":\"call\",\"people\":[\"{id}\"]}},\"private\":{{\"summary\":\"call number {i} about the spring order\"}}}}"
        )?;
    }
    out.flush()?;
    Ok(id)
}

fn import(kith: &Path, home: &Path, file: &Path) {
    let t = Instant::now();
    let status = Command::new(kith)
        .args(["import", file.to_str().expect("utf-8 path")])
        .env("KITH_HOME", home)
        .env("KITH_NOW", NOW)
        .env("KITH_TZ", "UTC")
        .stdout(Stdio::null())
        .status()
        .expect("run kith import");
    assert!(status.success(), "kith import {} failed", file.display());
    eprintln!(
        "  imported {} in {:.1} s",
        file.display(),
        t.elapsed().as_secs_f64()
    );
}

/// A running `kith ui`, killed when dropped.
struct Ui {
    child: Child,
    port: u16,
    cookie: String,
    url: String,
}

impl Drop for Ui {
    fn drop(&mut self) {
        // SAFETY: the pid is our child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

fn start_ui(kith: &Path, home: &Path) -> Ui {
    let mut child = Command::new(kith)
        .args(["ui", "--no-open"])
        .env("KITH_HOME", home)
        .env("KITH_NOW", NOW)
        .env("KITH_TZ", "UTC")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start kith ui");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("kith ui prints its URL");
    let url = line.trim().to_string();
    let port: u16 = url
        .split(':')
        .nth(2)
        .and_then(|p| p.split('/').next())
        .and_then(|p| p.parse().ok())
        .expect("a port in the URL");
    let path = &url[url.find("/?").expect("a token")..];
    let (head, _) = http(port, "", path);
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("the token is traded for a cookie")
        .to_string();
    Ui {
        child,
        port,
        cookie,
        url,
    }
}

/// One GET over a fresh connection; the head and the body.
fn http(port: u16, cookie: &str, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut all = String::new();
    s.read_to_string(&mut all).expect("read");
    let (head, body) = all.split_once("\r\n\r\n").unwrap_or((&all, ""));
    (head.to_lowercase(), body.to_string())
}

/// Times `runs` GETs of `path` after two warm-ups; checks each answer.
fn time_get(ui: &Ui, path: &str, runs: usize, check: &dyn Fn(&str) -> bool) -> Vec<f64> {
    for _ in 0..2 {
        http(ui.port, &ui.cookie, path);
    }
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            let (head, body) = http(ui.port, &ui.cookie, path);
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            assert!(head.starts_with("http/1.1 200"), "GET {path}: {head}");
            assert!(check(&body), "GET {path}: unexpected page");
            ms
        })
        .collect()
}

fn stats(v: &[f64]) -> (f64, f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
    (s[0], at(0.5), at(0.9), s[s.len() - 1])
}

fn proc_kb(pid: u32, field: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Keystroke to painted result, in headless Chromium: for each key, the
/// time from the input event to the first frame after #results changed.
fn keystrokes(ui: &Ui, word: &str) -> Result<Vec<f64>, String> {
    let port = free_port();
    let mut driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("chromedriver: {e}"))?;
    let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(async {
            let mut caps = serde_json::Map::new();
            caps.insert(
                "goog:chromeOptions".into(),
                serde_json::json!({
                    "binary": "/usr/bin/chromium",
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                             "--disable-quic", "--no-first-run", "--disable-background-networking",
                             "--disable-component-update", "--disable-sync",
                             format!("--user-data-dir={}", profile.path().display())]
                }),
            );
            let mut client = None;
            for _ in 0..50 {
                let connector = hyper_util::client::legacy::connect::HttpConnector::new();
                match fantoccini::ClientBuilder::new(connector)
                    .capabilities(caps.clone())
                    .connect(&format!("http://127.0.0.1:{port}"))
                    .await
                {
                    Ok(c) => {
                        client = Some(c);
                        break;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
            let c = client.ok_or("chromedriver did not answer")?;
            c.goto(&ui.url).await.map_err(|e| e.to_string())?;
            c.goto(&format!("http://127.0.0.1:{}/people", ui.port))
                .await
                .map_err(|e| e.to_string())?;
            let mut times = Vec::new();
            for ch in word.chars() {
                let v = c
                    .execute_async(
                        r#"
                        var done = arguments[arguments.length - 1];
                        var input = document.getElementById('people-q');
                        var results = document.getElementById('results');
                        var start = performance.now();
                        var obs = new MutationObserver(function () {
                          obs.disconnect();
                          requestAnimationFrame(function () { done(performance.now() - start); });
                        });
                        obs.observe(results, { childList: true, subtree: true, characterData: true });
                        input.value += arguments[0];
                        input.dispatchEvent(new Event('input', { bubbles: true }));
                        setTimeout(function () { obs.disconnect(); done(-1); }, 5000);
                        "#,
                        vec![serde_json::json!(ch.to_string())],
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                times.push(v.as_f64().unwrap_or(-1.0));
            }
            let _ = c.close().await;
            Ok::<_, String>(times)
        });
    let _ = driver.kill();
    let _ = driver.wait();
    result
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn main() {
    let opts = parse_opts();
    fs::create_dir_all(&opts.out).expect("create --out");
    let big = opts.out.join(format!("big-{}.jsonl", opts.people));
    let heavy = opts.out.join("heavy.jsonl");
    let home = opts.out.join(format!("home-{}", opts.people));
    let stamp = home.join("bench-stamp");
    eprintln!(
        "kith ui bench: {} people, {} runs, binary {}",
        opts.people,
        opts.runs,
        opts.kith.display()
    );
    let targets = generate(&big, opts.people, 0x6b69_7468).expect("write the ledger");
    let heavy_id = heavy_customer(&heavy).expect("write the heavy customer");
    let reuse =
        opts.reuse && fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == opts.people.to_string());
    if !reuse {
        let _ = fs::remove_dir_all(&home);
        fs::create_dir_all(&home).expect("home");
        import(&opts.kith, &home, &big);
        import(&opts.kith, &home, &heavy);
        fs::write(&stamp, opts.people.to_string()).expect("stamp");
    }

    let ui = start_ui(&opts.kith, &home);
    let pid = ui.child.id();
    let rss_start = proc_kb(pid, "VmRSS:");
    let mut rows: Vec<(String, String, Vec<f64>)> = Vec::new();

    let people = time_get(&ui, "/people", opts.runs, &|b| {
        b.contains("class=\"people\"")
    });
    rows.push((
        "People page (first 50 by name)".into(),
        "≤ 100 ms".into(),
        people,
    ));
    let tag = time_get(&ui, &format!("/people?tag={BENCH_TAG}"), opts.runs, &|b| {
        b.contains("class=\"people\"")
    });
    rows.push((
        format!("People page, tag {BENCH_TAG}"),
        "≤ 100 ms".into(),
        tag,
    ));
    // A page deep in the listing costs what the first does.
    let (_, first) = http(ui.port, &ui.cookie, "/people");
    let next = first
        .split("rel=\"next\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(|s| s.replace("&amp;", "&"))
        .expect("a next page");
    let paged = time_get(&ui, &next, opts.runs, &|b| b.contains("class=\"people\""));
    rows.push(("People page 2 (keyset)".into(), "≤ 100 ms".into(), paged));

    // Search as you type: the typo'd name, one request per prefix.
    let word = targets.typo.clone();
    let mut per_key = Vec::new();
    let prefixes: Vec<String> = word
        .char_indices()
        .map(|(i, c)| word[..i + c.len_utf8()].to_string())
        .collect();
    for _ in 0..(opts.runs / 5).max(2) {
        for p in &prefixes {
            let path = format!("/people?q={}&partial=true", p.replace(' ', "+"));
            per_key.extend(time_get(&ui, &path, 1, &|_| true));
        }
    }
    let (_, full) = http(
        ui.port,
        &ui.cookie,
        &format!("/people?q={}&partial=true", word.replace(' ', "+")),
    );
    assert!(
        full.contains(&targets.name),
        "searching '{word}' finds {}",
        targets.name
    );
    rows.push((
        format!("search as you type, per keystroke of '{word}'"),
        "≤ 30 ms".into(),
        per_key,
    ));

    let person = time_get(&ui, &format!("/people/{heavy_id}"), opts.runs, &|b| {
        b.contains("Hermione Heavyweather")
    });
    rows.push((
        "a person with 1,000 interactions".into(),
        "≤ 100 ms".into(),
        person,
    ));
    let all = time_get(
        &ui,
        &format!("/people/{heavy_id}?interactions=1000"),
        opts.runs,
        &|b| b.contains("call number 0 about"),
    );
    rows.push(("the same, all 1,000 shown".into(), "".into(), all));
    let today = time_get(&ui, "/", opts.runs, &|b| b.contains("Today"));
    rows.push(("Today page".into(), "".into(), today));

    let keys = if opts.browser {
        match keystrokes(&ui, &word) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("  browser figures skipped: {e}");
                None
            }
        }
    } else {
        None
    };
    if let Some(t) = &keys {
        rows.push((
            format!("keystroke to painted result, '{word}' in Chromium"),
            "≤ 50 ms".into(),
            t.clone(),
        ));
    }

    // Idle: what the server holds once the requests are over.
    std::thread::sleep(Duration::from_secs(3));
    let rss_idle = proc_kb(pid, "VmRSS:");
    let rss_peak = proc_kb(pid, "VmHWM:");

    let mut md = String::new();
    let _ = writeln!(
        md,
        "`cargo bench --bench ui`: {} people (+1 with 1,000 interactions), {} runs, commit {}, load {}\n",
        opts.people,
        opts.runs,
        git_state(),
        loadavg()
    );
    let _ = writeln!(md, "| measure | min | median | p90 | max | goal |");
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---|");
    for (name, goal, v) in &rows {
        let (min, med, p90, max) = stats(v);
        let _ = writeln!(
            md,
            "| {name} | {min:.1} ms | **{med:.1} ms** | {p90:.1} ms | {max:.1} ms | {goal} |"
        );
    }
    let _ = writeln!(
        md,
        "| RSS of `kith ui`: at start / idle after the runs / peak | {:.1} MB | **{:.1} MB** | | {:.1} MB | ≤ 60 MB idle |",
        rss_start as f64 / 1024.0,
        rss_idle as f64 / 1024.0,
        rss_peak as f64 / 1024.0
    );
    println!("{md}");
    let results = target_dir().join("kith-bench").join("ui-results.md");
    let _ = fs::write(&results, &md);
    eprintln!("written to {}", results.display());
}
