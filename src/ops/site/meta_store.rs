//! The crate metadata store: for each crate, the site's facts about every version and the
//! README of its newest version, in `state/meta/NAME.json` (one flat folder: no directory to
//! create per crate). Not secret, but not served: the site pages are made from it.

use crate::index::file::IndexFile;
use crate::package::meta::{Readme, VersionMeta};
use crate::storage::{Area, Store};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CrateMeta {
    #[serde(default)]
    pub versions: BTreeMap<String, VersionMeta>,
    /// The README of one version, normally the one the crate's page shows (see
    /// [`CrateMeta::readme_of`]); that version may have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readme: Option<StoredReadme>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredReadme {
    pub version: String,
    /// `None`: the version has no README.
    #[serde(flatten)]
    pub readme: Option<Readme>,
}

pub fn key(name: &str) -> String {
    format!("meta/{}.json", name.to_ascii_lowercase())
}

/// The stored metadata of a crate (empty when none was recorded).
pub fn load(store: &Store, name: &str) -> Result<CrateMeta> {
    let bytes = store.read(Area::State, &key(name))?;
    parse(name, bytes.as_deref())
}

/// A crate's metadata from its stored bytes (`None`: none recorded).
pub fn parse(name: &str, bytes: Option<&[u8]>) -> Result<CrateMeta> {
    match bytes {
        None => Ok(CrateMeta::default()),
        Some(bytes) => serde_json::from_slice(bytes)
            .with_context(|| format!("failed to parse the stored metadata of `{name}`")),
    }
}

impl CrateMeta {
    /// Records one version. Its README (or its lack of one) takes the slot when it is the
    /// newest version recorded: the one the page shows, unless it is yanked.
    pub fn record(&mut self, vers: &str, meta: VersionMeta, readme: Option<Readme>) {
        self.versions.insert(vers.to_owned(), meta);
        let newest = match &self.readme {
            None => true,
            Some(old) => match (
                semver::Version::parse(vers),
                semver::Version::parse(&old.version),
            ) {
                (Ok(new), Ok(old)) => new >= old,
                _ => true,
            },
        };
        if newest {
            self.set_readme(vers, readme);
        }
    }

    /// Records the versions one change adds to a crate whose index file is now `file`. When
    /// the version its page will show is one of them, the README slot takes that version's, so
    /// that rendering the page needs no crate file (which may not be in place yet).
    pub fn record_added(
        &mut self,
        file: &IndexFile,
        added: Vec<(String, VersionMeta, Option<Readme>)>,
    ) {
        let featured = featured_version(file);
        for (vers, meta, readme) in added {
            if featured == Some(vers.as_str()) {
                self.versions.insert(vers.clone(), meta);
                self.set_readme(&vers, readme);
            } else {
                self.record(&vers, meta, readme);
            }
        }
    }

    pub fn set_readme(&mut self, vers: &str, readme: Option<Readme>) {
        self.readme = Some(StoredReadme {
            version: vers.to_owned(),
            readme,
        });
    }

    /// The README of `vers`: `Some(None)` when it has none, `None` when it is not known (the
    /// slot holds another version's).
    pub fn readme_of(&self, vers: &str) -> Option<Option<&Readme>> {
        let slot = self.readme.as_ref().filter(|r| r.version == vers)?;
        Some(slot.readme.as_ref())
    }

    /// Whether the page of `vers` needs facts that only its crate file has.
    pub fn lacks(&self, vers: &str) -> bool {
        !self.versions.contains_key(vers) || self.readme_of(vers).is_none()
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

/// The version a crate's page shows: the newest not yanked, else the newest (as
/// [`super::views::featured`] decides, from the lines' heads).
pub fn featured_version(file: &IndexFile) -> Option<&str> {
    let newest = |yanked_too: bool| {
        file.lines
            .iter()
            .filter(|l| yanked_too || !l.head.yanked)
            .max_by(|a, b| a.version.cmp(&b.version))
    };
    newest(false)
        .or_else(|| newest(true))
        .map(|l| l.head.vers.as_str())
}

/// Makes sure `meta` holds what the page needs for the version it shows, reading that
/// version's crate file when it does not; whether `meta` changed.
pub fn fill_featured(
    store: &Store,
    entries: &[(semver::Version, crate::index::IndexPackage)],
    meta: &mut CrateMeta,
) -> Result<bool> {
    match super::views::featured(entries) {
        Some(e) if meta.lacks(&e.vers) => fill_from_crate_file(store, meta, &e.name, &e.vers),
        _ => Ok(false),
    }
}

/// Reads a version's facts and README from its crate file into `meta` (for crates added before
/// the site existed, and when the page comes to show a version whose README is not stored: the
/// newest was yanked or removed). `false` when the crate file is missing.
pub fn fill_from_crate_file(
    store: &Store,
    meta: &mut CrateMeta,
    name: &str,
    vers: &str,
) -> Result<bool> {
    let key = crate::registry::keys::crate_file(name, vers);
    let Some(file) = store.open(Area::Public, &key)? else {
        return Ok(false);
    };
    let reader = std::io::BufReader::new(file);
    let inspection = crate::package::archive::inspect(reader, std::io::sink(), None)
        .with_context(|| format!("failed to read `{key}`"))?;
    let (m, readme) =
        crate::package::meta::read_parsed(inspection.doc.as_ref().ok(), &inspection.readmes);
    meta.versions.insert(vers.to_owned(), m);
    meta.set_readme(vers, readme);
    Ok(true)
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
    fn keeps_the_newest_versions_readme_whatever_the_order_of_adds() {
        let mut m = CrateMeta::default();
        m.record("1.1.0", VersionMeta::default(), readme("new"));
        m.record("1.0.0", VersionMeta::default(), readme("old"));
        assert_eq!(m.readme_of("1.1.0").unwrap().unwrap().text, "new");
        assert!(m.readme_of("1.0.0").is_none() && m.lacks("1.0.0"));
        // A newest version without a README: the page shows none, not an older one's.
        m.record("2.0.0", VersionMeta::default(), None);
        assert_eq!(m.readme_of("2.0.0"), Some(None));
        assert!(!m.lacks("2.0.0"));
        let back: CrateMeta = serde_json::from_slice(&m.to_bytes()).unwrap();
        assert_eq!(back.readme_of("2.0.0"), Some(None));
        m.forget("2.0.0");
        assert!(m.readme.is_none() && m.versions.len() == 2);
        let back: CrateMeta = serde_json::from_slice(&m.to_bytes()).unwrap();
        assert_eq!(back.versions.len(), 2);
    }

    #[test]
    fn an_add_keeps_the_readme_of_the_version_the_page_shows() {
        let line = |vers: &str, yanked: bool| {
            format!(r#"{{"name":"a","vers":"{vers}","cksum":"00","yanked":{yanked}}}"#)
        };
        // 2.0.0 is newest but yanked: the page shows 1.5.0, added now.
        let text = [
            line("1.0.0", false),
            line("2.0.0", true),
            line("1.5.0", false),
        ]
        .join("\n");
        let file = IndexFile::parse(text.as_bytes()).unwrap();
        assert_eq!(featured_version(&file), Some("1.5.0"));
        let mut m = CrateMeta::default();
        m.record("2.0.0", VersionMeta::default(), readme("yanked one"));
        let added = vec![
            ("1.5.0".to_owned(), VersionMeta::default(), readme("shown")),
            ("1.0.0".to_owned(), VersionMeta::default(), readme("older")),
        ];
        m.record_added(&file, added);
        assert!(!m.lacks("1.5.0"), "the page needs no crate file");
        assert_eq!(m.readme_of("1.5.0").unwrap().unwrap().text, "shown");
        // Every version yanked: the newest is shown.
        let all = [line("1.0.0", true), line("2.0.0", true)].join("\n");
        let all = IndexFile::parse(all.as_bytes()).unwrap();
        assert_eq!(featured_version(&all), Some("2.0.0"));
        assert_eq!(featured_version(&IndexFile::default()), None);
    }

    #[test]
    fn reads_the_stored_form_of_earlier_ktra() {
        let old = r#"{"versions":{"1.0.0":{}},"readme":{"version":"1.0.0","path":"README.md","text":"hi"}}"#;
        let m: CrateMeta = serde_json::from_str(old).unwrap();
        assert_eq!(m.readme_of("1.0.0").unwrap().unwrap().text, "hi");
    }
}
