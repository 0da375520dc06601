//! The site update of one change, in two steps: [`prepare`] renders every file the change
//! affects (the crates' pages, their list pages and search parts, home, feed, search manifest)
//! into temporary files and touches nothing else, so it can run on another thread while the
//! change itself is made durable, from the crates' new index files and metadata held in memory
//! ([`alongside`]); [`Prepared::commit`] moves the files into place once the change has landed.
//! [`update`] does both after a change, from what is stored.

use super::crate_pages::{self, CrateSource};
use super::{after_change, build_all, crate_list, enabled, meta_store};
use crate::registry::{Registry, keys};
use crate::storage::{Area, Batch, Store};
use anyhow::{Context, Result};
use rayon::prelude::*;

/// Rewrites the pages of the crates named (a page disappears with its last version), the
/// home page, the search index and the feed.
pub fn update(reg: &Registry, changed: &[String]) -> Result<()> {
    if !enabled(reg) {
        return forget_state(reg);
    }
    // The site's own state is written without a sync: after a crash it may be damaged, and
    // then the whole site is rebuilt from the index and the metadata store.
    let incremental = || -> Result<()> {
        if !possible(reg) {
            return build_all(reg).map(drop);
        }
        let sources = changed
            .iter()
            .map(|name| CrateSource::load(&reg.store, &keys::index(name)?, name))
            .collect::<Result<Vec<_>>>()?;
        prepare(reg, sources)?.commit()
    };
    incremental()
        .or_else(|_| build_all(reg).map(drop))
        .context("failed to update the site (run `ktra site` to rebuild it)")
}

/// Makes a change and updates the site for it. `visible` makes the change visible to cargo
/// (crate files, then index files), `finish` completes it (the git index, the journal's end);
/// `sources` are the changed crates' new index files and metadata. The pages are rendered on
/// another thread while `visible` runs, and moved into place once it has succeeded, while
/// `finish` runs: the site shows a version once the sparse index does. A failure of the site
/// is a warning (the change is in); a failure of `visible` discards the rendered pages.
pub fn alongside<T>(
    reg: &Registry,
    sources: Vec<CrateSource>,
    printer: crate::printer::Printer,
    visible: impl FnOnce() -> Result<()>,
    finish: impl FnOnce() -> Result<T>,
) -> Result<T> {
    if !enabled(reg) {
        visible()?;
        let finished = finish()?;
        if let Err(e) = forget_state(reg) {
            printer.warn(format!("{e:#}"));
        }
        return Ok(finished);
    }
    let names: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
    if !possible(reg) {
        visible()?;
        let finished = finish()?;
        after_change(reg, &names, printer);
        return Ok(finished);
    }
    std::thread::scope(|scope| {
        let (go, wait) = std::sync::mpsc::channel::<bool>();
        let site = scope.spawn(move || -> Result<()> {
            let prepared = prepare(reg, sources);
            // Dropped unused (its temporary files with it) when the change did not land.
            if wait.recv().unwrap_or(false) {
                prepared?.commit()?;
            }
            Ok(())
        });
        let shown = visible();
        // The receiver lives until the thread ends: a failed send means it has ended.
        let _ = go.send(shown.is_ok());
        let finished = shown.and_then(|()| finish());
        let site = site.join();
        let finished = finished?;
        if !matches!(site, Ok(Ok(()))) {
            // Not rendered (a damaged site state, say) or not moved into place: once more
            // from what landed, with the full rebuild as the last resort.
            after_change(reg, &names, printer);
        }
        Ok(finished)
    })
}

/// A change made while the site is off leaves it behind: its state goes, so that the first
/// change after the site is turned on again builds all of it.
fn forget_state(reg: &Registry) -> Result<()> {
    reg.store.remove(Area::State, crate_list::STATE)
}

/// A site update rendered and waiting for its change to land.
struct Prepared<'a> {
    reg: &'a Registry,
    batch: Batch<'a>,
    /// Metadata that rendering completed from crate files: (crate name, bytes).
    completed_meta: Vec<(String, Vec<u8>)>,
}

/// Whether the registry has a site that a change can update (else [`super::build_all`] makes
/// one: a registry from before the site, or from before its list was kept in pages).
fn possible(reg: &Registry) -> bool {
    crate_list::CrateList::exists(reg)
}

/// Renders what changes with `sources` (a crate without versions loses its pages).
fn prepare(reg: &Registry, sources: Vec<CrateSource>) -> Result<Prepared<'_>> {
    let store = &reg.store;
    let (templates, list) = rayon::join(
        || super::templates(reg),
        || crate_list::CrateList::open(reg),
    );
    let (templates, mut list) = (templates?, list?);
    let mut recent = list.recent.clone();
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
        completed_meta.extend(r.meta_bytes.map(|bytes| (r.name.clone(), bytes)));
        let old = list.set(reg, &r.name.to_ascii_lowercase(), r.summary)?;
        for key in crate_pages::gone(&r.absent, old.as_ref()) {
            batch.remove(Area::Public, key);
        }
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
    fn commit(self) -> Result<()> {
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
