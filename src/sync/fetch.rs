//! The browser's wire: `fetch` from the page or a worker, each request given its own patience
//! (an abort signal: 60 s, five minutes for a join),
//! pauses on `setTimeout`. The browser undoes gzip itself and sets `Accept-Encoding`; an
//! answer larger than [`MAX_ANSWER_BYTES`] is refused.

use std::time::Duration;

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::relay::{Answer, Exchange, MAX_ANSWER_BYTES, News, NoAnswer, Relay, Wire};
use groundwork_protocol::{ERASURES_HEADER, ROLE_HEADER};

/// The relay's API over `fetch`.
pub type FetchTransport = Relay<FetchWire>;

/// `fetch` as a [`Wire`].
#[derive(Debug, Default)]
pub struct FetchWire;

/// A transport making 4 attempts starting 250 ms apart.
pub fn transport() -> FetchTransport {
    Relay::over(FetchWire, 4, Duration::from_millis(250))
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &js_sys::Function, ms: i32) -> JsValue;
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_with_request(request: &web_sys::Request) -> Promise;
}

/// Wait `wait` without blocking the thread (a page or a worker).
pub async fn sleep(wait: Duration) {
    let ms = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX);
    let promise = Promise::new(&mut |resolve, _| {
        let _ = set_timeout(&resolve, ms);
    });
    let _ = JsFuture::from(promise).await;
}

fn describe(error: &JsValue) -> NoAnswer {
    let name = js_sys::Reflect::get(error, &JsValue::from_str("name"))
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_default();
    if name == "TimeoutError" || name == "AbortError" {
        NoAnswer::TimedOut
    } else {
        // A TypeError from fetch: no network, refused, or blocked.
        "no connection".into()
    }
}

impl Wire for FetchWire {
    async fn exchange(&self, request: &Exchange) -> Result<Answer, NoAnswer> {
        let init = web_sys::RequestInit::new();
        init.set_method(request.method);
        let headers = web_sys::Headers::new().map_err(|e| describe(&e))?;
        for (name, value) in &request.headers {
            // The browser chooses the encodings it accepts.
            if *name != "accept-encoding" {
                headers.set(name, value).map_err(|e| describe(&e))?;
            }
        }
        init.set_headers(&headers);
        if request.method != "GET" {
            let body = Uint8Array::from(&request.body[..]);
            init.set_body(&body);
        }
        let millis = u32::try_from(request.patience.as_millis()).unwrap_or(u32::MAX);
        init.set_signal(Some(&web_sys::AbortSignal::timeout_with_u32(millis)));
        let req = web_sys::Request::new_with_str_and_init(&request.url, &init)
            .map_err(|e| describe(&e))?;
        let response: web_sys::Response = JsFuture::from(fetch_with_request(&req))
            .await
            .map_err(|e| describe(&e))?
            .unchecked_into();
        let status = response.status();
        let header = |name: &str| response.headers().get(name).ok().flatten();
        let news = News::read(header(ROLE_HEADER), header(ERASURES_HEADER));
        let buffer = JsFuture::from(response.array_buffer().map_err(|e| describe(&e))?)
            .await
            .map_err(|e| describe(&e))?;
        let bytes = Uint8Array::new(&buffer);
        if u64::from(bytes.length()) > MAX_ANSWER_BYTES {
            return Err(NoAnswer::Unreadable(
                "the relay's answer was too large".into(),
            ));
        }
        let body = bytes.to_vec();
        Ok(Answer {
            status,
            wire_bytes: body.len() as u64,
            body,
            news,
        })
    }

    async fn pause(&self, wait: Duration) {
        sleep(wait).await;
    }
}
