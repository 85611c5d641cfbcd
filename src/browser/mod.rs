//! The phone web app (wasm32, feature `phone`): one wasm runs both halves.
//!
//! - [`page`]: on the page, the Dioxus UI (`ui::App`, the same as the desktop's) with a
//!   [`crate::ui::worker::StoreHandle`] and a sync engine that post to the store worker
//!   through [`client`].
//! - [`store_worker`]: in a dedicated Web Worker, the notebook: SQLite on the origin-private
//!   file system (a SyncAccessHandle pool, which only a dedicated worker may open), the same
//!   `Store`, answering the same `service::Request`s with `service::handle`, and syncing with
//!   the relay over `fetch`.
//! - [`helpers`]: more dedicated workers, started by the store worker, that open, check and
//!   read parts of large pulled pages while it does its own part.
//! - [`messages`]: what the page and the store worker post to each other (JSON strings).
//! - [`screen_lock`]: the phone's screen lock (a passkey's secret) opening an encrypted
//!   notebook instead of the typed passphrase.
//!
//! `main` tells them apart by the global scope it runs in, and a helper by its worker's name.

pub mod client;
pub mod helpers;
pub mod messages;
pub mod page;
pub mod screen_lock;
pub mod store_worker;

use wasm_bindgen::JsCast;

/// Start whichever half this global scope is.
pub fn main() {
    // A panic names its cause in the console (the wasm itself only says "unreachable").
    std::panic::set_hook(Box::new(|info| log(&format!("groundwork: {info}"))));
    match js_sys::global().dyn_into::<web_sys::DedicatedWorkerGlobalScope>() {
        Ok(scope) if scope.name() == helpers::HELPER_NAME => helpers::serve(scope),
        Ok(scope) => store_worker::start(scope),
        Err(_) => page::start(),
    }
}

/// Log a line to the browser's console.
pub fn log(line: &str) {
    web_sys::console::log_1(&wasm_bindgen::JsValue::from_str(line));
}

/// `groundworkMemoryBytes()` in a worker's global scope: its wasm's memory in bytes, for the
/// benchmarks (DevTools cannot see inside the wasm's memory).
fn expose_memory(scope: &web_sys::DedicatedWorkerGlobalScope) {
    use wasm_bindgen::prelude::*;
    let bytes = Closure::<dyn Fn() -> f64>::new(|| {
        js_sys::Reflect::get(&wasm_bindgen::memory(), &"buffer".into())
            .and_then(|b| js_sys::Reflect::get(&b, &"byteLength".into()))
            .ok()
            .and_then(|n| n.as_f64())
            .unwrap_or(0.0)
    });
    let _ = js_sys::Reflect::set(scope, &"groundworkMemoryBytes".into(), bytes.as_ref());
    bytes.forget();
}
