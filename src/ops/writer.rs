//! The frame every change runs in: hold the registry lock, finish any change a crash
//! interrupted, record the new change in the journal, and bring the git index (and its remote)
//! up to date with the sparse files it touched. When the git step fails after the sparse files
//! moved, the change stands (it is public) and the journal keeps the git catch-up pending for
//! the next change or `ktra rebuild`.

use crate::printer::Printer;
use crate::registry::Registry;
use crate::storage::{Area, Journal, LockMode, RegistryLock, git};
use anyhow::{Context, Result};
use std::cell::{Cell, RefCell};
use std::time::Duration;

/// Temporary files older than this are debris from a crash, not an inspection in progress.
const STALE_TEMP: Duration = Duration::from_secs(3600);

pub struct Writer<'a> {
    pub reg: &'a Registry,
    pub printer: Printer,
    _lock: RegistryLock,
    /// Git index files an earlier change could not commit (still in the journal on disk):
    /// carried into this change's journal and committed with its git step.
    behind: RefCell<Option<Journal>>,
    /// This change's git step failed: its journal stays, so the next change catches up.
    git_failed: Cell<bool>,
}

/// The registry lock of the local tree, exclusive, waiting at most the registry's
/// `lock-timeout` and saying so when it waits.
pub fn exclusive_lock(reg: &Registry, printer: Printer) -> Result<RegistryLock> {
    let wait = reg.config.lock_timeout.effective();
    RegistryLock::acquire_within(
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
    )
}

impl<'a> Writer<'a> {
    pub fn begin(reg: &'a Registry, printer: Printer) -> Result<Self> {
        let lock = exclusive_lock(reg, printer)?;
        let writer = Self {
            reg,
            printer,
            _lock: lock,
            behind: RefCell::new(None),
            git_failed: Cell::new(false),
        };
        writer.remove_stale_git_locks()?;
        writer.recover()?;
        reg.store.clean_stale_temp(STALE_TEMP);
        Ok(writer)
    }

    /// The registry lock for a change of private records only (users, tokens, owners) on the
    /// local tree; `None` on object storage, where there is no lock and those records are
    /// written with conditional writes (see [`crate::auth::store`]).
    pub fn begin_for_state(reg: &'a Registry, printer: Printer) -> Result<Option<Self>> {
        if reg.store.is_remote() {
            return Ok(None);
        }
        Self::begin(reg, printer).map(Some)
    }

    /// Lock files a killed process left in the git index. Under the registry lock nobody else
    /// is inside it, so they are stale; left there, every later commit would fail.
    fn remove_stale_git_locks(&self) -> Result<()> {
        if !self.reg.config.git.enabled {
            return Ok(());
        }
        let dir = self.reg.git_dir();
        for path in git::stale_locks(&dir) {
            git::remove_stale_lock(&path)?;
            let rel = path
                .strip_prefix(self.reg.store.public_dir())
                .unwrap_or(&path);
            self.printer.note(format!(
                "removed `public/{}`, left in the git index by a killed process",
                rel.display()
            ));
        }
        Ok(())
    }

    /// Rolls back crate files the interrupted change left without an index line, and rolls the
    /// git index forward to the sparse files. A batch add cut short keeps the versions whose
    /// index lines landed; the note says which, and running the same add again adds the rest.
    fn recover(&self) -> Result<()> {
        let store = &self.reg.store;
        let Some(journal) = Journal::load(store)? else {
            return Ok(());
        };
        self.printer
            .note(format!("completing an interrupted `{}` change", journal.op));
        let mut landed = Vec::new();
        let mut rolled_back = Vec::new();
        for pending in &journal.crate_files {
            let label = format!("{}@{}", pending.name, pending.vers);
            if crate::ops::list::has_version(self.reg, &pending.name, &pending.vers)? {
                landed.push(label);
            } else {
                store.remove(Area::Public, &pending.key)?;
                rolled_back.push(label);
            }
        }
        if !rolled_back.is_empty() {
            self.printer.note(format!(
                "the interrupted `{}` had added {} of its {} versions{}; not added: {} \
                 (run the same command again to add them)",
                journal.op,
                landed.len(),
                landed.len() + rolled_back.len(),
                match landed.is_empty() {
                    true => String::new(),
                    false => format!(" ({})", landed.join(", ")),
                },
                rolled_back.join(", ")
            ));
        }
        store.sync()?;
        let synced = if journal.whole_git {
            self.git_whole("Complete an interrupted rebuild")
        } else {
            self.git_files(&journal.index_files, "Complete an interrupted change")
        };
        match synced {
            Ok(()) => {
                self.push()?;
                Journal::finish(store)?;
            }
            Err(e) => {
                self.warn_git_behind(&e);
                *self.behind.borrow_mut() = Some(Journal {
                    op: journal.op,
                    crate_files: Vec::new(),
                    index_files: journal.index_files,
                    whole_git: journal.whole_git,
                });
            }
        }
        Ok(())
    }

    /// Records the change durably before it starts (with any git catch-up still pending).
    pub fn journal(&self, journal: &Journal) -> Result<()> {
        let mut journal = journal.clone();
        if let Some(behind) = &*self.behind.borrow() {
            for key in &behind.index_files {
                if !journal.index_files.contains(key) {
                    journal.index_files.push(key.clone());
                }
            }
            journal.whole_git |= behind.whole_git;
        }
        journal.begin(&self.reg.store)
    }

    /// Ends the change: the journal goes, unless the git index is still behind.
    pub fn done(&self) -> Result<()> {
        crate::storage::crash::point("before-finish");
        if self.git_behind() {
            return self.reg.store.sync();
        }
        Journal::finish(&self.reg.store)
    }

    /// Whether the git index is behind the sparse index after this change's git step (the
    /// change itself stands; the next change or `ktra rebuild` catches up).
    pub fn git_behind(&self) -> bool {
        self.git_failed.get() || self.behind.borrow().is_some()
    }

    /// Replaces the git index's tree with every sparse index file and `config.json`, and
    /// pushes it when a remote is set.
    pub fn sync_git_whole(&self, message: &str) -> Result<()> {
        self.git_whole(message)
            .context("failed to rebuild the git index")?;
        *self.behind.borrow_mut() = None;
        self.push()
    }

    /// Commits the current content of these sparse keys (`index/...`) to the git index (with
    /// any an earlier change left behind) and pushes it when a remote is set. The sparse files
    /// are already public, so a failed commit does not undo the change: it is reported as a
    /// warning, and the journal keeps the git catch-up pending.
    pub fn sync_git(&self, keys: &[String], message: &str) -> Result<()> {
        crate::storage::crash::point("before-git");
        let behind = self.behind.borrow().clone();
        let synced = match &behind {
            Some(b) if b.whole_git => self.git_whole(message),
            Some(b) => {
                let mut all = keys.to_vec();
                all.extend(b.index_files.iter().filter(|k| !keys.contains(k)).cloned());
                self.git_files(&all, message)
            }
            None => self.git_files(keys, message),
        };
        if let Err(e) = synced {
            self.warn_git_behind(&e);
            self.git_failed.set(true);
            return Ok(());
        }
        *self.behind.borrow_mut() = None;
        self.push_or_warn();
        Ok(())
    }

    /// Pushes to `git.remote`; a failure is a warning, not an error: the change is complete
    /// here (sparse and git index), and the next change (or `ktra rebuild`) pushes again.
    fn push_or_warn(&self) {
        if let Err(e) = self.push() {
            self.printer.warn(format!(
                "the registry was updated, but the git index could not be pushed to `git.remote`: \
                 {e:#}\nthe remote is behind until the next change (or `ktra rebuild`) pushes again"
            ));
        }
    }

    fn warn_git_behind(&self, e: &anyhow::Error) {
        self.printer.warn(format!(
            "the sparse index is up to date, but the git index could not be updated: {e:#}\n\
             git clients see the registry as it was until the next change (or `ktra rebuild`) \
             brings the git index up to date; `ktra verify` shows the change as pending"
        ));
    }

    fn git_whole(&self, message: &str) -> Result<()> {
        let Some(git) = self.reg.git()? else {
            return Ok(());
        };
        let mut changes = Vec::new();
        for key in self.reg.store.walk(Area::Public, "index")? {
            let rel = key.strip_prefix("index/").unwrap_or(&key).to_owned();
            changes.push((rel, self.reg.store.read(Area::Public, &key)?));
        }
        git.commit(&self.reg.store, &changes, message, true)?;
        Ok(())
    }

    fn git_files(&self, keys: &[String], message: &str) -> Result<()> {
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
        Ok(())
    }

    fn push(&self) -> Result<()> {
        if let Some(remote) = &self.reg.config.git.remote
            && let Some(git) = self.reg.git()?
        {
            git.push(remote)?;
        }
        Ok(())
    }
}
