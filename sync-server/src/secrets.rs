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
