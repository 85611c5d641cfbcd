//! Component tests without a window: the real [`App`] in a `VirtualDom` on a store in a temp
//! directory, rendered with dioxus-ssr, with events sent to elements found by walking the
//! rendered tree (by `id`, `data-id` or `aria-label`, never by listener order).

use std::any::Any;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use dioxus::dioxus_core::{
    AttributeValue, DynamicNode, ElementId, NoOpMutations, TemplateAttribute, TemplateNode, VNode,
};
use dioxus::prelude::*;
use dioxus_html::{
    PlatformEventData, SerializedFormData, SerializedHtmlEventConverter, SerializedMouseData,
};
use groundwork::model::{
    CommitmentStatus, ConversationField, ConversationPatch, NewCommitment, NewConversation,
    NewPerson, PersonField, PersonPatch,
};
use groundwork::store::Store;

use super::worker::StoreHandle;
use super::{App, Services};

struct Harness {
    dom: VirtualDom,
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    /// The store's handle (none on the lock screen).
    store: Option<StoreHandle>,
}

/// Attributes of each element that has dynamic attributes (listeners included), by id.
fn elements(dom: &VirtualDom) -> Vec<(ElementId, BTreeMap<String, String>)> {
    let mut out = Vec::new();
    walk(dom.base_scope().root_node(), dom, &mut out);
    out
}

fn node_at<'a>(roots: &'a [TemplateNode], path: &[u8]) -> Option<&'a TemplateNode> {
    let mut node = roots.get(usize::from(*path.first()?))?;
    for i in &path[1..] {
        match node {
            TemplateNode::Element { children, .. } => node = children.get(usize::from(*i))?,
            _ => return None,
        }
    }
    Some(node)
}

fn walk(vnode: &VNode, dom: &VirtualDom, out: &mut Vec<(ElementId, BTreeMap<String, String>)>) {
    let t = vnode.template;
    for (i, path) in t.attr_paths.iter().enumerate() {
        let Some(id) = vnode.mounted_dynamic_attribute(i, dom) else {
            continue;
        };
        let mut attrs = BTreeMap::new();
        if let Some(TemplateNode::Element { attrs: statics, .. }) = node_at(t.roots, path) {
            for a in statics.iter() {
                if let TemplateAttribute::Static { name, value, .. } = a {
                    attrs.insert(name.to_string(), value.to_string());
                }
            }
        }
        for (j, p) in t.attr_paths.iter().enumerate() {
            if p == path {
                for a in vnode.dynamic_attrs[j].iter() {
                    let v = match &a.value {
                        AttributeValue::Text(s) => s.clone(),
                        AttributeValue::Bool(b) => b.to_string(),
                        AttributeValue::Listener(_) => "listener".to_string(),
                        _ => String::new(),
                    };
                    attrs.insert(a.name.to_string(), v);
                }
            }
        }
        out.push((id, attrs));
    }
    for (i, node) in vnode.dynamic_nodes.iter().enumerate() {
        match node {
            DynamicNode::Component(c) => {
                if let Some(scope) = c.mounted_scope(i, vnode, dom) {
                    walk(scope.root_node(), dom, out);
                }
            }
            DynamicNode::Fragment(nodes) => {
                for n in nodes {
                    walk(n, dom, out);
                }
            }
            _ => {}
        }
    }
}

impl Harness {
    /// The app on a notebook whose canvasser is named "Sam", after `setup`.
    fn new(setup: impl FnOnce(&mut Store)) -> Harness {
        Harness::with(
            |s| {
                s.set_canvasser_name("Sam").unwrap();
                setup(s)
            },
            Services::offline,
        )
    }

    /// The app on a notebook made by `setup`, with the services `services` gives.
    fn with(
        setup: impl FnOnce(&mut Store),
        services: impl FnOnce(StoreHandle) -> Services,
    ) -> Harness {
        dioxus_html::set_event_converter(Box::new(SerializedHtmlEventConverter));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notebook");
        {
            let mut s = Store::open(&path).unwrap();
            setup(&mut s);
        }
        let store = StoreHandle::start(&path).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let mut dom = VirtualDom::new(App).with_root_context(services(store.clone()));
        dom.rebuild_in_place();
        let mut h = Harness {
            dom,
            rt,
            _dir: dir,
            path,
            store: Some(store),
        };
        // The notebook opens on the store's thread ("Opening the notebook…"), then the list
        // loads ("Loading…"): a busy machine can show either for a while.
        h.settle_until("people list", |html| {
            !html.contains("Opening the notebook") && !html.contains("Loading…")
        });
        h
    }

    fn html(&self) -> String {
        dioxus_ssr::render(&self.dom)
    }

    /// Run the app's tasks until `done(html)` or five seconds pass.
    fn settle_until(&mut self, what: &str, done: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let dom = &mut self.dom;
            self.rt.block_on(async {
                let _ = tokio::time::timeout(Duration::from_millis(20), dom.wait_for_work()).await;
            });
            self.dom.render_immediate(&mut NoOpMutations);
            let html = self.html();
            if done(&html) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}:\n{html}"
            );
        }
    }

    fn find(&self, attr: &str, value: &str) -> ElementId {
        elements(&self.dom)
            .into_iter()
            .find(|(_, a)| a.get(attr).map(String::as_str) == Some(value))
            .map(|(id, _)| id)
            .unwrap_or_else(|| panic!("no element with {attr}={value:?} in\n{}", self.html()))
    }

    fn click(&mut self, attr: &str, value: &str) {
        let id = self.find(attr, value);
        let data = PlatformEventData::new(Box::<SerializedMouseData>::default());
        self.dom.runtime().handle_event(
            "click",
            Event::new(Rc::new(data) as Rc<dyn Any>, true),
            id,
        );
        self.dom.render_immediate(&mut NoOpMutations);
    }

    /// Open the person file `person_id` from the screen showing it in a list, then its record
    /// form (the caller waits for what the form should show).
    fn open_record_form(&mut self, person_id: &str) {
        self.click("data-id", person_id);
        self.settle_until("person file", |html| html.contains("Record a conversation"));
        self.click("id", "record-conversation");
    }

    /// Empty the field `element_id`, as selecting its text and deleting it does.
    fn clear(&mut self, element_id: &str) {
        let id = self.find("id", element_id);
        let data = PlatformEventData::new(Box::new(SerializedFormData::new(String::new(), vec![])));
        self.dom.runtime().handle_event(
            "input",
            Event::new(Rc::new(data) as Rc<dyn Any>, true),
            id,
        );
        self.dom.render_immediate(&mut NoOpMutations);
    }

    fn type_in(&mut self, element_id: &str, text: &str) {
        let id = self.find("id", element_id);
        // Like a browser: one input event per keystroke, carrying the text so far.
        for end in text.char_indices().map(|(i, c)| i + c.len_utf8()) {
            let data = PlatformEventData::new(Box::new(SerializedFormData::new(
                text[..end].to_string(),
                vec![],
            )));
            self.dom.runtime().handle_event(
                "input",
                Event::new(Rc::new(data) as Rc<dyn Any>, true),
                id,
            );
            self.dom.render_immediate(&mut NoOpMutations);
        }
    }

    /// Set a box's whole text at once (as pasting, or emptying it), one input event.
    fn fill(&mut self, element_id: &str, text: &str) {
        self.send(element_id, "input", text);
    }

    /// Pick `value` in a select box.
    fn choose(&mut self, element_id: &str, value: &str) {
        self.send(element_id, "change", value);
    }

    fn send(&mut self, element_id: &str, event: &str, value: &str) {
        let id = self.find("id", element_id);
        let data =
            PlatformEventData::new(Box::new(SerializedFormData::new(value.to_string(), vec![])));
        self.dom
            .runtime()
            .handle_event(event, Event::new(Rc::new(data) as Rc<dyn Any>, true), id);
        self.dom.render_immediate(&mut NoOpMutations);
    }

    fn store(&self) -> Store {
        Store::open(&self.path).unwrap()
    }

    fn handle(&self) -> &StoreHandle {
        self.store.as_ref().expect("the app is open on a store")
    }

    /// The desktop's lock screen on a notebook encrypted with `passphrase` that holds `name`.
    fn locked(passphrase: &str, name: &str) -> Harness {
        use groundwork::store::at_rest::Passphrase;
        dioxus_html::set_event_converter(Box::new(SerializedHtmlEventConverter));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notebook");
        let mut s = Store::open(&path).unwrap();
        s.set_canvasser_name("Sam").unwrap();
        person(&mut s, name);
        s.encrypt_at_rest(&Passphrase::new(passphrase)).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let mut dom =
            VirtualDom::new(super::unlock::LockScreen).with_root_context(super::unlock::Locked {
                dir: path.clone(),
                connect: |store, _| Services::offline(store),
            });
        dom.rebuild_in_place();
        Harness {
            dom,
            rt,
            _dir: dir,
            path,
            store: None,
        }
    }

    /// Press Enter in the element with id `element_id`.
    fn press_enter(&mut self, element_id: &str) {
        let id = self.find("id", element_id);
        let data = PlatformEventData::new(Box::new(dioxus_html::SerializedKeyboardData::new(
            Key::Enter,
            Code::Enter,
            Location::Standard,
            false,
            Modifiers::empty(),
            false,
        )));
        self.dom.runtime().handle_event(
            "keydown",
            Event::new(Rc::new(data) as Rc<dyn Any>, true),
            id,
        );
        self.dom.render_immediate(&mut NoOpMutations);
    }
}

fn person(s: &mut Store, name: &str) -> String {
    s.add_person(
        NewPerson::new()
            .put(PersonField::Name, name)
            .put(PersonField::Area, "Elm Road"),
    )
    .unwrap()
}

#[test]
fn people_list_shows_recent_people_and_the_sync_badge() {
    let mut h = Harness::new(|s| {
        person(s, "Amina Yusuf");
        person(s, "Joe Bloggs");
    });
    h.settle_until("names", |html| html.contains("Joe Bloggs"));
    let html = h.html();
    assert!(html.contains("Amina Yusuf"), "{html}");
    assert!(
        html.find("Joe Bloggs") < html.find("Amina Yusuf"),
        "recent first"
    );
    assert!(html.contains("Not joined · 2 changes waiting"), "{html}");
    assert!(html.contains("No shift is open"), "{html}");
}

#[test]
fn before_joining_the_badge_offers_to_join_a_team_not_to_sync() {
    let mut h = Harness::new(|_| {});
    let html = h.html();
    assert!(html.contains("Join a team"), "{html}");
    assert!(!html.contains("Sync now"), "{html}");
    h.click("id", "badge-join");
    h.settle_until("settings' join form", |html| html.contains("Relay address"));
    // Settings has no "Sync now" either, before joining.
    assert!(!h.html().contains("Sync now"), "{}", h.html());
}

#[test]
fn searching_narrows_the_list() {
    let mut h = Harness::new(|s| {
        person(s, "Amina Yusuf");
        person(s, "Joe Bloggs");
    });
    h.type_in("search", "amin");
    h.settle_until("search results", |html| {
        html.contains("Search results") && !html.contains("Joe Bloggs")
    });
    assert!(h.html().contains("Amina Yusuf"));
}

/// A list narrowed by a filter, then left for a person's file and another tab, keeps its
/// filter when People is shown again (it came back to everyone); the People tab starts a new
/// search; Due's "Mine" is kept too. (Back to the search as it was left: tests/ui/run.mjs, as
/// it needs a page's history.)
#[test]
fn a_narrowed_list_is_kept_through_a_visit_to_a_file_and_another_tab() {
    let mut amina = String::new();
    let mut h = Harness::new(|s| {
        amina = person(s, "Amina Yusuf");
        person(s, "Amir Khan");
        person(s, "Joe Bloggs");
        s.edit_person(
            &amina,
            PersonPatch::new().put(PersonField::Area, "Canal Street"),
        )
        .unwrap();
    });
    h.type_in("search", "ami");
    h.settle_until("search results", |html| {
        html.contains("Amir Khan") && !html.contains("Joe Bloggs")
    });
    h.choose("filter-area", "Canal Street");
    h.settle_until("filtered", |html| !html.contains("Amir Khan"));
    h.click("data-id", &amina);
    h.settle_until("the file", |html| html.contains("person-title"));
    h.click("id", "tab-Due");
    h.click("data-value", "mine");
    h.settle_until("mine chosen", |html| {
        html.contains("data-value=\"mine\" aria-pressed=\"true\"")
    });
    h.click("id", "tab-People");
    h.settle_until("the list as it was left", |html| {
        html.contains("people-title") && html.contains("Amina Yusuf")
    });
    let html = h.html();
    assert!(!html.contains("Amir Khan"), "the area filter kept: {html}");
    assert!(!html.contains("Joe Bloggs"), "the area filter kept: {html}");
    assert!(!html.contains("value=\"ami\""), "a new search: {html}");
    assert!(html.contains("Filters (1 on)"), "{html}");
    // Amina moves: no one is in Canal Street any more, and the filter still says so.
    h.store()
        .edit_person(
            &amina,
            PersonPatch::new().put(PersonField::Area, "Dock Road"),
        )
        .unwrap();
    h.click("id", "tab-Due");
    h.click("id", "tab-People");
    h.settle_until("nobody there", |html| !html.contains("Amina Yusuf"));
    assert!(
        h.html().contains("value=\"Canal Street\" selected=true"),
        "the kept filter shown as chosen: {}",
        h.html()
    );
    h.click("id", "tab-Due");
    h.settle_until("Due", |html| html.contains("follow-ups-title"));
    let html = h.html();
    assert!(
        html.contains("data-value=\"mine\" aria-pressed=\"true\""),
        "Mine kept: {html}"
    );
    // A person added while the filter is on: the list shows everyone again, them first (they
    // are in no area, so the kept filter would have hidden them).
    h.click("id", "tab-People");
    h.settle_until("people", |html| html.contains("id=\"add-person\""));
    h.click("id", "add-person");
    h.settle_until("the form", |html| html.contains("id=\"person-name\""));
    h.type_in("person-name", "Nadia Newcomer");
    h.click("id", "save-new-person");
    h.settle_until("saved", |html| html.contains("Person added."));
    h.click("id", "tab-People");
    h.settle_until("everyone", |html| {
        html.contains("Nadia Newcomer") && html.contains("Joe Bloggs")
    });
    assert!(!h.html().contains("Filters (1 on)"), "{}", h.html());
}

#[test]
fn recording_a_conversation_keeps_a_draft_then_saves_it() {
    let mut id = String::new();
    let mut h = Harness::new(|s| id = person(s, "Amina Yusuf"));
    h.open_record_form(&id);
    h.settle_until("form", |html| {
        html.contains("Conversation with Amina Yusuf")
    });
    h.click("data-value", "breakfast-meeting");
    h.click("data-value", "living wage");
    h.type_in("story", "Two jobs, still short — every month.");
    h.type_in("commitment-entry", "sign the letter");
    h.click("id", "add-commitment");
    h.settle_until("commitment listed", |html| {
        html.contains("Remove commitment: sign the letter")
    });

    // The draft reaches the store once typing pauses.
    let key = super::views::draft_key(&id);
    let deadline = Instant::now() + Duration::from_secs(5);
    let draft = loop {
        let d = h.rt.block_on(h.handle().draft(&key)).unwrap();
        if let Some(d) = d.filter(|d| d.contains("sign the letter")) {
            break d;
        }
        assert!(Instant::now() < deadline, "no draft saved");
        std::thread::sleep(Duration::from_millis(50));
    };
    let draft: super::views::ConversationDraft = serde_json::from_str(&draft).unwrap();
    assert_eq!(draft.story, "Two jobs, still short — every month.");
    assert_eq!(draft.kind, "breakfast-meeting");

    h.click("id", "save-conversation");
    h.settle_until("saved", |html| html.contains("Conversation saved."));
    let store = h.store();
    let file = store.person(&id).unwrap();
    assert_eq!(file.conversations.len(), 1);
    assert_eq!(
        file.conversations[0].story.as_deref(),
        Some("Two jobs, still short — every month.")
    );
    assert_eq!(file.conversations[0].issues, vec!["living wage"]);
    assert_eq!(file.commitments[0].what, "sign the letter");
    assert_eq!(store.draft(&key).unwrap(), None, "the draft is gone");
}

#[test]
fn a_commitment_is_marked_kept_with_one_tap() {
    let mut id = String::new();
    let mut h = Harness::new(|s| {
        id = person(s, "Amina Yusuf");
        s.record_conversation(
            NewConversation {
                person_id: id.clone(),
                kind: groundwork::model::ConversationKind::Doorstep,
                at: None,
                canvasser: None,
                shift_id: None,
                issues: vec![],
                story: None,
                notes: None,
                engagement: None,
                follow_up: None,
            },
            vec![NewCommitment {
                what: "come to the delivery".into(),
                due: Some(chrono::Local::now().date_naive() - chrono::Duration::days(1)),
                campaign_id: None,
                target: None,
            }],
        )
        .unwrap();
    });
    h.click("id", "tab-Due");
    h.settle_until("due", |html| html.contains("Overdue (1)"));
    h.click("aria-label", "Kept: come to the delivery");
    h.settle_until("marked", |html| {
        html.contains("Overdue (0)") && html.contains("Marked kept: come to the delivery.")
    });
    let c = h.store().commitments_by_id().unwrap();
    assert_eq!(c[0].status, CommitmentStatus::Kept);
    // A mis-tap, its row gone from the list: undone from the message.
    h.click("id", "notice-undo");
    h.settle_until("undone", |html| {
        html.contains("Undone.") && html.contains("Overdue (1)")
    });
    let c = h.store().commitments_by_id().unwrap();
    assert_eq!(c[0].status, CommitmentStatus::Open);
}

/// A name written with a line break by an earlier version (before names had to be one line),
/// in conflict with one typed here, can still be chosen: it is written as one line.
#[test]
fn an_old_name_with_a_line_break_can_still_be_chosen_in_a_conflict() {
    use automerge::transaction::Transactable;
    let mut id = String::new();
    let mut h = Harness::new(|s| {
        id = person(s, "Pat McDonald");
        let mut other = other_device(s, &id, 7);
        s.edit_person(
            &id,
            PersonPatch::new().put(PersonField::Name, "Patricia McDonald"),
        )
        .unwrap();
        let p = person_map(&other, "person");
        other.put(&p, "name", "Pat\nMcDonald-Reid").unwrap();
        let old = last_change(&mut other);
        pull(s, &id, &old, 7, "Old phone");
    });
    h.click("data-id", &id);
    h.settle_until("conflict shown", |html| {
        html.contains("Two devices disagree")
    });
    h.click("aria-label", "Use this: “Pat\nMcDonald-Reid” for Name");
    h.settle_until("settled", |html| !html.contains("Two devices disagree"));
    let file = h.store().person(&id).unwrap();
    assert_eq!(file.person.name, "Pat McDonald-Reid");
    assert!(file.person.conflicts.is_empty());
}

/// Amina Yusuf with a doorstep conversation whose `field` this device wrote as `ours` and
/// another device (its notebook in the returned directory, its change taken in) as `theirs`,
/// each unaware of the other; her id and the conversation's.
fn two_devices_wrote(
    field: ConversationField,
    ours: &str,
    theirs: &str,
) -> (Harness, String, String, tempfile::TempDir) {
    let (mut id, mut conv) = (String::new(), String::new());
    let other_dir = tempfile::tempdir().unwrap();
    let h = Harness::new(|s| {
        id = person(s, "Amina Yusuf");
        let mut other = Store::open(other_dir.path()).unwrap();
        let deliver = |from: &Store, to: &mut Store| {
            for item in from.outbox(usize::MAX).unwrap() {
                to.apply_remote(&item.doc_id, &[item.bytes]).unwrap();
            }
        };
        let (c, _) = s
            .record_conversation(doorstep(&id, "Cleans at 5am."), vec![])
            .unwrap();
        deliver(s, &mut other);
        let put = |v: &str| ConversationPatch::new().put(field, v);
        s.edit_conversation(&c, put(ours)).unwrap();
        other.edit_conversation(&c, put(theirs)).unwrap();
        deliver(&other, s);
        conv = c;
    });
    (h, id, conv, other_dir)
}

/// Two phones that each added a sentence to a story, offline: "Keep both" keeps both devices'
/// words, one after the other, rather than make the lead choose whose to drop.
#[test]
fn a_conflict_on_a_story_can_keep_both_texts() {
    let (mut h, id, _, _other) = two_devices_wrote(
        ConversationField::Story,
        "Cleans at 5am. Her rent went up.",
        "Cleans at 5am. Second job at night.",
    );
    h.click("data-id", &id);
    h.settle_until("conflict shown", |html| {
        html.contains("Two devices disagree") && html.contains("Keep both")
    });
    h.click("class", "secondary keep-both");
    h.settle_until("settled", |html| !html.contains("Two devices disagree"));
    let c = h.store().person(&id).unwrap().conversations[0].clone();
    let story = c.story.unwrap();
    assert!(
        story.contains("Her rent went up.") && story.contains("Second job at night."),
        "{story}"
    );
    assert!(story.contains("\n\n"), "one after the other: {story:?}");
    assert!(c.conflicts.is_empty());
}

#[test]
fn a_conflict_on_a_conversation_is_settled_with_one_tap() {
    let (mut h, id, conv, _other) =
        two_devices_wrote(ConversationField::Notes, "Call after 6pm", "Only weekends");
    let at = h.store().person(&id).unwrap().conversations[0].at.clone();
    let label = format!(
        "Notes of the doorstep conversation on {}",
        super::views::show_time(&at)
    );
    h.click("data-id", &id);
    h.settle_until("conflict shown, each value with who wrote it", |html| {
        html.contains("Two devices disagree") && html.contains("from another device")
    });
    // This device's value is named by its canvasser's name; the other's, unknown here (it
    // never synced its member record), as another device.
    let html = h.html();
    for (value, who) in [
        ("Call after 6pm", "Sam"),
        ("Only weekends", "another device"),
    ] {
        let shown = format!("{value}</p><p class=\"muted conflict-who\">from {who}</p>");
        assert!(html.contains(&shown), "{shown} in {html}");
    }
    h.click(
        "aria-label",
        &format!("Use this: “Only weekends” for {label}"),
    );
    h.settle_until("settled", |html| !html.contains("Two devices disagree"));
    let file = h.store().person(&id).unwrap();
    assert_eq!(file.conversations[0].id, conv);
    assert_eq!(
        file.conversations[0].notes.as_deref(),
        Some("Only weekends")
    );
    assert!(file.conversations[0].conflicts.is_empty());
}

#[test]
fn a_persons_details_tags_and_consent_are_edited() {
    let mut id = String::new();
    let mut h = Harness::new(|s| id = person(s, "Amina Yusuf"));
    h.click("data-id", &id);
    h.settle_until("person file", |html| html.contains("Edit details"));
    h.click("id", "edit-person");
    h.settle_until("form", |html| html.contains("Edit Amina Yusuf"));
    h.type_in("edit-phone", "07700 900123");
    h.type_in("edit-tag-entry", "Tenant Rep");
    h.click("id", "edit-add-tag");
    h.settle_until("tag listed", |html| html.contains("Remove tag: tenant rep"));
    h.click("data-value", "whatsapp");
    h.click("id", "save-person");
    h.settle_until("saved", |html| html.contains("Details saved."));
    let p = h.store().person(&id).unwrap().person;
    assert_eq!(p.phone.as_deref(), Some("07700 900123"));
    assert_eq!(p.tags, vec!["tenant rep"]);
    assert!(p.consent.contains_key("whatsapp"));
    assert_eq!(p.area.as_deref(), Some("Elm Road"), "untouched fields stay");
    // The draft the form kept went with the save.
    assert_eq!(h.store().draft_keys("").unwrap(), Vec::<String>::new());
}

#[test]
fn languages_are_added_in_the_generated_form_and_shown_on_the_file() {
    let mut id = String::new();
    let mut h = Harness::new(|s| id = person(s, "Marta Nowak"));
    h.click("data-id", &id);
    h.settle_until("person file", |html| html.contains("Edit details"));
    h.click("id", "edit-person");
    h.settle_until("form", |html| html.contains("Languages spoken"));
    h.type_in("edit-language-entry", "Polish");
    h.click("id", "edit-add-language");
    h.settle_until("language listed", |html| {
        html.contains("Remove language: polish")
    });
    // Typed but not added: saving adds it too.
    h.type_in("edit-language-entry", "Ukrainian");
    h.click("id", "save-person");
    h.settle_until("saved", |html| html.contains("Details saved."));
    let p = h.store().person(&id).unwrap().person;
    assert_eq!(p.languages, vec!["polish", "ukrainian"]);
    assert_eq!(p.area.as_deref(), Some("Elm Road"), "untouched fields stay");
    h.settle_until("shown on the file", |html| {
        html.contains("Languages spoken") && html.contains("polish, ukrainian")
    });
}

#[test]
fn a_saved_conversation_and_commitment_are_corrected_and_a_mis_tap_undone() {
    let (mut id, mut campaign) = (String::new(), String::new());
    let mut h = Harness::new(|s| {
        id = person(s, "Kofi Boateng");
        campaign = living_wage(s);
        s.record_conversation(
            doorstep(&id, "Cleans at 5am."),
            vec![NewCommitment {
                what: "sign the letter".into(),
                due: groundwork::model::parse_date("2026-03-20").ok(),
                ..Default::default()
            }],
        )
        .unwrap();
    });
    let conv = h.store().person(&id).unwrap().conversations[0].clone();
    assert!(conv.follow_up.is_some());
    h.click("data-id", &id);
    h.settle_until("person file", |html| html.contains("Correct"));
    h.click("data-correct", &conv.id);
    h.settle_until("conversation form", |html| {
        html.contains("Correct this conversation")
    });
    h.fill("conv-follow-up", "");
    h.click("data-value", "phone");
    h.type_in("conv-issue-entry", "Damp");
    h.click("id", "save-conversation");
    h.settle_until("saved", |html| html.contains("Correction saved."));
    let c = h.store().person(&id).unwrap().conversations[0].clone();
    assert_eq!(c.follow_up, None, "an emptied date is cleared");
    assert_eq!(c.kind, groundwork::model::ConversationKind::Phone);
    assert_eq!(
        c.issues,
        vec!["damp"],
        "an issue typed but not added is added"
    );
    assert_eq!(c.story, conv.story, "untouched fields stay");

    h.settle_until("commitment", |html| {
        html.contains("Correct: sign the letter")
    });
    h.click("aria-label", "Correct: sign the letter");
    h.settle_until("commitment form", |html| {
        html.contains("Correct this commitment")
    });
    h.fill("com-due", "");
    h.choose("com-campaign", &campaign);
    h.settle_until("targets offered", |html| html.contains("com-target"));
    h.choose("com-target", "letters signed");
    h.click("id", "save-commitment");
    h.settle_until("saved", |html| html.contains("Correction saved."));
    let com = h.store().person(&id).unwrap().commitments[0].clone();
    assert_eq!(com.due, None);
    assert_eq!(com.campaign_id.as_deref(), Some(campaign.as_str()));
    assert_eq!(com.target.as_deref(), Some("letters signed"));

    h.settle_until("kept button", |html| html.contains("Kept: sign the letter"));
    h.click("aria-label", "Kept: sign the letter");
    h.settle_until("reopen offered", |html| {
        html.contains("Back to open: sign the letter")
    });
    h.click("aria-label", "Back to open: sign the letter");
    h.settle_until("open again", |html| html.contains("Kept: sign the letter"));
    assert_eq!(
        h.store().person(&id).unwrap().commitments[0].status,
        CommitmentStatus::Open
    );
}

/// Kofi Boateng with one doorstep conversation, its correction form open; his id and the
/// conversation.
fn correcting_kofis_conversation() -> (Harness, String, groundwork::model::Conversation) {
    let mut id = String::new();
    let mut h = Harness::new(|s| {
        id = person(s, "Kofi Boateng");
        s.record_conversation(doorstep(&id, "Cleans at 5am."), vec![])
            .unwrap();
    });
    let conv = h.store().person(&id).unwrap().conversations[0].clone();
    h.click("data-id", &id);
    h.settle_until("person file", |html| html.contains("Correct"));
    h.click("data-correct", &conv.id);
    h.settle_until("conversation form", |html| {
        html.contains("Correct this conversation")
    });
    (h, id, conv)
}

/// A correction typed and left unsaved (another tab, the app killed) is a draft: the file says
/// so, "Correct" on the same record brings it back, and saving it drops the draft.
#[test]
fn a_correction_left_unsaved_comes_back_and_is_saved() {
    let (mut h, id, conv) = correcting_kofis_conversation();
    assert!(h.html().contains("Add an issue"), "{}", h.html());
    h.click("data-value", "phone");
    h.fill("conv-story", "Cleans at 5am, then a second job.");
    let key = super::views::drafts::correction_key(&id, &conv.id);
    wait_for_draft(&h, &key, |d| d.contains("a second job"));

    h.click("id", "tab-Due");
    h.settle_until("due", |html| html.contains("Follow-ups due"));
    h.click("id", "tab-People");
    h.settle_until("people", |html| html.contains("Kofi Boateng"));
    h.click("data-id", &id);
    h.settle_until("the file says a correction waits", |html| {
        html.contains("Correct (unsaved correction waiting)")
    });
    h.click("data-correct", &conv.id);
    h.settle_until("the correction restored", |html| {
        html.contains("your unsaved correction is back") && html.contains("a second job")
    });
    h.click("id", "save-conversation");
    h.settle_until("saved", |html| html.contains("Correction saved."));
    let c = h.store().person(&id).unwrap().conversations[0].clone();
    assert_eq!(
        c.story.as_deref(),
        Some("Cleans at 5am, then a second job.")
    );
    assert_eq!(c.kind, groundwork::model::ConversationKind::Phone);
    wait_for_no_draft(&h, &key);
}

/// A correction drafted for a conversation that another device then deleted is shown apart,
/// with what was typed, and can be discarded: then neither the file nor the draft says a
/// correction waits.
#[test]
fn a_correction_of_a_record_deleted_elsewhere_is_shown_and_can_be_discarded() {
    let (mut h, id, conv) = correcting_kofis_conversation();
    h.fill("conv-story", "Cleans at 5am, then a second job.");
    let key = super::views::drafts::correction_key(&id, &conv.id);
    wait_for_draft(&h, &key, |d| d.contains("a second job"));
    h.click("id", "tab-Due");
    h.settle_until("due", |html| html.contains("Follow-ups due"));

    // Another device deletes the conversation (a legal change, so it is applied; the file's
    // history can put it back).
    {
        use automerge::transaction::Transactable;
        let mut s = h.store();
        let mut other = other_device(&s, &id, 7);
        let convs = person_map(&other, "conversations");
        other.delete(&convs, conv.id.as_str()).unwrap();
        let wipe = last_change(&mut other);
        pull(&mut s, &id, &wipe, 7, "Other phone");
    }
    assert!(h.store().person(&id).unwrap().conversations.is_empty());

    h.click("id", "tab-People");
    h.settle_until("people", |html| html.contains("Kofi Boateng"));
    h.click("data-id", &id);
    h.settle_until("the lost correction shown with its words", |html| {
        html.contains("since removed from this file")
            && html.contains("Cleans at 5am, then a second job.")
    });
    let html = h.html();
    assert!(
        html.contains("<dt>Their story</dt>"),
        "the field by its label: {html}"
    );
    assert!(!html.contains("unsaved correction waiting"), "{html}");
    h.click("data-discard-lost", &conv.id);
    h.settle_until("asked first", |html| {
        html.contains("Discard this correction?")
    });
    h.click("id", "lost-correction-yes");
    h.settle_until("discarded", |html| {
        html.contains("Correction discarded.") && !html.contains("since removed from this file")
    });
    wait_for_no_draft(&h, &key);
}

/// A correction whose reply comes after the person's file was left is saved and said so, and
/// the gone form is not touched (Dioxus panics at a write to a signal, or a call of a handler,
/// whose component is gone).
#[test]
fn leaving_the_file_while_a_correction_saves_loses_nothing_and_crashes_nothing() {
    let (mut h, id, _) = correcting_kofis_conversation();
    h.click("data-value", "phone");
    h.click("id", "save-conversation");
    // Another tab at once: the app runs nothing in between, so the reply comes after.
    h.click("id", "tab-Due");
    h.settle_until("told on the next screen", |html| {
        html.contains("Correction saved.")
    });
    let c = h.store().person(&id).unwrap().conversations[0].clone();
    assert_eq!(c.kind, groundwork::model::ConversationKind::Phone);
}

/// The campaign "Living wage" with the target "letters signed" (50); its id.
fn living_wage(s: &mut Store) -> String {
    s.add_campaign(groundwork::model::NewCampaign {
        name: "Living wage".into(),
        issue: None,
        targets: [("letters signed".to_string(), 50)].into(),
    })
    .unwrap()
}

/// Open `id`'s record form on a Living wage shift and ask "sign the letter" towards its
/// target "letters signed".
fn ask_for_letters(h: &mut Harness, id: &str) {
    h.open_record_form(id);
    h.settle_until("the campaign's targets offered", |html| {
        html.contains("+ letters signed")
    });
    h.type_in("commitment-entry", "sign the letter");
    h.click("data-value", "letters signed");
    h.settle_until("ask added", |html| {
        html.contains("Remove commitment: sign the letter")
    });
}

#[test]
fn a_commitment_counts_towards_the_target_chosen_for_it_not_its_words() {
    let (mut id, mut campaign) = (String::new(), String::new());
    let mut h = Harness::new(|s| {
        campaign = living_wage(s);
        s.start_shift("Elm Road", Some(&campaign), None).unwrap();
        id = person(s, "Amina Yusuf");
    });
    ask_for_letters(&mut h, &id);
    h.click("id", "save-conversation");
    h.settle_until("saved", |html| html.contains("Conversation saved."));
    let c = h.store().person(&id).unwrap().commitments[0].clone();
    assert_eq!(c.what, "sign the letter");
    assert_eq!(c.target.as_deref(), Some("letters signed"));
    h.settle_until("kept button", |html| html.contains("Kept: sign the letter"));
    h.click("aria-label", "Kept: sign the letter");
    h.settle_until("marked", |html| {
        html.contains("Marked kept: sign the letter.")
    });
    h.click("id", "tab-Campaigns");
    h.settle_until("target counted", |html| {
        html.contains("letters signed: kept (1 made)")
            && html.contains("1 of 50")
            && html.contains("given this target")
    });
}

/// A conversation begun on a campaign's shift whose campaign was deleted before it was saved
/// (a lead's deletion synced in) is saved, its commitments counting towards no campaign.
#[test]
fn a_conversation_whose_campaign_was_deleted_meanwhile_is_still_saved() {
    let (mut id, mut campaign) = (String::new(), String::new());
    let mut h = Harness::new(|s| {
        campaign = living_wage(s);
        s.start_shift("Elm Road", Some(&campaign), None).unwrap();
        id = person(s, "Amina Yusuf");
    });
    ask_for_letters(&mut h, &id);
    // Deleted behind the open form, as a pull of a lead's deletion would, which the app is
    // told of (here by a write of its own).
    h.store()
        .erase_locally(&campaign, groundwork::docs::DocKind::Campaign)
        .unwrap();
    h.rt.block_on(
        h.handle()
            .run(super::worker::Request::SetName("Sam".into())),
    )
    .unwrap();
    h.settle_until("the campaign gone from the form", |html| {
        !html.contains("+ letters signed")
    });
    h.click("id", "save-conversation");
    h.settle_until("saved", |html| html.contains("Conversation saved."));
    let made = &h.store().person(&id).unwrap().commitments[0];
    assert_eq!(made.what, "sign the letter");
    assert_eq!(
        (made.campaign_id.as_deref(), made.target.as_deref()),
        (None, None)
    );
}

/// A conversation begun at the door and saved after the shift ended belongs to that shift, at
/// the time it was begun, and its commitments to the shift's campaign and target.
#[test]
fn a_conversation_saved_after_its_shift_ended_still_counts_towards_it() {
    let (mut id, mut campaign, mut shift) = (String::new(), String::new(), String::new());
    let mut h = Harness::new(|s| {
        campaign = living_wage(s);
        shift = s.start_shift("Elm Road", Some(&campaign), None).unwrap();
        id = person(s, "Amina Yusuf");
    });
    h.open_record_form(&id);
    h.settle_until("the campaign's targets offered", |html| {
        html.contains("+ letters signed")
    });
    let begun = chrono::Utc::now();
    h.type_in("story", "Two jobs, still short");
    h.type_in("commitment-entry", "sign the letter");
    h.click("data-value", "letters signed");
    h.settle_until("ask added", |html| {
        html.contains("Remove commitment: sign the letter")
    });
    let key = super::views::draft_key(&id);
    wait_for_draft(&h, &key, |d| d.contains("letters signed"));

    // The shift ends before the conversation is saved, and the app says what is waiting.
    std::thread::sleep(Duration::from_millis(1100));
    h.click("id", "tab-Shift");
    h.settle_until("shift screen", |html| html.contains("End shift"));
    h.click("id", "end-shift");
    h.settle_until("ended", |html| {
        html.contains("Shift ended. One conversation is not saved yet")
    });

    h.click("id", "tab-People");
    h.settle_until("people", |html| html.contains("Amina Yusuf"));
    h.open_record_form(&id);
    h.settle_until("the draft restored", |html| {
        html.contains("A draft was restored") && html.contains("+ letters signed")
    });
    h.click("id", "save-conversation");
    h.settle_until("saved", |html| html.contains("Conversation saved."));
    let file = h.store().person(&id).unwrap();
    let c = &file.conversations[0];
    assert_eq!(c.shift_id.as_deref(), Some(shift.as_str()), "its shift");
    let at = chrono::DateTime::parse_from_rfc3339(&c.at).unwrap();
    assert!(
        (at.with_timezone(&chrono::Utc) - begun).num_seconds().abs() <= 1,
        "recorded at {} when begun at {begun}: the time it was begun, not saved",
        c.at
    );
    let made = &file.commitments[0];
    assert_eq!(made.campaign_id.as_deref(), Some(campaign.as_str()));
    assert_eq!(made.target.as_deref(), Some("letters signed"));
}

/// Renaming a target that commitments were given stops counting them: saving says so and
/// asks first.
#[test]
fn renaming_a_target_commitments_were_given_asks_first() {
    let (mut campaign, mut id) = (String::new(), String::new());
    let mut h = Harness::new(|s| {
        campaign = s
            .add_campaign(groundwork::model::NewCampaign {
                name: "Living wage".into(),
                issue: None,
                targets: [("leters signed".to_string(), 50)].into(),
            })
            .unwrap();
        id = person(s, "Amina Yusuf");
        s.record_conversation(
            doorstep(&id, "Two jobs."),
            vec![NewCommitment {
                what: "sign the letter".into(),
                campaign_id: Some(campaign.clone()),
                target: Some("leters signed".into()),
                ..Default::default()
            }],
        )
        .unwrap();
    });
    h.click("id", "tab-Campaigns");
    h.settle_until("campaign", |html| {
        html.contains("Edit campaign Living wage")
    });
    h.click("aria-label", "Edit campaign Living wage");
    h.settle_until("form", |html| html.contains("Edit Living wage"));
    h.fill("edit-target-label-0", "letters signed");
    h.click("id", "save-campaign");
    h.settle_until("asked", |html| {
        html.contains("Commitments were given “leters signed” (1) as their target")
    });
    assert!(
        h.store()
            .campaign(&campaign)
            .unwrap()
            .targets
            .contains_key("leters signed"),
        "nothing saved yet"
    );
    h.click("id", "campaign-uncount-yes");
    h.settle_until("saved", |html| html.contains("Campaign saved."));
    let c = h.store().campaign(&campaign).unwrap();
    assert_eq!(c.targets, [("letters signed".to_string(), 50)].into());
}

#[test]
fn a_campaign_is_renamed_and_given_several_targets_in_the_app() {
    let mut campaign = String::new();
    let mut h = Harness::new(|s| {
        campaign = s
            .add_campaign(groundwork::model::NewCampaign {
                name: "Living wage".into(),
                issue: Some("wages".into()),
                targets: [("letters signed".to_string(), 50)].into(),
            })
            .unwrap();
    });
    h.click("id", "tab-Campaigns");
    h.settle_until("campaign", |html| {
        html.contains("Edit campaign Living wage")
    });
    h.click("aria-label", "Edit campaign Living wage");
    h.settle_until("form", |html| html.contains("Edit Living wage"));
    h.fill("edit-campaign-name", "Living wage now");
    h.fill("edit-target-number-0", "80");
    h.click("id", "edit-add-target");
    h.settle_until("a second row", |html| html.contains("edit-target-label-1"));
    h.fill("edit-target-label-1", "at the delivery");
    h.fill("edit-target-number-1", "100");
    h.click("id", "save-campaign");
    h.settle_until("saved", |html| html.contains("Campaign saved."));
    let c = h.store().campaign(&campaign).unwrap();
    assert_eq!(c.name, "Living wage now");
    assert_eq!(
        c.targets,
        [
            ("at the delivery".to_string(), 100),
            ("letters signed".to_string(), 80)
        ]
        .into()
    );
}

fn doorstep(person_id: &str, story: &str) -> NewConversation {
    NewConversation {
        person_id: person_id.to_string(),
        kind: groundwork::model::ConversationKind::Doorstep,
        at: None,
        canvasser: None,
        shift_id: None,
        issues: vec![],
        story: Some(story.into()),
        notes: None,
        engagement: None,
        follow_up: None,
    }
}

/// Another device of the team, writing person file `doc_id` as actor `actor`.
fn other_device(s: &Store, doc_id: &str, actor: u8) -> automerge::AutoCommit {
    let bytes = s.document_bytes(doc_id).unwrap().unwrap();
    automerge::AutoCommit::load(&bytes)
        .unwrap()
        .with_actor(automerge::ActorId::from(vec![actor; 16]))
}

/// The last change `doc` made, as pulled bytes.
fn last_change(doc: &mut automerge::AutoCommit) -> Vec<u8> {
    doc.commit().expect("the edit changed something");
    doc.get_last_local_change().unwrap().raw_bytes().to_vec()
}

/// Take in `blob` for `doc_id` as pushed by the device `name` with actor `actor`.
fn pull(s: &mut Store, doc_id: &str, blob: &[u8], actor: u8, name: &str) {
    let pusher = groundwork::store::Pusher {
        actor: vec![actor; 16],
        name: name.into(),
    };
    s.batch(|w| {
        w.take_in(&[groundwork::store::Incoming {
            doc_id,
            blob,
            pusher: Some(&pusher),
            snapshot: false,
        }])
    })
    .unwrap();
}

fn person_map(doc: &automerge::AutoCommit, key: &str) -> automerge::ObjId {
    use automerge::ReadDoc;
    match doc.get(automerge::ROOT, key).unwrap() {
        Some((automerge::Value::Object(automerge::ObjType::Map), id)) => id,
        other => panic!("{key} is not a map: {other:?}"),
    }
}

#[test]
fn settings_lists_refused_and_waiting_changes() {
    use automerge::transaction::Transactable;
    let mut id = String::new();
    let mut h = Harness::new(|s| {
        id = person(s, "Amina Yusuf");
        pull(s, &id, b"not an automerge change", 9, "Evil phone");
        // Two changes from another device; only the second arrives, so it waits.
        let mut other = other_device(s, &id, 5);
        let p = person_map(&other, "person");
        other.put(&p, "phone", "07700 900123").unwrap();
        let _first = last_change(&mut other);
        other.put(&p, "email", "amina@example.org").unwrap();
        let second = last_change(&mut other);
        pull(s, &id, &second, 5, "Sam's phone");
    });
    assert_eq!(h.store().quarantined().unwrap().len(), 1);
    h.click("id", "tab-Settings");
    h.settle_until("refused changes listed", |html| {
        html.contains("1 change from another device was refused")
    });
    let html = h.html();
    let refused = &html[html.find("was refused").unwrap()..];
    assert!(refused.contains("Evil phone"), "{html}");
    assert!(refused.contains("Amina Yusuf"), "{html}");
    assert!(
        refused.contains("Refused because it is not an Automerge change"),
        "{html}"
    );
    assert!(
        html.contains("1 change waits for changes this device has not received"),
        "{html}"
    );
    // Repair goes to the sync engine, which is not connected in these tests.
    h.click("id", "repair");
    h.settle_until("repair answered", |html| {
        html.contains("sync is not connected")
    });
    // The person's name opens their file, where the history is.
    h.click("class", "linkish");
    h.settle_until("person file", |html| html.contains("Show history"));
}

#[test]
fn history_lists_changes_and_restores_a_deleted_conversation() {
    use automerge::transaction::Transactable;
    let mut id = String::new();
    let mut conv = String::new();
    let mut h = Harness::new(|s| {
        s.set_canvasser_name("Sam").unwrap();
        id = person(s, "Amina Yusuf");
        let (c, _) = s
            .record_conversation(doorstep(&id, "The heating broke in October."), vec![])
            .unwrap();
        // Another device deletes the conversation: a legal change, so it is applied.
        let mut other = other_device(s, &id, 7);
        let convs = person_map(&other, "conversations");
        other.delete(&convs, c.as_str()).unwrap();
        let wipe = last_change(&mut other);
        pull(s, &id, &wipe, 7, "Evil phone");
        conv = c;
    });
    assert!(h.store().person(&id).unwrap().conversations.is_empty());
    let wipe = h
        .store()
        .history(&id)
        .unwrap()
        .into_iter()
        .find(|e| e.device.as_deref() == Some("Evil phone"))
        .expect("the deletion is in the history")
        .change;

    h.click("data-id", &id);
    h.settle_until("person file", |html| html.contains("Show history"));
    h.click("id", "show-history");
    h.settle_until("history", |html| {
        html.contains("History of Amina Yusuf") && html.contains("Evil phone")
    });
    let html = h.html();
    assert!(
        html.contains("deleted the doorstep conversation of"),
        "{html}"
    );
    assert!(html.contains("created the file"), "{html}");
    assert!(
        html.find("Evil phone") < html.find("created the file"),
        "newest first: {html}"
    );
    // Each change's "Restore to before this" is told apart by its change, for a screen reader.
    assert!(
        html.contains("aria-label=\"Restore to before this (the change of ")
            && html.contains("by Evil phone)\""),
        "{html}"
    );

    // A restore asks first; cancelling changes nothing.
    h.click("data-restore", &format!("{wipe}/{conv}"));
    h.settle_until("confirmation", |html| html.contains("Yes, restore"));
    assert!(h.html().contains("Put back the doorstep conversation of"));
    h.click("id", "cancel-restore");
    h.settle_until("cancelled", |html| !html.contains("Yes, restore"));
    assert!(h.store().person(&id).unwrap().conversations.is_empty());

    h.click("data-restore", &format!("{wipe}/{conv}"));
    h.settle_until("confirmation", |html| html.contains("Yes, restore"));
    h.click("id", "confirm-restore");
    h.settle_until("restored file shown", |html| {
        html.contains("Restored the doorstep conversation")
            && html.contains("The heating broke in October.")
            && !html.contains("History of Amina Yusuf")
    });
    let file = h.store().person(&id).unwrap();
    assert_eq!(file.conversations.len(), 1);
    assert_eq!(file.conversations[0].id, conv);
}

/// A restore whose reply comes after the history was left is made and said so, and the gone
/// screen is not touched.
#[test]
fn leaving_the_history_while_a_restore_is_made_loses_nothing_and_crashes_nothing() {
    use automerge::transaction::Transactable;
    let (mut id, mut conv) = (String::new(), String::new());
    let mut h = Harness::new(|s| {
        id = person(s, "Amina Yusuf");
        let (c, _) = s
            .record_conversation(doorstep(&id, "The heating broke in October."), vec![])
            .unwrap();
        let mut other = other_device(s, &id, 7);
        let convs = person_map(&other, "conversations");
        other.delete(&convs, c.as_str()).unwrap();
        let wipe = last_change(&mut other);
        pull(s, &id, &wipe, 7, "Evil phone");
        conv = c;
    });
    let wipe = h
        .store()
        .history(&id)
        .unwrap()
        .into_iter()
        .find(|e| e.device.as_deref() == Some("Evil phone"))
        .expect("the deletion is in the history")
        .change;
    h.click("data-id", &id);
    h.settle_until("person file", |html| html.contains("Show history"));
    h.click("id", "show-history");
    h.settle_until("history", |html| html.contains("Evil phone"));
    h.click("data-restore", &format!("{wipe}/{conv}"));
    h.settle_until("confirmation", |html| html.contains("Yes, restore"));
    h.click("id", "confirm-restore");
    h.click("id", "tab-Due");
    h.settle_until("told on the next screen", |html| {
        html.contains("Restored the doorstep conversation")
    });
    assert_eq!(h.store().person(&id).unwrap().conversations.len(), 1);
}

/// Wait until the store holds a draft under `key` that satisfies `ok`.
fn wait_for_draft(h: &Harness, key: &str, ok: impl Fn(&str) -> bool) -> String {
    wait_until_draft(h, key, "no draft under", |d| d.is_some_and(&ok)).unwrap_or_default()
}

/// Wait until the store's draft under `key` (or its absence) satisfies `ok`; `failing` says
/// what was wrong if it never does.
fn wait_until_draft(
    h: &Harness,
    key: &str,
    failing: &str,
    ok: impl Fn(Option<&str>) -> bool,
) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let d = h.rt.block_on(h.handle().draft(key)).unwrap();
        if ok(d.as_deref()) {
            return d;
        }
        assert!(Instant::now() < deadline, "{failing} {key}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A draft that cannot be written (a full disk; here a trigger in the notebook refusing it) is
/// said in the header while what was typed stays in memory, and written once it can be: then
/// the warning goes.
#[test]
fn a_draft_that_cannot_be_written_is_said_until_it_is_written() {
    let mut id = String::new();
    let mut h = Harness::new(|s| id = person(s, "Amina Yusuf"));
    let db = rusqlite::Connection::open(h.path.join(groundwork::store::DB_FILE)).unwrap();
    db.execute_batch(
        "CREATE TRIGGER refuse_drafts BEFORE INSERT ON drafts WHEN NEW.key LIKE 'conversation:%'
         BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
    )
    .unwrap();
    h.open_record_form(&id);
    h.settle_until("form", |html| html.contains("id=\"story\""));
    h.type_in("story", "Heating broke");
    h.settle_until("the warning", |html| {
        html.contains("id=\"drafts-unwritten\"")
    });
    assert!(h.html().contains("do not close the app"));
    // Saved with its form, the draft is no longer waiting: the warning goes.
    h.click("id", "save-conversation");
    h.settle_until("saved, nothing left unwritten", |html| {
        html.contains("Conversation saved.") && !html.contains("drafts-unwritten")
    });
    assert_eq!(h.store().person(&id).unwrap().conversations.len(), 1);

    // Another, whose draft fails until the notebook takes it again.
    h.settle_until("the file", |html| {
        html.contains("id=\"record-conversation\"")
    });
    h.click("id", "record-conversation");
    h.settle_until("form", |html| html.contains("id=\"story\""));
    h.type_in("story", "Heating broke");
    h.settle_until("the warning again", |html| {
        html.contains("id=\"drafts-unwritten\"")
    });
    db.execute_batch("DROP TRIGGER refuse_drafts").unwrap();
    h.type_in("story", "Heating broke in October");
    let key = super::views::drafts::conversation_key(&id);
    wait_for_draft(&h, &key, |d| d.contains("in October"));
    h.settle_until("the warning gone", |html| {
        !html.contains("drafts-unwritten")
    });
}

/// A conversation saved, then its draft brought back (the page's copy, after a reload in the
/// moment after the save) and saved again: one conversation.
#[test]
fn a_form_saved_again_from_its_restored_draft_records_once() {
    let mut id = String::new();
    let mut h = Harness::new(|s| id = person(s, "Amina Yusuf"));
    h.open_record_form(&id);
    h.settle_until("form", |html| html.contains("id=\"story\""));
    h.type_in("story", "Heating broke in October");
    let key = super::views::drafts::conversation_key(&id);
    let body = wait_for_draft(&h, &key, |d| d.contains("in October"));
    h.click("id", "save-conversation");
    h.settle_until("saved", |html| html.contains("Conversation saved."));
    // The page's copy of the draft comes back.
    h.store().save_draft(&key, &body).unwrap();
    h.settle_until("the file", |html| {
        html.contains("id=\"record-conversation\"")
    });
    h.click("id", "record-conversation");
    h.settle_until("the draft restored", |html| {
        html.contains("A draft was restored") && html.contains("Heating broke in October")
    });
    h.click("id", "save-conversation");
    h.settle_until("saved again", |html| html.contains("Conversation saved."));
    wait_for_no_draft(&h, &key);
    assert_eq!(h.store().person(&id).unwrap().conversations.len(), 1);
}

/// Text typed and deleted again leaves no draft: an emptied form (or one brought back to how
/// it opened) sent nothing, so the draft of what was typed stayed, was offered again as
/// "restored", and a new person's wrongly typed details stayed in the notebook where no erasure
/// reaches them.
#[test]
fn a_form_emptied_again_leaves_no_draft() {
    let mut id = String::new();
    let mut h = Harness::new(|s| id = person(s, "Amina Yusuf"));
    h.click("id", "add-person");
    h.settle_until("form", |html| html.contains("Add a person"));
    h.type_in("person-name", "Jo Bloggs");
    let key = "person-new";
    wait_for_draft(&h, key, |d| d.contains("Jo Bloggs"));
    h.clear("person-name");
    wait_for_no_draft(&h, key);

    h.click("id", "tab-People");
    h.settle_until("list", |html| html.contains("Amina Yusuf"));
    h.open_record_form(&id);
    h.settle_until("form", |html| {
        html.contains("Conversation with Amina Yusuf")
    });
    h.type_in("story", "Wrong person");
    let key = super::views::draft_key(&id);
    wait_for_draft(&h, &key, |d| d.contains("Wrong person"));
    h.clear("story");
    wait_for_no_draft(&h, &key);
    // A draft restored, then emptied, goes too.
    h.type_in("story", "Still the wrong person");
    wait_for_draft(&h, &key, |d| d.contains("Still the wrong person"));
    h.click("id", "tab-People");
    h.settle_until("list", |html| html.contains("Amina Yusuf"));
    h.open_record_form(&id);
    h.settle_until("restored", |html| html.contains("Still the wrong person"));
    h.clear("story");
    wait_for_no_draft(&h, &key);
}

/// Wait until the store holds no draft under `key`.
fn wait_for_no_draft(h: &Harness, key: &str) {
    wait_until_draft(h, key, "the draft stayed under", |d| d.is_none());
}

#[test]
fn a_half_typed_person_survives_a_tab_switch() {
    let mut h = Harness::new(|_| {});
    h.click("id", "add-person");
    h.settle_until("form", |html| html.contains("Add a person"));
    h.type_in("person-name", "Amina Yu");
    h.type_in("person-notes", "Two jobs,\nnights at Tesco");
    h.click("data-value", "sms");
    // A tag typed and not added yet.
    h.type_in("person-tag-entry", "Night shift");
    wait_for_draft(&h, "person-new", |d| d.contains("Night shift"));
    // Away to another tab and back: nothing typed is lost.
    h.click("id", "tab-Due");
    h.settle_until("due", |html| html.contains("Overdue"));
    h.click("id", "tab-People");
    h.settle_until("the waiting person", |html| {
        html.contains("A person you started adding is not saved yet")
    });
    h.click("id", "continue-new-person");
    h.settle_until("restored form", |html| {
        html.contains("A draft was restored") && html.contains("Amina Yu")
    });
    let html = h.html();
    assert!(
        html.contains("Two jobs,\nnights at Tesco"),
        "the notes are back: {html}"
    );
    assert!(
        html.contains("Night shift"),
        "the tag typed is back: {html}"
    );
    // Discarding asks first; "Keep it" keeps the draft.
    h.click("id", "discard-draft");
    h.settle_until("question", |html| {
        html.contains("Discard this unsaved person?")
    });
    h.click("id", "discard-person-no");
    h.settle_until("kept", |html| {
        !html.contains("Discard this unsaved person?")
    });
    h.click("id", "save-new-person");
    h.settle_until("saved", |html| html.contains("Person added."));
    let store = h.store();
    let people = store.list_people(10).unwrap();
    assert_eq!(people.len(), 1);
    assert_eq!(people[0].name, "Amina Yu");
    assert_eq!(
        people[0].notes.as_deref(),
        Some("Two jobs,\nnights at Tesco")
    );
    assert!(people[0].consent.contains_key("sms"));
    assert_eq!(
        people[0].tags,
        ["night shift"],
        "the tag typed is added on saving"
    );
    assert_eq!(
        store.draft("person-new").unwrap(),
        None,
        "the draft is gone"
    );
}

#[test]
fn half_typed_details_survive_leaving_and_cancel_asks_first() {
    let mut id = String::new();
    let mut h = Harness::new(|s| id = person(s, "Amina Yusuf"));
    h.click("data-id", &id);
    h.settle_until("person file", |html| html.contains("Edit details"));
    h.click("id", "edit-person");
    h.settle_until("form", |html| html.contains("Edit Amina Yusuf"));
    h.type_in("edit-phone", "07700 900123");
    h.type_in("edit-tag-entry", "tenant r");
    wait_for_draft(&h, &format!("person-edit:{id}"), |d| {
        d.contains("07700 900123")
    });
    h.click("id", "tab-Due");
    h.settle_until("due", |html| html.contains("Overdue"));
    h.click("id", "tab-People");
    h.settle_until("marked in the list", |html| html.contains("Unsaved draft"));
    h.click("data-id", &id);
    h.settle_until("the file says so", |html| {
        html.contains("Unsaved changes to the details")
    });
    h.click("id", "continue-edit");
    h.settle_until("restored", |html| {
        html.contains("A draft was restored") && html.contains("07700 900123")
    });
    assert!(h.html().contains("tenant r"), "{}", h.html());
    // Cancel with changes asks; keeping them keeps the form open.
    h.click("id", "cancel-edit");
    h.settle_until("question", |html| {
        html.contains("Discard your unsaved changes to Amina Yusuf")
    });
    h.click("id", "discard-edit-no");
    h.settle_until("still editing", |html| {
        !html.contains("Discard your unsaved changes") && html.contains("Edit Amina Yusuf")
    });
    h.click("id", "save-person");
    h.settle_until("saved", |html| html.contains("Details saved."));
    let store = h.store();
    let p = store.person(&id).unwrap().person;
    assert_eq!(p.phone.as_deref(), Some("07700 900123"));
    assert_eq!(p.tags, vec!["tenant r"]);
    assert_eq!(store.draft(&format!("person-edit:{id}")).unwrap(), None);
}

#[test]
fn discarding_a_conversation_draft_asks_first_and_the_file_shows_it_waiting() {
    let mut id = String::new();
    let mut h = Harness::new(|s| id = person(s, "Amina Yusuf"));
    h.open_record_form(&id);
    h.settle_until("form", |html| {
        html.contains("Conversation with Amina Yusuf")
    });
    h.type_in("story", "The heating broke");
    let key = super::views::draft_key(&id);
    wait_for_draft(&h, &key, |d| d.contains("The heating broke"));
    h.click("id", "tab-People");
    h.settle_until("marked in the list", |html| html.contains("Unsaved draft"));
    h.click("data-id", &id);
    h.settle_until("the file says so", |html| {
        html.contains("Unsaved conversation draft")
    });
    h.click("id", "continue-conversation");
    h.settle_until("restored", |html| {
        html.contains("A draft was restored") && html.contains("The heating broke")
    });
    h.click("id", "discard-draft");
    h.settle_until("question", |html| html.contains("Discard this draft?"));
    assert!(
        h.store().draft(&key).unwrap().is_some(),
        "asked, not deleted"
    );
    h.click("id", "discard-conversation-no");
    h.settle_until("kept", |html| !html.contains("Discard this draft?"));
    assert!(h.store().draft(&key).unwrap().is_some(), "kept");
    h.click("id", "discard-draft");
    h.settle_until("question", |html| html.contains("Discard this draft?"));
    h.click("id", "discard-conversation-yes");
    h.settle_until("discarded", |html| html.contains("Draft discarded."));
    assert_eq!(h.store().draft(&key).unwrap(), None);
    assert!(!h.html().contains("Unsaved conversation draft"));
}

#[test]
fn line_breaks_in_notes_and_stories_are_shown_as_typed() {
    let mut id = String::new();
    let mut h = Harness::new(|s| {
        id = s
            .add_person(
                NewPerson::new()
                    .put(PersonField::Name, "Amina Yusuf")
                    .put(PersonField::Notes, "Call after 6pm.\nNot on Sundays."),
            )
            .unwrap();
        let mut c = doorstep(&id, "Two jobs.\n\nStill short every month.");
        c.notes = Some("Ask about\nthe breakfast club.".into());
        s.record_conversation(c, vec![]).unwrap();
    });
    h.click("data-id", &id);
    h.settle_until("person file", |html| html.contains("Conversations"));
    let html = h.html();
    for held in [
        "<dd class=\"as-typed\">Call after 6pm.\nNot on Sundays.</dd>",
        "<p class=\"story as-typed\">Two jobs.\n\nStill short every month.</p>",
        "<p class=\"notes as-typed\">Ask about\nthe breakfast club.</p>",
    ] {
        assert!(html.contains(held), "{held:?} in {html}");
    }
    let style = super::style();
    assert!(
        style.contains(".as-typed { white-space: pre-wrap;"),
        "the line breaks are drawn"
    );
}

/// A sync engine driven by the test: commands are recorded, statuses sent by hand.
struct FakeSync {
    status: std::sync::Mutex<super::sync::SyncStatus>,
    subscribers:
        std::sync::Mutex<Vec<futures_channel::mpsc::UnboundedSender<super::sync::SyncStatus>>>,
    commands: std::sync::Mutex<Vec<super::sync::SyncCommand>>,
}

impl FakeSync {
    fn new(status: super::sync::SyncStatus) -> std::sync::Arc<FakeSync> {
        std::sync::Arc::new(FakeSync {
            status: std::sync::Mutex::new(status),
            subscribers: Default::default(),
            commands: Default::default(),
        })
    }

    fn send(&self, status: super::sync::SyncStatus) {
        *self.status.lock().unwrap() = status.clone();
        self.subscribers
            .lock()
            .unwrap()
            .retain(|s| s.unbounded_send(status.clone()).is_ok());
    }
}

impl super::sync::SyncEngine for FakeSync {
    fn status(&self) -> super::sync::SyncStatus {
        self.status.lock().unwrap().clone()
    }

    fn watch(&self) -> futures_channel::mpsc::UnboundedReceiver<super::sync::SyncStatus> {
        let (tx, rx) = futures_channel::mpsc::unbounded();
        self.subscribers.lock().unwrap().push(tx);
        rx
    }

    fn command(&self, command: super::sync::SyncCommand) -> Result<(), String> {
        self.commands.lock().unwrap().push(command.clone());
        if let super::sync::SyncCommand::Join { .. } = command {
            let joining = super::sync::SyncStatus {
                joining: true,
                ..self.status()
            };
            self.send(joining);
        }
        Ok(())
    }
}

fn with_fake(fake: &std::sync::Arc<FakeSync>) -> impl FnOnce(StoreHandle) -> Services {
    let sync: super::sync::SharedSync = fake.clone();
    move |store| Services {
        store,
        sync,
        host: Default::default(),
    }
}

#[test]
fn joining_names_the_device_and_the_joining_notice_ends_with_the_join() {
    let fake = FakeSync::new(Default::default());
    let mut h = Harness::with(|s| s.set_canvasser_name("Sam").unwrap(), with_fake(&fake));
    h.click("id", "tab-Settings");
    h.settle_until("settings", |html| html.contains("Relay address"));
    h.type_in("relay", "http://127.0.0.1:1");
    h.type_in("invite", "abc");
    h.type_in("device-name", "Sam's phone");
    h.click("id", "join");
    h.settle_until("joining", |html| html.contains("Joining…"));
    let asked = fake.commands.lock().unwrap().clone();
    assert_eq!(
        asked,
        vec![super::sync::SyncCommand::Join {
            relay: "http://127.0.0.1:1".into(),
            invite: "abc".into(),
            device_name: "Sam's phone".into(),
        }]
    );
    // The relay cannot be reached: the join ends, and so does "Joining…".
    fake.send(super::sync::SyncStatus {
        unreachable: true,
        last_error: Some("cannot reach the relay at http://127.0.0.1:1 (no connection)".into()),
        ..Default::default()
    });
    h.settle_until("join ended", |html| html.contains("Could not join"));
    let html = h.html();
    assert!(!html.contains("Joining…"), "{html}");
    assert!(html.contains("Offline · "), "{html}");
    // The reason is one tap away from the badge.
    assert!(html.contains("<details class=\"sync-details\""), "{html}");
    assert!(
        html.contains("The relay cannot be reached from here just now."),
        "{html}"
    );
    // The canvasser's name is still the canvasser's.
    let store = h.store();
    assert_eq!(
        store.given_canvasser_name().unwrap().as_deref(),
        Some("Sam")
    );

    // Joined: "Sync now" replaces "Join a team" in the badge.
    fake.send(super::sync::SyncStatus {
        joined: Some("https://relay.example.org".into()),
        online: true,
        ..Default::default()
    });
    h.settle_until("joined", |html| {
        html.contains("Joined: this device syncs with")
    });
    let html = h.html();
    // The form goes: its spent code offered again would only be refused.
    assert!(!html.contains("id=\"invite\""), "{html}");
    assert!(
        html.contains("Sync now") && !html.contains("badge-join"),
        "{html}"
    );
}

/// A device the relay revoked (or lost) is told to join again, and Settings offers the join
/// form again: the new invite joins it under a new identity (the engine's rejoin), and the form
/// says how that went.
#[test]
fn a_revoked_device_is_offered_the_join_form_again() {
    let revoked = super::sync::SyncStatus {
        last_error: Some(groundwork::sync::SyncError::Revoked.to_string()),
        online: false,
        ..joined("canvasser")
    };
    let fake = FakeSync::new(revoked.clone());
    let mut h = Harness::with(|s| s.set_canvasser_name("Priya").unwrap(), with_fake(&fake));
    h.click("id", "tab-Settings");
    h.settle_until("told to join again, with the form", |html| {
        html.contains("id=\"join-again\"") && html.contains("id=\"invite\"")
    });
    h.type_in("relay", "https://relay.example.org");
    h.type_in("invite", "NEWCODE.secret");
    h.type_in("device-name", "Priya's phone");
    h.click("id", "join");
    h.settle_until("joining", |html| html.contains("Joining…"));
    assert!(matches!(
        fake.commands.lock().unwrap().last(),
        Some(super::sync::SyncCommand::Join { invite, .. }) if invite == "NEWCODE.secret"
    ));
    // The relay refuses the invite: said, and the old link stays.
    fake.send(super::sync::SyncStatus {
        last_error: Some("the relay refused the invite: it was already used".into()),
        ..revoked.clone()
    });
    h.settle_until("refused", |html| {
        html.contains("Could not join: the relay refused the invite")
    });
    // A good invite: joined again, the warning and the form gone.
    h.click("id", "join");
    fake.send(super::sync::SyncStatus {
        rejoined: Some(1),
        ..joined("canvasser")
    });
    h.settle_until("joined again", |html| {
        html.contains("Joined again: this device syncs with")
            && !html.contains("join-again")
            && !html.contains("id=\"invite\"")
    });

    // A device still in its team is not offered the form.
    let fake = FakeSync::new(joined("canvasser"));
    let mut h = Harness::with(|s| s.set_canvasser_name("Sam").unwrap(), with_fake(&fake));
    h.click("id", "tab-Settings");
    h.settle_until("settings", |html| html.contains("You are a canvasser"));
    assert!(!h.html().contains("id=\"invite\""), "{}", h.html());
}

#[test]
fn the_first_start_asks_the_canvassers_name_and_can_be_skipped() {
    let mut h = Harness::with(|_| {}, Services::offline);
    h.settle_until("the question", |html| html.contains("Who is canvassing?"));
    h.click("id", "skip-name");
    h.settle_until("people", |html| {
        !html.contains("Who is canvassing?") && html.contains("people-title")
    });
    assert!(h.store().canvasser_name_asked().unwrap());
    assert_eq!(h.store().given_canvasser_name().unwrap(), None);
    // The shift screen never calls the canvasser "unnamed".
    h.click("id", "tab-Shift");
    h.settle_until("shift", |html| html.contains("no name given"));
    assert!(!h.html().contains("unnamed"), "{}", h.html());

    // A new notebook again: this time the name is given.
    let mut h = Harness::with(|_| {}, Services::offline);
    h.settle_until("the question", |html| html.contains("Who is canvassing?"));
    h.type_in("welcome-name", "Amina");
    h.click("id", "save-name");
    h.settle_until("people", |html| !html.contains("Who is canvassing?"));
    assert_eq!(
        h.store().given_canvasser_name().unwrap().as_deref(),
        Some("Amina")
    );
    // An older notebook with a name is never asked.
    let h = Harness::new(|_| {});
    assert!(!h.html().contains("Who is canvassing?"));
}

#[test]
fn a_change_pulled_by_sync_appears_on_the_open_person_file() {
    let fake = FakeSync::new(Default::default());
    let mut id = String::new();
    let mut h = Harness::with(
        |s| {
            s.set_canvasser_name("Sam").unwrap();
            id = person(s, "Amina Yusuf");
        },
        with_fake(&fake),
    );
    h.click("data-id", &id);
    h.settle_until("the file", |html| html.contains("person-title"));
    // Sync writes what it pulls through a connection of its own, as here.
    h.store()
        .record_conversation(doorstep(&id, "Called back: she will bring Lee"), vec![])
        .unwrap();
    h.settle_until("a moment", |_| true);
    assert!(
        !h.html().contains("Called back"),
        "shown before sync said so"
    );
    fake.send(super::sync::SyncStatus {
        pulled: 1,
        ..Default::default()
    });
    h.settle_until("the pulled conversation", |html| {
        html.contains("Called back: she will bring Lee")
    });
    assert!(h.html().contains("person-title"), "{}", h.html());
}

/// How many times `needle` occurs in `html`.
fn occurrences(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

/// The filter panel's choices read every person and conversation, and the list asks again
/// after every change: they are read only once the panel is opened (or a filter is on).
#[test]
fn the_filter_choices_are_read_once_the_panel_is_opened() {
    let mut h = Harness::new(|s| {
        s.add_person(
            NewPerson::new()
                .put(PersonField::Name, "Amina Yusuf")
                .put(PersonField::Area, "Canal Street")
                .add(PersonField::Tags, ["union member"]),
        )
        .unwrap();
    });
    h.settle_until("the list", |html| html.contains("Amina Yusuf"));
    let area = "<option value=\"Canal Street\"";
    // The list is there and idle: the panel's choices were never asked for.
    h.settle_until("a quiet list", |html| {
        html.contains("1 person in this notebook.")
    });
    assert!(!h.html().contains(area), "{}", h.html());
    h.click("id", "people-filters-toggle");
    h.settle_until("the panel's choices", |html| {
        html.contains(area) && html.contains("<option value=\"union member\"")
    });
}

#[test]
fn people_shows_the_total_filters_that_combine_with_search_and_more_rows() {
    let mut h = Harness::new(|s| {
        s.batch(|w| {
            for i in 0..70 {
                let (area, tags): (&str, &[&str]) = if i % 10 == 0 {
                    ("Castle Estate", &["union member"])
                } else {
                    ("Elm Road", &[])
                };
                w.add_person(
                    NewPerson::new()
                        .put(PersonField::Name, format!("Person {i:02}"))
                        .put(PersonField::Area, area)
                        .add(PersonField::Tags, tags.iter().copied()),
                )?;
            }
            Ok(())
        })
        .unwrap();
    });
    h.settle_until("the total", |html| {
        html.contains("70 people in this notebook.")
    });
    assert_eq!(occurrences(&h.html(), "class=\"person-row\""), 50);
    assert!(h.html().contains("Show 20 more"), "{}", h.html());
    h.click("id", "people-more");
    h.settle_until("more rows", |html| {
        occurrences(html, "class=\"person-row\"") == 70
    });
    assert!(!h.html().contains("id=\"people-more\""));

    h.choose("filter-area", "Castle Estate");
    h.settle_until("the area's people", |html| html.contains("7 of 70 match."));
    assert_eq!(occurrences(&h.html(), "class=\"person-row\""), 7);
    assert!(h.html().contains("Filters (1 on)"), "{}", h.html());
    // The search box narrows the filtered list further.
    h.type_in("search", "person 2");
    h.settle_until("filter and search", |html| html.contains("1 of 70 match."));
    assert!(h.html().contains("Person 20"));
    h.click("id", "clear-filters");
    h.settle_until("search only", |html| html.contains("10 of 70 match."));
    // The panel stays open with no filter on: it does not close under the thumb.
    assert!(
        h.html().contains("class=\"people-filters\" open=true"),
        "{}",
        h.html()
    );
}

#[test]
fn due_counts_every_commitment_lists_a_page_and_links_only_where_consent_allows() {
    let today = chrono::Local::now().date_naive();
    let mut h = Harness::new(|s| {
        let add = |s: &mut Store, name: &str, consent: &[&str], dnc: bool| {
            s.add_person(
                NewPerson::new()
                    .put(PersonField::Name, name)
                    .put(PersonField::Phone, "07700 900123")
                    .add(PersonField::Consent, consent.iter().copied())
                    .put(PersonField::DoNotContact, dnc),
            )
            .unwrap()
        };
        let grace = add(s, "Grace Okafor", &["phone", "sms"], false);
        let amina = add(s, "Amina Yusuf", &["phone"], false);
        let tomasz = add(s, "Tomasz Nowak", &["phone", "sms"], true);
        let promise = |what: String, days: i64| NewCommitment {
            what,
            due: Some(today + chrono::Duration::days(days)),
            ..Default::default()
        };
        // Sam (this device's canvasser) holds one conversation with 260 overdue promises:
        // more than any one page, and more than the 200 rows the screen used to load.
        let mut sams = doorstep(&grace, "many promises");
        sams.canvasser = Some("Sam".into());
        let many = (0..260)
            .map(|i| promise(format!("promise {i:03}"), -1 - (i % 30)))
            .collect();
        s.record_conversation(sams, many).unwrap();
        let mut anas = doorstep(&amina, "one promise");
        anas.canvasser = Some("Ana".into());
        s.record_conversation(
            anas,
            vec![
                promise("call the landlord".into(), -40),
                promise("come to the meeting".into(), 2),
            ],
        )
        .unwrap();
        let mut third = doorstep(&tomasz, "asked not to be contacted");
        third.canvasser = Some("Ana".into());
        s.record_conversation(third, vec![promise("bring a colleague".into(), 3)])
            .unwrap();
    });
    h.click("id", "tab-Due");
    h.settle_until("whole counts", |html| html.contains("Overdue (261)"));
    let html = h.html();
    assert!(html.contains("Due this week (2)"), "{html}");
    // Soonest first: Ana's 40-days-overdue promise leads; a page, not all 261.
    assert!(
        html.find("call the landlord") < html.find("promise 029"),
        "soonest first"
    );
    assert_eq!(occurrences(&html, "Kept: promise"), 49);
    assert!(html.contains("Showing 50 of 261."), "{html}");

    // Consent: Grace may be called and texted, Amina only called, Tomasz (do not contact)
    // neither, whatever his consent says.
    assert!(html.contains("aria-label=\"Call Grace Okafor on 07700 900123\""));
    assert!(html.contains("href=\"sms:07700900123\""), "{html}");
    assert!(html.contains("aria-label=\"Text Grace Okafor on 07700 900123\""));
    assert!(html.contains("aria-label=\"Call Amina Yusuf on 07700 900123\""));
    assert!(!html.contains("Text Amina Yusuf"), "{html}");
    assert!(html.contains("bring a colleague"));
    assert!(!html.contains("Tomasz Nowak on"), "{html}");

    h.click("id", "overdue-more");
    h.settle_until("the next page", |html| html.contains("Showing 100 of 261."));
    assert_eq!(occurrences(&h.html(), "Kept: promise"), 99);

    h.click("data-value", "mine");
    h.settle_until("mine only", |html| html.contains("Overdue (260)"));
    let html = h.html();
    assert!(html.contains("Due this week (0)"), "{html}");
    assert!(!html.contains("call the landlord"), "{html}");
    h.click("data-value", "everyone");
    h.settle_until("everyone again", |html| html.contains("Overdue (261)"));

    // Sam corrects their name: what they held as "Sam" is still theirs.
    h.store().set_canvasser_name("Sam Okafor").unwrap();
    h.click("data-value", "mine");
    h.settle_until("mine, after a new name", |html| {
        html.contains("Overdue (260)")
    });

    // The phone passes to Ana, who says so in Settings: Mine is hers alone, not Sam's too.
    h.click("id", "tab-Settings");
    h.settle_until("settings", |html| html.contains("id=\"name-someone-else\""));
    h.fill("canvasser-name", "Ana");
    h.choose("name-someone-else", "true");
    h.click("id", "save-name");
    h.settle_until("said", |html| {
        html.contains("This device is Ana&#39;s now") || html.contains("This device is Ana's now")
    });
    h.click("id", "tab-Due");
    h.settle_until("Due afresh", |html| {
        html.contains("data-value=\"everyone\" aria-pressed=\"true\"")
    });
    h.click("data-value", "mine");
    h.settle_until("Ana's", |html| html.contains("Overdue (1)"));
    assert_eq!(h.store().my_canvasser_names().unwrap(), ["Ana"]);
}

#[test]
fn the_conversation_kind_starts_as_the_shifts_usual_kind() {
    let mut id = String::new();
    let mut h = Harness::new(|s| {
        id = person(s, "Amina Yusuf");
        let shift = s.start_shift("Uni staff canteen", None, None).unwrap();
        for kind in [
            groundwork::model::ConversationKind::BreakfastMeeting,
            groundwork::model::ConversationKind::Doorstep,
            groundwork::model::ConversationKind::BreakfastMeeting,
        ] {
            let mut c = doorstep(&id, "at breakfast");
            c.kind = kind;
            c.shift_id = Some(shift.clone());
            s.record_conversation(c, vec![]).unwrap();
        }
    });
    h.open_record_form(&id);
    h.settle_until("form", |html| {
        html.contains("Conversation with Amina Yusuf")
    });
    let pressed = elements(&h.dom)
        .into_iter()
        .filter(|(_, a)| a.get("aria-pressed").map(String::as_str) == Some("true"))
        .filter_map(|(_, a)| a.get("data-value").cloned())
        .collect::<Vec<_>>();
    assert!(
        pressed.contains(&"breakfast-meeting".to_string()),
        "{pressed:?}"
    );
    assert!(!pressed.contains(&"doorstep".to_string()), "{pressed:?}");
}

/// A sync status joined to a relay that names this device `role`.
fn joined(role: &str) -> super::sync::SyncStatus {
    super::sync::SyncStatus {
        joined: Some("https://relay.example.org".into()),
        online: true,
        role: Some(role.into()),
        ..Default::default()
    }
}

#[test]
fn a_leads_device_offers_invites_devices_and_erasure_and_a_canvassers_does_not() {
    use super::sync::{SyncCommand, SyncStatus, TeamPanel};
    use groundwork::sync::team::{ErasureOutcome, InviteShown, TeamAction};
    let mut id = String::new();
    let fake = FakeSync::new(joined("canvasser"));
    let mut h = Harness::with(
        |s| {
            s.set_canvasser_name("Sam").unwrap();
            id = person(s, "Rosa Kowalski");
        },
        with_fake(&fake),
    );
    // A canvasser: no team card, no erasure on a person's file.
    h.click("id", "tab-Settings");
    h.settle_until("settings", |html| html.contains("You are a canvasser"));
    assert!(!h.html().contains("team-invite"), "{}", h.html());
    // Joined before this screen opened: no join form, a team heading instead.
    let html = h.html();
    assert!(
        !html.contains("id=\"invite\"") && !html.contains("id=\"join\""),
        "{html}"
    );
    assert!(
        html.contains("This device&#39;s team") || html.contains("This device's team"),
        "{html}"
    );
    h.click("id", "tab-People");
    h.settle_until("people", |html| html.contains("Rosa Kowalski"));
    h.click("data-id", &id);
    h.settle_until("person", |html| html.contains("Show history"));
    assert!(!h.html().contains("erase-person"));

    // Promoted: the file offers erasure, behind a question.
    fake.send(joined("lead"));
    h.settle_until("erase offered", |html| html.contains("id=\"erase-person\""));
    h.click("id", "erase-person");
    h.settle_until("asked", |html| html.contains("cannot be brought back"));
    h.click("id", "erase-confirm-yes");
    assert_eq!(
        fake.commands.lock().unwrap().last(),
        Some(&SyncCommand::Team(TeamAction::Erase {
            person_id: id.clone()
        }))
    );
    // Done: the app leaves the file and says what happened.
    fake.send(SyncStatus {
        team: TeamPanel {
            erased: Some(ErasureOutcome {
                erased: id.clone(),
                order: Some(1),
                confirmed: Some(1),
                devices: Some(2),
            }),
            ..Default::default()
        },
        ..joined("lead")
    });
    h.settle_until("left the file", |html| {
        html.contains("was erased from this device and the relay") && !html.contains("Show history")
    });

    // An erasure whose answer comes after the lead left the file is still said (it completed
    // without a word), and so is one that failed.
    let other = h.store().add_person(NewPerson::named("Ada Byron")).unwrap();
    // Ada's file opened, her erasure asked for, the panel busy with it.
    let erase_ada = |h: &mut Harness| {
        fake.send(joined("lead"));
        h.click("id", "tab-People");
        h.settle_until("people", |html| html.contains("Ada Byron"));
        h.click("data-id", &other);
        h.settle_until("the file", |html| html.contains("id=\"erase-person\""));
        h.click("id", "erase-person");
        h.settle_until("asked", |html| html.contains("cannot be brought back"));
        h.click("id", "erase-confirm-yes");
        fake.send(SyncStatus {
            team: TeamPanel {
                busy: true,
                ..Default::default()
            },
            ..joined("lead")
        });
    };
    for (fails, said) in [
        (false, "Ada Byron was erased from this device and the relay"),
        (true, "not done: cannot reach the relay"),
    ] {
        erase_ada(&mut h);
        h.click("id", "tab-Due");
        h.settle_until("Due", |html| html.contains("follow-ups-title"));
        fake.send(SyncStatus {
            team: if fails {
                TeamPanel {
                    error: Some("not done: cannot reach the relay (test)".into()),
                    ..Default::default()
                }
            } else {
                TeamPanel {
                    erased: Some(ErasureOutcome {
                        erased: other.clone(),
                        order: Some(2),
                        confirmed: Some(1),
                        devices: Some(2),
                    }),
                    ..Default::default()
                }
            },
            ..joined("lead")
        });
        h.settle_until(said, |html| html.contains(said));
    }
    // One that failed while its file was open is shown there, and not said again once the
    // file is left (the panel keeps its error until the next action).
    let failed = || SyncStatus {
        team: TeamPanel {
            error: Some("not done: cannot reach the relay (again)".into()),
            ..Default::default()
        },
        ..joined("lead")
    };
    erase_ada(&mut h);
    fake.send(failed());
    h.settle_until("shown on the file", |html| html.contains("(again)"));
    h.click("id", "tab-Due");
    h.settle_until("Due", |html| html.contains("follow-ups-title"));
    fake.send(SyncStatus {
        pending: Some(7),
        ..failed()
    });
    h.settle_until("the next status heard", |html| {
        html.contains("7 changes waiting")
    });
    assert!(
        !h.html().contains("Ada Byron: not done"),
        "an old failure said again: {}",
        h.html()
    );

    // Settings: the team card invites, lists devices, revokes after a question.
    h.click("id", "tab-Settings");
    h.settle_until("team card", |html| html.contains("Your team"));
    h.click("id", "team-invite");
    assert_eq!(
        fake.commands.lock().unwrap().last(),
        Some(&SyncCommand::Team(TeamAction::Invite { lead: false }))
    );
    let device = |id: &str, name: &str, role| groundwork::sync::TeamDevice {
        device_id: id.into(),
        name: name.into(),
        last_sync_at: Some(1_700_000_000),
        revoked: false,
        actor: None,
        role,
        enrolled_at: 0,
        stored_bytes: 0,
    };
    fake.send(SyncStatus {
        team: TeamPanel {
            invite: Some(InviteShown {
                id: groundwork_protocol::invite_id("abcd-efgh"),
                code: "abcd-efgh".into(),
                link: "https://relay.example.org/#join=abcd-efgh".into(),
                lead: false,
                expires_at: "2026-12-03T09:00:00.000Z".into(),
            }),
            devices: Some(vec![
                device("d1", "Lead's phone", groundwork_protocol::Role::Lead),
                groundwork::sync::TeamDevice {
                    stored_bytes: 3_200_000,
                    ..device("d2", "Sam's phone", groundwork_protocol::Role::Canvasser)
                },
            ]),
            ..Default::default()
        },
        erasures_waiting: vec![groundwork::store::ErasureRecord {
            doc_id: id.clone(),
            seq: Some(1),
            erased_at: "2026-12-02T09:00:00.000Z".into(),
            confirmed: Some(1),
            devices: Some(3),
        }],
        device_id: Some("d1".into()),
        ..joined("lead")
    });
    h.settle_until("invite shown", |html| {
        html.contains("https://relay.example.org/#join=abcd-efgh")
            && html.contains("Sam&#39;s phone")
    });
    // The lead's own device is marked, and revoking it warns of what that does.
    assert!(
        h.html().contains("Lead&#39;s phone</strong> (this device)"),
        "{}",
        h.html()
    );
    h.click("aria-label", "Revoke Lead's phone");
    h.settle_until("asked, with the warning", |html| {
        html.contains("the device in your hand?")
    });
    h.click("id", "revoke-confirm-no");
    assert!(
        h.html().contains("1 of 3 devices have erased it so far"),
        "{}",
        h.html()
    );
    // Each device's share of the team's storage on the relay (none shown for none).
    assert!(h.html().contains("3.2 MB on the relay"), "{}", h.html());
    assert_eq!(h.html().matches("on the relay").count(), 1, "{}", h.html());
    h.click("aria-label", "Revoke Sam's phone");
    h.settle_until("asked to revoke", |html| {
        html.contains("What is already on it stays there")
    });
    h.click("id", "revoke-confirm-yes");
    h.click("aria-label", "Make Sam's phone a team lead");
    let asked = fake.commands.lock().unwrap().clone();
    assert_eq!(
        asked[asked.len() - 2..],
        [
            SyncCommand::Team(TeamAction::Revoke {
                device_id: "d2".into()
            }),
            SyncCommand::Team(TeamAction::Promote {
                device_id: "d2".into()
            }),
        ]
    );
    // The open invites: asked for, listed with who made them, and one cancelled.
    h.click("id", "team-invites");
    assert_eq!(
        fake.commands.lock().unwrap().last(),
        Some(&SyncCommand::Team(TeamAction::Invites))
    );
    let open = |id: &str, made_by: Option<&str>, uses_left| groundwork_protocol::OpenInvite {
        id: id.into(),
        role: groundwork_protocol::Role::Canvasser,
        uses_left,
        created_at: 1_700_000_000,
        expires_at: 1_700_086_400,
        made_by: made_by.map(Into::into),
        carries_keys: true,
    };
    fake.send(SyncStatus {
        team: TeamPanel {
            invites: Some(vec![
                open("00112233aabbccdd", Some("d2"), 20),
                open("ffeeddcc44332211", None, 1),
            ]),
            devices: Some(vec![device(
                "d2",
                "Sam's phone",
                groundwork_protocol::Role::Lead,
            )]),
            ..Default::default()
        },
        device_id: Some("d1".into()),
        ..joined("lead")
    });
    h.settle_until("invites listed", |html| html.contains("20 uses left"));
    let html = h.html();
    assert!(
        html.contains("by Sam&#39;s phone") || html.contains("by Sam's phone"),
        "{html}"
    );
    assert!(html.contains("1 use left"), "{html}");
    assert!(html.contains("by the relay&#39;s operator"), "{html}");
    assert_eq!(html.matches("Cancel invite").count(), 2, "{html}");
    h.click("data-cancel", "ffeeddcc44332211");
    h.settle_until("asked to cancel", |html| {
        html.contains("Nobody will be able to join with its link")
    });
    assert_eq!(
        fake.commands.lock().unwrap().last(),
        Some(&SyncCommand::Team(TeamAction::Invites)),
        "nothing cancelled before the yes"
    );
    h.click("id", "cancel-invite-confirm-yes");
    assert_eq!(
        fake.commands.lock().unwrap().last(),
        Some(&SyncCommand::Team(TeamAction::CancelInvite {
            id: "ffeeddcc44332211".into()
        }))
    );
    fake.send(SyncStatus {
        team: TeamPanel {
            invites: Some(Vec::new()),
            cancelled: Some(groundwork_protocol::InviteCancelled {
                id: "ffeeddcc44332211".into(),
                cancelled: true,
                joining: 1,
            }),
            ..Default::default()
        },
        ..joined("lead")
    });
    h.settle_until("none open", |html| html.contains("team-invites-none"));
    let html = h.html();
    assert!(html.contains("The invite is cancelled"), "{html}");
    assert!(
        html.contains("A device joined with it just before") && html.contains("revoke it"),
        "{html}"
    );
    // What the revocation did is said: the key, and the erasures its lead's key had signed,
    // with a warning when they could not all be signed again.
    let revocation = |signed, not_signed| groundwork::sync::team::RevocationShown {
        name: "Sam's phone".into(),
        key_changed: true,
        erasures_signed_again: signed,
        erasures_not_signed: not_signed,
    };
    for (not_signed, said) in [
        (
            None,
            "2 erasures it ordered as a lead are signed again by you",
        ),
        (
            Some("cannot reach the relay (test)".to_string()),
            "are not yet all signed again (cannot reach the relay (test))",
        ),
    ] {
        let warned = not_signed.is_some();
        fake.send(SyncStatus {
            team: TeamPanel {
                revoked: Some(revocation(if warned { 0 } else { 2 }, not_signed)),
                ..Default::default()
            },
            revocations_unfinished: u64::from(warned),
            ..joined("lead")
        });
        h.settle_until(said, |html| html.contains(said));
        let html = h.html();
        assert!(
            html.contains("Sam&#39;s phone is revoked") || html.contains("Sam's phone is revoked"),
            "{html}"
        );
        assert!(
            html.contains("The team's key was changed")
                || html.contains("The team&#39;s key was changed"),
            "{html}"
        );
        assert_eq!(
            html.contains("id=\"team-revocations-unfinished\""),
            warned,
            "{html}"
        );
    }
    // Once the engine has finished it, the warning goes though the summary stays.
    fake.send(SyncStatus {
        team: TeamPanel {
            revoked: Some(revocation(0, Some("cannot reach the relay (test)".into()))),
            ..Default::default()
        },
        revocations_unfinished: 0,
        ..joined("lead")
    });
    h.settle_until("the warning gone", |html| {
        !html.contains("team-revocations-unfinished")
    });
    // One left unfinished from before (the app restarted) is said without a summary.
    fake.send(SyncStatus {
        revocations_unfinished: 1,
        ..joined("lead")
    });
    h.settle_until("an unfinished revocation", |html| {
        html.contains("A revocation is not finished")
    });
    // Two devices of one name (capitals and spaces aside) are told apart by their ids' start
    // and when they joined; a list with none such says nothing of it.
    assert!(!h.html().contains("team-devices-same-name"), "{}", h.html());
    fake.send(SyncStatus {
        team: TeamPanel {
            devices: Some(vec![
                device("d1", "Lead's phone", groundwork_protocol::Role::Lead),
                groundwork::sync::TeamDevice {
                    enrolled_at: 1_700_000_000,
                    ..device(
                        "5f0c9a7e-1111",
                        "Sam's phone",
                        groundwork_protocol::Role::Canvasser,
                    )
                },
                groundwork::sync::TeamDevice {
                    enrolled_at: 1_700_086_400,
                    ..device(
                        "9b2d4e61-2222",
                        "sam\u{200D}'s  Phone",
                        groundwork_protocol::Role::Canvasser,
                    )
                },
            ]),
            ..Default::default()
        },
        ..joined("lead")
    });
    h.settle_until("same names marked", |html| {
        html.contains("team-devices-same-name")
    });
    let html = h.html();
    assert!(html.contains("(id 5f0c9a7e)"), "{html}");
    assert!(html.contains("(id 9b2d4e61)"), "{html}");
    assert!(!html.contains("(id d1)"), "{html}");
    assert_eq!(html.matches(" · joined ").count(), 2, "{html}");
    // A refusal is shown in the relay's words.
    fake.send(SyncStatus {
        team: TeamPanel {
            error: Some("a team needs a lead: promote another device first".into()),
            ..Default::default()
        },
        ..joined("lead")
    });
    h.settle_until("refusal", |html| html.contains("a team needs a lead"));
}

/// The report of a shift still open does not say every device has synced since it ended: it
/// lists each device's last sync; a canvasser's device, never told the team's devices, says
/// where they are shown.
#[test]
fn an_open_shifts_report_lists_last_syncs_and_a_canvasser_is_told_where_devices_show() {
    let devices = vec![groundwork::report::DeviceSync {
        name: "Priya's phone".into(),
        last_sync: Some("2026-12-06T06:00:00.000Z".into()),
    }];
    let fake = FakeSync::new(super::sync::SyncStatus {
        team_devices: Some(devices),
        ..joined("lead")
    });
    let mut h = Harness::with(
        |s| {
            s.set_canvasser_name("Lena").unwrap();
            s.start_shift("Elm Road", None, None).unwrap();
        },
        with_fake(&fake),
    );
    h.click("id", "tab-Shift");
    h.settle_until("the open shift's report", |html| {
        html.contains("Still open: each device&#39;s last sync")
            && html.contains("Priya&#39;s phone")
    });
    assert!(
        !h.html().contains("Every device has synced"),
        "{}",
        h.html()
    );

    let fake = FakeSync::new(joined("canvasser"));
    let mut h = Harness::with(
        |s| {
            s.set_canvasser_name("Sam").unwrap();
            s.start_shift("Elm Road", None, None).unwrap();
        },
        with_fake(&fake),
    );
    h.click("id", "tab-Shift");
    h.settle_until("told where devices show", |html| {
        html.contains("shown on a team lead&#39;s device")
    });
}

/// A canvasser's app (its sync faked) showing the file of Mrs Patel: the sync, the harness and
/// her id.
fn mrs_patels_file_open() -> (std::sync::Arc<FakeSync>, Harness, String) {
    let fake = FakeSync::new(joined("canvasser"));
    let mut id = String::new();
    let mut h = Harness::with(
        |s| {
            s.set_canvasser_name("Priya").unwrap();
            id = person(s, "Mrs Patel");
        },
        with_fake(&fake),
    );
    h.click("data-id", &id);
    h.settle_until("the file", |html| html.contains("person-title"));
    (fake, h, id)
}

/// A person erased by a lead while their file is open on this device (the erasure synced in):
/// the screen says in words what happened and leads back to People, not an id and an error.
#[test]
fn a_file_erased_while_open_says_so_in_words() {
    let (fake, mut h, id) = mrs_patels_file_open();
    // Sync carries the lead's erasure out through a connection of its own, and says so.
    h.store().erase_document(&id, Some(1)).unwrap();
    fake.send(super::sync::SyncStatus {
        pulled: 1,
        ..joined("canvasser")
    });
    h.settle_until("told in words", |html| {
        html.contains("This was erased (in a team, by a team lead)")
            && html.contains("id=\"erased-back\"")
    });
    assert!(!h.html().contains(&id), "no bare id: {}", h.html());
    h.click("id", "erased-back");
    h.settle_until("people", |html| html.contains("people-title"));
}

/// A canvasser's app on the conversation form of Mrs Patel, "Damp in the back bedroom" typed
/// and not saved: the sync (faked), the harness and her id.
fn typing_a_conversation_with_mrs_patel() -> (std::sync::Arc<FakeSync>, Harness, String) {
    let (fake, mut h, id) = mrs_patels_file_open();
    h.settle_until("the file's actions", |html| {
        html.contains("id=\"record-conversation\"")
    });
    h.click("id", "record-conversation");
    h.settle_until("form", |html| html.contains("id=\"story\""));
    h.type_in("story", "Damp in the back bedroom");
    (fake, h, id)
}

/// A conversation being recorded with a person a lead erases (the erasure synced in): the form
/// gives way to the screen that says so in words and leads back to People; neither the
/// person's name nor the text typed stays on screen.
#[test]
fn a_conversation_form_open_on_a_person_erased_by_a_sync_says_so_in_words() {
    let (fake, mut h, id) = typing_a_conversation_with_mrs_patel();
    h.store().erase_document(&id, Some(1)).unwrap();
    fake.send(super::sync::SyncStatus {
        pulled: 1,
        ..joined("canvasser")
    });
    h.settle_until("told in words", |html| {
        html.contains("This was erased (in a team, by a team lead)")
            && html.contains("id=\"erased-back\"")
    });
    let html = h.html();
    assert!(
        !html.contains("Conversation with") && !html.contains("Mrs Patel"),
        "{html}"
    );
    assert!(!html.contains("Damp in the back bedroom"), "{html}");
    h.click("id", "erased-back");
    h.settle_until("people", |html| html.contains("people-title"));
}

/// The same form saved after the person was erased, before any word of it reached the screen:
/// the save's refusal leads to the screen that says it was erased, not an error over a form
/// that can never be saved.
#[test]
fn a_conversation_saved_after_its_person_was_erased_says_so_in_words() {
    let (_fake, mut h, id) = typing_a_conversation_with_mrs_patel();
    h.store().erase_document(&id, Some(1)).unwrap();
    h.click("id", "save-conversation");
    h.settle_until("told in words", |html| {
        html.contains("This was erased (in a team, by a team lead)")
            && !html.contains("Conversation with")
    });
    assert!(
        !h.html().contains("Damp in the back bedroom"),
        "{}",
        h.html()
    );
}

/// A lead's app (named Sam) on its Settings screen, its sync status the fake's.
fn lead_on_settings() -> (std::sync::Arc<FakeSync>, Harness) {
    let fake = FakeSync::new(joined("lead"));
    let mut h = Harness::with(
        |s| {
            s.set_canvasser_name("Sam").unwrap();
        },
        with_fake(&fake),
    );
    h.click("id", "tab-Settings");
    (fake, h)
}

#[test]
fn settings_say_when_the_relay_alone_made_this_device_a_lead_or_gave_erasures_no_lead_signed() {
    use super::sync::SyncStatus;
    let (fake, mut h) = lead_on_settings();
    fake.send(SyncStatus {
        unsigned_lead: true,
        erasures_refused: 2,
        ..joined("lead")
    });
    h.settle_until("the notices", |html| {
        html.contains("no team lead has promoted it from their own device")
            && html.contains("erase 2 records that no team lead signed")
    });
    fake.send(joined("lead"));
    h.settle_until("no notices", |html| {
        !html.contains("no team lead has promoted it") && !html.contains("no team lead signed")
    });
}

#[test]
fn settings_tell_a_lead_when_invites_have_room_for_few_more_erasures() {
    use super::sync::SyncStatus;
    let (fake, mut h) = lead_on_settings();
    let sealed = |role: &str, room: u64| SyncStatus {
        sealed: true,
        document_keys: true,
        invite_room: Some(room),
        ..joined(role)
    };
    fake.send(sealed("lead", 40));
    h.settle_until("the notice", |html| {
        html.contains("they have room for about 40 more")
    });
    fake.send(sealed("lead", 400));
    h.settle_until("plenty of room", |html| {
        html.contains("has its own key as well") && !html.contains("room for about")
    });
    fake.send(sealed("canvasser", 40));
    h.settle_until("a canvasser is not told", |html| {
        html.contains("has its own key as well") && !html.contains("room for about")
    });
}

#[test]
fn settings_say_when_the_notebook_joined_again_and_what_it_sends_again() {
    use super::sync::SyncStatus;
    let (fake, mut h) = lead_on_settings();
    fake.send(SyncStatus {
        rejoined: Some(2),
        ..joined("canvasser")
    });
    h.settle_until("the notice", |html| {
        html.contains("joined its team again") && html.contains("What 2 of its files held")
    });
    fake.send(joined("canvasser"));
    h.settle_until("no notice before a rejoin", |html| {
        html.contains("You are a canvasser") && !html.contains("joined its team again")
    });
}

/// The app on a shift on the walk list "Elm Road" (1, 2 and 3 Elm Road), its Walk screen
/// opening; the list's id.
fn on_a_walk() -> (Harness, String) {
    let mut list = String::new();
    let mut h = Harness::new(|s| {
        let csv = "House No,Street,Name\n2,Elm Road,Ann\n1,Elm Road,Bo\n3,Elm Road,Cy\n";
        let read = groundwork::walk::import::read(csv.as_bytes(), &[]).unwrap();
        list = s.import_walklist("Elm Road", None, &read).unwrap().id;
        s.start_shift_on("", None, None, Some(&list)).unwrap();
    });
    h.click("id", "tab-Shift");
    h.settle_until("the shift", |html| html.contains("Walk list: next door"));
    h.click("id", "open-walk");
    (h, list)
}

#[test]
fn a_walk_marks_the_next_door_with_one_tap_and_moves_on() {
    let (mut h, list) = on_a_walk();
    // Odd side first: 1, 3, then 2.
    h.settle_until("the walk", |html| html.contains(">1 Elm Road</h3>"));
    assert!(h.html().contains("0 of 3"), "{}", h.html());
    h.click("id", "outcome-not-home");
    h.settle_until("the next door", |html| html.contains(">3 Elm Road</h3>"));
    assert!(h.html().contains("1 of 3"), "{}", h.html());
    let view = h.store().walklist(&list).unwrap();
    assert_eq!(
        view.doors[0].status,
        Some(groundwork::model::Outcome::NotHome)
    );
    assert_eq!(view.doors[0].visits, 1);
    assert_eq!(view.progress.knocked, 1);
}

/// A double tap (the second before the buttons are drawn disabled) marks one door, not the
/// next one too, and a single mark says which door it was; two taps on "Record the
/// conversation" add one person; two on "Create campaign" make one campaign.
#[test]
fn double_taps_mark_one_door_add_one_person_and_make_one_campaign() {
    let (mut h, list) = on_a_walk();
    h.settle_until("the walk", |html| html.contains(">1 Elm Road</h3>"));
    h.click("id", "outcome-not-home");
    h.click("id", "outcome-not-home");
    h.settle_until("the next door, and which was marked", |html| {
        html.contains(">3 Elm Road</h3>") && html.contains("1 Elm Road: not home.")
    });
    let view = h.store().walklist(&list).unwrap();
    assert_eq!(view.progress.knocked, 1, "one door marked");
    assert_eq!(view.doors[0].visits, 1, "and once");
    // A slower double tap: its second tap lands after the next door took the first's place,
    // on buttons nobody meant for that door.
    h.click("id", "outcome-not-home");
    for _ in 0..8 {
        std::thread::sleep(Duration::from_millis(25));
        h.settle_until("the same door", |html| html.contains(">3 Elm Road</h3>"));
    }
    assert_eq!(
        h.store().walklist(&list).unwrap().progress.knocked,
        1,
        "the next door is not marked by the tap after"
    );
    // Once the walk has settled, the next door's buttons take taps again.
    std::thread::sleep(Duration::from_millis(700));

    h.click("id", "outcome-answered");
    h.settle_until("who answered", |html| {
        html.contains("Who answered at 3 Elm Road?")
    });
    h.type_in("answered-name", "Dee Okafor");
    h.click("id", "answered-record");
    h.click("id", "answered-record");
    h.settle_until("the record form", |html| {
        html.contains("Conversation with Dee Okafor")
    });
    let named = |h: &Harness, name: &str| {
        h.store()
            .all_people()
            .unwrap()
            .into_iter()
            .filter(|p| p.name == name)
            .count()
    };
    assert_eq!(named(&h, "Dee Okafor"), 1, "one person added");

    h.click("id", "tab-Campaigns");
    h.settle_until("campaigns", |html| html.contains("New campaign"));
    h.type_in("campaign-name", "Fix the heating");
    h.click("id", "create-campaign");
    h.click("id", "create-campaign");
    h.settle_until("created", |html| html.contains("Campaign created."));
    assert_eq!(h.store().campaigns().unwrap().len(), 1, "one campaign made");
}

/// The Shift screen exports people as a CSV file in the exports folder, a new file each time,
/// leaving out people who asked not to be contacted.
#[test]
fn the_shift_screen_saves_csv_exports_as_new_files() {
    let out = tempfile::tempdir().unwrap();
    let folder = out.path().to_path_buf();
    let mut h = Harness::with(
        |s| {
            s.set_canvasser_name("Sam").unwrap();
            person(s, "Amina Yusuf");
            s.add_person(
                NewPerson::named("Quiet One")
                    .put(groundwork::model::PersonField::DoNotContact, true),
            )
            .unwrap();
        },
        move |store| Services {
            host: super::Host {
                exports: Some(folder),
                ..Default::default()
            },
            ..Services::offline(store)
        },
    );
    h.click("id", "tab-Shift");
    h.settle_until("the export card", |html| html.contains("Export (CSV)"));
    h.click("id", "export-people");
    h.settle_until("saved", |html| html.contains("Saved "));
    let day = chrono::Local::now().date_naive();
    let first = out.path().join(format!("people-{day}.csv"));
    let text = std::fs::read_to_string(&first).unwrap();
    assert!(text.starts_with("\u{feff}id,name,"), "{text}");
    assert!(text.contains("Amina Yusuf"), "{text}");
    assert!(!text.contains("Quiet One"), "{text}");
    h.click("id", "export-people");
    h.settle_until("saved again", |html| {
        html.contains(&format!("people-{day}-2.csv"))
    });
    assert_eq!(
        std::fs::read_to_string(&first).unwrap(),
        text,
        "not replaced"
    );
}

/// A conversation recorded from a walk's "Answered" goes back, once saved, to the walk's next
/// door (not the person's file); one recorded from the People screen goes to the file.
#[test]
fn a_conversation_recorded_from_a_walk_returns_to_the_next_door() {
    let (mut h, _) = on_a_walk();
    h.settle_until("the walk", |html| html.contains(">1 Elm Road</h3>"));
    h.click("id", "outcome-answered");
    h.settle_until("who answered", |html| {
        html.contains("Who answered at 1 Elm Road?")
    });
    // The second tap of a double tap on "Answered" lands on a resident's button: not taken.
    h.click("data-resident", "Bo");
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(25));
        h.settle_until("still asking", |html| {
            html.contains("Who answered at 1 Elm Road?")
        });
    }
    h.type_in("answered-name", "Bo Diallo");
    h.click("id", "answered-record");
    h.settle_until("the record form", |html| {
        html.contains("Conversation with Bo Diallo")
    });
    h.type_in("story", "Rent went up again.");
    // Away and back (as a reload does, the app forgets where the form was opened from): the
    // draft remembers the walk.
    let key = super::views::drafts::conversation_key(
        &h.store()
            .all_people()
            .unwrap()
            .into_iter()
            .find(|p| p.name == "Bo Diallo")
            .unwrap()
            .id,
    );
    wait_for_draft(&h, &key, |d| d.contains("Rent went up"));
    h.click("id", "tab-Due");
    h.settle_until("due", |html| html.contains("Follow-ups due"));
    h.click("id", "tab-People");
    h.settle_until("people", |html| html.contains("Bo Diallo"));
    h.click(
        "data-id",
        &key[super::views::drafts::CONVERSATION_PREFIX.len()..],
    );
    h.settle_until("the file", |html| html.contains("continue-conversation"));
    h.click("id", "continue-conversation");
    h.settle_until("the form again", |html| {
        html.contains("Rent went up again.")
    });
    h.click("id", "save-conversation");
    h.settle_until("the next door", |html| {
        html.contains("On to the next door.") && html.contains(">3 Elm Road</h3>")
    });
    let bo = h
        .store()
        .all_people()
        .unwrap()
        .into_iter()
        .find(|p| p.name == "Bo Diallo")
        .unwrap();
    assert_eq!(h.store().person(&bo.id).unwrap().conversations.len(), 1);
    // From the People screen, the same person's next conversation goes to the file.
    h.click("id", "tab-People");
    h.settle_until("people", |html| html.contains("Bo Diallo"));
    h.open_record_form(&bo.id);
    h.settle_until("form", |html| html.contains("Conversation with Bo Diallo"));
    h.type_in("story", "Came to the meeting.");
    h.click("id", "save-conversation");
    h.settle_until("the file", |html| {
        html.contains("Conversation saved.") && html.contains("Came to the meeting.")
    });
}

#[test]
fn a_locked_notebook_asks_for_its_passphrase_then_opens_the_app() {
    let mut h = Harness::locked("a passphrase for the test", "Ana Lee");
    let html = h.html();
    assert!(html.contains("This notebook is encrypted"), "{html}");
    assert!(html.contains(r#"type="password""#), "{html}");
    assert!(
        !html.contains("Ana Lee"),
        "nothing of the notebook before it is open"
    );
    // Never written down (README): no password manager is asked to keep it.
    assert!(
        html.contains(r#"autocomplete="off""#)
            && html.contains("data-1p-ignore")
            && !html.contains("current-password"),
        "{html}"
    );
    // A wrong passphrase: said so, and the form stays.
    h.type_in("passphrase", "not the passphrase");
    h.click("id", "unlock");
    h.settle_until("the refusal", |html| html.contains("unlock-error"));
    assert!(h.html().contains("does not open"), "{}", h.html());
    assert!(!h.html().contains("Ana Lee"));
    // The right one, with Enter: the app opens on the notebook.
    h.fill("passphrase", "a passphrase for the test");
    h.press_enter("passphrase");
    h.settle_until("the people list", |html| html.contains("Ana Lee"));
    assert!(
        !h.html()
            .contains("This notebook is encrypted on this device")
    );
    // Settings says so.
    h.click("id", "tab-Settings");
    h.settle_until("the encryption card", |html| {
        html.contains("This notebook is encrypted on this computer")
    });
    groundwork::store::at_rest::remember(None);
}

/// The notebook's passphrase is never written down (README, "Encryption at rest"): a password
/// field (the phone's Settings use them for the passphrase only) has autocomplete off and the
/// marks password managers read as "not a login"; other fields keep their hint and no marks.
#[test]
fn a_password_field_asks_password_managers_to_leave_it_alone() {
    #[component]
    fn Fields() -> Element {
        rsx! {
            super::components::TextField { id: "secret", label: "Passphrase", kind: "password",
                oninput: |_| {} }
            super::components::TextField { id: "who", label: "Your name", autocomplete: "name",
                oninput: |_| {} }
        }
    }
    let mut dom = VirtualDom::new(Fields);
    dom.rebuild_in_place();
    let html = dioxus_ssr::render(&dom);
    let input = |id: &str| {
        let at = html.find(&format!(r#"id="{id}""#)).expect("the field");
        let start = html[..at].rfind('<').unwrap_or(0);
        let end = at + html[at..].find('>').unwrap_or(0);
        html[start..end].to_string()
    };
    let secret = input("secret");
    for mark in [
        r#"autocomplete="off""#,
        r#"data-1p-ignore="true""#,
        r#"data-lpignore="true""#,
        r#"data-bwignore="true""#,
        r#"data-form-type="other""#,
    ] {
        assert!(secret.contains(mark), "{mark} missing: {secret}");
    }
    let who = input("who");
    assert!(
        who.contains(r#"autocomplete="name""#) && !who.contains("data-1p-ignore"),
        "{who}"
    );
}

#[test]
fn settings_says_a_plain_notebook_is_not_encrypted_and_how_to_encrypt_it() {
    let mut h = Harness::new(|s| {
        person(s, "Ana Lee");
    });
    h.click("id", "tab-Settings");
    h.settle_until("the encryption card", |html| html.contains("at-rest-note"));
    let html = h.html();
    assert!(
        html.contains("not encrypted on this computer")
            && html.contains("groundwork notebook encrypt"),
        "{html}"
    );
}

/// Closing the window ends the process: a draft typed less than [`DRAFT_QUIET`] before is
/// written by the close hook's flush, not lost with the store thread.
#[test]
fn drafts_still_waiting_are_written_when_the_window_closes() {
    let dir = tempfile::tempdir().unwrap();
    let handle = StoreHandle::start(dir.path()).unwrap();
    crate::ui::worker::flush_on_exit(&handle);
    handle.save_draft("person-new", "Amina, nights at Tesco".into());
    // Read straight after the flush: well before typing's pause would have written it.
    crate::ui::worker::flush_drafts_before_exit(Duration::from_secs(5));
    let other = Store::open(dir.path()).unwrap();
    assert_eq!(
        other.draft("person-new").unwrap().as_deref(),
        Some("Amina, nights at Tesco")
    );
}

/// What a lead's erasure gave, as the engine tells it: the document `id` erased.
fn erased_status(id: &str) -> super::sync::SyncStatus {
    super::sync::SyncStatus {
        team: super::sync::TeamPanel {
            erased: Some(groundwork::sync::team::ErasureOutcome {
                erased: id.into(),
                order: Some(1),
                confirmed: Some(1),
                devices: Some(2),
            }),
            ..Default::default()
        },
        ..joined("lead")
    }
}

/// A canvasser's app (Sam, joined) on the Campaigns tab with the campaign "Living wage" open
/// in its Edit form; the fake engine, the app and the campaign's id.
fn editing_a_campaign() -> (std::sync::Arc<FakeSync>, Harness, String) {
    let fake = FakeSync::new(joined("canvasser"));
    let mut campaign = String::new();
    let mut h = Harness::with(
        |s| {
            s.set_canvasser_name("Sam").unwrap();
            campaign = s
                .add_campaign(groundwork::model::NewCampaign {
                    name: "Living wage".into(),
                    issue: None,
                    targets: Default::default(),
                })
                .unwrap();
        },
        with_fake(&fake),
    );
    h.click("id", "tab-Campaigns");
    h.settle_until("campaign", |html| {
        html.contains("Edit campaign Living wage")
    });
    h.click("aria-label", "Edit campaign Living wage");
    h.settle_until("form", |html| html.contains("Edit Living wage"));
    (fake, h, campaign)
}

/// A lead deletes a campaign from its Edit form, behind a question; a canvasser's form does not
/// offer it. Once the engine has carried it out, the form closes and the list no longer shows
/// it (the erasure went through a connection of its own, so the list is read again).
#[test]
fn a_lead_deletes_a_campaign_from_its_edit_form_and_a_canvasser_is_not_offered_it() {
    use super::sync::SyncCommand;
    use groundwork::sync::team::TeamAction;
    let (fake, mut h, campaign) = editing_a_campaign();
    assert!(!h.html().contains("delete-campaign"), "{}", h.html());

    fake.send(joined("lead"));
    h.settle_until("offered", |html| html.contains("id=\"delete-campaign\""));
    h.click("id", "delete-campaign");
    h.settle_until("asked", |html| {
        html.contains("Delete the campaign Living wage from every device of the team?")
    });
    h.click("id", "delete-confirm-yes");
    assert_eq!(
        fake.commands.lock().unwrap().last(),
        Some(&SyncCommand::Team(TeamAction::DeleteCampaign {
            campaign_id: campaign.clone()
        }))
    );
    h.store().erase_document(&campaign, Some(1)).unwrap();
    fake.send(erased_status(&campaign));
    h.settle_until("closed, gone, said", |html| {
        html.contains("Living wage was deleted from this device and the relay")
            && !html.contains("Edit Living wage")
            && !html.contains("Edit campaign Living wage")
            && html.contains("No campaigns yet.")
    });
    assert!(!h.html().contains("deleted by a team lead"), "{}", h.html());
}

/// A campaign deleted on another device while its Edit form is open here: the form closes and
/// says why, rather than vanishing with what was typed.
#[test]
fn a_campaign_deleted_elsewhere_while_edited_here_says_so() {
    let (fake, mut h, campaign) = editing_a_campaign();
    h.fill("edit-campaign-name", "Living wage now");
    h.store().erase_document(&campaign, Some(1)).unwrap();
    fake.send(super::sync::SyncStatus {
        pulled: 1,
        ..joined("canvasser")
    });
    h.settle_until("said", |html| {
        html.contains(
            "The campaign Living wage was deleted by a team lead while you edited it: your changes to it were not saved",
        )
            && !html.contains("Edit Living wage")
    });
}

/// An app (Sam) on a shift on the walk list "Elm Road" (1 and 2 Elm Road), its Walk screen
/// open; its engine `fake`'s. The list's id.
fn walking(fake: &std::sync::Arc<FakeSync>) -> (Harness, String) {
    let mut list = String::new();
    let mut h = Harness::with(
        |s| {
            s.set_canvasser_name("Sam").unwrap();
            let csv = "House No,Street,Name\n2,Elm Road,Ann\n1,Elm Road,Bo\n";
            let read = groundwork::walk::import::read(csv.as_bytes(), &[]).unwrap();
            list = s.import_walklist("Elm Road", None, &read).unwrap().id;
            s.start_shift_on("", None, None, Some(&list)).unwrap();
        },
        with_fake(fake),
    );
    h.click("id", "tab-Shift");
    h.settle_until("the shift", |html| html.contains("Walk list: next door"));
    h.click("id", "open-walk");
    h.settle_until("the walk", |html| html.contains(">1 Elm Road</h3>"));
    (h, list)
}

/// A walk list a lead deleted while a canvasser walks it: the Walk screen says it was erased,
/// in words, and leads back to Shift (it showed "no walklist with id …").
#[test]
fn a_walk_list_deleted_while_walked_says_so_and_leads_back_to_shift() {
    let fake = FakeSync::new(joined("canvasser"));
    let (mut h, list) = walking(&fake);
    h.store().erase_document(&list, Some(1)).unwrap();
    fake.send(super::sync::SyncStatus {
        pulled: 1,
        ..joined("canvasser")
    });
    h.settle_until("said in words", |html| {
        html.contains("This was erased") && html.contains("Back to Shift")
    });
    assert!(!h.html().contains("no walklist"), "{}", h.html());
    h.click("id", "erased-back");
    h.settle_until("Shift", |html| html.contains("id=\"end-shift\""));
}

/// A lead deletes a walk list from its Walk screen, behind a question, and is taken to Shift; a
/// canvasser's Walk screen does not offer it.
#[test]
fn a_lead_deletes_a_walk_list_from_its_walk_and_a_canvasser_is_not_offered_it() {
    use super::sync::SyncCommand;
    use groundwork::sync::team::TeamAction;
    let fake = FakeSync::new(joined("canvasser"));
    let (mut h, list) = walking(&fake);
    assert!(!h.html().contains("delete-walklist"), "{}", h.html());

    fake.send(joined("lead"));
    h.settle_until("offered", |html| html.contains("id=\"delete-walklist\""));
    h.click("id", "delete-walklist");
    h.settle_until("asked", |html| {
        html.contains("Delete the walk list Elm Road, its doors and their marks")
    });
    h.click("id", "delete-confirm-yes");
    assert_eq!(
        fake.commands.lock().unwrap().last(),
        Some(&SyncCommand::Team(TeamAction::DeleteWalkList {
            walklist_id: list.clone()
        }))
    );
    h.store().erase_document(&list, Some(1)).unwrap();
    fake.send(erased_status(&list));
    h.settle_until("on Shift, said", |html| {
        html.contains("Elm Road was deleted from this device and the relay")
            && !html.contains("walk-title")
    });
    // The shift goes on, with no walk to open any more.
    h.settle_until("no walk to open", |html| {
        html.contains("id=\"end-shift\"") && !html.contains("id=\"open-walk\"")
    });
}

/// A notebook that has joined no team (an organiser working alone, before any team) erases a
/// person on request too, from this notebook: the file says so in those words, and the app
/// leaves the file once it is done.
#[test]
fn a_notebook_of_no_team_erases_a_person_from_itself() {
    use super::sync::{SyncCommand, SyncStatus, TeamPanel};
    use groundwork::sync::team::{ErasureOutcome, TeamAction};
    let fake = FakeSync::new(SyncStatus::default());
    let mut id = String::new();
    let mut h = Harness::with(
        |s| {
            s.set_canvasser_name("Sam").unwrap();
            id = person(s, "Rosa Kowalski");
        },
        with_fake(&fake),
    );
    h.click("data-id", &id);
    h.settle_until("offered", |html| html.contains("id=\"erase-person\""));
    assert!(
        h.html().contains("their file goes from this notebook"),
        "{}",
        h.html()
    );
    h.click("id", "erase-person");
    h.settle_until("asked", |html| {
        html.contains("Erase Rosa Kowalski from this notebook?")
    });
    h.click("id", "erase-confirm-yes");
    assert_eq!(
        fake.commands.lock().unwrap().last(),
        Some(&SyncCommand::Team(TeamAction::Erase {
            person_id: id.clone()
        }))
    );
    h.store().erase_document(&id, None).unwrap();
    fake.send(SyncStatus {
        team: TeamPanel {
            erased: Some(ErasureOutcome {
                erased: id.clone(),
                order: None,
                confirmed: None,
                devices: None,
            }),
            ..Default::default()
        },
        ..Default::default()
    });
    h.settle_until("left, said", |html| {
        html.contains("Rosa Kowalski was erased from this notebook.")
            && html.contains("people-title")
            && !html.contains("Rosa Kowalski</")
    });
}

/// Settings: the canvasser's name is saved with Enter in its field, as with the button.
#[test]
fn the_canvassers_name_is_saved_with_enter_in_settings() {
    let mut h = Harness::new(|_| {});
    h.click("id", "tab-Settings");
    h.settle_until("settings", |html| html.contains("id=\"canvasser-name\""));
    h.fill("canvasser-name", "Sam Okafor");
    h.press_enter("canvasser-name");
    h.settle_until("saved", |html| html.contains("Name saved."));
    assert_eq!(
        h.store().given_canvasser_name().unwrap().as_deref(),
        Some("Sam Okafor")
    );
}
