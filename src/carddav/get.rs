//! GET (and HEAD) of one card: the vCard as served, with its ETag.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{State, Target, Which, internal, team, text};

pub async fn get(state: &State, target: Target) -> Result<Response, Response> {
    let Target::Card(which, href) = target else {
        return Ok(text(
            StatusCode::OK,
            "kith's CardDAV address book: add this server to a contacts app\n",
        ));
    };
    let card = match which {
        Which::Own => {
            let h = href.clone();
            state
                .core(move |core| core.book.get(&core.ledger, &h).map_err(internal))
                .await?
        }
        Which::Team => {
            let h = href.clone();
            state
                .blocking(move |state| team::get(state, &h).map_err(internal))
                .await?
        }
    };
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
