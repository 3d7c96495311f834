//! Address-book cards: the library core of the CardDAV face (issue 15).
//!
//! One mapping, both ways. A person is served as the vCard 3.0 card
//! `kith export --format vcard` writes ([`crate::export::vcard::card`],
//! private fields included: a paired phone is one of the owner's own
//! devices), and a card a phone sends is read by the reader `kith import`
//! uses ([`crate::import::vcard`]) and matched by import's matcher
//! ([`crate::import::ContactImport`]). Nothing here knows HTTP or XML.
//!
//! - [`card`]: a person as a [`Card`] (href, UID, ETag, text).
//! - [`Book`] (`book.rs`): the derived sync state in `cards.sqlite`, kept
//!   current by comparing the index's per-shard versions, with the sync
//!   token, ctag, listing, get, multiget and query the face answers from.
//! - `put.rs`: a phone's PUT as field changes on one person, and DELETE as
//!   `kith rm`.
//!
//! Names. The UID is the address book's own `uid` when the person came with
//! one, else `kith-<id>` (what the export writes). The href is `<UID>.vcf`
//! when the UID is made only of characters every client and server keeps
//! as they are, else `kith-<id>.vcf`; a card created on a phone keeps the
//! href the phone chose, stored on the person as the private field
//! `carddav_href` (only when it differs from the derived one). The ETag is
//! a hash of exactly the bytes served.

mod book;
mod put;
#[cfg(test)]
mod tests;

use sha2::{Digest, Sha256};

pub use book::{Book, Changes, MatchType, Prop, Refreshed, TextMatch, TokenError};
pub use put::{PutOutcome, REMOVABLE, Written};

use crate::error::Result;
use crate::export::vcard::{self, Version};
use crate::ledger::Ledger;
use crate::model::{Entity, Kind};

/// The vCard version cards are served in: 3.0 is what RFC 6352 requires
/// every client to read, and what Apple Contacts reads best.
pub const VERSION: Version = Version::V3;

/// The private person field that keeps an href a phone chose.
pub const HREF_FIELD: &str = "carddav_href";

/// One person as an address-book card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Card {
    /// The last path segment of the card's URL, e.g. `kith-y5jnfwzae5ym6b4b.vcf`.
    pub href: String,
    pub uid: String,
    /// A strong HTTP entity tag, quotes included: `"…"`.
    pub etag: String,
    /// The vCard, exactly as served.
    pub text: String,
}

/// What can go wrong with a card the face was asked to read, write or
/// delete; each maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    /// If-Match did not name the card as it stands (412).
    #[error("card {href}: it changed since it was read (If-Match {given}; it is now {})", current.as_deref().unwrap_or("gone"))]
    Changed {
        href: String,
        given: String,
        current: Option<String>,
    },
    /// If-None-Match: * on a card that exists (412).
    #[error("card {href} exists already (If-None-Match: *)")]
    Exists { href: String },
    /// The body is not one readable vCard (400); nothing was written.
    #[error("card {href}: not a readable vCard: {reason}")]
    Unreadable { href: String, reason: String },
    /// A name no card can have (400).
    #[error("card name '{href}' is not allowed: {reason}")]
    BadHref { href: String, reason: String },
    /// No card by that name (404).
    #[error("no card {href} in the address book")]
    NotFound { href: String },
    /// The ledger or the book failed (500).
    #[error(transparent)]
    Ledger(#[from] crate::Error),
}

/// The strong ETag of a card's bytes: 128 bits of SHA-256, quoted.
pub fn etag_of(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Whether an If-Match value names this ETag. Quotes and a weak `W/` are
/// ignored, since clients echo what they were given in different ways.
pub(crate) fn etag_matches(given: &str, etag: &str) -> bool {
    let bare = |s: &str| {
        s.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_string()
    };
    given.trim() == "*" || bare(given) == bare(etag)
}

/// Characters a derived href may hold: those no client, proxy or file
/// system escapes or folds (vdirsyncer's safe set, plus `@` and `~`).
fn safe_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.+@~".contains(c)
}

/// Whether `uid` can be used as it is in an href.
fn uid_is_path_safe(uid: &str) -> bool {
    !uid.is_empty() && uid.len() <= 200 && !uid.starts_with('.') && uid.chars().all(safe_char)
}

/// The href a person's card is served at (see the module docs).
pub fn href_of(e: &Entity) -> String {
    match e.str(HREF_FIELD) {
        Some(h) => h.to_string(),
        None => file_name_of(e),
    }
}

/// The name derived from the UID alone, without an href a phone chose:
/// the card's href, and its file name in a vdir (`kith export --vdir`).
pub fn file_name_of(e: &Entity) -> String {
    let uid = vcard::entity_uid(e);
    if uid_is_path_safe(&uid) {
        format!("{uid}.vcf")
    } else {
        format!("{}{}.vcf", crate::import::KITH_UID_PREFIX, e.id)
    }
}

/// Whether an href a phone chose can be kept: one path segment, printable,
/// of a sane length. The face decodes percent escapes before asking.
pub(crate) fn check_href(href: &str) -> std::result::Result<(), CardError> {
    let bad = |reason: &str| {
        Err(CardError::BadHref {
            href: href.chars().take(80).collect(),
            reason: reason.to_string(),
        })
    };
    if href.is_empty() || href.len() > 255 {
        return bad("it must be 1 to 255 bytes long");
    }
    if href == "." || href == ".." || href.contains('/') || href.contains('\\') {
        return bad("it must be one path segment");
    }
    if href.chars().any(char::is_control) {
        return bad("it holds a control character");
    }
    Ok(())
}

/// A person as a card, read from the index: the same record and writer
/// `kith export --format vcard --private` uses.
pub fn card(ledger: &Ledger, person: &Entity) -> Result<Card> {
    let record = ledger
        .export_records(std::slice::from_ref(person), true)?
        .into_iter()
        .next();
    let text = match record {
        Some(r) => vcard::card(&r, VERSION),
        None => String::new(),
    };
    Ok(Card {
        href: href_of(person),
        uid: vcard::entity_uid(person),
        etag: etag_of(&text),
        text,
    })
}

/// Whether an entity is served as a card: a person not removed. Companies
/// are not cards: a phone shows them as the ORG of their people.
pub(crate) fn is_card(e: &Entity) -> bool {
    e.kind == Kind::Person && !e.is_deleted() && e.get("merged_into").is_none()
}
