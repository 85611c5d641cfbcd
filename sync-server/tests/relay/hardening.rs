//! Issue 8, the relay's part: no device (or stranger) can exhaust the relay or hide anyone's
//! work. Slow and half-open connections, rate limits, per-team limits, cursors ahead of the log,
//! strict parsing, and the data directory's permissions.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use groundwork_protocol::{PushItem, SYNC_CONTENT_TYPE, SyncRequest, encode_sync_request};
use reqwest::blocking::Client;

use crate::common::{Device, Relay, error_message, gzip, http_client, item, raise_fd_limit};

fn addr(relay: &Relay) -> SocketAddr {
    relay
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("relay address")
}

/// Opens a connection and sends `bytes`, then leaves it open.
fn stall(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(bytes).expect("write");
    s
}

/// Reads until the relay closes the connection; `None` if it is still open after `patience`.
fn read_until_closed(s: &mut TcpStream, patience: Duration) -> Option<Vec<u8>> {
    s.set_read_timeout(Some(patience)).expect("timeout");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None;
            }
            // Reset by the relay: closed as well.
            Err(_) => return Some(out),
        }
    }
}

fn sync_head(token: &str, content_length: usize) -> Vec<u8> {
    format!(
        "POST /v1/sync HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: {SYNC_CONTENT_TYPE}\r\nContent-Length: {content_length}\r\n\r\n"
    )
    .into_bytes()
}

/// A sync as the app does it: a few attempts, since a kept-alive connection may be closed under
/// the client's feet (as any server may do) while the relay sheds load.
fn sync_with_retries(device: &mut Device, push: Vec<PushItem>) {
    let mut last = None;
    for _ in 0..3 {
        match device.sync(push.clone(), None) {
            Ok(resp) => {
                assert_eq!(resp.accepted.len(), push.len());
                return;
            }
            Err(e) => {
                last = Some(e);
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    panic!("honest sync failed: {last:?}");
}

#[test]
fn half_open_connections_do_not_stop_honest_devices() {
    raise_fd_limit();
    // The relay runs with the common default of 1,024 descriptors; today 1,100 stalled
    // connections exhaust them. Its connection cap (default 512) fits under that limit.
    let relay = Relay::start_with_nofile(&[], 1_024);
    let (_, mut devices) = relay.team_with_devices("Honest", 2);
    let (_, attackers) = relay.team_with_devices("Stalling", 1);
    let addr = addr(&relay);
    let mut stalled = Vec::new();
    for i in 0..1_100 {
        let s = if i % 10 == 0 {
            // Headers complete, then the body stalls.
            let mut head = sync_head(&attackers[0].token, 100_000);
            head.extend_from_slice(b"GWQ");
            stall(addr, &head)
        } else {
            stall(addr, b"POST /v1/sync HTTP/1.1\r\nHost: rel")
        };
        stalled.push(s);
    }
    let started = Instant::now();
    // New connections, opened while the stalled ones are held: a pooled connection from before
    // the attack would slip past it.
    let patience = Duration::from_secs(10);
    let mut reader = devices
        .pop()
        .expect("reader")
        .with_fresh_connections(patience);
    let mut writer = devices
        .pop()
        .expect("writer")
        .with_fresh_connections(patience);
    for round in 0..5 {
        sync_with_retries(&mut writer, vec![item("doc", &format!("change {round}"))]);
    }
    let pulled = reader.pull_all(None);
    assert_eq!(pulled.len(), 5, "the other device got every change");
    assert!(relay.healthy());
    // Only a guard against hanging, far above what a healthy relay needs.
    assert!(started.elapsed() < Duration::from_secs(60));
    drop(stalled);
}

#[test]
fn slow_heads_slow_bodies_and_idle_connections_are_closed() {
    let relay = Relay::start_with(&[
        "--header-read-timeout",
        "1s",
        "--body-read-timeout",
        "1s",
        "--idle-timeout",
        "1s",
    ]);
    let (_, devices) = relay.team_with_devices("Slow", 1);
    let addr = addr(&relay);
    let patience = Duration::from_secs(30);

    let mut half_head = stall(addr, b"POST /v1/sync HTTP/1.1\r\nHost: rel");
    assert!(
        read_until_closed(&mut half_head, patience).is_some(),
        "a connection that never finishes its head is closed"
    );

    let mut idle = TcpStream::connect(addr).expect("connect");
    assert!(
        read_until_closed(&mut idle, patience).is_some(),
        "a connection that sends nothing is closed"
    );

    let mut head = sync_head(&devices[0].token, 10_000);
    head.extend_from_slice(b"GWQ\x01");
    let mut slow_body = stall(addr, &head);
    let answer = read_until_closed(&mut slow_body, patience).expect("closed");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert!(
        error_message(body.as_bytes()).contains("too slowly"),
        "{body}"
    );
    assert!(relay.healthy());
}

/// Reads an HTTP/1.1 answer on `s` (sent with `Connection: close`) at about `per_tick` bytes
/// every `tick`, or not at all for `pause` first: the body's length and the length its head
/// announced.
fn read_slowly(
    s: &mut TcpStream,
    pause: Duration,
    per_tick: usize,
    tick: Duration,
) -> (usize, usize) {
    std::thread::sleep(pause);
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut out = Vec::new();
    let mut buf = vec![0u8; per_tick];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
        std::thread::sleep(tick);
    }
    let head_end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an answer's head")
        + 4;
    let head = String::from_utf8_lossy(&out[..head_end]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let announced = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("content-length");
    (out.len() - head_end, announced)
}

/// A phone on a weak signal takes an answer slowly: while its bytes move, the connection is not
/// idle (the relay closed it one idle limit after the answer was made, cutting the answer short:
/// a page or the app's wasm that takes longer than that to download never arrived whole). A
/// client that stops reading is still closed after the idle limit.
/// A relay with an idle limit of one second serving an app directory whose `big.png` holds
/// `len` incompressible bytes: the relay (with the directory it needs) and those bytes.
fn relay_serving_a_big_file(len: usize) -> (Relay, tempfile::TempDir, Vec<u8>) {
    let app = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        app.path().join("index.html"),
        "<!doctype html><title>app</title>",
    )
    .expect("index");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let big: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(app.path().join("big.png"), &big).expect("big file");
    let app_dir = app.path().to_str().expect("path");
    let relay = Relay::start_with(&["--idle-timeout", "1s", "--app", app_dir]);
    (relay, app, big)
}

#[test]
fn a_slow_download_is_not_cut_off_while_its_bytes_move() {
    // More than the sockets' buffers hold (on loopback, Linux lets them grow to about 10 MiB
    // together).
    let (relay, _app, big) = relay_serving_a_big_file(24 << 20);
    let get = || {
        stall(
            addr(&relay),
            b"GET /big.png HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n",
        )
    };
    // About 4 s for 24 MiB, read steadily.
    let (got, announced) = read_slowly(
        &mut get(),
        Duration::ZERO,
        128 << 10,
        Duration::from_millis(20),
    );
    assert_eq!(announced, big.len());
    assert_eq!(got, big.len(), "the whole file arrived");
    // Nothing read for three idle limits: closed, the rest never sent.
    let (got, _) = read_slowly(&mut get(), Duration::from_secs(3), 1 << 20, Duration::ZERO);
    assert!(
        got < big.len(),
        "a client that stopped reading was closed ({got} bytes)"
    );
    assert!(relay.healthy());
}

/// A client that reads steadily but slowly, slower than the sockets' buffers drain within the
/// idle limit: the relay's writes wait until much of the kernel's send buffer has gone, longer
/// than the idle limit, and the relay closed the connection as idle in the middle of the answer
/// (a phone on a weak signal never got a large page or invite). The kernel's queue going down
/// keeps it open.
#[test]
fn a_steady_reader_slower_than_the_buffers_drain_gets_the_whole_answer() {
    let (relay, _app, big) = relay_serving_a_big_file(6 << 20);
    let mut s = stall(
        addr(&relay),
        b"GET /big.png HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n",
    );
    // About a megabyte a second: six seconds for the file.
    let (got, announced) = read_slowly(&mut s, Duration::ZERO, 16 << 10, Duration::from_millis(15));
    assert_eq!(announced, big.len());
    assert_eq!(got, big.len(), "the whole file arrived");
    assert!(relay.healthy());
}

/// An answer the relay gives before it has read a large request's body (413 for a body larger
/// than it takes, 401 for a token it does not know) reaches the client, though the client is
/// still sending: the relay reads and throws away the rest for a moment before it closes.
/// Closed at once, with bytes unread, the connection was reset under the client's upload,
/// which it reported as a relay it could not reach (a lead whose invite was too large for its
/// relay was told just that).
#[test]
fn an_answer_given_before_a_large_body_was_read_reaches_the_client() {
    let relay = Relay::start();
    let (_, devices) = relay.team_with_devices("Early answers", 1);
    let body = vec![b'x'; 12 << 20];
    for (token, status) in [(devices[0].token.as_str(), 413), ("not-a-token", 401)] {
        // Forty uploads: without the lingering close, three runs in five lost an answer to a
        // reset with two busy loops beside them (none with it, in eight).
        for _ in 0..20 {
            let resp = Client::new()
                .post(format!("{}/v1/sync", relay.url))
                .header("content-type", SYNC_CONTENT_TYPE)
                .bearer_auth(token)
                .body(body.clone())
                .send()
                .expect("an answer, not a connection reset");
            assert_eq!(resp.status(), status);
            let message = error_message(&resp.bytes().expect("body"));
            assert!(!message.is_empty());
        }
    }
    assert!(relay.healthy());
}

/// A request refused for want of room in the body budget (503) is answered before its body is
/// read, as a 413 is: the client, still sending, reads the refusal and its Retry-After rather
/// than a reset it would report as a relay it cannot reach. (The connection now lingers after
/// this answer as after a 413; on this machine the answer also arrived in three runs without
/// that, so this checks what the client gets, not that a reset would have lost it.)
#[test]
fn a_refusal_for_want_of_room_reaches_a_client_still_sending() {
    let relay = Relay::start_with(&[
        "--max-body-bytes",
        "16MiB",
        "--max-inflight-body-bytes",
        "16MiB",
    ]);
    let (_, devices) = relay.team_with_devices("Budget answers", 2);
    let addr = addr(&relay);
    // One request declares a 16 MiB body and sends 3 bytes of it: it holds the whole budget.
    let mut head = sync_head(&devices[0].token, 16 << 20);
    head.extend_from_slice(b"GWQ");
    let hog = stall(addr, &head);
    std::thread::sleep(Duration::from_millis(300));
    let token = devices[1].token.clone();
    let url = relay.url.clone();
    // Eight uploads of 12 MiB at once, each waiting its 5 s for room with its body half sent.
    let uploads: Vec<_> = (0..8)
        .map(|_| {
            let (token, url) = (token.clone(), url.clone());
            std::thread::spawn(move || {
                let resp = Client::builder()
                    .timeout(Duration::from_secs(60))
                    .build()
                    .expect("client")
                    .post(format!("{url}/v1/sync"))
                    .header("content-type", SYNC_CONTENT_TYPE)
                    .bearer_auth(token)
                    .body(vec![b'x'; 12 << 20])
                    .send()
                    .map_err(|e| format!("{e:?}"))?;
                let status = resp.status().as_u16();
                let retry = resp
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap_or_default().to_string());
                let body = resp.bytes().map_err(|e| format!("{e:?}"))?;
                Ok::<_, String>((status, retry, error_message(&body)))
            })
        })
        .collect();
    for upload in uploads {
        let (status, retry, message) = upload
            .join()
            .expect("upload thread")
            .expect("an answer, not a connection reset");
        assert_eq!(status, 503, "{message}");
        assert!(retry.is_some(), "a Retry-After with the 503");
        assert!(message.contains("too much data"), "{message}");
    }
    drop(hog);
    assert!(relay.healthy());
}

/// Connections lingering after an early answer (their clients still sending) hold no slot a
/// newcomer needs: with every slot taken by them, a newcomer evicts one and is served, where a
/// lingering connection deaf to eviction had it wait and refused it (503).
#[test]
fn lingering_connections_make_room_for_newcomers() {
    let relay = Relay::start_with(&["--max-connections", "2"]);
    let addr = addr(&relay);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Two strangers pushing bodies the relay refuses unread (401), a piece every 100 ms.
    let senders: Vec<_> = (0..2)
        .map(|_| {
            let stop = std::sync::Arc::clone(&stop);
            let mut s = stall(addr, &sync_head("not-a-token", 50 << 20));
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    if s.write_all(&[b'x'; 1024]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(400));
    let mut newcomer = stall(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n",
    );
    let answer = read_until_closed(&mut newcomer, Duration::from_secs(10)).expect("closed");
    let text = String::from_utf8_lossy(&answer).into_owned();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for sender in senders {
        sender.join().expect("sender");
    }
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

#[test]
fn enrolment_attempts_are_rate_limited_per_address() {
    let relay = Relay::start_with(&["--enrol-per-minute", "60", "--enrol-burst", "3"]);
    let (_, invite) = relay.team("Brute force");
    let http = Client::new();
    let attempt = |code: &str| {
        http.post(format!("{}/v1/enrol", relay.url))
            .header("content-type", "application/json")
            .body(format!(
                "{{\"invite\": \"{code}\", \"device_name\": \"guess\"}}"
            ))
            .send()
            .expect("POST")
    };
    for i in 0..3 {
        let resp = attempt(&format!("aaaa-bbbb-cccc-{i:04}"));
        assert_eq!(resp.status(), 401);
    }
    let resp = attempt("aaaa-bbbb-cccc-9999");
    assert_eq!(resp.status(), 429);
    let wait: u64 = resp
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    let message = error_message(&resp.bytes().expect("body"));
    assert!(message.contains("invite code"), "{message}");
    // Even the right code waits its turn ...
    assert_eq!(attempt(&invite).status(), 429);
    // ... and works once the window has passed.
    std::thread::sleep(Duration::from_secs(wait + 1));
    relay
        .enrol(&invite, "Sam's phone")
        .expect("enrols after the wait");
}

#[test]
fn enrolment_bodies_are_small_and_a_full_relay_says_so() {
    let relay = Relay::start_with(&["--max-connections", "2"]);
    let (_, devices) = relay.team_with_devices("Full house", 1);
    let resp = Client::new()
        .post(format!("{}/v1/enrol", relay.url))
        .header("content-type", "application/json")
        .body(format!(
            "{{\"invite\": \"{}\", \"device_name\": \"x\"}}",
            "a".repeat(100_000)
        ))
        .send();
    assert_eq!(resp.expect("an answer").status(), 413);
    // Both slots in the middle of a request (a body that stalls): a newcomer is told to retry.
    let addr = addr(&relay);
    let stalled_body = || {
        let mut head = sync_head(&devices[0].token, 10_000);
        head.extend_from_slice(b"GWQ");
        stall(addr, &head)
    };
    let mut busy = vec![stalled_body(), stalled_body()];
    let mut refused = None;
    // The relay marks a connection busy once its head is parsed; should a newcomer arrive
    // before that and take a slot, stall another body and ask again.
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(200));
        let mut newcomer = stall(
            addr,
            b"GET /healthz HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n",
        );
        let answer = read_until_closed(&mut newcomer, Duration::from_secs(30)).expect("closed");
        let text = String::from_utf8_lossy(&answer).into_owned();
        if text.starts_with("HTTP/1.1 503") {
            refused = Some(text);
            break;
        }
        busy.push(stalled_body());
    }
    let text = refused.expect("a newcomer is refused while every slot is in a request");
    assert!(text.contains("retry-after: 5"), "{text}");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert!(error_message(body.as_bytes()).contains("connection limit"));
    drop(busy);
}

#[test]
fn bodies_in_flight_have_a_memory_budget() {
    let relay = Relay::start_with(&[
        "--max-body-bytes",
        "64KiB",
        "--max-inflight-body-bytes",
        "64KiB",
    ]);
    let (_, mut devices) = relay.team_with_devices("Budget", 2);
    let addr = addr(&relay);
    // One request declares a 64 KiB body and sends 3 bytes of it: it holds the whole budget.
    let mut head = sync_head(&devices[0].token, 64 * 1024);
    head.extend_from_slice(b"GWQ");
    let hog = stall(addr, &head);
    let mut other = devices
        .pop()
        .expect("device")
        .with_fresh_connections(Duration::from_secs(30));
    // The hog's reservation is made once the relay has read its head, which a busy machine may
    // take a moment to do: until then a push may still get through.
    let refused_while_held = |other: &mut Device, what: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let (status, message) = loop {
            match other.sync(vec![item("doc", "waits for room")], None) {
                Err(refused) => break refused,
                Ok(_) => {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "pushes still get through while {what} holds the budget"
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        };
        assert_eq!(status, 503, "{what}: {message}");
        assert!(message.contains("too much data"), "{message}");
    };
    refused_while_held(&mut other, "a stalled body");
    // Bodiless requests need no room.
    assert!(relay.healthy());
    // Once the hog is gone its reservation is returned.
    drop(hog);
    sync_with_retries(&mut other, vec![item("doc", "room again")]);

    // A gzip body declaring 2 KiB on the wire may inflate to 64 KiB (at least 64 KiB, at most
    // 64 times its length): it reserves that much (here the whole budget), not its 2 KiB.
    let mut head = sync_head(&devices[0].token, 2 * 1024);
    let at = head.len() - 2;
    head.splice(at..at, b"Content-Encoding: gzip\r\n".iter().copied());
    head.extend_from_slice(&[0x1f, 0x8b, 0x08]);
    let gzip_hog = stall(addr, &head);
    refused_while_held(&mut other, "a stalled gzip body");
    drop(gzip_hog);
    sync_with_retries(&mut other, vec![item("doc", "room once more")]);
}

/// Enrolment reads at most 16 KiB, and needs no token: a stranger's enrolments sent chunked,
/// with no length, then stalled, each reserved the largest body (here the whole budget) until
/// its body timed out, and every team's pushes were refused meanwhile. A request reserves no
/// more than its route reads.
#[test]
fn stalled_enrolments_without_a_length_do_not_take_the_budget_from_pushes() {
    let relay = Relay::start_with(&[
        "--max-body-bytes",
        "1MiB",
        "--max-inflight-body-bytes",
        "1MiB",
    ]);
    let (_, mut devices) = relay.team_with_devices("Budget", 1);
    let addr = addr(&relay);
    let stalled: Vec<TcpStream> = (0..4)
        .map(|_| {
            stall(
                addr,
                b"POST /v1/enrol HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n\
                  Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n",
            )
        })
        .collect();
    // Their heads read (a busy machine may take a moment), a push still finds room.
    std::thread::sleep(Duration::from_millis(500));
    let mut honest = devices
        .pop()
        .expect("device")
        .with_fresh_connections(Duration::from_secs(30));
    let pushed = honest.sync(vec![item("doc", "room for honest work")], None);
    assert!(pushed.is_ok(), "{pushed:?}");
    drop(stalled);
}

#[test]
fn behind_a_proxy_clients_are_told_apart_by_forwarded_for_only_when_trusted() {
    let attempt = |relay: &Relay, client: &str| {
        Client::new()
            .post(format!("{}/v1/enrol", relay.url))
            .header("content-type", "application/json")
            .header("x-forwarded-for", format!("198.51.100.1, {client}"))
            .body("{\"invite\": \"aaaa-bbbb\", \"device_name\": \"guess\"}")
            .send()
            .expect("POST")
            .status()
            .as_u16()
    };
    let limits = ["--enrol-per-minute", "1", "--enrol-burst", "1"];
    let trusting = Relay::start_with(&[&limits[..], &["--trust-proxy-headers", "true"]].concat());
    assert_eq!(attempt(&trusting, "203.0.113.1"), 401);
    assert_eq!(attempt(&trusting, "203.0.113.1"), 429);
    assert_eq!(
        attempt(&trusting, "203.0.113.2"),
        401,
        "another client behind the same proxy has its own bucket"
    );
    let direct = Relay::start_with(&limits);
    assert_eq!(attempt(&direct, "203.0.113.1"), 401);
    assert_eq!(
        attempt(&direct, "203.0.113.2"),
        429,
        "the header is ignored unless trusted"
    );
}

#[test]
fn failed_authentication_is_rate_limited_but_valid_tokens_are_not() {
    let relay = Relay::start_with(&["--failed-auth-per-minute", "1", "--failed-auth-burst", "3"]);
    let (_, mut devices) = relay.team_with_leads("Tokens", 1);
    let body = encode_sync_request(&SyncRequest::default()).expect("encodes");
    for _ in 0..3 {
        let (status, _) = relay.post_sync_raw(Some("gwt_guess"), &[], body.clone());
        assert_eq!(status, 401);
    }
    let resp = http_client()
        .post(format!("{}/v1/sync", relay.url))
        .bearer_auth("gwt_guess")
        .header("content-type", SYNC_CONTENT_TYPE)
        .body(body.clone())
        .send()
        .expect("POST");
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_some());
    let message = error_message(&resp.bytes().expect("body"));
    assert!(message.contains("enrol"), "{message}");
    let (status, _) = relay.http_get_with_token("/v1/devices", "gwt_guess");
    assert_eq!(status, 429, "every authenticated route counts failures");
    // The same address with a valid token is served.
    devices[0]
        .sync(vec![item("doc", "still works")], None)
        .expect("a valid token is never throttled");
    let (status, _) = relay.http_get_with_token("/v1/devices", &devices[0].token);
    assert_eq!(status, 200);
    // The operator's log says so, in plain text: it is a file, not a terminal, so no colour
    // codes (they were written whatever the log went to).
    let log = std::fs::read(relay.data_dir.with_extension("log")).expect("the relay's log");
    let text = String::from_utf8_lossy(&log);
    assert!(
        text.contains("failed authentications over the limit"),
        "{text}"
    );
    assert!(!log.contains(&0x1b), "no escape codes: {text:?}");
}

/// A stored blob costs the relay its row too (its id, the row, its index entries): counted by
/// its bytes alone, a member pushing thousands of 4-byte blobs filled some 25 times the team's
/// quota on disk. Each now counts 128 bytes more than it carries.
#[test]
fn tiny_blobs_count_their_rows_against_the_quota() {
    let relay = Relay::start_with(&[
        "--max-team-bytes",
        "64KiB",
        "--max-changes-per-request",
        "100",
    ]);
    // A lead's device: a canvasser's would be refused at half the quota, its share.
    let (_, mut devices) = relay.team_with_leads("Tiny", 1);
    let mut stored = 0;
    let refused = loop {
        let batch: Vec<PushItem> = (0..100)
            .map(|i| PushItem::new("d", format!("{:04}", stored + i).into_bytes()))
            .collect();
        match devices[0].sync(batch, None) {
            Ok(_) => stored += 100,
            Err((status, _)) => break status,
        }
        assert!(stored <= 13_000, "the quota never filled");
    };
    assert_eq!(refused, 507);
    // 64 KiB at 4 + 1 + 128 bytes a blob: 492 would fit (pushed a hundred at a time, 400 are
    // stored), not the 13,107 their bytes alone would allow.
    assert!((400..=500).contains(&stored), "{stored} tiny blobs stored");
}

#[test]
fn a_team_cannot_store_more_than_its_quota() {
    let relay = Relay::start_with(&[
        "--max-team-bytes",
        "4KiB",
        "--max-changes-per-request",
        "10",
    ]);
    // Leads' devices: a canvasser's is refused at half the quota, its share (tests in
    // `shares`).
    let (_, mut full) = relay.team_with_leads("Full", 1);
    let (_, mut other) = relay.team_with_leads("Other", 1);
    let first = PushItem::new("doc", vec![1; 3_000]);
    full[0].sync(vec![first.clone()], None).expect("fits");
    let (status, message) = full[0]
        .sync(vec![PushItem::new("doc", vec![2; 2_000])], None)
        .expect_err("over the quota");
    assert_eq!(status, 507);
    assert!(message.contains("full"), "{message}");
    assert!(message.contains("relay"), "{message}");
    // Pushing what is already stored costs nothing and is acknowledged again.
    full[0].sync(vec![first], None).expect("idempotent push");
    // Other teams are not affected.
    other[0]
        .sync(vec![PushItem::new("doc", vec![3; 2_500])], None)
        .expect("another team has its own quota");

    let many: Vec<PushItem> = (0..11).map(|i| item("doc", &format!("c{i}"))).collect();
    let (status, message) = other[0].sync(many, None).expect_err("too many changes");
    assert_eq!(status, 413);
    assert!(message.contains("at most 10"), "{message}");
    let ten: Vec<PushItem> = (0..10).map(|i| item("doc", &format!("c{i}"))).collect();
    other[0].sync(ten, None).expect("ten is fine");
}

#[test]
fn a_cursor_ahead_of_the_log_is_an_error() {
    let relay = Relay::start();
    let (_, mut devices) = relay.team_with_devices("Restored", 2);
    devices[0]
        .sync(vec![item("doc", "one"), item("doc", "two")], None)
        .expect("push");
    let mut ahead = devices[1].clone();
    ahead.cursor = 1_000;
    let (status, message) = ahead.sync(Vec::new(), None).expect_err("ahead");
    assert_eq!(status, 400);
    assert!(message.contains("ahead of the relay"), "{message}");
    assert!(message.contains("backup"), "{message}");
    ahead.cursor = 2;
    ahead.sync(Vec::new(), None).expect("at the head is fine");
}

#[test]
fn strict_parsing_of_bodies_and_headers() {
    let relay = Relay::start();
    let (_, devices) = relay.team_with_devices("Strict", 1);
    let token = devices[0].token.as_str();
    let plain = encode_sync_request(&SyncRequest {
        since: 0,
        push: vec![item("doc", "fine")],
        max_bytes: None,
        actor: devices[0].actor.clone(),
    })
    .expect("encodes");

    let mut trailing = gzip(&plain);
    trailing.extend_from_slice(b"trailing junk");
    let (status, body) =
        relay.post_sync_raw(Some(token), &[("content-encoding", "gzip")], trailing);
    assert_eq!(status, 400);
    assert!(error_message(&body).contains("after the gzip"));

    let http = http_client();
    for content_type in [None, Some("application/json"), Some("text/plain")] {
        let mut req = http
            .post(format!("{}/v1/sync", relay.url))
            .bearer_auth(token)
            .body(plain.clone());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = req.send().expect("POST");
        assert_eq!(resp.status(), 415, "{content_type:?}");
        let message = error_message(&resp.bytes().expect("body"));
        assert!(message.contains(SYNC_CONTENT_TYPE), "{message}");

        let mut req = http
            .post(format!("{}/v1/enrol", relay.url))
            .body("{\"invite\": \"x\", \"device_name\": \"y\"}");
        if let Some(ct) = content_type.filter(|ct| *ct != "application/json") {
            req = req.header("content-type", ct);
        }
        let resp = req.send().expect("POST");
        assert_eq!(resp.status(), 415, "enrol with {content_type:?}");
        let message = error_message(&resp.bytes().expect("body"));
        assert!(message.contains("application/json"), "{message}");
    }

    for doc_id in ["", "   ", "doc\n1", "doc\u{7}"] {
        let bad = encode_sync_request(&SyncRequest {
            since: 0,
            push: vec![item(doc_id, "a change")],
            max_bytes: None,
            actor: devices[0].actor.clone(),
        })
        .expect("encodes");
        let (status, body) = relay.post_sync_raw(Some(token), &[], bad);
        assert_eq!(status, 400, "{doc_id:?}");
        assert!(error_message(&body).contains("document id"));
    }
    assert!(relay.healthy());
}

#[test]
fn device_names_with_direction_overrides_are_refused() {
    let relay = Relay::start();
    let (team, first) = relay.team("Names");
    relay.enrol(&first, "Lead").expect("the lead enrols");
    let invite = relay.invite(&team, &["--uses", "10"]);
    for name in [
        "Sam\u{202E}enohp s'xelA",
        "Sam\u{2066}phone",
        "Sam\u{200F}",
        "Sam\u{061C}",
        "tab\tname",
    ] {
        let (status, message) = relay.enrol(&invite, name).expect_err(name);
        assert_eq!(status, 400, "{name:?}");
        assert!(message.contains("device_name"), "{message}");
    }
    relay
        .enrol(&invite, "هاتف سام")
        .expect("right-to-left text itself is fine");
}

#[cfg(unix)]
#[test]
fn the_data_directory_is_private() {
    if crate::common::sqlite_only("the data directory is private") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let relay = Relay::start();
    let (_, mut devices) = relay.team_with_devices("Private", 1);
    devices[0]
        .sync(vec![item("doc", "secret")], None)
        .expect("push");
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(&relay.data_dir), 0o700);
    for entry in std::fs::read_dir(&relay.data_dir).expect("read dir") {
        let path = entry.expect("entry").path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
}
