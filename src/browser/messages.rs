//! What the page and the store worker post to each other, as JSON strings: the core's
//! `Request` / `Reply` / `Change` (`groundwork::service`), drafts, and sync's commands and
//! status. Adding a request to the app needs nothing here.

use groundwork::service::{Change, Reply, Request, SecretText};
use serde::{Deserialize, Serialize};

use crate::ui::sync::{SyncCommand, SyncStatus};

/// The page to the store worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ToStore {
    /// A request; its reply comes back with the same id.
    Call {
        /// Chosen by the page, unique while it waits.
        id: u64,
        /// The request.
        request: Request,
    },
    /// A draft's latest text, written once typing pauses.
    SaveDraft {
        /// The draft's key.
        key: String,
        /// Its text.
        body: String,
        /// The page's count of drafts sent, this one included: [`FromStore::DraftsKept`]
        /// answers with it.
        seq: u64,
    },
    /// A sync command (join, sync now, repair).
    Sync(SyncCommand),
    /// The browser says the network is back.
    Online,
    /// The page is being hidden or closed: write every draft now.
    Flush,
    /// The passphrase typed on the lock screen, for a notebook encrypted at rest (sent only
    /// while the worker says [`FromStore::Locked`]).
    Unlock(SecretText),
}

/// The store worker to the page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum FromStore {
    /// The notebook is open (or why it cannot be).
    Ready(Result<(), Refusal>),
    /// The notebook is encrypted at rest: the worker waits for its passphrase
    /// ([`ToStore::Unlock`]). `wrong`: the last one sent did not open it.
    Locked {
        /// The passphrase last sent was wrong.
        wrong: bool,
    },
    /// The reply to a [`ToStore::Call`].
    Reply {
        /// The call's id.
        id: u64,
        /// The reply, or the error in words.
        result: Result<Reply, String>,
    },
    /// The notebook changed (here or pulled by sync).
    Change(Change),
    /// Sync's status changed (boxed: it is the largest message by far, and the rarest).
    Sync(Box<SyncStatus>),
    /// No draft sent up to this [`ToStore::SaveDraft::seq`] waits in the worker's memory: each
    /// is in the notebook, or was taken by a request that ends it (whose answer the page
    /// waits for before it drops that one). The page's own copy of the rest can go.
    DraftsKept(u64),
    /// The notebook is encrypted at rest: the key (base64url) sealing the page's own copy of
    /// drafts (`groundwork::crypto::local_copy`), sent before the notebook is ready and when it
    /// has just been encrypted or its passphrase changed (a new key then). An empty text: the
    /// notebook is encrypted and gave no key (the page then keeps no copy).
    CopyKey(String),
    /// The notebook has just been decrypted: the page's copy of drafts is kept in the clear
    /// from now on, as a plain notebook's is (a copy it sealed is written again in the clear).
    Decrypted,
    /// Documents were erased from the notebook (every erased id, sent after an erasure): the
    /// page drops its copy of drafts typed about them.
    Erased(Vec<String>),
}

/// Why the notebook cannot open in this tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// Another tab (or window) of the app has the notebook open.
    OpenElsewhere,
    /// This browser has no origin-private file system (or refuses it here, e.g. a private
    /// window): it cannot keep a notebook.
    NoStorage(String),
    /// The notebook's file could not be opened.
    Failed(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::OpenElsewhere => f.write_str(
                "Groundwork is already open in another tab or window of this browser. \
                 Use that one, or close it and reload this page. (One notebook can be open \
                 in one place at a time, so that nothing is written twice.)",
            ),
            Refusal::NoStorage(why) => write!(
                f,
                "This browser cannot keep a notebook ({why}). Nothing would be saved, so \
                 Groundwork will not start here. Open it in Chrome, Edge, Firefox or Safari \
                 (not a private window)."
            ),
            Refusal::Failed(why) => write!(
                f,
                "The notebook could not be opened: {why}. Reload the page; if that does not \
                 help, ask your team lead."
            ),
        }
    }
}
