//! The checks of an add, under the lock: each new version against the registry (existing
//! versions, build-metadata twins, names that collide ignoring case and `-`/`_`, dependencies
//! this registry cannot satisfy) and against the other inputs of the same call. Reads only the
//! index files of the crates involved.

use super::add::AddedCrate;
use super::inspect::Prepared;
use crate::index::file::same_ignoring_build;
use crate::index::{IndexFile, name};
use crate::registry::{Registry, keys};
use crate::storage::Area;
use anyhow::{Context, Result, bail};
use std::collections::{BTreeMap, HashMap};

pub(super) struct Plan {
    /// New versions grouped by crate, in the order their index files are written.
    pub(super) new: Vec<(String, Vec<Prepared>)>,
    pub(super) unchanged: Vec<AddedCrate>,
    /// Existing index file per crate key (parsed), for appending.
    pub(super) existing: HashMap<String, IndexFile>,
}

impl Plan {
    pub(super) fn report(&self) -> Vec<AddedCrate> {
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
pub(super) fn plan(reg: &Registry, prepared: Vec<Prepared>) -> Result<Plan> {
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
        let index_key = keys::index(&crate_name)?;
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
                    let versions = match reg.store.read(Area::Public, &keys::index(target)?)? {
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
