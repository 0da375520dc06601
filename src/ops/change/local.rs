//! A change of a registry in a local folder: under the registry lock, the closure's calls are
//! staged in memory and temporary files, then land together: journal, crate files (synced),
//! index files in call order, crate removals, git, the journal's close, the site. A change of
//! the mirror ([`Tree::Mirror`]) holds the mirror's lock instead and has no journal, git or
//! site: crate files, index files, removals, then the private files that land last.

use super::{SiteEffect, Tree};
use crate::index::IndexFile;
use crate::ops::writer::Writer;
use crate::printer::Printer;
use crate::registry::Registry;
use crate::storage::{Area, Batch, Journal, PendingCrate, RegistryLock};
use anyhow::{Context, Result, bail};
use std::collections::HashMap;
use tempfile::TempPath;

pub struct Local<'a> {
    writer: Frame<'a>,
    tree: Tree,
    op: String,
    /// Crate files and private files, durable before any index file moves.
    crates: Batch<'a>,
    /// Index files (and `config.json`), in the order they were modified.
    index: Batch<'a>,
    /// Public keys under `index/` this change writes or removes (journal, git).
    index_keys: Vec<String>,
    /// Index files as this change left them, so a second edit of one crate sees the first.
    edited: HashMap<String, IndexFile>,
    put: Vec<PendingCrate>,
    removed: Vec<PendingCrate>,
    /// Crate files of the mirror to remove with `removed` (not in the journal).
    removed_mirror: Vec<String>,
    /// Build the git index again whole rather than commit the files changed.
    whole_git: bool,
    /// Private files that land after the index files (see `Tx::put_state_last`).
    last: Batch<'a>,
    /// The mirror's `config.json`, which lands before its index files, in a batch of its own.
    mirror_config: Batch<'a>,
}

/// What a change holds while it runs: the registry's writer (its lock, recovery, journal and
/// git), or the mirror's lock.
enum Frame<'a> {
    Registry(Writer<'a>),
    Mirror {
        reg: &'a Registry,
        _lock: RegistryLock,
    },
}

impl<'a> Frame<'a> {
    fn reg(&self) -> &'a Registry {
        match self {
            Frame::Registry(w) => w.reg,
            Frame::Mirror { reg, .. } => reg,
        }
    }
}

impl<'a> Local<'a> {
    pub fn begin_in(reg: &'a Registry, op: &str, printer: Printer, tree: Tree) -> Result<Self> {
        let writer = match tree {
            Tree::Registry => Frame::Registry(Writer::begin(reg, printer)?),
            Tree::Mirror => Frame::Mirror {
                reg,
                _lock: RegistryLock::acquire(
                    &reg.store.path(Area::State, crate::mirror::layout::LOCK_DIR),
                    reg.config.lock_timeout.effective(),
                    || {},
                )?,
            },
        };
        Ok(Self {
            writer,
            tree,
            op: op.to_owned(),
            crates: reg.store.batch().named(tree.step("crates")),
            index: reg.store.batch().named(tree.step("index")),
            index_keys: Vec::new(),
            edited: HashMap::new(),
            put: Vec::new(),
            removed: Vec::new(),
            removed_mirror: Vec::new(),
            whole_git: false,
            last: reg.store.batch().named(tree.step("upstream")).unsynced(),
            mirror_config: reg.store.batch().named("mirror-config"),
        })
    }

    fn reg(&self) -> &'a Registry {
        self.writer.reg()
    }

    pub fn put_crate(&mut self, name: &str, vers: &str, temp: TempPath) -> Result<()> {
        let key = self.tree.crate_key(name, vers);
        self.crates.put_file(Area::Public, &key, temp);
        self.put.push(PendingCrate {
            name: name.to_owned(),
            vers: vers.to_owned(),
            key,
        });
        Ok(())
    }

    pub fn modify_index(
        &mut self,
        name: &str,
        ahead: Option<TempPath>,
        mut edit: impl FnMut(&mut IndexFile) -> Result<()>,
    ) -> Result<()> {
        let key = self.tree.index_key(name)?;
        let mut file = match self.edited.remove(&key) {
            Some(f) => f,
            None => match self.reg().store.read(Area::Public, &key)? {
                Some(bytes) => IndexFile::parse(&bytes)
                    .with_context(|| format!("failed to read the index file of `{name}`"))?,
                None => IndexFile::default(),
            },
        };
        let was_empty = file.is_empty();
        let before = (self.tree == Tree::Mirror).then(|| file.to_bytes());
        edit(&mut file)?;
        if before.is_some_and(|b| b == file.to_bytes()) {
            // The mirror: an edit that changes nothing writes nothing.
            self.edited.insert(key, file);
            return Ok(());
        }
        match ahead {
            // Written ahead from the same lines: right only for a crate that had no file.
            Some(temp) if was_empty && !self.index_keys.contains(&key) => {
                self.index.put_file(Area::Public, &key, temp)
            }
            _ if file.is_empty() => self.index.remove(Area::Public, &key),
            _ => self.index.put(Area::Public, &key, &file.to_bytes())?,
        }
        if !self.index_keys.contains(&key) {
            self.index_keys.push(key.clone());
        }
        self.edited.insert(key, file);
        Ok(())
    }

    pub fn remove_crate(&mut self, name: &str, vers: &str) -> Result<()> {
        self.removed.push(PendingCrate {
            name: name.to_owned(),
            vers: vers.to_owned(),
            key: self.tree.crate_key(name, vers),
        });
        Ok(())
    }

    pub fn put_public(&mut self, key: &str, bytes: &[u8]) -> Result<()> {
        if key.starts_with("crates/") || key.starts_with(crate::storage::git::DIR) {
            bail!("`{key}` is written by the change itself");
        }
        if self.tree == Tree::Mirror {
            return self.mirror_config.put(Area::Public, key, bytes);
        }
        self.index.put(Area::Public, key, bytes)?;
        if key.starts_with("index/") && !self.index_keys.iter().any(|k| k == key) {
            self.index_keys.push(key.to_owned());
        }
        Ok(())
    }

    pub fn put_mirror(&mut self, key: &str, temp: TempPath) -> Result<()> {
        match super::mirror_crate(key)? {
            true => self.crates.put_file(Area::Public, key, temp),
            false => self.index.put_file(Area::Public, key, temp),
        }
        Ok(())
    }

    pub fn remove_mirror(&mut self, key: &str) -> Result<()> {
        match super::mirror_crate(key)? {
            true => self.removed_mirror.push(key.to_owned()),
            false => self.index.remove(Area::Public, key),
        }
        Ok(())
    }

    pub fn put_state(&mut self, key: &str, bytes: &[u8]) -> Result<()> {
        self.crates.put(Area::State, key, bytes)
    }

    /// Under the lock nobody else changes the record: read, edit, stage.
    pub fn modify_state(
        &mut self,
        key: &str,
        mut edit: impl FnMut(Option<&[u8]>) -> Result<Vec<u8>>,
    ) -> Result<Vec<u8>> {
        let old = self.reg().store.read(Area::State, key)?;
        let bytes = edit(old.as_deref())?;
        self.put_state(key, &bytes)?;
        Ok(bytes)
    }

    pub fn put_state_last(&mut self, key: &str, temp: TempPath) -> Result<()> {
        self.last.put_file(Area::State, key, temp);
        Ok(())
    }

    pub fn whole_git(&mut self) {
        self.whole_git = true;
    }

    /// Nothing was written: staged temporary files go with the batches.
    pub fn abandon(self) {}

    pub fn land(self, message: &str, site: SiteEffect) -> Result<()> {
        let nothing = !self.whole_git
            && self.put.is_empty()
            && self.removed.is_empty()
            && self.removed_mirror.is_empty()
            && self.index_keys.is_empty()
            && self.crates.is_empty()
            && self.index.is_empty()
            && self.last.is_empty()
            && self.mirror_config.is_empty();
        if nothing {
            return Ok(());
        }
        if self.tree == Tree::Mirror {
            return self.land_mirror();
        }
        let Self {
            writer,
            op,
            crates,
            index,
            index_keys,
            put,
            removed,
            removed_mirror,
            whole_git,
            last,
            ..
        } = self;
        let Frame::Registry(writer) = writer else {
            unreachable!("the mirror lands above")
        };
        let reg = writer.reg;
        let printer = writer.printer;
        let journal = Journal {
            op,
            crate_files: put.into_iter().chain(removed.iter().cloned()).collect(),
            index_files: index_keys,
            whole_git,
        };
        let visible = || -> Result<()> {
            writer.journal(&journal)?;
            // 1. Crate files, durable before any index line points at them.
            crates.commit().context("failed to write the crate files")?;
            // 2. Index files, in the order the change gave them (dependencies first).
            index.commit().context("failed to write the index files")?;
            // Private files that land last (none in the registry's own changes so far).
            last.commit()?;
            // 3. Crate files no index line names any more, once that is durable.
            if !removed.is_empty() || !removed_mirror.is_empty() {
                reg.store.sync()?;
                crate::storage::crash::point("before-crate-removal");
                for key in removed.iter().map(|p| &p.key).chain(&removed_mirror) {
                    reg.store.remove(Area::Public, key)?;
                }
            }
            Ok(())
        };
        let finish = || -> Result<()> {
            // 4. The git index, then the journal's close.
            match journal.whole_git {
                true => {
                    crate::storage::crash::point("before-git");
                    writer.sync_git_whole(message)?
                }
                false => writer.sync_git(&journal.index_files, message)?,
            }
            writer.done()
        };
        match site {
            SiteEffect::Sources(sources) => {
                crate::ops::site::alongside(reg, sources, printer, visible, finish)
            }
            other => {
                visible()?;
                finish()?;
                super::after(reg, printer, other);
                Ok(())
            }
        }
    }

    /// The mirror's change: crate files (durable first), index files in call order (callers
    /// give dependencies first), removals, the private files that land last, then one sync.
    /// No journal: a crash leaves at most crate files no line names, verified copies the next
    /// sync finds and keeps.
    fn land_mirror(self) -> Result<()> {
        let store = &self.reg().store;
        self.crates
            .commit()
            .context("failed to write the mirror's crate files")?;
        self.mirror_config
            .commit()
            .context("failed to write the mirror's `config.json`")?;
        self.index
            .commit()
            .context("failed to write the mirror's index files")?;
        if !self.removed.is_empty() {
            store.sync()?;
            crate::storage::crash::point(self.tree.step("before-crate-removal"));
            for p in &self.removed {
                store.remove(Area::Public, &p.key)?;
            }
        }
        self.last
            .commit()
            .context("failed to write the mirror's copies of upstream index files")?;
        store.sync()
    }
}
