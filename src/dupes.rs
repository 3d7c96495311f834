//! People entered twice: finding likely duplicates, merging two records
//! into one, and undoing a merge.
//!
//! A merge keeps the first record and gives it what the second has and it
//! lacks (fields, emails, phones, tags); every fact, note, relationship,
//! interaction and follow-up of the second is pointed at the first; the
//! second is removed with a note of exactly what was changed, in its
//! private part. `unmerge` reverses those changes, leaving alone anything
//! edited since.
//!
//! Both touch several shards, written one after another. So that a crash
//! half-way never leaves pointers half moved, the whole set of changes is
//! first recorded durably as an intent (`ledger/intents/`); the next
//! process to open the ledger, or `kith check`, finishes any intent left
//! behind ([`Ledger::finish_intents`]). Every change is a put or a removal
//! of a value known in advance, so applying one twice is harmless.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::error::{Error, Result};
use crate::ledger::{Ledger, text};
use crate::model::{Entity, Id, Kind, Privacy, SET_FIELDS, phone_key};
use crate::store::Change;

/// Fields a merge never copies: they describe the record, not the person.
const OWN_FIELDS: [&str; 6] = [
    "name",
    "sort_name",
    "created",
    "deleted",
    "merged_into",
    "merge",
];

/// A write of several shards that must land whole.
#[derive(Serialize, Deserialize)]
struct Intent {
    what: String,
    changes: Vec<Change>,
}

#[derive(Debug, Serialize)]
pub struct Dupe {
    pub a: Id,
    pub a_name: String,
    pub b: Id,
    pub b_name: String,
    /// Why they look like one person: "same email edna@…", "same name"…
    pub reasons: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct MergeReport {
    pub kept: Id,
    pub merged: Id,
    pub fields: usize,
    pub members: usize,
    pub items: usize,
}

impl Ledger {
    /// Pairs of live people who are probably one person: sharing an email
    /// or phone, or with the same or a very close name.
    pub fn dupes(&self) -> Result<Vec<Dupe>> {
        let mut pairs: BTreeMap<(Id, Id), Vec<String>> = BTreeMap::new();
        let mut add = |a: &Id, b: &Id, why: String| {
            if a == b {
                return;
            }
            let key = if a < b {
                (a.clone(), b.clone())
            } else {
                (b.clone(), a.clone())
            };
            let reasons = pairs.entry(key).or_default();
            if !reasons.contains(&why) {
                reasons.push(why);
            }
        };
        let live = "SELECT id FROM people WHERE deleted = 0";
        for (email, ids) in self.groups(&format!(
            "SELECT email, id FROM emails WHERE id IN ({live}) ORDER BY email, id"
        ))? {
            each_pair(&ids, |a, b| add(a, b, format!("same email {email}")));
        }
        for (handle, ids) in self.groups(&format!(
            "SELECT handle, id FROM handles WHERE handle LIKE 'tel:%' AND id IN ({live}) ORDER BY handle, id"
        ))? {
            let digits = handle.trim_start_matches("tel:");
            each_pair(&ids, |a, b| add(a, b, format!("same phone (…{digits})")));
        }
        let people: Vec<(Id, String)> = self
            .index()
            .rows(
                "SELECT id, name_key FROM people WHERE deleted = 0 ORDER BY name_key, id",
                [],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )?
            .into_iter()
            .filter_map(|(id, key)| Some((Id::parse(&id).ok()?, key)))
            .collect();
        // Close names are compared within blocks that share a first or last
        // word, so the work grows with the block sizes, not the ledger².
        let mut blocks: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, (_, key)) in people.iter().enumerate() {
            let words: Vec<&str> = key.split_whitespace().collect();
            if let (Some(first), Some(last)) = (words.first(), words.last())
                && words.len() > 1
            {
                blocks.entry(format!("f:{first}")).or_default().push(i);
                blocks.entry(format!("l:{last}")).or_default().push(i);
            }
        }
        for (i, (id, key)) in people.iter().enumerate() {
            if i + 1 < people.len() && people[i + 1].1 == *key && !key.is_empty() {
                add(id, &people[i + 1].0, "same name".into());
            }
        }
        for members in blocks.values() {
            if members.len() > 200 {
                continue; // "John …": too common to say anything.
            }
            for (n, &i) in members.iter().enumerate() {
                for &j in &members[n + 1..] {
                    let (a, b) = (&people[i], &people[j]);
                    if a.1 != b.1 && close_names(&a.1, &b.1) {
                        add(&a.0, &b.0, "similar name".into());
                    }
                }
            }
        }
        let mut out = Vec::new();
        for ((a, b), reasons) in pairs {
            let name = |id: &Id| -> Result<String> {
                Ok(self
                    .index()
                    .entity(id)?
                    .and_then(|e| e.str("name").map(str::to_string))
                    .unwrap_or_default())
            };
            out.push(Dupe {
                a_name: name(&a)?,
                b_name: name(&b)?,
                a,
                b,
                reasons,
            });
        }
        out.sort_by(|x, y| {
            y.reasons
                .len()
                .cmp(&x.reasons.len())
                .then(x.a_name.cmp(&y.a_name))
        });
        Ok(out)
    }

    /// (key, ids) groups with more than one id, from a query of key, id rows
    /// ordered by key.
    fn groups(&self, sql: &str) -> Result<Vec<(String, Vec<Id>)>> {
        let rows = self.index().rows(sql, [], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out: Vec<(String, Vec<Id>)> = Vec::new();
        for (key, id) in rows {
            let Ok(id) = Id::parse(&id) else { continue };
            match out.last_mut() {
                Some((k, ids)) if *k == key => {
                    if !ids.contains(&id) {
                        ids.push(id)
                    }
                }
                _ => out.push((key, vec![id])),
            }
        }
        out.retain(|(_, ids)| ids.len() > 1);
        Ok(out)
    }

    /// [`Ledger::write`], all or nothing across shards: the changes are
    /// recorded as an intent first, durably, and the intent is removed once
    /// every shard is written.
    fn write_whole(&mut self, what: &str, changes: Vec<Change>) -> Result<()> {
        let intent = Intent {
            what: what.to_string(),
            changes,
        };
        let bytes = serde_json::to_vec(&intent)
            .map_err(|e| Error::invalid(format!("cannot record the intent of {what}: {e}")))?;
        let path = self.store().write_intent(&bytes)?;
        self.write(what, intent.changes)?;
        self.store().clear_intent(&path)
    }

    /// Finishes every write of several shards that a crash interrupted
    /// (see the module header). Returns how many were finished. An intent
    /// that does not parse is left where it is, with a warning.
    pub fn finish_intents(&mut self) -> Result<usize> {
        let mut n = 0;
        for (path, bytes) in self.store().intents()? {
            // The process that made it may have finished it meanwhile.
            if !self.store().fs().exists(&path) {
                continue;
            }
            let intent: Intent = match serde_json::from_slice(&bytes) {
                Ok(i) => i,
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "unreadable intent left alone");
                    continue;
                }
            };
            self.write(&intent.what, intent.changes)?;
            self.store().clear_intent(&path)?;
            tracing::info!(what = %intent.what, "finished a write a crash interrupted");
            n += 1;
        }
        Ok(n)
    }

    /// Merges `other` into `keep`. Both must be live people.
    pub fn merge(&mut self, keep: &Entity, other: &Entity) -> Result<MergeReport> {
        if keep.id == other.id {
            return Err(Error::invalid("a person cannot be merged with themselves"));
        }
        for e in [keep, other] {
            if e.kind != Kind::Person {
                return Err(Error::invalid(format!(
                    "{} is not a person",
                    self.describe(e)
                )));
            }
            if e.is_deleted() {
                return Err(Error::invalid(format!("{} is removed", self.describe(e))));
            }
        }
        let mut changes = Vec::new();
        let mut undo_fields = Vec::new();
        let mut undo_members = Vec::new();
        let mut undo_items = Vec::new();
        for (privacy, part) in [
            (Privacy::Shared, &other.shared),
            (Privacy::Private, &other.private),
        ] {
            for (field, value) in part {
                if OWN_FIELDS.contains(&field.as_str()) {
                    continue;
                }
                if SET_FIELDS.contains(&field.as_str()) {
                    let Json::Object(members) = value else {
                        continue;
                    };
                    let have: Vec<String> = keep
                        .set_values(field)
                        .into_iter()
                        .map(|m| m.value)
                        .collect();
                    for (member, meta) in members {
                        if have.contains(member) || same_phone(field, member, &have) {
                            continue;
                        }
                        changes.push(Change::PutMember {
                            kind: Kind::Person,
                            id: keep.id.clone(),
                            field: field.clone(),
                            member: member.clone(),
                            meta: meta.clone(),
                            privacy,
                        });
                        undo_members.push(json!([field, member]));
                    }
                } else if keep.get(field).is_none() {
                    changes.push(Change::Put {
                        kind: Kind::Person,
                        id: keep.id.clone(),
                        field: field.clone(),
                        value: value.clone(),
                        privacy,
                    });
                    undo_fields.push(json!([field, value]));
                }
            }
        }
        for item in self.items_of(&other.id)? {
            for (field, was, now) in repoint(&item, &other.id, &keep.id) {
                changes.push(Change::Put {
                    kind: item.kind,
                    id: item.id.clone(),
                    field: field.clone(),
                    value: now.clone(),
                    privacy: item.privacy_of(&field).unwrap_or(Privacy::Shared),
                });
                undo_items.push(json!([item.id.as_str(), field, was, now]));
            }
        }
        let report = MergeReport {
            kept: keep.id.clone(),
            merged: other.id.clone(),
            fields: undo_fields.len(),
            members: undo_members.len(),
            items: undo_items.len(),
        };
        let record = json!([{
            "into": keep.id.as_str(),
            "at": self.now_string(),
            "fields": undo_fields,
            "members": undo_members,
            "items": undo_items,
        }]);
        for (field, value, privacy) in [
            ("deleted", text(self.now_string()), Privacy::Shared),
            ("merged_into", text(keep.id.as_str()), Privacy::Shared),
            ("merge", record, Privacy::Private),
        ] {
            changes.push(Change::Put {
                kind: Kind::Person,
                id: other.id.clone(),
                field: field.into(),
                value,
                privacy,
            });
        }
        let what = format!(
            "merge {} into {}",
            other.str("name").unwrap_or(""),
            keep.str("name").unwrap_or("")
        );
        self.write_whole(&what, changes)?;
        Ok(report)
    }

    /// People merged away that [`Ledger::unmerge`] can still bring back,
    /// newest merge first, each with the record they went into (`limit` at
    /// most).
    pub fn merged_away(&self, limit: usize) -> Result<Vec<(Entity, Entity)>> {
        let mut merged: Vec<Entity> = self
            .index()
            .query_entities(
                "SELECT e.json FROM people p JOIN entities e ON e.id = p.id WHERE p.deleted = 1 AND e.json LIKE '%\"merged_into\"%'",
                [],
            )?
            .into_iter()
            .filter(|e| e.get("merge").is_some())
            .collect();
        merged.sort_by(|a, b| b.str("deleted").cmp(&a.str("deleted")));
        merged.truncate(limit);
        let mut out = Vec::new();
        for m in merged {
            let into = m.str("merged_into").and_then(|s| Id::parse(s).ok());
            if let Some(keep) = into.and_then(|id| self.index().entity(&id).ok().flatten()) {
                out.push((m, keep));
            }
        }
        Ok(out)
    }

    /// Facts, notes, relationships, interactions and follow-ups that point
    /// at a person.
    fn items_of(&self, id: &Id) -> Result<Vec<Entity>> {
        let mut items = self.index().query_entities(
            "SELECT e.json FROM items i JOIN entities e ON e.id = i.id WHERE i.subject = ?1 OR i.other = ?1
             UNION SELECT e.json FROM involved v JOIN entities e ON e.id = v.interaction WHERE v.person = ?1
             UNION SELECT e.json FROM follow_ups f JOIN entities e ON e.id = f.id WHERE f.person = ?1",
            [id.as_str()],
        )?;
        items.sort_by(|a, b| a.id.cmp(&b.id));
        items.dedup_by(|a, b| a.id == b.id);
        Ok(items)
    }

    /// Undoes a merge. `who` is the merged-away record (removed), or the
    /// one kept, if exactly one record was merged into it.
    pub fn unmerge(&mut self, who: &str) -> Result<(Entity, Entity)> {
        let merged = match self.resolve(who, &[Kind::Person], true) {
            Ok(e) if e.get("merge").is_some() => e,
            _ => {
                let keep = self.resolve(who, &[Kind::Person], false)?;
                let found = self.index().query_entities(
                    "SELECT e.json FROM people p JOIN entities e ON e.id = p.id WHERE p.deleted = 1 AND e.json LIKE ?1",
                    [format!("%\"merged_into\":\"{}\"%", keep.id)],
                )?;
                match found.len() {
                    0 => {
                        return Err(Error::invalid(format!(
                            "no one was merged into {}",
                            self.describe(&keep)
                        )));
                    }
                    1 => found.into_iter().next().expect("one"),
                    _ => {
                        return Err(Error::Ambiguous {
                            query: who.to_string(),
                            candidates: found.iter().map(|e| self.describe(e)).collect(),
                        });
                    }
                }
            }
        };
        let record = match merged.get("merge") {
            Some(Json::Array(r)) => r.first().cloned().unwrap_or(Json::Null),
            _ => Json::Null,
        };
        let keep_id = record
            .get("into")
            .and_then(Json::as_str)
            .and_then(|s| Id::parse(s).ok())
            .ok_or_else(|| {
                Error::invalid(format!("{} has no merge to undo", self.describe(&merged)))
            })?;
        let keep = self.entity(&keep_id)?;
        let mut changes = Vec::new();
        let list = |k: &str| {
            record
                .get(k)
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default()
        };
        for f in list("fields") {
            let (Some(field), Some(value)) = (f.get(0).and_then(Json::as_str), f.get(1)) else {
                continue;
            };
            // Only what still holds the merged value: later edits stay.
            if keep.get(field) == Some(value) {
                changes.push(Change::Remove {
                    kind: Kind::Person,
                    id: keep.id.clone(),
                    field: field.into(),
                });
            }
        }
        for m in list("members") {
            let (Some(field), Some(member)) = (
                m.get(0).and_then(Json::as_str),
                m.get(1).and_then(Json::as_str),
            ) else {
                continue;
            };
            changes.push(Change::RemoveMember {
                kind: Kind::Person,
                id: keep.id.clone(),
                field: field.into(),
                member: member.into(),
            });
        }
        for i in list("items") {
            let (Some(id), Some(field), Some(was), Some(now)) = (
                i.get(0)
                    .and_then(Json::as_str)
                    .and_then(|s| Id::parse(s).ok()),
                i.get(1).and_then(Json::as_str),
                i.get(2),
                i.get(3),
            ) else {
                continue;
            };
            let Ok(item) = self.entity(&id) else { continue };
            if item.get(field) == Some(now) {
                changes.push(Change::Put {
                    kind: item.kind,
                    id: id.clone(),
                    field: field.into(),
                    value: was.clone(),
                    privacy: item.privacy_of(field).unwrap_or(Privacy::Shared),
                });
            }
        }
        for field in ["deleted", "merged_into", "merge"] {
            changes.push(Change::Remove {
                kind: Kind::Person,
                id: merged.id.clone(),
                field: field.into(),
            });
        }
        let what = format!(
            "unmerge {} from {}",
            merged.str("name").unwrap_or(""),
            keep.str("name").unwrap_or("")
        );
        self.write_whole(&what, changes)?;
        let merged = self.entity(&merged.id)?;
        let keep = self.entity(&keep.id)?;
        Ok((keep, merged))
    }
}

fn each_pair(ids: &[Id], mut f: impl FnMut(&Id, &Id)) {
    for (n, a) in ids.iter().enumerate() {
        for b in &ids[n + 1..] {
            f(a, b);
        }
    }
}

/// Whether a phone is one of `have` written differently.
fn same_phone(field: &str, member: &str, have: &[String]) -> bool {
    field == "phones"
        && phone_key(member).is_some_and(|k| have.iter().any(|h| phone_key(h).as_ref() == Some(&k)))
}

/// Names close enough to ask about: one typo apart, or one a shortening
/// of the other ("Edna Miggins" and "Edna M Miggins").
fn close_names(a: &str, b: &str) -> bool {
    if strsim::jaro_winkler(a, b) >= 0.94 {
        return true;
    }
    let (wa, wb): (Vec<&str>, Vec<&str>) = (
        a.split_whitespace().collect(),
        b.split_whitespace().collect(),
    );
    let (short, long) = if wa.len() <= wb.len() {
        (wa, wb)
    } else {
        (wb, wa)
    };
    short.len() >= 2 && short.iter().all(|w| long.contains(w))
}

/// The fields of an item that name `from`, with their old and new values.
fn repoint(item: &Entity, from: &Id, to: &Id) -> Vec<(String, Json, Json)> {
    let mut out = Vec::new();
    for field in ["subject", "from", "to", "person"] {
        if item.str(field) == Some(from.as_str()) {
            // A relationship between the two would point at itself.
            let other = if field == "from" { "to" } else { "from" };
            if item.kind == Kind::Link && item.str(other) == Some(to.as_str()) {
                continue;
            }
            out.push((field.to_string(), text(from.as_str()), text(to.as_str())));
        }
    }
    if let Some(Json::Array(people)) = item.get("people")
        && people.iter().any(|p| p.as_str() == Some(from.as_str()))
    {
        let mut now: Vec<Json> = Vec::new();
        for p in people {
            let p = if p.as_str() == Some(from.as_str()) {
                text(to.as_str())
            } else {
                p.clone()
            };
            if !now.contains(&p) {
                now.push(p);
            }
        }
        out.push((
            "people".into(),
            Json::Array(people.clone()),
            Json::Array(now),
        ));
    }
    out
}
