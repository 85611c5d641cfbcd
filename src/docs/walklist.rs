//! The walk list document: a named set of doors and every visit to them.
//!
//! ```text
//! ROOT { type: "walklist", shape: 1, id, created_at, updated_at, name, source?,
//!        doors:  { <door id>: { address, number?, street?, flat?, town?, postcode?, key,
//!                               residents: { <n>: { name, elector_number? } } } },
//!        visits: { <visit id>: { door_id, outcome, at, canvasser, shift_id?,
//!                                come_back_at?, note? } } }
//! ```
//!
//! Visits are a map of their own keyed by a fresh id, not a field of the door: two canvassers
//! marking one door at the same moment on two phones both keep their visit, and the door's
//! status is its latest visit (by time, then id), the same on every device. The list's and
//! door's and visit's fields are declared in [`crate::model`] and read and written through
//! [`super::record`].

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};

use super::{DocKind, Fields, child_map, init_root, put_opt, record, touch};
use crate::error::{Error, Result};
use crate::model::{Door, Visit, WalkList};

/// A resident named at a door by the list it came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Resident {
    /// Their name as the list gives it.
    pub name: String,
    /// Their elector number, if the list gives one.
    pub elector_number: Option<String>,
}

/// A door with the residents the list names.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DoorEntry {
    /// The door.
    #[serde(flatten)]
    pub door: Door,
    /// Its residents, in the list's order.
    pub residents: Vec<Resident>,
}

/// A walk list with its doors and visits, as the document holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkListFile {
    /// The list.
    pub list: WalkList,
    /// Its doors, by id.
    pub doors: Vec<DoorEntry>,
    /// Every visit, by id (so oldest first: ids are time-ordered).
    pub visits: Vec<Visit>,
}

fn map_of(doc: &AutoCommit, doc_id: &str, key: &str) -> Result<automerge::ObjId> {
    child_map(doc, &ROOT, key)?.ok_or_else(|| Error::BadDocument {
        doc_id: doc_id.to_string(),
        reason: format!("the `{key}` map is missing"),
    })
}

/// Call `each` with every record of the root map `map` (doors or visits) and its key, in key
/// order; an entry that is not a map is a damaged document.
fn each_record(
    doc: &AutoCommit,
    doc_id: &str,
    map: &str,
    what: &str,
    mut each: impl FnMut(String, Fields<'_>) -> Result<()>,
) -> Result<()> {
    let obj = map_of(doc, doc_id, map)?;
    for key in doc.keys(&obj) {
        let Some(o) = child_map(doc, &obj, &key)? else {
            return Err(Error::BadDocument {
                doc_id: doc_id.to_string(),
                reason: format!("{what} {key} is not a map"),
            });
        };
        each(key, Fields::new(doc, o, doc_id)?)?;
    }
    Ok(())
}

/// Write a new, empty walk list (its doors follow with [`add_door`]).
pub fn create(doc: &mut AutoCommit, list: &WalkList) -> Result<()> {
    init_root(doc, DocKind::WalkList, &list.id, &list.created_at)?;
    doc.put(ROOT, "name", list.name.trim())?;
    put_opt(doc, &ROOT, "source", list.source.as_deref())?;
    doc.put_object(ROOT, "doors", ObjType::Map)?;
    doc.put_object(ROOT, "visits", ObjType::Map)?;
    Ok(())
}

/// Add a door (its id is its key in the `doors` map).
pub fn add_door(doc: &mut AutoCommit, doc_id: &str, entry: &DoorEntry) -> Result<()> {
    let doors = map_of(doc, doc_id, "doors")?;
    let o = doc.put_object(&doors, entry.door.id.as_str(), ObjType::Map)?;
    let d = &entry.door;
    doc.put(&o, "address", d.address.as_str())?;
    for (key, value) in [
        ("number", &d.number),
        ("street", &d.street),
        ("flat", &d.flat),
        ("town", &d.town),
        ("postcode", &d.postcode),
    ] {
        put_opt(doc, &o, key, value.as_deref())?;
    }
    doc.put(&o, "key", d.key.as_str())?;
    let residents = doc.put_object(&o, "residents", ObjType::Map)?;
    for (i, r) in entry.residents.iter().enumerate() {
        add_resident_at(doc, &residents, i, r)?;
    }
    Ok(())
}

fn add_resident_at(
    doc: &mut AutoCommit,
    residents: &automerge::ObjId,
    i: usize,
    r: &Resident,
) -> Result<()> {
    // Keys sort in the list's order ("0000", "0001", …).
    let o = doc.put_object(residents, format!("{i:04}").as_str(), ObjType::Map)?;
    doc.put(&o, "name", r.name.as_str())?;
    put_opt(doc, &o, "elector_number", r.elector_number.as_deref())?;
    Ok(())
}

/// Add residents to a door the list already has (a re-import naming more people there).
pub fn add_residents(
    doc: &mut AutoCommit,
    doc_id: &str,
    door_id: &str,
    add: &[Resident],
) -> Result<()> {
    let doors = map_of(doc, doc_id, "doors")?;
    let door = child_map(doc, &doors, door_id)?.ok_or_else(|| Error::NotFound {
        kind: "door",
        id: door_id.to_string(),
    })?;
    let residents = super::ensure_map(doc, &door, "residents")?;
    let start = doc.length(&residents);
    for (i, r) in add.iter().enumerate() {
        add_resident_at(doc, &residents, start + i, r)?;
    }
    Ok(())
}

/// Record a visit to one of the list's doors and touch the document.
pub fn add_visit(doc: &mut AutoCommit, doc_id: &str, v: &Visit) -> Result<()> {
    let doors = map_of(doc, doc_id, "doors")?;
    if child_map(doc, &doors, &v.door_id)?.is_none() {
        return Err(Error::NotFound {
            kind: "door",
            id: v.door_id.clone(),
        });
    }
    let visits = map_of(doc, doc_id, "visits")?;
    let o = doc.put_object(&visits, v.id.as_str(), ObjType::Map)?;
    doc.put(&o, "door_id", v.door_id.as_str())?;
    doc.put(&o, "outcome", v.outcome.as_str())?;
    doc.put(&o, "at", v.at.as_str())?;
    doc.put(&o, "canvasser", v.canvasser.as_str())?;
    put_opt(doc, &o, "shift_id", v.shift_id.as_deref())?;
    put_opt(doc, &o, "come_back_at", v.come_back_at.as_deref())?;
    put_opt(doc, &o, "note", v.note.as_deref())?;
    touch(doc, &v.at)
}

fn residents_of(doc: &AutoCommit, door: &Fields<'_>) -> Result<Vec<Resident>> {
    let Some(map) = door.child("residents") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for key in doc.keys(&map).collect::<Vec<_>>() {
        if let Some(o) = child_map(doc, &map, &key)? {
            let r = Fields::new(doc, o, door.doc_id())?;
            if let Some(name) = r.opt_str("name")? {
                out.push(Resident {
                    name,
                    elector_number: r.opt_str("elector_number")?,
                });
            }
        }
    }
    Ok(out)
}

/// Read the list's own fields only.
pub fn read_list(doc: &AutoCommit, doc_id: &str) -> Result<WalkList> {
    let root = Fields::new(doc, ROOT, doc_id)?;
    record::read(Some(&root), &root, doc_id)
}

/// Read the whole list: its fields, doors and visits. A visit to a door the list does not
/// have is kept (the list's doors do not show it, its reports count it), so that no list is
/// ever unreadable for it (a list read as damaged stopped every sync that brought it); a
/// change that leaves one is refused ([`super::check::check_state`], [`visit_to_no_door`]).
pub fn read(doc: &AutoCommit, doc_id: &str) -> Result<WalkListFile> {
    let root = Fields::new(doc, ROOT, doc_id)?;
    let list: WalkList = record::read(Some(&root), &root, doc_id)?;
    let mut doors = Vec::new();
    each_record(doc, doc_id, "doors", "door", |key, fields| {
        let door: Door = record::read(None, &fields, &key)?;
        doors.push(DoorEntry {
            residents: residents_of(doc, &fields)?,
            door,
        });
        Ok(())
    })?;
    let mut visits = Vec::new();
    each_record(doc, doc_id, "visits", "visit", |key, fields| {
        let visit: Visit = record::read(None, &fields, &key)?;
        visits.push(visit);
        Ok(())
    })?;
    Ok(WalkListFile {
        list,
        doors,
        visits,
    })
}

/// A visit of `file` to a door the list does not have, if there is one.
pub fn visit_to_no_door(file: &WalkListFile) -> Option<&Visit> {
    // The doors are read in the order of their ids (the map's keys).
    file.visits.iter().find(|v| {
        file.doors
            .binary_search_by(|d| d.door.id.as_str().cmp(v.door_id.as_str()))
            .is_err()
    })
}

/// The latest of `visits` (by time, then id): the door's status.
pub fn latest<'a>(visits: impl IntoIterator<Item = &'a Visit>) -> Option<&'a Visit> {
    visits
        .into_iter()
        .max_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)))
}

impl DoorEntry {
    /// A door entry with no residents.
    pub fn new(door: Door) -> Self {
        DoorEntry {
            door,
            residents: Vec::new(),
        }
    }
}
