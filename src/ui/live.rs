//! Open pages follow the ledger: a watcher notices when the CLI, another
//! face or the daemon (storing a teammate's changes) wrote, and every open
//! page hears it over server-sent events and refreshes the parts of itself
//! marked `data-live`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;

use super::state::AppState;

/// How often the watcher looks. A look is a few small file reads, so a
/// page is at most this late.
const POLL: Duration = Duration::from_millis(200);

/// Starts the watcher: it compares the ledger's change fingerprint with the
/// last one it saw and, when it moved, tells every open page.
pub fn spawn_watcher(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let home = state.home().to_path_buf();
        let mut last = crate::watch::fingerprint(&home);
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let home = home.clone();
            let Ok(now) =
                tokio::task::spawn_blocking(move || crate::watch::fingerprint(&home)).await
            else {
                continue;
            };
            if now != last {
                last = now;
                state.changes().send_modify(|n| *n += 1);
            }
        }
    })
}

/// `GET /events`: one `change` event each time the ledger changes. The
/// stream ends when the server stops, so shutdown is not held up.
pub async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut changes = state.changes().subscribe();
    let mut closing = state.closing().subscribe();
    let stream = async_stream(move |tx| async move {
        let stop = async move {
            loop {
                if *closing.borrow_and_update() || closing.changed().await.is_err() {
                    break;
                }
            }
        };
        tokio::pin!(stop);
        loop {
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let n = *changes.borrow_and_update();
                    if tx.send(Ok(Event::default().event("change").data(n.to_string()))).await.is_err() {
                        break;
                    }
                }
                _ = &mut stop => break,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// A stream fed by an async task through a small channel.
fn async_stream<T, F, Fut>(f: F) -> impl Stream<Item = T>
where
    T: Send + 'static,
    F: FnOnce(tokio::sync::mpsc::Sender<T>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(f(tx));
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
