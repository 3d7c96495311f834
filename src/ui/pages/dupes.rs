//! Dupes: people probably entered twice, with why (`kith dupes`), merged
//! with the record chosen to keep (`kith merge`); a merge is undone with
//! `kith unmerge`'s call, from the list of records merged away.

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::super::error::{PageError, maud_html};
use super::super::layout::{self, Nav, csrf};
use super::super::state::AppState;
use super::back_to;
use crate::Ledger;
use crate::dupes::Dupe;
use crate::model::Id;
use crate::view::{self, Detail, PersonView};

/// Pairs shown at once: more than anyone merges in one sitting.
const PAIRS: usize = 200;
/// Merged-away records offered for unmerging.
const MERGED: usize = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dupes", get(dupes))
        .route("/dupes/merge", post(merge))
        .route("/dupes/unmerge", post(unmerge))
}

#[derive(Deserialize, Default)]
struct DupesQuery {
    done: Option<String>,
}

/// One likely pair with what tells the two apart.
struct Pair {
    dupe: Dupe,
    a: PersonView,
    b: PersonView,
}

/// A record merged away and the one it went into.
struct Merged {
    id: Id,
    name: String,
    into: Id,
    into_name: String,
    at: String,
}

struct Listing {
    pairs: Vec<Pair>,
    total: usize,
    merged: Vec<Merged>,
}

fn listing(l: &Ledger) -> Result<Listing, PageError> {
    let index = l.index();
    let found = l.dupes()?;
    let total = found.len();
    let mut pairs = Vec::new();
    for dupe in found.into_iter().take(PAIRS) {
        let a = view::person(index, &l.entity(&dupe.a)?, Detail::Summary)?;
        let b = view::person(index, &l.entity(&dupe.b)?, Detail::Summary)?;
        pairs.push(Pair { dupe, a, b });
    }
    let merged = l
        .merged_away(MERGED)?
        .into_iter()
        .map(|(m, keep)| Merged {
            name: m.str("name").unwrap_or("").to_string(),
            at: m.str("deleted").unwrap_or("").to_string(),
            id: m.id,
            into_name: keep.str("name").unwrap_or("").to_string(),
            into: keep.id,
        })
        .collect();
    Ok(Listing {
        pairs,
        total,
        merged,
    })
}

async fn dupes(
    State(state): State<AppState>,
    Query(q): Query<DupesQuery>,
) -> Result<Response, PageError> {
    page(&state, q.done.as_deref(), None).await
}

/// The page, with a refusal at the top when a merge or unmerge failed.
async fn page(
    state: &AppState,
    done: Option<&str>,
    refused: Option<String>,
) -> Result<Response, PageError> {
    let list = state.ledger(|l| listing(l)).await?;
    let status = if refused.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let body = html! {
        (layout::notice(done))
        @if let Some(m) = &refused { p class="field-error" role="alert" { (m) } }
        p class="muted" {
            "People who share an email or phone, or have the same or a very close name. "
            "A merge keeps one record and gives it what the other has and it lacks; "
            "the other's facts, notes and interactions move over. It can be undone."
        }
        section aria-labelledby="likely" {
            h2 id="likely" { "Likely duplicates" }
            (render_pairs(state, &list))
        }
        @if !list.merged.is_empty() {
            section aria-labelledby="merged" {
                h2 id="merged" { "Merged records" }
                ul class="cards" {
                    @for m in &list.merged {
                        li {
                            div class="line" {
                                a href={ "/people/" (m.id.as_str()) } { (m.name) }
                                " went into "
                                a href={ "/people/" (m.into.as_str()) } { (m.into_name) }
                                @if !m.at.is_empty() {
                                    " " span class="muted" { (layout::when(state, &m.at)) }
                                }
                            }
                            form class="inline" method="post" action="/dupes/unmerge" {
                                (csrf(state))
                                input type="hidden" name="id" value=(m.id.as_str());
                                button type="submit" class="secondary" {
                                    "Unmerge " span class="visually-hidden" { (m.name) " from " (m.into_name) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let markup = layout::page(state, "Duplicates", Nav::Import, body);
    Ok((status, maud_html(markup)).into_response())
}

fn render_pairs(state: &AppState, list: &Listing) -> Markup {
    html! {
        @if list.pairs.is_empty() {
            p class="empty" { "No likely duplicates." }
        } @else {
            p class="count" {
                (list.total) " " @if list.total == 1 { "pair" } @else { "pairs" }
                @if list.total > list.pairs.len() { ", the first " (list.pairs.len()) " shown" }
            }
            ul class="cards dupes" {
                @for (n, p) in list.pairs.iter().enumerate() {
                    li {
                        p class="line" {
                            strong { (p.dupe.reasons.join(", ")) }
                        }
                        form method="post" action="/dupes/merge" {
                            (csrf(state))
                            input type="hidden" name="a" value=(p.dupe.a.as_str());
                            input type="hidden" name="b" value=(p.dupe.b.as_str());
                            fieldset {
                                legend { "Keep which record? The other is merged into it." }
                                (choice(n, "a", &p.a, true))
                                (choice(n, "b", &p.b, false))
                            }
                            button type="submit" { "Merge " span class="visually-hidden" { (p.a.name) " and " (p.b.name) } }
                        }
                    }
                }
            }
        }
    }
}

/// One radio button: a record, with what tells it apart from the other.
fn choice(n: usize, side: &str, v: &PersonView, checked: bool) -> Markup {
    let id = format!("keep-{n}-{side}");
    let mut about = Vec::new();
    match (&v.title, &v.company) {
        (Some(t), Some(c)) => about.push(format!("{t} at {c}")),
        (None, Some(c)) | (Some(c), None) => about.push(c.clone()),
        (None, None) => {}
    }
    about.extend(v.emails.iter().map(|e| e.value.clone()));
    about.extend(v.phones.iter().map(|p| p.value.clone()));
    html! {
        div class="choice" {
            input id=(id) type="radio" name="keep" value=(v.id.as_str()) checked[checked];
            " "
            label for=(id) { "Keep " (v.name) " " span class="muted" { "(" (v.id.short()) ")" } }
            " " a href={ "/people/" (v.id.as_str()) } { "open" span class="visually-hidden" { " " (v.name) } }
            @if !about.is_empty() {
                div class="sub" { (about.join(" · ")) }
            }
        }
    }
}

#[derive(Deserialize)]
struct MergeForm {
    a: String,
    b: String,
    keep: String,
}

async fn merge(
    State(state): State<AppState>,
    Form(f): Form<MergeForm>,
) -> Result<Response, PageError> {
    let a = super::id(&f.a)?;
    let b = super::id(&f.b)?;
    let keep = super::id(&f.keep)?;
    let other = if keep == a {
        b
    } else if keep == b {
        a
    } else {
        return Err(PageError::bad("keep one of the two records shown"));
    };
    let result = state
        .ledger(move |l| {
            let keep = l.entity(&keep)?;
            let other = l.entity(&other)?;
            match l.merge(&keep, &other) {
                Ok(r) => Ok(Ok(format!(
                    "Merged {} into {}: {} fields, {} emails/phones/tags, {} records moved.",
                    l.describe(&other),
                    l.describe(&keep),
                    r.fields,
                    r.members,
                    r.items
                ))),
                Err(crate::Error::Invalid(m)) => Ok(Err(m)),
                Err(e) => Err(e.into()),
            }
        })
        .await?;
    match result {
        Ok(done) => Ok(back_to(None, "/dupes", &done).into_response()),
        Err(m) => page(&state, None, Some(m)).await,
    }
}

#[derive(Deserialize)]
struct UnmergeForm {
    id: String,
}

async fn unmerge(
    State(state): State<AppState>,
    Form(f): Form<UnmergeForm>,
) -> Result<Response, PageError> {
    let id = super::id(&f.id)?;
    let result = state
        .ledger(move |l| match l.unmerge(id.as_str()) {
            Ok((keep, merged)) => Ok(Ok(format!(
                "{} and {} are two records again.",
                l.describe(&keep),
                l.describe(&merged)
            ))),
            Err(crate::Error::Invalid(m)) => Ok(Err(m)),
            Err(e) => Err(e.into()),
        })
        .await?;
    match result {
        Ok(done) => Ok(back_to(None, "/dupes", &done).into_response()),
        Err(m) => page(&state, None, Some(m)).await,
    }
}
