//! `kith history WHO`: a person's timeline. Interactions from the index, and
//! every change to the person and their facts, notes, relationships and
//! follow-ups read from the automerge history itself: what changed, when,
//! and on which device.

use std::collections::HashSet;

use automerge::{ChangeHash, PatchAction, Prop};
use serde::Serialize;
use serde_json::Value as Json;

use crate::error::Result;
use crate::ledger::Ledger;
use crate::model::{Entity, Id};
use crate::store::doc::parse_key;
use crate::store::{Part, ShardDoc};
use crate::view::interaction_view;

#[derive(Debug, Serialize)]
pub struct Event {
    /// Local time of a change (`2026-11-28T09:00:00`), or the date or
    /// minute of an interaction (`2026-11-24`, `2026-11-24T10:30`).
    pub at: String,
    /// "interaction" or "change".
    pub kind: &'static str,
    pub summary: String,
    /// Field-level detail of a change: "title: Buyer".
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    pub device: Option<String>,
    /// The automerge actor that made the change.
    pub actor: Option<String>,
    pub private: bool,
}

impl Ledger {
    /// The whole timeline of a person, newest first, at most `limit` events.
    pub fn history(&mut self, person: &Entity, limit: Option<usize>) -> Result<Vec<Event>> {
        let mut events = Vec::new();
        let index = self.index();
        for e in index.query_entities(
            "SELECT e.json FROM involved v JOIN entities e ON e.id = v.interaction WHERE v.person = ?1",
            [person.id.as_str()],
        )? {
            let v = interaction_view(index, e);
            events.push(Event {
                at: v.at.clone(),
                kind: "interaction",
                summary: format!(
                    "{} with {}{}",
                    v.channel,
                    v.with.join(", "),
                    v.summary.map(|s| format!(": {s}")).unwrap_or_default()
                ),
                details: Vec::new(),
                device: None,
                actor: None,
                private: v.private,
            });
        }
        // The person and everything about them: mostly in their own shard,
        // but a relationship recorded from the other person's side lives in
        // that person's shard.
        let mut ids: HashSet<String> = HashSet::from([person.id.to_string()]);
        let mut shards = vec![person.id.clone()];
        for id in index.ids(
            "SELECT id FROM items WHERE subject = ?1 OR other = ?1 UNION SELECT id FROM follow_ups WHERE person = ?1",
            [person.id.as_str()],
        )? {
            if !shards.iter().any(|s| s.shard() == id.shard()) {
                shards.push(id.clone());
            }
            ids.insert(id.to_string());
        }
        let tz = self.time_zone().clone();
        for in_shard in shards {
            let mut pair = self.load_pair(&in_shard)?;
            let shared = changes_touching(&mut pair.shared.doc, &ids, &tz)?;
            let private = changes_touching(&mut pair.private.doc, &ids, &tz)?;
            events.extend(merge_parts(shared, private));
        }
        // Records point at companies by id; people read names.
        for event in &mut events {
            for detail in &mut event.details {
                let Some(id) = detail.strip_prefix("company: ") else {
                    continue;
                };
                let name = Id::parse(id.trim_end_matches(" (private)"))
                    .ok()
                    .and_then(|id| self.index().entity(&id).ok().flatten())
                    .and_then(|c| c.str("name").map(str::to_string));
                if let Some(name) = name {
                    *detail = format!("company: {name}");
                }
            }
        }
        // Newest first; a stable sort keeps same-second edits in the order made.
        events.reverse();
        events.sort_by(|a, b| b.at.cmp(&a.at));
        if let Some(n) = limit {
            events.truncate(n);
        }
        Ok(events)
    }
}

/// One edit is one commit in each part it touched; show it once, with the
/// private part's details marked.
fn merge_parts(shared: Vec<Event>, private: Vec<Event>) -> Vec<Event> {
    let mut out: Vec<Event> = shared;
    for mut p in private {
        let twin = out.iter_mut().find(|e| {
            e.kind == "change" && e.at == p.at && e.summary == p.summary && e.device == p.device
        });
        match twin {
            Some(e) => {
                for d in p.details.drain(..) {
                    if !d.ends_with(" created") {
                        e.details.push(format!("{d} (private)"));
                    }
                }
            }
            None => out.push(p),
        }
    }
    out
}

struct ChangeMeta {
    hash: ChangeHash,
    deps: Vec<ChangeHash>,
    time: i64,
    message: Option<String>,
    actor: String,
}

/// Changes in one part's history that touch any of `ids`.
fn changes_touching<P: Part>(
    doc: &mut ShardDoc<P>,
    ids: &HashSet<String>,
    tz: &jiff::tz::TimeZone,
) -> Result<Vec<Event>> {
    let am = doc.automerge();
    // Owned copies: diffing needs the document mutably.
    let metas: Vec<ChangeMeta> = am
        .get_changes_meta(&[])
        .into_iter()
        .filter(|m| m.actor.to_bytes().iter().any(|b| *b != 0))
        .map(|m| ChangeMeta {
            hash: m.hash,
            deps: m.deps.clone(),
            time: m.timestamp,
            message: m.message.as_ref().map(|s| s.to_string()),
            actor: m.actor.to_hex_string(),
        })
        .collect();
    let mut out = Vec::new();
    for ChangeMeta {
        hash,
        deps,
        time,
        message,
        actor,
    } in metas
    {
        let mut details = Vec::new();
        for patch in am.diff(&deps, &[hash]) {
            let Some(entity) = entity_of(&patch) else {
                continue;
            };
            if !ids.contains(&entity) {
                continue;
            }
            details.extend(describe(&patch, &entity));
        }
        if details.is_empty() {
            continue;
        }
        details.sort();
        details.dedup();
        let message: Option<Json> = message.and_then(|m| serde_json::from_str(&m).ok());
        let what = message
            .as_ref()
            .and_then(|m| m.get("what"))
            .and_then(Json::as_str)
            .unwrap_or("change")
            .to_string();
        let device = message
            .as_ref()
            .and_then(|m| m.get("device"))
            .and_then(Json::as_str)
            .map(str::to_string);
        // Local time, in the same form as interaction times, so they sort together.
        let at = jiff::Timestamp::from_second(time)
            .map(|t| {
                t.to_zoned(tz.clone())
                    .strftime("%Y-%m-%dT%H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default();
        out.push(Event {
            at,
            kind: "change",
            summary: what,
            details,
            device,
            actor: Some(actor),
            private: P::PRIVACY == crate::model::Privacy::Private,
        });
    }
    Ok(out)
}

/// The entity a patch is about: a root key, or the root key above it.
fn entity_of(patch: &automerge::Patch) -> Option<String> {
    let key = match (patch.path.as_slice(), &patch.action) {
        ([], PatchAction::PutMap { key, .. }) | ([], PatchAction::DeleteMap { key }) => key,
        ([(_, Prop::Map(key)), ..], _) => key,
        _ => return None,
    };
    parse_key(key).map(|(_, id)| id.to_string())
}

/// Fields kith keeps for its own bookkeeping: not worth a line in a timeline.
const QUIET_FIELDS: [&str; 7] = [
    "created",
    "sort_name",
    "subject",
    "person",
    "from",
    "to",
    "at",
];

/// A patch in words: "title: Buyer", "email edna@miggins.co.uk (shop) added".
fn describe(patch: &automerge::Patch, entity: &str) -> Option<String> {
    let root_key = match (patch.path.first(), &patch.action) {
        (Some((_, Prop::Map(key))), _) => key.as_str(),
        (None, PatchAction::PutMap { key, .. }) | (None, PatchAction::DeleteMap { key }) => {
            key.as_str()
        }
        _ => "",
    };
    let kind = parse_key(root_key)
        .map(|(k, _)| k.name())
        .unwrap_or("record");
    let short = Id::parse(entity)
        .map(|i| i.short().to_string())
        .unwrap_or_default();
    let member = |key: &str| -> Option<(String, String)> {
        let (field, value) = key.split_once(':')?;
        let singular = field.trim_end_matches('s').replace("addresse", "address");
        Some((singular, value.to_string()))
    };
    if patch.path.is_empty() {
        return Some(match &patch.action {
            PatchAction::PutMap { value, .. } => match &value.0 {
                automerge::Value::Scalar(s) => {
                    let fields = crate::store::doc::item_fields(s.as_ref());
                    let shown: Vec<String> = fields
                        .iter()
                        .filter(|(k, _)| !QUIET_FIELDS.contains(&k.as_str()))
                        .map(|(k, v)| match v {
                            Json::String(t) => format!("{k}: {t}"),
                            other => format!("{k}: {other}"),
                        })
                        .collect();
                    format!("{kind} {short}: {}", shown.join(", "))
                }
                _ => format!("{kind} {short} created"),
            },
            _ => format!("{kind} {short} deleted"),
        });
    }
    Some(match &patch.action {
        PatchAction::PutMap { key, value, .. } => {
            if QUIET_FIELDS.contains(&key.as_str()) {
                return None;
            }
            let shown = match &value.0 {
                automerge::Value::Scalar(s) => match s.as_ref() {
                    automerge::ScalarValue::Str(t) => t.to_string(),
                    automerge::ScalarValue::Bytes(b) => {
                        let meta: Json = serde_json::from_slice(b).unwrap_or(Json::Null);
                        meta.get("label")
                            .and_then(Json::as_str)
                            .map(|l| format!("({l})"))
                            .unwrap_or_default()
                    }
                    other => other.to_string(),
                },
                _ => String::new(),
            };
            match member(key) {
                Some((field, value)) => {
                    format!("{field} {value} {shown}").trim_end().to_string() + " added"
                }
                None if kind == "person" || kind == "company" => format!("{key}: {shown}"),
                None => format!("{kind} {key}: {shown}"),
            }
        }
        PatchAction::DeleteMap { key } => match member(key) {
            Some((field, value)) => format!("{field} {value} removed"),
            None => format!("{key} removed"),
        },
        _ => format!("{kind} changed"),
    })
}
