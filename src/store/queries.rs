//! Reading the projection tables: people lists, search, commitments, and whole tables for
//! export. Nothing here loads an Automerge document.

use chrono::NaiveDate;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row};

use crate::error::{Error, Result};
use crate::ids::parse_id;
use crate::model::{
    Campaign, Commitment, CommitmentStatus, Conversation, ConversationKind, Engagement, Person,
    PersonFile, Shift, normalise_tag,
};

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

fn commitment_row(r: &Row<'_>) -> rusqlite::Result<Commitment> {
    super::columns::read_row(r, 0)
}

fn campaign_row(r: &Row<'_>) -> rusqlite::Result<Campaign> {
    super::columns::read_row(r, 0)
}

fn shift_row(r: &Row<'_>) -> rusqlite::Result<Shift> {
    super::columns::read_row(r, 0)
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

/// Conversation `id` (of person `person`'s file, when given), or `Error::NotFound`; an id in
/// several files (a member copied it under the same id) without `person` is
/// `Error::Ambiguous`.
pub(crate) fn conversation(
    conn: &Connection,
    id: &str,
    person: Option<&str>,
) -> Result<Conversation> {
    let sql = format!(
        "SELECT {cols} FROM conversations WHERE id = ?1 AND (?2 IS NULL OR person_id = ?2)
         ORDER BY person_id",
        cols = conversation_cols()
    );
    let person = person.map(parse_id).transpose()?;
    let id = parse_id(id)?;
    let rows = all(conn, &sql, (&id, person), conversation_row)?;
    only("conversation", &id, rows, "person", |c| c.person_id.clone())
}

/// Commitment `id` (of person `person`'s file, when given), or `Error::NotFound`; an id in
/// several files without `person` is `Error::Ambiguous`.
pub(crate) fn commitment(conn: &Connection, id: &str, person: Option<&str>) -> Result<Commitment> {
    let sql = format!(
        "SELECT {cols} FROM commitments WHERE id = ?1 AND (?2 IS NULL OR person_id = ?2)
         ORDER BY person_id",
        cols = commitment_cols()
    );
    let person = person.map(parse_id).transpose()?;
    let id = parse_id(id)?;
    let rows = all(conn, &sql, (&id, person), commitment_row)?;
    only("commitment", &id, rows, "person", |c| c.person_id.clone())
}

/// The one record of `rows` (those of record `id` a file may hold), or why there is not one:
/// none, or several files' copies (`owner` of each names its file, `owner_flag` the option that
/// names one).
pub(crate) fn only<T>(
    kind: &'static str,
    id: &str,
    mut rows: Vec<T>,
    owner_flag: &'static str,
    owner: fn(&T) -> String,
) -> Result<T> {
    match rows.len() {
        0 => Err(Error::NotFound {
            kind,
            id: id.to_string(),
        }),
        1 => Ok(rows.remove(0)),
        _ => Err(Error::Ambiguous {
            kind,
            id: id.to_string(),
            owners: rows.iter().map(owner).collect(),
            owner_flag,
        }),
    }
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

/// Campaign `id`, or `Error::NotFound`.
pub(crate) fn campaign(conn: &Connection, id: &str) -> Result<Campaign> {
    let id = parse_id(id)?;
    all(
        conn,
        &format!(
            "SELECT {} FROM campaigns WHERE id = ?1",
            super::columns::select_list::<Campaign>("")
        ),
        [&id],
        campaign_row,
    )?
    .pop()
    .ok_or(Error::NotFound {
        kind: "campaign",
        id,
    })
}

pub(crate) fn campaigns(conn: &Connection) -> Result<Vec<Campaign>> {
    all(
        conn,
        &format!(
            "SELECT {} FROM campaigns ORDER BY id",
            super::columns::select_list::<Campaign>("")
        ),
        [],
        campaign_row,
    )
}

pub(crate) fn shifts(conn: &Connection) -> Result<Vec<Shift>> {
    all(
        conn,
        &format!(
            "SELECT {} FROM shifts ORDER BY id",
            super::columns::select_list::<Shift>("")
        ),
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
        Ok((
            commitment_row(r)?,
            r.get(super::columns::width::<Commitment>())?,
        ))
    })
}

/// Turn what a person typed into an FTS5 query: every word must match, each as a prefix.
/// Quotes keep FTS5's own syntax (AND, OR, NEAR, column filters, `*`) out of user input.
/// What reads as a phone number ([`phone_forms`]) also matches the number written the other
/// way ("07700 900123" finds "+44 7700 900123" and the other way round).
pub(crate) fn fts_query(input: &str) -> Option<String> {
    let words: Vec<String> = input
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{w}\"*"))
        .collect();
    if words.is_empty() {
        return None;
    }
    let typed = words.join(" ");
    Some(match phone_forms(input) {
        Some(forms) => {
            let forms: Vec<String> = forms.iter().map(|f| format!("\"{f}\"*")).collect();
            format!("({typed}) OR {}", forms.join(" OR "))
        }
        None => typed,
    })
}

/// What was typed, read as a UK phone number: nothing but digits and the marks numbers are
/// written with (spaces, `+`, `-`, brackets, dots), at least five digits. Its forms as the
/// search index holds a number (its digits run together, [`super::project`]): as typed,
/// national ("07700…"), international ("447700…") and international with the national 0 kept
/// in brackets ("+44 (0)7700…" → "4407700…"), each a prefix; another country's number (a "+"
/// or "00" then not 44) only as typed. `None` for anything else.
fn phone_forms(input: &str) -> Option<Vec<String>> {
    let typed = input.trim();
    if !typed
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    {
        return None;
    }
    let digits: String = typed.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 5 {
        return None;
    }
    // "+44", "(+44)", "0044", or "44" then a whole number (as spreadsheets and links that drop
    // the "+" write it).
    let plus = typed.trim_start_matches([' ', '(']).starts_with('+');
    let international = if plus {
        digits.strip_prefix("44")
    } else if let Some(rest) = digits.strip_prefix("0044") {
        Some(rest)
    } else if digits.len() >= 11 {
        digits.strip_prefix("44")
    } else {
        None
    };
    let national = match international {
        Some(rest) => rest.strip_prefix('0').unwrap_or(rest),
        // Another country's number: only as typed.
        None if plus || digits.starts_with("00") => return Some(vec![digits]),
        // "07700 900", or "7700 900" with its 0 left out.
        None => digits.strip_prefix('0').unwrap_or(&digits),
    };
    let mut forms = vec![
        digits.clone(),
        format!("0{national}"),
        format!("44{national}"),
        format!("440{national}"),
    ];
    forms.sort();
    forms.dedup();
    Some(forms)
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

/// Which people the People screen lists: what is typed in the search box and each filter,
/// all combined (a person must match every one given).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PeopleFilter {
    /// What was typed in the search box (blank: everybody, most recently changed first).
    pub query: String,
    /// Only people in this area (any case).
    pub area: Option<String>,
    /// Only people with this tag.
    pub tag: Option<String>,
    /// Only people who raised this issue in any conversation.
    pub issue: Option<String>,
    /// Only people whose latest conversation left them at this level.
    pub engagement: Option<Engagement>,
    /// Only people whose latest conversation asks for a follow-up on or before this day.
    pub follow_up_by: Option<NaiveDate>,
}

impl PeopleFilter {
    /// Whether any filter besides the search box is set.
    pub fn any_filter(&self) -> bool {
        self.area.is_some()
            || self.tag.is_some()
            || self.issue.is_some()
            || self.engagement.is_some()
            || self.follow_up_by.is_some()
    }
}

/// A page of people and how many there are.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PeoplePage {
    /// The people on this page, in list order.
    pub people: Vec<Person>,
    /// How many people match the search and filters.
    pub matching: usize,
    /// How many people the notebook holds.
    pub total: usize,
}

/// The values the People screen's filters offer, each sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PeopleChoices {
    /// Areas people live or work in.
    pub areas: Vec<String>,
    /// Tags given to people.
    pub tags: Vec<String>,
    /// Issues raised in conversations.
    pub issues: Vec<String>,
}

/// The latest conversation of the person `p`, by time and then id (as reports choose it).
const LATEST_CONVERSATION: &str = "FROM conversations c WHERE c.person_id = p.id \
     ORDER BY c.at DESC, c.id DESC LIMIT 1";

/// The `FROM` and `WHERE` of the people matching `f`, and the parameters in order; `None`
/// when the search box holds nothing searchable but is not blank (nobody matches).
fn people_where(f: &PeopleFilter) -> Option<(String, String, Vec<Value>)> {
    let mut clauses: Vec<String> = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    let searching = !f.query.trim().is_empty();
    let from = if searching {
        params.push(Value::Text(fts_query(&f.query)?));
        clauses.push("people_fts MATCH ?".into());
        "people_fts f JOIN people p ON p.rowid = f.rowid"
    } else {
        "people p"
    };
    if let Some(area) = f.area.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        clauses.push("p.area = ? COLLATE NOCASE".into());
        params.push(Value::Text(area.to_string()));
    }
    if let Some(tag) = f.tag.as_deref().and_then(normalise_tag) {
        clauses.push("EXISTS (SELECT 1 FROM json_each(p.tags) t WHERE t.value = ?)".into());
        params.push(Value::Text(tag));
    }
    if let Some(issue) = f.issue.as_deref().and_then(normalise_tag) {
        clauses.push(
            "EXISTS (SELECT 1 FROM conversations c, json_each(c.issues) i \
             WHERE c.person_id = p.id AND i.value = ?)"
                .into(),
        );
        params.push(Value::Text(issue));
    }
    if let Some(level) = f.engagement {
        clauses.push(format!("(SELECT c.engagement {LATEST_CONVERSATION}) = ?"));
        params.push(Value::Integer(level.into()));
    }
    if let Some(by) = f.follow_up_by {
        clauses.push(format!("(SELECT c.follow_up {LATEST_CONVERSATION}) <= ?"));
        params.push(Value::Text(by.to_string()));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    Some((from.to_string(), filter, params))
}

/// The people matching `f` from the `offset`th on, at most `limit`, with how many match and
/// how many there are. Searching orders best match first; otherwise most recently changed
/// first.
pub(crate) fn people_page(
    conn: &Connection,
    f: &PeopleFilter,
    offset: usize,
    limit: usize,
) -> Result<PeoplePage> {
    let total = count(conn, "SELECT count(*) FROM people", Vec::new())?;
    let Some((from, filter, params)) = people_where(f) else {
        return Ok(PeoplePage {
            total,
            ..Default::default()
        });
    };
    let matching = if filter.is_empty() {
        total
    } else {
        count(
            conn,
            &format!("SELECT count(*) FROM {from} {filter}"),
            params.clone(),
        )?
    };
    let order = if f.query.trim().is_empty() {
        "p.updated_at DESC, p.id"
    } else {
        "bm25(people_fts, 10.0, 4.0, 3.0, 3.0, 2.0, 1.0), p.updated_at DESC, p.id"
    };
    let mut params = params;
    params.push(Value::Integer(limit as i64));
    params.push(Value::Integer(offset as i64));
    let people = all(
        conn,
        &format!(
            "SELECT {} FROM {from} {filter} ORDER BY {order} LIMIT ? OFFSET ?",
            person_cols()
        ),
        rusqlite::params_from_iter(params),
        person_row,
    )?;
    Ok(PeoplePage {
        people,
        matching,
        total,
    })
}

fn count(conn: &Connection, sql: &str, params: Vec<Value>) -> Result<usize> {
    let n: i64 = conn
        .prepare_cached(sql)?
        .query_row(rusqlite::params_from_iter(params), |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(0))
}

fn texts(conn: &Connection, sql: &str) -> Result<Vec<String>> {
    all(conn, sql, [], |r| r.get(0))
}

/// The areas, tags and issues the People screen's filters offer.
pub(crate) fn people_choices(conn: &Connection) -> Result<PeopleChoices> {
    Ok(PeopleChoices {
        areas: texts(
            conn,
            "SELECT min(area) FROM people WHERE trim(area) <> ''
             GROUP BY area COLLATE NOCASE ORDER BY area COLLATE NOCASE",
        )?,
        tags: texts(
            conn,
            "SELECT DISTINCT t.value FROM people p, json_each(p.tags) t ORDER BY 1",
        )?,
        issues: texts(
            conn,
            "SELECT DISTINCT i.value FROM conversations c, json_each(c.issues) i ORDER BY 1",
        )?,
    })
}

/// The parts of the Due screen: open commitments by when they are due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum DueWhen {
    /// Due before today.
    Overdue,
    /// Due today or in the next seven days.
    ThisWeek,
    /// Due later, or with no date.
    Later,
}

impl DueWhen {
    /// Every part, in screen order.
    pub const ALL: [DueWhen; 3] = [DueWhen::Overdue, DueWhen::ThisWeek, DueWhen::Later];

    fn condition(self) -> &'static str {
        match self {
            DueWhen::Overdue => "c.due < ?1",
            DueWhen::ThisWeek => "c.due >= ?1 AND c.due <= ?2",
            DueWhen::Later => "(c.due > ?2 OR c.due IS NULL)",
        }
    }
}

/// Whose open commitments the Due screen counts and lists, as of which day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueFilter {
    /// The day that is today.
    pub today: NaiveDate,
    /// Only commitments made in conversations held under one of these canvassers' names (as
    /// recorded, spaces around and capitals aside: [`super::same_canvasser`]); `None`:
    /// everyone's.
    pub canvassers: Option<Vec<String>>,
}

impl DueFilter {
    fn params(&self) -> (String, String, Option<String>) {
        let week = self.today + chrono::Duration::days(7);
        (
            self.today.to_string(),
            week.to_string(),
            names_param(self.canvassers.as_deref()),
        )
    }
}

/// Canvassers' names as the one parameter `held_by!` takes: a JSON array, or NULL for
/// anyone.
fn names_param(names: Option<&[String]>) -> Option<String> {
    names.map(|n| serde_json::Value::from(n.to_vec()).to_string())
}

/// Whether the canvasser column `col` names one of the JSON array `param` (spaces around and
/// capitals aside; SQLite's `lower` folds ASCII only, the same on both sides), or `param` is
/// NULL.
macro_rules! held_by {
    ($col:literal, $param:literal) => {
        concat!(
            "(",
            $param,
            " IS NULL OR lower(trim(",
            $col,
            ")) IN (SELECT lower(trim(value)) FROM json_each(",
            $param,
            ")))"
        )
    };
}

/// How many open commitments each part of the Due screen holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DueCounts {
    /// Due before today.
    pub overdue: usize,
    /// Due today or within seven days.
    pub this_week: usize,
    /// Due later or undated.
    pub later: usize,
}

impl DueCounts {
    /// The count of one part.
    pub fn of(&self, when: DueWhen) -> usize {
        match when {
            DueWhen::Overdue => self.overdue,
            DueWhen::ThisWeek => self.this_week,
            DueWhen::Later => self.later,
        }
    }
}

/// Open commitments, and (with `?3`) only those made in conversations held under one of the
/// canvassers' names it lists.
const OPEN_OF: &str = concat!(
    "c.status = 'open' AND (?3 IS NULL OR EXISTS (SELECT 1 FROM conversations v \
     WHERE v.id = c.conversation_id AND v.person_id = c.person_id AND ",
    held_by!("v.canvasser", "?3"),
    "))"
);

/// Count the open commitments of `f` by part, in one pass.
pub(crate) fn due_counts(conn: &Connection, f: &DueFilter) -> Result<DueCounts> {
    let sql = format!(
        "SELECT coalesce(sum({}), 0), coalesce(sum({}), 0), coalesce(sum({}), 0)
         FROM commitments c WHERE {OPEN_OF}",
        DueWhen::Overdue.condition(),
        DueWhen::ThisWeek.condition(),
        DueWhen::Later.condition(),
    );
    let (o, w, l): (i64, i64, i64) = conn
        .prepare_cached(&sql)?
        .query_row(f.params(), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let n = |v: i64| usize::try_from(v).unwrap_or(0);
    Ok(DueCounts {
        overdue: n(o),
        this_week: n(w),
        later: n(l),
    })
}

/// The open commitments of `f` in part `when`, soonest due first, from the `offset`th on,
/// at most `limit`, each with the person who made it.
pub(crate) fn due_page(
    conn: &Connection,
    f: &DueFilter,
    when: DueWhen,
    offset: usize,
    limit: usize,
) -> Result<Vec<(Commitment, Person)>> {
    let cols = commitment_cols()
        .split(", ")
        .map(|c| format!("c.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {cols}, {} FROM commitments c JOIN people p ON p.id = c.person_id
         WHERE {OPEN_OF} AND {}
         ORDER BY c.due IS NULL, c.due, c.created_at, c.id LIMIT ?4 OFFSET ?5",
        person_cols(),
        when.condition(),
    );
    let (today, week, canvasser) = f.params();
    all(
        conn,
        &sql,
        (today, week, canvasser, limit as i64, offset as i64),
        |r| {
            Ok((
                commitment_row(r)?,
                super::columns::read_row(r, super::columns::width::<Commitment>())?,
            ))
        },
    )
}

/// A person whose follow-up has come: their latest conversation asks for one by now.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowUpDue {
    /// The person.
    pub person: Person,
    /// The follow-up date of their latest conversation.
    pub due: NaiveDate,
    /// Who held that conversation (as recorded).
    pub canvasser: String,
    /// When it was held (RFC 3339).
    pub at: String,
}

/// People and their latest conversation, when it asks for a follow-up on or before `?1` and
/// (with `?2`) was held under one of the canvassers' names it lists.
const FOLLOW_UPS_FROM: &str = concat!(
    "FROM (SELECT p.rowid AS person_row, (SELECT c.id FROM conversations c \
       WHERE c.person_id = p.id ORDER BY c.at DESC, c.id DESC LIMIT 1) AS latest FROM people p) l
     JOIN people p ON p.rowid = l.person_row
     JOIN conversations c ON c.id = l.latest AND c.person_id = p.id
     WHERE c.follow_up <= ?1 AND ",
    held_by!("c.canvasser", "?2")
);

/// How many people have a follow-up due by `by` (only after conversations held under one of
/// `canvassers`, when given), and the page of them from the `offset`th on, soonest due first.
pub(crate) fn follow_ups_page(
    conn: &Connection,
    by: NaiveDate,
    canvassers: Option<&[String]>,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<FollowUpDue>)> {
    let by = by.to_string();
    let canvasser = names_param(canvassers);
    let n: i64 = conn
        .prepare_cached(&format!("SELECT count(*) {FOLLOW_UPS_FROM}"))?
        .query_row((&by, &canvasser), |r| r.get(0))?;
    let rows = all(
        conn,
        &format!(
            "SELECT c.follow_up, c.canvasser, c.at, {} {FOLLOW_UPS_FROM}
             ORDER BY c.follow_up, p.name, p.id LIMIT ?3 OFFSET ?4",
            person_cols()
        ),
        (&by, &canvasser, limit as i64, offset as i64),
        |r| {
            Ok(FollowUpDue {
                due: r
                    .get::<_, Option<String>>(0)?
                    .and_then(|d| crate::rules::read_date(&d).ok())
                    .unwrap_or_default(),
                canvasser: r.get(1)?,
                at: r.get(2)?,
                person: super::columns::read_row(r, 3)?,
            })
        },
    )?;
    Ok((usize::try_from(n).unwrap_or(0), rows))
}

/// The conversation kind used most in shift `shift_id` so far (the latest used wins a tie).
pub(crate) fn usual_kind(conn: &Connection, shift_id: &str) -> Result<Option<ConversationKind>> {
    let kind: Option<String> = conn
        .prepare_cached(
            "SELECT kind FROM conversations WHERE shift_id = ?1
             GROUP BY kind ORDER BY count(*) DESC, max(created_at) DESC, kind LIMIT 1",
        )?
        .query_row([shift_id], |r| r.get(0))
        .optional()?;
    Ok(kind.and_then(|k| k.parse().ok()))
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

    #[test]
    fn a_uk_phone_number_is_looked_for_written_either_way() {
        let forms = |q: &str| super::phone_forms(q).unwrap_or_default();
        let both = ["07700900", "4407700900", "447700900"].map(String::from);
        assert_eq!(forms("07700 900"), both);
        assert_eq!(forms("+44 7700 900"), both);
        let mut typed = vec!["004407700900".to_string()];
        typed.extend(both.clone());
        assert_eq!(forms("0044 (0)7700-900"), typed, "as typed too");
        assert_eq!(forms("+33 6 12 34 56"), vec!["336123456".to_string()]);
        assert_eq!(forms("0033 6 12 34 56"), vec!["00336123456".to_string()]);
        // "+" after a bracket, "44" with no "+" in a whole number, the 0 left out.
        let whole = ["07700900123", "4407700900123", "447700900123"].map(String::from);
        assert_eq!(forms("(+44) 7700 900123"), whole);
        assert_eq!(forms("447700900123"), whole);
        assert_eq!(forms("7700 900123"), {
            let mut w = whole.to_vec();
            w.push("7700900123".into());
            w.sort();
            w
        });
        // Too short to be a number, or words: as before.
        assert_eq!(super::phone_forms("0770"), None);
        assert_eq!(super::phone_forms("12 Elm Road"), None);
        assert_eq!(fts_query("12 Elm"), Some("\"12\"* \"Elm\"*".into()));
        assert_eq!(
            fts_query("07700 900"),
            Some(
                "(\"07700\"* \"900\"*) OR \"07700900\"* OR \"4407700900\"* OR \"447700900\"*"
                    .into()
            )
        );
    }
}
