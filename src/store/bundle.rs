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
//!
//! **Packed.** A bundle is sealed packed ([`pack`]): an Automerge change names each change it
//! depends on by its 32-byte hash, and a document's later change depends on the one before it,
//! sealed in the same blob; its hash, its 4-byte checksum and its framing can be computed again
//! from the bytes, and random bytes do not compress. So each change goes with its dependencies
//! on earlier changes of the blob written as their place, and without its magic bytes, checksum
//! and length:
//!
//! ```text
//! magic   4 bytes  "GWB" 0x01 (no Automerge chunk starts so: theirs start 0x85 0x6f)
//! count   LEB128   the chunks, then per chunk:
//!   form  1 byte   0: a change, packed; 1: a chunk as it is (another kind of chunk)
//!   form 1: chunk  LEB128 length, then the chunk
//!   form 0: deps   LEB128 count, then per dependency a LEB128 r: 0, and its 32-byte hash
//!                  follows; r ≥ 1, the hash of the r-th change of this blob (an earlier one)
//!           rest   LEB128 length, then the change's body after its dependencies
//! ```
//!
//! [`split`] gives back the very bytes of each change (its hash, which other changes name, is
//! of those bytes): a pack that would not is not used ([`pack`] checks). It reads unpacked
//! bundles too, as devices sealed them before. Measured: the lead's pull at the end of a shift
//! 7.5 % smaller, 16.6 % when people were written in steps (BENCHMARKS.md, "End-to-end
//! encryption").

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
    group_within(items, is_record, MAX_BUNDLE)
}

/// [`group`], with blobs of at most `most` bytes of changes (at most [`MAX_BUNDLE`]; a single
/// change larger than that still goes alone): a push paced to a slow link.
pub fn group_within(
    items: Vec<OutboxItem>,
    is_record: impl Fn(&str) -> bool,
    most: usize,
) -> Vec<Outgoing> {
    let most = most.min(MAX_BUNDLE);
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
            if bundle.bytes.len() + item.bytes.len() <= most {
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

/// First bytes of a packed bundle.
pub const PACKED_MAGIC: [u8; 4] = *b"GWB\x01";
/// First bytes of every Automerge chunk.
const CHUNK_MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// The type byte of an Automerge change chunk (not compressed).
const CHANGE_CHUNK: u8 = 1;
/// Bytes of an Automerge change hash.
const HASH_LEN: usize = 32;

/// The Automerge chunks `content` holds: one after another as written (each starts with the
/// format's magic bytes, a 4-byte checksum, a type byte and its length), or packed ([`pack`]).
/// Only the framing is checked here; each chunk is parsed as a change afterwards.
pub fn split(content: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if let Some(packed) = content.strip_prefix(&PACKED_MAGIC) {
        return unpack(packed);
    }
    Ok(split_raw(content)?
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect())
}

/// A change from the bytes another device sent: only a change chunk as Groundwork writes it
/// (type 1). Automerge also reads compressed change chunks (type 2), inflating them with no
/// bound, so a few hundred kilobytes could take gigabytes before being refused; no Groundwork
/// device sends one.
pub(crate) fn change(bytes: &[u8]) -> Result<automerge::Change, String> {
    if !bytes.starts_with(&CHUNK_MAGIC) {
        return Err("it does not start like an Automerge change".into());
    }
    match bytes.get(8) {
        Some(&CHANGE_CHUNK) => automerge::Change::try_from(bytes).map_err(|e| e.to_string()),
        Some(2) => {
            Err("it is a compressed Automerge change, which no Groundwork device sends".into())
        }
        _ => Err("it does not start like an Automerge change".into()),
    }
}

/// `content` (changes one after another, as [`group`] makes them) packed, when that gives
/// back exactly the same changes; else `content` as it is.
pub fn pack(content: &[u8]) -> Vec<u8> {
    let Ok(chunks) = split_raw(content) else {
        return content.to_vec();
    };
    let mut out = PACKED_MAGIC.to_vec();
    put_leb128(&mut out, chunks.len() as u64);
    // The hash of each change packed so far, by its place.
    let mut hashes: Vec<Option<[u8; HASH_LEN]>> = Vec::with_capacity(chunks.len());
    for chunk in &chunks {
        match change_parts(chunk) {
            Some(ChangeParts { deps, rest, hash }) => {
                out.push(0);
                put_leb128(&mut out, deps.len() as u64);
                for dep in deps {
                    match hashes.iter().position(|h| h.as_ref() == Some(dep)) {
                        Some(i) => put_leb128(&mut out, i as u64 + 1),
                        None => {
                            out.push(0);
                            out.extend_from_slice(dep);
                        }
                    }
                }
                put_leb128(&mut out, rest.len() as u64);
                out.extend_from_slice(rest);
                hashes.push(Some(hash));
            }
            None => {
                out.push(1);
                put_leb128(&mut out, chunk.len() as u64);
                out.extend_from_slice(chunk);
                hashes.push(None);
            }
        }
    }
    match unpack(&out[PACKED_MAGIC.len()..]) {
        Ok(back) if back.iter().map(Vec::as_slice).eq(chunks.iter().copied()) => out,
        _ => content.to_vec(),
    }
}

/// A change chunk taken apart for packing.
struct ChangeParts<'a> {
    /// The hashes of the changes it depends on.
    deps: Vec<&'a [u8; HASH_LEN]>,
    /// Its body after them.
    rest: &'a [u8],
    /// Its own hash.
    hash: [u8; HASH_LEN],
}

/// A change chunk's parts; `None` for another kind of chunk, or a chunk too short to be one
/// ([`pack`] then keeps it whole).
fn change_parts(chunk: &[u8]) -> Option<ChangeParts<'_>> {
    if chunk.get(8) != Some(&CHANGE_CHUNK) {
        return None;
    }
    let (_, took) = leb128(chunk.get(9..)?)?;
    let body = chunk.get(9 + took..)?;
    let (count, used) = leb128(body)?;
    let deps_end = usize::try_from(count)
        .ok()?
        .checked_mul(HASH_LEN)?
        .checked_add(used)?;
    let deps = body
        .get(used..deps_end)?
        .chunks_exact(HASH_LEN)
        .map(|d| d.try_into().ok())
        .collect::<Option<Vec<&[u8; HASH_LEN]>>>()?;
    Some(ChangeParts {
        deps,
        rest: &body[deps_end..],
        hash: change_hash(&chunk[8..]),
    })
}

/// An Automerge change's hash: SHA-256 of its chunk from the type byte on.
fn change_hash(typed: &[u8]) -> [u8; HASH_LEN] {
    use sha2::Digest;
    sha2::Sha256::digest(typed).into()
}

/// The chunks of a packed bundle (after its magic bytes), each rebuilt whole. Refuses a
/// pack that is cut short, has bytes after its last chunk, names a dependency that is not an
/// earlier change of the pack, or would rebuild to more than a sealed blob may hold.
fn unpack(mut packed: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let cut = |what: &str, i: usize| format!("packed change {} is cut short ({what})", i + 1);
    let count = take_leb128(&mut packed).ok_or("its packed changes have no count")?;
    // Each chunk takes at least two bytes: a count larger than that is a lie.
    if count == 0 || count > packed.len() as u64 / 2 {
        return Err(format!(
            "it says it packs {count} changes in {} bytes",
            packed.len()
        ));
    }
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let mut hashes: Vec<Option<[u8; HASH_LEN]>> = Vec::new();
    let mut total = 0usize;
    for i in 0..count as usize {
        let (&form, rest) = packed.split_first().ok_or_else(|| cut("form", i))?;
        packed = rest;
        let chunk = match form {
            1 => {
                let chunk = take_bytes(&mut packed).ok_or_else(|| cut("chunk", i))?;
                split_raw(chunk).map_err(|e| format!("packed chunk {}: {e}", i + 1))?;
                hashes.push(None);
                chunk.to_vec()
            }
            0 => {
                let deps = take_leb128(&mut packed).ok_or_else(|| cut("dependencies", i))?;
                if deps > packed.len() as u64 {
                    return Err(cut("dependencies", i));
                }
                let mut body = Vec::new();
                put_leb128(&mut body, deps);
                for _ in 0..deps {
                    match take_leb128(&mut packed).ok_or_else(|| cut("dependency", i))? {
                        0 => {
                            let hash = packed.get(..HASH_LEN).ok_or_else(|| cut("hash", i))?;
                            body.extend_from_slice(hash);
                            packed = &packed[HASH_LEN..];
                        }
                        r => {
                            let earlier = usize::try_from(r - 1)
                                .ok()
                                .filter(|&j| j < i)
                                .and_then(|j| hashes[j])
                                .ok_or_else(|| {
                                    format!(
                                        "packed change {} depends on change {r} of the pack, which is not an earlier change",
                                        i + 1
                                    )
                                })?;
                            body.extend_from_slice(&earlier);
                        }
                    }
                    if body.len() > crate::crypto::seal::MAX_CONTENT {
                        return Err(format!(
                            "packed change {} names more dependencies than a sealed blob may hold",
                            i + 1
                        ));
                    }
                }
                body.extend_from_slice(take_bytes(&mut packed).ok_or_else(|| cut("body", i))?);
                let mut typed = vec![CHANGE_CHUNK];
                put_leb128(&mut typed, body.len() as u64);
                typed.extend_from_slice(&body);
                let hash = change_hash(&typed);
                hashes.push(Some(hash));
                let mut chunk = CHUNK_MAGIC.to_vec();
                chunk.extend_from_slice(&hash[..4]);
                chunk.extend_from_slice(&typed);
                chunk
            }
            other => return Err(format!("packed change {} has unknown form {other}", i + 1)),
        };
        total = total.saturating_add(chunk.len());
        if total > crate::crypto::seal::MAX_CONTENT {
            return Err("its packed changes unpack to more than a sealed blob may hold".into());
        }
        chunks.push(chunk);
    }
    if !packed.is_empty() {
        return Err(format!(
            "{} stray bytes follow its packed changes",
            packed.len()
        ));
    }
    Ok(chunks)
}

/// Takes a LEB128 number off the front of `bytes`.
pub(crate) fn take_leb128(bytes: &mut &[u8]) -> Option<u64> {
    let (v, took) = leb128(bytes)?;
    *bytes = &bytes[took..];
    Some(v)
}

/// Takes a LEB128 length and that many bytes off the front of `bytes`.
fn take_bytes<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = usize::try_from(take_leb128(bytes)?).ok()?;
    let taken = bytes.get(..len)?;
    *bytes = &bytes[len..];
    Some(taken)
}

/// Appends `v` as LEB128.
pub(crate) fn put_leb128(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The chunks of `content`, written one after another.
fn split_raw(content: &[u8]) -> Result<Vec<&[u8]>, String> {
    const MAGIC: [u8; 4] = CHUNK_MAGIC;
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
        let back: Vec<Vec<u8>> = out.iter().flat_map(|o| split(&o.bytes).unwrap()).collect();
        assert_eq!(back, c);
    }

    #[test]
    fn splitting_refuses_what_is_not_whole_changes() {
        let c = changes(2, 5);
        let both = [c[0].clone(), c[1].clone()].concat();
        assert_eq!(split(&both).unwrap(), vec![c[0].clone(), c[1].clone()]);
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

    /// A document written by this device in `steps` changes, with `others` changes of another
    /// device merged in between (so that some of this device's changes depend on changes the
    /// bundle does not hold): this device's changes, oldest first.
    fn history(steps: &[(u8, usize)]) -> Vec<Vec<u8>> {
        let mut mine = AutoCommit::new().with_actor(automerge::ActorId::from([1u8; 16]));
        let mut theirs = AutoCommit::new().with_actor(automerge::ActorId::from([2u8; 16]));
        let mut out = Vec::new();
        for (i, &(who, size)) in steps.iter().enumerate() {
            let text = "y".repeat(size);
            if who == 0 {
                mine.put(ROOT, format!("f{}", i % 5), text).unwrap();
                mine.commit();
                out.push(mine.get_last_local_change().unwrap().raw_bytes().to_vec());
            } else {
                theirs.put(ROOT, format!("g{}", i % 3), text).unwrap();
                theirs.commit();
                mine.merge(&mut theirs).unwrap();
            }
        }
        out
    }

    #[test]
    fn a_chain_of_changes_packs_without_the_hashes_it_can_compute_again() {
        let c = history(&[(0, 10), (0, 10), (0, 10), (0, 10)]);
        let raw = c.concat();
        let packed = pack(&raw);
        assert!(packed.starts_with(&PACKED_MAGIC));
        // Each later change's dependency (32 bytes for one), and every change's magic, checksum,
        // type and length (10 bytes for two: a form and the body's length).
        assert!(
            packed.len() + 3 * (HASH_LEN - 1) + 4 * 8 <= raw.len() + PACKED_MAGIC.len() + 1,
            "{} packed against {} raw",
            packed.len(),
            raw.len()
        );
        assert_eq!(split(&packed).unwrap(), c);
        // Each change is the very change written: Automerge reads it and its hash is the same.
        for (bytes, back) in c.iter().zip(split(&packed).unwrap()) {
            let a = automerge::Change::try_from(bytes.as_slice()).unwrap();
            let b = automerge::Change::try_from(back.as_slice()).unwrap();
            assert_eq!(a.hash(), b.hash());
        }
    }

    #[test]
    fn what_cannot_be_packed_exactly_goes_as_it_is() {
        assert_eq!(
            pack(b"not a change at all"),
            b"not a change at all".to_vec()
        );
        let c = history(&[(0, 4)]);
        // A length written with a superfluous byte: unpacking would write it shorter, so the
        // change's hash would change. It goes as it is.
        let mut long = c[0][..9].to_vec();
        let body = &c[0][10..];
        assert!(body.len() < 0x80);
        long.extend_from_slice(&[0x80 | body.len() as u8, 0x00]);
        long.extend_from_slice(body);
        assert_eq!(pack(&long), long);
    }

    #[test]
    fn hostile_packs_are_refused_and_never_panic() {
        let c = history(&[(0, 30), (1, 5), (0, 30), (0, 30)]);
        let packed = pack(&c.concat());
        assert!(packed.starts_with(&PACKED_MAGIC));
        for cut in PACKED_MAGIC.len()..packed.len() {
            assert!(split(&packed[..cut]).is_err(), "cut at {cut}");
        }
        for i in PACKED_MAGIC.len()..packed.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = packed.clone();
                bad[i] ^= bit;
                // Refused, or other bytes (which Automerge and the signature judge next).
                if let Ok(back) = split(&bad) {
                    assert_ne!(back, c, "a flip at {i} changed nothing");
                }
            }
        }
        let mut trailing = packed.clone();
        trailing.push(0);
        assert!(split(&trailing).is_err(), "a stray byte after");
        // A change naming itself, or a later one, as its dependency.
        let mut own = PACKED_MAGIC.to_vec();
        own.extend_from_slice(&[1, 0, 1, 1, 0]);
        let err = split(&own).unwrap_err();
        assert!(err.contains("not an earlier change"), "{err}");
        // A count the bytes cannot hold, and a flood of dependencies on one earlier change.
        let mut lie = PACKED_MAGIC.to_vec();
        lie.extend_from_slice(&[0xff, 0xff, 0x03, 0, 0, 0]);
        assert!(split(&lie).is_err());
        let first = pack(&c[0]);
        let mut flood = PACKED_MAGIC.to_vec();
        flood.push(2);
        flood.extend_from_slice(&first[PACKED_MAGIC.len() + 1..]);
        flood.push(0);
        let n = 40_000u64;
        super::put_leb128(&mut flood, n);
        flood.extend(std::iter::repeat_n(1u8, n as usize));
        flood.push(0);
        let err = split(&flood).unwrap_err();
        assert!(err.contains("more dependencies"), "{err}");
    }

    proptest! {
        #[test]
        fn packing_gives_back_every_change_exactly(
            steps in proptest::collection::vec((0u8..2, 0usize..300), 1..12)
        ) {
            let c = history(&steps);
            prop_assume!(!c.is_empty());
            let raw = c.concat();
            let packed = pack(&raw);
            prop_assert!(packed.starts_with(&PACKED_MAGIC));
            prop_assert!(packed.len() <= raw.len() + PACKED_MAGIC.len() + 2 * c.len());
            prop_assert_eq!(split(&packed).unwrap(), c.clone());
            prop_assert_eq!(split(&raw).unwrap(), c);
        }

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
