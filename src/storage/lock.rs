//! The registry lock: one writer at a time, across the CLI and the receiver. An OS file lock,
//! so a killed process releases it.

use anyhow::{Context, Result};
use std::fs::{self, File, TryLockError};
use std::path::Path;

#[derive(Debug)]
pub struct RegistryLock {
    _file: File,
}

impl RegistryLock {
    /// Blocks until the lock is held; `on_wait` runs once if another process holds it.
    pub fn acquire(state_dir: &Path, on_wait: impl FnOnce()) -> Result<Self> {
        fs::create_dir_all(state_dir)
            .with_context(|| format!("failed to create `{}`", state_dir.display()))?;
        let path = state_dir.join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("failed to open the lock file `{}`", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                on_wait();
                file.lock()
                    .with_context(|| format!("failed to lock `{}`", path.display()))?;
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("failed to lock `{}`", path.display()));
            }
        }
        Ok(Self { _file: file })
    }
}
