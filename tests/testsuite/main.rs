//! The integration suite, one binary: every test runs the real `ktra` binary in a temporary
//! folder; the end-to-end ones also serve `public/` with a real web server on 127.0.0.1 and
//! build a consumer with the real `cargo`.
#![cfg(unix)]
// reason: tests build, read and damage registry trees on disk directly (clippy.toml fences
// raw file access in the crate, not here).
#![allow(clippy::disallowed_methods)]

mod api;
mod bench_state;
mod cli;
mod dbservers;
mod e2e_cargo;
mod fence;
mod hardening_chaos;
mod hardening_input;
mod hardening_mirror;
mod hardening_perf;
mod hardening_serve;
mod hardening_storage;
mod migrate;
mod mirror;
mod nginx;
mod object_storage;
mod object_storage_mirror;
mod object_storage_serve;
mod object_storage_transfer;
mod s3_server;
mod serve;
mod serve_cache;
mod site;
#[cfg(all(
    feature = "postgres",
    feature = "mysql",
    feature = "redis",
    feature = "mongodb"
))]
mod state_cmd;
#[cfg(all(
    feature = "postgres",
    feature = "mysql",
    feature = "redis",
    feature = "mongodb"
))]
mod state_down;
#[cfg(all(feature = "redis", feature = "mongodb"))]
mod state_kv;
mod state_shared;
mod state_sql;
mod support;
mod tokens;
mod transfer;
mod verify_fix;
