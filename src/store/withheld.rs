//! Push records on this device (schema 9): making this device's record for a push, taking in
//! other devices' records, and finding out what the relay withholds
//! ([`crate::crypto::pushlog`] says why).
//!
//! Every blob pulled in a sealed team leaves its tag in `received_blobs`; a record taken in
//! expects each blob it lists that has not come (`blobs_expected`) and every push number up to
//! the highest any record names for a device (`push_attested` against `push_records`). Blobs
//! come before the record that lists them in an honest log, so at the end of a sync nothing is
//! expected; what still is, was withheld (or the relay deleted an erased person's blobs, which
//! is left out).

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use super::intake::unhex_strict;
use super::{Store, meta_get, meta_set};
use crate::crypto::pushlog::{PushRecord, TAG_LEN, push_doc_id, tag_of};
use crate::error::Result;

/// The meta key of this device's next push number.
pub(super) const NEXT_PUSH: &str = "push_record_next";

/// What the relay has not served that other devices' push records say it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Withheld {
    /// Blobs listed by a record that never came (erased people left out).
    pub blobs: usize,
    /// Push records (whole pushes) named by a later record that never came.
    pub pushes: usize,
    /// The documents of the withheld blobs (at most 20), to ask for again.
    pub docs: Vec<String>,
}

impl Withheld {
    /// Whether anything is withheld.
    pub fn any(&self) -> bool {
        self.blobs + self.pushes > 0
    }
}

/// A push record made for a request, sealed and signed, with its number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedRecord {
    /// Its document id (`push-<actor>-<n>`).
    pub doc_id: String,
    /// The sealed bytes.
    pub bytes: Vec<u8>,
    /// Its push number.
    pub n: u64,
}

/// A tag as stored: the first [`TAG_LEN`] bytes as a big-endian integer.
fn tag_number(bytes: &[u8]) -> Option<i64> {
    let head: [u8; TAG_LEN] = bytes.get(..TAG_LEN)?.try_into().ok()?;
    Some(i64::from_be_bytes(head))
}

/// Note that `blob` was pulled: it is no longer expected.
pub(crate) fn note_received(conn: &Connection, blob: &[u8]) -> Result<()> {
    let digest = groundwork_protocol::blob_digest(blob);
    let Some(tag) = tag_number(&digest) else {
        return Ok(());
    };
    note_tag_received(conn, tag)
}

/// Note that the blob of `tag` was received, itself or as part of a snapshot that stands for
/// it: it is no longer expected.
pub(crate) fn note_tag_received(conn: &Connection, tag: i64) -> Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO received_blobs (tag) VALUES (?1)")?
        .execute([tag])?;
    conn.prepare_cached("DELETE FROM blobs_expected WHERE tag = ?1")?
        .execute([tag])?;
    Ok(())
}

/// Check a record's lists before anything of it is taken in: the reason it is refused, if it
/// is.
pub(crate) fn check_record(record: &PushRecord) -> std::result::Result<(), String> {
    let hex_actor =
        |a: &str| !a.is_empty() && a.len() <= 64 && a.bytes().all(|b| b.is_ascii_hexdigit());
    if record
        .blobs
        .iter()
        .chain(&record.snapshots)
        .any(|(doc, tag)| {
            !groundwork_protocol::valid_doc_id(doc)
                || tag.len() != 2 * TAG_LEN
                || unhex_strict(tag).is_none()
        })
    {
        return Err("its push record lists a blob it cannot name".into());
    }
    if record.n == 0 || record.n > MAX_PUSH_NUMBER {
        return Err("its push record has a number no push can have".into());
    }
    if record
        .seen
        .iter()
        .any(|(a, &n)| !hex_actor(a) || n == 0 || n > MAX_PUSH_NUMBER)
    {
        return Err("its push record names a device or push that cannot be".into());
    }
    Ok(())
}

/// The highest push number a record may name (a device pushing every second would take some
/// 35,000 years to reach it). Bounding it keeps every sum of numbers this device adds up
/// (pushes withheld, [`withheld`]) far from overflowing, whatever a hostile member signs.
pub(crate) const MAX_PUSH_NUMBER: u64 = 1 << 40;

/// Take in another device's push record (checked by [`check_record`], its signature by the
/// caller). This device's own records are not needed: it knows what it pushed.
pub(crate) fn take_record(conn: &Connection, record: &PushRecord, me: &str) -> Result<()> {
    if record.actor == me {
        return Ok(());
    }
    // All of the record or none of it: a row that cannot be written leaves no part of the
    // record behind (the record is then refused, and the page goes on).
    conn.execute_batch("SAVEPOINT take_record")?;
    match write_record(conn, record, me) {
        Ok(()) => {
            conn.execute_batch("RELEASE take_record")?;
            Ok(())
        }
        Err(e) => {
            conn.execute_batch("ROLLBACK TO take_record; RELEASE take_record")?;
            Err(e)
        }
    }
}

fn write_record(conn: &Connection, record: &PushRecord, me: &str) -> Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO push_records (actor, n) VALUES (?1, ?2)")?
        .execute((&record.actor, record.n as i64))?;
    let mut attest = conn.prepare_cached(
        "INSERT INTO push_attested (actor, n) VALUES (?1, ?2)
         ON CONFLICT (actor) DO UPDATE SET n = max(n, excluded.n)",
    )?;
    attest.execute((&record.actor, record.n as i64))?;
    for (actor, n) in &record.seen {
        if actor != me {
            attest.execute((actor, *n as i64))?;
        }
    }
    let mut listed = conn
        .prepare_cached("INSERT OR IGNORE INTO listed_blobs (tag, actor, n) VALUES (?1, ?2, ?3)")?;
    let mut received = conn.prepare_cached("SELECT 1 FROM received_blobs WHERE tag = ?1")?;
    // Not of an erased person: the relay deleted their blobs, and nothing here names them.
    let mut expect = conn.prepare_cached(
        "INSERT OR IGNORE INTO blobs_expected (tag, doc_id, actor)
         SELECT ?1, ?2, ?3 WHERE NOT EXISTS (SELECT 1 FROM erased WHERE doc_id = ?2)",
    )?;
    for (doc, tag) in &record.blobs {
        let Some(tag) = unhex_strict(tag).as_deref().and_then(tag_number) else {
            continue;
        };
        listed.execute((tag, &record.actor, record.n as i64))?;
        if !received.exists([tag])? {
            expect.execute((tag, doc, &record.actor))?;
        }
    }
    for (_, tag) in &record.snapshots {
        if let Some(tag) = unhex_strict(tag).as_deref().and_then(tag_number) {
            listed.execute((tag, &record.actor, record.n as i64))?;
        }
    }
    Ok(())
}

/// The number of `actor`'s push that listed `blob`, if a record taken in here listed it.
pub(crate) fn listed_in(conn: &Connection, blob: &[u8], actor: &str) -> Result<Option<u64>> {
    let Some(tag) = tag_number(&groundwork_protocol::blob_digest(blob)) else {
        return Ok(None);
    };
    let n: Option<i64> = conn
        .prepare_cached("SELECT n FROM listed_blobs WHERE tag = ?1 AND actor = ?2")?
        .query_row((tag, actor), |r| r.get(0))
        .optional()?;
    Ok(n.map(|n| n.max(0) as u64))
}

/// Whether every push record of `actor` numbered 1 to `last` has been taken in here.
pub(crate) fn records_up_to(conn: &Connection, actor: &str, last: u64) -> Result<bool> {
    let have: i64 = conn
        .prepare_cached("SELECT count(*) FROM push_records WHERE actor = ?1 AND n <= ?2")?
        .query_row((actor, last as i64), |r| r.get(0))?;
    Ok(have.max(0) as u64 >= last)
}

/// The highest push number of `actor` taken in here (0: none).
pub(crate) fn last_push_of(conn: &Connection, actor: &str) -> Result<u64> {
    let n: Option<i64> = conn
        .prepare_cached("SELECT max(n) FROM push_records WHERE actor = ?1")?
        .query_row([actor], |r| r.get(0))?;
    Ok(n.unwrap_or(0).max(0) as u64)
}

/// What is withheld, as this device sees it now.
pub(crate) fn withheld(conn: &Connection) -> Result<Withheld> {
    let not_erased = "NOT EXISTS (SELECT 1 FROM erased e WHERE e.doc_id = x.doc_id)";
    let blobs: i64 = conn.query_row(
        &format!("SELECT count(*) FROM blobs_expected x WHERE {not_erased}"),
        [],
        |r| r.get(0),
    )?;
    let docs = conn
        .prepare(&format!(
            "SELECT DISTINCT doc_id FROM blobs_expected x WHERE {not_erased}
             ORDER BY doc_id LIMIT 20"
        ))?
        .query_map([], |r| r.get(0))?
        .collect::<std::result::Result<Vec<String>, _>>()?;
    // Devices revoked since are left out: what they pushed after the cut-off is refused, so
    // their later numbers never come.
    // `total` (a float) rather than `sum`: numbers stored by a version that did not bound them
    // ([`MAX_PUSH_NUMBER`]) must not make the sum overflow and every sync fail.
    let pushes: f64 = conn.query_row(
        "SELECT total(a.n - (SELECT count(*) FROM push_records p
                             WHERE p.actor = a.actor AND p.n <= a.n))
         FROM push_attested a
         WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.actor = a.actor AND m.revoked = 1)",
        [],
        |r| r.get(0),
    )?;
    Ok(Withheld {
        blobs: blobs.max(0) as usize,
        pushes: pushes.max(0.0) as usize,
        docs,
    })
}

impl Store {
    /// What the relay has not served that other devices' push records say it holds.
    pub fn withheld(&self) -> Result<Withheld> {
        withheld(&self.conn)
    }

    /// This device's push record for a request carrying `carried` (`(document, blob)` pairs),
    /// sealed and signed; `None` when the team is not sealed or nothing is carried.
    pub fn push_record(&self, carried: &[(&str, &[u8], bool)]) -> Result<Option<SealedRecord>> {
        if carried.is_empty() || !super::keys::sealed(&self.conn)? {
            return Ok(None);
        }
        let n: u64 = meta_get(&self.conn, NEXT_PUSH)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let seen: BTreeMap<String, u64> = self
            .conn
            .prepare_cached("SELECT actor, max(n) FROM push_records GROUP BY actor")?
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(1) as u64))
            })?
            .collect::<std::result::Result<_, _>>()?;
        let actor = super::intake::hex(&self.actor_bytes());
        let record = PushRecord {
            actor: actor.clone(),
            n,
            blobs: carried
                .iter()
                .filter(|(_, _, snapshot)| !snapshot)
                .map(|(doc, blob, _)| {
                    (
                        (*doc).to_string(),
                        tag_of(&groundwork_protocol::blob_id(blob)),
                    )
                })
                .collect(),
            seen,
            snapshots: carried
                .iter()
                .filter(|(_, _, snapshot)| *snapshot)
                .map(|(doc, blob, _)| {
                    (
                        (*doc).to_string(),
                        tag_of(&groundwork_protocol::blob_id(blob)),
                    )
                })
                .collect(),
        };
        let doc_id = push_doc_id(&actor, n);
        let content = serde_json::to_vec(&record)?;
        let ring = self.keys.keyring(&self.conn)?;
        let bytes = super::keys::seal_with(&self.conn, &ring, &doc_id, &content)?;
        Ok(Some(SealedRecord { doc_id, bytes, n }))
    }

    /// The relay acknowledged push record `n`: the next push is `n + 1`.
    pub fn push_record_sent(&self, n: u64) -> Result<()> {
        let current: Option<u64> = meta_get(&self.conn, NEXT_PUSH)?.and_then(|v| v.parse().ok());
        if current.unwrap_or(1) == n {
            meta_set(&self.conn, NEXT_PUSH, &(n + 1).to_string())?;
        }
        Ok(())
    }
}
