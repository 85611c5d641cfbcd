//! Rotating the team's key when a device is revoked: an epoch record.
//!
//! A lead's device that revokes a device makes a new team key (the next epoch) and wraps it for
//! every remaining device it knows the member record of: an ephemeral X25519 key agreed with
//! the device's exchange key, HKDF-SHA256 over the shared secret, AES-256-SIV over the new key
//! with team, epoch, the device's actor and both public keys as associated data (the DHKEM
//! pattern of HPKE, RFC 9180, with our blob cipher; not HPKE's byte format). The record names
//! the revoked devices, travels in the team's log under [`epoch_doc_id`], is sealed under the
//! previous epoch (so every member can open it) and signed by its writer.
//!
//! What a revoked device can no longer do: read anything sealed under the new epoch, even
//! handed the ciphertext (it holds no wrapped copy of the key); and have anything it writes
//! accepted by a device that has taken the record in (devices refuse every later change
//! written as a revoked device). What it can still do: read what it already holds, and what
//! others seal before they learn of the rotation.

use serde::{Deserialize, Serialize};
use x25519_dalek::{PublicKey as X25519Public, StaticSecret};
use zeroize::Zeroizing;

use super::keys::{DeviceKey, KEY_LEN, PUBLIC_KEY_LEN, TeamKey, siv};
use super::{CryptoError, random, text};

/// Document ids of epoch records start with this (then the epoch number).
pub const EPOCH_DOC_PREFIX: &str = "epoch-";

const WRAP_LABEL: &[u8] = b"groundwork epoch wrap v1";

/// Where the record of `epoch` is filed.
pub fn epoch_doc_id(epoch: u64) -> String {
    format!("{EPOCH_DOC_PREFIX}{epoch}")
}

/// The epoch an epoch record's document id names.
pub fn epoch_of_doc(doc_id: &str) -> Option<u64> {
    let n = doc_id.strip_prefix(EPOCH_DOC_PREFIX)?;
    if n.starts_with('0') || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok().filter(|&e| e >= 2)
}

/// A new team key and who may no longer have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// The new epoch (the previous plus one).
    pub epoch: u64,
    /// The actor (hex) of the device that made it; it signs the record.
    pub by: String,
    /// Actors (hex) of the revoked devices: nothing they write after this record is taken in.
    pub revoked: Vec<String>,
    /// The new key, once for each remaining device.
    pub wrapped: Vec<Wrapped>,
    /// For each revoked device, the last of its pushes (push records' numbers) the maker had
    /// taken in: what it pushed up to there is taken in wherever the relay puts it in the
    /// log, and nothing after. Absent in records from before push records: then the log's
    /// order decides.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub cutoffs: std::collections::BTreeMap<String, u64>,
    /// For each revoked device, its push records up to its cut-off that the maker had taken
    /// in, by the first 16 bytes of each record's blob id (hex), when it held every one: only
    /// those records count for which of its blobs are taken in, so that a record the revoked
    /// device signs afterwards under an old number counts for nothing. Absent for a device
    /// (and in records from before 2026-12-08): the cut-off's number alone decides.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub cutoff_records: std::collections::BTreeMap<String, Vec<String>>,
}

/// The new key for one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wrapped {
    /// The device's actor (hex).
    pub actor: String,
    /// The ephemeral X25519 public key (base64url).
    pub ephemeral: String,
    /// The key, sealed (base64url).
    pub sealed: String,
}

fn headers<'a>(
    team: &'a str,
    epoch: &'a [u8; 8],
    actor: &'a str,
    ephemeral: &'a [u8; 32],
    recipient: &'a [u8; 32],
) -> [&'a [u8]; 6] {
    [
        WRAP_LABEL,
        team.as_bytes(),
        epoch,
        actor.as_bytes(),
        ephemeral,
        recipient,
    ]
}

/// Whether a key can be wrapped to the exchange key `public` (not a low-order point, which
/// would fix the shared secret whatever the ephemeral key).
pub fn can_wrap_to(public: &[u8]) -> bool {
    let Ok(public) = <[u8; PUBLIC_KEY_LEN]>::try_from(public) else {
        return false;
    };
    let probe = StaticSecret::from([0x5a; KEY_LEN]);
    probe
        .diffie_hellman(&X25519Public::from(public))
        .was_contributory()
}

/// `key` wrapped for the device `actor` whose exchange key is `recipient`.
pub fn wrap(
    team: &str,
    key: &TeamKey,
    actor: &str,
    recipient: &[u8; PUBLIC_KEY_LEN],
) -> Result<Wrapped, CryptoError> {
    let ephemeral = StaticSecret::from(*Zeroizing::new(random::<KEY_LEN>()?));
    let ephemeral_public = X25519Public::from(&ephemeral).to_bytes();
    let shared = ephemeral.diffie_hellman(&X25519Public::from(*recipient));
    if !shared.was_contributory() {
        return Err(CryptoError::Key(format!(
            "device {actor} has an exchange key no key can be wrapped to"
        )));
    }
    let epoch = key.epoch().to_be_bytes();
    let sealed = siv(shared.as_bytes(), WRAP_LABEL, team)
        .encrypt(
            headers(team, &epoch, actor, &ephemeral_public, recipient),
            key.bytes(),
        )
        .map_err(|_| CryptoError::Key("the new key could not be wrapped".into()))?;
    Ok(Wrapped {
        actor: actor.to_string(),
        ephemeral: text::base64url(&ephemeral_public),
        sealed: text::base64url(&sealed),
    })
}

/// The key of `epoch` from `wrapped`, for this device (`actor`, `device`).
pub fn unwrap(
    team: &str,
    epoch: u64,
    wrapped: &Wrapped,
    device: &DeviceKey,
) -> Result<TeamKey, CryptoError> {
    let ephemeral: [u8; 32] = text::from_base64url(&wrapped.ephemeral)
        .and_then(|b| b.try_into().ok())
        .ok_or(CryptoError::Authentication)?;
    let sealed = text::from_base64url(&wrapped.sealed).ok_or(CryptoError::Authentication)?;
    let shared = device
        .agree(&ephemeral)
        .ok_or(CryptoError::Authentication)?;
    let recipient = device.exchange_public();
    let epoch_bytes = epoch.to_be_bytes();
    let key = Zeroizing::new(
        siv(shared.as_slice(), WRAP_LABEL, team)
            .decrypt(
                headers(team, &epoch_bytes, &wrapped.actor, &ephemeral, &recipient),
                &sealed,
            )
            .map_err(|_| CryptoError::Authentication)?,
    );
    TeamKey::from_bytes(epoch, &key)
}
