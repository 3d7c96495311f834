//! REPORT on a book: `addressbook-multiget`, `addressbook-query` (text-match
//! on FN, EMAIL and TEL) and `sync-collection` (RFC 6578, sync-level 1).
//!
//! The team's book has no change log of its own: its token is a
//! fingerprint of the replicas held here ([`super::team::token`]). The
//! same token gets an empty answer; an empty token the whole book; any
//! other token a 403 `valid-sync-token`, on which a client syncs afresh
//! and so also drops the cards that left the book.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;

use super::propfind::{Wanted, answer, card_answer, stream_book};
use super::xml::{self, CARD, DAV, El};
use super::{
    State, Target, Which, body_text, internal, multistatus, multistatus_stream, team, text,
    xml_error,
};
use crate::cards::{Card, MatchType, Prop, TextMatch, TokenError};

/// At most this many cards in one addressbook-query answer.
const QUERY_LIMIT: usize = 1000;

pub async fn report(state: &State, target: Target, req: Request) -> Result<Response, Response> {
    let body = body_text(req).await?;
    let el = xml::parse(&body)
        .map_err(|e| text(StatusCode::BAD_REQUEST, format!("the REPORT body: {e}\n")))?;
    let Target::Book(which) = target else {
        return Err(xml_error(
            StatusCode::FORBIDDEN,
            DAV,
            "supported-report",
            "a REPORT is asked of an address book",
        ));
    };
    if el.is(CARD, "addressbook-multiget") {
        multiget(state, which, &el).await
    } else if el.is(CARD, "addressbook-query") {
        query(state, which, &el).await
    } else if el.is(DAV, "sync-collection") {
        sync(state, which, &el).await
    } else {
        Err(xml_error(
            StatusCode::FORBIDDEN,
            DAV,
            "supported-report",
            "unknown report",
        ))
    }
}

/// Whether card text was asked for.
fn wants_text(wanted: &Wanted) -> bool {
    matches!(wanted, Wanted::Some(_)) && wanted.wants(CARD, "address-data")
}

/// The card name an href in a request names in `which`, if any. Hrefs may
/// come as paths or whole URLs, escaped or not.
fn href_in(which: Which, href: &str) -> Option<String> {
    let href = href.trim();
    let path = match href.find("://") {
        Some(i) => {
            let rest = &href[i + 3..];
            &rest[rest.find('/')?..]
        }
        None => href,
    };
    let decoded = xml::percent_decode(path)?;
    let name = decoded.strip_prefix(which.path())?;
    (!name.is_empty() && !name.contains('/')).then(|| name.to_string())
}

async fn multiget(state: &State, which: Which, el: &El) -> Result<Response, Response> {
    let wanted = Wanted::of(el);
    let with_text = wants_text(&wanted);
    let hrefs: Vec<(String, Option<String>)> = el
        .children_named(DAV, "href")
        .map(|h| (h.text.trim().to_string(), href_in(which, &h.text)))
        .collect();
    let names: Vec<String> = hrefs.iter().filter_map(|(_, n)| n.clone()).collect();
    let cards: Vec<(String, Option<Card>)> = match which {
        Which::Own => {
            state
                .core(move |core| {
                    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                    core.book.multiget(&core.ledger, &refs).map_err(internal)
                })
                .await?
        }
        Which::Team => {
            state
                .blocking(move |s| {
                    let all = team::cards(s).map_err(internal)?;
                    Ok(names
                        .into_iter()
                        .map(|n| {
                            let c = all.iter().find(|c| c.href == n).cloned();
                            (n, c)
                        })
                        .collect())
                })
                .await?
        }
    };
    let mut out = String::from(xml::MULTISTATUS_START);
    for (sent, name) in &hrefs {
        let card = name
            .as_ref()
            .and_then(|n| cards.iter().find(|(h, _)| h == n))
            .and_then(|(_, c)| c.as_ref());
        match card {
            Some(c) => {
                let props = card_text_props(c, with_text);
                out.push_str(&answer(sent, &wanted, &props));
            }
            None => out.push_str(&xml::status_response(sent, "404 Not Found")),
        }
    }
    out.push_str(xml::MULTISTATUS_END);
    Ok(multistatus(out))
}

fn card_text_props(c: &Card, with_text: bool) -> Vec<(&'static str, &'static str, String)> {
    let mut v = vec![
        (DAV, "resourcetype", String::new()),
        (DAV, "getetag", xml::esc(&c.etag).into_owned()),
        (
            DAV,
            "getcontenttype",
            "text/vcard; charset=utf-8".to_string(),
        ),
    ];
    if with_text {
        v.push((CARD, "address-data", xml::esc(&c.text).into_owned()));
    }
    v
}

/// The text-matches of an `<card:filter>`, and whether any one suffices.
fn filters(el: &El) -> Result<(Vec<TextMatch>, bool), Response> {
    let unsupported =
        |why: String| xml_error(StatusCode::FORBIDDEN, CARD, "supported-filter", &why);
    let Some(filter) = el.child(CARD, "filter") else {
        return Ok((Vec::new(), false));
    };
    let any = filter.attr("test") == Some("anyof");
    let mut out = Vec::new();
    for pf in filter.children_named(CARD, "prop-filter") {
        let prop = match pf.attr("name").map(str::to_ascii_uppercase).as_deref() {
            Some("FN") => Prop::Fn,
            Some("EMAIL") => Prop::Email,
            Some("TEL") => Prop::Tel,
            other => {
                return Err(unsupported(format!(
                    "prop-filter on {} (FN, EMAIL and TEL are searched)",
                    other.unwrap_or("nothing")
                )));
            }
        };
        let matches: Vec<&El> = pf.children_named(CARD, "text-match").collect();
        if matches.is_empty() || pf.child(CARD, "param-filter").is_some() {
            return Err(unsupported("a prop-filter without text-match".into()));
        }
        if pf.attr("test") == Some("allof") && matches.len() > 1 && any {
            return Err(unsupported("allof text-matches under anyof".into()));
        }
        for tm in matches {
            let match_type = match tm.attr("match-type").unwrap_or("contains") {
                "contains" => MatchType::Contains,
                "equals" => MatchType::Equals,
                "starts-with" => MatchType::StartsWith,
                "ends-with" => MatchType::EndsWith,
                other => return Err(unsupported(format!("match-type {other}"))),
            };
            out.push(TextMatch {
                prop,
                text: tm.text.clone(),
                match_type,
                negate: tm.attr("negate-condition") == Some("yes"),
            });
        }
    }
    Ok((out, any))
}

async fn query(state: &State, which: Which, el: &El) -> Result<Response, Response> {
    let wanted = Wanted::of(el);
    let with_text = wants_text(&wanted);
    let (filters, any) = filters(el)?;
    let limit = el
        .child(CARD, "limit")
        .and_then(|l| l.child(CARD, "nresults"))
        .and_then(|n| n.text.trim().parse::<usize>().ok())
        .unwrap_or(QUERY_LIMIT)
        .min(QUERY_LIMIT);
    let cards = match which {
        Which::Own => {
            state
                .core(move |core| {
                    core.book
                        .query(&core.ledger, &filters, any, limit)
                        .map_err(internal)
                })
                .await?
        }
        Which::Team => {
            state
                .blocking(move |s| team::query(s, &filters, any, limit).map_err(internal))
                .await?
        }
    };
    let mut out = String::from(xml::MULTISTATUS_START);
    for c in &cards {
        out.push_str(&card_answer(which, &wanted, c, with_text));
    }
    out.push_str(xml::MULTISTATUS_END);
    Ok(multistatus(out))
}

/// How many members are written into one piece of a streamed answer.
const PIECE: usize = 500;

async fn sync(state: &State, which: Which, el: &El) -> Result<Response, Response> {
    let wanted = Wanted::of(el);
    let with_text = wants_text(&wanted);
    let token = el
        .child(DAV, "sync-token")
        .map(|t| t.text.trim().to_string())
        .unwrap_or_default();
    if let Some(level) = el.child(DAV, "sync-level") {
        let level = level.text.trim();
        if level != "1" && level != "infinite" {
            return Err(text(
                StatusCode::BAD_REQUEST,
                format!("sync-level {level}: 1 or infinite\n"),
            ));
        }
    }
    let invalid = |why: String| xml_error(StatusCode::FORBIDDEN, DAV, "valid-sync-token", &why);
    // A first sync of the own book is every card: streamed from the book's
    // listing like a PROPFIND Depth 1, under the token read before it (a
    // card changed meanwhile is listed again next time, never missed).
    if which == Which::Own && token.is_empty() && !with_text {
        let now = state
            .core(|core| core.book.sync_token().map_err(internal))
            .await?;
        let tail = format!(
            "<d:sync-token>{}</d:sync-token>\n{}",
            xml::esc(&now),
            xml::MULTISTATUS_END
        );
        return Ok(stream_book(
            state,
            xml::MULTISTATUS_START.to_string(),
            wanted,
            tail,
        ));
    }
    // (href, ETag, card text if asked) of what changed; hrefs removed; the
    // new token.
    type Changed = Vec<(String, String, Option<String>)>;
    let (changed, removed, new_token): (Changed, Vec<String>, String) = match which {
        Which::Own => {
            let outcome = state
                .core(move |core| {
                    let changes = match core.book.changes_since(&token) {
                        Ok(c) => c,
                        Err(TokenError::Ledger(e)) => return Err(internal(e)),
                        Err(e) => return Ok(Err(e.to_string())),
                    };
                    let mut changed = Vec::with_capacity(changes.changed.len());
                    for (href, etag) in changes.changed {
                        let text = if with_text {
                            match core.book.get(&core.ledger, &href).map_err(internal)? {
                                Some(c) => Some(c.text),
                                None => continue,
                            }
                        } else {
                            None
                        };
                        changed.push((href, etag, text));
                    }
                    Ok(Ok((changed, changes.removed, changes.token)))
                })
                .await?;
            outcome.map_err(invalid)?
        }
        Which::Team => {
            let outcome = state
                .blocking(move |s| {
                    let now = team::token(s);
                    if token == now {
                        return Ok(Ok((Vec::new(), Vec::new(), now)));
                    }
                    if !token.is_empty() {
                        return Ok(Err(format!(
                            "the team's book moved since token {token}: sync afresh"
                        )));
                    }
                    let cards = team::cards(s).map_err(internal)?;
                    let changed = cards
                        .into_iter()
                        .map(|c| (c.href, c.etag, with_text.then_some(c.text)))
                        .collect();
                    Ok(Ok((changed, Vec::new(), now)))
                })
                .await?;
            outcome.map_err(invalid)?
        }
    };
    // Written a piece at a time: a first sync of 100,000 cards is one
    // answer, and only the hrefs and ETags are held.
    let mut changed = changed.into_iter();
    let mut removed = removed.into_iter();
    let mut state_of = 0u8;
    let pieces = std::iter::from_fn(move || {
        let mut out = String::new();
        match state_of {
            0 => {
                out.push_str(xml::MULTISTATUS_START);
                state_of = 1;
            }
            1 => {
                for (href, etag, text) in changed.by_ref().take(PIECE) {
                    let card = Card {
                        uid: String::new(),
                        href,
                        etag,
                        text: text.unwrap_or_default(),
                    };
                    out.push_str(&card_answer(which, &wanted, &card, with_text));
                }
                if out.is_empty() {
                    state_of = 2;
                }
            }
            2 => {
                for href in removed.by_ref().take(PIECE) {
                    let target = Target::Card(which, href);
                    out.push_str(&xml::status_response(&target.href(), "404 Not Found"));
                }
                if out.is_empty() {
                    out.push_str(&format!(
                        "<d:sync-token>{}</d:sync-token>\n{}",
                        xml::esc(&new_token),
                        xml::MULTISTATUS_END
                    ));
                    state_of = 3;
                }
            }
            _ => return None,
        }
        Some(Ok::<_, std::io::Error>(Bytes::from(out)))
    })
    .filter(|piece| piece.as_ref().map(|b| !b.is_empty()).unwrap_or(true));
    Ok(multistatus_stream(Body::from_stream(
        futures::stream::iter(pieces),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_as_clients_send_them() {
        let own = |h: &str| href_in(Which::Own, h);
        assert_eq!(own("/dav/books/kith/a.vcf").as_deref(), Some("a.vcf"));
        assert_eq!(
            own(" /dav/books/kith/a%20b.vcf ").as_deref(),
            Some("a b.vcf")
        );
        assert_eq!(
            own("https://laptop.local:5232/dav/books/kith/a.vcf").as_deref(),
            Some("a.vcf")
        );
        assert_eq!(own("/dav/books/team/a.vcf"), None);
        assert_eq!(own("/dav/books/kith/"), None);
        assert_eq!(own("/dav/books/kith/a/b.vcf"), None);
        assert_eq!(own("/dav/books/kith/a%2Fb.vcf"), None);
        assert_eq!(own("http://no-path"), None);
        assert_eq!(own("/dav/books/kith/%zz"), None);
    }
}
