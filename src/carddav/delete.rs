//! DELETE of one card: the person is removed as `kith rm` removes them
//! (`kith restore` brings them back), durable before the 204.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{State, Target, card_error, header_text, own_card};

pub async fn delete(
    state: &State,
    target: Target,
    req: Request,
    device: &str,
) -> Result<Response, Response> {
    let href = match own_card(
        target,
        "the team's address book is read-only\n",
        "only a card can be deleted here, not an address book or the account\n",
    ) {
        Ok(href) => href,
        Err(refused) => return Ok(refused),
    };
    let if_match = header_text(&req, header::IF_MATCH);
    let device = device.to_string();
    state
        .core(move |core| {
            core.book
                .delete(&mut core.ledger, &href, if_match.as_deref(), &device)
                .map_err(card_error)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
