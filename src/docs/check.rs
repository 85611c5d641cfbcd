//! Checks a change from another device must pass before it is applied here.
//!
//! Automerge accepts any well-formed change, including ones that would damage a document for
//! this app: give a person another kind or another id, make the name a number, replace or
//! delete the map that holds the conversations. A device that is buggy or hostile could send
//! such a change to the whole team. So each pulled change is judged on its own, by two rules
//! that give the same verdict on every device whatever order changes arrive in:
//!
//! 1. [`check_ops`] looks at the change's own operations. After a document's first change, the
//!    keys that make it what it is (`type`, `shape`, `id`, `created_at`, and the structural
//!    maps of its kind) are never written again, and no new object is made at the top level;
//!    in a walk list no door or visit is deleted (`check_walklist_ops`).
//! 2. [`check_state`] reads the document as it stands at the change (the change and everything
//!    it depends on, not what happened concurrently elsewhere): it must still be a readable
//!    document of the same kind with the same id, every field of the right type.
//!
//! A change that fails either is refused (the store quarantines it); legal edits that lose
//! work (deleting a conversation) pass, and are undone from the person file's history.

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{AutoCommit, Change, ReadDoc as _};

use super::{DocKind, campaign, child_map, kind_of, person, shift, walklist};

/// Root keys every document writes once, in its first change.
const IDENTITY: &[&str] = &["type", "shape", "id", "created_at"];

/// The structural maps at the root of a document of `kind`, created with it.
pub fn structural_maps(kind: DocKind) -> &'static [&'static str] {
    match kind {
        DocKind::Person => &["person", "conversations", "commitments"],
        DocKind::Campaign => &["targets"],
        DocKind::Shift => &[],
        DocKind::WalkList => &["doors", "visits"],
    }
}

/// Rule 1: what the change's own operations may touch. `first` is whether the change begins
/// the document (it has no dependencies); `walk_list`, the document before the change when it
/// is a walk list (`check_walklist_ops` needs it to know its maps).
pub fn check_ops(
    change: &Change,
    first: bool,
    walk_list: Option<&AutoCommit>,
) -> Result<(), String> {
    if first {
        return Ok(());
    }
    let expanded = change.decode();
    if let Some(doc) = walk_list {
        check_walklist_ops(doc, &expanded.operations)?;
    }
    for op in &expanded.operations {
        if op.obj != ObjectId::Root {
            continue;
        }
        let key = match &op.key {
            Key::Map(k) => k.as_str(),
            Key::Seq(_) => return Err("it writes a list position at the top level".into()),
        };
        let structural = [
            DocKind::Person,
            DocKind::Campaign,
            DocKind::Shift,
            DocKind::WalkList,
        ]
        .iter()
        .any(|k| structural_maps(*k).contains(&key));
        if IDENTITY.contains(&key) || structural {
            let verb = match op.action {
                OpType::Delete => "deletes",
                OpType::Make(_) => "replaces",
                _ => "rewrites",
            };
            return Err(format!(
                "it {verb} `{key}`, which only the document's first change sets"
            ));
        }
        if let OpType::Make(_) = op.action {
            return Err(format!("it makes a new object `{key}` at the top level"));
        }
    }
    Ok(())
}

/// A document read whole, as [`check_and_read`] gives it.
pub enum ReadDoc {
    /// A person file (boxed: it is the largest by far).
    Person(Box<crate::model::PersonFile>),
    /// A campaign.
    Campaign(crate::model::Campaign),
    /// A shift.
    Shift(crate::model::Shift),
    /// A walk list.
    WalkList(walklist::WalkListFile),
}

impl ReadDoc {
    /// Its kind.
    pub fn kind(&self) -> DocKind {
        match self {
            ReadDoc::Person(_) => DocKind::Person,
            ReadDoc::Campaign(_) => DocKind::Campaign,
            ReadDoc::Shift(_) => DocKind::Shift,
            ReadDoc::WalkList(_) => DocKind::WalkList,
        }
    }
}

/// Rule 2: the document as it stands at the change must still be a readable document of
/// `expected` kind (when the store already knows its kind) with id `doc_id`, and a walk list
/// must hold no visit to a door it does not have. Returns its kind.
///
/// The last is judged of the change as its writer saw the list (a member's visit to a door
/// never imported is refused), not of lists merged from sound changes, which [`walklist::read`]
/// reads whatever they hold: no change may delete a door (`check_walklist_ops`), so sound
/// changes cannot leave such a visit, and a list must never become unreadable for one.
pub fn check_state(
    doc: &AutoCommit,
    doc_id: &str,
    expected: Option<DocKind>,
) -> Result<DocKind, String> {
    let read = check_and_read(doc, doc_id, expected)?;
    if let ReadDoc::WalkList(file) = &read
        && let Some(visit) = walklist::visit_to_no_door(file)
    {
        return Err(format!(
            "it leaves visit {} to door {}, which the list does not have",
            visit.id, visit.door_id
        ));
    }
    Ok(read.kind())
}

/// Rule 1 for a walk list, which needs the list (`doc`, before the change) to know its maps:
/// no change deletes a door or a visit. No device does (a list only grows: doors are imported,
/// visits marked), and each alone looked sound as its writer saw the list, but a door deleted
/// while another device marked it offline left the merged list with a visit to no door.
fn check_walklist_ops(doc: &AutoCommit, ops: &[automerge::legacy::Op]) -> Result<(), String> {
    let map_of = |key: &str| match doc.get(automerge::ROOT, key) {
        Ok(Some((automerge::Value::Object(_), automerge::ObjId::Id(counter, actor, _)))) => {
            Some(ObjectId::Id(automerge::legacy::OpId(counter, actor)))
        }
        _ => None,
    };
    let (doors, visits) = (map_of("doors"), map_of("visits"));
    for op in ops {
        if !matches!(op.action, OpType::Delete) {
            continue;
        }
        let what = if Some(&op.obj) == doors.as_ref() {
            "door"
        } else if Some(&op.obj) == visits.as_ref() {
            "visit"
        } else {
            continue;
        };
        let id = match &op.key {
            Key::Map(k) => k.to_string(),
            Key::Seq(_) => String::new(),
        };
        return Err(format!(
            "it deletes {what} {id} from the walk list, which no device does"
        ));
    }
    Ok(())
}

/// [`check_state`], keeping what it read (a caller that projects the document next need not
/// read it again).
pub fn check_and_read(
    doc: &AutoCommit,
    doc_id: &str,
    expected: Option<DocKind>,
) -> Result<ReadDoc, String> {
    let kind = kind_of(doc)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "it leaves the document without a kind".to_string())?;
    if let Some(e) = expected
        && e != kind
    {
        return Err(format!(
            "it would turn a {} into a {}",
            e.as_str(),
            kind.as_str()
        ));
    }
    for key in structural_maps(kind) {
        let present = child_map(doc, &automerge::ROOT, key).map_err(|e| e.to_string())?;
        if present.is_none() {
            return Err(format!("it leaves the document without its `{key}` map"));
        }
    }
    let read = match kind {
        DocKind::Person => person::read(doc, doc_id).map(|p| ReadDoc::Person(Box::new(p))),
        DocKind::Campaign => campaign::read(doc, doc_id).map(ReadDoc::Campaign),
        DocKind::Shift => shift::read(doc, doc_id).map(ReadDoc::Shift),
        DocKind::WalkList => walklist::read(doc, doc_id).map(ReadDoc::WalkList),
    };
    read.map_err(|e| match e {
        crate::error::Error::BadDocument { reason, .. } => {
            format!("it damages the document: {reason}")
        }
        other => other.to_string(),
    })
}
