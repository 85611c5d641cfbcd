//! Projection columns of declared records (see [`crate::fields`]): one column per field,
//! named as the field; sets and consent as JSON text, flags as integers, the rest as text.

use rusqlite::Row;
use rusqlite::types::Value as Sql;

use crate::error::Result;
use crate::fields::{FieldName, Record, Type, Value};

/// The column names of record `R`'s table: one per field, then `conflicts`.
fn names<R: Record>() -> impl Iterator<Item = &'static str> {
    R::Field::ALL.iter().map(|f| f.name()).chain(["conflicts"])
}

/// How many columns [`select_list`] selects.
pub(crate) fn width<R: Record>() -> usize {
    R::Field::ALL.len() + 1
}

/// The columns of record `R`'s table, then `conflicts`, each prefixed with `alias.` when
/// given, separated by commas.
pub(crate) fn select_list<R: Record>(alias: &str) -> String {
    let prefix = if alias.is_empty() {
        String::new()
    } else {
        format!("{alias}.")
    };
    names::<R>()
        .map(|c| format!("{prefix}{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `INSERT INTO table (every column) VALUES (?1, …)`, to which a conflict clause is added.
fn insert<R: Record>(verb: &str, table: &str) -> String {
    let params = (1..=width::<R>())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{verb} INTO {table} ({}) VALUES ({params})",
        select_list::<R>("")
    )
}

/// `INSERT … ON CONFLICT (id) DO UPDATE` of every column of record `R` into `table`,
/// returning the row's rowid.
pub(crate) fn upsert<R: Record>(table: &str) -> String {
    format!(
        "{} ON CONFLICT (id) DO UPDATE SET {} RETURNING rowid",
        insert::<R>("INSERT", table),
        set_all::<R>()
    )
}

/// `c = excluded.c` for every column of `R` but its id.
fn set_all<R: Record>() -> String {
    names::<R>()
        .filter(|c| *c != "id")
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An insert of every column of record `R` into `table`, whose rows are keyed by their id and
/// their `owner` (a person, a walk list), that updates the row of the same id and owner. Ids
/// are the writing device's, so a hostile member can write into one person's file a record
/// with the id of another person's; keyed by owner and id, the copy has a row of its own and
/// neither moves, replaces nor hides the original's (schema 18).
pub(crate) fn insert_owned<R: Record>(table: &str, owner: &str) -> String {
    format!(
        "{} ON CONFLICT (id, {owner}) DO UPDATE SET {}",
        insert::<R>("INSERT", table),
        set_all::<R>()
    )
}

/// `INSERT OR REPLACE` of every column of record `R` into `table` (for rows keyed by their
/// id alone).
pub(crate) fn replace<R: Record>(table: &str) -> String {
    insert::<R>("INSERT OR REPLACE", table)
}

/// The values of `r`'s columns, in [`select_list`] order.
pub(crate) fn values<R: Record>(r: &R) -> Result<Vec<Sql>> {
    let mut out = Vec::with_capacity(width::<R>());
    for f in R::Field::ALL {
        out.push(match r.value(*f) {
            Value::Empty => match f.spec().ty {
                Type::Flag => Sql::Integer(0),
                Type::Set => Sql::Text("[]".into()),
                Type::Consent | Type::Counts => Sql::Text("{}".into()),
                _ => Sql::Null,
            },
            Value::Flag(b) => Sql::Integer(i64::from(b)),
            Value::Number(n) => Sql::Integer(n),
            Value::Text(s) => Sql::Text(s),
            Value::Set(v) => Sql::Text(serde_json::to_string(&v)?),
            Value::Map(m) => Sql::Text(serde_json::to_string(&m)?),
            Value::Counts(m) => Sql::Text(serde_json::to_string(&m)?),
        });
    }
    out.push(conflicts(r)?);
    Ok(out)
}

/// The value of `r`'s `conflicts` column: field name → every value, as JSON.
pub(crate) fn conflicts<R: Record>(r: &R) -> Result<Sql> {
    Ok(Sql::Text(serde_json::to_string(
        &r.conflicts()
            .iter()
            .map(|(f, v)| (f.name(), v))
            .collect::<std::collections::BTreeMap<_, _>>(),
    )?))
}

fn bad(i: usize, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
}

/// Record `R` from a row whose columns, from `start`, are in [`select_list`] order.
pub(crate) fn read_row<R: Record>(row: &Row<'_>, start: usize) -> rusqlite::Result<R> {
    let mut r = R::blank();
    for (k, f) in R::Field::ALL.iter().enumerate() {
        let i = start + k;
        let value = match f.spec().ty {
            Type::Flag => Value::Flag(row.get(i)?),
            Type::Number => row
                .get::<_, Option<i64>>(i)?
                .map_or(Value::Empty, Value::Number),
            Type::Set => {
                Value::Set(serde_json::from_str(&row.get::<_, String>(i)?).map_err(|e| bad(i, e))?)
            }
            Type::Counts => Value::Counts(
                serde_json::from_str(&row.get::<_, String>(i)?).map_err(|e| bad(i, e))?,
            ),
            Type::Consent => {
                Value::Map(serde_json::from_str(&row.get::<_, String>(i)?).map_err(|e| bad(i, e))?)
            }
            _ => row
                .get::<_, Option<String>>(i)?
                .map_or(Value::Empty, Value::Text),
        };
        r.set_value(*f, value)
            .map_err(|e| bad(i, std::io::Error::other(e)))?;
    }
    let i = start + width::<R>() - 1;
    let raw: std::collections::BTreeMap<String, Vec<Value>> =
        serde_json::from_str(&row.get::<_, String>(i)?).map_err(|e| bad(i, e))?;
    *r.conflicts_mut() = raw
        .into_iter()
        .filter_map(|(k, v)| R::Field::named(&k).map(|f| (f, v)))
        .collect();
    Ok(r)
}
