//! What the templates see: plain, serialisable view models built from the index and the crate
//! metadata store. No I/O and no HTML here; escaping is the templates' (autoescape) job.

use serde::{Deserialize, Serialize};

/// Facts about the registry every page shows (the setup snippet, links home).
#[derive(Debug, Clone, Serialize)]
pub struct SiteInfo {
    /// Registry name as users write it in `registry = "..."`.
    pub name: String,
    /// Base URL of `public/` (no trailing slash).
    pub url: String,
    /// `sparse+.../index/`.
    pub sparse_url: String,
    /// Whether every request needs a token (the snippet then shows `cargo login`).
    pub auth_required: bool,
    /// The mirror's sparse URL and the source it replaces, when the tree has a mirror.
    pub mirror: Option<MirrorInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MirrorInfo {
    pub sparse_url: String,
    /// The cargo source it stands in for (`crates-io` by default).
    pub replaces: String,
    /// The `.cargo/config.toml` lines that make cargo use it.
    pub snippet: String,
}

/// One crate in lists (home page, search).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrateSummary {
    pub name: String,
    /// Newest non-yanked version (newest version when all are yanked).
    pub version: String,
    pub description: Option<String>,
    pub keywords: Vec<String>,
    /// Publish time of that version (RFC 3339), when known.
    pub updated: Option<String>,
    /// The keys of the crate's pages besides `c/NAME.html` (all versions, all features, the
    /// whole README), so that a change removes only pages that exist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<String>,
}

/// One release, for "recent releases" and the Atom feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub name: String,
    pub version: String,
    pub pubtime: String,
    pub description: Option<String>,
    /// Yanked since its release (the lists keep it, marked, as crates.io's do).
    #[serde(default)]
    pub yanked: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct HomePage {
    pub site: SiteInfo,
    /// Newest first, at most a few dozen.
    pub recent: Vec<Release>,
    /// Every crate, sorted by name, when there are few enough to list on one page (else empty:
    /// the list pages hold them).
    pub crates: Vec<CrateSummary>,
    /// How many crates there are in all.
    pub total: usize,
    /// The first letters, each linking to its first list page (`all/LETTER.html`).
    pub letters: Vec<LetterLink>,
}

/// A first letter and how many crates start with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LetterLink {
    pub letter: String,
    pub count: usize,
}

/// One page of the crate list (`all/ID.html`): up to a few hundred crates of one first letter.
/// It is written again only when its own crates change, or its letter's pages or the letters
/// do, so it shows no counts of other pages.
#[derive(Debug, Clone, Serialize)]
pub struct ListPage {
    pub site: SiteInfo,
    pub letter: String,
    /// Every first letter with crates (the first page of each is `all/LETTER.html`).
    pub letters: Vec<String>,
    /// The pages of this letter, in order.
    pub pages: Vec<PageLink>,
    /// This page's place among them, from 1.
    pub number: usize,
    /// Sorted by name.
    pub crates: Vec<CrateSummary>,
}

/// One list page of a letter: `all/ID.html`, labelled with the lowest name it may hold.
#[derive(Debug, Clone, Serialize)]
pub struct PageLink {
    pub id: String,
    pub label: String,
    pub number: usize,
    pub current: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionRow {
    pub version: String,
    pub yanked: bool,
    pub pubtime: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DependencyRow {
    /// The real package name.
    pub name: String,
    /// The name used in code, when renamed.
    pub rename: Option<String>,
    pub req: String,
    pub optional: bool,
    /// `cfg(...)` or a target triple, when platform-specific.
    pub target: Option<String>,
    /// Link to its page when it is a crate of this registry (a relative URL).
    pub link: Option<String>,
    /// The registry it comes from, when not this one (e.g. crates.io's index URL).
    pub registry: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Feature {
    pub name: String,
    pub enables: Vec<String>,
}

/// Versions a crate page lists; past this, `versions/NAME.html` lists them all.
pub const VERSIONS_SHOWN: usize = 50;
/// Features a crate page lists; past this, `features/NAME.html` lists them all.
pub const FEATURES_SHOWN: usize = 50;
/// Bytes of README HTML a crate page holds, about; past this, `readme/NAME.html` has it whole.
pub const README_SHOWN: usize = 24 * 1024;

/// One crate's page: its newest version in detail, and every version.
#[derive(Debug, Clone, Serialize)]
pub struct CratePage {
    pub site: SiteInfo,
    pub name: String,
    /// The version the page describes (newest non-yanked, else newest).
    pub version: String,
    pub description: Option<String>,
    pub license: Option<String>,
    pub repository: Option<String>,
    pub homepage: Option<String>,
    pub documentation: Option<String>,
    pub keywords: Vec<String>,
    pub categories: Vec<String>,
    pub rust_version: Option<String>,
    pub links: Option<String>,
    pub edition: Option<String>,
    /// Newest first; on the crate page only the newest [`VERSIONS_SHOWN`] (the versions page
    /// lists them all).
    pub versions: Vec<VersionRow>,
    /// How many versions the crate has.
    pub versions_total: usize,
    pub normal_deps: Vec<DependencyRow>,
    pub build_deps: Vec<DependencyRow>,
    pub dev_deps: Vec<DependencyRow>,
    /// `default` first, then by name; on the crate page only the first [`FEATURES_SHOWN`] (the
    /// features page lists them all).
    pub features: Vec<Feature>,
    /// How many features the crate has.
    pub features_total: usize,
    /// The README rendered and sanitised (safe to insert unescaped), when the crate has one; on
    /// the crate page only its beginning when it is longer than [`README_SHOWN`] (see
    /// `readme_cut`; `readme/NAME.html` shows it whole).
    pub readme_html: Option<String>,
    /// Whether `readme_html` is only the README's beginning.
    pub readme_cut: bool,
    /// The whole README when `readme_html` had to be cut (for the README's own page).
    #[serde(skip)]
    pub readme_whole: Option<String>,
}
