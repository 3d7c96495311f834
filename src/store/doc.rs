//! One shard of one part of the ledger as an automerge document, and how
//! entities are laid out inside it.
//!
//! Layout: every entity is one key of the root map, `{collection}/{id}`
//! (`people/y5jnfwzae5ym6b4b`, `interactions/y5…`), so replicas never need to
//! agree on a shared container object and no two devices ever create the
//! same object concurrently.
//!
//! - People and companies are maps, created once and in both parts at the
//!   same time. Every value inside is a scalar; set-like fields are flattened
//!   to one key per member (`emails:edna@miggins.co.uk`), so two devices
//!   adding different emails concurrently both keep theirs, and two devices
//!   editing different fields both keep their edit.
//! - Items (facts, notes, links, interactions, follow-ups) are one scalar each:
//!   their fields as JSON bytes. They are written once and rarely edited;
//!   one value per item keeps a million interactions to two automerge
//!   operations each. Concurrent edits of the same item resolve by automerge's
//!   last-writer-wins rule.
//!
//! `ShardDoc<Shared>` and `ShardDoc<Private>` are different types: only the
//! shared one will ever offer a way to produce bytes for the network.

use std::collections::HashMap;
use std::marker::PhantomData;

use automerge::hydrate::Value as HValue;
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, Value};
use serde_json::Value as Json;

use crate::error::Result;
use crate::model::{Fields, Id, Kind, Privacy, SET_FIELDS};

/// Marker for the part teammates may read.
#[derive(Debug)]
pub struct Shared;
/// Marker for the part that never leaves the owner's devices.
#[derive(Debug)]
pub struct Private;

pub trait Part: Send + Sync + 'static {
    const DIR: &'static str;
    const PRIVACY: Privacy;
}

impl Part for Shared {
    const DIR: &'static str = "shared";
    const PRIVACY: Privacy = Privacy::Shared;
}

impl Part for Private {
    const DIR: &'static str = "private";
    const PRIVACY: Privacy = Privacy::Private;
}

/// Separates a set-like field from its member in a flattened key.
const MEMBER_SEP: char = ':';

/// Whether entities of this kind are maps (field-level merges) or one value.
pub fn is_map_kind(kind: Kind) -> bool {
    matches!(kind, Kind::Person | Kind::Company)
}

/// The root key of an entity.
pub fn key_of(kind: Kind, id: &Id) -> String {
    format!("{}/{}", kind.collection(), id)
}

/// The entity a root key names.
pub fn parse_key(key: &str) -> Option<(Kind, Id)> {
    let (coll, id) = key.split_once('/')?;
    Some((Kind::from_collection(coll)?, Id::parse(id).ok()?))
}

pub struct ShardDoc<P: Part> {
    pub(crate) doc: AutoCommit,
    /// Heads when loaded from disk: what an incremental save starts after.
    pub(crate) saved_heads: Vec<ChangeHash>,
    _part: PhantomData<P>,
}

impl<P: Part> ShardDoc<P> {
    pub fn empty() -> ShardDoc<P> {
        ShardDoc {
            doc: AutoCommit::new(),
            saved_heads: Vec::new(),
            _part: PhantomData,
        }
    }

    pub fn from_doc(mut doc: AutoCommit) -> ShardDoc<P> {
        let saved_heads = doc.get_heads();
        ShardDoc {
            doc,
            saved_heads,
            _part: PhantomData,
        }
    }

    pub fn set_actor(&mut self, actor: &automerge::ActorId) {
        self.doc.set_actor(actor.clone());
    }

    pub fn is_empty(&self) -> bool {
        self.doc.is_empty()
    }

    fn entity_value(&self, kind: Kind, id: &Id) -> Result<Option<(Value<'_>, ObjId)>> {
        Ok(self.doc.get(automerge::ROOT, key_of(kind, id).as_str())?)
    }

    pub fn contains(&self, kind: Kind, id: &Id) -> Result<bool> {
        Ok(self.entity_value(kind, id)?.is_some())
    }

    /// Creates entities in one batch. Only valid on an empty document (the
    /// batch appends its operations without looking at existing ones).
    pub fn create_all(&mut self, entities: &[(Kind, &Id, &Fields)]) -> Result<()> {
        let mut root: HashMap<String, HValue> = HashMap::with_capacity(entities.len());
        for (kind, id, fields) in entities {
            root.insert(key_of(*kind, id), entity_value(*kind, fields));
        }
        let borrowed: HashMap<&str, HValue> =
            root.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        if let HValue::Map(map) = HValue::from(borrowed) {
            self.doc.init_root_from_hydrate(&map)?;
        }
        Ok(())
    }

    /// Creates one entity in a document that may hold others.
    pub fn create(&mut self, kind: Kind, id: &Id, fields: &Fields) -> Result<()> {
        let key = key_of(kind, id);
        match entity_value(kind, fields) {
            HValue::Scalar(s) => {
                self.doc.put(automerge::ROOT, key.as_str(), s)?;
            }
            map => {
                self.doc
                    .batch_create_object(automerge::ROOT, key.as_str(), &map, false)?;
            }
        }
        Ok(())
    }

    /// Sets a field, creating the entity in this part if it lacks it.
    pub fn put(&mut self, kind: Kind, id: &Id, field: &str, value: &Json) -> Result<()> {
        if !is_map_kind(kind) {
            let mut fields = self.fields(kind, id)?.unwrap_or_default();
            fields.insert(field.to_string(), value.clone());
            return self.put_item(kind, id, &fields);
        }
        let obj = self.ensure_map(kind, id)?;
        if value.is_null() {
            self.doc.delete(&obj, field)?;
        } else {
            self.doc.put(&obj, field, to_scalar(value))?;
        }
        Ok(())
    }

    fn put_item(&mut self, kind: Kind, id: &Id, fields: &Fields) -> Result<()> {
        let key = key_of(kind, id);
        if fields.is_empty() {
            self.doc.delete(automerge::ROOT, key.as_str())?;
        } else {
            let bytes = serde_json::to_vec(fields).unwrap_or_default();
            self.doc
                .put(automerge::ROOT, key.as_str(), ScalarValue::Bytes(bytes))?;
        }
        Ok(())
    }

    fn map_obj(&self, kind: Kind, id: &Id) -> Result<Option<ObjId>> {
        Ok(match self.entity_value(kind, id)? {
            Some((Value::Object(ObjType::Map), obj)) => Some(obj),
            _ => None,
        })
    }

    fn ensure_map(&mut self, kind: Kind, id: &Id) -> Result<ObjId> {
        if let Some(obj) = self.map_obj(kind, id)? {
            return Ok(obj);
        }
        Ok(self
            .doc
            .put_object(automerge::ROOT, key_of(kind, id).as_str(), ObjType::Map)?)
    }

    /// Removes a field (all members, for set-like fields). Absent is fine.
    pub fn remove(&mut self, kind: Kind, id: &Id, field: &str) -> Result<()> {
        if !is_map_kind(kind) {
            if let Some(mut fields) = self.fields(kind, id)?
                && fields.remove(field).is_some()
            {
                self.put_item(kind, id, &fields)?;
            }
            return Ok(());
        }
        let Some(obj) = self.map_obj(kind, id)? else {
            return Ok(());
        };
        let prefix = format!("{field}{MEMBER_SEP}");
        let keys: Vec<String> = self
            .doc
            .keys(&obj)
            .filter(|k| k == field || k.starts_with(&prefix))
            .collect();
        for key in keys {
            self.doc.delete(&obj, key.as_str())?;
        }
        Ok(())
    }

    /// Adds or relabels one member of a set-like field of a person or company.
    pub fn put_member(
        &mut self,
        kind: Kind,
        id: &Id,
        field: &str,
        member: &str,
        meta: &Json,
    ) -> Result<()> {
        let obj = self.ensure_map(kind, id)?;
        let key = format!("{field}{MEMBER_SEP}{member}");
        self.doc.put(&obj, key.as_str(), to_scalar(meta))?;
        Ok(())
    }

    pub fn remove_member(
        &mut self,
        kind: Kind,
        id: &Id,
        field: &str,
        member: &str,
    ) -> Result<bool> {
        let Some(obj) = self.map_obj(kind, id)? else {
            return Ok(false);
        };
        let key = format!("{field}{MEMBER_SEP}{member}");
        if self.doc.get(&obj, key.as_str())?.is_none() {
            return Ok(false);
        }
        self.doc.delete(&obj, key.as_str())?;
        Ok(true)
    }

    /// An entity's fields in this part, set-like fields regrouped as objects.
    pub fn fields(&self, kind: Kind, id: &Id) -> Result<Option<Fields>> {
        match self.entity_value(kind, id)? {
            Some((Value::Object(ObjType::Map), obj)) => Ok(Some(self.read_map(&obj, None)?)),
            Some((Value::Scalar(s), _)) => Ok(Some(item_fields(&s))),
            _ => Ok(None),
        }
    }

    fn read_map(&self, obj: &ObjId, heads: Option<&[ChangeHash]>) -> Result<Fields> {
        let mut flat = Vec::new();
        let keys: Vec<String> = match heads {
            Some(h) => self.doc.keys_at(obj, h).collect(),
            None => self.doc.keys(obj).collect(),
        };
        for key in keys {
            let got = match heads {
                Some(h) => self.doc.get_at(obj, key.as_str(), h)?,
                None => self.doc.get(obj, key.as_str())?,
            };
            if let Some((Value::Scalar(s), _)) = got {
                flat.push((key, from_scalar(&s)));
            }
        }
        Ok(unflatten(flat))
    }

    /// Every entity in this part of the shard, optionally as of `heads`.
    pub fn entities(&self, heads: Option<&[ChangeHash]>) -> Result<Vec<(Kind, Id, Fields)>> {
        let keys: Vec<String> = match heads {
            Some(h) => self.doc.keys_at(automerge::ROOT, h).collect(),
            None => self.doc.keys(automerge::ROOT).collect(),
        };
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let Some((kind, id)) = parse_key(&key) else {
                continue;
            };
            let got = match heads {
                Some(h) => self.doc.get_at(automerge::ROOT, key.as_str(), h)?,
                None => self.doc.get(automerge::ROOT, key.as_str())?,
            };
            match got {
                Some((Value::Object(ObjType::Map), obj)) => {
                    out.push((kind, id, self.read_map(&obj, heads)?))
                }
                Some((Value::Scalar(s), _)) => out.push((kind, id, item_fields(&s))),
                _ => {}
            }
        }
        Ok(out)
    }

    /// Commits pending operations as one change with a message and time.
    pub fn commit(&mut self, message: &str, time_secs: i64) -> Option<ChangeHash> {
        self.doc.commit_with(
            CommitOptions::default()
                .with_message(message.to_string())
                .with_time(time_secs),
        )
    }

    /// The changes made since the document was loaded, as automerge bytes.
    pub fn save_incremental(&mut self) -> Vec<u8> {
        self.doc.save_after(&self.saved_heads)
    }

    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    pub fn mark_saved(&mut self) {
        self.saved_heads = self.doc.get_heads();
    }

    pub fn has_unsaved(&mut self) -> bool {
        self.doc.get_heads() != self.saved_heads
    }

    pub fn automerge(&mut self) -> &mut AutoCommit {
        &mut self.doc
    }

    pub fn into_automerge(self) -> AutoCommit {
        self.doc
    }
}

/// How an entity is stored: a map of scalars, or one JSON value.
fn entity_value(kind: Kind, fields: &Fields) -> HValue {
    if !is_map_kind(kind) {
        return HValue::Scalar(ScalarValue::Bytes(
            serde_json::to_vec(fields).unwrap_or_default(),
        ));
    }
    let flat = flatten(fields);
    let map: HashMap<&str, HValue> = flat
        .iter()
        .map(|(k, v)| (k.as_str(), HValue::Scalar(to_scalar(v))))
        .collect();
    HValue::from(map)
}

/// An item's fields from its stored JSON bytes.
pub(crate) fn item_fields(value: &ScalarValue) -> Fields {
    match value {
        ScalarValue::Bytes(b) => serde_json::from_slice(b).unwrap_or_default(),
        _ => Fields::new(),
    }
}

/// Scalars stay scalars; anything structured is stored as JSON bytes.
fn to_scalar(value: &Json) -> ScalarValue {
    match value {
        Json::String(s) => ScalarValue::Str(s.as_str().into()),
        Json::Bool(b) => ScalarValue::Boolean(*b),
        Json::Number(n) if n.is_i64() => ScalarValue::Int(n.as_i64().unwrap_or_default()),
        Json::Null => ScalarValue::Null,
        other => ScalarValue::Bytes(serde_json::to_vec(other).unwrap_or_default()),
    }
}

pub(crate) fn from_scalar(value: &ScalarValue) -> Json {
    match value {
        ScalarValue::Str(s) => Json::String(s.to_string()),
        ScalarValue::Boolean(b) => Json::Bool(*b),
        ScalarValue::Int(i) => Json::from(*i),
        ScalarValue::Uint(u) => Json::from(*u),
        ScalarValue::Timestamp(t) => Json::from(*t),
        ScalarValue::F64(f) => Json::from(*f),
        ScalarValue::Bytes(b) => serde_json::from_slice(b).unwrap_or(Json::Null),
        _ => Json::Null,
    }
}

/// `{"emails": {"a@b": {...}}}` becomes `emails:a@b → {...}`.
pub(crate) fn flatten(fields: &Fields) -> Vec<(String, Json)> {
    let mut out = Vec::new();
    for (field, value) in fields {
        match value {
            Json::Object(members) if SET_FIELDS.contains(&field.as_str()) => {
                for (member, meta) in members {
                    out.push((format!("{field}{MEMBER_SEP}{member}"), meta.clone()));
                }
            }
            Json::Null => {}
            other => out.push((field.clone(), other.clone())),
        }
    }
    out
}

fn unflatten(flat: Vec<(String, Json)>) -> Fields {
    let mut fields = Fields::new();
    for (key, value) in flat {
        match key.split_once(MEMBER_SEP) {
            Some((field, member)) if SET_FIELDS.contains(&field) => {
                let entry = fields
                    .entry(field.to_string())
                    .or_insert_with(|| Json::Object(Default::default()));
                if let Json::Object(m) = entry {
                    m.insert(member.to_string(), value);
                }
            }
            _ => {
                fields.insert(key, value);
            }
        }
    }
    fields
}
