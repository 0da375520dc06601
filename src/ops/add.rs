//! Adding crates: the one function behind `ktra add` and the publish API. Inputs are inspected
//! in parallel without the lock; then, under the lock, they are checked against the registry
//! (name collisions, existing versions), the crate files are made durable, the index files are
//! written in dependency order, and the git index follows. Either every input is added or none.

use super::inspect::{self, CrateInput, InspectOptions, Prepared};
use super::writer::Writer;
use crate::index::file::same_ignoring_build;
use crate::index::{IndexFile, name};
use crate::printer::Printer;
use crate::registry::{Registry, keys};
use crate::storage::{Area, Journal, PendingCrate};
use anyhow::{Context, Result, anyhow, bail};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    /// Largest crate file accepted, in bytes.
    pub max_size: Option<u64>,
    /// Extra index URLs that mean this registry (the loopback URL used while packaging).
    pub same_registry_urls: Vec<String>,
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
    let iopts = InspectOptions {
        identity: &identity,
        max_size: opts.max_size,
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
    let prepared = all_or_nothing(results)?;

    let writer = Writer::begin(reg, printer)?;
    let plan = plan(reg, prepared)?;
    let report: Vec<AddedCrate> = plan.report();
    if plan.new.is_empty() {
        return Ok(report);
    }
    write(&writer, plan)?;
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

struct Plan {
    /// New versions grouped by crate, in the order their index files are written.
    new: Vec<(String, Vec<Prepared>)>,
    unchanged: Vec<AddedCrate>,
    /// Existing index file per crate key (parsed), for appending.
    existing: HashMap<String, IndexFile>,
}

impl Plan {
    fn report(&self) -> Vec<AddedCrate> {
        let mut out = self.unchanged.clone();
        for (_, list) in &self.new {
            out.extend(list.iter().map(|p| added(p, true)));
        }
        out
    }
}

fn added(p: &Prepared, new: bool) -> AddedCrate {
    AddedCrate {
        name: p.entry.name.clone(),
        vers: p.entry.vers.clone(),
        cksum: p.entry.cksum.clone(),
        size: p.size,
        new,
    }
}

/// Checks every prepared crate against the registry and against each other.
fn plan(reg: &Registry, prepared: Vec<Prepared>) -> Result<Plan> {
    let mut by_crate: BTreeMap<String, Vec<Prepared>> = BTreeMap::new();
    let mut canon_owner: HashMap<String, String> = HashMap::new();
    for p in prepared {
        let canonical = name::canonical(&p.entry.name);
        if let Some(other) = canon_owner.get(&canonical)
            && *other != p.entry.name
        {
            bail!(
                "failed to add `{}`: crate `{}` collides with `{other}` in the same call (names are compared ignoring case and `-`/`_`)",
                p.label,
                p.entry.name
            );
        }
        canon_owner.insert(canonical, p.entry.name.clone());
        by_crate.entry(p.entry.name.clone()).or_default().push(p);
    }
    let mut plan = Plan {
        new: Vec::new(),
        unchanged: Vec::new(),
        existing: HashMap::new(),
    };
    for (crate_name, mut list) in by_crate {
        let index_key = keys::index(&crate_name);
        let file = match reg.store.read(Area::Public, &index_key)? {
            Some(bytes) => IndexFile::parse(&bytes)
                .with_context(|| format!("failed to read the index file of `{crate_name}`"))?,
            None => IndexFile::default(),
        };
        let holder = match file.crate_name() {
            Some(n) => (n != crate_name).then(|| n.to_owned()),
            None => collision(reg, &crate_name)?,
        };
        if let Some(other) = holder {
            bail!(
                "failed to add `{}`: crate `{crate_name}` collides with the existing crate `{other}` (names are compared ignoring case and `-`/`_`)",
                list[0].label
            );
        }
        list.sort_by_key(version);
        let mut fresh: Vec<Prepared> = Vec::new();
        for p in list {
            let v = version(&p);
            if let Some(line) = file.get_ignoring_build(&v) {
                check_same(&p, &line.head.vers, &line.head.cksum)?;
                plan.unchanged.push(added(&p, false));
            } else if let Some(prev) = fresh.iter().find(|f| same_ignoring_build(&version(f), &v)) {
                check_same(&p, &prev.entry.vers, &prev.entry.cksum)?;
            } else {
                fresh.push(p);
            }
        }
        if !fresh.is_empty() {
            plan.existing.insert(index_key, file);
            plan.new.push((crate_name, fresh));
        }
    }
    check_dependencies(reg, &plan)?;
    plan.new = super::order::dependency_order(plan.new);
    Ok(plan)
}

/// Every dependency on this registry must be satisfiable by a version already in it or added
/// in the same call (crates.io refuses a dependency on a crate it does not have). Reads only the
/// index files of the crates depended on.
fn check_dependencies(reg: &Registry, plan: &Plan) -> Result<()> {
    let mut known: HashMap<String, Vec<semver::Version>> = HashMap::new();
    for (crate_name, list) in &plan.new {
        known
            .entry(crate_name.clone())
            .or_default()
            .extend(list.iter().map(version));
    }
    for (_, list) in &plan.new {
        for p in list {
            for dep in p.entry.deps.iter().filter(|d| d.registry.is_none()) {
                let target = dep.package_name();
                if !known.contains_key(target) {
                    let versions = match reg.store.read(Area::Public, &keys::index(target))? {
                        Some(bytes) => IndexFile::parse(&bytes)
                            .map(|f| {
                                f.lines
                                    .into_iter()
                                    .filter(|l| l.head.name == target)
                                    .map(|l| l.version)
                                    .collect()
                            })
                            .unwrap_or_default(),
                        None => Vec::new(),
                    };
                    known.insert(target.to_owned(), versions);
                }
                let req = semver::VersionReq::parse(&dep.req)
                    .expect("checked when the manifest was read");
                if !known[target].iter().any(|v| req.matches(v)) {
                    bail!(
                        "failed to add `{}`: it depends on `{target} {}` from this registry, which has no matching version (add that first, or in the same call)",
                        p.label,
                        dep.req
                    );
                }
            }
        }
    }
    Ok(())
}

/// An existing crate whose name equals `crate_name` ignoring case and `-`/`_`. Looks only in
/// the few index directories such a crate could be in, so the cost does not grow with the
/// registry.
pub fn collision(reg: &Registry, crate_name: &str) -> Result<Option<String>> {
    let want = name::canonical(crate_name);
    for dir in crate::index::path::collision_dirs(crate_name) {
        for file in reg.store.list_dir(Area::Public, &format!("index/{dir}"))? {
            if name::canonical(&file) != want {
                continue;
            }
            let bytes = reg
                .store
                .read(Area::Public, &format!("index/{dir}/{file}"))?
                .unwrap_or_default();
            let found = IndexFile::parse(&bytes)
                .ok()
                .and_then(|f| f.crate_name().map(str::to_owned));
            let found = found.unwrap_or(file);
            if found != crate_name {
                return Ok(Some(found));
            }
        }
    }
    Ok(None)
}

fn version(p: &Prepared) -> semver::Version {
    semver::Version::parse(&p.entry.vers).expect("checked when the manifest was read")
}

/// An existing version is fine only when it is byte-identical.
fn check_same(p: &Prepared, existing_vers: &str, existing_cksum: &str) -> Result<()> {
    if existing_vers != p.entry.vers {
        bail!(
            "failed to add `{}`: `{}` version `{}` differs only in build metadata from version `{existing_vers}`, which is already in the registry",
            p.label,
            p.entry.name,
            p.entry.vers
        );
    }
    if existing_cksum != p.entry.cksum {
        bail!(
            "failed to add `{}`: `{}` version `{}` is already in the registry with different contents (a published version never changes; bump the version)",
            p.label,
            p.entry.name,
            p.entry.vers
        );
    }
    Ok(())
}

fn write(writer: &Writer<'_>, mut plan: Plan) -> Result<()> {
    let reg = writer.reg;
    let pubtime = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let journal = Journal {
        op: "add".into(),
        crate_files: plan
            .new
            .iter()
            .flat_map(|(_, l)| l.iter())
            .map(|p| PendingCrate {
                name: p.entry.name.clone(),
                vers: p.entry.vers.clone(),
                key: keys::crate_file(&p.entry.name, &p.entry.vers),
            })
            .collect(),
        index_files: plan.new.iter().map(|(n, _)| keys::index(n)).collect(),
    };
    writer.journal(&journal)?;

    // 1. Crate files, durable before any index line points at them.
    let mut lines: Vec<(String, Vec<String>)> = Vec::new();
    let mut crates = reg.store.batch().named("crates");
    for (crate_name, list) in plan.new {
        let mut new_lines = Vec::with_capacity(list.len());
        for p in list {
            let mut entry = p.entry;
            entry.pubtime = Some(pubtime.clone());
            crates.put_file(
                Area::Public,
                &keys::crate_file(&entry.name, &entry.vers),
                p.temp,
            );
            writer
                .printer
                .status("Adding", format!("{} v{}", entry.name, entry.vers));
            new_lines.push(entry.to_line());
        }
        lines.push((crate_name, new_lines));
    }
    crates.commit().context("failed to write the crate files")?;

    // 2. Index files, dependencies first.
    let mut index = reg.store.batch().named("index");
    for (crate_name, new_lines) in &lines {
        let key = keys::index(crate_name);
        let mut file = plan.existing.remove(&key).unwrap_or_default();
        for line in new_lines {
            file.push(line.clone())
                .context("failed to build an index line")?;
        }
        index.put(Area::Public, &key, &file.to_bytes())?;
    }
    index.commit().context("failed to write the index files")?;

    // 3. The git index.
    let message = commit_message(&lines);
    writer.sync_git(&journal.index_files, &message)?;
    writer.done()
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
