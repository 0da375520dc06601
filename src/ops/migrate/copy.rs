//! Copying objects from one registry's store to another's, each one read back and compared.
//! Object storage: crate files put-if-absent (the same bytes already there are fine, other bytes
//! are an error), everything else written as it is, several requests at once. A local folder:
//! one batch per kind of file (written to temporary files, synced once, renamed into place).

use crate::printer::Printer;
use crate::registry::keys;
use crate::storage::bucket::{Cond, Written};
use crate::storage::{Area, Store};
use anyhow::{Context, Result, anyhow, bail};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// Requests in flight at once on object storage (each waits on the network, not the CPU).
const PARALLEL: usize = 8;

#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Counts {
    /// Written and read back.
    pub copied: usize,
    /// Already on the target with the same bytes (an earlier, unfinished migrate).
    pub already_there: usize,
    /// Bytes of every file of this kind on the target.
    pub bytes: u64,
}

pub struct Item {
    pub area: Area,
    pub key: String,
    /// A crate file's sha256 from its index line: the file never changes once written.
    pub cksum: Option<String>,
}

impl Item {
    pub fn plain(area: Area, key: String) -> Item {
        Item {
            area,
            key,
            cksum: None,
        }
    }

    pub fn crate_file(key: String, cksum: String) -> Item {
        Item {
            area: Area::Public,
            key,
            cksum: Some(cksum),
        }
    }

    fn shown(&self) -> String {
        match self.area {
            Area::Public => format!("public/{}", self.key),
            Area::State => format!("state/{}", self.key),
        }
    }
}

enum Done {
    Copied(u64),
    AlreadyThere(u64),
}

pub struct Copier<'a> {
    src: &'a Store,
    dst: &'a Store,
    /// Objects may already be there (check before writing).
    resumed: bool,
    printer: Printer,
}

fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

impl<'a> Copier<'a> {
    pub fn new(src: &'a Store, dst: &'a Store, resumed: bool, printer: Printer) -> Self {
        Self {
            src,
            dst,
            resumed,
            printer,
        }
    }

    /// Copies `items`; `given` supplies the bytes of an item instead of the source (the
    /// snapshot of the index, a file made for the target).
    pub fn copy(
        &self,
        items: &[Item],
        what: &str,
        given: impl Fn(&Item) -> Option<Vec<u8>> + Sync,
    ) -> Result<Counts> {
        let bar = self.printer.progress(items.len() as u64, what);
        let read = |item: &Item| -> Result<Vec<u8>> {
            let bytes = match given(item) {
                Some(b) => b,
                None => self
                    .src
                    .read(item.area, &item.key)?
                    .ok_or_else(|| anyhow!("`{}` disappeared from the source", item.shown()))?,
            };
            if let Some(want) = &item.cksum {
                let got = sha256(&bytes);
                if got != *want {
                    bail!(
                        "`{}` has checksum {got}, but its index line says {want}: not copied",
                        item.shown()
                    );
                }
            }
            Ok(bytes)
        };
        let done: Vec<Done> = match self.dst.is_remote() {
            true => {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(PARALLEL)
                    .build()
                    .context("failed to start the copying threads")?;
                pool.install(|| {
                    items
                        .par_iter()
                        .map(|item| {
                            let r = read(item).and_then(|b| self.put_remote(item, b));
                            bar.inc(1);
                            r
                        })
                        .collect::<Result<Vec<Done>>>()
                })?
            }
            false => self.copy_local(items, &read, &bar)?,
        };
        bar.finish_and_clear();
        let mut counts = Counts::default();
        for d in done {
            match d {
                Done::Copied(n) => {
                    counts.copied += 1;
                    counts.bytes += n;
                }
                Done::AlreadyThere(n) => {
                    counts.already_there += 1;
                    counts.bytes += n;
                }
            }
        }
        Ok(counts)
    }

    /// What the target holds at the item's key, compared with `bytes`: `Some(true)` the same,
    /// `Some(false)` other bytes (an error for a crate file), `None` nothing.
    fn compare(&self, item: &Item, bytes: &[u8]) -> Result<Option<bool>> {
        let Some(have) = self.dst.read(item.area, &item.key)? else {
            return Ok(None);
        };
        let same = have == bytes;
        if !same && item.cksum.is_some() {
            bail!(
                "the target already has `{}` with other bytes (sha256 {}) than the source \
                 (sha256 {}): a crate file never changes, so it is not replaced",
                item.key,
                sha256(&have),
                sha256(bytes)
            );
        }
        Ok(Some(same))
    }

    fn put_remote(&self, item: &Item, bytes: Vec<u8>) -> Result<Done> {
        let buckets = self.dst.bucket().expect("a remote target");
        let size = bytes.len() as u64;
        if self.resumed && self.compare(item, &bytes)? == Some(true) {
            return Ok(Done::AlreadyThere(size));
        }
        let want = sha256(&bytes);
        let cond = match item.cksum {
            Some(_) => Cond::IfAbsent,
            None => Cond::Any,
        };
        if let Written::Conflict = buckets
            .area(item.area)
            .put(&item.key, bytes.clone(), cond)?
        {
            return match self.compare(item, &bytes)? {
                Some(true) => Ok(Done::AlreadyThere(size)),
                _ => bail!(
                    "failed to write `{}`: the store refused the write",
                    item.key
                ),
            };
        }
        self.read_back(item, size, &want)?;
        Ok(Done::Copied(size))
    }

    fn copy_local(
        &self,
        items: &[Item],
        read: &(dyn Fn(&Item) -> Result<Vec<u8>> + Sync),
        bar: &indicatif::ProgressBar,
    ) -> Result<Vec<Done>> {
        let mut batch = self.dst.batch().named("migrate");
        let mut done = Vec::with_capacity(items.len());
        let mut written = Vec::new();
        for item in items {
            let bytes = read(item)?;
            let size = bytes.len() as u64;
            if self.compare(item, &bytes)? == Some(true) {
                done.push(Done::AlreadyThere(size));
            } else {
                self.dst.make_parent(item.area, &item.key)?;
                batch.put(item.area, &item.key, &bytes)?;
                written.push((item, size, sha256(&bytes)));
                done.push(Done::Copied(size));
            }
            bar.inc(1);
        }
        batch.commit()?;
        for (item, size, want) in written {
            self.read_back(item, size, &want)?;
        }
        Ok(done)
    }

    /// The object as the target now holds it has the source's size and sha256.
    fn read_back(&self, item: &Item, size: u64, want: &str) -> Result<()> {
        let back = self.dst.read(item.area, &item.key)?.ok_or_else(|| {
            anyhow!(
                "`{}` is missing on the target after it was written",
                item.key
            )
        })?;
        if back.len() as u64 != size || sha256(&back) != want {
            bail!(
                "`{}` read back from the target differs from the source ({} bytes, sha256 {}; \
                 expected {size} bytes, sha256 {want})",
                item.key,
                back.len(),
                sha256(&back)
            );
        }
        Ok(())
    }

    /// `config.json`, last: only now does the target look like a registry.
    pub fn put_config(&self, bytes: &[u8]) -> Result<()> {
        let item = Item::plain(Area::Public, keys::CONFIG_JSON.to_owned());
        let want = sha256(bytes);
        match self.dst.bucket() {
            Some(buckets) => {
                let written =
                    buckets
                        .public
                        .put(keys::CONFIG_JSON, bytes.to_vec(), Cond::IfAbsent)?;
                if let Written::Conflict = written
                    && self.compare(&item, bytes)? != Some(true)
                {
                    bail!(
                        "another registry was created in {} while it was being copied (its \
                         `{}` differs)",
                        buckets.public.url(),
                        keys::CONFIG_JSON
                    );
                }
            }
            None => {
                let mut batch = self.dst.batch().named("migrate");
                batch.put(Area::Public, keys::CONFIG_JSON, bytes)?;
                batch.commit()?;
            }
        }
        self.read_back(&item, bytes.len() as u64, &want)
    }
}

/// The marker of an unfinished migrate, written before anything else (put-if-absent: two
/// migrates into one location do not both start).
pub fn put_marker(dst: &Store, bytes: &[u8], shown: &str) -> Result<()> {
    match dst.bucket() {
        Some(buckets) => {
            if let Written::Conflict =
                buckets
                    .state
                    .put(super::MARKER, bytes.to_vec(), Cond::IfAbsent)?
            {
                bail!("another migrate into {shown} started at the same time: nothing was copied");
            }
            Ok(())
        }
        None => {
            let mut batch = dst.batch().named("migrate");
            batch.put(Area::State, super::MARKER, bytes)?;
            batch.commit()?;
            dst.sync()
        }
    }
}

/// Reads `keys` of `area` (several requests at once on object storage); a key gone meanwhile
/// reads as `None`.
pub fn read_all(
    store: &Store,
    area: Area,
    keys: Vec<String>,
) -> Result<Vec<(String, Option<Vec<u8>>)>> {
    let read = |key: String| -> Result<(String, Option<Vec<u8>>)> {
        let bytes = store.read(area, &key)?;
        Ok((key, bytes))
    };
    if !store.is_remote() {
        return keys.into_iter().map(read).collect();
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(PARALLEL)
        .build()
        .context("failed to start the reading threads")?;
    pool.install(|| keys.into_par_iter().map(read).collect())
}
