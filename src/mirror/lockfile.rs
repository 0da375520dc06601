//! Reading `Cargo.lock`: the registry packages it pins, with their checksums.

use super::select::Want;
use anyhow::{Context, Result};
use serde::Deserialize;
use std::path::Path;

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
}

/// The source a lock file records for crates.io, whichever protocol fetched it.
pub const CRATES_IO_SOURCE: &str = "registry+https://github.com/rust-lang/crates.io-index";

/// A lock file's packages from the mirrored source (`mirrored` says which `source` values
/// mean it), as exact wants, and how many packages came from other registries.
pub fn parse(text: &str, mirrored: &dyn Fn(&str) -> bool) -> Result<(Vec<(String, Want)>, usize)> {
    let lock: Lock = toml::from_str(text)?;
    let mut wants = Vec::new();
    let mut others = 0;
    for p in lock.package {
        let Some(source) = p.source.as_deref() else {
            continue;
        };
        if !(source.starts_with("registry+") || source.starts_with("sparse+")) {
            continue;
        }
        if !mirrored(source) {
            others += 1;
            continue;
        }
        let version = semver::Version::parse(&p.version).with_context(|| {
            format!(
                "package `{}` has an invalid version `{}`",
                p.name, p.version
            )
        })?;
        wants.push((
            p.name,
            Want::Exact {
                version,
                checksum: p.checksum,
            },
        ));
    }
    Ok((wants, others))
}

/// Whether a lock file `source` is the registry the mirror stands in for: crates.io by default,
/// else the upstream itself (by its sparse or git index URL).
pub fn is_mirrored_source(source: &str, replaces_crates_io: bool, upstream_urls: &[&str]) -> bool {
    use crate::index::path::canonical_index_url;
    if replaces_crates_io {
        return source == CRATES_IO_SOURCE;
    }
    let url = source.strip_prefix("registry+").unwrap_or(source);
    let url = url.split(['?', '#']).next().unwrap_or(url);
    upstream_urls
        .iter()
        .any(|u| canonical_index_url(u) == canonical_index_url(url))
}

// reason: the user's Cargo.lock, not registry data.
#[allow(clippy::disallowed_methods)]
pub fn read(path: &Path, mirrored: &dyn Fn(&str) -> bool) -> Result<(Vec<(String, Want)>, usize)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read `{}`", path.display()))?;
    parse(&text, mirrored)
        .with_context(|| format!("failed to parse the lock file `{}`", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_registry_packages_only() {
        let text = r#"
version = 4

[[package]]
name = "app"
version = "0.1.0"

[[package]]
name = "serde"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "ab"

[[package]]
name = "other"
version = "2.0.0"
source = "sparse+http://127.0.0.1:1/index/"

[[package]]
name = "g"
version = "0.1.0"
source = "git+https://example.com/g#abc"
"#;
        let crates_io = |s: &str| is_mirrored_source(s, true, &[]);
        let (wants, others) = parse(text, &crates_io).unwrap();
        let names: Vec<_> = wants.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!((names, others), (vec!["serde"], 1));
        assert!(matches!(&wants[0].1, Want::Exact { checksum: Some(c), .. } if c == "ab"));
        let upstream = |s: &str| is_mirrored_source(s, false, &["sparse+http://127.0.0.1:1/index"]);
        let (wants, others) = parse(text, &upstream).unwrap();
        assert_eq!((wants[0].0.as_str(), others), ("other", 1));
        assert!(parse("[[package]]\nname = 1", &crates_io).is_err());
    }
}
