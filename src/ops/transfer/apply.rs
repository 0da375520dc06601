//! Applying a checked archive as one change of the pipeline (`registry.change("import", ...)`):
//! the closure plans against the registry as it is and checks the state the import leads to,
//! then states the change: crate files first, index files in dependency order (each replaced
//! by the archive's, or emptied), crate files no line names any more, the git index built again
//! whole. The pipeline owns the rest: on the local tree the lock, the journal and crash safety
//! (a crash at any step leaves a registry that `ktra verify` passes, and importing the archive
//! again completes the change); on object storage conditional writes, so that an import never
//! overwrites what another writer changed meanwhile.

use super::import::{ImportReport, check_state};
use super::listing::{self, ScanOptions};
use super::manifest::{Listing, short};
use super::paths::{self, Kind, Side};
use super::stage::{self, Staged};
use super::{content, plan};
use crate::index::IndexFile;
use crate::mirror::layout;
use crate::ops::change::{SiteEffect, Tx};
use crate::printer::Printer;
use crate::registry::Registry;
use anyhow::{Result, anyhow, bail};
use std::collections::BTreeMap;
use tempfile::TempPath;

pub fn apply(
    reg: &Registry,
    staged: Staged,
    prune: bool,
    printer: Printer,
) -> Result<ImportReport> {
    let (report, _mirror_lock) = reg.change("import", printer, |tx| {
        // Held until the change has landed (it is returned with the value): `sync-mirror`
        // waits. Object storage has no lock.
        let mirror_lock = match reg.store.is_remote() {
            true => None,
            false => Some(crate::mirror::commit::lock_for_command(reg, printer)?),
        };
        let report = change(tx, staged, prune)?;
        Ok((report, mirror_lock))
    })?;
    Ok(report)
}

/// The closure of the change: validation, then the change stated through `tx`.
fn change(tx: &mut Tx<'_>, staged: Staged, prune: bool) -> Result<ImportReport> {
    let reg = tx.registry();
    let m = &staged.manifest;
    let mut report = ImportReport {
        id: m.id.clone(),
        base: m.base.clone(),
        ..ImportReport::default()
    };
    // Crate files are not read again when the archive lists them with the checksum their
    // index line gives (and they have the size listed).
    let base = m.base_listing();
    let known: Vec<&Listing> = std::iter::once(&m.files).chain(base.as_ref()).collect();
    let scan = listing::scan(
        &reg.store,
        &ScanOptions {
            known: &known,
            keep_index: true,
        },
    )?;
    let mut plan = plan::plan(m, &scan.files, prune).map_err(|e| anyhow!(e))?;
    // A crate file this archive removes, which no line names any more: an import of it
    // stopped before deleting it (on object storage; the local tree's journal rolls such a
    // file back). It goes if it is the file the base had.
    if let Some(base) = &base {
        for p in scan.unnamed.iter().filter(|p| m.removed.contains(*p)) {
            if base.get(p) == Some(&listing::hash(&reg.store, p)?) {
                plan.removals.push(p.clone());
            }
        }
    }
    let mirror_config = m.files.keys().any(|p| p.starts_with("mirror/")) && !layout::exists(reg);
    if plan.is_empty() && !mirror_config {
        return Ok(report);
    }
    let facts = check_state(&staged, &|key| Ok(scan.index.get(key).cloned()))?;
    let Staged {
        manifest: m,
        files: mut staged,
    } = staged;

    let kinds = |list: &[String]| -> Vec<(String, Kind)> {
        list.iter()
            .filter_map(|p| paths::classify(p).ok().map(|k| (p.clone(), k)))
            .collect()
    };
    let (writes, removals) = (kinds(&plan.writes), kinds(&plan.removals));
    // The lines each index file of the registry has now: on object storage another writer
    // may change one before the import writes it, and that change must not be overwritten.
    let now = |key: &str| -> Result<IndexFile> {
        let bytes = scan.index.get(key).map(Vec::as_slice).unwrap_or_default();
        IndexFile::parse(bytes).map_err(|e| anyhow!("failed to read `public/{key}`: {e}"))
    };

    // 1. Crate files.
    for (p, k) in writes.iter().filter(|(_, k)| k.is_crate()) {
        let temp = take(&mut staged, p)?;
        match k {
            Kind::Crate {
                side: Side::Registry,
                name,
                vers,
            } => tx.put_crate(name, vers, temp)?,
            _ => tx.put_mirror(p, temp)?,
        }
    }

    // 2. Index files, dependencies first (and the mirror's config.json before its first one).
    if mirror_config {
        tx.put_public(
            layout::CONFIG_JSON,
            &layout::registry_config(reg).to_bytes(),
        )?;
    }
    let index_keys: Vec<String> = writes
        .iter()
        .filter(|(_, k)| !k.is_crate())
        .map(|(p, _)| p.clone())
        .collect();
    let kind_of: BTreeMap<&str, &Kind> = writes.iter().map(|(p, k)| (p.as_str(), k)).collect();
    for p in content::dependency_order(&index_keys, &facts) {
        match kind_of.get(p.as_str()) {
            Some(Kind::Index {
                side: Side::Registry,
                name,
            }) => {
                let ahead = take(&mut staged, &p)?;
                let new = IndexFile::parse(&stage::read(&ahead)?)
                    .map_err(|e| anyhow!("failed to read `{p}` of the archive: {e}"))?;
                let was = now(&p)?;
                tx.modify_index(name, Some(ahead), |file| {
                    unchanged(&p, file, &was)?;
                    *file = new.clone();
                    Ok(())
                })?;
            }
            _ => {
                let temp = take(&mut staged, &p)?;
                tx.put_mirror(&p, temp)?;
            }
        }
    }

    // 3. Removals: index files before the crate files they named.
    for (p, k) in removals.iter().filter(|(_, k)| !k.is_crate()) {
        match k {
            Kind::Index {
                side: Side::Registry,
                name,
            } => {
                let was = now(p)?;
                tx.modify_index(name, None, |file| {
                    unchanged(p, file, &was)?;
                    *file = IndexFile::default();
                    Ok(())
                })?;
            }
            _ => tx.remove_mirror(p)?,
        }
    }
    for (p, k) in removals.iter().filter(|(_, k)| k.is_crate()) {
        match k {
            Kind::Crate {
                side: Side::Registry,
                name,
                vers,
            } => tx.remove_crate(name, vers)?,
            _ => tx.remove_mirror(p)?,
        }
    }

    // 4. The git index, whole, when the registry's index changed; the site.
    let registry_index = writes.iter().chain(&removals).any(|(_, k)| {
        matches!(
            k,
            Kind::Index {
                side: Side::Registry,
                ..
            }
        )
    });
    if registry_index {
        tx.whole_git();
    }
    tx.message(format!("Import export {}", short(&m.id)));
    if !writes.is_empty() || !removals.is_empty() {
        tx.site(SiteEffect::Rebuild);
    }
    report.written = writes.len();
    report.bytes = writes
        .iter()
        .filter_map(|(p, _)| m.files.get(p))
        .map(|s| s.size)
        .sum();
    report.removed = removals.len();
    Ok(report)
}

/// An index file about to be replaced must still have the lines the plan was made from.
fn unchanged(key: &str, file: &IndexFile, was: &IndexFile) -> Result<()> {
    let lines = |f: &IndexFile| f.lines.iter().map(|l| l.raw.clone()).collect::<Vec<_>>();
    if lines(file) != lines(was) {
        bail!(
            "another writer changed `public/{key}` during the import; the import stopped there \
             (what it wrote before stays): check the registry with `ktra verify`, then import \
             again"
        );
    }
    Ok(())
}

fn take(staged: &mut BTreeMap<String, TempPath>, p: &str) -> Result<TempPath> {
    staged
        .remove(p)
        .ok_or_else(|| anyhow!("`{p}` was not staged"))
}
