//! `ktra rebuild`: regenerate every derived file from the crate files and the state. Index lines
//! come from each `.crate`; `pubtime` and `yanked` (which no crate file holds) are kept from the
//! existing lines, or taken from the file's modification time for crates that had none.

use super::inspect;
use super::writer::Writer;
use crate::index::{IndexFile, IndexPackage, name};
use crate::printer::Printer;
use crate::registry::{Registry, keys};
use crate::storage::{Area, Journal};
use anyhow::{Context, Result, bail};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, serde::Serialize)]
pub struct RebuildReport {
    pub crates: usize,
    pub versions: usize,
}

pub fn rebuild(reg: &Registry, printer: Printer) -> Result<RebuildReport> {
    let writer = Writer::begin(reg, printer)?;
    let store = &reg.store;
    // What only the old index knows.
    let mut kept: HashMap<(String, String), (Option<String>, bool)> = HashMap::new();
    let old_index: Vec<String> = store.walk(Area::Public, "index")?;
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
            let r = inspect::entry_of_file(store, key, &identity).and_then(|entry| {
                if keys::crate_file(&entry.name, &entry.vers) != *key {
                    bail!(
                        "`public/{key}` holds `{}@{}`, which belongs elsewhere",
                        entry.name,
                        entry.vers
                    );
                }
                let mtime = store.metadata(Area::Public, key)?.modified()?;
                Ok((
                    entry,
                    Some(humantime::format_rfc3339_seconds(mtime).to_string()),
                ))
            });
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();
    let mut by_crate: BTreeMap<String, Vec<IndexPackage>> = BTreeMap::new();
    for r in read {
        let (mut entry, mtime) = r?;
        let (pubtime, yanked) = kept
            .remove(&(entry.name.clone(), entry.vers.clone()))
            .unwrap_or((mtime, false));
        entry.pubtime = pubtime;
        entry.yanked = yanked;
        by_crate.entry(entry.name.clone()).or_default().push(entry);
    }
    let versions = by_crate.values().map(Vec::len).sum();
    let mut canonicals = std::collections::HashSet::new();
    for crate_name in by_crate.keys() {
        if !canonicals.insert(name::canonical(crate_name)) {
            bail!("crate `{crate_name}` collides with another crate ignoring case and `-`/`_`");
        }
    }
    writer.journal(&Journal {
        op: "rebuild".into(),
        whole_git: true,
        ..Journal::default()
    })?;
    let mut batch = store.batch().named("rebuild");
    batch.put(
        Area::Public,
        keys::CONFIG_JSON,
        &reg.registry_config().to_bytes(),
    )?;
    batch.put(Area::Public, ".nojekyll", b"")?;
    if crate::mirror::layout::exists(reg) {
        let mirror_config = crate::mirror::layout::registry_config(reg).to_bytes();
        batch.put(
            Area::Public,
            crate::mirror::layout::CONFIG_JSON,
            &mirror_config,
        )?;
    }
    let mut wanted_index = std::collections::HashSet::new();
    for (crate_name, mut list) in by_crate {
        list.sort_by(|a, b| (&a.pubtime, a.version()).cmp(&(&b.pubtime, b.version())));
        let mut bytes = Vec::new();
        for e in &list {
            bytes.extend_from_slice(e.to_line().as_bytes());
            bytes.push(b'\n');
        }
        let key = keys::index(&crate_name)?;
        batch.put(Area::Public, &key, &bytes)?;
        wanted_index.insert(key);
    }
    batch
        .commit()
        .context("failed to write the rebuilt index")?;
    for key in old_index
        .iter()
        .filter(|k| *k != keys::CONFIG_JSON && !wanted_index.contains(*k))
    {
        store.remove(Area::Public, key)?;
    }
    store.sync()?;
    crate::storage::crash::point("before-git");
    writer.sync_git_whole("Rebuild the index")?;
    writer.done()?;
    crate::ops::site::rebuild_after_change(reg, writer.printer);
    Ok(RebuildReport {
        crates: wanted_index.len(),
        versions,
    })
}
