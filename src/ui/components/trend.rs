//! A small bar chart drawn as SVG by the app: commitments made and kept per shift, oldest first.

use dioxus::prelude::*;

/// One bar pair.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendPoint {
    /// What the bar is (a shift's place and day).
    pub label: String,
    /// Commitments made.
    pub made: u64,
    /// Of them, kept.
    pub kept: u64,
}

/// Bars of made (light) and kept (dark) per shift, with a text summary for screen readers.
#[component]
pub fn TrendChart(title: String, points: Vec<TrendPoint>) -> Element {
    let most = points.iter().map(|p| p.made).max().unwrap_or(0).max(1);
    let (w, h, gap) = (28u64, 60u64, 8u64);
    let width = (points.len() as u64 * (w + gap)).max(1);
    let summary = points
        .iter()
        .map(|p| format!("{}: {} made, {} kept", p.label, p.made, p.kept))
        .collect::<Vec<_>>()
        .join("; ");
    rsx! {
        figure { class: "trend",
            figcaption { "{title}" }
            svg {
                role: "img",
                "aria-label": "{title}: {summary}",
                view_box: "0 0 {width} {h}",
                width: "{width}",
                height: "{h}",
                for (i, p) in points.iter().enumerate() {
                    g { key: "{i}",
                        rect {
                            class: "trend-made",
                            x: "{i as u64 * (w + gap)}",
                            y: "{h - p.made * h / most}",
                            width: "{w}",
                            height: "{p.made * h / most}",
                        }
                        rect {
                            class: "trend-kept",
                            x: "{i as u64 * (w + gap)}",
                            y: "{h - p.kept.min(p.made) * h / most}",
                            width: "{w}",
                            height: "{p.kept.min(p.made) * h / most}",
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_busiest_shift_and_read_aloud() {
        let points = vec![
            TrendPoint {
                label: "Elm Road".into(),
                made: 4,
                kept: 1,
            },
            TrendPoint {
                label: "Canteen".into(),
                made: 2,
                kept: 2,
            },
        ];
        let html = dioxus_ssr::render_element(rsx! {
            TrendChart { title: "Last shifts", points }
        });
        assert!(
            html.contains("Last shifts: Elm Road: 4 made, 1 kept; Canteen: 2 made, 2 kept"),
            "{html}"
        );
        // The busiest shift's made bar fills the height; the other is half of it.
        assert!(html.contains("height=\"60\""), "{html}");
        assert!(html.contains("height=\"30\""), "{html}");
        assert!(
            html.contains("height=\"15\""),
            "a quarter for one kept of four: {html}"
        );
    }
}
