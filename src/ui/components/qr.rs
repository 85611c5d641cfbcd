//! A text drawn as a QR code (an SVG of its dark modules, with the four-module quiet zone the
//! standard asks for), for a phone's camera to read off another phone's screen: the team
//! lead's invite link.

use dioxus::prelude::*;
use groundwork_protocol::qr::svg_path;

/// `text` as a QR code, described for screen readers by `label`; nothing if it cannot be
/// drawn (the text stays shown beside it anyway).
#[component]
pub fn QrImage(id: String, text: String, label: String) -> Element {
    let Some((path, side)) = svg_path(&text) else {
        return rsx! {};
    };
    rsx! {
        svg {
            id: "{id}",
            class: "qr",
            role: "img",
            "aria-label": "{label}",
            view_box: "0 0 {side} {side}",
            xmlns: "http://www.w3.org/2000/svg",
            rect { width: "{side}", height: "{side}", fill: "#fff" }
            path { d: "{path}", fill: "#000" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_join_link_is_drawn_with_finder_patterns_and_a_quiet_zone() {
        let (path, side) = svg_path("https://relay.example.org/#join=abcd-efgh-ijkl").unwrap();
        // Version 3 or so: 29 modules plus 8 of quiet zone.
        assert!((25..=45).contains(&side), "{side}");
        // The top-left finder pattern starts at the quiet zone's corner, and nothing is drawn in
        // the quiet zone.
        assert!(path.starts_with("M4 4h1v1h-1z"), "{}", &path[..40]);
        assert!(!path.contains("M3 ") && !path.contains(" 3h"));
        assert!(svg_path(&"x".repeat(5000)).is_none());
    }
}
