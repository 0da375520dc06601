//! Writing the browsable site into `public/`: after every change only the pages it affects
//! (the crate's page, the home page, the search index, the feed), and all of it with
//! `ktra site`. Pages are derived data: a crash leaves at worst a stale page, which the next
//! change or `ktra site` rewrites. With `[site] enabled = false` none of it is written.

pub mod crate_list;
mod crate_pages;
mod full;
pub mod meta_store;
#[cfg(feature = "aws")]
pub mod remote;
mod update;
mod views;

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // reason: tests build their own trees.
mod crate_list_tests;

pub use crate_pages::CrateSource;
pub use full::{SiteReport, build_all, remove_all};
pub use update::{alongside, update};

use crate::registry::Registry;
use crate::site::Templates;
use crate::site::view::{HomePage, MirrorInfo, Release, SiteInfo};
use crate::storage::{Area, Batch};
use anyhow::{Context, Result};

/// Releases shown on the home page and in the feed.
const RECENT: usize = 50;

pub fn site_info(reg: &Registry) -> SiteInfo {
    site_info_with(reg, crate::mirror::layout::exists(reg))
}

/// [`site_info`] where whether the registry keeps a mirror is known.
pub fn site_info_with(reg: &Registry, mirror: bool) -> SiteInfo {
    let mirror = mirror.then(|| MirrorInfo {
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
    }
}

// reason: the templates folder beside ktra.toml (settings), not registry data.
#[allow(clippy::disallowed_methods)]
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

/// Whether the registry keeps a site (`[site] enabled` in `ktra.toml`, on unless turned off).
pub fn enabled(reg: &Registry) -> bool {
    reg.config.site.enabled
}

/// [`build_all`] after a change that has landed, failures as warnings.
pub fn rebuild_after_change(reg: &Registry, printer: crate::printer::Printer) {
    if !enabled(reg) {
        return;
    }
    if let Err(e) = build_all(reg) {
        printer.warn(format!("failed to rebuild the site: {e:#}"));
    }
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

/// The pages every change touches: the changed crates' list pages and search parts, home,
/// search manifest, feed; the assets and 404 page when missing or `with_assets`.
fn write_shared(
    reg: &Registry,
    templates: &Templates,
    site: &SiteInfo,
    list: &mut crate_list::CrateList,
    mut recent: Vec<Release>,
    batch: &mut Batch<'_>,
    with_assets: bool,
) -> Result<()> {
    sort_recent(&mut recent);
    recent.truncate(RECENT);
    list.recent = recent.clone();
    list.mirror = site.mirror.is_some();
    let crates = list.home_crates(reg)?;
    list.write(reg, templates, site, batch)?;
    batch.put(Area::Public, "search-index.json", &list.search_manifest())?;
    batch.put(
        Area::Public,
        "feed.xml",
        templates.feed(site, &recent)?.as_bytes(),
    )?;
    let total = list.total();
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
    // On object storage only a full build writes them (a change would pay a request to look).
    if with_assets || (!reg.store.is_remote() && !reg.store.exists(Area::Public, "404.html")) {
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

/// [`read_json`] and, on object storage, the ETag of what was read.
pub(super) fn read_json_tagged<T: serde::de::DeserializeOwned + Default>(
    reg: &Registry,
    key: &str,
) -> Result<(T, Option<String>)> {
    #[cfg(feature = "aws")]
    if let Some(b) = reg.store.bucket() {
        return match b.area(Area::State).get(key)? {
            None => Ok((T::default(), None)),
            Some(found) => serde_json::from_slice(&found.bytes)
                .map(|v| (v, Some(found.tag)))
                .with_context(|| format!("`{key}` in the state location is damaged")),
        };
    }
    read_json(reg, key).map(|v| (v, None))
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
