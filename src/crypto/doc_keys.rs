//! Each document's own key, from a tree that erasure cuts: what makes an erasure final even for
//! copies of the relay's database taken before it.
//!
//! Every document of the notebook (a person, a campaign, a walk list, a shift) is sealed under
//! a key made of two parts: the team's key of the epoch ([`super::keys::TeamKey`]) and the
//! document's own key, a leaf of a binary tree of pseudo-random keys (Goldreich, Goldwasser and
//! Micali's construction, as puncturable pseudo-random functions use it):
//!
//! - A node is 16 bytes. Its two children are the halves of
//!   SHA-256(`"groundwork doc tree v1"` ‖ node): the first half is the child on bit 0, the
//!   second on bit 1. The tree is [`DEPTH`] levels deep.
//! - A document's leaf is the first 8 bytes of SHA-256(`"groundwork doc leaf v1"` ‖ its id),
//!   read big-endian; its bits, most significant first, are the path from the root.
//! - A device holds a set of nodes that covers every leaf still allowed ([`DocKeys`]): at
//!   first the root alone (made by the team's first device and carried by every invite).
//!   Erasing a document **punctures** the set: the node above the document's leaf is replaced
//!   by the siblings of the path below it, so every other leaf is still derived as before and
//!   this one can be derived from nothing any device holds. The set after erasing a group of
//!   documents does not depend on the order they were erased in: two devices that carried out
//!   the same orders in different orders hold the same nodes.
//!
//! Invites past what relays took before (1 MiB of sealed keys, about 580 erasures) carry the
//! nodes in a dense form ([`DocKeys::encode_dense`], invite format 4; smaller invites stay in
//! format 3, which older apps open): a walk of the tree from the root in which each position
//! visited is a two-bit tag, the first in the high bits of the first byte, followed by the keys
//! of the nodes held in the walk's order:
//!
//! ```text
//! count  4 bytes   number of tags, big-endian
//! tags   ceil(count / 4) bytes: 0 = no node at or below here, 1 = a node here (its key is the
//!        next key), 2 = nodes below (child 0's walk, then child 1's); unused bits 0
//! keys   16 bytes each, in the walk's order
//! ```
//!
//! The positions, nine of the 25 bytes of every node as stored ([`DocKeys::encode`]), are implied
//! by the walk: an erasure's 63 or so nodes cost about two tags each instead, and an invite
//! about two thirds of the bytes.
//!
//! The team key stays in the cipher so that a revoked device, which knew the tree, still cannot
//! read what is sealed after its revocation. A document whose leaf equals an erased one's
//! (one chance in 2^64 for each pair) could no longer be opened; the app refuses to seal such a
//! document rather than seal it without its key.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use super::{CryptoError, random};

/// Levels of the tree: a leaf is 64 bits.
pub const DEPTH: u8 = 64;
/// Bytes of a node (and of a document's key).
pub const NODE_LEN: usize = 16;
/// Bytes of a node as stored and carried in an invite: depth, prefix (8, big-endian), key.
pub const ENCODED_NODE_LEN: usize = 1 + 8 + NODE_LEN;

const TREE_LABEL: &[u8] = b"groundwork doc tree v1";
const LEAF_LABEL: &[u8] = b"groundwork doc leaf v1";

/// A document's own key: the leaf of the tree for its id.
pub type DocKey = Zeroizing<[u8; NODE_LEN]>;

/// A node of the tree: its depth (0 for the root) and the top `depth` bits of the leaves under
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Levels below the root (0 to [`DEPTH`]).
    pub depth: u8,
    /// The path to it, as the low `depth` bits.
    pub prefix: u64,
}

impl Position {
    /// The first leaf under it and how many leaves it covers (as `u128`, the root covers 2^64).
    fn range(self) -> (u128, u128) {
        let below = u32::from(DEPTH - self.depth);
        (u128::from(self.prefix) << below, 1u128 << below)
    }

    /// The node on the path to `leaf` at `depth`.
    fn of(leaf: u64, depth: u8) -> Position {
        let prefix = if depth == 0 {
            0
        } else {
            leaf >> (DEPTH - depth)
        };
        Position { depth, prefix }
    }
}

/// The nodes of the tree this device holds: every document's key not erased can be derived
/// from exactly one of them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct DocKeys {
    nodes: BTreeMap<Position, [u8; NODE_LEN]>,
}

impl Drop for DocKeys {
    fn drop(&mut self) {
        for key in self.nodes.values_mut() {
            key.zeroize();
        }
    }
}

impl std::fmt::Debug for DocKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DocKeys({} nodes)", self.nodes.len())
    }
}

/// The leaf of document `doc`. An id is taken in its one canonical spelling (lower case,
/// hyphenated): a member sealing a person under another spelling of their id (upper case,
/// braces) gets the same leaf, so the person's erasure cuts that copy's key too.
pub fn leaf_of(doc: &str) -> u64 {
    let canonical = crate::ids::parse_id(doc).ok();
    let doc = canonical.as_deref().unwrap_or(doc);
    let digest = Sha256::new()
        .chain_update(LEAF_LABEL)
        .chain_update(doc.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// The child of `node` on `bit`.
fn child(node: &[u8; NODE_LEN], bit: bool) -> [u8; NODE_LEN] {
    let mut digest: [u8; 32] = Sha256::new()
        .chain_update(TREE_LABEL)
        .chain_update(node)
        .finalize()
        .into();
    let mut out = [0u8; NODE_LEN];
    let half = if bit {
        &digest[NODE_LEN..]
    } else {
        &digest[..NODE_LEN]
    };
    out.copy_from_slice(half);
    digest.zeroize();
    out
}

/// The bit of `leaf` taken below a node at `depth`.
fn bit(leaf: u64, depth: u8) -> bool {
    (leaf >> (DEPTH - 1 - depth)) & 1 == 1
}

impl DocKeys {
    /// A fresh tree: a random root.
    pub fn generate() -> Result<DocKeys, CryptoError> {
        let root = Zeroizing::new(random::<NODE_LEN>()?);
        Ok(DocKeys::from_root(&root))
    }

    /// The whole tree under `root`.
    pub fn from_root(root: &[u8; NODE_LEN]) -> DocKeys {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            Position {
                depth: 0,
                prefix: 0,
            },
            *root,
        );
        DocKeys { nodes }
    }

    /// A set of nodes as stored or carried (see [`Self::nodes`]); refused when a position is
    /// impossible, given twice, or covered by another node (an erasure would leave a way back).
    pub fn from_nodes(
        nodes: impl IntoIterator<Item = (Position, [u8; NODE_LEN])>,
    ) -> Result<DocKeys, CryptoError> {
        let mut held = BTreeMap::new();
        for (at, key) in nodes {
            if at.depth > DEPTH || (at.depth < DEPTH && at.prefix >> at.depth != 0) {
                return Err(CryptoError::Key(format!(
                    "a document key's position {}:{} is outside the tree",
                    at.depth, at.prefix
                )));
            }
            if held.insert(at, key).is_some() {
                return Err(CryptoError::Key("a document key is given twice".into()));
            }
        }
        let mut ranges: Vec<(u128, u128)> = held.keys().map(|p| p.range()).collect();
        ranges.sort_unstable();
        if ranges.windows(2).any(|w| w[0].0 + w[0].1 > w[1].0) {
            return Err(CryptoError::Key(
                "document keys overlap: one would undo an erasure".into(),
            ));
        }
        if held.is_empty() {
            return Err(CryptoError::Key(
                "a team's document keys are missing".into(),
            ));
        }
        Ok(DocKeys { nodes: held })
    }

    /// Every node held, in order of position.
    pub fn nodes(&self) -> impl Iterator<Item = (Position, &[u8; NODE_LEN])> {
        self.nodes.iter().map(|(p, k)| (*p, k))
    }

    /// How many nodes are held.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether none is (never true of a set made by this module).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node held above `leaf`, if any.
    fn cover(&self, leaf: u64) -> Option<(Position, &[u8; NODE_LEN])> {
        (0..=DEPTH).find_map(|depth| {
            let at = Position::of(leaf, depth);
            self.nodes.get(&at).map(|k| (at, k))
        })
    }

    /// Document `doc`'s key, or `None` once it has been erased here.
    pub fn key_for(&self, doc: &str) -> Option<DocKey> {
        let leaf = leaf_of(doc);
        let (at, node) = self.cover(leaf)?;
        let mut key = Zeroizing::new(*node);
        for depth in at.depth..DEPTH {
            let next = child(&key, bit(leaf, depth));
            *key = next;
        }
        Some(key)
    }

    /// Cut document `doc`'s key out of the tree: afterwards it cannot be derived from any node
    /// held, and every other document's key is what it was. Returns the nodes removed and
    /// added (for the store to write), or `None` when it was cut already.
    pub fn puncture(&mut self, doc: &str) -> Option<Puncture> {
        let leaf = leaf_of(doc);
        let (at, node) = self.cover(leaf)?;
        let mut key = Zeroizing::new(*node);
        if let Some(mut gone) = self.nodes.remove(&at) {
            gone.zeroize();
        }
        let mut added = Vec::with_capacity(usize::from(DEPTH - at.depth));
        for depth in at.depth..DEPTH {
            let on = bit(leaf, depth);
            let sibling = Position::of(leaf, depth + 1);
            let sibling = Position {
                depth: sibling.depth,
                prefix: sibling.prefix ^ 1,
            };
            let other = child(&key, !on);
            self.nodes.insert(sibling, other);
            added.push(sibling);
            *key = child(&key, on);
        }
        Some(Puncture { removed: at, added })
    }

    /// The nodes as bytes ([`ENCODED_NODE_LEN`] each), for an invite.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.nodes.len() * ENCODED_NODE_LEN));
        for (at, key) in &self.nodes {
            out.push(at.depth);
            out.extend_from_slice(&at.prefix.to_be_bytes());
            out.extend_from_slice(key);
        }
        out
    }

    /// The nodes in the dense form invites carry since format 4 (see the module's
    /// documentation): about two thirds of [`Self::encode`]'s size.
    pub fn encode_dense(&self) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let held = self.in_walk_order();
        let mut walk = DenseWalk {
            tags: Vec::new(),
            keys: Some(Zeroizing::new(Vec::with_capacity(held.len() * NODE_LEN))),
        };
        walk.visit(Position::ROOT, &held)?;
        let keys = walk.keys.take().unwrap_or_default();
        let count = u32::try_from(walk.tags.len())
            .map_err(|_| CryptoError::Key("a team's document keys are too many".into()))?;
        let mut out = Zeroizing::new(Vec::with_capacity(
            4 + walk.tags.len().div_ceil(4) + keys.len(),
        ));
        out.extend_from_slice(&count.to_be_bytes());
        for four in walk.tags.chunks(4) {
            let byte = four
                .iter()
                .enumerate()
                .fold(0u8, |b, (i, tag)| b | (tag << (6 - 2 * i)));
            out.push(byte);
        }
        out.extend_from_slice(&keys);
        Ok(out)
    }

    /// The length of [`Self::encode_dense`]'s bytes, without copying the keys.
    pub fn dense_len(&self) -> usize {
        let held = self.in_walk_order();
        let mut walk = DenseWalk {
            tags: Vec::new(),
            keys: None,
        };
        match walk.visit(Position::ROOT, &held) {
            Ok(()) => 4 + walk.tags.len().div_ceil(4) + held.len() * NODE_LEN,
            // Never for a set `from_nodes` checked; the stored form's size is more.
            Err(_) => self.len() * ENCODED_NODE_LEN,
        }
    }

    /// The nodes held, ordered by the first leaf they cover: the order of a walk from the root,
    /// child 0 before child 1 (nodes held never overlap).
    fn in_walk_order(&self) -> Vec<(u128, Position, &[u8; NODE_LEN])> {
        let mut held: Vec<_> = self
            .nodes
            .iter()
            .map(|(at, key)| (at.range().0, *at, key))
            .collect();
        held.sort_unstable_by_key(|h| (h.0, h.1.depth));
        held
    }

    /// The inverse of [`Self::encode_dense`], checked as [`Self::from_nodes`] checks; every
    /// byte must be used and every unused bit zero.
    pub fn decode_dense(bytes: &[u8]) -> Result<DocKeys, CryptoError> {
        let short = || CryptoError::Key("a team's document keys are cut short".into());
        let count = bytes.get(..4).ok_or_else(short)?;
        let count = u32::from_be_bytes([count[0], count[1], count[2], count[3]]) as usize;
        let rest = &bytes[4..];
        if count == 0 || count.div_ceil(4) > rest.len() {
            return Err(short());
        }
        let (tags, keys) = rest.split_at(count.div_ceil(4));
        if !keys.len().is_multiple_of(NODE_LEN) {
            return Err(short());
        }
        let unused = (tags.len() * 4 - count) * 2;
        if tags
            .last()
            .is_some_and(|last| last & ((1u8 << unused) - 1) != 0)
        {
            return Err(CryptoError::Key(
                "a team's document keys have stray bits".into(),
            ));
        }
        let mut read = DenseRead {
            tags,
            count,
            next_tag: 0,
            keys,
            nodes: Vec::new(),
        };
        read.visit(Position::ROOT)?;
        if read.next_tag != count || read.nodes.len() * NODE_LEN != keys.len() {
            return Err(CryptoError::Key(
                "a team's document keys carry more than their tree".into(),
            ));
        }
        DocKeys::from_nodes(std::mem::take(&mut read.nodes))
    }

    /// The inverse of [`Self::encode`], checked as [`Self::from_nodes`] checks.
    pub fn decode(bytes: &[u8]) -> Result<DocKeys, CryptoError> {
        if bytes.is_empty() || !bytes.len().is_multiple_of(ENCODED_NODE_LEN) {
            return Err(CryptoError::Key(
                "a team's document keys are cut short".into(),
            ));
        }
        DocKeys::from_nodes(bytes.chunks(ENCODED_NODE_LEN).map(|c| {
            let mut prefix = [0u8; 8];
            prefix.copy_from_slice(&c[1..9]);
            let mut key = [0u8; NODE_LEN];
            key.copy_from_slice(&c[9..]);
            (
                Position {
                    depth: c[0],
                    prefix: u64::from_be_bytes(prefix),
                },
                key,
            )
        }))
    }
}

/// About how many more erasures a team's invites have room for, when an invite may carry at
/// most `limit` characters of sealed keys and the tree is `tree` beside `team_keys` keys: each
/// erasure adds about [`DEPTH`] − 1 nodes (fewer as the tree fills, so this errs low), and an
/// invite carries them in their dense form ([`DocKeys::encode_dense`]), in base64url, beside the
/// certificate and the team keys.
pub fn erasures_left(tree: &DocKeys, team_keys: usize, limit: usize) -> u64 {
    erasures_left_at(tree.dense_len(), team_keys, limit)
}

/// [`erasures_left`] for a tree whose dense form is `dense_len` bytes.
pub fn erasures_left_at(dense_len: usize, team_keys: usize, limit: usize) -> u64 {
    // Anchor, actor, certificate and headers: under 1 KB; a team key 40 bytes; the SIV tag 16.
    let fixed = 1024 + team_keys * 40 + 16;
    let now = (fixed + dense_len) * 4 / 3;
    // Its nodes' keys, and about two tags (a quarter byte each) for each level of its path.
    let per_erasure = (usize::from(DEPTH - 1) * NODE_LEN + usize::from(DEPTH) / 2) * 4 / 3;
    (limit.saturating_sub(now) / per_erasure) as u64
}

// Tags of the dense form (see the module's documentation).
const TAG_NONE: u8 = 0;
const TAG_HELD: u8 = 1;
const TAG_SPLIT: u8 = 2;

impl Position {
    /// The root of the tree.
    const ROOT: Position = Position {
        depth: 0,
        prefix: 0,
    };

    /// Its two children, on bit 0 and bit 1 (only above the leaves).
    fn children(self) -> (Position, Position) {
        let depth = self.depth + 1;
        (
            Position {
                depth,
                prefix: self.prefix << 1,
            },
            Position {
                depth,
                prefix: (self.prefix << 1) | 1,
            },
        )
    }
}

/// The tags and keys of [`DocKeys::encode_dense`], as the walk makes them (the keys only when
/// wanted: [`DocKeys::dense_len`] needs the tags alone).
struct DenseWalk {
    tags: Vec<u8>,
    keys: Option<Zeroizing<Vec<u8>>>,
}

impl DenseWalk {
    /// Walk the subtree at `at`, which holds exactly the nodes `held` (in walk order).
    fn visit(
        &mut self,
        at: Position,
        held: &[(u128, Position, &[u8; NODE_LEN])],
    ) -> Result<(), CryptoError> {
        match held {
            [] => self.tags.push(TAG_NONE),
            [(_, only, key)] if *only == at => {
                self.tags.push(TAG_HELD);
                if let Some(keys) = &mut self.keys {
                    keys.extend_from_slice(*key);
                }
            }
            _ if at.depth == DEPTH => {
                // Nodes held never overlap (`from_nodes` checks), so a leaf holds one at most.
                return Err(CryptoError::Key(
                    "document keys overlap: one would undo an erasure".into(),
                ));
            }
            _ => {
                self.tags.push(TAG_SPLIT);
                let (zero, one) = at.children();
                let first_of_one = one.range().0;
                let split = held.partition_point(|h| h.0 < first_of_one);
                self.visit(zero, &held[..split])?;
                self.visit(one, &held[split..])?;
            }
        }
        Ok(())
    }
}

/// [`DocKeys::decode_dense`]'s reading of a walk.
struct DenseRead<'a> {
    tags: &'a [u8],
    count: usize,
    next_tag: usize,
    keys: &'a [u8],
    nodes: Vec<(Position, [u8; NODE_LEN])>,
}

impl DenseRead<'_> {
    fn visit(&mut self, at: Position) -> Result<(), CryptoError> {
        if self.next_tag >= self.count {
            return Err(CryptoError::Key(
                "a team's document keys are cut short".into(),
            ));
        }
        let i = self.next_tag;
        self.next_tag += 1;
        match (self.tags[i / 4] >> (6 - 2 * (i % 4))) & 0b11 {
            TAG_NONE => Ok(()),
            TAG_HELD => {
                let from = self.nodes.len() * NODE_LEN;
                let key = self.keys.get(from..from + NODE_LEN).ok_or_else(|| {
                    CryptoError::Key("a team's document keys are cut short".into())
                })?;
                let mut node = [0u8; NODE_LEN];
                node.copy_from_slice(key);
                self.nodes.push((at, node));
                Ok(())
            }
            TAG_SPLIT if at.depth < DEPTH => {
                let (zero, one) = at.children();
                self.visit(zero)?;
                self.visit(one)
            }
            _ => Err(CryptoError::Key(
                "a team's document keys hold a position outside the tree".into(),
            )),
        }
    }
}

impl Drop for DenseRead<'_> {
    fn drop(&mut self) {
        for (_, key) in &mut self.nodes {
            key.zeroize();
        }
    }
}

/// What one erasure changed in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Puncture {
    /// The node that covered the document.
    pub removed: Position,
    /// The siblings of the path below it, now held instead.
    pub added: Vec<Position>,
}
