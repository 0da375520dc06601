//! Temporary files of killed processes, cleaned safely. Each process writes its temporary
//! files in a folder of its own, `state/tmp/p-PID-RANDOM/`, holding a `.lock` file that the
//! process keeps locked (an OS file lock) for as long as it lives. A folder whose lock is free
//! belongs to a process that is gone, whatever it was doing (a change under the registry lock,
//! an inspection or a mirror download without it), so the next writer removes it at once.
//! Loose files (from older versions) are removed when they are an hour old, as before.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// Folders of live (or dead) processes start with this.
const PROCESS_PREFIX: &str = "p-";
/// A process folder while it is being made (not yet locked): left alone unless old.
const NEW_PREFIX: &str = ".new-";
const LOCK_FILE: &str = ".lock";

/// This process's folder in each temp root it used, with its locked `.lock` file (held until
/// the process exits, which releases the lock).
static OWN: Mutex<Option<HashMap<PathBuf, (PathBuf, File)>>> = Mutex::new(None);

/// This process's temp folder below `root` (made, and locked, on first use).
pub(super) fn own_dir(root: &Path) -> io::Result<PathBuf> {
    let mut own = OWN.lock().unwrap_or_else(PoisonError::into_inner);
    let own = own.get_or_insert_with(HashMap::new);
    if let Some((dir, _)) = own.get(root) {
        return Ok(dir.clone());
    }
    fs::create_dir_all(root)?;
    // Made complete under a name cleaners leave alone, then renamed into its final name.
    let fresh = tempfile::Builder::new()
        .prefix(NEW_PREFIX)
        .tempdir_in(root)?
        .keep();
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(fresh.join(LOCK_FILE))?;
    lock.lock()?;
    let random = fresh
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix(NEW_PREFIX))
        .unwrap_or("x")
        .to_owned();
    let dir = root.join(format!("{PROCESS_PREFIX}{}-{random}", std::process::id()));
    fs::rename(&fresh, &dir)?;
    own.insert(root.to_owned(), (dir.clone(), lock));
    Ok(dir)
}

/// Forgets this process's folder below `root` if it was removed from outside, so that the
/// next [`own_dir`] makes a new one. A folder that is still there is kept (and stays locked):
/// other threads may have files in it waiting to move into place.
pub(super) fn forget_if_gone(root: &Path) {
    let mut own = OWN.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(own) = own.as_mut()
        && own.get(root).is_some_and(|(dir, _)| !dir.is_dir())
    {
        own.remove(root);
    }
}

/// Removes this process's folders (at exit: whatever is left in them is debris of its own
/// failed work, and a folder is made again on next use).
pub fn release() {
    let mut own = OWN.lock().unwrap_or_else(PoisonError::into_inner);
    for (_, (dir, lock)) in own.take().into_iter().flatten() {
        let _ = fs::remove_dir_all(&dir);
        drop(lock);
    }
}

/// Removes the folders of processes that are gone, and loose files and unfinished folders
/// older than `age`. Never touches a live process's folder: its lock is held.
pub(super) fn clean(root: &Path, age: Duration) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    // Skipped by name too: where file locks are per process (NFS), this process's own lock
    // would not stop it.
    let own: Vec<PathBuf> = OWN
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .flat_map(|m| m.values().map(|(dir, _)| dir.clone()))
        .collect();
    let now = SystemTime::now();
    let old = |path: &Path| {
        fs::symlink_metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|a| a > age)
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if own.contains(&path) {
            continue;
        }
        if is_dir && name.starts_with(PROCESS_PREFIX) {
            match File::open(path.join(LOCK_FILE)) {
                // Free: its process is gone. Held while the folder goes, so a second cleaner
                // skips it.
                Ok(lock) => {
                    if lock.try_lock().is_ok() {
                        let _ = fs::remove_dir_all(&path);
                    }
                }
                Err(_) if old(&path) => {
                    let _ = fs::remove_dir_all(&path);
                }
                Err(_) => {}
            }
        } else if old(&path) {
            let _ = match is_dir {
                true => fs::remove_dir_all(&path),
                false => fs::remove_file(&path),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_process_folder_goes_and_a_live_one_stays() {
        let root = tempfile::tempdir().unwrap();
        let mine = own_dir(root.path()).unwrap();
        assert_eq!(own_dir(root.path()).unwrap(), mine);
        fs::write(mine.join("work"), b"in progress").unwrap();
        // A folder like the one a killed process leaves: its lock file is not held.
        let dead = root.path().join("p-1-dead");
        fs::create_dir(&dead).unwrap();
        fs::write(dead.join(LOCK_FILE), b"").unwrap();
        fs::write(dead.join("crate"), vec![0u8; 1000]).unwrap();
        // A loose file that is new: it may be an older ktra's, still being written.
        fs::write(root.path().join("loose"), b"x").unwrap();
        clean(root.path(), Duration::from_secs(3600));
        assert!(mine.join("work").is_file());
        assert!(!dead.exists());
        assert!(root.path().join("loose").exists());
        clean(root.path(), Duration::ZERO);
        assert!(mine.join("work").is_file());
        assert!(!root.path().join("loose").exists());
        forget_if_gone(root.path());
        assert_eq!(own_dir(root.path()).unwrap(), mine);
        fs::remove_dir_all(&mine).unwrap();
        forget_if_gone(root.path());
        assert_ne!(own_dir(root.path()).unwrap(), mine);
    }
}
