//! PROPFIND on the principal, the home, a book and a card, Depth 0 and 1.
//!
//! Depth 1 on a book streams: the book's own answer first, then one
//! `<d:response>` per card as [`crate::cards::Book::list`] gives its rows,
//! sent in pieces of about 32 KiB through a bounded channel, from a
//! connection of its own to the book (the ledger's lock is not held while
//! a slow client reads). Only each card's href and ETag are needed, so a
//! 100,000-card book never sits in memory.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;

use super::xml::{self, CARD, CS, DAV, El, esc};
use super::{
    HOME, MAX_BODY, PRINCIPAL, State, Target, Which, body_text, depth, internal, load_card,
    multistatus, multistatus_stream, team, text,
};
use crate::cards::{Book, Card};

/// Which properties a request asks for.
#[derive(Clone, Debug)]
pub enum Wanted {
    All,
    Names,
    Some(Vec<(String, String)>),
}

impl Wanted {
    /// From a `<d:propfind>`, `<card:addressbook-multiget>` or similar
    /// element: its `prop`, `allprop` or `propname` child.
    pub fn of(el: &El) -> Wanted {
        if let Some(p) = el.child(DAV, "prop") {
            return Wanted::Some(
                p.children
                    .iter()
                    .map(|c| (c.ns.clone(), c.name.clone()))
                    .collect(),
            );
        }
        if el.child(DAV, "propname").is_some() {
            return Wanted::Names;
        }
        Wanted::All
    }

    pub fn wants(&self, ns: &str, name: &str) -> bool {
        match self {
            Wanted::All | Wanted::Names => true,
            Wanted::Some(v) => v.iter().any(|(n, l)| n == ns && l == name),
        }
    }
}

/// What the collections' properties say that must be read first.
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    pub own: String,
    pub team: Option<String>,
}

const PRIVILEGES_RW: &str = "<d:privilege><d:read/></d:privilege><d:privilege><d:write/></d:privilege><d:privilege><d:write-content/></d:privilege><d:privilege><d:bind/></d:privilege><d:privilege><d:unbind/></d:privilege><d:privilege><d:read-current-user-privilege-set/></d:privilege>";
const PRIVILEGES_RO: &str = "<d:privilege><d:read/></d:privilege><d:privilege><d:read-current-user-privilege-set/></d:privilege>";

/// The properties a collection has, each as (ns, name, inner XML).
fn collection_props(target: &Target, tokens: &Tokens) -> Vec<(&'static str, &'static str, String)> {
    let href = |h: &str| format!("<d:href>{}</d:href>", esc(h));
    let mut out = vec![
        (DAV, "current-user-principal", href(PRINCIPAL)),
        (CARD, "addressbook-home-set", href(HOME)),
        (DAV, "principal-URL", href(PRINCIPAL)),
    ];
    match target {
        Target::Root => {
            out.push((DAV, "resourcetype", "<d:collection/>".into()));
            out.push((DAV, "displayname", "kith".into()));
        }
        Target::Principal => {
            out.push((DAV, "resourcetype", "<d:collection/><d:principal/>".into()));
            out.push((DAV, "displayname", "kith".into()));
            out.push((DAV, "principal-collection-set", href("/dav/")));
        }
        Target::Home => {
            out.push((DAV, "resourcetype", "<d:collection/>".into()));
            out.push((DAV, "displayname", "Address books".into()));
            out.push((DAV, "current-user-privilege-set", PRIVILEGES_RO.into()));
        }
        Target::Book(which) => {
            let (name, description, token, privileges) = match which {
                Which::Own => ("kith", "Your kith ledger", Some(&tokens.own), PRIVILEGES_RW),
                Which::Team => (
                    "kith team",
                    "Your teammates' shared contacts (read-only)",
                    tokens.team.as_ref(),
                    PRIVILEGES_RO,
                ),
            };
            out.push((
                DAV,
                "resourcetype",
                "<d:collection/><card:addressbook/>".into(),
            ));
            out.push((DAV, "displayname", name.into()));
            out.push((CARD, "addressbook-description", description.into()));
            out.push((DAV, "owner", href(PRINCIPAL)));
            out.push((DAV, "current-user-privilege-set", privileges.into()));
            if let Some(t) = token {
                out.push((CS, "getctag", esc(t).into_owned()));
                out.push((DAV, "sync-token", esc(t).into_owned()));
            }
            out.push((
                DAV,
                "supported-report-set",
                concat!(
                    "<d:supported-report><d:report><card:addressbook-multiget/></d:report></d:supported-report>",
                    "<d:supported-report><d:report><card:addressbook-query/></d:report></d:supported-report>",
                    "<d:supported-report><d:report><d:sync-collection/></d:report></d:supported-report>"
                )
                .into(),
            ));
            out.push((
                CARD,
                "supported-address-data",
                "<card:address-data-type content-type=\"text/vcard\" version=\"3.0\"/>".into(),
            ));
            out.push((CARD, "max-resource-size", MAX_BODY.to_string()));
        }
        Target::Card(..) => {}
    }
    out
}

/// A card's properties from its href and ETag (and text, when known).
fn card_props(etag: &str, text: Option<&str>) -> Vec<(&'static str, &'static str, String)> {
    let mut out = vec![
        (DAV, "resourcetype", String::new()),
        (DAV, "getetag", esc(etag).into_owned()),
        (DAV, "getcontenttype", "text/vcard; charset=utf-8".into()),
    ];
    if let Some(t) = text {
        out.push((CARD, "address-data", esc(t).into_owned()));
    }
    out
}

/// One `<d:response>` for `href` answering `wanted` from `have`.
pub fn answer(href: &str, wanted: &Wanted, have: &[(&str, &str, String)]) -> String {
    match wanted {
        Wanted::All => {
            let found: Vec<String> = have
                .iter()
                // address-data is asked for by name only.
                .filter(|(ns, name, _)| !(*ns == CARD && *name == "address-data"))
                .map(|(ns, name, v)| xml::prop(ns, name, v))
                .collect();
            xml::response(href, &found, &[])
        }
        Wanted::Names => {
            let found: Vec<String> = have
                .iter()
                .map(|(ns, name, _)| xml::prop(ns, name, ""))
                .collect();
            xml::response(href, &found, &[])
        }
        Wanted::Some(list) => {
            let mut found = Vec::new();
            let mut missing = Vec::new();
            for (ns, name) in list {
                match have.iter().find(|(n, l, _)| n == ns && l == name) {
                    Some((n, l, v)) => found.push(xml::prop(n, l, v)),
                    None => missing.push((ns.clone(), name.clone())),
                }
            }
            xml::response(href, &found, &missing)
        }
    }
}

/// A card's `<d:response>`.
pub fn card_answer(which: Which, wanted: &Wanted, card: &Card, with_text: bool) -> String {
    let href = Target::Card(which, card.href.clone()).href();
    let text = with_text.then_some(card.text.as_str());
    answer(&href, wanted, &card_props(&card.etag, text))
}

/// The book's sync token, and the team's when it is served.
pub async fn tokens(state: &State) -> Result<Tokens, Response> {
    let own = state
        .core(|core| core.book.sync_token().map_err(internal))
        .await?;
    let team = if state.team() {
        Some(state.blocking(|s| Ok(team::token(s))).await?)
    } else {
        None
    };
    Ok(Tokens { own, team })
}

pub async fn propfind(state: &State, target: Target, req: Request) -> Result<Response, Response> {
    let depth = depth(&req, 1);
    let body = body_text(req).await?;
    let wanted = if body.trim().is_empty() {
        Wanted::All
    } else {
        let el = xml::parse(&body)
            .map_err(|e| text(StatusCode::BAD_REQUEST, format!("the PROPFIND body: {e}\n")))?;
        if !el.is(DAV, "propfind") {
            return Err(text(
                StatusCode::BAD_REQUEST,
                "a PROPFIND body is a <DAV:propfind>\n",
            ));
        }
        Wanted::of(&el)
    };
    match target {
        Target::Card(which, href) => {
            let card = load_card(state, which, &href).await?;
            let Some(card) = card else {
                return Err(text(
                    StatusCode::NOT_FOUND,
                    format!("no card {href} in this address book\n"),
                ));
            };
            let answer = card_answer(which, &wanted, &card, false);
            Ok(multistatus(format!(
                "{}{answer}{}",
                xml::MULTISTATUS_START,
                xml::MULTISTATUS_END
            )))
        }
        Target::Book(which) => {
            let tokens = tokens(state).await?;
            let head = format!(
                "{}{}",
                xml::MULTISTATUS_START,
                answer(&target.href(), &wanted, &collection_props(&target, &tokens))
            );
            if depth == 0 {
                return Ok(multistatus(format!("{head}{}", xml::MULTISTATUS_END)));
            }
            match which {
                Which::Own => Ok(stream_book(
                    state,
                    head,
                    wanted,
                    xml::MULTISTATUS_END.to_string(),
                )),
                Which::Team => {
                    let cards = state.blocking(|s| team::cards(s).map_err(internal)).await?;
                    let mut out = head;
                    for c in &cards {
                        out.push_str(&card_answer(Which::Team, &wanted, c, false));
                    }
                    out.push_str(xml::MULTISTATUS_END);
                    Ok(multistatus(out))
                }
            }
        }
        Target::Root | Target::Principal | Target::Home => {
            let tokens = tokens(state).await?;
            let mut out = String::from(xml::MULTISTATUS_START);
            out.push_str(&answer(
                &target.href(),
                &wanted,
                &collection_props(&target, &tokens),
            ));
            if depth > 0 && target == Target::Home {
                let mut books = vec![Target::Book(Which::Own)];
                if state.team() {
                    books.push(Target::Book(Which::Team));
                }
                for b in books {
                    out.push_str(&answer(&b.href(), &wanted, &collection_props(&b, &tokens)));
                }
            }
            out.push_str(xml::MULTISTATUS_END);
            Ok(multistatus(out))
        }
    }
}

/// How much of an answer is gathered before it is sent.
const CHUNK: usize = 32 * 1024;

/// The own book's cards between `head` and `tail`, streamed (see the
/// module docs): a PROPFIND Depth 1, or a first sync-collection.
pub fn stream_book(state: &State, head: String, wanted: Wanted, tail: String) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let home = state.home().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut buf = head;
        let mut open = true;
        let book = match Book::open(&home) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the address book to list it");
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                return;
            }
        };
        let listed = book.list(|href, etag| {
            if !open {
                return;
            }
            let target = Target::Card(Which::Own, href.to_string());
            buf.push_str(&answer(&target.href(), &wanted, &card_props(etag, None)));
            if buf.len() >= CHUNK {
                let piece = std::mem::take(&mut buf);
                open = tx.blocking_send(Ok(Bytes::from(piece))).is_ok();
            }
        });
        match listed {
            Ok(_) => {
                buf.push_str(&tail);
                let _ = tx.blocking_send(Ok(Bytes::from(buf)));
            }
            Err(e) => {
                tracing::warn!(error = %e, "listing the address book failed");
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    multistatus_stream(Body::from_stream(stream))
}
