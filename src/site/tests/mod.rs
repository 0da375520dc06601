//! Rendering tests: fixtures shared by the files below, which each cover one output.

mod escape;
mod feed;
mod links;
mod overrides;
mod pages;
mod readme;
mod search;

use super::view::*;

pub fn site() -> SiteInfo {
    SiteInfo {
        name: "acme".into(),
        url: "https://crates.acme.test/reg".into(),
        sparse_url: "sparse+https://crates.acme.test/reg/index/".into(),
        auth_required: false,
        mirror: None,
    }
}

pub fn summary(name: &str, version: &str, description: &str, keywords: &[&str]) -> CrateSummary {
    CrateSummary {
        name: name.into(),
        version: version.into(),
        description: (!description.is_empty()).then(|| description.into()),
        keywords: keywords.iter().map(|k| k.to_string()).collect(),
        updated: Some("2025-01-02T03:04:05Z".into()),
        pages: Vec::new(),
    }
}

pub fn release(name: &str, version: &str, pubtime: &str) -> Release {
    Release {
        name: name.into(),
        version: version.into(),
        pubtime: pubtime.into(),
        description: Some(format!("{name} does things")),
        yanked: false,
    }
}

pub fn dep(name: &str, req: &str) -> DependencyRow {
    DependencyRow {
        name: name.into(),
        rename: None,
        req: req.into(),
        optional: false,
        target: None,
        link: None,
        registry: None,
    }
}

/// A typical crate: `versions` versions (the third yanked), a few dependencies and features.
pub fn crate_page(name: &str, versions: usize) -> CratePage {
    let versions = (0..versions)
        .rev()
        .map(|i| VersionRow {
            version: format!("1.{}.{}", i / 10, i % 10),
            yanked: i == 2,
            pubtime: Some(format!(
                "2024-{:02}-{:02}T10:00:00Z",
                i % 12 + 1,
                i % 28 + 1
            )),
        })
        .collect::<Vec<_>>();
    let mut serde = dep("serde", "^1.0");
    serde.optional = true;
    let mut local = dep("acme-core", "^0.3");
    local.link = Some("acme-core.html".into());
    let mut win = dep("windows-sys", "^0.59");
    win.target = Some("cfg(windows)".into());
    win.rename = Some("winsys".into());
    win.registry = Some("https://github.com/rust-lang/crates.io-index".into());
    CratePage {
        versions_total: versions.len(),
        features_total: 3,
        site: site(),
        name: name.into(),
        version: versions
            .first()
            .map(|v| v.version.clone())
            .unwrap_or_default(),
        description: Some("Parses and writes widgets for the acme toolchain.".into()),
        license: Some("MIT OR Apache-2.0".into()),
        repository: Some("https://git.acme.test/acme/widgets".into()),
        homepage: None,
        documentation: Some("https://docs.acme.test/widgets".into()),
        keywords: vec!["widget".into(), "parser".into()],
        categories: vec!["parsing".into()],
        rust_version: Some("1.80".into()),
        links: None,
        edition: Some("2021".into()),
        versions,
        normal_deps: vec![serde, local, win],
        build_deps: vec![dep("cc", "^1")],
        dev_deps: vec![dep("proptest", "^1")],
        features: vec![
            Feature {
                name: "default".into(),
                enables: vec!["std".into()],
            },
            Feature {
                name: "std".into(),
                enables: vec![],
            },
            Feature {
                name: "serde".into(),
                enables: vec!["dep:serde".into()],
            },
        ],
        readme_html: Some("<h1 id=\"user-content-widgets\">Widgets</h1>\n<p>Hi.</p>\n".into()),
        readme_cut: false,
        readme_whole: None,
    }
}

pub fn home(crates: Vec<CrateSummary>, recent: Vec<Release>) -> HomePage {
    HomePage {
        site: site(),
        recent,
        total: crates.len(),
        letters: Vec::new(),
        crates,
    }
}
