//! One change's site update in two steps. [`prepare`] renders every file the change affects
//! (the crates' pages, their list pages and search parts, home, feed, search manifest) into
//! temporary files and touches nothing else, so it can run on another thread while the change
//! itself is made durable, from the crates' new index files and metadata held in memory.
//! [`Prepared::commit`] moves the files into place once the change has landed.

use super::crate_pages::{self, CrateSource};
use super::{RECENT_KEY, crate_list, meta_store, read_json};
use crate::registry::Registry;
use crate::site::view::Release;
use crate::storage::{Area, Batch, Store};
use anyhow::{Context, Result};
use rayon::prelude::*;

/// A site update rendered and waiting for its change to land.
pub struct Prepared<'a> {
    reg: &'a Registry,
    batch: Batch<'a>,
    /// Metadata that rendering completed from crate files: (crate name, bytes).
    completed_meta: Vec<(String, Vec<u8>)>,
}

/// Whether the registry has a site that a change can update (else [`super::build_all`] makes
/// one: a registry from before the site, or from before its list was kept in pages).
pub fn possible(reg: &Registry) -> bool {
    reg.store.exists(Area::State, RECENT_KEY) && crate_list::CrateList::exists(reg)
}

/// Renders what changes with `sources` (a crate without versions loses its pages).
pub fn prepare(reg: &Registry, sources: Vec<CrateSource>) -> Result<Prepared<'_>> {
    let store = &reg.store;
    let (templates, state) = rayon::join(
        || super::templates(reg),
        || -> Result<_> {
            let list = crate_list::CrateList::open(reg)?;
            let recent: Vec<Release> = read_json(reg, RECENT_KEY)?;
            Ok((list, recent))
        },
    );
    let (templates, (mut list, mut recent)) = (templates?, state?);
    let site = super::site_info(reg);
    let rendered: Vec<crate_pages::Rendered> = sources
        .into_par_iter()
        .map(|source| crate_pages::render_crate(store, &templates, &site, source))
        .collect::<Result<_>>()?;
    let mut batch = store.batch().named("site").unsynced().skip_unchanged();
    let mut completed_meta = Vec::new();
    for r in rendered {
        recent.retain(|old| !old.name.eq_ignore_ascii_case(&r.name));
        recent.extend(r.releases);
        crate_pages::stage(&mut batch, r.pages);
        for key in &r.absent {
            batch.remove(Area::Public, key);
        }
        completed_meta.extend(r.meta_bytes.map(|bytes| (r.name.clone(), bytes)));
        list.set(reg, &r.name.to_ascii_lowercase(), r.summary)?;
    }
    super::write_shared(reg, &templates, &site, &mut list, recent, &mut batch, false)?;
    Ok(Prepared {
        reg,
        batch,
        completed_meta,
    })
}

impl Prepared<'_> {
    /// Stores the metadata rendering completed, then moves the pages into place.
    pub fn commit(self) -> Result<()> {
        store_completed_meta(&self.reg.store, &self.completed_meta)?;
        self.batch.commit()
    }
}

/// Metadata that rendering completed from crate files is source data, not derived: synced, in
/// a batch of its own, before any page (rare after the first build: a yank or a removal
/// changed the version shown).
pub(super) fn store_completed_meta(store: &Store, completed: &[(String, Vec<u8>)]) -> Result<()> {
    let mut meta = store.batch().named("site-meta");
    for (name, bytes) in completed {
        meta.put(Area::State, &meta_store::key(name), bytes)?;
    }
    meta.commit().context("failed to store crate metadata")
}
