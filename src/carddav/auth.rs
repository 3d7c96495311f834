//! Who may talk to the address book: HTTP Basic with a paired device's
//! user name and password ([`crate::devices::verify`]), on every request
//! but OPTIONS and the well-known redirect.
//!
//! An address with too many failures gets 429 before its password is even
//! looked at ([`crate::devices::Throttle`]). A request without credentials
//! is not a failure: every client asks once without them first.
//!
//! argon2 is slow on purpose, and a sync is many requests, so a login that
//! worked is remembered (by a hash of the password, for five minutes) but
//! checked on every request against the device list as it stands: an
//! unpaired or re-paired device is refused at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::{State, text};
use crate::devices::{self, Paired};

/// How long a login that worked is trusted without argon2 again.
const REMEMBER: Duration = Duration::from_secs(300);

/// (user, SHA-256 of the password).
type LoginKey = (String, [u8; 32]);

/// Logins that worked lately, with when they were checked with argon2.
#[derive(Default)]
pub struct Logins(Mutex<HashMap<LoginKey, (Paired, Instant)>>);

fn unauthorized(why: &str) -> Response {
    let mut r = text(StatusCode::UNAUTHORIZED, format!("{why}\n"));
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"kith\", charset=\"UTF-8\""),
    );
    r
}

/// The user and password of a Basic Authorization header.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// The device a request comes from, or the answer that refuses it.
pub async fn check(state: &State, ip: IpAddr, headers: &HeaderMap) -> Result<String, Response> {
    if state.0.throttle.blocked(ip, Instant::now()) {
        let mut r = text(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed logins from this address; wait a minute\n",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return Err(r);
    }
    let Some((user, password)) = basic(headers) else {
        return Err(unauthorized(
            "this address book needs a paired device's user name and password (kith carddav pair NAME)",
        ));
    };
    let paired = state
        .blocking(move |state| Ok(login(state, &user, &password)))
        .await?;
    match paired {
        Some(p) => Ok(p.name),
        None => {
            state.0.throttle.failed(ip, Instant::now());
            Err(unauthorized(
                "wrong user name or password, or the device is no longer paired",
            ))
        }
    }
}

/// Checks one login (on a blocking thread: argon2 and file reads).
fn login(state: &State, user: &str, password: &str) -> Option<Paired> {
    let key = (
        user.to_string(),
        <[u8; 32]>::from(Sha256::digest(password.as_bytes())),
    );
    let remembered = {
        let mut map = state.0.logins.0.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, (_, at)| at.elapsed() < REMEMBER);
        map.get(&key).map(|(p, _)| p.clone())
    };
    let paired = match remembered {
        Some(p) => {
            // Still paired, and the same pairing (not one made again).
            let now = devices::list(state.home()).ok()?;
            now.into_iter()
                .find(|d| d.name == p.name && d.user == p.user && d.created == p.created)?
        }
        None => {
            let p = devices::verify(state.home(), user, password)?;
            state
                .0
                .logins
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, (p.clone(), Instant::now()));
            p
        }
    };
    devices::touch(state.home(), &paired.name, state.now());
    Some(paired)
}
