//! Keeping the list's pages in shape after a change: pages left empty go (a letter's next
//! page taking the letter's name), pages past the most a page holds are halved, and pages
//! whose links to other pages changed are marked to be written again.

use super::{CrateList, Summaries, list_page_key, search_part_key};
use crate::registry::Registry;
use crate::site::list_layout::{Layout, PageRef, split_points};
use crate::site::view::CrateSummary;
use crate::storage::{Area, Batch};
use anyhow::Result;
use std::collections::BTreeMap;

impl CrateList {
    /// Removes the pages left empty. When that is a letter's first page, the next page of the
    /// letter becomes the first (and is renamed after the letter).
    pub(super) fn drop_empty_pages(&mut self, reg: &Registry, batch: &mut Batch<'_>) -> Result<()> {
        while let Some(id) = self
            .dirty
            .iter()
            .find(|id| self.loaded.get(*id).is_some_and(BTreeMap::is_empty))
            .cloned()
        {
            self.forget(&id, batch);
            let Some(i) = self.layout.index_of(&id) else {
                continue;
            };
            let page = self.layout.pages.remove(i);
            let next_is_same_letter = self
                .layout
                .pages
                .get(i)
                .is_some_and(|p| p.letter == page.letter);
            if page.bound.is_none() && next_is_same_letter {
                let old = self.layout.pages[i].id().to_owned();
                let content = self.page(reg, &old)?.clone();
                self.forget(&old, batch);
                self.layout.pages[i].bound = None;
                self.layout.pages[i].object.clear();
                self.loaded.insert(page.letter.clone(), content);
                self.dirty.insert(page.letter.clone());
            }
        }
        Ok(())
    }

    /// A page's files go with the batch and it is no longer written.
    fn forget(&mut self, id: &str, batch: &mut Batch<'_>) {
        batch.remove(Area::Public, &list_page_key(id));
        batch.remove(Area::Public, &search_part_key(id));
        if let Some(key) = self.stored_key(id) {
            batch.remove(Area::State, &key);
        }
        self.loaded.remove(id);
        self.dirty.remove(id);
        self.shown.remove(id);
    }

    /// Cuts every page holding more than the most a page holds.
    pub(super) fn split_full_pages(&mut self) {
        for id in self.dirty.clone() {
            let Some(i) = self.layout.index_of(&id) else {
                continue;
            };
            let cuts = split_points(self.loaded[&id].len());
            if cuts.is_empty() {
                continue;
            }
            let mut rest: Vec<(String, CrateSummary)> =
                std::mem::take(self.loaded.get_mut(&id).expect("dirty pages are loaded"))
                    .into_iter()
                    .collect();
            let letter = self.layout.pages[i].letter.clone();
            for cut in cuts.iter().rev() {
                let tail: Summaries = rest.split_off(*cut).into_iter().collect();
                let bound = tail.keys().next().expect("a part is never empty").clone();
                let mut page = PageRef::new(&letter, Some(bound.clone()));
                page.count = tail.len();
                self.layout.pages.insert(i + 1, page);
                self.loaded.insert(bound.clone(), tail);
                self.dirty.insert(bound);
            }
            self.layout.pages[i].count = rest.len();
            self.loaded.insert(id, rest.into_iter().collect());
        }
    }

    /// Every list page links every letter, and every page of its own letter: when the letters
    /// or a letter's pages change, those pages are written again.
    pub(super) fn mark_pages_whose_links_changed(&mut self, reg: &Registry) -> Result<()> {
        let ids = |l: &Layout, letter: Option<&str>| -> Vec<String> {
            l.pages
                .iter()
                .filter(|p| letter.is_none_or(|x| p.letter == x))
                .map(|p| p.id().to_owned())
                .collect()
        };
        let stale: Vec<String> = if self.layout.letters() != self.before.letters() {
            ids(&self.layout, None)
        } else {
            let mut out = Vec::new();
            for letter in self.layout.letters() {
                let now = ids(&self.layout, Some(&letter));
                if now != ids(&self.before, Some(&letter)) {
                    out.extend(now);
                }
            }
            out
        };
        for id in stale {
            self.page(reg, &id)?;
            self.shown.insert(id);
        }
        Ok(())
    }
}
