//! Erasing a document from this notebook (a person's right to be forgotten), and the
//! bookkeeping of the team's erasure orders: this device's role, how far it has carried out
//! and confirmed the orders, and how many devices have confirmed each one.
//!
//! Erasing deletes, in one transaction: the saved document, its projection rows (the person,
//! their conversations and commitments; a campaign or a shift), its search-index row, its
//! changes waiting for the relay, pulled changes of it that wait or were quarantined, the
//! drafts typed about it, the notes of the forms that made it or one of its conversations
//! (`saved:KEY`), and its repair stamp; it cuts the document's own key out of the
//! team's tree of keys ([`crate::crypto::doc_keys`]); and it records the id in `erased`, so
//! that nothing of it is ever taken in again. The database runs with `secure_delete` on (freed
//! content is overwritten with zeros) and the search index with FTS5 `secure-delete` (words are
//! removed from the index, not masked), so once the write-ahead log is checkpointed and
//! truncated ([`Store::scrub`]) the bytes are gone from the database file and its journal.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::Store;
use crate::docs::DocKind;
use crate::error::{Error, Result};

/// The rows of `table` (by rowid, as a JSON array for `json_each`) whose `doc_id` is `doc_id`
/// (canonical) under any spelling this app reads as that id ([`crate::ids::parse_id`]: upper
/// case, braces, no hyphens, a `urn:uuid:` prefix, whitespace of any kind around it). Read
/// in Rust, with the parser the intake uses: SQL's `trim` removes only ASCII spaces, so a
/// change filed under the id with a no-break space after it, quarantined with its opened
/// text, outlived the person's erasure (a review's finding, 2026-12-05). Erasures are rare:
/// the scan of the table is their cost.
pub(crate) fn rows_of_any_spelling(
    conn: &rusqlite::Connection,
    table: &str,
    doc_id: &str,
) -> Result<String> {
    let mut stmt = conn.prepare(&format!("SELECT rowid, doc_id FROM {table}"))?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
    })?;
    let mut matching = Vec::new();
    for row in rows {
        let (rowid, spelled) = row?;
        let Some(spelled) = spelled else { continue };
        if spelled == doc_id || crate::ids::parse_id(&spelled).is_ok_and(|id| id == doc_id) {
            matching.push(rowid);
        }
    }
    Ok(serde_json::to_string(&matching).unwrap_or_else(|_| "[]".into()))
}

/// Meta key set while a checkpoint after an erasure could not finish (another connection was
/// reading); the next [`Store::checkpoint`] truncates the log then.
pub(crate) const SCRUB_PENDING: &str = "scrub_pending";

/// An erasure recorded in this notebook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ErasureRecord {
    /// The erased document.
    pub doc_id: String,
    /// The team's order number (none for an erasure made without a team).
    pub seq: Option<u64>,
    /// When it was carried out here.
    pub erased_at: String,
    /// Devices of the team that had confirmed it when the relay was last asked.
    pub confirmed: Option<u32>,
    /// Active devices of the team then.
    pub devices: Option<u32>,
}

/// How far this device has gone through the team's erasure orders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErasureProgress {
    /// The last order carried out here.
    pub applied: u64,
    /// The last order the relay has been told about.
    pub confirmed: u64,
}

impl Store {
    /// Erase document `doc_id` from this notebook (see the module documentation); `seq` is the
    /// team's order, if the erasure came from one. Returns whether the notebook held anything
    /// of it. Carrying out the same order twice is harmless.
    pub fn erase_document(&mut self, doc_id: &str, seq: Option<u64>) -> Result<bool> {
        // Not even in memory: a file kept loaded for the next write goes first.
        drop(self.kept.take(doc_id));
        let now = crate::model::format_time(chrono::Utc::now());
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let kind: Option<Option<String>> = tx
            .query_row(
                "SELECT kind FROM documents WHERE doc_id = ?1",
                [doc_id],
                |r| r.get(0),
            )
            .optional()?;
        let mut held = kind.is_some();
        match kind.flatten().as_deref().and_then(DocKind::parse) {
            Some(DocKind::Person) | None => {
                let rowid: Option<i64> = tx
                    .query_row("SELECT rowid FROM people WHERE id = ?1", [doc_id], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if let Some(rowid) = rowid {
                    tx.execute("DELETE FROM people_fts WHERE rowid = ?1", [rowid])?;
                    // A row waiting for its transaction's end is never written after this.
                    tx.execute("DELETE FROM temp.search_pending WHERE rowid = ?1", [rowid])?;
                }
                tx.execute("DELETE FROM search_stale WHERE doc_id = ?1", [doc_id])?;
                // The notes of the forms that made the person or one of their conversations
                // (`saved:KEY`, whose body is the id made): read before the conversations'
                // rows go, else the conversations' ids would stay until the notes' 30 days.
                tx.execute(
                    "DELETE FROM drafts WHERE key >= ?1 AND key < ?2 AND (body = ?3
                     OR body IN (SELECT id FROM conversations WHERE person_id = ?3))",
                    (
                        super::drafts::SAVED_PREFIX,
                        super::drafts::SAVED_END,
                        doc_id,
                    ),
                )?;
                tx.execute("DELETE FROM conversations WHERE person_id = ?1", [doc_id])?;
                tx.execute("DELETE FROM commitments WHERE person_id = ?1", [doc_id])?;
                tx.execute("DELETE FROM people WHERE id = ?1", [doc_id])?;
            }
            Some(DocKind::Campaign) => {
                tx.execute("DELETE FROM campaigns WHERE id = ?1", [doc_id])?;
            }
            Some(DocKind::Shift) => {
                tx.execute("DELETE FROM shifts WHERE id = ?1", [doc_id])?;
            }
            // The doors go; conversations recorded at them stay with their people.
            Some(DocKind::WalkList) => {
                tx.execute("DELETE FROM door_visits WHERE walklist_id = ?1", [doc_id])?;
                tx.execute("DELETE FROM doors WHERE walklist_id = ?1", [doc_id])?;
                tx.execute("DELETE FROM walklists WHERE id = ?1", [doc_id])?;
            }
        }
        for sql in [
            "DELETE FROM documents WHERE doc_id = ?1",
            "DELETE FROM outbox WHERE doc_id = ?1",
            "DELETE FROM waiting WHERE doc_id = ?1",
            "DELETE FROM repairs WHERE doc_id = ?1",
            // A snapshot of the person made here and not yet pushed or announced.
            "DELETE FROM snapshots_out WHERE doc_id = ?1",
        ] {
            held |= tx.execute(sql, [doc_id])? > 0;
        }
        // Quarantined changes, and sealed ones still waiting for their writer's key, filed
        // under any spelling of the id too.
        for table in ["quarantine", "awaiting_key"] {
            let rows = rows_of_any_spelling(&tx, table, doc_id)?;
            held |= tx.execute(
                &format!("DELETE FROM {table} WHERE rowid IN (SELECT value FROM json_each(?1))"),
                [rows],
            )? > 0;
        }
        // Blobs of the person other devices' push records listed: the relay deleted them.
        tx.execute("DELETE FROM blobs_expected WHERE doc_id = ?1", [doc_id])?;
        tx.execute("DELETE FROM doc_blobs WHERE doc_id = ?1", [doc_id])?;
        for key in super::drafts::person_draft_keys(doc_id) {
            tx.execute("DELETE FROM drafts WHERE key = ?1", [key])?;
        }
        tx.execute(
            "DELETE FROM drafts WHERE substr(key, 1, length(?1)) = ?1",
            [super::drafts::person_draft_prefix(doc_id)],
        )?;
        if held {
            // Words of the person's earlier versions may still sit in older index segments
            // (written before secure-delete was on): merging the index drops them.
            tx.execute(
                "INSERT INTO people_fts (people_fts) VALUES ('optimize')",
                [],
            )?;
        }
        if let Some(seq) = seq {
            // Another document under the same order number would be a relay's mistake; the
            // order's document is the one erased here.
            // Never delete a tombstone: its order number is moved to this document.
            tx.execute(
                "UPDATE erased SET seq = NULL WHERE seq = ?1 AND doc_id <> ?2",
                params![seq_number(seq)?, doc_id],
            )?;
        }
        tx.execute(
            "INSERT INTO erased (doc_id, seq, erased_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (doc_id) DO UPDATE SET seq = COALESCE(erased.seq, excluded.seq)",
            params![doc_id, seq.map(seq_number).transpose()?, now],
        )?;
        // Erased: no refusal of an order for it stands any longer (one under another number
        // included).
        tx.execute("DELETE FROM refused_erasures WHERE doc_id = ?1", [doc_id])?;
        // Its own key goes too: what copies of the relay's database taken before this moment
        // hold of it opens under no key any device still has (see `crypto::doc_keys`). The
        // key's bytes were in this database, so its log is truncated afterwards even when
        // nothing else of the document was held here. The truncation is owed from this
        // commit on, for whatever was held: a process killed before [`Store::scrub`] leaves
        // it to the next checkpoint (it was owed only when a key was cut).
        let punctured = super::keys::puncture_doc_key(&tx, doc_id)?;
        if punctured || held {
            super::meta::meta_set(&tx, SCRUB_PENDING, "1")?;
        }
        if let Some(seq) = seq {
            tx.execute(
                "UPDATE sync_state SET erasures_applied = max(erasures_applied, ?1) WHERE id = 1",
                [seq_number(seq)?],
            )?;
        }
        tx.commit()?;
        // Nor the keys held: the tree held until now could still derive the cut key.
        if punctured {
            self.keys.forget();
        }
        Ok(held)
    }

    /// Erase the person `id` from a notebook that syncs with no team (a joined notebook erases
    /// through the team's lead: `sync::team::erase_person`). Fails for an id that is not a
    /// person held here.
    pub fn erase_person_locally(&mut self, id: &str) -> Result<()> {
        self.erase_locally(id, DocKind::Person)
    }

    /// Erase the document `id`, a `kind` held here, from this notebook alone.
    pub fn erase_locally(&mut self, id: &str, kind: DocKind) -> Result<()> {
        let id = self.held(id, kind)?;
        self.erase_document(&id, None)?;
        self.scrub()
    }

    /// `id` as a person held here, or why not.
    pub fn held_person(&self, id: &str) -> Result<String> {
        self.held(id, DocKind::Person)
    }

    /// `id` as a document of `kind` held here, or why not.
    pub fn held(&self, id: &str, kind: DocKind) -> Result<String> {
        let id = crate::ids::parse_id(id)?;
        let found: Option<Option<String>> = self
            .conn
            .query_row("SELECT kind FROM documents WHERE doc_id = ?1", [&id], |r| {
                r.get(0)
            })
            .optional()?;
        match found.flatten().as_deref() {
            Some(k) if k == kind.as_str() => Ok(id),
            _ if self.is_erased(&id)? => Err(Error::Erased { id }),
            _ => Err(Error::NotFound {
                kind: kind.as_str(),
                id,
            }),
        }
    }

    /// Whether `doc_id` was erased from this notebook.
    pub fn is_erased(&self, doc_id: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM erased WHERE doc_id = ?1")?
            .exists([doc_id])?)
    }

    /// Make sure erased bytes are gone from the files: copy the write-ahead log into the
    /// database and truncate it. When another connection is reading, the log is truncated at
    /// the next [`Store::checkpoint`] instead.
    pub fn scrub(&self) -> Result<()> {
        // The one-time rewrite of a notebook upgraded to schema 7, if it could not be done then.
        if self
            .conn
            .prepare_cached("SELECT 1 FROM meta WHERE key = 'vacuum_owed'")?
            .exists([])?
            && self
                .conn
                .execute_batch("PRAGMA temp_store = MEMORY; VACUUM;")
                .is_ok()
        {
            self.conn
                .execute("DELETE FROM meta WHERE key = 'vacuum_owed'", [])?;
        }
        // The phone's notebook has a write-ahead log too (in exclusive locking mode): this was
        // left out of its build from the time it had a rollback journal, so there the erased
        // pages stayed in the log and the marker below was never cleared (every idle
        // checkpoint then did nothing). In a rollback journal the pragma checkpoints nothing
        // and answers "not busy".
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy != 0 {
            super::meta::meta_set(&self.conn, SCRUB_PENDING, "1")?;
        } else {
            super::meta::meta_delete(&self.conn, SCRUB_PENDING)?;
        }
        Ok(())
    }

    /// Whether a truncating checkpoint is still owed after an erasure.
    pub fn scrub_pending(&self) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM meta WHERE key = ?1")?
            .exists([SCRUB_PENDING])?)
    }

    /// Every erasure recorded here, by order (erasures without a team last).
    pub fn erasures(&self) -> Result<Vec<ErasureRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT doc_id, seq, erased_at, confirmed, devices FROM erased
             ORDER BY seq IS NULL, seq, erased_at",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ErasureRecord {
                doc_id: r.get(0)?,
                seq: r.get::<_, Option<i64>>(1)?.map(|s| s.max(0) as u64),
                erased_at: r.get(2)?,
                confirmed: r.get::<_, Option<i64>>(3)?.map(|n| n.max(0) as u32),
                devices: r.get::<_, Option<i64>>(4)?.map(|n| n.max(0) as u32),
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// The team's erasures not yet confirmed by every device, as the relay last counted.
    pub fn erasures_waiting(&self) -> Result<Vec<ErasureRecord>> {
        Ok(self
            .erasures()?
            .into_iter()
            .filter(|e| e.seq.is_some() && e.confirmed.zip(e.devices).is_none_or(|(c, d)| c < d))
            .collect())
    }

    /// Record the relay's count of devices that confirmed order `seq`.
    pub fn set_erasure_count(&self, seq: u64, confirmed: u32, devices: u32) -> Result<()> {
        self.conn.execute(
            "UPDATE erased SET confirmed = ?2, devices = ?3 WHERE seq = ?1",
            params![seq_number(seq)?, confirmed, devices],
        )?;
        Ok(())
    }

    /// How far this device has gone through the team's erasure orders.
    pub fn erasure_progress(&self) -> Result<ErasureProgress> {
        Ok(self.conn.query_row(
            "SELECT erasures_applied, erasures_confirmed FROM sync_state WHERE id = 1",
            [],
            |r| {
                Ok(ErasureProgress {
                    applied: r.get::<_, i64>(0)?.max(0) as u64,
                    confirmed: r.get::<_, i64>(1)?.max(0) as u64,
                })
            },
        )?)
    }

    /// Note that the relay was told of every order up to `seq`.
    pub fn set_erasures_confirmed(&self, seq: u64) -> Result<()> {
        self.conn.execute(
            "UPDATE sync_state SET erasures_confirmed = max(erasures_confirmed, ?1) WHERE id = 1",
            [seq_number(seq)?],
        )?;
        Ok(())
    }

    /// Note that every order up to `seq` was carried out here (the orders listed had nothing
    /// left to erase, or were erased by [`Store::erase_document`]).
    pub fn set_erasures_applied(&self, seq: u64) -> Result<()> {
        self.conn.execute(
            "UPDATE sync_state SET erasures_applied = max(erasures_applied, ?1) WHERE id = 1",
            [seq_number(seq)?],
        )?;
        Ok(())
    }

    /// This device's role in its team as the relay last said (`lead` or `canvasser`).
    pub fn role(&self) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT role FROM sync_state WHERE id = 1", [], |r| r.get(0))?)
    }

    /// Record this device's role as the relay says it.
    pub fn set_role(&self, role: &str) -> Result<()> {
        write_role(&self.conn, role)
    }
}

/// Record this device's role (inside the caller's transaction, if any).
pub(super) fn write_role(conn: &rusqlite::Connection, role: &str) -> Result<()> {
    conn.execute(
        "UPDATE sync_state SET role = ?1 WHERE id = 1 AND role IS NOT ?1",
        [role],
    )?;
    Ok(())
}

/// An erasure order's number as stored; a relay's number beyond SQLite's integers is refused.
fn seq_number(seq: u64) -> Result<i64> {
    i64::try_from(seq).map_err(|_| Error::BadOrder(format!("order number {seq} is out of range")))
}

impl Store {
    /// Start the erasure bookkeeping over (the relay's orders end before the last one carried
    /// out here: it was restored from a backup or replaced). The ids erased here stay erased.
    pub fn reset_erasure_progress(&self) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute("UPDATE erased SET seq = NULL", [])?;
        // The relay numbers its orders afresh: refusals of its old numbers are gone with them
        // (the orders, if it still has them, are refused again as they come).
        tx.execute("DELETE FROM refused_erasures", [])?;
        tx.execute(
            "UPDATE sync_state SET erasures_applied = 0, erasures_confirmed = 0 WHERE id = 1",
            [],
        )?;
        tx.commit()?;
        Ok(())
    }
}

/// The `meta` key under which a lead's revocation of `device_id` notes the erasures to sign
/// again (see [`Store::note_orders_to_sign_again`]).
const SIGN_AGAIN: &str = "sign-again:";

/// A revocation's note of the erasures to sign again ([`Store::note_orders_to_sign_again`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
pub struct SignAgain {
    /// The revoked device's id at the relay.
    #[serde(skip)]
    pub device_id: String,
    /// The documents erased here before the revocation was asked for.
    pub docs: Vec<String>,
    /// When the note was made (Unix seconds).
    pub at: i64,
    /// The relay is known to have revoked the device (its answer came, or a listing showed
    /// it): the revocation is done there, and what is left here is to finish.
    #[serde(default)]
    pub revoked: bool,
}

impl Store {
    /// Note, before a lead asks the relay to revoke `device_id`, the documents erased here by
    /// then (`carried_out`): the orders among them that the revoked device signed as a lead
    /// are to be signed again by this lead. Kept until [`Store::orders_signed_again`], so that
    /// a revocation whose relay went away (or whose app was killed) half way finishes at the
    /// next listing of the team's devices. A note already there for the device stays as it is
    /// (the revocation asked again after a lost answer): what this device erased after the
    /// first request may include an order a relay slipped in with the lost phone's key.
    /// Returns the note, and whether this call made it.
    pub fn note_orders_to_sign_again(
        &self,
        device_id: &str,
        carried_out: &[String],
    ) -> Result<(SignAgain, bool)> {
        let key = format!("{SIGN_AGAIN}{device_id}");
        let note = SignAgain {
            device_id: device_id.to_string(),
            docs: carried_out.to_vec(),
            at: chrono::Utc::now().timestamp(),
            revoked: false,
        };
        let made = self.conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
            (&key, serde_json::to_string(&note)?),
        )? > 0;
        let kept = super::meta_get(&self.conn, &key)?.unwrap_or_default();
        Ok((read_note(device_id, &kept), made))
    }

    /// The revocations whose erasures wait to be signed again, oldest device id first. A note
    /// this version cannot read is given with no documents (nothing is signed for it, and it
    /// goes at the next listing).
    pub fn orders_to_sign_again(&self) -> Result<Vec<SignAgain>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT key, value FROM meta WHERE substr(key, 1, ?2) = ?1 ORDER BY key",
        )?;
        let rows = stmt.query_map(params![SIGN_AGAIN, SIGN_AGAIN.len() as i64], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut noted = Vec::new();
        for row in rows {
            let (key, value) = row?;
            noted.push(read_note(&key[SIGN_AGAIN.len()..], &value));
        }
        Ok(noted)
    }

    /// The erasures noted for the revocation of `device_id` are signed again (or there is
    /// nothing to sign: the device was not revoked after all, or this device is no lead).
    pub fn orders_signed_again(&self, device_id: &str) -> Result<()> {
        super::meta_delete(&self.conn, &format!("{SIGN_AGAIN}{device_id}"))
    }

    /// The relay is known to have revoked `device_id` (see [`SignAgain::revoked`]).
    pub fn note_device_revoked(&self, device_id: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE meta SET value = json_set(value, '$.revoked', json('true')) WHERE key = ?1",
            [format!("{SIGN_AGAIN}{device_id}")],
        )?;
        Ok(())
    }

    /// Forget every revocation's note (this device is no longer a lead: it signs nothing).
    pub fn forget_orders_to_sign_again(&self) -> Result<()> {
        self.conn.execute(
            "DELETE FROM meta WHERE substr(key, 1, ?2) = ?1",
            params![SIGN_AGAIN, SIGN_AGAIN.len() as i64],
        )?;
        Ok(())
    }
}

/// A note as stored; one that does not read is a note of no documents, made long ago.
fn read_note(device_id: &str, value: &str) -> SignAgain {
    SignAgain {
        device_id: device_id.to_string(),
        ..serde_json::from_str(value).unwrap_or_default()
    }
}
