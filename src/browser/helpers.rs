//! Helper workers of the store worker: wasm has no threads to share memory with, so the store
//! worker starts a few more dedicated workers on the same script (named [`HELPER_NAME`]) and
//! hands each a part of every large pulled page to open, check and read (a job of
//! `groundwork::store::elsewhere`), doing one part itself meanwhile. What they answer is taken
//! as work done ahead on a native device's other cores is: only where it was computed from
//! what the page starts from, and judged one blob at a time as always.
//!
//! Helpers are started when the first page large enough to cut is pulled (one fewer than the
//! device's cores, at most [`MOST_HELPERS`]; each holds its own copy of the wasm and its part
//! of a page, about 10 MiB) and used once they say they are ready: a page that comes before is
//! done by the store worker alone. A phone that only ever pulls a few changes at a time starts
//! none. A helper that fails, or has not answered within [`PATIENCE`] of the page's jobs being
//! posted, is stopped and not used again; its part is done by the store as the page is taken
//! in, so a helper can slow a sync down but never stop it or change what it decides.
//!
//! Messages: a job goes as bytes, an 8-byte id (little-endian) then the job; the answer comes
//! back as the same id, a byte (1: done, 0: refused) and the answer. Both buffers are
//! transferred, not copied, and each side zeroes the buffer it read once its bytes are in wasm
//! memory (a job carries the team's keys; an answer, opened notes).

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use futures_channel::oneshot;
use futures_util::future::{Either, select};
use groundwork::store::elsewhere;
use groundwork::sync::Helpers;
use groundwork::sync::fetch::sleep;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

/// The name a helper worker is started under (`browser::main` tells it apart by it).
pub const HELPER_NAME: &str = "groundwork-helper";

/// Helpers at most, whatever the cores: each holds its own copy of the wasm and of a part of
/// a page.
const MOST_HELPERS: usize = 3;

/// How long a page's jobs may take before the helpers still working on them are given up on
/// (a job is a part of a page of at most 1 MiB: about a second on a phone).
const PATIENCE: Duration = Duration::from_secs(30);

/// What a helper says once it listens.
const READY: &str = "ready";

/// Where a job's answer goes: `None` when it was refused or its helper stopped.
type Answer = oneshot::Sender<Option<Vec<u8>>>;

struct Helper {
    worker: web_sys::Worker,
    ready: bool,
    /// Stopped after a failure: never used again.
    stopped: bool,
}

#[derive(Default)]
struct Pool {
    started: bool,
    helpers: Vec<Helper>,
    next_id: u64,
    /// Jobs posted and not answered: id → (the helper's index, who waits).
    waiting: HashMap<u64, (usize, Answer)>,
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool::default());
}

/// The store worker's helpers, for `engine::sync_pages_with`.
pub struct WorkerHelpers;

impl Helpers for WorkerHelpers {
    fn parts(&self) -> usize {
        start_helpers();
        1 + POOL.with(|p| p.borrow().helpers.iter().filter(|h| usable(h)).count())
    }

    async fn work(&self, jobs: Vec<Zeroizing<Vec<u8>>>) -> Vec<Option<Vec<u8>>> {
        let mut jobs = jobs.into_iter();
        let Some(mine) = jobs.next() else {
            return Vec::new();
        };
        // Posted first, so that the helpers work while this worker does its own part.
        let asked: Vec<Option<oneshot::Receiver<Option<Vec<u8>>>>> =
            jobs.map(|job| post_job(&job)).collect();
        let mut answers = vec![elsewhere::work(&mine).ok()];
        drop(mine);
        // One deadline for all the jobs of the page.
        let mut deadline = Box::pin(sleep(PATIENCE));
        let mut expired = false;
        for rx in asked {
            let answer = match rx {
                // Past the deadline, only what has already come is taken.
                Some(mut rx) if expired => rx.try_recv().ok().flatten().flatten(),
                Some(rx) => match select(rx, &mut deadline).await {
                    Either::Left((Ok(answer), _)) => answer,
                    Either::Left((Err(_), _)) => None,
                    Either::Right(_) => {
                        expired = true;
                        give_up_on_slow();
                        None
                    }
                },
                None => None,
            };
            answers.push(answer);
        }
        answers
    }
}

fn usable(h: &Helper) -> bool {
    h.ready && !h.stopped
}

/// Start the helpers, once: one fewer than the device's cores, at most [`MOST_HELPERS`].
fn start_helpers() {
    if POOL.with(|p| std::mem::replace(&mut p.borrow_mut().started, true)) {
        return;
    }
    let Ok(scope) = js_sys::global().dyn_into::<web_sys::DedicatedWorkerGlobalScope>() else {
        return;
    };
    let cores = scope.navigator().hardware_concurrency();
    let wanted = if cores.is_finite() && cores >= 2.0 {
        ((cores as usize) - 1).min(MOST_HELPERS)
    } else {
        0
    };
    let script = scope.location().href();
    for _ in 0..wanted {
        // A helper is known by its place in the pool (one that could not start takes none).
        let index = POOL.with(|p| p.borrow().helpers.len());
        match spawn(&script, index) {
            Ok(worker) => POOL.with(|p| {
                p.borrow_mut().helpers.push(Helper {
                    worker,
                    ready: false,
                    stopped: false,
                })
            }),
            Err(e) => super::log(&format!("store worker: no helper worker ({e})")),
        }
    }
}

/// Start helper `index` on `script`, listening for its answers.
fn spawn(script: &str, index: usize) -> Result<web_sys::Worker, String> {
    let options = web_sys::WorkerOptions::new();
    options.set_type(web_sys::WorkerType::Module);
    options.set_name(HELPER_NAME);
    let worker =
        web_sys::Worker::new_with_options(script, &options).map_err(|e| format!("{e:?}"))?;
    let on_message =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            answered(index, &event.data())
        });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
        // Handled here: an error not cancelled is reported on up, to the store worker's scope
        // and from there to the page's `Worker.onerror`, which fails every request in flight
        // while the store worker goes on and answers them (a save then looked failed, and was
        // made twice).
        event.prevent_default();
        super::log("store worker: a helper worker failed; its work is done here");
        stop(index);
    });
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    Ok(worker)
}

/// Post `job` to the next usable helper: who waits for its answer, or `None` when no helper
/// could take it.
fn post_job(job: &[u8]) -> Option<oneshot::Receiver<Option<Vec<u8>>>> {
    POOL.with(|p| {
        let mut pool = p.borrow_mut();
        let busy: Vec<usize> = pool.waiting.values().map(|(h, _)| *h).collect();
        let index = (0..pool.helpers.len())
            .filter(|&i| usable(&pool.helpers[i]))
            .min_by_key(|i| busy.iter().filter(|b| *b == i).count())?;
        let id = pool.next_id;
        pool.next_id += 1;
        let message = js_sys::Uint8Array::new_with_length((8 + job.len()) as u32);
        message.subarray(0, 8).copy_from(&id.to_le_bytes());
        message.subarray(8, (8 + job.len()) as u32).copy_from(job);
        let transfer = js_sys::Array::of1(&message.buffer());
        if let Err(e) = pool.helpers[index]
            .worker
            .post_message_with_transfer(&message, &transfer)
        {
            super::log(&format!("store worker: could not post to a helper: {e:?}"));
            return None;
        }
        let (tx, rx) = oneshot::channel();
        pool.waiting.insert(id, (index, tx));
        Some(rx)
    })
}

/// A message from helper `index`: ready, or an answer.
fn answered(index: usize, data: &JsValue) {
    if data.as_string().as_deref() == Some(READY) {
        POOL.with(|p| {
            if let Some(h) = p.borrow_mut().helpers.get_mut(index) {
                h.ready = true;
            }
        });
        return;
    }
    let Some(bytes) = take_bytes(data).filter(|b| b.len() >= 9) else {
        return;
    };
    let mut id = [0u8; 8];
    id.copy_from_slice(&bytes[..8]);
    let id = u64::from_le_bytes(id);
    let answer = (bytes[8] == 1).then(|| bytes[9..].to_vec());
    let waiting = POOL.with(|p| p.borrow_mut().waiting.remove(&id));
    if let Some((_, tx)) = waiting {
        let _ = tx.send(answer);
    }
}

/// A message's bytes copied into wasm memory, and the message's buffer zeroed (it carried keys
/// or opened notes); `None` for a message that is not bytes.
fn take_bytes(data: &JsValue) -> Option<Zeroizing<Vec<u8>>> {
    let array = data.dyn_ref::<js_sys::Uint8Array>()?;
    let bytes = Zeroizing::new(array.to_vec());
    array.fill(0, 0, array.length());
    Some(bytes)
}

/// Stop helper `index` for good: whoever waits on it gets nothing.
fn stop(index: usize) {
    let dropped: Vec<u64> = POOL.with(|p| {
        let mut pool = p.borrow_mut();
        if let Some(h) = pool.helpers.get_mut(index) {
            h.stopped = true;
            h.worker.terminate();
        }
        let ids: Vec<u64> = pool
            .waiting
            .iter()
            .filter(|(_, (h, _))| *h == index)
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            pool.waiting.remove(id);
        }
        ids
    });
    if !dropped.is_empty() {
        super::log("store worker: a helper's jobs were dropped; their work is done here");
    }
}

/// A job waited past [`PATIENCE`]: stop every helper with a job still unanswered.
fn give_up_on_slow() {
    let slow: Vec<usize> = POOL.with(|p| p.borrow().waiting.values().map(|(h, _)| *h).collect());
    for index in slow {
        stop(index);
    }
}

/// Run as a helper in `scope`: answer each job, then say it is ready.
pub fn serve(scope: web_sys::DedicatedWorkerGlobalScope) {
    let replies = scope.clone();
    let on_message =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            let Some(bytes) = take_bytes(&event.data()).filter(|b| b.len() >= 8) else {
                return;
            };
            let answer = elsewhere::work(&bytes[8..]);
            let body = answer.as_deref().unwrap_or(&[]);
            let reply = js_sys::Uint8Array::new_with_length((9 + body.len()) as u32);
            reply.subarray(0, 8).copy_from(&bytes[..8]);
            reply.subarray(8, 9).copy_from(&[u8::from(answer.is_ok())]);
            reply.subarray(9, (9 + body.len()) as u32).copy_from(body);
            if let Ok(mut answer) = answer {
                zeroize::Zeroize::zeroize(&mut answer);
            }
            let transfer = js_sys::Array::of1(&reply.buffer());
            if let Err(e) = replies.post_message_with_transfer(&reply, &transfer) {
                super::log(&format!("helper: could not answer: {e:?}"));
            }
        });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    super::expose_memory(&scope);
    let _ = scope.post_message(&JsValue::from_str(READY));
}
