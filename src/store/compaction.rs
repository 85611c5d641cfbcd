//! Compaction on this device (issue 13): a lead's device publishes, for a document with enough
//! history, one *snapshot* that stands for the blobs the relay holds of it, and every device
//! takes snapshots in.
//!
//! Without it a new device replays every change ever made, one blob and one change at a time
//! (a person written in five steps is opened, checked, applied and read five times). A snapshot
//! is the document as Automerge saves it (every change, columnar and compressed), sealed and
//! signed like any blob, with the tags of the blobs it stands for:
//!
//! ```text
//! magic   4 bytes  "GWS" 0x01 (no Automerge chunk starts so: theirs start 0x85 0x6f)
//! writer  1 byte length, then the actor id of the device that made it (whose key signs it)
//! count   LEB128   number of covered blobs, then per blob:
//!   tag   8 bytes  the first eight bytes of its id (as push records name blobs)
//! doc     the rest: the document, `AutoCommit::save_nocompress` bytes
//! ```

//!
//! The life of a snapshot: [`Store::make_snapshots`] (a lead, sealed team) picks documents whose
//! blobs not yet stood for by a snapshot carry [`COMPACT_AFTER_CHANGES`] changes or more and
//! nothing of which waits or was refused here; the next sync pushes it like any blob (listed in
//! the device's push record); once acknowledged, the device tells the relay what it covers
//! (`POST /v1/compact`, `groundwork_protocol::compact`), and the relay serves it, instead of
//! those blobs, to devices reading from before them. Taking one in is
//! `super::intake::take_snapshot`.
//!
//! Trust: a snapshot carries other devices' changes under its maker's signature, so a device
//! that takes one in trusts its maker for who wrote what (it cannot check each change's writer
//! without the original blobs). Only leads make them (the relay refuses a canvasser's
//! announcement, 403), and a lead can already erase any record; the document a snapshot gives
//! is still checked whole (kind, id, every field readable) before it is taken in, and a
//! snapshot holding a change refused here is refused. A relay that hides a snapshot after
//! dropping the blobs it covers is caught as before: the blobs' push records expect them, and
//! nothing notes them received.

use rusqlite::{Connection, OptionalExtension};

use super::keys::sealed;
use super::{Outgoing, Store};
use crate::crypto::pushlog::TAG_LEN;
use crate::error::Result;

/// First bytes of a snapshot's content.
pub const SNAPSHOT_MAGIC: [u8; 4] = *b"GWS\x01";
/// A document is compacted once its blobs that no snapshot stands for carry this many changes
/// (a person written in steps: the person, a conversation, two commitments).
pub const COMPACT_AFTER_CHANGES: i64 = 4;
/// Most snapshots a device makes per sync (each costs a seal and a signature: spread a big
/// team's first compaction over several syncs rather than hold one up).
pub const MAX_SNAPSHOTS_PER_SYNC: usize = 2000;
/// What marks an outgoing snapshot among the outbox's change hashes.
pub const SNAPSHOT_MARK: &str = "snapshot:";
/// Largest document a snapshot carries (a sealed blob opens to at most 1 MiB).
const MAX_SNAPSHOT_DOC: usize = 1000 * 1024;

/// A snapshot's content, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// The actor id of the device that made it.
    pub writer: Vec<u8>,
    /// Tags of the blobs it stands for.
    pub covers: Vec<i64>,
    /// The document, as `AutoCommit::save` wrote it.
    pub doc: Vec<u8>,
}

/// Whether sealed content is a snapshot rather than changes or a record.
pub(crate) fn is_snapshot(content: &[u8]) -> bool {
    content.starts_with(&SNAPSHOT_MAGIC)
}

/// A snapshot's content.
pub(crate) fn encode(writer: &[u8], covers: &[i64], doc: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + writer.len() + covers.len() * TAG_LEN + doc.len());
    out.extend_from_slice(&SNAPSHOT_MAGIC);
    let writer = &writer[..writer.len().min(255)];
    out.push(writer.len() as u8);
    out.extend_from_slice(writer);
    super::bundle::put_leb128(&mut out, covers.len() as u64);
    for tag in covers {
        out.extend_from_slice(&tag.to_be_bytes());
    }
    out.extend_from_slice(doc);
    out
}

/// Read a snapshot's content; why it cannot be read, for the quarantine.
pub(crate) fn decode(content: &[u8]) -> std::result::Result<Snapshot, String> {
    let bad = |what: &str| format!("its snapshot is malformed ({what})");
    let rest = content
        .strip_prefix(&SNAPSHOT_MAGIC)
        .ok_or_else(|| bad("no snapshot header"))?;
    let (&len, rest) = rest.split_first().ok_or_else(|| bad("no writer"))?;
    let len = usize::from(len);
    if len == 0 || rest.len() < len {
        return Err(bad("no writer"));
    }
    let (writer, mut rest) = rest.split_at(len);
    let count = super::bundle::take_leb128(&mut rest).ok_or_else(|| bad("no count"))?;
    let need = usize::try_from(count)
        .ok()
        .and_then(|c| c.checked_mul(TAG_LEN))
        .filter(|&n| n <= rest.len())
        .ok_or_else(|| bad("fewer tags than it says"))?;
    let (tags, doc) = rest.split_at(need);
    if doc.is_empty() {
        return Err(bad("no document"));
    }
    let covers = tags
        .chunks_exact(TAG_LEN)
        .map(|c| {
            let mut head = [0u8; TAG_LEN];
            head.copy_from_slice(c);
            i64::from_be_bytes(head)
        })
        .collect();
    Ok(Snapshot {
        writer: writer.to_vec(),
        covers,
        doc: doc.to_vec(),
    })
}

/// The tag of a blob id, as `doc_blobs` and `received_blobs` store it.
pub(crate) fn tag_of_id(id: &[u8; 32]) -> i64 {
    // The relay's definition, so that both sides name the same blobs; stored as SQLite's
    // signed integer, bit for bit.
    groundwork_protocol::compact::tag(id) as i64
}

/// The tag of a sealed blob.
pub(crate) fn tag_of_blob(blob: &[u8]) -> i64 {
    tag_of_id(&groundwork_protocol::blob_digest(blob))
}

/// Note that this device holds the content of the blob of `tag` of `doc_id`, which carried
/// `changes` changes (pulled and opened, or pushed and acknowledged).
pub(crate) fn note_blob(conn: &Connection, doc_id: &str, tag: i64, changes: usize) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO doc_blobs (tag, doc_id, changes)
         SELECT ?1, ?2, ?3 WHERE NOT EXISTS (SELECT 1 FROM erased WHERE doc_id = ?2)",
    )?
    .execute((tag, doc_id, changes as i64))?;
    Ok(())
}

/// A change of `doc_id` was refused here, or gave up its place to wait: this device may not
/// hold all the content of the blobs of `doc_id` it noted, so no snapshot made here may stand
/// for them (the relay would then serve that snapshot instead of those blobs, and the change
/// would be lost to devices that come later). Their notes go: a snapshot made here later
/// stands only for blobs noted after, and the relay goes on serving the others. (A listed
/// refusal kept the document from compaction; a refusal not listed, or whose listing gave
/// way, did not. The change's own blob cannot be told apart here: intake sees the content,
/// not the sealed blob.)
pub(crate) fn not_held(conn: &Connection, doc_id: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM doc_blobs WHERE doc_id = ?1 AND covered = 0")?
        .execute([doc_id])?;
    Ok(())
}

/// Note a snapshot of `doc_id` held here (taken in, or made here and acknowledged): the blobs it
/// stands for are covered, and it is a blob of the document the next snapshot stands for.
pub(crate) fn note_snapshot(
    conn: &Connection,
    doc_id: &str,
    tag: i64,
    covers: &[i64],
) -> Result<()> {
    let mut cover = conn.prepare_cached(
        "INSERT INTO doc_blobs (tag, doc_id, changes, covered) VALUES (?1, ?2, 0, 1)
         ON CONFLICT (tag) DO UPDATE SET covered = 1",
    )?;
    for tag in covers {
        cover.execute((tag, doc_id))?;
    }
    note_blob(conn, doc_id, tag, 0)
}

/// Tags of every blob of `doc_id` held here.
fn tags_of(conn: &Connection, doc_id: &str) -> Result<Vec<i64>> {
    let mut stmt =
        conn.prepare_cached("SELECT tag FROM doc_blobs WHERE doc_id = ?1 ORDER BY tag")?;
    let rows = stmt.query_map([doc_id], |r| r.get(0))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Documents whose blobs no snapshot stands for yet carry `changes` changes or more, and
/// nothing of which waits or was refused here, at most `limit`.
fn candidates(conn: &Connection, limit: usize, changes: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT b.doc_id FROM doc_blobs b
         WHERE b.covered = 0
           AND b.doc_id NOT IN (SELECT doc_id FROM snapshots_out)
           AND b.doc_id NOT IN (SELECT doc_id FROM waiting)
           AND b.doc_id NOT IN (SELECT doc_id FROM quarantine)
           AND b.doc_id NOT IN (SELECT doc_id FROM awaiting_key)
           AND b.doc_id NOT IN (SELECT doc_id FROM outbox)
           AND b.doc_id NOT IN (SELECT doc_id FROM erased)
           AND b.doc_id NOT IN (SELECT doc_id FROM refused_erasures)
           AND b.doc_id IN (SELECT doc_id FROM documents)
         GROUP BY b.doc_id HAVING SUM(b.changes) >= ?1
         ORDER BY b.doc_id LIMIT ?2",
    )?;
    let rows = stmt.query_map((changes, limit as i64), |r| r.get(0))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

impl Store {
    /// Make snapshots of the documents worth compacting (a lead's device of a sealed team; at
    /// most `limit`): they go with the next sync. Returns how many were made.
    pub fn make_snapshots(&mut self, limit: usize) -> Result<usize> {
        self.make_snapshots_after(limit, COMPACT_AFTER_CHANGES)
    }

    /// [`Store::make_snapshots`] of the documents whose blobs no snapshot stands for yet carry
    /// at least `changes` changes.
    pub fn make_snapshots_after(&mut self, limit: usize, changes: i64) -> Result<usize> {
        // A device the relay names a lead but no lead of the team signed as one does not
        // compact: the others would not take its snapshots, and the relay would drop the
        // blobs they stand for.
        if !sealed(&self.conn)?
            || self.role()?.as_deref() != Some("lead")
            || !self.may_sign_as_lead()?
        {
            return Ok(0);
        }
        self.refresh_identity()?;
        let now = crate::model::format_time(chrono::Utc::now());
        let writer = self.actor.to_bytes().to_vec();
        let tx = self.conn.transaction()?;
        let docs = candidates(&tx, limit, changes.max(1))?;
        let mut made = 0;
        for doc_id in &docs {
            let Some(saved) = super::documents::raw_bytes(&tx, doc_id)? else {
                continue;
            };
            // Saved without Automerge's own column compression: the seal deflates the whole
            // with its dictionary, which does better (BENCHMARKS.md, "Compaction").
            let Ok(mut loaded) = automerge::AutoCommit::load(&saved) else {
                continue;
            };
            let doc = loaded.save_nocompress();
            if doc.len() > MAX_SNAPSHOT_DOC {
                continue;
            }
            let content = encode(&writer, &tags_of(&tx, doc_id)?, &doc);
            tx.prepare_cached(
                "INSERT INTO snapshots_out (doc_id, content, made_at) VALUES (?1, ?2, ?3)",
            )?
            .execute((doc_id, &content, &now))?;
            made += 1;
        }
        tx.commit()?;
        Ok(made)
    }

    /// Snapshots made here and not yet acknowledged by the relay, sealed for a push, about
    /// `room` bytes of them (at least one when any waits), and whether more wait. Sealing is
    /// deterministic, so a retried push sends the same blob.
    pub fn snapshots_to_push(&self, room: usize) -> Result<(Vec<Outgoing>, bool)> {
        self.snapshots_within(room, None)
    }

    /// [`Self::snapshots_to_push`], leaving out snapshots larger than `most` bytes when given:
    /// on a slow link a snapshot larger than a request may carry waits for a better one
    /// (snapshots are optional; one that never fits in time would stall every sync's pull with
    /// it), and "more wait" is said only of snapshots that fit.
    pub fn snapshots_within(
        &self,
        room: usize,
        most: Option<usize>,
    ) -> Result<(Vec<Outgoing>, bool)> {
        let mut stmt = self.conn.prepare_cached(
            // Not of a document whose erasure order this device refused: the relay would refuse
            // the whole push for it (see `Store::outbox`).
            "SELECT doc_id, content FROM snapshots_out
             WHERE blob_id IS NULL AND doc_id NOT IN (SELECT doc_id FROM refused_erasures)
             ORDER BY doc_id",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        let mut used = 0;
        let ring = self.keys.keyring(&self.conn)?;
        while let Some(row) = rows.next()? {
            let (doc_id, content): (String, Vec<u8>) = (row.get(0)?, row.get(1)?);
            if most.is_some_and(|most| content.len() > most) {
                // Too large for any request on this link: not "more to send now".
                continue;
            }
            if used + content.len() > room && (!out.is_empty() || room == 0) {
                return Ok((out, true));
            }
            used += content.len();
            out.push(Outgoing {
                bytes: super::keys::seal_with(&self.conn, &ring, &doc_id, &content)?,
                change_hashes: vec![format!("{SNAPSHOT_MARK}{doc_id}")],
                doc_id,
            });
        }
        Ok((out, false))
    }

    /// The relay acknowledged these blobs of this device's push: `(document, blob id, what it
    /// carried)` where a snapshot carries its [`SNAPSHOT_MARK`] and changes their hashes.
    /// Snapshots wait to be announced; every blob is noted as held here.
    pub fn note_pushed(&mut self, pushed: &[(String, [u8; 32], Vec<String>)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for (doc_id, id, carried) in pushed {
            if crate::crypto::is_key_record(doc_id) || carried.is_empty() {
                continue;
            }
            if carried.iter().any(|c| c.starts_with(SNAPSHOT_MARK)) {
                let content: Option<Vec<u8>> = tx
                    .prepare_cached("SELECT content FROM snapshots_out WHERE doc_id = ?1")?
                    .query_row([doc_id], |r| r.get(0))
                    .optional()?;
                let Some(snapshot) = content.and_then(|c| decode(&c).ok()) else {
                    continue;
                };
                tx.prepare_cached("UPDATE snapshots_out SET blob_id = ?1 WHERE doc_id = ?2")?
                    .execute((super::intake::hex(id), doc_id))?;
                note_snapshot(&tx, doc_id, tag_of_id(id), &snapshot.covers)?;
            } else {
                note_blob(&tx, doc_id, tag_of_id(id), carried.len())?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Snapshots the relay stored and has not been told about yet, as announcements.
    pub fn snapshots_to_announce(&self) -> Result<Vec<groundwork_protocol::CompactItem>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT doc_id, blob_id, content FROM snapshots_out WHERE blob_id IS NOT NULL
             ORDER BY doc_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (doc_id, snapshot, content) = row?;
            let Ok(decoded) = decode(&content) else {
                continue;
            };
            out.push(groundwork_protocol::CompactItem {
                doc_id,
                snapshot,
                covers: decoded.covers.iter().map(|&t| t as u64).collect(),
            });
        }
        Ok(out)
    }

    /// The relay was told about these documents' snapshots: they are done.
    pub fn snapshots_announced(&mut self, docs: &[String]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for doc in docs {
            tx.prepare_cached(
                "DELETE FROM snapshots_out WHERE doc_id = ?1 AND blob_id IS NOT NULL",
            )?
            .execute([doc])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// How many blobs of `doc_id` this device took in as changes (pulled, or pushed by it),
    /// rather than through a snapshot.
    pub fn change_blobs_of(&self, doc_id: &str) -> Result<usize> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM doc_blobs WHERE doc_id = ?1 AND changes > 0",
            [doc_id],
            |r| r.get::<_, i64>(0),
        )? as usize)
    }

    /// Documents compacted by a snapshot this device holds (made or taken in), and blobs not
    /// yet stood for: for `status` and the tests.
    pub fn compaction_counts(&self) -> Result<(usize, usize)> {
        Ok(self.conn.query_row(
            "SELECT (SELECT COUNT(DISTINCT doc_id) FROM doc_blobs WHERE covered = 1),
                    (SELECT COUNT(*) FROM doc_blobs WHERE covered = 0 AND changes > 0)",
            [],
            |r| Ok((r.get::<_, i64>(0)? as usize, r.get::<_, i64>(1)? as usize)),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_content_reads_back_and_refuses_damage() {
        let content = encode(&[7; 16], &[1, -2, i64::MAX], b"\x85\x6f\x4a\x83doc");
        assert!(is_snapshot(&content));
        let read = decode(&content).unwrap();
        assert_eq!(read.writer, vec![7; 16]);
        assert_eq!(read.covers, vec![1, -2, i64::MAX]);
        assert_eq!(read.doc, b"\x85\x6f\x4a\x83doc");
        // Cut anywhere before the document: refused, never a panic.
        for len in 0..=content.len() - 7 {
            assert!(decode(&content[..len]).is_err(), "{len}");
        }
        // A count claiming more tags than there are bytes.
        let mut lying = encode(&[7; 16], &[], b"doc");
        lying[4 + 1 + 16] = 0x7f;
        assert!(decode(&lying).is_err());
        // Not a snapshot at all.
        assert!(!is_snapshot(b"\x85\x6f\x4a\x83"));
        assert!(decode(b"\x85\x6f\x4a\x83").is_err());
    }
}
