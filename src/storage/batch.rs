//! A set of file writes made visible together: every new file is written to a temporary file
//! in the private area, all of them are synced with one `syncfs`, then renamed into place in
//! the order they were added, and files staged for removal are removed. A crash leaves each
//! file either old or new. The renames become durable with the next sync (the next batch's,
//! or the one that ends the change).

use super::{Area, Store};
use anyhow::{Context, Result};
use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::PathBuf;
use tempfile::TempPath;

/// What [`Batch::into_parts`] gives: the staged files (area, key, bytes) and the removals.
pub type Parts = (Vec<(Area, String, Vec<u8>)>, Vec<(Area, String)>);

pub struct Batch<'a> {
    store: &'a Store,
    staged: Vec<(Area, String, TempPath)>,
    /// Files left as they are because they already held what was put.
    kept: Vec<(Area, String)>,
    /// Files to remove after the renames.
    removed: Vec<(Area, String)>,
    name: &'static str,
    sync: bool,
    skip_unchanged: bool,
}

impl<'a> Batch<'a> {
    pub(super) fn new(store: &'a Store) -> Self {
        Self {
            store,
            staged: Vec::new(),
            kept: Vec::new(),
            removed: Vec::new(),
            name: "batch",
            sync: true,
            skip_unchanged: false,
        }
    }

    /// Names the batch for crash points (`NAME-synced`, `NAME-partial`).
    pub fn named(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    /// Skips the sync before the renames: for derived files (the site) that any later change
    /// or `ktra site` rewrites, where a crash may leave a stale or empty page but nothing cargo
    /// reads.
    pub fn unsynced(mut self) -> Self {
        self.sync = false;
        self
    }

    /// Leaves a file that already holds what is put as it is (no new inode, no new mtime, so
    /// `rsync`-style uploads and caches see no change): for derived files, where comparing
    /// costs less than replacing.
    pub fn skip_unchanged(mut self) -> Self {
        self.skip_unchanged = true;
        self
    }

    /// Stages `bytes` to become `key`.
    pub fn put(&mut self, area: Area, key: &str, bytes: &[u8]) -> Result<()> {
        if self.skip_unchanged && self.store.holds(area, key, bytes) {
            self.keep(area, key);
            return Ok(());
        }
        self.unremove(area, key);
        let mut tmp = match area {
            Area::Public => self.store.temp_file()?,
            Area::State => self.store.private_temp_file()?,
        };
        tmp.write_all(bytes)
            .with_context(|| format!("failed to write a temporary file for `{key}`"))?;
        // Closed now: a batch can hold more files than a process may keep open.
        self.staged
            .push((area, key.to_owned(), tmp.into_temp_path()));
        Ok(())
    }

    /// Stages an already written temporary file (from [`Store::temp_file`]) to become `key`.
    /// A file for the private area is made readable by the owner only.
    pub fn put_file(&mut self, area: Area, key: &str, tmp: TempPath) {
        if area == Area::State {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600));
        }
        self.unremove(area, key);
        self.staged.push((area, key.to_owned(), tmp));
    }

    /// Stages the removal of `key` (if it exists) for after the renames. The last word on a
    /// key wins: a later put or keep cancels the removal.
    pub fn remove(&mut self, area: Area, key: &str) {
        self.removed.push((area, key.to_owned()));
    }

    fn unremove(&mut self, area: Area, key: &str) {
        self.removed.retain(|(a, k)| !(*a == area && k == key));
    }

    /// Records `key` as written by this batch although it stays as it is (it already holds
    /// its new content).
    pub fn keep(&mut self, area: Area, key: &str) {
        self.unremove(area, key);
        self.kept.push((area, key.to_owned()));
    }

    /// The files staged or kept so far.
    pub fn keys(&self) -> Vec<(Area, String)> {
        self.staged
            .iter()
            .map(|(a, k, _)| (*a, k.clone()))
            .chain(self.kept.iter().cloned())
            .collect()
    }

    /// What the batch holds, for a caller that writes it itself (the site's conditional
    /// update on object storage): each staged file's area, key and bytes, in order, and the
    /// keys staged for removal.
    pub fn into_parts(mut self) -> Result<Parts> {
        let mut staged = Vec::with_capacity(self.staged.len());
        for (area, key, tmp) in std::mem::take(&mut self.staged) {
            let bytes = fs::read(&tmp)
                .with_context(|| format!("failed to read the staged file for `{key}`"))?;
            staged.push((area, key, bytes));
        }
        Ok((staged, std::mem::take(&mut self.removed)))
    }

    pub fn is_empty(&self) -> bool {
        self.staged.is_empty() && self.removed.is_empty()
    }

    /// Syncs the staged data, moves every file into place in order, then removes the files
    /// staged for removal.
    pub fn commit(mut self) -> Result<()> {
        #[cfg(feature = "aws")]
        if let Some(buckets) = self.store.bucket() {
            // Object storage: each file is uploaded whole (an object is never seen half
            // written), in the order staged; derived files only (plain writes).
            for (area, key, tmp) in std::mem::take(&mut self.staged) {
                let bytes = fs::read(&tmp)
                    .with_context(|| format!("failed to read the staged file for `{key}`"))?;
                buckets.put(area, &key, bytes)?;
                super::crash::point(&format!("{}-partial", self.name));
            }
            return self.remove_staged();
        }
        if self.staged.is_empty() {
            return self.remove_staged();
        }
        if self.sync {
            self.store.sync()?;
        }
        super::crash::point(&format!("{}-synced", self.name));
        let mut made: HashSet<PathBuf> = HashSet::new();
        for (area, key, tmp) in std::mem::take(&mut self.staged) {
            let target = self.store.path(area, &key);
            if let Some(parent) = target.parent()
                && !made.contains(parent)
            {
                fs::create_dir_all(parent)
                    .with_context(|| format!("failed to create `{}`", parent.display()))?;
                made.insert(parent.to_owned());
            }
            tmp.persist(&target).with_context(|| {
                format!("failed to move a new file into `{}`", target.display())
            })?;
            super::crash::point(&format!("{}-partial", self.name));
        }
        self.remove_staged()
    }

    fn remove_staged(&self) -> Result<()> {
        for (area, key) in &self.removed {
            self.store.remove(*area, key)?;
        }
        Ok(())
    }
}
