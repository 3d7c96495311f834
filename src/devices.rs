//! Paired devices: the phones and address books allowed into the CardDAV
//! face (`kith carddav`), their passwords, the TLS material the face serves
//! with, and the throttle on failed logins.
//!
//! Everything lives in `<home>/carddav/` (created 0700):
//!
//! - `devices.json` (0600): one entry per device with its user name, an
//!   argon2id hash of its password, when it was paired and when it last
//!   synced. Written whole and durably; read again on every [`verify`], so
//!   [`unpair`] takes effect on the next request.
//! - `cert.pem` and `key.pem` (0600): the self-signed certificate [`tls`]
//!   makes on first use, when no certificate is given.
//!
//! A password is generated here, never chosen: 30 characters from a
//! 32-letter alphabet (150 bits), shown in groups of five joined by '-'.
//! Case, spaces and dashes do not matter when it is typed.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// A device allowed to sync, as listed (the password's hash stays inside).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Paired {
    /// The name it was paired under ("iphone", "Anna's Pixel").
    pub name: String,
    /// The user name it logs in with, derived from the name.
    pub user: String,
    /// When it was paired (RFC 3339).
    pub created: String,
    /// When it last synced (RFC 3339), if ever.
    pub last_sync: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    name: String,
    user: String,
    hash: String,
    created: String,
    #[serde(default)]
    last_sync: Option<String>,
}

impl Entry {
    fn paired(&self) -> Paired {
        Paired {
            name: self.name.clone(),
            user: self.user.clone(),
            created: self.created.clone(),
            last_sync: self.last_sync.clone(),
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Store {
    #[serde(default)]
    devices: Vec<Entry>,
}

const DIR: &str = "carddav";
const STORE: &str = "devices.json";
const LOCK: &str = "devices.lock";
/// The password alphabet: lowercase letters and digits without i, l, o and
/// u, so nothing reads as another character (Crockford's base 32).
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const PASSWORD_GROUPS: usize = 6;
const GROUP_LEN: usize = 5;
/// A last sync is written again only when it moved by at least this much,
/// so a phone's burst of requests is not a burst of fsyncs.
const TOUCH_EVERY: i64 = 60;

fn dir(home: &Path) -> PathBuf {
    home.join(DIR)
}

fn ensure_dir(home: &Path) -> Result<PathBuf> {
    let d = dir(home);
    if !d.is_dir() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&d)
            .map_err(|e| Error::io(&d, e))?;
    }
    Ok(d)
}

/// Holds an exclusive lock on `carddav/devices.lock` for a
/// read-modify-write of the store, so a `touch` from the server cannot
/// write back a device that `unpair` just removed.
struct Locked {
    _file: fs::File,
}

fn lock(home: &Path) -> Result<Locked> {
    use std::os::fd::AsRawFd;
    let d = ensure_dir(home)?;
    let path = d.join(LOCK);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    // SAFETY: flock on a valid, open descriptor; released when it closes.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(Error::io(&path, std::io::Error::last_os_error()));
    }
    Ok(Locked { _file: file })
}

fn load(home: &Path) -> Result<Store> {
    let path = dir(home).join(STORE);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| Error::invalid(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Store::default()),
        Err(e) => Err(Error::io(&path, e)),
    }
}

fn save(home: &Path, store: &Store) -> Result<()> {
    let d = ensure_dir(home)?;
    let bytes =
        serde_json::to_vec_pretty(store).map_err(|e| Error::invalid(format!("devices: {e}")))?;
    write_private(&d, STORE, &bytes)
}

/// Writes `dir/name` whole and durably (temp file, fsync, rename, fsync of
/// the directory) as `store::chunk::write_durable` does, but created 0600
/// from the start: these files hold password hashes and a private key.
fn write_private(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let target = dir.join(name);
    let tmp = dir.join(format!(
        ".tmp-{}-{}-{name}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let write = || -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(&tmp, e));
    }
    if let Err(e) = fs::rename(&tmp, &target) {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(&target, e));
    }
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// The user name for a device name: lowercase letters and digits, anything
/// else one '-', at most 32 characters; "device" when nothing is left.
fn user_for(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 32 {
            break;
        }
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() {
        "device".to_string()
    } else {
        out
    }
}

/// A new password: [`PASSWORD_GROUPS`] groups of [`GROUP_LEN`] characters
/// from [`ALPHABET`], joined by '-' (150 bits).
fn new_password() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let groups: Vec<String> = (0..PASSWORD_GROUPS)
        .map(|_| {
            (0..GROUP_LEN)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect()
        })
        .collect();
    groups.join("-")
}

/// A password as typed, as it is hashed: without spaces and dashes, in
/// lowercase.
fn normalize(password: &str) -> String {
    password
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

fn hash(password: &str) -> Result<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| Error::invalid(format!("password salt: {e}")))?;
    Argon2::default()
        .hash_password(normalize(password).as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::invalid(format!("password hash: {e}")))
}

fn matches(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(normalize(password).as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Pairs a device named `name`: a new user name and password. The password
/// is returned once and only its hash is kept. A name already paired
/// (ignoring case) is refused: unpair it first.
pub fn pair(home: &Path, name: &str, now: jiff::Timestamp) -> Result<(Paired, String)> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid("a device needs a name"));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "a device name cannot hold control characters",
        ));
    }
    let _lock = lock(home)?;
    let mut store = load(home)?;
    if store
        .devices
        .iter()
        .any(|d| d.name.to_lowercase() == name.to_lowercase())
    {
        return Err(Error::invalid(format!(
            "a device named '{name}' is already paired; unpair it first"
        )));
    }
    let base = user_for(name);
    let mut user = base.clone();
    let mut n = 2;
    while store.devices.iter().any(|d| d.user == user) {
        user = format!("{base}-{n}");
        n += 1;
    }
    let password = new_password();
    let entry = Entry {
        name: name.to_string(),
        user,
        hash: hash(&password)?,
        created: now.to_string(),
        last_sync: None,
    };
    let paired = entry.paired();
    store.devices.push(entry);
    save(home, &store)?;
    Ok((paired, password))
}

/// The paired devices, in the order they were paired.
pub fn list(home: &Path) -> Result<Vec<Paired>> {
    Ok(load(home)?.devices.iter().map(Entry::paired).collect())
}

fn find(store: &Store, name: &str) -> Option<usize> {
    let lower = name.trim().to_lowercase();
    store
        .devices
        .iter()
        .position(|d| d.name.to_lowercase() == lower)
        .or_else(|| store.devices.iter().position(|d| d.user == lower))
}

/// Revokes the device named `name` (or with that user name) at once:
/// `Error::NotFound(name)` when there is none.
pub fn unpair(home: &Path, name: &str) -> Result<Paired> {
    let _lock = lock(home)?;
    let mut store = load(home)?;
    let Some(i) = find(&store, name) else {
        return Err(Error::NotFound(name.to_string()));
    };
    let gone = store.devices.remove(i);
    save(home, &store)?;
    Ok(gone.paired())
}

/// The device logging in as `user` with `password`, if that is one. Reads
/// the store on every call; the comparison is argon2's, in constant time,
/// and an unknown user costs the same hash as a known one.
pub fn verify(home: &Path, user: &str, password: &str) -> Option<Paired> {
    let store = load(home).ok()?;
    match store.devices.iter().find(|d| d.user == user) {
        Some(entry) => matches(&entry.hash, password).then(|| entry.paired()),
        None => {
            // The same work as a real check, so timing does not tell
            // which user names exist.
            let _ = matches(dummy_hash(), password);
            None
        }
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("not-a-password").unwrap_or_default())
}

/// Records that the device named `name` synced at `now`; best effort, and
/// written only when the last sync moved by a minute or more.
pub fn touch(home: &Path, name: &str, now: jiff::Timestamp) {
    let Ok(_lock) = lock(home) else { return };
    let Ok(mut store) = load(home) else { return };
    let Some(i) = find(&store, name) else { return };
    let entry = &mut store.devices[i];
    let recent = entry
        .last_sync
        .as_deref()
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .is_some_and(|t| (now.as_second() - t.as_second()).abs() < TOUCH_EVERY);
    if recent {
        return;
    }
    entry.last_sync = Some(now.to_string());
    let _ = save(home, &store);
}

/// Failed logins per address: [`Throttle::LIMIT`] failures within
/// [`Throttle::WINDOW`] block that address for [`Throttle::WINDOW`] from the
/// last of them.
#[derive(Debug, Default)]
pub struct Throttle {
    by_ip: Mutex<HashMap<IpAddr, Failures>>,
}

#[derive(Debug, Default)]
struct Failures {
    /// The failures of the last window, oldest first, at most LIMIT.
    recent: Vec<Instant>,
    blocked_until: Option<Instant>,
}

impl Failures {
    fn forget_old(&mut self, now: Instant) {
        self.recent
            .retain(|t| now.saturating_duration_since(*t) < Throttle::WINDOW);
        if self.blocked_until.is_some_and(|until| now >= until) {
            self.blocked_until = None;
        }
    }

    fn is_quiet(&self) -> bool {
        self.recent.is_empty() && self.blocked_until.is_none()
    }
}

impl Throttle {
    pub const LIMIT: usize = 10;
    pub const WINDOW: Duration = Duration::from_secs(60);

    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `ip` is blocked at `now`.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> bool {
        let mut map = self.by_ip.lock().unwrap_or_else(|p| p.into_inner());
        let Some(f) = map.get_mut(&ip) else {
            return false;
        };
        f.forget_old(now);
        let blocked = f.blocked_until.is_some();
        if f.is_quiet() {
            map.remove(&ip);
        }
        blocked
    }

    /// Counts a failed login from `ip` at `now`.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let mut map = self.by_ip.lock().unwrap_or_else(|p| p.into_inner());
        // Forget quiet addresses now and then, so the map stays small.
        if map.len() > 1024 {
            map.retain(|_, f| {
                f.forget_old(now);
                !f.is_quiet()
            });
        }
        let f = map.entry(ip).or_default();
        f.forget_old(now);
        f.recent.push(now);
        if f.recent.len() >= Self::LIMIT {
            f.blocked_until = Some(now + Self::WINDOW);
            f.recent.clear();
        }
    }
}

/// What the face serves TLS with.
#[derive(Clone)]
pub struct Tls {
    pub cert_pem: String,
    pub key_pem: String,
    /// SHA-256 of the (first) certificate's DER, "AB:CD:…".
    pub fingerprint: String,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

const CERT: &str = "cert.pem";
const KEY: &str = "key.pem";
/// How long a made certificate is valid: Apple's limit for a server
/// certificate. One older than [`RENEW_AFTER_DAYS`] is made anew.
const VALID_DAYS: i64 = 825;
const RENEW_AFTER_DAYS: u64 = 800;

/// TLS material: the given certificate and key files (both must be
/// readable; the error names the one that is not), or else a self-signed
/// certificate for localhost, 127.0.0.1 and this host's name, made with
/// rcgen on first use and kept in `<home>/carddav/` (key 0600) so a phone
/// that accepted it once keeps accepting it.
pub fn tls(home: &Path, cert: Option<&Path>, key: Option<&Path>) -> Result<Tls> {
    match (cert, key) {
        (Some(cert), Some(key)) => {
            let cert_pem = read_pem(cert)?;
            let key_pem = read_pem(key)?;
            if !key_pem.contains("PRIVATE KEY-----") {
                return Err(Error::invalid(format!(
                    "{}: no private key in it (PEM)",
                    cert.display()
                )));
            }
            let fingerprint = fingerprint_pem(&cert_pem).ok_or_else(|| {
                Error::invalid(format!("{}: no certificate in it (PEM)", cert.display()))
            })?;
            Ok(Tls {
                cert_pem,
                key_pem,
                fingerprint,
            })
        }
        (Some(_), None) => Err(Error::invalid("--cert needs --key")),
        (None, Some(_)) => Err(Error::invalid("--key needs --cert")),
        (None, None) => self_signed(home),
    }
}

fn read_pem(path: &Path) -> Result<String> {
    fs::read_to_string(path)
        .map_err(|e| Error::invalid(format!("cannot read {}: {e}", path.display())))
}

fn self_signed(home: &Path) -> Result<Tls> {
    let d = ensure_dir(home)?;
    let (cert_path, key_path) = (d.join(CERT), d.join(KEY));
    let fresh = fs::metadata(&cert_path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < Duration::from_secs(RENEW_AFTER_DAYS * 86_400));
    if fresh
        && key_path.is_file()
        && let (Ok(cert_pem), Ok(key_pem)) = (
            fs::read_to_string(&cert_path),
            fs::read_to_string(&key_path),
        )
        && let Some(fingerprint) = fingerprint_pem(&cert_pem)
    {
        return Ok(Tls {
            cert_pem,
            key_pem,
            fingerprint,
        });
    }
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if let Some(host) = host_name()
        && !names.contains(&host)
    {
        names.push(host);
    }
    let made = make_cert(names)?;
    // The key first: a certificate on disk always has its key beside it.
    write_private(&d, KEY, made.key_pem.as_bytes())?;
    write_private(&d, CERT, made.cert_pem.as_bytes())?;
    let _ = fs::set_permissions(&key_path, fs::Permissions::from_mode(0o600));
    Ok(made)
}

fn make_cert(names: Vec<String>) -> Result<Tls> {
    let bad = |e: rcgen::Error| Error::invalid(format!("cannot make a certificate: {e}"));
    let mut params = rcgen::CertificateParams::new(names).map_err(bad)?;
    let today = jiff::Zoned::now().date();
    let yesterday = today.yesterday().unwrap_or(today);
    let end = today
        .checked_add(jiff::Span::new().days(VALID_DAYS))
        .unwrap_or(today);
    let ymd = |d: jiff::civil::Date| {
        rcgen::date_time_ymd(d.year().into(), d.month() as u8, d.day() as u8)
    };
    params.not_before = ymd(yesterday);
    params.not_after = ymd(end);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "kith carddav");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate().map_err(bad)?;
    let cert = params.self_signed(&key).map_err(bad)?;
    Ok(Tls {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        fingerprint: fingerprint_der(cert.der()),
    })
}

fn host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; the name is NUL-ended
    // when it fits, and we stop at the first NUL either way.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return None;
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    let name = std::str::from_utf8(&buf[..end]).ok()?.trim().to_lowercase();
    (!name.is_empty()).then_some(name)
}

/// SHA-256 of `der`, uppercase hex pairs joined by ':'.
pub fn fingerprint_der(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The fingerprint of the first certificate in `pem`, if there is one.
fn fingerprint_pem(pem: &str) -> Option<String> {
    use base64::Engine;
    let start = pem.find("-----BEGIN CERTIFICATE-----")? + "-----BEGIN CERTIFICATE-----".len();
    let len = pem[start..].find("-----END CERTIFICATE-----")?;
    let body: String = pem[start..start + len]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    Some(fingerprint_der(&der))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        "2026-12-04T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn pair_verify_unpair() {
        let home = tempfile::tempdir().unwrap();
        let (paired, password) = pair(home.path(), "Anna's iPhone", now()).unwrap();
        assert_eq!(paired.user, "anna-s-iphone");
        assert_eq!(paired.last_sync, None);
        assert_eq!(normalize(&password).len(), PASSWORD_GROUPS * GROUP_LEN);
        let seen = verify(home.path(), &paired.user, &password).unwrap();
        assert_eq!(seen, paired);
        // Typed without dashes and in capitals it is the same password.
        let typed = normalize(&password).to_uppercase();
        assert!(verify(home.path(), &paired.user, &typed).is_some());
        assert_eq!(list(home.path()).unwrap(), vec![paired.clone()]);

        let store = dir(home.path()).join(STORE);
        let mode = fs::metadata(&store).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!fs::read_to_string(&store).unwrap().contains(&password));

        touch(home.path(), "Anna's iPhone", now());
        let listed = list(home.path()).unwrap();
        assert_eq!(listed[0].last_sync.as_deref(), Some("2026-12-04T10:00:00Z"));

        let gone = unpair(home.path(), "anna's iphone").unwrap();
        assert_eq!(gone.user, paired.user);
        assert!(verify(home.path(), &paired.user, &password).is_none());
        assert!(list(home.path()).unwrap().is_empty());
        assert!(matches!(
            unpair(home.path(), "Anna's iPhone"),
            Err(Error::NotFound(_))
        ));
    }

    #[test]
    fn wrong_password_and_unknown_user() {
        let home = tempfile::tempdir().unwrap();
        let (paired, password) = pair(home.path(), "pixel", now()).unwrap();
        assert!(verify(home.path(), &paired.user, "wrong").is_none());
        assert!(verify(home.path(), &paired.user, "").is_none());
        assert!(verify(home.path(), "someone", &password).is_none());
        assert_ne!(new_password(), password);
    }

    #[test]
    fn a_name_paired_twice_is_refused_and_users_are_unique() {
        let home = tempfile::tempdir().unwrap();
        let (a, _) = pair(home.path(), "Phone", now()).unwrap();
        let err = pair(home.path(), "phone", now()).unwrap_err();
        assert!(err.to_string().contains("already paired"), "{err}");
        let (b, _) = pair(home.path(), "phone!", now()).unwrap();
        assert_eq!(a.user, "phone");
        assert_eq!(b.user, "phone-2");
        let (c, _) = pair(home.path(), "☎", now()).unwrap();
        assert_eq!(c.user, "device");
        assert!(pair(home.path(), "  ", now()).is_err());
        assert_eq!(list(home.path()).unwrap().len(), 3);
    }

    #[test]
    fn throttle_counts_and_expires() {
        let t = Throttle::new();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        for i in 0..Throttle::LIMIT as u64 - 1 {
            t.failed(ip, at(i));
        }
        assert!(!t.blocked(ip, at(10)));
        t.failed(ip, at(10));
        assert!(t.blocked(ip, at(10)));
        assert!(!t.blocked(other, at(10)));
        // Blocked for a whole minute from the tenth failure.
        assert!(t.blocked(ip, at(69)));
        assert!(!t.blocked(ip, at(70)));
        // And counting starts afresh.
        t.failed(ip, at(71));
        assert!(!t.blocked(ip, at(71)));
        // Failures spread over more than a minute never block.
        let t = Throttle::new();
        for i in 0..30u64 {
            t.failed(ip, at(i * 7));
            assert!(!t.blocked(ip, at(i * 7)), "blocked at failure {i}");
        }
    }

    #[test]
    fn self_signed_cert_is_made_once_and_reused() {
        let home = tempfile::tempdir().unwrap();
        let first = tls(home.path(), None, None).unwrap();
        assert!(first.cert_pem.contains("BEGIN CERTIFICATE"));
        assert!(first.key_pem.contains("PRIVATE KEY"));
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        assert!(
            first
                .fingerprint
                .chars()
                .all(|c| c == ':' || c.is_ascii_digit() || c.is_ascii_uppercase())
        );
        let key = dir(home.path()).join(KEY);
        assert_eq!(
            fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let second = tls(home.path(), None, None).unwrap();
        assert_eq!(second.fingerprint, first.fingerprint);
        assert_eq!(second.key_pem, first.key_pem);
        assert_eq!(fingerprint_pem(&first.cert_pem).unwrap(), first.fingerprint);

        // Given files are read as they are.
        let d = dir(home.path());
        let given = tls(home.path(), Some(&d.join(CERT)), Some(&key)).unwrap();
        assert_eq!(given.fingerprint, first.fingerprint);
        let missing = home.path().join("nope.pem");
        let err = tls(home.path(), Some(&missing), Some(&key)).unwrap_err();
        assert!(err.to_string().contains("nope.pem"), "{err}");
        assert!(!err.to_string().contains('\n'));
        let err = tls(home.path(), Some(&d.join(CERT)), Some(&missing)).unwrap_err();
        assert!(err.to_string().contains("nope.pem"), "{err}");
    }
}
