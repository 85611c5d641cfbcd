//! Sync with a relay: join a team, then push this device's changes and pull the team's in one
//! round trip at a time.
//!
//! - [`plan`]: pure functions deciding what to send and what to store (tested without I/O).
//! - [`engine`]: `join` and `sync_once`, driving a [`Transport`] and the store.
//! - [`http`]: the real transport (reqwest, rustls, gzip, timeouts, retries with backoff).
//! - [`worker`]: a background thread for the app that syncs when asked, after local changes
//!   (debounced) and periodically, and publishes a [`worker::Status`].
//!
//! The relay only ever sees opaque blobs (Automerge change bytes) and document ids.

pub mod engine;
pub mod http;
pub mod plan;
pub mod worker;

pub use engine::{JoinReport, Repair, SyncReport, join, repair, sync_once, team_devices};
pub use http::HttpTransport;

pub use groundwork_protocol::TeamDevice;
use groundwork_protocol::{
    DocChangesRequest, EnrolRequest, EnrolResponse, SyncRequest, SyncResponse,
};

/// Everything that can go wrong while syncing, worded for the person holding the phone.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// `sync` before `join`.
    #[error(
        "this device has not joined a team yet: run `groundwork join --relay URL --invite CODE --name DEVICE_NAME` (your team lead has the invite)"
    )]
    NotJoined,
    /// Not an http(s) URL.
    #[error("{0:?} is not a relay address: it should look like https://relay.example.org")]
    BadUrl(String),
    /// No answer from the relay.
    #[error(
        "cannot reach the relay at {relay} ({reason}); nothing is lost: your changes stay on this device and go when the relay can be reached"
    )]
    Unreachable {
        /// The relay's address.
        relay: String,
        /// What failed.
        reason: String,
    },
    /// The invite was refused.
    #[error("the relay refused the invite: {0}; ask your team lead for a new invite")]
    InviteRefused(String),
    /// The device was revoked.
    #[error(
        "the relay refused this device: it was revoked; ask your team lead for a new invite and join again"
    )]
    Revoked,
    /// The relay does not know the token.
    #[error(
        "the relay does not recognise this device ({0}); join again with a new invite from your team lead"
    )]
    UnknownDevice(String),
    /// Any other refusal.
    #[error("the relay refused the request (HTTP {status}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The relay's message.
        message: String,
    },
    /// The relay failed.
    #[error("the relay had a problem (HTTP {status}): {message}; try again later, nothing is lost")]
    RelayFailed {
        /// HTTP status.
        status: u16,
        /// The relay's message.
        message: String,
    },
    /// An answer that cannot be read.
    #[error(
        "the relay sent an answer this app cannot read ({0}); is the address right and the app up to date?"
    )]
    BadAnswer(String),
    /// An answer that cannot be right.
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] crate::error::Error),
}

/// How the engine talks to a relay. [`HttpTransport`] is the real one.
pub trait Transport {
    /// Enrol this device with an invite.
    fn enrol(&self, relay: &str, request: &EnrolRequest) -> Result<EnrolResponse, SyncError>;
    /// The devices of this device's team, with their last sync.
    fn devices(&self, relay: &str, token: &str) -> Result<Vec<TeamDevice>, SyncError>;
    /// One sync round trip.
    fn sync(
        &self,
        relay: &str,
        token: &str,
        request: &SyncRequest,
    ) -> Result<SyncResponse, SyncError>;
    /// One document's changes again (every device's), after a position of the team's log.
    fn doc_changes(
        &self,
        relay: &str,
        token: &str,
        request: &DocChangesRequest,
    ) -> Result<SyncResponse, SyncError>;
}
