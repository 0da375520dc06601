//! Writing the browsable site into `public/`: after every change only the pages it affects
//! (the crate's page, the home page, the search index, the feed), and all of it with
//! `ktra site`. Pages are derived data: a crash leaves at worst a stale page, which the next
//! change or `ktra site` rewrites.

pub mod crate_list;
mod crate_pages;
mod full;
pub mod meta_store;
mod views;

#[cfg(test)]
mod crate_list_tests;

pub use full::{SiteReport, build_all};

use crate::registry::Registry;
use crate::site::Templates;
use crate::site::view::{HomePage, MirrorInfo, Release, SiteInfo};
use crate::storage::{Area, Batch};
use anyhow::{Context, Result};
use rayon::prelude::*;

/// Releases shown on the home page and in the feed.
const RECENT: usize = 50;
const RECENT_KEY: &str = "site/recent.json";

pub fn site_info(reg: &Registry) -> SiteInfo {
    let mirror = crate::mirror::layout::exists(reg).then(|| MirrorInfo {
        sparse_url: crate::mirror::layout::sparse_url(reg),
        replaces: reg
            .config
            .mirror
            .replaces
            .clone()
            .unwrap_or_else(|| "crates-io".into()),
        snippet: crate::mirror::sync::cargo_snippet(
            reg,
            reg.config.mirror.upstream.as_deref().unwrap_or(""),
        ),
    });
    SiteInfo {
        name: reg.config.name.clone(),
        url: reg.config.url.clone(),
        sparse_url: reg.sparse_url(),
        auth_required: reg.config.auth_required,
        mirror,
        generated: today(),
    }
}

/// Midnight UTC of today in RFC 3339: pages say the day they were made (the footer shows no
/// more), so rebuilding them the same day writes the same bytes.
fn today() -> String {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    format!("{}T00:00:00Z", &now[..10])
}

pub fn templates(reg: &Registry) -> Result<Templates> {
    let dir = reg.root().join("templates");
    Templates::load(dir.is_dir().then_some(dir.as_path()))
}

/// [`update`] after a change that has landed: a failure is a warning, not the change's error.
pub fn after_change(reg: &Registry, changed: &[String], printer: crate::printer::Printer) {
    if let Err(e) = update(reg, changed) {
        printer.warn(format!("{e:#}"));
    }
}

/// [`build_all`] after a change that has landed, failures as warnings.
pub fn rebuild_after_change(reg: &Registry, printer: crate::printer::Printer) {
    if let Err(e) = build_all(reg) {
        printer.warn(format!("failed to rebuild the site: {e:#}"));
    }
}

/// Rewrites the pages of the crates named (a page disappears with its last version), the
/// home page, the search index and the feed.
pub fn update(reg: &Registry, changed: &[String]) -> Result<()> {
    // The site's own state is written without a sync: after a crash it may be damaged, and
    // then the whole site is rebuilt from the index and the metadata store.
    update_inner(reg, changed)
        .or_else(|_| build_all(reg).map(drop))
        .context("failed to update the site (run `ktra site` to rebuild it)")
}

fn update_inner(reg: &Registry, changed: &[String]) -> Result<()> {
    let store = &reg.store;
    if !store.exists(Area::State, RECENT_KEY) || !crate_list::CrateList::exists(reg) {
        // No site yet (a registry made before it existed), or one from before the crate list
        // was kept in pages: build all of it once.
        return build_all(reg).map(drop);
    }
    let templates = templates(reg)?;
    let site = site_info(reg);
    let mut list = crate_list::CrateList::open(reg)?;
    let mut recent: Vec<Release> = read_json(reg, RECENT_KEY)?;
    let mut batch = store.batch().named("site").unsynced();
    let rendered: Vec<crate_pages::Rendered> = changed
        .par_iter()
        .map(|name| {
            let key = crate::registry::keys::index(name);
            crate_pages::render_crate(store, &templates, &site, &key, name)
        })
        .collect::<Result<_>>()?;
    store_completed_meta(store, &rendered)?;
    for r in rendered {
        recent.retain(|old| !old.name.eq_ignore_ascii_case(&r.name));
        recent.extend(r.releases);
        for (key, tmp) in r.pages {
            batch.put_file(Area::Public, &key, tmp);
        }
        for key in &r.absent {
            store.remove(Area::Public, key)?;
        }
        list.set(reg, &r.name.to_ascii_lowercase(), r.summary)?;
    }
    write_shared(reg, &templates, &site, &mut list, recent, &mut batch)?;
    batch.commit()
}

/// Metadata that rendering completed from crate files is source data, not derived: synced, in
/// a batch of its own, before any page (rare after the first build: a yank or a removal
/// changed the version shown).
fn store_completed_meta(
    store: &crate::storage::Store,
    rendered: &[crate_pages::Rendered],
) -> Result<()> {
    let mut meta = store.batch().named("site-meta");
    for r in rendered {
        if let Some(bytes) = &r.meta_bytes {
            meta.put(Area::State, &meta_store::key(&r.name), bytes)?;
        }
    }
    meta.commit().context("failed to store crate metadata")
}

/// Newest first. Releases of the same second (one `ktra add` of many files, an import, a
/// mirror sync) by name ignoring case, as in the list of crates, then newest version first: a
/// total order, so the list does not depend on the order in which the changes came, and
/// `ktra site` writes what the changes wrote.
fn sort_recent(recent: &mut [Release]) {
    let version = |r: &Release| semver::Version::parse(&r.version).ok();
    recent.sort_by(|a, b| {
        b.pubtime
            .cmp(&a.pubtime)
            .then_with(|| {
                a.name
                    .to_ascii_lowercase()
                    .cmp(&b.name.to_ascii_lowercase())
            })
            .then_with(|| version(b).cmp(&version(a)))
            .then_with(|| b.version.cmp(&a.version))
    });
}

/// Up to this many crates, the home page lists them all; beyond, the list pages do, and a
/// change never rewrites a list of every crate.
const HOME_LIST: usize = 300;

/// The pages every change touches: the changed crates' list pages and search parts, home,
/// search manifest, feed; the assets and 404 page when missing.
fn write_shared(
    reg: &Registry,
    templates: &Templates,
    site: &SiteInfo,
    list: &mut crate_list::CrateList,
    mut recent: Vec<Release>,
    batch: &mut Batch<'_>,
) -> Result<()> {
    sort_recent(&mut recent);
    recent.truncate(RECENT);
    batch.put(Area::State, RECENT_KEY, &serde_json::to_vec(&recent)?)?;
    list.write(reg, templates, site, batch)?;
    batch.put(Area::Public, "search-index.json", &list.search_manifest())?;
    batch.put(
        Area::Public,
        "feed.xml",
        templates.feed(site, &recent)?.as_bytes(),
    )?;
    let total = list.total();
    let crates = if total <= HOME_LIST {
        list.all(reg)?
    } else {
        Vec::new()
    };
    let home = HomePage {
        site: site.clone(),
        recent,
        crates,
        total,
        letters: list.letters(),
    };
    batch.put(
        Area::Public,
        "index.html",
        templates.home(&home)?.as_bytes(),
    )?;
    if !reg.store.exists(Area::Public, "404.html") {
        batch.put(
            Area::Public,
            "404.html",
            templates.not_found(site)?.as_bytes(),
        )?;
        for (key, bytes) in templates.assets() {
            batch.put(Area::Public, &key, &bytes)?;
        }
    }
    Ok(())
}

pub(super) fn read_json<T: serde::de::DeserializeOwned + Default>(
    reg: &Registry,
    key: &str,
) -> Result<T> {
    match reg.store.read(Area::State, key)? {
        // A damaged file (a crash: the site's state is not synced) makes `update` rebuild all.
        Some(bytes) => serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "`{}` is damaged",
                reg.store.path(Area::State, key).display()
            )
        }),
        None => Ok(T::default()),
    }
}
