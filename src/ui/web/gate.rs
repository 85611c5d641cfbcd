//! Who may open the notebook served by `groundwork web`: checked on every request, before a
//! page is sent or a WebSocket is upgraded.
//!
//! - **Host**: only the names this server answers to (the bound address; `localhost` and the
//!   loopback addresses when it listens on loopback; any IP address when it listens on all
//!   interfaces; names given with `--allow-host`). Any other `Host` is refused with 421, so a
//!   web page whose name was re-pointed at this machine (DNS rebinding) gets nothing.
//! - **Origin**: a WebSocket upgrade must come from a page of this server (`Origin` equal to
//!   `http://` or `https://` plus the request's `Host`); missing or foreign is refused with 403.
//!   Browsers do not apply the same-origin policy to WebSockets, so without this check any web
//!   site a canvasser visits could open the notebook through their browser.
//! - **Token**: when the notebook is served beyond loopback (or a token was given), every
//!   request must carry the secret, as `?token=…` in the printed link or in the HttpOnly,
//!   SameSite=Strict cookie set on the first visit (which the WebSocket and reloads carry).
//!   Compared in constant time. Missing or wrong is refused with 401.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ui::worker::UiError;

/// Tokens shorter than this are refused (a generated one has 64 characters).
const MIN_TOKEN_LEN: usize = 16;

/// The access rules of one running server.
#[derive(Debug, Clone)]
pub struct Gate {
    /// The address actually bound.
    bound: SocketAddr,
    /// `--allow-host` names, lower case, each with the port it names if any.
    names: Vec<(String, Option<u16>)>,
    /// The secret, when one is required.
    token: Option<Arc<str>>,
    /// The cookie's name (per port: browsers share cookies between ports of one host).
    cookie: String,
}

impl Gate {
    /// The rules for a server on `bound` (checked before anything starts; see
    /// [`Gate::bound_to`] for port 0). A token is required beyond loopback: `token` if given,
    /// else a new random one. Given on loopback, it is required there too.
    pub fn new(
        bound: SocketAddr,
        allow_hosts: &[String],
        token: Option<String>,
    ) -> Result<Gate, UiError> {
        let mut names = Vec::new();
        for name in allow_hosts {
            match split_host(name.trim()) {
                Some((host, port)) if !host.is_empty() && !host.contains(['/', ' ', '@']) => {
                    names.push((host.to_ascii_lowercase(), port));
                }
                _ => {
                    return Err(UiError(format!(
                        "--allow-host {name:?} is not a host name: give a name such as \
                         notebook.local or notebook.example.org (optionally with :PORT)"
                    )));
                }
            }
        }
        let token = match token {
            Some(t) => Some(check_token(&t)?),
            None if bound.ip().is_loopback() => None,
            None => Some(new_token()),
        };
        Ok(Gate {
            bound,
            names,
            token: token.map(Arc::from),
            cookie: format!("groundwork_token_{}", bound.port()),
        })
    }

    /// The same rules for the address actually bound (port 0 becomes the real port).
    pub fn bound_to(self, bound: SocketAddr) -> Gate {
        Gate {
            bound,
            cookie: format!("groundwork_token_{}", bound.port()),
            ..self
        }
    }

    /// The secret, if one is required.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Whether `host` (a `Host` header) names this server.
    pub fn host_allowed(&self, host: &str) -> bool {
        let Some((name, port)) = split_host(host) else {
            return false;
        };
        let name = name.to_ascii_lowercase();
        let ours = self.bound.port();
        if let Some((_, wanted)) = self.names.iter().find(|(n, _)| *n == name) {
            // A name given with --allow-host may come without a port (behind a proxy).
            return match wanted {
                Some(p) => port == Some(*p),
                None => port.is_none() || port == Some(ours),
            };
        }
        if port.unwrap_or(80) != ours {
            return false;
        }
        let ip = self.bound.ip();
        match name.parse::<IpAddr>() {
            // An address cannot be re-pointed by DNS, so any address of ours is fine.
            Ok(asked) => {
                asked == ip || ip.is_unspecified() || (asked.is_loopback() && ip.is_loopback())
            }
            Err(_) => name == "localhost" && (ip.is_loopback() || ip.is_unspecified()),
        }
    }

    /// Whether the request carries the secret: `Ok(true)` in the query (the cookie is to be
    /// set), `Ok(false)` in the cookie or none needed, `Err` when missing or wrong.
    fn token_given(&self, uri: &Uri, headers: &HeaderMap) -> Result<bool, ()> {
        let Some(token) = self.token.as_deref() else {
            return Ok(false);
        };
        let from_query = uri
            .query()
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|pair| pair.strip_prefix("token="));
        if from_query.is_some_and(|t| same_secret(t, token)) {
            return Ok(true);
        }
        let from_cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .any(|(name, value)| name == self.cookie && same_secret(value, token));
        if from_cookie { Ok(false) } else { Err(()) }
    }
}

/// Middleware: refuse what [`Gate`] does not allow, before any handler (and so before a
/// WebSocket upgrade) runs.
pub async fn check(State(gate): State<Arc<Gate>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !gate.host_allowed(host) {
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "This Groundwork notebook does not answer to that host name. Open the address that \
             `groundwork web` printed, or start it with --allow-host NAME to allow a name.",
        );
    }
    let set_cookie = match gate.token_given(request.uri(), headers) {
        Ok(set) => set,
        Err(()) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "This Groundwork notebook is served to the network and opens only with its \
                 secret link. Open the address with ?token=... that `groundwork web` printed \
                 on the computer serving it.",
            );
        }
    };
    let upgrade = request.uri().path() == "/ws" || headers.contains_key(header::UPGRADE);
    if upgrade && !origin_allowed(headers.get(header::ORIGIN), host) {
        return refuse(
            StatusCode::FORBIDDEN,
            "Refused: this connection does not come from the notebook's own page. Open the \
             address that `groundwork web` printed.",
        );
    }
    let mut response = next.run(request).await;
    let out = response.headers_mut();
    out.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    out.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if set_cookie && let Some(token) = gate.token() {
        let cookie = format!("{}={token}; HttpOnly; SameSite=Strict; Path=/", gate.cookie);
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            out.insert(header::SET_COOKIE, value);
        }
    }
    response
}

/// A short plain-text refusal.
fn refuse(status: StatusCode, message: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

/// Whether `origin` is a page of the server the request was sent to (`host`, already checked).
fn origin_allowed(origin: Option<&HeaderValue>, host: &str) -> bool {
    let Some(origin) = origin.and_then(|o| o.to_str().ok()) else {
        return false;
    };
    ["http://", "https://"].iter().any(|scheme| {
        origin
            .strip_prefix(scheme)
            .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
    })
}

/// `name:port`, `[v6]:port`, `name` or `[v6]` split into the host and the port.
fn split_host(host: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = host.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse().ok()?),
        };
        return Some((ip, port));
    }
    match host.rsplit_once(':') {
        Some((name, _)) if name.contains(':') => None,
        Some((name, port)) => Some((name, Some(port.parse().ok()?))),
        None => Some((host, None)),
    }
}

/// A new secret: 64 hex digits from the system's random source (two v4 UUIDs, 244 bits).
fn new_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// A given secret must be long enough and safe to put in a link as it is.
fn check_token(token: &str) -> Result<String, UiError> {
    let safe = token
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'));
    if token.len() < MIN_TOKEN_LEN || !safe {
        return Err(UiError(format!(
            "the web token must be at least {MIN_TOKEN_LEN} letters, digits, '-', '_', '.' or \
             '~' (it goes into the link); leave out --token and GROUNDWORK_WEB_TOKEN to have a \
             random one made"
        )));
    }
    Ok(token.to_string())
}

/// Compare secrets in time that depends only on their lengths, not on where they differ.
fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(listen: &str, allow: &[&str]) -> Gate {
        let allow: Vec<String> = allow.iter().map(|s| s.to_string()).collect();
        Gate::new(listen.parse().unwrap(), &allow, None).unwrap()
    }

    #[test]
    fn loopback_answers_to_loopback_names_on_its_port_only() {
        let g = gate("127.0.0.1:8080", &[]);
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST:8080",
            "[::1]:8080",
        ] {
            assert!(g.host_allowed(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example",
            "evil.example:8080",
            "localhost:8081",
            "localhost",
            "192.168.1.5:8080",
            "localhost.evil.example:8080",
            "::1:8080",
            "[::1]x",
        ] {
            assert!(!g.host_allowed(bad), "{bad}");
        }
        assert!(g.token().is_none(), "no token needed on loopback");
    }

    #[test]
    fn allowed_names_and_all_interfaces() {
        let g = gate("0.0.0.0:8080", &["Notebook.Local", "proxy.example:443"]);
        for ok in [
            "notebook.local:8080",
            "notebook.local",
            "proxy.example:443",
            "192.168.1.5:8080",
            "localhost:8080",
        ] {
            assert!(g.host_allowed(ok), "{ok}");
        }
        for bad in ["proxy.example", "evil.example:8080", "192.168.1.5:80"] {
            assert!(!g.host_allowed(bad), "{bad}");
        }
        let token = g.token().expect("a token beyond loopback");
        assert_eq!(token.len(), 64);
        assert_ne!(token, gate("0.0.0.0:8080", &[]).token().unwrap());
    }

    #[test]
    fn bad_options_are_refused_with_a_message() {
        let addr = "0.0.0.0:80".parse().unwrap();
        let e = Gate::new(addr, &[], Some("short".into())).unwrap_err();
        assert!(e.0.contains("at least 16"), "{}", e.0);
        let e = Gate::new(addr, &[], Some("has spaces in it, long enough".into())).unwrap_err();
        assert!(e.0.contains("GROUNDWORK_WEB_TOKEN"), "{}", e.0);
        let e = Gate::new(addr, &["http://x/".into()], None).unwrap_err();
        assert!(e.0.contains("--allow-host"), "{}", e.0);
    }

    #[test]
    fn tokens_come_from_the_query_or_the_cookie() {
        let addr = "0.0.0.0:8080".parse().unwrap();
        let g = Gate::new(addr, &[], Some("abcdefghijklmnop".into())).unwrap();
        let none = HeaderMap::new();
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        assert_eq!(
            g.token_given(&uri("/?token=abcdefghijklmnop"), &none),
            Ok(true)
        );
        assert_eq!(
            g.token_given(&uri("/?x=1&token=abcdefghijklmnop"), &none),
            Ok(true)
        );
        assert_eq!(
            g.token_given(&uri("/?token=abcdefghijklmnoq"), &none),
            Err(())
        );
        assert_eq!(g.token_given(&uri("/"), &none), Err(()));
        let mut cookie = HeaderMap::new();
        cookie.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; groundwork_token_8080=abcdefghijklmnop"),
        );
        assert_eq!(g.token_given(&uri("/ws"), &cookie), Ok(false));
        let mut other_port = HeaderMap::new();
        other_port.insert(
            header::COOKIE,
            HeaderValue::from_static("groundwork_token_9090=abcdefghijklmnop"),
        );
        assert_eq!(g.token_given(&uri("/ws"), &other_port), Err(()));
    }

    #[test]
    fn origins_must_be_the_served_host() {
        let v = |s: &'static str| HeaderValue::from_static(s);
        assert!(origin_allowed(
            Some(&v("http://127.0.0.1:8080")),
            "127.0.0.1:8080"
        ));
        assert!(origin_allowed(
            Some(&v("https://notebook.local")),
            "notebook.local"
        ));
        assert!(!origin_allowed(
            Some(&v("http://evil.example")),
            "127.0.0.1:8080"
        ));
        assert!(!origin_allowed(Some(&v("null")), "127.0.0.1:8080"));
        assert!(!origin_allowed(None, "127.0.0.1:8080"));
        assert!(!origin_allowed(
            Some(&v("http://127.0.0.1:8080.evil")),
            "127.0.0.1:8080"
        ));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abd", "abc"));
        assert!(!same_secret("ab", "abc"));
        assert!(!same_secret("", "abc"));
    }
}
