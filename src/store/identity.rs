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
//! therefore rebuilt ([`rebuild`]): the changes its unsent ones were written on, then one
//! change by the new actor that does what the unsent ones did ([`rewrite`]), then every other
//! change it holds (other devices' work taken in meanwhile). The new change stands where the
//! unsent ones stood in the document's history, concurrent with what they were concurrent
//! with, so conflicts between them and other devices' edits stay conflicts. Nothing typed is
//! lost and nothing is doubled: the unsent changes leave the outbox and the document together,
//! and the new change takes their place in both. An unsent change that another device's change
//! held here builds on was sent after all (the relay took it and lost the answer): it is kept.
//!
//! Records the old actor made and never sent (an old member record, a key rotation, a
//! promotion) and snapshots it made for compaction are dropped: they are signed as the old
//! actor, whom the team no longer hears; they are counted in [`Renewed`], and a lead makes
//! them again under the new identity.

use std::collections::{HashMap, HashSet};

use automerge::transaction::Transactable;
use automerge::{
    ActorId, AutoCommit, AutomergeError, Change, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, Value,
};
use rusqlite::Connection;
use serde::Serialize;

use super::documents;
use crate::error::{Error, Result};

/// What taking a new identity did to this notebook.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Renewed {
    /// The documents whose unsent changes were written again as the new identity.
    pub rewritten: Vec<String>,
    /// Unsent records of the old identity dropped (a key rotation, a promotion; its own member
    /// record not counted): a lead makes them again.
    pub dropped_records: usize,
}

/// Take `device_id` as this notebook's device id, inside `tx`: a new actor, new keys (made by
/// the next [`super::keys::device_key`]), push numbers from 1 again, and every document with
/// unsent changes rebuilt with them written as the new actor. `name` is what this device's
/// changes were shown as; the old actor keeps it in history. Returns the new actor.
pub(super) fn renew(
    tx: &Connection,
    old: &ActorId,
    device_id: &str,
    name: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(ActorId, Renewed)> {
    let actor = super::actor_for(device_id);
    let old_hex = old.to_hex_string();
    let stamp = crate::model::format_time(now);
    super::meta::meta_set(tx, "device_id", device_id)?;
    tx.execute("DELETE FROM device_key", [])?;
    // The old actor's pushes the relay acknowledged, which other devices' records count: this
    // device made them, so none is missing (its own records are never taken in as others'
    // are). Not the push whose answer never came, nor any of a notebook that never pushed:
    // what this device lists as held goes out in its next push records, and a push listed that
    // no relay ever stored would be counted as withheld on every device of the team, for good.
    // (Had the relay stored it after all, it comes back in a pull as any device's would.)
    let next: i64 = super::meta::meta_get(tx, super::withheld::NEXT_PUSH)?
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let acknowledged = next.saturating_sub(1);
    if acknowledged >= 1 {
        tx.execute(
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?2)
             INSERT OR IGNORE INTO push_records (actor, n) SELECT ?1, x FROM n",
            (&old_hex, acknowledged),
        )?;
    }
    super::meta::meta_delete(tx, super::withheld::NEXT_PUSH)?;
    // History keeps naming what the old actor wrote and the team took in.
    tx.execute(
        "INSERT INTO writers (actor, name, seen_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (actor) DO NOTHING",
        (&old_hex, name, &stamp),
    )?;
    tx.execute("DELETE FROM snapshots_out", [])?;

    let mut renewed = Renewed::default();
    let queued: Vec<String> = tx
        .prepare("SELECT DISTINCT doc_id FROM outbox")?
        .query_map([], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    let own_member = format!("{}{old_hex}", crate::crypto::keys::MEMBER_DOC_PREFIX);
    for doc_id in queued {
        if crate::crypto::is_key_record(&doc_id) {
            let n = tx.execute("DELETE FROM outbox WHERE doc_id = ?1", [&doc_id])?;
            if doc_id != own_member {
                renewed.dropped_records += n;
            }
            continue;
        }
        let Some(loaded) = documents::load(tx, &doc_id, &actor)? else {
            // Changes of a document this notebook does not hold cannot be written again;
            // they stay (and go as they are).
            continue;
        };
        let unsent: HashSet<ChangeHash> = tx
            .prepare_cached("SELECT change_hash FROM outbox WHERE doc_id = ?1")?
            .query_map([&doc_id], |r| r.get::<_, String>(0))?
            .filter_map(|h| h.ok().and_then(|h| h.parse().ok()))
            .collect();
        let mut current = loaded.doc;
        let bad = |e: AutomergeError| Error::BadDocument {
            doc_id: doc_id.clone(),
            reason: e.to_string(),
        };
        let (mut doc, rest) = rebuild(&mut current, &unsent, &actor).map_err(bad)?;
        tx.execute("DELETE FROM outbox WHERE doc_id = ?1", [&doc_id])?;
        let written = documents::commit_local_change(tx, &doc_id, &mut doc, now)?;
        doc.apply_changes(rest).map_err(bad)?;
        documents::save_snapshot(tx, &doc_id, loaded.kind, &mut doc, &stamp)?;
        super::project::project(tx, &doc_id, loaded.kind, &doc)?;
        if written {
            renewed.rewritten.push(doc_id);
        }
    }
    super::project::flush_search(tx)?;
    Ok((actor, renewed))
}

/// `current` without its `unsent` changes, as `actor` sees it: the changes they were written
/// on, with the uncommitted edits that make it read as those changes left it ([`rewrite`]),
/// and the rest of `current`'s changes, to apply after committing the edits. An unsent change
/// that a change outside the set builds on is taken as sent.
pub(crate) fn rebuild(
    current: &mut AutoCommit,
    unsent: &HashSet<ChangeHash>,
    actor: &ActorId,
) -> std::result::Result<(AutoCommit, Vec<Change>), AutomergeError> {
    let all = current.get_changes(&[]);
    let by_hash: HashMap<ChangeHash, &Change> = all.iter().map(|c| (c.hash(), c)).collect();
    let ancestors = |from: &mut Vec<ChangeHash>, stop: &dyn Fn(&ChangeHash) -> bool| {
        let mut seen = HashSet::new();
        while let Some(h) = from.pop() {
            if stop(&h) || !seen.insert(h) {
                continue;
            }
            if let Some(c) = by_hash.get(&h) {
                from.extend(c.deps().iter().copied());
            }
        }
        seen
    };
    // Unsent changes that something else builds on, and their own ancestors, were sent.
    let mut built_on: Vec<ChangeHash> = all
        .iter()
        .filter(|c| !unsent.contains(&c.hash()))
        .flat_map(|c| c.deps().iter().copied())
        .filter(|d| unsent.contains(d))
        .collect();
    let sent = ancestors(&mut built_on, &|_| false);
    let unsent: HashSet<ChangeHash> = unsent
        .iter()
        .filter(|h| !sent.contains(h) && by_hash.contains_key(h))
        .copied()
        .collect();
    // What the unsent changes were written on.
    let mut deps: Vec<ChangeHash> = unsent
        .iter()
        .flat_map(|h| by_hash[h].deps().iter().copied())
        .collect();
    let under = ancestors(&mut deps, &|h| unsent.contains(h));
    let pick = |keep: &dyn Fn(&ChangeHash) -> bool| -> Vec<Change> {
        all.iter().filter(|c| keep(&c.hash())).cloned().collect()
    };
    let mut doc = crate::docs::new_doc(actor);
    doc.apply_changes(pick(&|h| under.contains(h)))?;
    let mut written = crate::docs::new_doc(actor);
    written.apply_changes(pick(&|h| under.contains(h) || unsent.contains(h)))?;
    rewrite(&mut doc, &written)?;
    let rest = pick(&|h| !under.contains(h) && !unsent.contains(h));
    Ok((doc, rest))
}

/// Write into `doc` (uncommitted) whatever makes it read as `like` does, where both share a
/// history: every map field whose value in `like` is not the one `doc` shows is put (an object
/// made anew where `like`'s is another object) or removed, every list and text that differs
/// written again. Fields showing the same value (the same operation) are not touched, so their
/// history, and any conflict between other devices' values, stays.
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
                if !matches!(&here, Some((Value::Scalar(_), h)) if *h == id) {
                    doc.put(obj, key.as_str(), s.into_owned())?;
                }
            }
            Value::Object(kind) => {
                let child = match here {
                    Some((Value::Object(k), child)) if k == kind && child == id => child,
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
            // none today).
            if lists_equal(doc, obj, like, like_obj)? {
                // The same items: objects among them may still differ inside.
                for i in 0..like.length(like_obj) {
                    if let (Some((Value::Object(k), mine)), Some((_, theirs))) =
                        (doc.get(obj, i)?, like.get(like_obj, i)?)
                    {
                        rewrite_object(doc, &mine, k, like, &theirs)?;
                    }
                }
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

/// Whether list `obj` of `doc` holds the same items (the same operations) as `like_obj`.
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
            (Some((_, a)), Some((_, b))) if a == b => {}
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

    /// A document as JSON with every value a field holds (all sides of a conflict, sorted), to
    /// compare what two documents hold, whichever side each shows.
    fn all_values(doc: &AutoCommit) -> Json {
        fn values(doc: &AutoCommit, found: Vec<(Value<'_>, ObjId)>) -> Json {
            let mut out: Vec<Json> = found
                .into_iter()
                .map(|(v, id)| match v {
                    Value::Scalar(s) => Json::String(format!("{s:?}")),
                    Value::Object(k) => of(doc, &id, k),
                })
                .collect();
            out.sort_by_key(|v| v.to_string());
            Json::Array(out)
        }
        fn of(doc: &AutoCommit, obj: &ObjId, kind: ObjType) -> Json {
            match kind {
                ObjType::Map | ObjType::Table => {
                    let mut out = Map::new();
                    for key in doc.keys(obj) {
                        let found = doc.get_all(obj, key.as_str()).unwrap();
                        out.insert(key, values(doc, found));
                    }
                    Json::Object(out)
                }
                ObjType::Text => Json::String(doc.text(obj).unwrap()),
                ObjType::List => Json::Array(
                    (0..doc.length(obj))
                        .map(|i| values(doc, doc.get_all(obj, i).unwrap()))
                        .collect(),
                ),
            }
        }
        of(doc, &ROOT, ObjType::Map)
    }

    /// Every scalar held anywhere in `json` (an [`all_values`]), with its path.
    fn leaves(json: &Json) -> HashSet<String> {
        fn walk(j: &Json, path: String, out: &mut HashSet<String>) {
            match j {
                Json::Object(m) => {
                    for (k, v) in m {
                        walk(v, format!("{path}/{k}"), out);
                    }
                }
                Json::Array(items) => {
                    for v in items {
                        walk(v, format!("{path}[]"), out);
                    }
                }
                other => {
                    out.insert(format!("{path}={other}"));
                }
            }
        }
        let mut out = HashSet::new();
        walk(json, String::new(), &mut out);
        out
    }

    /// One edit of a small document: a field set, removed, a nested map (or a value put where
    /// one was), text or a list.
    #[derive(Debug, Clone)]
    enum Edit {
        Put(u8, u8, i64),
        Delete(u8, u8),
        Nested(u8),
        Flatten(u8, i64),
        Text(u8, String),
        List(u8, Vec<i64>),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            5 => (0..3u8, 0..4u8, 0..3i64).prop_map(|(m, k, v)| Edit::Put(m, k, v)),
            2 => (0..3u8, 0..4u8).prop_map(|(m, k)| Edit::Delete(m, k)),
            1 => (1..3u8).prop_map(Edit::Nested),
            1 => (1..3u8, 0..2i64).prop_map(|(m, v)| Edit::Flatten(m, v)),
            1 => (0..2u8, "[a-c]{0,4}").prop_map(|(k, t)| Edit::Text(k, t)),
            1 => (0..2u8, proptest::collection::vec(0..3i64, 0..4)).prop_map(|(k, l)| Edit::List(k, l)),
        ]
    }

    /// The map `m` of the document (a field of the root, made if need be; 0: the root).
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
            Edit::Flatten(m, v) => {
                doc.put(ROOT, format!("m{m}"), *v).unwrap();
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

    fn commit_all(doc: &mut AutoCommit, groups: &[Vec<Edit>]) {
        for group in groups {
            for e in group {
                apply(doc, e);
            }
            doc.commit();
        }
    }

    /// `doc` with its changes after `heads` (its unsent ones) written again as actor 3, as
    /// [`renew`] does; returns it and the new change (none when nothing was left to write).
    fn renewed(doc: &mut AutoCommit, heads: &[ChangeHash]) -> (AutoCommit, Option<Change>) {
        let unsent: HashSet<ChangeHash> = doc
            .get_changes(heads)
            .iter()
            .filter(|c| c.actor_id() == &actor(1))
            .map(Change::hash)
            .collect();
        let (mut out, rest) = rebuild(doc, &unsent, &actor(3)).unwrap();
        let new = out.commit().and_then(|_| out.get_last_local_change());
        out.apply_changes(rest).unwrap();
        (out, new)
    }

    proptest! {
        /// A document whose unsent changes are written again by another actor holds what it
        /// held, conflicts included, whatever the team wrote before, between and after them;
        /// the team (which never had the unsent changes) takes the new change and holds the
        /// same.
        #[test]
        fn a_rewritten_document_holds_what_it_held(
            team in proptest::collection::vec(proptest::collection::vec(edit(), 1..4), 0..4),
            sent in proptest::collection::vec(proptest::collection::vec(edit(), 1..4), 0..3),
            unsent in proptest::collection::vec(proptest::collection::vec(edit(), 1..4), 1..4),
            later in proptest::collection::vec(proptest::collection::vec(edit(), 1..4), 0..3),
        ) {
            let mut other = crate::docs::new_doc(&actor(2));
            let mut mine = crate::docs::new_doc(&actor(1));
            for (i, group) in team.iter().enumerate() {
                commit_all(&mut other, std::slice::from_ref(group));
                if i % 2 == 0 {
                    mine.merge(&mut other).unwrap();
                }
            }
            commit_all(&mut mine, &sent);
            let before_unsent = mine.get_heads();
            commit_all(&mut mine, &unsent);
            // The other device's changes, concurrent with the unsent ones, taken in after.
            commit_all(&mut other, &later);
            mine.merge(&mut other).unwrap();

            let (mut out, new) = renewed(&mut mine, &before_unsent);
            for c in out.get_changes(&[]) {
                prop_assert!(c.actor_id() != &actor(1) || mine.get_change_by_hash(&c.hash()).is_some());
            }
            let unsent_left = out
                .get_changes(&before_unsent)
                .iter()
                .filter(|c| c.actor_id() == &actor(1))
                .count();
            prop_assert_eq!(unsent_left, 0, "an unsent change is left");
            // The team's groups after the last one this device merged (an odd last index) are
            // concurrent with the unsent changes, like `later`.
            let concurrent = !later.is_empty() || (!team.is_empty() && team.len() % 2 == 0);
            if !concurrent {
                // Nothing was concurrent with the unsent changes: exactly the same.
                prop_assert_eq!(all_values(&out), all_values(&mine));
            } else {
                // Every value it holds was held before. (Automerge writes nothing where the
                // unsent changes left a field as they found it, so a field the other device
                // changed meanwhile shows that device's value alone, as if this device had
                // not touched it: which, in the end, it had not.)
                let held = leaves(&all_values(&mine));
                for leaf in leaves(&all_values(&out)) {
                    prop_assert!(held.contains(&leaf), "{} was not held", leaf);
                }
            }
            // The team holds everything but the unsent changes; with the new one, the same.
            let mut team_doc = crate::docs::new_doc(&actor(4));
            team_doc.merge(&mut other).unwrap();
            let sent_changes: Vec<Change> = out
                .get_changes(&[])
                .into_iter()
                .filter(|c| c.actor_id() == &actor(1))
                .collect();
            team_doc.apply_changes(sent_changes).unwrap();
            team_doc.apply_changes(new).unwrap();
            prop_assert!(team_doc.get_missing_deps(&[]).is_empty());
            prop_assert_eq!(all_values(&team_doc), all_values(&out));
        }
    }

    #[test]
    fn a_conflict_with_another_devices_edit_stays_a_conflict() {
        let mut mine = crate::docs::new_doc(&actor(1));
        mine.put(ROOT, "notes", "rent").unwrap();
        mine.commit();
        let sent = mine.get_heads();
        let mut other = mine.fork().with_actor(actor(2));
        mine.put(ROOT, "notes", "works nights").unwrap();
        mine.commit();
        other.put(ROOT, "notes", "rent up").unwrap();
        other.commit();
        mine.merge(&mut other).unwrap();
        assert_eq!(mine.get_all(ROOT, "notes").unwrap().len(), 2);
        let (out, _) = renewed(&mut mine, &sent);
        let values: HashSet<String> = out
            .get_all(ROOT, "notes")
            .unwrap()
            .into_iter()
            .map(|(v, _)| v.to_string())
            .collect();
        assert_eq!(
            values,
            HashSet::from(["\"works nights\"".to_string(), "\"rent up\"".to_string()])
        );
    }

    #[test]
    fn an_unsent_change_another_change_builds_on_was_sent_and_is_kept() {
        let mut mine = crate::docs::new_doc(&actor(1));
        mine.put(ROOT, "name", "Pat").unwrap();
        mine.commit();
        let before = mine.get_heads();
        mine.put(ROOT, "notes", "rent").unwrap();
        mine.commit();
        // The relay took it and lost the answer; another device built on it.
        let mut other = mine.fork().with_actor(actor(2));
        other.put(ROOT, "area", "Leith").unwrap();
        other.commit();
        mine.merge(&mut other).unwrap();
        let (mut out, _) = renewed(&mut mine, &before);
        assert!(out.get_missing_deps(&[]).is_empty());
        assert_eq!(all_values(&out), all_values(&mine));
        // Kept as it was: the other device's change still stands on it.
        let hashes: HashSet<ChangeHash> = out.get_changes(&[]).iter().map(Change::hash).collect();
        for c in mine.get_changes(&before) {
            assert!(hashes.contains(&c.hash()));
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
