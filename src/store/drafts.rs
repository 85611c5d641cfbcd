//! Drafts: what a form holds while it is being typed, by key, never synced.

use rusqlite::OptionalExtension;

use super::Store;
use crate::error::Result;

/// Key prefix of conversation drafts (`conversation:{person id}`).
pub const CONVERSATION_PREFIX: &str = "conversation:";
/// Key prefix of drafts of changes to a person's details (`person-edit:{person id}`).
pub const EDIT_PREFIX: &str = "person-edit:";

/// The keys of every draft typed about `person_id` (what erasure deletes and subject access
/// shows).
pub fn person_draft_keys(person_id: &str) -> [String; 2] {
    [
        format!("{CONVERSATION_PREFIX}{person_id}"),
        format!("{EDIT_PREFIX}{person_id}"),
    ]
}

impl Store {
    /// Save the text of a draft under `key` (replacing what was there). A draft about a person
    /// erased from this notebook (`conversation:ID`, `person-edit:ID`; a form left open when
    /// the erasure arrived) is not kept.
    pub fn save_draft(&self, key: &str, body: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO drafts (key, body, updated_at)
             SELECT ?1, ?2, ?3
             WHERE NOT EXISTS (SELECT 1 FROM erased WHERE doc_id = substr(?1, instr(?1, ':') + 1))
             ON CONFLICT (key) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
            (key, body, crate::model::format_time(chrono::Utc::now())),
        )?;
        Ok(())
    }

    /// The draft saved under `key`, if any.
    pub fn draft(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT body FROM drafts WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// The keys of the drafts whose key starts with `prefix`, in key order.
    pub fn draft_keys(&self, prefix: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT key FROM drafts WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key")?;
        let keys = stmt
            .query_map([prefix], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(keys)
    }

    /// Forget the draft under `key`.
    pub fn delete_draft(&self, key: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM drafts WHERE key = ?1", [key])?;
        Ok(())
    }
}
