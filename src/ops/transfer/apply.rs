//! Applying a checked archive under the registry and mirror locks, recorded in the journal:
//! crate files first (durable before any line names them), then index files in dependency
//! order, then deletions, then the git index. A crash at any step leaves a registry that
//! `ktra verify` passes, and importing the archive again completes the change.

use super::content;
use super::import::{ImportReport, check_state};
use super::manifest::short;
use super::paths::{self, Kind, Side};
use super::stage::Staged;
use super::{listing, plan};
use crate::mirror::layout;
use crate::ops::writer::Writer;
use crate::printer::Printer;
use crate::registry::Registry;
use crate::storage::{Area, Journal, PendingCrate, crash};
use anyhow::{Context, Result, anyhow};

pub fn apply(
    reg: &Registry,
    mut staged: Staged,
    prune: bool,
    printer: Printer,
) -> Result<ImportReport> {
    let store = &reg.store;
    let writer = Writer::begin(reg, printer)?;
    let _mirror = crate::mirror::commit::lock_for_command(reg, printer)?;
    let m = &staged.manifest;
    let mut report = ImportReport {
        id: m.id.clone(),
        base: m.base.clone(),
        ..ImportReport::default()
    };
    let current = listing::scan(store, &|_, _| None)?.files;
    let plan = plan::plan(m, &current, prune).map_err(|e| anyhow!(e))?;
    let mirror_config = m.files.keys().any(|p| p.starts_with("mirror/")) && !layout::exists(reg);
    if plan.is_empty() && !mirror_config {
        return Ok(report);
    }
    let facts = check_state(&staged, &|key| store.read(Area::Public, key))?;

    let kinds = |list: &[String]| -> Vec<(String, Kind)> {
        list.iter()
            .filter_map(|p| paths::classify(p).ok().map(|k| (p.clone(), k)))
            .collect()
    };
    let (writes, removals) = (kinds(&plan.writes), kinds(&plan.removals));
    let registry_index = writes.iter().chain(&removals).any(|(_, k)| {
        matches!(
            k,
            Kind::Index {
                side: Side::Registry,
                ..
            }
        )
    });
    writer.journal(&Journal {
        op: "import".into(),
        crate_files: writes
            .iter()
            .chain(&removals)
            .filter_map(|(p, k)| match k {
                Kind::Crate {
                    side: Side::Registry,
                    name,
                    vers,
                } => Some(PendingCrate {
                    name: name.clone(),
                    vers: vers.clone(),
                    key: p.clone(),
                }),
                _ => None,
            })
            .collect(),
        whole_git: registry_index,
        ..Journal::default()
    })?;

    // 1. Crate files.
    let mut crates = store.batch().named("import-crates");
    for (p, _) in writes.iter().filter(|(_, k)| k.is_crate()) {
        crates.put_file(Area::Public, p, take(&mut staged, p)?);
    }
    crates.commit().context("failed to write the crate files")?;

    // 2. Index files (and the mirror's config.json before its first index file).
    let mut index = store.batch().named("import-index");
    if mirror_config {
        index.put(
            Area::Public,
            layout::CONFIG_JSON,
            &layout::registry_config(reg).to_bytes(),
        )?;
    }
    let index_keys: Vec<String> = writes
        .iter()
        .filter(|(_, k)| !k.is_crate())
        .map(|(p, _)| p.clone())
        .collect();
    for p in content::dependency_order(&index_keys, &facts) {
        index.put_file(Area::Public, &p, take(&mut staged, &p)?);
    }
    index.commit().context("failed to write the index files")?;

    // 3. Deletions: index files before the crate files they named.
    for (p, _) in removals.iter().filter(|(_, k)| !k.is_crate()) {
        store.remove(Area::Public, p)?;
    }
    store.sync()?;
    crash::point("before-crate-removal");
    for (p, _) in removals.iter().filter(|(_, k)| k.is_crate()) {
        store.remove(Area::Public, p)?;
    }
    store.sync()?;

    // 4. The git index.
    if registry_index {
        crash::point("before-git");
        writer.sync_git_whole(&format!("Import export {}", short(&staged.manifest.id)))?;
    }
    writer.done()?;
    if !writes.is_empty() || !removals.is_empty() {
        crate::ops::site::rebuild_after_change(writer.reg, writer.printer);
    }
    report.written = writes.len();
    report.bytes = writes
        .iter()
        .filter_map(|(p, _)| staged.manifest.files.get(p))
        .map(|s| s.size)
        .sum();
    report.removed = removals.len();
    Ok(report)
}

fn take(staged: &mut Staged, p: &str) -> Result<tempfile::TempPath> {
    staged
        .files
        .remove(p)
        .ok_or_else(|| anyhow!("`{p}` was not staged"))
}
