//! The person file: one document holding a person, their conversations and commitments.
//!
//! ```text
//! ROOT { type: "person", shape: 1, id, created_at, updated_at,
//!        person: { name, phone?, email?, address?, area?, workplace?, role?, notes?,
//!                  do_not_contact, tags: { tag: true }, consent: { channel: given_at },
//!                  "languages/<language>": true … },
//!        conversations: { <id>: { at, kind, canvasser, shift_id?, story?, notes?,
//!                                 engagement?, follow_up?, created_at, issues: { issue: true } } },
//!        commitments:   { <id>: { what, due?, status, conversation_id?, campaign_id?,
//!                                 created_at, status_at } } }
//! ```
//!
//! The person's own fields are declared in [`crate::model::Person`] and read and written
//! through [`super::record`]; conversations and commitments are still written here by hand.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ROOT, ReadDoc, ValueRef};

use super::{DocKind, Fields, NewMap, child_map, create_map, ensure_map, init_root, record, touch};
use crate::error::{Error, Result};
use crate::fields::{FieldName, Patch, Place, Record};
use crate::model::{
    Commitment, CommitmentPatch, CommitmentStatus, Conversation, ConversationPatch, NewPerson,
    Person, PersonFile, PersonPatch,
};

fn person_obj(doc: &AutoCommit, doc_id: &str) -> Result<ObjId> {
    child_map(doc, &ROOT, "person")?.ok_or_else(|| Error::BadDocument {
        doc_id: doc_id.to_string(),
        reason: "the person is missing".into(),
    })
}

/// Write a new person file from `new` (a [`NewPerson`] that has been checked).
pub fn create(doc: &mut AutoCommit, id: &str, now: &str, new: &NewPerson) -> Result<()> {
    init_root(doc, DocKind::Person, id, now)?;
    let p = doc.put_object(ROOT, "person", automerge::ObjType::Map)?;
    doc.put_object(ROOT, "conversations", automerge::ObjType::Map)?;
    doc.put_object(ROOT, "commitments", automerge::ObjType::Map)?;
    record::create(doc, &p, new, now)
}

/// Apply an edit (checked) to the person's details.
pub fn apply_patch(
    doc: &mut AutoCommit,
    doc_id: &str,
    patch: &PersonPatch,
    now: &str,
) -> Result<()> {
    let p = person_obj(doc, doc_id)?;
    record::write(doc, &p, patch, now)?;
    touch(doc, now)
}

/// Add a conversation to the person file, with the commitments made in it, as one change.
pub fn add_conversation(
    doc: &mut AutoCommit,
    c: &Conversation,
    commitments: &[Commitment],
) -> Result<()> {
    put_conversation(doc, c)?;
    for commitment in commitments {
        put_commitment(doc, commitment)?;
    }
    touch(doc, &c.created_at)
}

/// Write conversation `c`'s map (the caller touches the document).
fn put_conversation(doc: &mut AutoCommit, c: &Conversation) -> Result<()> {
    let convs = ensure_map(doc, &ROOT, "conversations")?;
    let mut fields = NewMap::default();
    fields
        .put("at", c.at.as_str())
        .put("kind", c.kind.as_str())
        .put("canvasser", c.canvasser.as_str())
        .put_opt("shift_id", c.shift_id.as_deref())
        .put_opt("story", c.story.as_deref())
        .put_opt("notes", c.notes.as_deref())
        .put("created_at", c.created_at.as_str())
        .set("issues", &c.issues);
    if let Some(e) = c.engagement {
        fields.put("engagement", i64::from(e));
    }
    if let Some(d) = c.follow_up {
        fields.put("follow_up", d.to_string());
    }
    create_map(doc, &convs, &c.id, fields)?;
    Ok(())
}

/// Add a commitment to the person file.
pub fn add_commitment(doc: &mut AutoCommit, c: &Commitment) -> Result<()> {
    put_commitment(doc, c)?;
    touch(doc, &c.created_at)
}

/// Write commitment `c`'s map (the caller touches the document).
fn put_commitment(doc: &mut AutoCommit, c: &Commitment) -> Result<()> {
    let list = ensure_map(doc, &ROOT, "commitments")?;
    let mut fields = NewMap::default();
    fields
        .put("what", c.what.as_str())
        .put("status", c.status.as_str())
        .put_opt("conversation_id", c.conversation_id.as_deref())
        .put_opt("campaign_id", c.campaign_id.as_deref())
        .put("created_at", c.created_at.as_str())
        .put("status_at", c.status_at.as_str())
        .put_opt("target", c.target.as_deref());
    if let Some(d) = c.due {
        fields.put("due", d.to_string());
    }
    create_map(doc, &list, &c.id, fields)?;
    Ok(())
}

/// Change a commitment's status. Returns false when the person file has no such commitment.
pub fn set_commitment_status(
    doc: &mut AutoCommit,
    commitment_id: &str,
    status: CommitmentStatus,
    now: &str,
) -> Result<bool> {
    let Some(list) = child_map(doc, &ROOT, "commitments")? else {
        return Ok(false);
    };
    let Some(o) = child_map(doc, &list, commitment_id)? else {
        return Ok(false);
    };
    doc.put(&o, "status", status.as_str())?;
    doc.put(&o, "status_at", now)?;
    touch(doc, now)?;
    Ok(true)
}

/// The map of record `id` under the root map `list`, or `Error::NotFound`.
fn record_obj(doc: &AutoCommit, list: &str, kind: &'static str, id: &str) -> Result<ObjId> {
    let not_found = || Error::NotFound {
        kind,
        id: id.to_string(),
    };
    let map = child_map(doc, &ROOT, list)?.ok_or_else(not_found)?;
    child_map(doc, &map, id)?.ok_or_else(not_found)
}

/// Write `patch` (checked) into conversation `id` and touch the document. Fails with
/// `Error::NotFound` when the person file has no such conversation.
pub fn edit_conversation(
    doc: &mut AutoCommit,
    id: &str,
    patch: &ConversationPatch,
    now: &str,
) -> Result<()> {
    let o = record_obj(doc, "conversations", "conversation", id)?;
    record::write(doc, &o, patch, now)?;
    touch(doc, now)
}

/// Write `patch` (checked) into commitment `id` and touch the document. Fails with
/// `Error::NotFound` when the person file has no such commitment.
pub fn edit_commitment(
    doc: &mut AutoCommit,
    id: &str,
    patch: &CommitmentPatch,
    now: &str,
) -> Result<()> {
    let o = record_obj(doc, "commitments", "commitment", id)?;
    record::write(doc, &o, patch, now)?;
    touch(doc, now)
}

fn read_person(doc: &AutoCommit, doc_id: &str) -> Result<Person> {
    let root = Fields::new(doc, ROOT, doc_id)?;
    let map = Fields::new(doc, person_obj(doc, doc_id)?, doc_id)?;
    record::read(Some(&root), &map, doc_id)
}

fn read_conversation(
    doc: &AutoCommit,
    doc_id: &str,
    id: String,
    obj: ObjId,
) -> Result<Conversation> {
    record::read(None, &Fields::new(doc, obj, doc_id)?, &id)
}

fn read_commitment(doc: &AutoCommit, doc_id: &str, id: String, obj: ObjId) -> Result<Commitment> {
    record::read(None, &Fields::new(doc, obj, doc_id)?, &id)
}

fn read_children<T>(
    doc: &AutoCommit,
    doc_id: &str,
    key: &str,
    read: impl Fn(&AutoCommit, &str, String, ObjId) -> Result<T>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for (id, obj) in children(doc, key)? {
        out.push(read(doc, doc_id, id, obj)?);
    }
    Ok(out)
}

/// The records (id, object) in the file's map `key` (`conversations`, `commitments`).
fn children(doc: &AutoCommit, key: &str) -> Result<Vec<(String, ObjId)>> {
    Ok(match child_map(doc, &ROOT, key)? {
        Some(map) => doc
            .map_range(&map, ..)
            .filter(|item| matches!(item.value, ValueRef::Object(ObjType::Map)))
            .map(|item| (item.key.to_string(), item.id()))
            .collect(),
        None => Vec::new(),
    })
}

/// One value of a field of the person file that devices wrote at once, with who wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The conversation's or commitment's id; `None` for the person's own details.
    pub record: Option<String>,
    /// The field (its key in the record's map).
    pub field: String,
    /// The value written.
    pub value: crate::fields::Value,
    /// The writing device's actor (hex).
    pub actor: String,
}

/// Every value of every field devices wrote at once in the person file, with the actor that
/// wrote it: the person's details, then each conversation and commitment.
pub fn conflict_writers(doc: &AutoCommit, doc_id: &str) -> Result<Vec<Written>> {
    let mut out = Vec::new();
    let mut add = |record: Option<String>, obj: &ObjId| -> Result<()> {
        for (field, values) in super::conflict_writers(doc, obj)? {
            for (value, actor) in values {
                out.push(Written {
                    record: record.clone(),
                    field: field.clone(),
                    value,
                    actor,
                });
            }
        }
        Ok(())
    };
    add(None, &person_obj(doc, doc_id)?)?;
    for list in ["conversations", "commitments"] {
        for (id, obj) in children(doc, list)? {
            add(Some(id), &obj)?;
        }
    }
    Ok(out)
}

/// Read the whole person file. Conversations are ordered by time, commitments by creation.
pub fn read(doc: &AutoCommit, doc_id: &str) -> Result<PersonFile> {
    let person = read_person(doc, doc_id)?;
    let mut conversations = read_children(doc, doc_id, "conversations", read_conversation)?;
    conversations.sort_by(|a, b| (&a.at, &a.id).cmp(&(&b.at, &b.id)));
    let mut commitments = read_children(doc, doc_id, "commitments", read_commitment)?;
    commitments.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
    Ok(PersonFile {
        person,
        conversations,
        commitments,
    })
}

/// The person's own record, and the conversations `conversations` and commitments
/// `commitments` of the file, each read alone (what a local write added or changed).
pub fn read_records(
    doc: &AutoCommit,
    doc_id: &str,
    conversations: &[String],
    commitments: &[String],
) -> Result<(Person, Vec<Conversation>, Vec<Commitment>)> {
    let person = read_person(doc, doc_id)?;
    let conversations = conversations
        .iter()
        .map(|id| {
            let obj = record_obj(doc, "conversations", "conversation", id)?;
            read_conversation(doc, doc_id, id.clone(), obj)
        })
        .collect::<Result<_>>()?;
    let commitments = commitments
        .iter()
        .map(|id| {
            let obj = record_obj(doc, "commitments", "commitment", id)?;
            read_commitment(doc, doc_id, id.clone(), obj)
        })
        .collect::<Result<_>>()?;
    Ok((person, conversations, commitments))
}

/// The patch that puts back every field stored in the record's map where `old` differs from
/// `current`.
fn back_to<R: Record>(current: &R, old: &R) -> Patch<R::Field> {
    let mut patch = Patch::new();
    for f in R::Field::ALL {
        let spec = f.spec();
        if matches!(spec.place, Place::Map | Place::Keys) && current.value(*f) != old.value(*f) {
            patch = patch.put(*f, old.value(*f));
        }
    }
    patch
}

/// Write the person's details back to `old` (as read from an earlier state of the file),
/// touching only the fields that differ from `current`.
pub fn restore_person(
    doc: &mut AutoCommit,
    doc_id: &str,
    current: &Person,
    old: &Person,
    now: &str,
) -> Result<()> {
    apply_patch(doc, doc_id, &back_to(current, old), now)
}

/// Put conversation `old` back: re-created if it was deleted, else its fields written back
/// where they differ from `current`.
pub fn restore_conversation(
    doc: &mut AutoCommit,
    current: Option<&Conversation>,
    old: &Conversation,
    now: &str,
) -> Result<()> {
    let Some(cur) = current else {
        put_conversation(doc, old)?;
        return touch(doc, now);
    };
    let o = record_obj(doc, "conversations", "conversation", &old.id)?;
    record::write(doc, &o, &back_to(cur, old), now)?;
    touch(doc, now)
}

/// Put commitment `old` back: re-created if it was deleted, else its fields written back
/// where they differ from `current`.
pub fn restore_commitment(
    doc: &mut AutoCommit,
    current: Option<&Commitment>,
    old: &Commitment,
    now: &str,
) -> Result<()> {
    let Some(cur) = current else {
        put_commitment(doc, old)?;
        return touch(doc, now);
    };
    let o = record_obj(doc, "commitments", "commitment", &old.id)?;
    record::write(doc, &o, &back_to(cur, old), now)?;
    touch(doc, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConversationKind, Engagement};
    use proptest::prelude::*;

    /// Conversation `c` written one operation a field, as before batches: the reference.
    fn field_by_field(doc: &mut AutoCommit, c: &Conversation) {
        let put_opt = |doc: &mut AutoCommit, o: &ObjId, k: &str, v: Option<&str>| {
            super::super::put_opt(doc, o, k, v).unwrap()
        };
        let convs = ensure_map(doc, &ROOT, "conversations").unwrap();
        let o = doc.put_object(&convs, c.id.as_str(), ObjType::Map).unwrap();
        doc.put(&o, "at", c.at.as_str()).unwrap();
        doc.put(&o, "kind", c.kind.as_str()).unwrap();
        doc.put(&o, "canvasser", c.canvasser.as_str()).unwrap();
        put_opt(doc, &o, "shift_id", c.shift_id.as_deref());
        put_opt(doc, &o, "story", c.story.as_deref());
        put_opt(doc, &o, "notes", c.notes.as_deref());
        if let Some(e) = c.engagement {
            doc.put(&o, "engagement", i64::from(e)).unwrap();
        }
        if let Some(d) = c.follow_up {
            doc.put(&o, "follow_up", d.to_string()).unwrap();
        }
        doc.put(&o, "created_at", c.created_at.as_str()).unwrap();
        let issues = doc.put_object(&o, "issues", ObjType::Map).unwrap();
        for i in &c.issues {
            doc.put(&issues, i.as_str(), true).unwrap();
        }
        touch(doc, &c.created_at).unwrap();
    }

    fn note() -> impl Strategy<Value = Option<String>> {
        prop::option::of(prop_oneof![
            Just(String::new()),
            Just("  ".into()),
            "[a-z ]{1,12}"
        ])
    }

    proptest! {
        #[test]
        fn a_conversation_made_in_one_batch_is_the_one_made_field_by_field(
            story in note(),
            notes in note(),
            shift_id in note(),
            issues in prop::collection::vec("[a-z]{1,6}", 0..4),
            engagement in prop::option::of(1i64..=5),
            follow_up in any::<bool>(),
        ) {
            let person_id = "01a07b0c-0f18-79b2-8c2b-24295a6f7834";
            let mut base = super::super::new_doc(&automerge::ActorId::random());
            let new = NewPerson::new().put(crate::model::PersonField::Name, "Ada");
            create(&mut base, person_id, "2026-12-04T10:00:00Z", &new).unwrap();
            base.commit();
            let c = Conversation {
                id: "01a07b0c-0f18-79b2-8c2b-000000000001".into(),
                person_id: person_id.into(),
                at: "2026-12-04T10:05:00Z".into(),
                kind: ConversationKind::Doorstep,
                canvasser: "Sam".into(),
                shift_id,
                issues,
                story,
                notes,
                engagement: engagement.and_then(|e| Engagement::try_from(e).ok()),
                follow_up: follow_up.then(|| chrono::NaiveDate::from_ymd_opt(2026, 12, 6)).flatten(),
                created_at: "2026-12-04T10:06:00Z".into(),
                conflicts: Default::default(),
            };
            let mut batched = base.fork();
            add_conversation(&mut batched, &c, &[]).unwrap();
            batched.commit();
            let mut reference = base.fork();
            field_by_field(&mut reference, &c);
            reference.commit();
            let whole = |d: &AutoCommit| d.hydrate(ROOT, None).unwrap();
            prop_assert_eq!(whole(&batched), whole(&reference));
            // Another device applying the change, and the file saved and loaded, agree.
            let mut other = AutoCommit::load(&base.save()).unwrap();
            other.apply_changes(batched.get_changes(&base.get_heads())).unwrap();
            prop_assert_eq!(whole(&other), whole(&batched));
            let reloaded = AutoCommit::load(&batched.save_nocompress()).unwrap();
            prop_assert_eq!(whole(&reloaded), whole(&batched));
            prop_assert_eq!(read(&other, person_id).unwrap(), read(&reference, person_id).unwrap());
        }
    }
}
