//! `kith carddav serve`: the ledger as a CardDAV address book (RFC 6352,
//! with RFC 6578 sync-collection) for phones and desktop address books.
//!
//! This face owns HTTP and WebDAV XML only. Every card comes from, and
//! every write goes through, [`crate::cards`]: the mapping `kith import`
//! and `kith export` use, the book's sync state, and a phone's PUT as field
//! changes. Devices, their passwords, the failure throttle and the TLS
//! material are [`crate::devices`].
//!
//! URL layout:
//! - `/.well-known/carddav` → 301 to `/dav/` (no credentials needed);
//! - `/dav/principal/`: the one principal (the ledger's owner);
//! - `/dav/books/`: the address-book home;
//! - `/dav/books/kith/`: the own ledger, first (Apple Contacts syncs only
//!   the first book); its cards at `/dav/books/kith/<href>`;
//! - `/dav/books/team/` with `--team`: teammates' shared people, read-only.
//!
//! One file per method, as Radicale has it: [`options`], [`propfind`],
//! [`report`], [`get`], [`put`], [`delete`]; [`auth`] checks every request
//! first, [`xml`] reads and writes the bodies and [`team`] is the team book.
//!
//! The ledger is one [`Ledger`] behind a mutex, used on blocking threads
//! with its clock set per request (as `kith ui` does), with the [`Book`]
//! beside it; the book is refreshed from the ledger before every answer, so
//! edits from the CLI, `kith ui`, another phone and the daemon all show.

// Handlers answer `Result<Response, Response>`: the error is the refusal
// to send, as large as any answer, and never kept or passed far.
#![allow(clippy::result_large_err)]

mod auth;
mod delete;
mod get;
mod options;
mod propfind;
mod put;
mod report;
mod team;
mod tls;
pub mod xml;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::cards::{Book, CardError};
use crate::error::{Error, Result};
use crate::ledger::{Ledger, OpenOptions};
use crate::ui::Clock;

/// The largest request body read: a card with its photo, or a REPORT.
pub const MAX_BODY: usize = 1024 * 1024;

/// How `kith carddav serve` is started.
pub struct Options {
    pub home: PathBuf,
    pub time_zone: jiff::tz::TimeZone,
    pub clock: Clock,
    /// Where to listen; anything but loopback needs `tls`.
    pub listen: SocketAddr,
    /// Serve the team's read-only book too.
    pub team: bool,
    /// Serve HTTPS with this certificate.
    pub tls: Option<crate::devices::Tls>,
}

/// A bound server: its URL is known before it answers.
pub struct Server {
    listener: tokio::net::TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    state: State,
    url: String,
}

impl Server {
    /// Opens the ledger and its book and binds the port. A non-loopback
    /// address without TLS is refused: passwords would cross the network
    /// in the clear.
    pub async fn bind(opts: Options) -> Result<Server> {
        if !opts.listen.ip().is_loopback() && opts.tls.is_none() {
            return Err(Error::invalid(format!(
                "kith carddav serves plain HTTP only on 127.0.0.1 or ::1, not {}: use TLS (a self-signed certificate, or --cert and --key)",
                opts.listen.ip()
            )));
        }
        let acceptor = match &opts.tls {
            Some(t) => Some(tls::acceptor(t)?),
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|e| Error::invalid(format!("cannot listen on {}: {e}", opts.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::invalid(format!("cannot listen on {}: {e}", opts.listen)))?;
        let state = State::open(&opts).await?;
        let host = match addr.ip() {
            IpAddr::V4(ip) => format!("{ip}:{}", addr.port()),
            IpAddr::V6(ip) => format!("[{ip}]:{}", addr.port()),
        };
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        Ok(Server {
            listener,
            acceptor,
            state,
            url: format!("{scheme}://{host}/"),
        })
    }

    /// The server's base URL, e.g. `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Serves until `shutdown` completes, then finishes the requests under
    /// way (a write in progress completes: it runs on its own thread).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let state = self.state.clone();
        let app = axum::Router::new().fallback(
            move |ConnectInfo(peer): ConnectInfo<Peer>, req: Request| {
                let state = state.clone();
                async move { dispatch(state, peer.0, req).await }
            },
        );
        let app = app.into_make_service_with_connect_info::<Peer>();
        let result = match self.acceptor {
            None => {
                axum::serve(self.listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
            }
            Some(acceptor) => {
                axum::serve(tls::Listener::new(self.listener, acceptor), app)
                    .with_graceful_shutdown(shutdown)
                    .await
            }
        };
        result.map_err(|e| Error::invalid(format!("the CardDAV server stopped: {e}")))
    }
}

/// The address a request came from, for the failure throttle.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for Peer
{
    fn connect_info(s: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Peer {
        Peer(*s.remote_addr())
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tls::Listener>>
    for Peer
{
    fn connect_info(s: axum::serve::IncomingStream<'_, tls::Listener>) -> Peer {
        Peer(*s.remote_addr())
    }
}

/// The ledger and its book, used together under one lock.
pub(crate) struct Core {
    pub ledger: Ledger,
    pub book: Book,
}

#[derive(Clone)]
pub(crate) struct State(Arc<Inner>);

struct Inner {
    home: PathBuf,
    tz: jiff::tz::TimeZone,
    clock: Clock,
    team: bool,
    core: Mutex<Core>,
    throttle: crate::devices::Throttle,
    logins: auth::Logins,
}

impl State {
    async fn open(opts: &Options) -> Result<State> {
        let home = opts.home.clone();
        let tz = opts.time_zone.clone();
        let now = opts.clock.now();
        let core = tokio::task::spawn_blocking(move || -> Result<Core> {
            let ledger = Ledger::open(
                &home,
                OpenOptions {
                    now,
                    time_zone: tz,
                    progress: &|_, _| {},
                },
            )?;
            let mut book = Book::open(&home)?;
            book.refresh(&ledger)?;
            Ok(Core { ledger, book })
        })
        .await
        .map_err(|e| Error::invalid(format!("opening the ledger failed: {e}")))??;
        Ok(State(Arc::new(Inner {
            home: opts.home.clone(),
            tz: opts.time_zone.clone(),
            clock: opts.clock,
            team: opts.team,
            core: Mutex::new(core),
            throttle: crate::devices::Throttle::new(),
            logins: auth::Logins::default(),
        })))
    }

    pub fn home(&self) -> &Path {
        &self.0.home
    }

    pub fn tz(&self) -> &jiff::tz::TimeZone {
        &self.0.tz
    }

    pub fn now(&self) -> jiff::Timestamp {
        self.0.clock.now()
    }

    pub fn team(&self) -> bool {
        self.0.team
    }

    /// Runs `f` on a blocking thread with the ledger (its clock set to now)
    /// and the book refreshed from it. A poisoned lock is recovered: the
    /// state lives on disk.
    pub async fn core<T, F>(&self, f: F) -> Result<T, Response>
    where
        T: Send + 'static,
        F: FnOnce(&mut Core) -> Result<T, Response> + Send + 'static,
    {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut core = state.0.core.lock().unwrap_or_else(|p| p.into_inner());
            core.ledger.set_now(state.now());
            let Core { ledger, book } = &mut *core;
            book.refresh(ledger).map_err(internal)?;
            f(&mut core)
        })
        .await
        .map_err(|e| {
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the request failed: {e}"),
            )
        })?
    }

    /// Runs `f` on a blocking thread without the ledger.
    pub async fn blocking<T, F>(&self, f: F) -> Result<T, Response>
    where
        T: Send + 'static,
        F: FnOnce(&State) -> Result<T, Response> + Send + 'static,
    {
        let state = self.clone();
        tokio::task::spawn_blocking(move || f(&state))
            .await
            .map_err(|e| {
                text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the request failed: {e}"),
                )
            })?
    }
}

/// What a request is about, by its path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// `/` or `/dav/`: where clients look for their principal.
    Root,
    Principal,
    Home,
    Book(Which),
    Card(Which, String),
}

/// Which address book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Which {
    Own,
    Team,
}

pub const PRINCIPAL: &str = "/dav/principal/";
pub const HOME: &str = "/dav/books/";

impl Which {
    pub fn path(self) -> &'static str {
        match self {
            Which::Own => "/dav/books/kith/",
            Which::Team => "/dav/books/team/",
        }
    }
}

impl Target {
    pub fn href(&self) -> String {
        match self {
            Target::Root => "/dav/".into(),
            Target::Principal => PRINCIPAL.into(),
            Target::Home => HOME.into(),
            Target::Book(w) => w.path().into(),
            Target::Card(w, h) => format!("{}{}", w.path(), xml::percent_encode(h)),
        }
    }
}

/// The target a path names; None for a path outside the server's tree.
/// Percent escapes in a card's name are decoded.
pub(crate) fn target(path: &str, team: bool) -> Option<Target> {
    let book = |w: Which| (w == Which::Own || team).then_some(w);
    match path {
        "/" | "/dav" | "/dav/" => return Some(Target::Root),
        "/dav/principal" | "/dav/principal/" => return Some(Target::Principal),
        "/dav/books" | "/dav/books/" => return Some(Target::Home),
        _ => {}
    }
    let rest = path.strip_prefix(HOME)?;
    let (name, card) = match rest.split_once('/') {
        Some((n, c)) => (n, c),
        None => (rest, ""),
    };
    let which = match name {
        "kith" => book(Which::Own)?,
        "team" => book(Which::Team)?,
        _ => return None,
    };
    if card.is_empty() {
        return Some(Target::Book(which));
    }
    let card = xml::percent_decode(card)?;
    if card.contains('/') {
        return None;
    }
    Some(Target::Card(which, card))
}

/// Every request: the unauthenticated few, then credentials, then the
/// method.
async fn dispatch(state: State, peer: SocketAddr, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    if path == "/.well-known/carddav" || path == "/.well-known/carddav/" {
        return redirect("/dav/");
    }
    if method == Method::OPTIONS {
        return options::options(&path);
    }
    let device = match auth::check(&state, peer.ip(), req.headers()).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    // What no path here allows, wherever it is asked.
    if matches!(
        method.as_str(),
        "PROPPATCH" | "MKCOL" | "MKCALENDAR" | "COPY" | "MOVE" | "LOCK" | "UNLOCK" | "POST"
    ) {
        return text(
            StatusCode::FORBIDDEN,
            format!("{method} is not something this address book allows\n"),
        );
    }
    let Some(target) = target(&path, state.team()) else {
        return text(StatusCode::NOT_FOUND, format!("nothing at {path}\n"));
    };
    let response = match method.as_str() {
        "PROPFIND" => propfind::propfind(&state, target, req).await,
        "REPORT" => report::report(&state, target, req).await,
        "GET" | "HEAD" => get::get(&state, target).await,
        "PUT" => put::put(&state, target, req, &device).await,
        "DELETE" => delete::delete(&state, target, req, &device).await,
        _ => {
            let mut r = text(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{method} is not a method this server knows\n"),
            );
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(options::ALLOW));
            Ok(r)
        }
    };
    response.unwrap_or_else(|r| r)
}

/// One card from the owner's address book or the team's, `None` when the
/// href names no card there.
pub(crate) async fn load_card(
    state: &State,
    which: Which,
    href: &str,
) -> Result<Option<crate::cards::Card>, Response> {
    let h = href.to_string();
    match which {
        Which::Own => {
            state
                .core(move |core| core.book.get(&core.ledger, &h).map_err(internal))
                .await
        }
        Which::Team => {
            state
                .blocking(move |s| team::get(s, &h).map_err(internal))
                .await
        }
    }
}

/// The href of one of the owner's own cards, which are the only things a
/// client may write; anything else is a 403 saying why (`team` for the
/// read-only team book, `other` for a book or the account).
pub(crate) fn own_card(target: Target, team: &str, other: &str) -> Result<String, Response> {
    match target {
        Target::Card(Which::Own, href) => Ok(href),
        Target::Card(Which::Team, _) | Target::Book(Which::Team) => {
            Err(text(StatusCode::FORBIDDEN, team.to_string()))
        }
        _ => Err(text(StatusCode::FORBIDDEN, other.to_string())),
    }
}

/// A request header's value, when it is there and is text.
pub(crate) fn header_text(req: &Request, name: header::HeaderName) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A plain-text answer.
pub(crate) fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

/// A 500 for a library error, its causes included.
pub(crate) fn internal(e: Error) -> Response {
    tracing::warn!(error = %e, "carddav request failed");
    text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n"))
}

/// A card error as its HTTP status, the reason in the body.
pub(crate) fn card_error(e: CardError) -> Response {
    let status = match &e {
        CardError::Changed { .. } | CardError::Exists { .. } => StatusCode::PRECONDITION_FAILED,
        CardError::Unreadable { .. } | CardError::BadHref { .. } => StatusCode::BAD_REQUEST,
        CardError::NotFound { .. } => StatusCode::NOT_FOUND,
        CardError::Ledger(inner) => {
            tracing::warn!(error = %inner, "carddav write failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    text(status, format!("{e}\n"))
}

fn redirect(to: &'static str) -> Response {
    (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, to)]).into_response()
}

/// A 207 multistatus from a body made whole.
pub(crate) fn multistatus(body: String) -> Response {
    (
        StatusCode::MULTI_STATUS,
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// A 207 multistatus whose body is sent as it is made.
pub(crate) fn multistatus_stream(body: Body) -> Response {
    (
        StatusCode::MULTI_STATUS,
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// An XML `<d:error>` answer with one precondition.
pub(crate) fn xml_error(status: StatusCode, ns: &str, name: &str, why: &str) -> Response {
    tracing::debug!(why, "carddav precondition failed");
    (
        status,
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        xml::error(ns, name),
    )
        .into_response()
}

/// The body of a request, at most [`MAX_BODY`] bytes, as UTF-8; 413 when
/// it is larger, 400 when it is not text.
pub(crate) async fn body_text(req: Request) -> Result<String, Response> {
    let too_large = || {
        text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a request body here is at most {MAX_BODY} bytes (1 MiB)\n"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
        .await
        .map_err(|_| too_large())?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| text(StatusCode::BAD_REQUEST, "the body is not UTF-8 text\n"))
}

/// The Depth header: 0, or 1 for anything else but 0 (infinity is
/// answered as 1: nothing here is deeper).
pub(crate) fn depth(req: &Request, default: u8) -> u8 {
    match req
        .headers()
        .get("depth")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
    {
        Some("0") => 0,
        Some(_) => 1,
        None => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(target("/", false), Some(Target::Root));
        assert_eq!(target("/dav/books/", false), Some(Target::Home));
        assert_eq!(
            target("/dav/books/kith", false),
            Some(Target::Book(Which::Own))
        );
        assert_eq!(target("/dav/books/team/", false), None);
        assert_eq!(
            target("/dav/books/team/", true),
            Some(Target::Book(Which::Team))
        );
        assert_eq!(
            target("/dav/books/kith/a%20b.vcf", false),
            Some(Target::Card(Which::Own, "a b.vcf".into()))
        );
        assert_eq!(target("/dav/books/kith/a%2Fb.vcf", false), None);
        assert_eq!(target("/dav/books/kith/a/b.vcf", false), None);
        assert_eq!(target("/etc/passwd", false), None);
        assert_eq!(target("/dav/books/other/", false), None);
    }
}
