//! Walking order: the order a canvasser meets the doors of a walk list in. By street, then
//! side of the street (odd numbers, then even), then house number in natural order (2, 2A, 4,
//! 10), then the flats of a building grouped by entrance and floor where the addresses say
//! so, in natural order (Flat 2 before Flat 10).
//!
//! The order is a total order on the address text alone, so every device sorts the same list
//! the same way.

use std::cmp::Ordering;

/// The parts of a door's address that decide where it comes in a walk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place<'a> {
    /// The street, e.g. "Elm Road".
    pub street: &'a str,
    /// The house number as written, e.g. "12", "12A", "12-14"; empty for a named house.
    pub number: &'a str,
    /// The flat as written, e.g. "Flat 3", "2/1", "Ground floor flat"; empty for a house.
    pub flat: &'a str,
}

/// Which side of the street a number is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    /// Odd numbers.
    Odd,
    /// Even numbers.
    Even,
    /// No number (a named house): after the numbered doors of the street.
    Unnumbered,
}

/// The side of the street `number` is on (its first run of digits decides).
pub fn side(number: &str) -> Side {
    match leading_number(number) {
        Some(n) if n % 2 == 1 => Side::Odd,
        Some(_) => Side::Even,
        None => Side::Unnumbered,
    }
}

/// The first run of digits in `s`, as a number (saturating for absurdly long runs).
fn leading_number(s: &str) -> Option<u64> {
    let start = s.find(|c: char| c.is_ascii_digit())?;
    let digits: String = s[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some(digits.parse().unwrap_or(u64::MAX))
}

/// The entrance or block and the floor a flat is on, where its text says: "Block B", "Entrance
/// 2", "Floor 3", "3rd floor", "Ground floor", "Basement", or the Scottish "2/1" (floor 2, flat
/// 1). `(entrance, floor)`: floors as numbers (basement -1, ground 0).
pub fn entrance_and_floor(flat: &str) -> (String, Option<i64>) {
    let lower = flat.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric() && c != '/')
        .filter(|w| !w.is_empty())
        .collect();
    let mut entrance = String::new();
    let mut floor = None;
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).copied().unwrap_or_default();
        match *w {
            "block" | "entrance" | "stair" | "staircase" | "building" | "wing" => {
                entrance = next.to_string();
            }
            "floor" | "level" => {
                if let Some(n) = ordinal(next) {
                    floor = Some(n);
                } else if let Some(prev) = i.checked_sub(1).and_then(|p| words.get(p)) {
                    floor = ordinal(prev).or(floor);
                }
            }
            "ground" if next == "floor" || next == "flat" => floor = Some(0),
            "basement" | "lower" if floor.is_none() => floor = Some(-1),
            _ => {
                if let Some((f, _)) = w.split_once('/')
                    && let Ok(n) = f.parse::<i64>()
                {
                    floor = Some(n);
                }
            }
        }
    }
    (entrance, floor)
}

/// "3", "3rd", "third" → 3; "ground" → 0.
fn ordinal(w: &str) -> Option<i64> {
    let digits: String = w.chars().take_while(char::is_ascii_digit).collect();
    if !digits.is_empty() {
        let rest = &w[digits.len()..];
        if rest.is_empty() || ["st", "nd", "rd", "th"].contains(&rest) {
            return digits.parse().ok();
        }
        return None;
    }
    const WORDS: [&str; 11] = [
        "ground", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
        "ninth", "tenth",
    ];
    WORDS.iter().position(|x| *x == w).map(|p| p as i64)
}

/// Compare two texts in natural order: runs of digits by value ("2" < "2A" < "4" < "10"),
/// the rest without regard to case; ties broken by the exact text, so the order is total.
pub fn natural(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.chars().peekable(), b.chars().peekable());
    loop {
        match (x.peek().copied(), y.peek().copied()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let take = |it: &mut std::iter::Peekable<std::str::Chars<'_>>| {
                    let mut s = String::new();
                    while let Some(c) = it.peek().copied().filter(char::is_ascii_digit) {
                        s.push(c);
                        it.next();
                    }
                    s
                };
                let (m, n) = (take(&mut x), take(&mut y));
                let (mt, nt) = (m.trim_start_matches('0'), n.trim_start_matches('0'));
                let by_value = mt.len().cmp(&nt.len()).then_with(|| mt.cmp(nt));
                if by_value != Ordering::Equal {
                    return by_value;
                }
            }
            (Some(c), Some(d)) => {
                let by_char = c.to_lowercase().cmp(d.to_lowercase());
                if by_char != Ordering::Equal {
                    return by_char;
                }
                x.next();
                y.next();
            }
        }
    }
}

/// Walking order of two doors (see the module documentation).
pub fn walking_order(a: &Place<'_>, b: &Place<'_>) -> Ordering {
    let (ea, fa) = entrance_and_floor(a.flat);
    let (eb, fb) = entrance_and_floor(b.flat);
    natural(a.street.trim(), b.street.trim())
        .then_with(|| side(a.number).cmp(&side(b.number)))
        .then_with(|| natural(a.number.trim(), b.number.trim()))
        .then_with(|| natural(&ea, &eb))
        // Flats whose floor is not said come after those whose floor is.
        .then_with(|| match (fa, fb) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
        .then_with(|| natural(a.flat.trim(), b.flat.trim()))
        .then_with(|| a.street.cmp(b.street))
        .then_with(|| a.number.cmp(b.number))
        .then_with(|| a.flat.cmp(b.flat))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sorted(places: &[(&'static str, &'static str, &'static str)]) -> Vec<String> {
        let mut v: Vec<Place<'static>> = places
            .iter()
            .map(|&(street, number, flat)| Place {
                street,
                number,
                flat,
            })
            .collect();
        v.sort_by(walking_order);
        v.iter()
            .map(|p| {
                format!("{} {} {}", p.street, p.number, p.flat)
                    .trim()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn house_numbers_in_natural_order_odd_side_then_even() {
        let got = sorted(&[
            ("Elm Road", "10", ""),
            ("Elm Road", "2A", ""),
            ("Elm Road", "3", ""),
            ("Elm Road", "2", ""),
            ("Elm Road", "4", ""),
            ("Elm Road", "1", ""),
            ("Elm Road", "Rose Cottage", ""),
            ("Ash Grove", "7", ""),
        ]);
        assert_eq!(
            got,
            [
                "Ash Grove 7",
                "Elm Road 1",
                "Elm Road 3",
                "Elm Road 2",
                "Elm Road 2A",
                "Elm Road 4",
                "Elm Road 10",
                "Elm Road Rose Cottage",
            ]
        );
    }

    #[test]
    fn flats_group_by_entrance_and_floor_then_number() {
        let got = sorted(&[
            ("Tower St", "5", "Flat 10, Floor 2"),
            ("Tower St", "5", "Flat 2, Floor 1"),
            ("Tower St", "5", "Flat 9, Floor 2"),
            ("Tower St", "5", "Ground floor flat"),
            ("Tower St", "5", "Flat 1, Floor 1"),
            ("Tower St", "5", "Flat 3"),
        ]);
        assert_eq!(
            got,
            [
                "Tower St 5 Ground floor flat",
                "Tower St 5 Flat 1, Floor 1",
                "Tower St 5 Flat 2, Floor 1",
                "Tower St 5 Flat 9, Floor 2",
                "Tower St 5 Flat 10, Floor 2",
                "Tower St 5 Flat 3",
            ]
        );
        assert_eq!(entrance_and_floor("2/1"), (String::new(), Some(2)));
        assert_eq!(
            entrance_and_floor("Block B, 3rd floor, flat 12"),
            ("b".into(), Some(3))
        );
        assert_eq!(
            entrance_and_floor("Basement flat"),
            (String::new(), Some(-1))
        );
        assert_eq!(entrance_and_floor("Flat 7"), (String::new(), None));
    }

    #[test]
    fn natural_order_reads_numbers_by_value() {
        let mut v = vec![
            "Flat 10", "flat 2", "Flat 2", "Flat 02", "Flat 1b", "Flat 1a",
        ];
        v.sort_by(|a, b| natural(a, b));
        assert_eq!(
            v,
            [
                "Flat 1a", "Flat 1b", "Flat 02", "Flat 2", "flat 2", "Flat 10"
            ]
        );
        // Absurdly long numbers compare by length, never overflow.
        assert_eq!(natural(&"9".repeat(40), &"1".repeat(41)), Ordering::Less);
    }

    proptest! {
        /// The order is total and consistent: sorting any shuffle gives the same list, and the
        /// comparison is antisymmetric.
        #[test]
        fn the_order_does_not_depend_on_the_order_given(
            doors in proptest::collection::vec(
                ("[A-C][a-z]{0,3}", "[0-9]{0,3}[A-Ca-c]?", "((Flat )?[0-9]{1,2}(, Floor [0-3])?)?"),
                0..30,
            ),
            seed in any::<u64>(),
        ) {
            let places: Vec<Place<'_>> = doors
                .iter()
                .map(|(s, n, f)| Place { street: s, number: n, flat: f })
                .collect();
            let mut a = places.clone();
            a.sort_by(walking_order);
            let mut b = places.clone();
            // A deterministic shuffle.
            let mut state = seed | 1;
            for i in (1..b.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                b.swap(i, (state % (i as u64 + 1)) as usize);
            }
            b.sort_by(walking_order);
            prop_assert_eq!(&a, &b);
            for x in &places {
                for y in &places {
                    prop_assert_eq!(walking_order(x, y), walking_order(y, x).reverse());
                }
            }
        }
    }
}
