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
            .map_err(|e| describe(&e))
            .and_then(read_body)
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

/// An error reading an answer's body: a timeout is the link's slowness, anything else a
/// failed exchange.
fn describe_read(e: &std::io::Error) -> NoAnswer {
    if e.kind() == std::io::ErrorKind::TimedOut {
        return NoAnswer::TimedOut;
    }
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
    {
        Some(inner) => describe(inner),
        None => NoAnswer::Failed(e.to_string()),
    }
}

/// What an answer larger than [`MAX_ANSWER_BYTES`] (as sent, or once gzip is undone) is: a
/// relay that is broken or hostile, never read whole.
const TOO_LARGE: &str = "the relay's answer was too large";

/// Read a whole response body, undoing gzip, within [`MAX_ANSWER_BYTES`] both as sent and
/// undone: a relay sending more is refused before it fills the device's memory.
fn read_body(mut response: Response) -> Result<Answer, NoAnswer> {
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
    let mut raw = Vec::new();
    (&mut response)
        .take(MAX_ANSWER_BYTES + 1)
        .read_to_end(&mut raw)
        .map_err(|e| describe_read(&e))?;
    if raw.len() as u64 > MAX_ANSWER_BYTES {
        return Err(NoAnswer::Unreadable(TOO_LARGE.into()));
    }
    let wire_bytes = raw.len() as u64;
    let body = if gzip {
        let mut out = Vec::new();
        match GzDecoder::new(&raw[..])
            .take(MAX_ANSWER_BYTES + 1)
            .read_to_end(&mut out)
        {
            Ok(_) if out.len() as u64 > MAX_ANSWER_BYTES => {
                return Err(NoAnswer::Unreadable(TOO_LARGE.into()));
            }
            Ok(_) => out,
            // Not gzip after all: the body as it came, for the caller to judge.
            Err(_) => raw,
        }
    } else {
        raw
    };
    Ok(Answer {
        status,
        body,
        wire_bytes,
        news,
    })
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    /// A relay on 127.0.0.1 answering one request with `head` and then `body` written `times`
    /// times (until the client hangs up); its URL.
    fn one_answer(head: String, body: Vec<u8>, times: u64) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/v1/sync", listener.local_addr().expect("addr"));
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            // The request's head; its body is empty.
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let mut stream: TcpStream = stream;
            let _ = stream.write_all(head.as_bytes());
            for _ in 0..times {
                if stream.write_all(&body).is_err() {
                    return;
                }
            }
        });
        url
    }

    fn ask(url: String) -> Result<Answer, NoAnswer> {
        let wire = ReqwestWire::new().expect("client");
        crate::sync::block_on(wire.exchange(&Exchange {
            method: "GET",
            url,
            headers: Vec::new(),
            body: Vec::new(),
            patience: Duration::from_secs(60),
        }))
    }

    #[test]
    fn an_answer_larger_than_the_bound_is_refused_not_read_whole() {
        let chunk = vec![0u8; 1 << 20];
        let times = (MAX_ANSWER_BYTES >> 20) + 1;
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {}\r\n\r\n",
            times << 20
        );
        let answer = ask(one_answer(head, chunk, times));
        assert_eq!(answer, Err(NoAnswer::Unreadable(TOO_LARGE.into())));
    }

    #[test]
    fn a_gzip_answer_that_inflates_past_the_bound_is_refused_not_cut_short() {
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..(MAX_ANSWER_BYTES >> 20) + 1 {
            gz.write_all(&chunk).expect("gzip");
        }
        let body = gz.finish().expect("gzip");
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        let answer = ask(one_answer(head, body, 1));
        assert_eq!(answer, Err(NoAnswer::Unreadable(TOO_LARGE.into())));
        // One within the bound is undone whole.
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(b"an answer").expect("gzip");
        let body = gz.finish().expect("gzip");
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        let answer = ask(one_answer(head, body, 1)).expect("answered");
        assert_eq!(answer.body, b"an answer");
    }
}
