//! Known answers for the primitives, and the sealed format refusing every altered byte.

use aes_siv::KeyInit;
use aes_siv::siv::Aes128Siv;
use proptest::prelude::*;

use super::CryptoError;
use super::keys::{
    DeviceKey, InviteSecret, Keyring, TeamKey, open_invite, seal_invite, seal_invite_v1, verify,
};
use super::seal::{self, open, padme, verify_signature};
use super::text::{base32, base64url, from_base32, from_base64url};
use super::trust::{
    TrustedRole, admit, certify_invite, check_admission, check_cert, check_erase, erase_proof,
    parse_erase_proof,
};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub(super) fn hex(b: &[u8]) -> String {
    crate::store::intake::hex(b)
}

#[test]
fn aes_siv_matches_rfc_5297_appendix_a1() {
    let key = unhex("fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
    let ad = unhex("101112131415161718191a1b1c1d1e1f2021222324252627");
    let plain = unhex("112233445566778899aabbccddee");
    let key: [u8; 32] = key.try_into().unwrap();
    let out = Aes128Siv::new(&key.into()).encrypt([&ad], &plain).unwrap();
    assert_eq!(
        hex(&out),
        "85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5c"
    );
    let back = Aes128Siv::new(&key.into()).decrypt([&ad], &out).unwrap();
    assert_eq!(back, plain);
}

#[test]
fn ed25519_matches_rfc_8032_tests_1_and_2() {
    let cases = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
    ];
    for (secret, public, message, signature) in cases {
        let key = DeviceKey::from_parts(&unhex(secret), &[1u8; 32]).unwrap();
        assert_eq!(hex(&key.public()), public);
        let sig = key.sign(&unhex(message));
        assert_eq!(hex(&sig), signature);
        verify(&unhex(public), &unhex(message), &sig).unwrap();
        let mut bad = sig;
        bad[0] ^= 1;
        assert_eq!(
            verify(&unhex(public), &unhex(message), &bad),
            Err(CryptoError::Signature)
        );
    }
}

#[test]
fn hkdf_sha256_matches_rfc_5869_test_1() {
    let ikm = [0x0bu8; 22];
    let salt = unhex("000102030405060708090a0b0c");
    let info = unhex("f0f1f2f3f4f5f6f7f8f9");
    let mut okm = [0u8; 42];
    hkdf::Hkdf::<sha2::Sha256>::new(Some(&salt), &ikm)
        .expand(&info, &mut okm)
        .unwrap();
    assert_eq!(
        hex(&okm),
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    );
}

#[test]
fn text_encodings_match_rfc_4648() {
    let cases = [
        ("", "", ""),
        ("f", "Zg", "my"),
        ("fo", "Zm8", "mzxq"),
        ("foo", "Zm9v", "mzxw6"),
        ("foob", "Zm9vYg", "mzxw6yq"),
        ("fooba", "Zm9vYmE", "mzxw6ytb"),
        ("foobar", "Zm9vYmFy", "mzxw6ytboi"),
    ];
    for (plain, b64, b32) in cases {
        assert_eq!(base64url(plain.as_bytes()), b64);
        assert_eq!(base32(plain.as_bytes()), b32);
        assert_eq!(from_base64url(b64).unwrap(), plain.as_bytes());
        assert_eq!(from_base32(&b32.to_uppercase()).unwrap(), plain.as_bytes());
    }
    assert_eq!(from_base64url("Zh"), None, "non-zero leftover bits");
    assert_eq!(from_base64url("Z+8"), None, "not base64url");
    assert_eq!(from_base32("m"), None, "a lone symbol is not a byte");
}

pub(super) const TEAM: &str = "2f1c7c9e-5b4a-4d3e-9a0b-1c2d3e4f5a6b";
pub(super) const DOC: &str = "0193b2c4-1111-7222-8333-944455566677";

pub(super) fn fixed() -> (TeamKey, DeviceKey) {
    (
        TeamKey::from_bytes(1, &[7u8; 32]).unwrap(),
        DeviceKey::from_parts(&[9u8; 32], &[1u8; 32]).unwrap(),
    )
}

fn open_and_verify(
    team: &str,
    doc: &str,
    ring: &Keyring,
    blob: &[u8],
    public: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let opened = open(team, doc, ring, blob)?;
    verify_signature(team, doc, blob, public)?;
    Ok(opened.content)
}

/// Bytes that do not compress, so that sealing them does not depend on the compressor.
pub(super) fn incompressible() -> Vec<u8> {
    (0u32..48)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

#[test]
fn the_sealed_format_is_stable() {
    // A known answer for our own format: a change to it (labels, order, padding) shows here,
    // and blobs already on relays would stop opening.
    let (key, device) = fixed();
    let content = incompressible();
    let blob = seal::seal(TEAM, DOC, &key, None, &device, &content).unwrap();
    assert_eq!(blob[0], seal::MAGIC);
    assert_eq!(blob[1], 1, "epoch 1");
    let again = seal::seal(TEAM, DOC, &key, None, &device, &content).unwrap();
    assert_eq!(blob, again, "sealing is deterministic");
    assert_eq!(
        hex(&blob),
        include_str!("sealed_blob_v1.hex").trim(),
        "the sealed-blob format changed"
    );
    let ring = Keyring::new([key]);
    assert_eq!(
        open_and_verify(TEAM, DOC, &ring, &blob, &device.public()).unwrap(),
        content
    );
}

#[test]
fn a_compressed_blob_of_format_1_still_opens() {
    // Sealed once with the format's dictionary compression; whatever compressor a later
    // version uses, this must open to the same words (and never hold them in the clear).
    let (key, device) = fixed();
    let blob = unhex(include_str!("sealed_blob_v1_compressed.hex").trim());
    assert!(
        !blob.windows(6).any(|w| w == b"canary"),
        "the content is not in the clear"
    );
    let ring = Keyring::new([key]);
    assert_eq!(
        open_and_verify(TEAM, DOC, &ring, &blob, &device.public()).unwrap(),
        b"canary: Mrs Okafor's heating"
    );
}

#[test]
fn every_flipped_bit_of_a_blob_is_refused() {
    let (key, device) = fixed();
    let ring = Keyring::new([key.clone(), TeamKey::from_bytes(2, &[8u8; 32]).unwrap()]);
    let content: Vec<u8> = (0..300u32).map(|i| (i * 7 % 251) as u8).collect();
    let blob = seal::seal(TEAM, DOC, &key, None, &device, &content).unwrap();
    for i in 0..blob.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = blob.clone();
            bad[i] ^= bit;
            let r = open_and_verify(TEAM, DOC, &ring, &bad, &device.public());
            assert!(r.is_err(), "byte {i} bit {bit:#x} flipped was accepted");
        }
    }
    // Cut short or lengthened.
    for len in 0..blob.len() {
        assert!(
            open_and_verify(TEAM, DOC, &ring, &blob[..len], &device.public()).is_err(),
            "cut at {len}"
        );
    }
    let mut longer = blob.clone();
    longer.push(0);
    assert!(open_and_verify(TEAM, DOC, &ring, &longer, &device.public()).is_err());
}

#[test]
fn a_blob_moved_to_another_document_team_or_epoch_is_refused() {
    let (key, device) = fixed();
    let key2 = TeamKey::from_bytes(2, &[7u8; 32]).unwrap(); // same bytes, other epoch
    let ring = Keyring::new([key.clone(), key2]);
    let blob = seal::seal(TEAM, DOC, &key, None, &device, b"a change").unwrap();
    let other_doc = "0193b2c4-1111-7222-8333-944455566678";
    let other_team = "2f1c7c9e-5b4a-4d3e-9a0b-1c2d3e4f5a6c";
    assert_eq!(
        open(TEAM, other_doc, &ring, &blob),
        Err(CryptoError::Authentication)
    );
    assert_eq!(
        open(other_team, DOC, &ring, &blob),
        Err(CryptoError::Authentication)
    );
    assert_eq!(
        verify_signature(TEAM, other_doc, &blob, &device.public()),
        Err(CryptoError::Signature)
    );
    // Relabelled as epoch 2: the key bytes are the same, the binding is not.
    let mut relabelled = blob.clone();
    relabelled[1] = 2;
    assert_eq!(
        open(TEAM, DOC, &ring, &relabelled),
        Err(CryptoError::Authentication)
    );
    // Another device's signature over the same bytes does not pass for this one's.
    let other = DeviceKey::from_parts(&[10u8; 32], &[1u8; 32]).unwrap();
    let theirs = seal::seal(TEAM, DOC, &key, None, &other, b"a change").unwrap();
    assert_eq!(
        verify_signature(TEAM, DOC, &theirs, &device.public()),
        Err(CryptoError::Signature)
    );
    // An epoch this device does not hold, and the clear.
    let key9 = TeamKey::from_bytes(9, &[1u8; 32]).unwrap();
    let later = seal::seal(TEAM, DOC, &key9, None, &device, b"a change").unwrap();
    assert_eq!(
        open(TEAM, DOC, &ring, &later),
        Err(CryptoError::UnknownEpoch(9))
    );
    assert_eq!(
        open(TEAM, DOC, &ring, b"\x85\x6f\x4a\x83 clear"),
        Err(CryptoError::NotSealed)
    );
    // The wrong team key.
    let stranger = Keyring::new([TeamKey::from_bytes(1, &[6u8; 32]).unwrap()]);
    assert_eq!(
        open(TEAM, DOC, &stranger, &blob),
        Err(CryptoError::Authentication)
    );
}

#[test]
fn invites_carry_the_keys_only_to_the_secret_holder() {
    let ring = Keyring::new([
        TeamKey::from_bytes(1, &[1u8; 32]).unwrap(),
        TeamKey::from_bytes(2, &[2u8; 32]).unwrap(),
    ]);
    let secret = InviteSecret::generate().unwrap();
    let lead = DeviceKey::generate().unwrap();
    let cert = certify_invite(TEAM, &secret, TrustedRole::Canvasser, 1, "0a0b", &lead);
    let sealed = seal_invite(&secret, TEAM, &ring, (&lead.public(), "0a0b"), &cert).unwrap();
    assert!(
        sealed
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    );
    let typed = InviteSecret::parse(&secret.to_text().to_uppercase()).unwrap();
    let opened = open_invite(&typed, TEAM, &sealed).unwrap();
    let epochs: Vec<u64> = opened.keys.all().map(TeamKey::epoch).collect();
    assert_eq!(epochs, [1, 2]);
    assert_eq!(opened.keys.get(2).unwrap().bytes(), &[2u8; 32]);
    assert_eq!(opened.anchor, Some(lead.public()));
    assert_eq!(opened.anchor_actor.as_deref(), Some("0a0b"));
    assert_eq!(opened.cert, Some(cert));
    // An invite an older lead's app left (no anchor, no certificate) still opens.
    let old = open_invite(
        &secret,
        TEAM,
        &seal_invite_v1(&secret, TEAM, &ring).unwrap(),
    )
    .unwrap();
    assert_eq!(old.keys.all().count(), 2);
    assert_eq!((old.anchor, old.cert), (None, None));
    let wrong = InviteSecret::generate().unwrap();
    assert_eq!(
        open_invite(&wrong, TEAM, &sealed).unwrap_err(),
        CryptoError::Invite
    );
    assert_eq!(
        open_invite(&secret, "another-team", &sealed).unwrap_err(),
        CryptoError::Invite
    );
    assert_eq!(
        open_invite(&secret, TEAM, "not*base64").unwrap_err(),
        CryptoError::Invite
    );
    assert!(InviteSecret::parse("too-short").is_err());
}

proptest! {
    #[test]
    fn any_content_seals_and_opens(content in proptest::collection::vec(any::<u8>(), 0..3000), epoch in 1u64..100_000) {
        let key = TeamKey::from_bytes(epoch, &[3u8; 32]).unwrap();
        let device = DeviceKey::from_parts(&[4u8; 32], &[1u8; 32]).unwrap();
        let blob = seal::seal(TEAM, DOC, &key, None, &device, &content).unwrap();
        let ring = Keyring::new([key]);
        prop_assert_eq!(open_and_verify(TEAM, DOC, &ring, &blob, &device.public()).unwrap(), content);
        prop_assert_eq!(seal::epoch_of(&blob).unwrap(), epoch);
    }

    #[test]
    fn padme_hides_little_and_costs_at_most_an_eighth(len in 0usize..10_000_000) {
        let p = padme(len);
        prop_assert!(p >= len);
        prop_assert!(p - len <= len / 8 + 1, "{} -> {}", len, p);
        prop_assert_eq!(padme(p), p);
    }
}

#[test]
fn x25519_matches_rfc_7748_section_6_1() {
    let alice = DeviceKey::from_parts(
        &[1u8; 32],
        &unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
    )
    .unwrap();
    assert_eq!(
        hex(&alice.exchange_public()),
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    );
    let bob_public: [u8; 32] =
        unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
            .try_into()
            .unwrap();
    assert_eq!(
        hex(alice.agree(&bob_public).unwrap().as_slice()),
        "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    );
    // A low-order point would force the shared secret: refused.
    assert!(alice.agree(&[0u8; 32]).is_none());
}

#[test]
fn a_wrapped_key_opens_only_for_its_device_team_and_epoch() {
    use super::epoch::{unwrap, wrap};
    let key = TeamKey::from_bytes(2, &[5u8; 32]).unwrap();
    let device = DeviceKey::generate().unwrap();
    let other = DeviceKey::generate().unwrap();
    let wrapped = wrap(TEAM, &key, "aa11", &device.exchange_public()).unwrap();
    assert_eq!(unwrap(TEAM, 2, &wrapped, &device).unwrap(), key);
    assert!(unwrap(TEAM, 2, &wrapped, &other).is_err(), "another device");
    assert!(
        unwrap("other-team", 2, &wrapped, &device).is_err(),
        "another team"
    );
    assert!(unwrap(TEAM, 3, &wrapped, &device).is_err(), "another epoch");
    let mut relabelled = wrapped.clone();
    relabelled.actor = "bb22".into();
    assert!(
        unwrap(TEAM, 2, &relabelled, &device).is_err(),
        "another actor"
    );
    let mut flipped = wrapped.clone();
    let mut bytes = from_base64url(&flipped.sealed).unwrap();
    bytes[20] ^= 1;
    flipped.sealed = base64url(&bytes);
    assert!(unwrap(TEAM, 2, &flipped, &device).is_err(), "altered");
    assert!(
        wrap(TEAM, &key, "aa11", &[0u8; 32]).is_err(),
        "a low-order key"
    );
}

#[test]
fn the_compression_dictionary_is_the_formats() {
    use sha2::Digest;
    let bytes = include_bytes!("dictionary-v1.bin");
    assert_eq!(
        hex(&sha2::Sha256::digest(bytes)),
        "82c1abeb2860b91216e3b4dd5dea9c9c7db172840b342dd3dd99366e8af4084e",
        "the dictionary is part of the sealed format: blobs sealed with another do not open"
    );
    let v2 = include_bytes!("dictionary-v2.bin");
    assert_eq!(
        hex(&sha2::Sha256::digest(v2)),
        "4a64daebb81fc9d99f198a2d7320668c1bfcb331853465437843bcc7a28af779",
        "the second dictionary is part of the sealed format too"
    );
    // Saved documents first, the first dictionary's changes nearest what is compressed; all of
    // it within DEFLATE's reach of 32 KiB, and within one stored block to inflate.
    assert!(v2.ends_with(bytes));
    assert!(v2.len() <= 32 * 1024 - 1024, "{}", v2.len());
}

#[test]
fn a_blob_compressed_with_the_second_dictionary_opens_and_sealing_it_again_is_the_same() {
    // Sealed once with content flag 2 (the second dictionary): it must keep opening to the
    // same words, and sealing them again gives the same bytes while the format stands.
    let (key, device) = fixed();
    let content = b"canary: Mrs Okafor's heating, Mrs Okafor's heating";
    let blob = unhex(include_str!("sealed_blob_v2_compressed.hex").trim());
    assert!(!blob.windows(6).any(|w| w == b"canary"), "not in the clear");
    let ring = Keyring::new([key.clone()]);
    assert_eq!(
        open_and_verify(TEAM, DOC, &ring, &blob, &device.public()).unwrap(),
        content
    );
    assert_eq!(
        seal::seal(TEAM, DOC, &key, None, &device, content).unwrap(),
        blob,
        "the sealed format changed"
    );
}

#[test]
fn changes_alike_compress_and_a_bomb_is_refused() {
    let (key, device) = fixed();
    let ring = Keyring::new([key.clone()]);
    // Words the dictionary holds (field names of a person's file) compress well.
    let content = b"person name notes conversations commitments story issues engagement".repeat(3);
    let blob = seal::seal(TEAM, DOC, &key, None, &device, &content).unwrap();
    assert!(
        blob.len() < content.len(),
        "{} >= {}",
        blob.len(),
        content.len()
    );
    assert_eq!(
        open_and_verify(TEAM, DOC, &ring, &blob, &device.public()).unwrap(),
        content
    );
    // Content that opens to more than any change may be is refused, not inflated.
    let huge = vec![0u8; seal::MAX_CONTENT + 1];
    let blob = seal::seal(TEAM, DOC, &key, None, &device, &huge).unwrap();
    assert!(blob.len() < 64 * 1024);
    assert!(matches!(
        open(TEAM, DOC, &ring, &blob),
        Err(CryptoError::Decompress(_))
    ));
}

#[test]
fn keys_are_wrapped_only_to_exchange_keys_that_can_take_them() {
    let device = DeviceKey::generate().unwrap();
    assert!(super::epoch::can_wrap_to(&device.exchange_public()));
    assert!(!super::epoch::can_wrap_to(&[0u8; 32]), "the zero point");
    let mut one = [0u8; 32];
    one[0] = 1;
    assert!(!super::epoch::can_wrap_to(&one), "a low-order point");
    assert!(!super::epoch::can_wrap_to(&[7u8; 31]), "the wrong length");
}

#[test]
fn an_epoch_with_two_keys_opens_what_either_sealed_and_every_ring_picks_the_same() {
    let device = DeviceKey::from_parts(&[3u8; 32], &[4u8; 32]).unwrap();
    let one = TeamKey::from_bytes(2, &[7u8; 32]).unwrap();
    let two = TeamKey::from_bytes(2, &[5u8; 32]).unwrap();
    let old = TeamKey::from_bytes(1, &[9u8; 32]).unwrap();
    let ring = Keyring::new([old.clone(), one.clone(), two.clone(), one.clone()]);
    assert_eq!(ring.all().count(), 3, "a key given twice is held once");
    assert_eq!(ring.of_epoch(2).len(), 2);
    assert!(ring.holds(&one) && ring.holds(&two));
    // Whatever order they arrived in, every ring seals with the same key of the epoch.
    let other_order = Keyring::new([two.clone(), old.clone(), one.clone()]);
    assert_eq!(ring.current().unwrap().bytes(), &[5u8; 32]);
    assert_eq!(other_order.current().unwrap().bytes(), &[5u8; 32]);
    for key in [&one, &two] {
        let blob = seal::seal(TEAM, DOC, key, None, &device, b"a change").unwrap();
        assert_eq!(open(TEAM, DOC, &ring, &blob).unwrap().content, b"a change");
        // A ring holding only the other key of the epoch does not open it.
        let other = if key.bytes() == one.bytes() {
            &two
        } else {
            &one
        };
        let only_other = Keyring::new([other.clone()]);
        assert_eq!(
            open(TEAM, DOC, &only_other, &blob),
            Err(CryptoError::Authentication)
        );
    }
    // An invite carries both.
    let secret = InviteSecret::generate().unwrap();
    let opened = open_invite(
        &secret,
        TEAM,
        &seal_invite_v1(&secret, TEAM, &ring).unwrap(),
    )
    .unwrap();
    assert_eq!(opened.keys.of_epoch(2).len(), 2);
}

/// Every byte of `bytes` (hex) flipped in turn; `check` must fail on each.
fn each_flip_refused(hex_text: &str, check: impl Fn(&str) -> bool) {
    let bytes = crate::store::intake::unhex_strict(hex_text).unwrap();
    for i in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0x01;
        assert!(
            !check(&crate::store::intake::hex(&flipped)),
            "byte {i} flipped was taken"
        );
    }
}

#[test]
fn an_invite_certificate_holds_only_for_its_team_lead_key_and_role() {
    let lead = DeviceKey::generate().unwrap();
    let other = DeviceKey::generate().unwrap();
    let secret = InviteSecret::generate().unwrap();
    let cert = certify_invite(TEAM, &secret, TrustedRole::Canvasser, 1, "0a0b", &lead);
    check_cert(TEAM, &cert, &lead.public()).unwrap();
    assert!(check_cert(TEAM, &cert, &other.public()).is_err());
    assert!(check_cert("another-team", &cert, &lead.public()).is_err());
    // A canvasser's invite made into a lead's, or credited to another device, is refused.
    let mut promoted = cert.clone();
    promoted.role = TrustedRole::Lead;
    assert!(check_cert(TEAM, &promoted, &lead.public()).is_err());
    let mut moved = cert.clone();
    moved.by = "0c0d".into();
    assert!(check_cert(TEAM, &moved, &lead.public()).is_err());
    let mut stretched = cert.clone();
    stretched.uses = 1000;
    assert!(check_cert(TEAM, &stretched, &lead.public()).is_err());
    each_flip_refused(&cert.signature, |sig| {
        let mut c = cert.clone();
        c.signature = sig.to_string();
        check_cert(TEAM, &c, &lead.public()).is_ok()
    });
    each_flip_refused(&cert.invite_key, |key| {
        let mut c = cert.clone();
        c.invite_key = key.to_string();
        check_cert(TEAM, &c, &lead.public()).is_ok()
    });
}

#[test]
fn only_the_holder_of_an_invite_secret_can_be_admitted_by_it() {
    let lead = DeviceKey::generate().unwrap();
    let joiner = DeviceKey::generate().unwrap();
    let secret = InviteSecret::generate().unwrap();
    let cert = certify_invite(TEAM, &secret, TrustedRole::Canvasser, 1, "0a0b", &lead);
    let (signing, exchange) = (joiner.public(), joiner.exchange_public());
    let admission = admit(TEAM, &secret, &cert, "0e0f", &signing, &exchange);
    check_admission(TEAM, &admission, "0e0f", &signing, &exchange).unwrap();
    // The same admission for another actor, other keys or another team: refused.
    assert!(check_admission(TEAM, &admission, "0e10", &signing, &exchange).is_err());
    let stranger = DeviceKey::generate().unwrap();
    assert!(check_admission(TEAM, &admission, "0e0f", &stranger.public(), &exchange).is_err());
    assert!(
        check_admission(
            TEAM,
            &admission,
            "0e0f",
            &signing,
            &stranger.exchange_public()
        )
        .is_err()
    );
    assert!(check_admission("another-team", &admission, "0e0f", &signing, &exchange).is_err());
    // Someone who holds the certificate but not the secret (a relay, another member) cannot
    // make one.
    let guessed = admit(
        TEAM,
        &InviteSecret::generate().unwrap(),
        &cert,
        "0e0f",
        &signing,
        &exchange,
    );
    assert!(check_admission(TEAM, &guessed, "0e0f", &signing, &exchange).is_err());
    each_flip_refused(&admission.proof, |proof| {
        let mut a = admission.clone();
        a.proof = proof.to_string();
        check_admission(TEAM, &a, "0e0f", &signing, &exchange).is_ok()
    });
}

#[test]
fn an_erase_order_holds_only_for_its_document_team_and_lead() {
    let lead = DeviceKey::generate().unwrap();
    let proof = erase_proof(TEAM, "doc-1", "0a0b", &lead);
    let (by, signature) = parse_erase_proof(&proof).unwrap();
    assert_eq!(by, "0a0b");
    check_erase(TEAM, "doc-1", &signature, &lead.public()).unwrap();
    assert!(check_erase(TEAM, "doc-2", &signature, &lead.public()).is_err());
    assert!(check_erase("another-team", "doc-1", &signature, &lead.public()).is_err());
    let other = DeviceKey::generate().unwrap();
    assert!(check_erase(TEAM, "doc-1", &signature, &other.public()).is_err());
    for bad in ["", "0a0b", "0a0b.", "XY.AAAA", "0a0b.too-short"] {
        assert!(parse_erase_proof(bad).is_none(), "{bad:?}");
    }
    for i in 0..signature.len() {
        let mut flipped = signature.clone();
        flipped[i] ^= 0x80;
        assert!(check_erase(TEAM, "doc-1", &flipped, &lead.public()).is_err());
    }
}

#[test]
fn the_invite_signer_is_the_secret_and_team_s_alone() {
    // Known answer: the key a given secret makes for a given team never changes (devices that
    // joined with an invite are checked against it for as long as the team lives).
    let secret = InviteSecret::parse(&super::text::base32(&[7u8; 20])).unwrap();
    let key = super::trust::invite_signer(&secret, TEAM);
    let again = super::trust::invite_signer(&secret, TEAM);
    assert_eq!(key.to_bytes(), again.to_bytes());
    assert_ne!(
        key.to_bytes(),
        super::trust::invite_signer(&secret, "another-team").to_bytes()
    );
    assert_eq!(
        crate::store::intake::hex(key.verifying_key().as_bytes()),
        // Computed apart: HKDF-SHA256 (no salt, the secret, info = label ‖ team) with
        // Python's hmac, then the Ed25519 public key with the `cryptography` package.
        "3dc9e107daee2967c416bae03fe7b372c0bcd494264c905317643cf69deff81f"
    );
}
