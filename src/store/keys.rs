//! The team's keys and members as this device holds them (schema 8), sealing the outbox for a
//! push, and opening sealed changes pulled from the relay before intake judges them.
//!
//! A pulled blob of a sealed team is opened (AES-SIV under the team key of its epoch, bound to
//! team and document), then its signature is checked against its writer's signing key: a
//! change's writer is its Automerge actor, whose key comes from the first member record seen
//! for that actor; a member record is signed by the key it names. Whatever fails is
//! quarantined with the reason, never applied, and never hides the honest changes beside it.

use std::collections::HashMap;

use automerge::Change;
use rusqlite::{Connection, OptionalExtension};

use super::intake::{self, Incoming, Pusher};
use super::{OutboxItem, Store};
use crate::crypto::keys::{
    DeviceKey, Keyring, MEMBER_DOC_PREFIX, MemberRecord, TeamKey, member_doc_id,
};
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

fn sealed(conn: &Connection) -> Result<bool> {
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
    let stored: Option<Vec<u8>> = conn
        .query_row("SELECT signing_key FROM device_key WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?;
    if let Some(bytes) = stored {
        return Ok(DeviceKey::from_bytes(&bytes)?);
    }
    let key = DeviceKey::generate()?;
    conn.execute(
        "INSERT INTO device_key (id, signing_key, created_at) VALUES (1, ?1, ?2)",
        (key.secret().as_slice(), format_time(chrono::Utc::now())),
    )?;
    Ok(key)
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

    /// This device's signing key, made on first use.
    pub fn device_key(&mut self) -> Result<DeviceKey> {
        device_key(&self.conn)
    }

    /// How many devices of the team this device knows the signing keys of.
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
                "INSERT INTO members (actor, signing_key, name, seen_at) VALUES (?1, ?2, ?3, ?4)",
                (&actor, device.public().as_slice(), device_name, &now),
            )?;
            let record = serde_json::to_vec(&MemberRecord {
                actor: actor.clone(),
                signing_key: intake::hex(&device.public()),
                name: device_name.to_string(),
            })
            .map_err(|e| CryptoError::Key(e.to_string()))?;
            let hash = groundwork_protocol::blob_id(&record);
            // Ahead of every change waiting in the outbox: others check those changes against it.
            let first: i64 =
                tx.query_row("SELECT coalesce(min(seq), 1) - 1 FROM outbox", [], |r| {
                    r.get(0)
                })?;
            tx.execute(
                "INSERT OR IGNORE INTO outbox (seq, doc_id, change_hash, bytes, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                (first, member_doc_id(&actor), hash, record, &now),
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// `items` as they go to the relay: sealed with the team's newest key and signed by this
    /// device when the team is sealed, as they are otherwise.
    pub fn sealed_for_push(&self, items: Vec<OutboxItem>) -> Result<Vec<OutboxItem>> {
        if !sealed(&self.conn)? || items.is_empty() {
            return Ok(items);
        }
        let team = team_id(&self.conn)?.ok_or(Error::Crypto(CryptoError::Key(
            "this device has joined no team".into(),
        )))?;
        let ring = keyring(&self.conn)?;
        let key = ring.current().ok_or(CryptoError::Key(
            "this device holds none of its team's keys: join again with an invite from a team lead"
                .into(),
        ))?;
        let device = device_key(&self.conn)?;
        items
            .into_iter()
            .map(|mut item| {
                item.bytes = seal::seal(&team, &item.doc_id, key, &device, &item.bytes)?;
                Ok(item)
            })
            .collect()
    }
}

/// A pulled change, opened.
pub(crate) struct Opened<'a> {
    doc_id: &'a str,
    content: Vec<u8>,
    pusher: Option<&'a Pusher>,
}

impl Opened<'_> {
    pub(crate) fn incoming(&self) -> Incoming<'_> {
        Incoming {
            doc_id: self.doc_id,
            blob: &self.content,
            pusher: self.pusher,
        }
    }
}

/// Open `changes` for intake when the team is sealed: `None` when it is not (they go to intake
/// as they are). Member records are taken in here; what fails is quarantined (counted in the
/// returned number).
pub(crate) fn open_pulled<'a>(
    conn: &Connection,
    changes: &[Incoming<'a>],
    now: &str,
) -> Result<Option<(Vec<Opened<'a>>, usize)>> {
    if !sealed(conn)? {
        return Ok(None);
    }
    let Some(team) = team_id(conn)? else {
        return Ok(None);
    };
    let ring = keyring(conn)?;
    let mut members: HashMap<String, Vec<u8>> = HashMap::new();
    {
        let mut stmt = conn.prepare_cached("SELECT actor, signing_key FROM members")?;
        for row in stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))? {
            let (actor, key) = row?;
            members.insert(actor, key);
        }
    }
    let mut opened = Vec::with_capacity(changes.len());
    let mut quarantined = 0;
    for c in changes {
        match open_one(conn, &team, &ring, &mut members, c, now) {
            Ok(Some(content)) => opened.push(Opened {
                doc_id: c.doc_id,
                content,
                pusher: c.pusher,
            }),
            Ok(None) => {}
            Err(Refused { reason, opened }) => {
                // Refused after opening: kept (and counted once) as the content inside, as
                // intake keeps what it refuses; before: as the bytes that came.
                let kept = match &opened {
                    Some(content) => Incoming {
                        blob: content,
                        ..*c
                    },
                    None => *c,
                };
                if intake::quarantine_unopened(conn, &kept, &reason, now)? {
                    quarantined += 1;
                }
            }
        }
    }
    Ok(Some((opened, quarantined)))
}

/// Why a pulled blob is refused, with its content when it opened.
struct Refused {
    reason: String,
    opened: Option<Vec<u8>>,
}

impl From<String> for Refused {
    fn from(reason: String) -> Self {
        Refused {
            reason,
            opened: None,
        }
    }
}

impl From<&str> for Refused {
    fn from(reason: &str) -> Self {
        reason.to_string().into()
    }
}

/// The change inside `c`, `None` for a member record (taken in here), or why it is refused.
fn open_one(
    conn: &Connection,
    team: &str,
    ring: &Keyring,
    members: &mut HashMap<String, Vec<u8>>,
    c: &Incoming<'_>,
    now: &str,
) -> std::result::Result<Option<Vec<u8>>, Refused> {
    let opened = seal::open(team, c.doc_id, ring, c.blob).map_err(|e| e.to_string())?;
    let content = opened.content;
    let refuse = |reason: String| Refused {
        reason,
        opened: Some(content.clone()),
    };
    if let Some(actor) = c.doc_id.strip_prefix(MEMBER_DOC_PREFIX) {
        let record: MemberRecord = serde_json::from_slice(&content)
            .map_err(|e| refuse(format!("its member record is malformed ({e})")))?;
        let key = crate::store::intake::unhex_strict(&record.signing_key)
            .filter(|k| k.len() == 32)
            .ok_or_else(|| refuse("its member record holds no valid signing key".into()))?;
        if record.actor != actor {
            return Err(refuse(
                "its member record names another device than it is filed under".into(),
            ));
        }
        if let Some(p) = c.pusher
            && !p.actor.is_empty()
            && intake::hex(&p.actor) != actor
        {
            return Err(refuse(format!(
                "it is a member record for device {actor} pushed by {} ({}): no device may speak for another",
                p.name,
                intake::hex(&p.actor)
            )));
        }
        seal::verify_signature(team, c.doc_id, c.blob, &key).map_err(|e| refuse(e.to_string()))?;
        match members.get(actor) {
            Some(known) if *known == key => {}
            Some(_) => {
                return Err(refuse(format!(
                    "it gives device {actor} a second signing key: the first one stays"
                )));
            }
            None => {
                conn.prepare_cached(
                    "INSERT OR IGNORE INTO members (actor, signing_key, name, seen_at)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .and_then(|mut s| s.execute((actor, &key, &record.name, now)))
                .map_err(|e| Refused::from(e.to_string()))?;
                members.insert(actor.to_string(), key);
            }
        }
        return Ok(None);
    }
    let change = Change::try_from(content.as_slice())
        .map_err(|e| refuse(format!("it is not an Automerge change ({e})")))?;
    let actor = change.actor_id().to_hex_string();
    let key = members.get(&actor).ok_or_else(|| {
        refuse(format!(
            "it is written by device {actor}, whose signing key this device has not received"
        ))
    })?;
    seal::verify_signature(team, c.doc_id, c.blob, key).map_err(|_| {
        refuse(format!(
            "it is written as device {actor} but not signed by that device's key: no device may write as another"
        ))
    })?;
    Ok(Some(content))
}
