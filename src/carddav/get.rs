//! GET (and HEAD) of one card: the vCard as served, with its ETag.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{State, Target, load_card, text};

pub async fn get(state: &State, target: Target) -> Result<Response, Response> {
    let Target::Card(which, href) = target else {
        return Ok(text(
            StatusCode::OK,
            "kith's CardDAV address book: add this server to a contacts app\n",
        ));
    };
    let card = load_card(state, which, &href).await?;
    let Some(card) = card else {
        return Ok(text(
            StatusCode::NOT_FOUND,
            format!("no card {href} in this address book\n"),
        ));
    };
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                "text/vcard; charset=utf-8".to_string(),
            ),
            (header::ETAG, card.etag),
        ],
        card.text,
    )
        .into_response())
}
