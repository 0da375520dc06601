//! The list of every crate, in pages of bounded size (`site::list_layout`), so that a change
//! reads and writes only the page its crate is on, whatever the registry's size. Each page is
//! `state/site/list/ID.json` (its summaries), `all/ID.html` (its list page) and
//! `search/ID.json` (its part of the search index); `state/site/pages.json` is the layout,
//! and `search-index.json` names every search part.

use crate::registry::Registry;
use crate::site::Templates;
use crate::site::list_layout::Layout;
use crate::site::view::{CrateSummary, LetterLink, ListPage, PageLink, SiteInfo};
use crate::storage::{Area, Batch};
use anyhow::{Result, bail};
use std::collections::{BTreeMap, BTreeSet, HashMap};

mod upkeep;

const LAYOUT: &str = "site/pages.json";

type Summaries = BTreeMap<String, CrateSummary>;

fn summaries_key(id: &str) -> String {
    format!("site/list/{id}.json")
}

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
    dirty: BTreeSet<String>,
}

impl CrateList {
    /// The stored layout only; pages load when touched. A missing layout is an empty list.
    pub fn open(reg: &Registry) -> Result<Self> {
        let layout: Layout = super::read_json(reg, LAYOUT)?;
        if !layout.is_well_formed() {
            bail!(
                "`{}` is damaged",
                reg.store.path(Area::State, LAYOUT).display()
            );
        }
        Ok(Self {
            before: layout.clone(),
            layout,
            loaded: HashMap::new(),
            dirty: BTreeSet::new(),
        })
    }

    /// Whether a layout is stored (registries whose site predates it have none).
    pub fn exists(reg: &Registry) -> bool {
        reg.store.exists(Area::State, LAYOUT)
    }

    /// Every page from a complete list (a full build), keeping the bounds of the stored layout
    /// when it is readable, so that the build writes what the changes wrote.
    pub fn from_all(reg: &Registry, all: Summaries) -> Self {
        let previous: Layout = super::read_json(reg, LAYOUT).unwrap_or_default();
        let mut layout = if previous.is_well_formed() {
            previous.bounds_only()
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
            layout,
            loaded,
        };
        for page in &mut list.layout.pages {
            page.count = list.loaded.get(page.id()).map_or(0, BTreeMap::len);
        }
        list
    }

    fn page(&mut self, reg: &Registry, id: &str) -> Result<&mut Summaries> {
        if !self.loaded.contains_key(id) {
            let map: Summaries = super::read_json(reg, &summaries_key(id))?;
            let expected = self.layout.index_of(id).map(|i| self.layout.pages[i].count);
            if expected.is_some_and(|n| n != map.len()) {
                // Written by an interrupted change: the layout and the page disagree.
                let path = reg.store.path(Area::State, &summaries_key(id));
                bail!("`{}` is damaged", path.display());
            }
            self.loaded.insert(id.to_owned(), map);
        }
        Ok(self.loaded.get_mut(id).expect("loaded above"))
    }

    /// Sets (or with `None` removes) one crate's summary.
    pub fn set(
        &mut self,
        reg: &Registry,
        lower: &str,
        summary: Option<CrateSummary>,
    ) -> Result<()> {
        let i = self.layout.locate_or_add(lower);
        let id = self.layout.pages[i].id().to_owned();
        let page = self.page(reg, &id)?;
        match summary {
            Some(s) => page.insert(lower.to_owned(), s),
            None => page.remove(lower),
        };
        self.layout.pages[i].count = page.len();
        self.dirty.insert(id);
        Ok(())
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

    /// Every summary, sorted by name (loads every page: for small registries only).
    pub fn all(&mut self, reg: &Registry) -> Result<Vec<CrateSummary>> {
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
    /// the pages whose links changed with it), and the layout.
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
        for id in self.dirty.clone() {
            let Some(i) = self.layout.index_of(&id) else {
                continue;
            };
            let crates: Vec<CrateSummary> = self.loaded[&id].values().cloned().collect();
            let part = crate::site::search_index(&crates);
            self.layout.pages[i].hash = short_hash(&part);
            batch.put(Area::Public, &search_part_key(&id), &part)?;
            batch.put(
                Area::State,
                &summaries_key(&id),
                &serde_json::to_vec(&self.loaded[&id])?,
            )?;
            let page = self.list_page(site, &letters, i, crates);
            batch.put(
                Area::Public,
                &list_page_key(&id),
                templates.list(&page)?.as_bytes(),
            )?;
        }
        batch.put(Area::State, LAYOUT, &serde_json::to_vec(&self.layout)?)?;
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
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}
