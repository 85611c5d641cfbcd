//! The app: one Dioxus UI for the whole field workflow, on a phone, a desktop window or a
//! browser tab.
//!
//! - [`App`] is the root component. It needs a [`Services`] value in its root context (the
//!   store handle, the sync engine and what the host knows); launchers provide it (`crate::app`
//!   for the desktop window, `crate::browser` for the phone web app).
//! - [`worker`]: the store runs on its own thread (in the browser, its own Web Worker); the UI
//!   sends requests and awaits replies, so it never waits on the disk.
//! - [`sync`]: what the app needs from the sync engine, and a stand-in until it is connected.
//! - [`unlock`]: the desktop's lock screen, before the app, for a notebook encrypted at rest
//!   whose key it does not find.
//! - `unsaved`: the phone page's own copy of drafts its store worker has not yet written.
//! - [`route`]: an address per screen, kept in step with the page's history (back, reload,
//!   links).
//! - `views/`: one module per screen, each owning its state; `components/`: stateless widgets.
//!
//! Text that a canvasser types is never bound back into the input (`value:`): fields start
//! from an initial value and report changes, so fast typing loses nothing (see
//! `components::TextField`).

pub mod components;
pub mod lists;
#[cfg(not(target_arch = "wasm32"))]
pub mod relay_sync;
pub mod route;
pub mod self_test;
pub mod sync;
#[cfg(not(target_arch = "wasm32"))]
pub mod unlock;
#[cfg(any(target_arch = "wasm32", test))]
pub mod unsaved;
pub mod views;
pub mod worker;

#[cfg(test)]
mod tests;

use dioxus::prelude::*;
use futures_util::StreamExt;

use components::SyncBadge;
use sync::{SharedSync, SyncStatus};
use worker::{Overview, Request, StoreHandle};

/// What the app runs on: provided as root context by the launcher.
#[derive(Clone)]
pub struct Services {
    /// The store's handle.
    pub store: StoreHandle,
    /// The sync engine (or its stand-in).
    pub sync: SharedSync,
    /// What the host knows (the browser build: its relay, a join link, storage).
    pub host: Host,
}

/// What the app knows of where it runs; the desktop leaves it empty, the phone web app fills
/// it in (`crate::browser::page`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Host {
    /// The relay that served this app: joining it needs only an invite code.
    pub relay: Option<String>,
    /// The invite code of the join link the app was opened with (`#join=CODE`).
    pub invite: Option<String>,
    /// Whether the browser promised to keep the notebook when storage runs low
    /// (`navigator.storage.persist()`); `None` outside a browser.
    pub persisted: Option<bool>,
    /// Where the desktop saves exports (`None`: the user's Downloads folder, else their home).
    pub exports: Option<std::path::PathBuf>,
}

impl Services {
    /// Services on `store` with the sync worker on the same data directory.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn connected(store: StoreHandle, dir: &std::path::Path) -> Services {
        Services {
            store,
            sync: sync::connect(dir),
            host: Host::default(),
        }
    }

    /// Services on `store` with sync not connected (component tests).
    #[cfg(test)]
    pub fn offline(store: StoreHandle) -> Services {
        Services {
            store,
            sync: std::sync::Arc::new(sync::NotConnected),
            host: Host::default(),
        }
    }
}

/// The screens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    /// Search and recent people.
    People,
    /// Add a person.
    AddPerson,
    /// A person's file.
    Person(String),
    /// A person's details being edited.
    EditPerson(String),
    /// A person file's history.
    History(String),
    /// Record a conversation with a person.
    Record(String),
    /// Commitments due and overdue.
    Due,
    /// Campaigns and their progress.
    Campaigns,
    /// Start or end a shift.
    Shift,
    /// Name, joining a team, sync.
    Settings,
    /// A walk list: its doors in walking order, one tap per outcome.
    Walk(String),
}

/// How many screens back [`Nav::trail`] remembers.
const TRAIL_KEPT: usize = 50;

/// Shared by every screen: where we are, and what changed.
#[derive(Clone, Copy)]
pub struct Nav {
    /// The screen shown.
    pub screen: Signal<Screen>,
    /// The next change of screen replaces the history's current entry (see [`Nav::replace`]).
    pub replacing: Signal<bool>,
    /// Counts changes to the store, made here or pulled by sync; resources that read it
    /// re-run after each change.
    pub revision: Signal<u64>,
    /// Canvasser, open shift, changes waiting.
    pub overview: Signal<Overview>,
    /// The last error or confirmation to show.
    pub notice: Signal<Option<Notice>>,
    /// A record form opened from a walk: the person, and the screen its save returns to (the
    /// walk's next door, not the person's file). Forgotten on any other move.
    pub after_record: Signal<Option<(String, Screen)>>,
    /// The screens of the history's entries before this one, as far as the app knows (its own
    /// moves, and steps back through them): a form closing to the last goes back there
    /// ([`Nav::close`]).
    pub trail: Signal<Vec<Screen>>,
    /// The next change of screen is a step back in the history (see [`Nav::close`]).
    pub backing: Signal<bool>,
}

/// A message shown in the header.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// The words.
    pub text: String,
    /// An error (drawn as an alert) rather than a confirmation.
    pub error: bool,
    /// What undoes the change the message confirms, offered as "Undo" (a mis-tap on a list
    /// whose row then went away).
    pub undo: Option<Request>,
}

impl Nav {
    /// Show a screen (a new entry in the history: back returns here).
    pub fn go(mut self, screen: Screen) {
        let now = self.screen.peek().clone();
        if now != screen && !*self.replacing.peek() && !*self.backing.peek() {
            let mut trail = self.trail.write();
            trail.push(now);
            if trail.len() > TRAIL_KEPT {
                trail.remove(0);
            }
        }
        self.show(screen);
    }

    /// The page's history moved to `screen` (back, forward, or a jump): a step back through
    /// the app's own moves is taken off the trail; any other move leaves the trail unknown.
    pub fn arrived(mut self, screen: Screen) {
        let mut trail = self.trail.write();
        if trail.last() == Some(&screen) {
            trail.pop();
        } else {
            trail.clear();
        }
        drop(trail);
        self.show(screen);
    }

    /// Show `screen`, with no notice from the one before.
    fn show(mut self, screen: Screen) {
        self.notice.set(None);
        let same_form = matches!(
            (&screen, &*self.after_record.peek()),
            (Screen::Record(p), Some((q, _))) if p == q
        );
        if !same_form && self.after_record.peek().is_some() {
            self.after_record.set(None);
        }
        self.screen.set(screen);
    }

    /// Show a screen in place of the current one in the history: for a form that is done
    /// (saved or discarded), so that back skips it and returns to where it was opened from.
    pub fn replace(mut self, screen: Screen) {
        if *self.screen.peek() != screen {
            self.replacing.set(true);
        }
        self.go(screen);
    }

    /// A form or a view of a record (Edit details, History, the record form) is done: show
    /// `screen`, where it was opened from. When it was opened from there, that is a step back
    /// in the history, so that the next back leaves `screen` rather than showing it again;
    /// otherwise (opened by a link or a reload) `screen` takes the form's entry
    /// ([`Nav::replace`]).
    pub fn close(mut self, screen: Screen) {
        if self.trail.peek().last() == Some(&screen) {
            self.trail.write().pop();
            self.backing.set(true);
            self.show(screen);
        } else {
            self.replace(screen);
        }
    }

    /// Show an error.
    pub fn error(mut self, text: impl Into<String>) {
        self.notice.set(Some(Notice {
            text: text.into(),
            error: true,
            undo: None,
        }));
    }

    /// Show a confirmation.
    pub fn say(mut self, text: impl Into<String>) {
        self.notice.set(Some(Notice {
            text: text.into(),
            error: false,
            undo: None,
        }));
    }

    /// Show a confirmation with "Undo", which sends `undo`.
    pub fn say_undoable(mut self, text: impl Into<String>, undo: Request) {
        self.notice.set(Some(Notice {
            text: text.into(),
            error: false,
            undo: Some(undo),
        }));
    }
}

/// Whether a component is still on screen, for a task that outlives it (`spawn_forever`, so
/// that a reply arriving after the screen re-read or was left is still told): such a task
/// writes to the component's signals and calls its handlers only while [`OnScreen::still`]
/// holds, since Dioxus panics at a write to a signal, or a call of a handler, whose component is
/// gone. A component's handlers from its parent live as long as it does, or longer.
#[derive(Clone, Copy)]
pub struct OnScreen(Signal<()>);

impl OnScreen {
    /// Whether the component that made this is still mounted.
    pub fn still(&self) -> bool {
        self.0.try_peek().is_ok()
    }
}

/// An [`OnScreen`] for the calling component.
pub fn use_on_screen() -> OnScreen {
    OnScreen(use_signal(|| ()))
}

/// The whole style sheet: base, components, screens.
pub fn style() -> String {
    [include_str!("app.css"), components::STYLE, views::STYLE].join("\n")
}

/// The `<head>` additions every launcher uses: viewport for phones, and the style sheet.
#[cfg(not(target_arch = "wasm32"))]
pub fn head() -> String {
    format!(
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light\"><style>{}</style>",
        style()
    )
}

/// The root component.
#[component]
pub fn App() -> Element {
    let services = use_context::<Services>();
    let screen = use_signal(|| Screen::People);
    let replacing = use_signal(|| false);
    let mut revision = use_signal(|| 0u64);
    let mut overview = use_signal(Overview::default);
    let notice = use_signal(|| None::<Notice>);
    let after_record = use_signal(|| None::<(String, Screen)>);
    let trail = use_signal(Vec::<Screen>::new);
    let backing = use_signal(|| false);
    let kept = lists::use_kept_lists();
    let (left_asked, left_busy, left_last) = (
        use_signal(|| None),
        use_signal(|| 0),
        use_signal(sync::TeamPanel::default),
    );
    let left_erasure =
        use_context_provider(|| views::LeftErasure::new(left_asked, left_busy, left_last));
    let nav = use_context_provider(|| Nav {
        screen,
        replacing,
        revision,
        overview,
        notice,
        after_record,
        trail,
        backing,
    });
    let mut sync_status = use_signal(|| services.sync.status());
    // Whether what is typed waits unwritten (a draft held by the store worker failed its last
    // write): said in the header until none does.
    let mut drafts_unwritten = use_signal(|| false);

    // Store changes, made here or pulled by sync: bump the revision so the open screen
    // re-reads (forms own their text, so a re-read never rewrites what is being typed); a
    // change made here is also something for sync to send.
    let store = services.store.clone();
    let engine = services.sync.clone();
    use_future(move || {
        let store = store.clone();
        let engine = engine.clone();
        async move {
            let mut changes = store.subscribe();
            // The last revision the store told (the screens' own may be ahead: a form that
            // forgets its draft bumps it to re-read).
            let mut heard = None;
            while let Some(c) = changes.next().await {
                if *drafts_unwritten.peek() != c.drafts_unwritten {
                    drafts_unwritten.set(c.drafts_unwritten);
                }
                // A change that only says whether drafts are written keeps its revision.
                if heard != Some(c.revision) {
                    heard = Some(c.revision);
                    revision.set(c.revision);
                    if c.local {
                        engine.local_change();
                    }
                }
            }
        }
    });
    // Sync status updates from the engine. When sync has pulled changes in, the store is told,
    // and reports them like any other change.
    let engine = services.sync.clone();
    let store = services.store.clone();
    use_future(move || {
        let engine = engine.clone();
        let store = store.clone();
        async move {
            let mut updates = engine.watch();
            let mut pulled = engine.status().pulled;
            let mut erased = engine.status().team.erased;
            while let Some(s) = updates.next().await {
                // A lead's erasure (a person, a campaign, a walk list) changed the notebook
                // outside the store's own requests too: what is on screen is read again.
                // The status first: a screen that asked for the erasure knows it is done before
                // its document's re-read fails.
                let changed = s.pulled != pulled || s.team.erased != erased;
                pulled = s.pulled;
                erased = s.team.erased.clone();
                left_erasure.heard(nav, &s.team);
                sync_status.set(s);
                if changed {
                    store.pulled();
                }
            }
        }
    });
    let routed = route::use_history(nav);
    // The header facts, re-read after each write.
    let store = services.store.clone();
    use_effect(move || {
        let _ = revision();
        let store = store.clone();
        spawn(async move {
            match store.overview().await {
                Ok(o) => overview.set(o),
                Err(e) => nav.error(e.to_string()),
            }
        });
    });

    // A new screen starts at the top, with the focus on its heading (or on the heading asked
    // for, e.g. the join form's), so a screen reader says where we are. Not on the first
    // screen: nothing has changed yet.
    let mut focus_to = use_signal(|| None::<&'static str>);
    let mut shown = use_signal(|| 0u64);
    use_effect(move || {
        let _ = screen();
        let n = *shown.peek();
        shown.set(n + 1);
        if n == 0 {
            return;
        }
        let target = focus_to.take();
        let _ = document::eval(&focus_script(target));
    });

    let status: SyncStatus = sync_status();
    // A team lead's device offers the lead's actions where they belong (erase on a person's
    // file); a canvasser's does not.
    let lead_panel = (status.joined.is_some() && status.role.as_deref() == Some("lead"))
        .then(|| status.team.clone());
    // Erasing (a person, a campaign, a walk list): a lead's, or anyone's in a notebook that has
    // joined no team, where it erases from this notebook alone.
    let alone = status.joined.is_none() && !status.joining;
    let erase_panel = if alone {
        Some(status.team.clone())
    } else {
        lead_panel.clone()
    };
    let ov = overview();
    let badge = sync::badge_text(&status, ov.pending);
    let sync = services.sync.clone();
    let undo_store = services.store.clone();
    let current = screen();

    let self_test = try_use_context::<self_test::SelfTestMode>().is_some();
    // A join link's invite, until the device has joined or the canvasser puts it off.
    let mut invite_put_off = use_signal(|| false);
    let invite = match (&services.host.relay, &services.host.invite) {
        (Some(r), Some(i)) if status.joined.is_none() && !invite_put_off() => {
            Some((r.clone(), i.clone()))
        }
        _ => None,
    };

    rsx! {
        if self_test {
            self_test::SelfTest {}
        }
        div { class: "app",
            header { class: "top",
                div { class: "top-row",
                    h1 { class: "brand", "Groundwork" }
                    if let Some(shift) = &ov.shift {
                        span { class: "shift-chip", "On shift: {shift.place}" }
                    }
                }
                SyncBadge {
                    text: badge,
                    reason: sync::badge_reason(&status),
                    warning: status.last_error.is_some() && !status.unreachable,
                    refused: status.quarantined,
                    joined: status.joined.is_some(),
                    onsync: move |_| {
                        if let Err(e) = sync.command(sync::SyncCommand::SyncNow) {
                            nav.error(e);
                        }
                    },
                    onjoin: move |_| {
                        focus_to.set(Some("join-title"));
                        nav.go(Screen::Settings);
                    },
                }
                if drafts_unwritten() {
                    div { class: "notice error", role: "alert", id: "drafts-unwritten",
                        span {
                            "What you are typing cannot be written to this device just now \
                             (its storage may be full). It is kept on screen and tried again: \
                             do not close the app, and save or copy what you typed."
                        }
                    }
                }
                // In the header, which stays on screen: an error from a button at the foot of
                // a long form is seen where the button is.
                if let Some(n) = notice() {
                    div {
                        class: if n.error { "notice error" } else { "notice" },
                        role: if n.error { "alert" } else { "status" },
                        span { "{n.text}" }
                        if let Some(undo) = n.undo.clone() {
                            button {
                                r#type: "button",
                                class: "notice-undo",
                                id: "notice-undo",
                                onclick: {
                                    let store = undo_store.clone();
                                    move |_| {
                                        let store = store.clone();
                                        let undo = undo.clone();
                                        spawn(async move {
                                            match store.run(undo).await {
                                                Ok(()) => nav.say("Undone."),
                                                Err(e) => nav.error(e.to_string()),
                                            }
                                        });
                                    }
                                },
                                "Undo"
                            }
                        }
                        button {
                            r#type: "button",
                            class: "notice-close",
                            "aria-label": "Dismiss message",
                            onclick: move |_| { let mut n = nav.notice; n.set(None) },
                            "✕"
                        }
                    }
                }
            }
            main { class: "content", id: "content",
                // Until the notebook has said whether the name was asked, show no screen: a
                // screen shown first and replaced by the question a moment later would take
                // a tap meant for it.
                if ov.name_asked.is_none() || !routed() {
                    p { class: "starting", role: "status", "Opening the notebook…" }
                } else if let Some((relay, code)) = invite {
                    views::JoinLink { relay, invite: code, status: status.clone(),
                        ondone: move |_| invite_put_off.set(true) }
                } else if ov.name_asked == Some(false) {
                    views::Welcome {}
                } else {
                match current.clone() {
                    Screen::People => rsx! { views::People {} },
                    Screen::AddPerson => rsx! { views::AddPerson {} },
                    Screen::Person(id) => rsx! { views::PersonFile { key: "{id}", id: id.clone(), lead: erase_panel.clone(), alone } },
                    Screen::EditPerson(id) => rsx! { views::PersonFile { key: "{id}", id: id.clone(), show: views::FileShows::Edit } },
                    Screen::History(id) => rsx! { views::PersonFile { key: "{id}", id: id.clone(), show: views::FileShows::History } },
                    Screen::Record(id) => rsx! { views::Record { key: "{id}", person_id: id.clone() } },
                    Screen::Due => rsx! { views::Due {} },
                    Screen::Campaigns => rsx! { views::Campaigns { lead: erase_panel.clone(), alone } },
                    Screen::Shift => rsx! { views::ShiftView { devices: status.team_devices.clone(), lead: lead_panel.is_some() } },
                    Screen::Settings => rsx! { views::Settings { status: status.clone() } },
                    Screen::Walk(id) => rsx! { views::Walk { key: "{id}", id: id.clone(), lead: erase_panel.clone(), alone } },
                }
                }
            }
            nav { class: "tabs", "aria-label": "Screens",
                for (target, label) in [
                    (Screen::People, "People"),
                    (Screen::Due, "Due"),
                    (Screen::Campaigns, "Campaigns"),
                    (Screen::Shift, "Shift"),
                    (Screen::Settings, "Settings"),
                ] {
                    button {
                        key: "{label}",
                        r#type: "button",
                        class: "tab",
                        id: "tab-{label}",
                        "aria-current": if tab_of(&current) == target { "page" },
                        onclick: {
                            let t = target.clone();
                            move |_| {
                                // The People tab from elsewhere starts a new search (back
                                // returns to the one left); its filters stay.
                                if t == Screen::People && *nav.screen.peek() != Screen::People {
                                    kept.new_search();
                                }
                                nav.go(t.clone())
                            }
                        },
                        "{label}"
                    }
                }
            }
        }
    }
}

/// The script run after a change of screen: scroll to the top and focus the new screen's
/// heading (`target`'s id if given, else the first heading in the content), waiting up to a
/// second for it to appear (screens read the store first). Leaves the focus alone if the user
/// has already moved it into the new screen.
fn focus_script(target: Option<&str>) -> String {
    let selector = match target {
        Some(id) => format!("#{id}"),
        None => "#content h2, #content h1".to_string(),
    };
    format!(
        r#"(async () => {{
  window.scrollTo(0, 0);
  const content = document.getElementById('content');
  for (let i = 0; i < 40; i++) {{
    const active = document.activeElement;
    if (content && active && active !== document.body && content.contains(active)) return;
    const h = document.querySelector({selector:?});
    if (h) {{
      if (!h.hasAttribute('tabindex')) h.setAttribute('tabindex', '-1');
      h.focus({{ preventScroll: true }});
      if ({scroll}) h.scrollIntoView({{ block: 'start' }});
      return;
    }}
    await new Promise((r) => setTimeout(r, 25));
  }}
}})();"#,
        scroll = target.is_some(),
    )
}

/// The tab a screen belongs to.
fn tab_of(s: &Screen) -> Screen {
    match s {
        Screen::People
        | Screen::AddPerson
        | Screen::Person(_)
        | Screen::EditPerson(_)
        | Screen::History(_)
        | Screen::Record(_) => Screen::People,
        Screen::Walk(_) => Screen::Shift,
        other => other.clone(),
    }
}
