//! End-to-end encryption: what a device pushes is sealed so that the relay stores and serves
//! bytes it can neither read nor alter undetected.
//!
//! - [`keys`]: the team's key (one per epoch), this device's signing key, the member record
//!   that ties a device's Automerge actor to its signing key, and the keys an invite carries.
//! - [`doc_keys`]: each document's own key, from a tree that erasure cuts, so that an erasure
//!   reaches copies of the relay's database taken before it.
//! - [`epoch`]: rotating the team key when a device is revoked.
//! - [`pushlog`]: push records, each push's signed list of what it carried, so that a relay
//!   withholding blobs is found out.
//! - [`seal`]: the sealed-blob format: AES-256-SIV (RFC 5297) over the padded change, bound to
//!   team, document and epoch, then an Ed25519 signature by the writing device.
//! - [`trust`]: the team's root of trust: invite certificates, admissions, lead records and
//!   erase orders signed by a lead.
//! - [`local_copy`], [`screen_lock`]: the phone page's own sealed copies (of drafts, and of
//!   an encrypted notebook's passphrase under the phone's screen lock).
//! - [`text`]: base64url and base32 for keys that travel as text (invites, join links).
//!
//! ARCHITECTURE.md ("End-to-end encryption") says why these primitives and what the relay
//! still sees.

pub mod doc_keys;
pub mod epoch;
pub mod keys;
pub mod local_copy;
pub mod pushlog;
pub mod screen_lock;
pub mod seal;
pub mod text;
pub mod trust;

#[cfg(test)]
mod doc_key_tests;
#[cfg(test)]
mod tests;

/// Why sealing or opening failed. Opening errors are reasons a pulled change is quarantined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The bytes do not start like a sealed blob.
    #[error(
        "it is not sealed with the team's key (sent in the clear, or damaged); ask the team lead which device sent it"
    )]
    NotSealed,
    /// The header is cut short or malformed.
    #[error("its sealed header is damaged")]
    Header,
    /// Sealed under an epoch of the team key this device does not hold.
    #[error(
        "it is sealed with the team's key number {0}, which this device does not hold: join again with an invite from a team lead"
    )]
    UnknownEpoch(u64),
    /// The AEAD check failed.
    #[error(
        "it failed authentication: altered on the way, or sealed for another team, document or key"
    )]
    Authentication,
    /// The writer's signature is wrong.
    #[error("its signature does not match the device that wrote it")]
    Signature,
    /// The padding inside is malformed (after authentication: a buggy writer).
    #[error("its padding is damaged")]
    Padding,
    /// The compressed content is malformed or too large.
    #[error("its content does not decompress: {0}")]
    Decompress(String),
    /// No randomness available.
    #[error("this device could not get random bytes for a key ({0}); try again")]
    Random(String),
    /// A document of a team whose documents each have their own key, sealed without it.
    #[error(
        "it is sealed without its document's own key, which every device of this team uses: the device that sent it runs an older Groundwork; update it"
    )]
    WithoutDocKey,
    /// Sealed with a document key where none belongs (a record, or a team without them).
    #[error(
        "it is sealed with a document's own key, which this team does not use: join again with an invite from a team lead"
    )]
    UnexpectedDocKey,
    /// The document was erased here: its key is gone.
    #[error("its document has been erased on this device, and its key with it")]
    DocKeyErased,
    /// A key of the wrong length or form.
    #[error("a key is malformed: {0}")]
    Key(String),
    /// The invite's secret half does not open what the relay handed over.
    #[error(
        "the invite's secret does not open the team's keys: copy the whole join link (or the whole code, both parts around the dot) and try again"
    )]
    Invite,
}

/// Whether `doc_id` files a record (a device's member record, an epoch record, a push record
/// or a lead record) rather than a document of the notebook: bookkeeping, left out of the changes a user
/// is shown.
pub fn is_key_record(doc_id: &str) -> bool {
    doc_id.starts_with(keys::MEMBER_DOC_PREFIX)
        || doc_id.starts_with(epoch::EPOCH_DOC_PREFIX)
        || doc_id.starts_with(pushlog::PUSH_DOC_PREFIX)
        || doc_id.starts_with(trust::LEAD_DOC_PREFIX)
}

/// `N` random bytes from the operating system (or the browser's `crypto.getRandomValues`).
pub fn random<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| CryptoError::Random(e.to_string()))?;
    Ok(out)
}
