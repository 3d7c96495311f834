//! Matching imported contacts against the ledger and turning them into
//! store changes: new people are created, known ones gain what they lack.
//!
//! A contact is the same person as a record when they share the address
//! book's UID, or an email or phone number and a similar name. A match
//! never overwrites what the ledger holds: it only adds fields, emails,
//! phones, tags, notes and relationships the record lacks, so re-importing
//! a file changes nothing and importing it from a second source merges.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Value as Json, json};

use super::{Contact, Handle, Parsed, Target};
use crate::error::Result;
use crate::index::{name_key, search::name_score};
use crate::ledger::{Ledger, text};
use crate::model::{
    Entity, Fields, Id, Kind, Privacy, default_sort_name, inverse_relation, phone_key,
};
use crate::store::Change;
use crate::transfer::ImportSummary;

/// How sure a match by email or phone must be of the name.
const SIMILAR_NAME: f64 = 0.75;

/// Where the id of an exported record without a UID of its own goes:
/// `UID:kith-<id>`, so a re-import matches it.
pub const KITH_UID_PREFIX: &str = "kith-";

/// How a contact was matched to a record.
#[derive(Clone, Debug)]
enum Match {
    New,
    Uid(Id),
    Handle(Id, String),
}

/// The plan for one import: records to create, changes to known ones.
pub struct ContactImport<'a> {
    ledger: &'a Ledger,
    file: String,
    /// Records created by this import, by id.
    created: BTreeMap<Id, Entity>,
    /// Known records as loaded, with what this import already added.
    known: HashMap<Id, Entity>,
    changes: Vec<Change>,
    by_uid: HashMap<String, Id>,
    by_email: HashMap<String, Id>,
    by_phone: HashMap<String, Id>,
    by_name: HashMap<String, Id>,
    companies: HashMap<String, Option<Id>>,
    /// Relationships known or planned: (from, relation, to).
    links: HashSet<(Id, String, Id)>,
    links_loaded: HashSet<Id>,
    /// Item texts known or planned per person: notes, facts.
    texts: HashMap<Id, HashSet<String>>,
    pending_related: Vec<(Id, usize, super::Related)>,
    /// What the contact being planned added to a known record.
    touched: Vec<String>,
    /// The record each contact went to, in the order planned.
    records: Vec<Id>,
    pub summary: ImportSummary,
}

fn member_meta(h: &Handle, pos: i64) -> Json {
    let mut meta = json!({ "pos": pos });
    if !h.label.is_empty() {
        meta["label"] = text(&h.label);
    }
    if let Some(parts) = &h.parts {
        meta["adr"] = json!(parts);
    }
    if !h.extra.is_empty() {
        meta["vcard"] = json!(h.extra);
    }
    meta
}

impl<'a> ContactImport<'a> {
    pub fn new(ledger: &'a Ledger, file: &str) -> ContactImport<'a> {
        ContactImport {
            ledger,
            file: file.to_string(),
            created: BTreeMap::new(),
            known: HashMap::new(),
            changes: Vec::new(),
            by_uid: HashMap::new(),
            by_email: HashMap::new(),
            by_phone: HashMap::new(),
            by_name: HashMap::new(),
            companies: HashMap::new(),
            links: HashSet::new(),
            links_loaded: HashSet::new(),
            texts: HashMap::new(),
            pending_related: Vec::new(),
            touched: Vec::new(),
            records: Vec::new(),
            summary: ImportSummary::default(),
        }
    }

    /// Plans every contact, then every relationship (which may point at a
    /// card later in the file).
    pub fn plan(&mut self, parsed: Parsed) -> Result<()> {
        self.summary.skipped = parsed.skipped;
        for c in parsed.contacts {
            self.contact(c)?;
        }
        for (from, line, r) in std::mem::take(&mut self.pending_related) {
            self.relationship(&from, line, r)?;
        }
        Ok(())
    }

    /// The record each contact was matched to or created as, in the order
    /// planned (CardDAV keeps a phone's href on it).
    pub fn records(&self) -> &[Id] {
        &self.records
    }

    /// The changes, grouped by shard, ready for [`Ledger::write_shards`].
    pub fn into_work(self) -> (Vec<(crate::model::Shard, Vec<Change>)>, ImportSummary) {
        let mut by_shard: BTreeMap<crate::model::Shard, Vec<Change>> = BTreeMap::new();
        for (id, e) in self.created {
            by_shard
                .entry(id.shard())
                .or_default()
                .push(Change::Create {
                    kind: e.kind,
                    id,
                    shared: e.shared,
                    private: e.private,
                });
        }
        for c in self.changes {
            by_shard.entry(c.target().1.shard()).or_default().push(c);
        }
        (by_shard.into_iter().collect(), self.summary)
    }

    fn where_(&self, line: usize) -> String {
        format!("{}:{line}", self.file)
    }

    fn privacy(&self, kind: Kind, field: &str) -> Privacy {
        match (kind, field) {
            (Kind::Person, f) => self.ledger.settings.person_field(f),
            (_, "uid" | "vcard" | "photo") => Privacy::Private,
            _ => Privacy::Shared,
        }
    }

    fn contact(&mut self, c: Contact) -> Result<()> {
        let kind = if c.is_company {
            Kind::Company
        } else {
            Kind::Person
        };
        let found = self.find(&c, kind)?;
        let fresh = matches!(found, Match::New);
        let (id, how) = match found {
            Match::New => {
                let id = Id::random();
                let mut e = Entity::new(kind, id.clone());
                let created = self.ledger.now_string();
                e.shared.insert("created".into(), text(&created));
                self.created.insert(id.clone(), e);
                self.summary.created += 1;
                (id, None)
            }
            Match::Uid(id) => (id, None),
            Match::Handle(id, how) => (id, Some(how)),
        };
        self.records.push(id.clone());
        if self.entity(&id)?.is_some_and(|e| e.is_deleted()) {
            // Removed in kith on purpose: an import does not bring it back.
            self.summary.unchanged += 1;
            return Ok(());
        }
        let before = self.changes.len();
        // A second card for a record this import creates adds to it, and
        // the record counts once, as created.
        let made_here = !fresh && self.created.contains_key(&id) && !self.known.contains_key(&id);
        self.touched.clear();
        let changed = self.fill(&id, kind, &c)?;
        self.register(&id, &c);
        let mut touched = std::mem::take(&mut self.touched);
        touched.dedup();
        if !fresh && !made_here {
            let grew = changed || self.changes.len() > before;
            match (&how, grew) {
                (_, false) => self.summary.unchanged += 1,
                (Some(how), true) => {
                    self.summary.merged += 1;
                    let name = self
                        .entity(&id)?
                        .and_then(|e| e.str("name").map(str::to_string))
                        .unwrap_or_default();
                    self.summary.merges.push(format!(
                        "{}: {} merged into {} ({}) by {how}{}",
                        self.where_(c.line),
                        c.name,
                        name,
                        id.short(),
                        if touched.is_empty() {
                            String::new()
                        } else {
                            format!(": added {}", touched.join(", "))
                        }
                    ));
                }
                (None, true) => {
                    self.summary.updated += 1;
                    self.summary.merges.push(format!(
                        "{}: {} updated ({})",
                        self.where_(c.line),
                        c.name,
                        if touched.is_empty() {
                            "notes".to_string()
                        } else {
                            touched.join(", ")
                        }
                    ));
                }
            }
        }
        for r in c.related.iter().cloned() {
            self.pending_related.push((id.clone(), c.line, r));
        }
        Ok(())
    }

    /// The record as planned so far: created by this import, or loaded.
    fn entity(&mut self, id: &Id) -> Result<Option<&Entity>> {
        if self.created.contains_key(id) {
            return Ok(self.created.get(id));
        }
        if !self.known.contains_key(id) {
            match self.ledger.index().entity(id)? {
                Some(e) => {
                    self.known.insert(id.clone(), e);
                }
                None => return Ok(None),
            }
        }
        Ok(self.known.get(id))
    }

    fn find(&mut self, c: &Contact, kind: Kind) -> Result<Match> {
        if let Some(uid) = &c.uid {
            if let Some(id) = self.by_uid.get(uid) {
                return Ok(Match::Uid(id.clone()));
            }
            if let Some(own) = uid
                .strip_prefix(KITH_UID_PREFIX)
                .and_then(|s| Id::parse(s).ok())
                && self.entity(&own)?.is_some_and(|e| e.kind == kind)
            {
                return Ok(Match::Uid(own));
            }
            let ids = self.ledger.index().ids(
                "SELECT id FROM handles WHERE handle = ?1 ORDER BY id LIMIT 1",
                [format!("uid:{uid}")],
            )?;
            if let Some(id) = ids.into_iter().next() {
                return Ok(Match::Uid(id));
            }
        }
        if kind == Kind::Company {
            return Ok(match self.company_id(&c.name)? {
                Some(id) => Match::Handle(id, "name".into()),
                None => Match::New,
            });
        }
        for e in &c.emails {
            let hit = match self.by_email.get(&e.value) {
                Some(id) => Some(id.clone()),
                None => self
                    .ledger
                    .index()
                    .ids(
                        "SELECT id FROM emails WHERE email = ?1 ORDER BY id LIMIT 4",
                        [&e.value],
                    )?
                    .into_iter()
                    .next(),
            };
            if let Some(id) = hit
                && self.similar(&id, &c.name)?
            {
                return Ok(Match::Handle(id, format!("email {}", e.value)));
            }
        }
        for p in &c.phones {
            let Some(key) = phone_key(&p.value) else {
                continue;
            };
            let hit = match self.by_phone.get(&key) {
                Some(id) => Some(id.clone()),
                None => self
                    .ledger
                    .index()
                    .ids(
                        "SELECT id FROM handles WHERE handle = ?1 ORDER BY id LIMIT 4",
                        [format!("tel:{key}")],
                    )?
                    .into_iter()
                    .next(),
            };
            if let Some(id) = hit
                && self.similar(&id, &c.name)?
            {
                return Ok(Match::Handle(id, format!("phone {}", p.value)));
            }
        }
        Ok(Match::New)
    }

    /// Whether a record's name is close enough to `name` to be the same
    /// person (a shared family email is not enough on its own).
    fn similar(&mut self, id: &Id, name: &str) -> Result<bool> {
        let Some(e) = self.entity(id)? else {
            return Ok(false);
        };
        if e.kind != Kind::Person {
            return Ok(false);
        }
        let other = e.str("name").unwrap_or("").to_string();
        Ok(similar_names(name, &other))
    }

    /// Remembers a contact's keys so later cards in the file match it.
    fn register(&mut self, id: &Id, c: &Contact) {
        if let Some(uid) = &c.uid {
            self.by_uid.entry(uid.clone()).or_insert_with(|| id.clone());
        }
        for e in &c.emails {
            self.by_email
                .entry(e.value.clone())
                .or_insert_with(|| id.clone());
        }
        for p in &c.phones {
            if let Some(k) = phone_key(&p.value) {
                self.by_phone.entry(k).or_insert_with(|| id.clone());
            }
        }
        let key = name_key(&c.name);
        if c.is_company {
            self.companies.insert(key, Some(id.clone()));
        } else {
            self.by_name.entry(key).or_insert_with(|| id.clone());
        }
    }

    /// The company called `name`, in the ledger or created by this import.
    fn company_id(&mut self, name: &str) -> Result<Option<Id>> {
        let key = name_key(name);
        if key.is_empty() {
            return Ok(None);
        }
        if let Some(id) = self.companies.get(&key) {
            return Ok(id.clone());
        }
        let found = self
            .ledger
            .index()
            .ids(
                "SELECT id FROM companies WHERE name_key = ?1 AND deleted = 0 ORDER BY id LIMIT 1",
                [&key],
            )?
            .into_iter()
            .next();
        self.companies.insert(key, found.clone());
        Ok(found)
    }

    /// A company for a person's ORG, created if there is none.
    fn company_for(&mut self, name: &str) -> Result<Id> {
        if let Some(id) = self.company_id(name)? {
            return Ok(id);
        }
        let id = Id::random();
        let mut e = Entity::new(Kind::Company, id.clone());
        e.shared.insert("name".into(), text(name.trim()));
        e.shared
            .insert("created".into(), text(self.ledger.now_string()));
        self.created.insert(id.clone(), e);
        self.companies.insert(name_key(name), Some(id.clone()));
        self.summary.created += 1;
        Ok(id)
    }

    /// Sets a field the record lacks. Returns whether anything changed.
    fn put(&mut self, id: &Id, kind: Kind, field: &str, value: Json) -> Result<bool> {
        let privacy = self.privacy(kind, field);
        if let Some(e) = self.created.get_mut(id) {
            if e.get(field).is_some() {
                return Ok(false);
            }
            match privacy {
                Privacy::Shared => e.shared.insert(field.into(), value),
                Privacy::Private => e.private.insert(field.into(), value),
            };
            return Ok(true);
        }
        let Some(e) = self.known.get_mut(id) else {
            return Ok(false);
        };
        if e.get(field).is_some() {
            return Ok(false);
        }
        self.touched.push(field.to_string());
        match privacy {
            Privacy::Shared => e.shared.insert(field.into(), value.clone()),
            Privacy::Private => e.private.insert(field.into(), value.clone()),
        };
        self.changes.push(Change::Put {
            kind,
            id: id.clone(),
            field: field.into(),
            value,
            privacy,
        });
        Ok(true)
    }

    /// Adds set members the record lacks, and labels ones it has unlabelled.
    fn put_members(
        &mut self,
        id: &Id,
        kind: Kind,
        field: &str,
        members: Vec<(String, Json)>,
    ) -> bool {
        if members.is_empty() {
            return false;
        }
        let privacy = self.privacy(kind, field);
        let (entity, is_created) = match self.created.get_mut(id) {
            Some(e) => (e, true),
            None => match self.known.get_mut(id) {
                Some(e) => (e, false),
                None => return false,
            },
        };
        let mut changed = false;
        let mut next_pos = entity.set_values(field).len() as i64;
        for (member, mut meta) in members {
            let old = [&entity.shared, &entity.private]
                .iter()
                .find_map(|part| part.get(field).and_then(|m| m.get(&member)).cloned());
            let target_part = match old {
                Some(ref m) => {
                    let has_label = m
                        .get("label")
                        .and_then(Json::as_str)
                        .is_some_and(|l| !l.is_empty());
                    let new_label = meta.get("label").cloned();
                    if has_label || new_label.is_none() {
                        continue;
                    }
                    // Keep its place; only the label is new.
                    let mut m = m.clone();
                    m["label"] = new_label.unwrap_or(Json::Null);
                    meta = m;
                    if entity
                        .private
                        .get(field)
                        .and_then(|f| f.get(&member))
                        .is_some()
                    {
                        Privacy::Private
                    } else {
                        Privacy::Shared
                    }
                }
                None => {
                    meta["pos"] = json!(next_pos);
                    next_pos += 1;
                    privacy
                }
            };
            let part = match target_part {
                Privacy::Shared => &mut entity.shared,
                Privacy::Private => &mut entity.private,
            };
            let set = part.entry(field.to_string()).or_insert_with(|| json!({}));
            if let Json::Object(m) = set {
                m.insert(member.clone(), meta.clone());
            }
            changed = true;
            if !is_created {
                self.touched.push(field.to_string());
                self.changes.push(Change::PutMember {
                    kind,
                    id: id.clone(),
                    field: field.into(),
                    member,
                    meta,
                    privacy: target_part,
                });
            }
        }
        changed
    }

    /// Everything the contact holds that the record lacks.
    fn fill(&mut self, id: &Id, kind: Kind, c: &Contact) -> Result<bool> {
        let mut changed = false;
        changed |= self.put(id, kind, "name", text(&c.name))?;
        if kind == Kind::Person {
            let sort = match &c.name_parts {
                Some(p) if !p[0].is_empty() && !p[1].is_empty() => format!("{}, {}", p[0], p[1]),
                _ => default_sort_name(&c.name),
            };
            changed |= self.put(id, kind, "sort_name", text(&sort))?;
            // Parts the sort name already says are not kept twice.
            if let Some(p) = c.name_parts.as_ref().filter(|p| !derivable(p, &sort)) {
                changed |= self.put(id, kind, "name_parts", json!(p))?;
            }
            if let Some(company) = &c.company {
                let company_id = self.company_for(company)?;
                changed |= self.put(id, kind, "company", text(company_id.as_str()))?;
            }
            for (field, value) in [
                ("nickname", &c.nickname),
                ("department", &c.department),
                ("title", &c.title),
                ("lang", &c.lang),
                ("gender", &c.gender),
                ("photo", &c.photo),
            ] {
                if let Some(v) = value {
                    changed |= self.put(id, kind, field, text(v))?;
                }
            }
            for (field, value) in [("birthday", c.birthday), ("anniversary", c.anniversary)] {
                if let Some(d) = value {
                    changed |= self.put(id, kind, field, text(d.to_string()))?;
                }
            }
            for (field, handles) in [
                ("emails", &c.emails),
                ("phones", &c.phones),
                ("addresses", &c.addresses),
                ("impps", &c.impps),
            ] {
                let members = handles
                    .iter()
                    .enumerate()
                    .map(|(i, h)| (h.value.clone(), member_meta(h, i as i64)))
                    .collect();
                changed |= self.put_members(id, kind, field, members);
            }
        }
        // `kith-<id>` names a record's own id in the ledger it came from;
        // kept unless that is this very record.
        let own_uid = format!("{KITH_UID_PREFIX}{id}");
        if let Some(uid) = c.uid.as_ref().filter(|u| **u != own_uid) {
            changed |= self.put(id, kind, "uid", text(uid))?;
        }
        let urls = c
            .urls
            .iter()
            .enumerate()
            .map(|(i, h)| (h.value.clone(), member_meta(h, i as i64)))
            .collect();
        changed |= self.put_members(id, kind, "urls", urls);
        let tags = c
            .tags
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), json!({ "pos": i })))
            .collect();
        changed |= self.put_members(id, kind, "tags", tags);
        if c.name_only {
            changed |= self.put(id, kind, "name_only", Json::Bool(true))?;
        }
        if !c.extra.is_empty() {
            changed |= self.put(id, kind, "vcard", json!(c.extra))?;
        }
        for note in &c.notes {
            changed |= self.item_text(id, Kind::Note, note, None)?;
        }
        for (fact, learned) in &c.facts {
            changed |= self.item_text(id, Kind::Fact, fact, learned.as_deref())?;
        }
        if let Some(day) = &c.connected_on {
            changed |= self.connected(id, day)?;
        }
        Ok(changed)
    }

    /// The texts of a record's notes and facts, loaded once.
    fn known_texts(&mut self, id: &Id) -> Result<&mut HashSet<String>> {
        if !self.texts.contains_key(id) {
            let mut set = HashSet::new();
            if !self.created.contains_key(id) {
                for e in self.ledger.index().query_entities(
                    "SELECT e.json FROM items i JOIN entities e ON e.id = i.id WHERE i.subject = ?1 AND i.kind IN ('note', 'fact')",
                    [id.as_str()],
                )? {
                    if let Some(t) = e.str("text") {
                        set.insert(t.trim().to_string());
                    }
                }
            }
            self.texts.insert(id.clone(), set);
        }
        Ok(self.texts.get_mut(id).expect("inserted above"))
    }

    /// A note or fact, unless the record has one with the same text.
    fn item_text(
        &mut self,
        subject: &Id,
        kind: Kind,
        body: &str,
        learned: Option<&str>,
    ) -> Result<bool> {
        let body = body.trim();
        if body.is_empty() || !self.known_texts(subject)?.insert(body.to_string()) {
            return Ok(false);
        }
        let mut fields = Fields::from([
            ("subject".to_string(), text(subject.as_str())),
            ("text".to_string(), text(body)),
        ]);
        let privacy = match kind {
            Kind::Fact => {
                let day = learned
                    .map(str::to_string)
                    .unwrap_or_else(|| self.ledger.today().to_string());
                fields.insert("learned".into(), text(day));
                fields.insert("created".into(), text(self.ledger.now_string()));
                self.ledger.settings.privacy.facts
            }
            _ => {
                fields.insert("at".into(), text(self.ledger.now_string()));
                self.ledger.settings.privacy.notes
            }
        };
        self.create_item(kind, subject, fields, Fields::new(), privacy);
        Ok(true)
    }

    fn create_item(
        &mut self,
        kind: Kind,
        near: &Id,
        fields: Fields,
        extra_private: Fields,
        privacy: Privacy,
    ) {
        let id = Id::near(near);
        let mut e = Entity::new(kind, id.clone());
        match privacy {
            Privacy::Shared => e.shared = fields,
            Privacy::Private => e.private = fields,
        }
        e.private.extend(extra_private);
        self.created.insert(id, e);
    }

    /// LinkedIn's "Connected On": the first interaction, once.
    fn connected(&mut self, id: &Id, day: &str) -> Result<bool> {
        if !self.created.contains_key(id) {
            let n = self.ledger.index().count_with(
                "SELECT count(*) FROM involved v JOIN entities e ON e.id = v.interaction WHERE v.person = ?1 AND substr(v.at, 1, 10) = ?2 AND e.json LIKE '%\"channel\":\"linkedin\"%'",
                rusqlite::params![id.as_str(), day],
            )?;
            if n > 0 {
                return Ok(false);
            }
        }
        if !self
            .known_texts(id)?
            .insert(format!("\u{1}connected {day}"))
        {
            return Ok(false);
        }
        let shared = Fields::from([
            ("at".to_string(), text(day)),
            ("channel".to_string(), text("linkedin")),
            ("people".to_string(), json!([id.as_str()])),
        ]);
        let summary = Fields::from([("summary".to_string(), text("Connected on LinkedIn"))]);
        match self.ledger.settings.privacy.summaries {
            Privacy::Shared => {
                let mut all = shared;
                all.extend(summary);
                self.create_item(Kind::Interaction, id, all, Fields::new(), Privacy::Shared);
            }
            Privacy::Private => {
                self.create_item(Kind::Interaction, id, shared, summary, Privacy::Shared)
            }
        }
        Ok(true)
    }

    /// A relationship from a card: to another card by UID, or to a person
    /// by name, created (known only by name) when there is no one by it.
    fn relationship(&mut self, from: &Id, line: usize, r: super::Related) -> Result<()> {
        let to = match &r.target {
            Target::Uid(uid) => {
                let found = match self.by_uid.get(uid) {
                    Some(id) => Some(id.clone()),
                    None => self
                        .ledger
                        .index()
                        .ids(
                            "SELECT id FROM handles WHERE handle = ?1 LIMIT 1",
                            [format!("uid:{uid}")],
                        )?
                        .into_iter()
                        .next()
                        .or_else(|| {
                            uid.strip_prefix(KITH_UID_PREFIX)
                                .and_then(|s| Id::parse(s).ok())
                                .filter(|id| {
                                    self.ledger.index().entity(id).ok().flatten().is_some()
                                })
                        }),
                };
                match found {
                    Some(id) => id,
                    None => {
                        self.summary.skipped.push(format!(
                            "{}: relationship ({}) to {uid}, which is on no card and not in the ledger; left out",
                            self.where_(line),
                            r.relation
                        ));
                        return Ok(());
                    }
                }
            }
            Target::Name(name) => self.person_named(name)?,
        };
        if &to == from {
            return Ok(());
        }
        self.load_links(from)?;
        let relation = r.relation.trim().to_lowercase();
        let inverse = inverse_relation(&relation);
        // The card says what `to` is to its holder (`from`): Daisy on
        // Edna's card as "child" is Edna's child, the link `Daisy child
        // Edna` (as `kith link` writes it and the export reads it back).
        let known = self
            .links
            .contains(&(to.clone(), relation.clone(), from.clone()))
            || self
                .links
                .contains(&(from.clone(), inverse.clone(), to.clone()));
        if known {
            return Ok(());
        }
        self.links
            .insert((to.clone(), relation.clone(), from.clone()));
        let fields = Fields::from([
            ("from".to_string(), text(to.as_str())),
            ("relation".to_string(), text(&relation)),
            ("to".to_string(), text(from.as_str())),
            ("at".to_string(), text(self.ledger.now_string())),
        ]);
        let privacy = self.ledger.settings.privacy.relationships;
        self.create_item(Kind::Link, &to, fields, Fields::new(), privacy);
        Ok(())
    }

    /// The relationships a known person already has, loaded once.
    fn load_links(&mut self, id: &Id) -> Result<()> {
        if self.created.contains_key(id) || !self.links_loaded.insert(id.clone()) {
            return Ok(());
        }
        for e in self.ledger.index().query_entities(
            "SELECT e.json FROM items i JOIN entities e ON e.id = i.id WHERE i.kind = 'link' AND (i.subject = ?1 OR i.other = ?1)",
            [id.as_str()],
        )? {
            let (Some(f), Some(r), Some(t)) = (e.str("from"), e.str("relation"), e.str("to")) else {
                continue;
            };
            if let (Ok(f), Ok(t)) = (Id::parse(f), Id::parse(t)) {
                self.links.insert((f, r.to_string(), t));
            }
        }
        Ok(())
    }

    /// The one person called `name`, or a new one known only by name.
    fn person_named(&mut self, name: &str) -> Result<Id> {
        let key = name_key(name);
        if let Some(id) = self.by_name.get(&key) {
            return Ok(id.clone());
        }
        let found = self.ledger.index().ids(
            "SELECT id FROM people WHERE name_key = ?1 AND deleted = 0 ORDER BY id LIMIT 2",
            [&key],
        )?;
        if let [one] = found.as_slice() {
            self.by_name.insert(key, one.clone());
            return Ok(one.clone());
        }
        let id = Id::random();
        let mut e = Entity::new(Kind::Person, id.clone());
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        for (field, value) in [
            ("name", text(&name)),
            ("sort_name", text(default_sort_name(&name))),
            ("name_only", Json::Bool(true)),
        ] {
            match self.ledger.settings.person_field(field) {
                Privacy::Shared => e.shared.insert(field.into(), value),
                Privacy::Private => e.private.insert(field.into(), value),
            };
        }
        e.shared
            .insert("created".into(), text(self.ledger.now_string()));
        self.created.insert(id.clone(), e);
        self.by_name.insert(key, id.clone());
        self.summary.created += 1;
        Ok(id)
    }
}

/// Whether `N` parts say no more than the sort name does.
pub(crate) fn derivable(parts: &[String], sort: &str) -> bool {
    let extra = parts.iter().skip(2).any(|p| !p.is_empty());
    let (family, given) = match sort.split_once(", ") {
        Some((f, g)) => (f, g),
        None => (sort, ""),
    };
    !extra
        && parts.first().map(String::as_str) == Some(family)
        && parts.get(1).map(String::as_str).unwrap_or("") == given
}

/// Whether two names could be the same person: the same words, a close
/// spelling, or a shared given or family name ("Edna Miggins" and "Mrs
/// Edna M. Miggins"); a name that is an email address matches anyone.
pub fn similar_names(a: &str, b: &str) -> bool {
    let (ka, kb) = (name_key(a), name_key(b));
    if ka == kb || ka.contains('@') || kb.contains('@') || ka.is_empty() || kb.is_empty() {
        return true;
    }
    if name_score(a, b) >= SIMILAR_NAME || name_score(b, a) >= SIMILAR_NAME {
        return true;
    }
    let words = |k: &str| -> HashSet<String> {
        k.split([' ', '.', ','])
            .filter(|w| w.len() > 2)
            .map(str::to_string)
            .collect()
    };
    let (wa, wb) = (words(&ka), words(&kb));
    wa.intersection(&wb).count() >= 2 || (wa.len() == 1 || wb.len() == 1) && !wa.is_disjoint(&wb)
}

impl Ledger {
    /// Imports contacts read from a file: new people are created, known
    /// ones gain what they lack. With `dry_run` nothing is written and the
    /// summary says what would happen.
    pub fn import_contacts(
        &mut self,
        file: &str,
        parsed: Parsed,
        dry_run: bool,
        progress: &dyn Fn(usize, usize),
    ) -> Result<ImportSummary> {
        let mut plan = ContactImport::new(self, file);
        plan.plan(parsed)?;
        let (work, mut summary) = plan.into_work();
        summary.dry_run = dry_run;
        if dry_run || work.is_empty() {
            return Ok(summary);
        }
        let total = work.len();
        let what = format!("import {file}");
        self.bulk_if_empty(|ledger| {
            let mut done = 0;
            ledger.write_shards_with(&what, work, &mut |_| {
                done += 1;
                progress(done, total);
            })
        })?;
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::similar_names;

    #[test]
    fn names_that_could_be_one_person() {
        assert!(similar_names("Edna Miggins", "Mrs Edna Miggins"));
        assert!(similar_names("Edna Miggins", "Edna Migins"));
        assert!(similar_names("edna@miggins.co.uk", "Edna Miggins"));
        assert!(!similar_names("Edna Miggins", "Albert Miggins"));
        assert!(!similar_names("Edna Miggins", "Daisy Okafor"));
    }
}
