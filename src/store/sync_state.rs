//! Sync bookkeeping kept in the store: the outbox of local changes, the relay link and cursor,
//! a join asked for and not yet answered, the last outcome, and what pulled changes left behind
//! (quarantined and waiting changes, repairs, the names of the devices seen writing).

use super::{Quarantined, Store, intake};
use crate::error::Result;

/// A local change waiting for a relay to acknowledge it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// Position in the outbox (oldest first).
    pub seq: i64,
    /// The document the change belongs to.
    pub doc_id: String,
    /// The change's Automerge hash (hex).
    pub change_hash: String,
    /// The change's bytes.
    pub bytes: Vec<u8>,
}

/// Where this device syncs, as recorded by `join`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayLink {
    /// The relay's base URL.
    pub relay_url: String,
    /// The team this device joined.
    pub team_id: String,
    /// This device's id at the relay.
    pub relay_device_id: String,
    /// The bearer token (secret).
    pub token: String,
}

/// A join this notebook has asked a relay for and not yet taken in: kept before the request
/// goes, so that a join whose answer was lost asks again as the same enrolment (the relay
/// answers it again without using the invite again; see [`crate::sync::engine::join`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingJoin {
    /// The relay's base URL.
    pub relay: String,
    /// The invite code sent (the part before the secret, which is never kept).
    pub invite: String,
    /// The bearer token this device chose (secret).
    pub token: String,
    /// The identity asked with: a new device id this notebook takes once joined, or `None`
    /// for its own.
    pub renew: Option<String>,
}

/// `meta` key of the [`PendingJoin`] (JSON), deleted by the join that takes the answer in.
pub(crate) const PENDING_JOIN: &str = "pending_join";

/// The `meta` key set while the relay refuses this device's pushes for want of room.
const PUSH_REFUSED: &str = "push_refused";
/// Bytes a sync's request may carry on this device's link, as the last sync learnt.
const LINK_PACE: &str = "link_pace";
/// Set while a sync runs: still set when a sync starts, the last one never finished.
const SYNC_UNDER_WAY: &str = "sync_under_way";

/// This device's sync bookkeeping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncState {
    /// The relay link, once joined.
    pub link: Option<RelayLink>,
    /// The position in the team's log up to which changes are applied here.
    pub cursor: u64,
    /// When the last sync completed.
    pub last_sync_at: Option<String>,
    /// The last sync error, cleared by a successful sync.
    pub last_error: Option<String>,
}

impl Store {
    /// How many local changes wait for a relay.
    pub fn pending_changes(&self) -> Result<u64> {
        // Key records (this device's keys, a key rotation) are bookkeeping, not changes to the
        // notebook (`crypto::is_key_record`). Cached: the phone's worker counts after every save.
        Ok(self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM outbox
                 WHERE doc_id NOT LIKE 'member-%' AND doc_id NOT LIKE 'epoch-%'
                   AND doc_id NOT LIKE 'lead-%'",
            )?
            .query_row([], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Whether changes of `doc_id` wait for a relay.
    pub fn has_pending(&self, doc_id: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM outbox WHERE doc_id = ?1 LIMIT 1")?
            .exists([doc_id])?)
    }

    /// The oldest `limit` changes waiting for a relay. Changes to a document whose erasure
    /// order this device refused (no lead signed it) are held back: the relay would refuse the
    /// whole push for them, and this device could then never pull the record that may make
    /// the order good.
    pub fn outbox(&self, limit: usize) -> Result<Vec<OutboxItem>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, doc_id, change_hash, bytes FROM outbox
             WHERE doc_id NOT IN (SELECT doc_id FROM refused_erasures)
             ORDER BY seq LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok(OutboxItem {
                seq: r.get(0)?,
                doc_id: r.get(1)?,
                change_hash: r.get(2)?,
                bytes: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Drop acknowledged changes from the outbox.
    pub fn acknowledge(&mut self, change_hashes: &[String]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached("DELETE FROM outbox WHERE change_hash = ?1")?;
            for h in change_hashes {
                stmt.execute([h])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Whether a join the relay may have enrolled under this notebook's own identity was never
    /// taken in (its answer lost, its keys not opened, the app closed): the relay may hold that
    /// identity for the team, so the next join takes a new one.
    pub fn identity_spent(&self) -> Result<bool> {
        Ok(super::meta_get(&self.conn, super::keys::ACTOR_SPENT)?.is_some())
    }

    /// Note that the relay may hold this notebook's identity from a join never taken in: a
    /// retry with the same identity would be refused (the relay enrols an actor once per
    /// team), so the next join takes a new one. Cleared by a join that succeeds.
    fn spend_identity(&self) -> Result<()> {
        super::meta_set(&self.conn, super::keys::ACTOR_SPENT, "1")
    }

    /// The join asked for and not yet taken in, if any. One that cannot be read (written by
    /// another version) counts as none: the next join asks afresh.
    pub fn pending_join(&self) -> Result<Option<PendingJoin>> {
        Ok(super::meta_get(&self.conn, PENDING_JOIN)?
            .and_then(|json| serde_json::from_str(&json).ok()))
    }

    /// Keep `join` (committed before this returns) before asking the relay for it.
    /// A join asked with this notebook's own identity that it replaces may have been enrolled
    /// (its answer never came): the identity is marked spent ([`Store::identity_spent`]).
    pub fn set_pending_join(&self, join: &PendingJoin) -> Result<()> {
        self.drop_pending_join(true)?;
        // Text fields only: turning them into JSON cannot fail.
        let json = serde_json::json!({
            "relay": join.relay,
            "invite": join.invite,
            "token": join.token,
            "renew": join.renew,
        });
        super::meta_set(&self.conn, PENDING_JOIN, &json.to_string())
    }

    /// Forget the join asked for. `maybe_enrolled`: the relay may have enrolled it (an earlier
    /// asking of it went unanswered), so a join asked with this notebook's own identity marks
    /// that identity spent: the next join takes a new one. A refusal of a first asking
    /// enrolled nothing.
    pub fn drop_pending_join(&self, maybe_enrolled: bool) -> Result<()> {
        if maybe_enrolled && self.pending_join()?.is_some_and(|p| p.renew.is_none()) {
            self.spend_identity()?;
        }
        super::meta_delete(&self.conn, PENDING_JOIN)
    }

    /// This device's sync bookkeeping.
    pub fn sync_state(&self) -> Result<SyncState> {
        read_sync_state(&self.conn)
    }

    /// Record the relay this device joined. Joining another team starts its log from the
    /// beginning; what this device holds stays and is sent there too.
    pub fn set_relay_link(&mut self, link: &RelayLink) -> Result<()> {
        let tx = self.conn.transaction()?;
        write_link(&tx, link)?;
        tx.commit()?;
        Ok(())
    }

    /// The name this device's own changes are shown as.
    pub(super) fn own_name(&self) -> Result<String> {
        Ok(match (self.given_canvasser_name()?, self.device_name()?) {
            (Some(name), _) | (None, Some(name)) => name,
            (None, None) => format!("this device ({})", super::NO_NAME_GIVEN),
        })
    }
}

/// This device's sync bookkeeping as `conn` sees it (in the caller's transaction, if any).
pub(super) fn read_sync_state(conn: &rusqlite::Connection) -> Result<SyncState> {
    Ok(conn.query_row(
        "SELECT cursor, last_sync_at, last_error, relay_url, team_id, relay_device_id, token
             FROM sync_state WHERE id = 1",
        [],
        |r| {
            let link = match (r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?) {
                (Some(relay_url), Some(team_id), Some(relay_device_id), Some(token)) => {
                    Some(RelayLink {
                        relay_url,
                        team_id,
                        relay_device_id,
                        token,
                    })
                }
                _ => None,
            };
            Ok(SyncState {
                link,
                cursor: r.get::<_, i64>(0)?.max(0) as u64,
                last_sync_at: r.get(1)?,
                last_error: r.get(2)?,
            })
        },
    )?)
}

/// Record `link` inside the caller's transaction (see [`Store::set_relay_link`]).
pub(super) fn write_link(tx: &rusqlite::Connection, link: &RelayLink) -> Result<()> {
    // Another team numbers its erasure orders from 1 again; the ids erased here stay erased.
    tx.execute(
        "UPDATE erased SET seq = NULL WHERE (SELECT team_id FROM sync_state WHERE id = 1) IS NOT ?1",
        [&link.team_id],
    )?;
    // Another team's refusals, early revocations, promotions and revocations to finish are not
    // this one's.
    for sql in [
        "DELETE FROM refused_erasures
         WHERE (SELECT team_id FROM sync_state WHERE id = 1) IS NOT ?1",
        "DELETE FROM revoked_unknown
         WHERE (SELECT team_id FROM sync_state WHERE id = 1) IS NOT ?1",
        "DELETE FROM meta WHERE key = 'pending_promotions'
           AND (SELECT team_id FROM sync_state WHERE id = 1) IS NOT ?1",
        // Revocations whose erasures waited to be signed again (`Store::orders_to_sign_again`).
        "DELETE FROM meta WHERE substr(key, 1, 11) = 'sign-again:'
           AND (SELECT team_id FROM sync_state WHERE id = 1) IS NOT ?1",
    ] {
        tx.execute(sql, [&link.team_id])?;
    }
    tx.execute(
        "UPDATE sync_state SET erasures_applied = 0, erasures_confirmed = 0, role = NULL
         WHERE id = 1 AND team_id IS NOT ?1",
        [&link.team_id],
    )?;
    tx.execute(
        "UPDATE sync_state SET relay_url = ?1, team_id = ?2, relay_device_id = ?3, token = ?4,
             cursor = CASE WHEN team_id IS ?2 THEN cursor ELSE 0 END, last_error = NULL
         WHERE id = 1",
        (
            &link.relay_url,
            &link.team_id,
            &link.relay_device_id,
            &link.token,
        ),
    )?;
    Ok(())
}

impl Store {
    /// Record the outcome of a sync attempt: success clears the error and stamps the time.
    pub fn record_sync_outcome(&self, error: Option<&str>) -> Result<()> {
        match error {
            None => self.conn.execute(
                "UPDATE sync_state SET last_sync_at = ?1, last_error = NULL WHERE id = 1",
                [crate::model::format_time(chrono::Utc::now())],
            )?,
            Some(e) => self
                .conn
                .execute("UPDATE sync_state SET last_error = ?1 WHERE id = 1", [e])?,
        };
        Ok(())
    }

    /// Every pulled change that was refused, newest first.
    pub fn quarantined(&self) -> Result<Vec<Quarantined>> {
        intake::quarantined(&self.conn)
    }

    /// Keep at most `n` pulled blobs waiting for a key here (instead of 20,000): for tests
    /// of what happens at that bound without pulling tens of thousands of blobs.
    #[doc(hidden)]
    pub fn set_max_awaiting(&mut self, n: usize) -> Result<()> {
        super::meta_set(&self.conn, super::opening::MAX_AWAITING_KEY, &n.to_string())
    }

    /// Keep at most `n` pulled changes waiting for the changes they depend on (instead of
    /// 20,000): for tests of what happens at that bound.
    #[doc(hidden)]
    pub fn set_max_waiting(&mut self, n: usize) -> Result<()> {
        super::meta_set(&self.conn, intake::MAX_WAITING_KEY, &n.to_string())
    }

    /// Lower the bound on listed refusals (normally 20,000): for tests of what happens at
    /// that bound.
    #[doc(hidden)]
    pub fn set_max_refused(&mut self, n: usize) -> Result<()> {
        super::meta_set(&self.conn, super::refused::MAX_REFUSED_KEY, &n.to_string())
    }

    /// Lower the bound on refused bytes kept as evidence (normally 16 MiB): for tests.
    #[doc(hidden)]
    pub fn set_max_evidence(&mut self, bytes: u64) -> Result<()> {
        super::meta_set(
            &self.conn,
            super::refused::MAX_EVIDENCE_KEY,
            &bytes.to_string(),
        )
    }

    /// The devices (hex actors) whose blobs wait here for their signing key, by what the relay
    /// says pushed them: their member records have not come yet.
    pub fn awaited_members(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT pusher_actor FROM awaiting_key
             WHERE pusher_actor IS NOT NULL
               AND pusher_actor NOT IN (SELECT actor FROM members)",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<std::result::Result<Vec<String>, _>>()?)
    }

    /// The documents with pulled changes waiting for their dependencies, with how many wait.
    pub fn waiting_docs(&self) -> Result<Vec<(String, usize)>> {
        intake::waiting_docs(&self.conn)
    }

    /// The documents with changes refused here for want of room to wait (asked for again with
    /// the waiting ones).
    pub fn refused_for_room_docs(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT doc_id FROM quarantine WHERE for_room AND change_hash IS NOT NULL
             GROUP BY doc_id ORDER BY min(rowid)",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// The documents to ask for again: those whose changes have been waiting for their
    /// dependencies since before `waiting_before` (or were refused for want of room to wait,
    /// kept without their bytes), never asked for first, then the longest ago (so that a flood
    /// of documents that wait for ever cannot keep another from its turn); then those with
    /// blobs other devices' push records list and the relay has not served (withheld); none
    /// asked for since `asked_before`.
    pub fn docs_to_repair(&self, waiting_before: &str, asked_before: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT w.doc_id FROM
                 (SELECT doc_id, received_at, rowid AS at, 0 AS room FROM waiting
                  UNION ALL
                  SELECT doc_id, received_at, rowid, 1 FROM quarantine
                  WHERE for_room AND change_hash IS NOT NULL) w
             LEFT JOIN repairs r ON r.doc_id = w.doc_id
             GROUP BY w.doc_id
             HAVING min(w.received_at) < ?1 AND (max(r.asked_at) IS NULL OR max(r.asked_at) < ?2)
             ORDER BY max(r.asked_at) IS NOT NULL, max(r.asked_at), min(w.room), w.doc_id",
        )?;
        let rows = stmt.query_map([waiting_before, asked_before], |r| r.get(0))?;
        let mut docs = rows.collect::<std::result::Result<Vec<String>, _>>()?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT x.doc_id FROM blobs_expected x LEFT JOIN repairs r ON r.doc_id = x.doc_id
             WHERE (r.asked_at IS NULL OR r.asked_at < ?1)
               AND NOT EXISTS (SELECT 1 FROM erased e WHERE e.doc_id = x.doc_id)
             ORDER BY x.doc_id",
        )?;
        for doc in stmt.query_map([asked_before], |r| r.get::<_, String>(0))? {
            let doc = doc?;
            if !docs.contains(&doc) {
                docs.push(doc);
            }
        }
        Ok(docs)
    }

    /// Note that `doc_id` was asked for again now.
    pub fn mark_repaired(&self, doc_id: &str) -> Result<()> {
        self.conn.execute(
            // Not for a document erased meanwhile (the repair's pull may have been told so).
            "INSERT INTO repairs (doc_id, asked_at)
             SELECT ?1, ?2 WHERE NOT EXISTS (SELECT 1 FROM erased WHERE doc_id = ?1)
             ON CONFLICT (doc_id) DO UPDATE SET asked_at = excluded.asked_at",
            (doc_id, crate::model::format_time(chrono::Utc::now())),
        )?;
        Ok(())
    }

    /// Whether the relay last refused this device's push for want of room (its share of the
    /// team's storage, or the team's, full): until a push is taken again, a sync pushes one
    /// outbox row to see, not everything waiting (on a phone's data plan, again and again).
    pub fn push_refused(&self) -> Result<bool> {
        Ok(super::meta_get(&self.conn, PUSH_REFUSED)?.is_some())
    }

    /// Note whether the relay refused this device's last push for want of room.
    pub fn set_push_refused(&self, refused: bool) -> Result<()> {
        if refused {
            super::meta_set(&self.conn, PUSH_REFUSED, "1")
        } else {
            super::meta_delete(&self.conn, PUSH_REFUSED)
        }
    }

    /// Bytes a sync's request may carry on this device's link, as the last sync learnt
    /// (`sync::pace`); `None` before any sync learnt it, or if the note does not read as a
    /// number.
    pub fn link_pace(&self) -> Result<Option<u64>> {
        Ok(super::meta_get(&self.conn, LINK_PACE)?.and_then(|v| v.parse().ok()))
    }

    /// Keep what a sync learnt of this device's link for the next one.
    pub fn set_link_pace(&self, bytes: u64) -> Result<()> {
        super::meta_set(&self.conn, LINK_PACE, &bytes.to_string())
    }

    /// Note that the sync `run` (a token of its own) starts; returns whether another's note was
    /// there, which means the last sync never ended (its process was ended during it: a
    /// phone's app or tab killed, a `kill -9`), or, now and then, that another sync of this
    /// notebook is running (the app's and a lead's action's, or the command line's beside the
    /// app's): a false alarm that costs a smaller first request.
    pub fn sync_starts(&self, run: &str) -> Result<bool> {
        let was = super::meta_get(&self.conn, SYNC_UNDER_WAY)?.is_some();
        super::meta_set(&self.conn, SYNC_UNDER_WAY, run)?;
        Ok(was)
    }

    /// The sync `run` has ended, either way: its note goes, unless another sync's replaced it
    /// (that one is still running, and its note must outlive this sync).
    pub fn sync_ended(&self, run: &str) -> Result<()> {
        self.conn.execute(
            "DELETE FROM meta WHERE key = ?1 AND value = ?2",
            (SYNC_UNDER_WAY, run),
        )?;
        Ok(())
    }

    /// Whether a sync's note is there (a sync runs, or the last never ended).
    pub fn sync_under_way(&self) -> Result<bool> {
        Ok(super::meta_get(&self.conn, SYNC_UNDER_WAY)?.is_some())
    }

    /// Set the sync cursor back to the start of the team's log, so that the next sync pulls
    /// everything again (duplicates are no-ops; what was missing arrives).
    pub fn rewind_cursor(&self) -> Result<()> {
        self.conn
            .execute("UPDATE sync_state SET cursor = 0 WHERE id = 1", [])?;
        Ok(())
    }

    /// The names of the devices seen writing (as the relay named their pushes, else as their
    /// member record names them), by actor id (hex); this device included.
    pub fn writer_names(&self) -> Result<std::collections::HashMap<String, String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT actor, name FROM writers")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let mut names =
            rows.collect::<std::result::Result<std::collections::HashMap<String, String>, _>>()?;
        // A writer whose changes came only inside another device's snapshot never pushed to
        // this one; in a team with keys its member record names it.
        let mut members = self
            .conn
            .prepare_cached("SELECT actor, name FROM members")?;
        let rows =
            members.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (actor, name) = row?;
            names.entry(actor).or_insert(name);
        }
        names.insert(intake::hex(&self.actor_bytes()), self.own_name()?);
        Ok(names)
    }
}
