//! One shard of one part of the ledger as an automerge document, and how
//! entities are laid out inside it.
//!
//! Layout: the root holds one map per kind (`people`, `facts`, …), made by a
//! deterministic genesis change that every device produces byte for byte, so
//! replicas never disagree about which map is "the" people map. Each entity is
//! one map inside its kind's map, created once, in both parts at the same
//! time. Inside it every value is a scalar: strings, integers, booleans, or
//! JSON bytes for anything structured. Set-like fields are flattened to one key
//! per member (`emails:edna@miggins.co.uk`), so two devices adding different
//! emails concurrently both keep theirs.
//!
//! `ShardDoc<Shared>` and `ShardDoc<Private>` are different types: only the
//! shared one will ever offer a way to produce bytes for the network.

use std::marker::PhantomData;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, Value};
use serde_json::Value as Json;

use crate::error::{Error, Result};
use crate::model::{Fields, Id, Kind, Privacy};

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

pub struct ShardDoc<P: Part> {
    pub(crate) doc: AutoCommit,
    /// Heads when loaded from disk: what an incremental save starts after.
    pub(crate) saved_heads: Vec<ChangeHash>,
    _part: PhantomData<P>,
}

impl<P: Part> ShardDoc<P> {
    /// An empty shard: just the genesis change.
    pub fn genesis() -> ShardDoc<P> {
        let mut doc = AutoCommit::new().with_actor(ActorId::from(&[0u8; 16][..]));
        for kind in Kind::ALL {
            // Creating a map at a fixed key cannot fail on a fresh document.
            let _ = doc.put_object(automerge::ROOT, kind.collection(), ObjType::Map);
        }
        doc.commit_with(CommitOptions::default().with_time(0));
        ShardDoc {
            doc,
            saved_heads: Vec::new(),
            _part: PhantomData,
        }
    }

    pub fn from_doc(doc: AutoCommit) -> ShardDoc<P> {
        let mut s = ShardDoc {
            doc,
            saved_heads: Vec::new(),
            _part: PhantomData,
        };
        s.saved_heads = s.doc.get_heads();
        s
    }

    pub fn set_actor(&mut self, actor: &ActorId) {
        self.doc.set_actor(actor.clone());
    }

    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    fn collection(&self, kind: Kind) -> Result<ObjId> {
        match self.doc.get(automerge::ROOT, kind.collection())? {
            Some((Value::Object(ObjType::Map), id)) => Ok(id),
            _ => Err(Error::Automerge(format!(
                "shard document has no '{}' map",
                kind.collection()
            ))),
        }
    }

    fn entity_obj(&self, kind: Kind, id: &Id) -> Result<Option<ObjId>> {
        let coll = self.collection(kind)?;
        Ok(match self.doc.get(&coll, id.as_str())? {
            Some((Value::Object(ObjType::Map), obj)) => Some(obj),
            _ => None,
        })
    }

    pub fn contains(&self, kind: Kind, id: &Id) -> Result<bool> {
        Ok(self.entity_obj(kind, id)?.is_some())
    }

    /// Creates an entity's map with its first fields in one batch operation.
    pub fn create(&mut self, kind: Kind, id: &Id, fields: &Fields) -> Result<()> {
        let coll = self.collection(kind)?;
        let flat = flatten(fields);
        let map: std::collections::HashMap<&str, automerge::hydrate::Value> = flat
            .iter()
            .map(|(k, v)| (k.as_str(), automerge::hydrate::Value::Scalar(to_scalar(v))))
            .collect();
        let value = automerge::hydrate::Value::from(map);
        self.doc
            .batch_create_object(&coll, id.as_str(), &value, false)?;
        Ok(())
    }

    fn ensure(&mut self, kind: Kind, id: &Id) -> Result<ObjId> {
        if let Some(obj) = self.entity_obj(kind, id)? {
            return Ok(obj);
        }
        let coll = self.collection(kind)?;
        Ok(self.doc.put_object(&coll, id.as_str(), ObjType::Map)?)
    }

    /// Sets a scalar or JSON field, creating the entity if this part lacks it.
    pub fn put(&mut self, kind: Kind, id: &Id, field: &str, value: &Json) -> Result<()> {
        let obj = self.ensure(kind, id)?;
        if value.is_null() {
            self.doc.delete(&obj, field)?;
        } else {
            self.doc.put(&obj, field, to_scalar(value))?;
        }
        Ok(())
    }

    /// Removes a field (all members, for set-like fields). Absent is fine.
    pub fn remove(&mut self, kind: Kind, id: &Id, field: &str) -> Result<()> {
        let Some(obj) = self.entity_obj(kind, id)? else {
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

    pub fn put_member(
        &mut self,
        kind: Kind,
        id: &Id,
        field: &str,
        member: &str,
        meta: &Json,
    ) -> Result<()> {
        let obj = self.ensure(kind, id)?;
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
        let Some(obj) = self.entity_obj(kind, id)? else {
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
        let Some(obj) = self.entity_obj(kind, id)? else {
            return Ok(None);
        };
        Ok(Some(self.read_fields(&obj, None)?))
    }

    fn read_fields(&self, obj: &ObjId, heads: Option<&[ChangeHash]>) -> Result<Fields> {
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
        let mut out = Vec::new();
        for kind in Kind::ALL {
            let coll = self.collection(kind)?;
            let ids: Vec<String> = match heads {
                Some(h) => self.doc.keys_at(&coll, h).collect(),
                None => self.doc.keys(&coll).collect(),
            };
            for key in ids {
                let Ok(id) = Id::parse(&key) else { continue };
                let got = match heads {
                    Some(h) => self.doc.get_at(&coll, key.as_str(), h)?,
                    None => self.doc.get(&coll, key.as_str())?,
                };
                if let Some((Value::Object(ObjType::Map), obj)) = got {
                    out.push((kind, id, self.read_fields(&obj, heads)?));
                }
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

fn from_scalar(value: &ScalarValue) -> Json {
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
            Json::Object(members) if crate::model::SET_FIELDS.contains(&field.as_str()) => {
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
            Some((field, member)) if crate::model::SET_FIELDS.contains(&field) => {
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
