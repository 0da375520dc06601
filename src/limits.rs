//! Limits on what one version may carry, as crates.io has them, set in the `[limits]` table of
//! `ktra.toml`, and the one pure check that applies them to an index entry and the facts of its
//! manifest (used by every add, so by publish too, and by the mirror on upstream entries).

use crate::index::IndexPackage;
use serde::{Deserialize, Serialize};

/// The `[limits]` table. Every default is crates.io's value where crates.io has one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Limits {
    /// Features of one version (crates.io: 300).
    pub max_features: usize,
    /// Values one feature enables (crates.io: 300).
    pub max_feature_values: usize,
    /// Dependencies of one version, all kinds and targets counted (crates.io: 500).
    pub max_dependencies: usize,
    /// Bytes of the packaged `Cargo.toml` (crates.io has no limit of its own; 1 MiB is 17 times
    /// web-sys's, and parsing costs about 40 bytes of memory per byte of manifest).
    pub max_manifest_size: u64,
    /// Bytes of one index line (crates.io bounds the publish metadata, which carries the same
    /// dependencies and features, to 1 MiB).
    pub max_index_line_size: u64,
    /// Bytes of the README (crates.io has no own limit; its upload limit, 10 MiB).
    pub max_readme_size: u64,
    /// Keywords (crates.io: 5).
    pub max_keywords: usize,
    /// Characters of one keyword (crates.io: 20).
    pub max_keyword_length: usize,
    /// Categories (crates.io: 5).
    pub max_categories: usize,
    /// Characters of the description (crates.io: 1000).
    pub max_description_length: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_features: 300,
            max_feature_values: 300,
            max_dependencies: 500,
            max_manifest_size: crate::package::archive::MAX_MANIFEST,
            max_index_line_size: 1024 * 1024,
            max_readme_size: 10 * 1024 * 1024,
            max_keywords: 5,
            max_keyword_length: 20,
            max_categories: 5,
            max_description_length: 1000,
        }
    }
}

impl Limits {
    /// Whether every limit has its default (the table is then not written out).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// What the manifest says beyond the index entry, for the limits that concern it.
#[derive(Debug, Clone, Default)]
pub struct ManifestFacts<'a> {
    pub keywords: &'a [String],
    pub categories: &'a [String],
    pub description: Option<&'a str>,
    /// Size of the file the manifest names as README (or the default one), if there is one.
    pub readme_size: Option<u64>,
}

/// Why a version was refused: a limit it passes (with the setting that raises it), or a
/// keyword crates.io would not take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("{what} is {got}, over the limit of {max} (setting `limits.{setting}` in ktra.toml)")]
    Over {
        what: String,
        got: u64,
        max: u64,
        setting: &'static str,
    },
    #[error(
        "keyword `{0}` must start with an ASCII letter or digit and hold only ASCII letters, digits, `_`, `-` and `+`"
    )]
    Keyword(String),
}

/// `Err` when `got` is over `max`.
fn over(
    what: impl Into<String>,
    got: usize,
    max: u64,
    setting: &'static str,
) -> Result<(), LimitError> {
    match got as u64 > max {
        true => Err(LimitError::Over {
            what: what.into(),
            got: got as u64,
            max,
            setting,
        }),
        false => Ok(()),
    }
}

/// Checks an entry (and, when known, its manifest's facts) against the limits.
/// `line_len` is the length of the entry's index line in bytes.
pub fn check(
    entry: &IndexPackage,
    line_len: usize,
    facts: Option<&ManifestFacts<'_>>,
    limits: &Limits,
) -> Result<(), LimitError> {
    let features = entry.features.len() + entry.features2.as_ref().map_or(0, |f| f.len());
    over(
        "the number of features",
        features,
        limits.max_features as u64,
        "max-features",
    )?;
    for (name, values) in entry
        .features
        .iter()
        .chain(entry.features2.iter().flatten())
    {
        over(
            format!("the number of values of feature `{}`", short(name)),
            values.len(),
            limits.max_feature_values as u64,
            "max-feature-values",
        )?;
    }
    over(
        "the number of dependencies",
        entry.deps.len(),
        limits.max_dependencies as u64,
        "max-dependencies",
    )?;
    over(
        "the size of the index line in bytes",
        line_len,
        limits.max_index_line_size,
        "max-index-line-size",
    )?;
    match facts {
        Some(facts) => check_facts(facts, limits),
        None => Ok(()),
    }
}

fn check_facts(facts: &ManifestFacts<'_>, limits: &Limits) -> Result<(), LimitError> {
    over(
        "the number of keywords",
        facts.keywords.len(),
        limits.max_keywords as u64,
        "max-keywords",
    )?;
    for k in facts.keywords {
        over(
            format!("the length of keyword `{}` in characters", short(k)),
            k.chars().count(),
            limits.max_keyword_length as u64,
            "max-keyword-length",
        )?;
        check_keyword(k)?;
    }
    over(
        "the number of categories",
        facts.categories.len(),
        limits.max_categories as u64,
        "max-categories",
    )?;
    let description = facts.description.map_or(0, |d| d.chars().count());
    over(
        "the length of the description in characters",
        description,
        limits.max_description_length as u64,
        "max-description-length",
    )?;
    let readme = facts.readme_size.unwrap_or(0);
    match readme > limits.max_readme_size {
        true => Err(LimitError::Over {
            what: "the size of the README in bytes".into(),
            got: readme,
            max: limits.max_readme_size,
            setting: "max-readme-size",
        }),
        false => Ok(()),
    }
}

/// crates.io's keyword rule: starts with an ASCII letter or digit, then ASCII letters, digits,
/// `_`, `-` and `+`.
pub fn check_keyword(keyword: &str) -> Result<(), LimitError> {
    let mut chars = keyword.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'));
    match ok {
        true => Ok(()),
        false => Err(LimitError::Keyword(short(keyword))),
    }
}

/// Hostile text quoted in a message, cut to a readable length.
fn short(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((at, _)) => format!("{}...", &s[..at]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
