//! A set of file writes made visible together: every new file is written to a temporary file
//! in the private area, all of them are synced with one `syncfs`, then renamed into place in
//! the order they were added. A crash leaves each file either old or new. The renames become
//! durable with the next sync (the next batch's, or the one that ends the change).

use super::{Area, Store};
use anyhow::{Context, Result};
use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::PathBuf;
use tempfile::TempPath;

pub struct Batch<'a> {
    store: &'a Store,
    staged: Vec<(Area, String, TempPath)>,
    name: &'static str,
    sync: bool,
}

impl<'a> Batch<'a> {
    pub(super) fn new(store: &'a Store) -> Self {
        Self {
            store,
            staged: Vec::new(),
            name: "batch",
            sync: true,
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

    /// Stages `bytes` to become `key`.
    pub fn put(&mut self, area: Area, key: &str, bytes: &[u8]) -> Result<()> {
        let mut tmp = self.store.temp_file()?;
        tmp.write_all(bytes)
            .with_context(|| format!("failed to write a temporary file for `{key}`"))?;
        // Closed now: a batch can hold more files than a process may keep open.
        self.staged
            .push((area, key.to_owned(), tmp.into_temp_path()));
        Ok(())
    }

    /// Stages an already written temporary file (from [`Store::temp_file`]) to become `key`.
    pub fn put_file(&mut self, area: Area, key: &str, tmp: TempPath) {
        self.staged.push((area, key.to_owned(), tmp));
    }

    /// The files staged so far.
    pub fn keys(&self) -> Vec<(Area, String)> {
        self.staged
            .iter()
            .map(|(a, k, _)| (*a, k.clone()))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.staged.is_empty()
    }

    /// Syncs the staged data, then moves every file into place in order.
    pub fn commit(self) -> Result<()> {
        if self.staged.is_empty() {
            return Ok(());
        }
        if self.sync {
            self.store.sync()?;
        }
        super::crash::point(&format!("{}-synced", self.name));
        let mut made: HashSet<PathBuf> = HashSet::new();
        for (area, key, tmp) in self.staged {
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
        Ok(())
    }
}
