//! The frame every change runs in: hold the registry lock, finish any change a crash
//! interrupted, record the new change in the journal, and bring the git index (and its remote)
//! up to date with the sparse files it touched.

use crate::printer::Printer;
use crate::registry::Registry;
use crate::storage::{Area, Journal, LockMode, RegistryLock};
use anyhow::{Context, Result};
use std::time::Duration;

/// Temporary files older than this are debris from a crash, not an inspection in progress.
const STALE_TEMP: Duration = Duration::from_secs(3600);

pub struct Writer<'a> {
    pub reg: &'a Registry,
    pub printer: Printer,
    _lock: RegistryLock,
}

impl<'a> Writer<'a> {
    pub fn begin(reg: &'a Registry, printer: Printer) -> Result<Self> {
        let wait = reg.config.lock_timeout.effective();
        let lock = RegistryLock::acquire_within(
            &reg.store.path(Area::State, ""),
            LockMode::Exclusive,
            wait,
            || {
                printer.status(
                    "Blocking",
                    format!(
                        "waiting for another ktra process to finish with the registry (at most {})",
                        humantime::format_duration(wait)
                    ),
                )
            },
        )?;
        let writer = Self {
            reg,
            printer,
            _lock: lock,
        };
        writer.recover()?;
        Ok(writer)
    }

    /// Rolls back crate files the interrupted change left without an index line, and rolls the git index forward to the sparse files.
    fn recover(&self) -> Result<()> {
        let store = &self.reg.store;
        let Some(journal) = Journal::load(store)? else {
            return Ok(());
        };
        self.printer
            .note(format!("completing an interrupted `{}` change", journal.op));
        for pending in &journal.crate_files {
            if !crate::ops::list::has_version(self.reg, &pending.name, &pending.vers)? {
                store.remove(Area::Public, &pending.key)?;
            }
        }
        store.sync()?;
        if journal.whole_git {
            self.sync_git_whole("Complete an interrupted rebuild")?;
        } else {
            self.sync_git(&journal.index_files, "Complete an interrupted change")?;
        }
        Journal::finish(store)?;
        store.clean_stale_temp(STALE_TEMP);
        Ok(())
    }

    pub fn journal(&self, journal: &Journal) -> Result<()> {
        journal.begin(&self.reg.store)
    }

    pub fn done(&self) -> Result<()> {
        crate::storage::crash::point("before-finish");
        Journal::finish(&self.reg.store)
    }

    /// Replaces the git index's tree with every sparse index file and `config.json`, and
    /// pushes it when a remote is set.
    pub fn sync_git_whole(&self, message: &str) -> Result<()> {
        let Some(git) = self.reg.git()? else {
            return Ok(());
        };
        let mut changes = Vec::new();
        for key in self.reg.store.walk(Area::Public, "index")? {
            let rel = key.strip_prefix("index/").unwrap_or(&key).to_owned();
            changes.push((rel, self.reg.store.read(Area::Public, &key)?));
        }
        git.commit(&self.reg.store, &changes, message, true)
            .context("failed to rebuild the git index")?;
        if let Some(remote) = &self.reg.config.git.remote {
            git.push(remote)?;
        }
        Ok(())
    }

    /// Commits the current content of these sparse keys (`index/...`) to the git index and
    /// pushes it when a remote is set.
    pub fn sync_git(&self, keys: &[String], message: &str) -> Result<()> {
        crate::storage::crash::point("before-git");
        let Some(git) = self.reg.git()? else {
            return Ok(());
        };
        let mut changes = Vec::with_capacity(keys.len());
        for key in keys {
            let rel = key.strip_prefix("index/").unwrap_or(key).to_owned();
            changes.push((rel, self.reg.store.read(Area::Public, key)?));
        }
        git.commit(&self.reg.store, &changes, message, false)
            .context("failed to update the git index")?;
        if let Some(remote) = &self.reg.config.git.remote {
            git.push(remote).context(
                "the registry was updated, but the git index could not be pushed; \
                 the next change (or `ktra rebuild`) pushes again",
            )?;
        }
        Ok(())
    }
}
