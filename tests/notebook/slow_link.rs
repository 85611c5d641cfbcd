//! A weak signal: a real relay reached through a proxy on 127.0.0.1 that carries only so many
//! bytes a second each way, with requests given two seconds instead of a minute (the same
//! ratio as a page of the team's log to a link of about 100 kbit/s). A sync must get through
//! in smaller pages and pushes (`sync::pace`) rather than send the same too-large request
//! until it gives up.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use groundwork::sync::http::ReqwestWire;
use groundwork::sync::plan::Budget;
use groundwork::sync::{self, Relay};

use super::sync::{Device, TestRelay, incompressible};
use super::throttle::throttled_proxy;

/// Bytes a second the proxy carries each way.
const RATE: u64 = 200_000;

/// How long each request may take over the weak link.
const PATIENCE: Duration = Duration::from_secs(2);

/// The relay's API over reqwest, each request given [`PATIENCE`].
fn weak_transport() -> Relay<ReqwestWire> {
    Relay::over(ReqwestWire::new().unwrap(), 3, Duration::from_millis(20)).with_patience(PATIENCE)
}

/// `device`'s link pointed at the proxy (it joined directly).
fn through(device: &mut Device, proxy: SocketAddr) {
    let mut link = device.store.sync_state().unwrap().link.unwrap();
    link.relay_url = format!("http://{proxy}");
    device.store.set_relay_link(&link).unwrap();
}

/// `n` people, each with a conversation whose story compresses badly (about 11 KB each).
fn write_people(device: &mut Device, n: usize, seed: u64) -> Vec<String> {
    (0..n)
        .map(|i| {
            let p = device.person(&format!("Person {seed}-{i}"));
            device.converse(&p, &incompressible(seed * 1000 + i as u64, 1000), &["ask"]);
            p
        })
        .collect()
}

/// A new phone whose first sync has about 800 KB to pull over a link carrying 200 KB/s, with
/// two seconds a request: the engine's usual page (up to 1 MiB) takes four, and asking for it
/// again and again would never finish. It arrives whole, in smaller pages, and the phone
/// keeps what it learnt of the link for its next sync, and learns again on a good link.
#[test]
fn a_first_sync_over_a_weak_signal_arrives_in_smaller_pages() {
    let relay = TestRelay::start();
    let (_, invite) = relay.team(2);
    let mut lead = Device::joined(&relay.url, &invite, "Lead's laptop");
    write_people(&mut lead, 70, 1);
    lead.sync();
    let mut phone = Device::joined(&relay.url, &invite, "Phone in the basement");
    let target: SocketAddr = relay.url.trim_start_matches("http://").parse().unwrap();
    let (proxy, connections) = throttled_proxy(target, RATE);
    through(&mut phone, proxy);
    // The phone last synced on a good link (it learnt that pages of 1 MiB came quickly): its
    // first request over the weak one times out, and the next ones ask for less.
    phone.store.set_link_pace(1 << 20).unwrap();
    let report = sync::sync_once(&mut phone.store, &weak_transport(), Budget::default())
        .unwrap_or_else(|e| panic!("the sync over the weak link failed: {e}"));
    assert!(report.round_trips > 2, "{report:?}");
    assert!(connections.load(Ordering::SeqCst) >= 1);
    assert_eq!(phone.exports(), lead.exports());
    let learnt = phone.store.link_pace().unwrap().expect("the pace is kept");
    assert!(learnt < 1 << 20, "{learnt}");
    // On a good link again, with much to pull, the allowance grows back.
    write_people(&mut lead, 70, 3);
    lead.sync();
    let mut link = phone.store.sync_state().unwrap().link.unwrap();
    link.relay_url = relay.url.clone();
    phone.store.set_relay_link(&link).unwrap();
    phone.sync();
    assert_eq!(phone.exports(), lead.exports());
    let regained = phone.store.link_pace().unwrap().unwrap();
    assert!(regained > learnt, "{learnt} → {regained}");
}

/// A canvasser's phone with about 800 KB of a shift's work to push over the same link, which
/// last synced on a good one: its first push times out (the relay stores nothing of a body cut
/// short), and the rest goes in pieces the link carries in time; the lead receives all of it.
#[test]
fn a_push_over_a_weak_signal_goes_in_smaller_pieces() {
    let relay = TestRelay::start();
    let (_, invite) = relay.team(2);
    let mut lead = Device::joined(&relay.url, &invite, "Lead's laptop");
    let mut phone = Device::joined(&relay.url, &invite, "Phone at the bus stop");
    let people = write_people(&mut phone, 70, 2);
    let target: SocketAddr = relay.url.trim_start_matches("http://").parse().unwrap();
    let (proxy, _) = throttled_proxy(target, RATE);
    through(&mut phone, proxy);
    phone.store.set_link_pace(1 << 20).unwrap();
    let report = sync::sync_once(&mut phone.store, &weak_transport(), Budget::default())
        .unwrap_or_else(|e| panic!("the push over the weak link failed: {e}"));
    assert_eq!(phone.store.pending_changes().unwrap(), 0);
    assert!(report.round_trips > 2, "{report:?}");
    let pulled = lead.sync();
    for p in &people {
        assert!(lead.store.person(p).is_ok(), "{p} did not arrive");
    }
    assert_eq!(pulled.rejected, 0, "{pulled:?}");
    assert_eq!(phone.exports(), lead.exports());
}

/// A new volunteer joining a team with a thousand erasures behind it, on the same kind of link:
/// the invite's answer (about 1.5 MB of keys, which cannot come in pages) takes longer than a
/// sync's request may, and a join waits five times as long for it. The phone then syncs over
/// the same link.
#[test]
fn a_join_over_a_weak_signal_waits_for_a_large_invite() {
    use super::erasure::through_the_relay::{erased_so_often, invite_from, lead_and_canvasser};
    let relay = TestRelay::start();
    let (_, mut lead, _) = lead_and_canvasser(&relay);
    write_people(&mut lead, 5, 4);
    lead.sync();
    erased_so_often(&mut lead, 1_000);
    let invite = invite_from(&mut lead, 1);
    let target: SocketAddr = relay.url.trim_start_matches("http://").parse().unwrap();
    // 400 KB/s with a second and a half a request: the answer takes several seconds.
    let (proxy, _) = throttled_proxy(target, 2 * RATE);
    let slow = Relay::over(ReqwestWire::new().unwrap(), 3, Duration::from_millis(20))
        .with_patience(Duration::from_millis(1500));
    let mut phone = Device::new();
    let started = std::time::Instant::now();
    sync::join(
        &mut phone.store,
        &slow,
        &format!("http://{proxy}"),
        &invite,
        "Phone of a new volunteer",
    )
    .unwrap_or_else(|e| panic!("the join over the weak link failed: {e}"));
    assert!(
        started.elapsed() > Duration::from_millis(1500),
        "the answer came within a sync request's patience ({:?}): the test shows nothing",
        started.elapsed()
    );
    sync::sync_once(&mut phone.store, &slow, Budget::default()).unwrap();
    assert_eq!(phone.exports(), lead.exports());
}

/// A relay that answers every other request with a quick 503 and lets the others time out (a
/// relay at its connection cap behind a stalling link): the quick refusals teach the pace
/// nothing, the sync ends as an unreachable relay after a bounded number of requests rather
/// than asking again smaller for ever, and nothing learnt from timeouts alone is kept.
#[test]
fn a_relay_that_stalls_and_refuses_in_turn_ends_the_sync_and_teaches_nothing() {
    use groundwork::sync::relay::{Answer, Exchange, NoAnswer};
    struct Stalls {
        asked: std::rc::Rc<std::cell::Cell<u32>>,
    }
    impl groundwork::sync::Wire for Stalls {
        async fn exchange(&self, _request: &Exchange) -> Result<Answer, NoAnswer> {
            let n = self.asked.get() + 1;
            self.asked.set(n);
            if n > 200 {
                return Err("asked too often".into());
            }
            if n % 2 == 1 {
                Ok(Answer {
                    status: 503,
                    body: br#"{"error":"too many connections"}"#.to_vec(),
                    wire_bytes: 32,
                    news: Default::default(),
                })
            } else {
                Err(NoAnswer::TimedOut)
            }
        }
        async fn pause(&self, _wait: Duration) {}
    }
    let relay = TestRelay::start();
    let (_, invite) = relay.team(1);
    let mut phone = Device::joined(&relay.url, &invite, "Phone");
    phone.person("Waiting");
    phone.store.set_link_pace(1 << 20).unwrap();
    let asked = std::rc::Rc::new(std::cell::Cell::new(0));
    let stalls = Relay::over(
        Stalls {
            asked: asked.clone(),
        },
        3,
        Duration::ZERO,
    );
    let err = {
        let nb = std::cell::RefCell::new(&mut phone.store);
        sync::block_on(sync::engine::sync_once(&nb, &stalls, Budget::default())).unwrap_err()
    };
    assert!(err.is_offline() || err.to_string().contains("503"), "{err}");
    assert!(asked.get() < 40, "{} requests for one sync", asked.get());
    assert_eq!(phone.store.link_pace().unwrap(), Some(1 << 20));
    assert_eq!(phone.store.pending_changes().unwrap(), 1);
}

/// A phone on a weak signal whose app is killed every few seconds (a phone's system ends
/// a background app; a tab is closed): each sync used to ask again for the page size it had
/// learnt on a good link, a page that takes longer than the app lives, and never stored one.
/// A sync that never ended counts as a request that timed out: the next asks for a quarter as
/// much, and pages get through between kills.
#[test]
fn a_sync_killed_again_and_again_on_a_weak_link_still_gets_pages_through() {
    let relay = TestRelay::start();
    let (_, invite) = relay.team(2);
    let mut lead = Device::joined(&relay.url, &invite, "Lead's laptop");
    // About 1.1 MB: the learnt page (1 MiB) takes over five seconds through the proxy.
    let written = write_people(&mut lead, 100, 5);
    lead.sync();
    let mut phone = Device::joined(&relay.url, &invite, "Phone on the night bus");
    let target: SocketAddr = relay.url.trim_start_matches("http://").parse().unwrap();
    let (proxy, _) = throttled_proxy(target, RATE);
    through(&mut phone, proxy);
    // Learnt on a good link: a 1 MiB page, five seconds through this proxy.
    phone.store.set_link_pace(1 << 20).unwrap();
    let held = |phone: &Device| {
        written
            .iter()
            .filter(|p| phone.store.person(p).is_ok())
            .count()
    };
    // Each sync is killed after four seconds, less than the learnt page takes through the
    // proxy (over five): without the rule, no attempt ever stores a page.
    for _ in 0..8 {
        if held(&phone) > 0 {
            break;
        }
        let mut sync = std::process::Command::new(env!("CARGO_BIN_EXE_groundwork"))
            .arg("--data-dir")
            .arg(phone.dir())
            .arg("sync")
            .env_remove("GROUNDWORK_DATA_DIR")
            .env_remove("GROUNDWORK_PASSPHRASE")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_secs(4));
        let _ = sync.kill();
        let _ = sync.wait();
    }
    assert!(
        held(&phone) > 0,
        "no page arrived in eight syncs killed after 4 s"
    );
    // Left to finish, it gets the rest.
    phone.sync();
    assert_eq!(held(&phone), written.len());
    assert!(!phone.store.sync_under_way().unwrap(), "the sync ended");
}

/// A lead's snapshot too large for any request the weak link carries in time waits for a
/// better link (snapshots are optional), rather than going first in every request, timing
/// out and stalling the pull with it; back on a good link it goes within a few syncs.
#[test]
fn a_snapshot_too_large_for_a_weak_link_waits_for_a_better_one() {
    let relay = TestRelay::start();
    let (_, invite) = relay.lead_team();
    let mut lead = Device::joined(&relay.url, &invite, "Lead's laptop");
    // About 900 KB of story that compresses badly (six bits a character).
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let story: String = (0..900_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                    [(x % 64) as usize],
            )
        })
        .collect();
    let p = lead.person("Long story");
    lead.converse(&p, &story, &["ask"]);
    lead.sync();
    assert!(lead.store.make_snapshots_after(10, 1).unwrap() >= 1);
    let (waiting, _) = lead.store.snapshots_to_push(usize::MAX).unwrap();
    let big = waiting.iter().map(|o| o.bytes.len()).max().unwrap();
    assert!(
        big > 2 * RATE as usize,
        "a snapshot of {big} B takes over two seconds"
    );
    let target: SocketAddr = relay.url.trim_start_matches("http://").parse().unwrap();
    let (proxy, _) = throttled_proxy(target, RATE);
    through(&mut lead, proxy);
    sync::sync_once(&mut lead.store, &weak_transport(), Budget::default())
        .unwrap_or_else(|e| panic!("the sync over the weak link failed: {e}"));
    let (still, _) = lead.store.snapshots_to_push(usize::MAX).unwrap();
    assert_eq!(still.len(), waiting.len(), "the large snapshot waits");
    let mut link = lead.store.sync_state().unwrap().link.unwrap();
    link.relay_url = relay.url.clone();
    lead.store.set_relay_link(&link).unwrap();
    // Back on a good link the pace grows back, fourfold an answer, and the snapshot goes. The
    // lead goes on recording between syncs: pushes that fill the allowance show the link's
    // rate (answers of a few hundred bytes show mostly its latency, which on a busy machine
    // says little of what a larger request would take).
    let mut syncs = 0;
    let left = loop {
        write_people(&mut lead, 10, 100 + syncs);
        lead.sync();
        syncs += 1;
        let (left, _) = lead.store.snapshots_to_push(usize::MAX).unwrap();
        if left.is_empty() || syncs == 4 {
            break left;
        }
    };
    assert!(
        left.is_empty(),
        "{} snapshots still wait after {syncs} syncs ({big} B; pace {:?})",
        left.len(),
        lead.store.link_pace()
    );
}
