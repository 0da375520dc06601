//! The crate list, kept in shards by first letter so that one change reads and writes only its
//! letter: `state/site/summaries/L.json` (the summaries), `state/site/search/L.json` (that
//! letter's rows of the search index, ready to splice), `state/site/letters.json` (the counts),
//! and the public list pages `all/L.html`.

use crate::registry::Registry;
use crate::site::Templates;
use crate::site::view::{CrateSummary, LetterLink, ListPage, SiteInfo};
use crate::storage::{Area, Batch};
use anyhow::Result;
use std::collections::{BTreeMap, BTreeSet};

const LETTERS: &str = "site/letters.json";

/// The shard of a crate name: its first character, lowercase (`_` for anything unusual).
pub fn letter_of(name: &str) -> String {
    match name.chars().next() {
        Some(c) if c.is_ascii_alphanumeric() => c.to_ascii_lowercase().to_string(),
        _ => "_".to_owned(),
    }
}

fn summaries_key(letter: &str) -> String {
    format!("site/summaries/{letter}.json")
}

fn search_key(letter: &str) -> String {
    format!("site/search/{letter}.json")
}

pub fn list_page_key(letter: &str) -> String {
    format!("all/{letter}.html")
}

#[derive(Default)]
pub struct Shards {
    counts: BTreeMap<String, usize>,
    loaded: BTreeMap<String, BTreeMap<String, CrateSummary>>,
    dirty: BTreeSet<String>,
    /// Search rows of the changed shards, by letter.
    rows: BTreeMap<String, Vec<u8>>,
    /// The letters that had crates before this change.
    before: BTreeSet<String>,
}

impl Shards {
    /// The letter counts only; shards load when touched.
    pub fn open(reg: &Registry) -> Result<Self> {
        let letters: Vec<LetterLink> = super::read_json(reg, LETTERS)?;
        let before = letters.iter().map(|l| l.letter.clone()).collect();
        let counts = letters.into_iter().map(|l| (l.letter, l.count)).collect();
        Ok(Self {
            counts,
            before,
            ..Self::default()
        })
    }

    /// Every shard from a complete list (a full build).
    pub fn from_all(all: BTreeMap<String, CrateSummary>) -> Self {
        let mut shards = Self::default();
        for (lower, s) in all {
            let letter = letter_of(&lower);
            shards.dirty.insert(letter.clone());
            shards.loaded.entry(letter).or_default().insert(lower, s);
        }
        shards.counts = shards
            .loaded
            .iter()
            .map(|(l, m)| (l.clone(), m.len()))
            .collect();
        shards
    }

    fn shard(
        &mut self,
        reg: &Registry,
        letter: &str,
    ) -> Result<&mut BTreeMap<String, CrateSummary>> {
        if !self.loaded.contains_key(letter) {
            let map = super::read_json(reg, &summaries_key(letter))?;
            self.loaded.insert(letter.to_owned(), map);
        }
        Ok(self.loaded.get_mut(letter).expect("loaded above"))
    }

    /// Sets (or with `None` removes) one crate's summary.
    pub fn set(
        &mut self,
        reg: &Registry,
        lower: &str,
        summary: Option<CrateSummary>,
    ) -> Result<()> {
        let letter = letter_of(lower);
        let shard = self.shard(reg, &letter)?;
        match summary {
            Some(s) => shard.insert(lower.to_owned(), s),
            None => shard.remove(lower),
        };
        let count = shard.len();
        self.counts.insert(letter.clone(), count);
        self.dirty.insert(letter);
        Ok(())
    }

    pub fn total(&self) -> usize {
        self.counts.values().sum()
    }

    pub fn letters(&self) -> Vec<LetterLink> {
        self.counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(letter, count)| LetterLink {
                letter: letter.clone(),
                count: *count,
            })
            .collect()
    }

    /// Every summary, sorted by name (loads every shard: for small registries only).
    pub fn all(&mut self, reg: &Registry) -> Result<Vec<CrateSummary>> {
        let letters: Vec<String> = self.counts.keys().cloned().collect();
        let mut out = Vec::new();
        for letter in letters {
            out.extend(self.shard(reg, &letter)?.values().cloned());
        }
        Ok(out)
    }

    /// Stages the changed shards, their list pages and search rows, and the letter counts.
    pub fn write(
        &mut self,
        reg: &Registry,
        templates: &Templates,
        site: &SiteInfo,
        batch: &mut Batch<'_>,
    ) -> Result<()> {
        let letters = self.letters();
        let now: BTreeSet<String> = letters.iter().map(|l| l.letter.clone()).collect();
        if now != self.before {
            // Every list page links every letter: a letter came or went, so all of them change
            // (rare: at most once per letter in a registry's life).
            for letter in &now {
                self.shard(reg, letter)?;
                self.dirty.insert(letter.clone());
            }
        }
        for letter in self.dirty.clone() {
            let shard = &self.loaded[&letter];
            let crates: Vec<CrateSummary> = shard.values().cloned().collect();
            let rows = search_rows(&crates);
            batch.put(
                Area::State,
                &summaries_key(&letter),
                &serde_json::to_vec(shard)?,
            )?;
            batch.put(Area::State, &search_key(&letter), &rows)?;
            self.rows.insert(letter.clone(), rows);
            if crates.is_empty() {
                reg.store.remove(Area::Public, &list_page_key(&letter))?;
                continue;
            }
            let page = ListPage {
                site: site.clone(),
                letter: letter.clone(),
                letters: letters.clone(),
                crates,
            };
            batch.put(
                Area::Public,
                &list_page_key(&letter),
                templates.list(&page)?.as_bytes(),
            )?;
        }
        batch.put(Area::State, LETTERS, &serde_json::to_vec(&letters)?)?;
        Ok(())
    }

    /// The whole search index, spliced from every letter's rows.
    pub fn search_index(&self, reg: &Registry) -> Result<Vec<u8>> {
        let mut out = br#"{"v":1,"c":["#.to_vec();
        let mut first = true;
        for (letter, count) in &self.counts {
            if *count == 0 {
                continue;
            }
            let rows = match self.rows.get(letter) {
                Some(r) => r.clone(),
                None => reg
                    .store
                    .read(Area::State, &search_key(letter))?
                    .unwrap_or_default(),
            };
            if rows.is_empty() {
                continue;
            }
            if !first {
                out.push(b',');
            }
            out.extend_from_slice(&rows);
            first = false;
        }
        out.extend_from_slice(b"]}");
        Ok(out)
    }
}

/// The rows `search_index` writes for these crates, without the envelope around them.
fn search_rows(crates: &[CrateSummary]) -> Vec<u8> {
    let whole = crate::site::search_index(crates);
    let head = br#"{"v":1,"c":["#.len();
    whole[head..whole.len() - 2].to_vec()
}
