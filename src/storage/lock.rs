//! The registry lock: one writer at a time, across the CLI and the receiver. An OS file lock,
//! so a killed process releases it. Writers hold it exclusively, `ktra verify` shared; a waiter
//! gives up after a bounded wait with a [`LockTimeout`] error.

use anyhow::{Context, Result};
use std::fs::{self, File, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// Overrides the wait set in `ktra.toml` (`lock-timeout`), as a duration (`60s`, `2m`).
pub const TIMEOUT_ENV: &str = "KTRA_LOCK_TIMEOUT";

/// How long a writer waits for the lock unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Another process held the lock for the whole wait. The receiver answers it with 503 (the
/// message names no path, so it can be shown to API clients as it is).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "failed to lock the registry: another ktra process has held it for {} s; \
     try again later, or raise `lock-timeout` in ktra.toml (or {TIMEOUT_ENV})",
    waited.as_secs()
)]
pub struct LockTimeout {
    /// How long this process waited.
    pub waited: Duration,
}

/// Whether the lock is taken for a change (exclusive) or for a consistent read (shared).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Exclusive,
    Shared,
}

#[derive(Debug)]
pub struct RegistryLock {
    _file: File,
}

impl RegistryLock {
    /// Takes the lock exclusively, waiting at most `wait` (callers pass the registry's
    /// `lock-timeout`, [`timeout`]); `on_wait` runs once if another process holds it.
    pub fn acquire(state_dir: &Path, wait: Duration, on_wait: impl FnOnce()) -> Result<Self> {
        Self::acquire_within(state_dir, LockMode::Exclusive, wait, on_wait)
    }

    /// Takes the lock in `mode`, waiting at most `wait` (then fails with [`LockTimeout`]).
    pub fn acquire_within(
        state_dir: &Path,
        mode: LockMode,
        wait: Duration,
        on_wait: impl FnOnce(),
    ) -> Result<Self> {
        fs::create_dir_all(state_dir)
            .with_context(|| format!("failed to create `{}`", state_dir.display()))?;
        let path = state_dir.join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .or_else(|e| match (mode, e.kind()) {
                // A reader without write access (monitoring) still takes the shared lock.
                (LockMode::Shared, std::io::ErrorKind::PermissionDenied) => File::open(&path),
                _ => Err(e),
            })
            .with_context(|| format!("failed to open the lock file `{}`", path.display()))?;
        let try_lock = |f: &File| match mode {
            LockMode::Exclusive => f.try_lock(),
            LockMode::Shared => f.try_lock_shared(),
        };
        match try_lock(&file) {
            Ok(()) => return Ok(Self { _file: file }),
            Err(TryLockError::WouldBlock) => on_wait(),
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("failed to lock `{}`", path.display()));
            }
        }
        // Polled: a blocking lock cannot be abandoned when the wait is over. The pause grows
        // to 2 ms, so a waiter starts soon after the holder is done.
        let started = Instant::now();
        let mut pause = Duration::from_micros(500);
        loop {
            let left = wait.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(LockTimeout {
                    waited: started.elapsed(),
                }
                .into());
            }
            std::thread::sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(2));
            match try_lock(&file) {
                Ok(()) => return Ok(Self { _file: file }),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("failed to lock `{}`", path.display()));
                }
            }
        }
    }
}

/// The wait for the lock: `KTRA_LOCK_TIMEOUT` if set, else the setting, else 60 s. An
/// unparsable variable is ignored with the default (a typo must not mean "wait forever").
pub fn timeout(setting: Option<Duration>) -> Duration {
    std::env::var(TIMEOUT_ENV)
        .ok()
        .and_then(|v| humantime::parse_duration(v.trim()).ok())
        .or(setting)
        .unwrap_or(DEFAULT_TIMEOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_times_out_with_a_typed_error_and_shared_locks_coexist() {
        let dir = tempfile::tempdir().unwrap();
        let held =
            RegistryLock::acquire_within(dir.path(), LockMode::Exclusive, Duration::ZERO, || {})
                .unwrap();
        let mut waited = false;
        let err = RegistryLock::acquire_within(
            dir.path(),
            LockMode::Shared,
            Duration::from_millis(50),
            || waited = true,
        )
        .unwrap_err();
        assert!(waited);
        let timeout = err.downcast_ref::<LockTimeout>().expect("a LockTimeout");
        assert!(timeout.waited >= Duration::from_millis(50));
        assert!(!err.to_string().contains(dir.path().to_str().unwrap()));
        drop(held);
        let a = RegistryLock::acquire_within(dir.path(), LockMode::Shared, Duration::ZERO, || {});
        let b = RegistryLock::acquire_within(dir.path(), LockMode::Shared, Duration::ZERO, || {});
        assert!(a.is_ok() && b.is_ok());
        let c =
            RegistryLock::acquire_within(dir.path(), LockMode::Exclusive, Duration::ZERO, || {});
        assert!(c.unwrap_err().downcast_ref::<LockTimeout>().is_some());
    }
}
