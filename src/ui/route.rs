//! An address per screen, kept in step with the page's history, so that back (the browser's
//! button, Android's back gesture, Alt+Left or Backspace outside a text field) returns to the
//! previous screen and a reload or a link opens the same screen.
//!
//! The app still navigates with [`Screen`] values ([`Nav::go`]); this module maps them to
//! paths ([`Screen::path`], [`Screen::from_path`]) and, in [`use_history`], mirrors them into
//! the page's history through `document::eval`: a new screen pushes an entry, a finished form
//! giving way to its result replaces one ([`Nav::replace`]), and moving through the history
//! (`popstate`) shows the screen of the entry reached. The same script works in the phone web
//! app and in the desktop webview (whose `dioxus://` address cannot be rewritten: there the
//! path travels in the entry's state only). See ARCHITECTURE.md for why
//! this is not dioxus-router.

use dioxus::prelude::*;

use super::{Nav, Screen};

impl Screen {
    /// The screen's address: `/`, `/people/new`, `/people/ID`, `/people/ID/record`,
    /// `/people/ID/edit`, `/people/ID/history`, `/due`, `/campaigns`, `/shift`, `/settings`,
    /// `/walk/ID`.
    pub fn path(&self) -> String {
        match self {
            Screen::People => "/".to_string(),
            Screen::AddPerson => "/people/new".to_string(),
            Screen::Person(id) => format!("/people/{id}"),
            Screen::Record(id) => format!("/people/{id}/record"),
            Screen::EditPerson(id) => format!("/people/{id}/edit"),
            Screen::History(id) => format!("/people/{id}/history"),
            Screen::Due => "/due".to_string(),
            Screen::Campaigns => "/campaigns".to_string(),
            Screen::Shift => "/shift".to_string(),
            Screen::Settings => "/settings".to_string(),
            Screen::Walk(id) => format!("/walk/{id}"),
        }
    }

    /// The screen at `path` (a page's address, maybe with a query or a fragment), if any.
    pub fn from_path(path: &str) -> Option<Screen> {
        let path = path.split(['?', '#']).next().unwrap_or("");
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        Some(match parts.as_slice() {
            [] => Screen::People,
            ["people"] => Screen::People,
            ["people", "new"] => Screen::AddPerson,
            ["people", id] if is_id(id) => Screen::Person((*id).to_string()),
            ["people", id, "record"] if is_id(id) => Screen::Record((*id).to_string()),
            ["people", id, "edit"] if is_id(id) => Screen::EditPerson((*id).to_string()),
            ["people", id, "history"] if is_id(id) => Screen::History((*id).to_string()),
            ["due"] => Screen::Due,
            ["campaigns"] => Screen::Campaigns,
            ["shift"] => Screen::Shift,
            ["settings"] => Screen::Settings,
            ["walk", id] if is_id(id) => Screen::Walk((*id).to_string()),
            _ => return None,
        })
    }
}

/// Whether `s` can be a record id in an address: what the store makes (UUIDs), nothing that
/// would need escaping.
fn is_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The page's side, run once: reports the address now and after every move through the
/// history, and turns the desktop shortcuts into history moves. Alt+Left / Alt+Right go back
/// and forward; Backspace goes back unless the focus is in something that takes text.
const LISTEN: &str = r#"
const here = (state) => (state && typeof state.gw === 'string') ? state.gw : location.pathname;
window.addEventListener('popstate', (e) => dioxus.send(here(e.state)));
const takesText = (t) => !!(t && t.closest && t.closest('input, textarea, select, [contenteditable]'));
window.addEventListener('keydown', (e) => {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.shiftKey) return;
  if ((e.altKey && e.key === 'ArrowLeft') || (!e.altKey && e.key === 'Backspace' && !takesText(e.target))) {
    e.preventDefault();
    history.back();
  } else if (e.altKey && e.key === 'ArrowRight') {
    e.preventDefault();
    history.forward();
  }
});
dioxus.send(here(history.state));
"#;

/// The script that records `path` in the history: a new entry, or in place of the current one.
fn record_script(path: &str, replace: bool) -> String {
    // `path` is made by `Screen::path` from checked ids; quoted as JSON all the same.
    let quoted = serde_json::to_string(path).unwrap_or_else(|_| "\"/\"".to_string());
    let method = if replace { "replaceState" } else { "pushState" };
    format!(
        "const s = {{ gw: {quoted} }}; \
         try {{ history.{method}(s, '', {quoted}); }} catch (e) {{ history.{method}(s, ''); }}"
    )
}

/// Keeps `nav`'s screen and the page's history in step. Returns whether the first address
/// has been read (until then the app shows no screen, so a link or a reload never flashes
/// another screen first). Where there is no page (component tests) it is read as `/` at once.
pub fn use_history(nav: Nav) -> Signal<bool> {
    let mut ready = use_signal(|| false);
    // The path the history's current entry holds (not read reactively).
    let mut recorded = use_signal(String::new);
    let mut screen = nav.screen;
    use_future(move || async move {
        let mut page = document::eval(LISTEN);
        loop {
            match page.recv::<String>().await {
                Ok(path) => {
                    let target = Screen::from_path(&path).unwrap_or(Screen::People);
                    let canonical = target.path();
                    if canonical != path {
                        // An unknown or untidy address: say where we really are.
                        let _ = document::eval(&record_script(&canonical, true));
                    }
                    recorded.set(canonical);
                    if *screen.peek() != target {
                        if *ready.peek() {
                            nav.arrived(target);
                        } else {
                            screen.set(target);
                        }
                    }
                    if !*ready.peek() {
                        ready.set(true);
                    }
                }
                Err(_) => {
                    // No page to listen to: the address is the first screen's.
                    if !*ready.peek() {
                        recorded.set(screen.peek().path());
                        ready.set(true);
                    }
                    break;
                }
            }
        }
    });
    let mut replacing = nav.replacing;
    let mut backing = nav.backing;
    use_effect(move || {
        let path = screen().path();
        if !ready() || *recorded.peek() == path {
            return;
        }
        if *backing.peek() {
            // A form closing to where it was opened from: a step back, whose `popstate` then
            // finds this screen shown already.
            backing.set(false);
            recorded.set(path);
            let _ = document::eval("history.back();");
            return;
        }
        let replace = *replacing.peek();
        if replace {
            replacing.set(false);
        }
        recorded.set(path.clone());
        let _ = document::eval(&record_script(&path, replace));
    });
    ready
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_screen_has_an_address_that_leads_back_to_it() {
        let id = "0190f3a2-7b1c-7d2e-8f00-123456789abc".to_string();
        for s in [
            Screen::People,
            Screen::AddPerson,
            Screen::Person(id.clone()),
            Screen::Record(id.clone()),
            Screen::EditPerson(id.clone()),
            Screen::History(id.clone()),
            Screen::Due,
            Screen::Campaigns,
            Screen::Shift,
            Screen::Settings,
        ] {
            assert_eq!(Screen::from_path(&s.path()), Some(s.clone()), "{s:?}");
        }
        assert_eq!(Screen::Person(id.clone()).path(), format!("/people/{id}"));
    }

    #[test]
    fn untidy_and_unknown_addresses() {
        assert_eq!(Screen::from_path(""), Some(Screen::People));
        assert_eq!(Screen::from_path("/due/"), Some(Screen::Due));
        assert_eq!(
            Screen::from_path("/people/abc-1?token=x#top"),
            Some(Screen::Person("abc-1".into()))
        );
        assert_eq!(Screen::from_path("/nowhere"), None);
        assert_eq!(Screen::from_path("/people/a%20b"), None);
        assert_eq!(Screen::from_path("/people/<script>"), None);
        assert_eq!(Screen::from_path("/people/x/record/more"), None);
    }

    #[test]
    fn the_recorded_path_is_quoted() {
        let s = record_script("/people/x", false);
        assert!(s.contains("{ gw: \"/people/x\" }"), "{s}");
        assert!(s.contains("history.pushState(s, '', \"/people/x\")"), "{s}");
        assert!(record_script("/", true).contains("replaceState"));
    }
}
