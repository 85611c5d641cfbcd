//! The one error type of the Groundwork core.
//!
//! Every variant's message says what went wrong *and* what the user can do about it, because
//! these messages reach a canvasser on a phone or an organiser at a terminal unchanged.

use std::path::PathBuf;

/// Result alias used throughout the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input from a user or another device that does not make sense.
    #[error(transparent)]
    Invalid(#[from] crate::model::ValidationError),

    /// An id that names nothing in this store.
    #[error("no {kind} with id {id}: check the id ({})", where_listed(kind))]
    NotFound {
        /// What was looked for ("person", "commitment", …).
        kind: &'static str,
        /// The id as given.
        id: String,
    },

    /// An id that names records in several files: a device of the team copied a record into
    /// another file under the same id. Which one is meant has to be said.
    #[error(
        "{kind} {id} is in {count} {places} ({owners}): a device of the team copied it under the \
         same id; say which with --{owner_flag} ID (the app uses the one on screen)",
        count = owners.len(),
        places = if *owner_flag == "list" { "walk lists" } else { "people's files" },
        owners = owners.join(", ")
    )]
    Ambiguous {
        /// What was looked for ("conversation", "commitment", "door").
        kind: &'static str,
        /// The id as given.
        id: String,
        /// The files holding it (people's or walk lists' ids).
        owners: Vec<String>,
        /// The command-line flag that names the file ("person", "list").
        owner_flag: &'static str,
    },

    /// A street list that cannot be imported (nothing of it was).
    #[error(transparent)]
    Import(#[from] crate::walk::import::ImportError),

    /// A person (or other document) erased from this notebook and the team.
    #[error(
        "{id} was erased: nothing of it is kept here, and it cannot be changed or brought back"
    )]
    Erased {
        /// The erased document's id.
        id: String,
    },

    /// Sealing or opening with the team's keys failed, or an invite's keys did not open.
    #[error("end-to-end encryption: {0}")]
    Crypto(#[from] crate::crypto::CryptoError),

    /// The data directory holds files that Groundwork did not write.
    #[error(
        "{} is not a Groundwork data directory (it holds other files); choose an empty or new directory, or the one Groundwork created",
        path.display()
    )]
    NotOurDataDir {
        /// The directory in question.
        path: PathBuf,
    },

    /// The data directory cannot be created, opened or written.
    #[error(
        "cannot use the data directory {}: {source}; check that it exists, is a directory and is writable",
        path.display()
    )]
    DataDir {
        /// The directory in question.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// The notebook is open elsewhere, and what was asked needs it alone.
    #[error(
        "the notebook in {} is open in the app or another command: close them and try again (nothing was changed)",
        path.display()
    )]
    NotebookBusy {
        /// The data directory.
        path: PathBuf,
    },

    /// The notebook is encrypted at rest and no passphrase was found for it.
    #[error(
        "the notebook in {} is encrypted: give its passphrase in the GROUNDWORK_PASSPHRASE environment variable (or unlock the key store holding its key)",
        path.display()
    )]
    Locked {
        /// The data directory.
        path: PathBuf,
    },

    /// The passphrase given does not open the encrypted notebook.
    #[error(
        "the passphrase does not open the notebook in {}: check GROUNDWORK_PASSPHRASE (nothing was changed)",
        path.display()
    )]
    WrongPassphrase {
        /// The data directory.
        path: PathBuf,
    },

    /// `notebook encrypt` with no passphrase to encrypt with.
    #[error(
        "give the passphrase to encrypt the notebook with in the GROUNDWORK_PASSPHRASE environment variable (at least 10 characters), or use --key-store; nothing was changed"
    )]
    NoPassphrase,

    /// `notebook encrypt` on a notebook encrypted already.
    #[error("the notebook in {} is encrypted already; nothing was changed", path.display())]
    AlreadyEncrypted {
        /// The data directory.
        path: PathBuf,
    },

    /// Changing the passphrase of a notebook that is not encrypted, or decrypting it.
    #[error(
        "the notebook in {} is not encrypted, so it has no passphrase: to give it one, encrypt it (README, \"Encryption at rest\"); nothing was changed",
        path.display()
    )]
    NotEncrypted {
        /// The data directory.
        path: PathBuf,
    },

    /// The passphrase given as the current one, to change it, is not the notebook's.
    #[error(
        "that is not this notebook's current passphrase: type the one it opens with; nothing was changed"
    )]
    WrongCurrentPassphrase,

    /// The new passphrase is the one the notebook has.
    #[error(
        "the new passphrase is the notebook's current one: choose another; nothing was changed"
    )]
    SamePassphrase,

    /// A passphrase change failed and the notebook could not be opened again afterwards: the
    /// store holds no notebook, and answers every request with this until it is opened anew
    /// (the phone's page reloaded).
    #[error(
        "the notebook could not be opened again after its passphrase change failed ({why}): nothing more can be saved until it is; reload the page (or start the app again) and type the passphrase it opened with (if that is refused, the new one)"
    )]
    NotebookClosed {
        /// What failed: the change, then the opening.
        why: String,
    },

    /// `notebook change-passphrase` with no new passphrase given.
    #[error(
        "give the new passphrase in the GROUNDWORK_NEW_PASSPHRASE environment variable (at least 10 characters; the current one in GROUNDWORK_PASSPHRASE or the key store); nothing was changed"
    )]
    NoNewPassphrase,

    /// Changing the passphrase from inside the desktop app, whose notebook other connections
    /// have open.
    #[error(
        "close the app and run groundwork notebook change-passphrase to change this notebook's passphrase (README, \"Encryption at rest\"); nothing was changed"
    )]
    ChangePassphraseWithAppClosed,

    /// Encrypting from inside the desktop app, whose notebook other connections have open.
    #[error(
        "close the app and run groundwork notebook encrypt to encrypt this notebook (README, \"Encryption at rest\"); nothing was changed"
    )]
    EncryptWithAppClosed,

    /// The desktop app was asked to decrypt the notebook it has open (done with the app closed).
    #[error(
        "close the app and run groundwork notebook decrypt to decrypt this notebook (README, \"Encryption at rest\"); nothing was changed"
    )]
    DecryptWithAppClosed,

    /// The notebook's key could not be worked out from its passphrase (for the phone's
    /// screen lock): its salt or key derivation did not read.
    #[error(
        "the notebook's key could not be worked out ({0}); the passphrase still opens it: type it at each start"
    )]
    NoRawKey(&'static str),

    /// A passphrase too short to protect a notebook.
    #[error(
        "a notebook's passphrase needs at least {min} characters (several unrelated words are easy to remember); nothing was changed"
    )]
    WeakPassphrase {
        /// The fewest characters accepted.
        min: usize,
    },

    /// The desktop's key store could not keep or give a notebook's key.
    #[error(
        "the key store could not keep the notebook's key ({0}); use a passphrase in GROUNDWORK_PASSPHRASE instead (nothing was changed)"
    )]
    KeyStore(String),

    /// The database was written by a newer Groundwork than this one.
    #[error(
        "this data directory was written by a newer Groundwork (schema {found}, this version knows up to {known}); update the app"
    )]
    SchemaTooNew {
        /// The schema version found on disk.
        found: i64,
        /// The newest schema this build knows.
        known: i64,
    },

    /// Change bytes from elsewhere that are not a valid Automerge change.
    #[error("rejected corrupt change for document {doc_id}: {reason}; nothing was changed")]
    CorruptChange {
        /// The document the bytes were meant for.
        doc_id: String,
        /// Why they were rejected.
        reason: String,
    },

    /// An erasure order from the relay that this notebook cannot keep.
    #[error(
        "the relay sent an erasure order this app cannot keep ({0}); tell whoever runs your team's relay"
    )]
    BadOrder(String),

    /// A stored document does not have the shape this version expects.
    #[error("document {doc_id} is damaged or from an unknown version: {reason}")]
    BadDocument {
        /// The document in question.
        doc_id: String,
        /// What is wrong with it.
        reason: String,
    },

    /// SQLite refused or failed.
    #[error("{}", sqlite_message(.0))]
    Sqlite(#[from] rusqlite::Error),

    /// Automerge refused or failed.
    #[error("a document operation failed: {0}")]
    Automerge(#[from] automerge::AutomergeError),

    /// Writing JSON failed.
    #[error("could not write JSON: {0}")]
    Json(#[from] serde_json::Error),

    /// Writing CSV failed.
    #[error("could not write CSV: {0}")]
    Csv(#[from] csv::Error),

    /// Writing output failed.
    #[error("could not write output: {0}")]
    Io(#[from] std::io::Error),
    /// A file named on the command line could not be read.
    #[error("cannot read {}: {source}; check the file's name and that it can be read", path.display())]
    ReadFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The command that lists records of `kind`, to find an id.
fn where_listed(kind: &str) -> String {
    match kind {
        "door" => "`groundwork walklist show LIST_ID` lists a walk list's doors".to_string(),
        "conversation" => {
            "`groundwork person show PERSON_ID` lists a person's conversations".to_string()
        }
        _ => format!("`groundwork {kind} list` shows them"),
    }
}

/// What a failure of the local database means for the person holding the device. A full disk
/// (or a browser's storage quota) gets its own words: the write that hit it was rolled back
/// whole, and everything saved before it is still there.
fn sqlite_message(e: &rusqlite::Error) -> String {
    let full = matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull
    );
    if full {
        "this device's storage is full, so this was not saved (everything saved before is \
         still here): free some space (or, in a browser, let the site keep more data), then \
         save again"
            .to_string()
    } else {
        format!(
            "the local database failed: {e}; if this persists, copy the data directory \
             somewhere safe and report it"
        )
    }
}
