//! Declared records (see [`crate::fields`]) in Automerge documents: reading one field by its
//! declaration, creating a record's map, and writing a [`Patch`] — the one place a declared
//! field is written, whether the change comes from a form, the command line, settling a
//! conflict or restoring from history.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ROOT, ReadDoc};

use super::{Fields, child_map, ensure_map};
use crate::error::Result;
use crate::fields::{Change, Conflicts, FieldName, Patch, Place, Record, Spec, Type, Value};
use crate::model::ValidationError;

impl Fields<'_> {
    /// The value of the field declared as `spec`, read from this map.
    pub(crate) fn value_of(&self, spec: &Spec) -> Result<Value> {
        if spec.place == Place::Keys {
            let prefix = format!("{}/", spec.name);
            return Ok(Value::Set(self.members_with_prefix(&prefix)));
        }
        let key = spec.name;
        Ok(match spec.ty {
            Type::Flag => Value::Flag(self.flag(key)?),
            Type::Number => self.opt_int(key)?.map_or(Value::Empty, Value::Number),
            Type::Set => Value::Set(self.key_set(key)),
            Type::Consent => Value::Map(self.str_map(key)),
            Type::Counts => Value::Counts(self.int_map(key).into_iter().collect()),
            Type::Id
            | Type::Text
            | Type::Note
            | Type::Phone
            | Type::Email
            | Type::Date
            | Type::Time
            | Type::Choice(_) => self.opt_str(key)?.map_or(Value::Empty, Value::Text),
        })
    }

    /// The concurrent values of declared fields (other keys' conflicts are not shown).
    pub(crate) fn typed_conflicts<F: FieldName>(&self) -> Conflicts<F> {
        self.conflicts
            .iter()
            .filter_map(|(k, vals)| {
                let f = F::named(k)?;
                Some((f, vals.clone()))
            })
            .collect()
    }
}

/// Read record `R` stored under `key` from `map` (its own fields) and `root` (the document's
/// root fields, for records with fields there). A field of the wrong kind, or a required one
/// missing, is a damaged document.
pub(crate) fn read<R: Record>(root: Option<&Fields<'_>>, map: &Fields<'_>, key: &str) -> Result<R> {
    let mut r = R::blank();
    for f in R::Field::ALL {
        let spec = f.spec();
        let value = match (spec.place, root) {
            (Place::Root, Some(root)) if spec.ty == Type::Id => Value::Text(root.own_id()?),
            (Place::Root, Some(root)) => root.value_of(spec)?,
            (Place::Root, None) => Value::Empty,
            (Place::Key, _) => Value::Text(key.to_string()),
            (Place::Doc, _) => Value::Text(map.doc_id().to_string()),
            (Place::Map | Place::Keys, _) => map.value_of(spec)?,
        };
        if spec.required && value.is_empty() {
            return Err(map.bad(format!("{} is missing", spec.name)));
        }
        r.set_value(*f, value)
            .map_err(|e| map.bad(format!("{}: {e}", spec.name)))?;
    }
    *r.conflicts_mut() = map.typed_conflicts();
    Ok(r)
}

/// Write a new record's fields into `obj` (a fresh map): text first, then flags, then sets
/// and consent, each in declaration order; every set's map is created here, by the record's
/// creator (see [`super`]'s shape rules), even when empty.
pub(crate) fn create<F: FieldName>(
    doc: &mut AutoCommit,
    obj: &ObjId,
    patch: &Patch<F>,
    now: &str,
) -> Result<()> {
    let in_map = |f: &F| matches!(f.spec().place, Place::Map | Place::Keys);
    let phase = |f: &F| match f.spec().ty {
        Type::Flag => 1,
        Type::Set | Type::Consent => 2,
        _ => 0,
    };
    for p in 0..3 {
        for f in F::ALL.iter().filter(|f| in_map(f) && phase(f) == p) {
            let spec = f.spec();
            match spec.ty {
                Type::Flag => {
                    let on = matches!(patch.put_of(*f), Some(Value::Flag(true)));
                    doc.put(obj, spec.name, on)?;
                }
                Type::Set | Type::Consent if spec.place == Place::Map => {
                    ensure_map(doc, obj, spec.name)?;
                }
                _ => {}
            }
            for (_, change) in patch.changes.iter().filter(|(g, _)| g == f) {
                if spec.ty != Type::Flag {
                    apply(doc, obj, spec, change, now)?;
                }
            }
        }
    }
    Ok(())
}

/// Write every change of `patch` into the record's map `obj`. The patch must have been
/// [`Patch::checked`].
pub(crate) fn write<F: FieldName>(
    doc: &mut AutoCommit,
    obj: &ObjId,
    patch: &Patch<F>,
    now: &str,
) -> Result<()> {
    for (f, change) in &patch.changes {
        let spec = f.spec();
        let target = match spec.place {
            Place::Root => ROOT,
            Place::Map | Place::Keys => obj.clone(),
            // Where a record is kept is not a value to change.
            Place::Key | Place::Doc => {
                return Err(ValidationError::WrongChange { field: spec.name }.into());
            }
        };
        apply(doc, &target, spec, change, now)?;
    }
    Ok(())
}

/// The members of a set field as the document holds them now.
fn members(doc: &AutoCommit, obj: &ObjId, spec: &Spec) -> Result<Vec<String>> {
    Ok(match spec.place {
        Place::Keys => {
            let prefix = format!("{}/", spec.name);
            doc.keys(obj)
                .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
                .collect()
        }
        _ => match child_map(doc, obj, spec.name)? {
            Some(m) => doc.keys(&m).collect(),
            None => Vec::new(),
        },
    })
}

/// Where member `m` of set `spec` lives: the map and key.
fn member_slot(doc: &mut AutoCommit, obj: &ObjId, spec: &Spec, m: &str) -> Result<(ObjId, String)> {
    Ok(match spec.place {
        Place::Keys => (obj.clone(), format!("{}/{m}", spec.name)),
        _ => (ensure_map(doc, obj, spec.name)?, m.to_string()),
    })
}

fn apply(doc: &mut AutoCommit, obj: &ObjId, spec: &Spec, change: &Change, now: &str) -> Result<()> {
    match (spec.ty, change) {
        (Type::Set | Type::Consent, Change::Add(add)) => {
            for m in add {
                let (map, key) = member_slot(doc, obj, spec, m)?;
                if spec.ty == Type::Set {
                    doc.put(&map, key.as_str(), true)?;
                } else if doc.get(&map, key.as_str())?.is_none() {
                    // Consent already given keeps the time it was first given.
                    doc.put(&map, key.as_str(), now)?;
                }
            }
        }
        (Type::Set | Type::Consent, Change::Remove(remove)) => {
            let have = members(doc, obj, spec)?;
            for m in remove.iter().filter(|m| have.contains(m)) {
                let (map, key) = member_slot(doc, obj, spec, m)?;
                doc.delete(&map, key.as_str())?;
            }
        }
        (Type::Set, Change::Put(v)) => {
            let want = match v {
                Value::Set(s) => s.clone(),
                _ => Vec::new(),
            };
            let have = members(doc, obj, spec)?;
            let gone: Vec<String> = have.iter().filter(|m| !want.contains(m)).cloned().collect();
            let new: Vec<String> = want.iter().filter(|m| !have.contains(m)).cloned().collect();
            apply(doc, obj, spec, &Change::Remove(gone), now)?;
            apply(doc, obj, spec, &Change::Add(new), now)?;
        }
        (Type::Consent, Change::Put(v)) => {
            let want = match v {
                Value::Map(m) => m.clone(),
                _ => Default::default(),
            };
            let map = ensure_map(doc, obj, spec.name)?;
            let have: Vec<String> = doc.keys(&map).collect();
            for k in have.iter().filter(|k| !want.contains_key(*k)) {
                doc.delete(&map, k.as_str())?;
            }
            for (k, at) in &want {
                let now_at = doc
                    .get(&map, k.as_str())?
                    .and_then(|(v, _)| v.into_scalar().ok())
                    .and_then(|s| s.as_str().map(str::to_string));
                if now_at.as_deref() != Some(at.as_str()) {
                    doc.put(&map, k.as_str(), at.as_str())?;
                }
            }
        }
        (_, Change::Put(Value::Empty)) => {
            if doc.get(obj, spec.name)?.is_some() {
                doc.delete(obj, spec.name)?;
            }
        }
        (_, Change::Put(Value::Text(s))) => doc.put(obj, spec.name, s.as_str())?,
        (_, Change::Put(Value::Flag(b))) => doc.put(obj, spec.name, *b)?,
        (_, Change::Put(Value::Number(n))) => doc.put(obj, spec.name, *n)?,
        (_, Change::Add(_) | Change::Remove(_)) | (_, Change::Put(_)) => {
            return Err(ValidationError::WrongChange { field: spec.name }.into());
        }
    }
    Ok(())
}
