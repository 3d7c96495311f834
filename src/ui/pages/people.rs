//! People: everyone by sort name, a page at a time, filtered by tag or
//! company; or, with a query, what `kith find` finds (typos forgiven,
//! facts and interactions searched), refreshed as the user types.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;

use super::super::error::{PageError, maud_html};
use super::super::layout::{self, Nav, query_escape};
use super::super::state::AppState;
use crate::model::Kind;
use crate::ops::ListFilter;
use crate::view::{self, Detail, PersonView};

/// People on one page of the listing.
const PAGE: usize = 50;
/// Search results shown at once.
const HITS: usize = 50;
/// A query shorter than this lists instead of searching: one letter
/// matches most of a large ledger and tells nobody anything.
const MIN_QUERY: usize = 2;

pub fn routes() -> Router<AppState> {
    Router::new().route("/people", get(people))
}

#[derive(Deserialize, Default, Clone)]
struct PeopleQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    company: String,
    after: Option<String>,
    #[serde(default)]
    removed: bool,
    /// Only the results, for search as you type.
    #[serde(default)]
    partial: bool,
    done: Option<String>,
}

/// What the results part shows.
enum Results {
    /// Own hits, then teammates' (read-only, with their owner).
    Found(Vec<(Row, String)>, Vec<(Row, String)>),
    Listed {
        people: Vec<Row>,
        next: Option<String>,
        total: usize,
    },
}

struct Filters {
    tags: Vec<String>,
    company_name: Option<String>,
    /// Why the company filter was refused (then nothing is listed).
    company_error: Option<String>,
}

async fn people(
    State(state): State<AppState>,
    Query(q): Query<PeopleQuery>,
) -> Result<Response, PageError> {
    let query = q.clone();
    let state_opener = super::team::opener(&state);
    let (results, filters) = state
        .ledger(move |l| {
            let index = l.index();
            // A company the ledger does not know is said beside its box.
            let company = match query.company.trim() {
                "" => None,
                c => match l.resolve(c, &[Kind::Company], false) {
                    Ok(c) => Some(c),
                    Err(
                        e @ (crate::Error::NotFound(_)
                        | crate::Error::Ambiguous { .. }
                        | crate::Error::Invalid(_)),
                    ) => {
                        let filters = Filters {
                            tags: l.tag_names(500)?,
                            company_name: None,
                            company_error: Some(e.to_string()),
                        };
                        return Ok((None, filters));
                    }
                    Err(e) => return Err(e.into()),
                },
            };
            let results = if query.q.trim().chars().count() < MIN_QUERY {
                let filter = ListFilter {
                    tag: Some(query.tag.trim().to_string()).filter(|t| !t.is_empty()),
                    company: company.as_ref().map(|c| c.id.clone()),
                    removed: query.removed,
                    limit: None,
                };
                let page = l.people_page(&filter, query.after.as_deref(), PAGE)?;
                Results::Listed {
                    people: view::summaries(index, page.people)?
                        .into_iter()
                        .map(Row::person)
                        .collect(),
                    next: page.next,
                    total: page.total,
                }
            } else {
                let mut found = Vec::new();
                for hit in index.find(&query.q, HITS, query.removed)? {
                    let Some(e) = index.entity(&hit.id)? else {
                        continue;
                    };
                    let v = match hit.kind {
                        Kind::Person => Row::person(view::person(index, &e, Detail::Summary)?),
                        // Companies have their own page; a match still
                        // shows here, as a link to it.
                        _ => Row::company(&e),
                    };
                    found.push((v, hit.why));
                }
                Results::Found(found, team_hits(&state_opener, &query.q)?)
            };
            // The filter form is not part of an answer to a keystroke.
            let filters = Filters {
                tags: if query.partial {
                    Vec::new()
                } else {
                    l.tag_names(500)?
                },
                company_name: company.and_then(|c| c.str("name").map(str::to_string)),
                company_error: None,
            };
            Ok((Some(results), filters))
        })
        .await?;
    let status = if filters.company_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let list = match &results {
        Some(results) => render_results(&q, results),
        None => html! {},
    };
    if q.partial {
        return Ok((status, Html(list.into_string())).into_response());
    }
    let body = html! {
        (layout::notice(q.done.as_deref()))
        form class="filters" method="get" action="/people" {
            label for="people-q" { "Search" }
            input id="people-q" name="q" type="search" value=(q.q) autocomplete="off"
                data-search-target="#results" placeholder="name, email, company, fact…";
            label for="tag" { "Tag" }
            select id="tag" name="tag" {
                option value="" { "any" }
                @for tag in &filters.tags {
                    option value=(tag) selected[*tag == q.tag] { (tag) }
                }
            }
            label for="company" { "Company" }
            input id="company" name="company" type="text" value=(filters.company_name.as_deref().unwrap_or(&q.company))
                aria-invalid=[filters.company_error.as_ref().map(|_| "true")];
            (layout::field_error(filters.company_error.as_deref()))
            label class="check" { input type="checkbox" name="removed" value="true" checked[q.removed]; " Removed people" }
            button type="submit" { "Show" }
        }
        div id="results" data-live aria-live="polite" { (list) }
    };
    Ok((
        status,
        maud_html(layout::page(&state, "People", Nav::People, body)),
    )
        .into_response())
}

/// One line of a listing: a person, or a company that matched a search.
pub struct Row {
    href: String,
    name: String,
    company: bool,
    deleted: bool,
    sub: Vec<String>,
    tags: Vec<String>,
    /// For a teammate's record: whose ledger it is in.
    owner: Option<String>,
}

impl Row {
    pub fn person(p: PersonView) -> Row {
        let mut sub = Vec::new();
        match (p.title, p.company) {
            (Some(t), Some(c)) => sub.push(format!("{t} at {c}")),
            (None, Some(c)) | (Some(c), None) => sub.push(c),
            (None, None) => {}
        }
        if let Some(e) = p.emails.into_iter().next() {
            sub.push(e.value);
        }
        Row {
            href: format!("/people/{}", p.id.as_str()),
            name: p.name,
            company: false,
            deleted: p.deleted,
            sub,
            tags: p.tags,
            owner: None,
        }
    }

    fn company(e: &crate::model::Entity) -> Row {
        Row {
            href: format!("/companies/{}", e.id.as_str()),
            name: e.str("name").unwrap_or("").to_string(),
            company: true,
            deleted: e.is_deleted(),
            sub: Vec::new(),
            tags: Vec::new(),
            owner: None,
        }
    }
}

/// What teammates' ledgers held here have that matches: read-only rows
/// that open the teammate's record. Nothing when no replica is held.
fn team_hits(opener: &crate::replicas::Opener, query: &str) -> crate::Result<Vec<(Row, String)>> {
    let mut out = Vec::new();
    for replica in opener.replicas()? {
        let label = replica.label(&opener.tz);
        for f in crate::replicas::find(&replica.ledger, query, HITS)? {
            if f.kind != Kind::Person {
                continue;
            }
            out.push((
                Row {
                    href: format!("/team/{}/people/{}", replica.owner.id, f.id.as_str()),
                    name: f.name,
                    company: false,
                    deleted: false,
                    sub: f.company.into_iter().collect(),
                    tags: Vec::new(),
                    owner: Some(label.clone()),
                },
                f.why,
            ));
        }
    }
    Ok(out)
}

fn render_results(q: &PeopleQuery, results: &Results) -> Markup {
    html! {
        @match results {
            Results::Found(found, team) => {
                @if found.is_empty() {
                    p class="empty" { "Nothing in your ledger matches “" (q.q) "”." }
                } @else {
                    p class="count" { (found.len()) " found" }
                    ul class="people" {
                        @for (p, why) in found { (row(p, Some(why))) }
                    }
                }
                @if !team.is_empty() {
                    h2 { "From the team" }
                    ul class="people" {
                        @for (p, why) in team { (row(p, Some(why))) }
                    }
                }
            }
            Results::Listed { people, next, total } => {
                @if !q.q.trim().is_empty() {
                    p class="muted" { "Type another letter to search; until then, everyone by name." }
                }
                @if people.is_empty() {
                    p class="empty" { "No one here yet. " a href="/add" { "Add someone" } " or " a href="/import" { "import an address book" } "." }
                } @else {
                    p class="count" { (total) " " @if *total == 1 { "person" } @else { "people" } }
                    ul class="people" {
                        @for p in people { (row(p, None)) }
                    }
                    @if let Some(next) = next {
                        nav class="paging" aria-label="More people" {
                            a rel="next" href={ "/people?tag=" (query_escape(&q.tag)) "&company=" (query_escape(&q.company))
                                @if q.removed { "&removed=true" } "&after=" (query_escape(next)) } { "Next page →" }
                        }
                    }
                }
            }
        }
    }
}

fn row(p: &Row, why: Option<&String>) -> Markup {
    html! {
        li {
            a class="name" href=(p.href) { (p.name) }
            @if p.company { span class="muted" { " (company)" } }
            @if p.deleted { " " span class="badge removed" { "removed" } }
            @if let Some(owner) = &p.owner { " " span class="badge readonly" { (owner) "'s, read-only" } }
            @for s in &p.sub { span class="sub" { (s) } }
            @for t in &p.tags { span class="tag" { (t) } }
            @if let Some(why) = why { span class="why" { (why) } }
        }
    }
}
