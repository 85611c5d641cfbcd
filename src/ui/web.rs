//! `groundwork web --listen ADDR`: the same [`App`](super::App) served to a browser through
//! dioxus-liveview over axum. The page is a thin shell; the app runs here, next to the store,
//! and the browser draws what it is sent over a WebSocket.
//!
//! Port 0 asks the system for a free port; the line `listening on http://ADDR` always shows
//! the address actually bound (tests read it). On loopback that is the whole link. Beyond
//! loopback the notebook opens only with a secret, printed in the link
//! (`listening on http://ADDR/?token=…`), after a warning on stderr; see [`gate`] for the
//! checks made on every request (host name, origin of WebSockets, token).

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::WebSocketUpgrade;
use axum::response::Html;
use axum::routing::get;
use dioxus::prelude::VirtualDom;
use dioxus_liveview::{LiveViewPool, axum_socket, interpreter_glue};

use super::Services;
use super::worker::{StoreHandle, UiError};

pub mod gate;

/// How `groundwork web` was asked to serve.
#[derive(Debug, Clone, Default)]
pub struct WebOptions {
    /// HOST:PORT to listen on.
    pub listen: String,
    /// More host names to answer to (`--allow-host`).
    pub allow_hosts: Vec<String>,
    /// The secret, if given (`--token`, `GROUNDWORK_WEB_TOKEN`); else one is made when needed.
    pub token: Option<String>,
}

/// The page that loads the app. With a token, the link's `?token=…` is taken out of the
/// address bar once the page has loaded (the cookie carries it from then on).
fn index_page(with_token: bool) -> String {
    let forget_token = if with_token {
        "<script>if (location.search) history.replaceState(null, \"\", location.pathname);</script>"
    } else {
        ""
    };
    // The glue connects to `ws://` + `location.host` + `/ws`: the same host the page came
    // from, so the browser's `Origin` and `Host` are the ones the gate accepts.
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Groundwork</title>{head}</head><body><div id=\"main\"></div>{forget_token}{glue}</body></html>",
        head = super::head(),
        glue = interpreter_glue("/ws"),
    )
}

/// The answer to a GET of `uri`: the app's page for a screen's address, 404 for anything else.
fn screen_page(uri: &axum::http::Uri, page: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    if super::Screen::from_path(uri.path()).is_some() {
        Html(page.to_string()).into_response()
    } else {
        (
            axum::http::StatusCode::NOT_FOUND,
            "Nothing here: the notebook's screens are at /, /people/…, /due, /campaigns, \
             /shift and /settings.",
        )
            .into_response()
    }
}

/// Resolve `listen` (`127.0.0.1:0`, `localhost:8080`, `[::]:80`) to one address.
pub fn parse_listen(listen: &str) -> Result<SocketAddr, UiError> {
    listen
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            UiError(format!(
                "cannot listen on {listen:?}: give HOST:PORT, for example 127.0.0.1:8080 (port 0 picks a free port)"
            ))
        })
}

/// Serve the app as `options` say until the process is stopped.
pub fn serve(dir: &Path, options: &WebOptions) -> Result<(), UiError> {
    let addr = parse_listen(&options.listen)?;
    let gate = gate::Gate::new(addr, &options.allow_hosts, options.token.clone())?;
    let store = StoreHandle::start(dir)?;
    let services = Services::connected(store, dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| UiError(format!("could not start the web server: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| UiError(format!("cannot listen on {addr}: {e}; is the port in use?")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| UiError(format!("cannot read the bound address: {e}")))?;
        let gate = gate.bound_to(bound);
        announce(bound, gate.token());
        let pool = LiveViewPool::new();
        let page: Arc<str> = index_page(gate.token().is_some()).into();
        let app = Router::new()
            .route(
                "/favicon.ico",
                get(|| async { axum::http::StatusCode::NO_CONTENT }),
            )
            .route(
                "/ws",
                get(move |ws: WebSocketUpgrade| {
                    let pool = pool.clone();
                    let services = services.clone();
                    async move {
                        ws.on_upgrade(move |socket| async move {
                            let _ = pool
                                .launch_virtualdom(axum_socket(socket), move || {
                                    VirtualDom::new(super::App).with_root_context(services)
                                })
                                .await;
                        })
                    }
                }),
            )
            // Every screen has its own address (see `super::route`): a reload or a link to
            // one gets the same page, and the app opens the screen the address names.
            .fallback(get(move |uri: axum::http::Uri| {
                let page = Arc::clone(&page);
                async move { screen_page(&uri, &page) }
            }))
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(gate),
                gate::check,
            ));
        axum::serve(listener, app)
            .await
            .map_err(|e| UiError(format!("the web server stopped: {e}")))
    })
}

/// Print the link (stdout) and, beyond loopback, who can open it (stderr).
fn announce(bound: SocketAddr, token: Option<&str>) {
    if !bound.ip().is_loopback() {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "warning: the notebook is served to the network on {bound}, over plain HTTP (not \
             encrypted). Anyone who can reach this computer and has the link below can read and \
             change every record in it: share the link only with your team, use a network you \
             trust, and stop the server (Ctrl-C) when you are done.{hint}",
            hint = if bound.ip().is_unspecified() {
                " From another device, use this computer's address in place of the one shown."
            } else {
                ""
            }
        );
    }
    let mut out = std::io::stdout().lock();
    let _ = match token {
        Some(token) => writeln!(out, "listening on http://{bound}/?token={token}"),
        None => writeln!(out, "listening on http://{bound}"),
    };
    let _ = out.flush();
}
