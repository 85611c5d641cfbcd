//! `groundwork web` tried as an attacker would, over raw HTTP/1.1 on a TCP socket: another
//! web site's WebSocket, a foreign `Host` (DNS rebinding), and a notebook served to the network
//! without its token.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

/// A running `groundwork web`, stopped when dropped.
struct Web {
    child: Child,
    /// The link it printed.
    url: String,
    /// Where to connect (the printed address, with 0.0.0.0 replaced by loopback).
    connect: String,
    /// Its port.
    port: u16,
    /// Its stderr, line by line.
    stderr: Receiver<String>,
    /// Kept open so that the server can still write to it.
    _stdout: BufReader<ChildStdout>,
    _dir: tempfile::TempDir,
}

impl Drop for Web {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Web {
    fn start(listen: &str) -> Web {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_groundwork"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(["web", "--listen", listen])
            .env_remove("GROUNDWORK_DATA_DIR")
            .env_remove("GROUNDWORK_WEB_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the groundwork binary starts");
        let (tx, stderr) = mpsc::channel();
        let err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let url = stdout
            .by_ref()
            .lines()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("listening on ").map(str::to_string));
        let Some(url) = url else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("groundwork web exited without printing its address");
        };
        let authority = url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let port = authority
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_default();
        let connect = authority.replace("0.0.0.0", "127.0.0.1");
        Web {
            child,
            url,
            connect,
            port,
            stderr,
            _stdout: stdout,
            _dir: dir,
        }
    }

    /// Send `request` (a whole HTTP/1.1 request) and return the status and the response.
    fn send(&self, request: &str) -> (u16, String) {
        let mut s = TcpStream::connect(&self.connect).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s.write_all(request.as_bytes()).expect("send");
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        // Read the head, then as much body as it announces (an upgraded socket stays open).
        loop {
            let text = String::from_utf8_lossy(&got).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if text.starts_with("HTTP/1.1 101") || got.len() >= end + 4 + length {
                    let status = text[9..12].parse().expect("a status code");
                    return (status, text);
                }
            }
            let n = s.read(&mut buf).expect("read the response");
            assert!(
                n > 0,
                "connection closed early: {:?}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&buf[..n]);
        }
    }

    fn get(&self, path: &str, host: &str, extra: &str) -> (u16, String) {
        self.send(&format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n"
        ))
    }

    fn websocket(&self, host: &str, extra: &str) -> (u16, String) {
        self.send(&format!(
            "GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             {extra}\r\n"
        ))
    }
}

#[test]
fn on_loopback_only_the_notebooks_own_page_may_connect() {
    let web = Web::start("127.0.0.1:0");
    assert!(
        !web.url.contains("token"),
        "no token on loopback: {}",
        web.url
    );
    let host = web.connect.clone();
    let port = web.port;

    let (status, page) = web.get("/", &host, "");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Groundwork"), "{page}");
    assert_eq!(web.get("/", &format!("localhost:{port}"), "").0, 200);

    // Another web site's page opening the WebSocket: refused before the upgrade.
    let (status, reply) = web.websocket(&host, "Origin: http://evil.example\r\n");
    assert_eq!(status, 403, "{reply}");
    assert!(!reply.contains("101"), "{reply}");
    let (status, reply) = web.websocket(&host, "");
    assert_eq!(status, 403, "no Origin: {reply}");
    let (status, reply) = web.websocket(&host, &format!("Origin: http://{host}.evil\r\n"));
    assert_eq!(status, 403, "{reply}");

    // A name re-pointed at this machine (DNS rebinding): refused, page and WebSocket.
    let (status, reply) = web.get("/", "evil.example", "");
    assert!(matches!(status, 403 | 421), "{reply}");
    assert!(!reply.contains("<html"), "{reply}");
    let (status, reply) = web.get("/", &format!("evil.example:{port}"), "");
    assert!(matches!(status, 403 | 421), "{reply}");
    let (status, reply) = web.websocket(
        &format!("evil.example:{port}"),
        &format!("Origin: http://evil.example:{port}\r\n"),
    );
    assert!(matches!(status, 403 | 421), "{reply}");

    // The notebook's own page.
    let (status, reply) = web.websocket(&host, &format!("Origin: http://{host}\r\n"));
    assert_eq!(status, 101, "{reply}");
}

#[test]
fn on_the_network_the_notebook_opens_only_with_its_token() {
    let web = Web::start("0.0.0.0:0");
    let warning = web
        .stderr
        .recv_timeout(Duration::from_secs(10))
        .expect("a warning on stderr");
    assert!(
        warning.contains("warning") && warning.contains("network"),
        "{warning}"
    );
    let token = web
        .url
        .split_once("/?token=")
        .map(|(_, t)| t.to_string())
        .unwrap_or_else(|| panic!("the link carries a token: {}", web.url));
    assert!(token.len() >= 32, "{token}");
    let host = web.connect.clone();

    // Without the token, or with a wrong one: refused, page and WebSocket.
    let (status, reply) = web.get("/", &host, "");
    assert!(matches!(status, 401 | 403), "{reply}");
    assert!(!reply.contains("<html"), "{reply}");
    let wrong = format!("/?token={}", "0".repeat(token.len()));
    assert!(matches!(web.get(&wrong, &host, "").0, 401 | 403));
    let origin = format!("Origin: http://{host}\r\n");
    let (status, reply) = web.websocket(&host, &origin);
    assert!(matches!(status, 401 | 403), "{reply}");

    // With the link: served, and a cookie for the WebSocket and reloads.
    let (status, page) = web.get(&format!("/?token={token}"), &host, "");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Groundwork"), "{page}");
    let cookie = page
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("set-cookie")
                .then(|| value.trim())
        })
        .unwrap_or_else(|| panic!("a cookie is set: {page}"));
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let pair = cookie.split(';').next().expect("name=value");
    let with_cookie = format!("Cookie: {pair}\r\n");
    assert_eq!(web.get("/", &host, &with_cookie).0, 200);
    let (status, reply) = web.websocket(&host, &format!("{with_cookie}{origin}"));
    assert_eq!(status, 101, "{reply}");
    // The token does not excuse another site's page.
    let (status, reply) = web.websocket(
        &host,
        &format!("{with_cookie}Origin: http://evil.example\r\n"),
    );
    assert_eq!(status, 403, "{reply}");
}
