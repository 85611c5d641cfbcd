//! The wire of the desktop app and the command line: reqwest (blocking, rustls), gzip answers
//! undone within [`MAX_ANSWER_BYTES`], 10 s to connect and each request's own patience (60 s,
//! five minutes for a join). The relay's API over it is [`HttpTransport`].

use std::io::Read;
use std::time::Duration;

use flate2::read::GzDecoder;
use reqwest::blocking::{Client, Response};
use reqwest::header;

use super::SyncError;
use super::relay::{Answer, Exchange, MAX_ANSWER_BYTES, News, NoAnswer, Relay, Wire};
use groundwork_protocol::{ERASURES_HEADER, ROLE_HEADER};

/// The relay's API over reqwest.
pub type HttpTransport = Relay<ReqwestWire>;

/// A blocking reqwest client as a [`Wire`]: its futures finish without waiting on anything
/// else, so [`super::block_on`] drives them.
#[derive(Debug)]
pub struct ReqwestWire {
    client: Client,
}

impl HttpTransport {
    /// A transport with 10 s to connect, 60 s per request, and 4 attempts starting 250 ms apart.
    pub fn new() -> Result<Self, SyncError> {
        Self::with_retries(4, Duration::from_millis(250))
    }

    /// A transport making up to `attempts` tries, waiting `backoff`, then twice that, … between.
    pub fn with_retries(attempts: u32, backoff: Duration) -> Result<Self, SyncError> {
        Ok(Relay::over(ReqwestWire::new()?, attempts, backoff))
    }
}

impl ReqwestWire {
    /// A client with 10 s to connect, each request given its own patience (a wire of its
    /// own, for a [`Relay`] that wraps it in another [`Wire`]).
    pub fn new() -> Result<Self, SyncError> {
        let client = Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(super::relay::PATIENCE)
            .user_agent(concat!("groundwork/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SyncError::BadAnswer(format!("cannot set up HTTP: {e}")))?;
        Ok(ReqwestWire { client })
    }
}

impl Wire for ReqwestWire {
    async fn exchange(&self, request: &Exchange) -> Result<Answer, NoAnswer> {
        let method = match request.method {
            "GET" => reqwest::Method::GET,
            _ => reqwest::Method::POST,
        };
        let mut builder = self.client.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        builder
            .timeout(request.patience)
            .body(request.body.clone())
            .send()
            .and_then(read_body)
            .map_err(|e| describe(&e))
    }

    async fn pause(&self, wait: Duration) {
        std::thread::sleep(wait);
    }
}

fn describe(e: &reqwest::Error) -> NoAnswer {
    // A connection that could not be made in time is no connection, not a slow link (the
    // engine makes requests smaller only for the latter).
    if e.is_connect() {
        "no connection".into()
    } else if e.is_timeout() {
        NoAnswer::TimedOut
    } else {
        let mut s = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(inner) = source {
            s = format!("{s}: {inner}");
            source = inner.source();
        }
        NoAnswer::Failed(s)
    }
}

/// Read a whole response body, undoing gzip, within [`MAX_ANSWER_BYTES`].
fn read_body(response: Response) -> Result<Answer, reqwest::Error> {
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let news = News::read(header(ROLE_HEADER), header(ERASURES_HEADER));
    let gzip = response
        .headers()
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let raw = response.bytes()?;
    let body = if gzip {
        let mut out = Vec::new();
        match GzDecoder::new(&raw[..])
            .take(MAX_ANSWER_BYTES)
            .read_to_end(&mut out)
        {
            Ok(_) => out,
            Err(_) => raw.to_vec(),
        }
    } else {
        raw.to_vec()
    };
    Ok(Answer {
        status,
        body,
        wire_bytes: raw.len() as u64,
        news,
    })
}
