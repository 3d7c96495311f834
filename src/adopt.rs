//! `kith adopt MEMBER/WHO`: continuing a relationship a teammate recorded
//! (typically one who left) in one's own ledger, without pretending it was
//! always ours. The person, and the facts, notes, interactions and
//! relationships chosen, are copied from the teammate's replica; each copy
//! carries where it came from (`adopted_from` on the person and on each
//! item), and adopting again copies only what is not here yet.

use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::error::{Error, Result};
use crate::index::Index;
use crate::ledger::Ledger;
use crate::model::{Entity, Fields, Id, Kind, Privacy};
use crate::store::Change;

/// Whose ledger something came from, and when it was adopted.
#[derive(Clone, Debug, Serialize)]
pub struct Provenance {
    pub member: String,
    pub member_id: String,
    /// The day of the adoption.
    pub on: String,
}

/// "from johnny's ledger, 2026-11-28": an `adopted_from` value in words.
pub fn describe(origin: &Json) -> String {
    let member = origin
        .get("member")
        .and_then(Json::as_str)
        .unwrap_or("a teammate");
    match origin.get("on").and_then(Json::as_str) {
        Some(on) => format!("from {member}'s ledger, {on}"),
        None => format!("from {member}'s ledger"),
    }
}

/// What to copy besides the person.
#[derive(Clone, Debug, Default)]
pub struct Choice {
    pub facts: bool,
    pub notes: bool,
    pub interactions: bool,
    pub relationships: bool,
    /// Single items chosen by id (prefix), whatever their kind.
    pub items: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Adopted {
    pub person: Id,
    pub name: String,
    /// False when the person was already in the ledger (matched by email,
    /// address-book id, or an earlier adoption).
    pub created: bool,
    pub fields: Vec<String>,
    pub items: Vec<Id>,
    /// Items not copied, with why.
    pub skipped: Vec<String>,
}

/// Person fields that belong to one ledger and are never copied.
const LOCAL_FIELDS: &[&str] = &[
    "created",
    "company",
    "deleted",
    "merged_into",
    "merge",
    "adopted_from",
    "cadence_days",
];

impl Ledger {
    /// Copies `person` from a teammate's replica (`theirs`) into this ledger.
    pub fn adopt(
        &mut self,
        theirs: &Index,
        person: &Entity,
        from: &Provenance,
        choice: &Choice,
    ) -> Result<Adopted> {
        if person.kind != Kind::Person {
            return Err(Error::invalid("only a person can be adopted"));
        }
        let origin = json!({
            "member": from.member,
            "member_id": from.member_id,
            "id": person.id.as_str(),
            "on": from.on,
        });
        let mut changes = Vec::new();
        let existing = self.adopted_match(person)?;
        let (target, created, fields) = match &existing {
            Some(mine) => {
                let fields = self.fill_missing(mine, person, &mut changes)?;
                (mine.id.clone(), false, fields)
            }
            None => self.copy_person(theirs, person, &origin, &mut changes)?,
        };
        let (items, skipped) =
            self.copy_items(theirs, person, &target, &origin, choice, &mut changes)?;
        let name = person.str("name").unwrap_or("").to_string();
        if !changes.is_empty() {
            self.write(
                &format!("adopt {name} from {}'s ledger", from.member),
                changes,
            )?;
        }
        Ok(Adopted {
            person: target,
            name,
            created,
            fields,
            items,
            skipped,
        })
    }

    /// The person already here: adopted before, or sharing an email or
    /// address-book id.
    fn adopted_match(&self, person: &Entity) -> Result<Option<Entity>> {
        let index = self.index();
        let pattern = format!("%\"adopted_from\":{{%\"id\":\"{}\"%", person.id.as_str());
        let mut ids = index.ids(
            "SELECT id FROM entities WHERE kind = 'person' AND json LIKE ?1",
            [&pattern],
        )?;
        for email in person.set_values("emails") {
            ids.extend(index.ids(
                "SELECT id FROM emails WHERE email = ?1",
                [email.value.to_lowercase()],
            )?);
        }
        if let Some(uid) = person.str("uid") {
            ids.extend(index.ids(
                "SELECT id FROM handles WHERE handle = ?1",
                [format!("uid:{uid}")],
            )?);
        }
        for id in ids {
            if let Some(e) = index.entity(&id)?
                && e.kind == Kind::Person
                && !e.is_deleted()
            {
                return Ok(Some(e));
            }
        }
        Ok(None)
    }

    fn copy_person(
        &self,
        theirs: &Index,
        person: &Entity,
        origin: &Json,
        changes: &mut Vec<Change>,
    ) -> Result<(Id, bool, Vec<String>)> {
        let id = Id::random();
        let mut shared = Fields::new();
        let mut private = Fields::new();
        let mut fields = Vec::new();
        for (field, value) in person.shared.iter() {
            if LOCAL_FIELDS.contains(&field.as_str()) {
                continue;
            }
            fields.push(field.clone());
            match self.settings.person_field(field) {
                Privacy::Shared => shared.insert(field.clone(), value.clone()),
                Privacy::Private => private.insert(field.clone(), value.clone()),
            };
        }
        if let Some(company) = company_name(theirs, person)? {
            let cid = self.company_for(&company, changes)?;
            shared.insert("company".into(), Json::String(cid.to_string()));
            fields.push("company".into());
        }
        shared.insert("created".into(), Json::String(self.now_string()));
        shared.insert("adopted_from".into(), origin.clone());
        changes.push(Change::Create {
            kind: Kind::Person,
            id: id.clone(),
            shared,
            private,
        });
        Ok((id, true, fields))
    }

    /// Adds the fields and set members the own record lacks.
    fn fill_missing(
        &self,
        mine: &Entity,
        person: &Entity,
        changes: &mut Vec<Change>,
    ) -> Result<Vec<String>> {
        let mut filled = Vec::new();
        for (field, value) in person.shared.iter() {
            if LOCAL_FIELDS.contains(&field.as_str()) {
                continue;
            }
            let privacy = self.settings.person_field(field);
            match (value, mine.get(field)) {
                (Json::Object(members), Some(Json::Object(have))) => {
                    for (member, meta) in members {
                        if !have.contains_key(member) {
                            changes.push(Change::PutMember {
                                kind: Kind::Person,
                                id: mine.id.clone(),
                                field: field.clone(),
                                member: member.clone(),
                                meta: meta.clone(),
                                privacy,
                            });
                            filled.push(field.clone());
                        }
                    }
                }
                (_, None) => {
                    changes.push(Change::Put {
                        kind: Kind::Person,
                        id: mine.id.clone(),
                        field: field.clone(),
                        value: value.clone(),
                        privacy,
                    });
                    filled.push(field.clone());
                }
                _ => {}
            }
        }
        filled.dedup();
        Ok(filled)
    }

    fn copy_items(
        &self,
        theirs: &Index,
        person: &Entity,
        target: &Id,
        origin: &Json,
        choice: &Choice,
        changes: &mut Vec<Change>,
    ) -> Result<(Vec<Id>, Vec<String>)> {
        let done = self.adopted_items(target)?;
        let mut copied = Vec::new();
        let mut skipped = Vec::new();
        for item in items_about(theirs, &person.id)? {
            let chosen = choice
                .items
                .iter()
                .any(|p| !p.is_empty() && item.id.as_str().starts_with(p.as_str()));
            let by_kind = match item.kind {
                Kind::Fact => choice.facts,
                Kind::Note => choice.notes,
                Kind::Interaction => choice.interactions,
                Kind::Link => choice.relationships,
                _ => false,
            };
            if !(chosen || by_kind) || item.is_deleted() || done.contains(item.id.as_str()) {
                continue;
            }
            match self.copy_item(theirs, &item, &person.id, target, origin)? {
                Ok((kind, shared, private)) => {
                    let id = Id::near(target);
                    changes.push(Change::Create {
                        kind,
                        id: id.clone(),
                        shared,
                        private,
                    });
                    copied.push(id);
                }
                Err(why) => skipped.push(why),
            }
        }
        Ok((copied, skipped))
    }

    /// The source ids of items already adopted onto `target`.
    fn adopted_items(&self, target: &Id) -> Result<std::collections::HashSet<String>> {
        let index = self.index();
        let mut out = std::collections::HashSet::new();
        for e in items_about(index, target)? {
            if let Some(id) = e
                .get("adopted_from")
                .and_then(|f| f.get("id"))
                .and_then(Json::as_str)
            {
                out.insert(id.to_string());
            }
        }
        Ok(out)
    }

    /// An item's fields as they will be here, or why it cannot be copied.
    #[allow(clippy::type_complexity)]
    fn copy_item(
        &self,
        theirs: &Index,
        item: &Entity,
        source: &Id,
        target: &Id,
        origin: &Json,
    ) -> Result<std::result::Result<(Kind, Fields, Fields), String>> {
        let mut fields: Fields = item.shared.clone();
        let mut from = origin.clone();
        from["id"] = Json::String(item.id.to_string());
        fields.insert("adopted_from".into(), from);
        let retarget = |fields: &mut Fields, key: &str| {
            if fields.get(key).and_then(Json::as_str) == Some(source.as_str()) {
                fields.insert(key.into(), Json::String(target.to_string()));
            }
        };
        let (privacy, private_key) = match item.kind {
            Kind::Fact => (self.settings.privacy.facts, None),
            Kind::Note => (self.settings.privacy.notes, None),
            Kind::Link => (self.settings.privacy.relationships, None),
            _ => (self.settings.privacy.summaries, Some("summary")),
        };
        match item.kind {
            Kind::Fact | Kind::Note => retarget(&mut fields, "subject"),
            Kind::Interaction => {
                fields.insert("people".into(), json!([target.as_str()]));
            }
            Kind::Link => {
                let other_key =
                    if fields.get("from").and_then(Json::as_str) == Some(source.as_str()) {
                        "to"
                    } else {
                        "from"
                    };
                let other = fields.get(other_key).and_then(Json::as_str).unwrap_or("");
                let Some(mine) = self.counterpart(theirs, other)? else {
                    let name = Id::parse(other)
                        .ok()
                        .and_then(|id| theirs.entity(&id).ok().flatten())
                        .and_then(|e| e.str("name").map(str::to_string))
                        .unwrap_or_else(|| other.to_string());
                    return Ok(Err(format!("relationship to {name}: adopt {name} first")));
                };
                fields.insert(other_key.into(), Json::String(mine.to_string()));
                retarget(&mut fields, "from");
                retarget(&mut fields, "to");
            }
            _ => return Ok(Err(format!("{} cannot be adopted", item.kind.name()))),
        }
        // Items are shared or private as a whole, except an interaction,
        // whose summary alone follows the setting.
        let (shared, private) = match (privacy, private_key) {
            (Privacy::Private, Some(key)) => {
                let mut private = Fields::new();
                if let Some(v) = fields.remove(key) {
                    private.insert(key.into(), v);
                }
                (fields, private)
            }
            (Privacy::Private, None) => (Fields::new(), fields),
            (Privacy::Shared, _) => (fields, Fields::new()),
        };
        Ok(Ok((item.kind, shared, private)))
    }

    /// The person here who is `their_id` in the teammate's ledger.
    fn counterpart(&self, theirs: &Index, their_id: &str) -> Result<Option<Id>> {
        let Ok(id) = Id::parse(their_id) else {
            return Ok(None);
        };
        let Some(person) = theirs.entity(&id)? else {
            return Ok(None);
        };
        Ok(self.adopted_match(&person)?.map(|e| e.id))
    }
}

/// The name of the company a person is at, in their ledger.
fn company_name(index: &Index, person: &Entity) -> Result<Option<String>> {
    let Some(id) = person.str("company").and_then(|c| Id::parse(c).ok()) else {
        return Ok(None);
    };
    Ok(index
        .entity(&id)?
        .and_then(|c| c.str("name").map(str::to_string)))
}

/// Facts, notes, relationships and interactions about a person.
fn items_about(index: &Index, id: &Id) -> Result<Vec<Entity>> {
    let mut out = index.query_entities(
        "SELECT e.json FROM items i JOIN entities e ON e.id = i.id
         WHERE i.subject = ?1 OR i.other = ?1 ORDER BY i.at, i.id",
        [id.as_str()],
    )?;
    out.extend(index.query_entities(
        "SELECT e.json FROM involved v JOIN entities e ON e.id = v.interaction
         WHERE v.person = ?1 ORDER BY v.at, v.interaction",
        [id.as_str()],
    )?);
    Ok(out)
}
