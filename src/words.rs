//! Counts and names in words, the same in every report and screen: "1 conversation",
//! "2 conversations", and what a record shows for a canvasser who gave no name; and names
//! padded to a column of a text report by the width a terminal gives them.

/// `n` with the singular or the plural words: `plural(1, "change", "changes")` is "1 change",
/// `plural(2, "change", "changes")` is "2 changes".
pub fn plural(n: impl Into<u64>, one: &str, many: &str) -> String {
    match n.into() {
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

/// `n` of a noun that takes an "s" in the plural: `count(3, "conversation")` is
/// "3 conversations".
pub fn count(n: usize, noun: &str) -> String {
    plural(n as u64, noun, &format!("{noun}s"))
}

/// How many columns a terminal gives `c`: two for the wide characters of Chinese, Japanese
/// and Korean (and the emoji shown wide), none for combining marks and joiners, one otherwise.
/// The main ranges of Unicode's East Asian Width "W" and "F", not every code point: enough to
/// keep a report's columns straight for the names people have.
fn columns(c: char) -> usize {
    match u32::from(c) {
        0x0300..=0x036F | 0x200B..=0x200F | 0x20D0..=0x20FF | 0xFE00..=0xFE0F => 0,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

/// `s` followed by spaces to fill `width` terminal columns (as `{:<width}` does, counting a
/// wide character as two columns); `s` as it is when already that wide.
pub fn padded(s: &str, width: usize) -> String {
    let used: usize = s.chars().map(columns).sum();
    format!("{s}{}", " ".repeat(width.saturating_sub(used)))
}

/// The first `n` characters of `s` (all of `s` when it is shorter): a date's `YYYY-MM-DD` of a
/// time written by a device, cut where a character ends (a byte index into a string another
/// device wrote may fall inside a character, and slicing there panics).
pub fn leading(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(at, _)| &s[..at])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_cuts_between_characters() {
        assert_eq!(leading("2026-03-14T10:00:00Z", 10), "2026-03-14");
        assert_eq!(leading("2026-03-1é", 10), "2026-03-1é");
        assert_eq!(leading("2026-03-1éT", 10), "2026-03-1é");
        assert_eq!(leading("short", 10), "short");
        assert_eq!(leading("", 10), "");
    }

    #[test]
    fn one_is_singular_and_every_other_number_plural() {
        assert_eq!(count(0, "conversation"), "0 conversations");
        assert_eq!(count(1, "conversation"), "1 conversation");
        assert_eq!(count(2, "commitment"), "2 commitments");
        assert_eq!(plural(1u64, "person", "people"), "1 person");
        assert_eq!(plural(5u64, "person", "people"), "5 people");
    }

    #[test]
    fn wide_names_pad_to_the_same_column() {
        assert_eq!(padded("Ann", 6), "Ann   ");
        assert_eq!(padded("李伟", 6), "李伟  ");
        assert_eq!(padded("Zoe\u{0301}", 6), "Zoe\u{0301}   ");
        assert_eq!(padded("Aleksandra", 6), "Aleksandra");
        assert_eq!(padded("김민준", 8), "김민준  ");
    }
}
