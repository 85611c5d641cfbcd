//! Opening sealed blobs pulled from the relay, before intake judges the changes inside.
//!
//! A pulled blob of a sealed team is opened (AES-SIV under the team key of its epoch, bound to
//! team and document), then its signature is checked against its writer's signing key: a
//! change's writer is its Automerge actor, whose key comes from the first member record seen
//! for that actor; a member record is signed by the key it names; an epoch record by the
//! member it names as its maker; a push record by the device it is filed under. Records are
//! taken in here. Whatever fails is quarantined with the reason, never applied, and never
//! hides the honest changes beside it; what cannot be judged yet (its writer's key or its
//! epoch's record has not come) waits, sealed. Blobs are taken in in the relay's order, so an
//! epoch record is a cut-off: after it, nothing written as a device it revokes is taken in.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension};

use super::ahead::{self, Ahead, Loaded};
use super::bundle;
use super::compaction::{self, Snapshot};
use super::elsewhere::{self, DoneElsewhere};
use super::intake::{self, Incoming, Pusher};
use super::keys::{Member, device_key, members, sealed, team_id};
use super::refused::Refusals;
use super::room::{self, Room};
use super::withheld;
use crate::crypto::epoch::{self, EPOCH_DOC_PREFIX, EpochRecord, epoch_of_doc};
use crate::crypto::keys::{DeviceKey, Keyring, MEMBER_DOC_PREFIX, MemberRecord};
use crate::crypto::pushlog::{PUSH_DOC_PREFIX, PushRecord, push_of_doc};
use crate::crypto::trust::{self, LEAD_DOC_PREFIX, LeadRecord, TrustedRole};
use crate::crypto::{CryptoError, seal};
use crate::error::{Error, Result};

/// A pulled change, opened.
pub(crate) struct Opened {
    doc_id: String,
    content: Vec<u8>,
    pusher: Option<Pusher>,
}

/// A pulled snapshot (see [`super::compaction`]), opened and its signature checked.
pub(crate) struct OpenedSnapshot {
    pub(crate) doc_id: String,
    pub(crate) snapshot: Snapshot,
    pub(crate) blob: Vec<u8>,
    pub(crate) pusher: Option<Pusher>,
    /// Its document loaded and read ahead ([`super::ahead::load`]), once it is.
    pub(crate) loaded: Option<Loaded>,
}

/// What a blob holds once opened.
enum Content {
    /// Changes, all by the device that signed the blob (its actor in hex).
    Changes(Vec<Vec<u8>>, String),
    /// A snapshot of the document, and its document as read in another worker (when it was).
    Snapshot(Snapshot, Option<Box<Loaded>>),
    /// A snapshot the relay did not place as a lead's: nothing to take in (its document's
    /// blobs reach this device themselves).
    Unplaced,
}

impl Opened {
    pub(crate) fn incoming(&self) -> Incoming<'_> {
        Incoming {
            doc_id: &self.doc_id,
            blob: &self.content,
            pusher: self.pusher.as_ref(),
            snapshot: false,
        }
    }
}

/// What opening needs, loaded once per batch.
struct Opener {
    team: String,
    me: String,
    ring: Arc<Keyring>,
    /// A key was added to `ring` during the batch: blobs opened ahead with the ring it began
    /// with are opened again.
    ring_grew: bool,
    device: DeviceKey,
    members: HashMap<String, Member>,
    /// A record taken in since the blobs kept waiting were last tried may let them be judged
    /// now: a writer's member record, an epoch record (a key, or revocations), or a push
    /// record of a revoked device (its cut-off). Push records of others free nothing, and
    /// trying every waiting blob again after each (one a page) made a first sync quadratic
    /// when many blobs waited for one late member record.
    unblocked: bool,
    /// Most changes kept waiting for a key ([`MAX_AWAITING`] unless a test set fewer).
    max_awaiting: usize,
    /// How many blobs wait for a key, by pusher (actor hex), read once the room is first
    /// found full in this page and kept up to date with what the page adds and frees: so that
    /// a flood of blobs that must wait costs no scan of the waiting room each ([`make_room`]).
    waiting_by_pusher: Option<room::Counts>,
    /// The team's anchor (its first lead's signing key); `None` in a team from before the
    /// root of trust, where roles are the relay's word.
    anchor: Option<Vec<u8>>,
    /// Blob ids refused only for want of room (usually none): served again, such a blob is
    /// judged again, its refusal forgotten first.
    refused_for_room: HashSet<String>,
    /// The list of refusals, bounded ([`super::refused`]).
    refusals: Refusals,
}

/// What a sealed page opened to.
pub(crate) struct OpenedPage {
    /// Changes for intake, in the page's order.
    pub(crate) changes: Vec<Opened>,
    /// Snapshots for intake.
    pub(crate) snapshots: Vec<OpenedSnapshot>,
    /// Blobs refused here (quarantined).
    pub(crate) quarantined: usize,
}

/// Open `changes` for intake when the team is sealed: `None` when it is not (they go to intake
/// as they are). Member and epoch records are taken in here; what fails is quarantined
/// (counted in the returned number).
pub(crate) fn open_pulled(
    conn: &Connection,
    keys: &super::keys_cache::KeysCache,
    me: &str,
    changes: &[Incoming<'_>],
    now: &str,
    elsewhere: Option<DoneElsewhere>,
) -> Result<Option<OpenedPage>> {
    if !sealed(conn)? {
        return Ok(None);
    }
    let Some(team) = team_id(conn)? else {
        return Ok(None);
    };
    let mut opener = Opener {
        team,
        me: me.to_string(),
        ring: keys.keyring(conn)?,
        ring_grew: false,
        device: device_key(conn)?,
        members: members(conn)?,
        unblocked: false,
        max_awaiting: super::meta_get(conn, MAX_AWAITING_KEY)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(MAX_AWAITING),
        waiting_by_pusher: None,
        anchor: super::trust::anchor(conn)?,
        refused_for_room: refused_for_room(conn)?,
        refusals: Refusals::load(conn)?,
    };
    let mut out = Outcome::default();
    // Work done in other workers (the phone's helpers), taken only when it was computed from
    // what this page starts from.
    let mut found = match elsewhere {
        Some(done) => {
            let start = ahead::Start {
                team: &opener.team,
                ring: &opener.ring,
                members: &opener.members,
            };
            elsewhere::taken(done, &elsewhere::start_bytes(&start)?, changes)
        }
        None => None,
    };
    if let Some(found) = &found {
        ahead::opened_elsewhere(found.iter().filter(|a| a.was_opened()).count());
    }
    // A window at a time, so that a page's blobs are not all held opened at once.
    for (w, window) in changes.chunks(ahead::WINDOW).enumerate() {
        let worked = match &mut found {
            Some(found) => {
                let from = w * ahead::WINDOW;
                found[from..from + window.len()]
                    .iter_mut()
                    .map(std::mem::take)
                    .collect()
            }
            None => {
                let start = ahead::Start {
                    team: &opener.team,
                    ring: &opener.ring,
                    members: &opener.members,
                };
                ahead::prepare(&start, window)
            }
        };
        for (c, done) in window.iter().zip(worked) {
            withheld::note_received(conn, c.blob)?;
            opener.forget_refusal_for_room(conn, c)?;
            opener.judge(conn, c, now, &mut out, done)?;
        }
    }
    // What waited for a writer's key or a key record may be judged now; each round that takes
    // such a record in may free more.
    // One blob read at a time: what waits may be up to the room's count of the largest blobs
    // a relay takes, which read at once asked a phone for that much memory at every record.
    while std::mem::take(&mut opener.unblocked) {
        let ids = awaiting_ids(conn)?;
        if ids.is_empty() {
            break;
        }
        for id in &ids {
            // Gone meanwhile (refused to make room): nothing to judge.
            let Some(w) = awaiting_one(conn, id)? else {
                continue;
            };
            let freed = conn
                .prepare_cached("DELETE FROM awaiting_key WHERE blob_id = ?1")?
                .execute([&w.blob_id])?;
            if freed > 0 {
                opener.count_waiting(w.pusher.as_ref(), -1);
            }
            let c = Incoming {
                doc_id: &w.doc_id,
                blob: &w.blob,
                pusher: w.pusher.as_ref(),
                snapshot: w.snapshot,
            };
            opener.judge(conn, &c, now, &mut out, Ahead::default())?;
        }
    }
    // An epoch record's key was stored: the keys have a new version, with the page's writes.
    if opener.ring_grew {
        super::keys_cache::keys_changed(conn)?;
    }
    Ok(Some(OpenedPage {
        changes: out.opened,
        snapshots: out.snapshots,
        quarantined: out.quarantined,
    }))
}

/// Sealed blobs quarantined only for want of room to wait for a key.
fn refused_for_room(conn: &Connection) -> Result<HashSet<String>> {
    // Sealed blobs' refusals only (no change hash): intake's, of opened changes, are its own.
    let mut stmt = conn
        .prepare_cached("SELECT blob_id FROM quarantine WHERE for_room AND change_hash IS NULL")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Most changes kept waiting for a key: beyond, a relay serving blobs for keys that never come
/// gets them quarantined (counted and listed) instead of growing the queue without end.
const MAX_AWAITING: usize = 20_000;

/// The `meta` key under which a test sets a lower bound than [`MAX_AWAITING`].
pub(crate) const MAX_AWAITING_KEY: &str = "max_awaiting";

/// What a batch gave.
#[derive(Default)]
struct Outcome {
    opened: Vec<Opened>,
    snapshots: Vec<OpenedSnapshot>,
    quarantined: usize,
}

/// A sealed change kept until it can be judged.
struct Awaiting {
    blob_id: String,
    doc_id: String,
    blob: Vec<u8>,
    pusher: Option<Pusher>,
    snapshot: bool,
}

/// The blobs waiting for a key, oldest first.
fn awaiting_ids(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT blob_id FROM awaiting_key ORDER BY received_at, rowid")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// The waiting blob `blob_id`, if it still waits.
fn awaiting_one(conn: &Connection, blob_id: &str) -> Result<Option<Awaiting>> {
    let mut stmt = conn.prepare_cached(
        "SELECT blob_id, doc_id, blob, pusher_actor, pusher_name, snapshot FROM awaiting_key
         WHERE blob_id = ?1",
    )?;
    let mut rows = stmt.query_map([blob_id], |r| {
        let actor: Option<String> = r.get(3)?;
        let name: Option<String> = r.get(4)?;
        Ok(Awaiting {
            blob_id: r.get(0)?,
            doc_id: r.get(1)?,
            blob: r.get(2)?,
            pusher: actor.map(|a| Pusher {
                actor: intake::unhex_strict(&a).unwrap_or_default(),
                name: name.unwrap_or_default(),
            }),
            snapshot: r.get(5)?,
        })
    })?;
    Ok(rows.next().transpose()?)
}

/// Refuse the oldest blob `top` keeps waiting, to make room for another's (listed without its
/// bytes, if `refusals` has room: nothing here tried such a blob again from its bytes, and
/// served again it is judged again); whether one was.
fn evict_oldest(
    conn: &Connection,
    refusals: &mut Refusals,
    top: &Option<String>,
    max: usize,
    now: &str,
) -> Result<bool> {
    let reason = format!(
        "it waited for a key with more than {max} other changes, most of them pushed by the same \
         device, and made room for a change pushed by another"
    );
    if refusals.room_for(conn, top)? {
        let added = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO quarantine
                     (blob_id, doc_id, change_hash, pusher_actor, pusher_name, reason, bytes,
                      received_at, for_room)
                 SELECT blob_id, doc_id, NULL, pusher_actor, pusher_name, ?2, x'', ?3, 1
                 FROM awaiting_key
                 WHERE rowid = (SELECT min(rowid) FROM awaiting_key WHERE pusher_actor IS ?1)",
            )?
            .execute((top, &reason, now))?;
        if added > 0 {
            refusals.added(top.clone(), 0);
        }
    }
    let gone = conn
        .prepare_cached(
            "DELETE FROM awaiting_key
             WHERE rowid = (SELECT min(rowid) FROM awaiting_key WHERE pusher_actor IS ?1)",
        )?
        .execute([top])?;
    Ok(gone > 0)
}

/// How many pulled changes wait for a writer's key or a key record.
pub(crate) fn awaiting_count(conn: &Connection) -> Result<usize> {
    Ok(conn
        .query_row("SELECT count(*) FROM awaiting_key", [], |r| {
            r.get::<_, i64>(0)
        })?
        .max(0) as usize)
}

/// Why a pulled blob is refused; `wait` when it may be judged later (its writer's key or its
/// epoch's key has not arrived yet).
struct Refused {
    reason: String,
    wait: bool,
    /// The notebook could not be read or written while judging it: nothing is said against
    /// the blob, and the whole page fails (its transaction rolled back, its cursor not moved)
    /// rather than the blob being refused for good on a full disk.
    fault: Option<Box<Error>>,
}

impl From<String> for Refused {
    fn from(reason: String) -> Self {
        Refused {
            reason,
            wait: false,
            fault: None,
        }
    }
}

/// The device the relay says pushed `c`, when that is not `actor` (hex): records and snapshots
/// speak for the device that made them, and no device may speak for another.
fn other_pusher<'a>(c: &Incoming<'a>, actor: &str) -> Option<&'a Pusher> {
    c.pusher
        .filter(|p| !p.actor.is_empty() && intake::hex(&p.actor) != actor)
}

fn later(reason: String) -> Refused {
    Refused {
        wait: true,
        ..Refused::from(reason)
    }
}

fn sql_error(e: Error) -> Refused {
    // A constraint, a value too large or of the wrong type: what the blob holds could not be
    // recorded, which is said against it. Anything else (a full disk, an I/O error, no memory,
    // a busy file) is the device's own trouble.
    let said_against_it = matches!(
        &e,
        Error::Sqlite(rusqlite::Error::SqliteFailure(f, _))
            if matches!(
                f.code,
                rusqlite::ErrorCode::ConstraintViolation
                    | rusqlite::ErrorCode::TooBig
                    | rusqlite::ErrorCode::TypeMismatch
            )
    );
    if said_against_it {
        return Refused::from(format!("it could not be recorded ({e})"));
    }
    Refused {
        fault: Some(Box::new(e)),
        ..Refused::from("this device could not read or write its notebook".to_string())
    }
}

fn sql(e: rusqlite::Error) -> Refused {
    sql_error(e.into())
}

impl Opener {
    /// Judge `c`: opened (added to `out`), taken in (a record: `true`), kept to be judged
    /// later, or quarantined.
    fn judge(
        &mut self,
        conn: &Connection,
        c: &Incoming<'_>,
        now: &str,
        out: &mut Outcome,
        done: Ahead,
    ) -> Result<bool> {
        // Nothing of an erased person is kept again, not even sealed or in quarantine, whatever
        // spelling of their id a blob is filed under (upper case, braces, no hyphens: a hostile
        // member's way to keep bytes of theirs here under a key erasure did not cut).
        if !crate::crypto::is_key_record(c.doc_id) {
            let canonical = crate::ids::parse_id(c.doc_id).ok();
            if conn
                .prepare_cached("SELECT 1 FROM erased WHERE doc_id = ?1 OR doc_id IS ?2")?
                .exists((c.doc_id, canonical))?
            {
                return Ok(false);
            }
        }
        match self.open_one(conn, c, now, done) {
            Ok(Some(Content::Snapshot(snapshot, loaded))) => {
                let pusher = other_pusher(c, &intake::hex(&snapshot.writer))
                    .is_none()
                    .then_some(c.pusher)
                    .flatten();
                out.snapshots.push(OpenedSnapshot {
                    doc_id: c.doc_id.to_string(),
                    snapshot,
                    blob: c.blob.to_vec(),
                    pusher: pusher.cloned(),
                    loaded: loaded.map(|l| *l),
                });
                Ok(false)
            }
            Ok(Some(Content::Unplaced)) => Ok(false),
            Ok(Some(Content::Changes(changes, writer))) => {
                compaction::note_blob(
                    conn,
                    c.doc_id,
                    compaction::tag_of_blob(c.blob),
                    changes.len(),
                )?;
                // The writer's signature held: a relay that names another device as the one
                // that pushed the blob is wrong (or lying), and its word is dropped rather than
                // refusing an honest change for it (refused, the change would stay refused
                // here even when served again rightly).
                let pusher = c
                    .pusher
                    .filter(|p| p.actor.is_empty() || intake::hex(&p.actor) == writer);
                out.opened.extend(changes.into_iter().map(|content| Opened {
                    doc_id: c.doc_id.to_string(),
                    content,
                    pusher: pusher.cloned(),
                }));
                Ok(false)
            }
            Ok(None) => Ok(true),
            Err(Refused { wait: true, .. })
                if awaiting_count(conn)? < self.max_awaiting
                    || self.made_room(conn, c.pusher, now, out)? =>
            {
                let added = conn
                    .prepare_cached(
                        "INSERT OR IGNORE INTO awaiting_key
                         (blob_id, doc_id, blob, pusher_actor, pusher_name, received_at, snapshot)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )?
                    .execute((
                        groundwork_protocol::blob_id(c.blob),
                        c.doc_id,
                        c.blob,
                        c.pusher.map(|p| intake::hex(&p.actor)),
                        c.pusher.map(|p| p.name.as_str()),
                        now,
                        c.snapshot,
                    ))?;
                if added > 0 {
                    self.count_waiting(c.pusher, 1);
                }
                Ok(false)
            }
            Err(Refused { fault: Some(e), .. }) => Err(*e),
            Err(Refused { reason, wait, .. }) => {
                let reason = if wait {
                    format!(
                        "{reason}; and more than {} changes already wait for keys here",
                        self.max_awaiting
                    )
                } else {
                    reason
                };
                // Kept as the sealed bytes that came, never as the content inside: a refusal
                // remembered by its content would make an honest copy of the same change,
                // sealed and signed by its real writer, look like a duplicate of it.
                if intake::quarantine_unopened(conn, &mut self.refusals, c, &reason, now, wait)? {
                    out.quarantined += 1;
                }
                Ok(false)
            }
        }
    }

    /// When the blobs waiting for a key fill their room: refuse the oldest blob of the device
    /// that keeps the most of them waiting, if that is another than `pusher` and it keeps more
    /// than `pusher` would with this one (counting the refusal in `out`). A blob's key cannot be
    /// checked before it comes, so anyone can push blobs that wait for ever (a key number no
    /// team has); without this, one member's junk filled the room and every honest blob that
    /// had to wait (a late-joined lead's snapshots, before its member record) was refused for
    /// good. Now a device can fill at most half of it while another needs room. Returns whether
    /// room was made.
    fn made_room(
        &mut self,
        conn: &Connection,
        pusher: Option<&Pusher>,
        now: &str,
        out: &mut Outcome,
    ) -> Result<bool> {
        let counts = match &mut self.waiting_by_pusher {
            Some(counts) => counts,
            none => none.insert(room::counts(conn, Room::AwaitingKey)?),
        };
        let me = pusher.map(|p| intake::hex(&p.actor));
        let Some(top) = room::gives_way(counts, &me) else {
            return Ok(false);
        };
        let made = evict_oldest(conn, &mut self.refusals, &top, self.max_awaiting, now)?;
        if made {
            self.count_waiting_of(top, -1);
            out.quarantined += 1;
        }
        Ok(made)
    }

    /// `c` was refused here only for want of room: forget the refusal, so that it is judged
    /// again as a blob never seen (and quarantined again if there is still no room).
    fn forget_refusal_for_room(&mut self, conn: &Connection, c: &Incoming<'_>) -> Result<()> {
        if self.refused_for_room.is_empty() {
            return Ok(());
        }
        let blob_id = groundwork_protocol::blob_id(c.blob);
        if self.refused_for_room.remove(&blob_id) {
            let gone: Option<(Option<String>, i64)> = conn
                .prepare_cached(
                    "DELETE FROM quarantine WHERE blob_id = ?1 AND for_room
                     RETURNING pusher_actor, length(bytes)",
                )?
                .query_row([&blob_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((pusher, kept)) = gone {
                self.refusals.removed(pusher, kept);
            }
        }
        Ok(())
    }

    /// Note `delta` more blobs of `pusher` waiting for a key (once the counts are read).
    fn count_waiting(&mut self, pusher: Option<&Pusher>, delta: i64) {
        self.count_waiting_of(pusher.map(|p| intake::hex(&p.actor)), delta);
    }

    /// [`Opener::count_waiting`] by the pusher's actor in hex.
    fn count_waiting_of(&mut self, actor: Option<String>, delta: i64) {
        room::count(&mut self.waiting_by_pusher, actor, delta);
    }

    /// The changes inside `c` (one, or a document's changes sealed together: all written by
    /// the device that signed them), `None` for a member or epoch record (taken in here), or
    /// why it is refused.
    fn open_one(
        &mut self,
        conn: &Connection,
        c: &Incoming<'_>,
        now: &str,
        mut done: Ahead,
    ) -> std::result::Result<Option<Content>, Refused> {
        // A snapshot's reading done elsewhere goes with the content it was read from.
        let (opened, read) = match done.take_opened(c.blob).filter(|_| !self.ring_grew) {
            Some(opened) => (opened, done.take_read(c.blob)),
            None => (
                seal::open(&self.team, c.doc_id, &self.ring, c.blob).map_err(|e| match e {
                    CryptoError::UnknownEpoch(_) => later(e.to_string()),
                    e => Refused::from(e.to_string()),
                })?,
                None,
            ),
        };
        let content = opened.content;
        let refuse = Refused::from;
        if let Some(actor) = c.doc_id.strip_prefix(MEMBER_DOC_PREFIX) {
            self.take_member(conn, c, actor, &content, now)?;
            return Ok(None);
        }
        if let Some(actor) = c.doc_id.strip_prefix(LEAD_DOC_PREFIX) {
            self.take_lead(conn, c, actor, &content)?;
            return Ok(None);
        }
        if let Some(epoch) = epoch_of_doc(c.doc_id) {
            if opened.epoch.checked_add(1) != Some(epoch) {
                return Err(refuse(format!(
                    "it is the record of key {epoch} but sealed under key {}",
                    opened.epoch
                )));
            }
            self.take_epoch(conn, c, epoch, &content, now)?;
            return Ok(None);
        }
        if c.doc_id.starts_with(EPOCH_DOC_PREFIX) {
            return Err(refuse(
                "it is filed as a key record with no valid number".into(),
            ));
        }
        if c.doc_id.starts_with(PUSH_DOC_PREFIX) {
            self.take_push(conn, c, &content)?;
            return Ok(None);
        }
        if compaction::is_snapshot(&content) {
            if !c.snapshot {
                return Ok(Some(Content::Unplaced));
            }
            return self
                .open_snapshot(conn, c, &content, &done)
                .map(|snapshot| Some(Content::Snapshot(snapshot, read.map(Box::new))));
        }
        let chunks = bundle::split(&content)
            .map_err(|e| refuse(format!("it is not an Automerge change ({e})")))?;
        let mut writer: Option<String> = None;
        for (i, chunk) in chunks.iter().enumerate() {
            let change = bundle::change(chunk).map_err(|e| {
                refuse(format!(
                    "its change {} is not an Automerge change ({e})",
                    i + 1
                ))
            })?;
            let actor = change.actor_id().to_hex_string();
            match &writer {
                None => writer = Some(actor),
                Some(w) if *w == actor => {}
                Some(w) => {
                    return Err(refuse(format!(
                        "it seals changes of devices {w} and {actor} together: a device seals only its own"
                    )));
                }
            }
        }
        let actor = writer.unwrap_or_default();
        let Some(member) = self.members.get(&actor) else {
            return Err(later(format!(
                "it is written by device {actor}, whose signing key this device has not received"
            )));
        };
        if !self.signed(c, &member.signing, &done) {
            return Err(refuse(format!(
                "it is written as device {actor} but not signed by that device's key: no device may write as another"
            )));
        }
        if member.revoked {
            self.within_cutoff(conn, c, &actor, member.cutoff)?;
        }
        Ok(Some(Content::Changes(chunks, actor)))
    }

    /// A snapshot: read, pushed by the device that made it, signed by that device's key, and
    /// (if it was revoked since) pushed before its cut-off.
    fn open_snapshot(
        &self,
        conn: &Connection,
        c: &Incoming<'_>,
        content: &[u8],
        done: &Ahead,
    ) -> std::result::Result<Snapshot, Refused> {
        let snapshot = compaction::decode(content).map_err(Refused::from)?;
        let actor = intake::hex(&snapshot.writer);
        // In a team whose lead's key is its root of trust, the writer's signature and its
        // role (below) say all there is to say: a relay naming another pusher is not believed
        // (the snapshot is taken in, without the relay's label). In a team from before, the
        // relay's word on who pushed it is part of what makes it a lead's.
        if self.anchor.is_none()
            && let Some(p) = other_pusher(c, &actor)
        {
            return Err(Refused::from(format!(
                "it is a snapshot made by device {actor} but pushed by {} ({}): no device may speak for another",
                p.name,
                intake::hex(&p.actor)
            )));
        }
        let Some(member) = self.members.get(&actor) else {
            return Err(later(format!(
                "it is a snapshot made by device {actor}, whose signing key this device has not received"
            )));
        };
        if !self.signed(c, &member.signing, done) {
            return Err(Refused::from(format!(
                "it is a snapshot made as device {actor} but not signed by that device's key"
            )));
        }
        if self.anchor.is_some() && member.role != Some(TrustedRole::Lead) {
            return Err(later(format!(
                "it is a snapshot made by device {actor}, which this device does not know as a team lead: only a lead's device compacts the team's history"
            )));
        }
        if member.revoked {
            self.within_cutoff(conn, c, &actor, member.cutoff)?;
        }
        Ok(snapshot)
    }

    /// Whether `c`'s signature holds for `signing` (as found ahead, when it was checked
    /// against that key).
    fn signed(&self, c: &Incoming<'_>, signing: &[u8], done: &Ahead) -> bool {
        done.signed_by(c.blob, signing).unwrap_or_else(|| {
            seal::verify_signature(&self.team, c.doc_id, c.blob, signing).is_ok()
        })
    }

    /// Take in a push record: filed under its writer and number, signed by its writer, who is
    /// not revoked.
    fn take_push(
        &mut self,
        conn: &Connection,
        c: &Incoming<'_>,
        content: &[u8],
    ) -> std::result::Result<(), Refused> {
        let Some((actor, n)) = push_of_doc(c.doc_id) else {
            return Err(Refused::from(
                "it is filed as a push record with no valid device or number".to_string(),
            ));
        };
        let record: PushRecord = serde_json::from_slice(content)
            .map_err(|e| Refused::from(format!("its push record is malformed ({e})")))?;
        if record.actor != actor || record.n != n {
            return Err(Refused::from(
                "its push record names another device or number than it is filed under".to_string(),
            ));
        }
        // Who pushed it is not asked: only the device's own key signs its push records (below),
        // and a relay naming another pusher would get an honest record refused for good.
        withheld::check_record(&record).map_err(Refused::from)?;
        let Some(member) = self.members.get(actor) else {
            return Err(later(format!(
                "it is a push record of device {actor}, whose signing key this device has not received"
            )));
        };
        seal::verify_signature(&self.team, c.doc_id, c.blob, &member.signing).map_err(|_| {
            Refused::from(format!(
                "it is a push record of device {actor} not signed by that device's key"
            ))
        })?;
        // A revoked device's records up to its cut-off say which of its blobs are taken in;
        // later ones are not needed (nothing it pushed after is taken in).
        if member.revoked && member.cutoff.is_none_or(|cut| n > cut) {
            return Ok(());
        }
        // A revoked device's records decide which of its blobs, kept waiting, are taken in.
        self.unblocked |= member.revoked;
        withheld::take_record(conn, &record, &withheld::record_id(c.blob), &self.me)
            .map_err(sql_error)
    }

    fn take_member(
        &mut self,
        conn: &Connection,
        c: &Incoming<'_>,
        actor: &str,
        content: &[u8],
        now: &str,
    ) -> std::result::Result<(), Refused> {
        let record: MemberRecord = serde_json::from_slice(content)
            .map_err(|e| format!("its member record is malformed ({e})"))?;
        let key = |hex: &str| {
            intake::unhex_strict(hex)
                .filter(|k| k.len() == 32)
                .ok_or("its member record holds no valid key")
        };
        let signing = key(&record.signing_key).map_err(|e| Refused::from(e.to_string()))?;
        let exchange = key(&record.exchange_key).map_err(|e| Refused::from(e.to_string()))?;
        if !epoch::can_wrap_to(&exchange) {
            return Err(Refused::from(
                "its member record holds an exchange key no team key can be sent to".to_string(),
            ));
        }
        if record.actor != actor {
            return Err(Refused::from(
                "its member record names another device than it is filed under".to_string(),
            ));
        }
        // Kept in every team, unlike for push records: a member record is signed by the key it
        // brings, so its signature cannot say whose actor it may claim, and an invite's
        // certificate can be shown by anyone holding that invite's secret (a link shared with a
        // group). The relay's word on who pushed it is what keeps a member from claiming an
        // honest device's actor ahead of that device's own record (the first record for an
        // actor is the one kept). A lying relay can get an honest record refused this way; it
        // could as well withhold it.
        if let Some(p) = other_pusher(c, actor) {
            return Err(Refused::from(format!(
                "it is a member record for device {actor} pushed by {} ({}): no device may speak for another",
                p.name,
                intake::hex(&p.actor)
            )));
        }
        seal::verify_signature(&self.team, c.doc_id, c.blob, &signing)
            .map_err(|e| Refused::from(e.to_string()))?;
        match self.members.get(actor) {
            Some(known) if known.signing == signing && known.exchange == exchange => {
                // This device's own record, back from the log: its invite's use is counted
                // from here, in the log's order, as every other device counts it.
                if let Some(admission) = &record.admission {
                    conn.prepare_cached(
                        "UPDATE members SET invite_key = ?2 WHERE actor = ?1 AND invite_key IS NULL",
                    )
                    .and_then(|mut s| s.execute((actor, &admission.cert.invite_key)))
                    .map_err(sql)?;
                }
                Ok(())
            }
            Some(_) => Err(Refused::from(format!(
                "it gives device {actor} other keys: the first ones stay"
            ))),
            None => {
                // One signing key, one device: a key already known under another actor (a
                // revoked lead's, the anchor's) cannot come back as a new member.
                if self.anchor.is_some() && self.members.values().any(|m| m.signing == signing) {
                    return Err(Refused::from(format!(
                        "device {actor}'s signing key is another device's: a device joins once, with its own keys"
                    )));
                }
                let (role, invite_key) = match &self.anchor {
                    None => (None, None),
                    Some(anchor) if *anchor == signing => {
                        // The first lead's key counts only under the first lead's actor.
                        let named = super::trust::anchor_actor(conn).map_err(sql_error)?;
                        if named.as_deref().is_some_and(|a| a != actor) {
                            return Err(Refused::from(format!(
                                "device {actor} carries the team's first lead's key, which belongs to another device"
                            )));
                        }
                        (Some(TrustedRole::Lead), None)
                    }
                    Some(anchor) => {
                        let (role, invite_key) =
                            self.admitted(conn, &record, &signing, &exchange, anchor)?;
                        (Some(role), Some(invite_key))
                    }
                };
                // Revoked before its record came (a relay serving the log out of order).
                let early: Option<Option<i64>> = conn
                    .prepare_cached("SELECT cutoff FROM revoked_unknown WHERE actor = ?1")
                    .and_then(|mut s| s.query_row([actor], |r| r.get(0)).optional())
                    .map_err(sql)?;
                let cutoff = early.flatten().map(|n| n.max(0) as u64);
                conn.prepare_cached(
                    "INSERT OR IGNORE INTO members
                         (actor, signing_key, exchange_key, name, device_id, seen_at, role,
                          invite_key, revoked, cutoff)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .and_then(|mut s| {
                    s.execute((
                        actor,
                        &signing,
                        &exchange,
                        &record.name,
                        &record.device_id,
                        now,
                        role.map(TrustedRole::as_str),
                        invite_key,
                        early.is_some(),
                        cutoff.map(|n| n as i64),
                    ))
                })
                .map_err(sql)?;
                self.unblocked = true;
                self.members.insert(
                    actor.to_string(),
                    Member {
                        signing,
                        exchange,
                        revoked: early.is_some(),
                        cutoff,
                        role,
                    },
                );
                Ok(())
            }
        }
    }

    /// The role a lead gave the device of `record` (keys `signing`, `exchange`) in a team whose
    /// anchor is `anchor`, and the invite key it joined with: its admission must prove it held
    /// an invite's secret; the invite's certificate must be signed by the anchor (while the
    /// anchor's device is not revoked) or by a lead this device knows, not revoked; and the
    /// invite must not have let in as many devices as it was made for already. A certificate
    /// of a device not yet known as a lead waits (its member or lead record may still come).
    fn admitted(
        &self,
        conn: &Connection,
        record: &MemberRecord,
        signing: &[u8],
        exchange: &[u8],
        anchor: &[u8],
    ) -> std::result::Result<(TrustedRole, String), Refused> {
        let actor = &record.actor;
        let Some(admission) = &record.admission else {
            return Err(Refused::from(format!(
                "device {actor} was let in by no team lead's invite: a device joins this team only with an invite a lead made"
            )));
        };
        trust::check_admission(&self.team, admission, actor, signing, exchange).map_err(|_| {
            Refused::from(format!(
                "device {actor}'s proof of its invite does not match its keys: it did not hold the invite it names"
            ))
        })?;
        let cert = &admission.cert;
        let used: i64 = conn
            .prepare_cached("SELECT count(*) FROM members WHERE invite_key = ?1")
            .and_then(|mut s| s.query_row([&cert.invite_key], |r| r.get(0)))
            .map_err(sql)?;
        if used >= i64::from(cert.uses) {
            return Err(Refused::from(format!(
                "device {actor} joined with an invite made for {} device(s), which {used} have used already",
                cert.uses
            )));
        }
        let joined = |role| Ok((role, cert.invite_key.clone()));
        let anchor_revoked = super::trust::anchor_revoked(conn, anchor).map_err(sql_error)?;
        if !anchor_revoked && trust::check_cert(&self.team, cert, anchor).is_ok() {
            return joined(cert.role);
        }
        let by = &cert.by;
        match self.members.get(by) {
            Some(m) if m.revoked => Err(Refused::from(format!(
                "device {actor} was let in by an invite of device {by}, which the team has revoked"
            ))),
            Some(m) if m.role == Some(TrustedRole::Lead) => {
                trust::check_cert(&self.team, cert, &m.signing).map_err(|_| {
                    Refused::from(format!(
                        "device {actor}'s invite is not signed by device {by}, which it names"
                    ))
                })?;
                joined(cert.role)
            }
            _ => Err(later(format!(
                "device {actor} was let in by an invite of device {by}, which this device does not know as a team lead (yet)"
            ))),
        }
    }

    /// Take in a lead record: a lead's signed word that another member leads too. Waits for
    /// the member's record and for its maker to be known as a lead.
    fn take_lead(
        &mut self,
        conn: &Connection,
        c: &Incoming<'_>,
        actor: &str,
        content: &[u8],
    ) -> std::result::Result<(), Refused> {
        let record: LeadRecord = serde_json::from_slice(content)
            .map_err(|e| format!("its lead record is malformed ({e})"))?;
        if record.actor != actor {
            return Err(Refused::from(
                "its lead record names another device than it is filed under".to_string(),
            ));
        }
        if let Some(p) = other_pusher(c, &record.by) {
            return Err(Refused::from(format!(
                "it is a lead record made by device {} pushed by {}: no device may speak for another",
                record.by, p.name
            )));
        }
        let Some(maker) = self.members.get(&record.by) else {
            return Err(later(format!(
                "it is a lead record made by device {}, whose signing key this device has not received",
                record.by
            )));
        };
        seal::verify_signature(&self.team, c.doc_id, c.blob, &maker.signing).map_err(|_| {
            Refused::from(format!(
                "it is a lead record made as device {} but not signed by that device's key",
                record.by
            ))
        })?;
        if self.anchor.is_none() {
            // A team from before the root of trust: the relay's word on roles stands.
            return Ok(());
        }
        if maker.revoked {
            return Err(Refused::from(format!(
                "it is a lead record made by revoked device {}",
                record.by
            )));
        }
        if maker.role != Some(TrustedRole::Lead) {
            return Err(later(format!(
                "it is a lead record made by device {}, which this device does not know as a team lead (yet)",
                record.by
            )));
        }
        if !self.members.contains_key(actor) {
            return Err(later(format!(
                "it makes device {actor} a lead, whose member record this device has not received"
            )));
        }
        conn.execute("UPDATE members SET role = 'lead' WHERE actor = ?1", [actor])
            .map_err(sql)?;
        if let Some(m) = self.members.get_mut(actor)
            && m.role != Some(TrustedRole::Lead)
        {
            m.role = Some(TrustedRole::Lead);
            self.unblocked = true;
        }
        Ok(())
    }

    fn take_epoch(
        &mut self,
        conn: &Connection,
        c: &Incoming<'_>,
        epoch: u64,
        content: &[u8],
        now: &str,
    ) -> std::result::Result<(), Refused> {
        let record: EpochRecord = serde_json::from_slice(content)
            .map_err(|e| Refused::from(format!("its key record is malformed ({e})")))?;
        if record.epoch != epoch {
            return Err(Refused::from(
                "its key record names another key than it is filed under".to_string(),
            ));
        }
        let maker = match self.members.get(&record.by) {
            Some(m) if self.anchor.is_some() && !m.revoked && m.role != Some(TrustedRole::Lead) => {
                return Err(later(format!(
                    "its key record is made by device {}, which this device does not know as a team lead: only a lead's device rotates the team's key",
                    record.by
                )));
            }
            Some(m) if !m.revoked => m,
            Some(_) => {
                return Err(Refused::from(format!(
                    "its key record is made by revoked device {}",
                    record.by
                )));
            }
            None => {
                return Err(later(format!(
                    "its key record is made by device {}, whose signing key this device has not received",
                    record.by
                )));
            }
        };
        seal::verify_signature(&self.team, c.doc_id, c.blob, &maker.signing)
            .map_err(|e| Refused::from(e.to_string()))?;
        // Kept even when this device holds a key of that epoch already: two leads revoking at
        // the same moment make two, and what each side seals must open everywhere.
        if let Some(mine) = record.wrapped.iter().find(|w| w.actor == self.me) {
            let key = epoch::unwrap(&self.team, epoch, mine, &self.device).map_err(|e| {
                Refused::from(format!("its key for this device does not open: {e}"))
            })?;
            if !self.ring.holds(&key) {
                conn.execute(
                    "INSERT OR IGNORE INTO team_keys (epoch, key, added_at) VALUES (?1, ?2, ?3)",
                    (epoch as i64, key.bytes().as_slice(), now),
                )
                .map_err(sql)?;
                // The keys held for the store are shared: this page's grow on a copy. The
                // keys' new version is set once the page is opened (`open_pulled`).
                Arc::make_mut(&mut self.ring).add(key);
                self.ring_grew = true;
            }
        }
        for actor in &record.revoked {
            let cutoff = record.cutoffs.get(actor).copied();
            withheld::revoke_member(
                conn,
                actor,
                cutoff,
                record.cutoff_records.get(actor).map(Vec::as_slice),
            )
            .map_err(sql_error)?;
            if !self.members.contains_key(actor) {
                // Its member record has not come: when it does, it is taken in revoked.
                conn.execute(
                    "INSERT OR IGNORE INTO revoked_unknown (actor, cutoff) VALUES (?1, ?2)",
                    (actor, cutoff.map(|n| n as i64)),
                )
                .map_err(sql)?;
            }
            if let Some(m) = self.members.get_mut(actor) {
                m.revoked = true;
                m.cutoff = m.cutoff.or(cutoff);
            }
        }
        self.unblocked = true;
        Ok(())
    }

    /// Whether blob `c`, written by revoked device `actor`, was pushed before its cut-off.
    /// With a cut-off (a push number) that is what its push records say, wherever the relay
    /// put the blob in the log: listed by a push up to the cut-off, it is taken in; listed by
    /// a later one, or by none once all of them up to the cut-off are here, it is refused;
    /// otherwise it waits for the records. Without one (an epoch record from before push
    /// records), it is refused: it came after the record in the log.
    fn within_cutoff(
        &self,
        conn: &Connection,
        c: &Incoming<'_>,
        actor: &str,
        cutoff: Option<u64>,
    ) -> std::result::Result<(), Refused> {
        let after = || {
            Refused::from(format!(
                "it is written by device {actor} after the team revoked it"
            ))
        };
        let Some(cut) = cutoff else {
            return Err(after());
        };
        match withheld::against_cutoff(conn, c.blob, actor, cut).map_err(sql_error)? {
            withheld::AgainstCutoff::Before => Ok(()),
            withheld::AgainstCutoff::After => Err(after()),
            withheld::AgainstCutoff::NotYet => Err(later(format!(
                "it is written by device {actor}, since revoked, and the records of what it pushed before have not all come"
            ))),
        }
    }
}
