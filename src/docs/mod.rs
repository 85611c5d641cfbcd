//! Automerge documents: the truth every table is built from.
//!
//! One document per person (their profile, conversations and commitments), one per campaign,
//! one per shift, one per walk list (its doors and visits). Each document's id is the id of the
//! record it is named after.
//!
//! Shape rules, so that edits made on different devices merge:
//! - Records inside a document live in maps keyed by their id (`conversations/<id>`), never in
//!   lists, so concurrent additions both survive.
//! - Tags, issues and consent are maps keyed by the tag or channel, so adding the same tag twice
//!   is harmless and removing one is a delete of one key.
//! - Free text is a plain string, not collaborative text: two concurrent edits of one note keep
//!   both values as a conflict instead of interleaving characters.
//! - Every structural map is created when the document is created, by its creator, so that
//!   later edits from any device land in the same map.
//!
//! Reading a document returns the winning value of each field (Automerge's deterministic
//! choice) and, for fields written concurrently, every value in the record's conflicts
//! ([`crate::fields::Conflicts`]).

pub mod campaign;
pub mod check;
pub mod history;
pub mod person;
pub mod record;
pub mod shift;
pub mod walklist;

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};

use crate::error::{Error, Result};
/// Concurrent values of a map's keys, as read: key → every value (the winner included).
type RawConflicts = BTreeMap<String, Vec<crate::fields::Value>>;

/// The version of the document shapes written by this build.
pub const SHAPE_VERSION: i64 = 1;

/// Fields that change on every write and whose concurrent values are not worth showing.
const QUIET_FIELDS: &[&str] = &["updated_at"];

/// What a document is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    /// A person file.
    Person,
    /// A campaign.
    Campaign,
    /// A shift.
    Shift,
    /// A walk list.
    WalkList,
}

impl DocKind {
    /// The name stored in the document and in the `documents` table.
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Person => "person",
            DocKind::Campaign => "campaign",
            DocKind::Shift => "shift",
            DocKind::WalkList => "walklist",
        }
    }

    /// The kind named `s`, if any.
    pub fn parse(s: &str) -> Option<DocKind> {
        match s {
            "person" => Some(DocKind::Person),
            "campaign" => Some(DocKind::Campaign),
            "shift" => Some(DocKind::Shift),
            "walklist" => Some(DocKind::WalkList),
            _ => None,
        }
    }
}

/// A new empty document whose changes carry `actor`.
pub fn new_doc(actor: &ActorId) -> AutoCommit {
    AutoCommit::new().with_actor(actor.clone())
}

/// Start a document of `kind` with id `id`: the root fields every document has.
pub(crate) fn init_root(doc: &mut AutoCommit, kind: DocKind, id: &str, now: &str) -> Result<()> {
    doc.put(ROOT, "type", kind.as_str())?;
    doc.put(ROOT, "shape", SHAPE_VERSION)?;
    doc.put(ROOT, "id", id)?;
    doc.put(ROOT, "created_at", now)?;
    doc.put(ROOT, "updated_at", now)?;
    Ok(())
}

/// Mark the document as changed at `now`.
pub(crate) fn touch(doc: &mut AutoCommit, now: &str) -> Result<()> {
    doc.put(ROOT, "updated_at", now)?;
    Ok(())
}

/// The kind of a document, or `None` while it is empty (for example when only changes whose
/// dependencies have not arrived yet are held).
pub fn kind_of(doc: &AutoCommit) -> Result<Option<DocKind>> {
    match doc.get(ROOT, "type")? {
        Some((Value::Scalar(s), _)) => Ok(s.as_str().and_then(DocKind::parse)),
        _ => Ok(None),
    }
}

/// A scalar as a field value (counters and bytes as their text).
fn scalar_value(v: &ScalarValue) -> crate::fields::Value {
    use crate::fields::Value as V;
    match v {
        ScalarValue::Str(s) => V::Text(s.to_string()),
        ScalarValue::Int(i) => V::Number(*i),
        ScalarValue::Uint(u) => {
            i64::try_from(*u).map_or_else(|_| V::Text(u.to_string()), V::Number)
        }
        ScalarValue::Timestamp(t) => V::Number(*t),
        ScalarValue::Boolean(b) => V::Flag(*b),
        ScalarValue::Null => V::Empty,
        other => V::Text(other.to_string()),
    }
}

/// Each value of a key devices wrote at once, with the actor (hex) whose operation put it there.
type Writes = Vec<(crate::fields::Value, String)>;

/// The keys of map `obj` that devices wrote at once with different values: each key with every
/// value and the actor (hex) whose operation put it there.
pub(crate) fn conflict_writers(doc: &AutoCommit, obj: &ObjId) -> Result<Vec<(String, Writes)>> {
    let mut out = Vec::new();
    for item in doc.map_range(obj, ..) {
        let key = item.key.to_string();
        if !item.conflict || QUIET_FIELDS.contains(&key.as_str()) {
            continue;
        }
        let all: Writes = doc
            .get_all(obj, key.as_str())?
            .iter()
            .filter_map(|(v, id)| match (v, id) {
                (Value::Scalar(s), automerge::ObjId::Id(_, actor, _)) => {
                    Some((scalar_value(s), actor.to_hex_string()))
                }
                _ => None,
            })
            .collect();
        if all.iter().any(|(v, _)| *v != all[0].0) {
            out.push((key, all));
        }
    }
    Ok(out)
}

/// The fields of one map object, read in a single pass, with their conflicts.
pub(crate) struct Fields<'a> {
    doc: &'a AutoCommit,
    values: BTreeMap<String, (Value<'static>, ObjId)>,
    /// Fields with several concurrent values.
    pub conflicts: RawConflicts,
    doc_id: String,
}

impl<'a> Fields<'a> {
    /// Read every field of `obj`. Only fields Automerge flags as conflicting cost a second
    /// look-up (for all their values).
    pub(crate) fn new(doc: &'a AutoCommit, obj: ObjId, doc_id: &str) -> Result<Self> {
        let mut values = BTreeMap::new();
        let mut conflicts = RawConflicts::new();
        for item in doc.map_range(&obj, ..) {
            let key = item.key.to_string();
            if item.conflict && !QUIET_FIELDS.contains(&key.as_str()) {
                let all: Vec<crate::fields::Value> = doc
                    .get_all(&obj, key.as_str())?
                    .iter()
                    .filter_map(|(v, _)| match v {
                        Value::Scalar(s) => Some(scalar_value(s)),
                        Value::Object(_) => None,
                    })
                    .collect();
                // Devices that wrote the same value at once do not disagree (a change written
                // again under a new identity, whose first copy the relay also took, is one).
                if all.iter().any(|v| *v != all[0]) {
                    conflicts.insert(key.clone(), all);
                }
            }
            let id = item.id();
            values.insert(key, (item.value.into_value(), id));
        }
        Ok(Fields {
            doc,
            values,
            conflicts,
            doc_id: doc_id.to_string(),
        })
    }

    /// The id of the document being read.
    pub(crate) fn doc_id(&self) -> &str {
        &self.doc_id
    }

    pub(crate) fn bad(&self, reason: String) -> Error {
        Error::BadDocument {
            doc_id: self.doc_id.clone(),
            reason,
        }
    }

    /// The winning scalar value of `key`.
    fn scalar(&self, key: &str) -> Result<Option<&ScalarValue>> {
        match self.values.get(key) {
            Some((Value::Scalar(s), _)) => Ok(Some(s.as_ref())),
            Some((Value::Object(_), _)) => {
                Err(self.bad(format!("{key} is an object, not a value")))
            }
            None => Ok(None),
        }
    }

    /// The map object at `key`, if there is one.
    pub(crate) fn child(&self, key: &str) -> Option<ObjId> {
        match self.values.get(key) {
            Some((Value::Object(ObjType::Map), id)) => Some(id.clone()),
            _ => None,
        }
    }

    /// An optional text field.
    pub(crate) fn opt_str(&self, key: &str) -> Result<Option<String>> {
        match self.scalar(key)? {
            None | Some(ScalarValue::Null) => Ok(None),
            Some(ScalarValue::Str(s)) => Ok(Some(s.to_string())),
            Some(other) => Err(self.bad(format!("{key} should be text, found {other}"))),
        }
    }

    /// A required text field.
    pub(crate) fn str(&self, key: &str) -> Result<String> {
        self.opt_str(key)?
            .ok_or_else(|| self.bad(format!("{key} is missing")))
    }

    /// The document's own id, which must be the id it is stored under.
    pub(crate) fn own_id(&self) -> Result<String> {
        let id = self.str("id")?;
        if id == self.doc_id {
            Ok(id)
        } else {
            Err(self.bad(format!("it says its id is {id}")))
        }
    }

    /// An optional whole number.
    pub(crate) fn opt_int(&self, key: &str) -> Result<Option<i64>> {
        match self.scalar(key)? {
            None | Some(ScalarValue::Null) => Ok(None),
            Some(ScalarValue::Int(i)) => Ok(Some(*i)),
            Some(ScalarValue::Uint(u)) => Ok(i64::try_from(*u).ok()),
            Some(other) => Err(self.bad(format!("{key} should be a number, found {other}"))),
        }
    }

    /// A flag (missing = false).
    pub(crate) fn flag(&self, key: &str) -> Result<bool> {
        match self.scalar(key)? {
            None | Some(ScalarValue::Null) => Ok(false),
            Some(ScalarValue::Boolean(b)) => Ok(*b),
            Some(other) => Err(self.bad(format!("{key} should be true or false, found {other}"))),
        }
    }

    /// The keys of the map at `key`, sorted (a set of tags or issues).
    pub(crate) fn key_set(&self, key: &str) -> Vec<String> {
        match self.child(key) {
            Some(map) => self.doc.keys(&map).collect(),
            None => Vec::new(),
        }
    }

    /// The members of a set kept as one key per member (`<prefix><member>` → true), sorted.
    pub(crate) fn members_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.values
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(
                |(_, (v, _))| matches!(v, Value::Scalar(s) if **s == ScalarValue::Boolean(true)),
            )
            .map(|(k, _)| k[prefix.len()..].to_string())
            .collect()
    }

    /// The map at `key` read as key → scalar value.
    fn scalar_map<T>(
        &self,
        key: &str,
        convert: impl Fn(&ScalarValue) -> Option<T>,
    ) -> BTreeMap<String, T> {
        let mut out = BTreeMap::new();
        if let Some(map) = self.child(key) {
            for item in self.doc.map_range(&map, ..) {
                if let Value::Scalar(v) = item.value.into_value()
                    && let Some(t) = convert(&v)
                {
                    out.insert(item.key.to_string(), t);
                }
            }
        }
        out
    }

    /// The map at `key` read as key → text.
    pub(crate) fn str_map(&self, key: &str) -> BTreeMap<String, String> {
        self.scalar_map(key, |v| {
            Some(
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string()),
            )
        })
    }

    /// The map at `key` read as key → whole number.
    pub(crate) fn int_map(&self, key: &str) -> BTreeMap<String, i64> {
        self.scalar_map(key, ScalarValue::as_i64)
    }
}

/// The map object at `key` of `obj`, if there is one.
pub(crate) fn child_map(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Option<ObjId>> {
    Ok(match doc.get(obj, key)? {
        Some((Value::Object(ObjType::Map), id)) => Some(id),
        _ => None,
    })
}

/// The map object at `key` of `obj`, created if it is missing.
pub(crate) fn ensure_map(doc: &mut AutoCommit, obj: &ObjId, key: &str) -> Result<ObjId> {
    match child_map(doc, obj, key)? {
        Some(id) => Ok(id),
        None => Ok(doc.put_object(obj, key, ObjType::Map)?),
    }
}

/// The fields of a map being made whole (see [`create_map`]).
#[derive(Default)]
pub(crate) struct NewMap(std::collections::HashMap<String, automerge::hydrate::Value>);

impl NewMap {
    /// Set `key` to `value`.
    pub(crate) fn put(&mut self, key: &str, value: impl Into<ScalarValue>) -> &mut Self {
        self.0
            .insert(key.to_string(), automerge::hydrate::Value::scalar(value));
        self
    }

    /// Set `key` to `value` trimmed, unless there is none or it is empty (as [`put_opt`] does
    /// on a map with nothing in it yet).
    pub(crate) fn put_opt(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
            self.put(key, v);
        }
        self
    }

    /// Set `key` to a set-like map of `members` (each `member: true`), empty if there are none.
    pub(crate) fn set(&mut self, key: &str, members: &[String]) -> &mut Self {
        let set: std::collections::HashMap<String, automerge::hydrate::Value> = members
            .iter()
            .map(|m| (m.clone(), automerge::hydrate::Value::scalar(true)))
            .collect();
        self.0.insert(
            key.to_string(),
            automerge::hydrate::Value::Map(automerge::hydrate::Map::from(set)),
        );
        self
    }
}

/// Make a new map at `key` of `obj` holding `fields`, as one batch: the same operations as a
/// `put_object` and a `put` a field, in two splices of Automerge's columns instead of one a
/// field (each splice a few microseconds on a person file; a conversation has a dozen fields).
pub(crate) fn create_map(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    fields: NewMap,
) -> Result<ObjId> {
    let value = automerge::hydrate::Value::Map(automerge::hydrate::Map::from(fields.0));
    Ok(doc.batch_create_object(obj, key, &value, false)?)
}

/// Set an optional text field: `None` leaves it, empty text deletes it, other text sets it.
pub(crate) fn put_opt(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    value: Option<&str>,
) -> Result<()> {
    match value.map(str::trim) {
        None => {}
        Some("") => doc.delete(obj, key)?,
        Some(v) => doc.put(obj, key, v)?,
    }
    Ok(())
}
