//! The rule that shares a bounded room between the devices whose pulled work has to wait here:
//! blobs waiting for a key (`awaiting_key`, [`super::opening`]) and changes waiting for the
//! changes they depend on (`waiting`, [`super::intake`]), the list of changes refused for
//! want of room in the latter, and the list of the other refusals ([`super::refused`]). Anyone in a team can push work that
//! waits for ever, so each room is bounded; once it is full, the device keeping the most gives
//! up its oldest for another device's newcomer while it keeps more than the newcomer's device
//! would. A device can fill at most half of a room while another needs it.

use std::collections::HashMap;

use rusqlite::Connection;

use crate::error::Result;

/// How many rows each pusher (hex actor; `None`: the relay named none) keeps in a room.
pub(crate) type Counts = HashMap<Option<String>, i64>;

/// A room: a table with a `pusher_actor` column.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Room {
    /// `awaiting_key`: blobs waiting for their writer's key or a key record.
    AwaitingKey,
    /// `waiting`: changes waiting for the changes they depend on.
    Waiting,
    /// The list of changes refused for want of room in `waiting` (rows of `quarantine`, kept
    /// without their bytes): bounded too, or a flood past the room would grow it instead.
    RefusedToWait,
    /// The rest of `quarantine`: refusals that are judgements, and blobs refused for want of
    /// room to wait for a key ([`super::refused`]).
    Refused,
}

/// The counts of `room` by pusher, read from its table.
pub(crate) fn counts(conn: &Connection, room: Room) -> Result<Counts> {
    let sql = match room {
        Room::AwaitingKey => {
            "SELECT pusher_actor, count(*) FROM awaiting_key GROUP BY pusher_actor"
        }
        Room::Waiting => "SELECT pusher_actor, count(*) FROM waiting GROUP BY pusher_actor",
        Room::RefusedToWait => {
            "SELECT pusher_actor, count(*) FROM quarantine
             WHERE for_room AND change_hash IS NOT NULL GROUP BY pusher_actor"
        }
        Room::Refused => {
            "SELECT pusher_actor, count(*) FROM quarantine
             WHERE NOT (for_room AND change_hash IS NOT NULL) GROUP BY pusher_actor"
        }
    };
    let mut counts = HashMap::new();
    let mut stmt = conn.prepare_cached(sql)?;
    for row in stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))? {
        let (actor, n): (Option<String>, i64) = row?;
        counts.insert(actor, n);
    }
    Ok(counts)
}

/// The pusher that gives up its oldest for a newcomer pushed by `me`, if any: the one keeping
/// the most (ties to the smallest id, so that every device picks the same), when that is not
/// `me` and keeps more than `me` would with the newcomer.
pub(crate) fn gives_way(counts: &Counts, me: &Option<String>) -> Option<Option<String>> {
    let mine = counts.get(me).copied().unwrap_or(0);
    let (top, most) = counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))?;
    (top != me && *most > mine + 1).then(|| top.clone())
}

/// The pusher keeping the most (ties to the smallest id, as in [`gives_way`]), if any.
pub(crate) fn most(counts: &Counts) -> Option<Option<String>> {
    counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(top, _)| top.clone())
}

/// Note `delta` more rows of `pusher` in a room whose counts are known.
pub(crate) fn count(counts: &mut Option<Counts>, pusher: Option<String>, delta: i64) {
    if let Some(counts) = counts.as_mut() {
        *counts.entry(pusher).or_insert(0) += delta;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(pairs: &[(Option<&str>, i64)]) -> Counts {
        pairs
            .iter()
            .map(|(k, v)| (k.map(str::to_owned), *v))
            .collect()
    }

    #[test]
    fn the_device_keeping_the_most_gives_way_while_it_keeps_more_than_the_newcomers() {
        let counts = of(&[(Some("aa"), 10), (Some("bb"), 3)]);
        assert_eq!(
            gives_way(&counts, &Some("bb".into())),
            Some(Some("aa".into()))
        );
        assert_eq!(
            gives_way(&counts, &Some("cc".into())),
            Some(Some("aa".into()))
        );
        assert_eq!(
            gives_way(&counts, &Some("aa".into())),
            None,
            "not for its own"
        );
        // Equal after the newcomer: no one gives way.
        let even = of(&[(Some("aa"), 4), (Some("bb"), 3)]);
        assert_eq!(gives_way(&even, &Some("bb".into())), None);
        assert_eq!(gives_way(&Counts::new(), &None), None);
    }

    #[test]
    fn a_tie_goes_to_the_smallest_id_on_every_device() {
        let counts = of(&[(Some("bb"), 5), (Some("aa"), 5), (None, 1)]);
        assert_eq!(gives_way(&counts, &None), Some(Some("aa".into())));
    }
}
