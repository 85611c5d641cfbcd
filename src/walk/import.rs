//! Reading a street list from CSV: the kind of register extract a party or union receives
//! (address lines, house number, street, postcode, optional resident names and elector
//! numbers, in any column order, one elector per row).
//!
//! Columns are matched by their header ([`field_for_header`]: case, spaces and punctuation do
//! not matter, and the usual names are known); unusual headers are mapped explicitly
//! (`HEADER=FIELD`). Rows are grouped into doors by address, each door with its residents.
//! Every bad row is reported with its line number and nothing is imported when there is one:
//! a list is never half imported. Blank rows, a byte-order mark and quoted commas and line
//! breaks are fine.

use std::collections::BTreeMap;

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// A line of the address (several columns may be address lines, in column order).
    Address,
    /// The house number, e.g. "12A".
    Number,
    /// The street.
    Street,
    /// The postcode.
    Postcode,
    /// The flat, e.g. "Flat 3".
    Flat,
    /// The town.
    Town,
    /// The resident's whole name.
    Name,
    /// The resident's first name(s).
    FirstName,
    /// The resident's surname.
    Surname,
    /// The elector number (e.g. "AB-123").
    ElectorNumber,
    /// A column to leave out.
    Ignore,
}

impl Field {
    /// Every field, as `--map HEADER=FIELD` names them.
    pub const NAMES: &'static str = "address, number, street, postcode, flat, town, name, first-name, surname, elector-number, ignore";

    /// The field named `s` in a `--map`.
    pub fn parse(s: &str) -> Option<Field> {
        Some(match squash(s).as_str() {
            "address" => Field::Address,
            "number" => Field::Number,
            "street" => Field::Street,
            "postcode" => Field::Postcode,
            "flat" => Field::Flat,
            "town" => Field::Town,
            "name" => Field::Name,
            "firstname" => Field::FirstName,
            "surname" => Field::Surname,
            "electornumber" => Field::ElectorNumber,
            "ignore" => Field::Ignore,
            _ => return None,
        })
    }
}

/// Lower case, letters and digits only: "House No." → "houseno".
fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The field a header names, when it is one of the usual names.
pub fn field_for_header(header: &str) -> Option<Field> {
    let h = squash(header);
    let h = h.as_str();
    Some(match h {
        "address" | "addressline" | "addr" | "premises" => Field::Address,
        _ if h.starts_with("address") && h[7..].chars().all(|c| c.is_ascii_digit()) => {
            Field::Address
        }
        _ if h.starts_with("addressline") => Field::Address,
        "number" | "no" | "houseno" | "housenumber" | "doornumber" | "buildingnumber"
        | "propertynumber" => Field::Number,
        "street" | "road" | "streetname" | "thoroughfare" => Field::Street,
        "postcode" | "postalcode" | "zip" | "zipcode" | "pcode" => Field::Postcode,
        "flat" | "flatno" | "flatnumber" | "unit" | "apartment" | "subbuilding" => Field::Flat,
        "town" | "city" | "posttown" | "locality" => Field::Town,
        "name" | "fullname" | "resident" | "residentname" | "elector" | "electorname" => {
            Field::Name
        }
        "firstname" | "forename" | "forenames" | "givenname" | "firstnames" => Field::FirstName,
        "surname" | "lastname" | "familyname" => Field::Surname,
        "electornumber" | "electorno" | "eno" | "pdeno" | "electoralnumber" | "rollnumber" => {
            Field::ElectorNumber
        }
        _ => return None,
    })
}

/// One resident at a door.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Resident {
    /// Their name as the list gives it.
    pub name: String,
    /// Their elector number, if the list gives one.
    pub elector_number: Option<String>,
}

/// One door: an address and who lives there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Door {
    /// The address lines, as the list gives them (those that are not the number, street,
    /// flat, town or postcode).
    pub lines: Vec<String>,
    /// The house number.
    pub number: String,
    /// The street.
    pub street: String,
    /// The flat.
    pub flat: String,
    /// The town.
    pub town: String,
    /// The postcode, upper case with one space ("AB1 2CD").
    pub postcode: String,
    /// The residents, in the order of the list, without repeats.
    pub residents: Vec<Resident>,
    /// The first line of the file that names this door.
    pub line: u64,
    /// What makes two rows the same door (see [`Door::key`]).
    #[serde(skip)]
    key: String,
}

impl Door {
    /// What makes two rows the same door: the address as the list lays it out (its columns
    /// and lines, with the street line split into number and street), without regard to case
    /// and spacing. A flat read out of an address line (`take_flat`) does not change it, so
    /// that a list imported before flats were read that way, imported again, finds its doors,
    /// and a door marked do-not-knock then is still that door.
    pub fn key(&self) -> String {
        self.key.clone()
    }

    fn layout_key(&self) -> String {
        [
            squash(&self.postcode),
            squash(&self.street),
            squash(&self.number),
            squash(&self.flat),
            self.lines
                .iter()
                .map(|l| squash(l))
                .collect::<Vec<_>>()
                .join("|"),
        ]
        .join("/")
    }
}

/// A bad row or a file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The file is not CSV the reader can follow.
    #[error("the file cannot be read as CSV near line {line}: {reason}")]
    Unreadable {
        /// Where.
        line: u64,
        /// Why.
        reason: String,
    },
    /// The headers say nothing about where doors are.
    #[error(
        "no column holds a street or an address line (headers: {headers}); name one with --map HEADER=street (fields: {fields})",
        fields = Field::NAMES
    )]
    NoAddressColumns {
        /// The headers found.
        headers: String,
    },
    /// A `--map` names a header the file does not have or a field that does not exist.
    #[error("--map {given}: {reason}")]
    BadMapping {
        /// The mapping as given.
        given: String,
        /// What is wrong.
        reason: String,
    },
    /// Rows without an address; nothing was imported.
    #[error(
        "{} row(s) have no street or address line, so no door: line(s) {}; fix them (or remove them) and import again; nothing was imported",
        .0.len(),
        .0.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
    )]
    RowsWithoutAddress(Vec<u64>),
}

/// How the columns were understood.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mapping {
    /// Each header and the field it was taken as (none: left out).
    pub columns: Vec<(String, Option<Field>)>,
}

impl serde::Serialize for Field {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            Field::Address => "address",
            Field::Number => "number",
            Field::Street => "street",
            Field::Postcode => "postcode",
            Field::Flat => "flat",
            Field::Town => "town",
            Field::Name => "name",
            Field::FirstName => "first-name",
            Field::Surname => "surname",
            Field::ElectorNumber => "elector-number",
            Field::Ignore => "ignore",
        })
    }
}

/// What a file holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Imported {
    /// How the columns were understood.
    pub mapping: Mapping,
    /// The doors, in the order they first appear.
    pub doors: Vec<Door>,
    /// Rows read (blank rows left out).
    pub rows: u64,
    /// Rows that repeated a resident already listed at the same door.
    pub repeated: u64,
}

/// Parse `--map HEADER=FIELD`.
pub fn parse_mapping(given: &str) -> Result<(String, Field), ImportError> {
    let bad = |reason: &str| ImportError::BadMapping {
        given: given.to_string(),
        reason: reason.to_string(),
    };
    let (header, field) = given
        .rsplit_once('=')
        .ok_or_else(|| bad("write it HEADER=FIELD, e.g. \"Prop No=number\""))?;
    let field =
        Field::parse(field).ok_or_else(|| bad(&format!("the fields are {}", Field::NAMES)))?;
    Ok((header.trim().to_string(), field))
}

/// Read a street list from `bytes` (CSV with a header row), with `mapping` overriding the
/// fields of the headers it names.
pub fn read(bytes: &[u8], mapping: &[(String, Field)]) -> Result<Imported, ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let unreadable = |e: csv::Error| ImportError::Unreadable {
        line: e.position().map_or(1, csv::Position::line),
        reason: if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
            format!(
                "{e}: the file is not UTF-8 (a spreadsheet's \"CSV\" is often Windows-1252); \
                 save it again as \"CSV UTF-8\" and import that"
            )
        } else {
            e.to_string()
        },
    };
    let headers: Vec<String> = reader
        .headers()
        .map_err(unreadable)?
        .iter()
        .map(str::to_string)
        .collect();
    for (header, _) in mapping {
        if !headers.iter().any(|h| squash(h) == squash(header)) {
            return Err(ImportError::BadMapping {
                given: format!("{header}=…"),
                reason: format!(
                    "the file has no column {header:?} (its headers: {})",
                    headers.join(", ")
                ),
            });
        }
    }
    let columns: Vec<(String, Option<Field>)> = headers
        .iter()
        .map(|h| {
            let mapped = mapping
                .iter()
                .find(|(m, _)| squash(m) == squash(h))
                .map(|(_, f)| *f);
            let field = mapped.or_else(|| field_for_header(h));
            (h.clone(), field.filter(|f| *f != Field::Ignore))
        })
        .collect();
    if !columns
        .iter()
        .any(|(_, f)| matches!(f, Some(Field::Street | Field::Address)))
    {
        return Err(ImportError::NoAddressColumns {
            headers: headers.join(", "),
        });
    }

    let mut doors: Vec<Door> = Vec::new();
    let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
    let mut without_address = Vec::new();
    let (mut rows, mut repeated) = (0, 0);
    let mut record = csv::StringRecord::new();
    // Line numbers from byte offsets: the reader's own count leaves out blank lines, and a
    // record's offset can point at the blank lines before it.
    let (mut counted_to, mut lines_before) = (0usize, 0u64);
    let mut line_at = |offset: u64| {
        let mut offset = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        while offset < bytes.len() && matches!(bytes[offset], b'\n' | b'\r') {
            offset += 1;
        }
        if offset >= counted_to {
            lines_before += bytes[counted_to..offset]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64;
            counted_to = offset;
        }
        lines_before + 1
    };
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(unreadable(e)),
        }
        if record.iter().all(str::is_empty) {
            continue;
        }
        rows += 1;
        let line = record.position().map_or(0, |p| line_at(p.byte()));
        let mut door = Door {
            lines: Vec::new(),
            number: String::new(),
            street: String::new(),
            flat: String::new(),
            town: String::new(),
            postcode: String::new(),
            residents: Vec::new(),
            line,
            key: String::new(),
        };
        let (mut name, mut first, mut surname, mut elector) =
            (String::new(), String::new(), String::new(), None);
        for (value, (_, field)) in record.iter().zip(&columns) {
            // One line of plain text, as the notebook keeps names and addresses (a register's
            // direction overrides and stray control characters dropped).
            let value = value
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .replace(crate::rules::not_one_line, "");
            if value.is_empty() {
                continue;
            }
            match field {
                Some(Field::Address) => door.lines.push(value),
                Some(Field::Number) => door.number = value,
                Some(Field::Street) => door.street = value,
                Some(Field::Postcode) => door.postcode = postcode(&value),
                Some(Field::Flat) => door.flat = value,
                Some(Field::Town) => door.town = value,
                Some(Field::Name) => name = value,
                Some(Field::FirstName) => first = value,
                Some(Field::Surname) => surname = value,
                Some(Field::ElectorNumber) => elector = Some(value),
                Some(Field::Ignore) | None => {}
            }
        }
        // The key as the list lays the address out, before a flat is read out of its lines.
        let mut laid_out = door.clone();
        if laid_out.street.is_empty() {
            split_street_line(&mut laid_out);
        }
        door.key = laid_out.layout_key();
        take_flat(&mut door);
        if door.street.is_empty() {
            // Only address lines: the street is the first line holding a number and a name
            // ("12 Elm Road"), split into the two.
            split_street_line(&mut door);
        }
        if door.street.is_empty() && door.lines.is_empty() {
            without_address.push(line);
            continue;
        }
        if name.is_empty() {
            name = [first, surname]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
        }
        let resident = (!name.is_empty() || elector.is_some()).then_some(Resident {
            name,
            elector_number: elector,
        });
        let index = *by_key.entry(door.key()).or_insert_with(|| {
            doors.push(door);
            doors.len() - 1
        });
        if let Some(r) = resident {
            let held = &mut doors[index].residents;
            let same = |h: &Resident| match (&h.elector_number, &r.elector_number) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => squash(&h.name) == squash(&r.name) && !r.name.is_empty(),
            };
            if held.iter().any(same) {
                repeated += 1;
            } else {
                held.push(r);
            }
        }
    }
    if !without_address.is_empty() {
        return Err(ImportError::RowsWithoutAddress(without_address));
    }
    Ok(Imported {
        mapping: Mapping { columns },
        doors,
        rows,
        repeated,
    })
}

/// A postcode as written on letters: upper case, the inward code (last three characters)
/// after one space, when it looks like a UK postcode; otherwise as given.
fn postcode(s: &str) -> String {
    let compact: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect();
    if (5..=7).contains(&compact.len()) && compact.chars().all(|c| c.is_ascii_alphanumeric()) {
        let (out, inw) = compact.split_at(compact.len() - 3);
        format!("{out} {inw}")
    } else {
        s.trim().to_string()
    }
}

/// Whether `part` of an address names a flat rather than a building or a street: "Flat 2",
/// "Flat 2B", "Apartment 4", "Block B", "Floor 3", the Scottish "2/1", "Ground floor flat",
/// "Basement flat". Kept narrow: a street called "Flat Lane" or a house called "The Flat at
/// Rose Cottage" is left where it is.
fn is_flat(part: &str) -> bool {
    let words: Vec<String> = part
        .split_whitespace()
        .map(|w| w.trim_end_matches(['.', ',']).to_lowercase())
        .collect();
    let short_mark = |w: &str| {
        w.chars().count() <= 4
            && w.chars().all(char::is_alphanumeric)
            && (w.chars().any(|c| c.is_ascii_digit()) || w.chars().count() == 1)
    };
    match words.as_slice() {
        [one] => one.split_once('/').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.chars().all(|c| c.is_ascii_digit())
                && b.chars().all(|c| c.is_ascii_digit())
        }),
        [first, mark] => {
            matches!(
                first.as_str(),
                "flat" | "apartment" | "apt" | "unit" | "maisonette" | "block" | "floor"
            ) && short_mark(mark)
                || matches!(
                    first.as_str(),
                    "ground"
                        | "basement"
                        | "lower"
                        | "upper"
                        | "top"
                        | "garden"
                        | "first"
                        | "second"
                        | "third"
                        | "1st"
                        | "2nd"
                        | "3rd"
                ) && matches!(mark.as_str(), "flat" | "maisonette")
        }
        [first, floor, flat] => {
            matches!(
                first.as_str(),
                "ground"
                    | "lower"
                    | "upper"
                    | "top"
                    | "first"
                    | "second"
                    | "third"
                    | "fourth"
                    | "1st"
                    | "2nd"
                    | "3rd"
                    | "4th"
            ) && floor == "floor"
                && matches!(flat.as_str(), "flat" | "maisonette")
        }
        _ => false,
    }
}

/// With no flat column, a flat written in the address lines becomes the door's flat, so that
/// the flats of a building walk in order, floor by floor: a whole line ("Flat 2" above "4 Elm
/// Road"), or the first parts of one ("Flat 2, 4 Elm Road", "Block B, Flat 12, Tower
/// Street"), when something is left after them.
fn take_flat(door: &mut Door) {
    if !door.flat.is_empty() {
        return;
    }
    let mut flat: Vec<String> = Vec::new();
    let mut lines = Vec::with_capacity(door.lines.len());
    for line in door.lines.iter().cloned() {
        if flat.is_empty() {
            // Empty parts ("Flat 2,,4 Elm Road", a trailing comma) are no parts.
            let parts: Vec<&str> = line
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect();
            let lead = parts.iter().take_while(|p| is_flat(p)).count();
            if lead > 0 && lead == parts.len() {
                flat.extend(parts.iter().map(|p| p.to_string()));
                continue;
            }
            if lead > 0 {
                flat.extend(parts[..lead].iter().map(|p| p.to_string()));
                lines.push(parts[lead..].join(", "));
                continue;
            }
        }
        lines.push(line);
    }
    // A flat and nothing else says where no door is: left as the address it was.
    if !flat.is_empty() && (!lines.is_empty() || !door.street.is_empty()) {
        door.flat = flat.join(", ");
        door.lines = lines;
    }
}

/// Take the street and number out of the first address line like "12A Elm Road" (the line
/// goes; the other lines stay).
fn split_street_line(door: &mut Door) {
    let found = door.lines.iter().position(|l| {
        l.split_once(' ').is_some_and(|(n, rest)| {
            n.starts_with(|c: char| c.is_ascii_digit()) && !rest.is_empty()
        })
    });
    if let Some(i) = found {
        let line = door.lines.remove(i);
        if let Some((n, rest)) = line.split_once(' ') {
            if door.number.is_empty() {
                door.number = n.trim_end_matches(',').to_string();
            }
            door.street = rest.trim().to_string();
        }
    } else if let Some(first) = door.lines.first().cloned()
        && !door.number.is_empty()
    {
        // A number column and the street in the first line.
        door.street = first;
        door.lines.remove(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doors(csv: &str) -> Imported {
        read(csv.as_bytes(), &[]).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn columns_in_any_order_one_elector_a_row_grouped_into_doors() {
        let got = doors(
            "\u{feff}Elector No.,Surname,First name,House No,Street,Post Code\n\
             AB-1,Kowalski,Rosa,12,Elm Road,ab12cd\n\
             AB-2,Kowalski,Jan,12,Elm Road,AB1 2CD\n\
             \n\
             AB-3,\"Ní Bhriain, Zoë\",,14,\"Elm\nRoad\",AB1 2CD\n\
             AB-1,Kowalski,Rosa,12,Elm Road,AB1 2CD\n\
             AB-4,Дмитренко,Олена,1,Ash Grove,AB1 3EF\n",
        );
        assert_eq!(got.rows, 5);
        assert_eq!(got.repeated, 1, "AB-1 twice");
        assert_eq!(got.doors.len(), 3);
        let first = &got.doors[0];
        assert_eq!(
            (
                first.number.as_str(),
                first.street.as_str(),
                first.postcode.as_str()
            ),
            ("12", "Elm Road", "AB1 2CD")
        );
        assert_eq!(
            first.residents,
            [
                Resident {
                    name: "Rosa Kowalski".into(),
                    elector_number: Some("AB-1".into())
                },
                Resident {
                    name: "Jan Kowalski".into(),
                    elector_number: Some("AB-2".into())
                },
            ]
        );
        // A quoted line break inside a cell is a space in the street.
        assert_eq!(got.doors[1].street, "Elm Road");
        assert_eq!(got.doors[1].line, 5, "the line the row starts on");
        assert_eq!(got.doors[2].residents[0].name, "Олена Дмитренко");
    }

    #[test]
    fn direction_overrides_and_control_characters_are_dropped_as_the_notebook_would_refuse_them() {
        let got = doors("Address 1,Name\n12 Elm Road,\u{202e}Ann\u{1} Lee\u{2067}x\u{2069}\n");
        let d = &got.doors[0];
        assert_eq!(
            d.residents[0].name, "Ann Lee\u{2067}x\u{2069}",
            "isolates kept"
        );
        assert!(crate::rules::one_line("name", &d.residents[0].name).is_ok());
    }

    #[test]
    fn address_lines_alone_give_the_number_and_street() {
        let got = doors(
            "Address 1,Address 2,Address 3,Postcode\n\
             Flat 3,12A Elm Road,Leeds,LS1 1AA\n",
        );
        let d = &got.doors[0];
        assert_eq!((d.number.as_str(), d.street.as_str()), ("12A", "Elm Road"));
        assert_eq!(d.flat, "Flat 3", "a flat line is the door's flat");
        assert_eq!(d.lines, ["Leeds"]);
    }

    #[test]
    fn bad_rows_are_reported_by_line_and_nothing_is_imported() {
        let err = read(
            b"street,number,name\nElm Road,1,Ann\n,,Bob\nElm Road,3,Cy\n,,Di\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(err, ImportError::RowsWithoutAddress(vec![3, 5]));
        assert!(err.to_string().contains("line(s) 3, 5"), "{err}");
    }

    #[test]
    fn unusual_headers_need_a_mapping_and_a_wrong_one_says_why() {
        let csv = b"Prop,Thoroughfare name,Who\n7,Canal Street,Sam\n";
        let err = read(csv, &[]).unwrap_err();
        assert!(matches!(err, ImportError::NoAddressColumns { .. }), "{err}");
        let map = vec![
            parse_mapping("Prop=number").unwrap(),
            parse_mapping("Thoroughfare name=street").unwrap(),
            parse_mapping("Who=name").unwrap(),
        ];
        let got = read(csv, &map).unwrap();
        assert_eq!(got.doors[0].street, "Canal Street");
        assert_eq!(got.doors[0].number, "7");
        assert_eq!(got.doors[0].residents[0].name, "Sam");
        assert!(parse_mapping("Prop=house").is_err());
        assert!(parse_mapping("Prop").is_err());
        assert!(matches!(
            read(csv, &[("Nope".into(), Field::Street)]),
            Err(ImportError::BadMapping { .. })
        ));
    }

    #[test]
    fn ten_thousand_rows_with_repeats() {
        let mut csv = String::from("number,street,postcode,elector number,name\n");
        for i in 0..10_000 {
            csv.push_str(&format!(
                "{},Long Street,LS2 {}AB,E{},Person {}\n",
                i / 2,
                i % 7,
                i,
                i
            ));
        }
        // The whole file again: every row repeats.
        let twice = format!("{csv}{}", csv.split_once('\n').unwrap().1);
        let got = doors(&twice);
        assert_eq!(got.rows, 20_000);
        assert_eq!(got.repeated, 10_000);
        let residents: usize = got.doors.iter().map(|d| d.residents.len()).sum();
        assert_eq!(residents, 10_000);
    }

    #[test]
    fn unreadable_files_say_where() {
        let err = read(b"street,number\nElm Road,1\nAsh \xff Grove,2\n", &[]).unwrap_err();
        assert!(
            matches!(err, ImportError::Unreadable { line: 3, .. }),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("save it again as \"CSV UTF-8\""),
            "{err}"
        );
        assert!(matches!(
            read(b"", &[]),
            Err(ImportError::NoAddressColumns { .. })
        ));
    }

    #[test]
    fn flats_written_in_the_address_lines_become_the_doors_flat() {
        let got = doors(
            "Address 1,Address 2,Postcode\n\
             Flat 10,4 Elm Road,AB1 2CD\n\
             \"Flat 2, 4 Elm Road\",,AB1 2CD\n\
             \"Block B, Flat 12, Tower Street\",,AB1 3EF\n\
             2/1,7 Byres Road,G11 5RD\n\
             Ground floor flat,9 Elm Road,AB1 2CD\n\
             The Flat at Rose Cottage,Mill Lane,AB1 4GH\n\
             3 Flat Lane,,AB1 5JK\n\
             Flat 3,,AB1 6LM\n\
             \"Flat 4,,6 Elm Road\",,AB1 2CD\n\
             \"Flat 5,\",8 Elm Road,AB1 2CD\n",
        );
        let seen: Vec<(&str, &str, &str, Vec<&str>)> = got
            .doors
            .iter()
            .map(|d| {
                (
                    d.flat.as_str(),
                    d.number.as_str(),
                    d.street.as_str(),
                    d.lines.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                ("Flat 10", "4", "Elm Road", vec![]),
                ("Flat 2", "4", "Elm Road", vec![]),
                // No number: the street stays an address line, as without the flat.
                ("Block B, Flat 12", "", "", vec!["Tower Street"]),
                ("2/1", "7", "Byres Road", vec![]),
                ("Ground floor flat", "9", "Elm Road", vec![]),
                ("", "", "", vec!["The Flat at Rose Cottage", "Mill Lane"]),
                ("", "3", "Flat Lane", vec![]),
                // A flat and nothing else: kept as the address it is.
                ("", "", "", vec!["Flat 3"]),
                // Empty parts between commas are no parts.
                ("Flat 4", "6", "Elm Road", vec![]),
                ("Flat 5", "8", "Elm Road", vec![]),
            ]
        );
        // Keys as the list lays the address out: what an import before flats were read this
        // way made, so that importing the list again finds the same doors.
        let keys: Vec<String> = got.doors.iter().map(Door::key).collect();
        assert_eq!(
            keys[..4],
            [
                "ab12cd/elmroad/4//flat10",
                "ab12cd////flat24elmroad",
                "ab13ef////blockbflat12towerstreet",
                "g115rd/byresroad/7//21",
            ]
        );
        // Flats of one building walk in order, whichever way the list wrote them.
        let mut places: Vec<&Door> = got.doors.iter().filter(|d| d.number == "4").collect();
        places.sort_by(|a, b| {
            crate::walk::order::walking_order(
                &crate::walk::order::Place {
                    street: &a.street,
                    number: &a.number,
                    flat: &a.flat,
                },
                &crate::walk::order::Place {
                    street: &b.street,
                    number: &b.number,
                    flat: &b.flat,
                },
            )
        });
        let flats: Vec<&str> = places.iter().map(|d| d.flat.as_str()).collect();
        assert_eq!(flats, ["Flat 2", "Flat 10"]);
        assert!(is_flat("Flat 2B") && is_flat("apartment 4") && is_flat("Top floor flat"));
        assert!(!is_flat("Flat Lane") && !is_flat("Flats 1-20") && !is_flat("12/1A"));
    }
}
