//! Replicas that edit concurrently and exchange changes in any order, with duplicates, end
//! with identical tables and exports.

use groundwork::model::{
    CommitmentStatus, ConversationKind, NewCommitment, NewConversation, NewPerson, PersonField,
    PersonPatch,
};
use groundwork::store::Store;
use proptest::prelude::*;

/// One step of the scenario. Indices are reduced modulo what exists when the step runs.
#[derive(Debug, Clone)]
enum Step {
    AddPerson {
        replica: usize,
        name: u8,
    },
    EditName {
        replica: usize,
        person: usize,
        name: u8,
    },
    EditPhone {
        replica: usize,
        person: usize,
        phone: u16,
    },
    Tag {
        replica: usize,
        person: usize,
        tag: u8,
        add: bool,
    },
    Converse {
        replica: usize,
        person: usize,
        commitments: u8,
    },
    SetStatus {
        replica: usize,
        commitment: usize,
        status: u8,
    },
    /// Deliver some of one replica's changes to another, in a shuffled order.
    Deliver {
        from: usize,
        to: usize,
        pick: Vec<usize>,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let r = 0..3usize;
    prop_oneof![
        (r.clone(), any::<u8>()).prop_map(|(replica, name)| Step::AddPerson { replica, name }),
        (r.clone(), any::<usize>(), any::<u8>()).prop_map(|(replica, person, name)| {
            Step::EditName {
                replica,
                person,
                name,
            }
        }),
        (r.clone(), any::<usize>(), any::<u16>()).prop_map(|(replica, person, phone)| {
            Step::EditPhone {
                replica,
                person,
                phone,
            }
        }),
        (r.clone(), any::<usize>(), 0..4u8, any::<bool>()).prop_map(
            |(replica, person, tag, add)| Step::Tag {
                replica,
                person,
                tag,
                add
            }
        ),
        (r.clone(), any::<usize>(), 0..3u8).prop_map(|(replica, person, commitments)| {
            Step::Converse {
                replica,
                person,
                commitments,
            }
        }),
        (r.clone(), any::<usize>(), 0..4u8).prop_map(|(replica, commitment, status)| {
            Step::SetStatus {
                replica,
                commitment,
                status,
            }
        }),
        (r.clone(), r, prop::collection::vec(any::<usize>(), 0..12))
            .prop_map(|(from, to, pick)| Step::Deliver { from, to, pick }),
    ]
}

struct Replica {
    _dir: tempfile::TempDir,
    store: Store,
    /// Every change this replica made, in order (the relay's view of its uploads).
    log: Vec<(String, Vec<u8>)>,
}

impl Replica {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        Replica {
            _dir: dir,
            store,
            log: Vec::new(),
        }
    }

    /// Move new outbox entries into the log (as a sync would) and acknowledge them.
    fn collect(&mut self) {
        let items = self.store.outbox(usize::MAX).unwrap();
        let hashes: Vec<String> = items.iter().map(|i| i.change_hash.clone()).collect();
        self.log
            .extend(items.into_iter().map(|i| (i.doc_id, i.bytes)));
        self.store.acknowledge(&hashes).unwrap();
    }
}

/// Run the scenario; returns the people every replica ends with.
fn run(steps: Vec<Step>, final_order: Vec<usize>) -> Vec<groundwork::model::Person> {
    let mut replicas: Vec<Replica> = (0..3).map(|_| Replica::new()).collect();
    for s in steps {
        match s {
            Step::AddPerson { replica, name } => {
                replicas[replica]
                    .store
                    .add_person(NewPerson::new().put(PersonField::Name, format!("Person {name}")))
                    .unwrap();
            }
            Step::EditName {
                replica,
                person,
                name,
            } => {
                let people = replicas[replica].store.all_people().unwrap();
                if let Some(p) = people.get(person % people.len().max(1)) {
                    let patch =
                        PersonPatch::new().put(PersonField::Name, format!("Renamed {name}"));
                    replicas[replica].store.edit_person(&p.id, patch).unwrap();
                }
            }
            Step::EditPhone {
                replica,
                person,
                phone,
            } => {
                let people = replicas[replica].store.all_people().unwrap();
                if let Some(p) = people.get(person % people.len().max(1)) {
                    let patch = PersonPatch::new().put(PersonField::Phone, format!("07{phone}"));
                    replicas[replica].store.edit_person(&p.id, patch).unwrap();
                }
            }
            Step::Tag {
                replica,
                person,
                tag,
                add,
            } => {
                let people = replicas[replica].store.all_people().unwrap();
                if let Some(p) = people.get(person % people.len().max(1)) {
                    let t = vec![format!("tag {tag}")];
                    let patch = if add {
                        PersonPatch::new().add(PersonField::Tags, t)
                    } else {
                        PersonPatch::new().remove(PersonField::Tags, t)
                    };
                    replicas[replica].store.edit_person(&p.id, patch).unwrap();
                }
            }
            Step::Converse {
                replica,
                person,
                commitments,
            } => {
                let people = replicas[replica].store.all_people().unwrap();
                if let Some(p) = people.get(person % people.len().max(1)) {
                    let conversation = NewConversation {
                        person_id: p.id.clone(),
                        kind: ConversationKind::Doorstep,
                        at: None,
                        canvasser: Some(format!("canvasser {replica}")),
                        shift_id: None,
                        issues: vec!["rent".into()],
                        story: Some("story".into()),
                        notes: None,
                        engagement: None,
                        follow_up: None,
                    };
                    let asks = (0..commitments)
                        .map(|i| NewCommitment {
                            what: format!("ask {i}"),
                            ..Default::default()
                        })
                        .collect();
                    replicas[replica]
                        .store
                        .record_conversation(conversation, asks)
                        .unwrap();
                }
            }
            Step::SetStatus {
                replica,
                commitment,
                status,
            } => {
                let all = replicas[replica].store.commitments_by_id().unwrap();
                if let Some(c) = all.get(commitment % all.len().max(1)) {
                    let status = CommitmentStatus::ALL[status as usize % 4];
                    replicas[replica]
                        .store
                        .set_commitment_status(&c.id, status)
                        .unwrap();
                }
            }
            Step::Deliver { from, to, pick } => {
                replicas[from].collect();
                if from == to || replicas[from].log.is_empty() {
                    continue;
                }
                let n = replicas[from].log.len();
                let items: Vec<(String, Vec<u8>)> = pick
                    .iter()
                    .map(|i| replicas[from].log[i % n].clone())
                    .collect();
                for (doc, bytes) in items {
                    replicas[to].store.apply_remote(&doc, &[bytes]).unwrap();
                }
            }
        }
    }
    // Finally everyone gets everything, in a shuffled order, twice over.
    for r in replicas.iter_mut() {
        r.collect();
    }
    let all: Vec<(String, Vec<u8>)> = replicas.iter().flat_map(|r| r.log.clone()).collect();
    for r in replicas.iter_mut() {
        let mut order: Vec<usize> = (0..all.len()).chain(0..all.len()).collect();
        for (i, k) in final_order.iter().enumerate() {
            let len = order.len();
            if len > 1 {
                order.swap(i % len, k % len);
            }
        }
        for i in order {
            r.store
                .apply_remote(&all[i].0, std::slice::from_ref(&all[i].1))
                .unwrap();
        }
    }
    let snapshot = |s: &Store| {
        let hits = s.search("person renamed", 1000).unwrap().len();
        format!("{}{hits}", super::state_of(s))
    };
    let first = snapshot(&replicas[0].store);
    for r in &replicas[1..] {
        assert_eq!(snapshot(&r.store), first);
    }
    let added = replicas
        .iter()
        .flat_map(|r| r.log.iter().map(|(doc, _)| doc.clone()))
        .collect::<std::collections::BTreeSet<_>>();
    let people = replicas[0].store.all_people().unwrap();
    assert_eq!(
        people.len(),
        added.len(),
        "every person added anywhere is everywhere, once"
    );
    people
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn replicas_converge(steps in prop::collection::vec(step(), 1..40), final_order in prop::collection::vec(any::<usize>(), 0..60)) {
        run(steps, final_order);
    }
}

/// A fixed scenario that is sure to contain concurrent edits of one field.
#[test]
fn concurrent_renames_are_a_conflict_everywhere() {
    let steps = vec![
        Step::AddPerson {
            replica: 0,
            name: 1,
        },
        Step::Deliver {
            from: 0,
            to: 1,
            pick: vec![0],
        },
        Step::Deliver {
            from: 0,
            to: 2,
            pick: vec![0],
        },
        Step::EditName {
            replica: 1,
            person: 0,
            name: 2,
        },
        Step::EditName {
            replica: 2,
            person: 0,
            name: 3,
        },
        Step::EditName {
            replica: 0,
            person: 0,
            name: 4,
        },
    ];
    let people = run(steps, vec![5, 3, 1]);
    let names = &people[0].conflicts[&PersonField::Name];
    assert_eq!(
        names.len(),
        3,
        "all three concurrent names survive: {names:?}"
    );
    for n in ["Renamed 2", "Renamed 3", "Renamed 4"] {
        assert!(names.contains(&n.into()), "{n} kept");
    }
    assert!(
        names.contains(&people[0].name.clone().into()),
        "the winner is one of them"
    );
}

/// Two devices that write the same name at once do not disagree: no conflict is shown.
#[test]
fn the_same_name_written_at_once_is_no_conflict() {
    let steps = vec![
        Step::AddPerson {
            replica: 0,
            name: 1,
        },
        Step::Deliver {
            from: 0,
            to: 1,
            pick: vec![0],
        },
        Step::EditName {
            replica: 0,
            person: 0,
            name: 2,
        },
        Step::EditName {
            replica: 1,
            person: 0,
            name: 2,
        },
    ];
    let people = run(steps, vec![3, 1]);
    assert_eq!(people[0].name, "Renamed 2");
    assert!(
        !people[0].conflicts.contains_key(&PersonField::Name),
        "{:?}",
        people[0].conflicts
    );
}
