//! `ktra site`: the whole site from the index and the metadata store, pages rendered in
//! parallel. Metadata missing from the store (crates added before the site existed) is read
//! from each crate's newest `.crate` file and stored.

use super::{meta_store, page_key, views};
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
    page_key: String,
    /// The page, already in a temporary file: 20,000 pages are not held in memory.
    html: tempfile::TempPath,
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
            if let Some((_, featured)) = entries.iter().find(|(_, e)| !e.yanked).or(entries.first())
                && !meta.versions.contains_key(&featured.vers)
            {
                backfill(reg, &mut meta, &featured.name, &featured.vers)?;
                meta_bytes = Some(meta.to_bytes());
            }
            let Some(page) = views::crate_page(&site, &entries, &meta) else {
                return Ok(None);
            };
            let mut tmp = store.temp_file()?;
            std::io::Write::write_all(&mut tmp, templates.crate_page(&page)?.as_bytes())
                .context("failed to write a temporary file")?;
            let html = tmp.into_temp_path();
            Ok(Some(Built {
                lower: name.to_ascii_lowercase(),
                page_key: page_key(&name),
                html,
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
    let mut summaries = BTreeMap::new();
    let mut recent = Vec::new();
    let mut pages = HashSet::new();
    for b in built {
        batch.put_file(Area::Public, &b.page_key, b.html);
        if let Some(meta) = &b.meta_bytes {
            batch.put(Area::State, &meta_store::key(&b.lower), meta)?;
        }
        pages.insert(b.page_key);
        summaries.extend(b.summary.map(|s| (b.lower, s)));
        recent.extend(b.releases);
    }

    let report = SiteReport {
        crates: summaries.len(),
        pages: pages.len() + 4,
    };
    // Pages of crates that are gone.
    for key in store.walk(Area::Public, "c")? {
        if !pages.contains(&key) {
            store.remove(Area::Public, &key)?;
        }
    }
    store.remove(Area::Public, "404.html")?;
    let mut shards = super::shards::Shards::from_all(summaries);
    // List pages and shards of letters no crate starts with any more.
    let letters: HashSet<String> = shards.letters().into_iter().map(|l| l.letter).collect();
    for key in store.walk(Area::Public, "all")? {
        let letter = key.trim_start_matches("all/").trim_end_matches(".html");
        if !letters.contains(letter) {
            store.remove(Area::Public, &key)?;
        }
    }
    for key in store
        .walk(Area::State, "site/summaries")?
        .into_iter()
        .chain(store.walk(Area::State, "site/search")?)
    {
        let letter = key
            .rsplit('/')
            .next()
            .unwrap_or("")
            .trim_end_matches(".json");
        if !letters.contains(letter) {
            store.remove(Area::State, &key)?;
        }
    }
    super::write_shared(reg, &templates, &site, &mut shards, recent, &mut batch)?;
    batch.commit().context("failed to write the site")?;
    Ok(report)
}

/// Reads a version's metadata from its crate file into `meta`.
fn backfill(
    reg: &Registry,
    meta: &mut meta_store::CrateMeta,
    name: &str,
    vers: &str,
) -> Result<()> {
    let key = crate::registry::keys::crate_file(name, vers);
    let Some(file) = reg.store.open(Area::Public, &key)? else {
        return Ok(());
    };
    let reader = std::io::BufReader::new(file);
    let inspection = crate::package::archive::inspect(reader, std::io::sink(), None)
        .with_context(|| format!("failed to read `{key}`"))?;
    let (m, readme) = crate::package::meta::read(&inspection.manifest, &inspection.readmes);
    meta.record(vers, m, readme);
    Ok(())
}
