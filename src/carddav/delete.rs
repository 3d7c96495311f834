//! DELETE of one card: the person is removed as `kith rm` removes them
//! (`kith restore` brings them back), durable before the 204.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{State, Target, Which, card_error, text};

pub async fn delete(
    state: &State,
    target: Target,
    req: Request,
    device: &str,
) -> Result<Response, Response> {
    let href = match target {
        Target::Card(Which::Own, href) => href,
        Target::Card(Which::Team, _) | Target::Book(Which::Team) => {
            return Ok(text(
                StatusCode::FORBIDDEN,
                "the team's address book is read-only\n",
            ));
        }
        _ => {
            return Ok(text(
                StatusCode::FORBIDDEN,
                "only a card can be deleted here, not an address book or the account\n",
            ));
        }
    };
    let if_match = req
        .headers()
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
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
