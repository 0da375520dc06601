//! Checking the mirror: every line parses and sits in its crate's file, every line's crate file
//! is there with the right checksum; versions whose required dependencies are not mirrored are
//! reported as gaps.

use super::layout;
use crate::index::file::IndexFile;
use crate::registry::Registry;
use crate::storage::{Area, Store};
use anyhow::Result;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// SHA-256 of a file as lowercase hex; `None` when it does not exist.
pub fn file_sha256(store: &Store, key: &str) -> Result<Option<String>> {
    let mut hasher = Sha256::new();
    let found = store.stream(Area::Public, key, |chunk| hasher.update(chunk))?;
    Ok(found.then(|| format!("{:x}", hasher.finalize())))
}

/// What `ktra verify` found in the mirror.
#[derive(Debug, Default, serde::Serialize)]
pub struct MirrorReport {
    pub crates: usize,
    pub versions: usize,
    /// Required dependencies the mirror lacks: cargo can still use every version it lists, but
    /// a build needing one of these will need the upstream (normal after a partial
    /// pull-through; after `sync-mirror`, a sign of damage).
    pub gaps: Vec<String>,
}

/// Checks the mirror, adding what is wrong to `problems`; `None` when the tree has no mirror.
pub fn verify(reg: &Registry, problems: &mut Vec<String>) -> Result<Option<MirrorReport>> {
    let store = &reg.store;
    let index_files: Vec<String> = store
        .walk(Area::Public, layout::INDEX_DIR)?
        .into_iter()
        .filter(|k| k != layout::CONFIG_JSON)
        .collect();
    let config = store.read(Area::Public, layout::CONFIG_JSON)?;
    if config.is_none() && index_files.is_empty() {
        return Ok(None);
    }
    if config.as_deref() != Some(&layout::registry_config(reg).to_bytes()[..]) {
        problems.push(format!(
            "`public/{}` is missing or does not match `ktra.toml` (run `ktra rebuild`)",
            layout::CONFIG_JSON
        ));
    }
    let mut report = MirrorReport::default();
    let mut versions: HashMap<String, Vec<semver::Version>> = HashMap::new();
    let mut lines = Vec::new();
    for key in index_files {
        let bytes = store.read(Area::Public, &key)?.unwrap_or_default();
        let file = match IndexFile::parse(&bytes) {
            Ok(f) => f,
            Err(e) => {
                problems.push(format!("`public/{key}`: {e}"));
                continue;
            }
        };
        report.crates += 1;
        for line in file.lines {
            let name = &line.head.name;
            if layout::index(name).ok().as_deref() != Some(key.as_str()) {
                problems.push(format!("`public/{key}` holds a line for crate `{name}`"));
                continue;
            }
            versions
                .entry(name.to_ascii_lowercase())
                .or_default()
                .push(line.version.clone());
            lines.push(line);
        }
    }
    report.versions = lines.len();
    let bad: Vec<String> = lines
        .par_iter()
        .filter_map(|line| {
            let (name, vers) = (&line.head.name, &line.head.vers);
            let key = layout::crate_file(name, vers);
            match file_sha256(store, &key) {
                Ok(None) => Some(format!(
                    "`{name}@{vers}` is in the mirror's index but `public/{key}` is missing"
                )),
                Ok(Some(sum)) if sum != line.head.cksum => Some(format!(
                    "`public/{key}` has checksum {sum}, but its mirror index line says {}",
                    line.head.cksum
                )),
                Ok(Some(_)) => None,
                Err(e) => Some(format!("{e:#}")),
            }
        })
        .collect();
    problems.extend(bad);
    for line in &lines {
        let label = format!("{}@{}", line.head.name, line.head.vers);
        report
            .gaps
            .extend(unmet_dependencies(&label, &line.raw, &versions));
    }
    Ok(Some(report))
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
