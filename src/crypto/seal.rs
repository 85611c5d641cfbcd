//! The sealed-blob format: what the relay stores for every change of an encrypted team.
//!
//! ```text
//! magic      1 byte    0xE1, or 0xE2 for format 2 (no Automerge change starts with
//!                      either: theirs start 0x85 0x6f)
//! epoch      varint    the team key's epoch (LEB128, at most 10 bytes, at least 1)
//! siv        16 bytes  AES-256-SIV synthetic IV (the authentication tag)
//! ciphertext n bytes   the padded content, encrypted
//! signature  64 bytes  Ed25519, by the writing device
//! ```
//!
//! The SIV's associated data is the vector (`"groundwork blob v1"`, team id, document id,
//! epoch as 8 big-endian bytes): a blob moved to another team, document or epoch fails
//! authentication. The signature covers `"groundwork blob signature v1"`, the team id and
//! document id (each length-prefixed) and every byte of the blob before it, so it binds the
//! same things and the ciphertext; it is checked against the key in the writer's member
//! record (see [`super::keys`]).
//!
//! Content, before encryption: one byte (0: as is; 2: raw DEFLATE with the preset
//! dictionary `DICTIONARY_V2`, when that is smaller; 1: with `DICTIONARY`, as blobs were
//! sealed before 2026-12-04, still opened), the bytes, then `0x80` and zeros up to the Padmé
//! length of the whole, so sizes leak at most
//! about 12% of their precision (Nikitin et al., "Reducing Metadata Leakage from Encrypted
//! Files and Communication with PURBs", 2019).
//!
//! **Format 2** (0xE2) is the same layout for a document of a team that gives each document its
//! own key ([`super::doc_keys`]): the cipher's key is derived from the team key *and* the
//! document's key, and the associated data's label is `"groundwork blob v2"`. In such a team
//! every document of the notebook is sealed in format 2 and records (members, key rotations,
//! pushes, leads) in format 1; a blob sealed the other way is refused, so that no device can
//! leave a document where an erasure would not reach its copies.
//!
//! SIV is deterministic: the same change sealed twice under the same key is the same blob, so
//! a retried push is recognised by the relay as the change it already holds, and no nonce can
//! ever be reused (a phone restored from a backup would repeat a counter; here that is
//! harmless). What it reveals, that two blobs are the same change, the relay sees anyway.

use std::io::Read;

use super::CryptoError;
use super::doc_keys::DocKey;
use super::keys::{DeviceKey, Keyring, TeamKey, verify};

/// First byte of every sealed blob of format 1 (the team key alone).
pub const MAGIC: u8 = 0xE1;
/// First byte of a blob of format 2 (the team key and the document's own key).
pub const MAGIC_V2: u8 = 0xE2;
/// Bytes of the synthetic IV.
pub const SIV_LEN: usize = 16;
/// Bytes of the signature.
pub const SIGNATURE_LEN: usize = 64;
/// Largest content a blob may open to: far more than any change a person types (a
/// conversation's change is a few KiB), small enough that a page of hostile blobs cannot
/// inflate to gigabytes before the signature check refuses them.
pub const MAX_CONTENT: usize = 1024 * 1024;

const AD_LABEL: &[u8] = b"groundwork blob v1";
const AD_LABEL_V2: &[u8] = b"groundwork blob v2";

/// The preset dictionary of format 1's compression: 15,656 bytes of Automerge changes of
/// Groundwork documents (every ninth change of `groundwork demo-data --people 300 --seed 2`,
/// in order, until 16 KiB). Changes are small and alike, and compressed one at a time they
/// share nothing; with the dictionary, a change compresses about twice as well (measured in
/// BENCHMARKS.md). Fixed for the format: changing it would make sealed blobs unreadable.
const DICTIONARY: &[u8] = include_bytes!("dictionary-v1.bin");
/// The preset dictionary content is compressed with since 2026-12-04 (content flag 2): 13,727
/// bytes of saved documents (`AutoCommit::save_nocompress` of every ninth person of the same
/// demo data, in order of id, until 16 KiB), then [`DICTIONARY`], 29,383 bytes in all, within
/// DEFLATE's 32 KiB reach. A lead's snapshot is a saved document, whose header, heads and
/// column layout the first dictionary, of changes only, does not hold: a person's snapshot
/// seals about a quarter smaller, and changes no larger (BENCHMARKS.md, "Compaction"). Fixed
/// for the format, as the first.
const DICTIONARY_V2: &[u8] = include_bytes!("dictionary-v2.bin");
const SIGNATURE_LABEL: &[u8] = b"groundwork blob signature v1";

/// What opening a blob gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The epoch it was sealed under.
    pub epoch: u64,
    /// Its content.
    pub content: Vec<u8>,
}

/// Seal `content` (a change or a member record) of document `doc` of `team`: encrypted under
/// `key` (and `doc_key`, the document's own key, when given: format 2) and signed by `device`.
pub fn seal(
    team: &str,
    doc: &str,
    key: &TeamKey,
    doc_key: Option<&DocKey>,
    device: &DeviceKey,
    content: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let padded = pad(content);
    let epoch = key.epoch();
    let (magic, mut cipher) = match doc_key {
        Some(dk) => (MAGIC_V2, key.doc_cipher(team, dk)),
        None => (MAGIC, key.blob_cipher(team)),
    };
    let sealed = cipher
        .encrypt(associated(magic, team, doc, epoch), &padded)
        .map_err(|_| CryptoError::Key("the change could not be sealed".into()))?;
    let mut blob = Vec::with_capacity(1 + 10 + sealed.len() + SIGNATURE_LEN);
    blob.push(magic);
    put_varint(&mut blob, epoch);
    blob.extend_from_slice(&sealed);
    let signature = device.sign(&signed_message(team, doc, &blob));
    blob.extend_from_slice(&signature);
    Ok(blob)
}

/// The epoch a blob claims (read from its header; not yet authenticated).
pub fn epoch_of(blob: &[u8]) -> Result<u64, CryptoError> {
    Ok(header(blob)?.0)
}

/// Whether `blob` starts like a sealed blob (of either format).
pub fn looks_sealed(blob: &[u8]) -> bool {
    matches!(blob.first(), Some(&MAGIC) | Some(&MAGIC_V2))
}

/// Decrypt and authenticate `blob` of document `doc` of `team` with the team's keys. The
/// signature is checked apart ([`verify_signature`]) once the writer is known.
pub fn open(team: &str, doc: &str, keys: &Keyring, blob: &[u8]) -> Result<Opened, CryptoError> {
    let (epoch, start) = header(blob)?;
    let magic = blob[0];
    let record = super::is_key_record(doc);
    // Which document key, if any, the blob must have been sealed with in this team.
    let doc_key = match (magic, keys.doc_keys(), record) {
        (MAGIC, None, _) | (MAGIC, Some(_), true) => None,
        (MAGIC, Some(_), false) => return Err(CryptoError::WithoutDocKey),
        (_, Some(tree), false) => Some(tree.key_for(doc).ok_or(CryptoError::DocKeyErased)?),
        (_, None, _) | (_, Some(_), true) => return Err(CryptoError::UnexpectedDocKey),
    };
    let candidates = keys.of_epoch(epoch);
    if candidates.is_empty() {
        return Err(CryptoError::UnknownEpoch(epoch));
    }
    let body = &blob[start..blob.len() - SIGNATURE_LEN];
    // Two keys for one epoch (two leads' rotations at once): the one that authenticates it.
    let padded = candidates
        .iter()
        .find_map(|key| {
            let mut cipher = match &doc_key {
                Some(dk) => key.doc_cipher(team, dk),
                None => key.blob_cipher(team),
            };
            cipher
                .decrypt(associated(magic, team, doc, epoch), body)
                .ok()
        })
        .ok_or(CryptoError::Authentication)?;
    Ok(Opened {
        epoch,
        content: unpad(&padded)?,
    })
}

/// Check `blob`'s signature against the writer's public key.
pub fn verify_signature(
    team: &str,
    doc: &str,
    blob: &[u8],
    public: &[u8],
) -> Result<(), CryptoError> {
    header(blob)?;
    let (signed, signature) = blob.split_at(blob.len() - SIGNATURE_LEN);
    verify(public, &signed_message(team, doc, signed), signature)
}

/// The epoch and where the SIV starts; checks there is room for SIV and signature.
fn header(blob: &[u8]) -> Result<(u64, usize), CryptoError> {
    if !looks_sealed(blob) {
        return Err(CryptoError::NotSealed);
    }
    let (epoch, used) = get_varint(&blob[1..]).ok_or(CryptoError::Header)?;
    let start = 1 + used;
    if epoch == 0 || blob.len() < start + SIV_LEN + 1 + SIGNATURE_LEN {
        return Err(CryptoError::Header);
    }
    Ok((epoch, start))
}

fn associated(magic: u8, team: &str, doc: &str, epoch: u64) -> [Vec<u8>; 4] {
    [
        if magic == MAGIC_V2 {
            AD_LABEL_V2
        } else {
            AD_LABEL
        }
        .to_vec(),
        team.as_bytes().to_vec(),
        doc.as_bytes().to_vec(),
        epoch.to_be_bytes().to_vec(),
    ]
}

fn signed_message(team: &str, doc: &str, signed: &[u8]) -> Vec<u8> {
    let mut m =
        Vec::with_capacity(SIGNATURE_LABEL.len() + team.len() + doc.len() + 8 + signed.len());
    m.extend_from_slice(SIGNATURE_LABEL);
    for part in [team.as_bytes(), doc.as_bytes()] {
        m.extend_from_slice(&(part.len() as u32).to_be_bytes());
        m.extend_from_slice(part);
    }
    m.extend_from_slice(signed);
    m
}

/// The Padmé length for `len` bytes: at most 12% more, and only `log log len` bits of the
/// length left to see.
pub fn padme(len: usize) -> usize {
    if len < 2 {
        return len;
    }
    let e = usize::BITS - 1 - len.leading_zeros();
    let s = u32::BITS - e.leading_zeros();
    let zero_bits = e - s;
    let mask = (1usize << zero_bits) - 1;
    (len + mask) & !mask
}

fn pad(content: &[u8]) -> Vec<u8> {
    let compressed = deflate(DICTIONARY_V2, content).filter(|c| c.len() < content.len());
    let (flag, body) = match &compressed {
        Some(c) => (2u8, c.as_slice()),
        None => (0u8, content),
    };
    let len = padme(body.len() + 2);
    let mut out = Vec::with_capacity(len);
    out.push(flag);
    out.extend_from_slice(body);
    out.push(0x80);
    out.resize(len, 0);
    out
}

fn unpad(padded: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let end = padded
        .iter()
        .rposition(|&b| b != 0)
        .ok_or(CryptoError::Padding)?;
    if padded[end] != 0x80 || end == 0 {
        return Err(CryptoError::Padding);
    }
    let body = &padded[1..end];
    match padded[0] {
        0 => Ok(body.to_vec()),
        1 => inflate(DICTIONARY, body),
        2 => inflate(DICTIONARY_V2, body),
        _ => Err(CryptoError::Padding),
    }
}

/// Raw DEFLATE of `bytes` with `dictionary` as its preset dictionary: the compressor reads
/// the dictionary, flushes to a byte boundary, and only what it writes after that is kept.
fn deflate(dictionary: &[u8], bytes: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(dictionary).ok()?;
    e.flush().ok()?;
    let skip = e.get_ref().len();
    e.write_all(bytes).ok()?;
    let mut out = e.finish().ok()?;
    out.drain(..skip);
    Some(out)
}

/// The inverse of [`deflate`]: the dictionary goes first as a stored (uncompressed) block, so
/// that the body's back-references into it resolve; it is then dropped from the output.
fn inflate(dictionary: &[u8], bytes: &[u8]) -> Result<Vec<u8>, CryptoError> {
    // A stored block holds at most 65,535 bytes: both dictionaries fit (checked by a test).
    let len = u16::try_from(dictionary.len())
        .map_err(|_| CryptoError::Decompress("the dictionary is too long".into()))?;
    let mut prefix = vec![0u8];
    prefix.extend_from_slice(&len.to_le_bytes());
    prefix.extend_from_slice(&(!len).to_le_bytes());
    prefix.extend_from_slice(dictionary);
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(std::io::Cursor::new(prefix).chain(bytes))
        .take((dictionary.len() + MAX_CONTENT) as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| CryptoError::Decompress(e.to_string()))?;
    if out.len() > dictionary.len() + MAX_CONTENT || out.len() < dictionary.len() {
        return Err(CryptoError::Decompress("not a change's size".into()));
    }
    out.drain(..dictionary.len());
    Ok(out)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A canonical LEB128 `u64` and the bytes it took.
fn get_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        let part = u64::from(b & 0x7f);
        if i == 9 && b > 1 {
            return None;
        }
        v |= part << (7 * i);
        if b & 0x80 == 0 {
            // No superfluous trailing zero groups: one spelling per number.
            if i > 0 && b == 0 {
                return None;
            }
            return Some((v, i + 1));
        }
    }
    None
}
