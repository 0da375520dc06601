//! Crash points, so tests can kill ktra at each step of a change and check that the registry
//! stays usable. `KTRA_CRASH_AT=NAME` aborts the process (no unwinding, no cleanup, like a
//! kill -9) when it reaches the point named NAME; without it a point costs one comparison.
//! Fault points do the same for failures: `KTRA_FAIL_AT=NAME` makes the step named NAME
//! return an I/O error (a full disk, a read-only folder) instead of doing its work.
//! Pause points make a race happen on purpose: with `KTRA_PAUSE_AT=NAME` and
//! `KTRA_PAUSE_DIR=DIR`, the process creates `DIR/paused` at the crash point named NAME and
//! waits there until `DIR/resume` exists, so a test can run another process in between.

use std::sync::OnceLock;

pub const ENV: &str = "KTRA_CRASH_AT";
pub const FAIL_ENV: &str = "KTRA_FAIL_AT";
pub const PAUSE_ENV: &str = "KTRA_PAUSE_AT";
pub const PAUSE_DIR_ENV: &str = "KTRA_PAUSE_DIR";

/// The longest a pause point waits for `resume` (a test that died must not leave ktra
/// waiting for ever).
const PAUSE_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Aborts here if this is the point named in `KTRA_CRASH_AT`.
pub fn point(name: &str) {
    static WANTED: OnceLock<Option<String>> = OnceLock::new();
    let wanted = WANTED.get_or_init(|| std::env::var(ENV).ok());
    if wanted.as_deref() == Some(name) {
        eprintln!("ktra: crashing at `{name}` ({ENV})");
        std::process::abort();
    }
    pause(name);
}

/// Waits here if this is the point named in `KTRA_PAUSE_AT` (see the module's documentation).
fn pause(name: &str) {
    static WANTED: OnceLock<Option<(String, std::path::PathBuf)>> = OnceLock::new();
    let wanted = WANTED.get_or_init(|| {
        Some((
            std::env::var(PAUSE_ENV).ok()?,
            std::env::var_os(PAUSE_DIR_ENV)?.into(),
        ))
    });
    let Some((point, dir)) = wanted.as_ref().filter(|(point, _)| point == name) else {
        return;
    };
    eprintln!("ktra: paused at `{point}` ({PAUSE_ENV})");
    let _ = std::fs::write(dir.join("paused"), std::process::id().to_string());
    let started = std::time::Instant::now();
    while !dir.join("resume").exists() && started.elapsed() < PAUSE_LIMIT {
        std::thread::sleep(std::time::Duration::from_millis(10));
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
