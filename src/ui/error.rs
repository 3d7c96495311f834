//! Errors as pages a person can read: a status, a title and one sentence,
//! inside the same layout as every page.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::auth::with_security_headers;

#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub message: String,
}

impl PageError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> PageError {
        PageError {
            status,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> PageError {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn forbidden(message: impl Into<String>) -> PageError {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn unauthorized() -> PageError {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "open kith with the link `kith ui` printed when it started (it holds this run's key)",
        )
    }

    pub fn too_large() -> PageError {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "that is more than kith accepts in one request",
        )
    }

    pub fn bad(message: impl Into<String>) -> PageError {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    pub fn internal(message: impl Into<String>) -> PageError {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    fn title(&self) -> &'static str {
        match self.status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::UNAUTHORIZED => "Not signed in",
            StatusCode::FORBIDDEN => "Refused",
            StatusCode::PAYLOAD_TOO_LARGE => "Too large",
            StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => "That did not work",
            StatusCode::CONFLICT => "More than one match",
            _ => "Something went wrong",
        }
    }
}

impl From<crate::Error> for PageError {
    fn from(e: crate::Error) -> PageError {
        use crate::Error;
        // The status follows what went wrong at the bottom; the message
        // keeps every layer of context.
        let status = match e.root() {
            // A teammate whose ledger has not reached this device: what
            // was asked for is not here.
            Error::NotFound(_) | Error::NotReplicated(_) => StatusCode::NOT_FOUND,
            Error::Ambiguous { .. } => StatusCode::CONFLICT,
            Error::Invalid(_) | Error::BadInput { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        PageError::new(status, message(&e))
    }
}

/// The error and each cause beneath it on one line, as the CLI prints
/// them: a context ("--at 2026-13-01") says nothing without its cause.
fn message(e: &crate::Error) -> String {
    let mut line = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let text = c.to_string();
        // Libraries often repeat their cause in their own message.
        if !line.contains(&text) {
            line.push_str(&format!(": {text}"));
        }
        cause = c.source();
    }
    line
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        // Refusals stand alone: no navigation to pages the caller may not see.
        let markup = html! {
            (maud::DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (self.title()) " · kith" }
                    @if self.status != StatusCode::UNAUTHORIZED && self.status != StatusCode::FORBIDDEN {
                        link rel="stylesheet" href="/assets/app.css";
                    }
                }
                body {
                    main class="error" {
                        h1 { (self.title()) }
                        p { (self.message) }
                        @if self.status != StatusCode::UNAUTHORIZED && self.status != StatusCode::FORBIDDEN {
                            p { a href="/" { "Back to today" } }
                        }
                    }
                }
            }
        };
        with_security_headers((self.status, maud_html(markup)).into_response())
    }
}

/// A page as an HTML response.
pub fn maud_html(m: maud::Markup) -> axum::response::Html<String> {
    axum::response::Html(m.into_string())
}
