//! Blob ids: the lowercase hexadecimal SHA-256 of the blob's bytes (64 characters).
//!
//! Content addressing makes pushes idempotent: the same bytes always have the same id, so a
//! retried push is recognised and stored once. On the wire an id travels as its 32 raw bytes.

use sha2::{Digest, Sha256};

/// A blob id as it travels and is stored: the 32 raw bytes of the SHA-256.
pub type BlobId = [u8; 32];

/// Length of a blob id in hexadecimal characters.
pub const BLOB_ID_HEX_LEN: usize = 64;

/// The id of `blob`: lowercase hex of its SHA-256.
pub fn blob_id(blob: &[u8]) -> String {
    hex(&blob_digest(blob))
}

/// The raw SHA-256 of `blob`: its id as the wire and the relay carry it.
pub fn blob_digest(blob: &[u8]) -> BlobId {
    let mut out = [0u8; 32];
    out.copy_from_slice(Sha256::digest(blob).as_slice());
    out
}

/// Whether `id` has the shape of a blob id (64 lowercase hex characters).
pub fn is_blob_id(id: &str) -> bool {
    parse_blob_id(id).is_some()
}

/// The 32 raw bytes of a blob id, or `None` if `id` is not 64 lowercase hex characters.
pub fn parse_blob_id(id: &str) -> Option<[u8; 32]> {
    let bytes = id.as_bytes();
    if bytes.len() != BLOB_ID_HEX_LEN {
        return None;
    }
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *slot = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// Lowercase hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_id_is_sha256_hex() {
        assert_eq!(
            blob_id(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            blob_id(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn parse_round_trips_and_rejects_bad_shapes() {
        let id = blob_id(b"hello");
        let raw = parse_blob_id(&id).expect("valid id");
        assert_eq!(hex(&raw), id);
        assert!(parse_blob_id(&id.to_uppercase()).is_none());
        assert!(parse_blob_id(&id[1..]).is_none());
        assert!(parse_blob_id(&format!("{}g", &id[1..])).is_none());
        assert!(parse_blob_id("").is_none());
        assert!(!is_blob_id("not an id"));
    }
}
