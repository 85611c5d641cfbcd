//! The app window. Until the app issue lands, it shows what the notebook on this device holds
//! and points at the command line; it opens on the same embedded store as the commands.

use std::path::Path;

use groundwork::error::Result;

/// What the window shows, read from the store before the window opens.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(not(feature = "desktop"), allow(dead_code))]
struct Overview {
    dir: String,
    canvasser: String,
    people: Vec<(String, String)>,
    pending: u64,
}

fn overview(dir: &Path) -> Result<Overview> {
    let store = groundwork::store::Store::open(dir)?;
    Ok(Overview {
        dir: dir.display().to_string(),
        canvasser: store.canvasser_name()?,
        people: store
            .list_people(20)?
            .into_iter()
            .map(|p| (p.name, p.area.or(p.workplace).unwrap_or_default()))
            .collect(),
        pending: store.pending_changes()?,
    })
}

/// Open the app on the store in `dir`.
#[cfg(feature = "desktop")]
pub fn run(dir: &Path) -> Result<()> {
    use dioxus::desktop::{Config, WindowBuilder};
    let data = overview(dir)?;
    dioxus::LaunchBuilder::desktop()
        .with_cfg(
            Config::new()
                .with_menu(None)
                .with_window(WindowBuilder::new().with_title("Groundwork")),
        )
        .with_context(data)
        .launch(view::App);
    Ok(())
}

/// Without the desktop feature there is no window: say how to get one.
#[cfg(not(feature = "desktop"))]
pub fn run(dir: &Path) -> Result<()> {
    let data = overview(dir)?;
    eprintln!(
        "this build has no app window (built without the `desktop` feature); {} people in {}. \
         Use the commands: groundwork --help",
        data.people.len(),
        data.dir
    );
    Ok(())
}

#[cfg(feature = "desktop")]
mod view {
    use dioxus::prelude::*;

    use super::Overview;

    const STYLE: &str = "
        body { font-family: system-ui, sans-serif; margin: 0; background: #fbfaf7; color: #1d1d1b; }
        main { max-width: 32rem; margin: 0 auto; padding: 1rem; }
        h1 { font-size: 1.5rem; margin: 0.5rem 0; }
        li { padding: 0.75rem 0; border-bottom: 1px solid #ddd; list-style: none; min-height: 44px; }
        ul { padding: 0; }
        .muted { color: #555; }
    ";

    #[component]
    pub fn App() -> Element {
        let data = use_context::<Overview>();
        rsx! {
            document::Style { {STYLE} }
            main {
                h1 { "Groundwork" }
                p { "The notebook is open on this device. The full app is on its way; until then, record and look things up with the command line: " code { "groundwork --help" } "." }
                p { class: "muted", "Canvasser: {data.canvasser} · changes waiting to sync: {data.pending}" }
                p { class: "muted", "Data: {data.dir}" }
                h2 { "Recent people" }
                if data.people.is_empty() {
                    p { "Nobody yet. Try " code { "groundwork demo-data --people 50" } "." }
                }
                ul {
                    for (name, place) in data.people.iter() {
                        li { key: "{name}{place}", strong { "{name}" } " " span { class: "muted", "{place}" } }
                    }
                }
            }
        }
    }
}
