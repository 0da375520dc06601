//! `ktra rebuild`: regenerate every derived file from the crate files and the state. Index lines
//! come from each `.crate`; `pubtime` and `yanked` (which no crate file holds) are kept from the
//! existing lines, or, for crates that had none, taken from the file's modification time (on
//! the local tree; object storage leaves them without). One change of the pipeline: every index
//! file is replaced, index files of crates without crate files are emptied, and the git index
//! and the site are built again whole.

use super::change::SiteEffect;
use super::inspect;
use crate::index::{IndexFile, IndexPackage, name};
use crate::printer::Printer;
use crate::registry::{Registry, keys};
use crate::storage::Area;
use anyhow::{Context, Result, bail};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, serde::Serialize)]
pub struct RebuildReport {
    pub crates: usize,
    pub versions: usize,
}

pub fn rebuild(reg: &Registry, printer: Printer) -> Result<RebuildReport> {
    reg.change("rebuild", printer, |tx| {
        let (by_crate, old_index) = read_all(reg, printer)?;
        let versions = by_crate.values().map(Vec::len).sum();
        tx.put_public(keys::CONFIG_JSON, &reg.registry_config().to_bytes())?;
        tx.put_public(".nojekyll", b"")?;
        if crate::mirror::layout::exists(reg) {
            let mirror_config = crate::mirror::layout::registry_config(reg).to_bytes();
            tx.put_public(crate::mirror::layout::CONFIG_JSON, &mirror_config)?;
        }
        let mut wanted = HashSet::new();
        for (crate_name, mut list) in by_crate {
            list.sort_by(|a, b| (&a.pubtime, a.version()).cmp(&(&b.pubtime, b.version())));
            let mut bytes = Vec::new();
            for e in &list {
                bytes.extend_from_slice(e.to_line().as_bytes());
                bytes.push(b'\n');
            }
            let rebuilt = IndexFile::parse(&bytes)
                .with_context(|| format!("failed to build the index file of `{crate_name}`"))?;
            tx.modify_index(&crate_name, None, |file| {
                *file = rebuilt.clone();
                Ok(())
            })?;
            wanted.insert(keys::index(&crate_name)?);
        }
        // Index files of crates with no crate file left.
        for key in old_index.iter().filter(|k| !wanted.contains(*k)) {
            let Some(crate_name) = key.rsplit('/').next() else {
                continue;
            };
            if keys::index(crate_name).ok().as_ref() == Some(key) {
                tx.modify_index(crate_name, None, |file| {
                    *file = IndexFile::default();
                    Ok(())
                })?;
            }
        }
        tx.whole_git();
        tx.message("Rebuild the index");
        tx.site(SiteEffect::Rebuild);
        Ok(RebuildReport {
            crates: wanted.len(),
            versions,
        })
    })
}

type ByCrate = BTreeMap<String, Vec<IndexPackage>>;

/// Every crate file's index line, with what only the old index knows; the old index's keys.
fn read_all(reg: &Registry, printer: Printer) -> Result<(ByCrate, Vec<String>)> {
    let store = &reg.store;
    // What only the old index knows.
    let mut kept: HashMap<(String, String), (Option<String>, bool)> = HashMap::new();
    let old_index: Vec<String> = store
        .walk(Area::Public, "index")?
        .into_iter()
        .filter(|k| k != keys::CONFIG_JSON)
        .collect();
    for key in &old_index {
        let Ok(file) = IndexFile::parse(&store.read(Area::Public, key)?.unwrap_or_default()) else {
            continue;
        };
        for l in file.lines {
            let pubtime = serde_json::from_str::<serde_json::Value>(&l.raw)
                .ok()
                .and_then(|v| v["pubtime"].as_str().map(str::to_owned));
            kept.insert((l.head.name, l.head.vers), (pubtime, l.head.yanked));
        }
    }
    let crate_keys = store.walk(Area::Public, "crates")?;
    let identity = reg.identity(&[]);
    let bar = printer.progress(crate_keys.len() as u64, "Reading");
    let read: Vec<Result<(IndexPackage, Option<String>)>> = crate_keys
        .par_iter()
        .map(|key| {
            let r = inspect::entry_of_stored(store, key, &identity).and_then(|entry| {
                if keys::crate_file(&entry.name, &entry.vers) != *key {
                    bail!(
                        "`public/{key}` holds `{}@{}`, which belongs elsewhere",
                        entry.name,
                        entry.vers
                    );
                }
                let mtime = match store.is_remote() {
                    true => None,
                    false => Some(store.metadata(Area::Public, key)?.modified()?),
                };
                Ok((
                    entry,
                    mtime.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
                ))
            });
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();
    let mut by_crate: ByCrate = BTreeMap::new();
    for r in read {
        let (mut entry, mtime) = r?;
        let (pubtime, yanked) = kept
            .remove(&(entry.name.clone(), entry.vers.clone()))
            .unwrap_or((mtime, false));
        entry.pubtime = pubtime;
        entry.yanked = yanked;
        by_crate.entry(entry.name.clone()).or_default().push(entry);
    }
    let mut canonicals = HashSet::new();
    for crate_name in by_crate.keys() {
        if !canonicals.insert(name::canonical(crate_name)) {
            bail!("crate `{crate_name}` collides with another crate ignoring case and `-`/`_`");
        }
    }
    Ok((by_crate, old_index))
}
