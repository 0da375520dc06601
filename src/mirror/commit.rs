//! Making a round visible, as one change of the mirror through the change pipeline
//! ([`Registry::change_mirror`]): the downloads already in place are made durable first, then
//! each touched crate's pruned index file is rewritten (dependencies before dependents, so a
//! crash between two files never shows a version whose dependencies are missing), then the
//! upstream cache files move into place. On the local tree this runs under the mirror's lock;
//! on object storage each index file is a conditional-write loop, whose edit is re-run on
//! what another writer left.

use super::cache;
use super::layout;
use super::prune::prune;
use super::resolve::{CrateRound, parse_upstream};
use crate::index::file::IndexFile;
use crate::printer::Printer;
use crate::registry::Registry;
use crate::storage::{Area, RegistryLock, Store};
use anyhow::{Context, Result};
use std::collections::{HashMap, HashSet};

/// The mirror lock for a command that holds it to its end (export, import), waiting at most the
/// registry's `lock-timeout` and saying so when it waits.
pub fn lock_for_command(reg: &Registry, printer: Printer) -> Result<RegistryLock> {
    RegistryLock::acquire(
        &reg.store.path(Area::State, layout::LOCK_DIR),
        reg.config.lock_timeout.effective(),
        || {
            printer.status(
                "Blocking",
                "waiting for another ktra process to finish with the mirror",
            )
        },
    )
}

/// Writes the new index files of a finished round; returns how many changed.
pub fn commit(reg: &Registry, crates: Vec<CrateRound>, printer: Printer) -> Result<usize> {
    let touched: Vec<CrateRound> = crates
        .into_iter()
        // (A pruned file without either: lines a refresh reconciled with the upstream copy.)
        .filter(|c| !c.new.is_empty() || c.fresh.is_some() || c.pruned.is_some())
        .collect();
    if touched.is_empty() {
        return Ok(0);
    }
    let store = &reg.store;
    // The round's downloads moved into place as they were verified, unsynced.
    store.sync()?;
    crate::storage::crash::point("mirror-crates-synced");
    reg.change_mirror("sync-mirror", printer, |tx| {
        let mut updated = 0;
        let mut caches = Vec::new();
        for c in dependencies_first(touched) {
            let have = c.have.to_bytes();
            let mut changed = false;
            tx.modify_index(&c.name, None, |file| {
                let current = file.to_bytes();
                let bytes = if c.computed && current == have {
                    // Nothing changed the file since the round read it: the round's result
                    // stands.
                    c.pruned.clone()
                } else {
                    Some(recompute(store, &c, file)?)
                };
                changed = false;
                if let Some(bytes) = bytes.filter(|b| *b != current) {
                    *file = IndexFile::parse(&bytes).with_context(|| {
                        format!("the mirror's new index file of `{}` is invalid", c.name)
                    })?;
                    changed = true;
                }
                Ok(())
            })?;
            updated += usize::from(changed);
            if let Some(tmp) = c.fresh {
                caches.push((layout::upstream_index(&c.name)?, tmp));
            }
        }
        for (key, tmp) in caches {
            tx.put_state_last(&key, tmp)?;
        }
        Ok(updated)
    })
}

/// The crates ordered so that each comes after the crates its versions depend on.
fn dependencies_first(crates: Vec<CrateRound>) -> Vec<CrateRound> {
    let mut by_key: HashMap<String, CrateRound> = crates
        .into_iter()
        .map(|c| (c.name.to_ascii_lowercase(), c))
        .collect();
    let keys: Vec<String> = by_key.keys().cloned().collect();
    let order = crate::ops::order::dependencies_first(&keys, |k| by_key[k].deps.clone());
    order
        .into_iter()
        .filter_map(|k| by_key.remove(&k))
        .collect()
}

/// The new file when the round's result cannot be used (another writer changed the file).
fn recompute(store: &Store, c: &CrateRound, current: &IndexFile) -> Result<Vec<u8>> {
    let upstream = match &c.fresh {
        // reason: a temp file holding the upstream's fresh index file.
        #[allow(clippy::disallowed_methods)]
        Some(tmp) => read_upstream(&c.name, &std::fs::read(tmp)?)?,
        None => {
            let cached = store.read(Area::State, &layout::upstream_index(&c.name)?)?;
            read_upstream(&c.name, &cached.unwrap_or_default())?
        }
    };
    let mut keep: HashSet<String> = current.lines.iter().map(|l| l.head.vers.clone()).collect();
    keep.extend(c.new.iter().cloned());
    Ok(prune(&upstream, &keep, current))
}

fn read_upstream(name: &str, cached: &[u8]) -> Result<IndexFile> {
    let (_, body) = cache::decode(cached)
        .with_context(|| format!("the cached upstream index file of `{name}` is damaged"))?;
    parse_upstream(name, body)
}

/// Writes the mirror's `config.json` when it is missing or out of date; `true` when it did.
pub fn write_config(reg: &Registry, printer: Printer) -> Result<bool> {
    let bytes = layout::registry_config(reg).to_bytes();
    if reg
        .store
        .read(Area::Public, layout::CONFIG_JSON)?
        .as_deref()
        == Some(&bytes[..])
    {
        return Ok(false);
    }
    reg.change_mirror("sync-mirror", printer, |tx| {
        tx.put_public(layout::CONFIG_JSON, &bytes)
    })?;
    Ok(true)
}
