//! Team: the members and their sync state (as `kith status`), and the
//! team's questions: who knows someone, who will want something, and the
//! warmest way to reach someone. A teammate's record opens read-only with
//! its owner's name, and can be adopted into the own ledger.

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::response::{Html, Redirect};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::super::error::{PageError, maud_html};
use super::super::layout::{self, Nav, csrf, privacy, query_escape};
use super::super::state::AppState;
use crate::knows::{Contact, IntroPath, Want};
use crate::replicas::{self, Opener, Status};
use crate::view::{self, Detail, PersonView};

/// Answers shown for each question.
const LIMIT: usize = 20;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/team", get(team))
        .route("/team/{member}/people/{id}", get(teammate_person))
        .route("/team/{member}/people/{id}/adopt", post(adopt))
}

pub fn opener(state: &AppState) -> Opener {
    Opener::new(state.home(), state.now(), state.tz().clone())
}

#[derive(Deserialize, Default)]
struct TeamQuery {
    #[serde(default)]
    knows: String,
    #[serde(default)]
    wants: String,
    #[serde(default)]
    intro: String,
}

struct Answers {
    status: Status,
    knows: Option<Result<Vec<Contact>, String>>,
    wants: Option<Result<Vec<Want>, String>>,
    intro: Option<Result<Vec<IntroPath>, String>>,
}

async fn team(
    State(state): State<AppState>,
    Query(q): Query<TeamQuery>,
) -> Result<Html<String>, PageError> {
    let opener = opener(&state);
    let (knows, wants, intro) = (q.knows.clone(), q.wants.clone(), q.intro.clone());
    let answers = state
        .ledger(move |l| {
            let status = replicas::status(l.home(), l.time_zone())?;
            // A question that cannot be answered says why beside its box;
            // the rest of the page still shows.
            let ask = |q: &str| !q.trim().is_empty();
            let knows = ask(&knows).then(|| {
                replicas::who_knows(&opener, &*l, knows.trim(), None, LIMIT, false)
                    .map(|w| w.contacts)
                    .map_err(|e| e.to_string())
            });
            let wants = ask(&wants).then(|| {
                replicas::who_wants(&opener, &*l, wants.trim(), true, LIMIT)
                    .map_err(|e| e.to_string())
            });
            let intro = ask(&intro).then(|| {
                replicas::intro_paths(&opener, &*l, intro.trim(), 5).map_err(|e| e.to_string())
            });
            Ok(Answers {
                status,
                knows,
                wants,
                intro,
            })
        })
        .await?;
    let body = html! {
        div id="team-status" data-live { (status(&answers.status)) }
        section aria-labelledby="who-knows" {
            h2 id="who-knows" { "Who knows someone" }
            (question("knows", "A company, a person, an email domain (acme.com) or a tag (#wine)", &q.knows, "Ask"))
            div id="knows-answers" data-live {
                @match &answers.knows {
                    Some(Ok(contacts)) => { (who_knows(&q.knows, contacts)) }
                    Some(Err(e)) => { p class="error-text" role="alert" { (e) } }
                    None => {}
                }
            }
        }
        section aria-labelledby="who-wants" {
            h2 id="who-wants" { "Who will want it" }
            (question("wants", "A product or topic: wine, the spring catalogue…", &q.wants, "Ask"))
            div id="wants-answers" data-live {
                @match &answers.wants {
                    Some(Ok(wants)) => { (who_wants(&q.wants, wants)) }
                    Some(Err(e)) => { p class="error-text" role="alert" { (e) } }
                    None => {}
                }
            }
        }
        section aria-labelledby="intro-path" {
            h2 id="intro-path" { "A warm way in" }
            (question("intro", "The person you want to reach", &q.intro, "Find a path"))
            div id="intro-answers" data-live {
                @match &answers.intro {
                    Some(Ok(paths)) => { (intro_paths(&q.intro, paths)) }
                    Some(Err(e)) => { p class="error-text" role="alert" { (e) } }
                    None => {}
                }
            }
        }
    };
    Ok(maud_html(layout::page(&state, "Team", Nav::Team, body)))
}

/// One question box: a GET form, so an answer has a URL to come back to.
fn question(name: &str, hint: &str, value: &str, button: &str) -> Markup {
    let id = format!("ask-{name}");
    html! {
        form class="filters" method="get" action="/team" {
            label for=(id) { (hint) }
            input id=(id) name=(name) type="search" value=(value) autocomplete="off";
            button type="submit" { (button) }
        }
    }
}

fn status(s: &Status) -> Markup {
    let others: Vec<_> = s.members.iter().filter(|m| !m.you).collect();
    html! {
        section aria-labelledby="members" {
            h2 id="members" {
                @match &s.team { Some(t) => { "Team " (t) }, None => "No team yet" }
            }
            @if s.daemon {
                p { "The sync daemon is running" @if !s.listen.is_empty() { ", listening on " (s.listen.join(", ")) } "." }
            } @else {
                p class="muted" { "The sync daemon is not running: start it with " code { "kith daemon" } " to share with your team." }
            }
            @if s.team.is_none() {
                p { "Create a team with " code { "kith team create NAME --as YOU" } ", or join one with a ticket: " code { "kith team join TICKET --as YOU" } "." }
            }
            @if !others.is_empty() {
                table {
                    caption class="visually-hidden" { "Members and their sync state" }
                    thead { tr { th scope="col" { "Member" } th scope="col" { "State" } th scope="col" { "Last synced" } } }
                    tbody {
                        @for m in others {
                            tr {
                                th scope="row" { (m.name) }
                                td {
                                    @if let Some(left) = &m.left {
                                        "left on " (left.get(..10).unwrap_or(left))
                                    } @else if m.connected {
                                        strong class="good" { "connected" }
                                        @if let Some(via) = &m.via {
                                            " (relayed via " (via) ")"
                                        } @else {
                                            " (direct)"
                                        }
                                    } @else {
                                        "not connected"
                                    }
                                }
                                td { (m.last_synced.as_deref().unwrap_or("never")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Where a record opens: the own ledger's page, or a teammate's read-only one.
fn record_href(mine: bool, owner_id: Option<&str>, id: &crate::model::Id) -> String {
    match (mine, owner_id) {
        (false, Some(owner)) => format!("/team/{owner}/people/{}", id.as_str()),
        _ => format!("/people/{}", id.as_str()),
    }
}

fn who_knows(query: &str, contacts: &[Contact]) -> Markup {
    html! {
        @if contacts.is_empty() {
            p class="empty" { "No one on the team knows anyone matching “" (query) "”." }
        } @else {
            ul class="cards" {
                @for c in contacts {
                    li {
                        div class="line" {
                            strong { (c.name) }
                            @if let Some(co) = &c.company { span class="sub" { " · " (co) } }
                        }
                        ul class="plain" {
                            @for k in &c.known_by {
                                li {
                                    a href=(record_href(k.mine, k.owner_id.as_deref(), &k.person_id)) { (k.owner) }
                                    @if !k.mine { " " span class="badge readonly" { "read-only" } }
                                    " "
                                    meter min="0" max="100" value=(k.strength) title={"strength " (k.strength)} { (k.strength) }
                                    " " (k.strength)
                                    span class="sub" {
                                        @match (&k.last_contact, &k.last_channel) {
                                            (Some(d), Some(ch)) => { " · last " (d) " " (ch) }
                                            (Some(d), None) => { " · last " (d) }
                                            _ => { " · no interactions recorded" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn who_wants(topic: &str, wants: &[Want]) -> Markup {
    html! {
        @if wants.is_empty() {
            p class="empty" { "Nothing recorded mentions “" (topic) "”." }
        } @else {
            ul class="cards" {
                @for w in wants {
                    li {
                        div class="line" {
                            strong { (w.name) }
                            @if let Some(co) = &w.company { span class="sub" { " · " (co) } }
                            " " span class="sub" { "score " (w.score) }
                        }
                        ul class="plain" {
                            @for e in &w.evidence {
                                li {
                                    span class="muted" { (e.kind) } " " (e.text)
                                    @if let Some(d) = &e.date { span class="sub" { " " (d) } }
                                    span class="sub" { " [" (e.owner) "]" }
                                    @if e.private { " " (privacy(true)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn intro_paths(who: &str, paths: &[IntroPath]) -> Markup {
    html! {
        @if paths.is_empty() {
            p class="empty" { "No warm path to “" (who) "” is recorded." }
        } @else {
            ol class="cards" {
                @for p in paths {
                    li {
                        "you"
                        @for step in &p.steps {
                            " → " strong { (step.name) }
                            span class="sub" {
                                " ("
                                @match (step.how.as_str(), &step.recorded_by) {
                                    ("teammate", _) => "teammate",
                                    ("knows", _) => { "knows, " (step.strength) }
                                    (rel, Some(by)) => { (rel) ", per " (by) }
                                    (rel, None) => { (rel) }
                                }
                                ")"
                            }
                        }
                        span class="sub" { " · weakest link " (p.weakest) }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize, Default)]
struct Notice {
    done: Option<String>,
}

async fn teammate_person(
    State(state): State<AppState>,
    Path((member, id)): Path<(String, String)>,
    Query(n): Query<Notice>,
) -> Result<Html<String>, PageError> {
    let id = super::id(&id)?;
    let opener = opener(&state);
    let (owner, v) = state
        .ledger(move |_| {
            let Some(replica) = opener.replica(&member)? else {
                return Err(PageError::not_found(format!(
                    "no teammate is called '{member}'"
                )));
            };
            let index = replica.ledger.index();
            // A company or an item there is no person either.
            let Some(e) = index
                .entity(&id)?
                .filter(|e| e.kind == crate::model::Kind::Person)
            else {
                return Err(PageError::not_found(format!(
                    "{}'s ledger has no person with the id '{id}'",
                    replica.owner.name
                )));
            };
            let v = view::person(index, &e, Detail::Full { interactions: 20 })?;
            Ok(((replica.owner.name.clone(), replica.owner.id.clone()), v))
        })
        .await?;
    let body = html! {
        (layout::notice(n.done.as_deref()))
        p { span class="badge readonly" { "read-only" } " From " strong { (owner.0) } "'s ledger: only " (owner.0) " can change it." }
        div id="teammate-record" data-live { (read_only(&v)) }
        section aria-labelledby="adopt" {
            h2 id="adopt" { "Adopt into your ledger" }
            p { "Copy this person into your own ledger, marked with where it came from, to carry the relationship on." }
            form class="stack" method="post" action={"/team/" (owner.1) "/people/" (v.id.as_str()) "/adopt"} {
                (csrf(&state))
                fieldset {
                    legend { "Also copy" }
                    label { input type="checkbox" name="facts" value="true" checked; " facts" }
                    label { input type="checkbox" name="notes" value="true"; " notes" }
                    label { input type="checkbox" name="interactions" value="true"; " interactions" }
                    label { input type="checkbox" name="relationships" value="true"; " relationships" }
                }
                div { button type="submit" { "Adopt " (v.name) } }
            }
        }
    };
    Ok(maud_html(layout::page(&state, &v.name, Nav::Team, body)))
}

/// A teammate's record: what their shared part says, nothing to edit.
fn read_only(v: &PersonView) -> Markup {
    let list = crate::model::join_labeled;
    let works = match (&v.title, &v.company) {
        (Some(t), Some(c)) => Some(format!("{t} at {c}")),
        (t, c) => t.clone().or_else(|| c.clone()),
    };
    html! {
        dl class="card" {
            @if let Some(w) = works {
                dt { "works" } dd { (w) }
            }
            @if !v.emails.is_empty() { dt { "email" } dd { (list(&v.emails)) } }
            @if !v.phones.is_empty() { dt { "phone" } dd { (list(&v.phones)) } }
            @if !v.addresses.is_empty() { dt { "address" } dd { (list(&v.addresses)) } }
            @if let Some(b) = &v.birthday { dt { "birthday" } dd { (b) } }
            @if !v.tags.is_empty() { dt { "tags" } dd { (v.tags.join(", ")) } }
        }
        @if !v.facts.is_empty() {
            h2 { "Facts" }
            ul class="cards" { @for f in &v.facts { li { (f.text) span class="sub" { " (" (f.date) ")" } } } }
        }
        @if let Some(items) = v.interactions.as_ref().filter(|i| !i.is_empty()) {
            h2 { "Interactions" }
            ul class="cards" {
                @for i in items {
                    li { (i.at.get(..10).unwrap_or(&i.at)) " " span class="muted" { (i.channel) } " " (i.summary.as_deref().unwrap_or("")) }
                }
            }
        }
    }
}

#[derive(Deserialize, Default)]
struct AdoptForm {
    #[serde(default)]
    facts: bool,
    #[serde(default)]
    notes: bool,
    #[serde(default)]
    interactions: bool,
    #[serde(default)]
    relationships: bool,
}

async fn adopt(
    State(state): State<AppState>,
    Path((member, id)): Path<(String, String)>,
    Form(f): Form<AdoptForm>,
) -> Result<Redirect, PageError> {
    let id = super::id(&id)?;
    let opener = opener(&state);
    let adopted = state
        .ledger(move |l| {
            let Some(replica) = opener.replica(&member)? else {
                return Err(PageError::not_found(format!(
                    "no teammate is called '{member}'"
                )));
            };
            let Some(person) = replica.ledger.index().entity(&id)? else {
                return Err(PageError::not_found(format!("no record has the id '{id}'")));
            };
            let choice = crate::adopt::Choice {
                facts: f.facts,
                notes: f.notes,
                interactions: f.interactions,
                relationships: f.relationships,
                items: Vec::new(),
            };
            Ok(replicas::adopt(l, &replica, &person, &choice)?.1)
        })
        .await?;
    let how = if adopted.created {
        "Adopted"
    } else {
        "Already yours; added what was missing to"
    };
    Ok(Redirect::to(&format!(
        "/people/{}?done={}",
        adopted.person.as_str(),
        query_escape(&format!("{how} {}", adopted.name))
    )))
}
