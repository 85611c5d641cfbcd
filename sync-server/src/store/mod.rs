//! Storage behind a narrow trait, so that a PostgreSQL backend can follow the SQLite one.
//!
//! Every method is one transaction and blocking: the HTTP layer calls it from
//! `tokio::task::spawn_blocking`. Secrets arrive already hashed ([`SecretHash`]); blobs arrive
//! already verified against their ids. Times are Unix seconds.
//!
//! Roles and erasure: each device is a [`Role::Lead`] or a [`Role::Canvasser`] (the role of the
//! invite it enrolled with). The lead's actions ([`Store::lead_invite`],
//! [`Store::revoke_team_device`], [`Store::promote_team_device`], [`Store::erase`]) check in
//! their own transaction that the caller is an active lead, and touch only the caller's team.
//! An invite remembers the lead that made it (none: the operator's); revoking a device cancels
//! the invites it made, so a removed or lost lead's invites bring nobody back.
//! Erasing a document deletes its blobs and keeps a tombstone, an erasure order numbered by the
//! team's `erasure_seq`; from then on [`Store::sync`] refuses any push holding a change of it and
//! [`Store::doc_changes`] refuses to serve it ([`StoreError::Erased`]). Each device records the
//! last order it carried out ([`Store::confirm_erasures`]), so the orders can say how many of the
//! team's active devices have erased the document.
//!
//! End-to-end encryption: a team is *sealed* once a lead's invite carries the team's keys sealed
//! by the lead's device ([`NewInvite::sealed_keys`], opaque to the relay), or once the first
//! sealing device enrols with a lead's invite into a team that never stored a change
//! ([`Store::enrol`]): the team's root of trust is a lead's device, never a canvasser's. The relay
//! hands an invite's sealed keys to each device that enrols with it, and forgets them (sets them
//! to NULL, or deletes the invite) when the invite is used up, expires or its maker is revoked.
//!
//! Compaction ([`Store::compact`], `groundwork_protocol::compact`): a lead names snapshots it
//! pushed and the blobs of the same document each stands for. The store moves each snapshot to
//! the log position `f` of the earliest blob it covers (deleting that blob), and records which
//! devices still need each other covered blob: those whose next sync may start at or past `f`
//! and before the blob. A sync serves a covered blob only to them; a device drops its needs up
//! to the `since` it sends, and a covered blob nobody needs is deleted. To know where a device
//! starts, every sync records the `since` it read from and the cursor it answered: the
//! device's next sync starts at one of the two.

pub mod files;
pub mod postgres;
mod shared;
pub mod sqlite;

use groundwork_protocol::{CompactItem, CompactResponse, Erasure, ErasureList, Role};

use crate::secrets::SecretHash;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No team has this id.
    #[error("no team has the id {0}")]
    UnknownTeam(String),
    /// No device has this id.
    #[error("no device has the id {0}")]
    UnknownDevice(String),
    /// The device has been revoked by an operator.
    #[error("device {0} has been revoked")]
    DeviceRevoked(String),
    /// No invite matches the presented code.
    #[error("invite code not recognised")]
    UnknownInvite,
    /// The invite's expiry time has passed.
    #[error("invite code has expired")]
    InviteExpired,
    /// The invite has been used as many times as allowed.
    #[error("invite code has already been used")]
    InviteUsedUp,
    /// The team is sealed (end-to-end encrypted) and the invite carries no keys; it was not
    /// used up.
    #[error("the team is sealed and the invite carries no keys")]
    NeedsKey,
    /// The invite carries the team's keys and the enrolling device holds no secret to open
    /// them with (only the first part of the code was given); the invite was not used up.
    #[error("the invite carries keys and the device holds no secret to open them")]
    MissingSecret,
    /// The team is sealed and the enrolling device does not seal (an app from before
    /// end-to-end encryption); the invite was not used up.
    #[error("the team is sealed and the device does not seal")]
    NeedsSealing,
    /// A device enrols with a canvasser's invite into a team that never stored a change, is not
    /// sealed and has no active lead: one that seals would make the team's key and become the
    /// team's root of trust (the lead who joins later could not join), and one that does not
    /// would store the team's first change in the clear, after which no lead could seal the
    /// team. The invite was not used up.
    #[error("the team has no lead yet: a canvasser joins after its first lead")]
    NoLeadYet,
    /// A device of the team, active or revoked, already declared this actor id (a revoked
    /// device's actor is never given to another device: the team refuses what it writes after
    /// its revocation).
    #[error("another device of this team writes or wrote as actor {0}")]
    ActorTaken(String),
    /// The device declared a different actor id before.
    #[error("device {0} declared another actor id before")]
    ActorChanged(String),
    /// An enrolment asked again with a token that a device already holds, and the enrolment
    /// cannot be answered again: another invite's, a revoked device's, or a device that has
    /// used its token.
    #[error("this device token is already in use")]
    TokenTaken,
    /// Storing the push would take the team over its byte quota; nothing was stored.
    #[error("the team's storage is full ({limit} bytes)")]
    TeamFull {
        /// The team's quota in bytes.
        limit: u64,
    },
    /// Storing the push would take the pushing device over its share of its team's quota
    /// ([`device_share`]); nothing was stored.
    #[error("this device's share of the team's storage is full ({share} bytes)")]
    DeviceFull {
        /// The device's share in bytes.
        share: u64,
    },
    /// The team's unused invites would hold more sealed keys together than the relay allows
    /// ([`invite_keys_limit`]); the invite was not made.
    #[error("the team's unused invites hold too many keys ({limit} bytes at most)")]
    InviteKeysFull {
        /// The most bytes of sealed keys a team's unused invites may hold.
        limit: u64,
    },
    /// An invite named a part of its keys that its maker's device did not leave with the relay
    /// within [`groundwork_protocol::team::INVITE_KEY_PART_SECS`] (or that another invite took);
    /// the invite was not made.
    #[error("no part {part} of an invite's keys is waiting from this device")]
    UnknownKeyPart {
        /// The part's id as the request named it.
        part: String,
    },
    /// A part of an invite's keys sent again under an id this lead's part holds already, with
    /// other keys: not the same part (a device that used a part's request id twice). Nothing
    /// was kept.
    #[error("a part of this device's keys has this id already, with other keys")]
    KeyPartTaken,
    /// The team already has [`groundwork_protocol::team::MAX_WAITING_KEY_PARTS`] parts of
    /// invites' keys waiting for their invites; the part was not kept.
    #[error("the team has {limit} parts of invites' keys waiting already")]
    TooManyKeyParts {
        /// The most parts a team may have waiting.
        limit: usize,
    },
    /// No invite of the lead's team has this id ([`groundwork_protocol::invite_id`]): another
    /// team's, or one forgotten long after it ended.
    #[error(
        "no invite of this team has the id {0}: list the team's open invites to see their ids \
         (sync-server invite list --team ID; a lead: groundwork team invites)"
    )]
    NoSuchInvite(String),
    /// A lead's request makes an invite code the relay holds already for another team or lead,
    /// or for another role (the same request id asked again for another role): it is not the
    /// same request asked again. Nothing was made.
    #[error("another invite has this code already: ask for the invite again as a new request")]
    InviteCodeTaken,
    /// A lead's request for an invite was asked again (the same code, by the same lead), and
    /// the invite it made has been used up, cancelled or has expired since. Nothing was made.
    #[error("the invite this request made has been used up, cancelled or has expired since")]
    InviteGone,
    /// The team already has as many invites on the relay as it may keep ([`team_rows_limit`]);
    /// the invite was not made.
    #[error(
        "the team has {limit} invites on the relay, the most it keeps for a team (raise \
         max_team_bytes to keep more: a sixteenth of it, at 2 KiB an invite)"
    )]
    TooManyInvites {
        /// The most invites a team may have.
        limit: u64,
    },
    /// The team already has as many erasure orders as the relay keeps for a team
    /// ([`team_rows_limit`]); nothing was erased.
    #[error(
        "the team has {limit} erasure orders on the relay, the most it keeps for a team (raise \
         max_team_bytes to keep more: a sixteenth of it, at 2 KiB an order)"
    )]
    TooManyErasures {
        /// The most erasure orders a team may have.
        limit: u64,
    },
    /// The device asked for changes after a position the team's log has not reached.
    #[error("cursor {since} is ahead of the team's log, which ends at {head}")]
    CursorAhead {
        /// The cursor the device sent.
        since: u64,
        /// The last position of the team's log.
        head: u64,
    },
    /// The caller of a lead's action is not a lead of its team.
    #[error("device {0} is not a team lead")]
    NotLead(String),
    /// The device named in a lead's action is not a device of the lead's team (or does not exist).
    #[error("no device of this team has the id {0}")]
    NotInTeam(String),
    /// A revoked device cannot become a lead.
    #[error("device {0} has been revoked; a revoked device cannot become a lead")]
    PromoteRevoked(String),
    /// Revoking this device would leave its team without an active lead.
    #[error("device {0} is the team's last active lead")]
    LastLead(String),
    /// The request names documents the team has erased; nothing was stored.
    #[error("documents erased from the team: {}", .0.join(", "))]
    Erased(Vec<String>),
    /// A device confirmed erasure orders the team has not given.
    #[error("erasure order {up_to} confirmed, but the team's last order is {head}")]
    ErasuresAhead {
        /// The order the device confirmed.
        up_to: u64,
        /// The team's last order.
        head: u64,
    },
    /// The database failed (disk full, corrupt file, lock timeout, lost connection, …). Its
    /// message is part of this one (it is not repeated as a source).
    #[error("storage failed: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

/// An enrolled device, as authentication finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuth {
    /// The device's public id.
    pub device_id: String,
    /// The team it belongs to.
    pub team_id: String,
    /// Whether it was revoked.
    pub revoked: bool,
    /// What it may do in its team.
    pub role: Role,
    /// The number of the team's last erasure order when it was authenticated.
    pub erasure_head: u64,
    /// This is the first use of the token the device chose at enrolment: until the store hears
    /// of it ([`Store::token_used`]), the enrolment may be asked for again.
    pub first_use: bool,
}

/// A device as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceInfo {
    /// The device's public id.
    pub device_id: String,
    /// The name given at enrolment.
    pub name: String,
    /// When it enrolled.
    pub enrolled_at: i64,
    /// When it last completed a sync, if ever.
    pub last_sync_at: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// The actor id it declared, if it has.
    pub actor: Option<Vec<u8>>,
    /// What it may do in its team.
    pub role: Role,
    /// The bytes its blobs take of its team's storage count (as `max_team_bytes` counts them).
    pub stored_bytes: u64,
}

/// One of a team's open invites, as a lead lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteInfo {
    /// The first 8 bytes of the code's hash ([`groundwork_protocol::invite_id`]).
    pub id: [u8; 8],
    /// The role it gives.
    pub role: Role,
    /// Devices that may still join with it.
    pub uses_left: i64,
    /// When it was made.
    pub created_at: i64,
    /// When it stops working.
    pub expires_at: i64,
    /// The device id of its maker (none: the operator's).
    pub made_by: Option<String>,
    /// It holds sealed keys.
    pub carries_keys: bool,
}

/// What a lead's request for an invite did ([`Store::lead_invite`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InviteMade {
    /// A new invite was stored.
    New,
    /// The request was asked again: its invite, as it is now. Nothing was written.
    Again {
        /// The role it gives.
        role: Role,
        /// Devices that may still join with it.
        uses_left: u32,
        /// When it stops working.
        expires_at: i64,
    },
}

/// Whose invites a listing or a cancel acts on.
#[derive(Debug, Clone, Copy)]
pub enum InvitesOf<'a> {
    /// The team of this device, which must be an active lead (over HTTP).
    Lead(&'a DeviceAuth),
    /// The team with this id (the operator, on the relay's machine).
    Team(&'a str),
}

/// What cancelling an invite did ([`Store::cancel_invite`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InviteCancel {
    /// It was open (`false`: used up, expired or cancelled before; nothing changed).
    pub was_open: bool,
    /// Devices that enrolled with it and may still ask for their answer again.
    pub joining: u32,
}

/// The id of an invite ([`InviteInfo::id`]) from its stored hash, or the first bytes of it.
pub fn invite_id_of_stored(hash: &[u8]) -> [u8; 8] {
    let mut id = [0u8; 8];
    for (to, from) in id.iter_mut().zip(hash) {
        *to = *from;
    }
    id
}

/// A new invite to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvite {
    /// Hash of the invite code.
    pub code_hash: SecretHash,
    /// How many devices may enrol with it.
    pub uses: u32,
    /// When it stops working.
    pub expires_at: i64,
    /// The role of the devices that enrol with it.
    pub role: Role,
    /// The team's keys as the inviting lead's device sealed them for this invite (checked
    /// base64url text, opaque to the relay); an invite that carries them seals the team.
    /// `None` for the operator's invites.
    pub sealed_keys: Option<String>,
    /// Parts of the keys the lead's device left with the relay before
    /// ([`Store::keep_invite_keys`]), in order, to come before `sealed_keys`: the stored invite
    /// carries them joined, and the parts are forgotten. Empty for keys sent whole.
    pub key_parts: Vec<String>,
}

/// A device that has just enrolled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    /// The enrolment was asked again and answered from what was stored: nothing was written.
    pub again: bool,
    /// The device's id: the new device's, or the one enrolled before with the same token.
    pub device_id: String,
    /// The team it joined.
    pub team_id: String,
    /// Its role: the invite's.
    pub role: Role,
    /// Whether the team is sealed (end-to-end encrypted): the device must seal what it pushes.
    pub sealed: bool,
    /// The invite's sealed keys; `None` in a sealed team means this device makes the key.
    pub sealed_keys: Option<String>,
}

/// A device enrolling with an invite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDevice {
    /// Hash of the presented invite code.
    pub invite_hash: SecretHash,
    /// The new device's public id.
    pub device_id: String,
    /// The name its user chose.
    pub name: String,
    /// Hash of the token it will be given.
    pub token_hash: SecretHash,
    /// The Automerge actor id it declared, if it did.
    pub actor: Option<Vec<u8>>,
    /// The device seals what it pushes, and makes the team's key if it is the first device of
    /// a team that never stored a change and enrols with a lead's invite.
    pub sealing: bool,
    /// The device chose its token (`token_hash`) and kept it before asking: until it uses the
    /// token, the same invite and token answer this enrolment again.
    pub chosen_token: bool,
    /// The device said it holds no invite secret (half of a lead's invite code): an invite
    /// carrying keys refuses it with [`StoreError::MissingSecret`] and keeps its use.
    pub lacks_secret: bool,
}

/// A pushed blob whose id has been checked against its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBlob<'a> {
    /// Raw SHA-256 of `blob`.
    pub id: [u8; 32],
    /// The document it belongs to.
    pub doc_id: &'a str,
    /// The opaque bytes.
    pub blob: &'a [u8],
}

/// One stored blob on its way to a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    /// Its position in the team's log.
    pub seq: u64,
    /// Raw SHA-256 of `blob`, as stored with it.
    pub id: [u8; 32],
    /// The document it belongs to.
    pub doc_id: String,
    /// The opaque bytes.
    pub blob: Vec<u8>,
    /// The actor id declared by the device that pushed it (empty if it never declared one).
    pub pusher_actor: Vec<u8>,
    /// The name of the device that pushed it.
    pub pusher_name: String,
    /// A lead's snapshot, placed (see [`Store::compact`]).
    pub snapshot: bool,
}

/// What one sync transaction did and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncPage {
    /// How many pushed blobs were new (the others were already stored).
    pub inserted: usize,
    /// Blobs of other devices after `since`, in log order, within the byte budget.
    pub changes: Vec<StoredBlob>,
    /// The next cursor.
    pub cursor: u64,
    /// Whether more blobs wait after `cursor`.
    pub more: bool,
    /// The number of the team's last erasure order, read in the same transaction.
    pub erasure_head: u64,
}

/// The most bytes of sealed keys a team's unused invites may hold together, for a relay whose
/// teams may each store `max_team_bytes` (`None`: no quota, no limit): a sixteenth of it, 64 MiB
/// with the default quota; the parts of invites' keys waiting for their invite count too. An
/// invite holds its keys until its last use, its expiry or its maker's revocation, and each can
/// be [`groundwork_protocol::team::MAX_INVITE_KEYS_LEN`] long: without a bound, a lead's device
/// (buggy, or stolen) could fill the relay's disk with invites.
pub fn invite_keys_limit(max_team_bytes: Option<u64>) -> Option<u64> {
    max_team_bytes.map(|bytes| bytes / 16)
}

/// The most invites, and the most erasure orders, the relay keeps for a team whose quota is
/// `max_team_bytes` (`None`: no quota, no limit): a sixteenth of the quota each, counted at
/// [`ROW_ALLOWANCE`] a row (32,768 of each with the default quota), at least [`MIN_TEAM_ROWS`]. Neither is a blob, so the
/// team's byte count does not see them, and an erasure order is kept for ever (a device offline
/// for months must still hear of it): without a bound, a lead's device (buggy, or stolen) could
/// fill the disk every team shares with invites made in a loop or orders for made-up ids.
pub fn team_rows_limit(max_team_bytes: Option<u64>) -> Option<u64> {
    max_team_bytes.map(|bytes| (bytes / 16 / ROW_ALLOWANCE).max(MIN_TEAM_ROWS))
}

/// The fewest invites, and erasure orders, [`team_rows_limit`] allows, however small the quota:
/// a team with a tiny quota can still invite its members.
pub const MIN_TEAM_ROWS: u64 = 64;

/// What a row of a team's invites or erasure orders is counted at by [`team_rows_limit`]: about
/// the most either takes (an order keeps its last four proofs of up to 512 bytes each).
pub const ROW_ALLOWANCE: u64 = 2048;

/// How long after its expiry an invite is kept, so that a late joiner is told it expired (or
/// was used) rather than that it is unknown; then it is forgotten when its team next makes an
/// invite (unless a device that enrolled with it may still ask for its enrolment again).
pub const DEAD_INVITE_KEPT_SECS: i64 = 30 * 24 * 60 * 60;

/// The most bytes one device of a team whose quota is `max_team_bytes` may store, by its role
/// (`None`: no bound but the team's). A canvasser's device may fill half of the quota, so that
/// one buggy or stolen phone cannot fill the team's storage and leave every other device's
/// pushes refused; a lead's device, which compacts the team (its snapshots stand for everyone's
/// changes) and may erase anyone, is bounded only by the team's quota.
pub fn device_share(max_team_bytes: Option<u64>, role: Role) -> Option<u64> {
    match role {
        Role::Lead => None,
        Role::Canvasser => max_team_bytes.map(|bytes| bytes / 2),
    }
}

/// The relay's storage.
pub trait Store: Send + Sync + 'static {
    /// Creates a team and returns its id.
    fn create_team(&self, name: &str, now: i64) -> Result<String, StoreError>;

    /// Stores an invite to `team_id` (the operator's); returns whether the team is sealed (a
    /// device can then join only with an invite carrying keys, from a lead's app).
    fn create_invite(
        &self,
        team_id: &str,
        invite: &NewInvite,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Stores an invite to the team of `lead`, which must be an active lead
    /// ([`StoreError::NotLead`], [`StoreError::DeviceRevoked`]), recording `lead` as its maker.
    /// An invite carrying sealed keys marks the team as sealed, in the same transaction.
    ///
    /// The same request asked again (an invite with its code made by `lead` for its role is
    /// there already) writes nothing and answers the invite as it is now
    /// ([`InviteMade::Again`]), its parts of keys taken by the first; the same request asked
    /// for another role is [`StoreError::InviteCodeTaken`], and one whose invite has been used
    /// up, cancelled or has expired since is [`StoreError::InviteGone`].
    fn lead_invite(
        &self,
        lead: &DeviceAuth,
        invite: &NewInvite,
        now: i64,
    ) -> Result<InviteMade, StoreError>;

    /// The open invites (uses left, not expired) of a team, oldest first: a lead's, which must
    /// be an active lead, or the operator's named one.
    fn open_invites(&self, of: InvitesOf<'_>, now: i64) -> Result<Vec<InviteInfo>, StoreError>;

    /// Cancels the invite whose id is `id` of a team (a lead's, which must be an active lead,
    /// or the operator's named one): no device enrols
    /// with it after this transaction. Its sealed keys are forgotten, unless a device that
    /// enrolled with it may still ask for its enrolment again (its answer lost): then the
    /// invite expires [`groundwork_protocol::CANCELLED_INVITE_GRACE_SECS`] on (or earlier, as
    /// it was), and its keys go then, or when the last such device first uses its token or is
    /// revoked. [`StoreError::NoSuchInvite`] when the team has no invite with that id.
    fn cancel_invite(
        &self,
        of: InvitesOf<'_>,
        id: [u8; 8],
        now: i64,
    ) -> Result<InviteCancel, StoreError>;

    /// Keeps `keys`, one part of an invite's sealed keys, under the id `part` for `lead`, which
    /// must be an active lead, until an invite of the same device names it
    /// ([`NewInvite::key_parts`]) or [`groundwork_protocol::team::INVITE_KEY_PART_SECS`] pass.
    /// The team's waiting parts count with its unused invites' keys against
    /// [`invite_keys_limit`] ([`StoreError::InviteKeysFull`]), and a team has at most
    /// [`groundwork_protocol::team::MAX_WAITING_KEY_PARTS`] of them
    /// ([`StoreError::TooManyKeyParts`]); parts past their time are forgotten first, and with
    /// `first` (a new invite's first part) every part `lead` left that no invite took. Revoking
    /// the lead forgets its parts. A part `lead` left under the id `part` already with the
    /// same keys (the same part sent again, its answer lost) is kept as it is, nothing written
    /// and nothing forgotten; with other keys it is [`StoreError::KeyPartTaken`]. Returns when
    /// the part was kept (`now`, or the first time's) and whether it was kept before.
    fn keep_invite_keys(
        &self,
        lead: &DeviceAuth,
        part: &str,
        keys: &str,
        first: bool,
        now: i64,
    ) -> Result<(i64, bool), StoreError>;

    /// Uses one use of the invite and enrols the device with the invite's role. The device
    /// starts having seen every erasure order of the team so far: it never held those documents.
    /// An invite whose maker has been revoked is [`StoreError::UnknownInvite`], like a code that
    /// never existed.
    ///
    /// Sealing, decided in the same transaction (so two devices racing into an empty team cannot
    /// both make its key), after the invite's own checks:
    /// 1. the invite carries sealed keys: the device gets them (`sealed`);
    /// 2. the team is sealed: [`StoreError::NeedsKey`], and the invite keeps its use;
    /// 3. a canvasser's invite into a team that never stored a change and has no active lead:
    ///    [`StoreError::NoLeadYet`], sealing or not, and the invite keeps its use (a
    ///    canvasser's device must not make the team's key, or the lead who joins later could
    ///    not join; and one that does not seal would store the team's first change in the
    ///    clear, after which no lead could seal the team);
    /// 4. the device is sealing and the team never stored a change:
    ///    - with a lead's invite, the team becomes sealed and the device makes its key
    ///      (`sealed`, no keys): the team's first lead is its root of trust;
    ///    - with a canvasser's invite into a team whose lead's app does not seal, rule 5;
    /// 5. otherwise the team is not sealed (one from before encryption, or a device that does
    ///    not seal).
    ///
    /// Then a declared actor that a device of the team holds or held (revoked or not) is
    /// [`StoreError::ActorTaken`], and the invite keeps its use. The invite's last use forgets
    /// its sealed keys, unless the device chose its token.
    ///
    /// Asked again (a device that chose its token, whose answer was lost): when a device
    /// already holds `token_hash`, the enrolment is answered again (the same device, team,
    /// role, sealing and keys; no use taken, nothing written) if that device enrolled with this
    /// invite, has not used its token and is not revoked, and the invite is still valid
    /// (its maker not revoked, not expired); otherwise [`StoreError::TokenTaken`] (or the
    /// invite's own refusal).
    fn enrol(&self, device: &NewDevice, now: i64) -> Result<Enrolled, StoreError>;

    /// Finds the device whose token hashes to `token_hash`.
    fn authenticate(&self, token_hash: &SecretHash) -> Result<Option<DeviceAuth>, StoreError>;

    /// The device has used the token it chose at enrolment (its first authenticated request):
    /// its enrolment cannot be asked for again, and an invite whose uses are spent forgets the
    /// sealed keys it kept for such a repeat once no device that could ask remains.
    /// Idempotent.
    fn token_used(&self, device: &DeviceAuth) -> Result<(), StoreError>;

    /// In one transaction: stores the new blobs of `push` (idempotently, by id, appending them
    /// to the team's log), records the device's sync time, and reads the blobs of other devices
    /// after `since` up to about `max_bytes` (always at least one if any wait) and the team's
    /// erasure head. A covered blob is read only if the device still needs it (see
    /// [`Store::compact`]). The device's `since` and the page's cursor are recorded, and its
    /// needs up to `since` dropped, before any placement can decide on them.
    ///
    /// A push holding a change of an erased document stores nothing: [`StoreError::Erased`]
    /// names every erased document of the push.
    ///
    /// `actor` is the actor id the device declares (empty: none). The first declaration is
    /// recorded; a different one later is [`StoreError::ActorChanged`], and one that another
    /// device of the team holds or held (revoked or not) is [`StoreError::ActorTaken`].
    fn sync(
        &self,
        device: &DeviceAuth,
        actor: &[u8],
        since: u64,
        push: &[NewBlob<'_>],
        max_bytes: u64,
        now: i64,
    ) -> Result<SyncPage, StoreError>;

    /// The erased documents among `doc_ids` in the device's team, each once, in the order given
    /// (a read: for a push written in several transactions, checked before the first).
    fn erased_among(
        &self,
        device: &DeviceAuth,
        doc_ids: &[&str],
    ) -> Result<Vec<String>, StoreError>;

    /// The blobs of document `doc_id` in the device's team after `after`, every device's
    /// (the caller's own included), in log order, up to about `max_bytes`: every stored one,
    /// snapshots and the blobs they cover alike (a device repairing a document gets whatever is
    /// left of its history). An erased document is [`StoreError::Erased`]; `after` past the
    /// team's log is [`StoreError::CursorAhead`], as for a sync.
    fn doc_changes(
        &self,
        device: &DeviceAuth,
        doc_id: &str,
        after: u64,
        max_bytes: u64,
    ) -> Result<SyncPage, StoreError>;

    /// The devices of a team, in enrolment order.
    fn list_devices(&self, team_id: &str) -> Result<Vec<DeviceInfo>, StoreError>;

    /// Revokes a device (idempotent; the operator's: any device, even a team's last lead) and,
    /// in the same transaction, deletes the invites it made that still have uses left (with the
    /// sealed keys they carried); returns how many.
    fn revoke_device(&self, device_id: &str, now: i64) -> Result<u64, StoreError>;

    /// Makes a device a lead (idempotent; the operator's). A revoked device is
    /// [`StoreError::PromoteRevoked`].
    fn promote_device(&self, device_id: &str) -> Result<(), StoreError>;

    /// A lead revokes a device of its own team (idempotent): [`StoreError::NotInTeam`] for a
    /// device of another team or none, [`StoreError::LastLead`] when the team would be left
    /// without an active lead. The invites the device made that still have uses left are
    /// deleted in the same transaction. Returns the device as it now is.
    fn revoke_team_device(
        &self,
        lead: &DeviceAuth,
        device_id: &str,
        now: i64,
    ) -> Result<DeviceInfo, StoreError>;

    /// A lead makes a device of its own team a lead (idempotent): [`StoreError::NotInTeam`] for
    /// a device of another team or none. Returns the device as it now is.
    fn promote_team_device(
        &self,
        lead: &DeviceAuth,
        device_id: &str,
    ) -> Result<DeviceInfo, StoreError>;

    /// A lead erases document `doc_id` from its team, in one transaction: deletes its blobs
    /// (and their bytes from the team's storage count), keeps a tombstone numbered by the team's
    /// next erasure order, and counts the lead as having carried out the order when it had
    /// carried out every order before it. Idempotent: a document already erased answers its
    /// existing order. A document the relay never held may be erased too (it may exist only on
    /// a device that has not synced). A backend that keeps old page images (SQLite's WAL)
    /// clears them after the transaction, without making other teams' writes wait on it.
    fn erase(
        &self,
        lead: &DeviceAuth,
        doc_id: &str,
        proof: Option<&str>,
        now: i64,
    ) -> Result<Erasure, StoreError>;

    /// The team's erasure orders after `after`, oldest first, at most `limit`, with how many of
    /// the team's active devices have carried out each.
    fn erasures(
        &self,
        device: &DeviceAuth,
        after: u64,
        limit: usize,
    ) -> Result<ErasureList, StoreError>;

    /// The device has carried out every erasure order up to `up_to`; returns the team's erasure
    /// head. A device's count never goes back; an order beyond the head is
    /// [`StoreError::ErasuresAhead`].
    fn confirm_erasures(&self, device: &DeviceAuth, up_to: u64) -> Result<u64, StoreError>;

    /// A lead places the snapshots it pushed, in one transaction ([`StoreError::NotLead`],
    /// [`StoreError::DeviceRevoked`]); items were checked by the caller (a snapshot id that is
    /// not 64 lowercase hex digits is counted as unknown). For each item:
    ///
    /// 1. the snapshot must be a blob of `doc_id` of the lead's team pushed by `lead`, not
    ///    covered and not placed before; otherwise the item is skipped (counted `unknown` when no
    ///    such blob exists, e.g. its document was erased);
    /// 2. the covered blobs are the document's blobs before the snapshot in the log whose
    ///    [`groundwork_protocol::compact::tag`] is listed (none: the item is skipped);
    /// 3. the earliest covered blob, at position `f`, is deleted and the snapshot takes its
    ///    position (marked placed: it never moves again);
    /// 4. every other covered blob not covered before is marked covered, and needed by every
    ///    active device but its pusher and `lead` whose next `since`, anywhere from the `since`
    ///    of its last sync to the cursor answered to it (unknown: from that `since` on), may lie
    ///    in `[f, p)`, `p` the blob's position; a blob covered before keeps its needs.
    ///
    /// Then every covered blob of the team that no active device needs is deleted. Deleted blobs
    /// leave the team's byte count; the team's head is unchanged.
    fn compact(
        &self,
        lead: &DeviceAuth,
        items: &[CompactItem],
        now: i64,
    ) -> Result<CompactResponse, StoreError>;
}

/// The current time in Unix seconds.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
