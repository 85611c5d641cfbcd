//! Each document's own key: known answers computed apart (Python's `hashlib`, `cryptography`),
//! the tree cut by erasures in any order, and format 2 refusing what it must.

use proptest::prelude::*;

use super::CryptoError;
use super::doc_keys::{DocKeys, ENCODED_NODE_LEN, NODE_LEN, Position, erasures_left, leaf_of};
use super::keys::{
    DeviceKey, FORMAT_3_INVITE_LEN, InviteSecret, Keyring, TeamKey, TreeForm, open_invite,
    seal_invite, seal_invite_as, sealed_text_len,
};
use super::seal::{self, open, verify_signature};
use super::tests::{DOC, TEAM, fixed, hex, incompressible};
use super::trust::{InviteCert, TrustedRole, certify_invite};

const OTHER: &str = "0193b2c4-1111-7222-8333-944455566678";

fn root() -> [u8; NODE_LEN] {
    std::array::from_fn(|i| i as u8)
}

fn tree() -> DocKeys {
    DocKeys::from_root(&root())
}

#[test]
fn a_document_s_leaf_and_key_match_an_independent_computation() {
    // Computed with Python's hashlib from the module's description alone.
    assert_eq!(format!("{:016x}", leaf_of(DOC)), "871bc19389597a86");
    let key = tree().key_for(DOC).unwrap();
    assert_eq!(hex(key.as_slice()), "112bd42c5532f7fcdef8bd7c944ce010");
}

#[test]
fn a_format_2_blob_matches_an_independent_computation() {
    // The whole blob computed with Python's `cryptography` (HKDF-SHA256 over the team key and
    // the document's key, AES-SIV, Ed25519): header, padding, binding and signature.
    let (key, device) = fixed();
    let doc_key = tree().key_for(DOC).unwrap();
    let blob = seal::seal(TEAM, DOC, &key, Some(&doc_key), &device, &incompressible()).unwrap();
    assert_eq!(
        hex(&blob),
        "e201cea515dbd50fb0520ec952f9c49ce797bdd564211810fb8c6f8b11a9ad5051acbfe048ac67f06eb6\
         0d38e9160bf8b0a77e2e93b56b627cbe0d767dd5cd7d59731db793a0292cf8adcb34f4e6a9b80a334acaec\
         bcb6f785b30796ae032303a17d4a9527ac2e4288385984a1d6a1700e806eee07fd493e55afa9f389d492fd\
         1212e5b9b203"
    );
    let ring = Keyring::new([key]).with_doc_keys(tree());
    assert_eq!(
        open(TEAM, DOC, &ring, &blob).unwrap().content,
        incompressible()
    );
    verify_signature(TEAM, DOC, &blob, &device.public()).unwrap();
}

#[test]
fn every_flipped_bit_of_a_format_2_blob_is_refused() {
    let (key, device) = fixed();
    let ring = Keyring::new([key.clone()]).with_doc_keys(tree());
    let doc_key = tree().key_for(DOC).unwrap();
    let content: Vec<u8> = (0..300u32).map(|i| (i * 7 % 251) as u8).collect();
    let blob = seal::seal(TEAM, DOC, &key, Some(&doc_key), &device, &content).unwrap();
    for i in 0..blob.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = blob.clone();
            bad[i] ^= bit;
            let opened = open(TEAM, DOC, &ring, &bad)
                .and_then(|_| verify_signature(TEAM, DOC, &bad, &device.public()));
            assert!(
                opened.is_err(),
                "byte {i} bit {bit:#x} flipped was accepted"
            );
        }
    }
}

#[test]
fn a_team_with_document_keys_takes_each_blob_only_in_its_own_format() {
    let (key, device) = fixed();
    let with_tree = Keyring::new([key.clone()]).with_doc_keys(tree());
    let without = Keyring::new([key.clone()]);
    let doc_key = tree().key_for(DOC).unwrap();
    let v2 = seal::seal(TEAM, DOC, &key, Some(&doc_key), &device, b"a change").unwrap();
    let v1 = seal::seal(TEAM, DOC, &key, None, &device, b"a change").unwrap();
    // A document sealed under the team key alone: where an erasure would not reach.
    assert_eq!(
        open(TEAM, DOC, &with_tree, &v1),
        Err(CryptoError::WithoutDocKey)
    );
    // A team from before does not take the new format; records are always format 1.
    assert_eq!(
        open(TEAM, DOC, &without, &v2),
        Err(CryptoError::UnexpectedDocKey)
    );
    let member = "member-0a0b";
    let record = seal::seal(TEAM, member, &key, None, &device, b"a record").unwrap();
    assert_eq!(
        open(TEAM, member, &with_tree, &record).unwrap().content,
        b"a record"
    );
    let keyed_record = seal::seal(TEAM, member, &key, Some(&doc_key), &device, b"x").unwrap();
    assert_eq!(
        open(TEAM, member, &with_tree, &keyed_record),
        Err(CryptoError::UnexpectedDocKey)
    );
    // Moved to another document (whose key differs) or opened with another team's tree.
    assert_eq!(
        open(TEAM, OTHER, &with_tree, &v2),
        Err(CryptoError::Authentication)
    );
    let stranger = Keyring::new([key]).with_doc_keys(DocKeys::from_root(&[1u8; NODE_LEN]));
    assert_eq!(
        open(TEAM, DOC, &stranger, &v2),
        Err(CryptoError::Authentication)
    );
    // The tree without the epoch's team key (a device revoked before it): not opened.
    let later = TeamKey::from_bytes(2, &[5u8; 32]).unwrap();
    let after = seal::seal(TEAM, DOC, &later, Some(&doc_key), &device, b"later").unwrap();
    assert_eq!(
        open(TEAM, DOC, &with_tree, &after),
        Err(CryptoError::UnknownEpoch(2))
    );
}

#[test]
fn an_erased_document_s_blobs_open_under_nothing_left_and_the_others_still_do() {
    let (key, device) = fixed();
    let mut cut = tree();
    let erased = seal::seal(
        TEAM,
        DOC,
        &key,
        Some(&cut.key_for(DOC).unwrap()),
        &device,
        b"canary",
    )
    .unwrap();
    let kept = seal::seal(
        TEAM,
        OTHER,
        &key,
        Some(&cut.key_for(OTHER).unwrap()),
        &device,
        b"kept",
    )
    .unwrap();
    let change = cut.puncture(DOC).unwrap();
    assert_eq!(
        change.removed,
        Position {
            depth: 0,
            prefix: 0
        }
    );
    assert_eq!(change.added.len(), 64);
    assert_eq!(cut.puncture(DOC), None, "cut once");
    assert_eq!(cut.key_for(DOC), None);
    let ring = Keyring::new([key.clone()]).with_doc_keys(cut.clone());
    assert_eq!(
        open(TEAM, DOC, &ring, &erased),
        Err(CryptoError::DocKeyErased)
    );
    assert_eq!(open(TEAM, OTHER, &ring, &kept).unwrap().content, b"kept");
    // No node left derives the erased key, whatever path is walked down from it: each node
    // held is checked not to lie on the erased leaf's path.
    let leaf = leaf_of(DOC);
    for (at, _) in cut.nodes() {
        let on_path = at.depth == 0 || (leaf >> (64 - u32::from(at.depth))) == at.prefix;
        assert!(!on_path, "{at:?} lies above the erased leaf");
    }
}

#[test]
fn another_spelling_of_an_id_has_the_same_key_and_is_cut_with_it() {
    let upper = DOC.to_uppercase();
    let braced = format!("{{{DOC}}}");
    let mut keys = tree();
    assert_eq!(leaf_of(&upper), leaf_of(DOC));
    assert_eq!(keys.key_for(&braced), keys.key_for(DOC));
    assert_ne!(leaf_of(OTHER), leaf_of(DOC));
    keys.puncture(DOC);
    assert_eq!(keys.key_for(&upper), None);
    assert_eq!(keys.key_for(&braced), None);
    assert!(keys.key_for(OTHER).is_some());
    // What is not an id is its own leaf, as written.
    assert_ne!(leaf_of("member-ab"), leaf_of("MEMBER-AB"));
}

#[test]
fn node_sets_are_refused_when_they_would_undo_an_erasure() {
    let mut cut = tree();
    cut.puncture(DOC).unwrap();
    let bytes = cut.encode();
    assert_eq!(bytes.len(), 64 * ENCODED_NODE_LEN);
    assert_eq!(DocKeys::decode(&bytes).unwrap(), cut);
    // The root given back beside the cut tree: overlaps everything.
    let mut with_root = bytes.to_vec();
    with_root.push(0);
    with_root.extend_from_slice(&[0u8; 8]);
    with_root.extend_from_slice(&root());
    assert!(DocKeys::decode(&with_root).is_err());
    // A node given twice, cut short, an impossible depth or prefix, nothing.
    let mut twice = bytes.to_vec();
    twice.extend_from_slice(&bytes[..ENCODED_NODE_LEN]);
    assert!(DocKeys::decode(&twice).is_err());
    assert!(DocKeys::decode(&bytes[..bytes.len() - 1]).is_err());
    let mut deep = bytes.to_vec();
    deep[0] = 65;
    assert!(DocKeys::decode(&deep).is_err());
    let mut wide = vec![3u8];
    wide.extend_from_slice(&8u64.to_be_bytes());
    wide.extend_from_slice(&[1u8; NODE_LEN]);
    assert!(DocKeys::decode(&wide).is_err());
    assert!(DocKeys::decode(&[]).is_err());
}

#[test]
fn the_dense_form_carries_the_same_tree_in_two_thirds_of_the_bytes() {
    // The whole tree: one tag (a node here) and the root's key.
    let whole = tree();
    let mut expected = vec![0, 0, 0, 1, 0b0100_0000];
    expected.extend_from_slice(&root());
    assert_eq!(
        whole.encode_dense().unwrap().as_slice(),
        expected.as_slice()
    );
    // One erasure: 64 levels of "nodes below" with the sibling held beside each, and nothing
    // at the erased leaf: 129 tags (33 bytes) and 64 keys, against 64 nodes of 25 bytes.
    let mut cut = tree();
    cut.puncture(DOC).unwrap();
    let dense = cut.encode_dense().unwrap();
    assert_eq!(dense[..4], 129u32.to_be_bytes());
    assert_eq!(dense.len(), 4 + 33 + 64 * NODE_LEN);
    assert_eq!(cut.dense_len(), dense.len());
    assert_eq!(DocKeys::decode_dense(&dense).unwrap(), cut);
    // The first level: nodes below the root, then (the leaf's first bit is 1: 0x87…) the
    // root's child 0 held, then nodes below child 1.
    assert_eq!(dense[4] >> 2, 0b10_01_10);
    assert_eq!(dense[4 + 33..4 + 33 + NODE_LEN], cut_child_zero());
    // A hundred erasures: about two thirds of the bytes.
    for n in 0..99 {
        cut.puncture(&format!("doc-{n}")).unwrap();
    }
    let dense = cut.encode_dense().unwrap();
    assert_eq!(cut.dense_len(), dense.len());
    assert!(
        dense.len() * 100 < cut.encode().len() * 68,
        "{} against {}",
        dense.len(),
        cut.encode().len()
    );
    assert_eq!(DocKeys::decode_dense(&dense).unwrap(), cut);
}

/// The root's child on bit 0, as the module describes it.
fn cut_child_zero() -> [u8; NODE_LEN] {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"groundwork doc tree v1")
        .chain_update(root())
        .finalize();
    let mut out = [0u8; NODE_LEN];
    out.copy_from_slice(&digest[..NODE_LEN]);
    out
}

#[test]
fn the_dense_form_refuses_what_is_not_a_whole_walk() {
    let mut cut = tree();
    cut.puncture(DOC).unwrap();
    cut.puncture(OTHER).unwrap();
    let dense = cut.encode_dense().unwrap().to_vec();
    assert_eq!(DocKeys::decode_dense(&dense).unwrap(), cut);
    // Cut short anywhere, or a byte more.
    for len in 0..dense.len() {
        assert!(DocKeys::decode_dense(&dense[..len]).is_err(), "{len}");
    }
    let mut longer = dense.clone();
    longer.push(0);
    assert!(DocKeys::decode_dense(&longer).is_err());
    // A key more or less than the walk holds.
    let mut more = dense.clone();
    more.extend_from_slice(&[7u8; NODE_LEN]);
    assert!(DocKeys::decode_dense(&more).is_err());
    // More tags counted than the walk takes, fewer, and none.
    let count = u32::from_be_bytes([dense[0], dense[1], dense[2], dense[3]]);
    for wrong in [count + 1, count - 1, 0, u32::MAX] {
        let mut bad = dense.clone();
        bad[..4].copy_from_slice(&wrong.to_be_bytes());
        assert!(DocKeys::decode_dense(&bad).is_err(), "{wrong}");
    }
    // Stray bits after the last tag (129 + 127 tags: the last byte's low bits are unused).
    let tags_end = 4 + (count as usize).div_ceil(4);
    assert!(!count.is_multiple_of(4));
    let mut stray = dense.clone();
    stray[tags_end - 1] |= 1;
    assert!(DocKeys::decode_dense(&stray).is_err());
    // Tag 3, which means nothing.
    let mut three = dense.clone();
    three[4] |= 0b1100_0000;
    assert!(DocKeys::decode_dense(&three).is_err());
    // Nothing held at all; and "nodes below" a leaf: 65 levels of them.
    assert!(DocKeys::decode_dense(&[0, 0, 0, 1, 0]).is_err());
    let mut deep = 130u32.to_be_bytes().to_vec();
    deep.extend(std::iter::repeat_n(0b1010_1010, 16));
    deep.push(0b1001_0000);
    deep.extend_from_slice(&[1u8; NODE_LEN]);
    assert!(DocKeys::decode_dense(&deep).is_err());
}

/// An invite's secret, the lead who certifies it, and the certificate (a canvasser's, one use).
fn certified_invite() -> (InviteSecret, DeviceKey, InviteCert) {
    let secret = InviteSecret::generate().unwrap();
    let lead = DeviceKey::generate().unwrap();
    let cert = certify_invite(TEAM, &secret, TrustedRole::Canvasser, 1, "0a0b", &lead);
    (secret, lead, cert)
}

/// A ring of the fixed team key of epoch 1, with `tree` for the documents' keys.
fn ring_with(tree: DocKeys) -> Keyring {
    Keyring::new([TeamKey::from_bytes(1, &[1u8; 32]).unwrap()]).with_doc_keys(tree)
}

#[test]
fn invites_of_format_3_still_open() {
    let mut cut = tree();
    cut.puncture(DOC).unwrap();
    let ring = ring_with(cut);
    let (secret, lead, cert) = certified_invite();
    let [old, new] = [TreeForm::Nodes, TreeForm::Dense].map(|form| {
        seal_invite_as(&secret, TEAM, &ring, (&lead.public(), "0a0b"), &cert, form).unwrap()
    });
    for sealed in [&old, &new] {
        let opened = open_invite(&secret, TEAM, sealed).unwrap();
        assert_eq!(opened.keys.doc_keys(), ring.doc_keys());
        assert_eq!(opened.cert.as_ref(), Some(&cert));
    }
    // The dense form: 539 bytes fewer before base64url.
    let bytes = |sealed: &str| super::text::from_base64url(sealed).unwrap().len();
    assert_eq!(bytes(&old) - bytes(&new), 539);
    // Each format is bound to its header: one's bytes are not read as the other's.
    assert_ne!(old, new);
}

#[test]
fn invites_are_made_in_format_3_while_it_fits_in_what_relays_took_before() {
    let (secret, lead, cert) = certified_invite();
    let anchor = (&lead.public(), "0a0b");
    let ring = |tree: &DocKeys| ring_with(tree.clone());
    // A few erasures: format 3, which an app from before format 4 opens (the seal is
    // deterministic, so the same bytes).
    let mut cut = tree();
    for n in 0..10 {
        cut.puncture(&format!("doc-{n}"));
    }
    let made = seal_invite(&secret, TEAM, &ring(&cut), anchor, &cert).unwrap();
    assert_eq!(
        made,
        seal_invite_as(&secret, TEAM, &ring(&cut), anchor, &cert, TreeForm::Nodes).unwrap()
    );
    // The choice is made from the length format 3 would have, computed without sealing it.
    let sealed_bytes = |text: &str| super::text::from_base64url(text).unwrap().len();
    assert_eq!(sealed_text_len(sealed_bytes(&made) - 16), made.len());
    // Past what relays took before (about 580 erasures): format 4, and it opens.
    for n in 10..600 {
        cut.puncture(&format!("doc-{n}"));
    }
    let v3 = seal_invite_as(&secret, TEAM, &ring(&cut), anchor, &cert, TreeForm::Nodes).unwrap();
    assert!(v3.len() > FORMAT_3_INVITE_LEN, "{}", v3.len());
    assert_eq!(sealed_text_len(sealed_bytes(&v3) - 16), v3.len());
    let made = seal_invite(&secret, TEAM, &ring(&cut), anchor, &cert).unwrap();
    assert_eq!(
        made,
        seal_invite_as(&secret, TEAM, &ring(&cut), anchor, &cert, TreeForm::Dense).unwrap()
    );
    assert!(made.len() < FORMAT_3_INVITE_LEN, "{}", made.len());
    let opened = open_invite(&secret, TEAM, &made).unwrap();
    assert_eq!(opened.keys.doc_keys(), Some(&cut));
}

#[test]
fn invites_carry_the_cut_tree() {
    let mut cut = tree();
    cut.puncture(DOC).unwrap();
    let ring = ring_with(cut);
    let (secret, lead, cert) = certified_invite();
    let sealed = seal_invite(&secret, TEAM, &ring, (&lead.public(), "0a0b"), &cert).unwrap();
    let opened = open_invite(&secret, TEAM, &sealed).unwrap();
    assert_eq!(opened.keys.doc_keys(), ring.doc_keys());
    assert_eq!(opened.keys.doc_keys().unwrap().key_for(DOC), None);
    assert_eq!(
        opened.keys.doc_keys().unwrap().key_for(OTHER),
        tree().key_for(OTHER)
    );
    assert_eq!(opened.keys.get(1).unwrap().bytes(), &[1u8; 32]);
    assert_eq!(opened.cert, Some(cert));
}

#[test]
fn the_room_left_in_invites_errs_low_and_shrinks_with_each_erasure() {
    let (secret, lead, cert) = certified_invite();
    let limit = 64 * 1024;
    let mut cut = tree();
    let first = erasures_left(&cut, 1, limit);
    let mut before = first;
    assert!(first > 20, "{first}");
    let mut erased = 0;
    while erasures_left(&cut, 1, limit) > 0 {
        // Whenever room is said to be left, an invite made now fits (in format 4, the form
        // invites take past what relays took before; under it they fit anyway).
        let ring = ring_with(cut.clone());
        let sealed = seal_invite_as(
            &secret,
            TEAM,
            &ring,
            (&lead.public(), "0a0b"),
            &cert,
            TreeForm::Dense,
        )
        .unwrap();
        assert!(sealed.len() <= limit, "{} > {limit}", sealed.len());
        cut.puncture(&format!("doc-{erased}"));
        erased += 1;
        let now = erasures_left(&cut, 1, limit);
        assert!(now <= before, "{now} after {before}");
        before = now;
    }
    // It erred low: at least as many erasures fitted as it first said.
    assert!(erased >= first, "{erased} < {first}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn erasures_in_any_order_leave_the_same_tree_and_every_other_key(
        erased in proptest::collection::btree_set(0u32..400, 1..12),
        seed in any::<u64>(),
    ) {
        let doc = |n: u32| format!("doc-{n}");
        let mut forwards = tree();
        for n in &erased {
            prop_assert!(forwards.puncture(&doc(*n)).is_some());
        }
        // Another order: rotated by the seed, and each erasure repeated (carried out twice).
        let list: Vec<u32> = erased.iter().copied().collect();
        let turn = (seed as usize) % list.len();
        let mut backwards = tree();
        for n in list[turn..].iter().chain(&list[..turn]).rev() {
            backwards.puncture(&doc(*n));
            prop_assert!(backwards.puncture(&doc(*n)).is_none());
        }
        prop_assert_eq!(forwards.encode(), backwards.encode());
        let whole = tree();
        for n in 0u32..400 {
            let key = forwards.key_for(&doc(n));
            if erased.contains(&n) {
                prop_assert!(key.is_none());
            } else {
                prop_assert_eq!(key, whole.key_for(&doc(n)));
            }
        }
        prop_assert_eq!(&DocKeys::decode(&forwards.encode()).unwrap(), &forwards);
        let dense = forwards.encode_dense().unwrap();
        prop_assert_eq!(forwards.dense_len(), dense.len());
        prop_assert_eq!(DocKeys::decode_dense(&dense).unwrap(), forwards);
    }

    #[test]
    fn the_dense_form_never_panics_and_decodes_only_whole_trees(
        erased in proptest::collection::btree_set(0u32..400, 0..6),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut_to in any::<prop::sample::Index>(),
    ) {
        let mut cut = tree();
        for n in &erased {
            cut.puncture(&format!("doc-{n}"));
        }
        let dense = cut.encode_dense().unwrap().to_vec();
        let mut changed = dense.clone();
        let i = at.index(changed.len());
        changed[i] = byte;
        let shorter = &changed[..cut_to.index(changed.len() + 1)];
        for bytes in [&changed[..], shorter] {
            if let Ok(keys) = DocKeys::decode_dense(bytes) {
                // Whatever decodes is a set of nodes that covers no leaf twice.
                prop_assert!(DocKeys::from_nodes(keys.nodes().map(|(p, k)| (p, *k))).is_ok());
                prop_assert_eq!(keys.dense_len(), bytes.len());
            }
        }
    }
}
