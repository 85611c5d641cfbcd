//! Sync with a relay: join a team, then push this device's changes and pull the team's in one
//! round trip at a time.
//!
//! - [`plan`]: pure functions deciding what to send and what to store (tested without I/O).
//! - [`engine`]: `join` and `sync_once` (async), driving a [`Relay`] and the store through a
//!   [`Notebook`]; the blocking forms below ([`sync_once`], …) run them on the calling thread.
//! - [`relay`]: the relay's HTTP API over any [`Wire`], with retries and backoff.
//! - [`pace`]: how much a sync's request may carry on the link as it is (a weak signal gets
//!   smaller pages and pushes rather than requests that never finish).
//! - [`helpers`]: other workers taking part of a pulled page's opening (the phone's).
//! - [`team`]: roles, the lead's actions and erasure orders.
//! - `http`: the wire of the desktop and the command line (reqwest, rustls, gzip, timeouts);
//!   `fetch`: the browser's.
//! - `worker`: a background thread for the desktop app that syncs when asked, after local
//!   changes (debounced) and periodically, and publishes a [`Status`] ([`status`]).
//!
//! The relay only ever sees opaque blobs (Automerge change bytes) and document ids.

pub mod engine;
#[cfg(target_arch = "wasm32")]
pub mod fetch;
pub mod helpers;
#[cfg(not(target_arch = "wasm32"))]
pub mod http;
pub mod pace;
pub mod plan;
pub mod relay;
pub mod status;
pub mod team;
#[cfg(not(target_arch = "wasm32"))]
pub mod worker;

use std::cell::RefCell;

pub use engine::{JoinReport, Repair, SyncReport};
pub use helpers::{Helpers, NoHelpers};
#[cfg(not(target_arch = "wasm32"))]
pub use http::HttpTransport;
pub use relay::{Relay, Wire};
pub use status::Status;

pub use groundwork_protocol::TeamDevice;

use crate::store::Store;

/// What [`SyncError::RelayFailed`] says: a relay with no room for this device's changes (507)
/// is not a failure that passes by itself.
fn relay_failed(status: u16, message: &str) -> String {
    if status == 507 {
        format!(
            "the relay has no room for this device's changes (HTTP 507): {message}; nothing \
             is lost: they are kept on this device, and the team's work still comes in"
        )
    } else {
        format!(
            "the relay had a problem (HTTP {status}): {message}; try again later, nothing is lost"
        )
    }
}

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
    /// No answer from the relay to a lead's action (an invite, a revocation, an erasure…),
    /// which is not kept to go later: it needs the relay's answer at once.
    #[error(
        "not done: cannot reach the relay at {relay} ({reason}). {action} needs the relay: try again when this device is online"
    )]
    ActionUnreachable {
        /// The relay's address.
        relay: String,
        /// What failed.
        reason: String,
        /// The action, as a sentence starts ("Deleting a campaign").
        action: &'static str,
    },
    /// No answer from the relay to a join.
    #[error(
        "cannot reach the relay at {relay} ({reason}): check its address and this device's connection, then join again with the same invite"
    )]
    JoinUnreachable {
        /// The relay's address.
        relay: String,
        /// What failed.
        reason: String,
    },
    /// A sync's request got no answer in time, and a smaller one may fit: the engine asks
    /// again with less (its own callers never see it; a caller of [`Relay::sync`] does).
    #[error(
        "the relay at {relay} did not answer in time over this connection; sync again: the app asks for less at a time on a slow connection, and nothing is lost"
    )]
    TooSlow {
        /// The relay's address.
        relay: String,
    },
    /// The invite was refused; the relay's words, which say what to do when they are its own.
    #[error("the relay refused the invite: {}", with_advice(.0))]
    InviteRefused(String),
    /// The device was revoked.
    #[error(
        "the relay refused this device: it was revoked; ask your team lead for a new invite and join again"
    )]
    Revoked,
    /// A lead's action asked by a canvasser; the relay's message says who can do it.
    #[error("{0}")]
    LeadOnly(String),
    /// A lead's action asked on a device the relay names a lead but that no lead of the team
    /// signed as one: the other devices would not follow it (see `crypto::trust`).
    #[error("{0}")]
    UnsignedLead(String),
    /// Changes to documents erased from the team were refused (the engine erases them here and
    /// syncs again; this reaches the user only if that keeps failing).
    #[error(
        "the relay refused changes to people erased from the team ({}); sync again to erase them from this device too",
        .0.join(", ")
    )]
    Erased(Vec<String>),
    /// This notebook joined its team again while a sync was under way (from another window
    /// or process): the sync stopped before pushing anything as the new identity with the
    /// old link.
    #[error(
        "this notebook joined its team again while it was syncing: sync again; nothing is lost"
    )]
    JoinedAgain,
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
    /// The relay failed, or has no room for this device's changes (507).
    #[error("{}", relay_failed(*.status, .message))]
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

impl SyncError {
    /// Whether the relay could not be reached, or did not answer in time: the device is
    /// offline as far as the person holding it is concerned ("Offline", not "Sync failed").
    pub fn is_offline(&self) -> bool {
        matches!(
            self,
            SyncError::Unreachable { .. }
                | SyncError::JoinUnreachable { .. }
                | SyncError::ActionUnreachable { .. }
                | SyncError::TooSlow { .. }
        )
    }
}

/// How the engine reaches the store: a borrow for the length of one closure, never across a
/// wait on the network. A `RefCell` holding the store (or a `&mut` to it) is one.
pub trait Notebook {
    /// Run `f` on the store.
    fn with<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R;
}

impl Notebook for RefCell<Store> {
    fn with<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        f(&mut self.borrow_mut())
    }
}

impl Notebook for RefCell<&mut Store> {
    fn with<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        f(&mut self.borrow_mut())
    }
}

impl<N: Notebook> Notebook for std::rc::Rc<N> {
    fn with<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        (**self).with(f)
    }
}

/// Run a future whose waits are all blocking calls (the reqwest wire's), on this thread: it
/// finishes without ever waiting on an outside wake-up.
#[cfg(not(target_arch = "wasm32"))]
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut context) {
            return out;
        }
        std::thread::yield_now();
    }
}

/// Enrol this device with `invite` at `relay` under `name`, and remember the link (blocking;
/// see [`engine::join`]).
#[cfg(not(target_arch = "wasm32"))]
pub fn join(
    store: &mut Store,
    transport: &HttpTransport,
    relay: &str,
    invite: &str,
    name: &str,
) -> Result<JoinReport, SyncError> {
    block_on(engine::join(
        &RefCell::new(store),
        transport,
        relay,
        invite,
        name,
    ))
}

/// Push everything waiting and pull everything new (blocking; see [`engine::sync_once`]).
#[cfg(not(target_arch = "wasm32"))]
pub fn sync_once(
    store: &mut Store,
    transport: &HttpTransport,
    budget: plan::Budget,
) -> Result<SyncReport, SyncError> {
    block_on(engine::sync_once(&RefCell::new(store), transport, budget))
}

/// Ask the relay for documents' changes again, then sync (blocking; see [`engine::repair`]).
#[cfg(not(target_arch = "wasm32"))]
pub fn repair(
    store: &mut Store,
    transport: &HttpTransport,
    what: Repair,
    budget: plan::Budget,
) -> Result<SyncReport, SyncError> {
    block_on(engine::repair(
        &RefCell::new(store),
        transport,
        what,
        budget,
    ))
}

/// The devices of this device's team with their last sync (blocking; a lead; see
/// [`team::devices`]).
#[cfg(not(target_arch = "wasm32"))]
pub fn team_devices(
    store: &Store,
    transport: &HttpTransport,
) -> Result<Vec<TeamDevice>, SyncError> {
    let link = store.sync_state()?.link.ok_or(SyncError::NotJoined)?;
    if store.role()?.as_deref() == Some(groundwork_protocol::Role::Canvasser.as_str()) {
        return Err(team::lead_only("see the team's devices"));
    }
    block_on(transport.devices(&link.relay_url, &link.token))
}

/// [`team_devices`] as a lead's app lists them after its syncs: and, as the listing does,
/// finishing what a revocation left waiting (the key's rotation, the revoked lead's erasures to
/// sign again: see [`team::devices`]).
#[cfg(not(target_arch = "wasm32"))]
pub fn list_team(
    store: &mut Store,
    transport: &HttpTransport,
) -> Result<Vec<TeamDevice>, SyncError> {
    block_on(team::devices(&RefCell::new(store), transport))
}

/// A relay's refusal of an invite, with what to do when its words do not say it already.
fn with_advice(words: &str) -> String {
    if words.contains("team lead") {
        words.to_string()
    } else {
        format!("{words}; ask your team lead for a new invite")
    }
}
