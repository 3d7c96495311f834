//! PUT of one card: a new person, or field changes on one
//! ([`crate::cards::Book::apply_put`]), durable before the answer.
//!
//! The ETag is sent back only when the card kith now serves is byte for
//! byte the one sent: kith serves its own rendering of a card, and a
//! client told an ETag takes it to be the ETag of what it sent (RFC 6352
//! §6.3.2.3). Without one, clients fetch the card again on their next sync.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{State, Target, body_text, card_error, header_text, own_card};
use crate::cards::Written;

pub async fn put(
    state: &State,
    target: Target,
    req: Request,
    device: &str,
) -> Result<Response, Response> {
    let href = match own_card(
        target,
        "the team's address book is read-only: teammates' cards change in their ledgers\n",
        "only a card can be written here: PUT to /dav/books/kith/NAME.vcf\n",
    ) {
        Ok(href) => href,
        Err(refused) => return Ok(refused),
    };
    let if_match = header_text(&req, header::IF_MATCH);
    let headers = req.headers();
    let star = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "*");
    let body = body_text(req).await?;
    let device = device.to_string();
    let (outcome, served) = state
        .core(move |core| {
            let outcome = core
                .book
                .apply_put(
                    &mut core.ledger,
                    &href,
                    &body,
                    if_match.as_deref(),
                    star,
                    &device,
                )
                .map_err(card_error)?;
            let served = core
                .book
                .get(&core.ledger, &outcome.href)
                .ok()
                .flatten()
                .map(|c| c.text);
            let same = served
                .as_deref()
                .is_some_and(|t| t.replace("\r\n", "\n") == body.replace("\r\n", "\n"));
            Ok((outcome, same))
        })
        .await?;
    let status = match outcome.written {
        Written::Created => StatusCode::CREATED,
        Written::Updated => StatusCode::NO_CONTENT,
    };
    let mut r = status.into_response();
    if served && let Ok(v) = HeaderValue::from_str(&outcome.etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    Ok(r)
}
