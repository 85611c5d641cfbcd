//! Property: however several devices interleave pushes, retries and paged pulls through the real
//! relay, every device ends with the same set of blobs, and receives each blob once.

use std::collections::{HashMap, HashSet};

use groundwork_protocol::PushItem;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::common::{Device, Relay};

const DEVICES: usize = 3;

#[derive(Debug, Clone)]
enum Step {
    /// The device records `n` new changes locally (into its outbox).
    Write { device: usize, n: usize, doc: u8 },
    /// The device syncs once with this page size.
    Sync { device: usize, page: Option<u64> },
    /// The device syncs but "loses" the answer: outbox and cursor stay as they were.
    LostAnswer { device: usize },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..DEVICES, 1usize..5, 0u8..4).prop_map(|(device, n, doc)| Step::Write { device, n, doc }),
        4 => (0..DEVICES, proptest::option::of(1u64..400)).prop_map(|(device, page)| Step::Sync { device, page }),
        1 => (0..DEVICES).prop_map(|device| Step::LostAnswer { device }),
    ]
}

struct Sim {
    device: Device,
    outbox: Vec<PushItem>,
    /// Blob → how many times this device holds it (written locally or pulled).
    held: HashMap<Vec<u8>, usize>,
}

impl Sim {
    fn sync(&mut self, page: Option<u64>) -> Result<bool, TestCaseError> {
        let resp = self
            .device
            .sync(self.outbox.clone(), page)
            .map_err(|e| TestCaseError::fail(format!("sync failed: {e:?}")))?;
        let accepted: HashSet<_> = resp.accepted.into_iter().collect();
        prop_assert_eq!(accepted.len(), self.outbox.len(), "all pushes acknowledged");
        self.outbox.retain(|p| !accepted.contains(&p.id));
        for c in resp.changes {
            *self.held.entry(c.blob).or_default() += 1;
        }
        Ok(resp.more)
    }
}

#[test]
fn devices_converge_through_the_relay() {
    // Every case enrols new devices from 127.0.0.1: lift the enrolment rate limit.
    let relay = Relay::start_with(&["--enrol-burst", "1000000", "--enrol-per-minute", "1000000"]);
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    let case = std::cell::Cell::new(0u32);
    runner
        .run(&proptest::collection::vec(step(), 1..40), |steps| {
            case.set(case.get() + 1);
            let case = case.get();
            let (_, devices) = relay.team_with_devices(&format!("prop {case}"), DEVICES);
            let mut sims: Vec<Sim> = devices
                .into_iter()
                .map(|device| Sim {
                    device,
                    outbox: Vec::new(),
                    held: HashMap::new(),
                })
                .collect();
            let mut written = 0usize;
            for step in steps {
                match step {
                    Step::Write { device, n, doc } => {
                        for _ in 0..n {
                            written += 1;
                            let blob =
                                format!("case {case} change {written} by {device}").into_bytes();
                            let sim = &mut sims[device];
                            *sim.held.entry(blob.clone()).or_default() += 1;
                            sim.outbox.push(PushItem::new(format!("doc-{doc}"), blob));
                        }
                    }
                    Step::Sync { device, page } => {
                        sims[device].sync(page)?;
                    }
                    Step::LostAnswer { device } => {
                        let sim = &sims[device];
                        let mut probe = sim.device.clone();
                        probe
                            .sync(sim.outbox.clone(), Some(50))
                            .map_err(|e| TestCaseError::fail(format!("sync failed: {e:?}")))?;
                    }
                }
            }
            // Everyone syncs until nothing is left, twice round so late pushes reach everybody.
            for _ in 0..2 {
                for sim in &mut sims {
                    while sim.sync(Some(300))? {}
                }
            }
            let union: HashSet<Vec<u8>> =
                sims.iter().flat_map(|s| s.held.keys().cloned()).collect();
            prop_assert_eq!(union.len(), written);
            for (i, sim) in sims.iter().enumerate() {
                prop_assert!(sim.outbox.is_empty());
                let keys: HashSet<Vec<u8>> = sim.held.keys().cloned().collect();
                prop_assert_eq!(&keys, &union, "device {} differs", i);
                let repeats = sim.held.values().filter(|n| **n != 1).count();
                prop_assert_eq!(repeats, 0, "device {} received a blob twice", i);
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(relay.healthy());
}
