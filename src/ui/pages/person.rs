//! A person: everything `kith show` shows, each field marked private or
//! shared and editable where it stands; facts, notes, relationships, the
//! interaction timeline, follow-ups, keep-in-touch and the change history,
//! each with the form that adds to it (the CLI's `set`, `unset`, `fact`,
//! `note`, `link`, `log`, `follow-up`, `keep-in-touch`, `rm`, `restore`);
//! and the `kith about` account as a download.
//!
//! A value the ledger refuses comes back beside its field in the CLI's
//! words, status 422, with what was typed kept.

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::super::error::{PageError, maud_html};
use super::super::layout::{self, Nav, csrf, field_error, privacy, privacy_choice};
use super::super::state::AppState;
use super::back_to;
use crate::history::Event;
use crate::ledger::Ledger;
use crate::model::{Entity, Id, Kind, Labeled, Privacy};
use crate::view::{self, Detail, PersonView};

/// Interactions shown at first; "show more" adds this many each time.
const INTERACTIONS: usize = 20;
/// History events shown when asked for; "show more" adds this many each time.
/// The history is read from the automerge changes themselves (about a
/// second for a person with 1,000 interactions), so the page reads it only
/// when asked.
const HISTORY: usize = 20;
/// The most of either one page asks for.
const MOST: usize = 100_000;

/// The channels the log form offers (the CLI takes any word).
const CHANNELS: [&str; 5] = ["call", "email", "meeting", "visit", "message"];

/// The fields the edit form sets, as `kith set` names them, with labels.
const FIELDS: [(&str, &str); 16] = [
    ("name", "Name"),
    ("sort_name", "Sort name"),
    ("nickname", "Nickname"),
    ("emails", "Email (adds one)"),
    ("phones", "Phone (adds one)"),
    ("addresses", "Address (adds one)"),
    ("company", "Company"),
    ("title", "Title"),
    ("department", "Department"),
    ("birthday", "Birthday"),
    ("anniversary", "Anniversary"),
    ("tags", "Tag (adds one)"),
    ("urls", "Web address (adds one)"),
    ("impps", "Chat handle (adds one)"),
    ("lang", "Language"),
    ("gender", "Gender"),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/people/{id}", get(show))
        .route("/people/{id}/about.md", get(about_md))
        .route("/people/{id}/about.html", get(about_html))
        .route("/people/{id}/set", post(set))
        .route("/people/{id}/unset", post(unset))
        .route("/people/{id}/fact", post(fact))
        .route("/people/{id}/note", post(note))
        .route("/people/{id}/link", post(link))
        .route("/people/{id}/log", post(log))
        .route("/people/{id}/follow-up", post(follow_up))
        .route("/people/{id}/keep-in-touch", post(keep_in_touch))
        .route("/people/{id}/rm", post(remove))
        .route("/people/{id}/restore", post(restore))
}

// ---------------------------------------------------------------------------
// Reading

#[derive(Deserialize, Default, Clone)]
struct ShowQuery {
    interactions: Option<usize>,
    history: Option<usize>,
    /// The field the edit form starts on (the card's Edit links).
    edit: Option<String>,
    done: Option<String>,
}

/// Where new items go unless the form says otherwise, from the settings.
struct Defaults {
    fact: bool,
    note: bool,
    link: bool,
    summary: bool,
}

/// Everything the page shows about one person.
struct Data {
    view: PersonView,
    more_interactions: bool,
    /// Only when asked for (`?history=N`).
    history: Option<Vec<Event>>,
    more_history: bool,
    merged_into: Option<(Id, String)>,
    defaults: Defaults,
}

enum Loaded {
    Person(Box<Data>),
    Company(Id),
}

/// The person with this id, or 404: a company, an item or nothing at all
/// is not a person.
fn person_entity(l: &Ledger, id: &Id) -> Result<Entity, PageError> {
    match l.entity(id) {
        Ok(e) if e.kind == Kind::Person => Ok(e),
        Ok(_) | Err(crate::Error::NotFound(_)) => Err(PageError::not_found(format!(
            "no person has the id '{}'",
            id.as_str()
        ))),
        Err(e) => Err(e.into()),
    }
}

fn load(
    l: &mut Ledger,
    id: &Id,
    interactions: usize,
    history: Option<usize>,
) -> Result<Loaded, PageError> {
    let e = match l.entity(id) {
        Ok(e) if e.kind == Kind::Company => return Ok(Loaded::Company(e.id)),
        Ok(e) if e.kind == Kind::Person => e,
        Ok(_) | Err(crate::Error::NotFound(_)) => {
            return Err(PageError::not_found(format!(
                "no person has the id '{}'",
                id.as_str()
            )));
        }
        Err(e) => return Err(e.into()),
    };
    // One more than shown says whether there are more.
    let mut view = view::person(
        l.index(),
        &e,
        Detail::Full {
            interactions: interactions + 1,
        },
    )?;
    let mut more_interactions = false;
    if let Some(list) = view.interactions.as_mut()
        && list.len() > interactions
    {
        list.truncate(interactions);
        more_interactions = true;
    }
    let (events, more_history) = match history {
        Some(n) => {
            let mut events = l.history(&e, Some(n + 1))?;
            let more = events.len() > n;
            events.truncate(n);
            (Some(events), more)
        }
        None => (None, false),
    };
    let merged_into = match &view.merged_into {
        Some(m) => {
            let name = l
                .entity(m)
                .ok()
                .and_then(|p| p.str("name").map(str::to_string))
                .unwrap_or_else(|| m.short().to_string());
            Some((m.clone(), name))
        }
        None => None,
    };
    let defaults = Defaults {
        fact: l.default_privacy(Kind::Fact) == Privacy::Private,
        note: l.default_privacy(Kind::Note) == Privacy::Private,
        link: l.default_privacy(Kind::Link) == Privacy::Private,
        summary: l.settings.privacy.summaries == Privacy::Private,
    };
    Ok(Loaded::Person(Box::new(Data {
        view,
        more_interactions,
        history: events,
        more_history,
        merged_into,
        defaults,
    })))
}

async fn show(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Result<Response, PageError> {
    let id = super::id(&raw)?;
    render(&state, id, q, Kept::default()).await
}

/// The page, with a refused form's input and message when there is one.
async fn render(state: &AppState, id: Id, q: ShowQuery, kept: Kept) -> Result<Response, PageError> {
    let interactions = q.interactions.unwrap_or(INTERACTIONS).clamp(1, MOST);
    let history = q.history.map(|h| h.clamp(1, MOST));
    let loaded = state
        .ledger(move |l| load(l, &id, interactions, history))
        .await?;
    let data = match loaded {
        Loaded::Company(c) => {
            return Ok(Redirect::to(&format!("/companies/{}", c.as_str())).into_response());
        }
        Loaded::Person(d) => d,
    };
    let status = if kept.form.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = Page {
        state,
        d: &data,
        q: &q,
        kept: &kept,
        interactions,
        history,
    };
    let markup = layout::page(state, &data.view.name, Nav::People, page.body());
    Ok((status, maud_html(markup)).into_response())
}

// ---------------------------------------------------------------------------
// What a refused form keeps

/// A form the ledger refused: which one, the field the message is about,
/// the message, and what was typed.
#[derive(Default)]
struct Kept {
    form: &'static str,
    field: &'static str,
    message: String,
    values: Vec<(&'static str, String)>,
}

impl Kept {
    fn new(form: &'static str, field: &'static str, message: String) -> Kept {
        Kept {
            form,
            field,
            message,
            values: Vec::new(),
        }
    }

    fn with(mut self, name: &'static str, value: &str) -> Kept {
        self.values.push((name, value.to_string()));
        self
    }

    /// What was typed into `name` of `form`, if that form was refused.
    fn value(&self, form: &str, name: &str) -> Option<&str> {
        (self.form == form)
            .then(|| self.values.iter().find(|(n, _)| *n == name))
            .flatten()
            .map(|(_, v)| v.as_str())
    }

    fn text(&self, form: &str, name: &str) -> &str {
        self.value(form, name).unwrap_or("")
    }

    fn error(&self, form: &str, field: &str) -> Option<&str> {
        (self.form == form && self.field == field).then_some(self.message.as_str())
    }

    /// The privacy choice as it was sent, or the default.
    fn private(&self, form: &str, default: bool) -> bool {
        match self.value(form, "privacy") {
            Some("private") => true,
            Some("shared") => false,
            _ => default,
        }
    }
}

/// A library refusal as a message for the form, or a real failure.
fn refusal(e: crate::Error) -> Result<String, PageError> {
    match e {
        crate::Error::Invalid(_)
        | crate::Error::NotFound(_)
        | crate::Error::Ambiguous { .. }
        | crate::Error::BadInput { .. } => Ok(e.to_string()),
        other => Err(other.into()),
    }
}

/// Runs one edit of the person: Ok(what happened) or Err(the refusal).
async fn act<F>(state: &AppState, id: &Id, f: F) -> Result<Result<String, String>, PageError>
where
    F: FnOnce(&mut Ledger, &Entity) -> crate::Result<String> + Send + 'static,
{
    act_on(state, id, false, f).await
}

/// [`act`], for a person who may be removed (`rm`, `restore`).
async fn act_on<F>(
    state: &AppState,
    id: &Id,
    removed_too: bool,
    f: F,
) -> Result<Result<String, String>, PageError>
where
    F: FnOnce(&mut Ledger, &Entity) -> crate::Result<String> + Send + 'static,
{
    let id = id.clone();
    state
        .ledger(move |l| {
            let e = person_entity(l, &id)?;
            // As the CLI, which resolves no removed person for an edit.
            if e.is_deleted() && !removed_too {
                return Ok(Err(format!(
                    "{} was removed; Restore brings them back",
                    name_of(&e)
                )));
            }
            match f(l, &e) {
                Ok(done) => Ok(Ok(done)),
                Err(e) => refusal(e).map(Err),
            }
        })
        .await
}

/// After an edit: back to the page (or `next`), or the page again with the
/// refusal beside its field.
async fn answer(
    state: &AppState,
    id: Id,
    next: Option<&str>,
    result: Result<String, String>,
    kept: impl FnOnce(String) -> Kept,
) -> Result<Response, PageError> {
    match result {
        Ok(done) => Ok(back_to(next, &page_url(&id), &done).into_response()),
        Err(message) => render(state, id, ShowQuery::default(), kept(message)).await,
    }
}

fn page_url(id: &Id) -> String {
    format!("/people/{}", id.as_str())
}

fn name_of(e: &Entity) -> String {
    e.str("name").unwrap_or("").to_string()
}

// ---------------------------------------------------------------------------
// Edits

#[derive(Deserialize, Default)]
struct SetForm {
    #[serde(default)]
    field: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    privacy: String,
    next: Option<String>,
}

/// The label `kith set` knows a field by, for messages.
fn field_label(field: &str) -> String {
    FIELDS
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, l)| l.trim_end_matches(" (adds one)").to_lowercase())
        .unwrap_or_else(|| field.replace('_', " "))
}

async fn set(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Form(f): Form<SetForm>,
) -> Result<Response, PageError> {
    let id = super::id(&raw)?;
    let (field, value, choice) = (f.field.clone(), f.value.clone(), f.privacy.clone());
    let result = act(&state, &id, move |l, e| {
        l.set_field(e, &field, &value, super::privacy(Some(choice.as_str())))?;
        Ok(format!("{}: {} set", name_of(e), field_label(&field)))
    })
    .await?;
    answer(&state, id, f.next.as_deref(), result, |m| {
        // A field kith does not know is the field's fault; anything else the value's.
        let at = if m.contains("is not a person field") {
            "field"
        } else {
            "value"
        };
        Kept::new("edit", at, m)
            .with("field", &f.field)
            .with("value", &f.value)
            .with("privacy", &f.privacy)
    })
    .await
}

#[derive(Deserialize, Default)]
struct UnsetForm {
    #[serde(default)]
    field: String,
    /// For a set field: the one value to remove.
    value: Option<String>,
    next: Option<String>,
}

async fn unset(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Form(f): Form<UnsetForm>,
) -> Result<Response, PageError> {
    let id = super::id(&raw)?;
    let field = f.field.clone();
    let value = f.value.clone().filter(|v| !v.is_empty());
    let result = act(&state, &id, move |l, e| {
        l.unset_field(e, &field, value.as_deref())?;
        Ok(match value {
            Some(v) => format!("{}: {} {v} removed", name_of(e), field_label(&field)),
            None => format!("{}: {} removed", name_of(e), field_label(&field)),
        })
    })
    .await?;
    answer(&state, id, f.next.as_deref(), result, |m| {
        Kept::new("edit", "form", m).with("field", &f.field)
    })
    .await
}

#[derive(Deserialize, Default)]
struct ItemForm {
    #[serde(default)]
    text: String,
    #[serde(default)]
    learned: String,
    #[serde(default)]
    privacy: String,
    next: Option<String>,
}

fn optional(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

async fn fact(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Form(f): Form<ItemForm>,
) -> Result<Response, PageError> {
    let id = super::id(&raw)?;
    let (text, learned, choice) = (f.text.clone(), optional(&f.learned), f.privacy.clone());
    let result = act(&state, &id, move |l, e| {
        let privacy = super::privacy(Some(choice.as_str()));
        l.add_fact(e, &text, learned.as_deref(), privacy)?;
        Ok(format!("Fact about {} recorded", name_of(e)))
    })
    .await?;
    answer(&state, id, f.next.as_deref(), result, |m| {
        let at = if m.contains("fact is empty") {
            "text"
        } else {
            "learned"
        };
        Kept::new("fact", at, m)
            .with("text", &f.text)
            .with("learned", &f.learned)
            .with("privacy", &f.privacy)
    })
    .await
}

async fn note(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Form(f): Form<ItemForm>,
) -> Result<Response, PageError> {
    let id = super::id(&raw)?;
    let (text, choice) = (f.text.clone(), f.privacy.clone());
    let result = act(&state, &id, move |l, e| {
        l.add_note(e, &text, super::privacy(Some(choice.as_str())))?;
        Ok(format!("Note on {} added", name_of(e)))
    })
    .await?;
    answer(&state, id, f.next.as_deref(), result, |m| {
        Kept::new("note", "text", m)
            .with("text", &f.text)
            .with("privacy", &f.privacy)
    })
    .await
}

#[derive(Deserialize, Default)]
struct LinkForm {
    #[serde(default)]
    relation: String,
    #[serde(default)]
    other: String,
    #[serde(default)]
    privacy: String,
    next: Option<String>,
}

async fn link(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Form(f): Form<LinkForm>,
) -> Result<Response, PageError> {
    let id = super::id(&raw)?;
    let (relation, other, choice) = (f.relation.clone(), f.other.clone(), f.privacy.clone());
    // Which field a refusal is about: the other person, unless the word was.
    let result = state
        .ledger(move |l| {
            let e = person_entity(l, &id)?;
            if e.is_deleted() {
                let m = format!("{} was removed; Restore brings them back", name_of(&e));
                return Ok((id, Err(("other", m))));
            }
            let them = match l.resolve_person(&other) {
                Ok(p) => p,
                Err(err) => return Ok((id, Err(("other", refusal(err)?)))),
            };
            match l.link(&them, &relation, &e, super::privacy(Some(choice.as_str()))) {
                Ok(_) => Ok((
                    id,
                    Ok(format!(
                        "{} is {} of {}",
                        name_of(&them),
                        relation.trim().to_lowercase(),
                        name_of(&e)
                    )),
                )),
                Err(err) => {
                    let m = refusal(err)?;
                    let at = if m.contains("relationship is empty") {
                        "relation"
                    } else {
                        "other"
                    };
                    Ok((id, Err((at, m))))
                }
            }
        })
        .await?;
    let (id, result) = result;
    let at = match &result {
        Err((at, _)) => *at,
        Ok(_) => "",
    };
    answer(
        &state,
        id,
        f.next.as_deref(),
        result.map_err(|(_, m)| m),
        |m| {
            Kept::new("link", at, m)
                .with("relation", &f.relation)
                .with("other", &f.other)
                .with("privacy", &f.privacy)
        },
    )
    .await
}

#[derive(Deserialize, Default)]
struct LogForm {
    #[serde(default)]
    summary: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    date: String,
    /// "in" (they got in touch), "out" (we did), or empty.
    #[serde(default)]
    direction: String,
    #[serde(default)]
    privacy: String,
    next: Option<String>,
}

async fn log(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Form(f): Form<LogForm>,
) -> Result<Response, PageError> {
    let id = super::id(&raw)?;
    let channel = optional(&f.channel).unwrap_or_else(|| "call".into());
    let (summary, date, choice) = (f.summary.clone(), optional(&f.date), f.privacy.clone());
    let direction = crate::strength::Direction::parse(f.direction.trim());
    let result = act(&state, &id, move |l, e| {
        l.log_directed(
            std::slice::from_ref(e),
            &summary,
            &channel,
            date.as_deref(),
            super::privacy(Some(choice.as_str())),
            direction,
        )?;
        Ok(format!(
            "Logged {} with {}",
            channel.to_lowercase(),
            name_of(e)
        ))
    })
    .await?;
    answer(&state, id, f.next.as_deref(), result, |m| {
        let at = if m.contains("summary is empty") {
            "summary"
        } else if m.contains("channel is empty") {
            "channel"
        } else {
            "date"
        };
        Kept::new("log", at, m)
            .with("summary", &f.summary)
            .with("channel", &f.channel)
            .with("date", &f.date)
            .with("direction", &f.direction)
            .with("privacy", &f.privacy)
    })
    .await
}

#[derive(Deserialize, Default)]
struct FollowUpForm {
    #[serde(default)]
    text: String,
    #[serde(default)]
    due: String,
    #[serde(default)]
    privacy: String,
    next: Option<String>,
}

async fn follow_up(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Form(f): Form<FollowUpForm>,
) -> Result<Response, PageError> {
    let id = super::id(&raw)?;
    let (text, due, choice) = (f.text.clone(), f.due.clone(), f.privacy.clone());
    let result = act(&state, &id, move |l, e| {
        let new = l.follow_up(e, &text, &due, super::privacy(Some(choice.as_str())))?;
        let due = l
            .entity(&new)
            .ok()
            .and_then(|i| i.str("due").map(str::to_string))
            .unwrap_or_default();
        Ok(format!("Follow-up for {} due {due}", name_of(e)))
    })
    .await?;
    answer(&state, id, f.next.as_deref(), result, |m| {
        let at = if m.contains("follow-up is empty") {
            "text"
        } else {
            "due"
        };
        Kept::new("follow-up", at, m)
            .with("text", &f.text)
            .with("due", &f.due)
            .with("privacy", &f.privacy)
    })
    .await
}

#[derive(Deserialize, Default)]
struct KeepForm {
    #[serde(default)]
    every: String,
    next: Option<String>,
}

async fn keep_in_touch(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Form(f): Form<KeepForm>,
) -> Result<Response, PageError> {
    let id = super::id(&raw)?;
    let every = optional(&f.every);
    let result = act(&state, &id, move |l, e| {
        // Stopping what was never asked for is no error.
        if every.is_none() && e.get("cadence_days").is_none() {
            return Ok(format!("No reminders for {}", name_of(e)));
        }
        l.keep_in_touch(e, every.as_deref())?;
        Ok(match every {
            Some(every) => format!("Keep in touch with {} every {every}", name_of(e)),
            None => format!("No more reminders for {}", name_of(e)),
        })
    })
    .await?;
    answer(&state, id, f.next.as_deref(), result, |m| {
        Kept::new("keep", "every", m).with("every", &f.every)
    })
    .await
}

async fn remove(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Form(back): Form<super::Back>,
) -> Result<Response, PageError> {
    let id = super::id(&raw)?;
    let result = act_on(&state, &id, true, |l, e| {
        if e.is_deleted() {
            return Err(crate::Error::invalid(format!(
                "{} is removed already",
                name_of(e)
            )));
        }
        l.remove(e)?;
        Ok(format!("Removed {}; Restore brings them back", name_of(e)))
    })
    .await?;
    answer(&state, id, back.next.as_deref(), result, |m| {
        Kept::new("rm", "form", m)
    })
    .await
}

async fn restore(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Form(back): Form<super::Back>,
) -> Result<Response, PageError> {
    let id = super::id(&raw)?;
    let result = act_on(&state, &id, true, |l, e| {
        if !e.is_deleted() {
            return Err(crate::Error::invalid(format!(
                "{} is not removed",
                name_of(e)
            )));
        }
        l.restore(e)?;
        Ok(format!("Restored {}", name_of(e)))
    })
    .await?;
    answer(&state, id, back.next.as_deref(), result, |m| {
        Kept::new("rm", "form", m)
    })
    .await
}

// ---------------------------------------------------------------------------
// The `about` account

async fn about_md(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, PageError> {
    about(state, raw, "md").await
}

async fn about_html(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, PageError> {
    about(state, raw, "html").await
}

/// What the ledger holds about the person, as `kith about` writes it, to
/// save and hand to them.
async fn about(state: AppState, raw: String, format: &'static str) -> Result<Response, PageError> {
    let id = super::id(&raw)?;
    let account = state
        .ledger(move |l| {
            let e = person_entity(l, &id)?;
            Ok(crate::about::own_account(l, &e)?)
        })
        .await?;
    let (body, mime) = match format {
        "html" => (account.html(), "text/html; charset=utf-8"),
        _ => (account.markdown(), "text/markdown; charset=utf-8"),
    };
    let file = format!("about-{}.{format}", slug(&account.person));
    let mut resp = body.into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// "Edna Miggins" → "edna-miggins": a file name any system takes.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() { "person".into() } else { out }
}

// ---------------------------------------------------------------------------
// Markup

struct Page<'a> {
    state: &'a AppState,
    d: &'a Data,
    q: &'a ShowQuery,
    kept: &'a Kept,
    interactions: usize,
    history: Option<usize>,
}

/// One line of the card: a field's label and values.
struct Line {
    label: &'static str,
    field: &'static str,
    values: Vec<Value>,
    /// Set fields gain values; the others are replaced.
    set: bool,
}

struct Value {
    text: String,
    /// The label of a set member ("work").
    tag: String,
    private: bool,
}

impl Page<'_> {
    fn url(&self) -> String {
        page_url(&self.d.view.id)
    }

    fn action(&self, what: &str) -> String {
        format!("{}/{what}", self.url())
    }

    /// The person can be edited: not removed, not merged away.
    fn editable(&self) -> bool {
        !self.d.view.deleted
    }

    fn body(&self) -> Markup {
        let v = &self.d.view;
        html! {
            (layout::notice(self.q.done.as_deref()))
            // A refusal of a form the page no longer shows (the person was
            // removed meanwhile) is said at the top.
            @if let Some(m) = self.kept.error("rm", "form")
                .or((!self.editable() && !self.kept.message.is_empty()).then_some(self.kept.message.as_str())) {
                p class="field-error" role="alert" { (m) }
            }
            div id="status" data-live { (self.status()) }
            section aria-labelledby="h-card" {
                h2 id="h-card" { "Details" }
                div id="card" data-live { (self.card()) }
                @if self.editable() { (self.edit_form()) }
            }
            section aria-labelledby="h-timeline" {
                h2 id="h-timeline" { "Interactions" }
                @if self.editable() { (self.log_form()) }
                div id="timeline" data-live { (self.timeline()) }
            }
            section aria-labelledby="h-follow-ups" {
                h2 id="h-follow-ups" { "Follow-ups" }
                div id="follow-ups" data-live { (self.follow_ups()) }
                @if self.editable() { (self.follow_up_form()) }
            }
            section aria-labelledby="h-keep" {
                h2 id="h-keep" { "Keep in touch" }
                div id="keep" data-live { (self.keep()) }
                @if self.editable() { (self.keep_form()) }
            }
            section aria-labelledby="h-facts" {
                h2 id="h-facts" { "Facts" }
                div id="facts" data-live { (self.items(&v.facts, "No facts yet.")) }
                @if self.editable() { (self.fact_form()) }
            }
            section aria-labelledby="h-notes" {
                h2 id="h-notes" { "Notes" }
                div id="notes" data-live { (self.items(v.notes.as_deref().unwrap_or_default(), "No notes yet.")) }
                @if self.editable() { (self.note_form()) }
            }
            section aria-labelledby="h-links" {
                h2 id="h-links" { "Relationships" }
                div id="links" data-live { (self.links()) }
                @if self.editable() { (self.link_form()) }
            }
            section aria-labelledby="h-history" {
                h2 id="h-history" { "Change history" }
                div id="history" data-live { (self.history()) }
            }
            section aria-labelledby="h-account" {
                h2 id="h-account" { "Their account, and removal" }
                p {
                    "Everything this ledger holds about " (v.name) ", to hand to them when they ask: "
                    a href=(self.action("about.md")) download { "Markdown" }
                    " or "
                    a href=(self.action("about.html")) download { "a web page" }
                    "."
                }
                @if !v.deleted {
                    p class="muted" { "Removing keeps everything in the ledger's history; Restore brings them back." }
                    (self.one_button("rm", &format!("Remove {}", v.name), "danger"))
                }
            }
        }
    }

    fn one_button(&self, what: &str, label: &str, class: &str) -> Markup {
        layout::button_form(self.state, &self.action(what), label, class)
    }

    /// Removed, merged, known only by name, adopted: said before anything else.
    fn status(&self) -> Markup {
        let v = &self.d.view;
        html! {
            @if let Some((into, name)) = &self.d.merged_into {
                p class="banner" {
                    strong { "Merged away. " }
                    "This record went into "
                    a href=(page_url(into)) { (name) }
                    "; `kith unmerge` takes it apart again."
                }
            } @else if v.deleted {
                div class="banner" {
                    p { strong { (v.name) " is removed." } " Nothing here can be changed until they are restored." }
                    (self.one_button("restore", &format!("Restore {}", v.name), "secondary"))
                }
            }
            @if v.name_only {
                p class="muted" { "Known only by name: named on someone else's card." }
            }
            @if let Some(from) = &v.adopted_from {
                p class="muted" { "Adopted " (crate::adopt::describe(from)) "." }
            }
        }
    }

    fn lines(&self) -> Vec<Line> {
        let v = &self.d.view;
        let private = |f: &str| v.private.iter().any(|p| p == f);
        let one = |label, field: &'static str, value: &Option<String>| Line {
            label,
            field,
            values: value
                .iter()
                .map(|t| Value {
                    text: t.clone(),
                    tag: String::new(),
                    private: private(field),
                })
                .collect(),
            set: false,
        };
        let many = |label, field: &'static str, values: &[Labeled]| Line {
            label,
            field,
            values: values
                .iter()
                .map(|l| Value {
                    text: l.value.clone(),
                    tag: l.label.clone(),
                    private: l.private,
                })
                .collect(),
            set: true,
        };
        let tags: Vec<Labeled> = v
            .tags
            .iter()
            .map(|t| Labeled {
                value: t.clone(),
                label: String::new(),
                private: private("tags"),
            })
            .collect();
        let sort = (v.sort_name != crate::model::default_sort_name(&v.name)
            && !v.sort_name.is_empty())
        .then(|| v.sort_name.clone());
        vec![
            one("Name", "name", &Some(v.name.clone())),
            one("Sort name", "sort_name", &sort),
            one("Nickname", "nickname", &v.nickname),
            one("Title", "title", &v.title),
            one("Department", "department", &v.department),
            many("Email", "emails", &v.emails),
            many("Phone", "phones", &v.phones),
            many("Address", "addresses", &v.addresses),
            one("Birthday", "birthday", &v.birthday),
            one("Anniversary", "anniversary", &v.anniversary),
            many("Tags", "tags", &tags),
            many("Web", "urls", &v.urls),
            many("Chat", "impps", &v.impps),
            one("Language", "lang", &v.lang),
            one("Gender", "gender", &v.gender),
        ]
    }

    fn card(&self) -> Markup {
        let v = &self.d.view;
        let editable = self.editable();
        html! {
            @if v.title.is_some() || v.department.is_some() || v.company.is_some() {
                p class="lead" {
                    @if let Some(t) = &v.title { (t) }
                    @if v.title.is_some() && v.department.is_some() { ", " }
                    @if let Some(d) = &v.department { (d) }
                    @if let (Some(c), Some(cid)) = (&v.company, &v.company_id) {
                        @if v.title.is_some() || v.department.is_some() { " at " }
                        a href={"/companies/" (cid.as_str())} { (c) }
                    }
                }
            }
            dl class="card" {
                @for line in self.lines() {
                    @if !line.values.is_empty() {
                        dt { (line.label) }
                        dd {
                            @if line.set {
                                ul class="values" {
                                    @for val in &line.values {
                                        li {
                                            @if !val.tag.is_empty() { span class="muted" { (val.tag) ": " } }
                                            (val.text) " " (privacy(val.private))
                                            @if editable {
                                                " " (self.unset_button(line.field, line.label, Some(&val.text)))
                                            }
                                        }
                                    }
                                }
                                @if editable {
                                    a class="small" href={(self.url()) "?edit=" (line.field) "#edit"} {
                                        "Add" span class="visually-hidden" { " " (line.label.to_lowercase()) }
                                    }
                                }
                            } @else {
                                @for val in &line.values {
                                    (val.text) " " (privacy(val.private))
                                }
                                @if editable {
                                    " "
                                    a class="small" href={(self.url()) "?edit=" (line.field) "#edit"} {
                                        "Edit" span class="visually-hidden" { " " (line.label.to_lowercase()) }
                                    }
                                    @if line.field != "name" {
                                        " " (self.unset_button(line.field, line.label, None))
                                    }
                                }
                            }
                        }
                    }
                }
                @if let (Some(c), Some(cid)) = (&v.company, &v.company_id) {
                    dt { "Company" }
                    dd {
                        a href={"/companies/" (cid.as_str())} { (c) }
                        " " (privacy(v.private.iter().any(|p| p == "company")))
                        @if editable {
                            " "
                            a class="small" href={(self.url()) "?edit=company#edit"} {
                                "Edit" span class="visually-hidden" { " company" }
                            }
                            " " (self.unset_button("company", "Company", None))
                        }
                    }
                }
                dt { "Keep in touch" }
                dd {
                    @match &v.keep_in_touch {
                        Some(every) => { "every " (every) " " (privacy(v.private.iter().any(|p| p == "cadence_days"))) }
                        None => span class="muted" { "no reminders" },
                    }
                }
                dt { "Last contact" }
                dd {
                    @match &v.last_contact {
                        Some(at) => (layout::when(self.state, at)),
                        None => span class="muted" { "none logged" },
                    }
                }
                @if v.photo {
                    dt { "Photo" }
                    dd { "from the address book " (privacy(v.private.iter().any(|p| p == "photo"))) }
                }
                @if let Some(from) = &v.adopted_from {
                    dt { "Adopted" }
                    dd { (crate::adopt::describe(from)) }
                }
                dt { "Id" }
                dd { code { (v.id.as_str()) } }
            }
        }
    }

    /// A Remove button for a field, or one value of a set field.
    fn unset_button(&self, field: &str, label: &str, value: Option<&str>) -> Markup {
        html! {
            form class="inline" method="post" action=(self.action("unset")) {
                (csrf(self.state))
                input type="hidden" name="field" value=(field);
                @if let Some(v) = value { input type="hidden" name="value" value=(v); }
                button type="submit" class="small danger" {
                    "Remove"
                    span class="visually-hidden" {
                        " " (label.to_lowercase())
                        @if let Some(v) = value { " " (v) }
                    }
                }
            }
        }
    }

    fn edit_form(&self) -> Markup {
        let k = self.kept;
        let v = &self.d.view;
        // The field chosen: what was sent, else the card's Edit link, else title.
        let chosen = k
            .value("edit", "field")
            .map(str::to_string)
            .or_else(|| self.q.edit.clone())
            .unwrap_or_else(|| "title".into());
        let current = match chosen.as_str() {
            "name" => Some(v.name.clone()),
            "sort_name" => Some(v.sort_name.clone()),
            "nickname" => v.nickname.clone(),
            "company" => v.company.clone(),
            "title" => v.title.clone(),
            "department" => v.department.clone(),
            "birthday" => v.birthday.clone(),
            "anniversary" => v.anniversary.clone(),
            "lang" => v.lang.clone(),
            "gender" => v.gender.clone(),
            _ => None,
        };
        let value = k
            .value("edit", "value")
            .map(str::to_string)
            .or(current)
            .unwrap_or_default();
        let choice = k.text("edit", "privacy");
        let focus = self.q.edit.is_some() || k.form == "edit";
        html! {
            form id="edit" class="stack edit" method="post" action=(self.action("set")) {
                (csrf(self.state))
                h3 { "Change a field" }
                (field_error(k.error("edit", "form")))
                div class="row" {
                    label for="edit-field" { "Field" }
                    select id="edit-field" name="field" aria-invalid=[k.error("edit", "field").map(|_| "true")] {
                        @for (f, label) in FIELDS {
                            option value=(f) selected[f == chosen] { (label) }
                        }
                    }
                    (field_error(k.error("edit", "field")))
                }
                div class="row" {
                    label for="edit-value" { "Value" }
                    span id="edit-hint" class="muted" {
                        "Email, phone, address, tag, web and chat add a value (“work: edna@acme.com” labels it); other fields are replaced. "
                        "Birthdays: 1970-04-05, or --04-05 without the year. A new company is created."
                    }
                    input id="edit-value" name="value" type="text" value=(value) autocomplete="off"
                        aria-describedby="edit-hint" autofocus[focus]
                        aria-invalid=[k.error("edit", "value").map(|_| "true")];
                    (field_error(k.error("edit", "value")))
                }
                fieldset class="privacy" {
                    legend { "Who may read it" }
                    label { input type="radio" name="privacy" value="" checked[choice.is_empty()]; " As it is (new values: as your settings say)" }
                    label { input type="radio" name="privacy" value="private" checked[choice == "private"]; " Private (only you)" }
                    label { input type="radio" name="privacy" value="shared" checked[choice == "shared"]; " Shared (your team)" }
                }
                div { button type="submit" { "Save" } }
            }
        }
    }

    fn log_form(&self) -> Markup {
        let k = self.kept;
        let channel = k.value("log", "channel").unwrap_or("call");
        let direction = k.text("log", "direction");
        html! {
            form class="stack log" method="post" action=(self.action("log")) {
                (csrf(self.state))
                h3 { "Log an interaction" }
                div class="row" {
                    label for="log-summary" { "What was said" }
                    textarea id="log-summary" name="summary" rows="2" required
                        autofocus[k.error("log", "summary").is_some()]
                        aria-invalid=[k.error("log", "summary").map(|_| "true")] { (k.text("log", "summary")) }
                    (field_error(k.error("log", "summary")))
                }
                div class="cols" {
                    div class="row" {
                        label for="log-channel" { "How" }
                        select id="log-channel" name="channel" {
                            @for c in CHANNELS {
                                option value=(c) selected[c == channel] { (c) }
                            }
                            @if !CHANNELS.contains(&channel) && !channel.is_empty() {
                                option value=(channel) selected { (channel) }
                            }
                        }
                        (field_error(k.error("log", "channel")))
                    }
                    div class="row" {
                        label for="log-date" { "When" }
                        input id="log-date" name="date" type="text" value=(k.text("log", "date"))
                            placeholder="now, yesterday, last tuesday, 2026-11-24 10:30" autocomplete="off"
                            aria-describedby="log-date-hint" autofocus[k.error("log", "date").is_some()]
                            aria-invalid=[k.error("log", "date").map(|_| "true")];
                        span id="log-date-hint" class="muted" { "Empty means now; “yesterday”, “last tuesday”, “-3d” or “2026-11-24 10:30” work too." }
                        (field_error(k.error("log", "date")))
                    }
                }
                fieldset class="privacy" {
                    legend { "Who got in touch" }
                    label { input type="radio" name="direction" value="" checked[direction.is_empty()]; " Not saying" }
                    label { input type="radio" name="direction" value="out" checked[direction == "out"]; " We did" }
                    label { input type="radio" name="direction" value="in" checked[direction == "in"]; " They did" }
                }
                (privacy_choice(k.private("log", self.d.defaults.summary)))
                p class="muted" { "That it happened, when and how is always shared; the choice is for what was said." }
                div { button type="submit" { "Log it" } }
            }
        }
    }

    fn timeline(&self) -> Markup {
        let v = &self.d.view;
        let list = v.interactions.as_deref().unwrap_or_default();
        html! {
            @if list.is_empty() {
                p class="empty" { "Nothing logged yet." }
            } @else {
                ol class="timeline" {
                    @for i in list {
                        li {
                            div class="line" {
                                strong { (i.channel) } " · " (layout::when(self.state, &i.at))
                                " " (privacy(i.private))
                            }
                            @if let Some(s) = &i.summary { p class="summary" { (s) } }
                            @let others: Vec<&String> = i.with.iter().filter(|n| **n != v.name).collect();
                            @if !others.is_empty() {
                                p class="muted" { "with " (others.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) }
                            }
                            @if let Some(from) = &i.adopted_from {
                                p class="muted" { "adopted " (crate::adopt::describe(from)) }
                            }
                        }
                    }
                }
                @if self.d.more_interactions {
                    nav class="paging" aria-label="More interactions" {
                        a href={(self.url()) "?interactions=" (self.interactions + 50) @if let Some(h) = self.history { "&history=" (h) }} {
                            "Show more interactions"
                        }
                    }
                }
            }
        }
    }

    fn follow_ups(&self) -> Markup {
        let list = self.d.view.follow_ups.as_deref().unwrap_or_default();
        let today = self
            .state
            .now()
            .to_zoned(self.state.tz().clone())
            .date()
            .to_string();
        html! {
            @if list.is_empty() {
                p class="empty" { "No follow-ups." }
            } @else {
                ul class="cards" {
                    @for f in list {
                        li {
                            div class="line" {
                                @if f.done.is_some() {
                                    span class="badge done" { "done" } " "
                                    s { (f.text) }
                                } @else {
                                    span class="badge open" { "open" } " " (f.text)
                                }
                                " · "
                                @if f.done.is_none() && f.due < today {
                                    strong class="overdue" { "overdue since " (f.due) }
                                } @else if f.done.is_none() && f.due == today {
                                    strong class="due" { "due today" }
                                } @else {
                                    "due " (f.due)
                                }
                                @if let Some(d) = &f.done { span class="muted" { " · done " (layout::when(self.state, d)) } }
                                " " (privacy(f.private))
                            }
                            @if f.done.is_none() && self.editable() {
                                form class="inline" method="post" action={"/follow-ups/" (f.id.as_str()) "/done"} {
                                    (csrf(self.state))
                                    input type="hidden" name="next" value=(self.url());
                                    button type="submit" class="done" {
                                        "Done" span class="visually-hidden" { ": " (f.text) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn follow_up_form(&self) -> Markup {
        let k = self.kept;
        html! {
            form class="stack" method="post" action=(self.action("follow-up")) {
                (csrf(self.state))
                h3 { "Add a follow-up" }
                div class="row" {
                    label for="fu-text" { "What to do" }
                    input id="fu-text" name="text" type="text" required value=(k.text("follow-up", "text"))
                        autocomplete="off" autofocus[k.error("follow-up", "text").is_some()]
                        aria-invalid=[k.error("follow-up", "text").map(|_| "true")];
                    (field_error(k.error("follow-up", "text")))
                }
                div class="row" {
                    label for="fu-due" { "Due" }
                    input id="fu-due" name="due" type="text" required value=(k.text("follow-up", "due"))
                        placeholder="friday, tomorrow, +3d, 2026-12-04" autocomplete="off"
                        aria-describedby="fu-due-hint" autofocus[k.error("follow-up", "due").is_some()]
                        aria-invalid=[k.error("follow-up", "due").map(|_| "true")];
                    span id="fu-due-hint" class="muted" { "A day as you would say it: “friday”, “tomorrow”, “+3d”, “2026-12-04”." }
                    (field_error(k.error("follow-up", "due")))
                }
                (privacy_choice(k.private("follow-up", true)))
                div { button type="submit" { "Add follow-up" } }
            }
        }
    }

    fn keep(&self) -> Markup {
        let v = &self.d.view;
        html! {
            p {
                @match &v.keep_in_touch {
                    Some(every) => { "Every " (every) "; " }
                    None => { "No reminders; " }
                }
                @match &v.last_contact {
                    Some(at) => { "last contact " (layout::when(self.state, at)) "." }
                    None => "no contact logged yet.",
                }
            }
        }
    }

    fn keep_form(&self) -> Markup {
        let k = self.kept;
        let every = k
            .value("keep", "every")
            .map(str::to_string)
            .or_else(|| self.d.view.keep_in_touch.clone())
            .unwrap_or_default();
        html! {
            form class="quick-log" method="post" action=(self.action("keep-in-touch")) {
                (csrf(self.state))
                label for="kit-every" { "Every" }
                input id="kit-every" name="every" type="text" value=(every) placeholder="3w, 2m, 10d, 1y"
                    autocomplete="off" aria-describedby="kit-hint" autofocus[k.error("keep", "every").is_some()]
                    aria-invalid=[k.error("keep", "every").map(|_| "true")];
                button type="submit" { "Save" }
                span id="kit-hint" class="muted" { "10d, 3w, 2m or 1y; empty to stop the reminders." }
            }
            (field_error(k.error("keep", "every")))
        }
    }

    fn items(&self, list: &[crate::view::ItemView], empty: &str) -> Markup {
        html! {
            @if list.is_empty() {
                p class="empty" { (empty) }
            } @else {
                ul class="cards" {
                    @for i in list {
                        li {
                            (i.text) " "
                            span class="muted" { "(" (layout::when(self.state, &i.date))
                                @if let Some(from) = &i.adopted_from { ", adopted " (crate::adopt::describe(from)) }
                                ")" }
                            " " (privacy(i.private))
                        }
                    }
                }
            }
        }
    }

    fn fact_form(&self) -> Markup {
        let k = self.kept;
        html! {
            form class="stack" method="post" action=(self.action("fact")) {
                (csrf(self.state))
                h3 { "Add a fact" }
                div class="row" {
                    label for="fact-text" { "Fact" }
                    input id="fact-text" name="text" type="text" required value=(k.text("fact", "text"))
                        placeholder="husband smokes Old Holborn, 50 g tin" autocomplete="off"
                        autofocus[k.error("fact", "text").is_some()]
                        aria-invalid=[k.error("fact", "text").map(|_| "true")];
                    (field_error(k.error("fact", "text")))
                }
                div class="row" {
                    label for="fact-learned" { "Learned" }
                    input id="fact-learned" name="learned" type="text" value=(k.text("fact", "learned"))
                        placeholder="today, yesterday, 2026-11-24" autocomplete="off"
                        autofocus[k.error("fact", "learned").is_some()]
                        aria-invalid=[k.error("fact", "learned").map(|_| "true")];
                    (field_error(k.error("fact", "learned")))
                }
                (privacy_choice(k.private("fact", self.d.defaults.fact)))
                div { button type="submit" { "Add fact" } }
            }
        }
    }

    fn note_form(&self) -> Markup {
        let k = self.kept;
        html! {
            form class="stack" method="post" action=(self.action("note")) {
                (csrf(self.state))
                h3 { "Add a note" }
                div class="row" {
                    label for="note-text" { "Note" }
                    textarea id="note-text" name="text" rows="3" required
                        autofocus[k.error("note", "text").is_some()]
                        aria-invalid=[k.error("note", "text").map(|_| "true")] { (k.text("note", "text")) }
                    (field_error(k.error("note", "text")))
                }
                (privacy_choice(k.private("note", self.d.defaults.note)))
                div { button type="submit" { "Add note" } }
            }
        }
    }

    fn links(&self) -> Markup {
        let list = self.d.view.relationships.as_deref().unwrap_or_default();
        html! {
            @if list.is_empty() {
                p class="empty" { "No relationships recorded." }
            } @else {
                ul class="cards" {
                    @for r in list {
                        li {
                            a href=(page_url(&r.person_id)) { (r.person) }
                            ", their " (r.relation) " " (privacy(r.private))
                        }
                    }
                }
            }
        }
    }

    fn link_form(&self) -> Markup {
        let k = self.kept;
        let name = &self.d.view.name;
        html! {
            form class="stack" method="post" action=(self.action("link")) {
                (csrf(self.state))
                h3 { "Add a link" }
                p class="muted" { "Who is what to " (name) ": “Daisy Miggins” is their “child”." }
                div class="row" {
                    label for="link-other" { "Who" }
                    input id="link-other" name="other" type="text" required value=(k.text("link", "other"))
                        placeholder="a name, an email or an id" autocomplete="off"
                        autofocus[k.error("link", "other").is_some()]
                        aria-invalid=[k.error("link", "other").map(|_| "true")];
                    (field_error(k.error("link", "other")))
                }
                div class="row" {
                    label for="link-relation" { "Is their" }
                    input id="link-relation" name="relation" type="text" required value=(k.text("link", "relation"))
                        placeholder="spouse, child, parent, sibling, colleague, reports-to, friend, introduced-by"
                        autocomplete="off" list="relations"
                        autofocus[k.error("link", "relation").is_some()]
                        aria-invalid=[k.error("link", "relation").map(|_| "true")];
                    datalist id="relations" {
                        @for r in ["spouse", "child", "parent", "sibling", "colleague", "reports-to", "friend", "introduced-by"] {
                            option value=(r) {}
                        }
                    }
                    (field_error(k.error("link", "relation")))
                }
                (privacy_choice(k.private("link", self.d.defaults.link)))
                div { button type="submit" { "Add link" } }
            }
        }
    }

    fn history(&self) -> Markup {
        let Some(history) = &self.d.history else {
            return html! {
                p {
                    "Every change to this record, when and on which device. "
                    a href={(self.url()) "?history=" (HISTORY) "&interactions=" (self.interactions) "#h-history"} {
                        "Show the change history"
                    }
                }
            };
        };
        let shown = self.history.unwrap_or(HISTORY);
        html! {
            @if history.is_empty() {
                p class="empty" { "No history." }
            } @else {
                ol class="history" {
                    @for e in history {
                        li {
                            span class="muted" { (layout::when(self.state, &e.at)) } " "
                            (e.summary)
                            @if let Some(d) = &e.device { span class="muted" { " on " (d) } }
                            " " (privacy(e.private))
                            @if !e.details.is_empty() {
                                ul class="details" {
                                    @for d in &e.details { li { (d) } }
                                }
                            }
                        }
                    }
                }
            }
            nav class="paging" aria-label="History" {
                @if self.d.more_history {
                    a href={(self.url()) "?history=" (shown + 50) "&interactions=" (self.interactions) "#h-history"} {
                        "Show more history"
                    }
                    " · "
                }
                a href={(self.url()) "?interactions=" (self.interactions)} { "Hide the history" }
            }
        }
    }
}
