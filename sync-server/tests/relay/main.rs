//! Integration tests of the relay: a real `sync-server` process on 127.0.0.1 with a real data
//! directory, driven over real HTTP. One test binary, one module per area.

mod actors;
mod app;
mod common;
mod compaction;
mod convergence;
mod durability;
mod enrolment;
mod erasure;
mod errors;
mod hardening;
mod invite_again;
mod invite_cancel;
mod invite_parts;
mod lost_answers;
mod operator;
mod postgres;
mod roles;
mod sealed;
mod shares;
mod sync;
