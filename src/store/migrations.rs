//! Numbered schema migrations, each applied in its own transaction.
//!
//! The schema version is SQLite's `user_version`. Migration N takes the schema from version
//! N-1 to N. A shipped migration is never edited; a change is a new file.

use rusqlite::Connection;

use crate::error::{Error, Result};

/// The migrations, in order: index 0 is schema version 1.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_relay.sql"),
    include_str!("migrations/0003_integrity.sql"),
    include_str!("migrations/0004_languages.sql"),
    include_str!("migrations/0005_commitment_targets.sql"),
    include_str!("migrations/0006_people_filters.sql"),
    include_str!("migrations/0007_roles_erasure.sql"),
    include_str!("migrations/0008_team_keys.sql"),
    include_str!("migrations/0009_push_records.sql"),
    include_str!("migrations/0010_revocation_cutoffs.sql"),
    include_str!("migrations/0011_walk_lists.sql"),
    include_str!("migrations/0012_team_keys_per_epoch.sql"),
    include_str!("migrations/0013_compaction.sql"),
    include_str!("migrations/0014_root_of_trust.sql"),
    include_str!("migrations/0015_trust_hardening.sql"),
    include_str!("migrations/0016_doc_keys.sql"),
    include_str!("migrations/0017_search_stale.sql"),
    include_str!("migrations/0018_rows_keyed_by_owner.sql"),
    include_str!("migrations/0019_refused_for_room.sql"),
    include_str!("migrations/0020_push_records_bound.sql"),
];

/// The schema version from which deleted content is overwritten (`secure_delete`).
const SECURE_DELETE_SINCE: i64 = 7;

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// Bring the database up to [`LATEST`]. Refuses a database newer than this build.
pub fn migrate(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > LATEST {
        return Err(Error::SchemaTooNew {
            found: current,
            known: LATEST,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    // Schema 7 turned `secure_delete` on; what was deleted before it may still lie in free
    // space of the file. Rewriting the file once leaves none of it.
    // The rewrite is best effort: a notebook that cannot be rewritten now (no room for the
    // copy) still opens, and every deletion from now on is overwritten anyway.
    // When it fails, it is owed, and tried again after the next erasure (`Store::scrub`).
    if (1..SECURE_DELETE_SINCE).contains(&current)
        && LATEST >= SECURE_DELETE_SINCE
        && conn
            .execute_batch("PRAGMA temp_store = MEMORY; VACUUM;")
            .is_err()
    {
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('vacuum_owed', '1')
             ON CONFLICT (key) DO UPDATE SET value = '1'",
            [],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Schema 18 rebuilds four tables: every row and its rowid come through, and a record
    /// copied under the same id into another owner gets a row of its own afterwards.
    #[test]
    fn rows_keyed_by_owner_keep_every_row() {
        let mut conn = Connection::open_in_memory().unwrap();
        for (i, sql) in MIGRATIONS.iter().enumerate().take(17) {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", i as i64 + 1)
                .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO conversations (rowid, id, person_id, at, kind, canvasser, issues,
                                        story, created_at, conflicts)
                 VALUES (7, 'c1', 'p1', '2026-12-01T10:00:00Z', 'doorstep', 'Sam', '[]',
                         'the heating', '2026-12-01T10:00:00Z', '{}');
             INSERT INTO commitments (rowid, id, person_id, conversation_id, what, status,
                                      created_at, status_at, conflicts, target)
                 VALUES (9, 'k1', 'p1', 'c1', 'come', 'open', 'x', 'x', '{}', 'letters');
             INSERT INTO doors (rowid, id, walklist_id, address, key, conflicts, residents)
                 VALUES (3, 'd1', 'w1', '1 Elm Road', 'elm1', '{}', '[\"Ann\"]');
             INSERT INTO door_visits (rowid, id, walklist_id, door_id, outcome, at, canvasser,
                                      note, conflicts)
                 VALUES (4, 'v1', 'w1', 'd1', 'out', 'x', 'Sam', 'dog', '{}');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let row = |sql: &str| -> String { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(
            row("SELECT rowid || id || person_id || story FROM conversations"),
            "7c1p1the heating"
        );
        assert_eq!(
            row("SELECT rowid || id || conversation_id || target FROM commitments"),
            "9k1c1letters"
        );
        assert_eq!(
            row("SELECT rowid || id || walklist_id || residents FROM doors"),
            "3d1w1[\"Ann\"]"
        );
        assert_eq!(
            row("SELECT rowid || id || door_id || note FROM door_visits"),
            "4v1d1dog"
        );
        // The same id under another owner is a second row; under the same owner, refused.
        conn.execute_batch(
            "INSERT INTO conversations (id, person_id, at, kind, canvasser, issues,
                                        created_at, conflicts)
                 VALUES ('c1', 'p2', 'x', 'doorstep', 'Sam', '[]', 'x', '{}');",
        )
        .unwrap();
        assert!(
            conn.execute_batch(
                "INSERT INTO conversations (id, person_id, at, kind, canvasser, issues,
                                            created_at, conflicts)
                     VALUES ('c1', 'p1', 'x', 'doorstep', 'Sam', '[]', 'x', '{}');",
            )
            .is_err()
        );
        let indexes: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index'
                   AND tbl_name IN ('conversations', 'commitments', 'doors', 'door_visits')
                   AND sql IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 11);
    }

    /// Schema 19 marks the refusals made for want of room before it, by their reasons.
    #[test]
    fn refusals_for_want_of_room_made_before_are_marked() {
        let mut conn = Connection::open_in_memory().unwrap();
        for (i, sql) in MIGRATIONS.iter().enumerate().take(18) {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", i as i64 + 1)
                .unwrap();
        }
        let mut add = conn
            .prepare(
                "INSERT INTO quarantine (blob_id, doc_id, reason, bytes, received_at)
                 VALUES (?1, 'd', ?2, x'00', 'x')",
            )
            .unwrap();
        for (id, reason) in [
            (
                "a",
                "its writer's key has not come; and more than 20000 changes already wait for keys here",
            ),
            (
                "b",
                "it waited for a key with more than 20000 other changes, most of them pushed by the same device, and made room for a change pushed by another",
            ),
            ("c", "its signature does not match its writer's key"),
        ] {
            add.execute([id, reason]).unwrap();
        }
        drop(add);
        migrate(&mut conn).unwrap();
        let marked: Vec<String> = conn
            .prepare("SELECT blob_id FROM quarantine WHERE for_room ORDER BY blob_id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(marked, ["a", "b"]);
    }
}
