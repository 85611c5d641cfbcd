//! A TCP proxy on 127.0.0.1 that carries only so many bytes a second each way: a weak mobile
//! signal for the sync tests (`slow_link`) and the sync benchmark (`benches/sync.rs`, which
//! includes this file).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A TCP proxy to `target` carrying at most `rate` bytes a second in each direction of each
/// connection; counts the connections made through it.
pub fn throttled_proxy(target: SocketAddr, rate: u64) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(target) else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let (client_r, server_w) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || slowly(client_r, server_w, rate));
            std::thread::spawn(move || slowly(server, client, rate));
        }
    });
    (addr, connections)
}

/// Copy `from` to `to` at no more than `rate` bytes a second, until either side closes. A
/// link does not save up what it could have carried while idle: each chunk goes no earlier
/// than the last one's end plus its own time on the wire.
fn slowly(mut from: TcpStream, mut to: TcpStream, rate: u64) {
    let mut free_at = Instant::now();
    let mut buf = [0u8; 2048];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        free_at = free_at.max(Instant::now()) + Duration::from_secs_f64(n as f64 / rate as f64);
        if let Some(wait) = free_at.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(std::net::Shutdown::Both);
    let _ = to.shutdown(std::net::Shutdown::Both);
}
