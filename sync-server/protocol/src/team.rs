//! Team roles, the lead's actions and erasure orders: the JSON bodies of the routes that manage a
//! team rather than sync it.
//!
//! | request | who | body | answer |
//! | --- | --- | --- | --- |
//! | `POST` [`INVITES_PATH`] | lead | [`InviteRequest`] | [`InviteResponse`] |
//! | `POST` [`INVITE_KEYS_PATH`] | lead | [`InviteKeysPart`] | [`InviteKeysPartAnswer`] |
//! | `POST` [`INVITE_FROM_PARTS_PATH`] | lead | [`InviteRequest`] naming parts | [`InviteResponse`] |
//! | `GET` [`INVITES_PATH`] | lead | none | array of [`OpenInvite`] |
//! | `POST` [`CANCEL_INVITE_PATH`] | lead | [`CancelInvite`] | [`InviteCancelled`] |
//! | `POST` [`REVOKE_PATH`] | lead | [`DeviceAction`] | [`crate::TeamDevice`] |
//! | `POST` [`PROMOTE_PATH`] | lead | [`DeviceAction`] | [`crate::TeamDevice`] |
//! | `POST` [`ERASE_PATH`] | lead | [`EraseRequest`] | [`Erasure`] |
//! | `GET` [`ERASURES_PATH`]`?after=N` | any device | none | [`ErasureList`] |
//! | `POST` [`CONFIRM_ERASURES_PATH`] | any device | [`ConfirmErasures`] | [`ErasureList`] (empty list, `head` only) |
//!
//! A canvasser's attempt at a lead action answers 403 with [`ErrorBody::code`](crate::ErrorBody)
//! [`CODE_LEAD_ONLY`]. Every authenticated answer (sync included) carries the caller's role in
//! [`ROLE_HEADER`] and the team's last erasure order number in [`ERASURES_HEADER`], so a device
//! learns of a promotion or an erasure on its next sync without another round trip.
//!
//! Erasure: the relay deletes every stored change of the document, remembers its id (a
//! tombstone: ids are random and say nothing about the person) and refuses its changes ever
//! after with 410 and code [`CODE_ERASED`], naming the erased documents in
//! [`ErrorBody::erased`](crate::ErrorBody); a device then fetches the orders after its last one,
//! erases the documents itself, confirms, and syncs again.

use serde::{Deserialize, Serialize};

/// Create an invite to the caller's team (a lead): `POST` an [`InviteRequest`].
pub const INVITES_PATH: &str = "/v1/invites";
/// Leave one part of an invite's sealed keys with the relay, for an invite made within
/// [`INVITE_KEY_PART_SECS`] (a lead): `POST` an [`InviteKeysPart`]. Keys longer than
/// [`MAX_SEALED_KEYS_LEN`] go in several parts: all but one this way, then the invite to
/// [`INVITE_FROM_PARTS_PATH`] with the rest in [`InviteRequest::sealed_keys`] and the parts'
/// ids in [`InviteRequest::key_parts`], in order.
pub const INVITE_KEYS_PATH: &str = "/v1/invites/keys";
/// Create an invite whose keys were left in parts (a lead): `POST` an [`InviteRequest`] whose
/// [`InviteRequest::key_parts`] names them. A route of its own, so that a relay from before
/// parts answers 404 rather than make an invite holding only the request's own part of the
/// keys ([`INVITES_PATH`] refuses `key_parts`).
pub const INVITE_FROM_PARTS_PATH: &str = "/v1/invites/from-parts";
/// Cancel one of the team's invites (a lead): `POST` a [`CancelInvite`]. (`GET`
/// [`INVITES_PATH`] lists the team's open invites.)
pub const CANCEL_INVITE_PATH: &str = "/v1/invites/cancel";
/// Revoke a device of the caller's team (a lead): `POST` a [`DeviceAction`].
pub const REVOKE_PATH: &str = "/v1/devices/revoke";
/// Make a device of the caller's team a lead (a lead): `POST` a [`DeviceAction`].
pub const PROMOTE_PATH: &str = "/v1/devices/promote";
/// Erase a document from the team (a lead): `POST` an [`EraseRequest`].
pub const ERASE_PATH: &str = "/v1/erase";
/// The team's erasure orders after `?after=N` (any device): `GET`, answers an [`ErasureList`].
pub const ERASURES_PATH: &str = "/v1/erasures";
/// The caller has erased every document up to an order (any device): `POST` [`ConfirmErasures`].
pub const CONFIRM_ERASURES_PATH: &str = "/v1/erasures/confirm";

/// Response header: the caller's role, `lead` or `canvasser`.
pub const ROLE_HEADER: &str = "x-groundwork-role";
/// Response header: the number of the team's last erasure order (0: none yet).
pub const ERASURES_HEADER: &str = "x-groundwork-erasures";

/// [`crate::ErrorBody::code`] of a 403 for a lead's action asked by a canvasser.
pub const CODE_LEAD_ONLY: &str = "lead_only";
/// [`crate::ErrorBody::code`] of a 403 for a revoked device.
pub const CODE_REVOKED: &str = "revoked";
/// [`crate::ErrorBody::code`] of a 410 for changes of an erased document.
pub const CODE_ERASED: &str = "erased";
/// [`crate::ErrorBody::code`] of a 409 that would leave a team without a lead.
pub const CODE_LAST_LEAD: &str = "last_lead";
/// [`crate::ErrorBody::code`] of a 409 for an enrolment into an end-to-end encrypted team with
/// an invite that carries no keys (one the operator made): the invite is not used up.
pub const CODE_NEEDS_KEY: &str = "needs_key";
/// [`crate::ErrorBody::code`] of a 409 for an enrolment with an invite that carries the team's
/// keys by a device that holds no secret to open them (only the first part of the code was
/// given, see [`crate::EnrolRequest::holds_secret`]): the invite is not used up.
pub const CODE_NEEDS_SECRET: &str = "invite_needs_secret";
/// [`crate::ErrorBody::code`] of a 409 for a sealing device enrolling with a canvasser's invite
/// into a team that has no lead yet and is not sealed (it would make the team's key, and so be
/// its root of trust): the team's first lead must join first. The invite is not used up.
pub const CODE_NO_LEAD_YET: &str = "no_lead_yet";
/// Longest [`InviteRequest::sealed_keys`] and [`InviteKeysPart::sealed_keys`], in bytes: 7 MiB
/// (4 MiB before 2026-12-06), which leaves room for the request's other fields under a relay's
/// default `max_body_bytes` (8 MiB). The keys grow with the team's erasures (each adds about
/// 1.1 KB, in base64url, of document keys to what an invite carries once past 1 MiB), so one
/// request holds about 6,500 of them; longer keys go in parts ([`INVITE_KEYS_PATH`], relays
/// from 2026-12-07 on), up to [`MAX_INVITE_KEYS_LEN`]. A relay also bounds what a team's
/// unused invites and waiting parts hold together (a sixteenth of its `max_team_bytes`).
pub const MAX_SEALED_KEYS_LEN: usize = 7 * 1024 * 1024;

/// Most parts [`InviteRequest::key_parts`] may name: with the request's own
/// [`InviteRequest::sealed_keys`], an invite carries at most [`MAX_INVITE_KEYS_LEN`] bytes of
/// keys (about 60,000 erasures; a relay's bound on a team's erasure orders, 32,768 with the
/// default `max_team_bytes`, comes first).
pub const MAX_INVITE_KEY_PARTS: usize = 8;
/// The most bytes of sealed keys one invite carries, in [`MAX_INVITE_KEY_PARTS`] parts and its
/// own: 63 MiB. A relay's bound on what a team's invites hold together (a sixteenth of its
/// `max_team_bytes`, 64 MiB by default) may be lower.
pub const MAX_INVITE_KEYS_LEN: usize = (MAX_INVITE_KEY_PARTS + 1) * MAX_SEALED_KEYS_LEN;
/// How long a part of an invite's keys that no invite has taken may still be named, in seconds
/// (one hour); past it the relay forgets it at the team's next invite, part or enrolment. A team
/// holds at most [`MAX_WAITING_KEY_PARTS`] such parts at once.
pub const INVITE_KEY_PART_SECS: i64 = 3600;
/// The most parts of invites' keys a team's relay keeps waiting for their invite at once
/// (any lead's): room for two invites of the most parts being made together.
pub const MAX_WAITING_KEY_PARTS: usize = 2 * MAX_INVITE_KEY_PARTS;

/// Longest [`EraseRequest::proof`], in bytes.
pub const MAX_ERASE_PROOF_LEN: usize = 512;

/// Most uses an invite may have.
pub const MAX_INVITE_USES: u32 = 1000;
/// Longest an invite may stay valid, in seconds (30 days).
pub const MAX_INVITE_SECS: u64 = 30 * 24 * 3600;
/// Most erasure orders in one [`ErasureList`].
pub const MAX_ERASURES_PER_PAGE: usize = 1000;

/// What a device may do in its team.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Invites, revokes, promotes, erases; and everything a canvasser does.
    Lead,
    /// Records and syncs.
    #[default]
    Canvasser,
}

impl Role {
    /// `lead` or `canvasser`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Lead => "lead",
            Role::Canvasser => "canvasser",
        }
    }

    /// The role named `s` (`lead` or `canvasser`), if it is one.
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim() {
            "lead" => Some(Role::Lead),
            "canvasser" => Some(Role::Canvasser),
            _ => None,
        }
    }
}

/// A lead asks for an invite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRequest {
    /// How many devices may join with it (1 to [`MAX_INVITE_USES`]).
    pub uses: u32,
    /// How long it stays valid, in seconds (60 to [`MAX_INVITE_SECS`]).
    pub expires_in_secs: u64,
    /// The role of the devices that join with it.
    pub role: Role,
    /// The team's keys sealed by the lead's device under the invite's secret half (which
    /// stays in the join link's fragment and never reaches the relay): opaque text of
    /// base64url characters (`A–Z a–z 0–9 - _`), at most [`MAX_SEALED_KEYS_LEN`] bytes. The
    /// relay hands it to each device that enrols with the invite and forgets it when the
    /// invite is used up, expires or its maker is revoked. An invite that carries it marks
    /// the team as sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_keys: Option<String>,
    /// Keys too long for one request: the ids of parts already left with the relay
    /// ([`INVITE_KEYS_PATH`]) by this same device, in order, which come before
    /// [`Self::sealed_keys`] (then required); such a request goes to
    /// [`INVITE_FROM_PARTS_PATH`]. The relay joins them into one text, which is what devices
    /// that enrol get, and forgets the parts. At most [`MAX_INVITE_KEY_PARTS`]; empty (and left
    /// out) for keys that fit in one request, and by apps from before parts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_parts: Vec<String>,
    /// This request's id, chosen by the lead's device (16 bytes of its system's randomness as
    /// 32 lowercase hex digits, [`valid_invite_request`]), so that the request asked again
    /// (its answer lost on the way, the app retrying) is the same invite: the relay makes the
    /// invite's code from the team, the device and this id (so the same request gets the same
    /// code, and no other team or device can get it), and answers a request whose code it
    /// holds already with that invite, making nothing. Without it (an app from before
    /// 2026-12-07) the relay draws the code, and a request asked again makes a second invite.
    /// Secret, as the answer's code is: the relay keeps neither, only the code's hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

/// Whether `id` is spelled as an invite request's id ([`InviteRequest::request`]): 32
/// lowercase hexadecimal digits.
pub fn valid_invite_request(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The invite code made of `random` (20 bytes of a system's randomness, or of a digest):
/// RFC 4648 base32 in lower case, in groups of four letters for reading aloud or typing
/// (`abcd-efgh-…`).
pub fn invite_code(random: &[u8; 20]) -> String {
    let letters = base32(random);
    let groups: Vec<&str> = letters
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    groups.join("-")
}

/// RFC 4648's base32 alphabet, lower case.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// RFC 4648 base32 of `bytes`, lower case, without padding.
fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// One part of an invite's sealed keys, left with the relay before the invite is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteKeysPart {
    /// Base64url text, 1 to [`MAX_SEALED_KEYS_LEN`] bytes: a piece of the sealed keys, cut
    /// anywhere.
    pub sealed_keys: String,
    /// The first part of a new invite: the relay first forgets the parts this device left that
    /// no invite took (an earlier attempt that failed half-way), so that they do not hold the
    /// team's room for keys until their hour is up.
    #[serde(default)]
    pub first: bool,
    /// This part's request id, chosen by the lead's device as for an invite
    /// ([`InviteRequest::request`], [`valid_invite_request`]): the relay makes the part's id
    /// from the team, the device and it, so that the part sent again (its answer lost on the
    /// way) is kept once and answered with the same id. Without it (an app from before
    /// 2026-12-07) the relay draws the id, and a part sent again is kept twice (the copy no
    /// invite names is forgotten within the hour).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

/// The relay has kept a part of an invite's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteKeysPartAnswer {
    /// Its id, for [`InviteRequest::key_parts`].
    pub part: String,
    /// When it is forgotten unless an invite has taken it (Unix seconds).
    pub expires_at: i64,
}

/// A new invite. The relay keeps only the code's hash: this is the one time it is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteResponse {
    /// The invite code.
    pub code: String,
    /// Its id ([`invite_id`] of the code), under which a lead lists and cancels it. Empty from
    /// a relay from before cancelling (the lead's device works it out from the code).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The role it gives.
    pub role: Role,
    /// How many devices may join with it.
    pub uses: u32,
    /// When it stops working (Unix seconds).
    pub expires_at: i64,
}

/// Length of an invite's id ([`invite_id`]): 16 lowercase hexadecimal digits.
pub const INVITE_ID_LEN: usize = 16;

/// The id under which the relay lists and cancels the invite whose code is `code`: the first
/// 8 bytes, in lowercase hexadecimal, of the SHA-256 of the code's relay part (the part before
/// a dot, read as [`crate::normalise_invite`] reads it), which is what the relay keeps of a
/// code. A lead's device works it out from the code or the join link it was shown; the relay,
/// from the stored hash. It gives nothing towards the code itself.
pub fn invite_id(code: &str) -> String {
    use sha2::{Digest, Sha256};
    let relay_part = code.split('.').next().unwrap_or(code);
    let digest = Sha256::digest(crate::normalise_invite(relay_part).as_bytes());
    invite_id_of_hash(digest.as_slice())
}

/// The id ([`invite_id`]) of an invite whose code hashes to `hash` (at least 8 bytes; a shorter
/// one gives a shorter id).
pub fn invite_id_of_hash(hash: &[u8]) -> String {
    hash.iter()
        .take(INVITE_ID_LEN / 2)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The id of the invite `which` names: its id ([`INVITE_ID_LEN`] hexadecimal digits, in any
/// case), its code (a relay's code is 32 base32 characters once dashes and white space are
/// taken out, in any case, with or without the secret after a dot) or its join link
/// (`https://RELAY/#join=CODE`; whose relay it names is the caller's to check). `None` for
/// anything else, which names no invite (rather than an id worked out of it).
pub fn invite_id_named(which: &str) -> Option<String> {
    let which = which.trim();
    let as_id = which.to_ascii_lowercase();
    if valid_invite_id(&as_id) {
        return Some(as_id);
    }
    let code = which.split_once("#join=").map_or(which, |(_, code)| code);
    let relay_part = crate::normalise_invite(code.split('.').next().unwrap_or(""));
    let base32 = relay_part.len() == 32
        && relay_part
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
    base32.then(|| invite_id(code))
}

/// The 8 bytes an invite's id spells ([`invite_id`]), if it is spelled as one
/// ([`valid_invite_id`]).
pub fn invite_id_bytes(id: &str) -> Option<[u8; 8]> {
    if !valid_invite_id(id) {
        return None;
    }
    let mut bytes = [0u8; 8];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(id.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(bytes)
}

/// Whether `id` is spelled as an invite's id: [`INVITE_ID_LEN`] lowercase hexadecimal digits.
pub fn valid_invite_id(id: &str) -> bool {
    id.len() == INVITE_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// One of the team's open invites (uses left, not expired, not cancelled), as a lead sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenInvite {
    /// Its id ([`invite_id`]), for [`CancelInvite`].
    pub id: String,
    /// The role it gives.
    pub role: Role,
    /// How many more devices may join with it.
    pub uses_left: u32,
    /// When it was made (Unix seconds).
    pub created_at: i64,
    /// When it stops working (Unix seconds).
    pub expires_at: i64,
    /// The device id of the lead that made it; none for the operator's (`sync-server team
    /// create`, `invite create`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made_by: Option<String>,
    /// It carries the team's keys (sealed under the secret in its link).
    #[serde(default)]
    pub carries_keys: bool,
}

/// A lead cancels one of the team's invites: no device joins with it from then on, and the keys
/// it carries are forgotten (after [`CANCELLED_INVITE_GRACE_SECS`] when devices that joined with
/// it just before may still ask for their lost answer: [`InviteCancelled::joining`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelInvite {
    /// The invite's id ([`invite_id`]).
    pub id: String,
}

/// The answer to a [`CancelInvite`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteCancelled {
    /// The invite's id.
    pub id: String,
    /// The invite was open and is now cancelled; `false` when it was used up, expired or
    /// cancelled already (asked again, the answer to the first request lost: nothing to do).
    pub cancelled: bool,
    /// Devices that joined with it and have not synced yet, which may still ask for their
    /// enrolment's answer again for [`CANCELLED_INVITE_GRACE_SECS`] (a canvasser mid-join on a
    /// weak signal): the relay keeps the invite's keys for them until then. A lead who does not
    /// know them revokes them, which forgets the keys at once.
    #[serde(default)]
    pub joining: u32,
}

/// How long a cancelled invite still answers again the devices that joined with it before the
/// cancel and have not synced yet ([`InviteCancelled::joining`]), in seconds; its keys are
/// forgotten after that. Without such devices they are forgotten at the cancel.
pub const CANCELLED_INVITE_GRACE_SECS: i64 = 10 * 60;

/// A lead's action on one device of the team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAction {
    /// The device's id, as `GET /v1/devices` lists it.
    pub device_id: String,
}

/// A lead erases a document (a person's file) from the team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EraseRequest {
    /// The document's id.
    pub doc_id: String,
    /// The lead's signed order, as its device makes it: opaque text the relay keeps and hands
    /// to every device with the order (devices of a team whose lead's key is its root of trust
    /// carry out no order without it). At most [`MAX_ERASE_PROOF_LEN`] printable ASCII
    /// characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
}

/// One erasure order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erasure {
    /// Its number in the team's orders (1, 2, …).
    pub seq: u64,
    /// The erased document.
    pub doc_id: String,
    /// When it was ordered (Unix seconds).
    pub erased_at: i64,
    /// Active devices of the team that have confirmed it (devices that joined after it count:
    /// they never held the document).
    pub confirmed: u32,
    /// Active (not revoked) devices of the team.
    pub devices: u32,
    /// The lead's signed order as given with the [`EraseRequest`]s for it: the last four
    /// proofs given, newest first, separated by spaces (the relay cannot tell which is good).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
}

/// Erasure orders, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureList {
    /// The orders after the one asked for, at most [`MAX_ERASURES_PER_PAGE`].
    pub erasures: Vec<Erasure>,
    /// The number of the team's last order.
    pub head: u64,
    /// More orders follow the last one listed.
    pub more: bool,
}

/// A device has erased every document up to order `up_to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmErasures {
    /// The last order it carried out (orders beyond the team's head are refused: 400).
    pub up_to: u64,
}

#[cfg(test)]
mod tests {
    use super::{
        base32, invite_code, invite_id, invite_id_of_hash, valid_invite_id, valid_invite_request,
    };

    #[test]
    fn base32_matches_rfc4648_vectors() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "my");
        assert_eq!(base32(b"fo"), "mzxq");
        assert_eq!(base32(b"foo"), "mzxw6");
        assert_eq!(base32(b"foobar"), "mzxw6ytboi");
    }

    #[test]
    fn invite_codes_are_32_letters_in_groups_and_request_ids_32_hex_digits() {
        assert_eq!(
            invite_code(&[0xff; 20]),
            "7777-7777-7777-7777-7777-7777-7777-7777"
        );
        assert_eq!(
            invite_code(b"foobarfoobarfoobarfo").replace('-', ""),
            base32(b"foobarfoobarfoobarfo")
        );
        assert!(valid_invite_request("0123456789abcdef0123456789abcdef"));
        for bad in [
            "",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "0123456789ABCDEF0123456789abcdef",
            "0123456789abcdef0123456789abcdeg",
            "0123456789abcdef 123456789abcdef",
        ] {
            assert!(!valid_invite_request(bad), "{bad:?}");
        }
    }

    #[test]
    fn an_invites_id_is_read_from_its_relay_part_as_the_relay_reads_codes() {
        let id = invite_id("abcd-efgh-ijkl");
        assert!(valid_invite_id(&id), "{id}");
        // Typed another way, or with the secret after the dot: the same invite.
        assert_eq!(invite_id(" ABCD efgh-IJKL "), id);
        assert_eq!(invite_id("abcd-efgh-ijkl.S3cr3tPart"), id);
        assert_ne!(invite_id("abcd-efgh-ijkm"), id);
        // SHA-256("abcdefghijkl"), its first 8 bytes.
        assert_eq!(id, "d682ed4ca4d989c1");
        assert_eq!(invite_id_of_hash(&[0xab; 32]), "abababababababab");
        assert_eq!(
            super::invite_id_bytes(&id).map(|b| invite_id_of_hash(&b)),
            Some(id.clone())
        );
        assert_eq!(super::invite_id_bytes("D682ED4CA4D989C1"), None);
        assert!(!valid_invite_id("D682ED4CA4D989C1"));
        assert!(!valid_invite_id("d682ed4ca4d989c"));
        assert!(!valid_invite_id("d682ed4ca4d989cg"));
    }

    #[test]
    fn an_invite_is_named_by_its_id_code_or_link_and_nothing_else() {
        use super::invite_id_named;
        let code = "abcd-efgh-ijkl-mnop-qrst-uvwx-yz23-4567";
        let id = invite_id(code);
        for named in [
            id.clone(),
            id.to_uppercase(),
            code.to_string(),
            code.to_uppercase(),
            format!("{code}.S3cr3t"),
            format!(" https://relay.example.org/#join={code}.S3cr3t\n"),
        ] {
            assert_eq!(invite_id_named(&named), Some(id.clone()), "{named:?}");
        }
        for junk in [
            "",
            "cancel",
            "0123456789abcde",
            "abcd-efgh",
            "https://relay.example.org/",
        ] {
            assert_eq!(invite_id_named(junk), None, "{junk:?}");
        }
    }
}
