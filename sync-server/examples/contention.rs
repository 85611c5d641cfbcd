//! Do teams wait on each other's writes? One team pushes large batches back to back while
//! another team's devices push small ones; prints the small team's push latency.
//!
//! It starts its own relay in-process (as `loadgen` does: its own runtime, SQLite in a temporary
//! directory, the real HTTP service), enrols one device in a "big" team and `--small-devices`
//! devices in a "small" team, and runs both for `--seconds`:
//!
//! - the big device pushes `--big-changes` new blobs of `--big-bytes` each per request, back to
//!   back (default 2,000 x 2 KiB, about 4 MiB per request);
//! - each small device pushes 2 new 600-byte blobs, then pauses `--interval-ms` (50).
//!
//! `cargo run --release -p sync-server --example contention -- --seconds 10`

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use groundwork_protocol::{
    ENROL_PATH, EnrolRequest, EnrolResponse, PushItem, SYNC_CONTENT_TYPE, SYNC_PATH, SyncRequest,
    decode_sync_response, encode_sync_request,
};
use sync_server::api::Limits;
use sync_server::ops;
use sync_server::ratelimit::RateSettings;
use sync_server::server::RunningRelay;
use sync_server::store::{SqliteStore, Store};

struct Options {
    seconds: u64,
    big_changes: usize,
    big_bytes: usize,
    small_devices: usize,
    interval_ms: u64,
}

fn parse_options() -> Result<Options> {
    let mut o = Options {
        seconds: 10,
        big_changes: 2_000,
        big_bytes: 2_048,
        small_devices: 4,
        interval_ms: 50,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        let n: u64 = value
            .parse()
            .with_context(|| format!("{flag} {value}: not a number"))?;
        let as_usize = usize::try_from(n)?;
        match flag.as_str() {
            "--seconds" => o.seconds = n,
            "--big-changes" => o.big_changes = as_usize,
            "--big-bytes" => o.big_bytes = as_usize,
            "--small-devices" => o.small_devices = as_usize,
            "--interval-ms" => o.interval_ms = n,
            _ => bail!("unknown flag {flag}"),
        }
    }
    if o.seconds == 0 || o.seconds > 600 || o.small_devices == 0 || o.big_changes == 0 {
        bail!("--seconds between 1 and 600; --small-devices and --big-changes above zero");
    }
    Ok(o)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    let _ = e.write_all(bytes);
    e.finish().unwrap_or_default()
}

/// Unique blobs of `size` bytes.
fn blobs(tag: &str, counter: &mut u64, n: usize, size: usize) -> Vec<PushItem> {
    (0..n)
        .map(|_| {
            *counter += 1;
            let mut blob = format!("{tag} change {counter} ").into_bytes();
            // Pseudo-random filler so that gzip cannot shrink a big push to nothing.
            let mut x = *counter ^ 0x9e37_79b9_7f4a_7c15;
            while blob.len() < size {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                blob.push(b'a' + (x % 26) as u8);
            }
            PushItem::new(format!("doc-{tag}-{}", *counter % 50), blob)
        })
        .collect()
}

/// One push; returns its latency or an error.
async fn push(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    items: Vec<PushItem>,
) -> Result<Duration> {
    let req = SyncRequest {
        since: 0,
        push: items,
        max_bytes: Some(1),
        // Any actor unique to the device will do: its token's random part.
        actor: token.bytes().skip(4).take(16).collect(),
    };
    let body = gzip(&encode_sync_request(&req)?);
    let started = Instant::now();
    let resp = http
        .post(format!("{url}{SYNC_PATH}"))
        .bearer_auth(token)
        .header("content-type", SYNC_CONTENT_TYPE)
        .header("content-encoding", "gzip")
        .header("accept-encoding", "gzip")
        .body(body)
        .send()
        .await?;
    let status = resp.status();
    let gz = resp
        .headers()
        .get("content-encoding")
        .is_some_and(|v| v == "gzip");
    let bytes = resp.bytes().await?;
    let elapsed = started.elapsed();
    if !status.is_success() {
        bail!("HTTP {status}: {}", String::from_utf8_lossy(&bytes));
    }
    let plain = if gz {
        let mut out = Vec::new();
        GzDecoder::new(&bytes[..]).read_to_end(&mut out)?;
        out
    } else {
        bytes.to_vec()
    };
    let answer = decode_sync_response(&plain, &req)?;
    if answer.accepted.len() != req.push.len() {
        bail!("not every blob was accepted");
    }
    Ok(elapsed)
}

async fn enrol(http: &reqwest::Client, url: &str, invite: &str, name: &str) -> Result<String> {
    let req = EnrolRequest {
        invite: invite.to_owned(),
        device_name: name.to_owned(),
        actor: None,
        sealing: false,
        token: None,
        holds_secret: None,
    };
    let resp = http
        .post(format!("{url}{ENROL_PATH}"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&req)?)
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!(
            "enrolment failed: {}",
            resp.text().await.unwrap_or_default()
        );
    }
    let e: EnrolResponse = serde_json::from_slice(&resp.bytes().await?)?;
    Ok(e.token)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1_000.0
}

fn main() -> Result<()> {
    let o = Arc::new(parse_options()?);
    let tmp = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(tmp.path())?);
    let relay_rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("relay")
        .max_blocking_threads(sync_server::config::DEFAULT_BLOCKING_THREADS)
        .enable_all()
        .build()?;
    let relay_store: Arc<dyn Store> = store.clone();
    let relay = relay_rt.block_on(RunningRelay::start(
        "127.0.0.1:0".parse()?,
        relay_store,
        Limits {
            rates: RateSettings::unlimited(),
            ..Limits::default()
        },
    ))?;
    let url = format!("http://{}", relay.addr());
    let mut invites = Vec::new();
    for (name, uses) in [("big", 1), ("small", o.small_devices)] {
        let team = ops::team_create(store.as_ref(), name, None)?;
        let team_id = team["team_id"].as_str().context("team id")?.to_owned();
        invites.push(ops::invite_create(
            store.as_ref(),
            &team_id,
            u32::try_from(uses)?,
            3_600,
        )?);
    }

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("devices")
        .enable_all()
        .build()?;
    let (big, small, elapsed) = client_rt.block_on(async {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        let big_token = enrol(&http, &url, &invites[0], "big device").await?;
        let mut small_tokens = Vec::new();
        for d in 0..o.small_devices {
            small_tokens.push(enrol(&http, &url, &invites[1], &format!("small {d}")).await?);
        }
        let deadline = Instant::now() + Duration::from_secs(o.seconds);
        let started = Instant::now();
        let big = {
            let (http, url, o) = (http.clone(), url.clone(), Arc::clone(&o));
            tokio::spawn(async move {
                let mut counter = 0;
                let mut done: Vec<Duration> = Vec::new();
                while Instant::now() < deadline {
                    let items = blobs("big", &mut counter, o.big_changes, o.big_bytes);
                    done.push(push(&http, &url, &big_token, items).await?);
                }
                anyhow::Ok(done)
            })
        };
        let small: Vec<_> = small_tokens
            .into_iter()
            .enumerate()
            .map(|(d, token)| {
                let (http, url, o) = (http.clone(), url.clone(), Arc::clone(&o));
                tokio::spawn(async move {
                    let tag = format!("small{d}");
                    let mut counter = 0;
                    let mut done: Vec<Duration> = Vec::new();
                    while Instant::now() < deadline {
                        let items = blobs(&tag, &mut counter, 2, 600);
                        done.push(push(&http, &url, &token, items).await?);
                        tokio::time::sleep(Duration::from_millis(o.interval_ms)).await;
                    }
                    anyhow::Ok(done)
                })
            })
            .collect();
        let big = big.await??;
        let mut all_small = Vec::new();
        for task in small {
            all_small.extend(task.await??);
        }
        anyhow::Ok((big, all_small, started.elapsed()))
    })?;
    relay_rt.block_on(relay.stop())?;

    let mut small = small;
    small.sort_unstable();
    let mut big = big;
    big.sort_unstable();
    let secs = elapsed.as_secs_f64();
    println!(
        "big team: {} pushes of {} x {} B in {secs:.1} s ({:.1} MB/s); push latency p50 {:.0} ms, max {:.0} ms",
        big.len(),
        o.big_changes,
        o.big_bytes,
        (big.len() * o.big_changes * o.big_bytes) as f64 / secs / 1e6,
        percentile(&big, 0.5),
        percentile(&big, 1.0),
    );
    println!(
        "small team: {} pushes of 2 x 600 B by {} devices; push latency ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        small.len(),
        o.small_devices,
        percentile(&small, 0.5),
        percentile(&small, 0.9),
        percentile(&small, 0.99),
        percentile(&small, 1.0),
    );
    Ok(())
}
