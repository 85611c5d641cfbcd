//! A join link drawn as a QR code, for a phone's camera to read: as text for a terminal (the
//! relay's `invite create --qr`, the app's `team invite --qr`) and as an SVG path (the app's
//! invite screen). Shared here so that the relay and the app draw the same code.

use qrcodegen::{QrCode, QrCodeEcc};

/// Modules of light margin around the code (the quiet zone scanners need; the standard asks
/// for four).
pub const QUIET_ZONE: i32 = 4;

fn encode(text: &str) -> Option<QrCode> {
    QrCode::encode_text(text, QrCodeEcc::Medium).ok()
}

/// `text` as a QR code for a terminal, `None` when it does not fit in the largest QR code:
/// one character per module across and two modules per line (Unicode half blocks), with a
/// quiet zone of [`QUIET_ZONE`] modules.
///
/// Light modules are drawn (`█`, `▀`, `▄`) and dark ones left blank, which reads right on the
/// usual light-on-dark terminal; on a dark-on-light terminal the code comes out inverted, which
/// most phone cameras read too. Every line has the same width and ends with a newline.
pub fn text(text: &str) -> Option<String> {
    let code = encode(text)?;
    let light = |x: i32, y: i32| !code.get_module(x, y);
    let side = code.size() + 2 * QUIET_ZONE;
    let rows = (side + 1) / 2;
    let mut out = String::with_capacity(((side as usize) * 3 + 1) * rows as usize);
    for row in 0..rows {
        let top_y = 2 * row - QUIET_ZONE;
        for col in 0..side {
            let x = col - QUIET_ZONE;
            let top = light(x, top_y);
            // An odd side leaves half of the last line below the quiet zone: blank.
            let bottom = 2 * row + 1 < side && light(x, top_y + 1);
            out.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    Some(out)
}

/// The SVG path of `text`'s dark modules (one `M x y h1 v1 h-1 z` square each) and the side of
/// the square drawing, quiet zone included; `None` when the text is too long for a QR code.
pub fn svg_path(text: &str) -> Option<(String, i32)> {
    let code = encode(text)?;
    let mut path = String::new();
    for y in 0..code.size() {
        for x in 0..code.size() {
            if code.get_module(x, y) {
                path.push_str(&format!("M{} {}h1v1h-1z", x + QUIET_ZONE, y + QUIET_ZONE));
            }
        }
    }
    Some((path, code.size() + 2 * QUIET_ZONE))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str =
        "https://relay.example.org/#join=ABCD-EFGH-IJKL.abcdefghijklmnopqrstuvwxyz234567";

    #[test]
    fn text_is_a_square_of_half_blocks_with_a_light_border() {
        let drawn = text(LINK).expect("fits");
        let lines: Vec<&str> = drawn.lines().collect();
        let width = lines[0].chars().count();
        assert_eq!(lines.len(), width.div_ceil(2));
        // Version v is 17 + 4v modules across.
        let modules = width - 2 * QUIET_ZONE as usize;
        assert!(
            modules >= 21 && (modules - 17).is_multiple_of(4),
            "{modules}"
        );
        assert!(lines.iter().all(|l| l.chars().count() == width));
        assert!(drawn.chars().all(|c| " ▀▄█\n".contains(c)));
        assert!(lines[0].chars().all(|c| c == '█'), "quiet zone on top");
        let (last, body) = lines.split_last().expect("lines");
        assert!(
            body.iter()
                .all(|l| l.starts_with("████") && l.ends_with("████"))
        );
        // An odd side: the last line holds the bottom row of the quiet zone in its top half.
        assert!(last.chars().all(|c| c == '▀'), "quiet zone below");
        assert!(text(&"x".repeat(5_000)).is_none());
    }

    #[test]
    fn text_and_svg_draw_the_same_modules() {
        let drawn = text(LINK).expect("fits");
        let (path, side) = svg_path(LINK).expect("fits");
        assert_eq!(drawn.lines().next().unwrap().chars().count() as i32, side);
        // Every dark square of the SVG is a blank half of the text, and there are as many.
        let mut dark_in_text = 0;
        for (row, line) in drawn.lines().enumerate() {
            for (col, c) in line.chars().enumerate() {
                let (top, bottom) = match c {
                    '█' => (false, false),
                    '▀' => (false, true),
                    '▄' => (true, false),
                    _ => (true, true),
                };
                let y = 2 * row as i32;
                if top {
                    assert!(path.contains(&format!("M{col} {y}h")), "{col},{y}");
                    dark_in_text += 1;
                }
                if bottom && y + 1 < side {
                    assert!(
                        path.contains(&format!("M{col} {}h", y + 1)),
                        "{col},{}",
                        y + 1
                    );
                    dark_in_text += 1;
                }
            }
        }
        assert_eq!(path.matches('M').count(), dark_in_text);
        assert!(svg_path(&"x".repeat(5_000)).is_none());
    }
}
