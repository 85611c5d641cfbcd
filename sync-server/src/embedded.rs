//! A relay running inside another process, on 127.0.0.1 with a port the system picks, with its
//! own tokio runtime and its real store (SQLite, or PostgreSQL: [`EmbeddedRelay::start_on_new_database`])
//! and HTTP service. For the app's tests and benchmarks (a real relay over real HTTP without a
//! second process), and for tools that want a throwaway relay.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use groundwork_protocol::Role;
use tokio::runtime::Runtime;

use crate::api::Limits;
use crate::ops;
use crate::ratelimit::RateSettings;
use crate::server::RunningRelay;
use crate::store::Store;
use crate::store::postgres::PostgresStore;
use crate::store::sqlite::SqliteStore;

/// Where an embedded relay keeps its data.
#[derive(Clone)]
enum Backend {
    /// SQLite in this directory.
    Sqlite(PathBuf),
    /// PostgreSQL, with these connection settings.
    Postgres(String),
}

/// A relay serving from this process; it stops when dropped.
pub struct EmbeddedRelay {
    // Dropped in this order: the runtime (and the server's tasks) before the store, whose
    // PostgreSQL connections must close outside any runtime.
    rt: Runtime,
    relay: Option<RunningRelay>,
    store: Arc<dyn Store>,
    url: String,
    backend: Backend,
    bounds: Bounds,
}

/// Limits an embedded relay is started with, other than the defaults.
#[derive(Clone, Copy, Default)]
struct Bounds {
    max_team_bytes: Option<u64>,
    max_body_bytes: Option<usize>,
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl EmbeddedRelay {
    /// Start a relay whose database lives in `dir`.
    pub fn start(dir: &Path) -> io::Result<Self> {
        Self::start_with(Backend::Sqlite(dir.to_path_buf()), Bounds::default())
    }

    /// [`EmbeddedRelay::start`] with a quota: each team may store `max_team_bytes` (as
    /// `serve --max-team-bytes`).
    pub fn start_with_quota(dir: &Path, max_team_bytes: u64) -> io::Result<Self> {
        let bounds = Bounds {
            max_team_bytes: Some(max_team_bytes),
            ..Bounds::default()
        };
        Self::start_with(Backend::Sqlite(dir.to_path_buf()), bounds)
    }

    /// [`EmbeddedRelay::start`] taking request bodies of at most `max_body_bytes` (as `serve
    /// --max-body-bytes`).
    pub fn start_with_max_body(dir: &Path, max_body_bytes: usize) -> io::Result<Self> {
        let bounds = Bounds {
            max_body_bytes: Some(max_body_bytes),
            ..Bounds::default()
        };
        Self::start_with(Backend::Sqlite(dir.to_path_buf()), bounds)
    }

    /// Start a relay on a new PostgreSQL database, created (with a random name) on the server
    /// that `settings` reach (`host=… user=…`, without a database name; the user may create
    /// databases). For running the app's sync tests on PostgreSQL.
    pub fn start_on_new_database(settings: &str) -> io::Result<Self> {
        let name = format!("gw_embedded_{}", uuid::Uuid::new_v4().simple());
        let mut admin =
            postgres::Client::connect(&format!("{settings} dbname=postgres"), postgres::NoTls)
                .map_err(other)?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .map_err(other)?;
        admin.close().map_err(other)?;
        Self::start_with(
            Backend::Postgres(format!("{settings} dbname={name}")),
            Bounds::default(),
        )
    }

    fn start_with(backend: Backend, bounds: Bounds) -> io::Result<Self> {
        // Opened before the runtime: PostgreSQL's blocking client cannot start inside one.
        let store: Arc<dyn Store> = match (&backend, bounds.max_team_bytes) {
            (Backend::Sqlite(dir), None) => Arc::new(SqliteStore::open(dir).map_err(other)?),
            (Backend::Sqlite(dir), Some(bytes)) => Arc::new(
                SqliteStore::open(dir)
                    .map_err(other)?
                    .with_max_team_bytes(bytes),
            ),
            (Backend::Postgres(url), None) => Arc::new(PostgresStore::open(url, 8).map_err(other)?),
            (Backend::Postgres(url), Some(bytes)) => Arc::new(
                PostgresStore::open(url, 8)
                    .map_err(other)?
                    .with_max_team_bytes(bytes),
            ),
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(crate::config::DEFAULT_BLOCKING_THREADS)
            .enable_all()
            .build()?;
        // Tests and benchmarks enrol many devices from 127.0.0.1 at once.
        let defaults = Limits::default();
        let limits = Limits {
            rates: RateSettings::unlimited(),
            max_body_bytes: bounds.max_body_bytes.unwrap_or(defaults.max_body_bytes),
            ..defaults
        };
        let listen = "127.0.0.1:0".parse().map_err(other)?;
        let relay = rt.block_on(RunningRelay::start(listen, store.clone(), limits))?;
        let url = format!("http://{}", relay.addr());
        Ok(EmbeddedRelay {
            rt,
            relay: Some(relay),
            store,
            url,
            backend,
            bounds,
        })
    }

    /// The base URL devices use, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The data directory holding the relay's database (SQLite; on PostgreSQL, none).
    pub fn dir(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Sqlite(dir) => Some(dir),
            Backend::Postgres(_) => None,
        }
    }

    /// Stop (letting open requests finish) and start again on the same database, on a new port.
    pub fn restart(mut self) -> io::Result<Self> {
        self.stop()?;
        let (backend, bounds) = (self.backend.clone(), self.bounds);
        drop(self);
        Self::start_with(backend, bounds)
    }

    fn stop(&mut self) -> io::Result<()> {
        match self.relay.take() {
            Some(r) => self.rt.block_on(r.stop()),
            None => Ok(()),
        }
    }

    /// Create a team named `name`; returns its id and a **lead** invite for `uses` devices (one
    /// hour): every device joining with it may do everything, as before team roles. For
    /// canvassers, use [`EmbeddedRelay::invite_as`].
    pub fn team(&self, name: &str, uses: u32) -> io::Result<(String, String)> {
        let created = ops::team_create(&*self.store, name, None).map_err(other)?;
        let team = created["team_id"]
            .as_str()
            .ok_or_else(|| other("team create gave no team id"))?
            .to_string();
        Ok((team.clone(), self.invite_as(&team, uses, Role::Lead)?))
    }

    /// A new invite to `team` for `uses` devices, valid for an hour, for canvassers (as the
    /// operator's `invite create`).
    pub fn invite(&self, team: &str, uses: u32) -> io::Result<String> {
        self.invite_as(team, uses, Role::Canvasser)
    }

    /// A new invite to `team` for `uses` devices with `role`, valid for an hour.
    pub fn invite_as(&self, team: &str, uses: u32, role: Role) -> io::Result<String> {
        ops::invite_create_as(&*self.store, team, uses, 3600, role).map_err(other)
    }

    /// A new invite to `team` for `uses` devices with `role`, valid for an hour, carrying the
    /// team's keys as a lead's device sealed them (tests and benchmarks play that device here;
    /// the operator's own invites carry none).
    pub fn invite_with_keys(
        &self,
        team: &str,
        uses: u32,
        role: Role,
        sealed_keys: &str,
    ) -> io::Result<String> {
        crate::limits::check_sealed_keys(sealed_keys).map_err(|e| other(format!("{e:?}")))?;
        let now = crate::store::now();
        let (code, mut invite) = ops::prepare_invite(uses, 3600, role, now).map_err(other)?;
        invite.sealed_keys = Some(sealed_keys.to_string());
        self.store
            .create_invite(team, &invite, now)
            .map_err(other)?;
        Ok(code)
    }

    /// Make a device a lead (as the operator's `device promote`).
    pub fn promote(&self, device_id: &str) -> io::Result<()> {
        ops::device_promote(&*self.store, device_id)
            .map(|_| ())
            .map_err(other)
    }

    /// Revoke a device.
    pub fn revoke(&self, device_id: &str) -> io::Result<()> {
        ops::device_revoke(&*self.store, device_id)
            .map(|_| ())
            .map_err(other)
    }
}

impl Drop for EmbeddedRelay {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
