//! Who may talk to `kith ui`, checked on every request before any page:
//!
//! 1. the Host header names this server (`127.0.0.1:PORT`, `localhost:PORT`,
//!    `[::1]:PORT`), or 403: a page on another site that rebinds its DNS
//!    name to 127.0.0.1 still sends its own name;
//! 2. the request carries the session cookie, or the start-up token (which
//!    is then traded for the cookie and dropped from the URL), or 401;
//! 3. a request that changes anything is a POST whose CSRF token matches and
//!    whose Origin, when sent, is this server, or 403.
//!
//! Every response also gets a Content-Security-Policy that allows only this
//! server's own scripts and styles, and no CORS headers are ever sent.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::error::PageError;
use super::state::AppState;

/// The secrets of one run of `kith ui`: new at every start, never stored.
pub struct Secrets {
    /// In the URL printed at start-up; 256 bits.
    pub token: String,
    /// The cookie's value once the token has been traded.
    session: String,
    /// In every form and in the page's meta tag; checked on every POST.
    pub csrf: String,
}

fn random_hex() -> String {
    rand::random::<[u8; 32]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Secrets {
    pub fn new() -> Secrets {
        Secrets {
            token: random_hex(),
            session: random_hex(),
            csrf: random_hex(),
        }
    }
}

/// The name of the CSRF form field and of the header scripts send it in.
pub const CSRF_FIELD: &str = "csrf";
pub const CSRF_HEADER: &str = "x-kith-csrf";

/// Cookies do not keep ports apart, so each port gets its own name: two
/// `kith ui` on two homes do not log each other out.
fn cookie_name(state: &AppState) -> String {
    format!("kith_{}", state.addr().port())
}

/// Compares secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn host_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let port = state.addr().port();
    [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ]
    .iter()
    .any(|ok| host.eq_ignore_ascii_case(ok))
}

fn origin_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    // Browsers send Origin on every POST; a request without one is not
    // from a foreign page (the CSRF token is checked as well).
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let port = state.addr().port();
    [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("http://[::1]:{port}"),
    ]
    .iter()
    .any(|ok| origin.eq_ignore_ascii_case(ok))
}

fn has_session(state: &AppState, headers: &HeaderMap) -> bool {
    let name = cookie_name(state);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(k, v)| k == name && same_secret(v, &state.secrets().session))
}

/// The `token` query parameter, if the URL has one, and the URL without it.
fn split_token(uri: &axum::http::Uri) -> Option<(String, String)> {
    let query = uri.query()?;
    let mut token = None;
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("token", v)) => token = Some(v.to_string()),
            _ if pair.is_empty() => {}
            _ => rest.push(pair),
        }
    }
    let token = token?;
    let path = if rest.is_empty() {
        uri.path().to_string()
    } else {
        format!("{}?{}", uri.path(), rest.join("&"))
    };
    Some((token, path))
}

/// The gate in front of every route, assets and live updates included.
pub async fn gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    if !host_allowed(&state, headers) {
        return PageError::forbidden("this page is served only to 127.0.0.1 and localhost")
            .into_response();
    }
    if !has_session(&state, headers) {
        // The start-up token, traded once per browser for the cookie.
        if req.method() == Method::GET
            && let Some((token, clean)) = split_token(req.uri())
            && same_secret(&token, &state.secrets().token)
        {
            let cookie = format!(
                "{}={}; HttpOnly; SameSite=Strict; Path=/",
                cookie_name(&state),
                state.secrets().session
            );
            // The path as asked for, unless a browser would read it as
            // another site (`//evil.com/?token=…`).
            let clean = if super::pages::local_path(&clean) {
                clean
            } else {
                "/".to_string()
            };
            let mut resp = Redirect::to(&clean).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                resp.headers_mut().insert(header::SET_COOKIE, v);
            }
            return with_security_headers(resp);
        }
        return PageError::unauthorized().into_response();
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        if req.method() != Method::POST {
            return with_security_headers(
                (StatusCode::METHOD_NOT_ALLOWED, "only GET and POST").into_response(),
            );
        }
        if !origin_allowed(&state, headers) {
            return PageError::forbidden("a page from another site may not change your ledger")
                .into_response();
        }
        // The CSRF token comes in a header (scripts) or as the first form
        // field (forms); reading the field means buffering the body, which
        // the body limit of the route already bounds.
        let header_ok = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| same_secret(v, &state.secrets().csrf));
        if !header_ok {
            let (parts, body) = req.into_parts();
            let limit = super::pages::body_limit(parts.uri.path());
            let ok_field = csrf_in_body(&state, &parts.headers, body, limit).await;
            let body = match ok_field {
                Ok(body) => body,
                Err(resp) => return resp,
            };
            let req = Request::from_parts(parts, body);
            return with_security_headers(next.run(req).await);
        }
    }
    with_security_headers(next.run(req).await)
}

/// Reads the body (within the limit), checks its CSRF field, and gives the
/// body back for the handler.
async fn csrf_in_body(
    state: &AppState,
    headers: &HeaderMap,
    body: axum::body::Body,
    limit: usize,
) -> Result<axum::body::Body, Response> {
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return Err(PageError::too_large().into_response());
        }
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let found = if content_type.starts_with("application/x-www-form-urlencoded") {
        form_field(&bytes, CSRF_FIELD)
    } else if let Some(boundary) = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
    {
        multipart_field(&bytes, boundary.trim_matches('"'), CSRF_FIELD)
    } else {
        None
    };
    if found.is_some_and(|v| same_secret(&v, &state.secrets().csrf)) {
        Ok(axum::body::Body::from(bytes))
    } else {
        Err(
            PageError::forbidden("the form was missing its CSRF token; reload the page")
                .into_response(),
        )
    }
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// The value of a small text part of a multipart body. Forms put the CSRF
/// field first, so only the start of the body is searched.
fn multipart_field(body: &[u8], boundary: &str, name: &str) -> Option<String> {
    let head = &body[..body.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let marker = format!("name=\"{name}\"");
    let at = text.find(&marker)?;
    let rest = &text[at + marker.len()..];
    let start = rest.find("\r\n\r\n")? + 4;
    let end = rest[start..].find(&format!("\r\n--{boundary}"))?;
    Some(rest[start..start + end].to_string())
}

/// The Content-Security-Policy and friends, on every response. The
/// referrer policy is `same-origin`, not `no-referrer`: under the latter
/// browsers send `Origin: null` on their own form posts, which the Origin
/// check must refuse (a sandboxed foreign frame sends the same).
pub fn with_security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}
