//! The team's root of trust: who is a member and who is a lead is proved by a lead's signature,
//! not by the relay's word.
//!
//! - The **anchor** is the signing key of the team's first lead (the device that made the
//!   team's first key). That device knows it is the anchor; every other device learns it from
//!   its invite, sealed under the invite's secret with the team's keys, which the relay cannot
//!   open or forge.
//! - An **invite certificate** ([`InviteCert`]) is made by a lead's device with each invite:
//!   the public half of a signing key derived from the invite's secret ([`invite_signer`]) and
//!   the role the invite gives, signed by the lead. It travels inside the sealed invite.
//! - An **admission** ([`Admission`]) is what a device joining with that invite puts in its
//!   member record: the certificate, and the invite key's signature over the device's actor and
//!   keys. Only a holder of the invite's secret can make it, and every device can check it
//!   against a lead it knows.
//! - A **lead record** ([`LeadRecord`], filed under `lead-<actor>`) is a lead's signed word that
//!   another member is a lead too (promoting a second lead).
//! - An **erase order's proof** ([`erase_proof`]) is a lead's signature over the team and the
//!   erased document; devices carry out no order without one from a lead they know.
//!
//! A team whose devices joined before this (no anchor) keeps the relay's word for roles, as
//! before; ARCHITECTURE.md ("The lead's key is the root of trust") says what each rule stops.

use ed25519_dalek::SigningKey;
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::keys::{DeviceKey, InviteSecret, PUBLIC_KEY_LEN, verify};
use super::{CryptoError, text};
use crate::store::intake::{hex, unhex_strict};

/// Document ids of lead records start with this (then the promoted device's actor).
pub const LEAD_DOC_PREFIX: &str = "lead-";

/// The role a lead's signature gives a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrustedRole {
    /// May invite, revoke (rotate the key), promote and erase.
    Lead,
    /// May write; nothing else.
    Canvasser,
}

impl From<groundwork_protocol::Role> for TrustedRole {
    /// The role an invite the relay records as `role` certifies.
    fn from(role: groundwork_protocol::Role) -> TrustedRole {
        match role {
            groundwork_protocol::Role::Lead => TrustedRole::Lead,
            groundwork_protocol::Role::Canvasser => TrustedRole::Canvasser,
        }
    }
}

impl TrustedRole {
    /// Its name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            TrustedRole::Lead => "lead",
            TrustedRole::Canvasser => "canvasser",
        }
    }

    /// The role a stored name says.
    pub fn parse(s: &str) -> Option<TrustedRole> {
        match s {
            "lead" => Some(TrustedRole::Lead),
            "canvasser" => Some(TrustedRole::Canvasser),
            _ => None,
        }
    }
}

/// A lead's word that whoever holds an invite's secret may join as `role`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteCert {
    /// The actor (hex) of the lead's device that made the invite; it signs the certificate.
    pub by: String,
    /// The public half (hex) of the key derived from the invite's secret.
    pub invite_key: String,
    /// The role the invite gives.
    pub role: TrustedRole,
    /// How many devices may join with it (devices admit no more, whatever the relay does).
    pub uses: u32,
    /// The lead's signature (hex) over team, `by`, `invite_key`, `role` and `uses`.
    pub signature: String,
}

/// A joining device's proof that it held an invite's secret: the invite's certificate and the
/// invite key's signature over the device's actor and keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admission {
    /// The invite's certificate.
    pub cert: InviteCert,
    /// The invite key's signature (hex) over team, actor, signing key and exchange key.
    pub proof: String,
}

/// A lead's word that `actor` is a lead too, sealed and signed by `by` like a member record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadRecord {
    /// The promoted device's actor (hex).
    pub actor: String,
    /// The promoting lead's actor (hex); it signs the record.
    pub by: String,
}

/// Where the lead record for `actor` is filed.
pub fn lead_doc_id(actor_hex: &str) -> String {
    format!("{LEAD_DOC_PREFIX}{actor_hex}")
}

/// The signing key only a holder of `secret` can make, bound to `team`.
pub fn invite_signer(secret: &InviteSecret, team: &str) -> SigningKey {
    let mut seed = Zeroizing::new([0u8; 32]);
    let mut info = b"groundwork invite signer v1".to_vec();
    info.extend_from_slice(team.as_bytes());
    // 32 bytes is far below HKDF-SHA256's limit: expand cannot fail here.
    let _ = Hkdf::<Sha256>::new(None, secret.bytes()).expand(&info, seed.as_mut());
    SigningKey::from_bytes(&seed)
}

/// Fields joined for a signature: a label, then each field's length and bytes, so that no two
/// lists of fields sign the same bytes.
fn message(label: &[u8], fields: &[&[u8]]) -> Vec<u8> {
    let mut out = label.to_vec();
    for f in fields {
        out.extend_from_slice(&(f.len() as u32).to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

fn cert_message(team: &str, by: &str, invite_key: &str, role: TrustedRole, uses: u32) -> Vec<u8> {
    message(
        b"groundwork invite cert v1",
        &[
            team.as_bytes(),
            by.as_bytes(),
            invite_key.as_bytes(),
            role.as_str().as_bytes(),
            &uses.to_be_bytes(),
        ],
    )
}

fn admission_message(team: &str, actor: &str, signing: &[u8], exchange: &[u8]) -> Vec<u8> {
    message(
        b"groundwork admission v1",
        &[team.as_bytes(), actor.as_bytes(), signing, exchange],
    )
}

fn erase_message(team: &str, doc_id: &str) -> Vec<u8> {
    message(
        b"groundwork erase v1",
        &[team.as_bytes(), doc_id.as_bytes()],
    )
}

/// A certificate for an invite of `team` whose secret is `secret`, giving `role` to at most
/// `uses` devices, signed by the lead's `device` (actor `by`).
pub fn certify_invite(
    team: &str,
    secret: &InviteSecret,
    role: TrustedRole,
    uses: u32,
    by: &str,
    device: &DeviceKey,
) -> InviteCert {
    let invite_key = hex(invite_signer(secret, team).verifying_key().as_bytes());
    let signature = hex(&device.sign(&cert_message(team, by, &invite_key, role, uses)));
    InviteCert {
        by: by.to_string(),
        invite_key,
        role,
        uses,
        signature,
    }
}

/// Check `cert` was signed by `lead_key` (the public key of the lead it names) for `team`.
pub fn check_cert(team: &str, cert: &InviteCert, lead_key: &[u8]) -> Result<(), CryptoError> {
    let signature = unhex_strict(&cert.signature).ok_or(CryptoError::Signature)?;
    verify(
        lead_key,
        &cert_message(team, &cert.by, &cert.invite_key, cert.role, cert.uses),
        &signature,
    )
}

/// The admission of the device `actor` with keys `signing` and `exchange`, joining `team` with
/// the invite whose secret is `secret` and whose certificate is `cert`.
pub fn admit(
    team: &str,
    secret: &InviteSecret,
    cert: &InviteCert,
    actor: &str,
    signing: &[u8],
    exchange: &[u8],
) -> Admission {
    use ed25519_dalek::Signer;
    let proof = invite_signer(secret, team)
        .sign(&admission_message(team, actor, signing, exchange))
        .to_bytes();
    Admission {
        cert: cert.clone(),
        proof: hex(&proof),
    }
}

/// Check that `admission` admits the device `actor` with keys `signing` and `exchange`: its
/// proof was made with the invite's secret the certificate names. (Whether the certificate's
/// lead is a lead is for the caller, which knows the team's members: [`check_cert`].)
pub fn check_admission(
    team: &str,
    admission: &Admission,
    actor: &str,
    signing: &[u8],
    exchange: &[u8],
) -> Result<(), CryptoError> {
    let invite_key = unhex_strict(&admission.cert.invite_key)
        .filter(|k| k.len() == PUBLIC_KEY_LEN)
        .ok_or(CryptoError::Signature)?;
    let proof = unhex_strict(&admission.proof).ok_or(CryptoError::Signature)?;
    verify(
        &invite_key,
        &admission_message(team, actor, signing, exchange),
        &proof,
    )
}

/// The proof a lead's `device` (actor `by`) gives with its order to erase `doc_id` from
/// `team`: `ACTOR.SIGNATURE` (hex, then base64url), which the relay keeps and hands to every
/// device with the order.
pub fn erase_proof(team: &str, doc_id: &str, by: &str, device: &DeviceKey) -> String {
    format!(
        "{by}.{}",
        text::base64url(&device.sign(&erase_message(team, doc_id)))
    )
}

/// The actor an erase order's proof names, and its signature, if it is well formed.
pub fn parse_erase_proof(proof: &str) -> Option<(&str, Vec<u8>)> {
    let (actor, signature) = proof.split_once('.')?;
    let signature = text::from_base64url(signature).filter(|s| s.len() == 64)?;
    unhex_strict(actor)?;
    Some((actor, signature))
}

/// Check an erase order's signature by `lead_key` over `team` and `doc_id`.
pub fn check_erase(
    team: &str,
    doc_id: &str,
    signature: &[u8],
    lead_key: &[u8],
) -> Result<(), CryptoError> {
    verify(lead_key, &erase_message(team, doc_id), signature)
}
