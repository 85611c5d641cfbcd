//! The team's keys and members as this device holds them (schema 8), sealing the outbox for a
//! push, rotating the key when a lead revokes a device, and opening sealed changes pulled from
//! the relay before intake judges them.
//!
//! A pulled blob of a sealed team is opened (AES-SIV under the team key of its epoch, bound to
//! team and document), then its signature is checked against its writer's signing key: a
//! change's writer is its Automerge actor, whose key comes from the first member record seen
//! for that actor; a member record is signed by the key it names; an epoch record by the
//! member it names as its maker. Whatever fails is quarantined with the reason, never applied,
//! and never hides the honest changes beside it. Blobs are taken in in the relay's order, so
//! an epoch record is a cut-off: after it, nothing written as a device it revokes is taken in.

use std::collections::HashMap;

use automerge::Change;
use rusqlite::{Connection, OptionalExtension};

use super::bundle::{self, Outgoing};
use super::intake::{self, Incoming, Pusher};
use super::withheld;
use super::{OutboxItem, Store};
use crate::crypto::epoch::{self, EPOCH_DOC_PREFIX, EpochRecord, epoch_doc_id, epoch_of_doc};
use crate::crypto::keys::{
    DeviceKey, Keyring, MEMBER_DOC_PREFIX, MemberRecord, TeamKey, member_doc_id,
};
use crate::crypto::pushlog::{PUSH_DOC_PREFIX, PushRecord, push_of_doc};
use crate::crypto::{CryptoError, seal};
use crate::error::{Error, Result};
use crate::model::format_time;

/// The team's keys, as stored.
pub(crate) fn keyring(conn: &Connection) -> Result<Keyring> {
    let mut stmt = conn.prepare_cached("SELECT epoch, key FROM team_keys ORDER BY epoch")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
    let mut keys = Vec::new();
    for row in rows {
        let (epoch, key) = row?;
        keys.push(TeamKey::from_bytes(epoch.max(0) as u64, &key)?);
    }
    Ok(Keyring::new(keys))
}

/// Whether this device's team seals what it pushes.
pub(crate) fn sealed(conn: &Connection) -> Result<bool> {
    Ok(
        conn.query_row("SELECT sealed FROM sync_state WHERE id = 1", [], |r| {
            r.get::<_, bool>(0)
        })?,
    )
}

fn team_id(conn: &Connection) -> Result<Option<String>> {
    Ok(
        conn.query_row("SELECT team_id FROM sync_state WHERE id = 1", [], |r| {
            r.get(0)
        })?,
    )
}

fn device_key(conn: &Connection) -> Result<DeviceKey> {
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
fn queue_first(conn: &Connection, doc_id: &str, bytes: &[u8], now: &str) -> Result<()> {
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
struct Member {
    signing: Vec<u8>,
    exchange: Vec<u8>,
    revoked: bool,
}

fn members(conn: &Connection) -> Result<HashMap<String, Member>> {
    let mut stmt =
        conn.prepare_cached("SELECT actor, signing_key, exchange_key, revoked FROM members")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Member {
                signing: r.get(1)?,
                exchange: r.get(2)?,
                revoked: r.get(3)?,
            },
        ))
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
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

    /// The team's keys this device holds.
    pub fn keyring(&self) -> Result<Keyring> {
        keyring(&self.conn)
    }

    /// This device's keys, made on first use.
    pub fn device_key(&mut self) -> Result<DeviceKey> {
        device_key(&self.conn)
    }

    /// Pulled changes kept until their writer's key or their key's record arrives (a relay
    /// that served the log out of order).
    pub fn awaiting_key_changes(&self) -> Result<usize> {
        awaiting_count(&self.conn)
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

    /// How many devices of the team this device knows the keys of.
    pub fn known_members(&self) -> Result<usize> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM members", [], |r| r.get::<_, i64>(0))?
            .max(0) as usize)
    }

    /// After joining a team: whether it is sealed and its keys (those of another team are
    /// forgotten), and, for a sealed team, this device's member record, queued to go first.
    pub fn adopt_team_keys(
        &mut self,
        sealed: bool,
        keys: &Keyring,
        device_name: &str,
        device_id: &str,
    ) -> Result<()> {
        if sealed && keys.is_empty() {
            return Err(CryptoError::Key("a sealed team needs its key".into()).into());
        }
        let actor = intake::hex(&self.actor_bytes());
        let now = format_time(chrono::Utc::now());
        let tx = self.conn.transaction()?;
        let device = device_key(&tx)?;
        tx.execute("DELETE FROM team_keys", [])?;
        tx.execute("DELETE FROM members", [])?;
        for key in keys.all() {
            tx.execute(
                "INSERT INTO team_keys (epoch, key, added_at) VALUES (?1, ?2, ?3)",
                (key.epoch() as i64, key.bytes().as_slice(), &now),
            )?;
        }
        tx.execute("UPDATE sync_state SET sealed = ?1 WHERE id = 1", [sealed])?;
        if sealed {
            tx.execute(
                "INSERT INTO members (actor, signing_key, exchange_key, name, device_id, seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                (
                    &actor,
                    device.public().as_slice(),
                    device.exchange_public().as_slice(),
                    device_name,
                    device_id,
                    &now,
                ),
            )?;
            let record = serde_json::to_vec(&MemberRecord {
                actor: actor.clone(),
                signing_key: intake::hex(&device.public()),
                exchange_key: intake::hex(&device.exchange_public()),
                name: device_name.to_string(),
                device_id: device_id.to_string(),
            })
            .map_err(|e| CryptoError::Key(e.to_string()))?;
            queue_first(&tx, &member_doc_id(&actor), &record, &now)?;
        }
        tx.commit()?;
        Ok(())
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
        let record = serde_json::to_vec(&EpochRecord {
            epoch: next,
            by: me,
            revoked: revoked.to_vec(),
            wrapped,
        })
        .map_err(|e| CryptoError::Key(e.to_string()))?;
        tx.execute(
            "INSERT INTO team_keys (epoch, key, added_at) VALUES (?1, ?2, ?3)",
            (next as i64, key.bytes().as_slice(), &now),
        )?;
        for actor in revoked {
            tx.execute("UPDATE members SET revoked = 1 WHERE actor = ?1", [actor])?;
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
        if !sealed(&self.conn)? || items.is_empty() {
            return Ok(bundle::each(items));
        }
        let team = team_id(&self.conn)?.ok_or(Error::Crypto(CryptoError::Key(
            "this device has joined no team".into(),
        )))?;
        let ring = keyring(&self.conn)?;
        let missing = || {
            CryptoError::Key(
                "this device holds none of its team's keys: join again with an invite from a team lead"
                    .into(),
            )
        };
        let current = ring.current().ok_or_else(missing)?;
        let device = device_key(&self.conn)?;
        bundle::group(items, crate::crypto::is_key_record)
            .into_iter()
            .map(|mut out| {
                let key = match epoch_of_doc(&out.doc_id) {
                    Some(e) => ring.get(e - 1).ok_or_else(missing)?,
                    None => current,
                };
                out.bytes = seal::seal(&team, &out.doc_id, key, &device, &out.bytes)?;
                Ok(out)
            })
            .collect()
    }
}

/// `content` sealed as record `doc_id` under the team's newest key and signed by this device.
pub(crate) fn seal_record(conn: &Connection, doc_id: &str, content: &[u8]) -> Result<Vec<u8>> {
    let team = team_id(conn)?.ok_or(Error::Crypto(CryptoError::Key(
        "this device has joined no team".into(),
    )))?;
    let ring = keyring(conn)?;
    let key = ring.current().ok_or(Error::Crypto(CryptoError::Key(
        "this device holds none of its team's keys: join again with an invite from a team lead"
            .into(),
    )))?;
    Ok(seal::seal(&team, doc_id, key, &device_key(conn)?, content)?)
}

/// A pulled change, opened.
pub(crate) struct Opened {
    doc_id: String,
    content: Vec<u8>,
    pusher: Option<Pusher>,
}

impl Opened {
    pub(crate) fn incoming(&self) -> Incoming<'_> {
        Incoming {
            doc_id: &self.doc_id,
            blob: &self.content,
            pusher: self.pusher.as_ref(),
        }
    }
}

/// What opening needs, loaded once per batch.
struct Opener {
    team: String,
    me: String,
    ring: Keyring,
    device: DeviceKey,
    members: HashMap<String, Member>,
}

/// Open `changes` for intake when the team is sealed: `None` when it is not (they go to intake
/// as they are). Member and epoch records are taken in here; what fails is quarantined
/// (counted in the returned number).
pub(crate) fn open_pulled(
    conn: &Connection,
    me: &str,
    changes: &[Incoming<'_>],
    now: &str,
) -> Result<Option<(Vec<Opened>, usize)>> {
    if !sealed(conn)? {
        return Ok(None);
    }
    let Some(team) = team_id(conn)? else {
        return Ok(None);
    };
    let mut opener = Opener {
        team,
        me: me.to_string(),
        ring: keyring(conn)?,
        device: device_key(conn)?,
        members: members(conn)?,
    };
    let mut out = Outcome::default();
    let mut progressed = false;
    for c in changes {
        withheld::note_received(conn, c.blob)?;
        progressed |= opener.judge(conn, c, now, &mut out)?;
    }
    // What waited for a writer's key or a key record may be judged now; each round that takes
    // a record in may free more.
    while progressed {
        progressed = false;
        let waiting = awaiting(conn)?;
        if waiting.is_empty() {
            break;
        }
        for w in &waiting {
            conn.prepare_cached("DELETE FROM awaiting_key WHERE blob_id = ?1")?
                .execute([&w.blob_id])?;
            let c = Incoming {
                doc_id: &w.doc_id,
                blob: &w.blob,
                pusher: w.pusher.as_ref(),
            };
            let before = out.opened.len();
            progressed |= opener.judge(conn, &c, now, &mut out)? || out.opened.len() > before;
        }
    }
    Ok(Some((out.opened, out.quarantined)))
}

/// Most changes kept waiting for a key: beyond, a relay serving blobs for keys that never come
/// gets them quarantined (counted and listed) instead of growing the queue without end.
const MAX_AWAITING: usize = 20_000;

/// What a batch gave.
#[derive(Default)]
struct Outcome {
    opened: Vec<Opened>,
    quarantined: usize,
}

/// A sealed change kept until it can be judged.
struct Awaiting {
    blob_id: String,
    doc_id: String,
    blob: Vec<u8>,
    pusher: Option<Pusher>,
}

fn awaiting(conn: &Connection) -> Result<Vec<Awaiting>> {
    let mut stmt = conn.prepare_cached(
        "SELECT blob_id, doc_id, blob, pusher_actor, pusher_name FROM awaiting_key
         ORDER BY received_at, rowid",
    )?;
    let rows = stmt.query_map([], |r| {
        let actor: Option<String> = r.get(3)?;
        let name: Option<String> = r.get(4)?;
        Ok(Awaiting {
            blob_id: r.get(0)?,
            doc_id: r.get(1)?,
            blob: r.get(2)?,
            pusher: actor.map(|a| Pusher {
                actor: intake::unhex_strict(&a).unwrap_or_default(),
                name: name.unwrap_or_default(),
            }),
        })
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// How many pulled changes wait for a writer's key or a key record.
pub(crate) fn awaiting_count(conn: &Connection) -> Result<usize> {
    Ok(conn
        .query_row("SELECT count(*) FROM awaiting_key", [], |r| {
            r.get::<_, i64>(0)
        })?
        .max(0) as usize)
}

/// Why a pulled blob is refused; `wait` when it may be judged later (its writer's key or its
/// epoch's key has not arrived yet).
struct Refused {
    reason: String,
    wait: bool,
}

impl From<String> for Refused {
    fn from(reason: String) -> Self {
        Refused {
            reason,
            wait: false,
        }
    }
}

fn later(reason: String) -> Refused {
    Refused {
        wait: true,
        ..Refused::from(reason)
    }
}

fn sql_error(e: &Error) -> Refused {
    Refused::from(format!("it could not be recorded ({e})"))
}

fn sql(e: rusqlite::Error) -> Refused {
    Refused::from(format!("it could not be recorded ({e})"))
}

impl Opener {
    /// Judge `c`: opened (added to `out`), taken in (a record: `true`), kept to be judged
    /// later, or quarantined.
    fn judge(
        &mut self,
        conn: &Connection,
        c: &Incoming<'_>,
        now: &str,
        out: &mut Outcome,
    ) -> Result<bool> {
        // Nothing of an erased person is kept again, not even sealed or in quarantine.
        if !crate::crypto::is_key_record(c.doc_id)
            && conn
                .prepare_cached("SELECT 1 FROM erased WHERE doc_id = ?1")?
                .exists([c.doc_id])?
        {
            return Ok(false);
        }
        match self.open_one(conn, c, now) {
            Ok(Some(changes)) => {
                out.opened.extend(changes.into_iter().map(|content| Opened {
                    doc_id: c.doc_id.to_string(),
                    content,
                    pusher: c.pusher.cloned(),
                }));
                Ok(false)
            }
            Ok(None) => Ok(true),
            Err(Refused { wait: true, .. }) if awaiting_count(conn)? < MAX_AWAITING => {
                conn.prepare_cached(
                    "INSERT OR IGNORE INTO awaiting_key
                         (blob_id, doc_id, blob, pusher_actor, pusher_name, received_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute((
                    groundwork_protocol::blob_id(c.blob),
                    c.doc_id,
                    c.blob,
                    c.pusher.map(|p| intake::hex(&p.actor)),
                    c.pusher.map(|p| p.name.as_str()),
                    now,
                ))?;
                Ok(false)
            }
            Err(Refused { reason, wait }) => {
                let reason = if wait {
                    format!(
                        "{reason}; and more than {MAX_AWAITING} changes already wait for keys here"
                    )
                } else {
                    reason
                };
                // Kept as the sealed bytes that came, never as the content inside: a refusal
                // remembered by its content would make an honest copy of the same change,
                // sealed and signed by its real writer, look like a duplicate of it.
                if intake::quarantine_unopened(conn, c, &reason, now)? {
                    out.quarantined += 1;
                }
                Ok(false)
            }
        }
    }

    /// The changes inside `c` (one, or a document's changes sealed together: all written by
    /// the device that signed them), `None` for a member or epoch record (taken in here), or
    /// why it is refused.
    fn open_one(
        &mut self,
        conn: &Connection,
        c: &Incoming<'_>,
        now: &str,
    ) -> std::result::Result<Option<Vec<Vec<u8>>>, Refused> {
        let opened = seal::open(&self.team, c.doc_id, &self.ring, c.blob).map_err(|e| match e {
            CryptoError::UnknownEpoch(_) => later(e.to_string()),
            e => Refused::from(e.to_string()),
        })?;
        let content = opened.content;
        let refuse = Refused::from;
        if let Some(actor) = c.doc_id.strip_prefix(MEMBER_DOC_PREFIX) {
            self.take_member(conn, c, actor, &content, now)
                .map_err(refuse)?;
            return Ok(None);
        }
        if let Some(epoch) = epoch_of_doc(c.doc_id) {
            if opened.epoch + 1 != epoch {
                return Err(refuse(format!(
                    "it is the record of key {epoch} but sealed under key {}",
                    opened.epoch
                )));
            }
            self.take_epoch(conn, c, epoch, &content, now)
                .map_err(|(reason, wait)| if wait { later(reason) } else { refuse(reason) })?;
            return Ok(None);
        }
        if c.doc_id.starts_with(EPOCH_DOC_PREFIX) {
            return Err(refuse(
                "it is filed as a key record with no valid number".into(),
            ));
        }
        if c.doc_id.starts_with(PUSH_DOC_PREFIX) {
            self.take_push(conn, c, &content)?;
            return Ok(None);
        }
        let chunks = bundle::split(&content)
            .map_err(|e| refuse(format!("it is not an Automerge change ({e})")))?;
        let mut writer: Option<String> = None;
        for (i, chunk) in chunks.iter().enumerate() {
            let change = Change::try_from(*chunk).map_err(|e| {
                refuse(format!(
                    "its change {} is not an Automerge change ({e})",
                    i + 1
                ))
            })?;
            let actor = change.actor_id().to_hex_string();
            match &writer {
                None => writer = Some(actor),
                Some(w) if *w == actor => {}
                Some(w) => {
                    return Err(refuse(format!(
                        "it seals changes of devices {w} and {actor} together: a device seals only its own"
                    )));
                }
            }
        }
        let actor = writer.unwrap_or_default();
        let Some(member) = self.members.get(&actor) else {
            return Err(later(format!(
                "it is written by device {actor}, whose signing key this device has not received"
            )));
        };
        seal::verify_signature(&self.team, c.doc_id, c.blob, &member.signing).map_err(|_| {
            refuse(format!(
                "it is written as device {actor} but not signed by that device's key: no device may write as another"
            ))
        })?;
        if member.revoked {
            return Err(refuse(format!(
                "it is written by device {actor} after the team revoked it"
            )));
        }
        Ok(Some(chunks.into_iter().map(<[u8]>::to_vec).collect()))
    }

    /// Take in a push record: filed under its writer and number, signed by its writer, who is
    /// not revoked.
    fn take_push(
        &mut self,
        conn: &Connection,
        c: &Incoming<'_>,
        content: &[u8],
    ) -> std::result::Result<(), Refused> {
        let Some((actor, n)) = push_of_doc(c.doc_id) else {
            return Err(Refused::from(
                "it is filed as a push record with no valid device or number".to_string(),
            ));
        };
        let record: PushRecord = serde_json::from_slice(content)
            .map_err(|e| Refused::from(format!("its push record is malformed ({e})")))?;
        if record.actor != actor || record.n != n {
            return Err(Refused::from(
                "its push record names another device or number than it is filed under".to_string(),
            ));
        }
        if let Some(p) = c.pusher
            && !p.actor.is_empty()
            && intake::hex(&p.actor) != actor
        {
            return Err(Refused::from(format!(
                "it is a push record of device {actor} pushed by {}: no device may speak for another",
                p.name
            )));
        }
        withheld::check_record(&record).map_err(Refused::from)?;
        let Some(member) = self.members.get(actor) else {
            return Err(later(format!(
                "it is a push record of device {actor}, whose signing key this device has not received"
            )));
        };
        seal::verify_signature(&self.team, c.doc_id, c.blob, &member.signing).map_err(|_| {
            Refused::from(format!(
                "it is a push record of device {actor} not signed by that device's key"
            ))
        })?;
        // A revoked device's records are not needed: nothing it pushes after the cut-off is
        // taken in, so nothing of it is expected (and what it pushed before is judged by its
        // place in the log, as its changes are).
        if member.revoked {
            return Ok(());
        }
        withheld::take_record(conn, &record, &self.me).map_err(|e| sql_error(&e))
    }

    fn take_member(
        &mut self,
        conn: &Connection,
        c: &Incoming<'_>,
        actor: &str,
        content: &[u8],
        now: &str,
    ) -> std::result::Result<(), String> {
        let record: MemberRecord = serde_json::from_slice(content)
            .map_err(|e| format!("its member record is malformed ({e})"))?;
        let key = |hex: &str| {
            intake::unhex_strict(hex)
                .filter(|k| k.len() == 32)
                .ok_or("its member record holds no valid key")
        };
        let signing = key(&record.signing_key)?;
        let exchange = key(&record.exchange_key)?;
        if !epoch::can_wrap_to(&exchange) {
            return Err(
                "its member record holds an exchange key no team key can be sent to".into(),
            );
        }
        if record.actor != actor {
            return Err("its member record names another device than it is filed under".into());
        }
        if let Some(p) = c.pusher
            && !p.actor.is_empty()
            && intake::hex(&p.actor) != actor
        {
            return Err(format!(
                "it is a member record for device {actor} pushed by {} ({}): no device may speak for another",
                p.name,
                intake::hex(&p.actor)
            ));
        }
        seal::verify_signature(&self.team, c.doc_id, c.blob, &signing)
            .map_err(|e| e.to_string())?;
        match self.members.get(actor) {
            Some(known) if known.signing == signing && known.exchange == exchange => Ok(()),
            Some(_) => Err(format!(
                "it gives device {actor} other keys: the first ones stay"
            )),
            None => {
                conn.prepare_cached(
                    "INSERT OR IGNORE INTO members
                         (actor, signing_key, exchange_key, name, device_id, seen_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .and_then(|mut s| {
                    s.execute((
                        actor,
                        &signing,
                        &exchange,
                        &record.name,
                        &record.device_id,
                        now,
                    ))
                })
                .map_err(|e| sql(e).reason)?;
                self.members.insert(
                    actor.to_string(),
                    Member {
                        signing,
                        exchange,
                        revoked: false,
                    },
                );
                Ok(())
            }
        }
    }

    fn take_epoch(
        &mut self,
        conn: &Connection,
        c: &Incoming<'_>,
        epoch: u64,
        content: &[u8],
        now: &str,
    ) -> std::result::Result<(), (String, bool)> {
        let record: EpochRecord = serde_json::from_slice(content)
            .map_err(|e| (format!("its key record is malformed ({e})"), false))?;
        if record.epoch != epoch {
            return Err((
                "its key record names another key than it is filed under".into(),
                false,
            ));
        }
        let maker = match self.members.get(&record.by) {
            Some(m) if !m.revoked => m,
            Some(_) => {
                return Err((
                    format!("its key record is made by revoked device {}", record.by),
                    false,
                ));
            }
            None => {
                return Err((
                    format!(
                        "its key record is made by device {}, whose signing key this device has not received",
                        record.by
                    ),
                    true,
                ));
            }
        };
        seal::verify_signature(&self.team, c.doc_id, c.blob, &maker.signing)
            .map_err(|e| (e.to_string(), false))?;
        if let Some(mine) = record.wrapped.iter().find(|w| w.actor == self.me)
            && self.ring.get(epoch).is_none()
        {
            let key = epoch::unwrap(&self.team, epoch, mine, &self.device)
                .map_err(|e| (format!("its key for this device does not open: {e}"), false))?;
            conn.execute(
                "INSERT OR IGNORE INTO team_keys (epoch, key, added_at) VALUES (?1, ?2, ?3)",
                (epoch as i64, key.bytes().as_slice(), now),
            )
            .map_err(|e| (sql(e).reason, false))?;
            let mut keys: Vec<TeamKey> = self.ring.all().cloned().collect();
            keys.push(key);
            self.ring = Keyring::new(keys);
        }
        for actor in &record.revoked {
            conn.execute("UPDATE members SET revoked = 1 WHERE actor = ?1", [actor])
                .map_err(|e| (sql(e).reason, false))?;
            if let Some(m) = self.members.get_mut(actor) {
                m.revoked = true;
            }
        }
        Ok(())
    }
}
