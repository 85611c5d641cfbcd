//! Settings: the canvasser's name (the one name field), joining a team on a relay (which names
//! the device, not the canvasser; while joining it says so, and says how it ended), and sync: how it stands,
//! the changes pulled from other devices that were refused (who pushed them, for which person,
//! why, when), and the changes that wait for changes this device has not received, with a
//! way to ask the relay for them again; on a phone, whether the browser keeps the notebook, and
//! locking the notebook with a passphrase (encryption at rest).

use dioxus::prelude::*;

use super::show_time;
use crate::ui::components::TextField;
use crate::ui::sync::{SyncCommand, SyncStatus, badge_text, short_time};
use crate::ui::worker::{Integrity, Request};
use crate::ui::{Nav, Screen, Services};

/// Below this many erasures' room left in the team's invites, a lead is told (each erasure
/// grows the keys an invite carries; see `crypto::doc_keys`).
const INVITE_ROOM_WARNING: u64 = 100;

/// The settings screen; `status` is the sync engine's latest.
#[component]
pub fn Settings(status: SyncStatus) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let ov = (nav.overview)();
    let mut name = use_signal(|| ov.canvasser.clone().unwrap_or_default());
    // The phone web app was served by its team's relay: joining needs only the code.
    let home_relay = services.host.relay.clone().unwrap_or_default();
    let mut relay = use_signal(|| home_relay.clone());
    // The invite of the join link the app was opened with, when "Not now" put it off: here to
    // join with later, not typed again.
    let link_invite = services.host.invite.clone().unwrap_or_default();
    // (Not for a joined device: the link it was opened with is spent.)
    let first_invite = if status.joined.is_none() {
        link_invite.clone()
    } else {
        String::new()
    };
    let mut invite = use_signal(move || first_invite);
    let initial_device = ov.device_name.clone().unwrap_or_default();
    let mut device = use_signal(|| initial_device.clone());
    // A join was asked for on this screen: once it ends, say how.
    let mut asked_join = use_signal(|| false);
    // The join asked for was of a device already joined (revoked, joining again).
    let mut asked_rejoin = use_signal(|| false);
    // The browser's promise to keep the notebook as it was when the app opened, asked again
    // each time this screen opens: the user may have answered the browser's prompt since, or
    // added the app to the home screen.
    let kept = use_signal(|| services.host.persisted);
    #[cfg(target_arch = "wasm32")]
    use_future(move || async move {
        let mut kept = kept;
        if kept.peek().is_some()
            && let Some(now) = crate::browser::page::persisted().await
        {
            kept.set(Some(now));
        }
    });

    // Someone else now uses this device: the name saved next forgets the earlier ones.
    let mut someone_else = use_signal(|| false);
    let lists = use_context::<crate::ui::lists::KeptLists>();
    let store = services.store.clone();
    let save_name = move || {
        let store = store.clone();
        let n = name();
        let handed = someone_else();
        // The open shift, started under the name of whoever started it.
        let shift_by = nav
            .overview
            .peek()
            .shift
            .as_ref()
            .map(|s| groundwork::store::show_canvasser(&s.canvasser).to_string());
        spawn(async move {
            let request = if handed {
                Request::HandOver(n.clone())
            } else {
                Request::SetName(n.clone())
            };
            match store.run(request).await {
                Ok(()) if handed => {
                    someone_else.set(false);
                    // Their lists start afresh, not with the last holder's search and Mine.
                    lists.start_afresh();
                    let n = n.trim();
                    let shift = match shift_by {
                        Some(by) => format!(
                            " The open shift is still {by}'s: end it on the Shift screen and \
                             start your own."
                        ),
                        None => String::new(),
                    };
                    nav.say(format!(
                        "Name saved. This device is {n}'s now: Due's Mine shows only what is held \
                         under {n}.{shift}"
                    ));
                }
                Ok(()) => nav.say("Name saved."),
                Err(e) => nav.error(e.to_string()),
            }
        });
    };
    // Enter in the name's field saves it, as the button does.
    let name_on_enter = save_name.clone();
    let sync = services.sync.clone();
    let joined_now = status.joined.is_some();
    let join = move |_| {
        let (r, i, d) = (relay(), invite(), device());
        // A join link pasted as the invite names its relay itself.
        let linked = matches!(
            groundwork::sync::team::split_join_link(&i),
            Some((Some(_), _))
        );
        if (r.trim().is_empty() && !linked) || i.trim().is_empty() || d.trim().is_empty() {
            nav.error(
                "Fill in the relay address, the invite code and this device's name (or paste \
                 the whole join link as the invite).",
            );
            return;
        }
        match sync.command(SyncCommand::Join {
            relay: r.trim().to_string(),
            invite: i.trim().to_string(),
            device_name: d.trim().to_string(),
        }) {
            Ok(()) => {
                let mut notice = nav.notice;
                notice.set(None);
                asked_rejoin.set(joined_now);
                asked_join.set(true);
            }
            Err(e) => nav.error(e),
        }
    };
    let sync = services.sync.clone();
    let sync_now = move |_| {
        if let Err(e) = sync.command(SyncCommand::SyncNow) {
            nav.error(e);
        }
    };
    let sync = services.sync.clone();
    let repair = move |_| match sync.command(SyncCommand::Repair) {
        Ok(()) => nav.say("Asking the relay again for what those changes need…"),
        Err(e) => nav.error(e),
    };
    // Refused and waiting changes: re-read after each write here and after each sync (the
    // sync worker writes through its own connection and reports its counts).
    let synced = (
        status.quarantined,
        status.waiting,
        status.last_synced.clone(),
    );
    let store = services.store.clone();
    let integrity = use_resource(use_reactive!(|synced| {
        let store = store.clone();
        let _ = (nav.revision)();
        async move {
            let _ = synced;
            store.integrity().await
        }
    }));
    let integrity: Integrity = match &*integrity.read() {
        Some(Ok(i)) => i.clone(),
        _ => Integrity::default(),
    };
    let refused_total = integrity.refused.len().max(status.quarantined as usize);
    let waiting_total: usize = integrity.waiting.iter().map(|w| w.count).sum();
    let refused_title = match refused_total {
        1 => "1 change from another device was refused".to_string(),
        n => format!("{n} changes from other devices were refused"),
    };
    let waiting_title = match waiting_total {
        1 => "1 change waits for changes this device has not received".to_string(),
        n => format!("{n} changes wait for changes this device has not received"),
    };

    rsx! {
        section { class: "settings", "aria-labelledby": "settings-title",
            h2 { id: "settings-title", "Settings" }
            section { class: "card", "aria-labelledby": "name-title",
                h3 { id: "name-title", "Your name" }
                match &ov.canvasser {
                    Some(n) => rsx! { p { class: "muted", "Recorded on your conversations and shifts: {n}" } },
                    None => rsx! { p { class: "muted", "No name given: your conversations show “no name given” in reports." } },
                }
                TextField { id: "canvasser-name", label: "Canvasser name", autocomplete: "name",
                    initial: ov.canvasser.clone().unwrap_or_default(),
                    oninput: move |v: String| name.set(v), onenter: move |_| name_on_enter() }
                label { class: "check",
                    input { r#type: "checkbox", id: "name-someone-else", checked: someone_else(),
                        "aria-describedby": "name-someone-else-hint",
                        onchange: move |e: FormEvent| someone_else.set(e.checked()) }
                    " Someone else uses this device now"
                }
                p { class: "muted", id: "name-someone-else-hint",
                    "Otherwise a new name is yours, corrected, and Due's “Mine” keeps what you held under the old one."
                }
                button { r#type: "button", class: "secondary", id: "save-name", onclick: move |_| save_name(), "Save name" }
            }
            section { class: "card", "aria-labelledby": "join-title",
                h3 { id: "join-title", if status.joined.is_some() { "This device's team" } else { "Join a team" } }
                if let Some(r) = &status.joined {
                    p { "This device syncs with {r}." }
                    match status.role.as_deref() {
                        Some("lead") => rsx! { p { id: "team-role", "You are a team lead: you can invite people and revoke devices (below), and erase a person (at the end of their file)." } },
                        Some(_) => rsx! { p { id: "team-role", class: "muted", "You are a canvasser in this team. Inviting, revoking devices, erasing a person and deleting a campaign or a walk list are for your team lead." } },
                        None => rsx! {},
                    }
                    match status.rejoined {
                        Some(0) => rsx! { p { id: "team-rejoined", class: "notice", role: "status",
                            "This notebook joined its team again, under a new identity (the team never hears a revoked device again). It held nothing unsent." } },
                        Some(n) => rsx! { p { id: "team-rejoined", class: "notice", role: "status",
                            "This notebook joined its team again, under a new identity (the team never hears a revoked device again). What {n} of its files held and had not sent goes to the team under it." } },
                        None => rsx! {},
                    }
                    if status.unsigned_lead {
                        p { id: "team-unsigned-lead", class: "notice", role: "status",
                            "The relay names this device a lead, but no team lead has promoted it from their own device, so the team's other devices will not follow its invites, revocations or erasures. Ask a lead to promote this device from their app." }
                    }
                    if status.erasures_refused > 0 {
                        p { id: "sync-erasures-refused", class: "notice error", role: "alert",
                            "The relay told this device to erase {status.erasures_refused} records that no team lead signed the order for. They are kept. Tell your team lead and whoever runs the relay." }
                    }
                    if status.withheld > 0 {
                        p { id: "sync-withheld", class: "notice error", role: "alert",
                            "The relay has not given this device {status.withheld} pieces of the team's work that other devices say they sent, even when asked again. It may be losing or hiding them: tell whoever runs the relay." }
                    }
                    if status.sealed {
                        p { id: "team-sealed", class: "muted",
                            "End-to-end encrypted: the relay keeps only what it cannot read. Invites from a team lead's app carry the key; keep them private." }
                        if let Some(room) = status.invite_room.filter(|&r| r < INVITE_ROOM_WARNING)
                            && status.role.as_deref() == Some("lead")
                        {
                            p { id: "team-invite-room", class: "notice", role: "status",
                                "Each erasure makes the team's invites larger: they have room for about {room} more. Past that, new devices can only join a new team." }
                        }
                        if status.document_keys {
                            p { id: "team-document-keys", class: "muted",
                                "Each person's file has its own key as well: once every device has erased someone, no copy of the relay, even one taken before, can be read for them." }
                        } else {
                            p { id: "team-document-keys", class: "muted",
                                "This team was created before each person's file had its own key: an erasure does not reach copies of the relay taken before it. Start a new team for that." }
                        }
                    } else {
                        p { id: "team-sealed", class: "muted",
                            "This team's notebook is not end-to-end encrypted (it was created before encryption): its relay can read what is synced. Start a new team to encrypt." }
                    }
                } else {
                    p { class: "muted", "Everything works without joining; join to share with your team." }
                }
                if status.needs_new_invite() {
                    p { id: "join-again", class: "notice error", role: "alert",
                        "The relay no longer takes this device (it was revoked, or the relay lost it). \
                         Ask your team lead for a new invite and join again below: this device then \
                         syncs under a new identity, and what it holds and has not sent goes to the team." }
                }
                // Once joined, the form goes (it stays for the answer right after joining), and
                // comes back for a device the relay no longer takes.
                if status.joined.is_none()
                    || status.joining
                    || status.needs_new_invite()
                    // A join again that failed: another code can be tried.
                    || (asked_rejoin() && status.last_error.is_some())
                {
                    // The web app talks to the relay that served it, and to no other (its content
                    // security policy allows only its own origin).
                    if services.host.relay.is_some() {
                        p { id: "home-relay", "This app syncs with the relay it was opened from: {home_relay}. Your team lead's invite code is all it needs." }
                    } else {
                        TextField { id: "relay", label: "Relay address", kind: "url", hint: "From your team lead, e.g. https://relay.example.org",
                            oninput: move |v: String| relay.set(v) }
                    }
                    // A revoked device needs a new invite: the link it was opened with is spent.
                    TextField { id: "invite", label: "Invite code",
                        initial: if status.joined.is_none() { link_invite.clone() } else { String::new() },
                        oninput: move |v: String| invite.set(v) }
                    TextField { id: "device-name", label: "This device's name", initial: initial_device,
                        hint: "How your team sees this device, e.g. Sam's phone. Your own name is the one above.",
                        oninput: move |v: String| device.set(v) }
                    button { r#type: "button", class: "primary", id: "join", disabled: status.joining, onclick: join, "Join team" }
                }
                div { id: "join-outcome", role: "status", "aria-live": "polite",
                    if status.joining {
                        p { class: "joining", "Joining… waiting for the relay to answer." }
                    } else if asked_join() {
                        match (&status.joined, &status.last_error) {
                            // Joining again: the old link stays until the new one is taken.
                            (Some(_), Some(e)) if asked_rejoin() => rsx! { p { class: "dnc", "Could not join: {e}" } },
                            (Some(r), _) if asked_rejoin() => rsx! { p { class: "joined", "Joined again: this device syncs with {r}." } },
                            (Some(r), _) => rsx! { p { class: "joined", "Joined: this device syncs with {r}." } },
                            (None, Some(e)) => rsx! { p { class: "dnc", "Could not join: {e}" } },
                            (None, None) => rsx! {},
                        }
                    }
                }
            }
            if status.joined.is_some() && status.role.as_deref() == Some("lead") {
                super::TeamCard { panel: status.team.clone(), erasures: status.erasures_waiting.clone(),
                    revocations_unfinished: status.revocations_unfinished,
                    this_device: status.device_id.clone() }
            }
            if services.host.persisted.is_none() {
                section { class: "card", "aria-labelledby": "at-rest-title",
                    h3 { id: "at-rest-title", "On this computer" }
                    p { id: "at-rest-note",
                        if ov.encrypted_at_rest {
                            "This notebook is encrypted on this computer's disk: it opens only with its passphrase or the key in your key store. A forgotten passphrase cannot be recovered. To change the passphrase, or to decrypt the notebook again, close the app and run groundwork notebook change-passphrase or groundwork notebook decrypt (README, “Encryption at rest”)."
                        } else {
                            "This notebook is not encrypted on this computer's disk: anyone who copies the disk can read it. To encrypt it, close the app and run groundwork notebook encrypt (README, “Encryption at rest”)."
                        }
                    }
                }
            }
            if let Some(kept) = kept() {
                section { class: "card", "aria-labelledby": "storage-title",
                    h3 { id: "storage-title", "On this phone" }
                    p { id: "storage-note",
                        if kept {
                            "This browser has promised to keep your notebook: it will not delete it to free up space."
                        } else {
                            "This browser has not promised to keep your notebook: if the phone runs short of space, it may delete it, with anything not yet synced. Add Groundwork to your home screen (browsers keep installed apps) and sync when you can."
                        }
                    }
                }
            }
            if kept().is_some() {
                LockOnPhone { encrypted: ov.encrypted_at_rest }
            }
            section { class: "card", "aria-labelledby": "sync-title",
                h3 { id: "sync-title", "Sync" }
                p { "{badge_text(&status, ov.pending)}" }
                if let Some(at) = &status.last_synced {
                    p { class: "muted", "Last synced {short_time(at)}" }
                }
                if let Some(e) = &status.last_error {
                    p { class: "dnc", "Last error: {e}" }
                }
                if status.joined.is_some() {
                    button { r#type: "button", class: "secondary", id: "settings-sync-now", onclick: sync_now, "Sync now" }
                } else {
                    p { class: "muted", "Sync starts once this device has joined a team (above)." }
                }
                if refused_total > 0 {
                    h4 { id: "refused-title", class: "integrity-title", "{refused_title}" }
                    p { class: "muted",
                        "They were not applied: nothing here changed because of them. Those refused for want of room are asked for again at later syncs."
                    }
                    if refused_total > integrity.refused.len() {
                        p { class: "muted", "The latest {integrity.refused.len()} are listed." }
                    }
                    ul { class: "list refused", "aria-labelledby": "refused-title",
                        for q in integrity.refused {
                            li { class: "refused-change", key: "{q.blob_id}",
                                p {
                                    strong { "{pusher(&q.pushed_by)}" }
                                    " · "
                                    match &q.person {
                                        Some(name) => rsx! {
                                            button {
                                                r#type: "button",
                                                class: "linkish",
                                                onclick: {
                                                    let id = q.doc_id.clone();
                                                    move |_| nav.go(Screen::Person(id.clone()))
                                                },
                                                "{name}"
                                            }
                                        },
                                        None => rsx! { span { class: "doc-id", "document {q.doc_id}" } },
                                    }
                                    " · {show_time(&q.received_at)}"
                                }
                                p { class: "reason", "Refused because {q.reason}." }
                            }
                        }
                    }
                }
                if waiting_total > 0 {
                    h4 { id: "waiting-title", class: "integrity-title", "{waiting_title}" }
                    ul { class: "list waiting", "aria-labelledby": "waiting-title",
                        for w in integrity.waiting {
                            li { key: "{w.doc_id}",
                                match &w.person {
                                    Some(name) => rsx! { "{name}" },
                                    None => rsx! { span { class: "doc-id", "document {w.doc_id}" } },
                                }
                                ": {w.count} waiting"
                            }
                        }
                    }
                    p { class: "muted", "Repair asks the relay again for everything those documents have had." }
                    button { r#type: "button", class: "secondary", id: "repair", onclick: repair, "Repair" }
                }
            }
        }
    }
}

/// The device that pushed a refused change, in words.
fn pusher(name: &Option<String>) -> &str {
    name.as_deref().unwrap_or("An unknown device")
}

/// A new passphrase typed twice, checked as the store will (the same both times, long
/// enough), or words saying what is wrong.
fn typed_twice(first: &str, again: &str) -> Result<(), String> {
    if first != again {
        return Err("The two passphrases differ: type the same one twice.".into());
    }
    let min = groundwork::store::at_rest::MIN_PASSPHRASE;
    if first.chars().count() < min {
        return Err(format!(
            "A passphrase needs at least {min} characters: several unrelated words are easy to \
             remember and hard to guess."
        ));
    }
    Ok(())
}

/// A form changing the passphrase of the phone's encrypted notebook
/// (`Store::change_passphrase`): the current one, then the new one typed twice.
#[component]
fn ChangePassphrase(screen_lock: Signal<bool>) -> Element {
    let mut screen_lock = screen_lock;
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let mut current = use_signal(String::new);
    let mut first = use_signal(String::new);
    let mut again = use_signal(String::new);
    let mut busy = use_signal(|| false);
    // Bumped after a change, so that the fields are drawn again, empty.
    let mut round = use_signal(|| 0u32);
    let store = services.store.clone();
    let change = move |_| {
        // A second tap before the button is drawn disabled.
        if busy() {
            return;
        }
        let (old, p, q) = (current(), first(), again());
        if old.is_empty() {
            nav.error("Type the passphrase this notebook opens with now.");
            return;
        }
        if let Err(why) = typed_twice(&p, &q) {
            nav.error(why);
            return;
        }
        let store = store.clone();
        busy.set(true);
        spawn(async move {
            let request = Request::ChangePassphrase {
                current: groundwork::service::SecretText(old),
                new: groundwork::service::SecretText(p),
            };
            let done = store.run(request).await;
            busy.set(false);
            match done {
                Ok(()) => {
                    current.set(String::new());
                    first.set(String::new());
                    again.set(String::new());
                    round += 1;
                    // The screen lock's copy is of the old passphrase: it opens nothing now.
                    if forget_screen_lock() {
                        screen_lock.set(false);
                        nav.say(
                            "The passphrase is changed: this notebook opens with the new one \
                             from now on. The screen lock kept the old one and no longer opens \
                             it: set it up again above.",
                        );
                    } else {
                        nav.say(
                            "The passphrase is changed: this notebook opens with the new one \
                             from now on.",
                        );
                    }
                }
                Err(e) => nav.error(e.to_string()),
            }
        });
    };
    rsx! {
        // A list of one, keyed by the round: a new key draws the fields anew.
        for r in [round()] {
            div { key: "{r}", class: "change-passphrase", role: "group", "aria-labelledby": "change-title",
                h4 { id: "change-title", "Change the passphrase" }
                TextField { id: "lock-current", label: "The passphrase now", kind: "password",
                    oninput: move |v| current.set(v) }
                TextField { id: "lock-new", label: "The new passphrase (at least 10 characters)", kind: "password",
                    oninput: move |v| first.set(v) }
                TextField { id: "lock-new-again", label: "The new passphrase again", kind: "password",
                    oninput: move |v| again.set(v) }
                button { r#type: "button", class: "secondary", id: "lock-change", disabled: busy(),
                    onclick: change.clone(),
                    if busy() { "Changing…" } else { "Change the passphrase" }
                }
            }
        }
    }
}

/// A form decrypting the phone's encrypted notebook again (`Store::decrypt_in_place`): the
/// passphrase it opens with, so that someone holding the unlocked phone cannot put the notebook
/// in the clear on its storage.
#[component]
fn Decrypt(screen_lock: Signal<bool>) -> Element {
    let mut screen_lock = screen_lock;
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let mut current = use_signal(String::new);
    let mut busy = use_signal(|| false);
    let store = services.store.clone();
    let decrypt = move |_| {
        if busy() {
            return;
        }
        let typed = current();
        if typed.is_empty() {
            nav.error("Type the passphrase this notebook opens with.");
            return;
        }
        let store = store.clone();
        busy.set(true);
        spawn(async move {
            let request = Request::DecryptAtRest(groundwork::service::SecretText(typed));
            let done = store.run(request).await;
            busy.set(false);
            match done {
                Ok(()) => {
                    current.set(String::new());
                    // The screen lock's copy is of a key the notebook no longer has.
                    forget_screen_lock();
                    screen_lock.set(false);
                    nav.say(
                        "This notebook is no longer encrypted on this phone: it opens without \
                         a passphrase, and anyone who gets into this phone's browser can read it.",
                    );
                }
                Err(e) => nav.error(e.to_string()),
            }
        });
    };
    rsx! {
        div { class: "change-passphrase", role: "group", "aria-labelledby": "decrypt-title",
            h4 { id: "decrypt-title", "Stop encrypting this notebook" }
            p { class: "muted", id: "decrypt-note",
                "The notebook goes back to a plain file in this phone's browser: no passphrase at the start, and anyone who gets into the browser can read it."
            }
            TextField { id: "decrypt-current", label: "The passphrase now", kind: "password",
                oninput: move |v| current.set(v) }
            button { r#type: "button", class: "secondary", id: "lock-decrypt", disabled: busy(),
                onclick: decrypt,
                if busy() { "Decrypting…" } else { "Decrypt this notebook" }
            }
        }
    }
}

/// The phone's notebook encrypted at rest under a passphrase (`Store::encrypt_in_place`), or
/// a form to do it: typed twice, at least ten characters, asked at every start of the app.
#[component]
fn LockOnPhone(encrypted: bool) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let mut first = use_signal(String::new);
    let mut again = use_signal(String::new);
    let mut busy = use_signal(|| false);
    // The phone's screen lock opens the notebook (its copy of the notebook's key is kept).
    let screen_lock = use_signal(screen_lock_enrolled);
    let store = services.store.clone();
    let encrypt = move |_| {
        if busy() {
            return;
        }
        let (p, q) = (first(), again());
        if let Err(why) = typed_twice(&p, &q) {
            nav.error(why);
            return;
        }
        let store = store.clone();
        busy.set(true);
        spawn(async move {
            let request = Request::EncryptAtRest(groundwork::service::SecretText(p));
            let done = store.run(request).await;
            busy.set(false);
            match done {
                Ok(()) => {
                    first.set(String::new());
                    again.set(String::new());
                    nav.say(
                        "This notebook is now encrypted on this phone. The app will ask for \
                         its passphrase each time it starts.",
                    );
                }
                Err(e) => nav.error(e.to_string()),
            }
        });
    };
    rsx! {
        section { class: "card", "aria-labelledby": "lock-title",
            h3 { id: "lock-title", "Lock this notebook" }
            if encrypted {
                p { id: "lock-note",
                    "This notebook is encrypted on this phone: it opens only with its passphrase, typed each time the app starts. A forgotten passphrase cannot be recovered; what was synced is safe with the team."
                }
                ScreenLock { on: screen_lock }
                ChangePassphrase { screen_lock }
                Decrypt { screen_lock }
            } else {
                p { id: "lock-note",
                    "Anyone who gets into this phone's browser can read this notebook. Encrypt it with a passphrase, asked each time the app starts. A forgotten passphrase cannot be recovered: sync first, so that the team has everything."
                }
                // Kept on screen while encrypting: what they hold is what a retry after a
                // failure sends.
                TextField { id: "lock-passphrase", label: "Passphrase (at least 10 characters)", kind: "password",
                    oninput: move |v| first.set(v) }
                TextField { id: "lock-again", label: "The same passphrase again", kind: "password",
                    oninput: move |v| again.set(v) }
                button { r#type: "button", class: "secondary", id: "lock-encrypt", disabled: busy(),
                    onclick: encrypt,
                    if busy() { "Encrypting…" } else { "Encrypt this notebook" }
                }
            }
        }
    }
}

/// Whether the phone's screen lock is set up to open the notebook (never on the desktop).
fn screen_lock_enrolled() -> bool {
    #[cfg(target_arch = "wasm32")]
    return crate::browser::screen_lock::enrolled();
    #[cfg(not(target_arch = "wasm32"))]
    false
}

/// Forget the screen lock's copy of the notebook's key; whether there was one.
fn forget_screen_lock() -> bool {
    let was = screen_lock_enrolled();
    #[cfg(target_arch = "wasm32")]
    crate::browser::screen_lock::forget();
    was
}

/// Nothing on the desktop: its key store is the operating system's.
#[cfg(not(target_arch = "wasm32"))]
#[component]
fn ScreenLock(on: Signal<bool>) -> Element {
    let _ = on;
    rsx! {}
}

/// The phone's screen lock (fingerprint, face or PIN) opening the encrypted notebook instead of
/// the typed passphrase (`browser::screen_lock`): set up with the passphrase, which the store
/// checks and answers with the notebook's raw key for the screen lock to keep; or turned off.
#[cfg(target_arch = "wasm32")]
#[component]
fn ScreenLock(on: Signal<bool>) -> Element {
    use crate::browser::screen_lock;
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let mut on = on;
    let mut typed = use_signal(String::new);
    let mut busy = use_signal(|| false);
    // Bumped after setting up, so that the field is drawn again, empty.
    let mut round = use_signal(|| 0u32);
    let store = services.store.clone();
    let set_up = move |_| {
        if busy() {
            return;
        }
        let passphrase = typed();
        if passphrase.is_empty() {
            nav.error("Type the notebook's passphrase: setting the screen lock up needs it once.");
            return;
        }
        let store = store.clone();
        busy.set(true);
        spawn(async move {
            // The passkey first, straight after the tap (a browser may refuse one asked for
            // later); then the store checks the passphrase and answers the notebook's raw key
            // (a derivation: a moment), which the screen lock keeps. A wrong passphrase keeps
            // nothing; its passkey is replaced by the next one made.
            let done = match screen_lock::make_passkey().await {
                Ok(made) => match store.raw_key(passphrase).await {
                    Ok(key) => screen_lock::keep(&made, &key.0),
                    Err(e) => Err(e.to_string()),
                },
                Err(e) => Err(e),
            };
            busy.set(false);
            match done {
                Ok(()) => {
                    typed.set(String::new());
                    round += 1;
                    on.set(true);
                    nav.say(
                        "The phone's screen lock opens this notebook from now on. The \
                         passphrase still does too: keep it.",
                    );
                }
                Err(e) => nav.error(e),
            }
        });
    };
    let turn_off = move |_| {
        screen_lock::forget();
        on.set(false);
        nav.say(
            "The screen lock no longer opens this notebook: type its passphrase at each start.",
        );
    };
    // The browser may say beforehand that its passkeys give no PRF secret.
    let capable = use_resource(screen_lock::prf_capable);
    let refused = matches!(*capable.read(), Some(Some(false)));
    if !screen_lock::available() || (refused && !on()) {
        return rsx! {
            p { id: "screen-lock-note", class: "muted",
                "This browser cannot open the notebook with the phone's screen lock: its passphrase is typed at each start."
            }
        };
    }
    rsx! {
        div { class: "screen-lock", role: "group", "aria-labelledby": "screen-lock-title",
            h4 { id: "screen-lock-title", "Open with the screen lock" }
            if on() {
                p { id: "screen-lock-note",
                    "This phone's screen lock (fingerprint, face or PIN) opens this notebook; its passphrase still does too. Anyone who can unlock this phone, or its password manager, can open the notebook."
                }
                button { r#type: "button", class: "secondary", id: "screen-lock-off", onclick: turn_off,
                    "Stop using the screen lock"
                }
            } else {
                p { id: "screen-lock-note",
                    "Let this phone's screen lock (fingerprint, face or PIN) open the notebook instead of typing the passphrase at each start. Anyone who can unlock this phone, or its password manager, will then be able to open it."
                }
                for r in [round()] {
                    div { key: "{r}",
                        TextField { id: "screen-lock-passphrase", label: "The notebook's passphrase", kind: "password",
                            oninput: move |v| typed.set(v) }
                    }
                }
                button { r#type: "button", class: "secondary", id: "screen-lock-on", disabled: busy(),
                    onclick: set_up,
                    if busy() { "Waiting for the screen lock…" } else { "Use the screen lock" }
                }
            }
        }
    }
}
