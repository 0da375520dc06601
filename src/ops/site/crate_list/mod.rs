//! The list of every crate, in pages of bounded size (`site::list_layout`), so that a change
//! reads and writes only the page its crate is on, whatever the registry's size. Each page is
//! `state/site/list/ID.NONCE.json` (its summaries, under a new random name each time they
//! change, so that no name is ever reused while a slow writer may still remove it), `all/ID.html` (its
//! list page) and `search/ID.json` (its part of the search index); `state/site/state.json`
//! holds the layout (which names each page's summaries) and the recent releases, and
//! `search-index.json` names every search part. A change writes pages' new summaries under new
//! names, then the state that points at them, then removes the old ones: the state is the one
//! object that writers on object storage must update conditionally.

use crate::registry::Registry;
use crate::site::Templates;
use crate::site::list_layout::Layout;
use crate::site::view::{CrateSummary, LetterLink, ListPage, PageLink, Release, SiteInfo};
use crate::storage::{Area, Batch};
use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

mod upkeep;

pub const STATE: &str = "site/state.json";

type Summaries = BTreeMap<String, CrateSummary>;

/// What `STATE` holds.
#[derive(Default, Serialize, Deserialize)]
struct Stored {
    #[serde(flatten)]
    layout: Layout,
    #[serde(default)]
    recent: Vec<Release>,
    /// Every crate's summary while there are at most [`HOME_LIST`] (the home page lists them
    /// all), so that a change reads one page, not every page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    small: Option<Summaries>,
    /// Whether the home page shows a mirror (so that a change on object storage need not
    /// look for one).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    mirror: bool,
}

/// Up to this many crates, the home page lists them all; beyond, the list pages do, and a
/// change never rewrites a list of every crate.
pub const HOME_LIST: usize = 300;

fn summaries_key(id: &str, object: &str) -> String {
    format!("site/list/{id}.{object}.json")
}

/// A page's summaries are gone although the layout names them: on object storage another
/// writer replaced them since the layout was read (read it again); on the local tree, damage.
#[derive(Debug, thiserror::Error)]
#[error("the site's list page `{0}` is missing")]
pub struct PageGone(pub String);

pub fn list_page_key(id: &str) -> String {
    format!("all/{id}.html")
}

fn search_part_key(id: &str) -> String {
    format!("search/{id}.json")
}

pub struct CrateList {
    layout: Layout,
    /// The pages before this change, to find the pages whose links change.
    before: Layout,
    loaded: HashMap<String, Summaries>,
    /// Pages whose summaries changed.
    dirty: BTreeSet<String>,
    /// Pages to render again although their summaries did not change.
    shown: BTreeSet<String>,
    /// The recent releases, newest first.
    pub recent: Vec<Release>,
    recent_before: Vec<Release>,
    /// The state's ETag as read, on object storage (`None`: read from the local tree, or
    /// absent).
    pub tag: Option<String>,
    /// See [`Stored::small`].
    small: Option<Summaries>,
    /// See [`Stored::mirror`].
    pub mirror: bool,
}

impl CrateList {
    /// The stored state only; pages load when touched. A missing state is an empty list.
    pub fn open(reg: &Registry) -> Result<Self> {
        let (stored, tag): (Stored, _) = super::read_json_tagged(reg, STATE)?;
        if !stored.layout.is_well_formed() {
            bail!(
                "`{}` is damaged",
                reg.store.path(Area::State, STATE).display()
            );
        }
        Ok(Self {
            before: stored.layout.clone(),
            layout: stored.layout,
            loaded: HashMap::new(),
            dirty: BTreeSet::new(),
            shown: BTreeSet::new(),
            recent_before: stored.recent.clone(),
            recent: stored.recent,
            tag,
            small: stored.small,
            mirror: stored.mirror,
        })
    }

    /// Whether a state is stored (registries whose site predates it have none).
    pub fn exists(reg: &Registry) -> bool {
        reg.store.exists(Area::State, STATE)
    }

    /// Whether anything stored changes with this change.
    pub fn changed(&self) -> bool {
        !self.dirty.is_empty() || self.layout != self.before || self.recent != self.recent_before
    }

    /// Every page from a complete list (a full build), keeping the bounds of the stored layout
    /// when it is readable, so that the build writes what the changes wrote.
    pub fn from_all(reg: &Registry, all: Summaries) -> Self {
        let previous = super::read_json::<Stored>(reg, STATE)
            .map(|s| s.layout)
            .unwrap_or_default();
        let mut layout = if previous.is_well_formed() {
            let mut layout = previous.bounds_only();
            // The names of their stored summaries too, kept when those do not change.
            for (page, old) in layout.pages.iter_mut().zip(&previous.pages) {
                page.object.clone_from(&old.object);
            }
            layout
        } else {
            Layout::default()
        };
        let mut loaded: HashMap<String, Summaries> = layout
            .pages
            .iter()
            .map(|p| (p.id().to_owned(), Summaries::new()))
            .collect();
        for (lower, summary) in all {
            let i = layout.locate_or_add(&lower);
            let id = layout.pages[i].id().to_owned();
            loaded.entry(id).or_default().insert(lower, summary);
        }
        let mut list = Self {
            before: previous,
            dirty: layout.pages.iter().map(|p| p.id().to_owned()).collect(),
            shown: BTreeSet::new(),
            layout,
            loaded,
            recent: Vec::new(),
            recent_before: Vec::new(),
            tag: None,
            small: None,
            mirror: false,
        };
        for page in &mut list.layout.pages {
            page.count = list.loaded.get(page.id()).map_or(0, BTreeMap::len);
        }
        if list.total() <= HOME_LIST {
            list.small = Some(
                list.loaded
                    .values()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            );
        }
        list
    }

    /// The key of a page's stored summaries (`None` for a page not stored yet).
    fn stored_key(&self, id: &str) -> Option<String> {
        let page = &self.layout.pages[self.layout.index_of(id)?];
        (!page.object.is_empty()).then(|| summaries_key(id, &page.object))
    }

    fn page(&mut self, reg: &Registry, id: &str) -> Result<&mut Summaries> {
        if !self.loaded.contains_key(id) {
            let map: Summaries = match self.stored_key(id) {
                None => Summaries::new(),
                Some(key) => match reg.store.read(Area::State, &key)? {
                    None => return Err(PageGone(id.to_owned()).into()),
                    Some(bytes) => serde_json::from_slice(&bytes).map_err(|_| {
                        let path = reg.store.path(Area::State, &key);
                        anyhow::anyhow!("`{}` is damaged", path.display())
                    })?,
                },
            };
            let expected = self.layout.index_of(id).map(|i| self.layout.pages[i].count);
            if expected.is_some_and(|n| n != map.len()) {
                // The layout and the page disagree.
                let path = reg
                    .store
                    .path(Area::State, &self.stored_key(id).unwrap_or_default());
                bail!("`{}` is damaged", path.display());
            }
            self.loaded.insert(id.to_owned(), map);
        }
        Ok(self.loaded.get_mut(id).expect("loaded above"))
    }

    /// Sets (or with `None` removes) one crate's summary; the summary it had.
    pub fn set(
        &mut self,
        reg: &Registry,
        lower: &str,
        summary: Option<CrateSummary>,
    ) -> Result<Option<CrateSummary>> {
        let i = self.layout.locate_or_add(lower);
        let id = self.layout.pages[i].id().to_owned();
        let page = self.page(reg, &id)?;
        let old = match summary.clone() {
            Some(s) => page.insert(lower.to_owned(), s),
            None => page.remove(lower),
        };
        self.layout.pages[i].count = page.len();
        if let Some(small) = &mut self.small {
            match &summary {
                Some(s) => small.insert(lower.to_owned(), s.clone()),
                None => small.remove(lower),
            };
        }
        if old == summary {
            self.shown.insert(id);
        } else {
            self.dirty.insert(id);
        }
        Ok(old)
    }

    pub fn total(&self) -> usize {
        self.layout.total()
    }

    /// The letters with crates and how many each has.
    pub fn letters(&self) -> Vec<LetterLink> {
        let mut out: Vec<LetterLink> = Vec::new();
        for p in self.layout.pages.iter().filter(|p| p.count > 0) {
            match out.last_mut() {
                Some(l) if l.letter == p.letter => l.count += p.count,
                _ => out.push(LetterLink {
                    letter: p.letter.clone(),
                    count: p.count,
                }),
            }
        }
        out
    }

    /// Every crate's summary as the site last wrote it, sorted by name; `None` when the site
    /// keeps no list (a registry from before it, or whose site is turned off). For the API's
    /// search: it reads one file per list page instead of every index file.
    pub fn stored(reg: &Registry) -> Result<Option<Vec<CrateSummary>>> {
        if !super::enabled(reg) || !Self::exists(reg) {
            return Ok(None);
        }
        Self::open(reg)?.all(reg).map(Some)
    }

    /// What the home page lists: every crate while there are at most [`HOME_LIST`], else
    /// none. Kept in the state, so that only the first change after the list shrank to that
    /// size reads every page.
    pub fn home_crates(&mut self, reg: &Registry) -> Result<Vec<CrateSummary>> {
        if self.total() > HOME_LIST {
            self.small = None;
            return Ok(Vec::new());
        }
        let all = self.all(reg)?;
        self.small = Some(
            all.iter()
                .map(|s| (s.name.to_ascii_lowercase(), s.clone()))
                .collect(),
        );
        Ok(all)
    }

    /// Every summary, sorted by name (loads every page unless the state holds them all).
    pub fn all(&mut self, reg: &Registry) -> Result<Vec<CrateSummary>> {
        if let Some(small) = &self.small {
            return Ok(small.values().cloned().collect());
        }
        let ids: Vec<String> = self
            .layout
            .pages
            .iter()
            .map(|p| p.id().to_owned())
            .collect();
        let mut out = Vec::new();
        for id in ids {
            out.extend(self.page(reg, &id)?.values().cloned());
        }
        Ok(out)
    }

    /// `search-index.json`: the URL of every search part, with its hash so that a part is
    /// fetched again only when it changed.
    pub fn search_manifest(&self) -> Vec<u8> {
        let parts: Vec<String> = self
            .layout
            .pages
            .iter()
            .map(|p| format!("{}?h={}", search_part_key(p.id()), p.hash))
            .collect();
        let doc = serde_json::json!({ "v": 2, "parts": parts });
        serde_json::to_vec(&doc).expect("a list of strings serializes")
    }

    /// Cuts and drops pages as the change requires, then stages every page it touched (and
    /// the pages whose links changed with it), and the state: pages' summaries under new
    /// names, the state, the list pages and search parts, then the removal of the replaced
    /// summaries.
    pub fn write(
        &mut self,
        reg: &Registry,
        templates: &Templates,
        site: &SiteInfo,
        batch: &mut Batch<'_>,
    ) -> Result<()> {
        self.drop_empty_pages(reg, batch)?;
        self.split_full_pages();
        self.mark_pages_whose_links_changed(reg)?;
        let letters = self.layout.letters();
        let mut public = Vec::new();
        for id in self.dirty.union(&self.shown) {
            let Some(i) = self.layout.index_of(id) else {
                continue;
            };
            let crates: Vec<CrateSummary> = self.loaded[id].values().cloned().collect();
            let part = crate::site::search_index(&crates);
            self.layout.pages[i].hash = short_hash(&part);
            if self.dirty.contains(id) {
                let bytes = serde_json::to_vec(&self.loaded[id])?;
                match self.stored_key(id) {
                    // A full build that changes nothing replaces nothing.
                    Some(old) if reg.store.holds(Area::State, &old, &bytes) => {
                        batch.keep(Area::State, &old);
                    }
                    old => {
                        let object = nonce();
                        if let Some(old) = old {
                            batch.remove(Area::State, &old);
                        }
                        batch.put(Area::State, &summaries_key(id, &object), &bytes)?;
                        self.layout.pages[i].object = object;
                    }
                }
            }
            let page = self.list_page(site, &letters, i, crates);
            public.push((search_part_key(id), part));
            public.push((list_page_key(id), templates.list(&page)?.into_bytes()));
        }
        let stored = Stored {
            layout: self.layout.clone(),
            recent: self.recent.clone(),
            small: self.small.clone(),
            mirror: self.mirror,
        };
        batch.put(Area::State, STATE, &serde_json::to_vec(&stored)?)?;
        for (key, bytes) in public {
            batch.put(Area::Public, &key, &bytes)?;
        }
        Ok(())
    }

    fn list_page(
        &self,
        site: &SiteInfo,
        letters: &[String],
        i: usize,
        crates: Vec<CrateSummary>,
    ) -> ListPage {
        let letter = self.layout.pages[i].letter.clone();
        let range = self.layout.letter_range(&letter);
        let pages = self.layout.pages[range.clone()]
            .iter()
            .enumerate()
            .map(|(n, p)| PageLink {
                id: p.id().to_owned(),
                label: p.bound.clone().unwrap_or_else(|| letter.clone()),
                number: n + 1,
                current: range.start + n == i,
            })
            .collect();
        ListPage {
            site: site.clone(),
            letter,
            letters: letters.to_vec(),
            pages,
            number: i - range.start + 1,
            crates,
        }
    }
}

/// The first 8 hex digits of the SHA-256 of `bytes`.
fn short_hash(bytes: &[u8]) -> String {
    hex_prefix(bytes, 4)
}

/// A new name for a page's summaries: 16 random hex digits (the time, should the system have
/// no randomness).
fn nonce() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        bytes = (now.as_nanos() as u64).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_prefix(bytes: &[u8], n: usize) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    digest[..n].iter().map(|b| format!("{b:02x}")).collect()
}
