//! Taking in changes pulled from the team, one change at a time.
//!
//! A page from the relay may hold honest changes and bad ones side by side: bytes that are
//! not an Automerge change, a change written under another device's actor, a change that
//! would damage its document (see [`crate::docs::check`]). Each change is judged on its own:
//!
//! - **applied** when its dependencies are here and it passes the checks;
//! - **waiting** (table `waiting`) when changes it depends on have not arrived: it is kept,
//!   counted, and tried again whenever more of its document arrives, or after a repair asks
//!   the relay for the document again. The room is bounded (`MAX_WAITING`): once it is full
//!   the oldest change of the device keeping the most waiting makes room for another device's,
//!   and otherwise the newcomer is refused for want of room (listed without its bytes, its
//!   document asked for again at a sync's end, and judged again when served again), so a
//!   member pushing changes whose dependencies never come cannot have a phone keep and retry
//!   them all (each refusal still leaves a row of ids: see ARCHITECTURE.md);
//! - **quarantined** (table `quarantine`) when it cannot be applied or would do damage, or when
//!   it depends on a quarantined change: kept with the reason and the device that pushed it,
//!   counted and reported, never applied. One bad change never takes an honest one down with
//!   it, and no change is ever silently dropped.
//!
//! Changes are applied in dependency order, so every change is checked against the document as
//! it stood when it was written. The verdicts do not depend on how the relay split the log into
//! pages, so every device reaches the same ones.

use std::collections::{HashMap, HashSet, VecDeque};

use automerge::{AutoCommit, Change, ChangeHash};
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use super::opening::OpenedSnapshot;
use super::refused::{self, Refusals};
use super::room::{self, Room};
use super::sequence::Sequences;
use super::{bundle, compaction, documents, project};
use crate::docs::{self, DocKind, check};
use crate::error::Result;

/// The device the relay says pushed a change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pusher {
    /// The actor id it declared (empty when it never declared one).
    pub actor: Vec<u8>,
    /// Its name.
    pub name: String,
}

/// One change pulled from the relay.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// The document the relay filed it under.
    pub doc_id: &'a str,
    /// Its bytes.
    pub blob: &'a [u8],
    /// Who pushed it, when the relay said.
    pub pusher: Option<&'a Pusher>,
    /// The relay says it placed this blob as a lead's snapshot (see
    /// [`super::compaction`]): only then is a snapshot inside taken in.
    pub snapshot: bool,
}

impl<'a> Incoming<'a> {
    /// A blob filed under `doc_id` with no pusher named by the relay (a page's pure work done
    /// apart, a repair, a test); `snapshot` when the relay placed it as a lead's snapshot.
    pub fn unvouched(doc_id: &'a str, blob: &'a [u8], snapshot: bool) -> Self {
        Incoming {
            doc_id,
            blob,
            pusher: None,
            snapshot,
        }
    }
}

/// What taking in a batch of changes did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IntakeReport {
    /// Changes the batch brought, key records left out: a blob carrying a document's changes
    /// sealed together counts each of them (counted when it is opened).
    pub received: usize,
    /// Changes applied now (including waiting ones whose dependencies arrived).
    pub applied: usize,
    /// Changes this device already had.
    pub duplicates: usize,
    /// Changes refused now.
    pub quarantined: usize,
    /// Changes of the batch's documents still waiting for their dependencies.
    pub waiting: usize,
    /// Changes of documents erased here, dropped unread.
    pub erased: usize,
    /// Documents whose content moved.
    pub changed_docs: Vec<String>,
}

/// A refused change, as `status` and the app report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quarantined {
    /// SHA-256 of its bytes (the relay's id for it).
    pub blob_id: String,
    /// The document it was filed under.
    pub doc_id: String,
    /// Its Automerge hash, when the bytes are a change at all.
    pub change_hash: Option<String>,
    /// The name of the device that pushed it.
    pub pushed_by: Option<String>,
    /// The actor id (hex) of the device that pushed it.
    pub pusher_actor: Option<String>,
    /// Why it was refused.
    pub reason: String,
    /// When it arrived here.
    pub received_at: String,
}

/// Most changes kept waiting for the changes they depend on: beyond, a member pushing changes
/// whose dependencies never come gets them refused for want of room (listed, and judged again
/// if served again) instead of filling the device.
pub(crate) const MAX_WAITING: usize = 20_000;

/// The `meta` key under which a test sets a lower bound than `MAX_WAITING`.
pub(crate) const MAX_WAITING_KEY: &str = "max_waiting";

/// What is quarantined, and which documents have waiting changes, loaded once per batch
/// (both are usually empty or tiny) instead of asked of SQLite for every change.
struct Known {
    /// Blob ids of quarantined changes.
    blobs: HashSet<String>,
    /// Automerge hashes of quarantined changes.
    hashes: HashSet<String>,
    /// Documents with rows in `waiting`.
    waiting_docs: HashSet<String>,
    /// Rows in `waiting`, kept up to date as the batch adds and frees them.
    waiting: usize,
    /// Most changes kept waiting (`MAX_WAITING` unless a test set fewer).
    max_waiting: usize,
    /// How many changes wait by pusher (actor hex), read once the room is first found full in
    /// this batch and kept up to date: a flood of changes that must wait costs no scan each.
    waiting_by_pusher: Option<room::Counts>,
    /// The waiting rows of the pushers that gave way in this batch, oldest first (read once a
    /// pusher first gives way: a flood evicting at every change then costs no scan each).
    oldest_of: HashMap<Option<String>, VecDeque<i64>>,
    /// Blob ids refused only for want of room (usually none): served again, such a change is
    /// judged again, its refusal forgotten first.
    for_room: HashSet<String>,
    /// Changes refused here for want of room to wait, listed (rows of `quarantine` with a
    /// change hash): at most `max_waiting` too.
    listed: usize,
    /// Those by pusher, read once the list is first found full in this batch (`None` again
    /// after a listing is forgotten: read again when needed).
    listed_by_pusher: Option<room::Counts>,
    /// The list of refusals that are judgements, bounded ([`super::refused`]).
    refusals: Refusals,
}

impl Known {
    fn load(conn: &Connection) -> Result<Known> {
        let mut known = Known {
            blobs: HashSet::new(),
            hashes: HashSet::new(),
            waiting_docs: HashSet::new(),
            waiting: 0,
            max_waiting: super::meta_get(conn, MAX_WAITING_KEY)?
                .and_then(|v| v.parse().ok())
                .unwrap_or(MAX_WAITING),
            waiting_by_pusher: None,
            oldest_of: HashMap::new(),
            for_room: HashSet::new(),
            listed: 0,
            listed_by_pusher: None,
            refusals: Refusals::load(conn)?,
        };
        // One read of each table. A refusal for want of room is not a judgement: such a change
        // served again is judged again.
        let mut stmt =
            conn.prepare_cached("SELECT blob_id, change_hash, for_room FROM quarantine")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, bool>(2)?,
            ))
        })?;
        for row in rows {
            match row? {
                (blob, hash, true) => {
                    known.listed += usize::from(hash.is_some());
                    known.for_room.insert(blob);
                }
                (blob, hash, false) => {
                    known.blobs.insert(blob);
                    known.hashes.extend(hash);
                }
            }
        }
        let mut stmt =
            conn.prepare_cached("SELECT doc_id, count(*) FROM waiting GROUP BY doc_id")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (doc, n) = row?;
            known.waiting += n.max(0) as usize;
            known.waiting_docs.insert(doc);
        }
        Ok(known)
    }

    /// Note `delta` more changes of `pusher` (actor hex) waiting.
    fn count_waiting(&mut self, pusher: Option<String>, delta: i64) {
        self.waiting = self.waiting.saturating_add_signed(delta as isize);
        room::count(&mut self.waiting_by_pusher, pusher, delta);
    }

    /// Whether a change of `pusher` refused for want of room is listed: when the list is full,
    /// the oldest listing of the device keeping the most listed goes for it (the rule of
    /// [`room`]), or it is not listed (only counted in the batch's report).
    fn room_in_list(&mut self, conn: &Connection, pusher: &Option<String>) -> Result<bool> {
        if self.listed < self.max_waiting {
            return Ok(true);
        }
        let counts = match &mut self.listed_by_pusher {
            Some(counts) => counts,
            none => none.insert(room::counts(conn, Room::RefusedToWait)?),
        };
        let Some(top) = room::gives_way(counts, pusher) else {
            return Ok(false);
        };
        let oldest: Option<(i64, String, String)> = conn
            .prepare_cached(
                "SELECT rowid, blob_id, doc_id FROM quarantine WHERE rowid =
                     (SELECT min(rowid) FROM quarantine
                      WHERE for_room AND change_hash IS NOT NULL AND pusher_actor IS ?1)",
            )?
            .query_row([&top], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((rowid, blob_id, doc_id)) = oldest else {
            return Ok(false);
        };
        conn.prepare_cached("DELETE FROM quarantine WHERE rowid = ?1")?
            .execute([rowid])?;
        // Its document no longer kept from compaction by the listing: no note of its blobs
        // may let a snapshot stand for the change.
        compaction::not_held(conn, &doc_id)?;
        self.for_room.remove(&blob_id);
        self.count_listed(top, -1);
        Ok(true)
    }

    /// Note `delta` more listings of `pusher`.
    fn count_listed(&mut self, pusher: Option<String>, delta: i64) {
        self.listed = self.listed.saturating_add_signed(delta as isize);
        room::count(&mut self.listed_by_pusher, pusher, delta);
    }

    /// A listing of a change of `pusher` refused for want of room is forgotten (the change is
    /// judged again, or is here).
    fn forgot_listing(&mut self, pusher: Option<String>) {
        self.count_listed(pusher, -1);
    }

    /// When the waiting changes fill their room: refuse the oldest change of the device keeping
    /// the most waiting, if that is another device than `pusher` and keeps more than `pusher`
    /// would (a device can fill at most half of the room while another needs it). Returns
    /// whether room was made.
    fn made_room(
        &mut self,
        conn: &Connection,
        pusher: Option<&Pusher>,
        now: &str,
        report: &mut IntakeReport,
    ) -> Result<bool> {
        let counts = match &mut self.waiting_by_pusher {
            Some(counts) => counts,
            none => none.insert(room::counts(conn, Room::Waiting)?),
        };
        let me = pusher.map(|p| hex(&p.actor));
        let Some(top) = room::gives_way(counts, &me) else {
            return Ok(false);
        };
        if !self.oldest_of.contains_key(&top) {
            let mut stmt = conn.prepare_cached(
                "SELECT rowid FROM waiting WHERE pusher_actor IS ?1 ORDER BY rowid",
            )?;
            let rows = stmt.query_map([&top], |r| r.get::<_, i64>(0))?;
            let queue = rows.collect::<std::result::Result<VecDeque<_>, _>>()?;
            self.oldest_of.insert(top.clone(), queue);
        }
        let reason = format!(
            "it waited for changes it depends on with more than {} other changes, most of them \
             pushed by the same device, and made room for a change pushed by another; it is \
             asked for again later",
            self.max_waiting
        );
        // The oldest still there (a row taken in meanwhile has gone).
        while let Some(rowid) = self.oldest_of.get_mut(&top).and_then(VecDeque::pop_front) {
            let row: Option<(String, String)> = conn
                .prepare_cached("SELECT blob_id, doc_id FROM waiting WHERE rowid = ?1")?
                .query_row([rowid], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((blob_id, doc_id)) = row else {
                continue;
            };
            compaction::not_held(conn, &doc_id)?;
            if !self.room_in_list(conn, &top)? {
                // Not listed: the list is full and this device keeps the most of it.
                conn.prepare_cached("DELETE FROM waiting WHERE rowid = ?1")?
                    .execute([rowid])?;
                self.count_waiting(top, -1);
                report.quarantined += 1;
                return Ok(true);
            }
            // Kept without its bytes: what is kept waiting is bounded, and the change is judged
            // again from the bytes served again.
            let added = conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO quarantine
                         (blob_id, doc_id, change_hash, pusher_actor, pusher_name, reason,
                          bytes, received_at, for_room)
                     SELECT blob_id, doc_id, change_hash, pusher_actor, pusher_name, ?2, x'',
                            ?3, 1
                     FROM waiting WHERE rowid = ?1",
                )?
                .execute((rowid, &reason, now))?;
            conn.prepare_cached("DELETE FROM waiting WHERE rowid = ?1")?
                .execute([rowid])?;
            self.for_room.insert(blob_id);
            self.count_listed(top.clone(), i64::try_from(added).unwrap_or(0));
            self.count_waiting(top, -1);
            report.quarantined += added;
            return Ok(true);
        }
        Ok(false)
    }
}

/// Whether `doc` holds every change of `hashes` (cheap: Automerge's change graph, where
/// `get_change_by_hash` would rebuild each change's bytes).
/// (Automerge also lists what changes it holds back are missing; only `hashes` count here.)
fn holds(doc: &mut AutoCommit, hashes: &[ChangeHash]) -> bool {
    let missing = doc.get_missing_deps(hashes);
    !hashes.iter().any(|h| missing.contains(h))
}

/// A change parsed and waiting to be judged.
struct Candidate {
    change: Change,
    blob_id: String,
    pusher: Option<Pusher>,
    bytes: Vec<u8>,
    from_waiting: bool,
}

/// Bytes as lowercase hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Take in `changes`, grouped by document in order of first appearance.
pub(crate) fn take_in(
    conn: &Connection,
    actor: &automerge::ActorId,
    changes: &[Incoming<'_>],
    now: &str,
) -> Result<IntakeReport> {
    let mut order: Vec<&str> = Vec::new();
    let mut by_doc: std::collections::HashMap<&str, Vec<Incoming<'_>>> =
        std::collections::HashMap::new();
    for c in changes {
        by_doc
            .entry(c.doc_id)
            .or_insert_with(|| {
                order.push(c.doc_id);
                Vec::new()
            })
            .push(*c);
    }
    let mut report = IntakeReport::default();
    let mut known = Known::load(conn)?;
    let mut remembered: Vec<&Pusher> = Vec::new();
    for p in changes.iter().filter_map(|c| c.pusher) {
        if !p.actor.is_empty() && !remembered.contains(&p) {
            conn.prepare_cached(
                "INSERT INTO writers (actor, name, seen_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (actor) DO UPDATE SET name = excluded.name, seen_at = excluded.seen_at",
            )?
            .execute((hex(&p.actor), &p.name, now))?;
            remembered.push(p);
        }
    }
    let groups: Vec<(&str, Vec<Incoming<'_>>)> = order
        .into_iter()
        .map(|doc_id| (doc_id, by_doc.remove(doc_id).unwrap_or_default()))
        .collect();
    // A window of documents at a time: those new here are applied and judged ahead, on all
    // cores ([`super::ahead`]), then every one is taken in in order on this thread.
    for window in groups.chunks(DOCS_AHEAD) {
        // (Not even looked up when nothing would be done ahead: the phone's one thread.)
        let ahead = super::ahead::worth_it(window.len());
        let bases: Vec<Option<Base>> = window
            .iter()
            .map(|(doc_id, _)| {
                if ahead {
                    base(conn, doc_id, &known)
                } else {
                    Ok(None)
                }
            })
            .collect::<Result<_>>()?;
        let candidates: Vec<_> = window.iter().zip(bases).collect();
        let alone = super::ahead::documents(&candidates, |((doc_id, items), base)| {
            base.as_ref()
                .and_then(|base| apply_alone(actor, doc_id, base, items))
        });
        for ((doc_id, items), alone) in window.iter().zip(alone) {
            take_in_doc(
                conn,
                actor,
                doc_id,
                items,
                now,
                &mut known,
                &mut report,
                alone,
            )?;
        }
    }
    Ok(report)
}

/// Documents whose changes are applied ahead at a time (each is held until taken in).
const DOCS_AHEAD: usize = 64;

/// What a document's pulled changes are applied to ahead.
enum Base {
    /// A document new here: an empty one.
    New,
    /// The document as stored here: its kind and bytes.
    Stored(Option<DocKind>, Vec<u8>),
}

/// What `doc_id`'s changes would be applied to, when it is worth applying them ahead: filed
/// under Groundwork's own spelling of its id and with no changes waiting here.
fn base(conn: &Connection, doc_id: &str, known: &Known) -> Result<Option<Base>> {
    if crate::ids::parse_id(doc_id).is_ok_and(|id| id == doc_id)
        && !known.waiting_docs.contains(doc_id)
    {
        Ok(Some(match documents::stored(conn, doc_id)? {
            Some((kind, bytes)) => Base::Stored(kind, bytes),
            None => Base::New,
        }))
    } else {
        Ok(None)
    }
}

/// A document's pulled changes applied and judged ahead: what [`take_in_doc`] would make of
/// them on its own, when every one of them was applied.
struct Alone {
    /// The stored bytes it was applied to (`None`: a new document), checked again at its turn:
    /// a guard, since nothing else writes a document between a window's read and its turn (it
    /// comes once in a batch), and a stale copy saved over it would lose changes.
    from: Option<Vec<u8>>,
    doc: AutoCommit,
    kind: Option<DocKind>,
    /// The changes applied, in the order they were.
    accepted: Vec<Change>,
    /// Items that repeated a change of the batch.
    duplicates: usize,
    /// The blob id of every item.
    blob_ids: Vec<String>,
}

/// `items` applied to the document `base` in the order [`take_in_doc`]
/// applies them, each judged as it does: `None` unless the stored document loads and every
/// change parses, is written by its pusher, passes and is applied, at least one of them
/// (anything else is left to [`take_in_doc`], which words the refusals, keeps what waits and
/// counts what was held). Nothing here reads or writes the database.
fn apply_alone(
    actor: &automerge::ActorId,
    doc_id: &str,
    base: &Base,
    items: &[Incoming<'_>],
) -> Option<Alone> {
    let (mut doc, mut kind) = match base {
        Base::Stored(kind, bytes) => (
            AutoCommit::load(bytes).ok()?.with_actor(actor.clone()),
            *kind,
        ),
        Base::New => (docs::new_doc(actor), None),
    };
    let mut pending: Vec<Change> = Vec::new();
    let mut duplicates = 0;
    let mut blob_ids = Vec::with_capacity(items.len());
    for item in items {
        blob_ids.push(groundwork_protocol::blob_id(item.blob));
        let change = bundle::change(item.blob).ok()?;
        let hash = change.hash();
        if holds(&mut doc, &[hash]) || pending.iter().any(|p| p.hash() == hash) {
            duplicates += 1;
            continue;
        }
        if let Some(p) = item.pusher
            && !p.actor.is_empty()
            && change.actor_id().to_bytes() != p.actor.as_slice()
        {
            return None;
        }
        pending.push(change);
    }
    let mut accepted = Vec::with_capacity(pending.len());
    // Counted only when there is something to judge (a page often brings only duplicates).
    let mut seqs = if pending.is_empty() {
        Sequences::default()
    } else {
        Sequences::of(&mut doc)
    };
    loop {
        let mut progressed = false;
        let mut i = 0;
        while i < pending.len() {
            if !holds(&mut doc, pending[i].deps()) {
                i += 1;
                continue;
            }
            let change = pending.remove(i);
            progressed = true;
            kind = Some(judge_and_apply(&mut doc, &mut seqs, doc_id, kind, &change).ok()?);
            accepted.push(change);
        }
        if !progressed {
            break;
        }
    }
    (pending.is_empty() && !accepted.is_empty()).then(|| Alone {
        from: match base {
            Base::Stored(_, bytes) => Some(bytes.clone()),
            Base::New => None,
        },
        doc,
        kind,
        accepted,
        duplicates,
        blob_ids,
    })
}

/// Take in snapshots (see [`super::compaction`]), opened and their signatures checked. A
/// snapshot of a document not held here becomes the document; one of a document held here is
/// merged into it. Either way the document that results must read whole as its kind (the same
/// check each change's result gets), and a snapshot holding a change refused here is refused,
/// so that devices never differ over a verdict. The blobs it stands for are noted as received
/// (the relay skips them for this device), and changes of the document that waited for what
/// the snapshot brings are tried again.
pub(crate) fn take_snapshots(
    conn: &Connection,
    actor: &automerge::ActorId,
    snapshots: &mut [OpenedSnapshot],
    now: &str,
    report: &mut IntakeReport,
) -> Result<()> {
    if snapshots.is_empty() {
        return Ok(());
    }
    let mut known = Known::load(conn)?;
    // A window at a time, so that a page's documents are not all held loaded at once.
    for window in snapshots.chunks_mut(super::ahead::WINDOW) {
        super::ahead::load(window);
        for s in window {
            take_snapshot(conn, actor, s, now, &mut known, report)?;
        }
    }
    Ok(())
}

fn take_snapshot(
    conn: &Connection,
    actor: &automerge::ActorId,
    s: &mut OpenedSnapshot,
    now: &str,
    known: &mut Known,
    report: &mut IntakeReport,
) -> Result<()> {
    let blob_id = groundwork_protocol::blob_id(&s.blob);
    if known.blobs.contains(&blob_id) {
        report.duplicates += 1;
        return Ok(());
    }
    let parsed = crate::ids::parse_id(&s.doc_id).ok();
    if let Some(id) = &parsed
        && conn
            .prepare_cached("SELECT 1 FROM erased WHERE doc_id = ?1")?
            .exists([id])?
    {
        report.erased += 1;
        return Ok(());
    }
    let nothing_refused = known.hashes.is_empty();
    let mut refuse = |reason: &str| -> Result<()> {
        quarantine(
            conn,
            known,
            &s.doc_id,
            &blob_id,
            None,
            s.pusher.as_ref(),
            reason,
            &s.blob,
            now,
        )?;
        report.quarantined += 1;
        Ok(())
    };
    let Some(doc_id) = parsed.filter(|id| *id == s.doc_id) else {
        return refuse("it is filed under a document id that is not a Groundwork id");
    };
    // Loaded and read ahead ([`super::ahead`]), or read in another worker (loaded here only
    // if it must be), or loaded here.
    let (loaded, mut read_ahead) = match s.loaded.take() {
        Some(l) => l.parts(),
        None => (
            super::sequence::load_snapshot(&s.snapshot.doc).map(Some),
            None,
        ),
    };
    let mut snap = match loaded {
        Ok(d) => d,
        Err(e) => {
            return refuse(&format!("its snapshot is not an Automerge document ({e})"));
        }
    };
    let read_elsewhere = snap.is_none();
    // A change refused here stays refused, whoever passes it on (nothing to look up when
    // nothing was ever refused here: the usual case, known from the batch's `Known`).
    let refused: Vec<String> = if nothing_refused {
        Vec::new()
    } else {
        let mut stmt = conn.prepare_cached(
            "SELECT change_hash FROM quarantine
             WHERE doc_id = ?1 AND change_hash IS NOT NULL AND NOT for_room",
        )?;
        let rows = stmt.query_map([&doc_id], |r| r.get::<_, String>(0))?;
        rows.collect::<std::result::Result<_, _>>()?
    };
    if !refused.is_empty() {
        let snap = match snapshot_doc(&mut snap, &s.snapshot.doc) {
            Ok(d) => d,
            Err(e) => {
                return refuse(&format!("its snapshot is not an Automerge document ({e})"));
            }
        };
        for hash in &refused {
            if let Ok(h) = hash.parse::<ChangeHash>()
                && snap.get_change_by_hash(&h).is_some()
            {
                return refuse(&format!(
                    "its snapshot holds change {hash}, which was refused here"
                ));
            }
        }
    }
    match documents::load(conn, &doc_id, actor)? {
        None => {
            let read = match read_ahead.take() {
                Some(read) => {
                    if read_elsewhere {
                        super::ahead::read_elsewhere();
                    }
                    read
                }
                None => match snapshot_doc(&mut snap, &s.snapshot.doc) {
                    Ok(snap) => check::check_and_read(snap, &doc_id, None),
                    Err(e) => {
                        return refuse(&format!("its snapshot is not an Automerge document ({e})"));
                    }
                },
            };
            match read {
                Ok(read) => {
                    documents::save_bytes(conn, &doc_id, read.kind(), &s.snapshot.doc, now)?;
                    project::project_read(conn, &read)?;
                    report.applied += 1;
                    report.changed_docs.push(doc_id.clone());
                }
                Err(reason) => {
                    return refuse(&format!("its snapshot is not a sound document: {reason}"));
                }
            }
        }
        Some(loaded) => {
            let snap = match snapshot_doc(&mut snap, &s.snapshot.doc) {
                Ok(d) => d,
                Err(e) => {
                    return refuse(&format!("its snapshot is not an Automerge document ({e})"));
                }
            };
            let mut doc = loaded.doc;
            let before = doc.get_heads();
            if let Err(e) = doc.merge(snap) {
                return refuse(&format!("Automerge cannot merge its snapshot ({e})"));
            }
            if doc.get_heads() == before {
                report.duplicates += 1;
            } else {
                match check::check_and_read(&doc, &doc_id, loaded.kind) {
                    Ok(read) => {
                        documents::save_snapshot(conn, &doc_id, Some(read.kind()), &mut doc, now)?;
                        project::project_read(conn, &read)?;
                        report.applied += 1;
                        report.changed_docs.push(doc_id.clone());
                    }
                    Err(reason) => {
                        return refuse(&format!(
                            "its snapshot would leave the document unsound: {reason}"
                        ));
                    }
                }
            }
        }
    }
    forget_held_refusals_for_room(conn, known, &doc_id, actor)?;
    super::compaction::note_snapshot(
        conn,
        &doc_id,
        super::compaction::tag_of_blob(&s.blob),
        &s.snapshot.covers,
    )?;
    for tag in &s.snapshot.covers {
        super::withheld::note_tag_received(conn, *tag)?;
    }
    if known.waiting_docs.contains(&doc_id) {
        take_in_doc(conn, actor, &doc_id, &[], now, known, report, None)?;
    }
    Ok(())
}

/// The snapshot's document: as loaded ahead, or loaded now from `bytes` (it was read in
/// another worker and is needed here after all).
fn snapshot_doc<'a>(
    snap: &'a mut Option<AutoCommit>,
    bytes: &[u8],
) -> std::result::Result<&'a mut AutoCommit, String> {
    if snap.is_none() {
        *snap = Some(super::sequence::load_snapshot(bytes)?);
    }
    snap.as_mut()
        .ok_or_else(|| "it could not be loaded".to_string())
}

/// Try again the waiting changes of `doc_id` (after a repair brought what they need).
pub(crate) fn retry_waiting(
    conn: &Connection,
    actor: &automerge::ActorId,
    doc_id: &str,
    now: &str,
) -> Result<IntakeReport> {
    let mut report = IntakeReport::default();
    let mut known = Known::load(conn)?;
    take_in_doc(conn, actor, doc_id, &[], now, &mut known, &mut report, None)?;
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn take_in_doc(
    conn: &Connection,
    actor: &automerge::ActorId,
    raw_doc_id: &str,
    items: &[Incoming<'_>],
    now: &str,
    known: &mut Known,
    report: &mut IntakeReport,
    alone: Option<Alone>,
) -> Result<()> {
    // Only Groundwork's own spelling of an id: another spelling of the same UUID (upper case,
    // braces, no hyphens) would be a second copy of a document the relay cannot match, e.g.
    // when it erases the document.
    let parsed = crate::ids::parse_id(raw_doc_id).ok();
    let erased = |id: &str| -> Result<bool> {
        Ok(conn
            .prepare_cached("SELECT 1 FROM erased WHERE doc_id = ?1")?
            .exists([id])?)
    };
    // An erased document takes nothing in again, under any spelling of its id: a relay that
    // still serves its changes (a stale copy) or a repair cannot bring the person back, and
    // nothing of them is kept, not even in quarantine.
    if let Some(id) = &parsed
        && erased(id)?
    {
        report.erased += items.len();
        return Ok(());
    }
    let Some(doc_id) = parsed.filter(|id| id == raw_doc_id) else {
        for item in items {
            let blob_id = groundwork_protocol::blob_id(item.blob);
            if !known.blobs.contains(&blob_id) {
                quarantine(
                    conn,
                    known,
                    raw_doc_id,
                    &blob_id,
                    None,
                    item.pusher,
                    "it is filed under a document id that is not a Groundwork id",
                    item.blob,
                    now,
                )?;
                report.quarantined += 1;
            }
        }
        return Ok(());
    };
    // Applied ahead, it is taken as it was made when nothing here would judge it otherwise:
    // the document still stored as it was applied to (or still not held), nothing waiting for
    // it, no item refused here before, no change building on one refused here (the same checks
    // this function makes below, item by item).
    if let Some(mut alone) = alone
        && !known.waiting_docs.contains(&doc_id)
        && !alone
            .blob_ids
            .iter()
            .any(|b| known.blobs.contains(b) || known.for_room.contains(b))
        && !alone
            .accepted
            .iter()
            .flat_map(|c| c.deps())
            .any(|d| known.hashes.contains(&d.to_string()))
        && documents::raw_bytes(conn, &doc_id)? == alone.from
    {
        report.duplicates += alone.duplicates;
        report.applied += alone.accepted.len();
        documents::save_snapshot(conn, &doc_id, alone.kind, &mut alone.doc, now)?;
        project::project(conn, &doc_id, alone.kind, &alone.doc)?;
        report.changed_docs.push(doc_id);
        return Ok(());
    }
    let (mut doc, mut kind) = match documents::load(conn, &doc_id, actor)? {
        Some(l) => (l.doc, l.kind),
        None => (docs::new_doc(actor), None),
    };
    let mut pending = if known.waiting_docs.contains(&doc_id) {
        waiting_of(conn, &doc_id)?
    } else {
        Vec::new()
    };
    for item in items {
        let blob_id = groundwork_protocol::blob_id(item.blob);
        // Refused before only for want of room: judged again now, as a change never seen.
        if known.for_room.remove(&blob_id) {
            let gone: Option<(Option<String>, bool, i64)> = conn
                .prepare_cached(
                    "DELETE FROM quarantine WHERE blob_id = ?1 AND for_room
                     RETURNING pusher_actor, change_hash IS NOT NULL, length(bytes)",
                )?
                .query_row([&blob_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            match gone {
                Some((pusher, true, _)) => known.forgot_listing(pusher),
                Some((pusher, false, kept)) => known.refusals.removed(pusher, kept),
                None => {}
            }
        }
        if known.blobs.contains(&blob_id) {
            // Refused here before: served again, its blob was noted as held again.
            compaction::not_held(conn, &doc_id)?;
            report.duplicates += 1;
            continue;
        }
        let change = match bundle::change(item.blob) {
            Ok(c) => c,
            Err(e) => {
                quarantine(
                    conn,
                    known,
                    &doc_id,
                    &blob_id,
                    None,
                    item.pusher,
                    &format!("it is not an Automerge change ({e})"),
                    item.blob,
                    now,
                )?;
                report.quarantined += 1;
                continue;
            }
        };
        let hash = change.hash();
        if holds(&mut doc, &[hash]) || pending.iter().any(|p| p.change.hash() == hash) {
            report.duplicates += 1;
            continue;
        }
        if let Some(p) = item.pusher
            && !p.actor.is_empty()
            && change.actor_id().to_bytes() != p.actor.as_slice()
        {
            let reason = format!(
                "it is written as device {} but was pushed by {} ({}): no device may write as another",
                change.actor_id().to_hex_string(),
                p.name,
                hex(&p.actor)
            );
            quarantine(
                conn,
                known,
                &doc_id,
                &blob_id,
                Some(&hash),
                item.pusher,
                &reason,
                item.blob,
                now,
            )?;
            report.quarantined += 1;
            continue;
        }
        pending.push(Candidate {
            change,
            blob_id,
            pusher: item.pusher.cloned(),
            bytes: item.blob.to_vec(),
            from_waiting: false,
        });
    }

    let mut accepted: Vec<Change> = Vec::new();
    // Counted only when there is something to judge (a page often brings only duplicates).
    let mut seqs = if pending.is_empty() {
        Sequences::default()
    } else {
        Sequences::of(&mut doc)
    };
    loop {
        let mut progressed = false;
        let mut i = 0;
        while i < pending.len() {
            let deps: Vec<ChangeHash> = pending[i].change.deps().to_vec();
            if let Some(bad) = deps
                .iter()
                .map(ToString::to_string)
                .find(|d| known.hashes.contains(d))
            {
                let c = pending.remove(i);
                let reason =
                    format!("it builds on change {bad}, which was refused, so it is refused too");
                refuse(conn, known, &doc_id, &c, &reason, now)?;
                report.quarantined += 1;
                progressed = true;
                continue;
            }
            if !holds(&mut doc, &deps) {
                i += 1;
                continue;
            }
            let c = pending.remove(i);
            progressed = true;
            if holds(&mut doc, &[c.change.hash()]) {
                // A change set waiting that the document holds since (a snapshot brought it):
                // nothing to judge. Judged again, its writer's count was past it, and the
                // honest change was refused as numbered out of turn, with the snapshot after it
                // (found by the reordering relay's property test, 2026-12-05).
                if c.from_waiting {
                    unwait(conn, known, &c)?;
                }
                report.duplicates += 1;
                continue;
            }
            match judge_and_apply(&mut doc, &mut seqs, &doc_id, kind, &c.change) {
                Ok(k) => {
                    kind = Some(k);
                    accepted.push(c.change.clone());
                    report.applied += 1;
                    if c.from_waiting {
                        unwait(conn, known, &c)?;
                    }
                }
                Err(reason) => {
                    refuse(conn, known, &doc_id, &c, &reason, now)?;
                    report.quarantined += 1;
                    // The document as saved before this batch (saved only at the end).
                    let saved = documents::raw_bytes(conn, &doc_id)?;
                    doc = rebuild(saved.as_deref(), actor, &accepted, &doc_id)?;
                }
            }
        }
        if !progressed {
            break;
        }
    }
    for c in &pending {
        if c.from_waiting {
            report.waiting += 1;
            continue;
        }
        if known.waiting >= known.max_waiting
            && !known.made_room(conn, c.pusher.as_ref(), now, report)?
        {
            refuse_for_room(conn, known, &doc_id, c, now)?;
            report.quarantined += 1;
            continue;
        }
        let added = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO waiting
                     (change_hash, doc_id, blob_id, pusher_actor, pusher_name, bytes, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute((
                c.change.hash().to_string(),
                &doc_id,
                &c.blob_id,
                c.pusher.as_ref().map(|p| hex(&p.actor)),
                c.pusher.as_ref().map(|p| p.name.as_str()),
                &c.bytes,
                now,
            ))?;
        if added > 0 {
            known.count_waiting(c.pusher.as_ref().map(|p| hex(&p.actor)), 1);
        }
        report.waiting += 1;
    }
    if !accepted.is_empty() {
        documents::save_snapshot(conn, &doc_id, kind, &mut doc, now)?;
        project::project(conn, &doc_id, kind, &doc)?;
        report.changed_docs.push(doc_id);
    }
    Ok(())
}

/// Apply `change` to `doc` (its changes numbered in `seqs`) if it passes the checks; returns
/// the document's kind. On `Err` the document may hold the refused change: the caller
/// rebuilds it (`seqs` counts only what passed).
fn judge_and_apply(
    doc: &mut AutoCommit,
    seqs: &mut Sequences,
    doc_id: &str,
    kind: Option<DocKind>,
    change: &Change,
) -> std::result::Result<DocKind, String> {
    let first = change.deps().is_empty();
    if first && !doc.get_heads().is_empty() {
        return Err("it starts the document over, but the document already exists".into());
    }
    // Before Automerge sees it: it panics on a change numbered out of turn.
    seqs.check(change)?;
    let walk_list = (kind == Some(DocKind::WalkList)).then_some(&*doc);
    check::check_ops(change, first, walk_list)?;
    let mut heads = doc.get_heads();
    let mut deps = change.deps().to_vec();
    heads.sort();
    deps.sort();
    let on_top = heads == deps;
    let hash = change.hash();
    doc.apply_changes([change.clone()])
        .map_err(|e| format!("Automerge cannot apply it ({e})"))?;
    let judged = if on_top {
        check::check_state(doc, doc_id, kind)
    } else {
        // Concurrent with changes here: judge it by the document as its writer saw it.
        let at = doc
            .fork_at(&[hash])
            .map_err(|e| format!("cannot read the document at this change ({e})"))?;
        check::check_state(&at, doc_id, kind)
    }?;
    seqs.note(change);
    Ok(judged)
}

/// The document as saved before this batch, plus the changes of the batch accepted so far.
fn rebuild(
    saved: Option<&[u8]>,
    actor: &automerge::ActorId,
    accepted: &[Change],
    doc_id: &str,
) -> Result<AutoCommit> {
    let mut doc = match saved {
        Some(bytes) => AutoCommit::load(bytes)
            .map_err(|e| crate::error::Error::BadDocument {
                doc_id: doc_id.to_string(),
                reason: e.to_string(),
            })?
            .with_actor(actor.clone()),
        None => docs::new_doc(actor),
    };
    doc.apply_changes(accepted.iter().cloned())?;
    Ok(doc)
}

fn refuse(
    conn: &Connection,
    known: &mut Known,
    doc_id: &str,
    c: &Candidate,
    reason: &str,
    now: &str,
) -> Result<()> {
    quarantine(
        conn,
        known,
        doc_id,
        &c.blob_id,
        Some(&c.change.hash()),
        c.pusher.as_ref(),
        reason,
        &c.bytes,
        now,
    )?;
    if c.from_waiting {
        unwait(conn, known, c)?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn quarantine(
    conn: &Connection,
    known: &mut Known,
    doc_id: &str,
    blob_id: &str,
    hash: Option<&ChangeHash>,
    pusher: Option<&Pusher>,
    reason: &str,
    bytes: &[u8],
    now: &str,
) -> Result<()> {
    known.blobs.insert(blob_id.to_string());
    known.hashes.extend(hash.map(ToString::to_string));
    compaction::not_held(conn, doc_id)?;
    match refused::listing(conn, blob_id)? {
        // Judged before: the verdict stands.
        Some(listing) if !listing.for_room => return Ok(()),
        // A refusal for want of room under the same id is no judgement: this one takes its
        // place.
        Some(listing) => {
            conn.prepare_cached("DELETE FROM quarantine WHERE blob_id = ?1")?
                .execute([blob_id])?;
            known.for_room.remove(blob_id);
            if listing.refused_to_wait {
                known.forgot_listing(listing.pusher);
            } else {
                known.refusals.removed(listing.pusher, listing.kept);
            }
        }
        None => {}
    }
    let actor = pusher.map(|p| hex(&p.actor));
    if !known.refusals.room_for(conn, &actor)? {
        // Not listed: the list is full and this device lists the most of it.
        return Ok(());
    }
    let kept = known.refusals.evidence(bytes);
    conn.prepare_cached(
        "INSERT INTO quarantine
             (blob_id, doc_id, change_hash, pusher_actor, pusher_name, reason, bytes, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute((
        blob_id,
        doc_id,
        hash.map(ToString::to_string),
        &actor,
        pusher.map(|p| p.name.as_str()),
        reason,
        kept,
        now,
    ))?;
    known.refusals.added(actor, kept.len());
    Ok(())
}

/// Quarantine a pulled blob that could not be opened (see [`super::keys`]); `false` when it
/// was already quarantined. `for_room`: refused only because the room for blobs waiting for a
/// key was full, so judged again if served again (listed without its bytes, which nothing here
/// read again). Listed only if `refusals` has room ([`super::refused`]).
pub(crate) fn quarantine_unopened(
    conn: &Connection,
    refusals: &mut Refusals,
    c: &Incoming<'_>,
    reason: &str,
    now: &str,
    for_room: bool,
) -> Result<bool> {
    let blob_id = groundwork_protocol::blob_id(c.blob);
    if refused::listing(conn, &blob_id)?.is_some() {
        return Ok(false);
    }
    let actor = c.pusher.map(|p| hex(&p.actor));
    if !refusals.room_for(conn, &actor)? {
        // Refused, not listed: the list is full and this device lists the most of it.
        return Ok(true);
    }
    let kept = if for_room {
        &[][..]
    } else {
        refusals.evidence(c.blob)
    };
    conn.prepare_cached(
        "INSERT INTO quarantine
             (blob_id, doc_id, change_hash, pusher_actor, pusher_name, reason, bytes,
              received_at, for_room)
         VALUES (?1, ?2, NULL, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute((
        &blob_id,
        c.doc_id,
        &actor,
        c.pusher.map(|p| p.name.as_str()),
        reason,
        kept,
        now,
        for_room,
    ))?;
    refusals.added(actor, kept.len());
    Ok(true)
}

/// Bytes of lower-case hex text, `None` if it is not.
pub(crate) fn unhex_strict(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            let pair = s.get(i..i + 2)?;
            pair.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                .then(|| u8::from_str_radix(pair, 16).ok())
                .flatten()
        })
        .collect()
}

/// `c` leaves the room of waiting changes.
fn unwait(conn: &Connection, known: &mut Known, c: &Candidate) -> Result<()> {
    let gone = conn
        .prepare_cached("DELETE FROM waiting WHERE change_hash = ?1")?
        .execute([c.change.hash().to_string()])?;
    if gone > 0 {
        known.count_waiting(c.pusher.as_ref().map(|p| hex(&p.actor)), -(gone as i64));
    }
    Ok(())
}

/// `c` must wait and the room is full: refused for want of room, not judged (its dependants
/// wait rather than being refused with it, and served again it is judged again).
fn refuse_for_room(
    conn: &Connection,
    known: &mut Known,
    doc_id: &str,
    c: &Candidate,
    now: &str,
) -> Result<()> {
    let reason = format!(
        "it depends on changes that have not arrived, and more than {} changes already wait \
         for theirs here, no more of them pushed by any other device than by this one; it is \
         asked for again later",
        known.max_waiting
    );
    compaction::not_held(conn, doc_id)?;
    let pusher = c.pusher.as_ref().map(|p| hex(&p.actor));
    if !known.room_in_list(conn, &pusher)? {
        // Not listed: the list is full and this device keeps the most of it.
        return Ok(());
    }
    // Kept without its bytes (see `Known::made_room`).
    let added = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO quarantine
             (blob_id, doc_id, change_hash, pusher_actor, pusher_name, reason, bytes, received_at,
              for_room)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, x'', ?7, 1)",
        )?
        .execute((
            &c.blob_id,
            doc_id,
            c.change.hash().to_string(),
            c.pusher.as_ref().map(|p| hex(&p.actor)),
            c.pusher.as_ref().map(|p| p.name.as_str()),
            &reason,
            now,
        ))?;
    known.for_room.insert(c.blob_id.clone());
    known.count_listed(pusher, i64::try_from(added).unwrap_or(0));
    Ok(())
}

/// Refusals for want of room of changes that `doc_id` now holds (a snapshot brought them) are
/// forgotten: they were no judgement, and the change is here.
fn forget_held_refusals_for_room(
    conn: &Connection,
    known: &mut Known,
    doc_id: &str,
    actor: &automerge::ActorId,
) -> Result<()> {
    if known.for_room.is_empty() {
        return Ok(());
    }
    let refused: Vec<(String, String, Option<String>)> = conn
        .prepare_cached(
            "SELECT blob_id, change_hash, pusher_actor FROM quarantine
             WHERE doc_id = ?1 AND for_room AND change_hash IS NOT NULL",
        )?
        .query_map([doc_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<std::result::Result<_, _>>()?;
    if refused.is_empty() {
        return Ok(());
    }
    let Some(mut doc) = documents::load(conn, doc_id, actor)?.map(|l| l.doc) else {
        return Ok(());
    };
    for (blob_id, hash, pusher) in refused {
        if let Ok(h) = hash.parse::<ChangeHash>()
            && holds(&mut doc, &[h])
        {
            conn.prepare_cached("DELETE FROM quarantine WHERE blob_id = ?1 AND for_room")?
                .execute([&blob_id])?;
            known.for_room.remove(&blob_id);
            known.forgot_listing(pusher);
        }
    }
    Ok(())
}

/// The waiting changes of a document, oldest first.
fn waiting_of(conn: &Connection, doc_id: &str) -> Result<Vec<Candidate>> {
    let mut stmt = conn.prepare_cached(
        "SELECT blob_id, pusher_actor, pusher_name, bytes FROM waiting
         WHERE doc_id = ?1 ORDER BY rowid",
    )?;
    let rows = stmt.query_map([doc_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Vec<u8>>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for row in rows {
        let (blob_id, actor, name, bytes) = row?;
        // Rows were parsed before they were stored; a row that no longer parses is skipped.
        let Ok(change) = bundle::change(&bytes) else {
            continue;
        };
        if !seen.insert(change.hash()) {
            continue;
        }
        let pusher = match (actor, name) {
            (Some(a), Some(n)) => Some(Pusher {
                actor: unhex(&a),
                name: n,
            }),
            _ => None,
        };
        out.push(Candidate {
            change,
            blob_id,
            pusher,
            bytes,
            from_waiting: true,
        });
    }
    Ok(out)
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| s.get(2 * i..2 * i + 2))
        .filter_map(|b| u8::from_str_radix(b, 16).ok())
        .collect()
}

/// Every quarantined change, newest first.
pub(crate) fn quarantined(conn: &Connection) -> Result<Vec<Quarantined>> {
    let mut stmt = conn.prepare_cached(
        "SELECT blob_id, doc_id, change_hash, pusher_name, pusher_actor, reason, received_at
         FROM quarantine ORDER BY received_at DESC, rowid DESC",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Quarantined {
            blob_id: r.get(0)?,
            doc_id: r.get(1)?,
            change_hash: r.get(2)?,
            pushed_by: r.get(3)?,
            pusher_actor: r.get(4)?,
            reason: r.get(5)?,
            received_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?)
}

/// How many changes wait, and the documents they belong to.
pub(crate) fn waiting_docs(conn: &Connection) -> Result<Vec<(String, usize)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT doc_id, count(*) FROM waiting GROUP BY doc_id ORDER BY min(rowid)",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as usize)))?;
    Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?)
}
