//! Device names, as the relay takes them and the app compares them: the characters that show
//! as nothing and have no place in a name ([`is_invisible`], refused by the relay), those that
//! scripts and emoji need but that a reader does not see ([`is_unseen`], kept, set aside when
//! names are compared), a flag's tag sequence, and spaces made one ([`device_name_of`]). With
//! an unseen character a device could take a name that looks like another device's in the
//! lead's list of devices, to have the wrong phone revoked.

/// Whether `c` shows as nothing, or as a space where none is seen, and has no place in a
/// device's name: zero-width space, word joiner, byte order mark, soft hyphen, the combining
/// grapheme joiner, the invisible operators, the deprecated format characters, Hangul and
/// Khmer fillers, the Mongolian vowel separator, the braille blank, the interlinear annotation
/// marks and unassigned specials, the shorthand format controls, musical formatting marks and
/// tag characters (those of a flag's sequence aside: see [`holds_invisible`]).
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{2060}'..='\u{2064}'
            | '\u{206A}'..='\u{206F}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E00FF}'
            | '\u{E01F0}'..='\u{E0FFF}'
    )
}

/// Whether `c` is unseen but has its place in a name: the zero-width joiner and non-joiner
/// (Persian, Indic scripts, emoji sequences) and the variation selectors (emoji, Mongolian).
pub fn is_unseen(c: char) -> bool {
    matches!(
        c,
        '\u{180B}'..='\u{180D}'
            | '\u{180F}'
            | '\u{200C}'
            | '\u{200D}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{E0100}'..='\u{E01EF}'
    )
}

/// Whether `name` holds an invisible character ([`is_invisible`]) outside a flag's tag
/// sequence: the waving black flag, one to six tag digits or small letters, the cancel tag
/// (England's, Scotland's and Wales's flags are written so).
pub fn holds_invisible(name: &str) -> bool {
    let chars: Vec<char> = name.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\u{1F3F4}' {
            let tags = chars[i + 1..]
                .iter()
                .take_while(|c| matches!(c, '\u{E0030}'..='\u{E0039}' | '\u{E0061}'..='\u{E007A}'))
                .count();
            if (1..=6).contains(&tags) && chars.get(i + 1 + tags) == Some(&'\u{E007F}') {
                i += tags + 2;
                continue;
            }
        }
        if is_invisible(chars[i]) {
            return true;
        }
        i += 1;
    }
    false
}

/// A device name as the relay keeps it: trimmed, and each run of spaces of any kind (a
/// no-break space, an em space…) one plain space, so that "Sam's  phone" is not a second
/// "Sam's phone" in the lead's list. A tab or a line break inside stays (the relay refuses
/// control characters).
pub fn device_name_of(raw: &str) -> String {
    raw.trim()
        .split(|c: char| c.is_whitespace() && !c.is_control())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A device's name as a reader takes it, to find two devices that read the same: capitals,
/// runs of spaces and characters that show as nothing aside. Letters of other scripts that
/// look alike (a Cyrillic "а") are not caught.
pub fn name_as_read(name: &str) -> String {
    let shown: String = name
        .chars()
        .filter_map(|c| match c {
            // Fillers and the braille blank show as a space.
            '\u{115F}' | '\u{1160}' | '\u{2800}' | '\u{3164}' | '\u{FFA0}' => Some(' '),
            c if is_invisible(c) || is_unseen(c) || is_bidi_control(c) => None,
            c => Some(c),
        })
        .collect();
    device_name_of(&shown).to_lowercase()
}

/// Whether `c` is a Unicode bidirectional control (embeddings, overrides, isolates and
/// marks), which could make a name display as someone else's.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_pass_and_stray_tags_do_not() {
        let england = "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}";
        assert!(!holds_invisible(&format!("Sam's phone {england}")));
        assert!(!holds_invisible(&format!("{england}{england}")));
        for bad in [
            "Sam's phone \u{E0067}\u{E007F}".to_string(),
            format!("{england}\u{E0067}"),
            "\u{1F3F4}\u{E0067}\u{E0062}".to_string(),
            "\u{1F3F4}\u{E0041}\u{E007F}".to_string(),
            "\u{1F3F4}\u{E0067}\u{E0067}\u{E0067}\u{E0067}\u{E0067}\u{E0067}\u{E0067}\u{E007F}"
                .to_string(),
            "a\u{1BCA0}b".to_string(),
            "a\u{FFF0}b".to_string(),
        ] {
            assert!(holds_invisible(&bad), "{bad:?}");
        }
    }

    #[test]
    fn names_read_the_same_whatever_is_unseen_in_them() {
        let plain = name_as_read("Sam's phone");
        for alike in [
            "sam's  Phone",
            "Sam\u{200D}'s phone",
            "Sam's\u{FE0F} phone",
            "Sam's\u{3164}phone",
            "\u{200E}Sam's phone",
        ] {
            assert_eq!(name_as_read(alike), plain, "{alike:?}");
        }
        assert_ne!(name_as_read("Sam's phone 2"), plain);
        // An ideographic variation selector is part of a name (a kanji's form): kept, and set
        // aside when names are compared.
        assert!(!holds_invisible("\u{845B}\u{E0100}\u{98FE}"));
        assert_eq!(
            name_as_read("\u{845B}\u{E0100}\u{98FE}"),
            "\u{845B}\u{98FE}"
        );
    }
}
