//! Drafts: what a form holds while it is being typed, by key, never synced.

use rusqlite::OptionalExtension;

use super::Store;
use crate::error::Result;

/// Key prefix of conversation drafts (`conversation:{person id}`).
pub const CONVERSATION_PREFIX: &str = "conversation:";
/// Key prefix of drafts of changes to a person's details (`person-edit:{person id}`).
pub const EDIT_PREFIX: &str = "person-edit:";
/// Key prefix of drafts of corrections to a saved conversation or commitment
/// (`record-edit:{person id}:{record id}`).
pub const RECORD_EDIT_PREFIX: &str = "record-edit:";
/// Key prefix of the notes of forms already saved (`saved:{save key}`, the id made), kept
/// beside the drafts so that a form saved twice makes one record (`Writer::saved`).
pub const SAVED_PREFIX: &str = "saved:";
/// The first key after every [`SAVED_PREFIX`] key.
pub(crate) const SAVED_END: &str = "saved;";

/// The keys of the drafts typed about `person_id` that have one key each (erasure and subject
/// access also take those under [`person_draft_prefix`]).
pub fn person_draft_keys(person_id: &str) -> [String; 2] {
    [
        format!("{CONVERSATION_PREFIX}{person_id}"),
        format!("{EDIT_PREFIX}{person_id}"),
    ]
}

/// The prefix of the keys of corrections drafted in `person_id`'s file, one per record.
pub fn person_draft_prefix(person_id: &str) -> String {
    format!("{RECORD_EDIT_PREFIX}{person_id}:")
}

/// The person a draft's key is about: what follows its kind, up to the record's id if any
/// (`conversation:ID`, `person-edit:ID` and `record-edit:ID:RECORD` are about `ID`). The one
/// rule for the notebook's drafts and the page's copy of them (`ui::unsaved`).
pub fn person_of(key: &str) -> &str {
    let rest = key.split_once(':').map_or("", |(_, rest)| rest);
    rest.split_once(':').map_or(rest, |(person, _)| person)
}

/// How long the notes of saved forms are kept: a draft the page brings back is from the last
/// moments before a reload, never from a month ago.
const SAVED_NOTES_KEPT_DAYS: i64 = 30;

impl Store {
    /// Forget the notes of forms saved more than 30 days ago (`saved:KEY`). Called when the
    /// notebook is idle ([`Store::checkpoint`]): finding them reads every note, which a save
    /// did at first, at a cost that grew with every form saved (about 0.3 ms a save with 2,000
    /// notes; BENCHMARKS.md). Returns how many went.
    pub fn prune_saved_notes(&self) -> Result<usize> {
        // The clock the notes were stamped with (a seeded one in tests and demo data).
        let old = crate::model::format_time(
            self.source.peek() - chrono::Duration::days(SAVED_NOTES_KEPT_DAYS),
        );
        Ok(self
            .conn
            .prepare_cached("DELETE FROM drafts WHERE key >= ?1 AND key < ?2 AND updated_at < ?3")?
            .execute((SAVED_PREFIX, SAVED_END, old))?)
    }

    /// Save the text of a draft under `key` (replacing what was there). A draft about a person
    /// erased from this notebook (`conversation:ID`, `person-edit:ID`,
    /// `record-edit:ID:RECORD`; a form left open when the erasure arrived) is not kept.
    pub fn save_draft(&self, key: &str, body: &str) -> Result<()> {
        // The phone's worker writes drafts itself, not through `service::handle`.
        self.check_open()?;
        self.conn
            .prepare_cached(
                "INSERT INTO drafts (key, body, updated_at)
                 SELECT ?1, ?2, ?3
                 WHERE NOT EXISTS (SELECT 1 FROM erased WHERE doc_id = ?4)
                 ON CONFLICT (key) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
            )?
            .execute((
                key,
                body,
                crate::model::format_time(chrono::Utc::now()),
                person_of(key),
            ))?;
        Ok(())
    }

    /// The keys of every draft typed about `person_id`, in key order.
    pub fn person_drafts(&self, person_id: &str) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        for key in person_draft_keys(person_id) {
            if self.draft(&key)?.is_some() {
                keys.push(key);
            }
        }
        keys.extend(self.draft_keys(&person_draft_prefix(person_id))?);
        keys.sort();
        Ok(keys)
    }

    /// The draft saved under `key`, if any.
    pub fn draft(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT body FROM drafts WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    /// The keys of the drafts whose key starts with `prefix`, in key order (the notes of forms
    /// already saved, [`SAVED_PREFIX`], are not drafts: listed only when `prefix` asks for them).
    pub fn draft_keys(&self, prefix: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare(
            "SELECT key FROM drafts WHERE substr(key, 1, length(?1)) = ?1
                 AND (substr(key, 1, length(?2)) <> ?2 OR substr(?1, 1, length(?2)) = ?2)
                 ORDER BY key",
        )?;
        let keys = stmt
            .query_map([prefix, SAVED_PREFIX], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(keys)
    }

    /// Forget the draft under `key`.
    pub fn delete_draft(&self, key: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM drafts WHERE key = ?1")?
            .execute([key])?;
        Ok(())
    }
}
