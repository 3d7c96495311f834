//! `kith ui`: the ledger in a browser, served on the loopback interface.
//!
//! This face owns HTTP only: who may talk to it (`auth`), how pages look
//! (`layout`, `assets`), which URL does what (`pages`), and telling open
//! pages that something changed (`live`). Every answer comes from the same
//! library calls the CLI makes (`ops`, `view`, `agenda`, `knows`, `import`,
//! `dupes`, `about`, `replicas`); no ledger logic lives here, and nothing
//! here opens the store or the index except through [`crate::Ledger`].
//!
//! The server runs on the caller's tokio runtime. The ledger is one
//! [`crate::Ledger`] behind a mutex, used from blocking threads: a local
//! face has one user, and a write waits for the ledger's lock just as the
//! CLI does.

mod assets;
mod auth;
mod error;
mod layout;
mod live;
mod pages;
mod state;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use crate::error::{Error, Result};

pub use state::Clock;

/// How `kith ui` is started.
pub struct Options {
    pub home: PathBuf,
    pub time_zone: jiff::tz::TimeZone,
    pub clock: Clock,
    /// Where to listen; only loopback addresses are accepted.
    pub listen: SocketAddr,
}

/// A bound server: its URL is known before it starts answering.
pub struct Server {
    listener: tokio::net::TcpListener,
    state: state::AppState,
    url: String,
}

impl Server {
    /// Opens the ledger and binds the port. Refuses any address that is not
    /// loopback: this face has no TLS, and a ledger is nobody else's.
    pub async fn bind(opts: Options) -> Result<Server> {
        if !opts.listen.ip().is_loopback() {
            return Err(Error::invalid(format!(
                "kith ui serves only on 127.0.0.1 or ::1, not {}",
                opts.listen.ip()
            )));
        }
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|e| Error::invalid(format!("cannot listen on {}: {e}", opts.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::invalid(format!("cannot listen on {}: {e}", opts.listen)))?;
        let state = state::AppState::open(opts.home, opts.time_zone, opts.clock, addr).await?;
        let host = match addr.ip() {
            IpAddr::V4(ip) => format!("{ip}:{}", addr.port()),
            IpAddr::V6(ip) => format!("[{ip}]:{}", addr.port()),
        };
        let url = format!("http://{host}/?token={}", state.secrets().token);
        Ok(Server {
            listener,
            state,
            url,
        })
    }

    /// The whole URL, secret included: what the user opens.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Serves until `shutdown` completes, then finishes the requests under
    /// way (a write in progress always completes: it runs on its own thread).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let watcher = live::spawn_watcher(self.state.clone());
        let app = pages::router(self.state.clone());
        let state = self.state.clone();
        // Live streams never end by themselves: tell them to, or the
        // graceful shutdown would wait for them forever.
        let shutdown = async move {
            shutdown.await;
            state.closing().send_replace(true);
        };
        let result = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| Error::invalid(format!("the web server stopped: {e}")));
        watcher.abort();
        result
    }
}
