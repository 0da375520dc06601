//! A crate's own pages: `c/NAME.html`, and for crates with more versions or features than the
//! page lists, or a longer README than it holds, `versions/NAME.html`, `features/NAME.html`
//! and `readme/NAME.html` with all of it.

use super::meta_store::CrateMeta;
use super::views;
use crate::index::IndexPackage;
use crate::site::Templates;
use crate::site::view::SiteInfo;
use anyhow::Result;

pub fn page_key(name: &str) -> String {
    format!("c/{name}.html")
}

fn versions_key(name: &str) -> String {
    format!("versions/{name}.html")
}

fn features_key(name: &str) -> String {
    format!("features/{name}.html")
}

fn readme_key(name: &str) -> String {
    format!("readme/{name}.html")
}

/// The folders of crate pages, for a full build's clean-up.
pub const DIRS: [&str; 4] = ["c", "versions", "features", "readme"];

/// A crate's pages, rendered.
pub struct CrateFiles {
    /// (key, HTML) of each page the crate has.
    pub write: Vec<(String, Vec<u8>)>,
    /// Keys of the pages it does not have (all of them when no version is left).
    pub absent: Vec<String>,
}

pub fn render(
    templates: &Templates,
    site: &SiteInfo,
    name: &str,
    entries: &[(semver::Version, IndexPackage)],
    meta: &CrateMeta,
) -> Result<CrateFiles> {
    let Some(page) = views::crate_page(site, entries, meta) else {
        let absent = vec![
            page_key(name),
            versions_key(name),
            features_key(name),
            readme_key(name),
        ];
        return Ok(CrateFiles {
            write: Vec::new(),
            absent,
        });
    };
    let name = page.name.clone();
    let pages = views::split_pages(page);
    let mut files = CrateFiles {
        write: vec![(
            page_key(&name),
            templates.crate_page(&pages.shown)?.into_bytes(),
        )],
        absent: Vec::new(),
    };
    let others = [
        (
            versions_key(&name),
            pages.versions,
            Templates::versions_page as Render,
        ),
        (
            features_key(&name),
            pages.features,
            Templates::features_page,
        ),
        (readme_key(&name), pages.readme, Templates::readme_page),
    ];
    for (key, page, render) in others {
        match page {
            Some(p) => files.write.push((key, render(templates, &p)?.into_bytes())),
            None => files.absent.push(key),
        }
    }
    Ok(files)
}

type Render = fn(&Templates, &crate::site::view::CratePage) -> Result<String>;
