//! Checking the mirror: every line parses and sits in its crate's file, every line's crate file
//! is there with the right checksum, and every version's required dependencies are mirrored.

use super::layout;
use crate::index::file::IndexFile;
use crate::storage::{Area, Store};
use anyhow::Result;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// SHA-256 of a file as lowercase hex; `None` when it does not exist.
pub fn file_sha256(store: &Store, key: &str) -> Result<Option<String>> {
    let mut hasher = Sha256::new();
    let found = store.stream(Area::Public, key, |chunk| hasher.update(chunk))?;
    Ok(found.then(|| format!("{:x}", hasher.finalize())))
}

/// Every problem found in the mirror (empty when it is sound, or when there is no mirror).
pub fn problems(store: &Store) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut versions: HashMap<String, Vec<semver::Version>> = HashMap::new();
    let mut lines = Vec::new();
    let prefix = format!("{}/", layout::INDEX_DIR);
    for key in store.walk(Area::Public, layout::INDEX_DIR)? {
        let rel = key.strip_prefix(&prefix).unwrap_or(&key);
        if rel == "config.json" {
            continue;
        }
        let bytes = store.read(Area::Public, &key)?.unwrap_or_default();
        let file = match IndexFile::parse(&bytes) {
            Ok(f) => f,
            Err(e) => {
                problems.push(format!("`{key}`: {e}"));
                continue;
            }
        };
        for line in file.lines {
            let name = &line.head.name;
            if layout::index(name) != key {
                problems.push(format!("`{key}` holds a line for crate `{name}`"));
                continue;
            }
            let crate_key = layout::crate_file(name, &line.head.vers);
            match file_sha256(store, &crate_key)? {
                None => problems.push(format!(
                    "`{name}@{}` is indexed but `{crate_key}` is missing",
                    line.head.vers
                )),
                Some(sum) if sum != line.head.cksum => problems.push(format!(
                    "`{crate_key}` does not match its index line (sha256 {sum}, index {})",
                    line.head.cksum
                )),
                Some(_) => {}
            }
            versions
                .entry(name.to_ascii_lowercase())
                .or_default()
                .push(line.version.clone());
            lines.push((format!("{name}@{}", line.head.vers), line.raw));
        }
    }
    if !store.exists(Area::Public, layout::CONFIG_JSON) && !lines.is_empty() {
        problems.push(format!("`{}` is missing", layout::CONFIG_JSON));
    }
    for (label, raw) in lines {
        problems.extend(unmet_dependencies(&label, &raw, &versions));
    }
    Ok(problems)
}

/// Required (non-optional normal and build) dependencies of a line that no mirrored version
/// satisfies.
fn unmet_dependencies(
    label: &str,
    raw: &str,
    versions: &HashMap<String, Vec<semver::Version>>,
) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Line {
        #[serde(default)]
        deps: Vec<crate::index::RegistryDependency>,
    }
    let Ok(line) = serde_json::from_str::<Line>(raw) else {
        return vec![format!("`{label}` has unreadable dependencies")];
    };
    let mut out = Vec::new();
    for dep in line.deps {
        let required = !dep.optional
            && dep.kind != Some(crate::index::DependencyKind::Dev)
            && dep.registry.is_none();
        if !required {
            continue;
        }
        let Ok(req) = semver::VersionReq::parse(&dep.req) else {
            continue;
        };
        let have = versions.get(&dep.package_name().to_ascii_lowercase());
        if !have.is_some_and(|vs| vs.iter().any(|v| req.matches(v))) {
            out.push(format!(
                "`{label}` needs `{} {}`, which the mirror does not hold",
                dep.package_name(),
                dep.req
            ));
        }
    }
    out
}
