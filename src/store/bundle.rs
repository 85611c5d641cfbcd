//! A document's pending changes sealed together in one blob.
//!
//! In a sealed team each blob pays a fixed cost (signature, SIV, header) and is compressed on
//! its own, so a person written in three steps (person, conversation, commitment) costs three
//! times the overhead and compresses nothing across the steps. A push therefore seals each
//! document's changes together: the content of one blob is the changes' Automerge chunks one
//! after another, in the order they were written, all by this device. Each chunk says its own
//! length, so the receiving side splits the content back into changes ([`split`]) and judges
//! each one on its own. Key records (member and epoch records) are not changes and always go
//! alone. Devices in a team in the clear push one blob per change, as before.

use std::collections::HashMap;

use super::OutboxItem;

/// Most change bytes sealed together in one blob: well inside a push's budget and the most a
/// sealed blob may open to ([`crate::crypto::seal::MAX_CONTENT`]).
pub const MAX_BUNDLE: usize = 256 * 1024;

/// What one pushed blob carries, before it is sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The document.
    pub doc_id: String,
    /// The outbox changes it carries (their Automerge hashes, hex), oldest first: all of them
    /// leave the outbox when the relay acknowledges the blob.
    pub change_hashes: Vec<String>,
    /// The blob's bytes: one change or record, or (sealed teams) several changes of the
    /// document one after another; sealed once [`crate::store::Store::sealed_for_push`]
    /// returns it.
    pub bytes: Vec<u8>,
}

impl Outgoing {
    fn single(item: OutboxItem) -> Self {
        Outgoing {
            doc_id: item.doc_id,
            change_hashes: vec![item.change_hash],
            bytes: item.bytes,
        }
    }
}

/// One blob per outbox row, in outbox order (a team in the clear).
pub fn each(items: Vec<OutboxItem>) -> Vec<Outgoing> {
    items.into_iter().map(Outgoing::single).collect()
}

/// Each document's changes together, up to [`MAX_BUNDLE`] bytes a blob, at the place of the
/// document's oldest change; key records alone, in their place. Documents are independent of
/// each other, so moving a change ahead of another document's changes changes nothing; within
/// a document the order is kept.
pub fn group(items: Vec<OutboxItem>, is_record: impl Fn(&str) -> bool) -> Vec<Outgoing> {
    let mut out: Vec<Outgoing> = Vec::new();
    // The open bundle of each document, by its index in `out`.
    let mut open: HashMap<String, usize> = HashMap::new();
    for item in items {
        if is_record(&item.doc_id) {
            out.push(Outgoing::single(item));
            continue;
        }
        if let Some(&i) = open.get(&item.doc_id) {
            let bundle = &mut out[i];
            if bundle.bytes.len() + item.bytes.len() <= MAX_BUNDLE {
                bundle.bytes.extend_from_slice(&item.bytes);
                bundle.change_hashes.push(item.change_hash);
                continue;
            }
        }
        open.insert(item.doc_id.clone(), out.len());
        out.push(Outgoing::single(item));
    }
    out
}

/// The Automerge chunks `content` holds, one after another: each starts with the format's
/// magic bytes, a 4-byte checksum, a type byte and its length (LEB128). Only the framing is
/// checked here; each chunk is parsed as a change afterwards.
pub fn split(content: &[u8]) -> Result<Vec<&[u8]>, String> {
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    let mut chunks = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        if rest.len() < 9 || rest[..4] != MAGIC {
            return Err(format!(
                "change {} does not start like an Automerge change",
                chunks.len() + 1
            ));
        }
        let (len, took) = leb128(&rest[9..])
            .ok_or_else(|| format!("change {} has an unreadable length", chunks.len() + 1))?;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| (9 + took).checked_add(len))
            .filter(|&end| end <= rest.len())
            .ok_or_else(|| {
                format!(
                    "change {} says it is longer than what came",
                    chunks.len() + 1
                )
            })?;
        chunks.push(&rest[..end]);
        rest = &rest[end..];
    }
    if chunks.is_empty() {
        return Err("it holds no change".into());
    }
    Ok(chunks)
}

/// An unsigned LEB128 number of at most 64 bits and the bytes it took.
fn leb128(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        let part = u64::from(b & 0x7f);
        if i == 9 && b > 1 {
            return None;
        }
        v |= part << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};
    use proptest::prelude::*;

    use super::*;

    fn item(seq: i64, doc: &str, bytes: Vec<u8>) -> OutboxItem {
        OutboxItem {
            seq,
            doc_id: doc.into(),
            change_hash: format!("h{seq}"),
            bytes,
        }
    }

    /// `n` real changes of one document, each setting a field to a text of `size` bytes.
    fn changes(n: usize, size: usize) -> Vec<Vec<u8>> {
        let mut doc = AutoCommit::new();
        (0..n)
            .map(|i| {
                doc.put(ROOT, format!("field{i}"), "x".repeat(size))
                    .unwrap();
                doc.commit();
                doc.get_last_local_change().unwrap().raw_bytes().to_vec()
            })
            .collect()
    }

    #[test]
    fn a_documents_changes_go_together_at_its_first_place_and_records_alone() {
        let c = changes(3, 10);
        let items = vec![
            item(1, "member-aa", b"{}".to_vec()),
            item(2, "a", c[0].clone()),
            item(3, "b", c[1].clone()),
            item(4, "epoch-2", b"{}".to_vec()),
            item(5, "a", c[2].clone()),
            item(6, "epoch-2", b"{}".to_vec()),
        ];
        let out = group(items, crate::crypto::is_key_record);
        let docs: Vec<&str> = out.iter().map(|o| o.doc_id.as_str()).collect();
        assert_eq!(docs, ["member-aa", "a", "b", "epoch-2", "epoch-2"]);
        assert_eq!(out[1].change_hashes, ["h2", "h5"]);
        assert_eq!(out[1].bytes, [c[0].clone(), c[2].clone()].concat());
        assert_eq!(out[3].change_hashes, ["h4"]);
        assert_eq!(out[4].change_hashes, ["h6"]);
    }

    #[test]
    fn a_bundle_never_grows_past_its_cap() {
        let c = changes(6, MAX_BUNDLE / 4);
        let items: Vec<_> = c
            .iter()
            .enumerate()
            .map(|(i, b)| item(i as i64, "a", b.clone()))
            .collect();
        let out = group(items, |_| false);
        assert!(out.len() >= 2, "{}", out.len());
        assert!(out.iter().all(|o| o.bytes.len() <= MAX_BUNDLE));
        let hashes: Vec<String> = out.iter().flat_map(|o| o.change_hashes.clone()).collect();
        assert_eq!(hashes, (0..6).map(|i| format!("h{i}")).collect::<Vec<_>>());
        // Each bundle splits back into exactly its changes, in order.
        let back: Vec<Vec<u8>> = out
            .iter()
            .flat_map(|o| split(&o.bytes).unwrap().into_iter().map(<[u8]>::to_vec))
            .collect();
        assert_eq!(back, c);
    }

    #[test]
    fn splitting_refuses_what_is_not_whole_changes() {
        let c = changes(2, 5);
        let both = [c[0].clone(), c[1].clone()].concat();
        assert_eq!(split(&both).unwrap(), vec![&c[0][..], &c[1][..]]);
        assert!(split(&[]).is_err(), "nothing");
        assert!(split(b"garbage that is long").is_err(), "no magic");
        assert!(split(&both[..both.len() - 1]).is_err(), "cut short");
        let mut trailing = both.clone();
        trailing.push(0);
        assert!(split(&trailing).is_err(), "a stray byte after");
        let mut huge = c[0][..9].to_vec();
        huge.extend_from_slice(&[0xff; 10]);
        assert!(split(&huge).is_err(), "an absurd length");
    }

    proptest! {
        #[test]
        fn grouping_loses_nothing_and_keeps_each_documents_order(
            docs in proptest::collection::vec(0u8..4, 0..40)
        ) {
            let c = changes(docs.len(), 3);
            let items: Vec<_> = docs
                .iter()
                .enumerate()
                .map(|(i, d)| item(i as i64, &format!("d{d}"), c[i].clone()))
                .collect();
            let out = group(items, |_| false);
            let mut seen: Vec<String> = out.iter().flat_map(|o| o.change_hashes.clone()).collect();
            seen.sort_by_key(|h| h[1..].parse::<usize>().unwrap());
            prop_assert_eq!(seen, (0..docs.len()).map(|i| format!("h{i}")).collect::<Vec<_>>());
            for o in &out {
                let order: Vec<usize> =
                    o.change_hashes.iter().map(|h| h[1..].parse().unwrap()).collect();
                prop_assert!(order.windows(2).all(|w| w[0] < w[1]));
                let right_doc = order.iter().all(|&i| format!("d{}", docs[i]) == o.doc_id);
                prop_assert!(right_doc);
                let parts = split(&o.bytes).unwrap();
                prop_assert_eq!(parts.len(), order.len());
            }
            // One blob per document here (nothing reaches the cap).
            let mut distinct = docs.clone();
            distinct.sort();
            distinct.dedup();
            prop_assert_eq!(out.len(), distinct.len());
        }
    }
}
