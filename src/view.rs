//! What `show`, `list` and `find` print: people and companies with their
//! facts, relationships, interactions and follow-ups gathered from the index.
//! These structs are the documented `--json` output, each described by a
//! versioned JSON Schema in docs/schema/ (tests/cli/schema.rs holds them to
//! it): renaming or removing a field means bumping that schema's version.

use serde::Serialize;
use serde_json::Value as Json;

use crate::error::Result;
use crate::index::Index;
use crate::model::{Entity, Id, Kind, Labeled, format_cadence, inverse_relation};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Fields and facts: for lists.
    Summary,
    /// Everything, with at most this many interactions.
    Full { interactions: usize },
}

#[derive(Debug, Serialize)]
pub struct ItemView {
    pub id: Id,
    pub text: String,
    pub date: String,
    pub private: bool,
    /// Copied from a teammate's ledger with `kith adopt`: whose, and when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adopted_from: Option<Json>,
}

#[derive(Debug, Serialize)]
pub struct RelationshipView {
    pub id: Id,
    /// How the other person stands to this one: "spouse", "child", "parent"…
    pub relation: String,
    pub person_id: Id,
    pub person: String,
    pub private: bool,
}

#[derive(Debug, Serialize)]
pub struct InteractionView {
    pub id: Id,
    pub at: String,
    pub channel: String,
    pub summary: Option<String>,
    pub with: Vec<String>,
    /// True when the summary is kept in the private part.
    pub private: bool,
    /// Copied from a teammate's ledger with `kith adopt`: whose, and when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adopted_from: Option<Json>,
}

#[derive(Debug, Serialize)]
pub struct FollowUpView {
    pub id: Id,
    pub person_id: Id,
    pub person: String,
    pub text: String,
    pub due: String,
    pub done: Option<String>,
    pub private: bool,
}

#[derive(Debug, Serialize)]
pub struct PersonView {
    pub id: Id,
    pub kind: &'static str,
    pub name: String,
    pub sort_name: String,
    pub nickname: Option<String>,
    pub emails: Vec<Labeled>,
    pub phones: Vec<Labeled>,
    pub addresses: Vec<Labeled>,
    pub company: Option<String>,
    pub company_id: Option<Id>,
    pub title: Option<String>,
    pub birthday: Option<String>,
    pub anniversary: Option<String>,
    pub tags: Vec<String>,
    pub department: Option<String>,
    pub urls: Vec<Labeled>,
    pub impps: Vec<Labeled>,
    pub lang: Option<String>,
    pub gender: Option<String>,
    /// A photo came with the record (from an address book).
    pub photo: bool,
    /// The id the record has in the address book it came from.
    pub uid: Option<String>,
    /// Only a name is known: the person was named on someone else's card.
    pub name_only: bool,
    /// For a record merged away with `kith merge`: the one it went into.
    pub merged_into: Option<Id>,
    /// Copied from a teammate's ledger with `kith adopt`: whose, and when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adopted_from: Option<Json>,
    pub keep_in_touch: Option<String>,
    pub last_contact: Option<String>,
    pub deleted: bool,
    pub facts: Vec<ItemView>,
    /// Names of the fields kept in the private part.
    pub private: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<Vec<ItemView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relationships: Option<Vec<RelationshipView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interactions: Option<Vec<InteractionView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_ups: Option<Vec<FollowUpView>>,
}

#[derive(Debug, Serialize)]
pub struct MemberView {
    pub id: Id,
    pub name: String,
    pub title: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CompanyView {
    pub id: Id,
    pub kind: &'static str,
    pub name: String,
    pub domain: Option<String>,
    pub tags: Vec<String>,
    pub deleted: bool,
    pub people: Vec<MemberView>,
    pub facts: Vec<ItemView>,
    pub private: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<Vec<ItemView>>,
}

fn opt(e: &Entity, field: &str) -> Option<String> {
    e.str(field).map(str::to_string)
}

fn name_of(index: &Index, id: &str) -> String {
    index
        .ids_raw(
            "SELECT name FROM people WHERE id = ?1 UNION ALL SELECT name FROM companies WHERE id = ?1",
            [id],
        )
        .ok()
        .and_then(|names| names.into_iter().next())
        .unwrap_or_else(|| "(unknown)".into())
}

fn items(index: &Index, subject: &Id, kind: Kind) -> Result<Vec<ItemView>> {
    let rows = index.query_entities(
        "SELECT e.json FROM items i JOIN entities e ON e.rowid = i.rowid WHERE i.subject = ?1 AND i.kind = ?2 ORDER BY i.at, i.id",
        rusqlite::params![subject.as_str(), kind.name()],
    )?;
    Ok(rows.into_iter().map(item_view).collect())
}

fn item_view(e: Entity) -> ItemView {
    ItemView {
        text: opt(&e, "text").unwrap_or_default(),
        date: opt(&e, "learned")
            .or_else(|| opt(&e, "at"))
            .map(|d| d.chars().take(10).collect())
            .unwrap_or_default(),
        private: !e.private.is_empty(),
        adopted_from: e.get("adopted_from").cloned(),
        id: e.id,
    }
}

pub fn interaction_view(index: &Index, e: Entity) -> InteractionView {
    let with = match e.get("people") {
        Some(Json::Array(ids)) => ids
            .iter()
            .filter_map(Json::as_str)
            .map(|id| name_of(index, id))
            .collect(),
        _ => Vec::new(),
    };
    InteractionView {
        at: opt(&e, "at").unwrap_or_default(),
        channel: opt(&e, "channel").unwrap_or_default(),
        summary: opt(&e, "summary"),
        private: e.private.contains_key("summary"),
        adopted_from: e.get("adopted_from").cloned(),
        with,
        id: e.id,
    }
}

pub fn follow_up_view(index: &Index, e: Entity) -> FollowUpView {
    let person = opt(&e, "person").unwrap_or_default();
    FollowUpView {
        person: name_of(index, &person),
        person_id: Id::parse(&person).unwrap_or_else(|_| e.id.clone()),
        text: opt(&e, "text").unwrap_or_default(),
        due: opt(&e, "due").unwrap_or_default(),
        done: opt(&e, "done"),
        private: !e.private.is_empty(),
        id: e.id,
    }
}

/// The date of the last interaction with someone.
pub fn last_contact(index: &Index, id: &Id) -> Result<Option<String>> {
    Ok(index
        .ids_raw("SELECT last FROM people WHERE id = ?1", [id.as_str()])?
        .into_iter()
        .next())
}

pub fn person(index: &Index, e: &Entity, detail: Detail) -> Result<PersonView> {
    let company = e
        .str("company")
        .and_then(|c| Id::parse(c).ok())
        .map(|c| name_of(index, c.as_str()));
    let mut view = summary_of(
        e,
        company,
        last_contact(index, &e.id)?,
        items(index, &e.id, Kind::Fact)?,
    );
    if let Detail::Full { interactions } = detail {
        view.notes = Some(items(index, &e.id, Kind::Note)?);
        view.relationships = Some(relationships(index, &e.id)?);
        view.interactions = Some(
            index
                .query_entities(
                    "SELECT e.json FROM involved v JOIN entities e ON e.id = v.interaction WHERE v.person = ?1 ORDER BY v.at DESC, v.interaction LIMIT ?2",
                    rusqlite::params![e.id.as_str(), interactions as i64],
                )?
                .into_iter()
                .map(|i| interaction_view(index, i))
                .collect(),
        );
        view.follow_ups = Some(
            index
                .query_entities(
                    "SELECT e.json FROM follow_ups f JOIN entities e ON e.id = f.id WHERE f.person = ?1 ORDER BY f.done, f.due",
                    [e.id.as_str()],
                )?
                .into_iter()
                .map(|f| follow_up_view(index, f))
                .collect(),
        );
    }
    Ok(view)
}

/// How many people [`summaries`] looks up in one query.
const BATCH: usize = 500;

/// People as lists show them ([`Detail::Summary`]), the same as [`person`]
/// gives one at a time, in the order given. Company names, last contacts and
/// facts are read with three queries per 500 people instead of three per
/// person: at a thousand people that was most of `kith list`'s time.
pub fn summaries(index: &Index, people: Vec<Entity>) -> Result<Vec<PersonView>> {
    let mut out = Vec::with_capacity(people.len());
    let mut people = people.into_iter().peekable();
    while people.peek().is_some() {
        let batch: Vec<Entity> = people.by_ref().take(BATCH).collect();
        out.extend(summary_batch(index, &batch, None, true)?);
    }
    Ok(out)
}

/// What a listing read with each person besides the record.
pub struct Listed {
    pub person: Entity,
    /// `people.last`, read in the same query as the record.
    pub last_contact: Option<String>,
}

/// People as [`summaries`] gives them, for a listing that read each
/// person's last contact with the record. Without `facts` the facts are
/// left empty, for output that does not show them (`kith list` as text):
/// reading them was a third of the page reads per person.
pub fn listed_summaries(
    index: &Index,
    people: Vec<Listed>,
    facts: bool,
) -> Result<Vec<PersonView>> {
    let mut out = Vec::with_capacity(people.len());
    let mut people = people.into_iter().peekable();
    while people.peek().is_some() {
        let mut last = std::collections::HashMap::new();
        let mut batch = Vec::with_capacity(BATCH);
        for p in people.by_ref().take(BATCH) {
            if let Some(l) = p.last_contact {
                last.insert(p.person.id.as_str().to_string(), l);
            }
            batch.push(p.person);
        }
        out.extend(summary_batch(index, &batch, Some(last), facts)?);
    }
    Ok(out)
}

/// One batch of [`summaries`]; `last` when the caller read them already.
fn summary_batch(
    index: &Index,
    people: &[Entity],
    last: Option<std::collections::HashMap<String, String>>,
    with_facts: bool,
) -> Result<Vec<PersonView>> {
    use std::collections::HashMap;
    let ids = Json::from(
        people
            .iter()
            .map(|p| Json::from(p.id.as_str()))
            .collect::<Vec<_>>(),
    )
    .to_string();
    let company_of = |p: &Entity| p.str("company").and_then(|c| Id::parse(c).ok());
    let mut company_ids: Vec<String> = people
        .iter()
        .filter_map(|p| company_of(p).map(|c| c.as_str().to_string()))
        .collect();
    company_ids.sort_unstable();
    company_ids.dedup();
    // name_of's order: a person's name before a company's.
    let mut names: HashMap<String, String> = HashMap::new();
    for (id, name) in index.rows(
        "SELECT id, name FROM people WHERE id IN (SELECT value FROM json_each(?1))
         UNION ALL SELECT id, name FROM companies WHERE id IN (SELECT value FROM json_each(?1))",
        [Json::from(company_ids).to_string()],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
    )? {
        names.entry(id).or_insert(name);
    }
    let mut last: HashMap<String, String> = match last {
        Some(last) => last,
        None => index
            .rows(
                "SELECT id, last FROM people WHERE id IN (SELECT value FROM json_each(?1)) AND last IS NOT NULL",
                [&ids],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )?
            .into_iter()
            .collect(),
    };
    let mut facts: HashMap<String, Vec<ItemView>> = HashMap::new();
    let fact_rows = if with_facts {
        index.rows(
            "SELECT i.subject, e.json FROM items i JOIN entities e ON e.rowid = i.rowid
         WHERE i.subject IN (SELECT value FROM json_each(?1)) AND i.kind = 'fact'
         ORDER BY i.subject, i.at, i.id",
            [&ids],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        )?
    } else {
        Vec::new()
    };
    for (subject, json) in fact_rows {
        if let Ok(fact) = serde_json::from_str::<Entity>(&json) {
            facts.entry(subject).or_default().push(item_view(fact));
        }
    }
    Ok(people
        .iter()
        .map(|p| {
            let company = company_of(p).map(|c| {
                names
                    .get(c.as_str())
                    .cloned()
                    .unwrap_or_else(|| "(unknown)".into())
            });
            summary_of(
                p,
                company,
                last.remove(p.id.as_str()),
                facts.remove(p.id.as_str()).unwrap_or_default(),
            )
        })
        .collect())
}

/// A person's summary from what was looked up for them.
fn summary_of(
    e: &Entity,
    company: Option<String>,
    last_contact: Option<String>,
    facts: Vec<ItemView>,
) -> PersonView {
    let company_id = e.str("company").and_then(|c| Id::parse(c).ok());
    PersonView {
        id: e.id.clone(),
        kind: "person",
        name: opt(e, "name").unwrap_or_default(),
        sort_name: opt(e, "sort_name").unwrap_or_default(),
        nickname: opt(e, "nickname"),
        emails: e.set_values("emails"),
        phones: e.set_values("phones"),
        addresses: e.set_values("addresses"),
        company,
        company_id,
        title: opt(e, "title"),
        birthday: opt(e, "birthday"),
        anniversary: opt(e, "anniversary"),
        tags: e.set_values("tags").into_iter().map(|t| t.value).collect(),
        department: opt(e, "department"),
        urls: e.set_values("urls"),
        impps: e.set_values("impps"),
        lang: opt(e, "lang"),
        gender: opt(e, "gender"),
        photo: e.str("photo").is_some(),
        uid: opt(e, "uid"),
        name_only: e.get("name_only").and_then(Json::as_bool).unwrap_or(false),
        merged_into: e.str("merged_into").and_then(|i| Id::parse(i).ok()),
        adopted_from: e.get("adopted_from").cloned(),
        keep_in_touch: e
            .get("cadence_days")
            .and_then(Json::as_u64)
            .map(|d| format_cadence(d as u32)),
        last_contact,
        deleted: e.is_deleted(),
        facts,
        private: e
            .private_fields()
            .into_iter()
            .filter(|f| f != "created" && f != "merge")
            .collect(),
        notes: None,
        relationships: None,
        interactions: None,
        follow_ups: None,
    }
}

/// Relationships from both sides, each read from this person's side.
pub fn relationships(index: &Index, id: &Id) -> Result<Vec<RelationshipView>> {
    let links = index.query_entities(
        "SELECT e.json FROM items i JOIN entities e ON e.rowid = i.rowid WHERE i.kind = 'link' AND (i.subject = ?1 OR i.other = ?1) ORDER BY i.at, i.id",
        [id.as_str()],
    )?;
    Ok(links
        .into_iter()
        .map(|l| {
            let from = opt(&l, "from").unwrap_or_default();
            let to = opt(&l, "to").unwrap_or_default();
            let relation = opt(&l, "relation").unwrap_or_default();
            // `kith link Daisy child Edna` reads "Daisy is Edna's child". Seen
            // from Edna, Daisy stands as written (child); seen from Daisy,
            // Edna stands as the inverse (parent).
            let (other, relation) = if from == id.as_str() {
                (to, inverse_relation(&relation))
            } else {
                (from, relation)
            };
            RelationshipView {
                person: name_of(index, &other),
                person_id: Id::parse(&other).unwrap_or_else(|_| l.id.clone()),
                relation,
                private: !l.private.is_empty(),
                id: l.id,
            }
        })
        .collect())
}

pub fn company(index: &Index, e: &Entity, detail: Detail) -> Result<CompanyView> {
    let people = index
        .query_entities(
            "SELECT e.json FROM people p JOIN entities e ON e.rowid = p.rowid WHERE p.company = ?1 AND p.deleted = 0 ORDER BY p.sort_key LIMIT 500",
            [e.id.as_str()],
        )?
        .into_iter()
        .map(|p| MemberView {
            name: opt(&p, "name").unwrap_or_default(),
            title: opt(&p, "title"),
            id: p.id,
        })
        .collect();
    Ok(CompanyView {
        id: e.id.clone(),
        kind: "company",
        name: opt(e, "name").unwrap_or_default(),
        domain: opt(e, "domain"),
        tags: e.set_values("tags").into_iter().map(|t| t.value).collect(),
        deleted: e.is_deleted(),
        people,
        facts: items(index, &e.id, Kind::Fact)?,
        private: e.private_fields(),
        notes: match detail {
            Detail::Full { .. } => Some(items(index, &e.id, Kind::Note)?),
            Detail::Summary => None,
        },
    })
}
