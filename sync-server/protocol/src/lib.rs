//! Wire types shared by the Groundwork app (the client) and its relay (`sync-server`).
//!
//! The relay keeps one append-only log of opaque blobs per team. A device talks to it with:
//!
//! | request | body | answer |
//! | --- | --- | --- |
//! | `GET` [`HEALTH_PATH`] | none | JSON `{"status":"ok"}` |
//! | `POST` [`ENROL_PATH`] | JSON [`EnrolRequest`] | JSON [`EnrolResponse`] |
//! | `POST` [`SYNC_PATH`] | binary [`SyncRequest`] ([`SYNC_CONTENT_TYPE`]) | binary [`SyncResponse`] |
//! | `GET` [`DEVICES_PATH`] | none | JSON array of [`TeamDevice`] (the caller's team; a lead only) |
//! | `POST` [`DOC_CHANGES_PATH`] | JSON [`DocChangesRequest`] | binary [`SyncResponse`] (one document's changes) |
//! | the lead's actions and erasure orders | JSON | JSON, see [`team`] |
//! | `POST` [`COMPACT_PATH`] (a lead) | JSON [`CompactRequest`] | JSON [`CompactResponse`], see [`compact`] |
//!
//! Every request except health and enrolment carries `Authorization: Bearer <token>`. Every error
//! answer is JSON [`ErrorBody`]. Sync bodies may be gzip-compressed in both directions
//! (`Content-Encoding: gzip` on the request, `Accept-Encoding: gzip` for the answer), and should
//! be: the binary format leaves compression to gzip.
//!
//! The binary sync format is described in [`wire`]; blob ids in [`id`]; team roles, the lead's
//! actions and erasure orders in [`team`].

pub mod compact;
pub mod id;
pub mod names;
pub mod qr;
pub mod team;
pub mod wire;

use serde::{Deserialize, Serialize};

pub use compact::{
    COMPACT_PATH, CompactItem, CompactRequest, CompactResponse, MAX_COMPACT_ITEMS, MAX_COVERED,
};
pub use id::{BLOB_ID_HEX_LEN, BlobId, blob_digest, blob_id, is_blob_id};
pub use team::{
    CANCEL_INVITE_PATH, CANCELLED_INVITE_GRACE_SECS, CancelInvite, INVITE_ID_LEN, InviteCancelled,
    OpenInvite, invite_code, invite_id, invite_id_bytes, invite_id_named, invite_id_of_hash,
    valid_invite_id, valid_invite_request,
};
pub use team::{
    CODE_ERASED, CODE_LAST_LEAD, CODE_LEAD_ONLY, CODE_NEEDS_KEY, CODE_NEEDS_SECRET, CODE_REVOKED,
    CONFIRM_ERASURES_PATH, ConfirmErasures, DeviceAction, ERASE_PATH, ERASURES_HEADER,
    ERASURES_PATH, EraseRequest, Erasure, ErasureList, INVITE_FROM_PARTS_PATH, INVITE_KEYS_PATH,
    INVITES_PATH, InviteKeysPart, InviteKeysPartAnswer, InviteRequest, InviteResponse,
    PROMOTE_PATH, REVOKE_PATH, ROLE_HEADER, Role,
};
pub use wire::{
    DecodeError, EncodeError, decode_sync_request, decode_sync_response, encode_sync_request,
    encode_sync_response,
};

/// Health check: `GET`, answers `200` with JSON `{"status":"ok"}`.
pub const HEALTH_PATH: &str = "/healthz";
/// Enrolment: `POST` a JSON [`EnrolRequest`], get a JSON [`EnrolResponse`].
pub const ENROL_PATH: &str = "/v1/enrol";
/// Sync: `POST` a binary [`SyncRequest`], get a binary [`SyncResponse`].
pub const SYNC_PATH: &str = "/v1/sync";
/// The team's devices: `GET` with the bearer token, answers a JSON array of [`TeamDevice`].
pub const DEVICES_PATH: &str = "/v1/devices";
/// One document's changes again (repair): `POST` a JSON [`DocChangesRequest`] with the bearer
/// token, get a binary [`SyncResponse`] (decode it with a [`SyncRequest`] whose `since` is the
/// request's `after` and which pushes nothing).
pub const DOC_CHANGES_PATH: &str = "/v1/doc-changes";
/// Content type of binary sync bodies, both directions.
pub const SYNC_CONTENT_TYPE: &str = "application/vnd.groundwork.sync.v1";
/// Content type of enrolment bodies and of every error body.
pub const JSON_CONTENT_TYPE: &str = "application/json";
/// Longest document id the relay accepts, in bytes (ids are random, e.g. a UUID).
pub const MAX_DOC_ID_LEN: usize = 128;

/// Whether the relay takes `doc` as a document id: 1 to [`MAX_DOC_ID_LEN`] bytes of text, not
/// only whitespace, without control characters. (A device checks ids it would ask the relay
/// about against the same rule: a push record naming another is refused, not asked after.)
pub fn valid_doc_id(doc: &str) -> bool {
    !doc.trim().is_empty() && doc.len() <= MAX_DOC_ID_LEN && !doc.chars().any(char::is_control)
}
/// Longest Automerge actor id a device may declare, in bytes (Groundwork devices use 16).
pub const MAX_ACTOR_LEN: usize = 32;
/// Longest device name the relay accepts, in bytes.
pub const MAX_DEVICE_NAME_LEN: usize = 100;

/// Enrolment: a device presents an invite code and a name chosen by its user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolRequest {
    /// The invite code the team lead handed out (case, spaces and dashes are ignored).
    pub invite: String,
    /// A name the team lead will recognise in `device list`, e.g. "Sam's phone".
    pub device_name: String,
    /// The Automerge actor id (hex) of every change this device writes. The relay ties it to
    /// the device: no other active device of the team may declare it, and every change the
    /// device pushes is served with it so that others can check who wrote what.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The device seals (encrypts and signs) everything it pushes, and makes the team's key
    /// when it is the first device of a team with nothing stored yet. Devices that predate
    /// end-to-end encryption leave it out (`false`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sealing: bool,
    /// The bearer token this device chose for itself ([`valid_token`]: [`TOKEN_PREFIX`] and 32
    /// random bytes in lowercase hex), kept by the device before it asks. Asking again with the
    /// same invite and the same token, before the device has used the token, answers the same
    /// enrolment again without using the invite again: an answer lost on a weak signal costs
    /// nothing. Without it (an older app) the relay makes the token, and a lost answer spends
    /// the invite's use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Whether the device holds the invite's secret: the part of a lead's invite code after
    /// its dot (or of the join link), which opens the team's keys the invite carries and never
    /// reaches the relay. A device that says it holds none (half of the code, pasted) is refused
    /// by an invite that carries keys (409, `invite_needs_secret`), which keeps its use: the
    /// keys could not be opened. Left out by apps from before it (not checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holds_secret: Option<bool>,
}

/// Every device token starts with this, followed by 64 lowercase hexadecimal digits.
pub const TOKEN_PREFIX: &str = "gwt_";

/// Whether `token` has the form of a device token: [`TOKEN_PREFIX`] and 64 lowercase
/// hexadecimal digits (32 bytes, which a device draws from its system's randomness).
pub fn valid_token(token: &str) -> bool {
    token.strip_prefix(TOKEN_PREFIX).is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// An invite code as the relay reads it: lower case, without dashes or white space.
pub fn normalise_invite(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The answer to a successful enrolment. Keep `token` secret: it is shown once and the relay
/// stores only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolResponse {
    /// The team this device now belongs to.
    pub team_id: String,
    /// This device's id (also the id operators revoke).
    pub device_id: String,
    /// Bearer token for every later request (the one the device chose, if it chose one).
    pub token: String,
    /// What the device may do in its team (the invite's role).
    #[serde(default)]
    pub role: Role,
    /// The team's notebook is end-to-end encrypted (sealed): the device must seal what it
    /// pushes. With `sealed_keys` absent on a sealed team, this device is the team's first and
    /// makes the key.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sealed: bool,
    /// The team's keys as the inviting lead's device sealed them for this invite
    /// ([`crate::team::InviteRequest::sealed_keys`]), opaque to the relay: the invite's secret
    /// half, which never reaches the relay, opens them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_keys: Option<String>,
}

/// One change the device pushes: an opaque blob, its id and the document it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushItem {
    /// [`blob_digest`] of `blob` (raw bytes; [`blob_id`] is its hex form for people); the
    /// relay rejects the request (400) if it differs.
    pub id: BlobId,
    /// The document this change belongs to (opaque to the relay; at most [`MAX_DOC_ID_LEN`] bytes).
    pub doc_id: String,
    /// The change bytes (opaque to the relay; later encrypted).
    pub blob: Vec<u8>,
}

impl PushItem {
    /// A push item for `blob` with its id computed by [`blob_id`].
    pub fn new(doc_id: impl Into<String>, blob: Vec<u8>) -> Self {
        Self {
            id: blob_digest(&blob),
            doc_id: doc_id.into(),
            blob,
        }
    }
}

/// One sync round trip: push new changes, pull everything of the team after `since`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// The cursor of the last answer whose changes the device has committed (0 at first).
    pub since: u64,
    /// New local changes (the outbox). Pushing the same id again is harmless.
    pub push: Vec<PushItem>,
    /// Upper bound on the size of the pulled page; the relay applies its own cap too.
    pub max_bytes: Option<u64>,
    /// The Automerge actor id every pushed change carries (at most [`MAX_ACTOR_LEN`] bytes).
    /// The relay records it at the device's first declaration and refuses another one later, or
    /// one that another active device of the team already declared.
    pub actor: Vec<u8>,
}

/// A device that pushed changes in a [`SyncResponse`], as the relay knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pusher {
    /// The actor id it declared (empty if it never declared one: it enrolled before devices
    /// declared actors and has not synced since).
    pub actor: Vec<u8>,
    /// Its name at enrolment.
    pub name: String,
}

/// One change pulled from the team's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PulledChange {
    /// Position in the team's log (strictly increasing within an answer).
    pub seq: u64,
    /// [`blob_digest`] of `blob` (computed by the decoder, not sent on the wire).
    pub id: BlobId,
    /// The document this change belongs to.
    pub doc_id: String,
    /// Who pushed it: an index into [`SyncResponse::pushers`].
    pub pusher: usize,
    /// The relay placed this blob as a lead's snapshot (see [`compact`]).
    #[serde(default)]
    pub snapshot: bool,
    /// The change bytes, exactly as pushed.
    pub blob: Vec<u8>,
}

/// The answer to a [`SyncRequest`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// Ids of pushed items the relay has stored durably: delete them from the outbox.
    pub accepted: Vec<BlobId>,
    /// The devices that pushed `changes`.
    pub pushers: Vec<Pusher>,
    /// Changes of other devices of the team after `since`, in log order. A device's own pushes
    /// are not sent back to it.
    pub changes: Vec<PulledChange>,
    /// The next `since`, to store once `changes` are committed locally.
    pub cursor: u64,
    /// More changes wait after `cursor`: sync again straight away.
    pub more: bool,
}

/// Ask for one document's changes again, after position `after` of the team's log (0 for all).
/// A device uses it to repair a document whose changes wait for changes it never received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocChangesRequest {
    /// The document.
    pub doc_id: String,
    /// Only changes after this position (the answer's `cursor` when it says `more`).
    pub after: u64,
    /// Upper bound on the size of the answer; the relay applies its own cap too.
    #[serde(default)]
    pub max_bytes: Option<u64>,
}

/// The JSON body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong and what to do about it, for a person to read.
    pub error: String,
    /// What went wrong, for a program: [`CODE_LEAD_ONLY`], [`CODE_REVOKED`], [`CODE_ERASED`],
    /// [`CODE_LAST_LEAD`], [`CODE_NEEDS_KEY`], [`CODE_NEEDS_SECRET`]; absent for the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// With [`CODE_ERASED`]: the erased documents the request named.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub erased: Vec<String>,
}

/// One device of the caller's team, as `GET /v1/devices` lists it (a lead only: for the team
/// lead's reports and to manage the team).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamDevice {
    /// The device's id at the relay.
    pub device_id: String,
    /// The name given at enrolment.
    pub name: String,
    /// When it last completed a sync (Unix seconds), if ever.
    pub last_sync_at: Option<i64>,
    /// Whether it was revoked.
    pub revoked: bool,
    /// The actor id (hex) it declared, if it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// What it may do in the team.
    #[serde(default)]
    pub role: Role,
    /// When it enrolled (Unix seconds).
    #[serde(default)]
    pub enrolled_at: i64,
    /// The bytes its changes take of the team's storage on the relay (a canvasser's device may
    /// fill half of the team's quota; 0 from relays that do not say).
    #[serde(default)]
    pub stored_bytes: u64,
}
