//! A crate's own pages: `c/NAME.html`, and for crates with more versions or features than the
//! page lists, or a longer README than it holds, `versions/NAME.html`, `features/NAME.html`
//! and `readme/NAME.html` with all of it.

use super::meta_store::{self, CrateMeta};
use super::views;
use crate::index::{IndexFile, IndexPackage};
use crate::site::Templates;
use crate::site::view::{CrateSummary, Release, SiteInfo};
use crate::storage::{Area, Store};
use anyhow::{Context, Result};
use tempfile::TempPath;

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

/// Stages a crate's pages in `batch` (a page that holds what was rendered is kept).
pub fn stage(batch: &mut crate::storage::Batch<'_>, pages: Vec<(String, Option<TempPath>)>) {
    for (key, tmp) in pages {
        match tmp {
            Some(tmp) => batch.put_file(Area::Public, &key, tmp),
            None => batch.keep(Area::Public, &key),
        }
    }
}

/// One crate, rendered from its index file and metadata.
pub struct Rendered {
    /// As the index spells it (as asked for, when no version is left).
    pub name: String,
    /// Its pages, already in temporary files (a bulk change holds no pages in memory); `None`
    /// for a page that already holds what was rendered.
    pub pages: Vec<(String, Option<TempPath>)>,
    /// Keys of the pages it does not have.
    pub absent: Vec<String>,
    pub summary: Option<CrateSummary>,
    pub releases: Vec<Release>,
    /// Its metadata, when reading its crate file completed it (to be stored).
    pub meta_bytes: Option<Vec<u8>>,
}

/// What a crate's pages are made from: its index file and its metadata.
#[derive(Clone)]
pub struct CrateSource {
    /// As the index spells it (as asked for, when no version is left).
    pub name: String,
    pub file: IndexFile,
    pub meta: CrateMeta,
    /// On object storage, the ETag of the index file `file` is (`None`: unknown, or local).
    pub tag: Option<String>,
}

impl CrateSource {
    /// The crate whose index file is `index_key`, as stored (`name` when it has no version
    /// left).
    pub fn load(store: &Store, index_key: &str, name: &str) -> Result<Self> {
        let bytes = store.read(Area::Public, index_key)?.unwrap_or_default();
        Self::from_bytes(store, name, &bytes, None)
    }

    /// A source from an index file's bytes as read (or as written) and the metadata stored.
    pub fn from_bytes(
        store: &Store,
        name: &str,
        bytes: &[u8],
        tag: Option<String>,
    ) -> Result<Self> {
        let file = IndexFile::parse(bytes).unwrap_or_default();
        let name = match file.lines.first() {
            Some(line) => serde_json::from_str::<IndexPackage>(&line.raw)
                .map_or_else(|_| name.to_owned(), |e| e.name),
            None => name.to_owned(),
        };
        let meta = meta_store::load(store, &name)?;
        Ok(Self {
            name,
            file,
            meta,
            tag,
        })
    }
}

/// The keys among `absent` of pages the crate had (by its summary before the change).
pub fn gone<'a>(
    absent: &'a [String],
    old: Option<&'a CrateSummary>,
) -> impl Iterator<Item = &'a String> + 'a {
    absent
        .iter()
        .filter(move |key| old.is_some_and(|o| o.pages.contains(key) || **key == page_key(&o.name)))
}

/// Renders one crate's pages into temporary files.
pub fn render_crate(
    store: &Store,
    templates: &Templates,
    site: &SiteInfo,
    source: CrateSource,
) -> Result<Rendered> {
    let CrateSource {
        name,
        file,
        mut meta,
        ..
    } = source;
    let entries = views::entries(&file);
    let name = entries
        .first()
        .map_or(name.as_str(), |(_, e)| e.name.as_str());
    // The version shown may be one whose README is not stored (after a yank or a removal, or
    // for crates added before the site existed).
    let meta_bytes =
        meta_store::fill_featured(store, &entries, &mut meta)?.then(|| meta.to_bytes());
    let files = render(templates, site, name, &entries, &meta)?;
    let mut pages = Vec::with_capacity(files.write.len());
    for (key, html) in files.write {
        if store.holds(Area::Public, &key, &html) {
            pages.push((key, None));
            continue;
        }
        let mut tmp = store.temp_file()?;
        std::io::Write::write_all(&mut tmp, &html)
            .with_context(|| format!("failed to write a temporary file for `{key}`"))?;
        pages.push((key, Some(tmp.into_temp_path())));
    }
    let mut summary = views::summary(&entries, &meta);
    if let Some(s) = &mut summary {
        s.pages = pages
            .iter()
            .map(|(key, _)| key.clone())
            .filter(|key| *key != page_key(name))
            .collect();
    }
    Ok(Rendered {
        name: name.to_owned(),
        pages,
        absent: files.absent,
        summary,
        releases: views::releases(&entries, &meta),
        meta_bytes,
    })
}

/// A crate's pages, rendered.
pub struct CrateFiles {
    /// (key, HTML) of each page the crate has.
    pub write: Vec<(String, Vec<u8>)>,
    /// Keys of the pages it does not have (all of them when no version is left).
    pub absent: Vec<String>,
}

fn render(
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
