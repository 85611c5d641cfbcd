//! Compaction: a lead's device publishes one blob that stands for many of a document's blobs.
//!
//! | request | who | body | answer |
//! | --- | --- | --- | --- |
//! | `POST` [`COMPACT_PATH`] | lead | [`CompactRequest`] | [`CompactResponse`] |
//!
//! The device first pushes the compacted blob (a *snapshot*: opaque to the relay, sealed like
//! any other) through an ordinary sync, so that it is stored, acknowledged and listed in the
//! device's push record. Then it names, for each snapshot, the blobs of the same document it
//! covers, by their [`tag`]s (the first eight bytes of the blob id, big-endian). The relay, in
//! one transaction:
//!
//! 1. checks the caller is an active lead (403 [`crate::CODE_LEAD_ONLY`] otherwise) and that
//!    each snapshot is a blob of the named document that the caller pushed (items that are not
//!    are skipped and counted in [`CompactResponse::unknown`]; so is a snapshot deleted since:
//!    its document erased, or a later snapshot took its place); a snapshot placed before, or
//!    covered by a later one, is skipped too (not counted: naming it again, e.g. when an answer
//!    was lost, does nothing);
//! 2. finds the covered blobs: blobs of that document, before the snapshot in the log, whose
//!    tag is listed (tags matching nothing are ignored; no blob found: the item is skipped);
//! 3. moves the snapshot to the log position `f` of the earliest covered blob and deletes that
//!    blob: a device whose next sync starts before `f` gets the snapshot, which holds that
//!    blob; one at `f` or later already holds it. The snapshot never moves again;
//! 4. decides, for every other covered blob not covered before, which devices still need it:
//!    the active devices that may start their next sync at or past `f` and before the blob
//!    (they hold part of the document and not the snapshot), but not the one that pushed the
//!    blob nor the lead that made the snapshot. It judges where a device starts by the `since`
//!    of its last sync and the cursor answered to it; a device that never synced, or has not
//!    since the relay last started, may start anywhere from its last `since` on. A blob covered
//!    by an earlier snapshot keeps the devices that needed it then;
//! 5. deletes every covered blob of the team that no device needs any more (so a request with
//!    no items just prunes). A device stops needing a blob once it syncs from the blob's
//!    position or later (it holds it), or is revoked.
//!
//! From then on a sync serves a covered blob only to the devices that need it, and every
//! snapshot it serves is flagged as one ([`crate::PulledChange::snapshot`]): a device that
//! starts from 0, whatever its page size, gets each snapshot once and none of the blobs they
//! cover; a device past a snapshot's position gets what it lacks and never the snapshot; a
//! device that had read everything gets nothing again. A document's repair
//! ([`crate::DOC_CHANGES_PATH`]) serves every blob of the document still stored, covered or
//! not: a device that refused a damaged snapshot gets whatever history is left.
//!
//! A request body is at most 4 MiB (413 above it): about 200,000 tags, so a device announcing
//! more sends several requests. More than [`MAX_COMPACT_ITEMS`] items, more than
//! [`MAX_COVERED`] tags for one, a snapshot id that is not 64 lowercase hex digits or an invalid
//! document id is 400, and nothing of the request is done.
//!
//! A blob pushed after the snapshot was made is never covered (the device did not hold it), so
//! compaction cannot lose a concurrent change. Compacting again covers the previous snapshot
//! too (it may be the one deleted). The relay cannot read a snapshot: it trusts the lead's
//! device that it holds every blob it names. A device whose position goes back behind its last
//! sync's (restored from a backup) may find covered blobs deleted: reading from 0 again gets
//! every snapshot.

use serde::{Deserialize, Serialize};

/// Announce snapshots and what they cover (a lead): `POST` a [`CompactRequest`].
pub const COMPACT_PATH: &str = "/v1/compact";
/// Most snapshots in one [`CompactRequest`].
pub const MAX_COMPACT_ITEMS: usize = 1000;
/// Most covered tags for one snapshot.
pub const MAX_COVERED: usize = 10_000;

/// The tag of a blob id: its first eight bytes as a big-endian number. Push records and
/// snapshots name blobs by it.
pub fn tag(id: &[u8; 32]) -> u64 {
    let mut head = [0u8; 8];
    head.copy_from_slice(&id[..8]);
    u64::from_be_bytes(head)
}

/// One snapshot and the blobs it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactItem {
    /// The document.
    pub doc_id: String,
    /// The snapshot's blob id (64 hexadecimal digits), as pushed by the caller.
    pub snapshot: String,
    /// [`tag`]s of the document's blobs the snapshot stands for (at most [`MAX_COVERED`]).
    pub covers: Vec<u64>,
}

/// A lead's device announces snapshots it has pushed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactRequest {
    /// At most [`MAX_COMPACT_ITEMS`].
    pub items: Vec<CompactItem>,
}

/// What the relay did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactResponse {
    /// Snapshots placed.
    pub placed: u64,
    /// Blobs the placed snapshots newly stand for (the ones whose positions they took
    /// included); a blob covered by an earlier snapshot is not counted again.
    pub covered: u64,
    /// Covered blobs deleted: the ones whose positions the snapshots took, and across the team
    /// those no active device still needs.
    pub dropped: u64,
    /// Items naming no blob of the caller's for that document (skipped).
    pub unknown: u64,
}
