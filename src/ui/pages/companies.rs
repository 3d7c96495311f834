//! Companies: every company with how many people work there, as
//! `kith list --companies` shows them; and one company's page, as
//! `kith show` shows it: domain, tags, people, facts and notes.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;

use super::super::error::{PageError, maud_html};
use super::super::layout::{self, Nav};
use super::super::state::AppState;
use crate::model::Kind;
use crate::view::{self, CompanyView, Detail, ItemView};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/companies", get(list))
        .route("/companies/{id}", get(company))
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    removed: bool,
    done: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>, PageError> {
    let removed = q.removed;
    let companies = state
        .ledger(move |l| {
            let index = l.index();
            Ok(l.list_companies(removed, None)?
                .iter()
                .map(|c| view::company(index, c, Detail::Summary))
                .collect::<crate::Result<Vec<_>>>()?)
        })
        .await?;
    let body = html! {
        (layout::notice(q.done.as_deref()))
        p class="actions" {
            a class="button" href="/add#company" { "Add a company" }
            " "
            @if removed {
                a href="/companies" { "Show current companies" }
            } @else {
                a href="/companies?removed=true" { "Show removed companies" }
            }
        }
        div id="companies" data-live {
            @if companies.is_empty() {
                p class="empty" {
                    @if removed { "No removed companies." } @else {
                        "No companies yet. " a href="/add#company" { "Add one" }
                        ", or give someone a company when you " a href="/add" { "add them" } "."
                    }
                }
            } @else {
                p class="count" {
                    (companies.len()) " " @if companies.len() == 1 { "company" } @else { "companies" }
                    @if removed { " removed" }
                }
                ul class="people" {
                    @for c in &companies {
                        li {
                            a class="name" href={ "/companies/" (c.id.as_str()) } { (c.name) }
                            @if c.deleted { " " span class="badge removed" { "removed" } }
                            span class="sub" { (people_count(c.people.len())) }
                            @if let Some(d) = &c.domain { span class="sub" { (d) } }
                            @for t in &c.tags { span class="tag" { (t) } }
                        }
                    }
                }
            }
        }
    };
    let title = if removed {
        "Removed companies"
    } else {
        "Companies"
    };
    Ok(maud_html(layout::page(&state, title, Nav::Companies, body)))
}

fn people_count(n: usize) -> String {
    match n {
        1 => "1 person".to_string(),
        n => format!("{n} people"),
    }
}

#[derive(Deserialize, Default)]
struct CompanyQuery {
    done: Option<String>,
}

async fn company(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Query(q): Query<CompanyQuery>,
) -> Result<Html<String>, PageError> {
    let id = super::id(&raw)?;
    let v = state
        .ledger(move |l| {
            let e = l.entity(&id)?;
            if e.kind != Kind::Company {
                return Err(PageError::not_found(format!(
                    "no company has the id '{}'",
                    id.as_str()
                )));
            }
            Ok(view::company(
                l.index(),
                &e,
                Detail::Full { interactions: 0 },
            )?)
        })
        .await?;
    let body = html! {
        (layout::notice(q.done.as_deref()))
        div id="company" data-live { (render(&state, &v)) }
    };
    Ok(maud_html(layout::page(
        &state,
        &v.name,
        Nav::Companies,
        body,
    )))
}

fn render(state: &AppState, v: &CompanyView) -> Markup {
    let private = |field: &str| v.private.iter().any(|f| f == field);
    html! {
        section aria-labelledby="about" {
            h2 id="about" { "About" }
            dl class="card" {
                @if v.deleted {
                    dt { "Status" }
                    dd { span class="badge removed" { "removed" } }
                }
                dt { "Name" }
                dd { (v.name) " " (layout::privacy(private("name"))) }
                dt { "Domain" }
                dd {
                    @match &v.domain {
                        Some(d) => { (d) " " (layout::privacy(private("domain"))) }
                        None => span class="muted" { "none" },
                    }
                }
                dt { "Tags" }
                dd {
                    @if v.tags.is_empty() {
                        span class="muted" { "none" }
                    } @else {
                        @for t in &v.tags {
                            a class="tag" href={ "/people?tag=" (layout::query_escape(t)) } { (t) }
                        }
                        " " (layout::privacy(private("tags")))
                    }
                }
                dt { "Id" }
                dd { code { (v.id.as_str()) } }
            }
        }
        section aria-labelledby="people" {
            h2 id="people" { "People (" (v.people.len()) ")" }
            @if v.people.is_empty() {
                p class="empty" { "No one here yet." }
            } @else {
                ul class="people" {
                    @for p in &v.people {
                        li {
                            a class="name" href={ "/people/" (p.id.as_str()) } { (p.name) }
                            @if let Some(t) = &p.title { span class="sub" { (t) } }
                        }
                    }
                }
                p { a href={ "/people?company=" (v.id.as_str()) } { "These people in the People list" } }
            }
            @if !v.deleted {
                p { a href={ "/add?company=" (layout::query_escape(&v.name)) "#person" } { "Add someone at " (v.name) } }
            }
        }
        (items(state, "facts", "Facts", &v.facts))
        @if let Some(notes) = &v.notes {
            (items(state, "notes", "Notes", notes))
        }
    }
}

fn items(state: &AppState, id: &str, heading: &str, list: &[ItemView]) -> Markup {
    html! {
        section aria-labelledby=(id) {
            h2 id=(id) { (heading) }
            @if list.is_empty() {
                p class="empty" { "None yet." }
            } @else {
                ul class="cards" {
                    @for f in list {
                        li {
                            (f.text) " "
                            span class="muted" { "(" (layout::when(state, &f.date)) ")" }
                            " " (layout::privacy(f.private))
                            @if let Some(from) = &f.adopted_from {
                                " " span class="muted" { (crate::adopt::describe(from)) }
                            }
                        }
                    }
                }
            }
        }
    }
}
