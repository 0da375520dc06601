//! A change of a registry in object storage, where any number of writers on any machines work
//! at once with no lock: every call takes effect when made. A crate file is put only if absent
//! (the same bytes already there are a success); an index file is read, edited and written back
//! only if nobody changed it since the read (its ETag), and on a conflict the edit is re-run on
//! the new content, a bounded number of times with random backoff. Crate files go before the
//! index lines that name them, so a writer killed half-way leaves at most an orphan crate file
//! (`ktra verify` reports it, `--fix` removes it), never a line without its file.

use super::Tree;
use crate::index::IndexFile;
use crate::registry::Registry;
use crate::storage::Area;
use crate::storage::bucket::{Bucket, Cond, Written, backoff};
use anyhow::{Context, Result, bail};
use tempfile::TempPath;

/// Attempts of one conditional edit before giving up (each conflict means another writer's
/// edit of the same file landed, so the registry as a whole progresses).
const ATTEMPTS: u32 = 50;

pub struct Remote<'a> {
    reg: &'a Registry,
    op: String,
    tree: Tree,
    /// Crate files to remove once their lines are gone.
    removed: Vec<String>,
    /// Crate files that were already there with this change's bytes, and the bytes: possibly
    /// an old orphan that `ktra verify --fix` is removing, so checked once the lines are
    /// written (see [`Remote::land`]).
    adopted: Vec<(String, TempPath)>,
    /// The index files as this change wrote them, with their new ETags, by crate name: what
    /// the site renders from (they may hold other writers' lines too).
    written: WrittenFiles,
}

/// See [`Remote::written`].
pub type WrittenFiles = std::collections::HashMap<String, (Vec<u8>, String)>;

impl<'a> Remote<'a> {
    pub fn begin(reg: &'a Registry, op: &str) -> Result<Self> {
        Ok(Self {
            reg,
            op: op.to_owned(),
            tree: Tree::Registry,
            removed: Vec::new(),
            adopted: Vec::new(),
            written: WrittenFiles::new(),
        })
    }

    /// The same change, of another tree (the mirror).
    pub fn in_tree(mut self, tree: Tree) -> Self {
        self.tree = tree;
        self
    }

    fn buckets(&self) -> &'a crate::storage::objects::Buckets {
        self.reg
            .store
            .bucket()
            .expect("a remote change runs on object storage")
    }

    fn bucket(&self, area: Area) -> &'a Bucket {
        self.buckets().area(area)
    }

    pub fn put_crate(&mut self, name: &str, vers: &str, temp: TempPath) -> Result<()> {
        let key = self.tree.crate_key(name, vers);
        self.put_immutable(key, &format!("{name}@{vers}"), temp)
    }

    /// Puts a file that never changes (a crate file) only if absent: the same bytes already
    /// there are a success, other bytes an error.
    fn put_immutable(&mut self, key: String, label: &str, temp: TempPath) -> Result<()> {
        // reason: the temp file holding the packed crate, on its way into the bucket.
        #[allow(clippy::disallowed_methods)]
        let bytes =
            std::fs::read(&temp).with_context(|| format!("failed to read the packed `{label}`"))?;
        let bucket = self.bucket(Area::Public);
        // Twice at most: a file there at the put may be gone at the read (`verify --fix`).
        for _ in 0..2 {
            if let Written::Done(_) = bucket.put(&key, bytes.clone(), Cond::IfAbsent)? {
                crate::storage::crash::point(self.tree.step("crates-synced"));
                return Ok(());
            }
            match bucket.get(&key)? {
                Some(f) if f.bytes == bytes => {
                    self.adopted.push((key, temp));
                    crate::storage::crash::point(self.tree.step("crates-synced"));
                    return Ok(());
                }
                Some(_) => {
                    bail!("failed to add `{label}`: `{key}` already exists with different content")
                }
                None => {}
            }
        }
        bail!("failed to add `{label}`: `{key}` kept appearing and disappearing; try again")
    }

    /// A file of the mirror from an import: a crate file as [`Remote::put_crate`] puts one; an
    /// index file replaced whole (the mirror is derived from its upstream: the next sync
    /// recomputes a file a sync changed meanwhile).
    pub fn put_mirror(&mut self, key: &str, temp: TempPath) -> Result<()> {
        if super::mirror_crate(key)? {
            return self.put_immutable(key.to_owned(), key, temp);
        }
        // reason: a staged temp file on its way into the bucket.
        #[allow(clippy::disallowed_methods)]
        let bytes =
            std::fs::read(&temp).with_context(|| format!("failed to read the staged `{key}`"))?;
        self.buckets().put(Area::Public, key, bytes)?;
        crate::storage::crash::point(self.tree.step("index-partial"));
        Ok(())
    }

    /// Removes a file of the mirror: an index file now, a crate file once the index files are
    /// written (with the crate files the change removes).
    pub fn remove_mirror(&mut self, key: &str) -> Result<()> {
        match super::mirror_crate(key)? {
            true => self.removed.push(key.to_owned()),
            false => self.buckets().remove(Area::Public, key)?,
        }
        Ok(())
    }

    pub fn modify_index(
        &mut self,
        name: &str,
        mut edit: impl FnMut(&mut IndexFile) -> Result<()>,
    ) -> Result<()> {
        let key = self.tree.index_key(name)?;
        let bucket = self.bucket(Area::Public);
        // The first attempt starts from what validation read, when this process read it.
        let mut known = self.buckets().take_seen(&key);
        for attempt in 0..ATTEMPTS {
            let found = match known.take() {
                Some(found) => found,
                None => bucket.get(&key)?,
            };
            let (mut file, cond) = match found {
                Some(found) => {
                    let file = IndexFile::parse(&found.bytes)
                        .with_context(|| format!("failed to read the index file of `{name}`"))?;
                    (file, Cond::IfMatch(found.tag))
                }
                None => (IndexFile::default(), Cond::IfAbsent),
            };
            let before = (self.tree == Tree::Mirror).then(|| file.to_bytes());
            edit(&mut file)?;
            if before.is_some_and(|b| b == file.to_bytes()) {
                // The mirror: an edit that changes nothing writes nothing.
                return Ok(());
            }
            // An index file left without lines stays, empty: removing it could not be made
            // conditional on the content it was read with. Cargo reads it as a crate with no
            // versions.
            let bytes = file.to_bytes();
            match bucket.put(&key, bytes.clone(), cond)? {
                Written::Done(tag) => {
                    crate::storage::crash::point(self.tree.step("index-partial"));
                    self.written.insert(name.to_owned(), (bytes, tag));
                    return Ok(());
                }
                Written::Conflict => backoff(attempt),
            }
        }
        bail!(
            "failed to {} `{name}`: its index file kept changing under {ATTEMPTS} attempts \
             (other writers); try again",
            self.op
        )
    }

    pub fn remove_crate(&mut self, name: &str, vers: &str) -> Result<()> {
        self.removed.push(self.tree.crate_key(name, vers));
        Ok(())
    }

    pub fn put_public(&mut self, key: &str, bytes: &[u8]) -> Result<()> {
        self.buckets().put(Area::Public, key, bytes.to_vec())
    }

    pub fn put_state(&mut self, key: &str, bytes: &[u8]) -> Result<()> {
        self.buckets().put(Area::State, key, bytes.to_vec())
    }

    /// Written when called, after the index files the change wrote before (call order).
    pub fn put_state_last(&mut self, key: &str, temp: TempPath) -> Result<()> {
        // reason: a temp file on its way into the bucket.
        #[allow(clippy::disallowed_methods)]
        let bytes = std::fs::read(&temp)
            .with_context(|| format!("failed to read the temporary file for `{key}`"))?;
        self.buckets().put(Area::State, key, bytes)
    }

    /// A private record changed by the same conditional loop as an index file.
    pub fn modify_state(
        &mut self,
        key: &str,
        mut edit: impl FnMut(Option<&[u8]>) -> Result<Vec<u8>>,
    ) -> Result<Vec<u8>> {
        let bucket = self.bucket(Area::State);
        for attempt in 0..ATTEMPTS {
            let found = bucket.get(key)?;
            let cond = found
                .as_ref()
                .map_or(Cond::IfAbsent, |f| Cond::IfMatch(f.tag.clone()));
            let bytes = edit(found.as_ref().map(|f| f.bytes.as_slice()))?;
            match bucket.put(key, bytes.clone(), cond)? {
                Written::Done(_) => return Ok(bytes),
                Written::Conflict => backoff(attempt),
            }
        }
        bail!(
            "failed to {}: `{key}` kept changing under {ATTEMPTS} attempts (other writers); try again",
            self.op
        )
    }

    /// The change failed. Crate files it created stay: another writer adding the same
    /// version with the same bytes may already have named one in its index line, and no
    /// delete can be made conditional on that. One no line names is an orphan, which
    /// `ktra verify` lists as pending and `ktra verify --fix` removes once it is old.
    pub fn abandon(self) {}

    /// Puts back a crate file this change found already there (its own bytes) if it is gone
    /// now that the lines naming it are written: `ktra verify --fix` may have removed it as an
    /// old orphan just before they were (see `ops::verify::fix` for the other half). Then
    /// removes the crate files no line names any more. Returns the index files written.
    pub fn land(self) -> Result<WrittenFiles> {
        let bucket = self.bucket(Area::Public);
        for (key, temp) in &self.adopted {
            if bucket.head(key)?.is_none() {
                // reason: the temp file holding the packed crate, on its way into the bucket.
                #[allow(clippy::disallowed_methods)]
                let bytes = std::fs::read(temp)
                    .with_context(|| format!("failed to read the packed `{key}` again"))?;
                // A conflict: another writer put the same file back.
                bucket.put(key, bytes, Cond::IfAbsent)?;
            }
        }
        crate::storage::crash::point(self.tree.step("before-crate-removal"));
        for key in &self.removed {
            self.bucket(Area::Public).delete(key)?;
        }
        Ok(self.written)
    }
}
