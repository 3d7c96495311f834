//! Add: a new person with what `kith add` takes, or a new company with what
//! `kith add-company` takes. A value the ledger refuses comes back beside
//! its field, in the CLI's words, with everything typed kept.

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::super::error::{PageError, maud_html};
use super::super::layout::{self, Nav, csrf, field_error};
use super::super::state::AppState;
use super::{Refusal, back_to};
use crate::ops::NewPerson;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/add", get(form).post(add_person))
        .route("/add/company", post(add_company))
}

/// The person form as typed.
#[derive(Deserialize, Default, Clone)]
struct PersonForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    nickname: String,
    #[serde(default)]
    emails: String,
    #[serde(default)]
    phones: String,
    #[serde(default)]
    addresses: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    birthday: String,
    #[serde(default)]
    anniversary: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    privacy: String,
}

/// The company form as typed.
#[derive(Deserialize, Default, Clone)]
struct CompanyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    tags: String,
}

/// GET /add: `?company=…` fills in the company (from a company's page).
#[derive(Deserialize, Default)]
struct AddQuery {
    #[serde(default)]
    company: String,
}

async fn form(
    State(state): State<AppState>,
    Query(q): Query<AddQuery>,
) -> Result<Html<String>, PageError> {
    let person = PersonForm {
        company: q.company,
        ..PersonForm::default()
    };
    Ok(maud_html(page(
        &state,
        &person,
        &Refusal::default(),
        &CompanyForm::default(),
        &Refusal::default(),
    )))
}

/// One value per line, or several on a line split by commas (not for
/// addresses, which have commas of their own).
fn values(text: &str, commas: bool) -> Vec<String> {
    text.lines()
        .flat_map(|l| {
            if commas {
                l.split(',').collect::<Vec<_>>()
            } else {
                vec![l]
            }
        })
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

/// Which person field a library message is about, when it says.
fn person_field(message: &str) -> Option<&'static str> {
    let m = message.to_ascii_lowercase();
    if m.starts_with("birthday:") {
        Some("birthday")
    } else if m.starts_with("anniversary:") {
        Some("anniversary")
    } else if m.contains("not an email address") || m.ends_with("for emails") {
        Some("emails")
    } else if m.contains("not a phone number") || m.ends_with("for phones") {
        Some("phones")
    } else if m.ends_with("for addresses") {
        Some("addresses")
    } else if m.ends_with("for tags") {
        Some("tags")
    } else if m.contains("company") {
        Some("company")
    } else if m.contains("needs a name") {
        Some("name")
    } else {
        None
    }
}

/// Which company field a library message is about, when it says.
fn company_field(message: &str) -> Option<&'static str> {
    let m = message.to_ascii_lowercase();
    if m.contains("a company called") || m.contains("needs a name") {
        Some("name")
    } else if m.ends_with("for tags") {
        Some("tags")
    } else if m.contains("domain") {
        Some("domain")
    } else {
        None
    }
}

async fn add_person(
    State(state): State<AppState>,
    Form(f): Form<PersonForm>,
) -> Result<Response, PageError> {
    let person = NewPerson {
        name: f.name.clone(),
        nickname: optional(&f.nickname),
        emails: values(&f.emails, true),
        phones: values(&f.phones, true),
        addresses: values(&f.addresses, false),
        company: optional(&f.company),
        title: optional(&f.title),
        birthday: optional(&f.birthday),
        anniversary: optional(&f.anniversary),
        tags: values(&f.tags, true),
        privacy: super::privacy(Some(f.privacy.as_str())),
    };
    let name = person.name.split_whitespace().collect::<Vec<_>>().join(" ");
    let added = state
        .ledger(move |l| match l.add_person(&person) {
            Ok(id) => Ok(Ok(id)),
            Err(crate::Error::Invalid(m)) => Ok(Err(m)),
            Err(e) => Err(e.into()),
        })
        .await?;
    match added {
        Ok(id) => Ok(back_to(
            None,
            &format!("/people/{}", id.as_str()),
            &format!("Added {name}"),
        )
        .into_response()),
        Err(message) => {
            let refusal = Refusal {
                field: person_field(&message),
                message,
            };
            let markup = page(
                &state,
                &f,
                &refusal,
                &CompanyForm::default(),
                &Refusal::default(),
            );
            Ok((StatusCode::UNPROCESSABLE_ENTITY, maud_html(markup)).into_response())
        }
    }
}

async fn add_company(
    State(state): State<AppState>,
    Form(f): Form<CompanyForm>,
) -> Result<Response, PageError> {
    let name = f.name.trim().to_string();
    let domain = optional(&f.domain);
    let tags = values(&f.tags, true);
    let added = state
        .ledger(
            move |l| match l.add_company(&name, domain.as_deref(), &tags) {
                Ok(id) => Ok(Ok(id)),
                Err(crate::Error::Invalid(m)) => Ok(Err(m)),
                Err(e) => Err(e.into()),
            },
        )
        .await?;
    match added {
        Ok(id) => Ok(back_to(
            None,
            &format!("/companies/{}", id.as_str()),
            &format!("Added {}", f.name.trim()),
        )
        .into_response()),
        Err(message) => {
            let refusal = Refusal {
                field: company_field(&message),
                message,
            };
            let markup = page(
                &state,
                &PersonForm::default(),
                &Refusal::default(),
                &f,
                &refusal,
            );
            Ok((StatusCode::UNPROCESSABLE_ENTITY, maud_html(markup)).into_response())
        }
    }
}

fn page(
    state: &AppState,
    p: &PersonForm,
    p_err: &Refusal,
    c: &CompanyForm,
    c_err: &Refusal,
) -> Markup {
    let body = html! {
        section aria-labelledby="person" {
            h2 id="person" { "A person" }
            (person_form(state, p, p_err))
        }
        section aria-labelledby="company" {
            h2 id="company" { "A company" }
            (company_form(state, c, c_err))
        }
    };
    layout::page(state, "Add", Nav::Add, body)
}

/// One text field with its label, hint and error. `id` is the element id,
/// `name` the form field.
#[allow(clippy::too_many_arguments)]
fn text_field(
    id: &str,
    name: &str,
    label: &str,
    hint: Option<&str>,
    value: &str,
    error: Option<&str>,
    required: bool,
    autocomplete: &str,
) -> Markup {
    let hint_id = format!("{id}-hint");
    let described = hint.map(|_| hint_id.as_str());
    html! {
        div class="row" {
            label for=(id) { (label) @if required { " (required)" } }
            @if let Some(h) = hint { span id=(hint_id) class="muted" { (h) } }
            input id=(id) name=(name) type="text" value=(value) required[required]
                autocomplete=(autocomplete) aria-describedby=[described]
                aria-invalid=[error.map(|_| "true")];
            (field_error(error))
        }
    }
}

fn area_field(
    id: &str,
    name: &str,
    label: &str,
    hint: &str,
    value: &str,
    error: Option<&str>,
) -> Markup {
    let hint_id = format!("{id}-hint");
    html! {
        div class="row" {
            label for=(id) { (label) }
            span id=(hint_id) class="muted" { (hint) }
            textarea id=(id) name=(name) rows="2" aria-describedby=(hint_id)
                aria-invalid=[error.map(|_| "true")] { (value) }
            (field_error(error))
        }
    }
}

fn person_form(state: &AppState, p: &PersonForm, err: &Refusal) -> Markup {
    html! {
        form class="stack" method="post" action="/add" {
            (csrf(state))
            @if let Some(m) = err.top() { p class="field-error" role="alert" { (m) } }
            (text_field("p-name", "name", "Name", Some("Their full name, as you would say it"),
                &p.name, err.at("name"), true, "off"))
            (text_field("p-nickname", "nickname", "Nickname", Some("What they go by"),
                &p.nickname, err.at("nickname"), false, "off"))
            (area_field("p-emails", "emails", "Emails",
                "One per line or separated by commas; “work: edna@acme.com” labels one",
                &p.emails, err.at("emails")))
            (area_field("p-phones", "phones", "Phones",
                "One per line or separated by commas; “mobile: 07700 900123” labels one",
                &p.phones, err.at("phones")))
            (area_field("p-addresses", "addresses", "Addresses",
                "One per line; “home: 12 High St, Leeds” labels one",
                &p.addresses, err.at("addresses")))
            (text_field("p-company", "company", "Company", Some("Created if new"),
                &p.company, err.at("company"), false, "off"))
            (text_field("p-title", "title", "Title", Some("Their role or job title"),
                &p.title, err.at("title"), false, "off"))
            (text_field("p-birthday", "birthday", "Birthday",
                Some("1970-04-05, or --04-05 when the year is unknown"),
                &p.birthday, err.at("birthday"), false, "off"))
            (text_field("p-anniversary", "anniversary", "Anniversary",
                Some("As for the birthday"),
                &p.anniversary, err.at("anniversary"), false, "off"))
            (text_field("p-tags", "tags", "Tags", Some("Separated by commas"),
                &p.tags, err.at("tags"), false, "off"))
            fieldset class="privacy" {
                legend { "Who may read these fields" }
                label { input type="radio" name="privacy" value="" checked[p.privacy.is_empty()]; " As your settings say (each field its own default)" }
                label { input type="radio" name="privacy" value="private" checked[p.privacy == "private"]; " Private (only you)" }
                label { input type="radio" name="privacy" value="shared" checked[p.privacy == "shared"]; " Shared (your team)" }
            }
            div { button type="submit" { "Add person" } }
        }
    }
}

fn company_form(state: &AppState, c: &CompanyForm, err: &Refusal) -> Markup {
    html! {
        form class="stack" method="post" action="/add/company" {
            (csrf(state))
            @if let Some(m) = err.top() { p class="field-error" role="alert" { (m) } }
            (text_field("c-name", "name", "Company name", None,
                &c.name, err.at("name"), true, "organization"))
            (text_field("c-domain", "domain", "Domain", Some("Its web or email domain, such as miggins.co.uk"),
                &c.domain, err.at("domain"), false, "off"))
            (text_field("c-tags", "tags", "Tags", Some("Separated by commas"),
                &c.tags, err.at("tags"), false, "off"))
            div { button type="submit" { "Add company" } }
        }
    }
}
