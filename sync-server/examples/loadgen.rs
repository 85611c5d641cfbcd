//! A bounded load generator: N devices syncing as fast as they can against a relay on 127.0.0.1.
//!
//! It starts its own relay in-process (its own tokio runtime, SQLite in a temporary directory,
//! the same code as `sync-server serve`), creates teams, enrols every device over HTTP, then lets
//! each device loop: push a few new blobs and pull the rest of its team's changes, gzip both
//! ways, until the time is up. It prints requests per second and latency percentiles, then stops.
//!
//! `cargo run --release -p sync-server --example loadgen -- --devices 200 --seconds 10`
//!
//! Flags: `--devices N` (200), `--seconds S` (10), `--team-size N` (20 devices per team),
//! `--push N` (new blobs per sync, 2), `--blob-bytes N` (600), `--interval-ms N` (pause between
//! a device's syncs, 0), `--spread-ms N` (device `d` of `n` starts `d * N / n` ms after the
//! first, 0: all at once).
//!
//! Besides the whole run's latency percentiles it prints those of the syncs started in the
//! run's first second (when every device makes its first sync, at once unless spread) and of
//! the rest, since the two can differ by an order of magnitude.
//!
//! `--url URL --data-dir DIR` drive a relay running in another process instead (`sync-server
//! serve --data-dir DIR`; teams and invites are created in DIR, as the operator commands do), so
//! that the relay's own memory and threads can be measured apart from the load generator's:
//! see `BENCHMARKS-relay.md`. `--url` may be given several times: device `d` talks to the
//! `d mod n`-th relay (several relay processes on one PostgreSQL database). `--database-url URL`
//! (with `--url`) makes the teams and invites in that PostgreSQL database instead of a data
//! directory. `--syncs N` bounds each device's syncs (an end-of-shift burst: every device syncs
//! N times as fast as it can, and the run ends when all have, or at `--seconds`).

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
use sync_server::store::{PostgresStore, SqliteStore, Store};

/// Hard cap on requests per device, on top of the time limit.
const MAX_REQUESTS_PER_DEVICE: u64 = 1_000_000;

struct Options {
    devices: usize,
    seconds: u64,
    team_size: usize,
    push: usize,
    blob_bytes: usize,
    interval_ms: u64,
    spread_ms: u64,
    urls: Vec<String>,
    data_dir: Option<std::path::PathBuf>,
    database_url: Option<String>,
    syncs: u64,
}

fn parse_options() -> Result<Options> {
    let mut o = Options {
        devices: 200,
        seconds: 10,
        team_size: 20,
        push: 2,
        blob_bytes: 600,
        interval_ms: 0,
        spread_ms: 0,
        urls: Vec::new(),
        data_dir: None,
        database_url: None,
        syncs: MAX_REQUESTS_PER_DEVICE,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => {
                o.urls.push(value.trim_end_matches('/').to_owned());
                continue;
            }
            "--database-url" => {
                o.database_url = Some(value);
                continue;
            }
            "--data-dir" => {
                o.data_dir = Some(value.into());
                continue;
            }
            _ => {}
        }
        let n: u64 = value
            .parse()
            .with_context(|| format!("{flag} {value}: not a number"))?;
        let as_usize = usize::try_from(n)?;
        match flag.as_str() {
            "--devices" => o.devices = as_usize,
            "--seconds" => o.seconds = n,
            "--team-size" => o.team_size = as_usize,
            "--push" => o.push = as_usize,
            "--blob-bytes" => o.blob_bytes = as_usize,
            "--interval-ms" => o.interval_ms = n,
            "--spread-ms" => o.spread_ms = n,
            "--syncs" => o.syncs = n.min(MAX_REQUESTS_PER_DEVICE),
            _ => bail!("unknown flag {flag}"),
        }
    }
    let stores = usize::from(o.data_dir.is_some()) + usize::from(o.database_url.is_some());
    if o.urls.is_empty() != (stores == 0) || stores > 1 {
        bail!(
            "--url goes with one of --data-dir or --database-url (the relay's address and where \
             its data is)"
        );
    }
    if o.devices == 0 || o.team_size == 0 || o.seconds == 0 || o.seconds > 600 {
        bail!("--devices and --team-size must be positive, --seconds between 1 and 600");
    }
    Ok(o)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    let _ = e.write_all(bytes);
    e.finish().unwrap_or_default()
}

struct DeviceResult {
    latencies_us: Vec<u64>,
    /// Latencies of the syncs started in the run's first second.
    first_second_us: Vec<u64>,
    errors: u64,
    pushed: u64,
    pulled: u64,
    bytes_up: u64,
    bytes_down: u64,
}

async fn run_device(
    http: reqwest::Client,
    url: String,
    token: String,
    device_no: usize,
    o: Arc<Options>,
    run_started: Instant,
    deadline: Instant,
) -> DeviceResult {
    let mut r = DeviceResult {
        latencies_us: Vec::new(),
        first_second_us: Vec::new(),
        errors: 0,
        pushed: 0,
        pulled: 0,
        bytes_up: 0,
        bytes_down: 0,
    };
    if o.spread_ms > 0 {
        let offset = o.spread_ms * device_no as u64 / o.devices.max(1) as u64;
        tokio::time::sleep_until((run_started + Duration::from_millis(offset)).into()).await;
    }
    let mut cursor = 0u64;
    let mut counter = 0u64;
    let mut outbox: Vec<PushItem> = Vec::new();
    for _ in 0..o.syncs {
        if Instant::now() >= deadline {
            break;
        }
        while outbox.len() < o.push {
            counter += 1;
            let mut blob = format!("device {device_no} change {counter} ").into_bytes();
            blob.resize(o.blob_bytes.max(blob.len()), b'x');
            outbox.push(PushItem::new(
                format!("doc-{device_no}-{}", counter % 10),
                blob,
            ));
        }
        let req = SyncRequest {
            since: cursor,
            push: outbox.clone(),
            max_bytes: None,
            actor: (device_no as u64).to_be_bytes().to_vec(),
        };
        let Ok(plain) = encode_sync_request(&req) else {
            r.errors += 1;
            continue;
        };
        let body = gzip(&plain);
        r.bytes_up += body.len() as u64;
        let started = Instant::now();
        let sent = http
            .post(format!("{url}{SYNC_PATH}"))
            .bearer_auth(&token)
            .header("content-type", SYNC_CONTENT_TYPE)
            .header("content-encoding", "gzip")
            .header("accept-encoding", "gzip")
            .body(body)
            .send()
            .await;
        let answer = match sent {
            Ok(resp) if resp.status().is_success() => {
                let gz = resp
                    .headers()
                    .get("content-encoding")
                    .is_some_and(|v| v == "gzip");
                resp.bytes().await.ok().map(|b| (gz, b))
            }
            _ => None,
        };
        let latency = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let Some((gz, bytes)) = answer else {
            r.errors += 1;
            continue;
        };
        r.bytes_down += bytes.len() as u64;
        let plain = if gz {
            let mut out = Vec::new();
            if GzDecoder::new(&bytes[..]).read_to_end(&mut out).is_err() {
                r.errors += 1;
                continue;
            }
            out
        } else {
            bytes.to_vec()
        };
        match decode_sync_response(&plain, &req) {
            Ok(resp) => {
                if started.duration_since(run_started) < Duration::from_secs(1) {
                    r.first_second_us.push(latency);
                } else {
                    r.latencies_us.push(latency);
                }
                r.pushed += resp.accepted.len() as u64;
                r.pulled += resp.changes.len() as u64;
                outbox.retain(|p| !resp.accepted.contains(&p.id));
                cursor = resp.cursor;
            }
            Err(_) => r.errors += 1,
        }
        if o.interval_ms > 0 {
            tokio::time::sleep(Duration::from_millis(o.interval_ms)).await;
        }
    }
    r
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)] as f64 / 1_000.0
}

fn main() -> Result<()> {
    let o = Arc::new(parse_options()?);
    let tmp = tempfile::tempdir()?;
    let data_dir = o.data_dir.clone().unwrap_or_else(|| tmp.path().to_owned());
    let store: Arc<dyn Store> = match &o.database_url {
        Some(url) => Arc::new(PostgresStore::open(url, 2)?),
        None => Arc::new(SqliteStore::open(&data_dir)?),
    };

    // In process, the relay gets its own runtime, as in `sync-server serve`.
    let relay_rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("relay")
        .max_blocking_threads(sync_server::config::DEFAULT_BLOCKING_THREADS)
        .enable_all()
        .build()?;
    let mut relay = None;
    let urls = match o.urls.is_empty() {
        false => o.urls.clone(),
        true => {
            let relay_store: Arc<dyn Store> = store.clone();
            let running = relay_rt.block_on(RunningRelay::start(
                "127.0.0.1:0".parse()?,
                relay_store,
                Limits {
                    rates: RateSettings::unlimited(),
                    ..Limits::default()
                },
            ))?;
            let url = format!("http://{}", running.addr());
            relay = Some(running);
            vec![url]
        }
    };
    let teams = o.devices.div_ceil(o.team_size);
    let mut invites = Vec::new();
    for t in 0..teams {
        let team = ops::team_create(store.as_ref(), &format!("load team {t}"), None)?;
        let team_id = team["team_id"].as_str().context("team id")?.to_owned();
        let uses = u32::try_from(o.team_size)?;
        invites.push(ops::invite_create(store.as_ref(), &team_id, uses, 3_600)?);
    }

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("devices")
        .enable_all()
        .build()?;
    let results = client_rt.block_on(async {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(o.devices)
            .timeout(Duration::from_secs(30))
            .build()?;
        let mut tokens = Vec::with_capacity(o.devices);
        for d in 0..o.devices {
            let req = EnrolRequest {
                invite: invites[d / o.team_size].clone(),
                device_name: format!("load device {d}"),
                actor: None,
                sealing: false,
                token: None,
                holds_secret: None,
            };
            let resp = http
                .post(format!("{}{ENROL_PATH}", urls[d % urls.len()]))
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
            tokens.push(e.token);
        }
        println!(
            "{} devices in {teams} teams enrolled through {} relay(s); syncing for {} s{} (push \
             {} x {} B per sync)",
            o.devices,
            urls.len(),
            o.seconds,
            if o.syncs < MAX_REQUESTS_PER_DEVICE {
                format!(" or {} syncs each", o.syncs)
            } else {
                String::new()
            },
            o.push,
            o.blob_bytes
        );
        let started = Instant::now();
        let deadline = started + Duration::from_secs(o.seconds);
        let tasks: Vec<_> = tokens
            .into_iter()
            .enumerate()
            .map(|(d, token)| {
                tokio::spawn(run_device(
                    http.clone(),
                    urls[d % urls.len()].clone(),
                    token,
                    d,
                    Arc::clone(&o),
                    started,
                    deadline,
                ))
            })
            .collect();
        let mut results = Vec::with_capacity(tasks.len());
        for task in tasks {
            results.push(task.await?);
        }
        Ok((results, started.elapsed()))
    })?;
    let (results, elapsed) = results;

    let sorted = |of: &dyn Fn(&DeviceResult) -> &Vec<u64>| {
        let mut all: Vec<u64> = results.iter().flat_map(|r| of(r).iter().copied()).collect();
        all.sort_unstable();
        all
    };
    let first_second = sorted(&|r| &r.first_second_us);
    let after = sorted(&|r| &r.latencies_us);
    let mut latencies: Vec<u64> = first_second.iter().chain(&after).copied().collect();
    latencies.sort_unstable();
    let ok = latencies.len() as f64;
    let secs = elapsed.as_secs_f64();
    let errors: u64 = results.iter().map(|r| r.errors).sum();
    let pushed: u64 = results.iter().map(|r| r.pushed).sum();
    let pulled: u64 = results.iter().map(|r| r.pulled).sum();
    let up: u64 = results.iter().map(|r| r.bytes_up).sum();
    let down: u64 = results.iter().map(|r| r.bytes_down).sum();
    println!(
        "requests ok:      {} ({errors} failed) in {secs:.1} s",
        latencies.len()
    );
    println!("requests/second:  {:.0}", ok / secs);
    println!(
        "latency ms:       p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.90),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0)
    );
    for (what, part) in [("first second:", &first_second), ("after it:", &after)] {
        println!(
            "  {what:<15} p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}  ({} syncs)",
            percentile(part, 0.50),
            percentile(part, 0.90),
            percentile(part, 0.99),
            percentile(part, 1.0),
            part.len()
        );
    }
    println!(
        "blobs pushed:     {pushed} ({:.0}/s); changes pulled: {pulled} ({:.0}/s)",
        pushed as f64 / secs,
        pulled as f64 / secs
    );
    println!(
        "wire bytes:       {:.1} MB up, {:.1} MB down (gzip)",
        up as f64 / 1e6,
        down as f64 / 1e6
    );
    if let Some(relay) = relay {
        relay_rt.block_on(relay.stop())?;
    }
    if errors > 0 {
        bail!("{errors} requests failed");
    }
    Ok(())
}
