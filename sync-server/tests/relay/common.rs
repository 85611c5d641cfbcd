//! Test harness: start and kill relay processes, run operator commands, talk HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use groundwork_protocol::{
    ENROL_PATH, ERASURES_HEADER, EnrolRequest, EnrolResponse, ErrorBody, PushItem, ROLE_HEADER,
    Role, SYNC_CONTENT_TYPE, SYNC_PATH, SyncRequest, SyncResponse, decode_sync_response,
    encode_sync_request,
};
use reqwest::blocking::{Client, Response};
use reqwest::header::{self, HeaderMap};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::Digest;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_sync-server");

/// The PostgreSQL server the suite runs on instead of SQLite, if any: connection settings
/// without a database name in `GROUNDWORK_TEST_POSTGRES` (`.ci/postgres` prints them), e.g.
/// `host=/tmp/groundwork-pg user=postgres`.
pub fn postgres() -> Option<String> {
    std::env::var("GROUNDWORK_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.trim().is_empty())
}

/// Whether a test that looks into the SQLite file itself should be skipped: the suite is running
/// on PostgreSQL. Says so on standard error.
pub fn sqlite_only(test: &str) -> bool {
    let skip = postgres().is_some();
    if skip {
        eprintln!("{test}: looks into relay.sqlite3; not run on PostgreSQL");
    }
    skip
}

/// The `--database-url` for a relay whose data directory is `data_dir`, when the suite runs on
/// PostgreSQL: one database per data directory (created on first use), so that a relay
/// restarted on the same directory, and operator commands on it, find the same data.
pub fn database_url(data_dir: &Path) -> Option<String> {
    use std::sync::Mutex;
    static CREATED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let base = postgres()?;
    let digest = sha2::Sha256::digest(data_dir.as_os_str().as_encoded_bytes());
    let name: String = format!("gw_{}", hex(&digest[..10]));
    let mut created = CREATED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !created.contains(&name) {
        let mut admin =
            postgres::Client::connect(&format!("{base} dbname=postgres"), postgres::NoTls)
                .expect("connect to the test PostgreSQL (GROUNDWORK_TEST_POSTGRES)");
        let exists = admin
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
            .expect("look the database up")
            .is_some();
        if !exists {
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("create the test database");
        }
        created.push(name.clone());
    }
    Some(format!("{base} dbname={name}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The parameter of a query a test runs on the relay's database ([`db_row`]).
pub enum Param<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
}

/// How many rows of `table` (which has a `team_pk`) belong to the team `team_id`, whichever
/// backend holds them.
pub fn team_rows(data_dir: &Path, table: &str, team_id: &str) -> i64 {
    let sql = format!(
        "SELECT CAST(count(*) AS TEXT) FROM {table} x JOIN teams t ON t.pk = x.team_pk
         WHERE t.id = $1"
    );
    let row = db_row(data_dir, &sql, Param::Text(team_id)).expect("a count");
    int(&row[0])
}

/// The one row (if any) of `sql` on the relay's database, whichever backend holds it, each
/// column read as text (`CAST(… AS TEXT)` the numbers; a boolean reads `1`/`true`). `sql` names
/// its parameter `$1`, which SQLite takes too.
pub fn db_row(data_dir: &Path, sql: &str, param: Param<'_>) -> Option<Vec<Option<String>>> {
    if let Some(url) = database_url(data_dir) {
        let mut db = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        let row = match param {
            Param::Text(t) => db.query_opt(sql, &[&t]),
            Param::Bytes(b) => db.query_opt(sql, &[&b]),
        }
        .expect("query")?;
        return Some((0..row.len()).map(|i| row.get(i)).collect());
    }
    use rusqlite::OptionalExtension;
    let db = rusqlite::Connection::open(data_dir.join("relay.sqlite3")).expect("open");
    let read = |r: &rusqlite::Row<'_>| {
        (0..r.as_ref().column_count())
            .map(|i| r.get::<_, Option<String>>(i))
            .collect::<Result<Vec<_>, _>>()
    };
    match param {
        Param::Text(t) => db.query_row(sql, [t], read),
        Param::Bytes(b) => db.query_row(sql, [b], read),
    }
    .optional()
    .expect("query")
}

/// A column of [`db_row`] as a number.
pub fn int(column: &Option<String>) -> i64 {
    column
        .as_deref()
        .expect("a value")
        .parse()
        .expect("a number")
}

/// A column of [`db_row`] as a boolean.
pub fn boolean(column: &Option<String>) -> bool {
    matches!(column.as_deref(), Some("1" | "true"))
}

/// Whether the suite can scan the relay's files for bytes (SQLite: its files are the data
/// directory's; PostgreSQL keeps its own, and deleted rows until vacuum: see the PostgreSQL
/// store's "Erasure").
pub fn scans_files() -> bool {
    postgres().is_none()
}

/// `--database-url URL` when the suite runs on PostgreSQL, else nothing.
pub fn database_args(data_dir: &Path) -> Vec<String> {
    database_url(data_dir)
        .map(|url| vec!["--database-url".to_owned(), url])
        .unwrap_or_default()
}

/// A relay process; killed (SIGKILL) when dropped.
pub struct Relay {
    child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    _tmp: Option<TempDir>,
    http: Client,
}

impl Relay {
    /// A relay on a fresh temporary data directory.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A relay on a fresh temporary data directory with extra `serve` flags.
    pub fn start_with(extra: &[&str]) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data_dir = tmp.path().join("data");
        let mut relay = Self::start_in(&data_dir, extra);
        relay._tmp = Some(tmp);
        relay
    }

    /// A relay on a fresh temporary data directory whose process may open at most `nofile`
    /// file descriptors (a soft limit, as `ulimit -n` sets).
    pub fn start_with_nofile(extra: &[&str], nofile: u64) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data_dir = tmp.path().join("data");
        let mut relay = Self::spawn(&data_dir, extra, Some(nofile));
        relay._tmp = Some(tmp);
        relay
    }

    /// A relay on `data_dir` (which the caller keeps alive).
    pub fn start_in(data_dir: &Path, extra: &[&str]) -> Self {
        Self::spawn(data_dir, extra, None)
    }

    fn spawn(data_dir: &Path, extra: &[&str], nofile: Option<u64>) -> Self {
        let log = data_dir.with_extension("log");
        if let Some(parent) = log.parent() {
            std::fs::create_dir_all(parent).expect("log dir");
        }
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let mut command = Command::new(BIN);
        if let Some(nofile) = nofile {
            limit_fds(&mut command, nofile);
        }
        let mut child = command
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--log", "warn"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(database_args(data_dir))
            .args(extra)
            .env_remove("GROUNDWORK_RELAY_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn sync-server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read stdout");
        let Some(url) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("relay did not start: stdout {line:?}, stderr {log}");
        };
        let url = url.to_owned();
        Relay {
            child,
            url,
            data_dir: data_dir.to_owned(),
            _tmp: None,
            http: http_client(),
        }
    }

    /// Kills the process with SIGKILL and waits for it.
    pub fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }

    /// Runs an operator command against this relay's data directory.
    pub fn op(&self, args: &[&str]) -> Output {
        operator(&self.data_dir, args)
    }

    /// Runs an operator command that must succeed; returns its standard output.
    pub fn op_ok(&self, args: &[&str]) -> String {
        let out = self.op(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Creates a team; returns (team id, first invite).
    pub fn team(&self, name: &str) -> (String, String) {
        let v: Value = serde_json::from_str(&self.op_ok(&["team", "create", "--name", name]))
            .expect("team create prints JSON");
        (
            v["team_id"].as_str().expect("team_id").to_owned(),
            v["invite"].as_str().expect("invite").to_owned(),
        )
    }

    /// Creates an invite with extra flags (e.g. `--uses 3`).
    pub fn invite(&self, team: &str, extra: &[&str]) -> String {
        let mut args = vec!["invite", "create", "--team", team];
        args.extend_from_slice(extra);
        self.op_ok(&args).trim().to_owned()
    }

    /// A team with `n` enrolled devices (canvassers).
    pub fn team_with_devices(&self, name: &str, n: usize) -> (String, Vec<Device>) {
        self.team_with_devices_invited(name, n, &[])
    }

    /// A team with `n` enrolled leads.
    pub fn team_with_leads(&self, name: &str, n: usize) -> (String, Vec<Device>) {
        self.team_with_devices_invited(name, n, &["--lead"])
    }

    /// A team with `n` devices enrolled with one invite made with extra flags (e.g. `--lead`).
    /// Canvassers join after the team's first lead (enrolled with `team create`'s invite, not
    /// returned): a team with no lead yet takes no canvasser.
    pub fn team_with_devices_invited(
        &self,
        name: &str,
        n: usize,
        extra: &[&str],
    ) -> (String, Vec<Device>) {
        let (team, first) = self.team(name);
        if !extra.contains(&"--lead") {
            self.enrol(&first, &format!("{name} lead")).expect("enrols");
        }
        let uses = n.to_string();
        let mut flags = vec!["--uses", uses.as_str()];
        flags.extend_from_slice(extra);
        let invite = self.invite(&team, &flags);
        let devices = (0..n)
            .map(|i| {
                self.enrol(&invite, &format!("{name} device {i}"))
                    .expect("enrols")
            })
            .collect();
        (team, devices)
    }

    pub fn get(&self, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .expect("GET")
    }

    /// A GET with a bearer token: the status and the body as text.
    pub fn http_get_with_token(&self, path: &str, token: &str) -> (u16, String) {
        let resp = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .expect("GET");
        let status = resp.status().as_u16();
        (status, resp.text().unwrap_or_default())
    }

    pub fn healthy(&self) -> bool {
        self.get("/healthz").status() == 200
    }

    /// Enrols a device.
    pub fn enrol(&self, invite: &str, name: &str) -> Result<Device, (u16, String)> {
        let req = EnrolRequest {
            invite: invite.into(),
            device_name: name.into(),
            actor: None,
            sealing: false,
            token: None,
            holds_secret: None,
        };
        self.enrol_with(&req)
            .map(|(device, _)| device)
            .map_err(|answer| (answer.status, error_message(&answer.body)))
    }

    /// Enrols with `req`: the device and the relay's whole answer, or the error answer.
    pub fn enrol_with(&self, req: &EnrolRequest) -> Result<(Device, EnrolResponse), Box<Answer>> {
        let answer = Answer::read(
            self.http
                .post(format!("{}{ENROL_PATH}", self.url))
                .json_body(req)
                .send()
                .expect("POST enrol"),
        );
        if answer.status != 200 {
            return Err(Box::new(answer));
        }
        let e: EnrolResponse = answer.json();
        let device = Device {
            url: self.url.clone(),
            http: self.http.clone(),
            team_id: e.team_id.clone(),
            device_id: e.device_id.clone(),
            token: e.token.clone(),
            role: e.role,
            cursor: 0,
            actor: uuid::Uuid::new_v4().as_bytes().to_vec(),
        };
        Ok((device, e))
    }

    /// A team whose first device is its lead (enrolled with `team create`'s invite), with
    /// `canvassers` more devices enrolled with an invite the lead asked for over HTTP.
    pub fn team_with_lead(&self, name: &str, canvassers: u32) -> (Device, Vec<Device>) {
        let (_, first) = self.team(name);
        let lead = self.enrol(&first, &format!("{name} lead")).expect("enrols");
        assert_eq!(lead.role, Role::Lead, "team create's invite makes a lead");
        if canvassers == 0 {
            return (lead, Vec::new());
        }
        let answer = lead.post(
            groundwork_protocol::INVITES_PATH,
            &groundwork_protocol::InviteRequest {
                uses: canvassers,
                expires_in_secs: 3600,
                role: Role::Canvasser,
                sealed_keys: None,
                key_parts: Vec::new(),
                request: None,
            },
        );
        assert_eq!(answer.status, 200, "{answer:?}");
        let invite: groundwork_protocol::InviteResponse = answer.json();
        let devices = (0..canvassers)
            .map(|i| {
                let d = self
                    .enrol(&invite.code, &format!("{name} phone {i}"))
                    .expect("enrols");
                assert_eq!(d.role, Role::Canvasser);
                d
            })
            .collect();
        (lead, devices)
    }

    /// A device of this relay known by its token (e.g. one written into a database by hand),
    /// declaring a fresh actor.
    pub fn device(&self, team_id: &str, device_id: &str, token: &str) -> Device {
        Device {
            url: self.url.clone(),
            http: self.http.clone(),
            team_id: team_id.to_owned(),
            device_id: device_id.to_owned(),
            token: token.to_owned(),
            role: Role::Canvasser,
            cursor: 0,
            actor: uuid::Uuid::new_v4().as_bytes().to_vec(),
        }
    }

    /// POSTs raw bytes to the sync endpoint.
    pub fn post_sync_raw(
        &self,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (u16, Vec<u8>) {
        let mut req = self
            .http
            .post(format!("{}{SYNC_PATH}", self.url))
            .header(header::CONTENT_TYPE, SYNC_CONTENT_TYPE)
            .body(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().expect("POST sync");
        (resp.status().as_u16(), resp.bytes().expect("body").to_vec())
    }
}

#[cfg(unix)]
fn limit_fds(command: &mut Command, nofile: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec the closure only calls getrlimit/setrlimit, which are
    // async-signal-safe, and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            limit.rlim_cur = nofile.min(limit.rlim_max);
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(unix))]
fn limit_fds(_command: &mut Command, _nofile: u64) {}

/// Raises this test process's soft limit on open files to its hard limit (tests that open
/// thousands of connections need more than the common default of 1,024).
pub fn raise_fd_limit() {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain system calls on a struct we own.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0
                && limit.rlim_cur < limit.rlim_max
            {
                limit.rlim_cur = limit.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

trait JsonBody {
    fn json_body<T: serde::Serialize>(self, value: &T) -> Self;
}

impl JsonBody for reqwest::blocking::RequestBuilder {
    fn json_body<T: serde::Serialize>(self, value: &T) -> Self {
        self.header(header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(value).expect("json"))
    }
}

pub fn http_client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client")
}

/// Runs an operator command against `data_dir`.
pub fn operator(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .args(database_args(data_dir))
        .env_remove("GROUNDWORK_RELAY_CONFIG")
        .env_remove("GROUNDWORK_RELAY_PUBLIC_URL")
        .stdin(Stdio::null())
        .output()
        .expect("run operator command")
}

/// An HTTP answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    fn read(resp: Response) -> Self {
        Answer {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.bytes().expect("body").to_vec(),
        }
    }

    /// The body as JSON of type `T` (panics, with the body, if it is not).
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "answer {} is not the JSON expected ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The JSON error body (panics if the body is not one).
    pub fn error(&self) -> ErrorBody {
        let body: ErrorBody = self.json();
        assert!(!body.error.is_empty());
        body
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The role and erasure head headers every answer to a known device carries.
    pub fn team_headers(&self) -> (Option<&str>, Option<u64>) {
        (
            self.header(ROLE_HEADER),
            self.header(ERASURES_HEADER)
                .map(|v| v.parse().expect("a number")),
        )
    }
}

/// Which of the relay's database files (`relay.sqlite3` and its `-wal`) hold `needle`.
pub fn files_holding(data_dir: &Path, needle: &[u8]) -> Vec<&'static str> {
    ["relay.sqlite3", "relay.sqlite3-wal"]
        .into_iter()
        .filter(|name| {
            let bytes = std::fs::read(data_dir.join(name)).unwrap_or_default();
            bytes.windows(needle.len()).any(|w| w == needle)
        })
        .collect()
}

/// The `error` field of a JSON error body (panics if the body is not one).
pub fn error_message(bytes: &[u8]) -> String {
    let body: ErrorBody = serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!(
            "error body is not JSON {{\"error\": …}} ({e}): {:?}",
            String::from_utf8_lossy(bytes)
        )
    });
    assert!(!body.error.is_empty());
    body.error
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut out).expect("gunzip");
    out
}

/// An enrolled device with its cursor.
#[derive(Clone, Debug)]
pub struct Device {
    url: String,
    http: Client,
    pub team_id: String,
    pub device_id: String,
    pub token: String,
    /// The role the relay gave it at enrolment.
    pub role: Role,
    pub cursor: u64,
    /// The actor id this test device declares.
    pub actor: Vec<u8>,
}

impl Device {
    /// One sync round trip (gzip both ways); advances the cursor on success.
    pub fn sync(
        &mut self,
        push: Vec<PushItem>,
        max_bytes: Option<u64>,
    ) -> Result<SyncResponse, (u16, String)> {
        let req = SyncRequest {
            since: self.cursor,
            push,
            max_bytes,
            actor: self.actor.clone(),
        };
        let resp = self.send(&req, true)?;
        self.cursor = resp.cursor;
        Ok(resp)
    }

    /// Sends `req` and decodes the answer, with or without gzip.
    pub fn send(&self, req: &SyncRequest, use_gzip: bool) -> Result<SyncResponse, (u16, String)> {
        let plain = encode_sync_request(req).expect("encodes");
        let mut builder = self
            .http
            .post(format!("{}{SYNC_PATH}", self.url))
            .bearer_auth(&self.token)
            .header(header::CONTENT_TYPE, SYNC_CONTENT_TYPE);
        builder = if use_gzip {
            builder
                .header(header::CONTENT_ENCODING, "gzip")
                .header(header::ACCEPT_ENCODING, "gzip")
                .body(gzip(&plain))
        } else {
            builder.body(plain)
        };
        let resp = builder.send().map_err(|e| (0, e.to_string()))?;
        let status = resp.status().as_u16();
        let gzipped = resp
            .headers()
            .get(header::CONTENT_ENCODING)
            .is_some_and(|v| v == "gzip");
        let bytes = resp.bytes().map_err(|e| (0, e.to_string()))?.to_vec();
        if status != 200 {
            return Err((status, error_message(&bytes)));
        }
        if gzipped {
            assert!(
                use_gzip,
                "relay sent gzip to a client that did not ask for it"
            );
        }
        let body = if gzipped { gunzip(&bytes) } else { bytes };
        Ok(decode_sync_response(&body, req).expect("valid sync response"))
    }

    /// Pulls until `more` is false; returns every pulled change's (doc id, blob).
    pub fn pull_all(&mut self, max_bytes: Option<u64>) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        loop {
            let resp = self.sync(Vec::new(), max_bytes).expect("pull");
            out.extend(resp.changes.into_iter().map(|c| (c.doc_id, c.blob)));
            if !resp.more {
                return out;
            }
        }
    }
}

impl Device {
    /// A JSON `POST` with this device's token.
    pub fn post(&self, path: &str, body: &impl serde::Serialize) -> Answer {
        Answer::read(
            self.http
                .post(format!("{}{path}", self.url))
                .bearer_auth(&self.token)
                .json_body(body)
                .send()
                .expect("POST"),
        )
    }

    /// A `POST` of `body` as `content_type` with this device's token.
    pub fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        Answer::read(
            self.http
                .post(format!("{}{path}", self.url))
                .bearer_auth(&self.token)
                .header(header::CONTENT_TYPE, content_type)
                .body(body)
                .send()
                .expect("POST"),
        )
    }

    /// A `GET` with this device's token.
    pub fn get(&self, path: &str) -> Answer {
        Answer::read(
            self.http
                .get(format!("{}{path}", self.url))
                .bearer_auth(&self.token)
                .send()
                .expect("GET"),
        )
    }

    /// Sends `req` to the sync endpoint (gzip both ways or neither) and returns the answer
    /// undecoded, headers included.
    pub fn sync_raw(&self, req: &SyncRequest, use_gzip: bool) -> Answer {
        let plain = encode_sync_request(req).expect("encodes");
        let builder = self
            .http
            .post(format!("{}{SYNC_PATH}", self.url))
            .bearer_auth(&self.token)
            .header(header::CONTENT_TYPE, SYNC_CONTENT_TYPE);
        let builder = if use_gzip {
            builder
                .header(header::CONTENT_ENCODING, "gzip")
                .header(header::ACCEPT_ENCODING, "gzip")
                .body(gzip(&plain))
        } else {
            builder.body(plain)
        };
        Answer::read(builder.send().expect("POST sync"))
    }

    /// A request from this device's cursor pushing `push`.
    pub fn request(&self, push: Vec<PushItem>) -> SyncRequest {
        SyncRequest {
            since: self.cursor,
            push,
            max_bytes: None,
            actor: self.actor.clone(),
        }
    }
}

/// A push item with a unique blob.
pub fn item(doc: &str, text: &str) -> PushItem {
    PushItem::new(doc, text.as_bytes().to_vec())
}

impl Device {
    /// The same device, opening a new connection for every request (as a phone waking up
    /// does), each request given up after `timeout`.
    pub fn with_fresh_connections(&self, timeout: Duration) -> Device {
        Device {
            http: Client::builder()
                .pool_max_idle_per_host(0)
                .timeout(timeout)
                .build()
                .expect("http client"),
            ..self.clone()
        }
    }

    /// The same device, talking to a restarted relay.
    pub fn reconnect(&self, relay: &Relay) -> Device {
        Device {
            url: relay.url.clone(),
            ..self.clone()
        }
    }
}
