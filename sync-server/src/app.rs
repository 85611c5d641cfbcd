//! Serving a built web app (`serve --app DIR`) at `/` next to the API.
//!
//! - A `GET` or `HEAD` of a file under `DIR` answers that file; `/` and any other path without a
//!   file extension answer `DIR/index.html`, the app shell, so that deep links such as
//!   `/people/ID` open the app. API paths (`/v1/…`, `/healthz`) never reach this module.
//! - A file whose path carries a content hash (`boot-0123456789abcdef.js`, anything under
//!   `snippets-0123456789abcdef/`) is cached for a year (`immutable`); everything else
//!   (`index.html`, the service worker, the manifest, the icons) is sent with
//!   `Cache-Control: no-cache`, so a new build is seen at once.
//! - Every answer carries its content type, `X-Content-Type-Options: nosniff` and a content
//!   security policy that allows only the relay's own origin. A compressible file is sent as the
//!   copy the build compressed beside it (`NAME.br` when the client accepts brotli, `NAME.gz`
//!   when it accepts gzip), else gzipped on the fly when the client accepts it.
//! - Paths are decoded, then refused when a segment is `.`, `..` or hidden (starts with a dot),
//!   or holds a backslash or NUL; the file found is canonicalised (following symlinks) and must
//!   still be inside `DIR`. Directories are never listed. Files are served up to
//!   [`MAX_APP_FILE_BYTES`].
//! - Each file is held in memory once per form sent (as it is, its build's `.br` or `.gz`, or
//!   gzipped here), shared by every answer sending it, and read again only when the file's
//!   length or modification time changed (a new build): the app is fetched without a token, so
//!   clients holding many slow downloads must not make the relay read a copy for each. The
//!   copies held are bounded by [`MAX_APP_MEMORY_BYTES`] (a release app is a few MiB).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::body::{accepts, gzip};

/// Largest file served from the app directory (a release wasm is a few MiB).
pub const MAX_APP_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Most bytes of files held in memory (see the module documentation): beyond it, the copies
/// held are dropped before another is kept.
pub const MAX_APP_MEMORY_BYTES: usize = 256 * 1024 * 1024;

/// Files smaller than this are sent uncompressed.
const GZIP_MIN_BYTES: usize = 512;

/// The content security policy of every app answer: only the relay's own origin.
///
/// `'unsafe-eval'` is there because the UI framework (dioxus-web 0.7) runs the app's own
/// small scripts (history, focus) through `new Function`; those scripts are constants of the
/// app with only ids and paths formatted in, never text from the notebook or the network. No
/// inline script is allowed and nothing loads from another origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' \
    'wasm-unsafe-eval' 'unsafe-eval'; connect-src 'self'; img-src 'self' data:; style-src 'self' \
    'unsafe-inline'; worker-src 'self'; manifest-src 'self'; base-uri 'none'; \
    frame-ancestors 'none'; form-action 'self'";

const NO_CACHE: &str = "no-cache";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Why the app directory cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum AppDirError {
    /// The directory does not exist or cannot be read.
    #[error(
        "--app {}: cannot open the directory ({source}): give the directory the web build \
         wrote (.ci/build-web writes target/web by default)",
        path.display()
    )]
    Open {
        /// The directory given.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The path is not a directory.
    #[error(
        "--app {}: not a directory: give the directory the web build wrote, not a file",
        path.display()
    )]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// The directory has no `index.html`.
    #[error(
        "--app {}: no index.html in that directory: build the web app with .ci/build-web first",
        path.display()
    )]
    NoIndex {
        /// The directory given.
        path: PathBuf,
    },
}

/// A checked web app directory.
#[derive(Debug, Clone)]
pub struct AppDir {
    root: PathBuf,
    /// The files read, shared by every answer sending them.
    copies: Arc<Copies>,
}

impl AppDir {
    /// Checks that `dir` is a directory holding a regular `index.html`.
    pub fn open(dir: &Path) -> Result<Self, AppDirError> {
        let root = std::fs::canonicalize(dir).map_err(|source| AppDirError::Open {
            path: dir.to_owned(),
            source,
        })?;
        if !root.is_dir() {
            return Err(AppDirError::NotADirectory {
                path: dir.to_owned(),
            });
        }
        let index_ok = std::fs::canonicalize(root.join("index.html"))
            .is_ok_and(|index| index.starts_with(&root) && index.is_file());
        if !index_ok {
            return Err(AppDirError::NoIndex {
                path: dir.to_owned(),
            });
        }
        Ok(Self {
            root,
            copies: Arc::default(),
        })
    }

    /// The canonical directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Answers a `GET` or `HEAD` of `path` (the request's raw, still percent-encoded path).
    pub async fn answer(&self, method: &Method, path: &str, headers: &HeaderMap) -> Response {
        let segments = match request_segments(path) {
            Ok(segments) => segments,
            Err(status) => return plain_error(status),
        };
        let relative: Vec<String> = match segments.last() {
            Some(last) if has_extension(last) => segments,
            _ => vec!["index.html".to_owned()],
        };
        let root = self.root.clone();
        let copies = Arc::clone(&self.copies);
        let encodings = Encodings {
            br: accepts(headers, "br"),
            gzip: accepts(headers, "gzip"),
        };
        let head = method == Method::HEAD;
        let read =
            tokio::task::spawn_blocking(move || read_file(&root, &relative, encodings, &copies))
                .await;
        match read {
            Ok(Ok(file)) => file.into_response(head),
            Ok(Err(status)) => plain_error(status),
            Err(e) => {
                tracing::error!(error = %e, "app file task failed");
                plain_error(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

/// Whether `path` (as requested) belongs to the API rather than to the app.
pub fn is_api_path(path: &str) -> bool {
    path == groundwork_protocol::HEALTH_PATH
        || path == "/v1"
        || path.starts_with("/v1/")
        || path.starts_with(&format!("{}/", groundwork_protocol::HEALTH_PATH))
}

/// The decoded segments of a request path, or the status refusing it.
fn request_segments(path: &str) -> Result<Vec<String>, StatusCode> {
    let decoded = percent_decode(path).ok_or(StatusCode::BAD_REQUEST)?;
    let mut segments = Vec::new();
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        if segment == "." || segment == ".." || segment.contains(['\\', '\0', ':']) {
            return Err(StatusCode::BAD_REQUEST);
        }
        if segment.starts_with('.') {
            return Err(StatusCode::NOT_FOUND);
        }
        segments.push(segment.to_owned());
    }
    Ok(segments)
}

/// Decodes `%XX` escapes; `None` for a malformed escape or text that is not UTF-8.
fn percent_decode(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn has_extension(segment: &str) -> bool {
    segment.rfind('.').is_some_and(|dot| dot > 0)
}

/// A file ready to send.
struct AppFile {
    /// Shared with every other answer sending the same form of the file.
    bytes: Bytes,
    content_type: &'static str,
    cache: &'static str,
    /// `Content-Encoding`, if compressed.
    encoding: Option<&'static str>,
}

/// The content codings a client accepts, of those the relay can send.
#[derive(Debug, Clone, Copy)]
struct Encodings {
    br: bool,
    gzip: bool,
}

impl AppFile {
    fn into_response(self, head: bool) -> Response {
        let mut headers = app_headers();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(self.cache));
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if let Some(encoding) = self.encoding {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(self.bytes.len()));
        let body = if head {
            Body::empty()
        } else {
            Body::from(self.bytes)
        };
        (StatusCode::OK, headers, body).into_response()
    }
}

/// Whether a path names content that never changes under it: one of its segments carries a
/// content hash (`-` and 16 hex digits before the extension, as `.ci/build-web` names files
/// and the `snippets-HASH` directory). Everything else (`index.html`, `sw.js`, the manifest,
/// the icons) is revalidated on every load.
fn content_hashed(relative: &[String]) -> bool {
    relative.iter().any(|segment| {
        let stem = segment.split('.').next().unwrap_or_default();
        stem.rsplit_once('-').is_some_and(|(_, hash)| {
            hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit())
        })
    })
}

/// What a copy in memory was read from: the file's length and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }
}

/// The files held in memory, by canonical path and whether gzipped here, each with the stamp
/// of the file it was read from.
#[derive(Debug, Default)]
struct Copies {
    held: Mutex<CopiesHeld>,
}

#[derive(Debug, Default)]
struct CopiesHeld {
    files: HashMap<(PathBuf, bool), (Stamp, Bytes)>,
    bytes: usize,
}

impl Copies {
    /// The copy of `path` (gzipped here when `gzipped`) read while the file had `stamp`.
    fn get(&self, path: &Path, gzipped: bool, stamp: Stamp) -> Option<Bytes> {
        let held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match held.files.get(&(path.to_owned(), gzipped)) {
            Some((kept, bytes)) if *kept == stamp => Some(bytes.clone()),
            _ => None,
        }
    }

    /// Keeps `bytes`, read from `path` while it had `stamp`, in place of an older copy.
    fn keep(&self, path: &Path, gzipped: bool, stamp: Stamp, bytes: Bytes) {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, old)) = held.files.remove(&(path.to_owned(), gzipped)) {
            held.bytes = held.bytes.saturating_sub(old.len());
        }
        if held.bytes.saturating_add(bytes.len()) > MAX_APP_MEMORY_BYTES {
            // Only a directory holding far more than an app comes here: start afresh.
            held.files.clear();
            held.bytes = 0;
        }
        held.bytes = held.bytes.saturating_add(bytes.len());
        held.files
            .insert((path.to_owned(), gzipped), (stamp, bytes));
    }

    /// The file at `real` (canonical, checked) and its stamp, from memory when it has not
    /// changed since it was read, else read now and kept; an error when it cannot be read or
    /// has grown over the size limit.
    fn read(&self, real: &Path) -> std::io::Result<(Stamp, Bytes)> {
        let mut file = std::fs::File::open(real)?;
        let stamp = Stamp::of(&file.metadata()?);
        if let Some(bytes) = self.get(real, false, stamp) {
            return Ok((stamp, bytes));
        }
        let mut bytes = Vec::new();
        file.by_ref()
            .take(MAX_APP_FILE_BYTES + 1)
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_APP_FILE_BYTES {
            return Err(std::io::Error::other("the file grew over the size limit"));
        }
        let bytes = Bytes::from(bytes);
        self.keep(real, false, stamp, bytes.clone());
        Ok((stamp, bytes))
    }
}

/// A precompressed copy at `path`, if there is one inside `root` within the size limit.
fn read_precompressed(root: &Path, path: &Path, copies: &Copies) -> Option<Bytes> {
    let real = std::fs::canonicalize(path).ok()?;
    let meta = std::fs::metadata(&real).ok()?;
    if !real.starts_with(root) || !meta.is_file() || meta.len() > MAX_APP_FILE_BYTES {
        return None;
    }
    copies.read(&real).ok().map(|(_, bytes)| bytes)
}

/// Reads `root/relative…`, refusing anything that resolves outside `root` or is not a file.
fn read_file(
    root: &Path,
    relative: &[String],
    encodings: Encodings,
    copies: &Copies,
) -> Result<AppFile, StatusCode> {
    let mut path = root.to_path_buf();
    path.extend(relative);
    let real = std::fs::canonicalize(&path).map_err(|_| StatusCode::NOT_FOUND)?;
    if !real.starts_with(root) {
        tracing::warn!(path = %path.display(), "app file resolves outside the app directory");
        return Err(StatusCode::NOT_FOUND);
    }
    let meta = std::fs::metadata(&real).map_err(|_| StatusCode::NOT_FOUND)?;
    if !meta.is_file() {
        return Err(StatusCode::NOT_FOUND);
    }
    if meta.len() > MAX_APP_FILE_BYTES {
        tracing::error!(
            path = %real.display(),
            bytes = meta.len(),
            limit = MAX_APP_FILE_BYTES,
            "app file too large to serve"
        );
        return Err(StatusCode::INTERNAL_SERVER_ERROR);
    }
    let name = real
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let (content_type, compressible) = content_type(&name);
    let cache = if content_hashed(relative) {
        IMMUTABLE
    } else {
        NO_CACHE
    };
    // Compressed once by the build (`NAME.br`, `NAME.gz` beside the file: brotli and zopfli
    // beat gzip on the fly by a quarter and a twentieth on the wasm).
    if compressible {
        for (wanted, suffix, coding) in [(encodings.br, "br", "br"), (encodings.gzip, "gz", "gzip")]
        {
            if !wanted {
                continue;
            }
            let mut sibling = real.clone().into_os_string();
            sibling.push(".");
            sibling.push(suffix);
            if let Some(bytes) = read_precompressed(root, Path::new(&sibling), copies) {
                return Ok(AppFile {
                    bytes,
                    content_type,
                    cache,
                    encoding: Some(coding),
                });
            }
        }
    }
    let (stamp, bytes) = copies.read(&real).map_err(|e| {
        tracing::error!(path = %real.display(), error = %e, "cannot read app file");
        StatusCode::INTERNAL_SERVER_ERROR
    })?;
    if encodings.gzip && compressible && bytes.len() >= GZIP_MIN_BYTES {
        if let Some(compressed) = copies.get(&real, true, stamp) {
            return Ok(AppFile {
                bytes: compressed,
                content_type,
                cache,
                encoding: Some("gzip"),
            });
        }
        match gzip(&bytes) {
            Ok(compressed) => {
                let compressed = Bytes::from(compressed);
                copies.keep(&real, true, stamp, compressed.clone());
                return Ok(AppFile {
                    bytes: compressed,
                    content_type,
                    cache,
                    encoding: Some("gzip"),
                });
            }
            Err(e) => tracing::warn!(error = %e, "gzip failed; answering uncompressed"),
        }
    }
    Ok(AppFile {
        bytes,
        content_type,
        cache,
        encoding: None,
    })
}

/// The content type of a file name, and whether gzip makes it smaller.
fn content_type(name: &str) -> (&'static str, bool) {
    let ext = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => ("text/html; charset=utf-8", true),
        "js" | "mjs" => ("text/javascript; charset=utf-8", true),
        "css" => ("text/css; charset=utf-8", true),
        "wasm" => ("application/wasm", true),
        "json" | "map" => ("application/json", true),
        "webmanifest" => ("application/manifest+json", true),
        "txt" => ("text/plain; charset=utf-8", true),
        "svg" => ("image/svg+xml", true),
        "ico" => ("image/x-icon", true),
        "png" => ("image/png", false),
        "jpg" | "jpeg" => ("image/jpeg", false),
        "webp" => ("image/webp", false),
        "woff2" => ("font/woff2", false),
        _ => ("application/octet-stream", false),
    }
}

/// Headers of every app answer.
fn app_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers
}

/// A short plain-text error of the app side (not JSON: a browser shows it).
fn plain_error(status: StatusCode) -> Response {
    let mut headers = app_headers();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_CACHE));
    let text = match status {
        StatusCode::BAD_REQUEST => "bad path\n",
        StatusCode::NOT_FOUND => "not found\n",
        _ => "the relay could not read this file; its log says why\n",
    };
    (status, headers, text).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_decoded_and_checked() {
        assert_eq!(request_segments("/"), Ok(vec![]));
        assert_eq!(
            request_segments("/assets/app-1a2b.wasm"),
            Ok(vec!["assets".to_owned(), "app-1a2b.wasm".to_owned()])
        );
        assert_eq!(request_segments("/a%20b.js"), Ok(vec!["a b.js".to_owned()]));
        for bad in [
            "/../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2fetc",
            "/a/%2e/b",
            "/a%5c..%5cb",
            "/a%00.js",
            "/%zz",
            "/%e",
            "/c:/x",
        ] {
            assert_eq!(request_segments(bad), Err(StatusCode::BAD_REQUEST), "{bad}");
        }
        assert_eq!(request_segments("/.env"), Err(StatusCode::NOT_FOUND));
    }

    #[test]
    fn api_paths_are_recognised() {
        assert!(is_api_path("/v1/sync"));
        assert!(is_api_path("/v1"));
        assert!(is_api_path("/healthz"));
        assert!(!is_api_path("/"));
        assert!(!is_api_path("/v1x"));
        assert!(!is_api_path("/people/1"));
    }

    /// Every answer sending a file shares one copy of it per form (as it is, gzipped here, the
    /// build's `.br`), read again only once the file changed.
    #[test]
    fn answers_share_one_copy_of_each_file_until_it_changes() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::write(tmp.path().join("index.html"), "<!doctype html>").expect("index");
        let script = "export function start() { return 'groundwork'; }\n".repeat(200);
        std::fs::write(tmp.path().join("app.js"), &script).expect("js");
        std::fs::write(tmp.path().join("app.js.br"), "brotli bytes").expect("br");
        let app = AppDir::open(tmp.path()).expect("app dir");
        let read = |br: bool, gzip: bool| {
            read_file(
                &app.root,
                &["app.js".to_owned()],
                Encodings { br, gzip },
                &app.copies,
            )
            .expect("served")
        };
        for (br, gzip, coding) in [
            (false, false, None),
            (false, true, Some("gzip")),
            (true, true, Some("br")),
        ] {
            let (first, again) = (read(br, gzip), read(br, gzip));
            assert_eq!(first.encoding, coding);
            assert_eq!(first.bytes, again.bytes);
            assert_eq!(
                first.bytes.as_ptr(),
                again.bytes.as_ptr(),
                "one copy for both answers ({coding:?})"
            );
        }
        assert_eq!(read(false, false).bytes, script.as_bytes());

        // A new build: the new file is served, once read.
        let newer = "export function start() { return 'newer'; }\n".repeat(300);
        std::fs::write(tmp.path().join("app.js"), &newer).expect("js");
        assert_eq!(read(false, false).bytes, newer.as_bytes());
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&read(false, true).bytes[..])
            .read_to_end(&mut unzipped)
            .expect("gunzip");
        assert_eq!(unzipped, newer.as_bytes());
    }

    #[test]
    fn types_and_extensions() {
        assert_eq!(content_type("a.wasm").0, "application/wasm");
        assert_eq!(
            content_type("app.webmanifest").0,
            "application/manifest+json"
        );
        assert_eq!(content_type("x.PNG"), ("image/png", false));
        assert!(has_extension("app.js"));
        assert!(!has_extension("0192f0c4-7b1e-7c3a-9d2e-3f4a5b6c7d8e"));
        assert!(!has_extension(".hidden"));
    }
}
