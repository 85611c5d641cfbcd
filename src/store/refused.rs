//! The list of refusals (`quarantine`) that are judgements, with blobs refused for want of
//! room to wait for a key: bounded like the rooms ([`super::room`]), and the refused bytes kept
//! as evidence only up to a bound of their own.
//!
//! Anyone in a team can push blobs that are refused (junk sealed with the team's key, changes
//! that fail their checks), and a hostile relay can serve any bytes at all; each refusal was
//! kept, with its bytes, for ever, so one member or a relay could make every device keep its
//! junk without end (up to its share of the team's storage on the relay; without end for a
//! relay), and every page of a sync read the whole list. Now the list holds at most
//! [`MAX_REFUSED`] rows: once full, the device listing the most gives up its oldest listing
//! for another device's refusal, while it lists more than that device would; otherwise the
//! newcomer is refused without being listed (counted in the sync's report); a list over its
//! bounds from before them is trimmed the same way, a little at each batch. Refused bytes are kept (for whoever looks
//! into a refusal, and `person export`; nothing here judges them again) for blobs up to 64 KiB
//! while the list's bytes stay under [`MAX_EVIDENCE`]; past that, a refusal is listed without
//! them. A refusal
//! that is not listed, or whose listing gave way, is judged again if its blob is served again:
//! the same verdict, for the work of judging it. The list of changes refused for want of room
//! to wait for their dependencies is bounded apart ([`super::room::Room::RefusedToWait`]).

use std::collections::{HashMap, VecDeque};

use rusqlite::{Connection, OptionalExtension};

use super::room::{self, Counts, Room};
use crate::error::Result;

/// Most refusals listed ([`Room::Refused`]).
pub(crate) const MAX_REFUSED: usize = 20_000;

/// The `meta` key under which a test sets a lower bound than [`MAX_REFUSED`].
pub(crate) const MAX_REFUSED_KEY: &str = "max_refused";

/// Most bytes of refused blobs kept as evidence, all listings together.
pub(crate) const MAX_EVIDENCE: u64 = 16 << 20;

/// The `meta` key under which a test sets a lower bound than [`MAX_EVIDENCE`].
pub(crate) const MAX_EVIDENCE_KEY: &str = "max_evidence";

/// Most bytes of one refused blob kept as evidence: a larger one is listed without them, so
/// that a few large blobs cannot take all of [`MAX_EVIDENCE`].
const MAX_EVIDENCE_EACH: usize = 64 << 10;

/// Most listings a batch trims from a list over its bound ([`Refusals::trim`]).
const TRIM_PER_BATCH: usize = 2_000;

/// The listings of the list, loaded once per batch and kept up to date by what the batch adds
/// and removes.
pub(crate) struct Refusals {
    /// Rows in the list.
    listed: usize,
    /// Most rows ([`MAX_REFUSED`] unless a test set fewer).
    max: usize,
    /// Bytes kept as evidence.
    evidence: u64,
    /// Most bytes kept ([`MAX_EVIDENCE`] unless a test set fewer).
    max_evidence: u64,
    /// Rows by pusher (actor hex), read once the list is first found full in the batch.
    by_pusher: Option<Counts>,
    /// Each pusher's listings that may give way, oldest first (rowids), read once a batch.
    oldest_of: HashMap<Option<String>, VecDeque<i64>>,
}

impl Refusals {
    /// The list as stored.
    pub(crate) fn load(conn: &Connection) -> Result<Refusals> {
        let (listed, evidence): (i64, i64) = conn
            .prepare_cached(
                "SELECT count(*), COALESCE(SUM(length(bytes)), 0) FROM quarantine
                 WHERE NOT (for_room AND change_hash IS NOT NULL)",
            )?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let bound = |key: &str| -> Result<Option<u64>> {
            Ok(super::meta_get(conn, key)?.and_then(|v| v.parse().ok()))
        };
        let mut list = Refusals {
            listed: usize::try_from(listed).unwrap_or(0),
            max: bound(MAX_REFUSED_KEY)?
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(MAX_REFUSED),
            evidence: u64::try_from(evidence).unwrap_or(0),
            max_evidence: bound(MAX_EVIDENCE_KEY)?.unwrap_or(MAX_EVIDENCE),
            by_pusher: None,
            oldest_of: HashMap::new(),
        };
        list.trim(conn)?;
        Ok(list)
    }

    /// A list past its bounds (kept by a version before them, or bounds lowered) is brought
    /// within them: the device listing the most gives up its oldest listings, and the newest
    /// evidence goes first.
    fn trim(&mut self, conn: &Connection) -> Result<()> {
        // A little at a time: a list kept without bounds may be long, and this runs inside a
        // sync's transaction (a phone closed midway would roll it all back each time).
        let mut budget = TRIM_PER_BATCH;
        while self.listed > self.max && budget > 0 {
            budget -= 1;
            let counts = match &mut self.by_pusher {
                Some(counts) => counts,
                none => none.insert(room::counts(conn, Room::Refused)?),
            };
            let Some(top) = room::most(counts) else {
                break;
            };
            if !self.give_way(conn, &top)? {
                // Counted, but none of its rows left to give (counts read from the table agree
                // with it; this only ends a loop that could not).
                break;
            }
        }
        if self.evidence > self.max_evidence {
            let mut stmt = conn.prepare_cached(
                "SELECT rowid, length(bytes) FROM quarantine
                 WHERE NOT (for_room AND change_hash IS NOT NULL) AND length(bytes) > 0
                 ORDER BY rowid",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let mut kept = 0u64;
            for (rowid, len) in rows {
                let len = u64::try_from(len).unwrap_or(0);
                if kept + len <= self.max_evidence {
                    kept += len;
                } else {
                    conn.prepare_cached("UPDATE quarantine SET bytes = x'' WHERE rowid = ?1")?
                        .execute([rowid])?;
                }
            }
            self.evidence = kept;
        }
        Ok(())
    }

    /// Whether a refusal of `pusher`'s (actor hex) is listed: while the list has room, yes;
    /// once it is full, the oldest listing of the device listing the most goes for it (the
    /// rule of [`room`]), or it is not listed.
    pub(crate) fn room_for(&mut self, conn: &Connection, pusher: &Option<String>) -> Result<bool> {
        if self.listed < self.max {
            return Ok(true);
        }
        let counts = match &mut self.by_pusher {
            Some(counts) => counts,
            none => none.insert(room::counts(conn, Room::Refused)?),
        };
        let Some(top) = room::gives_way(counts, pusher) else {
            return Ok(false);
        };
        self.give_way(conn, &top)
    }

    /// The oldest listing of `top` goes; whether there was one.
    fn give_way(&mut self, conn: &Connection, top: &Option<String>) -> Result<bool> {
        if !self.oldest_of.contains_key(top) {
            let mut stmt = conn.prepare_cached(
                "SELECT rowid FROM quarantine
                 WHERE NOT (for_room AND change_hash IS NOT NULL) AND pusher_actor IS ?1
                 ORDER BY rowid",
            )?;
            let rows = stmt.query_map([top], |r| r.get::<_, i64>(0))?;
            let queue = rows.collect::<std::result::Result<VecDeque<_>, _>>()?;
            self.oldest_of.insert(top.clone(), queue);
        }
        // The oldest still there (one forgotten meanwhile has gone; its rowid may since be
        // another pusher's row, hence the pusher in the condition).
        while let Some(rowid) = self.oldest_of.get_mut(top).and_then(VecDeque::pop_front) {
            let gone: Option<(i64, String)> = conn
                .prepare_cached(
                    "DELETE FROM quarantine
                     WHERE rowid = ?1 AND pusher_actor IS ?2
                         AND NOT (for_room AND change_hash IS NOT NULL)
                     RETURNING length(bytes), doc_id",
                )?
                .query_row((rowid, top), |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((bytes, doc_id)) = gone {
                // The listing no longer keeps its document from compaction: no note of its
                // blobs may let a snapshot stand for the refused change.
                super::compaction::not_held(conn, &doc_id)?;
                self.removed(top.clone(), bytes);
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// What of a refused blob's `bytes` to keep as evidence: all of them while the list's
    /// evidence stays under its bound and the blob is not large, else none.
    pub(crate) fn evidence<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        if bytes.len() <= MAX_EVIDENCE_EACH
            && self.evidence.saturating_add(len) <= self.max_evidence
        {
            bytes
        } else {
            &[]
        }
    }

    /// A listing of `pusher`'s was added, keeping `kept` bytes.
    pub(crate) fn added(&mut self, pusher: Option<String>, kept: usize) {
        self.listed = self.listed.saturating_add(1);
        self.evidence = self
            .evidence
            .saturating_add(u64::try_from(kept).unwrap_or(u64::MAX));
        room::count(&mut self.by_pusher, pusher, 1);
    }

    /// A listing of `pusher`'s that kept `kept` bytes (as SQLite's `length`) was removed.
    pub(crate) fn removed(&mut self, pusher: Option<String>, kept: i64) {
        self.listed = self.listed.saturating_sub(1);
        self.evidence = self
            .evidence
            .saturating_sub(u64::try_from(kept).unwrap_or(0));
        room::count(&mut self.by_pusher, pusher, -1);
    }
}

/// The listing of `blob_id`, if there is one: whether it is a refusal for want of room,
/// whether it lists a change refused for want of room to wait (not in this list), its pusher
/// and the bytes it kept.
pub(crate) struct Listing {
    pub for_room: bool,
    pub refused_to_wait: bool,
    pub pusher: Option<String>,
    pub kept: i64,
}

/// The listing of `blob_id` in `quarantine`, of either list.
pub(crate) fn listing(conn: &Connection, blob_id: &str) -> Result<Option<Listing>> {
    Ok(conn
        .prepare_cached(
            "SELECT for_room, change_hash IS NOT NULL, pusher_actor, length(bytes)
             FROM quarantine WHERE blob_id = ?1",
        )?
        .query_row([blob_id], |r| {
            let for_room: bool = r.get(0)?;
            let with_hash: bool = r.get(1)?;
            Ok(Listing {
                for_room,
                refused_to_wait: for_room && with_hash,
                pusher: r.get(2)?,
                kept: r.get(3)?,
            })
        })
        .optional()?)
}
