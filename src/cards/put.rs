//! A phone's PUT and DELETE.
//!
//! A card for an href the book does not know is a new card: it is matched
//! the way `kith import` matches (UID, then email, then phone with a
//! similar name; [`ContactImport`] itself), so nobody is doubled, and what
//! it adds is planned by import too. A card for a known href becomes field
//! changes on that person: the card as kith serves it now and the card the
//! phone sent are both read by the import reader, and what differs is
//! written, in one `Ledger::write` whose history names the device.
//!
//! What a PUT never loses: facts, notes, interactions, follow-ups and
//! relationships (a NOTE, fact or related name the phone adds is added; one
//! it leaves out stays), the privacy part of every field it edits, and any
//! field the card does not carry. Only the properties every CardDAV client
//! shows and saves ([`REMOVABLE`]) are removed when a phone leaves them
//! out, and only when the PUT names, by If-Match, the card it was edited
//! from: without that kith cannot know the phone ever saw the value.

use std::collections::{HashMap, HashSet};

use serde_json::{Value as Json, json};

use super::{Book, CardError, HREF_FIELD, card, check_href, etag_matches, href_of, is_card};
use crate::import::vcard::address_line;
use crate::import::{Contact, ContactImport, Handle, KITH_UID_PREFIX, Parsed, derivable};
use crate::ledger::{Ledger, text};
use crate::model::{Entity, Id, Kind, Privacy, default_sort_name};
use crate::store::Change;

/// The person fields a phone's card removes by leaving them out: FN/N
/// (which can only change), EMAIL, TEL, ADR, ORG, TITLE and BDAY. Every
/// client shows and saves these. NOTE is not among them: kith keeps notes
/// as dated items, and a phone that keeps one NOTE would otherwise delete
/// the rest; NICKNAME, URL, IMPP, CATEGORIES, ANNIVERSARY, PHOTO and the
/// rest are kept when absent, since some clients drop what they do not show.
pub const REMOVABLE: [&str; 7] = [
    "emails",
    "phones",
    "addresses",
    "company",
    "department",
    "title",
    "birthday",
];

/// Whether a PUT made a new card or changed one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// A card at an href that had none (201): a new person, or one the
    /// card was matched to.
    Created,
    /// An existing card changed, or was sent back unchanged (204).
    Updated,
}

/// What a PUT did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutOutcome {
    pub written: Written,
    pub person: Id,
    /// The card's href: the one PUT to.
    pub href: String,
    /// The ETag of the card kith now serves there. It is of kith's own
    /// rendering, which differs from the bytes the phone sent.
    pub etag: String,
    /// A new card was matched to a person already in the ledger.
    pub merged: bool,
    /// Whether anything was written to the ledger.
    pub changed: bool,
}

/// Reads one card with import's reader; anything else is refused with why.
pub(crate) fn read_one(href: &str, text: &str) -> Result<Contact, CardError> {
    let unreadable = |reason: String| CardError::Unreadable {
        href: href.to_string(),
        reason,
    };
    let mut parsed = crate::import::vcard::parse(href, text);
    if let Some(first) = parsed.skipped.first() {
        return Err(unreadable(first.clone()));
    }
    match parsed.contacts.len() {
        0 => Err(unreadable("no BEGIN:VCARD … END:VCARD in it".into())),
        1 => Ok(parsed.contacts.remove(0)),
        n => Err(unreadable(format!("{n} cards in it; a PUT holds one"))),
    }
}

/// The sort name import gives a contact.
fn sort_rule(c: &Contact) -> String {
    match &c.name_parts {
        Some(p) if p.len() >= 2 && !p[0].is_empty() && !p[1].is_empty() => {
            format!("{}, {}", p[0], p[1])
        }
        _ => default_sort_name(&c.name),
    }
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What two spellings of one member share after a trip through a card.
fn norm(field: &str, value: &str, parts: Option<&[String]>) -> String {
    match field {
        "emails" | "tags" => value.trim().to_lowercase(),
        "phones" => collapse(value.trim().strip_prefix("tel:").unwrap_or(value.trim())),
        "addresses" => match parts {
            Some(p) => address_line(p),
            None => collapse(value),
        },
        _ => collapse(value),
    }
}

/// A person's members of a set field by their normal form: (key, meta,
/// part).
fn entity_members(e: &Entity, field: &str) -> HashMap<String, (String, Json, Privacy)> {
    let mut out = HashMap::new();
    for (part, privacy) in [(&e.shared, Privacy::Shared), (&e.private, Privacy::Private)] {
        let Some(Json::Object(m)) = part.get(field) else {
            continue;
        };
        for (key, meta) in m {
            let parts: Option<Vec<String>> = meta
                .get("adr")
                .and_then(|a| serde_json::from_value(a.clone()).ok());
            out.entry(norm(field, key, parts.as_deref()))
                .or_insert_with(|| (key.clone(), meta.clone(), privacy));
        }
    }
    out
}

/// Turns the difference between the card served (`old`) and the card sent
/// (`new`) into changes to `e`. `removals`: whether leaving a value out
/// removes it (see [`REMOVABLE`]).
fn diff(
    ledger: &Ledger,
    e: &Entity,
    old: &Contact,
    new: &Contact,
    removals: bool,
    changes: &mut Vec<Change>,
) -> crate::Result<()> {
    let kind = e.kind;
    // A field keeps the part it is in; a new one goes where settings say.
    let privacy = |field: &str| {
        e.privacy_of(field)
            .unwrap_or_else(|| ledger.settings.person_field(field))
    };
    let put = |changes: &mut Vec<Change>, field: &str, value: Json| {
        if e.get(field) != Some(&value) {
            changes.push(Change::Put {
                kind,
                id: e.id.clone(),
                field: field.to_string(),
                value,
                privacy: privacy(field),
            });
        }
    };
    let remove = |changes: &mut Vec<Change>, field: &str| {
        if removals && REMOVABLE.contains(&field) && e.get(field).is_some() {
            changes.push(Change::Remove {
                kind,
                id: e.id.clone(),
                field: field.to_string(),
            });
        }
    };

    // A card without N (vCard 3.0 requires it, but not every client
    // writes it) says nothing about the name's parts.
    let parts_changed = new.name_parts.is_some() && new.name_parts != old.name_parts;
    if new.name != old.name || parts_changed {
        if !new.name.trim().is_empty() {
            put(changes, "name", text(new.name.trim()));
        }
        let sort = sort_rule(new);
        if sort != sort_rule(old) {
            put(changes, "sort_name", text(&sort));
        }
        match &new.name_parts {
            Some(p) if !derivable(p, &sort) => put(changes, "name_parts", json!(p)),
            Some(_) if e.get("name_parts").is_some() => changes.push(Change::Remove {
                kind,
                id: e.id.clone(),
                field: "name_parts".into(),
            }),
            _ => {}
        }
    }

    for (field, was, now) in [
        ("nickname", &old.nickname, &new.nickname),
        ("title", &old.title, &new.title),
        ("department", &old.department, &new.department),
        ("lang", &old.lang, &new.lang),
        ("gender", &old.gender, &new.gender),
        ("photo", &old.photo, &new.photo),
    ] {
        if was != now {
            match now {
                Some(v) => put(changes, field, text(v)),
                None => remove(changes, field),
            }
        }
    }
    for (field, was, now) in [
        ("birthday", old.birthday, new.birthday),
        ("anniversary", old.anniversary, new.anniversary),
    ] {
        if was != now {
            match now {
                Some(d) => put(changes, field, text(d.to_string())),
                None => remove(changes, field),
            }
        }
    }
    if old.company != new.company {
        match &new.company {
            Some(name) => {
                let id = ledger.company_for(name, changes)?;
                put(changes, "company", text(id.as_str()));
            }
            None => remove(changes, "company"),
        }
    }
    for (field, was, now) in [
        ("emails", &old.emails, &new.emails),
        ("phones", &old.phones, &new.phones),
        ("addresses", &old.addresses, &new.addresses),
        ("urls", &old.urls, &new.urls),
        ("impps", &old.impps, &new.impps),
    ] {
        members(ledger, e, field, was, now, removals, changes);
    }
    let as_handles =
        |tags: &[String]| -> Vec<Handle> { tags.iter().map(|t| Handle::new(t, "")).collect() };
    members(
        ledger,
        e,
        "tags",
        &as_handles(&old.tags),
        &as_handles(&new.tags),
        removals,
        changes,
    );
    if old.extra != new.extra && !new.extra.is_empty() {
        put(changes, "vcard", json!(new.extra));
    }
    Ok(())
}

/// Members added, relabelled, and (where allowed) removed.
fn members(
    ledger: &Ledger,
    e: &Entity,
    field: &str,
    old: &[Handle],
    new: &[Handle],
    removals: bool,
    changes: &mut Vec<Change>,
) {
    let have = entity_members(e, field);
    let old_by: HashMap<String, &Handle> = old
        .iter()
        .map(|h| (norm(field, &h.value, h.parts.as_deref()), h))
        .collect();
    let new_norms: HashSet<String> = new
        .iter()
        .map(|h| norm(field, &h.value, h.parts.as_deref()))
        .collect();
    // New members join the part the field's members are in.
    let parts: HashSet<Privacy> = have.values().map(|(_, _, p)| *p).collect();
    let privacy = match parts.into_iter().collect::<Vec<_>>().as_slice() {
        [only] => *only,
        _ => ledger.settings.person_field(field),
    };
    let mut next_pos = have
        .values()
        .filter_map(|(_, m, _)| m.get("pos").and_then(Json::as_i64))
        .max()
        .map_or(0, |p| p + 1);
    for h in new {
        let n = norm(field, &h.value, h.parts.as_deref());
        match have.get(&n) {
            Some((key, meta, part)) => {
                let relabelled = old_by.get(&n).is_some_and(|o| o.label != h.label);
                if relabelled {
                    let mut meta = meta.clone();
                    if let Json::Object(m) = &mut meta {
                        if h.label.is_empty() {
                            m.remove("label");
                        } else {
                            m.insert("label".into(), text(&h.label));
                        }
                    }
                    changes.push(Change::PutMember {
                        kind: e.kind,
                        id: e.id.clone(),
                        field: field.into(),
                        member: key.clone(),
                        meta,
                        privacy: *part,
                    });
                }
            }
            None => {
                let mut meta = json!({ "pos": next_pos });
                next_pos += 1;
                if !h.label.is_empty() {
                    meta["label"] = text(&h.label);
                }
                if let Some(p) = &h.parts {
                    meta["adr"] = json!(p);
                }
                if !h.extra.is_empty() {
                    meta["vcard"] = json!(h.extra);
                }
                changes.push(Change::PutMember {
                    kind: e.kind,
                    id: e.id.clone(),
                    field: field.into(),
                    member: h.value.clone(),
                    meta,
                    privacy,
                });
            }
        }
    }
    if removals && REMOVABLE.contains(&field) {
        for n in old_by.keys().filter(|n| !new_norms.contains(*n)) {
            if let Some((key, _, _)) = have.get(n) {
                changes.push(Change::RemoveMember {
                    kind: e.kind,
                    id: e.id.clone(),
                    field: field.into(),
                    member: key.clone(),
                });
            }
        }
    }
}

/// What a card adds that only import knows how to add: notes, facts and
/// related people new on the card. Planned by import against the person
/// itself (found by its own `kith-<id>` UID).
fn additions(
    ledger: &Ledger,
    e: &Entity,
    old: &Contact,
    new: &Contact,
    href: &str,
) -> crate::Result<Vec<Change>> {
    let notes: Vec<String> = new
        .notes
        .iter()
        .filter(|n| !old.notes.contains(n))
        .cloned()
        .collect();
    let facts: Vec<(String, Option<String>)> = new
        .facts
        .iter()
        .filter(|f| !old.facts.iter().any(|o| o.0 == f.0))
        .cloned()
        .collect();
    let related: Vec<_> = new
        .related
        .iter()
        .filter(|r| !old.related.contains(r))
        .cloned()
        .collect();
    if notes.is_empty() && facts.is_empty() && related.is_empty() {
        return Ok(Vec::new());
    }
    let residual = Contact {
        uid: Some(format!("{KITH_UID_PREFIX}{}", e.id)),
        name: e.str("name").unwrap_or(&new.name).to_string(),
        notes,
        facts,
        related,
        ..Contact::default()
    };
    let mut plan = ContactImport::new(ledger, href);
    plan.plan(Parsed {
        contacts: vec![residual],
        skipped: Vec::new(),
    })?;
    Ok(plan
        .into_work()
        .0
        .into_iter()
        .flat_map(|(_, c)| c)
        .collect())
}

impl Book {
    /// A phone's PUT of `text` to `href` (see the module docs). `if_match`
    /// is the If-Match header as sent; `if_none_match_star` whether
    /// `If-None-Match: *` was. `device` names the phone in the history.
    /// Durable before it returns; the book is refreshed.
    pub fn apply_put(
        &mut self,
        ledger: &mut Ledger,
        href: &str,
        text: &str,
        if_match: Option<&str>,
        if_none_match_star: bool,
        device: &str,
    ) -> Result<PutOutcome, CardError> {
        check_href(href)?;
        let new = read_one(href, text)?;
        if new.is_company {
            return Err(CardError::Unreadable {
                href: href.to_string(),
                reason: "a company's card (KIND:org); this address book holds people".into(),
            });
        }
        self.refresh(ledger)?;
        let known = match self.person(href)? {
            Some((id, _)) => ledger.index().entity(&id)?,
            None => None,
        }
        .filter(|e| e.kind == Kind::Person);
        match known {
            Some(e) => self.update(ledger, href, e, new, if_match, if_none_match_star, device),
            None => self.create(ledger, href, new, if_match, device),
        }
    }

    /// A PUT to a card that exists, or existed and was removed (a phone
    /// that edited a card removed meanwhile brings it back, as
    /// `kith restore` would).
    #[allow(clippy::too_many_arguments)]
    fn update(
        &mut self,
        ledger: &mut Ledger,
        href: &str,
        e: Entity,
        new: Contact,
        if_match: Option<&str>,
        if_none_match_star: bool,
        device: &str,
    ) -> Result<PutOutcome, CardError> {
        let live = is_card(&e) && href_of(&e) == href;
        let current = card(ledger, &e)?;
        if live && if_none_match_star {
            return Err(CardError::Exists {
                href: href.to_string(),
            });
        }
        if let Some(given) = if_match
            && (!live || !etag_matches(given, &current.etag))
        {
            return Err(CardError::Changed {
                href: href.to_string(),
                given: given.to_string(),
                current: live.then(|| current.etag.clone()),
            });
        }
        let old = read_one(href, &current.text)?;
        let mut changes = Vec::new();
        if e.is_deleted() {
            changes.push(Change::Remove {
                kind: e.kind,
                id: e.id.clone(),
                field: "deleted".into(),
            });
        }
        if href_of(&e) != href {
            changes.push(Change::Put {
                kind: e.kind,
                id: e.id.clone(),
                field: HREF_FIELD.into(),
                value: text(href),
                privacy: Privacy::Private,
            });
        }
        diff(
            ledger,
            &e,
            &old,
            &new,
            live && if_match.is_some(),
            &mut changes,
        )?;
        changes.extend(additions(ledger, &e, &old, &new, href)?);
        let changed = !changes.is_empty();
        if changed {
            ledger.write(&format!("carddav edit from {device}"), changes)?;
            self.refresh(ledger)?;
        }
        let after = ledger.index().entity(&e.id)?.unwrap_or(e);
        let served = card(ledger, &after)?;
        Ok(PutOutcome {
            written: if live {
                Written::Updated
            } else {
                Written::Created
            },
            person: after.id.clone(),
            href: href.to_string(),
            etag: served.etag,
            merged: false,
            changed,
        })
    }

    /// A PUT to an href the book does not know: matched like an import.
    fn create(
        &mut self,
        ledger: &mut Ledger,
        href: &str,
        new: Contact,
        if_match: Option<&str>,
        device: &str,
    ) -> Result<PutOutcome, CardError> {
        if let Some(given) = if_match {
            return Err(CardError::Changed {
                href: href.to_string(),
                given: given.to_string(),
                current: None,
            });
        }
        let mut plan = ContactImport::new(ledger, href);
        plan.plan(Parsed {
            contacts: vec![new.clone()],
            skipped: Vec::new(),
        })?;
        let Some(id) = plan.records().first().cloned() else {
            return Err(CardError::Unreadable {
                href: href.to_string(),
                reason: "nothing in it to make a person of".into(),
            });
        };
        let (work, _) = plan.into_work();
        let existing = ledger.index().entity(&id)?;
        if let Some(e) = existing.as_ref().filter(|e| e.is_deleted()) {
            // Matched a person removed in kith: import leaves them be, but
            // a phone creating the card again means it, as a PUT to the
            // removed card's href would.
            return self.update(ledger, href, e.clone(), new, None, false, device);
        }
        let mut changes: Vec<Change> = work.into_iter().flat_map(|(_, c)| c).collect();
        // The UID the person will carry: theirs, or the card's when they
        // had none (import adds it), or their kith id.
        let uid = match existing.as_ref().and_then(|e| e.str("uid")) {
            Some(u) => u.to_string(),
            None => new
                .uid
                .clone()
                .filter(|u| *u != format!("{KITH_UID_PREFIX}{id}"))
                .unwrap_or_else(|| format!("{KITH_UID_PREFIX}{id}")),
        };
        let mut probe = Entity::new(Kind::Person, id.clone());
        probe.private.insert("uid".into(), text(&uid));
        let had_href = existing.as_ref().and_then(|e| e.str(HREF_FIELD)).is_some();
        if href_of(&probe) != href || had_href {
            changes.push(Change::Put {
                kind: Kind::Person,
                id: id.clone(),
                field: HREF_FIELD.into(),
                value: text(href),
                privacy: Privacy::Private,
            });
        }
        let changed = !changes.is_empty();
        if changed {
            ledger.write(&format!("carddav card from {device}"), changes)?;
            self.refresh(ledger)?;
        }
        let after = ledger
            .index()
            .entity(&id)?
            .ok_or_else(|| CardError::NotFound {
                href: href.to_string(),
            })?;
        let served = card(ledger, &after)?;
        Ok(PutOutcome {
            written: Written::Created,
            person: id,
            href: served.href,
            etag: served.etag,
            merged: existing.is_some(),
            changed,
        })
    }

    /// A phone's DELETE: the person is removed as `kith rm` removes them,
    /// and `kith restore` brings them back.
    pub fn delete(
        &mut self,
        ledger: &mut Ledger,
        href: &str,
        if_match: Option<&str>,
        device: &str,
    ) -> Result<(), CardError> {
        self.refresh(ledger)?;
        let not_found = || CardError::NotFound {
            href: href.to_string(),
        };
        let Some((id, false)) = self.person(href)? else {
            return Err(not_found());
        };
        let e = ledger
            .index()
            .entity(&id)?
            .filter(|e| is_card(e) && href_of(e) == href)
            .ok_or_else(not_found)?;
        if let Some(given) = if_match {
            let current = card(ledger, &e)?;
            if !etag_matches(given, &current.etag) {
                return Err(CardError::Changed {
                    href: href.to_string(),
                    given: given.to_string(),
                    current: Some(current.etag),
                });
            }
        }
        let name = e.str("name").unwrap_or("").to_string();
        ledger.write(
            &format!("carddav delete from {device}: remove {name}"),
            vec![Change::Put {
                kind: e.kind,
                id: e.id.clone(),
                field: "deleted".into(),
                value: text(ledger.now_string()),
                privacy: Privacy::Shared,
            }],
        )?;
        self.refresh(ledger)?;
        Ok(())
    }
}
