//! Fields declared once: what each field of a record kind is, and the typed values they hold.
//!
//! A record kind (today: the person) is declared with [`record!`](crate::record): one line per
//! field giving its Rust type, its name (the key in the Automerge document, the projection
//! column, the export column), its label, its [`Type`] and its options (searched, exported,
//! editable, command-line flag, how it is stored). The macro writes the struct, an enum naming
//! the fields ([`FieldName`]) and the [`Record`] impl. Everything else is generic over that
//! declaration: reading and writing the document ([`crate::docs::record`]), the projection row
//! and the search index ([`crate::store`]), export columns ([`crate::export`]), the command
//! line's flags and the app's edit form, and the one core that settles a field on a value
//! ([`Patch`], used by the app, the command line and conflict resolution alike).
//!
//! Adding a field: one line in the declaration (in `crate::model`), a migration adding its
//! projection column, and the golden files. See ARCHITECTURE.md, "Fields declared once".

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::rules::{
    ConsentChannel, ValidationError, format_time, normalise_tag, parse_date, parse_past_time,
    parse_time,
};

/// A value as a field holds it: what the document stores, typed. Dates and choices are text
/// in their one canonical form. Serialised untagged, so JSON shows plain values.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// No value (a cleared optional field).
    Empty,
    /// True or false.
    Flag(bool),
    /// A whole number.
    Number(i64),
    /// Text (also dates, times and choices).
    Text(String),
    /// A set of names (tags, languages), sorted.
    Set(Vec<String>),
    /// Names with a text each (consent: channel → when given).
    Map(BTreeMap<String, String>),
    /// Names with a number each (a campaign's targets: label → number aimed for).
    Counts(BTreeMap<String, i64>),
}

impl Value {
    /// The value as one line of text for people to read; empty for [`Value::Empty`].
    pub fn to_text(&self) -> String {
        match self {
            Value::Empty => String::new(),
            Value::Flag(b) => if *b { "yes" } else { "no" }.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Text(s) => s.clone(),
            Value::Set(v) => v.join(", "),
            Value::Map(m) => m.keys().cloned().collect::<Vec<_>>().join(", "),
            Value::Counts(m) => m
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// Whether there is nothing here (no value, empty text, an empty set or map, false).
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Empty | Value::Flag(false) => true,
            Value::Text(s) => s.is_empty(),
            Value::Set(v) => v.is_empty(),
            Value::Map(m) => m.is_empty(),
            Value::Counts(m) => m.is_empty(),
            Value::Flag(true) | Value::Number(_) => false,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Text(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Flag(b)
    }
}

/// What kind of value a field holds, which decides how it is checked, stored, shown and
/// edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// An id (UUID v7), set by the app.
    Id,
    /// One line of text.
    Text,
    /// Several lines of text (notes, stories): line breaks kept.
    Note,
    /// A phone number: searched by its digits too.
    Phone,
    /// An email address.
    Email,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A time (RFC 3339; stored in UTC with milliseconds).
    Time,
    /// A whole number (engagement 1–5: the record's type says which numbers are allowed).
    Number,
    /// One of a fixed list of names (a conversation's kind).
    Choice(&'static [&'static str]),
    /// True or false.
    Flag,
    /// A set of names, each trimmed and lower-cased so that "Polish" and "polish" are one.
    Set,
    /// Consent to be contacted: channel → when given.
    Consent,
    /// Labels with a number each (a campaign's targets).
    Counts,
}

/// Where a field lives in its record's Automerge document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A key of the record's own map (the default).
    Map,
    /// A key of the document's root map (ids and times every document has).
    Root,
    /// The key the record is stored under in its parent map (a conversation's id).
    Key,
    /// The id of the document holding the record (a conversation's person).
    Doc,
    /// One key of the record's map per member, `<name>/<member>` → true: for sets added after
    /// documents were already written, so two devices adding the first members of a file made
    /// before the field existed both keep theirs (two devices creating the same nested map
    /// concurrently would keep only one of the maps).
    Keys,
}

/// The column of the people search index a field's text goes into (weights in
/// `store::queries::search`: name counts most, what was said least).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Search {
    /// The name.
    Name,
    /// Phone and email.
    Contact,
    /// Address and area.
    Place,
    /// Workplace, role, languages: who they are.
    Work,
    /// Tags, issues, commitments.
    Issues,
    /// Notes and stories.
    Said,
}

impl Search {
    /// Every column, in the index's order.
    pub const ALL: [Search; 6] = [
        Search::Name,
        Search::Contact,
        Search::Place,
        Search::Work,
        Search::Issues,
        Search::Said,
    ];
}

/// One field's declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// Its name: the document key, projection column, export column and JSON key.
    pub name: &'static str,
    /// What people call it.
    pub label: &'static str,
    /// What it holds.
    pub ty: Type,
    /// Where it lives in the document.
    pub place: Place,
    /// Must have a value (an empty one is refused).
    pub required: bool,
    /// Which search column its text goes into, if it is searched.
    pub search: Option<Search>,
    /// In exports.
    pub export: bool,
    /// Editable by people (in the app's form and with `edit` on the command line).
    pub edit: bool,
    /// The command-line flag that sets it or adds to it (`--tag`), if any.
    pub flag: Option<&'static str>,
    /// The flag that clears a flag field or removes from a set (`--untag`), if any.
    pub unflag: Option<&'static str>,
    /// A time something happened, as people type it: refused more than a day ahead of now
    /// (a year typed wrong would stand as the latest word until that time came).
    pub past: bool,
}

impl Spec {
    /// A field named `name` with `label` holding `ty`: stored in the record's map, exported,
    /// not searched, not editable, no flag.
    pub const fn new(name: &'static str, label: &'static str, ty: Type) -> Spec {
        Spec {
            name,
            label,
            ty,
            place: Place::Map,
            required: false,
            search: None,
            export: true,
            edit: false,
            flag: None,
            unflag: None,
            past: false,
        }
    }
    /// Stored at the document's root.
    pub const fn root(self) -> Spec {
        Spec {
            place: Place::Root,
            ..self
        }
    }
    /// The record's key in its parent map.
    pub const fn key(self) -> Spec {
        Spec {
            place: Place::Key,
            ..self
        }
    }
    /// The id of the document holding the record.
    pub const fn doc(self) -> Spec {
        Spec {
            place: Place::Doc,
            ..self
        }
    }
    /// Stored one key per member (see [`Place::Keys`]).
    pub const fn keys(self) -> Spec {
        Spec {
            place: Place::Keys,
            ..self
        }
    }
    /// A time that has happened: see [`Spec::past`].
    pub const fn past(self) -> Spec {
        Spec { past: true, ..self }
    }
    /// Must not be empty.
    pub const fn required(self) -> Spec {
        Spec {
            required: true,
            ..self
        }
    }
    /// Searched, in column `s`.
    pub const fn search(self, s: Search) -> Spec {
        Spec {
            search: Some(s),
            ..self
        }
    }
    /// Left out of exports.
    pub const fn private(self) -> Spec {
        Spec {
            export: false,
            ..self
        }
    }
    /// Editable, with command-line flag `--flag` (and `--unflag` to clear or remove, where the
    /// type has a way to).
    pub const fn edit(self, flag: &'static str, unflag: Option<&'static str>) -> Spec {
        Spec {
            edit: true,
            flag: Some(flag),
            unflag,
            ..self
        }
    }
}

/// The enum naming the fields of one record kind (written by [`record!`](crate::record)).
pub trait FieldName:
    Copy + Ord + fmt::Debug + Send + Sync + Serialize + serde::de::DeserializeOwned + 'static
{
    /// The record kind these are the fields of.
    type Record: Record<Field = Self>;
    /// Every field, in declaration order.
    const ALL: &'static [Self];
    /// The field's declaration.
    fn spec(self) -> &'static Spec;
    /// The field's name.
    fn name(self) -> &'static str {
        self.spec().name
    }
    /// The field called `name`, if any.
    fn named(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|f| f.name() == name)
    }
}

/// A record kind declared with [`record!`](crate::record).
pub trait Record: Sized + Clone {
    /// Its fields.
    type Field: FieldName;
    /// The record with every field at its blank value.
    fn blank() -> Self;
    /// The value of `field`.
    fn value(&self, field: Self::Field) -> Value;
    /// Set `field` to `value`; a value of the wrong kind is refused with the reason.
    fn set_value(&mut self, field: Self::Field, value: Value) -> Result<(), String>;
    /// Fields with several concurrent values.
    fn conflicts(&self) -> &Conflicts<Self::Field>;
    /// The same, to fill in.
    fn conflicts_mut(&mut self) -> &mut Conflicts<Self::Field>;
}

/// Conflicting values of fields: field → every concurrent value (the winner included).
pub type Conflicts<F> = BTreeMap<F, Vec<Value>>;

/// Reads conflicts saved by any version: fields this build does not know are dropped.
pub fn known_conflicts<'de, D, F>(d: D) -> Result<Conflicts<F>, D::Error>
where
    D: serde::Deserializer<'de>,
    F: FieldName,
{
    let raw = BTreeMap::<String, Vec<Value>>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .filter_map(|(k, v)| F::named(&k).map(|f| (f, v)))
        .collect())
}

/// Writes conflicts keyed by field name.
pub fn named_conflicts<S, F>(c: &Conflicts<F>, s: S) -> Result<S::Ok, S::Error>
where
    S: serde::Serializer,
    F: FieldName,
{
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(c.len()))?;
    for (k, v) in c {
        m.serialize_entry(k.name(), v)?;
    }
    m.end()
}

/// How a Rust type of a declared field turns into a [`Value`] and back.
pub trait FieldType: Sized {
    /// The value as stored.
    fn to_value(&self) -> Value;
    /// The field from a stored value; the reason when the value is of the wrong kind.
    fn from_value(v: Value) -> Result<Self, String>;
    /// The value of a field never written.
    fn blank() -> Self;
}

impl FieldType for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s),
            Value::Empty => Err("is missing".into()),
            other => Err(format!("should be text, found {other:?}")),
        }
    }
    fn blank() -> Self {
        String::new()
    }
}

impl FieldType for Option<String> {
    fn to_value(&self) -> Value {
        self.clone().map_or(Value::Empty, Value::Text)
    }
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Empty => Ok(None),
            Value::Text(s) => Ok(Some(s)),
            other => Err(format!("should be text, found {other:?}")),
        }
    }
    fn blank() -> Self {
        None
    }
}

impl FieldType for Option<NaiveDate> {
    fn to_value(&self) -> Value {
        self.map_or(Value::Empty, |d| Value::Text(d.to_string()))
    }
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Empty => Ok(None),
            // A date already stored: read as written, even one a user may no longer type.
            Value::Text(s) => crate::rules::read_date(&s)
                .map(Some)
                .map_err(|e| e.to_string()),
            other => Err(format!("should be a date, found {other:?}")),
        }
    }
    fn blank() -> Self {
        None
    }
}

impl FieldType for bool {
    fn to_value(&self) -> Value {
        Value::Flag(*self)
    }
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Empty => Ok(false),
            Value::Flag(b) => Ok(b),
            other => Err(format!("should be true or false, found {other:?}")),
        }
    }
    fn blank() -> Self {
        false
    }
}

impl FieldType for Vec<String> {
    fn to_value(&self) -> Value {
        Value::Set(self.clone())
    }
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Empty => Ok(Vec::new()),
            Value::Set(s) => Ok(s),
            other => Err(format!("should be a set of names, found {other:?}")),
        }
    }
    fn blank() -> Self {
        Vec::new()
    }
}

impl FieldType for BTreeMap<String, String> {
    fn to_value(&self) -> Value {
        Value::Map(self.clone())
    }
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Empty => Ok(BTreeMap::new()),
            Value::Map(m) => Ok(m),
            other => Err(format!("should be names with values, found {other:?}")),
        }
    }
    fn blank() -> Self {
        BTreeMap::new()
    }
}

impl FieldType for BTreeMap<String, i64> {
    fn to_value(&self) -> Value {
        Value::Counts(self.clone())
    }
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Empty => Ok(BTreeMap::new()),
            Value::Counts(m) => Ok(m),
            Value::Map(m) if m.is_empty() => Ok(BTreeMap::new()),
            other => Err(format!("should be labels with numbers, found {other:?}")),
        }
    }
    fn blank() -> Self {
        BTreeMap::new()
    }
}

/// Declare a record kind: the struct, the enum of its fields and its [`Record`] impl, from one
/// list of fields. Each field: doc comment, `name: RustType = Variant(Spec…)`.
#[macro_export]
macro_rules! record {
    (
        $(#[$meta:meta])*
        pub struct $name:ident, fields $fields:ident {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty = $variant:ident ($label:literal, $kind:ident $(($($karg:expr),*))?) $(. $opt:ident ( $($arg:expr),* ))*
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )+
            /// Fields with concurrent values: field → every value.
            #[serde(
                default,
                serialize_with = "crate::fields::named_conflicts",
                deserialize_with = "crate::fields::known_conflicts"
            )]
            pub conflicts: $crate::fields::Conflicts<$fields>,
        }

        #[doc = concat!("The fields of [`", stringify!($name), "`], in declaration order.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $fields {
            $( $(#[$fmeta])* $variant, )+
        }

        impl $fields {
            const SPECS: &'static [$crate::fields::Spec] = &[
                $( $crate::fields::Spec::new(stringify!($field), $label, $crate::fields::Type::$kind $(($($karg),*))?) $(. $opt ( $($arg),* ))*, )+
            ];
        }

        impl $crate::fields::FieldName for $fields {
            type Record = $name;
            const ALL: &'static [$fields] = &[ $( $fields::$variant, )+ ];
            fn spec(self) -> &'static $crate::fields::Spec {
                &Self::SPECS[self as usize]
            }
        }

        impl serde::Serialize for $fields {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($crate::fields::FieldName::name(*self))
            }
        }

        impl<'de> serde::Deserialize<'de> for $fields {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                <$fields as $crate::fields::FieldName>::named(&s)
                    .ok_or_else(|| serde::de::Error::custom(format!("unknown field {s:?}")))
            }
        }

        impl $crate::fields::Record for $name {
            type Field = $fields;
            fn blank() -> Self {
                $name {
                    $( $field: <$ty as $crate::fields::FieldType>::blank(), )+
                    conflicts: Default::default(),
                }
            }
            fn value(&self, field: $fields) -> $crate::fields::Value {
                match field {
                    $( $fields::$variant => $crate::fields::FieldType::to_value(&self.$field), )+
                }
            }
            fn set_value(&mut self, field: $fields, value: $crate::fields::Value) -> Result<(), String> {
                match field {
                    $( $fields::$variant => self.$field = <$ty as $crate::fields::FieldType>::from_value(value)?, )+
                }
                Ok(())
            }
            fn conflicts(&self) -> &$crate::fields::Conflicts<$fields> {
                &self.conflicts
            }
            fn conflicts_mut(&mut self) -> &mut $crate::fields::Conflicts<$fields> {
                &mut self.conflicts
            }
        }
    };
}

/// One change to one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// Put this value (settling any conflict on the field); [`Value::Empty`] clears it.
    Put(Value),
    /// Add these members to a set, or these channels to consent (given now).
    Add(Vec<String>),
    /// Remove these members or channels.
    Remove(Vec<String>),
}

/// Changes to fields of one record: the one way anything (the app's forms, the command line,
/// settling a conflict, restoring from history) changes a declared record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Patch<F: FieldName> {
    /// The changes, applied in order.
    pub changes: Vec<(F, Change)>,
}

impl<F: FieldName> Default for Patch<F> {
    fn default() -> Self {
        Patch {
            changes: Vec::new(),
        }
    }
}

impl<F: FieldName> Patch<F> {
    /// No changes.
    pub fn new() -> Self {
        Self::default()
    }
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
    /// Also put `value` into `field`.
    pub fn put(mut self, field: F, value: impl Into<Value>) -> Self {
        self.changes.push((field, Change::Put(value.into())));
        self
    }
    /// Also put `value` into `field` when there is one.
    pub fn put_some(self, field: F, value: Option<impl Into<Value>>) -> Self {
        match value {
            Some(v) => self.put(field, v),
            None => self,
        }
    }
    /// Also add `members` to set `field` (nothing when there are none).
    pub fn add<S: Into<String>>(mut self, field: F, members: impl IntoIterator<Item = S>) -> Self {
        let m: Vec<String> = members.into_iter().map(Into::into).collect();
        if !m.is_empty() {
            self.changes.push((field, Change::Add(m)));
        }
        self
    }
    /// Also remove `members` from set `field` (nothing when there are none).
    pub fn remove<S: Into<String>>(
        mut self,
        field: F,
        members: impl IntoIterator<Item = S>,
    ) -> Self {
        let m: Vec<String> = members.into_iter().map(Into::into).collect();
        if !m.is_empty() {
            self.changes.push((field, Change::Remove(m)));
        }
        self
    }
    /// The value this patch puts into `field`, if it puts one.
    pub fn put_of(&self, field: F) -> Option<&Value> {
        self.changes.iter().rev().find_map(|(f, c)| match c {
            Change::Put(v) if *f == field => Some(v),
            _ => None,
        })
    }

    /// The patch with every value checked and in its canonical form (text trimmed, empty text
    /// as no value, set members normalised, dates and channels checked), or the first problem
    /// in words the person who typed it can act on.
    pub fn checked(self) -> Result<Self, ValidationError> {
        let mut out = Vec::with_capacity(self.changes.len());
        for (field, change) in self.changes {
            let spec = field.spec();
            let change = match change {
                Change::Put(v) => {
                    let v = check_value(spec, v)?;
                    // The record's own type has the last word (engagement 1–5, a known kind).
                    if !v.is_empty() {
                        F::Record::blank()
                            .set_value(field, v.clone())
                            .map_err(|reason| ValidationError::Field {
                                field: spec.name,
                                reason,
                            })?;
                    }
                    Change::Put(v)
                }
                Change::Add(m) => Change::Add(check_members(spec, m)?),
                Change::Remove(m) => Change::Remove(check_members(spec, m)?),
            };
            match &change {
                Change::Add(m) | Change::Remove(m) if m.is_empty() => {}
                _ => out.push((field, change)),
            }
        }
        Ok(Patch { changes: out })
    }
}

/// `v` checked and made canonical for a field declared as `spec`.
fn check_value(spec: &Spec, v: Value) -> Result<Value, ValidationError> {
    let v = match (spec.ty, v) {
        (Type::Set, Value::Set(m)) => Value::Set(check_members(spec, m)?),
        (Type::Consent, Value::Map(m)) => {
            for ch in m.keys() {
                ch.parse::<ConsentChannel>()?;
            }
            Value::Map(m)
        }
        (Type::Flag, v @ Value::Flag(_)) => v,
        (Type::Date, Value::Text(s)) if !s.trim().is_empty() => {
            Value::Text(parse_date(&s)?.to_string())
        }
        (Type::Time, Value::Text(s)) if !s.trim().is_empty() => {
            Value::Text(format_time(if spec.past {
                parse_past_time(&s)?
            } else {
                parse_time(&s)?
            }))
        }
        (Type::Number, Value::Text(s)) if !s.trim().is_empty() => {
            Value::Number(s.trim().parse().map_err(|_| ValidationError::Field {
                field: spec.name,
                reason: format!("{s:?} is not a whole number"),
            })?)
        }
        (Type::Choice(names), Value::Text(s)) if !s.trim().is_empty() => {
            let n = s.trim().to_lowercase().replace(['_', ' '], "-");
            if !names.contains(&n.as_str()) {
                return Err(ValidationError::Field {
                    field: spec.name,
                    reason: format!("{s:?} is not one of {}", names.join(", ")),
                });
            }
            Value::Text(n)
        }
        (Type::Text, Value::Text(s)) => match crate::rules::one_line(spec.name, &s)? {
            t if crate::rules::is_blank(t) => Value::Empty,
            t => Value::Text(t.to_string()),
        },
        (_, Value::Text(s)) => match s.trim() {
            "" => Value::Empty,
            t => Value::Text(t.to_string()),
        },
        (_, v) => v,
    };
    if spec.required && v.is_empty() {
        // Named as the form labels it ("Commitment", not its key "what").
        return Err(ValidationError::Empty { field: spec.label });
    }
    Ok(v)
}

/// Members of a set or consent field, canonical and deduplicated, in the order given.
fn check_members(spec: &Spec, members: Vec<String>) -> Result<Vec<String>, ValidationError> {
    let mut out: Vec<String> = Vec::new();
    for m in members {
        let m = match spec.ty {
            Type::Consent => m.parse::<ConsentChannel>()?.as_str().to_string(),
            _ => match normalise_tag(&m) {
                Some(t) => t,
                None => continue,
            },
        };
        if !out.contains(&m) {
            out.push(m);
        }
    }
    Ok(out)
}

/// Apply `patch` to `record` in memory, as the document will hold it (`now` for consent
/// given now). The patch must have been [`Patch::checked`].
pub fn apply<R: Record>(record: &mut R, patch: &Patch<R::Field>, now: &str) -> Result<(), String> {
    for (field, change) in &patch.changes {
        let value = match (change, record.value(*field)) {
            (Change::Put(v), _) => v.clone(),
            (Change::Add(m), Value::Set(mut s)) => {
                s.extend(
                    m.iter()
                        .filter(|x| !s.contains(x))
                        .cloned()
                        .collect::<Vec<_>>(),
                );
                s.sort();
                Value::Set(s)
            }
            (Change::Remove(m), Value::Set(mut s)) => {
                s.retain(|x| !m.contains(x));
                Value::Set(s)
            }
            (Change::Add(m), Value::Map(mut s)) => {
                for k in m {
                    s.entry(k.clone()).or_insert_with(|| now.to_string());
                }
                Value::Map(s)
            }
            (Change::Remove(m), Value::Map(mut s)) => {
                s.retain(|k, _| !m.contains(k));
                Value::Map(s)
            }
            (_, other) => return Err(format!("{} is not a set: {other:?}", field.name())),
        };
        record.set_value(*field, value)?;
    }
    Ok(())
}
