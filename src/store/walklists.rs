//! Walk lists in the store: importing a street list into a list's document, marking doors, and
//! reading lists back in walking order with each door's status.
//!
//! A door's status is its latest visit (by time, then id), so concurrent marks from several
//! phones settle the same way everywhere and every visit stays in the door's history. A door
//! is *do not knock* when any door at the same address, on any list, has that as its status.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::writer::Writer;
use super::{columns, documents, meta_get, project};
use crate::docs::walklist::{DoorEntry, Resident};
use crate::docs::{self, DocKind};
use crate::error::{Error, Result};
use crate::ids::parse_id;
use crate::model::{Door, Outcome, Visit, WalkList, format_time, required};
use crate::walk::import::Imported;
use crate::walk::order::{Place, entrance_and_floor, walking_order};

/// Doors written per change while importing: each change stays small (a few tens of KiB),
/// well under what a push carries in one blob, and a phone pulling a big list takes it in
/// steps.
const DOORS_PER_CHANGE: usize = 200;

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// The walk list's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Whether the list was made by this import (false: the file went into the list of that
    /// name that was already here).
    pub created: bool,
    /// Rows read from the file (blank rows left out).
    pub rows: u64,
    /// Doors the file names.
    pub doors: usize,
    /// Doors added to the list.
    pub doors_added: usize,
    /// Doors the list had already (the same address).
    pub doors_already: usize,
    /// Residents added.
    pub residents_added: usize,
    /// Residents the list had already, or that the file repeats.
    pub residents_already: u64,
}

/// A walk list in a list of lists, with its progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalkListSummary {
    /// The list.
    #[serde(flatten)]
    pub list: WalkList,
    /// Its progress.
    #[serde(flatten)]
    pub progress: Progress,
}

/// How far a walk list has got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Doors on the list.
    pub total: usize,
    /// Doors knocked (whose status is an outcome of knocking).
    pub knocked: usize,
    /// Doors whose status is "answered".
    pub answered: usize,
    /// Doors not to be knocked (here or on another list holding the address).
    pub do_not_knock: usize,
    /// Doors with no visit yet and not marked do-not-knock.
    pub to_knock: usize,
    /// Conversations recorded in shifts working through the list (at its doors, or anywhere
    /// else during those shifts).
    #[serde(default)]
    pub conversations: usize,
}

/// A door as the Walk screen and `walklist show` give it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoorView {
    /// The door.
    #[serde(flatten)]
    pub door: Door,
    /// The list's residents at the door.
    pub residents: Vec<Resident>,
    /// The entrance or block its flat is in, where the address says ("" when it does not).
    pub entrance: String,
    /// The floor its flat is on, where the address says (ground 0, basement -1).
    pub floor: Option<i64>,
    /// Its latest outcome (none: not visited).
    pub status: Option<Outcome>,
    /// When that was.
    pub status_at: Option<String>,
    /// Who marked it.
    pub status_by: Option<String>,
    /// When to come back, for "come back later".
    pub come_back_at: Option<String>,
    /// Visits in its history.
    pub visits: usize,
    /// Not to be knocked: its own status, or that of the same address on another list.
    pub do_not_knock: bool,
}

/// A walk list with its doors in walking order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalkListView {
    /// The list.
    #[serde(flatten)]
    pub list: WalkList,
    /// Its progress.
    #[serde(flatten)]
    pub progress: Progress,
    /// The first door in walking order not yet knocked (none: every door is done).
    pub next: Option<String>,
    /// The doors, in walking order.
    pub doors: Vec<DoorView>,
}

/// A door mark to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// What happened.
    pub outcome: Outcome,
    /// A note.
    pub note: Option<String>,
    /// When (default: now).
    pub at: Option<DateTime<Utc>>,
    /// When to come back (only with "come back later").
    pub come_back_at: Option<DateTime<Utc>>,
}

/// The whole address on one line: flat, number and street, the other lines, town, postcode.
pub fn address_line(d: &crate::walk::import::Door) -> String {
    let street = [d.number.as_str(), d.street.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    std::iter::once(d.flat.as_str())
        .chain(std::iter::once(street.as_str()))
        .chain(d.lines.iter().map(String::as_str))
        .chain([d.town.as_str(), d.postcode.as_str()])
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

impl Writer<'_> {
    /// Import a street list read from a file into the walk list called `name` (made when
    /// there is none): doors the list has already (the same address) are not added again, and
    /// residents it names already are not repeated, so importing the same file twice adds
    /// nothing the second time.
    pub fn import_walklist(
        &mut self,
        name: &str,
        source: Option<&str>,
        imported: &Imported,
    ) -> Result<ImportReport> {
        let mut name = required("walk list name", name)?;
        let existing: Option<String> = self
            .conn()
            .prepare_cached(
                "SELECT id FROM walklists WHERE lower(trim(name)) = lower(?1) ORDER BY id LIMIT 1",
            )?
            .query_row([&name], |r| r.get(0))
            .optional()?;
        let now = self.now();
        let (id, mut doc, created) = match existing {
            Some(id) => {
                let doc = self.load(&id, DocKind::WalkList, "walklist")?;
                name = docs::walklist::read_list(&doc, &id)?.name;
                (id, doc, false)
            }
            None => {
                let id = self.new_id(now);
                let mut doc = docs::new_doc(self.actor());
                let list = WalkList {
                    id: id.clone(),
                    name: name.clone(),
                    source: source
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string),
                    created_at: format_time(now),
                    conflicts: Default::default(),
                };
                docs::walklist::create(&mut doc, &list)?;
                (id, doc, true)
            }
        };
        let had: HashMap<String, DoorEntry> = docs::walklist::read(&doc, &id)?
            .doors
            .into_iter()
            .map(|d| (d.door.key.clone(), d))
            .collect();
        let mut report = ImportReport {
            id: id.clone(),
            name,
            created,
            rows: imported.rows,
            doors: imported.doors.len(),
            doors_added: 0,
            doors_already: 0,
            residents_added: 0,
            residents_already: imported.repeated,
        };
        let mut in_change = 0;
        for d in &imported.doors {
            let residents: Vec<Resident> = d
                .residents
                .iter()
                .map(|r| Resident {
                    name: r.name.clone(),
                    elector_number: r.elector_number.clone(),
                })
                .collect();
            let key = d.key();
            if let Some(held) = had.get(&key) {
                report.doors_already += 1;
                let new: Vec<Resident> = residents
                    .into_iter()
                    .filter(|r| !held.residents.iter().any(|h| same_resident(h, r)))
                    .collect();
                report.residents_already += (d.residents.len() - new.len()) as u64;
                if new.is_empty() {
                    continue;
                }
                report.residents_added += new.len();
                docs::walklist::add_residents(&mut doc, &id, &held.door.id, &new)?;
            } else {
                report.doors_added += 1;
                report.residents_added += residents.len();
                let door = Door {
                    id: self.new_id(now),
                    walklist_id: id.clone(),
                    address: address_line(d),
                    number: opt(&d.number),
                    street: opt(&d.street),
                    flat: opt(&d.flat),
                    town: opt(&d.town),
                    postcode: opt(&d.postcode),
                    key,
                    conflicts: Default::default(),
                };
                docs::walklist::add_door(&mut doc, &id, &DoorEntry { door, residents })?;
            }
            in_change += 1;
            if in_change == DOORS_PER_CHANGE {
                documents::commit_local_change(self.conn(), &id, &mut doc, now)?;
                in_change = 0;
            }
        }
        if report.doors_added + report.residents_added > 0 || created {
            docs::touch(&mut doc, &format_time(now))?;
        }
        documents::commit_local_change(self.conn(), &id, &mut doc, now)?;
        documents::save_snapshot(
            self.conn(),
            &id,
            Some(DocKind::WalkList),
            &mut doc,
            &format_time(now),
        )?;
        project::project(self.conn(), &id, Some(DocKind::WalkList), &doc)?;
        Ok(report)
    }

    /// Mark doors with one outcome (several doors at once: "not home" down a row of houses).
    /// Each door gets a visit in its list's history, in this device's open shift if there is
    /// one; doors of several lists (by their ids) are marked each in its list. `list`: the walk
    /// list the doors are on, when known; without it a door id that several lists hold (a member copied a door
    /// into another list under the same id) is refused as ambiguous, never marked in a list
    /// the canvasser did not mean. Returns the visits, in the order of `door_ids`.
    pub fn mark_doors(
        &mut self,
        list: Option<&str>,
        door_ids: &[String],
        mark: &Mark,
    ) -> Result<Vec<Visit>> {
        let list = list.map(parse_id).transpose()?;
        if door_ids.is_empty() {
            return Err(crate::model::ValidationError::Empty { field: "door ids" }.into());
        }
        if mark.come_back_at.is_some() && mark.outcome != Outcome::ComeBack {
            return Err(crate::model::ValidationError::Field {
                field: "come_back_at",
                reason: "a time to come back goes only with the outcome come-back \
                         (--outcome come-back --come-back-at TIME)"
                    .into(),
            }
            .into());
        }
        let now = self.now();
        let at = format_time(mark.at.unwrap_or(now));
        let canvasser = self.canvasser(None)?;
        let shift_id = meta_get(self.conn(), "current_shift")?;
        let note = mark
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        let mut by_list: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut ids = Vec::with_capacity(door_ids.len());
        for (i, given) in door_ids.iter().enumerate() {
            let id = parse_id(given)?;
            // Usually one list; more where a member copied the door into another list under
            // the same id (rows are keyed by list and id).
            let lists = self
                .conn()
                .prepare_cached(
                    "SELECT walklist_id FROM doors WHERE id = ?1 AND (?2 IS NULL OR walklist_id = ?2)
                     ORDER BY walklist_id",
                )?
                .query_map((&id, &list), |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let on = super::queries::only("door", &id, lists, "list", String::clone)?;
            by_list.entry(on).or_default().push(i);
            ids.push(id);
        }
        let mut out: Vec<Option<Visit>> = vec![None; ids.len()];
        for (list, indexes) in by_list {
            let mut doc = self.load_kept(&list, DocKind::WalkList, "walklist")?;
            let mut added = Vec::with_capacity(indexes.len());
            for i in indexes {
                let visit = Visit {
                    id: self.new_id(now),
                    walklist_id: list.clone(),
                    door_id: ids[i].clone(),
                    outcome: mark.outcome,
                    at: at.clone(),
                    canvasser: canvasser.clone(),
                    shift_id: shift_id.clone(),
                    come_back_at: mark.come_back_at.map(format_time),
                    note: note.clone(),
                    conflicts: Default::default(),
                };
                docs::walklist::add_visit(&mut doc, &list, &visit)?;
                added.push(visit.clone());
                out[i] = Some(visit);
            }
            // Only visits were added: their rows are all the projection gains (the same rows
            // a full projection of the document would write; a test holds them equal).
            if documents::commit_local_change(self.conn(), &list, &mut doc, now)? {
                let saved = documents::save_snapshot(
                    self.conn(),
                    &list,
                    Some(DocKind::WalkList),
                    &mut doc,
                    &format_time(now),
                )?;
                project::new_visits(self.conn(), &added)?;
                self.keep(&list, DocKind::WalkList, doc, saved);
            }
        }
        Ok(out.into_iter().flatten().collect())
    }
}

fn same_resident(a: &Resident, b: &Resident) -> bool {
    match (&a.elector_number, &b.elector_number) {
        (Some(x), Some(y)) => x.trim().eq_ignore_ascii_case(y.trim()),
        _ => {
            let squash = |s: &str| {
                s.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_lowercase()
            };
            !b.name.trim().is_empty() && squash(&a.name) == squash(&b.name)
        }
    }
}

/// The doors of list `id` as projected, with their residents, by id.
pub(crate) fn door_entries(conn: &Connection, id: &str) -> Result<Vec<DoorEntry>> {
    let sql = format!(
        "SELECT {}, residents FROM doors WHERE walklist_id = ?1 ORDER BY id",
        columns::select_list::<Door>("")
    );
    let width = columns::width::<Door>();
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([id], |r| {
        let door = columns::read_row::<Door>(r, 0)?;
        let residents: String = r.get(width)?;
        Ok((door, residents))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (door, residents) = row?;
        out.push(DoorEntry {
            door,
            residents: serde_json::from_str(&residents)?,
        });
    }
    Ok(out)
}

/// The visits of list `id` as projected, by id.
pub(crate) fn visits_of(conn: &Connection, id: &str) -> Result<Vec<Visit>> {
    let sql = format!(
        "SELECT {} FROM door_visits WHERE walklist_id = ?1 ORDER BY id",
        columns::select_list::<Visit>("")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([id], |r| columns::read_row::<Visit>(r, 0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every visit of every list, by id.
pub(crate) fn all_visits(conn: &Connection) -> Result<Vec<Visit>> {
    let sql = format!(
        "SELECT {} FROM door_visits ORDER BY id",
        columns::select_list::<Visit>("")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([], |r| columns::read_row::<Visit>(r, 0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Addresses (door keys) whose status is do-not-knock on some list.
fn do_not_knock_keys(conn: &Connection) -> Result<std::collections::HashSet<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.key FROM doors d
         JOIN door_visits v ON v.door_id = d.id AND v.walklist_id = d.walklist_id
         WHERE v.id = (SELECT v2.id FROM door_visits v2
                       WHERE v2.door_id = d.id AND v2.walklist_id = d.walklist_id
                       ORDER BY v2.at DESC, v2.id DESC LIMIT 1)
           AND v.outcome = 'do-not-knock'",
    )?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn list_row(conn: &Connection, id: &str) -> Result<Option<WalkList>> {
    let sql = format!(
        "SELECT {} FROM walklists WHERE id = ?1",
        columns::select_list::<WalkList>("")
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], |r| columns::read_row::<WalkList>(r, 0))
        .optional()?)
}

/// Walk list `id` with its doors in walking order and each door's status.
pub(crate) fn walklist(conn: &Connection, id: &str) -> Result<WalkListView> {
    let id = parse_id(id)?;
    let Some(list) = list_row(conn, &id)? else {
        return Err(Error::NotFound {
            kind: "walklist",
            id,
        });
    };
    let mut doors = door_views(conn, &id, &do_not_knock_keys(conn)?)?;
    doors.sort_by(|a, b| {
        walking_order(&place(&a.door), &place(&b.door)).then(a.door.id.cmp(&b.door.id))
    });
    let progress = progress(conn, &id, &doors)?;
    let next = doors
        .iter()
        .find(|d| d.status.is_none() && !d.do_not_knock)
        .map(|d| d.door.id.clone());
    Ok(WalkListView {
        list,
        progress,
        next,
        doors,
    })
}

impl WalkListView {
    /// The ids of the list's doors, in walking order.
    pub fn door_ids(&self) -> Vec<String> {
        self.doors.iter().map(|d| d.door.id.clone()).collect()
    }
}

/// The doors of list `id` with their status, in no particular order; `dnk` holds the
/// addresses marked do-not-knock anywhere.
fn door_views(
    conn: &Connection,
    id: &str,
    dnk: &std::collections::HashSet<String>,
) -> Result<Vec<DoorView>> {
    let mut visits: HashMap<String, Vec<Visit>> = HashMap::new();
    for v in visits_of(conn, id)? {
        visits.entry(v.door_id.clone()).or_default().push(v);
    }
    Ok(door_entries(conn, id)?
        .into_iter()
        .map(|e| {
            let history = visits.get(&e.door.id).map(Vec::as_slice).unwrap_or(&[]);
            let latest = docs::walklist::latest(history);
            let (entrance, floor) = entrance_and_floor(e.door.flat.as_deref().unwrap_or(""));
            DoorView {
                do_not_knock: dnk.contains(&e.door.key),
                status: latest.map(|v| v.outcome),
                status_at: latest.map(|v| v.at.clone()),
                status_by: latest.map(|v| v.canvasser.clone()),
                come_back_at: latest.and_then(|v| v.come_back_at.clone()),
                visits: history.len(),
                entrance,
                floor,
                residents: e.residents,
                door: e.door,
            }
        })
        .collect())
}

fn place(d: &Door) -> Place<'_> {
    Place {
        street: d.street.as_deref().unwrap_or(&d.address),
        number: d.number.as_deref().unwrap_or(""),
        flat: d.flat.as_deref().unwrap_or(""),
    }
}

fn progress(conn: &Connection, id: &str, doors: &[DoorView]) -> Result<Progress> {
    let conversations: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM conversations c JOIN shifts s ON s.id = c.shift_id
             WHERE s.walklist_id = ?1",
        )?
        .query_row([id], |r| r.get(0))?;
    let mut p = Progress {
        total: doors.len(),
        conversations: usize::try_from(conversations).unwrap_or(0),
        ..Progress::default()
    };
    for d in doors {
        match d.status {
            Some(o) if o.knocked() => p.knocked += 1,
            _ => {}
        }
        if d.status == Some(Outcome::Answered) {
            p.answered += 1;
        }
        if d.do_not_knock {
            p.do_not_knock += 1;
        } else if d.status.is_none() {
            p.to_knock += 1;
        }
    }
    Ok(p)
}

/// Every walk list with its progress, by name (the do-not-knock addresses are read once for
/// all of them).
pub(crate) fn walklists(conn: &Connection) -> Result<Vec<WalkListSummary>> {
    let sql = format!(
        "SELECT {} FROM walklists ORDER BY name COLLATE NOCASE, id",
        columns::select_list::<WalkList>("")
    );
    let lists: Vec<WalkList> = conn
        .prepare_cached(&sql)?
        .query_map([], |r| columns::read_row::<WalkList>(r, 0))?
        .collect::<rusqlite::Result<_>>()?;
    let dnk = do_not_knock_keys(conn)?;
    let mut out = Vec::with_capacity(lists.len());
    for list in lists {
        let doors = door_views(conn, &list.id, &dnk)?;
        out.push(WalkListSummary {
            progress: progress(conn, &list.id, &doors)?,
            list,
        });
    }
    Ok(out)
}
