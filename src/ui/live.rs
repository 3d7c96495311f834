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

/// How often the watcher looks when it was not woken: where the system
/// gives no file watcher this is how late a page can be; otherwise it only
/// catches a replica that arrived before its directory was watched.
const POLL: Duration = Duration::from_millis(200);
const POLL_WHEN_WOKEN: Duration = Duration::from_secs(2);

/// Starts the watcher: woken by a change in the ledger, the team folder or
/// a replica (inotify), or by its poll, it compares the change fingerprint
/// with the last one it saw and, when it moved, tells every open page.
pub fn spawn_watcher(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let home = state.home().to_path_buf();
        let mut watch = crate::watch::DirWatch::new();
        let wake = watch.wake();
        watch_dirs(&mut watch, &home);
        let poll = if watch.is_live() {
            POLL_WHEN_WOKEN
        } else {
            POLL
        };
        let mut last = crate::watch::fingerprint(&home);
        let mut tick = tokio::time::interval(poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = wake.notified() => {}
                _ = tick.tick() => {}
            }
            watch_dirs(&mut watch, &home);
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

/// The directories whose files [`crate::watch::fingerprint`] reads: the
/// own ledger, the team folder, and each replica's ledger (new replicas
/// appear in `replicas/`).
fn watch_dirs(watch: &mut crate::watch::DirWatch, home: &std::path::Path) {
    watch.watch(&home.join("ledger"));
    watch.watch(&home.join("team"));
    let replicas = home.join("replicas");
    if watch.watch(&replicas)
        && let Ok(entries) = std::fs::read_dir(&replicas)
    {
        for dir in entries.flatten() {
            watch.watch(&dir.path().join("ledger"));
        }
    }
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
