//! (being written)

use axum::Router;

use super::super::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
