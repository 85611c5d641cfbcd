//! A notebook's identity in its team (its Automerge actor and its signing and exchange keys),
//! and the new one it takes when it joins a team again.
//!
//! Every device of a team judges a change by its writer: the actor it carries, the key that
//! actor's member record names, and the cut-off of a revocation. A notebook that joins again
//! after being revoked (a phone found after it was reported lost, a device revoked by mistake)
//! would, under its old actor, have everything it writes refused by every other device as
//! "written after the team revoked it"; the relay would not even enrol its old actor while the
//! old device is still active. So a notebook that joins while it already has a relay link
//! takes a new device id (hence a new actor) and new keys, in the same transaction that takes
//! in the team's keys and queues its new member record.
//!
//! What it wrote under the old actor and never sent would then be refused too (the cut-off
//! ends before it), and the changes it writes next depend on it. Each such document is
//! therefore rebuilt: the team's part of it (every change but the unsent ones) with one new
//! change, written by the new actor, that makes the document read exactly as it did on this
//! device ([`rewrite`]). Nothing typed is lost and nothing is doubled: the unsent changes
//! leave the outbox and the document together, and the new change takes their place in both.
//!
//! Records the old actor made and never sent (an old member record, a key rotation, a
//! promotion) and snapshots it made for compaction are dropped: they are signed as the old
//! actor, whom the team no longer hears; a lead makes them again under the new one.

use std::collections::HashSet;

use automerge::transaction::Transactable;
use automerge::{
    ActorId, AutoCommit, AutomergeError, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, Value,
};
use rusqlite::Connection;

use super::documents;
use crate::error::{Error, Result};

/// What taking a new identity did to this notebook.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Renewed {
    /// Documents whose unsent changes were written again as the new actor.
    pub rewritten: usize,
    /// Unsent records of the old actor dropped (its member record not counted).
    pub dropped_records: usize,
}

/// Take `device_id` as this notebook's device id, inside `tx`: a new actor, new keys (made by
/// the next [`super::keys::device_key`]), push numbers from 1 again, and every document with
/// unsent changes rewritten as the new actor. Returns the new actor.
pub(super) fn renew(
    tx: &Connection,
    old: &ActorId,
    device_id: &str,
    name: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(ActorId, Renewed)> {
    let actor = super::actor_for(device_id);
    let stamp = crate::model::format_time(now);
    super::meta::meta_set(tx, "device_id", device_id)?;
    tx.execute("DELETE FROM device_key", [])?;
    super::meta::meta_delete(tx, super::withheld::NEXT_PUSH)?;
    // History keeps naming what the old actor wrote and the team took in.
    tx.execute(
        "INSERT INTO writers (actor, name, seen_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (actor) DO NOTHING",
        (old.to_hex_string(), name, &stamp),
    )?;
    tx.execute("DELETE FROM snapshots_out", [])?;

    let mut renewed = Renewed::default();
    let queued: Vec<String> = tx
        .prepare("SELECT DISTINCT doc_id FROM outbox")?
        .query_map([], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    let own_member = format!(
        "{}{}",
        crate::crypto::keys::MEMBER_DOC_PREFIX,
        old.to_hex_string()
    );
    for doc_id in queued {
        if crate::crypto::is_key_record(&doc_id) {
            let n = tx.execute("DELETE FROM outbox WHERE doc_id = ?1", [&doc_id])?;
            if doc_id != own_member {
                renewed.dropped_records += n;
            }
            continue;
        }
        let unsent: HashSet<ChangeHash> = tx
            .prepare_cached("SELECT change_hash FROM outbox WHERE doc_id = ?1")?
            .query_map([&doc_id], |r| r.get::<_, String>(0))?
            .filter_map(|h| h.ok().and_then(|h| h.parse().ok()))
            .collect();
        tx.execute("DELETE FROM outbox WHERE doc_id = ?1", [&doc_id])?;
        let Some(loaded) = documents::load(tx, &doc_id, &actor)? else {
            continue;
        };
        let mut current = loaded.doc;
        let mut doc = crate::docs::new_doc(&actor);
        let sent = current
            .get_changes(&[])
            .into_iter()
            .filter(|c| !unsent.contains(&c.hash()));
        doc.apply_changes(sent)?;
        rewrite(&mut doc, &current).map_err(|e| Error::BadDocument {
            doc_id: doc_id.clone(),
            reason: e.to_string(),
        })?;
        documents::commit_local_change(tx, &doc_id, &mut doc, now)?;
        documents::save_snapshot(tx, &doc_id, loaded.kind, &mut doc, &stamp)?;
        super::project::project(tx, &doc_id, loaded.kind, &doc)?;
        renewed.rewritten += 1;
    }
    Ok((actor, renewed))
}

/// Write into `doc` (uncommitted) whatever makes it read as `like` does: every map field set
/// or removed, every list and text made the same. Fields that already read the same are not
/// touched, so their history (and any conflict between other devices' values) stays.
pub(crate) fn rewrite(
    doc: &mut AutoCommit,
    like: &AutoCommit,
) -> std::result::Result<(), AutomergeError> {
    rewrite_map(doc, &ROOT, like, &ROOT)
}

fn rewrite_map(
    doc: &mut AutoCommit,
    obj: &ObjId,
    like: &AutoCommit,
    like_obj: &ObjId,
) -> std::result::Result<(), AutomergeError> {
    let wanted: Vec<String> = like.keys(like_obj).collect();
    for key in doc.keys(obj).collect::<Vec<_>>() {
        if !wanted.contains(&key) {
            doc.delete(obj, key.as_str())?;
        }
    }
    for key in wanted {
        let Some((value, id)) = like.get(like_obj, key.as_str())? else {
            continue;
        };
        let here = doc.get(obj, key.as_str())?;
        match value {
            Value::Scalar(s) => {
                if !matches!(&here, Some((Value::Scalar(h), _)) if h == &s) {
                    doc.put(obj, key.as_str(), s.into_owned())?;
                }
            }
            Value::Object(kind) => {
                let child = match here {
                    Some((Value::Object(k), child)) if k == kind => child,
                    _ => doc.put_object(obj, key.as_str(), kind)?,
                };
                rewrite_object(doc, &child, kind, like, &id)?;
            }
        }
    }
    Ok(())
}

fn rewrite_object(
    doc: &mut AutoCommit,
    obj: &ObjId,
    kind: ObjType,
    like: &AutoCommit,
    like_obj: &ObjId,
) -> std::result::Result<(), AutomergeError> {
    match kind {
        ObjType::Map | ObjType::Table => rewrite_map(doc, obj, like, like_obj),
        ObjType::Text => {
            let text = like.text(like_obj)?;
            if doc.text(obj)? != text {
                let len = doc.length(obj) as isize;
                doc.splice_text(obj, 0, len, &text)?;
            }
            Ok(())
        }
        ObjType::List => {
            // Lists are written again whole when they differ (the notebook's documents hold
            // none today; a list is compared item by item, objects by their contents).
            if lists_equal(doc, obj, like, like_obj)? {
                return Ok(());
            }
            for i in (0..doc.length(obj)).rev() {
                doc.delete(obj, i)?;
            }
            for i in 0..like.length(like_obj) {
                match like.get(like_obj, i)? {
                    Some((Value::Scalar(s), _)) => doc.insert(obj, i, s.into_owned())?,
                    Some((Value::Object(k), id)) => {
                        let child = doc.insert_object(obj, i, k)?;
                        rewrite_object(doc, &child, k, like, &id)?;
                    }
                    None => {}
                }
            }
            Ok(())
        }
    }
}

fn lists_equal(
    doc: &AutoCommit,
    obj: &ObjId,
    like: &AutoCommit,
    like_obj: &ObjId,
) -> std::result::Result<bool, AutomergeError> {
    if doc.length(obj) != like.length(like_obj) {
        return Ok(false);
    }
    for i in 0..like.length(like_obj) {
        match (doc.get(obj, i)?, like.get(like_obj, i)?) {
            (Some((Value::Scalar(a), _)), Some((Value::Scalar(b), _))) if a == b => {}
            (Some((Value::Object(_), _)), Some((Value::Object(_), _))) => {
                // Objects inside lists are compared by writing: any difference rewrites the
                // list, which is rare enough not to matter.
                return Ok(false);
            }
            _ => return Ok(false),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Map, Value as Json};

    /// A document as JSON (winning values only), to compare what two documents read as.
    fn json(doc: &AutoCommit) -> Json {
        fn of(doc: &AutoCommit, obj: &ObjId, kind: ObjType) -> Json {
            match kind {
                ObjType::Map | ObjType::Table => {
                    let mut out = Map::new();
                    for key in doc.keys(obj) {
                        if let Ok(Some((v, id))) = doc.get(obj, key.as_str()) {
                            out.insert(key, value(doc, v, &id));
                        }
                    }
                    Json::Object(out)
                }
                ObjType::Text => Json::String(doc.text(obj).unwrap()),
                ObjType::List => Json::Array(
                    (0..doc.length(obj))
                        .filter_map(|i| doc.get(obj, i).unwrap())
                        .map(|(v, id)| value(doc, v, &id))
                        .collect(),
                ),
            }
        }
        fn value(doc: &AutoCommit, v: Value<'_>, id: &ObjId) -> Json {
            match v {
                Value::Scalar(s) => Json::String(format!("{s:?}")),
                Value::Object(k) => of(doc, id, k),
            }
        }
        of(doc, &ROOT, ObjType::Map)
    }

    /// One edit of a small document: a field set, removed, a nested map, text or list.
    #[derive(Debug, Clone)]
    enum Edit {
        Put(u8, u8, i64),
        Delete(u8, u8),
        Nested(u8),
        Text(u8, String),
        List(u8, Vec<i64>),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            4 => (0..3u8, 0..5u8, 0..4i64).prop_map(|(m, k, v)| Edit::Put(m, k, v)),
            2 => (0..3u8, 0..5u8).prop_map(|(m, k)| Edit::Delete(m, k)),
            1 => (0..3u8).prop_map(Edit::Nested),
            1 => (0..3u8, "[a-c]{0,4}").prop_map(|(k, t)| Edit::Text(k, t)),
            1 => (0..3u8, proptest::collection::vec(0..3i64, 0..4)).prop_map(|(k, l)| Edit::List(k, l)),
        ]
    }

    /// The map `m` of the document (a field of the root, or the root itself for 0).
    fn map(doc: &mut AutoCommit, m: u8) -> ObjId {
        if m == 0 {
            return ROOT;
        }
        let key = format!("m{m}");
        match doc.get(ROOT, key.as_str()).unwrap() {
            Some((Value::Object(ObjType::Map), id)) => id,
            _ => doc.put_object(ROOT, key.as_str(), ObjType::Map).unwrap(),
        }
    }

    fn apply(doc: &mut AutoCommit, e: &Edit) {
        match e {
            Edit::Put(m, k, v) => {
                let o = map(doc, *m);
                doc.put(&o, format!("k{k}"), *v).unwrap();
            }
            Edit::Delete(m, k) => {
                let o = map(doc, *m);
                let _ = doc.delete(&o, format!("k{k}"));
            }
            Edit::Nested(m) => {
                doc.put_object(ROOT, format!("m{m}"), ObjType::Map).unwrap();
            }
            Edit::Text(k, t) => {
                let o = doc
                    .put_object(ROOT, format!("t{k}"), ObjType::Text)
                    .unwrap();
                doc.splice_text(&o, 0, 0, t).unwrap();
            }
            Edit::List(k, items) => {
                let o = doc
                    .put_object(ROOT, format!("l{k}"), ObjType::List)
                    .unwrap();
                for (i, v) in items.iter().enumerate() {
                    doc.insert(&o, i, *v).unwrap();
                }
            }
        }
    }

    fn actor(n: u8) -> ActorId {
        ActorId::from(vec![n; 16])
    }

    proptest! {
        /// A document whose last local changes are dropped and written again by another actor
        /// reads as before, whatever the team and this device wrote, concurrently or not; a
        /// device holding only the team's part that takes the new change reads the same.
        #[test]
        fn a_rewritten_document_reads_as_before(
            team in proptest::collection::vec(proptest::collection::vec(edit(), 1..4), 0..4),
            sent in proptest::collection::vec(proptest::collection::vec(edit(), 1..4), 0..3),
            unsent in proptest::collection::vec(proptest::collection::vec(edit(), 1..4), 1..4),
            later in proptest::collection::vec(proptest::collection::vec(edit(), 1..4), 0..3),
        ) {
            // Another device's changes, some of which this device had before writing.
            let mut other = crate::docs::new_doc(&actor(2));
            let mut mine = crate::docs::new_doc(&actor(1));
            for (i, group) in team.iter().enumerate() {
                for e in group {
                    apply(&mut other, e);
                }
                other.commit();
                if i % 2 == 0 {
                    mine.merge(&mut other).unwrap();
                }
            }
            for group in &sent {
                for e in group { apply(&mut mine, e); }
                mine.commit();
            }
            let before_unsent = mine.get_heads();
            for group in &unsent {
                for e in group { apply(&mut mine, e); }
                mine.commit();
            }
            let unsent_hashes: HashSet<ChangeHash> = mine
                .get_changes(&before_unsent)
                .iter()
                .map(|c| c.hash())
                .collect();
            // Changes of the other device taken in after the unsent ones were written.
            for group in &later {
                for e in group { apply(&mut other, e); }
                other.commit();
            }
            mine.merge(&mut other).unwrap();

            let mut doc = crate::docs::new_doc(&actor(3));
            let kept: Vec<_> = mine
                .get_changes(&[])
                .into_iter()
                .filter(|c| !unsent_hashes.contains(&c.hash()))
                .collect();
            doc.apply_changes(kept.clone()).unwrap();
            rewrite(&mut doc, &mine).unwrap();
            doc.commit();
            prop_assert_eq!(json(&doc), json(&mine));
            // No change of the old actor's unsent ones is left in it.
            for c in doc.get_changes(&[]) {
                prop_assert!(!unsent_hashes.contains(&c.hash()));
            }
            // The team (which never had the unsent changes) takes the new change and agrees.
            let mut team_doc = crate::docs::new_doc(&actor(4));
            team_doc.apply_changes(kept).unwrap();
            let new: Vec<_> = doc.get_changes(&team_doc.get_heads());
            team_doc.apply_changes(new).unwrap();
            prop_assert_eq!(json(&team_doc), json(&mine));
        }
    }

    #[test]
    fn a_document_that_already_reads_the_same_gets_no_change() {
        let mut a = crate::docs::new_doc(&actor(1));
        a.put(ROOT, "name", "Pat").unwrap();
        let inner = a.put_object(ROOT, "person", ObjType::Map).unwrap();
        a.put(&inner, "notes", "rent").unwrap();
        a.commit();
        let mut b = a.fork().with_actor(actor(2));
        rewrite(&mut b, &a).unwrap();
        assert!(b.commit().is_none(), "nothing to write");
    }
}
