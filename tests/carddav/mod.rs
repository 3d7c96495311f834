//! `kith carddav serve` spoken to in plain HTTP/1.1 over 127.0.0.1, as
//! phones speak to it: the request sequences iOS Contacts and DAVx5 send
//! on a first and a later sync (`replay`), and the refusals (`refusals`).
//! Every answer's status is checked and its XML read with quick-xml (never
//! compared as a whole document). Every wait is bounded.

#![allow(dead_code)]

mod refusals;
mod replay;
mod team;
mod tls;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use crate::common::Home;

pub const WAIT: Duration = Duration::from_secs(20);

/// A running `kith carddav serve`, stopped with SIGTERM when dropped.
pub struct Dav {
    child: Child,
    stderr: PathBuf,
    pub port: u16,
    /// A paired device's user name and password.
    pub user: String,
    pub password: String,
}

impl Dav {
    /// Pairs a device called "iphone" and serves `home`.
    pub fn start(home: &Home, extra: &[&str]) -> Dav {
        let (paired, password) = kith::devices::pair(home.path(), "iphone", jiff::Timestamp::now())
            .expect("a device pairs");
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stderr = home.path().join(format!("carddav-{n}.log"));
        let mut args = vec!["carddav", "serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut child = home
            .command(&args)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("log file"))
            .spawn()
            .expect("kith carddav serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let url = match rx.recv_timeout(WAIT) {
            Ok(line) if !line.trim().is_empty() => line.trim().to_string(),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "kith carddav serve printed no URL: {}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                );
            }
        };
        let port = url
            .strip_prefix("http://127.0.0.1:")
            .and_then(|r| r.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("kith carddav serve printed {url:?}"));
        Dav {
            child,
            stderr,
            port,
            user: paired.user,
            password,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// A request with this device's credentials.
    pub fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let auth = basic(&self.user, &self.password);
        let mut all = vec![("Authorization", auth.as_str())];
        all.extend_from_slice(headers);
        http(self.port, method, path, &all, body.as_bytes())
    }

    pub fn propfind(&self, path: &str, depth: &str, body: &str) -> Reply {
        self.call(
            "PROPFIND",
            path,
            &[
                ("Depth", depth),
                ("Content-Type", "application/xml; charset=utf-8"),
            ],
            body,
        )
    }

    pub fn report(&self, path: &str, body: &str) -> Reply {
        self.call(
            "REPORT",
            path,
            &[
                ("Depth", "1"),
                ("Content-Type", "application/xml; charset=utf-8"),
            ],
            body,
        )
    }
}

impl Drop for Dav {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let start = Instant::now();
        while start.elapsed() < WAIT {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The body as a multistatus, checked to be one.
    pub fn multistatus(&self) -> Multistatus {
        assert_eq!(self.status, 207, "not a multistatus: {self:?}");
        Multistatus::parse(&self.body)
    }
}

/// One HTTP/1.1 exchange on a new connection (`Connection: close`), the
/// body read whole, chunked transfer decoded.
pub fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connects");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("sends");
    // A server may answer (413) before reading all of a large body.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut rest = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {status_line:?}"));
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        rest = dechunk(&rest);
    }
    Reply {
        status,
        headers,
        body: String::from_utf8(rest).expect("a UTF-8 body"),
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..1_000_000 {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
            break;
        };
        let size_line = String::from_utf8_lossy(&raw[..eol]).into_owned();
        let size = usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16)
            .unwrap_or_else(|_| panic!("bad chunk size {size_line:?}"));
        raw = &raw[eol + 2..];
        if size == 0 {
            break;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
    out
}

/// An element of an answer, namespaces resolved.
#[derive(Debug, Default, Clone)]
pub struct Node {
    pub ns: String,
    pub name: String,
    pub children: Vec<Node>,
    pub text: String,
}

impl Node {
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    pub fn child(&self, ns: &str, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    pub fn all<'a>(&'a self, ns: &'a str, name: &'a str) -> impl Iterator<Item = &'a Node> {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    /// Any descendant of that name, depth first.
    pub fn find(&self, ns: &str, name: &str) -> Option<&Node> {
        for c in &self.children {
            if c.is(ns, name) {
                return Some(c);
            }
            if let Some(f) = c.find(ns, name) {
                return Some(f);
            }
        }
        None
    }
}

pub const DAV: &str = "DAV:";
pub const CARD: &str = "urn:ietf:params:xml:ns:carddav";
pub const CS: &str = "http://calendarserver.org/ns/";

/// Reads an XML document with quick-xml into nodes.
pub fn parse_xml(text: &str) -> Node {
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Node> = vec![Node::default()];
    for _ in 0..10_000_000 {
        let (ns, ev) = reader
            .read_resolved_event()
            .unwrap_or_else(|e| panic!("not well-formed XML ({e}):\n{text}"));
        let ns = match ns {
            ResolveResult::Bound(n) => String::from_utf8_lossy(n.as_ref()).into_owned(),
            _ => String::new(),
        };
        match ev {
            Event::Start(e) => stack.push(Node {
                ns,
                name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                ..Node::default()
            }),
            Event::Empty(e) => stack.last_mut().unwrap().children.push(Node {
                ns,
                name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                ..Node::default()
            }),
            Event::End(_) => {
                let n = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(n);
            }
            Event::Text(t) => stack
                .last_mut()
                .unwrap()
                .text
                .push_str(&t.decode().unwrap()),
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().unwrap() {
                    Some(c) => c,
                    None => match &*String::from_utf8_lossy(&r) {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => panic!("unknown entity {other}"),
                    },
                };
                stack.last_mut().unwrap().text.push(c);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "unclosed elements in:\n{text}");
    stack
        .pop()
        .unwrap()
        .children
        .into_iter()
        .next()
        .expect("a root element")
}

/// One member of a multistatus.
#[derive(Debug, Clone)]
pub struct Member {
    pub href: String,
    /// The response's own status (e.g. a removed card's 404).
    pub status: Option<u16>,
    /// Properties found (200), by local name.
    pub found: HashMap<String, Node>,
    /// Properties not found (404), by local name.
    pub missing: Vec<String>,
}

impl Member {
    pub fn text(&self, name: &str) -> String {
        self.found
            .get(name)
            .unwrap_or_else(|| panic!("{} has no {name}: {self:?}", self.href))
            .text
            .clone()
    }
}

#[derive(Debug)]
pub struct Multistatus {
    pub members: Vec<Member>,
    pub sync_token: Option<String>,
}

fn status_code(s: &str) -> u16 {
    s.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

impl Multistatus {
    pub fn parse(text: &str) -> Multistatus {
        let root = parse_xml(text);
        assert!(
            root.is(DAV, "multistatus"),
            "root is {}:{}",
            root.ns,
            root.name
        );
        let mut members = Vec::new();
        for r in root.all(DAV, "response") {
            let href = r
                .child(DAV, "href")
                .expect("an href")
                .text
                .trim()
                .to_string();
            let status = r.child(DAV, "status").map(|s| status_code(&s.text));
            let mut found = HashMap::new();
            let mut missing = Vec::new();
            for ps in r.all(DAV, "propstat") {
                let code = status_code(&ps.child(DAV, "status").expect("a status").text);
                let Some(prop) = ps.child(DAV, "prop") else {
                    continue;
                };
                for p in &prop.children {
                    match code {
                        200 => {
                            found.insert(p.name.clone(), p.clone());
                        }
                        _ => missing.push(p.name.clone()),
                    }
                }
            }
            members.push(Member {
                href,
                status,
                found,
                missing,
            });
        }
        Multistatus {
            members,
            sync_token: root
                .child(DAV, "sync-token")
                .map(|t| t.text.trim().to_string()),
        }
    }

    pub fn member(&self, href: &str) -> &Member {
        self.members
            .iter()
            .find(|m| m.href == href)
            .unwrap_or_else(|| panic!("no member {href} in {self:?}"))
    }
}
