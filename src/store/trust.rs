//! The team's root of trust as this device holds it (schema 14): the team's anchor, each
//! member's role as a lead's signature gave it, the lead records this device makes when it
//! promotes another, and the verdict on the erasure orders the relay hands over. The checks
//! of pulled records are in [`super::opening`]; the signatures in [`crate::crypto::trust`].

use rusqlite::{Connection, OptionalExtension};

use super::Store;
use super::intake;
use super::keys::{device_key, queue_first, team_id};
use crate::crypto::CryptoError;
use crate::crypto::trust::{self, LeadRecord, TrustedRole, lead_doc_id};
use crate::error::{Error, Result};
use crate::model::format_time;

/// The team's anchor (its first lead's signing key), if this device's team has one.
pub(super) fn anchor(conn: &Connection) -> Result<Option<Vec<u8>>> {
    Ok(
        conn.query_row("SELECT anchor FROM sync_state WHERE id = 1", [], |r| {
            r.get(0)
        })?,
    )
}

/// The `meta` key of the team's first lead's actor (hex): the anchor key counts only under it.
pub(super) const ANCHOR_ACTOR: &str = "anchor_actor";

/// The team's first lead's actor, as this device's invite named it (or itself, when it made
/// the team's first key).
pub(super) fn anchor_actor(conn: &Connection) -> Result<Option<String>> {
    super::meta::meta_get(conn, ANCHOR_ACTOR)
}

/// Whether the device holding the team's anchor key has been revoked (its member record here
/// revoked, or a revocation of the first lead's actor taken in before its record came): from
/// then on the anchor signs nothing for the team.
pub(super) fn anchor_revoked(conn: &Connection, anchor: &[u8]) -> Result<bool> {
    if conn
        .prepare_cached("SELECT 1 FROM members WHERE signing_key = ?1 AND revoked = 1")?
        .exists([anchor])?
    {
        return Ok(true);
    }
    Ok(match anchor_actor(conn)? {
        Some(actor) => conn
            .prepare_cached(
                "SELECT 1 FROM revoked_unknown WHERE actor = ?1
                 UNION ALL SELECT 1 FROM members WHERE actor = ?1 AND revoked = 1",
            )?
            .exists([&actor])?,
        None => false,
    })
}

/// The `meta` key of the devices (relay ids) promoted by this device whose member records had
/// not come yet, as a JSON list.
const PENDING_PROMOTIONS: &str = "pending_promotions";

/// A promotion waiting for its device's member record: the relay id asked for, and the actor
/// the relay listed for it.
type Pending = (String, Option<String>);

fn pending_promotions(conn: &Connection) -> Result<Vec<Pending>> {
    Ok(super::meta::meta_get(conn, PENDING_PROMOTIONS)?
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default())
}

fn set_pending_promotions(conn: &Connection, devices: &[Pending]) -> Result<()> {
    let text = serde_json::to_string(devices).map_err(|e| CryptoError::Key(e.to_string()))?;
    super::meta::meta_set(conn, PENDING_PROMOTIONS, &text)
}

/// An erasure order no lead of the team signed: handed over by the relay, not carried out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RefusedErasure {
    /// The order's number at the relay.
    pub seq: u64,
    /// The document it named (kept on this device).
    pub doc_id: String,
    /// The proof the relay handed over with it, if any.
    pub proof: Option<String>,
    /// Why it was refused.
    pub reason: String,
}

impl Store {
    /// Whether this device's team has an anchor: the lead's key is its root of trust, and the
    /// relay's word on who leads is not taken.
    pub fn has_anchor(&self) -> Result<bool> {
        Ok(anchor(&self.conn)?.is_some())
    }

    /// The role a lead's signature gave the device of `actor` (hex), as far as this device
    /// has taken in its team's records; `None` in a team with no anchor or for a device not
    /// known here.
    pub fn trusted_role(&self, actor: &str) -> Result<Option<TrustedRole>> {
        let role: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT role FROM members WHERE actor = ?1 AND revoked = 0",
                [actor],
                |r| r.get(0),
            )
            .optional()?;
        Ok(role.flatten().as_deref().and_then(TrustedRole::parse))
    }

    /// What this device's invites carry for the team's root of trust: the team's anchor, this
    /// device's actor (hex) and keys to sign the invite's certificate; `None` in a team with no
    /// anchor (its invites are made as before).
    #[allow(clippy::type_complexity)]
    pub fn invite_trust(
        &self,
    ) -> Result<Option<([u8; 32], String, String, crate::crypto::keys::DeviceKey)>> {
        let Some(anchor) = anchor(&self.conn)? else {
            return Ok(None);
        };
        let anchor: [u8; 32] = anchor
            .try_into()
            .map_err(|_| CryptoError::Key("the team's stored anchor is not 32 bytes".into()))?;
        if !self.may_sign_as_lead()? {
            return Err(CryptoError::Key(
                "this device cannot invite for the team: the relay names it a lead, but no team lead's device has signed it as one, so the other devices would not let its invitees in; ask a lead to promote it from their app or with `groundwork team promote`".into(),
            )
            .into());
        }
        let anchor_actor = anchor_actor(&self.conn)?.ok_or_else(|| {
            CryptoError::Key("this device does not know its team's first lead".into())
        })?;
        Ok(Some((
            anchor,
            anchor_actor,
            intake::hex(&self.actor_bytes()),
            device_key(&self.conn)?,
        )))
    }

    /// Whether `actor` (hex) is a member of this device's team as far as it knows.
    pub fn is_member(&self, actor: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM members WHERE actor = ?1")?
            .exists([actor])?)
    }

    /// Whether this device may sign a lead's acts: in a team with an anchor, only a device a
    /// lead's signature made a lead; in one without, any (the relay decides).
    pub fn may_sign_as_lead(&self) -> Result<bool> {
        if !self.has_anchor()? {
            return Ok(true);
        }
        let me = intake::hex(&self.actor_bytes());
        Ok(self.trusted_role(&me)? == Some(TrustedRole::Lead))
    }

    /// The proof that goes with this device's order to erase `doc_id` (see
    /// [`trust::erase_proof`]); `None` when its team is not sealed (no keys to sign with).
    pub fn erase_proof(&self, doc_id: &str) -> Result<Option<String>> {
        if !super::keys::sealed(&self.conn)? {
            return Ok(None);
        }
        let Some(team) = team_id(&self.conn)? else {
            return Ok(None);
        };
        let me = intake::hex(&self.actor_bytes());
        Ok(Some(trust::erase_proof(
            &team,
            doc_id,
            &me,
            &device_key(&self.conn)?,
        )))
    }

    /// Queue this device's signed word that the devices of `actors` (hex) lead the team too,
    /// to go first at the next push; they count as leads here at once.
    pub fn promote_members(&mut self, actors: &[String]) -> Result<()> {
        if actors.is_empty() || !super::keys::sealed(&self.conn)? {
            return Ok(());
        }
        let me = intake::hex(&self.actor_bytes());
        let now = format_time(chrono::Utc::now());
        let tx = self.conn.transaction()?;
        for actor in actors {
            let record = serde_json::to_vec(&LeadRecord {
                actor: actor.clone(),
                by: me.clone(),
            })
            .map_err(|e| CryptoError::Key(e.to_string()))?;
            queue_first(&tx, &lead_doc_id(actor), &record, &now)?;
            tx.execute(
                "UPDATE members SET role = 'lead' WHERE actor = ?1 AND role IS NOT NULL",
                [actor],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Sign the promotion of the device `device_id` (its id at the relay; `relay_actor`, the
    /// actor the relay lists for it) to lead: at once when its member record is here,
    /// otherwise when it comes ([`Store::sign_pending_promotions`] after each sync). Returns
    /// whether it was signed now. The device's actor comes from its own member record; when
    /// several records claim the id (a device lying about its id), none is signed.
    pub fn promote_device(&mut self, device_id: &str, relay_actor: Option<&str>) -> Result<bool> {
        let actors = self.claiming(device_id, relay_actor)?;
        if actors.len() > 1 {
            return Err(CryptoError::Key(format!(
                "{} devices of the team claim the id {device_id}: none was signed as a lead; revoke the one that is not yours",
                actors.len()
            ))
            .into());
        }
        if !actors.is_empty() {
            self.promote_members(&actors)?;
            return Ok(true);
        }
        let mut pending = pending_promotions(&self.conn)?;
        if !pending.iter().any(|(d, _)| d == device_id) {
            pending.push((device_id.to_string(), relay_actor.map(str::to_string)));
            set_pending_promotions(&self.conn, &pending)?;
        }
        Ok(false)
    }

    /// The unrevoked members whose records name `device_id` (and are `relay_actor`, when the
    /// relay listed one).
    fn claiming(&self, device_id: &str, relay_actor: Option<&str>) -> Result<Vec<String>> {
        let mut actors = self.unrevoked_member_actors(device_id)?;
        if let Some(a) = relay_actor {
            actors.retain(|m| m == a);
        }
        Ok(actors)
    }

    /// Sign the promotions waiting for their device's member record, for those that came.
    /// Returns how many were signed (their records go at the next push).
    pub fn sign_pending_promotions(&mut self) -> Result<usize> {
        let pending = pending_promotions(&self.conn)?;
        if pending.is_empty() {
            return Ok(0);
        }
        let mut still = Vec::new();
        let mut signed = 0;
        for (device_id, relay_actor) in pending {
            let actors = self.claiming(&device_id, relay_actor.as_deref())?;
            if actors.len() == 1 {
                self.promote_members(&actors)?;
                signed += 1;
            } else {
                // Not here yet, or several records claim the id: none is signed; it stays
                // waiting (promoting again tells the lead which).
                still.push((device_id, relay_actor));
            }
        }
        set_pending_promotions(&self.conn, &still)?;
        Ok(signed)
    }

    /// Whether the erasure order for `doc_id` with `proof` (as the relay handed it over) may
    /// be carried out: `Ok(())` when a lead of the team signed it (or the team has no anchor,
    /// where the relay's word stands), otherwise why not.
    pub fn check_erase_order(
        &self,
        doc_id: &str,
        proof: Option<&str>,
    ) -> Result<std::result::Result<(), String>> {
        let Some(anchor) = anchor(&self.conn)? else {
            return Ok(Ok(()));
        };
        let team = team_id(&self.conn)?.ok_or(Error::Crypto(CryptoError::Key(
            "this device has joined no team".into(),
        )))?;
        // The anchor signs for the team until the device holding it is revoked.
        let anchor = (!anchor_revoked(&self.conn, &anchor)?).then_some(anchor.as_slice());
        // The relay keeps the last few proofs given for an order (separated by spaces): one
        // by a lead is enough.
        let mut verdict = Err("no team lead signed it: the relay gave the order on its own".into());
        for one in proof.unwrap_or_default().split_whitespace() {
            verdict = self.check_erase_proof(&team, anchor, doc_id, one)?;
            if verdict.is_ok() {
                break;
            }
        }
        Ok(verdict)
    }

    /// Whether one erase order's proof is a lead's (`anchor`: the team's anchor while its
    /// device is not revoked).
    fn check_erase_proof(
        &self,
        team: &str,
        anchor: Option<&[u8]>,
        doc_id: &str,
        proof: &str,
    ) -> Result<std::result::Result<(), String>> {
        let Some((by, signature)) = trust::parse_erase_proof(proof) else {
            return Ok(Err("its proof is malformed".into()));
        };
        if anchor.is_some_and(|a| trust::check_erase(team, doc_id, &signature, a).is_ok()) {
            return Ok(Ok(()));
        }
        let lead: Option<(Vec<u8>, Option<String>, bool)> = self
            .conn
            .query_row(
                "SELECT signing_key, role, revoked FROM members WHERE actor = ?1",
                [by],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        Ok(match lead {
            None => Err(format!(
                "it is signed as device {by}, which this device does not know"
            )),
            Some((_, _, true)) => Err(format!(
                "it is signed by device {by}, which the team has revoked"
            )),
            Some((_, role, _)) if role.as_deref() != Some(TrustedRole::Lead.as_str()) => Err(
                format!("it is signed by device {by}, which is not a team lead"),
            ),
            Some((key, _, _)) => trust::check_erase(team, doc_id, &signature, &key)
                .map_err(|_| format!("its signature is not device {by}'s")),
        })
    }

    /// Remember that the relay's order `seq` to erase `doc_id` (with `proof`) was refused,
    /// and why.
    pub fn refuse_erasure(
        &self,
        seq: u64,
        doc_id: &str,
        proof: Option<&str>,
        reason: &str,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO refused_erasures (seq, doc_id, proof, reason, refused_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            (
                i64::try_from(seq).unwrap_or(i64::MAX),
                doc_id,
                proof,
                reason,
                format_time(chrono::Utc::now()),
            ),
        )?;
        Ok(())
    }

    /// The proof the relay now gives for refused order `seq` (a lead may have given the order
    /// again with a good one).
    pub fn update_refused_proof(&self, seq: u64, proof: Option<&str>) -> Result<()> {
        self.conn.execute(
            "UPDATE refused_erasures SET proof = ?2 WHERE seq = ?1",
            (i64::try_from(seq).unwrap_or(i64::MAX), proof),
        )?;
        Ok(())
    }

    /// Forget the refusal of order `seq` (checked again and carried out).
    pub fn forget_refused_erasure(&self, seq: u64) -> Result<()> {
        self.conn.execute(
            "DELETE FROM refused_erasures WHERE seq = ?1",
            [i64::try_from(seq).unwrap_or(i64::MAX)],
        )?;
        Ok(())
    }

    /// The erasure orders refused here, oldest first.
    pub fn refused_erasures(&self) -> Result<Vec<RefusedErasure>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, doc_id, proof, reason FROM refused_erasures ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(RefusedErasure {
                seq: r.get::<_, i64>(0)?.max(0) as u64,
                doc_id: r.get(1)?,
                proof: r.get(2)?,
                reason: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}
