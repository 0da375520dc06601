//! The crate metadata store: for each crate, the site's facts about every version and the
//! README of its newest version, in `state/meta/NAME.json` (one flat folder: no directory to
//! create per crate). Not secret, but not served: the site pages are made from it.

use crate::package::meta::{Readme, VersionMeta};
use crate::storage::{Area, Store};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CrateMeta {
    #[serde(default)]
    pub versions: BTreeMap<String, VersionMeta>,
    /// The README of the newest version that has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readme: Option<StoredReadme>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredReadme {
    pub version: String,
    #[serde(flatten)]
    pub readme: Readme,
}

pub fn key(name: &str) -> String {
    format!("meta/{}.json", name.to_ascii_lowercase())
}

/// The stored metadata of a crate (empty when none was recorded).
pub fn load(store: &Store, name: &str) -> Result<CrateMeta> {
    let key = key(name);
    match store.read(Area::State, &key)? {
        None => Ok(CrateMeta::default()),
        Some(bytes) => serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "failed to parse `{}`",
                store.path(Area::State, &key).display()
            )
        }),
    }
}

impl CrateMeta {
    /// Records one version; its README replaces the stored one when it is the newest.
    pub fn record(&mut self, vers: &str, meta: VersionMeta, readme: Option<Readme>) {
        self.versions.insert(vers.to_owned(), meta);
        let Some(readme) = readme else { return };
        let newer = match &self.readme {
            None => true,
            Some(old) => match (
                semver::Version::parse(vers),
                semver::Version::parse(&old.version),
            ) {
                (Ok(new), Ok(old)) => new >= old,
                _ => true,
            },
        };
        if newer {
            self.readme = Some(StoredReadme {
                version: vers.to_owned(),
                readme,
            });
        }
    }

    /// Forgets a removed version.
    pub fn forget(&mut self, vers: &str) {
        self.versions.remove(vers);
        if self.readme.as_ref().is_some_and(|r| r.version == vers) {
            self.readme = None;
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("metadata always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readme(text: &str) -> Option<Readme> {
        Some(Readme {
            path: "README.md".into(),
            text: text.into(),
        })
    }

    #[test]
    fn keeps_the_newest_readme_whatever_the_order_of_adds() {
        let mut m = CrateMeta::default();
        m.record("1.1.0", VersionMeta::default(), readme("new"));
        m.record("1.0.0", VersionMeta::default(), readme("old"));
        assert_eq!(m.readme.as_ref().unwrap().readme.text, "new");
        m.record("2.0.0", VersionMeta::default(), None);
        assert_eq!(m.readme.as_ref().unwrap().version, "1.1.0");
        m.forget("1.1.0");
        assert!(m.readme.is_none() && m.versions.len() == 2);
        let back: CrateMeta = serde_json::from_slice(&m.to_bytes()).unwrap();
        assert_eq!(back.versions.len(), 2);
    }
}
