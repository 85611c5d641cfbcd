//! Projections: the tables lists and searches read, rebuilt from a document after every change.
//!
//! A projection is a pure function of the document, so every device holding the same changes
//! builds the same rows, whatever order the changes arrived in.

use automerge::AutoCommit;
use rusqlite::{Connection, OptionalExtension};

use crate::docs::{self, DocKind};
use crate::error::{Error, Result};
use std::collections::BTreeMap;

use crate::fields::{FieldName, Record, Search, Type, Value};
use crate::model::{Campaign, Commitment, Conversation, Person, PersonFile, Shift, Visit};

/// Writes a conversation's projection row (see [`row`]).
static CONVERSATION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    super::columns::insert_owned::<Conversation>("conversations", "person_id")
});
/// Writes a commitment's projection row (see [`row`]).
static COMMITMENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    super::columns::insert_owned::<Commitment>("commitments", "person_id")
});

/// Rebuild the projections of document `doc_id`.
pub(crate) fn project(
    conn: &Connection,
    doc_id: &str,
    kind: Option<DocKind>,
    doc: &AutoCommit,
) -> Result<()> {
    match kind {
        Some(DocKind::Person) => person(conn, &docs::person::read(doc, doc_id)?),
        Some(DocKind::Campaign) => campaign(conn, &docs::campaign::read(doc, doc_id)?),
        Some(DocKind::Shift) => shift(conn, &docs::shift::read(doc, doc_id)?),
        Some(DocKind::WalkList) => walklist(conn, &docs::walklist::read(doc, doc_id)?),
        None => Ok(()),
    }
}

/// Rebuild the projections of a document already read whole (by
/// [`crate::docs::check::check_and_read`]).
pub(crate) fn project_read(conn: &Connection, read: &crate::docs::check::ReadDoc) -> Result<()> {
    use crate::docs::check::ReadDoc;
    match read {
        ReadDoc::Person(file) => person(conn, file),
        ReadDoc::Campaign(c) => campaign(conn, c),
        ReadDoc::Shift(s) => shift(conn, s),
        ReadDoc::WalkList(w) => walklist(conn, w),
    }
}

/// Add the text of every searched field of `r` to its search column.
fn index<R: Record>(columns: &mut BTreeMap<&'static str, Vec<String>>, r: &R) {
    for f in R::Field::ALL {
        if let Some(col) = f.spec().search {
            columns
                .entry(search_column(col))
                .or_default()
                .extend(search_text(f.spec().ty, r.value(*f)));
        }
    }
}

/// The people search index's column for `s`.
fn search_column(s: Search) -> &'static str {
    match s {
        Search::Name => "name",
        Search::Contact => "contact",
        Search::Place => "place",
        Search::Work => "work",
        Search::Issues => "issues",
        Search::Said => "said",
    }
}

/// The words a field's value puts into the search index; a phone number by its digits too,
/// so "07700900123" finds "07700 900123".
fn search_text(ty: Type, v: Value) -> Vec<String> {
    match v {
        Value::Text(s) if ty == Type::Phone => {
            let digits: String = s.chars().filter(char::is_ascii_digit).collect();
            vec![s, digits]
        }
        Value::Text(s) => vec![s],
        Value::Set(v) => v,
        Value::Map(m) => m.into_keys().collect(),
        Value::Counts(m) => m.into_keys().collect(),
        Value::Number(n) => vec![n.to_string()],
        Value::Empty | Value::Flag(_) => Vec::new(),
    }
}

fn person(conn: &Connection, file: &PersonFile) -> Result<()> {
    let p = &file.person;
    static UPSERT: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| super::columns::upsert::<Person>("people"));
    let rowid: i64 = conn.prepare_cached(&UPSERT)?.query_row(
        rusqlite::params_from_iter(super::columns::values(p)?),
        |r| r.get(0),
    )?;

    // Rewrite only the rows that changed: a new conversation is one insert, not a rewrite of
    // every row of the person (each rewrite dirties pages of the table and of every index).
    let old = super::queries::conversations_of(conn, &p.id)?;
    let mut insert = conn.prepare_cached(&CONVERSATION)?;
    let gone = changed_rows(old, &file.conversations, |c| &c.id, |c| row(&mut insert, c))?;
    delete_rows(conn, "conversations", "person_id", &p.id, &gone)?;

    let old = super::queries::commitments_of(conn, &p.id)?;
    let mut insert = conn.prepare_cached(&COMMITMENT)?;
    let gone = changed_rows(old, &file.commitments, |c| &c.id, |c| row(&mut insert, c))?;
    delete_rows(conn, "commitments", "person_id", &p.id, &gone)?;

    search_row(conn, rowid, file)
}

/// The records of a person file a local write added or changed (see [`person_written`]).
pub(crate) struct Written<'a> {
    /// Ids of the conversations written.
    pub conversations: &'a [String],
    /// Ids of the commitments written.
    pub commitments: &'a [String],
}

impl<'a> Written<'a> {
    /// A write of conversation `id` alone.
    pub(crate) fn conversation(id: &'a String) -> Self {
        Written {
            conversations: std::slice::from_ref(id),
            commitments: &[],
        }
    }

    /// A write of commitment `id` alone.
    pub(crate) fn commitment(id: &'a String) -> Self {
        Written {
            conversations: &[],
            commitments: std::slice::from_ref(id),
        }
    }
}

/// Project person file `doc_id` after a local write that only added or changed the records
/// `written` (each still in the file) and touched the file, as correcting a conversation or
/// marking a commitment kept do (new records: [`person_made`]): the projection before it stays true but for
/// those records' rows and the person's `updated_at`. The person's search-index row is marked
/// out of date ([`catch_up_search`] rewrites it before the next search, or when the app is
/// idle). Rebuilding the whole projection instead reads every record of the file and every row
/// of the person back, rewrites the person's row and its indexes, and the search index's row
/// with all that was ever said to the person; the index's merges of its segments make the
/// slowest saves (BENCHMARKS.md, "A faster notebook"). The rows are the same as
/// [`project`]'s (a test compares them).
pub(crate) fn person_written(
    conn: &Connection,
    doc_id: &str,
    doc: &AutoCommit,
    written: Written<'_>,
) -> Result<()> {
    let (p, conversations, commitments) =
        docs::person::read_records(doc, doc_id, written.conversations, written.commitments)?;
    let updated = conn
        .prepare_cached("UPDATE people SET updated_at = ?2, conflicts = ?3 WHERE id = ?1")?
        .execute((&p.id, &p.updated_at, super::columns::conflicts(&p)?))?;
    if updated == 0 {
        // No row yet: nothing to keep from before.
        return person(conn, &docs::person::read(doc, doc_id)?);
    }
    records_written(conn, doc_id, &conversations, &commitments)
}

/// Project person file `doc_id` after a local write that only added the new records
/// `conversations` and `commitments` (as written into the file, whose ids are new) and touched
/// the file at `updated_at`, as recording a conversation or adding a commitment do: as
/// [`person_written`], but the rows come from the records as written instead of being read
/// back out of the file (about a tenth of a save's time on the CPU, BENCHMARKS.md). The person's other fields
/// and their conflicts are as before: only `updated_at` is written. Debug builds (every test)
/// read the records back and check that the rows would be the same.
pub(crate) fn person_made(
    conn: &Connection,
    doc_id: &str,
    doc: &AutoCommit,
    updated_at: &str,
    conversations: &[crate::model::Conversation],
    commitments: &[crate::model::Commitment],
) -> Result<()> {
    #[cfg(debug_assertions)]
    same_as_read_back(conn, doc_id, doc, updated_at, conversations, commitments)?;
    let updated = conn
        .prepare_cached("UPDATE people SET updated_at = ?2 WHERE id = ?1")?
        .execute((doc_id, updated_at))?;
    if updated == 0 {
        // No row yet: nothing to keep from before.
        return person(conn, &docs::person::read(doc, doc_id)?);
    }
    records_written(conn, doc_id, conversations, commitments)
}

/// The rows of records a local write made or changed in person file `doc_id`, and the person's
/// search-index row marked out of date ([`person_written`], [`person_made`]).
fn records_written(
    conn: &Connection,
    doc_id: &str,
    conversations: &[crate::model::Conversation],
    commitments: &[crate::model::Commitment],
) -> Result<()> {
    let mut insert = conn.prepare_cached(&CONVERSATION)?;
    for c in conversations {
        row(&mut insert, c)?;
    }
    let mut insert = conn.prepare_cached(&COMMITMENT)?;
    for c in commitments {
        row(&mut insert, c)?;
    }
    conn.prepare_cached("INSERT OR IGNORE INTO search_stale (doc_id) VALUES (?1)")?
        .execute([doc_id])?;
    Ok(())
}

/// [`person_made`]'s check in debug builds: the records read back out of the file are the ones
/// given, the file's `updated_at` is the one given, and the person's conflicts are those its
/// row holds already (so writing `updated_at` alone keeps the row what [`person_written`]
/// would make it).
#[cfg(debug_assertions)]
fn same_as_read_back(
    conn: &Connection,
    doc_id: &str,
    doc: &AutoCommit,
    updated_at: &str,
    conversations: &[crate::model::Conversation],
    commitments: &[crate::model::Commitment],
) -> Result<()> {
    let conversation_ids: Vec<String> = conversations.iter().map(|c| c.id.clone()).collect();
    let commitment_ids: Vec<String> = commitments.iter().map(|c| c.id.clone()).collect();
    let (p, read_conversations, read_commitments) =
        docs::person::read_records(doc, doc_id, &conversation_ids, &commitment_ids)?;
    assert_eq!(
        read_conversations, conversations,
        "conversations of {doc_id}"
    );
    assert_eq!(read_commitments, commitments, "commitments of {doc_id}");
    assert_eq!((p.id.as_str(), p.updated_at.as_str()), (doc_id, updated_at));
    let stored: Option<rusqlite::types::Value> = conn
        .prepare_cached("SELECT conflicts FROM people WHERE id = ?1")?
        .query_row([doc_id], |r| r.get(0))
        .optional()?;
    if let Some(stored) = stored {
        let now = super::columns::conflicts(&p)?;
        assert_eq!(stored, now, "the person's conflicts of {doc_id}");
    }
    Ok(())
}

/// Rewrite the search-index rows of the people [`person_written`] and [`person_made`] left out
/// of date, from their files, inside the caller's transaction; returns how many. A person erased meanwhile has no
/// file and no row left to write. A file that cannot be read (damaged on disk) keeps the row it
/// had and does not stop the others: one damaged person must not make every search fail (a
/// sync that brings the person again projects them whole).
pub(crate) fn catch_up_search(conn: &Connection, actor: &automerge::ActorId) -> Result<usize> {
    let stale: Vec<String> = conn
        .prepare_cached("SELECT doc_id FROM search_stale")?
        .query_map([], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    for doc_id in &stale {
        let rowid: Option<i64> = conn
            .prepare_cached("SELECT rowid FROM people WHERE id = ?1")?
            .query_row([doc_id], |r| r.get(0))
            .optional()?;
        let Some(rowid) = rowid else { continue };
        let file = match super::documents::load(conn, doc_id, actor) {
            Ok(Some(loaded)) => docs::person::read(&loaded.doc, doc_id),
            Ok(None) => continue,
            Err(e) => Err(e),
        };
        match file {
            Ok(file) => search_row(conn, rowid, &file)?,
            Err(Error::BadDocument { .. } | Error::Automerge(_) | Error::Invalid(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    conn.prepare_cached("DELETE FROM search_stale")?
        .execute([])?;
    flush_search(conn)?;
    Ok(stale.len())
}

/// Leave person `file`'s full-text row (the person's rowid `rowid`) for [`flush_search`]: one
/// row per person, covering what was said with them too.
fn search_row(conn: &Connection, rowid: i64, file: &PersonFile) -> Result<()> {
    let p = &file.person;
    let mut columns: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    index(&mut columns, p);
    for c in &file.conversations {
        index(&mut columns, c);
    }
    for c in &file.commitments {
        index(&mut columns, c);
    }
    let text = |c: &str| columns.get(c).map(|v| v.join("\n")).unwrap_or_default();
    // Written to the index at the end of the transaction ([`flush_search`]).
    conn.prepare_cached(
        "INSERT OR REPLACE INTO temp.search_pending (rowid, name, contact, place, work, issues, said)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(rusqlite::params![
        rowid,
        text("name"),
        text("contact"),
        text("place"),
        text("work"),
        text("issues"),
        text("said")
    ])?;
    Ok(())
}

/// Make this connection's table of search-index rows waiting for the end of a transaction.
///
/// FTS5 writes what a transaction adds to its index in memory and flushes it to the index's
/// segments at the transaction's end, and also whenever a later statement of the transaction
/// opens a savepoint of its own (any statement that may change several rows: the projections'
/// `INSERT OR REPLACE`s). Written as each document was projected, a sync's page of a thousand
/// people flushed the index a thousand times, into a thousand small segments to merge: a sixth
/// of taking in a first sync's snapshots (BENCHMARKS.md, "A faster notebook"). So rows wait in
/// this temporary table (in memory) and [`flush_search`] writes them together.
pub(crate) fn prepare_search(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "PRAGMA temp_store = MEMORY;
         CREATE TEMP TABLE IF NOT EXISTS search_pending (
             rowid INTEGER PRIMARY KEY, name, contact, place, work, issues, said);",
    )?;
    Ok(())
}

/// Write the search-index rows projections left waiting, one after the other (one flush of
/// the index), and forget them. Every transaction that projects a document calls it before
/// committing ([`super::Store::batch`] does).
pub(crate) fn flush_search(conn: &Connection) -> Result<()> {
    let pending: Vec<(i64, [String; 6])> = conn
        .prepare_cached(
            "SELECT rowid, name, contact, place, work, issues, said FROM temp.search_pending",
        )?
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                [
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ],
            ))
        })?
        .collect::<std::result::Result<_, _>>()?;
    if pending.is_empty() {
        return Ok(());
    }
    let mut delete = conn.prepare_cached("DELETE FROM people_fts WHERE rowid = ?1")?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO people_fts (rowid, name, contact, place, work, issues, said)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (rowid, [name, contact, place, work, issues, said]) in &pending {
        delete.execute([rowid])?;
        insert.execute(rusqlite::params![
            rowid, name, contact, place, work, issues, said
        ])?;
    }
    conn.prepare_cached("DELETE FROM temp.search_pending")?
        .execute([])?;
    Ok(())
}

/// Write each row of `new` that is not in `old` unchanged; return the ids of `old` rows that are
/// no longer there.
fn changed_rows<T: PartialEq>(
    old: Vec<T>,
    new: &[T],
    id: impl Fn(&T) -> &String,
    mut write: impl FnMut(&T) -> Result<()>,
) -> Result<Vec<String>> {
    let mut old: std::collections::HashMap<String, T> =
        old.into_iter().map(|r| (id(&r).clone(), r)).collect();
    for row in new {
        match old.remove(id(row)) {
            Some(existing) if existing == *row => {}
            _ => write(row)?,
        }
    }
    Ok(old.into_keys().collect())
}

fn delete_rows(
    conn: &Connection,
    table: &str,
    owner: &str,
    owned_by: &str,
    ids: &[String],
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(&format!(
        "DELETE FROM {table} WHERE id = ?1 AND {owner} = ?2"
    ))?;
    for id in ids {
        stmt.execute([id.as_str(), owned_by])?;
    }
    Ok(())
}

/// Write declared record `r` with a prepared [`super::columns::replace`] statement.
fn row<R: Record>(insert: &mut rusqlite::CachedStatement<'_>, r: &R) -> Result<()> {
    insert.execute(rusqlite::params_from_iter(super::columns::values(r)?))?;
    Ok(())
}

fn campaign(conn: &Connection, c: &Campaign) -> Result<()> {
    static CAMPAIGN: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| super::columns::replace::<Campaign>("campaigns"));
    row(&mut conn.prepare_cached(&CAMPAIGN)?, c)
}

fn shift(conn: &Connection, s: &Shift) -> Result<()> {
    static SHIFT: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| super::columns::replace::<Shift>("shifts"));
    row(&mut conn.prepare_cached(&SHIFT)?, s)
}

/// A walk list's row, its doors and their visits; only doors and visits that changed are
/// written (a mark on a list of hundreds of doors writes one visit row).
fn walklist(conn: &Connection, file: &docs::walklist::WalkListFile) -> Result<()> {
    static LIST: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| super::columns::replace::<crate::model::WalkList>("walklists"));
    row(&mut conn.prepare_cached(&LIST)?, &file.list)?;

    let old = super::walklists::door_entries(conn, &file.list.id)?;
    static DOOR: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        super::columns::insert_owned::<crate::model::Door>("doors", "walklist_id")
    });
    let mut insert = conn.prepare_cached(&DOOR)?;
    let mut residents =
        conn.prepare_cached("UPDATE doors SET residents = ?2 WHERE id = ?1 AND walklist_id = ?3")?;
    let gone = changed_rows(
        old,
        &file.doors,
        |d| &d.door.id,
        |d| {
            row(&mut insert, &d.door)?;
            residents.execute((
                &d.door.id,
                serde_json::to_string(&d.residents)?,
                &file.list.id,
            ))?;
            Ok(())
        },
    )?;
    delete_rows(conn, "doors", "walklist_id", &file.list.id, &gone)?;

    let old = super::walklists::visits_of(conn, &file.list.id)?;
    static VISIT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        super::columns::insert_owned::<Visit>("door_visits", "walklist_id")
    });
    let mut insert = conn.prepare_cached(&VISIT)?;
    let gone = changed_rows(old, &file.visits, |v| &v.id, |v| row(&mut insert, v))?;
    delete_rows(conn, "door_visits", "walklist_id", &file.list.id, &gone)
}

/// Add new visits' rows: what a local mark changes in a walk list's projection (its doors and
/// the list's own fields are as they were), so a mark need not read the whole list again.
pub(crate) fn new_visits(conn: &Connection, visits: &[Visit]) -> Result<()> {
    static VISIT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        super::columns::insert_owned::<Visit>("door_visits", "walklist_id")
    });
    let mut insert = conn.prepare_cached(&VISIT)?;
    for v in visits {
        row(&mut insert, v)?;
    }
    Ok(())
}
