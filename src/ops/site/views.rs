//! Turning a crate's index file and stored metadata into the site's view models. Pure.

use super::meta_store::CrateMeta;
use crate::index::file::IndexFile;
use crate::index::{DependencyKind, IndexPackage};
use crate::site::view::{
    CratePage, CrateSummary, DependencyRow, FEATURES_SHOWN, Feature, README_SHOWN, Release,
    SiteInfo, VERSIONS_SHOWN, VersionRow,
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
        pages: Vec::new(),
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
    let default = features.remove_entry("default");
    let features: Vec<Feature> = default
        .into_iter()
        .chain(features)
        .map(|(name, enables)| Feature { name, enables })
        .collect();
    let readme = meta.readme_of(&e.vers).flatten().map(|r| {
        let dir = r.path.rsplit_once('/').map_or("", |(d, _)| d);
        let repo = m.repository.as_deref();
        crate::site::render_readme_within(&r.text, r.is_markdown(), repo, dir, README_SHOWN)
    });
    let (readme_html, readme_whole) = match readme {
        Some(r) => (Some(r.shown), r.whole),
        None => (None, None),
    };
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
        versions_total: entries.len(),
        features_total: features.len(),
        features,
        readme_html,
        readme_cut: readme_whole.is_some(),
        readme_whole,
    })
}

/// A crate's page as shown, and the pages that hold what it had to leave out.
pub struct CratePages {
    /// Its lists cut to [`VERSIONS_SHOWN`] and [`FEATURES_SHOWN`], its README to
    /// [`README_SHOWN`].
    pub shown: CratePage,
    /// Every version, when the page shows only some.
    pub versions: Option<CratePage>,
    /// Every feature, when the page shows only some.
    pub features: Option<CratePage>,
    /// The whole README, when the page shows only its beginning.
    pub readme: Option<CratePage>,
}

pub fn split_pages(mut page: CratePage) -> CratePages {
    let readme_whole = page.readme_whole.take();
    let list_page = |p: &CratePage| CratePage {
        readme_html: None,
        ..p.clone()
    };
    let versions = (page.versions.len() > VERSIONS_SHOWN).then(|| list_page(&page));
    let features = (page.features.len() > FEATURES_SHOWN).then(|| list_page(&page));
    let readme = readme_whole.map(|whole| CratePage {
        readme_html: Some(whole),
        readme_cut: false,
        versions: Vec::new(),
        features: Vec::new(),
        ..list_page(&page)
    });
    page.versions.truncate(VERSIONS_SHOWN);
    page.features.truncate(FEATURES_SHOWN);
    CratePages {
        shown: page,
        versions,
        features,
        readme,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_file(versions: usize, features: usize) -> IndexFile {
        let mut file = IndexFile::default();
        let feats: BTreeMap<String, Vec<String>> = (0..features)
            .map(|i| (format!("f{i:04}"), vec![]))
            .chain([("default".to_owned(), vec!["f0001".to_owned()])])
            .collect();
        for i in 0..versions {
            let line = serde_json::json!({
                "name": "many", "vers": format!("0.{i}.0"), "deps": [], "cksum": "00",
                "features": feats, "yanked": false,
            });
            file.push(line.to_string()).unwrap();
        }
        file
    }

    #[test]
    fn long_lists_are_cut_and_get_pages_of_their_own() {
        let site = crate::site::view::SiteInfo {
            name: "r".into(),
            url: "http://127.0.0.1:1".into(),
            sparse_url: "sparse+http://127.0.0.1:1/index/".into(),
            auth_required: false,
            mirror: None,
        };
        let file = index_file(VERSIONS_SHOWN + 5, FEATURES_SHOWN + 10);
        let page = crate_page(&site, &entries(&file), &CrateMeta::default()).unwrap();
        assert_eq!(page.features[0].name, "default");
        let CratePages {
            shown,
            versions,
            features,
            readme,
        } = split_pages(page);
        assert!(readme.is_none() && !shown.readme_cut);
        assert_eq!(shown.versions.len(), VERSIONS_SHOWN);
        assert_eq!(shown.versions_total, VERSIONS_SHOWN + 5);
        assert_eq!(
            shown.versions[0].version,
            format!("0.{}.0", VERSIONS_SHOWN + 4)
        );
        assert_eq!(shown.features.len(), FEATURES_SHOWN);
        assert_eq!(shown.features_total, FEATURES_SHOWN + 11);
        assert_eq!(versions.unwrap().versions.len(), VERSIONS_SHOWN + 5);
        assert_eq!(features.unwrap().features.len(), FEATURES_SHOWN + 11);

        let file = index_file(VERSIONS_SHOWN, FEATURES_SHOWN - 1);
        let page = crate_page(&site, &entries(&file), &CrateMeta::default()).unwrap();
        let CratePages {
            shown,
            versions,
            features,
            ..
        } = split_pages(page);
        assert!(versions.is_none() && features.is_none());
        assert_eq!(shown.versions.len(), VERSIONS_SHOWN);
    }
}
