//! ktra: a private Cargo registry as plain files.
//!
//! ```text
//!  cli/*  ──►  ops/*  (init · add · yank · remove · list · verify · rebuild · set_url)
//!                │
//!      ┌─────────┼──────────────┬───────────┐
//!      ▼         ▼              ▼           ▼
//!   index     package        storage     registry
//!   (pure:    (.crate →      (the only   (settings +
//!   names,    entry; cargo   file I/O;   tree, found
//!   paths,    package for    lock, git,  by --registry)
//!   lines)    folders)       journal)
//! ```
//!
//! `ops::add::add_crates` is the single path by which crates enter a registry.

pub mod auth;
pub mod cli;
pub mod config;
#[cfg(test)]
#[allow(clippy::disallowed_methods)] // reason: tests (fuzz findings are saved under target/).
mod fuzz_tests;
pub mod index;
pub mod limits;
pub mod mirror;
pub mod ops;
pub mod package;
pub mod printer;
pub mod redact;
pub mod registry;
pub mod server;
pub mod site;
pub mod state;
pub mod storage;
