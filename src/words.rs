//! Counts and names in words, the same in every report and screen: "1 conversation",
//! "2 conversations", and what a record shows for a canvasser who gave no name.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_every_other_number_plural() {
        assert_eq!(count(0, "conversation"), "0 conversations");
        assert_eq!(count(1, "conversation"), "1 conversation");
        assert_eq!(count(2, "commitment"), "2 commitments");
        assert_eq!(plural(1u64, "person", "people"), "1 person");
        assert_eq!(plural(5u64, "person", "people"), "5 people");
    }
}
