//! Keys: the team's key per epoch, this device's signing key, member records and the keys an
//! invite carries.
//!
//! - A **team key** is 32 random bytes; the first device of a team makes epoch 1. Each sealing
//!   key is derived from it with HKDF-SHA256, bound to the team, so one secret never keys two
//!   algorithms or two teams.
//! - A **device key** is an Ed25519 signing key and an X25519 exchange key made when the
//!   device joins; their secrets never leave the device.
//! - A **member record** ties a device's Automerge actor to its signing and exchange keys. The device pushes
//!   it sealed like any change (under the team key and signed by the key it names), filed
//!   under [`member_doc_id`]; the first record seen for an actor is the one kept, so a later
//!   record cannot swap another device's key.
//! - An **invite's secret** (20 random bytes, [`InviteSecret`]) travels only in the join link's
//!   fragment or the code's second half; the team's keys are sealed under it and left with the
//!   relay for the invite's uses ([`seal_invite`], [`open_invite`]).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use aes_siv::KeyInit;
use aes_siv::siv::Aes256Siv;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use x25519_dalek::{PublicKey as X25519Public, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

use super::doc_keys::{DocKey, DocKeys};
use super::{CryptoError, random, text};

/// Bytes of a team key and of a signing key's secret.
pub const KEY_LEN: usize = 32;
/// Bytes of an Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Bytes of an invite's secret half.
pub const INVITE_SECRET_LEN: usize = 20;
/// Document ids of member records start with this (then the actor's hex).
pub const MEMBER_DOC_PREFIX: &str = "member-";

/// One epoch of the team's key.
#[derive(Clone, PartialEq, Eq)]
pub struct TeamKey {
    epoch: u64,
    secret: [u8; KEY_LEN],
}

impl Drop for TeamKey {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

impl std::fmt::Debug for TeamKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TeamKey(epoch {})", self.epoch)
    }
}

impl TeamKey {
    /// A fresh random key for `epoch`.
    pub fn generate(epoch: u64) -> Result<TeamKey, CryptoError> {
        Ok(TeamKey {
            epoch,
            secret: random()?,
        })
    }

    /// The key of `epoch` from its stored bytes.
    pub fn from_bytes(epoch: u64, bytes: &[u8]) -> Result<TeamKey, CryptoError> {
        let secret: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| CryptoError::Key(format!("a team key has {KEY_LEN} bytes")))?;
        if epoch == 0 {
            return Err(CryptoError::Key("team key epochs start at 1".into()));
        }
        Ok(TeamKey { epoch, secret })
    }

    /// Its epoch (1, 2, …).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Its bytes, to store on this device.
    pub fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.secret
    }

    /// The AES-256-SIV cipher sealing `team`'s blobs under this key.
    pub(crate) fn blob_cipher(&self, team: &str) -> Aes256Siv {
        siv(&self.secret, b"groundwork blob key v1", team)
    }

    /// The cipher sealing a document's blobs under this key and the document's own key
    /// (format 2): HKDF-SHA256 over both secrets, so that neither alone opens them.
    pub(crate) fn doc_cipher(&self, team: &str, doc_key: &DocKey) -> Aes256Siv {
        let mut both = Zeroizing::new([0u8; KEY_LEN + super::doc_keys::NODE_LEN]);
        both[..KEY_LEN].copy_from_slice(&self.secret);
        both[KEY_LEN..].copy_from_slice(doc_key.as_slice());
        siv(both.as_slice(), b"groundwork blob key v2", team)
    }
}

/// The cipher keyed by HKDF-SHA256(`secret`, info = `label` ‖ `team`).
pub(crate) fn siv(secret: &[u8], label: &[u8], team: &str) -> Aes256Siv {
    let mut okm = Zeroizing::new([0u8; 64]);
    let mut info = label.to_vec();
    info.extend_from_slice(team.as_bytes());
    // 64 bytes is far below HKDF-SHA256's limit of 8,160: expand cannot fail here.
    let _ = Hkdf::<Sha256>::new(None, secret).expand(&info, okm.as_mut());
    Aes256Siv::new(&(*okm).into())
}

/// The length of the nonce [`seal_with_nonce`] puts before what it seals.
pub(crate) const NONCE_LEN: usize = 16;

/// `plain` sealed with `cipher`, bound to `nonce` and then to `bound` as associated data: the
/// nonce, then the sealed bytes (the page's own sealed copies: `local_copy`, `screen_lock`).
pub(crate) fn seal_with_nonce(
    mut cipher: Aes256Siv,
    nonce: [u8; NONCE_LEN],
    bound: &[&[u8]],
    plain: &[u8],
) -> Result<Vec<u8>, aes_siv::Error> {
    let mut data: Vec<&[u8]> = vec![&nonce[..]];
    data.extend_from_slice(bound);
    let sealed = cipher.encrypt(data, plain)?;
    let mut bytes = nonce.to_vec();
    bytes.extend_from_slice(&sealed);
    Ok(bytes)
}

/// What [`seal_with_nonce`] sealed, opened with `cipher` and the same `bound`; `None` if it is
/// cut short, changed, or sealed under another key or for other data.
pub(crate) fn open_with_nonce(
    mut cipher: Aes256Siv,
    bytes: &[u8],
    bound: &[&[u8]],
) -> Option<Zeroizing<Vec<u8>>> {
    if bytes.len() < NONCE_LEN {
        return None;
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let mut data: Vec<&[u8]> = vec![nonce];
    data.extend_from_slice(bound);
    cipher.decrypt(data, sealed).ok().map(Zeroizing::new)
}

/// The team's keys this device holds, by epoch. An epoch usually has one key; two leads
/// revoking devices at the same moment each make one, and every device keeps both (each lead
/// wrapped its key for every member it knew), so that what either lead's side seals opens
/// everywhere.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    /// Each epoch's keys, in the order of their bytes (the first is the one sealed with).
    keys: BTreeMap<u64, Vec<TeamKey>>,
    /// The tree of documents' own keys, in a team made since erasure reaches the relay's
    /// backups ([`super::doc_keys`]); `None` in a team from before. Shared by the keyring's
    /// copies: a page that takes in a new team key copies the team keys, not the tree.
    doc_keys: Option<Arc<DocKeys>>,
    /// The tree in its dense form, made the first time it is asked for: a store keeps a
    /// keyring while its keys are unchanged, and every status and pulled page wants it.
    dense: Dense,
}

/// [`Keyring`]'s tree in its dense form, once made, shared by the keyring's copies as the tree
/// is; never shown (it is keys).
#[derive(Clone, Default)]
struct Dense(Arc<OnceLock<Zeroizing<Vec<u8>>>>);

impl std::fmt::Debug for Dense {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Dense(..)")
    }
}

impl Keyring {
    /// A keyring holding `keys` (a key given twice is held once).
    pub fn new(keys: impl IntoIterator<Item = TeamKey>) -> Keyring {
        let mut ring = Keyring::default();
        for key in keys {
            ring.add(key);
        }
        ring
    }

    /// Add `key`; false when it was held already.
    pub fn add(&mut self, key: TeamKey) -> bool {
        let held = self.keys.entry(key.epoch).or_default();
        match held.binary_search_by(|k| k.secret.cmp(&key.secret)) {
            Ok(_) => false,
            Err(at) => {
                held.insert(at, key);
                true
            }
        }
    }

    /// The key this device seals with for `epoch`, if it holds one (of several, the first by
    /// its bytes: every device holding the same keys picks the same).
    pub fn get(&self, epoch: u64) -> Option<&TeamKey> {
        self.keys.get(&epoch).and_then(|k| k.first())
    }

    /// Every key held for `epoch`.
    pub fn of_epoch(&self, epoch: u64) -> &[TeamKey] {
        self.keys.get(&epoch).map_or(&[], Vec::as_slice)
    }

    /// Whether `key` is held.
    pub fn holds(&self, key: &TeamKey) -> bool {
        self.of_epoch(key.epoch)
            .iter()
            .any(|k| k.secret == key.secret)
    }

    /// The newest key: what this device seals with.
    pub fn current(&self) -> Option<&TeamKey> {
        self.keys.values().next_back().and_then(|k| k.first())
    }

    /// Every key, oldest epoch first.
    pub fn all(&self) -> impl Iterator<Item = &TeamKey> {
        self.keys.values().flatten()
    }

    /// Whether it holds no key (a team from before encryption).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The same keys with the team's tree of documents' own keys.
    pub fn with_doc_keys(mut self, doc_keys: DocKeys) -> Keyring {
        self.doc_keys = Some(Arc::new(doc_keys));
        self.dense = Dense::default();
        self
    }

    /// The tree of documents' own keys in its dense form ([`DocKeys::encode_dense`]), made
    /// once for this keyring; `None` for a team without one.
    pub fn doc_keys_dense(&self) -> Result<Option<&[u8]>, CryptoError> {
        let Some(tree) = &self.doc_keys else {
            return Ok(None);
        };
        if let Some(dense) = self.dense.0.get() {
            return Ok(Some(dense.as_slice()));
        }
        let dense = tree.encode_dense()?;
        Ok(Some(self.dense.0.get_or_init(|| dense).as_slice()))
    }

    /// The team's tree of documents' own keys, if the team has one.
    pub fn doc_keys(&self) -> Option<&DocKeys> {
        self.doc_keys.as_deref()
    }

    /// About how many more erasures an invite of at most `limit` characters of sealed keys has
    /// room for (`None`: a team without document keys); see
    /// [`super::doc_keys::erasures_left`].
    pub fn invite_room(&self, limit: usize) -> Option<u64> {
        let dense = self.doc_keys_dense().ok().flatten()?;
        Some(super::doc_keys::erasures_left_at(
            dense.len(),
            self.all().count(),
            limit,
        ))
    }
}

/// This device's keys: Ed25519 to sign what it writes, X25519 to receive new team keys.
#[derive(Clone)]
pub struct DeviceKey {
    signing: SigningKey,
    exchange: StaticSecret,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DeviceKey({})",
            crate::store::intake::hex(&self.public())
        )
    }
}

impl DeviceKey {
    /// Fresh random keys.
    pub fn generate() -> Result<DeviceKey, CryptoError> {
        let seed = Zeroizing::new(random::<KEY_LEN>()?);
        let exchange = Zeroizing::new(random::<KEY_LEN>()?);
        DeviceKey::from_parts(seed.as_slice(), exchange.as_slice())
    }

    /// The keys from their stored secrets.
    pub fn from_parts(signing: &[u8], exchange: &[u8]) -> Result<DeviceKey, CryptoError> {
        let seed: [u8; KEY_LEN] = signing
            .try_into()
            .map_err(|_| CryptoError::Key(format!("a signing key has {KEY_LEN} bytes")))?;
        let exchange: [u8; KEY_LEN] = exchange
            .try_into()
            .map_err(|_| CryptoError::Key(format!("an exchange key has {KEY_LEN} bytes")))?;
        Ok(DeviceKey {
            signing: SigningKey::from_bytes(&seed),
            exchange: StaticSecret::from(exchange),
        })
    }

    /// The signing key's secret, to store on this device.
    pub fn secret(&self) -> Zeroizing<[u8; KEY_LEN]> {
        Zeroizing::new(self.signing.to_bytes())
    }

    /// The exchange key's secret, to store on this device.
    pub fn exchange_secret(&self) -> Zeroizing<[u8; KEY_LEN]> {
        Zeroizing::new(self.exchange.to_bytes())
    }

    /// The signing key's public half.
    pub fn public(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.signing.verifying_key().to_bytes()
    }

    /// The exchange key's public half.
    pub fn exchange_public(&self) -> [u8; PUBLIC_KEY_LEN] {
        X25519Public::from(&self.exchange).to_bytes()
    }

    /// An Ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// X25519 with `their` public key; `None` for a public key that forces a known result
    /// (a low-order point).
    pub(crate) fn agree(&self, their: &[u8; PUBLIC_KEY_LEN]) -> Option<Zeroizing<[u8; 32]>> {
        let shared = self.exchange.diffie_hellman(&X25519Public::from(*their));
        shared
            .was_contributory()
            .then(|| Zeroizing::new(shared.to_bytes()))
    }
}

/// Check an Ed25519 signature strictly (no malleable or small-order forms).
pub fn verify(public: &[u8], message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
    let public: [u8; PUBLIC_KEY_LEN] = public.try_into().map_err(|_| CryptoError::Signature)?;
    let key = VerifyingKey::from_bytes(&public).map_err(|_| CryptoError::Signature)?;
    let signature =
        ed25519_dalek::Signature::from_slice(signature).map_err(|_| CryptoError::Signature)?;
    key.verify_strict(message, &signature)
        .map_err(|_| CryptoError::Signature)
}

/// What a device says about itself to the rest of its team, sealed and signed like a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    /// Its Automerge actor id (hex).
    pub actor: String,
    /// Its Ed25519 public key (hex).
    pub signing_key: String,
    /// Its X25519 public key (hex), to which new team keys are wrapped.
    pub exchange_key: String,
    /// Its name, as given at joining.
    pub name: String,
    /// Its id at the relay (what a lead revokes): said by the device itself, so that a lead
    /// finds the keys of the device it revokes without taking the relay's word for them.
    pub device_id: String,
    /// How a lead let it in: the invite's certificate and the proof that it held the invite's
    /// secret (see [`super::trust`]). Absent for the team's first lead (its key is the
    /// team's anchor) and in teams from before the root of trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admission: Option<super::trust::Admission>,
}

/// Where `actor`'s member record is filed.
pub fn member_doc_id(actor_hex: &str) -> String {
    format!("{MEMBER_DOC_PREFIX}{actor_hex}")
}

/// The secret half of an invite: never sent to the relay.
#[derive(Clone, PartialEq, Eq)]
pub struct InviteSecret([u8; INVITE_SECRET_LEN]);

impl Drop for InviteSecret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for InviteSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InviteSecret(…)")
    }
}

impl InviteSecret {
    /// A fresh random secret.
    pub fn generate() -> Result<InviteSecret, CryptoError> {
        Ok(InviteSecret(random()?))
    }

    /// The secret as typed or carried in a link (base32; case, dashes and spaces ignored).
    pub fn parse(text: &str) -> Result<InviteSecret, CryptoError> {
        text::from_base32(text)
            .and_then(|b| <[u8; INVITE_SECRET_LEN]>::try_from(b.as_slice()).ok())
            .map(InviteSecret)
            .ok_or(CryptoError::Invite)
    }

    /// The secret as text (32 base32 letters and digits).
    pub fn to_text(&self) -> String {
        text::base32(&self.0)
    }

    fn cipher(&self, team: &str) -> Aes256Siv {
        siv(&self.0, b"groundwork invite key v1", team)
    }

    /// Its bytes, for the keys derived from it.
    pub(crate) fn bytes(&self) -> &[u8; INVITE_SECRET_LEN] {
        &self.0
    }
}

const INVITE_HEADER: &[u8] = b"groundwork invite v1";
const INVITE_HEADER_V2: &[u8] = b"groundwork invite v2";
const INVITE_HEADER_V3: &[u8] = b"groundwork invite v3";
const INVITE_HEADER_V4: &[u8] = b"groundwork invite v4";

/// What a sealed invite holds: the team's keys and, from invites made since the lead's key is
/// the team's root of trust, the team's anchor (its first lead's signing key) and the invite's
/// certificate (see [`super::trust`]).
#[derive(Debug, Clone)]
pub struct InviteContents {
    /// The team's keys, every epoch.
    pub keys: Keyring,
    /// The signing key of the team's first lead; `None` in an invite from before.
    pub anchor: Option<[u8; PUBLIC_KEY_LEN]>,
    /// The first lead's actor (hex): the anchor key counts only under it.
    pub anchor_actor: Option<String>,
    /// The inviting lead's certificate for this invite; `None` in an invite from before.
    pub cert: Option<super::trust::InviteCert>,
}

/// Longest sealed keys relays took before invite format 4 (1 MiB): an invite of format 3 that
/// fits in it is made in format 3, which apps from before format 4 can open.
pub const FORMAT_3_INVITE_LEN: usize = 1024 * 1024;

/// `keys` of `team` (with its tree of documents' keys, if it has one), its `anchor` (the first
/// lead's key and actor) and the invite's `cert`, sealed under `secret`, as text for the relay
/// to hold. The tree goes node by node (invite format 3) while that fits in
/// [`FORMAT_3_INVITE_LEN`], so that a phone served an older app by its relay can still join
/// with an invite from an updated lead's app; past it (about 580 erasures), in its dense form
/// (format 4: two thirds of the bytes), which such an invite could not have held anyway.
pub fn seal_invite(
    secret: &InviteSecret,
    team: &str,
    keys: &Keyring,
    anchor: (&[u8; PUBLIC_KEY_LEN], &str),
    cert: &super::trust::InviteCert,
) -> Result<String, CryptoError> {
    seal_invite_in(secret, team, keys, anchor, cert, None)
}

/// How an invite carries the tree of documents' keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeForm {
    /// [`DocKeys::encode`]: invite format 3.
    Nodes,
    /// [`DocKeys::encode_dense`]: invite format 4.
    Dense,
}

/// [`seal_invite`] with the tree in `form` whatever its size (format 2 for a team without a
/// tree): `TreeForm::Nodes` is what apps made before format 4.
pub fn seal_invite_as(
    secret: &InviteSecret,
    team: &str,
    keys: &Keyring,
    anchor: (&[u8; PUBLIC_KEY_LEN], &str),
    cert: &super::trust::InviteCert,
    form: TreeForm,
) -> Result<String, CryptoError> {
    seal_invite_in(secret, team, keys, anchor, cert, Some(form))
}

/// Text of an invite whose sealed plaintext is `plain_len` bytes: the SIV tag, then base64url
/// without padding.
pub(super) fn sealed_text_len(plain_len: usize) -> usize {
    ((plain_len + 16) * 4).div_ceil(3)
}

/// [`seal_invite`] with the tree in `form`, or (`None`) in the form [`seal_invite`] chooses.
fn seal_invite_in(
    secret: &InviteSecret,
    team: &str,
    keys: &Keyring,
    (anchor, anchor_actor): (&[u8; PUBLIC_KEY_LEN], &str),
    cert: &super::trust::InviteCert,
    form: Option<TreeForm>,
) -> Result<String, CryptoError> {
    let cert = serde_json::to_vec(cert).map_err(|e| CryptoError::Key(e.to_string()))?;
    let cert_len = u16::try_from(cert.len())
        .map_err(|_| CryptoError::Key("an invite certificate is too long".into()))?;
    let actor_len = u8::try_from(anchor_actor.len())
        .map_err(|_| CryptoError::Key("an actor id is too long".into()))?;
    let mut plain = Zeroizing::new(Vec::with_capacity(
        PUBLIC_KEY_LEN
            + 5
            + anchor_actor.len()
            + cert.len()
            + keys.all().count() * 40
            + keys
                .doc_keys()
                .map_or(0, |t| t.len() * super::doc_keys::ENCODED_NODE_LEN),
    ));
    plain.extend_from_slice(anchor);
    plain.push(actor_len);
    plain.extend_from_slice(anchor_actor.as_bytes());
    plain.extend_from_slice(&cert_len.to_be_bytes());
    plain.extend_from_slice(&cert);
    let Some(tree) = keys.doc_keys() else {
        push_keys(&mut plain, keys);
        return seal_plain(secret, team, INVITE_HEADER_V2, &plain);
    };
    // Formats 3 and 4: the number of team keys, the keys, then the tree to the end.
    let count = u16::try_from(keys.all().count())
        .map_err(|_| CryptoError::Key("a team has too many keys for an invite".into()))?;
    plain.extend_from_slice(&count.to_be_bytes());
    push_keys(&mut plain, keys);
    // Format 3's size follows from the number of nodes: no need to seal it to know.
    let form = form.unwrap_or_else(|| {
        let nodes_len = plain.len() + tree.len() * super::doc_keys::ENCODED_NODE_LEN;
        if sealed_text_len(nodes_len) <= FORMAT_3_INVITE_LEN {
            TreeForm::Nodes
        } else {
            TreeForm::Dense
        }
    });
    match form {
        TreeForm::Nodes => {
            plain.extend_from_slice(&tree.encode());
            seal_plain(secret, team, INVITE_HEADER_V3, &plain)
        }
        TreeForm::Dense => {
            plain.extend_from_slice(&tree.encode_dense()?);
            seal_plain(secret, team, INVITE_HEADER_V4, &plain)
        }
    }
}

/// `keys` of `team` sealed under `secret` as invites were before the root of trust (no anchor,
/// no certificate): what an older lead's app left with the relay. Kept to test that such an
/// invite still opens.
pub fn seal_invite_v1(
    secret: &InviteSecret,
    team: &str,
    keys: &Keyring,
) -> Result<String, CryptoError> {
    let mut plain = Zeroizing::new(Vec::with_capacity(keys.all().count() * 40));
    push_keys(&mut plain, keys);
    seal_plain(secret, team, INVITE_HEADER, &plain)
}

/// `plain` sealed under `secret` with the invite format's `header` and `team` bound, as text.
fn seal_plain(
    secret: &InviteSecret,
    team: &str,
    header: &[u8],
    plain: &[u8],
) -> Result<String, CryptoError> {
    let sealed = secret
        .cipher(team)
        .encrypt([header, team.as_bytes()], plain)
        .map_err(|_| CryptoError::Key("the team's keys could not be sealed".into()))?;
    Ok(text::base64url(&sealed))
}

fn push_keys(plain: &mut Vec<u8>, keys: &Keyring) {
    for key in keys.all() {
        plain.extend_from_slice(&key.epoch.to_be_bytes());
        plain.extend_from_slice(&key.secret);
    }
}

/// What the relay handed over at enrolment, opened with the invite's secret.
pub fn open_invite(
    secret: &InviteSecret,
    team: &str,
    sealed: &str,
) -> Result<InviteContents, CryptoError> {
    let bytes = text::from_base64url(sealed).ok_or(CryptoError::Invite)?;
    let cipher = || secret.cipher(team);
    // The newest format first: each is tried with its own header, which the seal is bound to.
    let (plain, tree) = [
        (INVITE_HEADER_V4, Some(TreeForm::Dense)),
        (INVITE_HEADER_V3, Some(TreeForm::Nodes)),
        (INVITE_HEADER_V2, None),
    ]
    .into_iter()
    .find_map(|(header, tree)| {
        cipher()
            .decrypt([header, team.as_bytes()], &bytes)
            .ok()
            .map(|plain| (Some(plain), tree))
    })
    .unwrap_or((None, None));
    if let Some(plain) = plain {
        let plain = Zeroizing::new(plain);
        let mut anchor = [0u8; PUBLIC_KEY_LEN];
        anchor.copy_from_slice(plain.get(..PUBLIC_KEY_LEN).ok_or(CryptoError::Invite)?);
        let actor_len = *plain.get(PUBLIC_KEY_LEN).ok_or(CryptoError::Invite)? as usize;
        let actor_end = PUBLIC_KEY_LEN + 1 + actor_len;
        let anchor_actor = plain
            .get(PUBLIC_KEY_LEN + 1..actor_end)
            .and_then(|a| std::str::from_utf8(a).ok())
            .ok_or(CryptoError::Invite)?
            .to_string();
        let len = plain
            .get(actor_end..actor_end + 2)
            .ok_or(CryptoError::Invite)?;
        let cert_end = actor_end + 2 + u16::from_be_bytes([len[0], len[1]]) as usize;
        let cert = plain
            .get(actor_end + 2..cert_end)
            .and_then(|c| serde_json::from_slice(c).ok())
            .ok_or(CryptoError::Invite)?;
        let keys = if let Some(form) = tree {
            let count = plain
                .get(cert_end..cert_end + 2)
                .ok_or(CryptoError::Invite)?;
            let keys_end = cert_end
                + 2
                + usize::from(u16::from_be_bytes([count[0], count[1]])) * (8 + KEY_LEN);
            let ring = keys_of(
                plain
                    .get(cert_end + 2..keys_end)
                    .ok_or(CryptoError::Invite)?,
            )?;
            let tree = plain.get(keys_end..).ok_or(CryptoError::Invite)?;
            let tree = match form {
                TreeForm::Nodes => DocKeys::decode(tree),
                TreeForm::Dense => DocKeys::decode_dense(tree),
            };
            ring.with_doc_keys(tree.map_err(|_| CryptoError::Invite)?)
        } else {
            keys_of(plain.get(cert_end..).ok_or(CryptoError::Invite)?)?
        };
        return Ok(InviteContents {
            keys,
            anchor: Some(anchor),
            anchor_actor: Some(anchor_actor),
            cert: Some(cert),
        });
    }
    let plain = Zeroizing::new(
        cipher()
            .decrypt([INVITE_HEADER, team.as_bytes()], &bytes)
            .map_err(|_| CryptoError::Invite)?,
    );
    Ok(InviteContents {
        keys: keys_of(&plain)?,
        anchor: None,
        anchor_actor: None,
        cert: None,
    })
}

fn keys_of(plain: &[u8]) -> Result<Keyring, CryptoError> {
    if plain.is_empty() || !plain.len().is_multiple_of(8 + KEY_LEN) {
        return Err(CryptoError::Invite);
    }
    let keys = plain
        .chunks(8 + KEY_LEN)
        .map(|c| {
            let mut epoch = [0u8; 8];
            epoch.copy_from_slice(&c[..8]);
            TeamKey::from_bytes(u64::from_be_bytes(epoch), &c[8..])
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Keyring::new(keys))
}
