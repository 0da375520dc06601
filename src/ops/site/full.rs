//! `ktra site`: the whole site from the index and the metadata store, pages rendered in
//! parallel. Metadata missing from the store (crates added before the site existed) is read
//! from each crate's newest `.crate` file and stored.

use super::crate_pages;
use crate::registry::Registry;
use crate::storage::Area;
use anyhow::{Context, Result};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Default, serde::Serialize)]
pub struct SiteReport {
    pub crates: usize,
    pub pages: usize,
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
    let mut rendered: Vec<crate_pages::Rendered> = keys
        .par_iter()
        .map(|key| {
            let source = crate_pages::CrateSource::load(store, key, "")?;
            crate_pages::render_crate(store, &templates, &site, source)
        })
        .filter(|r| r.as_ref().map_or(true, |r| r.summary.is_some()))
        .collect::<Result<_>>()?;
    let completed: Vec<(String, Vec<u8>)> = rendered
        .iter_mut()
        .filter_map(|r| Some((r.name.clone(), r.meta_bytes.take()?)))
        .collect();
    super::update::store_completed_meta(store, &completed)?;
    let mut batch = store.batch().named("site").unsynced().skip_unchanged();
    let mut summaries = BTreeMap::new();
    let mut recent = Vec::new();
    let mut pages = HashSet::new();
    for r in rendered {
        pages.extend(r.pages.iter().map(|(key, _)| key.clone()));
        crate_pages::stage(&mut batch, r.pages);
        summaries.extend(r.summary.map(|s| (r.name.to_ascii_lowercase(), s)));
        recent.extend(r.releases);
    }

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
    let mut list = super::crate_list::CrateList::from_all(reg, summaries);
    super::write_shared(reg, &templates, &site, &mut list, recent, &mut batch, true)?;
    // Whatever else is in the list's folders: pages the layout no longer has, and the state of
    // older layouts.
    let keep: HashSet<(Area, String)> = batch.keys().into_iter().collect();
    for (area, dir) in [
        (Area::Public, "all"),
        (Area::Public, "search"),
        (Area::State, "site"),
    ] {
        for key in store.walk(area, dir)? {
            if !keep.contains(&(area, key.clone())) {
                store.remove(area, &key)?;
            }
        }
    }
    batch.commit().context("failed to write the site")?;
    Ok(report)
}

/// Files of the site at the top of `public/`, besides the folders of pages.
const TOP_FILES: [&str; 4] = ["index.html", "404.html", "feed.xml", "search-index.json"];
/// Folders of the site in `public/` besides the crates' pages.
const SHARED_DIRS: [&str; 3] = ["all", "search", "static"];

/// Removes the whole site (for a registry whose site was turned off) and its state, keeping
/// the crate metadata store; how many files went.
pub fn remove_all(reg: &Registry) -> Result<usize> {
    let store = &reg.store;
    let mut keys: Vec<(Area, String)> = TOP_FILES
        .iter()
        .filter(|key| store.exists(Area::Public, key))
        .map(|key| (Area::Public, (*key).to_owned()))
        .collect();
    for dir in crate_pages::DIRS.iter().chain(&SHARED_DIRS) {
        keys.extend(
            store
                .walk(Area::Public, dir)?
                .into_iter()
                .map(|k| (Area::Public, k)),
        );
    }
    keys.extend(
        store
            .walk(Area::State, "site")?
            .into_iter()
            .map(|k| (Area::State, k)),
    );
    for (area, key) in &keys {
        store.remove(*area, key)?;
    }
    Ok(keys.len())
}
