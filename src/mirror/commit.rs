//! Making a round visible: crate files are made durable first, then, under the mirror lock,
//! each touched crate's pruned index file is rewritten (dependencies before dependents, so a
//! crash between two files never shows a version whose dependencies are missing), then the
//! upstream cache files move into place.

use super::cache;
use super::layout;
use super::prune::prune;
use super::resolve::{CrateRound, parse_upstream};
use crate::index::file::IndexFile;
use crate::storage::{Area, RegistryLock, Store};
use anyhow::{Context, Result};
use std::collections::HashSet;

/// Takes the mirror lock (separate from the registry lock: a long sync never blocks publishes).
pub fn lock(store: &Store) -> Result<RegistryLock> {
    RegistryLock::acquire(&store.path(Area::State, layout::LOCK_DIR), || {})
}

/// Writes the new index files of a finished round; returns how many changed.
pub fn commit(store: &Store, crates: Vec<CrateRound>) -> Result<usize> {
    let touched: Vec<CrateRound> = crates
        .into_iter()
        .filter(|c| !c.new.is_empty() || c.fresh.is_some())
        .collect();
    if touched.is_empty() {
        return Ok(0);
    }
    store.sync()?;
    crate::storage::crash::point("mirror-crates-synced");
    let _lock = lock(store)?;
    let mut batch = store.batch().named("mirror-index");
    let mut updated = 0;
    let mut caches = Vec::new();
    // Reverse discovery order: a crate was discovered before its dependencies.
    for c in touched.into_iter().rev() {
        let upstream = match &c.fresh {
            Some(tmp) => read_upstream(&c.name, &std::fs::read(tmp)?)?,
            None => read_upstream(
                &c.name,
                &store
                    .read(Area::State, &layout::upstream_index(&c.name))?
                    .unwrap_or_default(),
            )?,
        };
        let key = layout::index(&c.name);
        let old_bytes = store.read(Area::Public, &key)?.unwrap_or_default();
        let old = IndexFile::parse(&old_bytes)
            .with_context(|| format!("failed to read the mirror's `{key}`"))?;
        let mut keep: HashSet<String> = old.lines.iter().map(|l| l.head.vers.clone()).collect();
        keep.extend(c.new.iter().cloned());
        let bytes = prune(&upstream, &keep, &old);
        if bytes != old_bytes {
            batch.put(Area::Public, &key, &bytes)?;
            updated += 1;
        }
        if let Some(tmp) = c.fresh {
            caches.push((layout::upstream_index(&c.name), tmp));
        }
    }
    for (key, tmp) in caches {
        batch.put_file(Area::State, &key, tmp);
    }
    batch.commit()?;
    store.sync()?;
    Ok(updated)
}

fn read_upstream(name: &str, cached: &[u8]) -> Result<IndexFile> {
    let (_, body) = cache::decode(cached)
        .with_context(|| format!("the cached upstream index file of `{name}` is damaged"))?;
    parse_upstream(name, body)
}

/// Writes the mirror's `config.json` when it is missing or out of date.
pub fn write_config(reg: &crate::registry::Registry) -> Result<()> {
    let bytes = layout::registry_config(reg).to_bytes();
    let store = &reg.store;
    if store.read(Area::Public, layout::CONFIG_JSON)?.as_deref() == Some(&bytes[..]) {
        return Ok(());
    }
    let _lock = lock(store)?;
    let mut batch = store.batch().named("mirror-config");
    batch.put(Area::Public, layout::CONFIG_JSON, &bytes)?;
    batch.commit()?;
    store.sync()
}
