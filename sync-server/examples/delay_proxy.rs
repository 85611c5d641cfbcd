//! A database on another machine, on one machine: forwards TCP connections on 127.0.0.1 to a
//! Unix socket (PostgreSQL's), holding every chunk of bytes for a fixed delay in each
//! direction, so that each round trip between the relay and the database costs what a network
//! hop would. For benchmarks only (`sync-server/scripts/load-remote-db.sh`).
//!
//! ```sh
//! cargo run --release -p sync-server --example delay_proxy -- PORT SOCKET DELAY_MICROSECONDS
//! ```

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [port, socket, delay] = args.as_slice() else {
        eprintln!("usage: delay_proxy PORT SOCKET DELAY_MICROSECONDS");
        std::process::exit(2);
    };
    let (Ok(port), Ok(delay)) = (port.parse::<u16>(), delay.parse::<u64>()) else {
        eprintln!("PORT and DELAY_MICROSECONDS are numbers");
        std::process::exit(2);
    };
    let delay = Duration::from_micros(delay);
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    println!("forwarding 127.0.0.1:{port} to {socket}, {delay:?} each way");
    for client in listener.incoming().flatten() {
        let Ok(server) = UnixStream::connect(socket) else {
            eprintln!("cannot connect to {socket}");
            continue;
        };
        let _ = client.set_nodelay(true);
        let (Ok(client_w), Ok(server_w)) = (client.try_clone(), server.try_clone()) else {
            continue;
        };
        std::thread::spawn(move || {
            pump(client, server_w, delay);
        });
        std::thread::spawn(move || {
            pump(server, TcpWriter(client_w), delay);
        });
    }
}

/// A TCP stream's writing half that closes its direction when dropped.
struct TcpWriter(TcpStream);

impl Write for TcpWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl Drop for TcpWriter {
    fn drop(&mut self) {
        let _ = self.0.shutdown(Shutdown::Write);
    }
}

/// Copies `from` into `to`, each chunk after `delay`, until `from` ends.
fn pump(mut from: impl Read, mut to: impl Write, delay: Duration) {
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        std::thread::sleep(delay);
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}
