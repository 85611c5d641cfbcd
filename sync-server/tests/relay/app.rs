//! `serve --app DIR`: the built web app at `/` next to the API, with its caching, types,
//! security headers and compression, no way out of `DIR`, and no change without the flag.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use groundwork_protocol::SyncRequest;
use tempfile::TempDir;

use crate::common::{BIN, Relay, error_message, gunzip, http_client};

const INDEX: &str = "<!doctype html><html><head><title>Groundwork</title></head>\
    <body><script type=\"module\" src=\"/app-5f3e2a.js\"></script></body></html>\n";
const SECRET: &str = "outside the app directory";

/// A temporary directory with `app/` (a small built app) and `outside/secret.txt` next to it.
fn app_dir() -> TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = tmp.path().join("app");
    std::fs::create_dir_all(app.join("assets")).expect("app dir");
    std::fs::write(app.join("index.html"), INDEX).expect("index");
    std::fs::write(
        app.join("sw.js"),
        "self.addEventListener('fetch', () => {});\n",
    )
    .expect("sw");
    let script = "export function start() { return 'groundwork'; }\n".repeat(200);
    std::fs::write(app.join("app-5f3e2a.js"), script).expect("js");
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.extend(vec![7u8; 4096]);
    std::fs::write(app.join("assets/groundwork_bg-9c1d0b2e3f4a5b6c.wasm"), wasm).expect("wasm");
    std::fs::write(
        app.join("manifest.webmanifest"),
        "{\"name\":\"Groundwork\"}",
    )
    .expect("manifest");
    std::fs::create_dir_all(tmp.path().join("outside")).expect("outside");
    std::fs::write(tmp.path().join("outside/secret.txt"), SECRET).expect("secret");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(tmp.path().join("outside/secret.txt"), app.join("leak.txt"))
            .expect("file symlink");
        std::os::unix::fs::symlink(tmp.path().join("outside"), app.join("out")).expect("dir link");
    }
    tmp
}

fn start(tmp: &TempDir) -> Relay {
    let app = tmp.path().join("app");
    Relay::start_with(&["--app", app.to_str().expect("utf-8 path")])
}

fn header(resp: &reqwest::blocking::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Sends `GET path` exactly as written (no client-side normalisation of `..`); returns the
/// status and the raw bytes of the answer.
fn raw_get(relay: &Relay, path: &str) -> (u16, String) {
    let addr = relay.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[test]
fn index_deep_links_and_files_are_served_with_their_headers() {
    let tmp = app_dir();
    let relay = start(&tmp);

    let resp = relay.get("/");
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "cache-control"), "no-cache");
    assert!(header(&resp, "content-type").starts_with("text/html"));
    assert_eq!(header(&resp, "x-content-type-options"), "nosniff");
    let csp = header(&resp, "content-security-policy");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval';"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(resp.text().expect("text"), INDEX);

    let resp = relay.get("/people/0192f0c4-7b1e-7c3a-9d2e-3f4a5b6c7d8e");
    assert_eq!(resp.status(), 200, "a deep link answers the app shell");
    assert_eq!(header(&resp, "cache-control"), "no-cache");
    assert_eq!(resp.text().expect("text"), INDEX);

    let resp = relay.get("/assets/groundwork_bg-9c1d0b2e3f4a5b6c.wasm");
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-type"), "application/wasm");
    assert_eq!(
        header(&resp, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(header(&resp, "x-content-type-options"), "nosniff");
    assert!(resp.bytes().expect("bytes").starts_with(b"\0asm"));

    let resp = relay.get("/sw.js");
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "cache-control"), "no-cache");
    assert!(header(&resp, "content-type").starts_with("text/javascript"));

    let resp = relay.get("/manifest.webmanifest");
    assert_eq!(header(&resp, "content-type"), "application/manifest+json");
    assert_eq!(
        header(&resp, "cache-control"),
        "no-cache",
        "a name without a content hash is revalidated"
    );

    let resp = relay.get("/missing-0000.js");
    assert_eq!(resp.status(), 404, "a missing file is not the shell");

    let resp = http_client()
        .head(format!("{}/app-5f3e2a.js", relay.url))
        .send()
        .expect("HEAD");
    assert_eq!(resp.status(), 200);
    assert!(header(&resp, "content-type").starts_with("text/javascript"));
    assert!(resp.bytes().expect("bytes").is_empty());
}

#[test]
fn files_are_gzipped_when_the_client_accepts_it() {
    let tmp = app_dir();
    let relay = start(&tmp);
    let plain = std::fs::read(tmp.path().join("app/app-5f3e2a.js")).expect("js");
    let resp = http_client()
        .get(format!("{}/app-5f3e2a.js", relay.url))
        .header("accept-encoding", "gzip")
        .send()
        .expect("GET");
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-encoding"), "gzip");
    assert!(header(&resp, "vary").contains("accept-encoding"));
    let body = resp.bytes().expect("bytes");
    assert!(body.len() < plain.len());
    assert_eq!(gunzip(&body), plain);

    let resp = relay.get("/app-5f3e2a.js");
    assert_eq!(
        header(&resp, "content-encoding"),
        "",
        "not asked: not gzipped"
    );
    assert_eq!(resp.bytes().expect("bytes").as_ref(), plain.as_slice());
}

#[test]
fn a_copy_compressed_by_the_build_is_sent_when_the_client_accepts_its_coding() {
    let tmp = app_dir();
    let wasm = tmp
        .path()
        .join("app/assets/groundwork_bg-9c1d0b2e3f4a5b6c.wasm");
    let plain = std::fs::read(&wasm).expect("wasm");
    // Stand-ins the relay cannot tell from real brotli and zopfli output: it never recompresses
    // or checks them, it sends them as they are.
    let br = b"brotli bytes of the wasm".to_vec();
    let gz = b"zopfli bytes of the wasm".to_vec();
    let mut name = wasm.clone().into_os_string();
    name.push(".br");
    std::fs::write(&name, &br).expect("br");
    let mut name = wasm.into_os_string();
    name.push(".gz");
    std::fs::write(&name, &gz).expect("gz");
    let relay = start(&tmp);
    let path = "/assets/groundwork_bg-9c1d0b2e3f4a5b6c.wasm";
    let fetch = |accept: &str| {
        let resp = http_client()
            .get(format!("{}{path}", relay.url))
            .header("accept-encoding", accept)
            .send()
            .expect("GET");
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "content-type"), "application/wasm");
        let coding = header(&resp, "content-encoding");
        (coding, resp.bytes().expect("bytes").to_vec())
    };
    assert_eq!(fetch("gzip, deflate, br"), ("br".to_string(), br));
    assert_eq!(fetch("gzip"), ("gzip".to_string(), gz));
    assert_eq!(
        fetch("br;q=0, gzip"),
        ("gzip".to_string(), b"zopfli bytes of the wasm".to_vec())
    );
    assert_eq!(fetch("identity"), (String::new(), plain));
}

#[test]
fn the_api_answers_as_before_next_to_the_app() {
    let tmp = app_dir();
    let relay = start(&tmp);
    assert!(relay.healthy());
    let body = groundwork_protocol::encode_sync_request(&SyncRequest::default()).expect("encode");
    let (status, body) = relay.post_sync_raw(None, &[], body);
    assert_eq!(status, 401);
    assert!(error_message(&body).contains("Bearer"));
    let resp = relay.get("/v1/nothing-here");
    assert_eq!(resp.status(), 404, "unknown API paths stay JSON 404s");
    assert!(header(&resp, "content-type").contains("json"));
    let resp = http_client()
        .post(format!("{}/people/x", relay.url))
        .send()
        .expect("POST");
    assert_eq!(resp.status(), 404, "only GET and HEAD reach the app");
}

#[test]
fn nothing_outside_the_app_directory_is_served() {
    let tmp = app_dir();
    let relay = start(&tmp);
    for path in [
        "/../outside/secret.txt",
        "/assets/../../outside/secret.txt",
        "/%2e%2e/outside/secret.txt",
        "/%2E%2E%2Foutside%2Fsecret.txt",
        "/assets/..%2f..%2foutside%2fsecret.txt",
        "/..%5coutside%5csecret.txt",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "/leak.txt",
        "/out/secret.txt",
        "/assets/",
        "/assets",
        "/.well-hidden.txt",
    ] {
        let (status, answer) = raw_get(&relay, path);
        assert!(
            !answer.contains(SECRET) && !answer.contains("root:"),
            "{path} leaked: {answer}"
        );
        let listing = answer.contains("groundwork_bg-9c1d0b2e3f4a5b6c.wasm");
        assert!(!listing, "{path} listed a directory: {answer}");
        assert!(
            matches!(status, 400 | 404) || answer.contains("<title>Groundwork</title>"),
            "{path}: {status} {answer}"
        );
    }
    let (status, _) = raw_get(&relay, "/%2e%2e/outside/secret.txt");
    assert_eq!(status, 400);
    let (status, _) = raw_get(&relay, "/leak.txt");
    assert_eq!(
        status, 404,
        "a symlink out of the app directory is not followed"
    );
}

fn serve_fails(app: &Path) -> String {
    let data = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path().join("data"))
        .arg("--app")
        .arg(app)
        .env_remove("GROUNDWORK_RELAY_CONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("run sync-server");
    assert!(!out.status.success(), "serve must refuse {}", app.display());
    assert!(out.stdout.is_empty(), "it never starts listening");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_app_directory_without_index_html_stops_the_start() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let err = serve_fails(tmp.path());
    assert!(err.contains("no index.html"), "{err}");
    assert!(err.contains(".ci/build-web"), "{err}");
    let err = serve_fails(&tmp.path().join("nowhere"));
    assert!(err.contains("--app"), "{err}");
}

#[test]
fn without_app_the_root_keeps_its_json_404() {
    let relay = Relay::start();
    let resp = relay.get("/");
    assert_eq!(resp.status(), 404);
    assert!(header(&resp, "content-type").contains("json"));
    assert!(error_message(&resp.bytes().expect("bytes")).contains("no such endpoint"));
}
