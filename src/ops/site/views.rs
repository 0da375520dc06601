//! Turning a crate's index file and stored metadata into the site's view models. Pure.

use super::meta_store::CrateMeta;
use crate::index::file::IndexFile;
use crate::index::{DependencyKind, IndexPackage};
use crate::site::view::{
    CratePage, CrateSummary, DependencyRow, Feature, Release, SiteInfo, VersionRow,
};
use std::collections::BTreeMap;

/// The lines of an index file as entries, newest version first (unreadable lines skipped).
pub fn entries(file: &IndexFile) -> Vec<(semver::Version, IndexPackage)> {
    let mut out: Vec<_> = file
        .lines
        .iter()
        .filter_map(|l| {
            serde_json::from_str(&l.raw)
                .ok()
                .map(|e| (l.version.clone(), e))
        })
        .collect();
    out.sort_by(|a, b| b.0.cmp(&a.0));
    out
}

/// The version a page describes: the newest not yanked, else the newest.
pub(super) fn featured(entries: &[(semver::Version, IndexPackage)]) -> Option<&IndexPackage> {
    entries
        .iter()
        .find(|(_, e)| !e.yanked)
        .or(entries.first())
        .map(|(_, e)| e)
}

pub fn summary(
    entries: &[(semver::Version, IndexPackage)],
    meta: &CrateMeta,
) -> Option<CrateSummary> {
    let e = featured(entries)?;
    let m = meta.versions.get(&e.vers).cloned().unwrap_or_default();
    Some(CrateSummary {
        name: e.name.clone(),
        version: e.vers.clone(),
        description: m.description,
        keywords: m.keywords,
        updated: e.pubtime.clone(),
    })
}

/// Every release of a crate with a publish time.
pub fn releases(entries: &[(semver::Version, IndexPackage)], meta: &CrateMeta) -> Vec<Release> {
    entries
        .iter()
        .filter_map(|(_, e)| {
            Some(Release {
                name: e.name.clone(),
                version: e.vers.clone(),
                pubtime: e.pubtime.clone()?,
                description: meta
                    .versions
                    .get(&e.vers)
                    .and_then(|m| m.description.clone()),
                yanked: e.yanked,
            })
        })
        .collect()
}

pub fn crate_page(
    site: &SiteInfo,
    entries: &[(semver::Version, IndexPackage)],
    meta: &CrateMeta,
) -> Option<CratePage> {
    let e = featured(entries)?;
    let m = meta.versions.get(&e.vers).cloned().unwrap_or_default();
    let mut deps: BTreeMap<DependencyKind, Vec<DependencyRow>> = BTreeMap::new();
    for d in &e.deps {
        let name = d.package_name().to_owned();
        deps.entry(d.kind.unwrap_or(DependencyKind::Normal))
            .or_default()
            .push(DependencyRow {
                link: d.registry.is_none().then(|| format!("{name}.html")),
                rename: d.package.as_ref().map(|_| d.name.clone()),
                name,
                req: d.req.clone(),
                optional: d.optional,
                target: d.target.clone(),
                registry: d.registry.clone(),
            });
    }
    let mut features: BTreeMap<String, Vec<String>> = e.features.clone();
    features.extend(e.features2.clone().unwrap_or_default());
    let readme_html = meta.readme_of(&e.vers).flatten().map(|r| {
        let dir = r.path.rsplit_once('/').map_or("", |(d, _)| d);
        crate::site::render_readme_in(&r.text, r.is_markdown(), m.repository.as_deref(), dir)
    });
    let mut take = |k| deps.remove(&k).unwrap_or_default();
    Some(CratePage {
        site: site.clone(),
        name: e.name.clone(),
        version: e.vers.clone(),
        normal_deps: take(DependencyKind::Normal),
        build_deps: take(DependencyKind::Build),
        dev_deps: take(DependencyKind::Dev),
        description: m.description,
        license: m.license,
        repository: m.repository,
        homepage: m.homepage,
        documentation: m.documentation,
        keywords: m.keywords,
        categories: m.categories,
        rust_version: e.rust_version.clone(),
        links: e.links.clone(),
        edition: m.edition,
        versions: entries
            .iter()
            .map(|(_, v)| VersionRow {
                version: v.vers.clone(),
                yanked: v.yanked,
                pubtime: v.pubtime.clone(),
            })
            .collect(),
        features: features
            .into_iter()
            .map(|(name, enables)| Feature { name, enables })
            .collect(),
        readme_html,
    })
}
