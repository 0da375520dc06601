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

/// Every package of a lock file that comes from a registry, as exact wants.
pub fn parse(text: &str) -> Result<Vec<(String, Want)>> {
    let lock: Lock = toml::from_str(text)?;
    let mut wants = Vec::new();
    for p in lock.package {
        let from_registry = p
            .source
            .as_deref()
            .is_some_and(|s| s.starts_with("registry+") || s.starts_with("sparse+"));
        if !from_registry {
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
    Ok(wants)
}

pub fn read(path: &Path) -> Result<Vec<(String, Want)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read `{}`", path.display()))?;
    parse(&text).with_context(|| format!("failed to parse the lock file `{}`", path.display()))
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
        let wants = parse(text).unwrap();
        let names: Vec<_> = wants.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["serde", "other"]);
        assert!(matches!(&wants[0].1, Want::Exact { checksum: Some(c), .. } if c == "ab"));
        assert!(parse("[[package]]\nname = 1").is_err());
    }
}
