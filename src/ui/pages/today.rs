//! Today: birthdays and anniversaries, follow-ups due or overdue, and
//! people to get back in touch with, as `kith today` shows them; a follow-up
//! is marked done and a call logged without leaving the page.

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::response::{Html, Redirect};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::super::error::{PageError, maud_html};
use super::super::layout::{self, Nav, button_form, csrf};
use super::super::state::AppState;
use super::{Back, back_to};
use crate::agenda::Agenda;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(today))
        .route("/follow-ups/{id}/done", post(done))
}

#[derive(Deserialize)]
struct TodayQuery {
    #[serde(default = "week")]
    days: u32,
    done: Option<String>,
}

fn week() -> u32 {
    7
}

async fn today(
    State(state): State<AppState>,
    Query(q): Query<TodayQuery>,
) -> Result<Html<String>, PageError> {
    let days = q.days.min(366);
    let agenda = state.ledger(move |l| Ok(l.agenda(days, 50)?)).await?;
    let body = html! {
        (layout::notice(q.done.as_deref()))
        div id="agenda" data-live {
            (render(&state, &agenda))
        }
    };
    Ok(maud_html(layout::page(
        &state,
        &format!("Today, {}", agenda.today),
        Nav::Today,
        body,
    )))
}

fn more(total: usize, shown: usize) -> Markup {
    html! {
        @if total > shown {
            p class="more" { "…and " (total - shown) " more" }
        }
    }
}

/// A one-line form that logs a call with one person and comes back here.
pub fn quick_log(state: &AppState, person: &crate::model::Id, name: &str, next: &str) -> Markup {
    let field = format!("log-{}", person.as_str());
    html! {
        form class="quick-log" method="post" action={"/people/" (person.as_str()) "/log"} {
            (csrf(state))
            input type="hidden" name="next" value=(next);
            input type="hidden" name="channel" value="call";
            label for=(field) class="visually-hidden" { "What was said with " (name) }
            input id=(field) name="summary" type="text" required placeholder={"Log a call with " (name)};
            button type="submit" { "Log call" }
        }
    }
}

fn render(state: &AppState, agenda: &Agenda) -> Markup {
    let nothing = agenda.occasions.is_empty()
        && agenda.follow_ups.is_empty()
        && agenda.keep_in_touch.is_empty();
    html! {
        @if nothing {
            p class="empty" { "Nothing due in the next " (agenda.days) " days." }
        }
        @if !agenda.occasions.is_empty() {
            section aria-labelledby="occasions" {
                h2 id="occasions" { "Birthdays and anniversaries" }
                ul class="cards" {
                    @for o in &agenda.occasions {
                        li {
                            a href={"/people/" (o.person_id.as_str())} { (o.person) }
                            " " (o.occasion)
                            @match (o.years, o.occasion) {
                                (Some(y), "birthday") => { " (turns " (y) ")" }
                                (Some(y), _) => { " (" (y) " years)" }
                                _ => {}
                            }
                            " · " (o.date) " · "
                            @match o.in_days {
                                0 => strong class="due" { "today" },
                                1 => "tomorrow",
                                n => { "in " (n) " days" },
                            }
                        }
                    }
                }
                (more(agenda.occasions_total, agenda.occasions.len()))
            }
        }
        @if !agenda.follow_ups.is_empty() {
            section aria-labelledby="follow-ups" {
                h2 id="follow-ups" { "Follow-ups" }
                ul class="cards" {
                    @for f in &agenda.follow_ups {
                        li {
                            div class="line" {
                                a href={"/people/" (f.person_id.as_str())} { (f.person) }
                                ": " (f.text) " "
                                @if f.due.as_str() < agenda.today.as_str() {
                                    strong class="overdue" { "overdue since " (f.due) }
                                } @else if f.due == agenda.today {
                                    strong class="due" { "due today" }
                                } @else {
                                    span { "due " (f.due) }
                                }
                            }
                            (button_form(state, &format!("/follow-ups/{}/done", f.id.as_str()), "Done", "done"))
                        }
                    }
                }
                (more(agenda.follow_ups_total, agenda.follow_ups.len()))
            }
        }
        @if !agenda.keep_in_touch.is_empty() {
            section aria-labelledby="keep-in-touch" {
                h2 id="keep-in-touch" { "Keep in touch" }
                ul class="cards" {
                    @for k in &agenda.keep_in_touch {
                        li {
                            div class="line" {
                                a href={"/people/" (k.person_id.as_str())} { (k.person) }
                                " (every " (k.every) ", "
                                @match &k.last_contact {
                                    Some(l) => { "last contact " (layout::when(state, l)) }
                                    None => "no contact yet",
                                }
                                "): "
                                @if k.days_overdue > 0 {
                                    strong class="overdue" { (k.days_overdue) " days overdue" }
                                } @else if k.days_overdue == 0 {
                                    strong class="due" { "due today" }
                                } @else {
                                    span { "due in " (-k.days_overdue) " days" }
                                }
                            }
                            (quick_log(state, &k.person_id, &k.person, "/"))
                        }
                    }
                }
                (more(agenda.keep_in_touch_total, agenda.keep_in_touch.len()))
            }
        }
    }
}

async fn done(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Form(back): Form<Back>,
) -> Result<Redirect, PageError> {
    // The whole id, of a follow-up, or 404: a URL is no place for the
    // prefixes `kith done` takes.
    let id = super::id(&raw)?;
    let item = state
        .ledger(move |l| {
            match l.entity(&id) {
                Ok(e) if e.kind == crate::model::Kind::FollowUp => {}
                Ok(_) | Err(crate::Error::NotFound(_)) => {
                    return Err(PageError::not_found(format!(
                        "no follow-up has the id '{}'",
                        id.as_str()
                    )));
                }
                Err(e) => return Err(e.into()),
            }
            Ok(l.done(id.as_str())?)
        })
        .await?;
    let text = item.str("text").unwrap_or("follow-up").to_string();
    Ok(back_to(back.next.as_deref(), "/", &format!("Done: {text}")))
}
