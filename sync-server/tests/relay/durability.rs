//! A relay killed with SIGKILL and restarted on the same data directory loses no blob it had
//! acknowledged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use groundwork_protocol::PushItem;

use crate::common::Relay;

#[test]
fn sigkill_loses_no_acknowledged_blob() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let relay = Relay::start_in(&data, &[]);
    let (_, mut devices) = relay.team_with_devices("Durable", 3);
    let reader = devices.pop().expect("reader");

    // Two writers push batches as fast as they can until the relay dies under them.
    let acked = Arc::new(Mutex::new(Vec::<PushItem>::new()));
    let dead = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = devices
        .into_iter()
        .enumerate()
        .map(|(w, mut device)| {
            let acked = Arc::clone(&acked);
            let dead = Arc::clone(&dead);
            std::thread::spawn(move || {
                let mut batch_no = 0u32;
                while !dead.load(Ordering::SeqCst) && batch_no < 10_000 {
                    let batch: Vec<PushItem> = (0..5)
                        .map(|i| {
                            PushItem::new(
                                format!("doc-{w}"),
                                format!("writer {w} batch {batch_no} item {i}").into_bytes(),
                            )
                        })
                        .collect();
                    batch_no += 1;
                    match device.sync(batch.clone(), None) {
                        Ok(resp) => {
                            let mut acked = acked.lock().expect("lock");
                            for p in batch {
                                if resp.accepted.contains(&p.id) {
                                    acked.push(p);
                                }
                            }
                        }
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();

    std::thread::sleep(Duration::from_millis(700));
    relay.kill();
    dead.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().expect("writer thread");
    }
    let acked = acked.lock().expect("lock").clone();
    eprintln!("{} blobs acknowledged before SIGKILL", acked.len());
    assert!(
        acked.len() >= 10,
        "the writers got some pushes through ({})",
        acked.len()
    );

    let relay = Relay::start_in(&data, &[]);
    let mut reader = reader.reconnect(&relay);
    let pulled: std::collections::HashSet<Vec<u8>> =
        reader.pull_all(None).into_iter().map(|(_, b)| b).collect();
    let missing = acked.iter().filter(|p| !pulled.contains(&p.blob)).count();
    assert_eq!(
        missing,
        0,
        "{missing} of {} acknowledged blobs were lost",
        acked.len()
    );
    assert!(relay.healthy());
}
