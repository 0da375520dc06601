//! A set of file writes made visible together: every new file is written to a temporary file
//! in the private area, all of them are synced with one `syncfs`, then renamed into place in
//! the order they were added, then synced again. A crash leaves each file either old or new.

use super::{Area, Store};
use anyhow::{Context, Result};
use std::fs;
use std::io::Write;
use tempfile::NamedTempFile;

pub struct Batch<'a> {
    store: &'a Store,
    staged: Vec<(Area, String, NamedTempFile)>,
}

impl<'a> Batch<'a> {
    pub(super) fn new(store: &'a Store) -> Self {
        Self {
            store,
            staged: Vec::new(),
        }
    }

    /// Stages `bytes` to become `key`.
    pub fn put(&mut self, area: Area, key: &str, bytes: &[u8]) -> Result<()> {
        let mut tmp = self.store.temp_file()?;
        tmp.write_all(bytes)
            .with_context(|| format!("failed to write a temporary file for `{key}`"))?;
        self.staged.push((area, key.to_owned(), tmp));
        Ok(())
    }

    /// Stages an already written temporary file (from [`Store::temp_file`]) to become `key`.
    pub fn put_file(&mut self, area: Area, key: &str, tmp: NamedTempFile) {
        self.staged.push((area, key.to_owned(), tmp));
    }

    pub fn is_empty(&self) -> bool {
        self.staged.is_empty()
    }

    /// Syncs the staged data, moves every file into place in order, and syncs the renames.
    pub fn commit(self) -> Result<()> {
        if self.staged.is_empty() {
            return Ok(());
        }
        self.store.sync()?;
        for (area, key, tmp) in self.staged {
            let target = self.store.path(area, &key);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent)
                    .with_context(|| format!("failed to create `{}`", parent.display()))?;
            }
            set_readable(&tmp)?;
            tmp.persist(&target).with_context(|| {
                format!("failed to move a new file into `{}`", target.display())
            })?;
        }
        self.store.sync()
    }
}

/// Temporary files are created 0600; published files must be readable by a web server.
fn set_readable(tmp: &NamedTempFile) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o644))
        .with_context(|| format!("failed to set permissions on `{}`", tmp.path().display()))
}
