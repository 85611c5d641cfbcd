//! The sync plan: pure functions from the outbox, the cursor and the relay's answer to what to
//! send, what to store and whether to go round again. No I/O, so every rule here is tested
//! directly.
//!
//! Rules:
//! - A request pushes the oldest outbox changes, up to a byte budget (at least one change, so a
//!   large change still goes), and asks for everything after the cursor.
//! - Only the changes the relay acknowledged leave the outbox.
//! - Pulled changes are handed to the store in the relay's order, each with the device that
//!   pushed it (the store judges each change on its own); the cursor moves to the relay's
//!   cursor in the same transaction as the changes, never backwards.
//! - Go round again while the relay says `more` or the outbox had changes left unsent.

use std::collections::HashMap;

use groundwork_protocol::{BlobId, PulledChange, PushItem, Pusher, SyncRequest, SyncResponse};

use crate::store::Outgoing;

/// How much one request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Bytes of change data pushed per request (before compression).
    pub push_bytes: usize,
    /// Bytes of change data the relay may answer with (`max_bytes`).
    pub pull_bytes: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            push_bytes: 1 << 20,
            pull_bytes: 1 << 20,
        }
    }
}

/// One request, and which outbox rows it carries (by blob id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// The request to send.
    pub request: SyncRequest,
    /// Blob id → the outbox changes it carries (their hashes), for acknowledgements.
    pub carried: HashMap<BlobId, Vec<String>>,
    /// Whether outbox rows were left for a later request.
    pub left_behind: bool,
}

/// Build the next request from the oldest outbox blobs and the cursor; `actor` is the actor id
/// this device's changes carry.
pub fn next_request(outbox: &[Outgoing], cursor: u64, budget: Budget, actor: &[u8]) -> Planned {
    let mut push = Vec::new();
    let mut carried = HashMap::new();
    let mut bytes = 0usize;
    for item in outbox {
        if !push.is_empty() && bytes + item.bytes.len() > budget.push_bytes {
            break;
        }
        bytes += item.bytes.len();
        let p = PushItem::new(item.doc_id.clone(), item.bytes.clone());
        carried.insert(p.id, item.change_hashes.clone());
        push.push(p);
    }
    let left_behind = push.len() < outbox.len();
    Planned {
        request: SyncRequest {
            since: cursor,
            push,
            max_bytes: Some(budget.pull_bytes),
            actor: actor.to_vec(),
        },
        carried,
        left_behind,
    }
}

/// What to do with an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Absorb {
    /// Change hashes to drop from the outbox.
    pub acknowledged: Vec<String>,
    /// Pulled changes in the relay's order.
    pub changes: Vec<PulledChange>,
    /// The devices that pushed them (`PulledChange::pusher` indexes this).
    pub pushers: Vec<Pusher>,
    /// The cursor to store with the applied changes.
    pub cursor: u64,
    /// Whether to send another request now.
    pub again: bool,
}

/// An answer that cannot be right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The relay answered a push without storing any of it or sending anything new.
    #[error(
        "the relay answered without storing any of this device's changes or sending anything new: it may be broken, or not a Groundwork relay. Nothing is lost (the changes wait on this device): tell whoever runs the relay"
    )]
    PushIgnored,
    /// The relay's cursor went backwards: it lost data or is another relay.
    #[error(
        "the relay's log is behind this device (it answered position {relay}, this device has {device}); the relay may have been restored from an old backup: tell whoever runs it"
    )]
    CursorWentBack {
        /// The relay's cursor.
        relay: u64,
        /// This device's cursor.
        device: u64,
    },
}

/// Turn the relay's answer to `planned` into what to store.
pub fn absorb(planned: &Planned, response: SyncResponse) -> Result<Absorb, PlanError> {
    if response.cursor < planned.request.since {
        return Err(PlanError::CursorWentBack {
            relay: response.cursor,
            device: planned.request.since,
        });
    }
    let acknowledged = response
        .accepted
        .iter()
        .filter_map(|id| planned.carried.get(id))
        .flatten()
        .cloned()
        .collect();
    // An honest relay stores a push whole (and its log moves past it) or refuses it with an
    // error; an answer taking none of it and sending nothing new would have the device send
    // the same push for ever.
    let took_some = planned
        .request
        .push
        .iter()
        .any(|p| response.accepted.contains(&p.id));
    let moved = response.cursor > planned.request.since;
    if !planned.request.push.is_empty() && !took_some && !moved {
        return Err(PlanError::PushIgnored);
    }
    let progressed = moved || took_some;
    Ok(Absorb {
        acknowledged,
        changes: response.changes,
        pushers: response.pushers,
        cursor: response.cursor,
        again: progressed && (response.more || planned.left_behind),
    })
}

#[cfg(test)]
mod tests {
    use groundwork_protocol::{PulledChange, blob_digest};

    use super::*;

    fn item(seq: i64, doc: &str, size: usize) -> Outgoing {
        Outgoing {
            doc_id: doc.into(),
            change_hashes: vec![format!("hash{seq}")],
            bytes: vec![seq as u8; size],
        }
    }

    fn pulled(seq: u64, doc: &str, blob: &[u8]) -> PulledChange {
        PulledChange {
            seq,
            id: blob_digest(blob),
            doc_id: doc.into(),
            pusher: 0,
            blob: blob.to_vec(),
            snapshot: false,
        }
    }

    #[test]
    fn pushes_the_oldest_changes_within_the_budget_but_always_one() {
        let outbox = vec![item(1, "a", 600), item(2, "b", 600), item(3, "a", 600)];
        let budget = Budget {
            push_bytes: 1300,
            pull_bytes: 10,
        };
        let p = next_request(&outbox, 7, budget, b"me");
        assert_eq!(p.request.since, 7);
        assert_eq!(p.request.actor, b"me".to_vec());
        assert_eq!(p.request.push.len(), 2);
        assert_eq!(p.request.push[0].doc_id, "a");
        assert!(p.left_behind);
        let tiny = Budget {
            push_bytes: 1,
            pull_bytes: 10,
        };
        assert_eq!(next_request(&outbox, 0, tiny, b"me").request.push.len(), 1);
        assert!(!next_request(&[], 0, tiny, b"me").left_behind);
    }

    #[test]
    fn only_acknowledged_changes_leave_the_outbox() {
        let outbox = vec![item(1, "a", 10), item(2, "b", 10)];
        let p = next_request(&outbox, 0, Budget::default(), b"me");
        let first = p.request.push[0].id;
        let response = SyncResponse {
            pushers: vec![],
            accepted: vec![first, blob_digest(b"not ours")],
            changes: vec![],
            cursor: 0,
            more: false,
        };
        let a = absorb(&p, response).unwrap();
        assert_eq!(a.acknowledged, vec!["hash1".to_string()]);
        assert!(!a.again);
    }

    #[test]
    fn a_push_the_relay_takes_none_of_without_moving_is_an_error_not_sent_for_ever() {
        let outbox = vec![item(1, "a", 10), item(2, "b", 10)];
        let p = next_request(&outbox, 5, Budget::default(), b"me");
        let ignored = SyncResponse {
            pushers: vec![],
            accepted: vec![blob_digest(b"not ours")],
            changes: vec![],
            cursor: 5,
            more: true,
        };
        assert_eq!(absorb(&p, ignored), Err(PlanError::PushIgnored));
        // Taking none of it while its log moved on is progress: the next round sends it again.
        let moved = SyncResponse {
            pushers: vec![],
            accepted: vec![],
            changes: vec![],
            cursor: 6,
            more: true,
        };
        assert!(absorb(&p, moved).unwrap().again);
    }

    #[test]
    fn a_blob_carrying_several_changes_acknowledges_them_all() {
        let outbox = vec![
            Outgoing {
                doc_id: "a".into(),
                change_hashes: vec!["h1".into(), "h3".into()],
                bytes: vec![1; 10],
            },
            item(2, "b", 10),
        ];
        let p = next_request(&outbox, 0, Budget::default(), b"me");
        let response = SyncResponse {
            pushers: vec![],
            accepted: vec![p.request.push[0].id],
            changes: vec![],
            cursor: 0,
            more: false,
        };
        let a = absorb(&p, response).unwrap();
        assert_eq!(a.acknowledged, vec!["h1".to_string(), "h3".to_string()]);
    }

    #[test]
    fn pulled_changes_keep_the_relays_order_and_pushers() {
        let p = next_request(&[], 3, Budget::default(), b"me");
        let pushers = vec![Pusher {
            actor: b"sam".to_vec(),
            name: "Sam".into(),
        }];
        let changes = vec![
            pulled(4, "x", b"1"),
            pulled(5, "y", b"2"),
            pulled(6, "x", b"3"),
        ];
        let response = SyncResponse {
            accepted: vec![],
            pushers: pushers.clone(),
            changes: changes.clone(),
            cursor: 6,
            more: true,
        };
        let a = absorb(&p, response).unwrap();
        assert_eq!(a.changes, changes);
        assert_eq!(a.pushers, pushers);
        assert_eq!(a.cursor, 6);
        assert!(a.again, "more to pull");
    }

    #[test]
    fn a_cursor_going_back_is_an_error_and_no_progress_stops() {
        let p = next_request(&[], 10, Budget::default(), b"me");
        let back = SyncResponse {
            pushers: vec![],
            accepted: vec![],
            changes: vec![],
            cursor: 9,
            more: false,
        };
        assert!(matches!(
            absorb(&p, back),
            Err(PlanError::CursorWentBack {
                relay: 9,
                device: 10
            })
        ));
        // A relay that says `more` without moving would loop forever: stop.
        let stuck = SyncResponse {
            pushers: vec![],
            accepted: vec![],
            changes: vec![],
            cursor: 10,
            more: true,
        };
        assert!(!absorb(&p, stuck).unwrap().again);
    }
}
