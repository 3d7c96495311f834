//! The frame every page shares (header, navigation, search box, the live
//! script) and the small pieces pages are built from: badges, forms with
//! their CSRF field, messages beside a field. Markup only; no ledger calls.

use maud::{DOCTYPE, Markup, html};

use super::auth::CSRF_FIELD;
use super::state::AppState;

/// The sections of the navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Today,
    People,
    Companies,
    Team,
    Import,
    Add,
}

const NAV: [(Nav, &str, &str); 6] = [
    (Nav::Today, "/", "Today"),
    (Nav::People, "/people", "People"),
    (Nav::Companies, "/companies", "Companies"),
    (Nav::Team, "/team", "Team"),
    (Nav::Import, "/import", "Import"),
    (Nav::Add, "/add", "Add"),
];

/// A whole page. `body` goes inside `<main>`.
pub fn page(state: &AppState, title: &str, active: Nav, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="kith-csrf" content=(state.secrets().csrf);
                title { (title) " · kith" }
                link rel="stylesheet" href="/assets/app.css";
                script src="/assets/app.js" defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    a class="brand" href="/" { "kith" }
                    nav aria-label="Sections" {
                        ul {
                            @for (nav, href, label) in NAV {
                                li {
                                    @if nav == active {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    form class="search" role="search" action="/people" method="get" {
                        label for="q" class="visually-hidden" { "Search people" }
                        input id="q" name="q" type="search" placeholder="Search  (press /)"
                            autocomplete="off" data-search-target="#results" aria-keyshortcuts="/";
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
                div id="live-status" class="visually-hidden" role="status" aria-live="polite" {}
            }
        }
    }
}

/// The hidden CSRF field every form carries, first so the gate finds it.
pub fn csrf(state: &AppState) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(state.secrets().csrf); }
}

/// A POST form with one button: done, remove, restore, merge…
pub fn button_form(state: &AppState, action: &str, label: &str, class: &str) -> Markup {
    html! {
        form class="inline" method="post" action=(action) {
            (csrf(state))
            button type="submit" class=(class) { (label) }
        }
    }
}

/// "private" or "shared", as a badge beside a value.
pub fn privacy(private: bool) -> Markup {
    html! {
        @if private {
            span class="badge private" title="Only on your own devices" { "private" }
        } @else {
            span class="badge shared" title="Teammates may read this" { "shared" }
        }
    }
}

/// A message under a field that did not take its value.
pub fn field_error(message: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message {
            p class="field-error" role="alert" { (m) }
        }
    }
}

/// The private/shared choice on forms that add an item.
pub fn privacy_choice(default_private: bool) -> Markup {
    html! {
        fieldset class="privacy" {
            legend { "Who may read it" }
            label { input type="radio" name="privacy" value="private" checked[default_private]; " Private (only you)" }
            label { input type="radio" name="privacy" value="shared" checked[!default_private]; " Shared (your team)" }
        }
    }
}

/// A flash line after a POST that redirected, from `?done=…`.
pub fn notice(text: Option<&str>) -> Markup {
    html! {
        @if let Some(t) = text.filter(|t| !t.is_empty()) {
            p class="notice" role="status" { (t) }
        }
    }
}

/// A moment as people read it, in the user's time zone: the ledger keeps
/// interactions in local time (`2026-11-24T10:30`) and bookkeeping times as
/// instants (`…Z`), which are converted.
pub fn when(state: &AppState, at: &str) -> String {
    const FORMAT: &str = "%a %-d %b %Y, %H:%M";
    if let Ok(t) = at.parse::<jiff::Timestamp>() {
        return t.to_zoned(state.tz().clone()).strftime(FORMAT).to_string();
    }
    // A day alone stays a day: jiff would read it as that day's midnight.
    if !at.contains('T')
        && let Ok(d) = at.parse::<jiff::civil::Date>()
    {
        return d.strftime("%a %-d %b %Y").to_string();
    }
    if let Ok(t) = at.parse::<jiff::civil::DateTime>() {
        return t.strftime(FORMAT).to_string();
    }
    at.to_string()
}

/// Percent-encodes a value for a query string.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
