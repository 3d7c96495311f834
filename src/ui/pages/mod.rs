//! Which URL does what: one module per page, each a few handlers that call
//! the library and render markup. The router is built here, in one place,
//! with the gate in front of everything.

mod add;
mod companies;
mod dupes;
mod import;
mod people;
mod person;
mod team;
mod today;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Uri;
use axum::response::Redirect;
use axum::routing::get;
use serde::Deserialize;

use super::error::PageError;
use super::state::AppState;

/// The largest form an ordinary page posts: a long note fits many times.
pub const FORM_LIMIT: usize = 256 * 1024;
/// The largest upload on the import page: an address book of 100,000
/// people with a few photos.
pub const UPLOAD_LIMIT: usize = 64 * 1024 * 1024;

/// How large a request to `path` may be; larger ones get 413.
pub fn body_limit(path: &str) -> usize {
    if path == "/import" {
        UPLOAD_LIMIT
    } else {
        FORM_LIMIT
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(today::routes())
        .merge(people::routes())
        .merge(person::routes())
        .merge(companies::routes())
        .merge(dupes::routes())
        .merge(team::routes())
        .merge(add::routes())
        .layer(DefaultBodyLimit::max(FORM_LIMIT))
        // The import route sets its own, larger limit.
        .merge(import::routes().layer(DefaultBodyLimit::max(UPLOAD_LIMIT)))
        .route("/events", get(super::live::events))
        .route("/assets/{file}", get(super::assets::serve))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(rejections_as_pages))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::auth::gate,
        ))
        .with_state(state)
}

/// axum's extractors refuse a malformed query or form (`?days=-1`, a
/// missing field) with a bare line of text; the user gets the same readable
/// page as every other refusal, with axum's reason in it.
async fn rejections_as_pages(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    let resp = next.run(req).await;
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    let status = resp.status();
    if !plain || !status.is_client_error() {
        return resp;
    }
    let bytes = axum::body::to_bytes(resp.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let reason = String::from_utf8_lossy(&bytes).trim().to_string();
    PageError::new(status, format!("the request could not be read: {reason}")).into_response()
}

async fn not_found(uri: Uri) -> PageError {
    PageError::not_found(format!("there is no page at {}", uri.path()))
}

/// Where a form goes after it worked: back where it came from, with a line
/// saying what happened. Only local paths are followed.
#[derive(Deserialize, Default)]
pub struct Back {
    #[serde(default)]
    pub next: Option<String>,
}

pub fn back_to(next: Option<&str>, fallback: &str, done: &str) -> Redirect {
    let target = next.filter(|n| local_path(n)).unwrap_or(fallback);
    let sep = if target.contains('?') { '&' } else { '?' };
    Redirect::to(&format!(
        "{target}{sep}done={}",
        super::layout::query_escape(done)
    ))
}

/// A path on this server, safe to send the browser to: it starts with one
/// `/` and holds only visible ASCII without `\\` (browsers read `/\\x` as
/// `//x`, another site; a control character is no header value).
pub fn local_path(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
}

/// What a form's ledger call refused, and beside which field it is said
/// (None: above the form).
#[derive(Default)]
pub struct Refusal {
    pub field: Option<&'static str>,
    pub message: String,
}

impl Refusal {
    pub fn at(&self, field: &str) -> Option<&str> {
        (self.field == Some(field)).then_some(self.message.as_str())
    }

    pub fn top(&self) -> Option<&str> {
        (self.field.is_none() && !self.message.is_empty()).then_some(self.message.as_str())
    }
}

/// An id from a URL, or 404 naming it.
pub fn id(raw: &str) -> Result<crate::model::Id, PageError> {
    crate::model::Id::parse(raw)
        .map_err(|_| PageError::not_found(format!("no record has the id '{raw}'")))
}

/// "private"/"shared" from a form, as the ledger's choice (None: its default).
pub fn privacy(value: Option<&str>) -> Option<crate::model::Privacy> {
    match value {
        Some("private") => Some(crate::model::Privacy::Private),
        Some("shared") => Some(crate::model::Privacy::Shared),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed() {
        assert!(local_path("/people/abc?interactions=20"));
        for bad in [
            "",
            "people",
            "//evil.com",
            "/\\evil.com",
            "/\n",
            "/\t/evil.com",
            "https://evil.com",
            "/é",
        ] {
            assert!(!local_path(bad), "{bad:?}");
        }
    }
}
