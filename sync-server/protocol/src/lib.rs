//! Wire types shared by the Groundwork app (the client) and its relay (`sync-server`).
//!
//! The relay keeps one append-only log of opaque blobs per team. A device talks to it with:
//!
//! | request | body | answer |
//! | --- | --- | --- |
//! | `GET` [`HEALTH_PATH`] | none | JSON `{"status":"ok"}` |
//! | `POST` [`ENROL_PATH`] | JSON [`EnrolRequest`] | JSON [`EnrolResponse`] |
//! | `POST` [`SYNC_PATH`] | binary [`SyncRequest`] ([`SYNC_CONTENT_TYPE`]) | binary [`SyncResponse`] |
//! | `GET` [`DEVICES_PATH`] | none | JSON array of [`TeamDevice`] (the caller's team) |
//!
//! Every request except health and enrolment carries `Authorization: Bearer <token>`. Every error
//! answer is JSON [`ErrorBody`]. Sync bodies may be gzip-compressed in both directions
//! (`Content-Encoding: gzip` on the request, `Accept-Encoding: gzip` for the answer), and should
//! be: the binary format leaves compression to gzip.
//!
//! The binary sync format is described in [`wire`]; blob ids in [`id`].

pub mod id;
pub mod wire;

use serde::{Deserialize, Serialize};

pub use id::{BLOB_ID_HEX_LEN, blob_id, is_blob_id};
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
/// Content type of binary sync bodies, both directions.
pub const SYNC_CONTENT_TYPE: &str = "application/vnd.groundwork.sync.v1";
/// Content type of enrolment bodies and of every error body.
pub const JSON_CONTENT_TYPE: &str = "application/json";
/// Longest document id the relay accepts, in bytes (ids are random, e.g. a UUID).
pub const MAX_DOC_ID_LEN: usize = 128;
/// Longest device name the relay accepts, in bytes.
pub const MAX_DEVICE_NAME_LEN: usize = 100;

/// Enrolment: a device presents an invite code and a name chosen by its user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolRequest {
    /// The invite code the team lead handed out (case, spaces and dashes are ignored).
    pub invite: String,
    /// A name the team lead will recognise in `device list`, e.g. "Sam's phone".
    pub device_name: String,
}

/// The answer to a successful enrolment. Keep `token` secret: it is shown once and the relay
/// stores only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolResponse {
    /// The team this device now belongs to.
    pub team_id: String,
    /// This device's id (also the id operators revoke).
    pub device_id: String,
    /// Bearer token for every later request.
    pub token: String,
}

/// One change the device pushes: an opaque blob, its id and the document it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushItem {
    /// [`blob_id`] of `blob`; the relay rejects the request (400) if it differs.
    pub id: String,
    /// The document this change belongs to (opaque to the relay; at most [`MAX_DOC_ID_LEN`] bytes).
    pub doc_id: String,
    /// The change bytes (opaque to the relay; later encrypted).
    pub blob: Vec<u8>,
}

impl PushItem {
    /// A push item for `blob` with its id computed by [`blob_id`].
    pub fn new(doc_id: impl Into<String>, blob: Vec<u8>) -> Self {
        Self {
            id: blob_id(&blob),
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
}

/// One change pulled from the team's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PulledChange {
    /// Position in the team's log (strictly increasing within an answer).
    pub seq: u64,
    /// [`blob_id`] of `blob` (computed by the decoder, not sent on the wire).
    pub id: String,
    /// The document this change belongs to.
    pub doc_id: String,
    /// The change bytes, exactly as pushed.
    pub blob: Vec<u8>,
}

/// The answer to a [`SyncRequest`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// Ids of pushed items the relay has stored durably: delete them from the outbox.
    pub accepted: Vec<String>,
    /// Changes of other devices of the team after `since`, in log order. A device's own pushes
    /// are not sent back to it.
    pub changes: Vec<PulledChange>,
    /// The next `since`, to store once `changes` are committed locally.
    pub cursor: u64,
    /// More changes wait after `cursor`: sync again straight away.
    pub more: bool,
}

/// The JSON body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong and what to do about it, for a person to read.
    pub error: String,
}

/// One device of the caller's team, as `GET /v1/devices` lists it (for the team lead's reports).
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
}
