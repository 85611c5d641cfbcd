//! The team's keys and members as this device holds them (schema 8): adopting a team's keys at
//! joining, sealing the outbox for a push, and rotating the key when a lead revokes a device.
//! Opening what is pulled is in [`super::opening`].

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension};

use super::bundle::{self, Outgoing};
use super::intake;
use super::{OutboxItem, Store};
use zeroize::Zeroizing;

use crate::crypto::doc_keys::{DEPTH, DocKey, DocKeys, NODE_LEN, Position, leaf_of};
use crate::crypto::epoch::{self, EpochRecord, epoch_doc_id, epoch_of_doc};
use crate::crypto::keys::{DeviceKey, InviteSecret, Keyring, MemberRecord, TeamKey, member_doc_id};
use crate::crypto::trust::{self, InviteCert, TrustedRole};
use crate::crypto::{CryptoError, seal};
use crate::error::{Error, Result};
use crate::model::format_time;

/// The team's keys, as stored: every epoch's, and the tree of documents' own keys if the team
/// has one.
pub(crate) fn keyring(conn: &Connection) -> Result<Keyring> {
    let mut stmt = conn.prepare_cached("SELECT epoch, key FROM team_keys ORDER BY epoch")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
    let mut keys = Vec::new();
    for row in rows {
        let (epoch, key) = row?;
        keys.push(TeamKey::from_bytes(epoch.max(0) as u64, &key)?);
    }
    let ring = Keyring::new(keys);
    Ok(match doc_keys(conn)? {
        Some(tree) => ring.with_doc_keys(tree),
        None => ring,
    })
}

/// The nodes of the team's tree of documents' own keys this device holds (`None`: a team
/// from before, or none).
pub(crate) fn doc_keys(conn: &Connection) -> Result<Option<DocKeys>> {
    let mut stmt = conn.prepare_cached("SELECT depth, prefix, key FROM doc_keys")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            Zeroizing::new(r.get::<_, Vec<u8>>(2)?),
        ))
    })?;
    let mut nodes = Vec::new();
    for row in rows {
        let (depth, prefix, key) = row?;
        let key: [u8; NODE_LEN] = key.as_slice().try_into().map_err(|_| {
            CryptoError::Key(format!(
                "a stored document key does not have {NODE_LEN} bytes: the notebook is damaged"
            ))
        })?;
        let depth = u8::try_from(depth)
            .map_err(|_| CryptoError::Key("a stored document key's depth is impossible".into()))?;
        nodes.push((
            Position {
                depth,
                prefix: prefix as u64,
            },
            key,
        ));
    }
    if nodes.is_empty() {
        return Ok(None);
    }
    Ok(Some(DocKeys::from_nodes(nodes)?))
}

/// Replace the stored tree with `tree` (or remove it).
pub(super) fn store_doc_keys(conn: &Connection, tree: Option<&DocKeys>) -> Result<()> {
    conn.execute("DELETE FROM doc_keys", [])?;
    for (at, key) in tree.into_iter().flat_map(DocKeys::nodes) {
        store_node(conn, at, key)?;
    }
    super::keys_cache::keys_changed(conn)
}

/// Store one node of the tree.
fn store_node(conn: &Connection, at: Position, key: &[u8; NODE_LEN]) -> Result<()> {
    conn.prepare_cached("INSERT INTO doc_keys (depth, prefix, key) VALUES (?1, ?2, ?3)")?
        .execute((i64::from(at.depth), at.prefix as i64, key.as_slice()))?;
    Ok(())
}

/// Cut document `doc_id`'s key out of the stored tree (an erasure; see
/// [`crate::crypto::doc_keys`]), in the caller's transaction. Nothing to do in a team
/// without a tree or when it was cut already.
///
/// Only the node held above the document's leaf takes part (at most 65 lookups by position,
/// however large the tree): it goes, and the siblings of the path below it come, as a cut of
/// the whole tree would do.
pub(crate) fn puncture_doc_key(conn: &Connection, doc_id: &str) -> Result<bool> {
    let Some((at, node)) = node_above(conn, leaf_of(doc_id))? else {
        return Ok(false);
    };
    let mut tree = DocKeys::from_nodes([(at, *node)])?;
    let Some(cut) = tree.puncture(doc_id) else {
        return Ok(false);
    };
    conn.execute(
        "DELETE FROM doc_keys WHERE depth = ?1 AND prefix = ?2",
        (i64::from(cut.removed.depth), cut.removed.prefix as i64),
    )?;
    let nodes: HashMap<_, _> = tree.nodes().collect();
    for at in cut.added {
        let key = nodes.get(&at).ok_or_else(|| {
            CryptoError::Key("a document key was lost while cutting the tree".into())
        })?;
        store_node(conn, at, key)?;
    }
    super::keys_cache::keys_changed(conn)?;
    Ok(true)
}

/// The node of the stored tree above `leaf` (`None`: no tree, or the leaf's key was cut).
fn node_above(
    conn: &Connection,
    leaf: u64,
) -> Result<Option<(Position, Zeroizing<[u8; NODE_LEN]>)>> {
    let mut stmt =
        conn.prepare_cached("SELECT key FROM doc_keys WHERE depth = ?1 AND prefix = ?2")?;
    for depth in 0..=DEPTH {
        let prefix = if depth == 0 {
            0
        } else {
            leaf >> (DEPTH - depth)
        };
        let key: Option<Zeroizing<Vec<u8>>> = stmt
            .query_row((i64::from(depth), prefix as i64), |r| {
                Ok(Zeroizing::new(r.get::<_, Vec<u8>>(0)?))
            })
            .optional()?;
        if let Some(key) = key {
            let key: [u8; NODE_LEN] = key.as_slice().try_into().map_err(|_| {
                CryptoError::Key(format!(
                    "a stored document key does not have {NODE_LEN} bytes: the notebook is damaged"
                ))
            })?;
            return Ok(Some((Position { depth, prefix }, Zeroizing::new(key))));
        }
    }
    Ok(None)
}

/// Whether this device's team seals what it pushes.
pub(crate) fn sealed(conn: &Connection) -> Result<bool> {
    Ok(
        conn.query_row("SELECT sealed FROM sync_state WHERE id = 1", [], |r| {
            r.get::<_, bool>(0)
        })?,
    )
}

pub(super) fn team_id(conn: &Connection) -> Result<Option<String>> {
    Ok(
        conn.query_row("SELECT team_id FROM sync_state WHERE id = 1", [], |r| {
            r.get(0)
        })?,
    )
}

pub(super) fn device_key(conn: &Connection) -> Result<DeviceKey> {
    let stored: Option<(Vec<u8>, Vec<u8>)> = conn
        .query_row(
            "SELECT signing_key, exchange_key FROM device_key WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((signing, exchange)) = stored {
        return Ok(DeviceKey::from_parts(&signing, &exchange)?);
    }
    let key = DeviceKey::generate()?;
    conn.execute(
        "INSERT INTO device_key (id, signing_key, exchange_key, created_at) VALUES (1, ?1, ?2, ?3)",
        (
            key.secret().as_slice(),
            key.exchange_secret().as_slice(),
            format_time(chrono::Utc::now()),
        ),
    )?;
    Ok(key)
}

/// Put `bytes` filed under `doc_id` at the head of the outbox (others need it before the
/// changes waiting there).
pub(super) fn queue_first(conn: &Connection, doc_id: &str, bytes: &[u8], now: &str) -> Result<()> {
    let first: i64 = conn.query_row("SELECT coalesce(min(seq), 1) - 1 FROM outbox", [], |r| {
        r.get(0)
    })?;
    conn.execute(
        "INSERT OR IGNORE INTO outbox (seq, doc_id, change_hash, bytes, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        (
            first,
            doc_id,
            groundwork_protocol::blob_id(bytes),
            bytes,
            now,
        ),
    )?;
    Ok(())
}

/// A device of the team as its member record said.
#[derive(Debug, Clone)]
pub(super) struct Member {
    pub(super) signing: Vec<u8>,
    pub(super) exchange: Vec<u8>,
    pub(super) revoked: bool,
    /// Revoked: the last of its pushes taken in ([`EpochRecord::cutoffs`]).
    pub(super) cutoff: Option<u64>,
    /// The role a lead's signature gave it (`None` in a team with no anchor).
    pub(super) role: Option<TrustedRole>,
}

pub(super) fn members(conn: &Connection) -> Result<HashMap<String, Member>> {
    let mut stmt = conn.prepare_cached(
        "SELECT actor, signing_key, exchange_key, revoked, cutoff, role FROM members",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Member {
                signing: r.get(1)?,
                exchange: r.get(2)?,
                revoked: r.get(3)?,
                cutoff: r.get::<_, Option<i64>>(4)?.map(|n| n.max(0) as u64),
                role: r
                    .get::<_, Option<String>>(5)?
                    .as_deref()
                    .and_then(TrustedRole::parse),
            },
        ))
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// How a joining device knows who leads its team (see [`crate::crypto::trust`]).
#[derive(Debug, Clone, Copy)]
pub enum JoinTrust<'a> {
    /// It made the team's first key: its own signing key is the team's anchor.
    Root,
    /// It joined with a lead's invite that carried the team's anchor and the invite's
    /// certificate; the invite's secret makes its admission.
    Invite {
        /// The team's id.
        team: &'a str,
        /// The team's first lead's signing key.
        anchor: &'a [u8; 32],
        /// The team's first lead's actor (hex).
        anchor_actor: &'a str,
        /// The invite's secret half.
        secret: &'a InviteSecret,
        /// The inviting lead's certificate.
        cert: &'a InviteCert,
    },
    /// An invite from before the root of trust (or a team in the clear): the relay's word on
    /// roles stands.
    Relay,
}

/// `meta` key set when a join failed after the relay enrolled this notebook's identity (a
/// damaged invite secret, a lost answer): the relay holds that actor for the team, so the next
/// join must take a new one ([`Store::identity_spent`]).
pub(crate) const ACTOR_SPENT: &str = "actor_spent";

/// What joining a team brings to this notebook, taken in at once by
/// [`Store::adopt_team_keys`].
#[derive(Debug, Clone, Copy)]
pub struct Joining<'a> {
    /// Whether the team is sealed (end-to-end encrypted).
    pub sealed: bool,
    /// The team's keys (empty for a team in the clear).
    pub keys: &'a Keyring,
    /// This device's name.
    pub device_name: &'a str,
    /// How this device knows who leads the team.
    pub trust: JoinTrust<'a>,
    /// The relay, the team, this device's id there and its token.
    pub link: &'a super::RelayLink,
    /// What the relay says this device may do (`lead` or `canvasser`).
    pub role: &'a str,
    /// A new device id for a notebook that had joined before (`super::identity`).
    pub renew: Option<&'a str>,
}

/// What a key rotation did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rotation {
    /// The new epoch.
    pub epoch: u64,
    /// Devices the new key was wrapped for (this one included).
    pub devices: usize,
}

impl Store {
    /// Whether this device's team seals what it pushes (end-to-end encryption).
    pub fn sealed(&self) -> Result<bool> {
        sealed(&self.conn)
    }

    /// The team's keys this device holds, read again only when they changed (see
    /// `keys_cache`).
    pub fn keyring(&self) -> Result<Arc<Keyring>> {
        self.keys.keyring(&self.conn)
    }

    /// This device's keys, made on first use.
    pub fn device_key(&mut self) -> Result<DeviceKey> {
        device_key(&self.conn)
    }

    /// Pulled changes kept until their writer's key or their key's record arrives (a relay
    /// that served the log out of order).
    pub fn awaiting_key_changes(&self) -> Result<usize> {
        super::opening::awaiting_count(&self.conn)
    }

    /// The actors (hex) whose member records name `device_id` (a device's id at the relay) as
    /// theirs: one for an honest team; every one is revoked with the device, so that a record
    /// falsely claiming the id cannot shield the real one.
    pub fn member_actors(&self, device_id: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT actor FROM members WHERE device_id = ?1 ORDER BY actor")?;
        let rows = stmt.query_map([device_id], |r| r.get(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// The actors (hex) whose member records name `device_id` and that are not revoked here.
    pub fn unrevoked_member_actors(&self, device_id: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT actor FROM members WHERE device_id = ?1 AND revoked = 0 ORDER BY actor",
        )?;
        let rows = stmt.query_map([device_id], |r| r.get(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// How many devices of the team this device knows the keys of.
    pub fn known_members(&self) -> Result<usize> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM members", [], |r| r.get::<_, i64>(0))?
            .max(0) as usize)
    }

    /// Take in a team just joined, in one transaction: whether it is sealed and its keys (those
    /// of another team are forgotten); for a sealed team, this device's member record, queued
    /// to go first; the relay link, the role and the device's name. With `renew` (a new device
    /// id, for a notebook that had joined before), the notebook first takes a new identity
    /// (`super::identity`), and what that did is returned.
    pub fn adopt_team_keys(
        &mut self,
        joining: Joining<'_>,
    ) -> Result<Option<super::identity::Renewed>> {
        let Joining {
            sealed,
            keys,
            device_name,
            trust,
            link,
            role: relay_role,
            renew,
        } = joining;
        let device_id = link.relay_device_id.as_str();
        if sealed && keys.is_empty() {
            return Err(CryptoError::Key("a sealed team needs its key".into()).into());
        }
        let now = format_time(chrono::Utc::now());
        let shown_as = match renew {
            Some(_) => self.own_name()?,
            None => String::new(),
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // The identity as the data directory records it, read under the write lock.
        let old_actor = match super::meta::meta_get(&tx, "device_id")? {
            Some(id) => super::actor_for(&id),
            None => self.actor.clone(),
        };
        let (actor, renewed) = match renew {
            Some(id) => {
                let (actor, renewed) =
                    super::identity::renew(&tx, &old_actor, id, &shown_as, chrono::Utc::now())?;
                (actor.to_hex_string(), Some(renewed))
            }
            None => (old_actor.to_hex_string(), None),
        };
        // Joined: whatever identity a failed attempt spent, this one is the device's now, and
        // the join asked for is answered.
        tx.execute("DELETE FROM meta WHERE key = ?1", [ACTOR_SPENT])?;
        tx.execute(
            "DELETE FROM meta WHERE key = ?1",
            [super::sync_state::PENDING_JOIN],
        )?;
        let device = device_key(&tx)?;
        tx.execute("DELETE FROM team_keys", [])?;
        tx.execute("DELETE FROM members", [])?;
        // Named by revocations whose records come again with the members'.
        tx.execute("DELETE FROM cutoff_records", [])?;
        for key in keys.all() {
            tx.execute(
                "INSERT INTO team_keys (epoch, key, added_at) VALUES (?1, ?2, ?3)",
                (key.epoch() as i64, key.bytes().as_slice(), &now),
            )?;
        }
        super::keys_cache::keys_changed(&tx)?;
        // The tree as the invite carried it, with every document this notebook has erased cut
        // out again (an invite made before one of them, or by a lead who had not caught up,
        // carries a tree that still holds its key: joining again must not bring it back).
        let tree = match keys.doc_keys().filter(|_| sealed) {
            Some(tree) => {
                let mut tree = tree.clone();
                let mut stmt = tx.prepare("SELECT doc_id FROM erased")?;
                let erased = stmt.query_map([], |r| r.get::<_, String>(0))?;
                for doc in erased {
                    if tree.puncture(&doc?).is_some() {
                        super::meta::meta_set(&tx, super::erasure::SCRUB_PENDING, "1")?;
                    }
                }
                drop(stmt);
                Some(tree)
            }
            None => None,
        };
        store_doc_keys(&tx, tree.as_ref())?;
        let (anchor, anchor_actor, role, admission) = match (sealed, trust) {
            (false, _) | (true, JoinTrust::Relay) => (None, None, None, None),
            (true, JoinTrust::Root) => (
                Some(device.public()),
                Some(actor.clone()),
                Some(TrustedRole::Lead),
                None,
            ),
            (
                true,
                JoinTrust::Invite {
                    team,
                    anchor,
                    anchor_actor,
                    secret,
                    cert,
                },
            ) => {
                let admission = trust::admit(
                    team,
                    secret,
                    cert,
                    &actor,
                    &device.public(),
                    &device.exchange_public(),
                );
                (
                    Some(*anchor),
                    Some(anchor_actor.to_string()),
                    Some(cert.role),
                    Some(admission),
                )
            }
        };
        match &anchor_actor {
            Some(a) => super::meta::meta_set(&tx, super::trust::ANCHOR_ACTOR, a)?,
            None => {
                tx.execute(
                    "DELETE FROM meta WHERE key = ?1",
                    [super::trust::ANCHOR_ACTOR],
                )?;
            }
        }
        tx.execute("DELETE FROM revoked_unknown", [])?;
        tx.execute(
            "UPDATE sync_state SET sealed = ?1, anchor = ?2 WHERE id = 1",
            (sealed, anchor.as_ref().map(|a| a.as_slice())),
        )?;
        if sealed {
            tx.execute(
                "INSERT INTO members
                     (actor, signing_key, exchange_key, name, device_id, seen_at, role, invite_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                (
                    &actor,
                    device.public().as_slice(),
                    device.exchange_public().as_slice(),
                    device_name,
                    device_id,
                    &now,
                    role.map(TrustedRole::as_str),
                    // Counted among the invite's uses when its own record comes back in the
                    // log's order, as every other device counts it.
                    None::<&str>,
                ),
            )?;
            let record = serde_json::to_vec(&MemberRecord {
                actor: actor.clone(),
                signing_key: intake::hex(&device.public()),
                exchange_key: intake::hex(&device.exchange_public()),
                name: device_name.to_string(),
                device_id: device_id.to_string(),
                admission,
            })
            .map_err(|e| CryptoError::Key(e.to_string()))?;
            queue_first(&tx, &member_doc_id(&actor), &record, &now)?;
        }
        super::sync_state::write_link(&tx, link)?;
        super::erasure::write_role(&tx, relay_role)?;
        super::meta::meta_set(&tx, super::DEVICE_KEY, device_name)?;
        tx.commit()?;
        self.keys.forget();
        self.refresh_identity()?;
        // A document this notebook holds whose key the lead's tree has cut was erased in the
        // team (a lead carried out the order before making the invite): it is erased here too,
        // so that its unsent changes do not stop every push (they could not be sealed).
        if let Some(tree) = tree {
            let held: Vec<String> = self
                .conn
                .prepare(
                    "SELECT doc_id FROM documents UNION SELECT doc_id FROM outbox
                     UNION SELECT doc_id FROM snapshots_out",
                )?
                .query_map([], |r| r.get(0))?
                .collect::<std::result::Result<_, _>>()?;
            for doc in held {
                if !crate::crypto::is_key_record(&doc) && tree.key_for(&doc).is_none() {
                    self.erase_document(&doc, None)?;
                }
            }
        }
        if self.scrub_pending()? {
            self.scrub()?;
        }
        Ok(renewed)
    }

    /// Rotate the team's key after `revoked` (actors, hex) were revoked: a new epoch, wrapped
    /// for every other device whose member record this device holds, and an epoch record that
    /// tells them (queued to go first). From now on this device seals with the new key and
    /// takes in nothing more written as the revoked devices.
    pub fn rotate_team_key(&mut self, revoked: &[String]) -> Result<Rotation> {
        let team = team_id(&self.conn)?.ok_or_else(|| {
            Error::Crypto(CryptoError::Key("this device has joined no team".into()))
        })?;
        if !sealed(&self.conn)? {
            return Err(CryptoError::Key(
                "this team's notebook is not end-to-end encrypted: there is no key to rotate"
                    .into(),
            )
            .into());
        }
        let me = intake::hex(&self.actor_bytes());
        let now = format_time(chrono::Utc::now());
        let tx = self.conn.transaction()?;
        let ring = keyring(&tx)?;
        let next = ring.current().map_or(1, |k| k.epoch() + 1);
        let key = TeamKey::generate(next)?;
        let mut wrapped = Vec::new();
        let mut known: Vec<(String, Member)> = members(&tx)?.into_iter().collect();
        known.sort_by(|a, b| a.0.cmp(&b.0));
        for (actor, member) in known {
            if member.revoked || revoked.contains(&actor) {
                continue;
            }
            let Ok(exchange) = <[u8; 32]>::try_from(member.exchange.as_slice()) else {
                continue;
            };
            // A member whose exchange key nothing can be wrapped to (a low-order point, from
            // a buggy or hostile device) gets no key; it must not stop the rotation.
            if let Ok(w) = epoch::wrap(&team, &key, &actor, &exchange) {
                wrapped.push(w);
            }
        }
        let devices = wrapped.len();
        // What each revoked device pushed that this device has taken in stays; nothing after.
        let mut cutoffs = std::collections::BTreeMap::new();
        let mut cutoff_records = std::collections::BTreeMap::new();
        for actor in revoked {
            let cut = super::withheld::last_push_of(&tx, actor)?;
            cutoffs.insert(actor.clone(), cut);
            if let Some(records) = super::withheld::records_for_cutoff(&tx, actor, cut)? {
                cutoff_records.insert(actor.clone(), records);
            }
        }
        let record = serde_json::to_vec(&EpochRecord {
            epoch: next,
            by: me,
            revoked: revoked.to_vec(),
            wrapped,
            cutoffs: cutoffs.clone(),
            cutoff_records: cutoff_records.clone(),
        })
        .map_err(|e| CryptoError::Key(e.to_string()))?;
        tx.execute(
            "INSERT INTO team_keys (epoch, key, added_at) VALUES (?1, ?2, ?3)",
            (next as i64, key.bytes().as_slice(), &now),
        )?;
        super::keys_cache::keys_changed(&tx)?;
        for actor in revoked {
            super::withheld::revoke_member(
                &tx,
                actor,
                cutoffs.get(actor).copied(),
                cutoff_records.get(actor).map(Vec::as_slice),
            )?;
        }
        queue_first(&tx, &epoch_doc_id(next), &record, &now)?;
        tx.commit()?;
        Ok(Rotation {
            epoch: next,
            devices,
        })
    }

    /// `items` as they go to the relay. When the team is sealed, each document's changes go
    /// together ([`bundle::group`]), sealed with the team's newest key and signed by this
    /// device; an epoch record is sealed with the key before it, which every member holds.
    /// Otherwise one blob per change, as they are.
    pub fn sealed_for_push(&self, items: Vec<OutboxItem>) -> Result<Vec<Outgoing>> {
        self.sealed_for_push_within(items, bundle::MAX_BUNDLE)
    }

    /// [`Self::sealed_for_push`], each document's changes in blobs of at most `most` bytes
    /// before sealing (a push paced to a slow link; a single larger change goes alone).
    pub fn sealed_for_push_within(
        &self,
        items: Vec<OutboxItem>,
        most: usize,
    ) -> Result<Vec<Outgoing>> {
        if !sealed(&self.conn)? || items.is_empty() {
            return Ok(bundle::each(items));
        }
        let team = team_id(&self.conn)?.ok_or(Error::Crypto(CryptoError::Key(
            "this device has joined no team".into(),
        )))?;
        let ring = self.keys.keyring(&self.conn)?;
        let missing = || {
            CryptoError::Key(
                "this device holds none of its team's keys: join again with an invite from a team lead"
                    .into(),
            )
        };
        let current = ring.current().ok_or_else(missing)?;
        let device = device_key(&self.conn)?;
        // Each blob sealed on its own (pure work): on all cores when there are many, as in a
        // team's first upload or a lead's compaction.
        let seal_one = |out: &Outgoing| -> Result<Vec<u8>> {
            let key = match epoch_of_doc(&out.doc_id) {
                Some(e) => ring.get(e - 1).ok_or_else(missing)?,
                None => current,
            };
            let doc_key = doc_key_for(&ring, &out.doc_id)?;
            // A document's changes go packed; records as they are.
            let packed;
            let content = if crate::crypto::is_key_record(&out.doc_id) {
                &out.bytes
            } else {
                packed = bundle::pack(&out.bytes);
                &packed
            };
            Ok(seal::seal(
                &team,
                &out.doc_id,
                key,
                doc_key.as_ref(),
                &device,
                content,
            )?)
        };
        let outs = bundle::group_within(items, crate::crypto::is_key_record, most);
        let sealed = super::ahead::each(&outs, |out| seal_one(out));
        outs.into_iter()
            .zip(sealed)
            .map(|(mut out, done)| {
                out.bytes = match done {
                    Some(bytes) => bytes?,
                    None => seal_one(&out)?,
                };
                Ok(out)
            })
            .collect()
    }
}

/// The key of its own `doc_id` is sealed under besides the team's: a document of a team with a
/// tree of documents' keys has one; records, and every document of a team from before, none.
fn doc_key_for(ring: &Keyring, doc_id: &str) -> Result<Option<DocKey>> {
    match ring.doc_keys() {
        Some(tree) if !crate::crypto::is_key_record(doc_id) => {
            Ok(Some(tree.key_for(doc_id).ok_or_else(|| {
                CryptoError::Key(format!(
                    "document {doc_id} has been erased in this team, and its key with it: nothing more of it can be sent"
                ))
            })?))
        }
        _ => Ok(None),
    }
}

/// `content` sealed as `doc_id` (a record, or a document's snapshot) under `ring`'s newest key
/// (and the document's own key, see [`doc_key_for`]) and signed by this device; `ring` is the
/// store's keys as it holds them (`keys_cache`).
pub(crate) fn seal_with(
    conn: &Connection,
    ring: &Keyring,
    doc_id: &str,
    content: &[u8],
) -> Result<Vec<u8>> {
    let team = team_id(conn)?.ok_or(Error::Crypto(CryptoError::Key(
        "this device has joined no team".into(),
    )))?;
    let key = ring.current().ok_or(Error::Crypto(CryptoError::Key(
        "this device holds none of its team's keys: join again with an invite from a team lead"
            .into(),
    )))?;
    Ok(seal::seal(
        &team,
        doc_id,
        key,
        doc_key_for(ring, doc_id)?.as_ref(),
        &device_key(conn)?,
        content,
    )?)
}
