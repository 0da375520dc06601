//! Crash points, so tests can kill ktra at each step of a change and check that the registry
//! stays usable. `KTRA_CRASH_AT=NAME` aborts the process (no unwinding, no cleanup, like a
//! kill -9) when it reaches the point named NAME; without it a point costs one comparison.
//! Fault points do the same for failures: `KTRA_FAIL_AT=NAME` makes the step named NAME
//! return an I/O error (a full disk, a read-only folder) instead of doing its work.

use std::sync::OnceLock;

pub const ENV: &str = "KTRA_CRASH_AT";
pub const FAIL_ENV: &str = "KTRA_FAIL_AT";

/// Aborts here if this is the point named in `KTRA_CRASH_AT`.
pub fn point(name: &str) {
    static WANTED: OnceLock<Option<String>> = OnceLock::new();
    let wanted = WANTED.get_or_init(|| std::env::var(ENV).ok());
    if wanted.as_deref() == Some(name) {
        eprintln!("ktra: crashing at `{name}` ({ENV})");
        std::process::abort();
    }
}

/// An I/O error here if this is the step named in `KTRA_FAIL_AT`.
pub fn fault(name: &str) -> std::io::Result<()> {
    static WANTED: OnceLock<Option<String>> = OnceLock::new();
    let wanted = WANTED.get_or_init(|| std::env::var(FAIL_ENV).ok());
    if wanted.as_deref() == Some(name) {
        return Err(std::io::Error::other(format!(
            "injected failure at `{name}` ({FAIL_ENV})"
        )));
    }
    Ok(())
}
