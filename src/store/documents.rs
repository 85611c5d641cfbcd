//! Keeping Automerge documents in SQLite: each document saved whole after every change, and
//! the last few written kept loaded ([`KeptDocs`]).
//!
//! Measured on a person file of a few conversations (benches, BENCHMARKS.md): `save()` costs
//! about 60 µs and loading the compact form about 110 µs, while loading a snapshot plus the
//! changes since costs 240–400 µs and takes twice the space. So a write saves the whole
//! document; the change itself goes to the outbox for the relay.

use automerge::{ActorId, AutoCommit};
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use crate::docs::DocKind;
use crate::error::{Error, Result};

/// What merging changes from elsewhere did to a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergeReport {
    /// The document.
    pub doc_id: String,
    /// What it is, once known ("person", "campaign", "shift").
    pub kind: Option<&'static str>,
    /// Changes this device had not seen before.
    pub new_changes: usize,
    /// Whether the document's content moved (false for duplicates and for changes still
    /// waiting for their dependencies).
    pub changed: bool,
    /// Changes held back until the changes they depend on arrive.
    pub waiting: usize,
}

/// A document as loaded from the store.
pub(crate) struct Loaded {
    pub doc: AutoCommit,
    pub kind: Option<DocKind>,
}

/// The saved bytes of `doc_id`.
pub(crate) fn raw_bytes(conn: &Connection, doc_id: &str) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT snapshot FROM documents WHERE doc_id = ?1")?
        .query_row([doc_id], |r| r.get(0))
        .optional()?)
}

/// Document `doc_id` as stored: its kind and its saved bytes.
pub(crate) fn stored(
    conn: &Connection,
    doc_id: &str,
) -> Result<Option<(Option<DocKind>, Vec<u8>)>> {
    let row: Option<(Option<String>, Vec<u8>)> = conn
        .prepare_cached("SELECT kind, snapshot FROM documents WHERE doc_id = ?1")?
        .query_row([doc_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(row.map(|(kind, bytes)| (kind.as_deref().and_then(DocKind::parse), bytes)))
}

/// Load document `doc_id`, with `actor` as the author of new changes.
pub(crate) fn load(conn: &Connection, doc_id: &str, actor: &ActorId) -> Result<Option<Loaded>> {
    let Some((kind, bytes)) = stored(conn, doc_id)? else {
        return Ok(None);
    };
    let doc = from_bytes(doc_id, &bytes, actor)?;
    Ok(Some(Loaded { doc, kind }))
}

/// Document `doc_id` from its saved `bytes`, with `actor` as the author of new changes.
pub(crate) fn from_bytes(doc_id: &str, bytes: &[u8], actor: &ActorId) -> Result<AutoCommit> {
    Ok(AutoCommit::load(bytes)
        .map_err(|e| Error::BadDocument {
            doc_id: doc_id.to_string(),
            reason: e.to_string(),
        })?
        .with_actor(actor.clone()))
}

/// Save the whole document; returns the bytes saved.
///
/// Saved without Automerge's column compression: compressing (DEFLATE of the larger columns)
/// was a tenth of a conversation's recording, for files about a sixth larger on disk (a person
/// file of a few conversations still fits in one page). Loading reads either form, so files
/// saved compressed by earlier versions load as before.
pub(crate) fn save_snapshot(
    conn: &Connection,
    doc_id: &str,
    kind: Option<DocKind>,
    doc: &mut AutoCommit,
    now: &str,
) -> Result<Vec<u8>> {
    let snapshot = doc.save_nocompress();
    conn.prepare_cached(
        "INSERT INTO documents (doc_id, kind, snapshot, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (doc_id) DO UPDATE SET kind = excluded.kind, snapshot = excluded.snapshot,
             updated_at = excluded.updated_at",
    )?
    .execute((doc_id, kind.map(DocKind::as_str), &snapshot, now))?;
    Ok(snapshot)
}

/// Store `bytes` (an `AutoCommit::save` of the document, already loaded and checked by the
/// caller) as the document, without saving it again.
pub(crate) fn save_bytes(
    conn: &Connection,
    doc_id: &str,
    kind: DocKind,
    bytes: &[u8],
    now: &str,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO documents (doc_id, kind, snapshot, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (doc_id) DO UPDATE SET kind = excluded.kind, snapshot = excluded.snapshot,
             updated_at = excluded.updated_at",
    )?
    .execute((doc_id, kind.as_str(), bytes, now))?;
    Ok(())
}

/// A document kept loaded between writes, with the bytes it was last saved as. Loading a big
/// document from its bytes is most of what a write to it costs (a walk list of 500 doors: 6 ms
/// of a 9 ms mark; a person file's, about 15 % of recording a conversation), so the
/// store keeps the last few it wrote ([`KeptDocs`]). One is used only while the store still
/// holds exactly those bytes for it: any other write to the document (a pull, an import, an
/// erasure, a rolled-back transaction) changes or removes them, and the document is loaded
/// again. Comparing the bytes costs microseconds.
pub(crate) struct Kept {
    /// The document's id.
    pub doc_id: String,
    /// What it is.
    pub kind: DocKind,
    /// The document, as loaded with this device's actor.
    pub doc: AutoCommit,
    /// What the store held for it when it was kept.
    pub saved: Vec<u8>,
}

impl Kept {
    /// Whether this is document `kind` as the store holds it, saved as `saved`: only then may
    /// a write use it instead of loading the file.
    pub fn is(&self, kind: DocKind, saved: &[u8]) -> bool {
        self.kind == kind && self.saved == saved
    }
}

/// How many documents [`KeptDocs`] holds: a canvasser's walk list and the people of the last
/// few doors.
const KEEP: usize = 8;

/// The documents the store wrote last, kept loaded (see [`Kept`]); the least recently written
/// goes first when there are more than [`KEEP`].
#[derive(Default)]
pub(crate) struct KeptDocs {
    /// Least recently written first.
    docs: Vec<Kept>,
}

impl KeptDocs {
    /// Take document `doc_id` out, if it is kept.
    pub fn take(&mut self, doc_id: &str) -> Option<Kept> {
        let i = self.docs.iter().position(|k| k.doc_id == doc_id)?;
        Some(self.docs.remove(i))
    }

    /// Whether document `doc_id` is kept, as a `kind` saved as `saved`.
    pub fn holds(&self, doc_id: &str, kind: DocKind, saved: &[u8]) -> bool {
        self.docs
            .iter()
            .any(|k| k.doc_id == doc_id && k.is(kind, saved))
    }

    /// Keep `kept` as the most recently written.
    pub fn put(&mut self, kept: Kept) {
        if let Some(i) = self.docs.iter().position(|k| k.doc_id == kept.doc_id) {
            self.docs.remove(i);
        }
        if self.docs.len() >= KEEP {
            self.docs.remove(0);
        }
        self.docs.push(kept);
    }

    /// Forget every kept document (the notebook's identity changed: they carry the old actor).
    pub fn clear(&mut self) {
        self.docs.clear();
    }
}

/// Commit the pending local edits of `doc` as one change, store it and queue it for the relay.
/// Returns the bytes the document was saved as, or `None` when the edits changed nothing.
pub(crate) fn save_local_change(
    conn: &Connection,
    doc_id: &str,
    kind: DocKind,
    doc: &mut AutoCommit,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Vec<u8>>> {
    if !commit_local_change(conn, doc_id, doc, now)? {
        return Ok(None);
    }
    let saved = save_snapshot(
        conn,
        doc_id,
        Some(kind),
        doc,
        &crate::model::format_time(now),
    )?;
    Ok(Some(saved))
}

/// Commit the pending local edits of `doc` as one change and queue it for the relay, without
/// saving the document (a write made of several changes saves it once, at its end, with
/// [`save_snapshot`]). Returns false when the edits changed nothing.
pub(crate) fn commit_local_change(
    conn: &Connection,
    doc_id: &str,
    doc: &mut AutoCommit,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool> {
    let options =
        automerge::transaction::CommitOptions::default().with_time(now.timestamp_millis());
    if doc.commit_with(options).is_none() {
        return Ok(false);
    }
    let change = doc
        .get_last_local_change()
        .ok_or_else(|| Error::BadDocument {
            doc_id: doc_id.to_string(),
            reason: "a committed change could not be found".into(),
        })?;
    let stamp = crate::model::format_time(now);
    conn.prepare_cached(
        "INSERT INTO outbox (doc_id, change_hash, bytes, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute((
        doc_id,
        change.hash().to_string(),
        change.raw_bytes(),
        &stamp,
    ))?;
    Ok(true)
}
