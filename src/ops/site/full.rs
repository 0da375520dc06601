//! `ktra site`: the whole site from the index and the metadata store, pages rendered in
//! parallel. Metadata missing from the store (crates added before the site existed) is read
//! from each crate's newest `.crate` file and stored.

use super::{crate_pages, meta_store, views};
use crate::registry::Registry;
use crate::site::view::{CrateSummary, Release};
use crate::storage::Area;
use anyhow::{Context, Result};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Default, serde::Serialize)]
pub struct SiteReport {
    pub crates: usize,
    pub pages: usize,
}

struct Built {
    lower: String,
    /// The crate's pages (key, temporary file): 20,000 pages are not held in memory.
    pages: Vec<(String, tempfile::TempPath)>,
    summary: Option<CrateSummary>,
    releases: Vec<Release>,
    meta_bytes: Option<Vec<u8>>,
}

pub fn build_all(reg: &Registry) -> Result<SiteReport> {
    let store = &reg.store;
    let templates = super::templates(reg)?;
    let site = super::site_info(reg);
    let keys: Vec<String> = store
        .walk(Area::Public, "index")?
        .into_iter()
        .filter(|k| k != crate::registry::keys::CONFIG_JSON)
        .collect();
    let built: Vec<Built> = keys
        .par_iter()
        .map(|key| -> Result<Option<Built>> {
            let bytes = store.read(Area::Public, key)?.unwrap_or_default();
            let file = crate::index::IndexFile::parse(&bytes).unwrap_or_default();
            let entries = views::entries(&file);
            let Some((_, newest)) = entries.first() else {
                return Ok(None);
            };
            let name = newest.name.clone();
            let mut meta = meta_store::load(store, &name)?;
            let mut meta_bytes = None;
            if meta_store::fill_featured(store, &entries, &mut meta)? {
                meta_bytes = Some(meta.to_bytes());
            }
            let files = crate_pages::render(&templates, &site, &name, &entries, &meta)?;
            if files.write.is_empty() {
                return Ok(None);
            }
            let mut pages = Vec::new();
            for (key, html) in files.write {
                let mut tmp = store.temp_file()?;
                std::io::Write::write_all(&mut tmp, &html)
                    .context("failed to write a temporary file")?;
                pages.push((key, tmp.into_temp_path()));
            }
            Ok(Some(Built {
                lower: name.to_ascii_lowercase(),
                pages,
                summary: views::summary(&entries, &meta),
                releases: views::releases(&entries, &meta),
                meta_bytes,
            }))
        })
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let mut batch = store.batch().named("site").unsynced();
    // Metadata read back from crate files is source data: synced, before the pages.
    let mut meta = store.batch().named("site-meta");
    let mut summaries = BTreeMap::new();
    let mut recent = Vec::new();
    let mut pages = HashSet::new();
    for b in built {
        for (key, tmp) in b.pages {
            pages.insert(key.clone());
            batch.put_file(Area::Public, &key, tmp);
        }
        if let Some(bytes) = &b.meta_bytes {
            meta.put(Area::State, &meta_store::key(&b.lower), bytes)?;
        }
        summaries.extend(b.summary.map(|s| (b.lower, s)));
        recent.extend(b.releases);
    }
    meta.commit().context("failed to store crate metadata")?;

    let report = SiteReport {
        crates: summaries.len(),
        pages: pages.len() + 4,
    };
    // Pages of crates that are gone (or that no longer need them).
    for dir in crate_pages::DIRS {
        for key in store.walk(Area::Public, dir)? {
            if !pages.contains(&key) {
                store.remove(Area::Public, &key)?;
            }
        }
    }
    store.remove(Area::Public, "404.html")?;
    let mut list = super::crate_list::CrateList::from_all(reg, summaries);
    super::write_shared(reg, &templates, &site, &mut list, recent, &mut batch)?;
    // Whatever else is in the list's folders: pages the layout no longer has, and the state of
    // older layouts.
    let keep: HashSet<(Area, String)> = batch.keys().into_iter().collect();
    for (area, dir) in [
        (Area::Public, "all"),
        (Area::Public, "search"),
        (Area::State, "site"),
    ] {
        for key in store.walk(area, dir)? {
            if !keep.contains(&(area, key.clone())) && key != super::RECENT_KEY {
                store.remove(area, &key)?;
            }
        }
    }
    batch.commit().context("failed to write the site")?;
    Ok(report)
}
