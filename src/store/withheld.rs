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
use crate::crypto::pushlog::{PushRecord, TAG_LEN, push_doc_id, rest_of, tag_of};
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
    if !record.rest.is_empty()
        && (record.rest.len() != record.blobs.len() + record.snapshots.len()
            || record
                .rest
                .iter()
                .any(|r| r.len() != 2 * TAG_LEN || unhex_strict(r).is_none()))
    {
        return Err("its push record names its blobs' ids in a form no app writes".into());
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

/// The bytes of a push record's own blob id kept to name it ([`record_id`]).
pub(crate) const RECORD_ID_LEN: usize = 16;

/// How a push record is named where a revocation binds it: the first [`RECORD_ID_LEN`]
/// bytes of its blob's id (the SHA-256 the relay names it by).
pub(crate) fn record_id(blob: &[u8]) -> [u8; RECORD_ID_LEN] {
    let digest = groundwork_protocol::blob_digest(blob);
    let mut id = [0u8; RECORD_ID_LEN];
    id.copy_from_slice(&digest[..RECORD_ID_LEN]);
    id
}

/// Take in another device's push record (checked by [`check_record`], its signature by the
/// caller), whose blob is named `id` ([`record_id`]). This device's own records are not
/// needed: it knows what it pushed.
pub(crate) fn take_record(
    conn: &Connection,
    record: &PushRecord,
    id: &[u8; RECORD_ID_LEN],
    me: &str,
) -> Result<()> {
    if record.actor == me {
        return Ok(());
    }
    // All of the record or none of it: a row that cannot be written leaves no part of the
    // record behind (the record is refused for a constraint, and the page goes on; for a full
    // disk or an I/O error the whole page fails, to be pulled again).
    conn.execute_batch("SAVEPOINT take_record")?;
    match write_record(conn, record, id, me) {
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

fn write_record(
    conn: &Connection,
    record: &PushRecord,
    id: &[u8; RECORD_ID_LEN],
    me: &str,
) -> Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO push_records (actor, n) VALUES (?1, ?2)")?
        .execute((&record.actor, record.n as i64))?;
    // A push whose answer was lost is sent again, perhaps with more in it, under the same
    // number: both records are the device's, and both are kept.
    conn.prepare_cached(
        "INSERT OR IGNORE INTO push_record_ids (actor, record, n) VALUES (?1, ?2, ?3)",
    )?
    .execute((&record.actor, &id[..], record.n as i64))?;
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
    let mut listed = conn.prepare_cached(
        "INSERT OR IGNORE INTO listed_by (actor, tag, record, rest, n) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    // Checked by `check_record`: none, or one for each blob and snapshot, in that order.
    let rest = |i: usize| -> Option<i64> {
        record
            .rest
            .get(i)
            .and_then(|r| unhex_strict(r))
            .as_deref()
            .and_then(tag_number)
    };
    let mut received = conn.prepare_cached("SELECT 1 FROM received_blobs WHERE tag = ?1")?;
    // Not of an erased person: the relay deleted their blobs, and nothing here names them.
    let mut expect = conn.prepare_cached(
        "INSERT OR IGNORE INTO blobs_expected (tag, doc_id, actor)
         SELECT ?1, ?2, ?3 WHERE NOT EXISTS (SELECT 1 FROM erased WHERE doc_id = ?2)",
    )?;
    for (i, (doc, tag)) in record.blobs.iter().enumerate() {
        let Some(tag) = unhex_strict(tag).as_deref().and_then(tag_number) else {
            continue;
        };
        listed.execute((&record.actor, tag, &id[..], rest(i), record.n as i64))?;
        if !received.exists([tag])? {
            expect.execute((tag, doc, &record.actor))?;
        }
    }
    for (i, (_, tag)) in record.snapshots.iter().enumerate() {
        if let Some(tag) = unhex_strict(tag).as_deref().and_then(tag_number) {
            let at = record.blobs.len() + i;
            listed.execute((&record.actor, tag, &id[..], rest(at), record.n as i64))?;
        }
    }
    Ok(())
}

/// Where a blob of a revoked device stands against its cut-off, by its push records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AgainstCutoff {
    /// Listed by a push the revocation left it: taken in.
    Before,
    /// Listed only by later pushes, or by none once all of them up to the cut-off are here.
    After,
    /// Not listed, and some record up to the cut-off has not come: it waits.
    NotYet,
}

/// Whether `blob`, written by the revoked device `actor` whose cut-off is push `cut`, was
/// pushed before it. A listing counts when it names this blob (its tag, and the id's next
/// bytes where the record carries them) in a record the revocation named
/// (`cutoff_records`), or, where the revocation named none (a lead's app from before
/// 2026-12-08, or one that did not hold every record's id), in a record numbered up to the
/// cut-off. Listings taken in before schema 20 name no record: their number decides.
pub(crate) fn against_cutoff(
    conn: &Connection,
    blob: &[u8],
    actor: &str,
    cut: u64,
) -> Result<AgainstCutoff> {
    let digest = groundwork_protocol::blob_digest(blob);
    let (Some(tag), Some(rest)) = (
        tag_number(&digest),
        digest.get(TAG_LEN..).and_then(tag_number),
    ) else {
        return Ok(AgainstCutoff::After);
    };
    let bound: Vec<Vec<u8>> = conn
        .prepare_cached("SELECT record FROM cutoff_records WHERE actor = ?1")?
        .query_map([actor], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    let mut listings =
        conn.prepare_cached("SELECT record, rest, n FROM listed_by WHERE actor = ?1 AND tag = ?2")?;
    let listings = listings.query_map((actor, tag), |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, Option<i64>>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for listing in listings {
        let (record, listed_rest, n) = listing?;
        if listed_rest.is_some_and(|r| r != rest) {
            continue;
        }
        let before = if record.is_empty() || bound.is_empty() {
            n >= 0 && n as u64 <= cut
        } else {
            bound.contains(&record)
        };
        if before {
            return Ok(AgainstCutoff::Before);
        }
    }
    Ok(if records_up_to(conn, actor, cut)? {
        AgainstCutoff::After
    } else {
        AgainstCutoff::NotYet
    })
}

/// The records of `actor`'s pushes up to `cut` taken in here, by their ids ([`record_id`]),
/// if every number from 1 to `cut` has one: what a revocation names, so that a record the
/// revoked device signs afterwards under one of those numbers counts for nothing. `None`
/// when one is missing (taken in before schema 20, or not come): the number alone decides.
pub(crate) fn records_for_cutoff(
    conn: &Connection,
    actor: &str,
    cut: u64,
) -> Result<Option<Vec<String>>> {
    let rows: Vec<(Vec<u8>, i64)> = conn
        .prepare_cached(
            "SELECT record, n FROM push_record_ids WHERE actor = ?1 AND n <= ?2 ORDER BY n, record",
        )?
        .query_map((actor, cut as i64), |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<std::result::Result<_, _>>()?;
    let numbers: std::collections::BTreeSet<i64> = rows.iter().map(|(_, n)| *n).collect();
    if cut == 0 || (numbers.len() as u64) < cut {
        return Ok(None);
    }
    Ok(Some(
        rows.iter()
            .map(|(record, _)| super::intake::hex(record))
            .collect(),
    ))
}

/// Mark member `actor` revoked with `cutoff` (kept only where none was set: the first
/// revocation taken in decides), binding the `records` its revocation named when its cut-off
/// is the one kept. Whether the member was known here.
pub(crate) fn revoke_member(
    conn: &Connection,
    actor: &str,
    cutoff: Option<u64>,
    records: Option<&[String]>,
) -> Result<bool> {
    let had: Option<Option<i64>> = conn
        .prepare_cached("SELECT cutoff FROM members WHERE actor = ?1")?
        .query_row([actor], |r| r.get(0))
        .optional()?;
    let earlier: Option<Option<i64>> = conn
        .prepare_cached("SELECT cutoff FROM revoked_unknown WHERE actor = ?1")?
        .query_row([actor], |r| r.get(0))
        .optional()?;
    let set_before = had.flatten().is_some() || earlier.flatten().is_some();
    conn.prepare_cached(
        "UPDATE members SET revoked = 1, cutoff = coalesce(cutoff, ?2) WHERE actor = ?1",
    )?
    .execute((actor, cutoff.map(|n| n as i64)))?;
    if !set_before
        && cutoff.is_some()
        && let Some(records) = records
    {
        bind_cutoff(conn, actor, records)?;
    }
    Ok(had.is_some())
}

/// Keep the records a revocation of `actor` named ([`records_for_cutoff`]), as hex; any not
/// of that form is left out (it could name no record).
pub(crate) fn bind_cutoff(conn: &Connection, actor: &str, records: &[String]) -> Result<()> {
    let mut insert = conn
        .prepare_cached("INSERT OR IGNORE INTO cutoff_records (actor, record) VALUES (?1, ?2)")?;
    for record in records {
        if let Some(bytes) = unhex_strict(record).filter(|b| b.len() == RECORD_ID_LEN) {
            insert.execute((actor, bytes))?;
        }
    }
    Ok(())
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
            // In the order of `blobs`, then `snapshots`.
            rest: carried
                .iter()
                .filter(|(_, _, snapshot)| !snapshot)
                .chain(carried.iter().filter(|(_, _, snapshot)| *snapshot))
                .map(|(_, blob, _)| rest_of(&groundwork_protocol::blob_id(blob)))
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
