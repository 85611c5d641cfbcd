//! What both backends compute the same way, whatever holds the rows: integer conversions at the
//! database's edge, the cursor check, an erasure order's confirmation count, and filling a page
//! of pulled blobs up to its byte budget.

use groundwork_protocol::Erasure;

use super::{StoreError, StoredBlob, SyncPage};

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
        proof,
    }
}

/// Most proofs kept for one erasure order.
pub const MAX_PROOFS_KEPT: usize = 4;

/// The proofs kept for an order (space-separated, newest first) once `new` is given: it goes
/// first (once), and at most [`MAX_PROOFS_KEPT`] stay. The relay cannot tell a lead's proof
/// from junk, so it keeps several: one junk proof cannot push out a good one.
pub fn merge_proofs(kept: Option<&str>, new: Option<&str>) -> Option<String> {
    let Some(new) = new else {
        return kept.map(str::to_owned);
    };
    let mut all = vec![new];
    all.extend(
        kept.unwrap_or_default()
            .split_whitespace()
            .filter(|p| *p != new),
    );
    all.truncate(MAX_PROOFS_KEPT);
    Some(all.join(" "))
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

#[cfg(test)]
mod proof_tests {
    use super::merge_proofs;

    #[test]
    fn proofs_are_kept_newest_first_once_each_and_at_most_four() {
        assert_eq!(merge_proofs(None, None), None);
        assert_eq!(merge_proofs(Some("a"), None).as_deref(), Some("a"));
        assert_eq!(merge_proofs(None, Some("a")).as_deref(), Some("a"));
        assert_eq!(merge_proofs(Some("a"), Some("b")).as_deref(), Some("b a"));
        assert_eq!(merge_proofs(Some("b a"), Some("a")).as_deref(), Some("a b"));
        assert_eq!(
            merge_proofs(Some("d c b a"), Some("e")).as_deref(),
            Some("e d c b")
        );
    }
}
