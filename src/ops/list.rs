//! Listing what a registry holds: every crate with its newest version, or every version of one
//! crate.

use crate::index::IndexFile;
use crate::registry::{Registry, keys};
use crate::storage::Area;
use anyhow::{Context, Result};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct CrateSummary {
    pub name: String,
    /// Newest version that is not yanked (or the newest, if all are yanked).
    pub latest: String,
    pub versions: usize,
    pub yanked: usize,
}

#[derive(Debug, Serialize)]
pub struct VersionRow {
    pub name: String,
    pub vers: String,
    pub yanked: bool,
    pub cksum: String,
    pub pubtime: Option<String>,
}

pub fn crates(reg: &Registry) -> Result<Vec<CrateSummary>> {
    let mut out = Vec::new();
    for key in reg.store.walk(Area::Public, "index")? {
        if key == keys::CONFIG_JSON {
            continue;
        }
        let bytes = reg.store.read(Area::Public, &key)?.unwrap_or_default();
        let file =
            IndexFile::parse(&bytes).with_context(|| format!("failed to read `public/{key}`"))?;
        let Some(name) = file.crate_name() else {
            continue;
        };
        let pick = |only_live: bool| {
            file.lines
                .iter()
                .filter(|l| !only_live || !l.head.yanked)
                .map(|l| &l.version)
                .max()
        };
        let latest = pick(true)
            .or_else(|| pick(false))
            .map(ToString::to_string)
            .unwrap_or_default();
        out.push(CrateSummary {
            name: name.to_owned(),
            latest,
            versions: file.lines.len(),
            yanked: file.lines.iter().filter(|l| l.head.yanked).count(),
        });
    }
    out.sort_by_key(|a| a.name.to_lowercase());
    Ok(out)
}

pub fn versions(reg: &Registry, name: &str) -> Result<Vec<VersionRow>> {
    let (_, file) = super::yank::read_index(reg, name)?;
    let mut rows: Vec<(semver::Version, VersionRow)> = file
        .lines
        .iter()
        .map(|l| {
            let pubtime = serde_json::from_str::<serde_json::Value>(&l.raw)
                .ok()
                .and_then(|v| v["pubtime"].as_str().map(str::to_owned));
            let row = VersionRow {
                name: l.head.name.clone(),
                vers: l.head.vers.clone(),
                yanked: l.head.yanked,
                cksum: l.head.cksum.clone(),
                pubtime,
            };
            (l.version.clone(), row)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(rows.into_iter().map(|(_, r)| r).collect())
}

/// Whether the index holds exactly this version of this crate.
pub fn has_version(reg: &Registry, name: &str, vers: &str) -> Result<bool> {
    // A name that is not one has no index file.
    let Ok(key) = keys::index(name) else {
        return Ok(false);
    };
    let Some(bytes) = reg.store.read(Area::Public, &key)? else {
        return Ok(false);
    };
    let Ok(file) = IndexFile::parse(&bytes) else {
        return Ok(false);
    };
    Ok(file
        .lines
        .iter()
        .any(|l| l.head.name == name && l.head.vers == vers))
}
