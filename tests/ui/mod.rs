//! `kith ui` end to end: the real binary serving a throwaway home, driven
//! by headless Chromium through chromedriver (fantoccini), or spoken to in
//! plain HTTP where no browser is needed (`auth`).
//!
//! Tests that need a browser skip with a message where Chromium or
//! chromedriver is missing, and fail instead where KITH_REQUIRE_BROWSER is
//! set (CI sets it). Every wait is bounded in time.
//!
//! - [`UiServer`]: `kith ui --no-open` in a [`Home`], its URL, stopped on drop.
//! - [`Browser`]: chromedriver and a fresh headless Chromium profile.
//! - [`screenshot`]: a picture of the page for docs/screenshots/.
//! - [`axe`]: the vendored axe-core (tests/ui/vendor/) run on the page.
//! - [`http`]: one raw HTTP/1.1 exchange, for what a browser cannot send.

#![allow(dead_code)]

mod accessibility;
mod add;
mod auth;
mod dupes;
mod import;
mod live;
mod people;
mod person;
mod today;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value as Json, json};

use crate::common::Home;

/// How long any one wait in these tests may take.
pub const WAIT: Duration = Duration::from_secs(10);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(50);

/// The runtime a browser test runs on: one thread is plenty.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A running `kith ui --no-open`, stopped with SIGTERM when dropped.
pub struct UiServer {
    child: Child,
    stderr: PathBuf,
    /// The URL it printed, start-up token included.
    pub url: String,
    /// `http://127.0.0.1:PORT`, without a path.
    pub base: String,
    pub port: u16,
    pub token: String,
}

impl UiServer {
    pub fn start(home: &Home) -> UiServer {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stderr = home.path().join(format!("ui-{n}.log"));
        let mut child = home
            .command(&["ui", "--no-open"])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("log file"))
            .spawn()
            .expect("kith ui starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
            // Whatever else it prints is not read; it prints nothing more.
        });
        let url = match rx.recv_timeout(WAIT * 2) {
            Ok(line) if !line.trim().is_empty() => line.trim().to_string(),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "kith ui printed no URL: {}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                );
            }
        };
        let rest = url
            .strip_prefix("http://127.0.0.1:")
            .unwrap_or_else(|| panic!("kith ui printed {url:?}, not a 127.0.0.1 URL"));
        let (port, query) = rest.split_once("/?token=").expect("a token in the URL");
        let port: u16 = port.parse().expect("a port");
        UiServer {
            child,
            stderr,
            base: format!("http://127.0.0.1:{port}"),
            port,
            token: query.to_string(),
            url,
        }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (bounded) for the exit code; None if it had
    /// to be killed or a signal ended it.
    pub fn stop(mut self) -> Option<i32> {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let start = Instant::now();
        while start.elapsed() < WAIT {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(POLL);
        }
        None
    }
}

impl Drop for UiServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe {
                libc::kill(self.child.id() as i32, libc::SIGTERM);
            }
            let start = Instant::now();
            while start.elapsed() < WAIT {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(POLL);
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One HTTP/1.1 exchange with the server, as written: what comes back.
pub struct Reply {
    pub status: u16,
    /// Header names in lower case, in order.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `request` (a whole HTTP/1.1 request; `Connection: close` is up to
/// the caller) to 127.0.0.1:`port` and reads the reply to its end.
pub fn http(port: u16, request: &str) -> Reply {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connects");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream.write_all(request.as_bytes()).expect("sends");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("a reply");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {status_line:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

/// Skips the test with a message, or fails it where KITH_REQUIRE_BROWSER
/// is set.
fn unavailable(why: &str) -> Option<Browser> {
    assert!(
        std::env::var_os("KITH_REQUIRE_BROWSER").is_none(),
        "KITH_REQUIRE_BROWSER is set but no browser can be driven: {why}"
    );
    eprintln!("skipped: the browser tests need Chromium and chromedriver: {why}");
    None
}

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver and one headless Chromium session with its own profile.
/// Call [`Browser::close`] at the end of a test; dropping it (a panic)
/// kills chromedriver and the browser it started.
pub struct Browser {
    pub client: Client,
    driver: Child,
    /// The profile and chromedriver's log.
    dir: tempfile::TempDir,
}

impl Browser {
    /// A browser, or None (after a message) where none can be had.
    pub async fn start() -> Option<Browser> {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            if !Path::new(bin).is_file() {
                return unavailable(&format!("{bin} is not installed"));
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("kith-browser-")
            .tempdir()
            .expect("a temporary directory");
        let port = free_port();
        let log = dir.path().join("chromedriver.log");
        let mut cmd = Command::new(CHROMEDRIVER);
        cmd.arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("log file"))
            .stderr(Stdio::null());
        // Its own process group, so the browser it starts dies with it.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let driver = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => return unavailable(&format!("cannot run {CHROMEDRIVER}: {e}")),
        };
        let mut browser_guard = DriverGuard(Some(driver));
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if start.elapsed() > WAIT {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                return unavailable(&format!("chromedriver did not listen: {log}"));
            }
            std::thread::sleep(POLL);
        }
        let profile = dir.path().join("profile");
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = match tokio::time::timeout(
            WAIT * 3,
            ClientBuilder::new(connector)
                .capabilities(caps)
                .connect(&format!("http://127.0.0.1:{port}")),
        )
        .await
        {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                return unavailable(&format!("no browser session: {e}\n{log}"));
            }
            Err(_) => return unavailable("no browser session within 30 s"),
        };
        // Every navigation and script is bounded: a page that never loads
        // fails the test instead of stalling it.
        let timeouts =
            fantoccini::wd::TimeoutConfiguration::new(Some(WAIT), Some(WAIT), Some(Duration::ZERO));
        if let Err(e) = client.update_timeouts(timeouts).await {
            return unavailable(&format!("the browser refused timeouts: {e}"));
        }
        Some(Browser {
            client,
            driver: browser_guard.0.take().unwrap(),
            dir,
        })
    }

    /// Ends the session (the browser quits), then chromedriver.
    pub async fn close(self) {
        let _ = tokio::time::timeout(WAIT, self.client.clone().close()).await;
        // Drop kills chromedriver's group.
    }
}

/// Kills chromedriver's process group if a start fails half-way.
struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            kill_group(child);
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(&mut self.driver);
    }
}

/// SIGTERM to the group `child` leads, then SIGKILL after a bounded wait.
fn kill_group(child: &mut Child) {
    let pgid = child.id() as i32;
    // SAFETY: kill(2) on the process group of our own child.
    unsafe {
        libc::kill(-pgid, libc::SIGTERM);
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(POLL);
    }
    // SAFETY: as above; whatever of the group is left.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
    let _ = child.wait();
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Opens the start-up URL, which trades the token for the session cookie
/// and lands on Today.
pub async fn sign_in(client: &Client, ui: &UiServer) {
    client.goto(&ui.url).await.expect("the start-up URL opens");
}

/// Polls `f` until it returns Some, for at most [`WAIT`].
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(POLL).await;
    }
}

/// The text of the page's `<main>`. A page that loads between finding
/// `<main>` and reading it leaves a stale element: find it again (at most
/// five times).
pub async fn main_text(client: &Client) -> String {
    let mut tries = 0;
    loop {
        let main = client
            .find(Locator::Css("main"))
            .await
            .expect("the page has a <main>");
        match main.text().await {
            Ok(text) => return text,
            Err(e) if tries < 5 && format!("{e:?}").contains("StaleElementReference") => {
                tries += 1;
                tokio::time::sleep(POLL).await;
            }
            Err(e) => panic!("its text: {e:?}"),
        }
    }
}

/// Waits until `<main>` contains `needle`; returns its text.
pub async fn wait_for_text(client: &Client, needle: &str) -> String {
    let mut last = String::new();
    let start = Instant::now();
    loop {
        if let Ok(el) = client.find(Locator::Css("main")).await
            && let Ok(text) = el.text().await
        {
            if text.contains(needle) {
                return text;
            }
            last = text;
        }
        assert!(
            start.elapsed() < WAIT,
            "the page never said {needle:?}; it says:\n{last}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// The path of the page shown now, with its query.
pub async fn path(client: &Client) -> String {
    let url = client.current_url().await.expect("a URL");
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

/// Saves what the browser shows as docs/screenshots/NAME.png.
pub async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("a screenshot");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    std::fs::create_dir_all(&dir).expect("docs/screenshots");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("the screenshot is written");
}

/// axe-core 4.14.1, vendored (see tests/ui/vendor/README.md).
const AXE: &str = include_str!("vendor/axe.min.js");

/// Runs axe-core on the page shown and fails on any violation of impact
/// "serious" or "critical", listing each with the elements it found.
pub async fn axe(client: &Client) {
    let page = path(client).await;
    let loaded = client
        .execute(&format!("{AXE}\n;return typeof window.axe;"), Vec::new())
        .await
        .expect("axe-core loads");
    assert_eq!(loaded, json!("object"), "axe-core did not load on {page}");
    let result = client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               axe.run(document, { resultTypes: ["violations"] })
                 .then(r => done({ violations: r.violations.map(v => ({
                     id: v.id, impact: v.impact, help: v.help,
                     nodes: v.nodes.map(n => n.target.join(" ") + ": " + n.failureSummary)
                 })) }))
                 .catch(e => done({ error: String(e) }));"#,
            Vec::new(),
        )
        .await
        .expect("axe runs");
    if let Some(e) = result.get("error") {
        panic!("axe failed on {page}: {e}");
    }
    let bad: Vec<&Json> = result["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .collect();
    if !bad.is_empty() {
        let mut report = String::new();
        for v in &bad {
            report.push_str(&format!("{} ({}): {}\n", v["id"], v["impact"], v["help"]));
            for n in v["nodes"].as_array().into_iter().flatten() {
                report.push_str(&format!("    {}\n", n.as_str().unwrap_or_default()));
            }
        }
        panic!("axe found serious violations on {page}:\n{report}");
    }
}

/// The value of the page's CSRF meta tag.
pub async fn csrf(client: &Client) -> String {
    client
        .find(Locator::Css("meta[name=kith-csrf]"))
        .await
        .expect("the CSRF meta tag")
        .attr("content")
        .await
        .expect("its content")
        .expect("a value")
}

/// The form control whose `<label>` reads exactly `label`: found the way
/// a screen reader names it, so a field without its label is not found.
pub async fn labelled(c: &Client, label: &str) -> Element {
    // A live region may be replaced between finding the label and reading
    // it (the page refreshes what changed): find it again, a few times.
    let mut tries = 0;
    let (found, for_id) = loop {
        tries += 1;
        let Ok(found) = c
            .find(Locator::XPath(&format!(
                "//label[normalize-space(.)='{label}']"
            )))
            .await
        else {
            panic!(
                "no label reads {label:?} on {}; the page says:\n{}",
                path(c).await,
                main_text(c).await
            );
        };
        match found.attr("for").await {
            Ok(for_id) => break (found, for_id),
            Err(e) if tries < 5 && format!("{e:?}").contains("StaleElementReference") => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the label's for: {e:?}"),
        }
    };
    match for_id {
        Some(id) => c
            .find(Locator::Id(&id))
            .await
            .unwrap_or_else(|_| panic!("label {label:?} is for #{id}, which is missing")),
        // A label wrapping its control.
        None => found
            .find(Locator::Css("input, select, textarea"))
            .await
            .unwrap_or_else(|_| panic!("label {label:?} labels nothing")),
    }
}

/// Clears a text field and types `text` into it.
pub async fn fill(c: &Client, label: &str, text: &str) {
    let field = labelled(c, label).await;
    field.clear().await.expect("the field clears");
    field.send_keys(text).await.expect("typing");
}

/// Clicks the button whose text starts with `text` (inside `scope`, a CSS
/// selector, when given).
pub async fn press(c: &Client, scope: Option<&str>, text: &str) {
    let xpath = format!("//button[starts-with(normalize-space(.), '{text}')]");
    let button = match scope {
        Some(css) => {
            c.find(Locator::Css(css))
                .await
                .unwrap_or_else(|_| panic!("nothing matches {css}"))
                .find(Locator::XPath(&format!(".{xpath}")))
                .await
        }
        None => c.find(Locator::XPath(&xpath)).await,
    };
    button
        .unwrap_or_else(|_| panic!("no button {text:?}"))
        .click()
        .await
        .expect("the button clicks");
}

/// Waits until the address is no longer `from` (a form was answered);
/// returns the new path.
pub async fn left(c: &Client, from: &str) -> String {
    eventually(&format!("the browser to leave {from}"), || async {
        let now = path(c).await;
        let ready = c
            .execute("return document.readyState;", Vec::new())
            .await
            .ok()?;
        (now != from && ready == "complete").then_some(now)
    })
    .await
}

/// The message shown beside the field labelled `label` (in the same row),
/// once the field is marked invalid; waits for it.
pub async fn error_beside(c: &Client, label: &str) -> String {
    eventually(&format!("a message beside {label:?}"), || async {
        let field = labelled(c, label).await;
        let arg = serde_json::to_value(&field).ok()?;
        let found = c
            .execute(
                "const f = arguments[0];
                 const e = f.parentElement.querySelector('.field-error');
                 return f.getAttribute('aria-invalid') === 'true' && e ? e.textContent : null;",
                vec![arg],
            )
            .await
            .ok()?;
        found.as_str().map(str::to_string)
    })
    .await
}
