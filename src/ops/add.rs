//! Adding crates: the one function behind `ktra add` and the publish API. Inputs are inspected
//! in parallel without the lock; then, under the lock, they are checked against the registry
//! (name collisions, existing versions), the crate files are made durable, the index files are
//! written in dependency order, and the git index follows. Either every input is added or none.

use super::add_plan::{Plan, plan};
use super::change::{SiteEffect, Tx};
use super::inspect::{self, CrateInput, InspectOptions, Prepared};
use crate::printer::Printer;
use crate::registry::{Registry, keys};
use crate::storage::{Area, LockMode, RegistryLock};
use anyhow::{Context, Result, anyhow};
use rayon::prelude::*;
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    /// Largest crate file accepted, in bytes.
    pub max_size: Option<u64>,
    /// Extra index URLs that mean this registry (the loopback URL used while packaging).
    pub same_registry_urls: Vec<String>,
    /// The user publishing through the API: must own existing crates, becomes the owner of
    /// new ones. `None` for the command line (an administrator).
    pub publisher: Option<String>,
    /// Refuse a version that is already in the registry even when identical (the API's rule;
    /// the command line treats an identical file as a no-op).
    pub reject_existing: bool,
}

/// Refusals the publish API answers with their own status codes.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    NotOwner(String),
    #[error("{0}")]
    Exists(String),
}

/// What happened to one input.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AddedCrate {
    pub name: String,
    pub vers: String,
    pub cksum: String,
    pub size: u64,
    /// False when the identical file was already in the registry.
    pub new: bool,
}

pub fn add_crates(
    reg: &Registry,
    inputs: Vec<CrateInput>,
    opts: &AddOptions,
    printer: Printer,
) -> Result<Vec<AddedCrate>> {
    let identity = reg.identity(&opts.same_registry_urls);
    let pubtime = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    // A batch inspects crates in memory within a fixed budget; one crate (a publish) streams.
    let pool = crate::package::whole::Pool::default();
    let iopts = InspectOptions {
        identity: &identity,
        limits: &reg.config.limits,
        max_size: opts.max_size,
        pubtime: &pubtime,
        pool: (inputs.len() > 1).then_some(&pool),
    };
    let bar = printer.progress(inputs.len() as u64, "Inspecting");
    let results: Vec<Result<Prepared>> = inputs
        .into_par_iter()
        .map(|input| {
            let r = inspect::prepare(&reg.store, input, &iopts);
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();
    drop(pool);
    // Inspection made the index folders of new crates ahead; a refused add takes them away.
    let folders: Vec<String> = results
        .iter()
        .flatten()
        .filter_map(|p| keys::index(&p.entry.name).ok())
        .collect();
    let prepared = match all_or_nothing(results) {
        Ok(p) => p,
        Err(e) if reg.store.is_remote() => return Err(e),
        Err(e) => {
            let state = reg.store.path(Area::State, "");
            // Not worth a long wait: at worst empty folders stay, which cargo ignores.
            let wait = Duration::from_secs(2).min(reg.config.lock_timeout.effective());
            if let Ok(_lock) =
                RegistryLock::acquire_within(&state, LockMode::Exclusive, wait, || {})
            {
                remove_unused_folders(reg, &folders);
            }
            return Err(e);
        }
    };
    let added = reg.change("add", printer, |tx| add_locked(tx, prepared, opts));
    if added.is_err() {
        remove_unused_folders(reg, &folders);
    }
    added
}

/// Index folders of crates that did not get an index file, while they are empty.
fn remove_unused_folders(reg: &Registry, index_keys: &[String]) {
    for key in index_keys {
        if !reg.store.exists(Area::Public, key) {
            reg.store.remove_empty_parents(Area::Public, key);
        }
    }
}

/// The add, under the registry lock: checks against the registry, then the writes.
fn add_locked(
    tx: &mut Tx<'_>,
    prepared: Vec<Prepared>,
    opts: &AddOptions,
) -> Result<Vec<AddedCrate>> {
    let reg = tx.registry();
    let plan = plan(reg, prepared)?;
    if opts.reject_existing
        && let Some(a) = plan.unchanged.first()
    {
        return Err(Refusal::Exists(format!(
            "crate version `{}@{}` is already uploaded",
            a.name, a.vers
        ))
        .into());
    }
    let mut new_owners = Vec::new();
    if let Some(login) = &opts.publisher {
        for (crate_name, _) in &plan.new {
            match crate::auth::store::owners(reg.state()?, crate_name)? {
                Some(owners) if owners.iter().any(|o| o == login) => {}
                Some(_) => {
                    return Err(Refusal::NotOwner(format!(
                        "`{login}` is not an owner of crate `{crate_name}`"
                    ))
                    .into());
                }
                None if plan
                    .existing
                    .get(&keys::index(crate_name)?)
                    .is_some_and(|f| !f.is_empty()) =>
                {
                    return Err(Refusal::NotOwner(format!(
                        "crate `{crate_name}` has no owners; an administrator can add one with `ktra owner add {crate_name} {login}`"
                    ))
                    .into());
                }
                None => new_owners.push(crate_name.clone()),
            }
        }
    }
    let report: Vec<AddedCrate> = plan.report();
    if plan.new.is_empty() {
        return Ok(report);
    }
    // The first publisher owns a new crate. Recorded before the crate is written: a crash in
    // between leaves the name reserved for that publisher (who can publish again), never a
    // crate without owners.
    // On object storage two publishers of a new crate race: the first to record owners wins,
    // the other is refused as a non-owner.
    if let Some(login) = &opts.publisher {
        for crate_name in new_owners {
            if let Some(owners) =
                crate::auth::store::claim_owners(reg.state()?, &crate_name, login)?
                && !owners.iter().any(|o| o == login)
            {
                return Err(Refusal::NotOwner(format!(
                    "`{login}` is not an owner of crate `{crate_name}`"
                ))
                .into());
            }
        }
    }
    write(tx, plan)?;
    Ok(report)
}

/// One error ends the whole call; all errors are named.
fn all_or_nothing(results: Vec<Result<Prepared>>) -> Result<Vec<Prepared>> {
    let (ok, errs): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    let mut errs: Vec<anyhow::Error> = errs
        .into_iter()
        .map(|e| e.err().expect("partitioned"))
        .collect();
    match errs.len() {
        0 => Ok(ok.into_iter().map(|r| r.expect("partitioned")).collect()),
        1 => Err(errs.remove(0)),
        n => {
            let list: Vec<String> = errs.iter().map(|e| format!("{e:#}")).collect();
            Err(anyhow!(
                "{n} crates could not be added, so none were:\n  {}",
                list.join("\n  ")
            ))
        }
    }
}

fn write(tx: &mut Tx<'_>, mut plan: Plan) -> Result<()> {
    let reg = tx.registry();
    let printer = tx.printer();
    // The site is rendered from the new index files and metadata while the change lands.
    let site = crate::ops::site::enabled(reg);
    let mut sources = Vec::with_capacity(plan.new.len());
    let mut groups = Vec::with_capacity(plan.new.len());
    // 1. The crate files and the crates' metadata.
    for (crate_name, list) in plan.new {
        let single = list.len() == 1;
        let mut entries = Vec::with_capacity(list.len());
        let mut added = Vec::with_capacity(list.len());
        let mut ahead = None;
        for p in list {
            tx.put_crate(&p.entry.name, &p.entry.vers, p.temp)?;
            printer.status("Adding", format!("{} v{}", p.entry.name, p.entry.vers));
            if single {
                ahead = p.index_temp;
            }
            added.push((p.entry.vers.clone(), p.meta, p.readme));
            entries.push(p.entry);
        }
        let key = keys::index(&crate_name)?;
        let mut file = plan.existing.remove(&key).unwrap_or_default();
        let mut new_lines = Vec::with_capacity(entries.len());
        for entry in &entries {
            let vers = semver::Version::parse(&entry.vers)
                .with_context(|| format!("`{}` is not a version", entry.vers))?;
            let line = entry.to_line();
            file.push(line.clone())
                .context("failed to build an index line")?;
            new_lines.push((vers, line));
        }
        if site {
            use crate::ops::site::meta_store;
            let bytes = tx.modify_state(&meta_store::key(&crate_name), |old| {
                let mut meta = meta_store::parse(&crate_name, old)?;
                meta.record_added(&file, added.clone());
                Ok(meta.to_bytes())
            })?;
            let meta = meta_store::parse(&crate_name, Some(&bytes))?;
            sources.push(crate::ops::site::CrateSource {
                name: crate_name.clone(),
                file,
                meta,
                tag: None,
            });
        }
        groups.push((crate_name, new_lines, ahead));
    }
    // 2. The index files, dependencies first (the plan's order).
    let mut lines: Vec<(String, Vec<String>)> = Vec::with_capacity(groups.len());
    for (crate_name, new_lines, ahead) in groups {
        tx.modify_index(&crate_name, ahead, |file| {
            for (vers, line) in &new_lines {
                // Checked again here: on object storage another writer may have added it.
                if file.get_ignoring_build(vers).is_some() {
                    return Err(Refusal::Exists(format!(
                        "crate version `{crate_name}@{vers}` is already uploaded"
                    ))
                    .into());
                }
                file.push(line.clone())
                    .context("failed to build an index line")?;
            }
            Ok(())
        })?;
        lines.push((crate_name, new_lines.into_iter().map(|(_, l)| l).collect()));
    }
    tx.message(commit_message(&lines));
    tx.site(match site {
        true => SiteEffect::Sources(sources),
        false => SiteEffect::None,
    });
    Ok(())
}

fn commit_message(lines: &[(String, Vec<String>)]) -> String {
    let versions: usize = lines.iter().map(|(_, l)| l.len()).sum();
    match lines {
        [(name, l)] if l.len() == 1 => {
            let vers = serde_json::from_str::<serde_json::Value>(&l[0])
                .ok()
                .and_then(|v| v["vers"].as_str().map(str::to_owned))
                .unwrap_or_default();
            format!("Add {name} {vers}")
        }
        _ => format!("Add {versions} versions of {} crates", lines.len()),
    }
}
