//! `groundwork web --listen ADDR`: the same [`App`](super::App) served to a browser through
//! dioxus-liveview over axum. The page is a thin shell; the app runs here, next to the store,
//! and the browser draws what it is sent over a WebSocket.
//!
//! Port 0 asks the system for a free port; the line `listening on http://ADDR` always shows
//! the address actually bound (tests read it).

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;

use axum::Router;
use axum::extract::WebSocketUpgrade;
use axum::response::Html;
use axum::routing::get;
use dioxus::prelude::VirtualDom;
use dioxus_liveview::{LiveViewPool, axum_socket, interpreter_glue};

use super::Services;
use super::worker::{StoreHandle, UiError};

/// The page that loads the app.
fn index_page() -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Groundwork</title>{head}</head><body><div id=\"main\"></div>{glue}</body></html>",
        head = super::head(),
        glue = interpreter_glue("/ws"),
    )
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

/// Serve the app on `listen` until the process is stopped.
pub fn serve(dir: &Path, listen: &str) -> Result<(), UiError> {
    let addr = parse_listen(listen)?;
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
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on http://{bound}");
            let _ = out.flush();
        }
        let pool = LiveViewPool::new();
        let page = index_page();
        let app = Router::new()
            .route("/", get(move || async move { Html(page) }))
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
            );
        axum::serve(listener, app)
            .await
            .map_err(|e| UiError(format!("the web server stopped: {e}")))
    })
}
