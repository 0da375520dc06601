//! How the list of every crate is cut into pages of bounded size, so that a change reads and
//! writes one page whatever the registry's size. Pure: which page a name belongs to, when a
//! page splits, and what the layout becomes when pages empty.
//!
//! Pages never span two first letters. A letter's first page is named by the letter (`s`);
//! each further page by its lower bound, the lowercase name of the first crate it held when it
//! was split off (`serde`). A name belongs to the last page of its letter whose bound is not
//! above it. Bounds stay where they are: a page only splits (in halves, while it holds more
//! than [`MAX_PER_PAGE`]) or disappears (when it holds nothing), so the same changes always
//! give the same pages, and a full rebuild that starts from the stored layout writes exactly
//! what the changes wrote.

use serde::{Deserialize, Serialize};

/// The most crates one list page (and one search part) holds.
pub const MAX_PER_PAGE: usize = 256;

/// The first letter of a crate name, as the site groups names: lowercase ASCII letter or digit,
/// `_` for anything else.
pub fn letter_of(name: &str) -> String {
    match name.chars().next() {
        Some(c) if c.is_ascii_alphanumeric() => c.to_ascii_lowercase().to_string(),
        _ => "_".to_owned(),
    }
}

/// One page of the crate list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRef {
    pub letter: String,
    /// Lower bound of the page's names; `None` for the letter's first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<String>,
    /// Crates on the page.
    pub count: usize,
    /// Short hash of the page's search part, so browsers may cache it by URL.
    #[serde(default)]
    pub hash: String,
    /// Names the object that holds the page's summaries (random, new with every content): a
    /// change writes a page's new content under a new name and then the layout that points
    /// at it, so writers on object storage coordinate through the layout alone.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub object: String,
}

impl PageRef {
    pub fn new(letter: &str, bound: Option<String>) -> Self {
        Self {
            letter: letter.to_owned(),
            bound,
            count: 0,
            hash: String::new(),
            object: String::new(),
        }
    }

    /// The page's name in URLs and file names: its bound, or its letter.
    pub fn id(&self) -> &str {
        self.bound.as_deref().unwrap_or(&self.letter)
    }
}

/// Every page, in order: by letter, then by bound (the letter's first page first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    pub pages: Vec<PageRef>,
}

impl Layout {
    /// The same pages without their contents (counts and hashes cleared): where a full
    /// rebuild starts, so that it keeps the bounds the changes made.
    pub fn bounds_only(&self) -> Layout {
        let pages = self
            .pages
            .iter()
            .map(|p| PageRef::new(&p.letter, p.bound.clone()))
            .collect();
        Layout { pages }
    }

    /// Whether the pages are in order, with one first page per letter, unique and fitting
    /// bounds (a stored layout that is not is treated as damaged).
    pub fn is_well_formed(&self) -> bool {
        let mut prev: Option<&PageRef> = None;
        for p in &self.pages {
            let ok = match (prev, &p.bound) {
                (None, None) => true,
                (None, Some(_)) => false,
                (Some(q), None) => q.letter < p.letter,
                (Some(q), Some(b)) => {
                    q.letter == p.letter
                        && letter_of(b) == p.letter
                        && q.bound.as_deref().is_none_or(|qb| qb < b.as_str())
                }
            };
            if !ok {
                return false;
            }
            prev = Some(p);
        }
        true
    }

    /// The index of the page holding `lower` (a lowercase name), adding the first page of its
    /// letter when there is none.
    pub fn locate_or_add(&mut self, lower: &str) -> usize {
        let letter = letter_of(lower);
        let start = self.pages.partition_point(|p| p.letter < letter);
        let end = start + self.pages[start..].partition_point(|p| p.letter == letter);
        if start == end {
            self.pages.insert(start, PageRef::new(&letter, None));
            return start;
        }
        // The first page takes every name below the second page's bound.
        let later = self.pages[start + 1..end]
            .partition_point(|p| p.bound.as_deref().is_some_and(|b| b <= lower));
        start + later
    }

    /// The range of page indices of `letter`.
    pub fn letter_range(&self, letter: &str) -> std::ops::Range<usize> {
        let start = self.pages.partition_point(|p| p.letter.as_str() < letter);
        let end = start + self.pages[start..].partition_point(|p| p.letter == letter);
        start..end
    }

    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.pages.iter().position(|p| p.id() == id)
    }

    /// The letters that have pages, in order.
    pub fn letters(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in &self.pages {
            if out.last() != Some(&p.letter) {
                out.push(p.letter.clone());
            }
        }
        out
    }

    pub fn total(&self) -> usize {
        self.pages.iter().map(|p| p.count).sum()
    }
}

/// Where a page of `len` sorted names is cut: the start of each part after the first, found by
/// halving every part longer than [`MAX_PER_PAGE`] until none is.
pub fn split_points(len: usize) -> Vec<usize> {
    fn halve(start: usize, len: usize, out: &mut Vec<usize>) {
        if len <= MAX_PER_PAGE {
            return;
        }
        let half = len.div_ceil(2);
        halve(start, half, out);
        out.push(start + half);
        halve(start + half, len - half, out);
    }
    let mut out = Vec::new();
    halve(0, len, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(pages: &[(&str, Option<&str>)]) -> Layout {
        Layout {
            pages: pages
                .iter()
                .map(|(l, b)| PageRef::new(l, b.map(str::to_owned)))
                .collect(),
        }
    }

    #[test]
    fn names_go_to_the_last_page_of_their_letter_whose_bound_is_not_above_them() {
        let mut l = layout(&[
            ("a", None),
            ("s", None),
            ("s", Some("serde")),
            ("s", Some("sqlx")),
        ]);
        assert_eq!(l.locate_or_add("axum"), 0);
        assert_eq!(l.locate_or_add("s"), 1);
        assert_eq!(l.locate_or_add("sea"), 1);
        assert_eq!(l.locate_or_add("serde"), 2);
        assert_eq!(l.locate_or_add("serde_json"), 2);
        assert_eq!(l.locate_or_add("sqlx"), 3);
        assert_eq!(l.locate_or_add("syn"), 3);
        assert!(l.is_well_formed());
        // A letter without pages gets its first page, in order.
        assert_eq!(l.locate_or_add("rand"), 1);
        assert_eq!(l.pages[1], PageRef::new("r", None));
        assert_eq!(l.locate_or_add("zip"), 5);
        // `_` (names that start with neither a letter nor a digit) sorts before the letters.
        assert_eq!(l.locate_or_add("-odd"), 0);
        assert_eq!(l.letters(), ["_", "a", "r", "s", "z"]);
        assert!(l.is_well_formed());
    }

    #[test]
    fn pages_split_in_halves_until_each_fits() {
        assert!(split_points(MAX_PER_PAGE).is_empty());
        assert_eq!(split_points(MAX_PER_PAGE + 1), [129]);
        assert_eq!(split_points(770), [193, 385, 578]);
        let cuts = split_points(10_000);
        let mut starts = vec![0];
        starts.extend(&cuts);
        starts.push(10_000);
        assert!(
            starts
                .windows(2)
                .all(|w| w[1] > w[0] && w[1] - w[0] <= MAX_PER_PAGE)
        );
        assert!(starts.windows(2).all(|w| w[1] - w[0] > MAX_PER_PAGE / 2));
    }

    #[test]
    fn malformed_layouts_are_recognised() {
        assert!(layout(&[]).is_well_formed());
        assert!(!layout(&[("s", Some("serde"))]).is_well_formed());
        assert!(!layout(&[("s", None), ("s", None)]).is_well_formed());
        assert!(!layout(&[("s", None), ("s", Some("tar"))]).is_well_formed());
        assert!(
            !layout(&[("s", None), ("s", Some("sqlx")), ("s", Some("serde"))]).is_well_formed()
        );
        assert!(!layout(&[("t", None), ("s", None)]).is_well_formed());
    }
}
