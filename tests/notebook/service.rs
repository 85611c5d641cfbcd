//! The app's message type without the app: every [`Request`] survives a trip through JSON (as
//! it would through `postMessage`), is answered by [`handle`] from a real store, and its
//! [`Reply`] survives the same trip back.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use groundwork::model::{
    CampaignPatch, CommitmentField, CommitmentPatch, CommitmentStatus, ConversationField,
    ConversationKind, ConversationPatch, NewCampaign, NewCommitment, NewConversation, NewPerson,
    PersonField, PersonFile, PersonPatch,
};
use groundwork::service::{Change, FileChange, Reply, Request, handle};
use groundwork::store::{PeopleFilter, RestoreTarget, Store};

/// How many variants [`Request`] has; [`variant`] numbers them.
const VARIANTS: usize = 46;

/// Each variant's number. No wildcard: a new variant fails to compile here until this test
/// sends it too.
fn variant(r: &Request) -> usize {
    match r {
        Request::Overview => 0,
        Request::People { .. } => 1,
        Request::PeoplePage { .. } => 2,
        Request::PeopleChoices => 3,
        Request::Due { .. } => 4,
        Request::UsualKind => 5,
        Request::Person(_) => 6,
        Request::AddPerson(_) => 7,
        Request::EditPerson(..) => 8,
        Request::EditConversation { .. } => 9,
        Request::EditCommitment { .. } => 10,
        Request::RecordConversation { .. } => 11,
        Request::SetCommitment { .. } => 12,
        Request::Campaigns => 13,
        Request::ShiftReport(_) => 14,
        Request::RangeReport { .. } => 15,
        Request::Shifts => 16,
        Request::FollowUps { .. } => 17,
        Request::AddCampaign(_) => 18,
        Request::EditCampaign(..) => 19,
        Request::StartShift { .. } => 20,
        Request::EndShift => 21,
        Request::SetName(_) => 22,
        Request::SkipName => 23,
        Request::Draft(_) => 24,
        Request::SaveDraft { .. } => 25,
        Request::DeleteDraft(_) => 26,
        Request::DraftKeys(_) => 27,
        Request::Integrity => 28,
        Request::History(_) => 29,
        Request::Restore { .. } => 30,
        Request::CampaignList => 31,
        Request::WalkLists => 32,
        Request::WalkList(_) => 33,
        Request::MarkDoors { .. } => 34,
        Request::KeepLoaded(_) => 35,
        Request::AddPersonFromDraft(..) => 36,
        Request::EditPersonFromDraft(..) => 37,
        Request::ExportCsv(_) => 38,
        Request::ConflictWriters(_) => 39,
        Request::AddPersonOnce { .. } => 40,
        Request::HandOver(_) => 41,
        Request::EncryptAtRest(_) => 42,
        Request::ChangePassphrase { .. } => 43,
        Request::RawKey(_) => 44,
        Request::DecryptAtRest(_) => 45,
    }
}

/// Sends `request` the way a web app would: as JSON to the store, and the reply back as JSON.
struct Wire {
    store: Store,
    sent: [bool; VARIANTS],
}

impl Wire {
    fn send(&mut self, request: Request) -> Reply {
        self.sent[variant(&request)] = true;
        let json = serde_json::to_string(&request).expect("a request serialises");
        let back: Request = serde_json::from_str(&json).expect("a request deserialises");
        assert_eq!(back, request, "{json}");
        let reply = handle(&mut self.store, back).unwrap_or_else(|e| panic!("{json}: {e}"));
        let json = serde_json::to_string(&reply).expect("a reply serialises");
        let back: Reply = serde_json::from_str(&json).expect("a reply deserialises");
        assert_eq!(back, reply, "{json}");
        back
    }

    /// Sends `request` as [`Wire::send`] does, for the error it is answered with.
    fn refused(&mut self, request: Request) -> groundwork::error::Error {
        self.sent[variant(&request)] = true;
        let json = serde_json::to_string(&request).expect("a request serialises");
        let back: Request = serde_json::from_str(&json).expect("a request deserialises");
        assert_eq!(back, request, "{json}");
        match handle(&mut self.store, back) {
            Ok(reply) => panic!("{json} was answered: {reply:?}"),
            Err(e) => e,
        }
    }

    fn ask<T: TryFrom<Reply, Error = groundwork::service::Unexpected>>(
        &mut self,
        request: Request,
    ) -> T {
        T::try_from(self.send(request)).expect("the reply has the expected shape")
    }
}

fn conversation(person_id: &str, follow_up: Option<Option<NaiveDate>>) -> NewConversation {
    NewConversation {
        person_id: person_id.to_string(),
        kind: ConversationKind::Doorstep,
        at: None,
        canvasser: None,
        shift_id: None,
        issues: vec!["rent".into()],
        story: Some("The landlord raised the rent twice this year".into()),
        notes: None,
        engagement: Some(4.try_into().expect("4 is an engagement level")),
        follow_up,
    }
}

#[test]
fn every_request_round_trips_and_is_answered_without_the_app() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("store opens");
    let mut w = Wire {
        store,
        sent: [false; VARIANTS],
    };

    w.ask::<()>(Request::SetName("Eve".into()));
    w.ask::<()>(Request::SetName("Eve Ade".into()));
    w.ask::<()>(Request::HandOver("Dee".into()));
    assert_eq!(
        w.store.my_canvasser_names().expect("names"),
        vec!["Dee".to_string()],
        "the names before a hand-over are not Dee's"
    );
    w.ask::<()>(Request::SkipName);
    // The desktop's notebook is encrypted with the app closed (`groundwork notebook encrypt`):
    // the app's request is refused, saying so, and the passphrase never shows in a request's
    // `Debug`.
    let encrypt = Request::EncryptAtRest(groundwork::service::SecretText(
        "a passphrase for the wire".into(),
    ));
    assert!(!format!("{encrypt:?}").contains("wire"), "{encrypt:?}");
    let refusal = w.refused(encrypt).to_string();
    assert!(refusal.contains("groundwork notebook encrypt"), "{refusal}");
    assert!(!w.store.encrypted_at_rest());
    // So is changing a passphrase (`groundwork notebook change-passphrase`).
    let change = Request::ChangePassphrase {
        current: groundwork::service::SecretText("the current words".into()),
        new: groundwork::service::SecretText("the words to come".into()),
    };
    let shown = format!("{change:?}");
    assert!(
        !shown.contains("current words") && !shown.contains("to come"),
        "{shown}"
    );
    let refusal = w.refused(change).to_string();
    assert!(
        refusal.contains("groundwork notebook change-passphrase"),
        "{refusal}"
    );
    // And decrypting (`groundwork notebook decrypt`).
    let decrypt = Request::DecryptAtRest(groundwork::service::SecretText(
        "the words it opens with".into(),
    ));
    assert!(
        !format!("{decrypt:?}").contains("opens with"),
        "{decrypt:?}"
    );
    let refusal = w.refused(decrypt).to_string();
    assert!(refusal.contains("groundwork notebook decrypt"), "{refusal}");
    // The raw key for a passphrase (the phone's screen lock set up) of a plain notebook:
    // refused in words, and the passphrase not shown by `Debug` either.
    let check = Request::RawKey(groundwork::service::SecretText("the words to check".into()));
    assert!(!format!("{check:?}").contains("to check"), "{check:?}");
    let refusal = w.refused(check).to_string();
    assert!(refusal.contains("is not encrypted"), "{refusal}");
    let campaign: String = w.ask(Request::AddCampaign(NewCampaign {
        name: "Fair rent".into(),
        issue: Some("rent".into()),
        targets: BTreeMap::from([("join the union".into(), 5)]),
    }));
    w.ask::<()>(Request::EditCampaign(
        campaign.clone(),
        CampaignPatch {
            name: Some("Fair rent now".into()),
            ..CampaignPatch::default()
        },
    ));
    // A walk list (imported as the command line does), which the shift works through.
    let street = groundwork::walk::import::read(
        b"House No,Street,Name\n2,Elm Street,Ann Bo\n1,Elm Street,Cy Do\n",
        &[],
    )
    .unwrap();
    let list = w
        .store
        .import_walklist("Elm Street", None, &street)
        .unwrap()
        .id;
    let shift: String = w.ask(Request::StartShift {
        place: String::new(),
        campaign_id: Some(campaign.clone()),
        walklist_id: Some(list.clone()),
    });
    let lists: Vec<groundwork::store::walklists::WalkListSummary> = w.ask(Request::WalkLists);
    assert_eq!(lists.len(), 1);
    assert_eq!(lists[0].progress.total, 2);
    let walk: Box<groundwork::store::walklists::WalkListView> =
        w.ask(Request::WalkList(list.clone()));
    assert_eq!(walk.doors[0].door.address, "1 Elm Street");
    let first = walk.doors[0].door.id.clone();
    w.ask::<()>(Request::MarkDoors {
        list: list.clone(),
        doors: vec![first.clone()],
        outcome: groundwork::model::Outcome::Answered,
        come_back_at: None,
    });
    let walk: Box<groundwork::store::walklists::WalkListView> =
        w.ask(Request::WalkList(list.clone()));
    assert_eq!(
        walk.doors[0].status,
        Some(groundwork::model::Outcome::Answered)
    );
    assert_eq!(walk.doors[0].visits, 1);
    assert_eq!(walk.next.as_deref(), Some(walk.doors[1].door.id.as_str()));

    // A person, added, edited and read back.
    let id: String = w.ask(Request::AddPerson(
        NewPerson::named("Amina Yusuf").put(PersonField::Area, "Elm Street"),
    ));
    w.ask::<()>(Request::EditPerson(
        id.clone(),
        PersonPatch::new().put(PersonField::Phone, "+44 7700 900123"),
    ));

    // A draft saved and loaded, then dropped by recording the conversation it was for.
    let key = format!("record/{id}");
    w.ask::<()>(Request::SaveDraft {
        key: key.clone(),
        body: "{\"story\":\"half typed\"}".into(),
    });
    let draft: Option<String> = w.ask(Request::Draft(key.clone()));
    assert_eq!(draft.as_deref(), Some("{\"story\":\"half typed\"}"));
    let keys: Vec<String> = w.ask(Request::DraftKeys("record/".into()));
    assert_eq!(keys, vec![key.clone()]);
    let conv: String = w.ask(Request::RecordConversation {
        conversation: conversation(&id, None),
        commitments: vec![NewCommitment {
            what: "Come to the tenants' meeting".into(),
            due: NaiveDate::from_ymd_opt(2030, 1, 15),
            campaign_id: Some(campaign.clone()),
            target: Some("join the union".into()),
        }],
        draft_key: key.clone(),
        save_key: None,
    });
    assert_eq!(w.ask::<Option<String>>(Request::Draft(key.clone())), None);
    w.ask::<()>(Request::SaveDraft {
        key: key.clone(),
        body: "again".into(),
    });
    w.ask::<()>(Request::DeleteDraft(key.clone()));
    assert!(
        w.ask::<Vec<String>>(Request::DraftKeys(String::new()))
            .is_empty()
    );
    // A person typed in a draft: added, and the draft gone with it.
    w.ask::<()>(Request::SaveDraft {
        key: "person-new".into(),
        body: "Bola".into(),
    });
    let bola: String = w.ask(Request::AddPersonFromDraft(
        NewPerson::named("Bola Ade"),
        "person-new".into(),
    ));
    assert!(!bola.is_empty());
    assert_eq!(
        w.ask::<Option<String>>(Request::Draft("person-new".into())),
        None
    );
    // An edit typed in a draft: saved, and the draft gone with it; refused, the draft stays.
    let edit_key = format!("person-edit-{bola}");
    w.ask::<()>(Request::SaveDraft {
        key: edit_key.clone(),
        body: "Bola Adeyemi".into(),
    });
    w.ask::<()>(Request::EditPersonFromDraft(
        bola.clone(),
        PersonPatch::new().put(PersonField::Name, "Bola Adeyemi"),
        edit_key.clone(),
    ));
    assert_eq!(
        w.ask::<Option<String>>(Request::Draft(edit_key.clone())),
        None
    );
    let bola_file: Box<PersonFile> = w.ask(Request::Person(bola.clone()));
    assert_eq!(bola_file.person.name, "Bola Adeyemi");
    w.ask::<()>(Request::SaveDraft {
        key: edit_key.clone(),
        body: "typed again".into(),
    });
    assert!(
        handle(
            &mut w.store,
            Request::EditPersonFromDraft(
                bola.clone(),
                PersonPatch::new().put(PersonField::Name, "  "),
                edit_key.clone(),
            ),
        )
        .is_err()
    );
    assert_eq!(
        w.ask::<Option<String>>(Request::Draft(edit_key.clone())),
        Some("typed again".into())
    );

    let file: Box<PersonFile> = w.ask(Request::Person(id.clone()));
    assert_eq!(file.person.name, "Amina Yusuf");
    assert_eq!(file.person.phone.as_deref(), Some("+44 7700 900123"));
    assert_eq!(file.conversations.len(), 1);
    assert_eq!(file.conversations[0].id, conv);
    assert_eq!(
        file.conversations[0].shift_id.as_deref(),
        Some(shift.as_str())
    );
    assert_eq!(file.commitments.len(), 1);
    let commitment = file.commitments[0].id.clone();

    // A correction typed as a draft: saving it forgets the draft in the same request.
    let correction = format!("record-edit:{id}:{conv}");
    w.ask::<()>(Request::SaveDraft {
        key: correction.clone(),
        body: "{}".into(),
    });
    w.ask::<()>(Request::EditConversation {
        person: id.clone(),
        id: conv.clone(),
        patch: ConversationPatch::new().put(ConversationField::Notes, "Ask about the repairs"),
        draft_key: Some(correction.clone()),
    });
    assert_eq!(
        w.ask::<Option<String>>(Request::Draft(correction)),
        None,
        "the correction's draft went with it"
    );
    w.ask::<()>(Request::EditCommitment {
        person: id.clone(),
        id: commitment.clone(),
        patch: CommitmentPatch::new()
            .put(CommitmentField::What, "Bring a neighbour to the meeting"),
        draft_key: None,
    });
    w.ask::<()>(Request::SetCommitment {
        person: id.clone(),
        id: commitment.clone(),
        status: CommitmentStatus::Kept,
    });
    let file: Box<PersonFile> = w.ask(Request::Person(id.clone()));
    assert_eq!(
        file.conversations[0].notes.as_deref(),
        Some("Ask about the repairs")
    );
    assert_eq!(file.commitments[0].what, "Bring a neighbour to the meeting");
    assert_eq!(file.commitments[0].status, CommitmentStatus::Kept);

    // Reads.
    let overview: groundwork::service::Overview = w.ask(Request::Overview);
    assert_eq!(overview.canvasser.as_deref(), Some("Dee"));
    assert_eq!(overview.shift.map(|s| s.id), Some(shift.clone()));
    let found: Vec<groundwork::model::Person> = w.ask(Request::People {
        query: "amina".into(),
        limit: 10,
    });
    assert_eq!(found.len(), 1);
    let page: groundwork::store::PeoplePage = w.ask(Request::PeoplePage {
        filter: PeopleFilter {
            area: Some("elm street".into()),
            ..PeopleFilter::default()
        },
        offset: 0,
        limit: 10,
    });
    assert_eq!((page.matching, page.total), (1, 2));
    let choices: groundwork::store::PeopleChoices = w.ask(Request::PeopleChoices);
    assert_eq!(choices.issues, vec!["rent".to_string()]);
    let due: groundwork::service::DueLists = w.ask(Request::Due {
        mine: false,
        limits: [10, 10, 10],
    });
    assert_eq!(due.parts.len(), 3);
    let kind: Option<ConversationKind> = w.ask(Request::UsualKind);
    assert_eq!(kind, Some(ConversationKind::Doorstep));
    let () = w.ask(Request::KeepLoaded(id.clone()));
    let campaigns: Vec<groundwork::service::CampaignProgress> = w.ask(Request::Campaigns);
    assert_eq!(campaigns.len(), 1);
    assert_eq!(campaigns[0].campaign.name, "Fair rent now");
    assert_eq!((campaigns[0].made, campaigns[0].kept), (1, 1));
    let list: Vec<groundwork::model::Campaign> = w.ask(Request::CampaignList);
    assert_eq!(list.len(), 1);
    let csv: groundwork::service::CsvExport = w.ask(Request::ExportCsv("people".into()));
    assert!(
        csv.name.starts_with("people-") && csv.name.ends_with(".csv"),
        "{csv:?}"
    );
    assert!(
        csv.text.starts_with("id,name,") && csv.text.contains("Amina"),
        "{csv:?}"
    );
    assert_eq!(list[0].name, "Fair rent now");
    let report: Box<Option<groundwork::report::ShiftReport>> =
        w.ask(Request::ShiftReport(Some(shift.clone())));
    assert!(report.is_some());
    let today = groundwork::service::today();
    let range: Box<Option<groundwork::report::ShiftReport>> = w.ask(Request::RangeReport {
        from: today - chrono::Days::new(1),
        to: today + chrono::Days::new(1),
    });
    assert!(range.is_some());
    let (n, _) = w.ask::<(usize, Vec<groundwork::service::FollowUpItem>)>(Request::FollowUps {
        mine: true,
        limit: 5,
    });
    assert_eq!(
        n, 0,
        "the follow-up falls two days after today's conversation"
    );
    let integrity: groundwork::service::Integrity = w.ask(Request::Integrity);
    assert!(integrity.refused.is_empty() && integrity.waiting.is_empty());

    // No conflict in the file: nobody to name.
    let writers: Vec<groundwork::store::ConflictWriter> =
        w.ask(Request::ConflictWriters(id.clone()));
    assert!(writers.is_empty(), "{writers:?}");

    // History and restore: put the commitment back to before it was reworded.
    let history: Vec<FileChange> = w.ask(Request::History(id.clone()));
    let reworded = history
        .iter()
        .find(|c| {
            c.edits
                .iter()
                .any(|(e, _)| e.field.as_deref() == Some("what"))
        })
        .expect("the rewording is in the history");
    let changed: bool = w.ask(Request::Restore {
        person_id: id.clone(),
        before: reworded.change.clone(),
        target: RestoreTarget::Commitment(commitment.clone()),
    });
    assert!(changed);
    let file: Box<PersonFile> = w.ask(Request::Person(id.clone()));
    assert_eq!(file.commitments[0].what, "Come to the tenants' meeting");

    w.ask::<String>(Request::EndShift);
    let shifts: Vec<groundwork::model::Shift> = w.ask(Request::Shifts);
    assert_eq!(shifts.len(), 1);

    // (A form's save made once: `a_form_saved_twice_makes_one_record`.)
    let _: String = w.ask(Request::AddPersonOnce {
        person: NewPerson::named("Last One"),
        draft_key: "person-new".into(),
        save_key: "form-last".into(),
    });
    let missing: Vec<usize> = (0..VARIANTS).filter(|&i| !w.sent[i]).collect();
    assert!(missing.is_empty(), "variants never sent: {missing:?}");
}

#[test]
fn wrong_shapes_and_bad_input_are_errors_not_panics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::open(dir.path()).expect("store opens");
    let reply = handle(&mut store, Request::Overview).expect("overview");
    let err = String::try_from(reply).expect_err("an overview is not an id");
    assert_eq!((err.expected, err.got), ("Id", "Overview"));
    assert!(handle(&mut store, Request::Person("not an id".into())).is_err());
    assert!(serde_json::from_str::<Request>("{\"Person\": 7}").is_err());
    assert!(serde_json::from_str::<Request>("\"NoSuchRequest\"").is_err());
}

#[test]
fn follow_up_left_out_and_none_stay_apart_on_the_wire() {
    for follow_up in [
        None,
        Some(None),
        NaiveDate::from_ymd_opt(2030, 2, 1).map(Some),
    ] {
        let c = conversation("p", follow_up);
        let json = serde_json::to_string(&c).expect("serialises");
        let back: NewConversation = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back.follow_up, follow_up, "{json}");
    }
}

#[test]
fn changes_and_writes() {
    let change = Change {
        revision: 3,
        local: true,
        drafts_unwritten: true,
    };
    let json = serde_json::to_string(&change).expect("serialises");
    assert_eq!(
        serde_json::from_str::<Change>(&json).expect("deserialises"),
        change
    );
    // A page and a worker of different builds (an update half taken): a change without the
    // field says drafts are written.
    let older: Change = serde_json::from_str(r#"{"revision":4,"local":false}"#).unwrap();
    assert!(!older.drafts_unwritten);
    assert!(Request::AddPerson(NewPerson::named("A")).writes());
    assert!(!Request::Overview.writes());
    assert!(
        !Request::SaveDraft {
            key: "k".into(),
            body: "b".into()
        }
        .writes()
    );
}

/// A form saved twice (the page brought its draft back after a reload in the moment after the
/// save, and it was saved again): one record, the first one's id both times, the draft gone.
#[test]
fn a_form_saved_twice_makes_one_record() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("store opens");
    let mut w = Wire {
        store,
        sent: [false; VARIANTS],
    };
    let key = "conversation:twice".to_string();
    let other: String = w.ask(Request::AddPerson(NewPerson::named("Twice Saved")));
    let twice = |w: &mut Wire| -> String {
        w.ask::<()>(Request::SaveDraft {
            key: key.clone(),
            body: "the same form".into(),
        });
        let made = w.ask(Request::RecordConversation {
            conversation: conversation(&other, None),
            commitments: vec![NewCommitment {
                what: "Bring a neighbour".into(),
                due: None,
                campaign_id: None,
                target: None,
            }],
            draft_key: key.clone(),
            save_key: Some("form-1".into()),
        });
        assert_eq!(w.ask::<Option<String>>(Request::Draft(key.clone())), None);
        made
    };
    let first = twice(&mut w);
    let again = twice(&mut w);
    assert_eq!(first, again);
    let after: Box<PersonFile> = w.ask(Request::Person(other.clone()));
    assert_eq!(after.conversations.len(), 1);
    assert_eq!(after.commitments.len(), 1);
    // Saved twice under one form's key: one person.
    let tunde = |w: &mut Wire| -> String {
        w.ask(Request::AddPersonOnce {
            person: NewPerson::named("Tunde Bello"),
            draft_key: "person-new".into(),
            save_key: "form-2".into(),
        })
    };
    let one = tunde(&mut w);
    assert_eq!(tunde(&mut w), one);
    let people: Vec<groundwork::model::Person> = w.ask(Request::People {
        query: "Tunde".into(),
        limit: 10,
    });
    assert_eq!(people.len(), 1);
    // The notes of saved forms are not drafts.
    assert!(
        w.ask::<Vec<String>>(Request::DraftKeys(String::new()))
            .is_empty()
    );
}
