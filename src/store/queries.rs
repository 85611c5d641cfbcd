//! Reading the projection tables: people lists, search, commitments, and whole tables for
//! export. Nothing here loads an Automerge document.

use chrono::NaiveDate;
use rusqlite::{Connection, Row};

use crate::error::{Error, Result};
use crate::ids::parse_id;
use crate::model::{
    Campaign, Commitment, CommitmentStatus, Conversation, Person, PersonFile, Shift,
};

fn from_json<T: serde::de::DeserializeOwned>(s: String) -> rusqlite::Result<T> {
    serde_json::from_str(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// The people table's columns as `p.<column>`, from the declaration of [`Person`].
fn person_cols() -> &'static str {
    static COLS: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| super::columns::select_list::<Person>("p"));
    &COLS
}

fn person_row(r: &Row<'_>) -> rusqlite::Result<Person> {
    super::columns::read_row(r, 0)
}

/// The conversations table's columns, from the declaration of [`Conversation`].
fn conversation_cols() -> &'static str {
    static COLS: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| super::columns::select_list::<Conversation>(""));
    &COLS
}

fn conversation_row(r: &Row<'_>) -> rusqlite::Result<Conversation> {
    super::columns::read_row(r, 0)
}

/// The commitments table's columns, from the declaration of [`Commitment`].
fn commitment_cols() -> &'static str {
    static COLS: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| super::columns::select_list::<Commitment>(""));
    &COLS
}

/// How many columns [`commitment_cols`] selects.
fn commitment_width() -> usize {
    <<Commitment as crate::fields::Record>::Field as crate::fields::FieldName>::ALL.len() + 1
}

fn commitment_row(r: &Row<'_>) -> rusqlite::Result<Commitment> {
    super::columns::read_row(r, 0)
}

fn campaign_row(r: &Row<'_>) -> rusqlite::Result<Campaign> {
    Ok(Campaign {
        id: r.get(0)?,
        name: r.get(1)?,
        issue: r.get(2)?,
        targets: from_json(r.get(3)?)?,
        created_at: r.get(4)?,
        conflicts: from_json(r.get(5)?)?,
    })
}

fn shift_row(r: &Row<'_>) -> rusqlite::Result<Shift> {
    Ok(Shift {
        id: r.get(0)?,
        campaign_id: r.get(1)?,
        place: r.get(2)?,
        canvasser: r.get(3)?,
        started_at: r.get(4)?,
        ended_at: r.get(5)?,
        conflicts: from_json(r.get(6)?)?,
    })
}

fn all<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: fn(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, map)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(crate) fn person_file(conn: &Connection, id: &str) -> Result<PersonFile> {
    let id = parse_id(id)?;
    let person = all(
        conn,
        &format!("SELECT {} FROM people p WHERE p.id = ?1", person_cols()),
        [&id],
        person_row,
    )?
    .pop()
    .ok_or_else(|| Error::NotFound {
        kind: "person",
        id: id.clone(),
    })?;
    let conversations = all(
        conn,
        &format!(
            "SELECT {cols} FROM conversations WHERE person_id = ?1 ORDER BY at, id",
            cols = conversation_cols()
        ),
        [&id],
        conversation_row,
    )?;
    let commitments = all(
        conn,
        &format!(
            "SELECT {cols} FROM commitments WHERE person_id = ?1 ORDER BY created_at, id",
            cols = commitment_cols()
        ),
        [&id],
        commitment_row,
    )?;
    Ok(PersonFile {
        person,
        conversations,
        commitments,
    })
}

/// A person's conversations, oldest first.
pub(crate) fn conversations_of(conn: &Connection, person_id: &str) -> Result<Vec<Conversation>> {
    all(
        conn,
        &format!(
            "SELECT {cols} FROM conversations WHERE person_id = ?1 ORDER BY at, id",
            cols = conversation_cols()
        ),
        [person_id],
        conversation_row,
    )
}

/// A person's commitments, oldest first.
pub(crate) fn commitments_of(conn: &Connection, person_id: &str) -> Result<Vec<Commitment>> {
    all(
        conn,
        &format!(
            "SELECT {cols} FROM commitments WHERE person_id = ?1 ORDER BY created_at, id",
            cols = commitment_cols()
        ),
        [person_id],
        commitment_row,
    )
}

pub(crate) fn recent_people(conn: &Connection, limit: usize) -> Result<Vec<Person>> {
    all(
        conn,
        &format!(
            "SELECT {} FROM people p ORDER BY p.updated_at DESC, p.id LIMIT ?1",
            person_cols()
        ),
        [limit as i64],
        person_row,
    )
}

pub(crate) fn all_people(conn: &Connection) -> Result<Vec<Person>> {
    all(
        conn,
        &format!("SELECT {} FROM people p ORDER BY p.id", person_cols()),
        [],
        person_row,
    )
}

/// Conversation `id`, or `Error::NotFound`.
pub(crate) fn conversation(conn: &Connection, id: &str) -> Result<Conversation> {
    let id = parse_id(id)?;
    all(
        conn,
        &format!(
            "SELECT {cols} FROM conversations WHERE id = ?1",
            cols = conversation_cols()
        ),
        [&id],
        conversation_row,
    )?
    .pop()
    .ok_or(Error::NotFound {
        kind: "conversation",
        id,
    })
}

/// Commitment `id`, or `Error::NotFound`.
pub(crate) fn commitment(conn: &Connection, id: &str) -> Result<Commitment> {
    let id = parse_id(id)?;
    all(
        conn,
        &format!(
            "SELECT {cols} FROM commitments WHERE id = ?1",
            cols = commitment_cols()
        ),
        [&id],
        commitment_row,
    )?
    .pop()
    .ok_or(Error::NotFound {
        kind: "commitment",
        id,
    })
}

pub(crate) fn all_conversations(conn: &Connection) -> Result<Vec<Conversation>> {
    all(
        conn,
        &format!(
            "SELECT {cols} FROM conversations ORDER BY id",
            cols = conversation_cols()
        ),
        [],
        conversation_row,
    )
}

pub(crate) fn all_commitments(conn: &Connection) -> Result<Vec<Commitment>> {
    all(
        conn,
        &format!(
            "SELECT {cols} FROM commitments ORDER BY id",
            cols = commitment_cols()
        ),
        [],
        commitment_row,
    )
}

pub(crate) fn campaigns(conn: &Connection) -> Result<Vec<Campaign>> {
    all(
        conn,
        "SELECT id, name, issue, targets, created_at, conflicts FROM campaigns ORDER BY id",
        [],
        campaign_row,
    )
}

pub(crate) fn shifts(conn: &Connection) -> Result<Vec<Shift>> {
    all(
        conn,
        "SELECT id, campaign_id, place, canvasser, started_at, ended_at, conflicts FROM shifts ORDER BY id",
        [],
        shift_row,
    )
}

/// Which commitments to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitmentFilter {
    /// Only this status.
    pub status: Option<CommitmentStatus>,
    /// Only those due strictly before this date.
    pub due_before: Option<NaiveDate>,
    /// Only this person's.
    pub person_id: Option<String>,
}

/// The parameters of a commitment filter: status, due before, person.
type FilterParams = (Option<&'static str>, Option<String>, Option<String>);

/// The commitments matching `f`, as SQL and its parameters, soonest due first.
fn commitments_sql(f: &CommitmentFilter) -> Result<(String, FilterParams)> {
    let person = f.person_id.as_deref().map(parse_id).transpose()?;
    let sql = format!(
        "SELECT {cols} FROM commitments
         WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR due < ?2) AND (?3 IS NULL OR person_id = ?3)
         ORDER BY due IS NULL, due, created_at, id", cols = commitment_cols());
    Ok((
        sql,
        (
            f.status.map(|s| s.as_str()),
            f.due_before.map(|d| d.to_string()),
            person,
        ),
    ))
}

pub(crate) fn commitments(conn: &Connection, f: &CommitmentFilter) -> Result<Vec<Commitment>> {
    let (sql, params) = commitments_sql(f)?;
    all(conn, &sql, params, commitment_row)
}

/// The commitments matching `f` with the name of the person who made each, in one query.
pub(crate) fn commitments_with_names(
    conn: &Connection,
    f: &CommitmentFilter,
) -> Result<Vec<(Commitment, String)>> {
    let (sql, params) = commitments_sql(f)?;
    let sql = format!(
        "SELECT c.*, coalesce((SELECT name FROM people WHERE people.id = c.person_id), '')
         FROM ({sql}) c"
    );
    all(conn, &sql, params, |r| {
        Ok((commitment_row(r)?, r.get(commitment_width())?))
    })
}

/// Turn what a person typed into an FTS5 query: every word must match, each as a prefix.
/// Quotes keep FTS5's own syntax (AND, OR, NEAR, column filters, `*`) out of user input.
pub(crate) fn fts_query(input: &str) -> Option<String> {
    let words: Vec<String> = input
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{w}\"*"))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

pub(crate) fn search(conn: &Connection, query: &str, limit: usize) -> Result<Vec<Person>> {
    let Some(q) = fts_query(query) else {
        return Ok(Vec::new());
    };
    all(
        conn,
        &format!(
            "SELECT {} FROM people_fts f JOIN people p ON p.rowid = f.rowid
             WHERE people_fts MATCH ?1
             ORDER BY bm25(people_fts, 10.0, 4.0, 3.0, 3.0, 2.0, 1.0), p.updated_at DESC, p.id
             LIMIT ?2",
            person_cols()
        ),
        (q, limit as i64),
        person_row,
    )
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn user_input_never_reaches_fts_syntax() {
        assert_eq!(
            fts_query("Ann  o'Brien"),
            Some("\"Ann\"* \"o\"* \"Brien\"*".into())
        );
        assert_eq!(
            fts_query("name:x OR \"y"),
            Some("\"name\"* \"x\"* \"OR\"* \"y\"*".into())
        );
        assert_eq!(fts_query(" -*- "), None);
    }
}
