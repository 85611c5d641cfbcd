//! The People screen's filter choices (`filter_choices`, schema 20): how many rows of `people`
//! hold each area and tag, and how many rows of `conversations` each issue, kept by the code
//! that writes those rows (the projections and erasure) so that the screen reads a small table
//! instead of every row's JSON.
//!
//! Counted here rather than by triggers: a trigger on a table makes every write to it keep a
//! statement journal (SQLite's copy of each page the statement touches, in case it must be
//! undone alone), which cost the phone's first sync of 10,000 people about 0.4 s.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension};

use crate::error::Result;

/// Changes to the counts, gathered while rows are written and applied together.
#[derive(Debug, Default)]
pub(crate) struct Tally(BTreeMap<(&'static str, String), i64>);

impl Tally {
    /// A person's row with `area` and `tags` written (`by` 1) or gone (`by` -1).
    pub(crate) fn person(&mut self, area: Option<&str>, tags: &[String], by: i64) {
        if let Some(area) = area {
            self.add("area", area, by);
        }
        for tag in tags {
            self.add("tag", tag, by);
        }
    }

    /// A conversation's row with `issues` written (`by` 1) or gone (`by` -1).
    pub(crate) fn issues(&mut self, issues: &[String], by: i64) {
        for issue in issues {
            self.add("issue", issue, by);
        }
    }

    fn add(&mut self, kind: &'static str, value: &str, by: i64) {
        *self.0.entry((kind, value.to_string())).or_default() += by;
    }

    /// The person row `id` as it is now (nothing if there is none), counted by `by`.
    pub(crate) fn person_row(&mut self, conn: &Connection, id: &str, by: i64) -> Result<()> {
        let row: Option<(Option<String>, String)> = conn
            .prepare_cached("SELECT area, tags FROM people WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((area, tags)) = row {
            self.person(area.as_deref(), &json_list(&tags), by);
        }
        Ok(())
    }

    /// The issues of person `person_id`'s conversation rows as they are now (every one, or
    /// only `ids`), counted by `by`.
    pub(crate) fn conversation_rows(
        &mut self,
        conn: &Connection,
        person_id: &str,
        ids: Option<&[String]>,
        by: i64,
    ) -> Result<()> {
        match ids {
            None => {
                let mut stmt =
                    conn.prepare_cached("SELECT issues FROM conversations WHERE person_id = ?1")?;
                let rows = stmt.query_map([person_id], |r| r.get::<_, String>(0))?;
                for issues in rows {
                    self.issues(&json_list(&issues?), by);
                }
            }
            Some(ids) => {
                let mut stmt = conn.prepare_cached(
                    "SELECT issues FROM conversations WHERE id = ?1 AND person_id = ?2",
                )?;
                for id in ids {
                    let issues: Option<String> = stmt
                        .query_row([id.as_str(), person_id], |r| r.get(0))
                        .optional()?;
                    if let Some(issues) = issues {
                        self.issues(&json_list(&issues), by);
                    }
                }
            }
        }
        Ok(())
    }

    /// Write the changes: a value whose count reaches nought is deleted (an erased person's
    /// own tag does not stay behind in the file; `secure_delete` overwrites it).
    pub(crate) fn apply(self, conn: &Connection) -> Result<()> {
        let mut add = conn.prepare_cached(
            "INSERT INTO filter_choices (kind, value, n) VALUES (?1, ?2, ?3)
             ON CONFLICT (kind, value) DO UPDATE SET n = n + excluded.n",
        )?;
        let mut drop = conn.prepare_cached(
            "DELETE FROM filter_choices WHERE kind = ?1 AND value = ?2 AND n <= 0",
        )?;
        for ((kind, value), by) in self.0 {
            if by == 0 {
                continue;
            }
            add.execute((kind, &value, by))?;
            if by < 0 {
                drop.execute((kind, &value))?;
            }
        }
        Ok(())
    }
}

/// The text members of a JSON array as the projections write it (`["a","b"]`); anything else
/// counts as none, as `json_each`'s text values would.
fn json_list(json: &str) -> Vec<String> {
    match serde_json::from_str::<Vec<serde_json::Value>>(json) {
        Ok(values) => values
            .into_iter()
            .filter_map(|v| match v {
                serde_json::Value::String(s) => Some(s),
                _ => None,
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}
