//! What both backends compute the same way, whatever holds the rows: integer conversions at the
//! database's edge, the cursor check, an erasure order's confirmation count, filling a page
//! of pulled blobs up to its byte budget, and answering an enrolment or an invite asked again.

use groundwork_protocol::{Erasure, Role};

use super::{Enrolled, InviteMade, StoreError, StoredBlob, SyncPage};
use crate::secrets::SecretHash;

/// A count or position as the databases store it (they have signed 64-bit integers).
pub fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored count or position (never negative in a healthy database).
pub fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A cursor past the team's head means the relay lost the end of its log (restored from a
/// backup): answering as if nothing were missing would hide changes from that device for good.
pub fn check_cursor(since: u64, head: i64) -> Result<(), StoreError> {
    if since > to_u64(head) {
        return Err(StoreError::CursorAhead {
            since,
            head: to_u64(head),
        });
    }
    Ok(())
}

/// Order `seq` with its confirmation count among the active devices whose last carried-out
/// orders are `seen`, in increasing order.
pub fn erasure(
    seq: i64,
    doc_id: String,
    erased_at: i64,
    proof: Option<String>,
    seen: &[i64],
) -> Erasure {
    let confirmed = seen.len() - seen.partition_point(|&s| s < seq);
    Erasure {
        seq: to_u64(seq),
        doc_id,
        erased_at,
        confirmed: u32::try_from(confirmed).unwrap_or(u32::MAX),
        devices: u32::try_from(seen.len()).unwrap_or(u32::MAX),
        proof: served_proofs(proof.as_deref()),
    }
}

/// What a stored blob costs a team's storage count beyond its bytes and its document id's: its
/// 32-byte id, its row and its index entries, about what SQLite and PostgreSQL take for each.
/// Counted by bytes alone, a member pushing thousands of 4-byte blobs filled some 25 times the
/// team's quota on disk. (The migrations that add it to counts made before hold the same
/// number.)
pub const BLOB_ROW_BYTES: i64 = 128;

/// Most proofs kept for one erasure order.
pub const MAX_PROOFS_KEPT: usize = 4;

/// Whose a stored proof is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Given {
    /// The order's first proof, kept whatever comes after it.
    First,
    /// A later proof of the lead device with this key in the store.
    By(i64),
    /// Stored before proofs were kept this way.
    Unknown,
}

/// One stored entry: `*@<proof>` (the first), `<device>@<proof>`, or a bare proof stored
/// before proofs were kept by device.
fn stored_entry(entry: &str) -> (Given, &str) {
    match entry.split_once('@') {
        Some(("*", proof)) if !proof.is_empty() => (Given::First, proof),
        Some((device, proof)) if !proof.is_empty() => match device.parse::<i64>() {
            Ok(device) => (Given::By(device), proof),
            Err(_) => (Given::Unknown, entry),
        },
        _ => (Given::Unknown, entry),
    }
}

/// The proofs kept for an order (stored as space-separated entries) once lead device `by`
/// gives `new`. The relay cannot tell a lead's proof from junk, so it keeps the order's first
/// proof whatever comes after it (the lead who erases gives it), and the newest proof of each
/// of the last few lead devices that gave one, newest first: at most [`MAX_PROOFS_KEPT`] in
/// all. A lead's token in a hostile hand replaces only that device's own later proof (four
/// proofs from one token pushed a signed proof out, and devices that trust only signed
/// orders never carried that erasure out).
pub fn merge_proofs(kept: Option<&str>, new: Option<&str>, by: i64) -> Option<String> {
    let Some(new) = new else {
        return kept.map(str::to_owned);
    };
    let entries: Vec<(Given, &str)> = kept
        .unwrap_or_default()
        .split_whitespace()
        .map(stored_entry)
        .collect();
    if entries.is_empty() {
        return Some(format!("*@{new}"));
    }
    // Proofs stored before the first was kept apart: the oldest of them (the last) stands
    // for it.
    let first = entries
        .iter()
        .find(|(g, _)| *g == Given::First)
        .or_else(|| entries.iter().rev().find(|(g, _)| *g == Given::Unknown))
        .copied();
    let mut all: Vec<String> = Vec::new();
    if first.is_none_or(|(_, p)| p != new) {
        all.push(format!("{by}@{new}"));
    }
    all.extend(
        entries
            .iter()
            .filter(|e| Some(**e) != first)
            .filter(|(g, p)| *g != Given::By(by) && *p != new)
            .map(|(g, p)| match g {
                Given::By(d) => format!("{d}@{p}"),
                _ => (*p).to_string(),
            }),
    );
    all.truncate(MAX_PROOFS_KEPT - usize::from(first.is_some()));
    if let Some((_, p)) = first {
        all.push(format!("*@{p}"));
    }
    Some(all.join(" "))
}

/// The proofs of an order as devices are given them: space-separated, the first last, without
/// who gave them.
pub fn served_proofs(stored: Option<&str>) -> Option<String> {
    stored.map(|s| {
        s.split_whitespace()
            .map(|e| stored_entry(e).1)
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// A stored blob id, which must be 32 bytes.
pub fn blob_id(id: Vec<u8>) -> Result<[u8; 32], StoreError> {
    id.try_into()
        .map_err(|_| StoreError::Backend("a stored blob id is not 32 bytes".into()))
}

/// A page being filled with blobs in log order: about `max_bytes` of blobs and document ids,
/// and always at least one blob when any waits.
pub struct Pager {
    page: SyncPage,
    used: u64,
    since: u64,
    max_bytes: u64,
}

impl Pager {
    /// An empty page after `since`, whose cursor is `cursor` if every blob offered fits.
    pub fn new(since: u64, cursor: u64, max_bytes: u64) -> Self {
        Self {
            page: SyncPage {
                cursor,
                ..SyncPage::default()
            },
            used: 0,
            since,
            max_bytes,
        }
    }

    /// Makes room for the next blob, of `blob_len` bytes in document `doc_id`: `false` when the
    /// page is full (it then ends before that blob, with more to come).
    pub fn room_for(&mut self, blob_len: i64, doc_id: &str) -> bool {
        let size = to_u64(blob_len).saturating_add(doc_id.len() as u64);
        if !self.page.changes.is_empty() && self.used.saturating_add(size) > self.max_bytes {
            self.page.more = true;
            self.page.cursor = self.page.changes.last().map_or(self.since, |c| c.seq);
            return false;
        }
        self.used = self.used.saturating_add(size);
        true
    }

    /// The bytes left before the page is full (none once a first blob larger than the page
    /// filled it).
    pub fn remaining(&self) -> u64 {
        self.max_bytes.saturating_sub(self.used)
    }

    /// Adds a blob [`Pager::room_for`] made room for.
    pub fn push(&mut self, blob: StoredBlob) {
        self.page.changes.push(blob);
    }

    /// The page.
    pub fn finish(self) -> SyncPage {
        self.page
    }
}

/// The device that holds a token an enrolment asks with.
pub struct TokenHolder {
    /// Its id.
    pub device_id: String,
    /// Its team's id.
    pub team_id: String,
    /// Its role now.
    pub role: Role,
    /// What its enrolment answered of sealing.
    pub sealed: bool,
    /// The hash of the invite it enrolled with, while it may ask again (`None` once it has
    /// used its token).
    pub invite_hash: Option<Vec<u8>>,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// The invite of an enrolment asked again, as it is now.
pub struct InviteNow {
    /// Its maker has been revoked.
    pub maker_revoked: bool,
    /// When it expires.
    pub expires_at: i64,
    /// The sealed keys it still holds.
    pub sealed_keys: Option<String>,
    /// Its team's `head_seq`.
    pub team_head: i64,
}

/// The answer to an enrolment asked again by the device that holds its token (see
/// [`super::Store::enrol`]): the same enrolment, or why not.
pub fn enrolment_again(
    holder: TokenHolder,
    invite_hash: &SecretHash,
    invite: &InviteNow,
    now: i64,
) -> Result<Enrolled, StoreError> {
    if holder.revoked || holder.invite_hash.as_deref() != Some(&invite_hash[..]) {
        return Err(StoreError::TokenTaken);
    }
    // The invite's own refusals, as for a first enrolment: a revoked lead's invites bring no one
    // back, and an expired invite's keys are forgotten.
    if invite.maker_revoked {
        return Err(StoreError::UnknownInvite);
    }
    if invite.expires_at <= now {
        return Err(StoreError::InviteExpired);
    }
    let sealed_keys = if holder.sealed {
        invite.sealed_keys.clone()
    } else {
        None
    };
    // Sealed without keys tells the device to make the team's key: only right while the team
    // has stored nothing (the first answer said so, and was lost). Once anything is stored, a
    // key exists that this device does not have.
    if holder.sealed && sealed_keys.is_none() && invite.team_head > 0 {
        return Err(StoreError::TokenTaken);
    }
    Ok(Enrolled {
        again: true,
        device_id: holder.device_id,
        team_id: holder.team_id,
        role: holder.role,
        sealed: holder.sealed,
        sealed_keys,
    })
}

/// The invite a lead's request names by its code's hash, as stored: its team, its maker (none:
/// the operator's), role, uses left and expiry.
pub struct StoredInvite {
    /// The team it admits to.
    pub team_pk: i64,
    /// The device that made it (none: the operator).
    pub created_by: Option<i64>,
    /// The role it gives.
    pub role: Role,
    /// Devices that may still join with it.
    pub uses_left: i64,
    /// When it stops working.
    pub expires_at: i64,
}

/// What the lead `lead_pk` of the team `team_pk` asking at `now` for an invite of `role`
/// gets, when its code names the stored invite `found`: nothing (`None`, a new code: make
/// it); the same invite again, when `found` is the one this lead made for this role; or a
/// refusal. An invite of another team, lead or role is not the same request
/// ([`StoreError::InviteCodeTaken`]: the same request id asked again for another role; the
/// code is made from the team and device too, so another team's or lead's would take a
/// SHA-256 collision).
/// One used up, cancelled or expired since is [`StoreError::InviteGone`]: its code no longer
/// admits anyone, so answering it as made would hand the lead a link that does not work.
pub fn invite_asked_again(
    found: Option<StoredInvite>,
    (team_pk, lead_pk): (i64, i64),
    role: Role,
    now: i64,
) -> Result<Option<InviteMade>, StoreError> {
    let Some(found) = found else {
        return Ok(None);
    };
    if found.team_pk != team_pk || found.created_by != Some(lead_pk) || found.role != role {
        return Err(StoreError::InviteCodeTaken);
    }
    match u32::try_from(found.uses_left) {
        Ok(uses_left) if uses_left > 0 && found.expires_at > now => Ok(Some(InviteMade::Again {
            role,
            uses_left,
            expires_at: found.expires_at,
        })),
        _ => Err(StoreError::InviteGone),
    }
}

#[cfg(test)]
mod invite_again_tests {
    use super::{InviteMade, StoreError, StoredInvite, invite_asked_again};
    use groundwork_protocol::Role;

    /// An invite of team 1 made by device 7 for canvassers, one use left, until 100.
    fn stored() -> StoredInvite {
        StoredInvite {
            team_pk: 1,
            created_by: Some(7),
            role: Role::Canvasser,
            uses_left: 1,
            expires_at: 100,
        }
    }

    #[test]
    fn only_this_leads_usable_invite_for_this_role_is_answered_again() {
        let ask =
            |found: Option<StoredInvite>, role, now| invite_asked_again(found, (1, 7), role, now);
        assert!(matches!(ask(None, Role::Canvasser, 50), Ok(None)));
        assert_eq!(
            ask(Some(stored()), Role::Canvasser, 99).ok().flatten(),
            Some(InviteMade::Again {
                role: Role::Canvasser,
                uses_left: 1,
                expires_at: 100
            })
        );
        let taken = [
            StoredInvite {
                team_pk: 2,
                ..stored()
            },
            StoredInvite {
                created_by: Some(8),
                ..stored()
            },
            StoredInvite {
                created_by: None,
                ..stored()
            },
        ];
        for found in taken {
            assert!(matches!(
                ask(Some(found), Role::Canvasser, 50),
                Err(StoreError::InviteCodeTaken)
            ));
        }
        assert!(matches!(
            ask(Some(stored()), Role::Lead, 50),
            Err(StoreError::InviteCodeTaken)
        ));
        for (found, now) in [
            (stored(), 100),
            (
                StoredInvite {
                    uses_left: 0,
                    ..stored()
                },
                50,
            ),
            (
                StoredInvite {
                    uses_left: -1,
                    ..stored()
                },
                50,
            ),
        ] {
            assert!(matches!(
                ask(Some(found), Role::Canvasser, now),
                Err(StoreError::InviteGone)
            ));
        }
    }
}

#[cfg(test)]
mod proof_tests {
    use super::{merge_proofs, served_proofs};

    #[test]
    fn the_first_proof_stays_and_later_ones_are_kept_one_per_device() {
        let served = |stored: Option<String>| served_proofs(stored.as_deref());
        assert_eq!(merge_proofs(None, None, 1), None);
        assert_eq!(merge_proofs(Some("*@a"), None, 2).as_deref(), Some("*@a"));
        assert_eq!(merge_proofs(None, Some("a"), 1).as_deref(), Some("*@a"));
        // Later proofs go first; a device's later proof replaces its own, never the first.
        let two = merge_proofs(Some("*@a"), Some("b"), 1);
        assert_eq!(served(two.clone()).as_deref(), Some("b a"));
        assert_eq!(
            served(merge_proofs(two.as_deref(), Some("c"), 1)).as_deref(),
            Some("c a")
        );
        let three = merge_proofs(two.as_deref(), Some("c"), 2);
        assert_eq!(served(three).as_deref(), Some("c b a"));
        // A proof already kept is kept once.
        assert_eq!(
            served(merge_proofs(Some("2@b *@a"), Some("a"), 3)).as_deref(),
            Some("b a")
        );
        // At most four: the oldest later proof goes, the first stays.
        assert_eq!(
            served(merge_proofs(Some("4@d 3@c 2@b *@a"), Some("e"), 5)).as_deref(),
            Some("e d c a")
        );
        // One token giving junk over and over, even the token of the lead who gave the first
        // proof, never pushes it (or another device's) out.
        let mut kept = merge_proofs(None, Some("good"), 1);
        kept = merge_proofs(kept.as_deref(), Some("fine"), 2);
        for junk in ["j1", "j2", "j3", "j4", "j5"] {
            kept = merge_proofs(kept.as_deref(), Some(junk), 1);
        }
        assert_eq!(served(kept).as_deref(), Some("j5 fine good"));
        // Proofs stored before are served as they were; the oldest of them stays as the first.
        assert_eq!(served_proofs(Some("b a")).as_deref(), Some("b a"));
        assert_eq!(
            served(merge_proofs(Some("b a"), Some("c"), 1)).as_deref(),
            Some("c b a")
        );
        let legacy = merge_proofs(Some("d c b a"), Some("e"), 1);
        assert_eq!(legacy.as_deref(), Some("1@e d c *@a"));
    }
}
