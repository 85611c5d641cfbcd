//! Device tokens and invite codes: random secrets handed out once and stored only as SHA-256.
//!
//! - A device token is `gwt_` followed by 64 hex characters (256 random bits), made here or
//!   (an up-to-date app) by the device itself, which keeps it before it asks to enrol
//!   ([`groundwork_protocol::EnrolRequest::token`]).
//! - An invite code is 32 base32 characters (160 random bits) shown in groups of four,
//!   e.g. `abcd-efgh-…`. Case, spaces and dashes are ignored when it is presented.
//!
//! Hashes are unsalted SHA-256: the secrets are long random strings, so a salt or a slow hash
//! would add nothing, and an exact-hash lookup keeps authentication a single index probe.

use sha2::{Digest, Sha256};

pub use groundwork_protocol::{TOKEN_PREFIX, normalise_invite};

/// The operating system's random source failed.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RandomError(String);

/// A SHA-256 digest of a secret, as stored.
pub type SecretHash = [u8; 32];

fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| RandomError(e.to_string()))?;
    Ok(buf)
}

/// A fresh device token.
pub fn new_token() -> Result<String, RandomError> {
    let bytes: [u8; 32] = random_bytes()?;
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        groundwork_protocol::id::hex(&bytes)
    ))
}

/// A fresh id for a part of an invite's keys: 32 lowercase hex digits.
pub fn new_key_part_id() -> Result<String, RandomError> {
    let bytes: [u8; 16] = random_bytes()?;
    Ok(groundwork_protocol::id::hex(&bytes))
}

/// Whether `part` is spelled as [`new_key_part_id`] makes them.
pub fn is_key_part_id(part: &str) -> bool {
    part.len() == 32 && part.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The stored hash of a device token.
pub fn hash_token(token: &str) -> SecretHash {
    sha256(token.as_bytes())
}

/// A fresh invite code, grouped for reading aloud or typing.
pub fn new_invite() -> Result<String, RandomError> {
    Ok(groundwork_protocol::invite_code(&random_bytes()?))
}

/// The invite code of a lead's request whose id is `request` ([`groundwork_protocol::InviteRequest::request`])
/// from the device `device_id` of the team `team_id`: the first 20 bytes of a SHA-256 over the
/// three (each after its length), in the codes' form. The same request asked again gets the
/// same code, so the relay knows it for a repeat while keeping only the code's hash; another
/// device or team asking with the same id gets another code, so no lead can make an invite
/// under a code another team's link carries (which a code the lead chose itself would allow
/// once the relay has forgotten that invite).
pub fn requested_invite(team_id: &str, device_id: &str, request: &str) -> String {
    let digest = requested(b"groundwork invite code v1", team_id, device_id, request);
    let mut bytes = [0u8; 20];
    bytes.copy_from_slice(&digest[..20]);
    groundwork_protocol::invite_code(&bytes)
}

/// The id of a part of an invite's keys whose request id is `request`
/// ([`groundwork_protocol::InviteKeysPart::request`]) from the device `device_id` of the team
/// `team_id`: 32 lowercase hex digits ([`is_key_part_id`]) of a SHA-256 over the three, so that
/// the part sent again gets the same id, and no other lead's part can take it.
pub fn requested_key_part(team_id: &str, device_id: &str, request: &str) -> String {
    let digest = requested(
        b"groundwork invite key part v1",
        team_id,
        device_id,
        request,
    );
    groundwork_protocol::id::hex(&digest[..16])
}

/// The SHA-256 of `domain` then the team, the device and the request's id, each after its
/// length (8 bytes, big-endian): what a lead's request makes its invite's code and its parts'
/// ids from.
fn requested(domain: &[u8], team_id: &str, device_id: &str, request: &str) -> SecretHash {
    let mut hasher = Sha256::new();
    hasher.update(domain);
    for part in [team_id, device_id, request] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(hasher.finalize().as_slice());
    out
}

/// The stored hash of an invite code, after normalising how it was typed.
pub fn hash_invite(code: &str) -> SecretHash {
    sha256(normalise_invite(code).as_bytes())
}

fn sha256(bytes: &[u8]) -> SecretHash {
    let mut out = [0u8; 32];
    out.copy_from_slice(Sha256::digest(bytes).as_slice());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_requests_code_is_its_own_and_its_teams_and_devices() {
        let code = requested_invite("team", "device", "0123456789abcdef0123456789abcdef");
        assert_eq!(
            code,
            requested_invite("team", "device", "0123456789abcdef0123456789abcdef")
        );
        assert_eq!(code.len(), 32 + 7);
        // Known answer: the first 20 bytes of SHA-256("groundwork invite code v1" ‖ the three
        // fields, each after its length as 8 big-endian bytes), in base32 (worked out apart,
        // with Python's hashlib and base64).
        assert_eq!(code, "djo7-qod4-4ulg-d4l6-e4ej-zrb6-vxtd-4kqv");
        for (team, device, request) in [
            ("team2", "device", "0123456789abcdef0123456789abcdef"),
            ("team", "device2", "0123456789abcdef0123456789abcdef"),
            ("team", "device", "0123456789abcdef0123456789abcdee"),
            // The same bytes cut in other places.
            ("teamd", "evice", "0123456789abcdef0123456789abcdef"),
        ] {
            assert_ne!(code, requested_invite(team, device, request));
        }
    }

    #[test]
    fn a_parts_id_is_its_own_and_its_teams_and_devices() {
        let request = "0123456789abcdef0123456789abcdef";
        let id = requested_key_part("team", "device", request);
        assert!(is_key_part_id(&id), "{id}");
        assert_eq!(id, requested_key_part("team", "device", request));
        assert_ne!(id, requested_key_part("team", "device2", request));
        assert_ne!(id, requested_key_part("team2", "device", request));
        // Not the invite code's derivation under another name.
        assert!(!requested_invite("team", "device", request).contains(&id[..8]));
    }

    #[test]
    fn tokens_are_long_random_and_prefixed() {
        let a = new_token().expect("random");
        let b = new_token().expect("random");
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
        assert_ne!(hash_token(&a), hash_token(&b));
    }

    #[test]
    fn invites_hash_the_same_however_typed() {
        let code = new_invite().expect("random");
        assert_eq!(code.len(), 32 + 7);
        let typed = code.replace('-', " ").to_uppercase();
        assert_eq!(hash_invite(&code), hash_invite(&typed));
        assert_ne!(hash_invite(&code), hash_invite("something else"));
    }
}
