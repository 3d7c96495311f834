//! The team's read-only book (`--team`): every teammate's shared people,
//! from the replicas held here, each card marked with its owner: the name
//! shows as "Ann Lee (alice)", an `X-KITH-OWNER` line names the teammate,
//! and the href and UID carry the teammate's id so a person two teammates
//! both know is two cards, not one.
//!
//! It has no change log: its token is [`crate::watch::fingerprint`], which
//! moves whenever a replica (or the own ledger) changes, and the book is
//! computed afresh when asked. Teams are tens of people sharing thousands
//! of contacts, not the own book's 100,000.

use crate::cards::{self, Card, MatchType, Prop, TextMatch};
use crate::error::Result;
use crate::ops::ListFilter;
use crate::replicas::Opener;

use super::State;

/// The team book's sync token and ctag.
pub fn token(state: &State) -> String {
    format!(
        "urn:x-kith:team:{:016x}",
        crate::watch::fingerprint(state.home())
    )
}

/// A short, path-safe mark of a teammate's member id.
fn short(id: &str) -> String {
    id.chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect()
}

/// Every teammate's shared people as cards, in href order.
pub fn cards(state: &State) -> Result<Vec<Card>> {
    let opener = Opener::new(state.home(), state.now(), state.tz().clone());
    let mut out = Vec::new();
    for r in opener.replicas()? {
        let owner = r.label(state.tz());
        let mark = short(&r.owner.id);
        let people = r.ledger.list_people(&ListFilter {
            tag: None,
            company: None,
            removed: false,
            limit: None,
        })?;
        for p in people {
            if !cards::is_card(&p) {
                continue;
            }
            let c = cards::card(&r.ledger, &p)?;
            out.push(marked(c, &owner, &mark));
        }
    }
    out.sort_by(|a, b| a.href.cmp(&b.href));
    Ok(out)
}

/// One card of the team's book.
pub fn get(state: &State, href: &str) -> Result<Option<Card>> {
    Ok(cards(state)?.into_iter().find(|c| c.href == href))
}

/// The team's cards matching `filters` (see [`crate::cards::Book::query`]).
pub fn query(state: &State, filters: &[TextMatch], any: bool, limit: usize) -> Result<Vec<Card>> {
    let mut out = Vec::new();
    for c in cards(state)? {
        if out.len() >= limit {
            break;
        }
        if matches_text(&c, filters, any) {
            out.push(c);
        }
    }
    Ok(out)
}

/// Whether a card passes an addressbook-query's text-matches: values and
/// text compared with case folded (the own book folds accents too).
fn matches_text(c: &Card, filters: &[TextMatch], any: bool) -> bool {
    let parsed = crate::import::vcard::parse(&c.href, &c.text);
    let Some(contact) = parsed.contacts.first() else {
        return false;
    };
    let hit = |f: &TextMatch| {
        let want = f.text.to_lowercase();
        let values: Vec<&str> = match f.prop {
            Prop::Fn => vec![contact.name.as_str()],
            Prop::Email => contact.emails.iter().map(|h| h.value.as_str()).collect(),
            Prop::Tel => contact.phones.iter().map(|h| h.value.as_str()).collect(),
        };
        let found = values.into_iter().any(|v| {
            let v = v.to_lowercase();
            match f.match_type {
                MatchType::Contains => v.contains(&want),
                MatchType::Equals => v == want,
                MatchType::StartsWith => v.starts_with(&want),
                MatchType::EndsWith => v.ends_with(&want),
            }
        });
        found != f.negate
    };
    if any {
        filters.iter().any(hit)
    } else {
        filters.iter().all(hit)
    }
}

/// A teammate's card as the team book serves it.
fn marked(c: Card, owner: &str, mark: &str) -> Card {
    // Logical lines: a folded line's continuations start with a blank.
    let mut lines: Vec<String> = Vec::new();
    for raw in c.text.split("\r\n").flat_map(|l| l.split('\n')) {
        match lines.last_mut() {
            Some(last) if raw.starts_with(' ') || raw.starts_with('\t') => {
                last.push_str(&raw[1..]);
            }
            _ => lines.push(raw.to_string()),
        }
    }
    let uid = format!("{mark}-{}", c.uid);
    let mut text = String::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("FN:") || upper.starts_with("FN;") {
            text.push_str(&format!("{line} ({})\r\n", escape(owner)));
        } else if upper.starts_with("UID:") {
            text.push_str(&format!("UID:{}\r\n", escape(&uid)));
        } else if upper == "END:VCARD" {
            text.push_str(&format!("X-KITH-OWNER:{}\r\nEND:VCARD\r\n", escape(owner)));
        } else {
            text.push_str(&line);
            text.push_str("\r\n");
        }
    }
    Card {
        href: format!("{mark}-{}", c.href),
        etag: cards::etag_of(&text),
        uid,
        text,
    }
}

/// vCard text escaping for a value.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace(';', "\\;")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_teammates_card_says_whose_it_is() {
        let text = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:kith-abc\r\nFN:Ann Lee and a name long enough to be fol\r\n ded\r\nEND:VCARD\r\n";
        let c = Card {
            href: "kith-abc.vcf".into(),
            uid: "kith-abc".into(),
            etag: cards::etag_of(text),
            text: text.into(),
        };
        let m = marked(c.clone(), "alice", "m1");
        assert_eq!(m.href, "m1-kith-abc.vcf");
        assert_eq!(m.uid, "m1-kith-abc");
        assert!(
            m.text
                .contains("FN:Ann Lee and a name long enough to be folded (alice)\r\n"),
            "{}",
            m.text
        );
        assert!(m.text.contains("UID:m1-kith-abc\r\n"));
        assert!(m.text.ends_with("X-KITH-OWNER:alice\r\nEND:VCARD\r\n"));
        assert_eq!(m.etag, cards::etag_of(&m.text));
        assert_ne!(m.etag, c.etag);
        let parsed = crate::import::vcard::parse("x", &m.text);
        assert_eq!(parsed.contacts.len(), 1);
        assert!(matches_text(
            &m,
            &[TextMatch::contains(Prop::Fn, "ANN")],
            false
        ));
        assert!(!matches_text(
            &m,
            &[TextMatch::contains(Prop::Fn, "bob")],
            false
        ));
    }
}
