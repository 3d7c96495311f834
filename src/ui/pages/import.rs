//! Import: an address book (vCard, CSV) or a kith JSONL export uploaded
//! and imported as `kith import` imports a file: known people are matched
//! and merged, never doubled, and every record not imported is reported
//! by its `FILE:LINE`.

use axum::Router;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};

use super::super::error::{PageError, maud_html};
use super::super::layout::{self, Nav, csrf, field_error};
use super::super::state::AppState;
use super::Refusal;
use crate::import::{self, Format, Input, csv::ColumnMap};
use crate::transfer::ImportSummary;

pub fn routes() -> Router<AppState> {
    Router::new().route("/import", get(form).post(upload))
}

/// The form as sent: everything but the file, which a browser never
/// fills in again.
#[derive(Default)]
struct Choices {
    format: String,
    map: String,
    dry_run: bool,
}

async fn form(State(state): State<AppState>) -> Html<String> {
    maud_html(page(&state, &Choices::default(), &Refusal::default(), None))
}

/// What importing one upload gave.
struct Report {
    file: String,
    source: String,
    summary: ImportSummary,
}

async fn upload(
    State(state): State<AppState>,
    mut parts: Multipart,
) -> Result<Response, PageError> {
    let mut choices = Choices::default();
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(part) = parts.next_field().await.map_err(multipart_error)? {
        let name = part.name().unwrap_or("").to_string();
        match name.as_str() {
            "file" => {
                let file_name = part
                    .file_name()
                    .map(str::to_string)
                    .filter(|n| !n.trim().is_empty());
                let bytes = part.bytes().await.map_err(multipart_error)?;
                if let Some(n) = file_name {
                    file = Some((n, bytes.to_vec()));
                }
            }
            "format" => choices.format = part.text().await.map_err(multipart_error)?,
            "map" => choices.map = part.text().await.map_err(multipart_error)?,
            "dry_run" => choices.dry_run = true,
            // The CSRF field (checked by the gate) and anything unknown.
            _ => {}
        }
    }
    let refuse = |choices: &Choices, refusal: Refusal| -> Response {
        let markup = page(&state, choices, &refusal, None);
        (StatusCode::UNPROCESSABLE_ENTITY, maud_html(markup)).into_response()
    };
    let Some((file_name, bytes)) = file else {
        return Ok(refuse(
            &choices,
            Refusal {
                field: Some("file"),
                message: "choose a file to import".into(),
            },
        ));
    };
    let format = match choices.format.as_str() {
        "vcard" => Some(Format::Vcard),
        "csv" => Some(Format::Csv),
        "jsonl" => Some(Format::Jsonl),
        _ => None,
    };
    let map = Some(choices.map.trim().to_string()).filter(|m| !m.is_empty());
    let dry_run = choices.dry_run;
    let name = file_name.clone();
    let result = state
        .ledger(
            move |l| match import_upload(l, &name, &bytes, format, map.as_deref(), dry_run) {
                Ok(r) => Ok(Ok(r)),
                Err(e @ (crate::Error::Invalid(_) | crate::Error::BadInput { .. })) => {
                    Ok(Err(e.to_string()))
                }
                Err(e) => Err(e.into()),
            },
        )
        .await?;
    match result {
        Ok((source, summary)) => {
            // The next step after a dry run is the import itself.
            choices.dry_run = false;
            let report = Report {
                file: file_name,
                source,
                summary,
            };
            Ok(
                maud_html(page(&state, &choices, &Refusal::default(), Some(&report)))
                    .into_response(),
            )
        }
        Err(message) => {
            let field = if message.contains("--map") {
                "map"
            } else {
                "file"
            };
            Ok(refuse(
                &choices,
                Refusal {
                    field: Some(field),
                    message,
                },
            ))
        }
    }
}

/// Imports one uploaded file as `kith import` imports one file; the name
/// the browser sent stands for the file in every `FILE:LINE` reason.
fn import_upload(
    l: &mut crate::Ledger,
    name: &str,
    bytes: &[u8],
    format: Option<Format>,
    map: Option<&str>,
    dry_run: bool,
) -> crate::Result<(String, ImportSummary)> {
    let map = map.map(ColumnMap::parse).transpose()?;
    import::import_file(
        l,
        name,
        Input::Bytes(bytes),
        format,
        map.as_ref(),
        dry_run,
        &|_, _| {},
    )
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> PageError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        PageError::too_large()
    } else {
        PageError::bad(format!("the upload could not be read: {}", e.body_text()))
    }
}

fn page(state: &AppState, c: &Choices, err: &Refusal, report: Option<&Report>) -> Markup {
    let body = html! {
        @if let Some(r) = report { (render_report(r)) }
        section aria-labelledby="upload" {
            h2 id="upload" { @if report.is_some() { "Import another file" } @else { "Upload an address book" } }
            p class="muted" {
                "vCard (2.1, 3.0, 4.0) from Apple, Android or Outlook; CSV from Google Contacts, "
                "Outlook or LinkedIn, or any CSV with a column map; or a kith JSONL export. "
                "People kith knows already are matched and merged, never doubled."
            }
            form class="stack" method="post" action="/import" enctype="multipart/form-data" {
                (csrf(state))
                @if let Some(m) = err.top() { p class="field-error" role="alert" { (m) } }
                div class="row" {
                    label for="import-file" { "File (required)" }
                    input id="import-file" name="file" type="file" required
                        accept=".vcf,.vcard,.csv,.jsonl,text/vcard,text/csv"
                        aria-invalid=[err.at("file").map(|_| "true")];
                    (field_error(err.at("file")))
                }
                div class="row" {
                    label for="import-format" { "Format" }
                    select id="import-format" name="format" {
                        @for (value, label) in [("", "Tell from the file"), ("vcard", "vCard"), ("csv", "CSV"), ("jsonl", "kith JSONL export")] {
                            option value=(value) selected[c.format == value] { (label) }
                        }
                    }
                }
                div class="row" {
                    label for="import-map" { "CSV column map" }
                    span id="import-map-hint" class="muted" {
                        "Only for a CSV kith does not recognise: COLUMN=FIELD, separated by commas, "
                        "such as “Full Name=name,E-mail=email:work,Org=company”. Fields: name, first, last, "
                        "email, phone, company, title, birthday, note, tag…"
                    }
                    input id="import-map" name="map" type="text" value=(c.map) autocomplete="off"
                        aria-describedby="import-map-hint" aria-invalid=[err.at("map").map(|_| "true")];
                    (field_error(err.at("map")))
                }
                label class="check" {
                    input type="checkbox" name="dry_run" value="true" checked[c.dry_run];
                    " Dry run: say what would be imported and merged, and change nothing"
                }
                div { button type="submit" { "Import" } }
            }
        }
        p { a href="/dupes" { "Look for people entered twice" } " after importing." }
    };
    layout::page(state, "Import", Nav::Import, body)
}

fn render_report(r: &Report) -> Markup {
    let s = &r.summary;
    html! {
        section aria-labelledby="report" {
            h2 id="report" {
                @if s.dry_run { "Dry run of " } @else { "Imported " }
                (r.file) " (" (r.source) ")"
            }
            @if s.dry_run {
                p class="notice" role="status" {
                    "Dry run: nothing was written. This is what importing it would do: "
                    (s.created) " created, " (s.merged) " merged, " (s.updated) " updated, "
                    (s.unchanged) " unchanged, " (s.skipped.len()) " skipped. "
                    "To import it, choose the file again below."
                }
            } @else {
                p class="notice" role="status" {
                    (s.created) " created, " (s.merged) " merged, " (s.updated) " updated, "
                    (s.unchanged) " unchanged, " (s.skipped.len()) " skipped."
                }
            }
            dl class="card" {
                dt { "Created" } dd { (s.created) }
                dt { "Merged" } dd { (s.merged) " " span class="muted" { "(matched by email or phone)" } }
                dt { "Updated" } dd { (s.updated) " " span class="muted" { "(matched by id or address-book UID)" } }
                dt { "Unchanged" } dd { (s.unchanged) }
                dt { "Skipped" } dd { (s.skipped.len()) }
            }
            @if !s.skipped.is_empty() {
                h3 { "Skipped" }
                ul class="plain report" {
                    @for line in &s.skipped { li { code { (line) } } }
                }
            }
            @if !s.merges.is_empty() {
                h3 { "Merged and updated" }
                ul class="plain report" {
                    @for line in &s.merges { li { (line) } }
                }
            }
            @if !s.dry_run && s.created + s.merged + s.updated > 0 {
                p {
                    a href="/people" { "See everyone" }
                    " · "
                    a href="/dupes" { "Check for duplicates" }
                }
            }
        }
    }
}
