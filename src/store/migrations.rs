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
