//! Push records: each push's signed list of what it carried, so that a relay that withholds
//! blobs from a device (drops them, or shows different devices different logs) is found out
//! instead of leaving devices silently apart.
//!
//! With every push that carries blobs, a device in a sealed team sends one more record, last in
//! the request: its push number `n` (1, 2, … counted by acknowledged pushes), a short tag of
//! each blob the request carries with its document, and the highest push number it has taken
//! in from each other device (`seen`). It is sealed under the team key and signed by the device
//! like a member record, and filed as `push-<actor>-<n>`. A device that takes a record in
//! expects every blob it lists, and every push number up to the highest any record names for a
//! device; what is expected and never served is *withheld*, and `status` says so (the store's
//! side is `store/withheld.rs`).
//!
//! What this cannot see: a relay that withholds a device's latest pushes and every record that
//! came after them (cutting the log's tail short looks like devices that have not synced yet).
//! Anything withheld from the middle of the log is found out by the next record that names it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where push records are filed: `push-<actor hex>-<n>`.
pub const PUSH_DOC_PREFIX: &str = "push-";

/// Bytes of a blob's id (its SHA-256, as the relay names it) a record keeps: enough to tell
/// the blobs of a team apart, short enough to cost little on the wire.
pub const TAG_LEN: usize = 8;

/// What one push carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRecord {
    /// The pushing device's Automerge actor id (hex).
    pub actor: String,
    /// Its push number, from 1.
    pub n: u64,
    /// The blobs the push carried: `[document, tag]`, the tag the first [`TAG_LEN`] bytes of
    /// the blob's id in hex.
    pub blobs: Vec<(String, String)>,
    /// The highest push number taken in from each other device (actor hex), when it pushed.
    pub seen: BTreeMap<String, u64>,
    /// The snapshots the push carried (a lead's, see `store::compaction`), as `blobs` lists
    /// blobs. Listed so that a revoked lead's snapshots pushed before its cut-off are still
    /// taken in, but not expected: the relay serves a placed snapshot only to devices that
    /// were behind what it stands for (a device that already holds those blobs never gets it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<(String, String)>,
    /// For each blob of `blobs` and then of `snapshots`, the next [`TAG_LEN`] bytes of its id
    /// in hex: with its tag, 16 bytes of the id. Where a device's blobs are taken in on the
    /// word of its records (after it was revoked), a tag alone would let the device make a
    /// later blob whose tag matches one it listed before (2^32 tries); 16 bytes cannot be
    /// matched so. Absent in records of apps from before 2026-12-08.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rest: Vec<String>,
}

/// Where `actor`'s push number `n` is filed.
pub fn push_doc_id(actor_hex: &str, n: u64) -> String {
    format!("{PUSH_DOC_PREFIX}{actor_hex}-{n}")
}

/// The actor and number a push record's document id names, if it is one.
pub fn push_of_doc(doc_id: &str) -> Option<(&str, u64)> {
    let (actor, n) = doc_id.strip_prefix(PUSH_DOC_PREFIX)?.rsplit_once('-')?;
    let n: u64 = n.parse().ok().filter(|&n| n >= 1)?;
    // One spelling per number, and an actor that is lowercase hex.
    if n.to_string().len() != doc_id.len() - PUSH_DOC_PREFIX.len() - actor.len() - 1
        || actor.is_empty()
        || !actor
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    Some((actor, n))
}

/// The tag of a blob whose relay id (hex) is `blob_id`: its first [`TAG_LEN`] bytes.
pub fn tag_of(blob_id: &str) -> String {
    blob_id.chars().take(2 * TAG_LEN).collect()
}

/// The rest of a blob's listing ([`PushRecord::rest`]): the [`TAG_LEN`] bytes of its relay id
/// (hex) after its tag.
pub fn rest_of(blob_id: &str) -> String {
    blob_id
        .chars()
        .skip(2 * TAG_LEN)
        .take(2 * TAG_LEN)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_document_ids_name_one_actor_and_number() {
        assert_eq!(push_doc_id("0a1b", 7), "push-0a1b-7");
        assert_eq!(push_of_doc("push-0a1b-7"), Some(("0a1b", 7)));
        assert_eq!(push_of_doc("push-0a1b-12"), Some(("0a1b", 12)));
        for bad in [
            "push-0a1b-0",
            "push-0a1b-07",
            "push-0a1b-",
            "push--3",
            "push-0A1B-3",
            "push-zz-3",
            "push-0a1b-+3",
            "member-0a1b",
            "push-0a1b",
        ] {
            assert_eq!(push_of_doc(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_tag_is_the_start_of_the_blob_id() {
        let id = "00112233445566778899aabbccddeeff";
        assert_eq!(tag_of(id), "0011223344556677");
    }
}
