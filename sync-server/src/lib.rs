//! The Groundwork relay: stores each team's append-only log of opaque change blobs and serves it
//! to the team's devices over HTTP.
//!
//! - [`cli`] and [`config`]: command line, environment and TOML settings.
//! - [`server`]: binds the listener and runs the HTTP service built by [`api`].
//! - [`app`]: the built web app served at `/` next to the API (`serve --app DIR`).
//! - [`listener`]: the accept loop with the connection cap and the header, body and idle
//!   timeouts.
//! - [`limits`] and [`ratelimit`]: what the relay refuses (content types, doc ids, device names,
//!   changes per push), large pushes written in parts, and per-address rate limits.
//! - [`auth`] and [`secrets`]: bearer tokens and invite codes, stored only as hashes.
//! - [`body`]: request/response body compression and size limits.
//! - [`store`]: the storage trait and its SQLite implementation (teams' logs, devices and their
//!   roles, invites, erasure orders).
//! - [`ops`]: the operator commands (`team create`, `invite create [--lead]`,
//!   `device list|revoke|promote`).
//! - [`link`]: the public URL, the join link `https://RELAY/#join=CODE` and its QR code.
//! - [`embedded`]: a relay inside another process (for the app's tests and benchmarks).
//!
//! The wire types live in the `groundwork-protocol` crate, shared with the app.

pub mod api;
pub mod app;
pub mod auth;
pub mod body;
pub mod cli;
pub mod config;
pub mod embedded;
pub mod error;
pub mod limits;
pub mod link;
pub mod listener;
pub mod ops;
pub mod ratelimit;
pub mod secrets;
pub mod server;
pub mod store;
