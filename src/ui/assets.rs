//! The page's own stylesheet and script, compiled into the binary: nothing
//! is fetched from anywhere else, at run time or ever.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::error::PageError;

const APP_CSS: &str = include_str!("assets/app.css");
const APP_JS: &str = include_str!("assets/app.js");

pub async fn serve(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        _ => return PageError::not_found(format!("there is no asset '{file}'")).into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            // Assets change only with the binary; a session lasts a run.
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
