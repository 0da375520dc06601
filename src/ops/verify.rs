//! `ktra verify`: the whole tree checked the way cargo would use it. Every index line parses as
//! cargo parses it, paths are canonical, every crate file exists with the right checksum,
//! nothing is orphaned, no versions collide, same-registry dependencies can be satisfied,
//! `config.json` matches the settings and the git index matches the sparse one. Differences an
//! interrupted change (recorded in the journal) explains are reported as such, not as damage.
//! `ktra verify --fix` then removes orphan crate files ([`fix`]), and nothing else.

use crate::index::{IndexPackage, RegistryConfig, entry, file::same_ignoring_build, name};
use crate::registry::{Registry, keys};
use crate::storage::{Area, Journal, LockMode, RegistryLock, git};
use anyhow::Result;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub mod fix;
pub use fix::verify_and_fix;

#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    pub crates: usize,
    pub versions: usize,
    pub problems: Vec<String>,
    /// What the mirror holds, when the tree has one.
    pub mirror: Option<crate::mirror::verify::MirrorReport>,
    /// Set when an interrupted change is pending completion.
    pub interrupted: Option<String>,
    /// Debris of a killed process that the next change removes by itself (stale git lock
    /// files), and on object storage crate files no index line names yet: reported, but not
    /// damage.
    pub pending: Vec<String>,
    /// With `--fix`: the orphan crate files removed (public keys, `crates/NAME-VERS.crate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed: Option<Vec<String>>,
    /// Public keys of the files under `crates/` that no index line names: on the local tree
    /// those the journal does not explain (each is also a problem, [`orphan_problem`]), on
    /// object storage all of them (each is also pending, [`orphan_pending`]).
    #[serde(skip)]
    pub orphans: Vec<String>,
}

/// The problem a file under `crates/` that no index line names is on the local tree.
pub fn orphan_problem(key: &str) -> String {
    format!("`public/{key}` is not referenced by any index line (orphaned)")
}

/// What a file under `crates/` that no index line names is on object storage: pending.
pub fn orphan_pending(key: &str) -> String {
    format!(
        "`{key}` is not referenced by any index line: a crate file put by a writer that is still \
         running, or that was stopped before its index line (`ktra verify --fix` removes it once \
         it is older than {})",
        humantime::format_duration(fix::DEFAULT_GRACE)
    )
}

/// Reads without the lock, so writers are not held up on a large registry. What a writer in
/// the middle of a change makes look wrong (or pending) is checked again with writers held off
/// (the lock, shared), and that second reading is the report.
pub fn verify(reg: &Registry) -> Result<Report> {
    // A file or folder a writer removed while it was being read is an error, not a finding:
    // that too is read again.
    if let Ok(first) = verify_once(reg)
        && first.problems.is_empty()
        && first.interrupted.is_none()
        && first.pending.is_empty()
    {
        return Ok(first);
    }
    if reg.store.is_remote() {
        // No lock on object storage: a second reading is the report.
        return verify_once(reg);
    }
    let wait = reg.config.lock_timeout.effective();
    let state = reg.store.path(Area::State, "");
    let _lock = RegistryLock::acquire_within(&state, LockMode::Shared, wait, || {})?;
    let mirror = reg.store.path(Area::State, crate::mirror::layout::LOCK_DIR);
    let mirror_lock = format!("{}/lock", crate::mirror::layout::LOCK_DIR);
    let _mirror = match reg.store.exists(Area::State, &mirror_lock) {
        true => Some(RegistryLock::acquire_within(
            &mirror,
            LockMode::Shared,
            wait,
            || {},
        )?),
        false => None,
    };
    verify_once(reg)
}

/// [`verify`] for a caller that holds the registry lock already (one reading, no lock taken).
pub fn verify_held(reg: &Registry) -> Result<Report> {
    verify_once(reg)
}

fn verify_once(reg: &Registry) -> Result<Report> {
    let store = &reg.store;
    let mut report = Report::default();
    let journal = Journal::load(store)?.unwrap_or_default();
    if !journal.op.is_empty() {
        report.interrupted = Some(journal.op.clone());
    }
    let pending_crates: BTreeSet<&str> =
        journal.crate_files.iter().map(|p| p.key.as_str()).collect();
    let pending_index: BTreeSet<&str> = journal.index_files.iter().map(String::as_str).collect();
    let problems = &mut report.problems;

    // Git blob ids of the sparse files, taken as each is read, for the git comparison.
    let with_git = reg.config.git.enabled;
    let mut blobs: Vec<(String, Option<git2::Oid>)> = Vec::new();
    let blob_of = |bytes: &[u8]| {
        if with_git {
            git::blob_id(bytes).ok()
        } else {
            None
        }
    };

    // config.json
    let want_config = reg.registry_config();
    let config_bytes = store.read(Area::Public, keys::CONFIG_JSON)?;
    blobs.push((
        keys::CONFIG_JSON.to_owned(),
        blob_of(config_bytes.as_deref().unwrap_or_default()),
    ));
    match config_bytes {
        None => problems.push("`public/index/config.json` is missing".into()),
        Some(bytes) => match serde_json::from_slice::<RegistryConfig>(&bytes) {
            Ok(c) if c == want_config => {}
            Ok(_) => problems.push(
                "`public/index/config.json` does not match `ktra.toml` (run `ktra rebuild`)".into(),
            ),
            Err(e) => problems.push(format!("`public/index/config.json` does not parse: {e}")),
        },
    }

    // Index files.
    let mut entries: BTreeMap<String, Vec<IndexPackage>> = BTreeMap::new();
    let mut expected_crates: BTreeMap<String, String> = BTreeMap::new();
    for key in store.walk(Area::Public, "index")? {
        if key == keys::CONFIG_JSON {
            continue;
        }
        let bytes = store.read(Area::Public, &key)?.unwrap_or_default();
        if store.is_remote() && bytes.iter().all(u8::is_ascii_whitespace) {
            // Object storage keeps the index file of a crate whose last version was removed,
            // empty (a removal cannot be made conditional): a crate with no versions.
            continue;
        }
        check_index_file(&key, &bytes, problems, &mut entries, &mut expected_crates);
        blobs.push((key, blob_of(&bytes)));
    }
    report.crates = entries.len();
    report.versions = entries.values().map(Vec::len).sum();

    // Crate files: present, right checksum, nothing orphaned.
    let on_disk: BTreeSet<String> = store.walk(Area::Public, "crates")?.into_iter().collect();
    for key in expected_crates.keys() {
        if !on_disk.contains(key) {
            problems.push(format!("crate file `public/{key}` is missing"));
        }
    }
    for key in on_disk.iter().filter(|k| !expected_crates.contains_key(*k)) {
        if store.is_remote() {
            report.pending.push(orphan_pending(key));
            report.orphans.push(key.clone());
        } else if !pending_crates.contains(key.as_str()) {
            problems.push(orphan_problem(key));
            report.orphans.push(key.clone());
        }
    }
    let checks: Vec<(&String, &String)> = expected_crates
        .iter()
        .filter(|(k, _)| on_disk.contains(*k))
        .collect();
    let bad: Vec<String> = checks
        .par_iter()
        .filter_map(|(key, want)| {
            let mut h = Sha256::new();
            match store.stream(Area::Public, key, |chunk| h.update(chunk)) {
                Ok(true) => {
                    let got = format!("{:x}", h.finalize());
                    (got != **want).then(|| {
                        format!("`public/{key}` has checksum {got}, but its index line says {want}")
                    })
                }
                Ok(false) => None,
                Err(e) => Some(format!("{e:#}")),
            }
        })
        .collect();
    problems.extend(bad);

    check_dependencies(&entries, problems);
    check_collisions(&entries, problems);
    // An interrupted rebuild may leave any part of the git index stale until it is completed.
    if reg.config.git.enabled && !journal.whole_git {
        check_git(reg, &blobs, &pending_index, problems)?;
    }
    report.mirror = crate::mirror::verify::verify(reg, problems)?;
    if reg.config.git.enabled {
        for path in git::stale_locks(&reg.git_dir()) {
            let rel = path.strip_prefix(reg.store.public_dir()).unwrap_or(&path);
            report.pending.push(format!(
                "`public/{}` is a stale git lock file left by a killed process: the git index is \
                 not updated until the next change (or `ktra rebuild`) removes it",
                rel.display()
            ));
        }
    }
    Ok(report)
}

fn check_index_file(
    key: &str,
    bytes: &[u8],
    problems: &mut Vec<String>,
    entries: &mut BTreeMap<String, Vec<IndexPackage>>,
    expected_crates: &mut BTreeMap<String, String>,
) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        problems.push(format!("`public/{key}` is not UTF-8"));
        return;
    };
    let mut list: Vec<IndexPackage> = Vec::new();
    for (i, line) in text
        .split('\n')
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let at = format!("`public/{key}` line {}", i + 1);
        let pkg = match entry::parse_strict(line) {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!("{at}: {e}"));
                continue;
            }
        };
        if let Err(e) = name::CrateName::new(&pkg.name) {
            // Not a name: never turned into a path.
            problems.push(format!("{at}: {e}"));
            continue;
        }
        let belongs = keys::index(&pkg.name).unwrap_or_default();
        if belongs != key {
            problems.push(format!(
                "{at}: crate `{}` belongs in `public/{belongs}`",
                pkg.name,
            ));
        }
        if let Some(first) = list.first().filter(|f| f.name != pkg.name) {
            problems.push(format!(
                "{at}: name `{}` differs from `{}` on the first line",
                pkg.name, first.name
            ));
        }
        let v = pkg.version().expect("checked by parse_strict");
        if let Some(dup) = list
            .iter()
            .find(|o| same_ignoring_build(&o.version().expect("checked"), &v))
        {
            problems.push(format!(
                "{at}: version `{}` collides with version `{}`",
                pkg.vers, dup.vers
            ));
        }
        expected_crates.insert(keys::crate_file(&pkg.name, &pkg.vers), pkg.cksum.clone());
        list.push(pkg);
    }
    if list.is_empty() {
        problems.push(format!("`public/{key}` holds no valid lines"));
    } else {
        entries.insert(list[0].name.clone(), list);
    }
}

/// Every same-registry dependency must match at least one version (yanked ones count: a
/// lock file may still pin them).
fn check_dependencies(entries: &BTreeMap<String, Vec<IndexPackage>>, problems: &mut Vec<String>) {
    let versions: HashMap<&str, Vec<semver::Version>> = entries
        .iter()
        .map(|(n, l)| {
            (
                n.as_str(),
                l.iter().filter_map(IndexPackage::version).collect(),
            )
        })
        .collect();
    for list in entries.values() {
        for pkg in list {
            for dep in pkg.deps.iter().filter(|d| d.registry.is_none()) {
                let Ok(req) = semver::VersionReq::parse(&dep.req) else {
                    continue;
                };
                let ok = versions
                    .get(dep.package_name())
                    .is_some_and(|vs| vs.iter().any(|v| req.matches(v)));
                if !ok {
                    problems.push(format!(
                        "`{}@{}` depends on `{} {}` from this registry, which no version satisfies",
                        pkg.name,
                        pkg.vers,
                        dep.package_name(),
                        dep.req
                    ));
                }
            }
        }
    }
}

/// No two crates share a name once case and `-`/`_` are folded.
fn check_collisions(entries: &BTreeMap<String, Vec<IndexPackage>>, problems: &mut Vec<String>) {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for n in entries.keys() {
        if let Some(other) = seen.insert(name::canonical(n), n) {
            problems.push(format!(
                "crates `{other}` and `{n}` collide (same name ignoring case and `-`/`_`)"
            ));
        }
    }
}

fn check_git(
    reg: &Registry,
    sparse: &[(String, Option<git2::Oid>)],
    pending: &BTreeSet<&str>,
    problems: &mut Vec<String>,
) -> Result<()> {
    let git = match reg.git() {
        Ok(Some(g)) => g,
        Ok(None) => return Ok(()),
        Err(e) => {
            problems.push(format!("{e:#}"));
            return Ok(());
        }
    };
    let mut tree = git.files()?;
    for (key, blob) in sparse {
        let rel = key.strip_prefix("index/").unwrap_or(key);
        let same = tree.remove(rel).is_some_and(|oid| Some(oid) == *blob);
        if !same && !pending.contains(key.as_str()) {
            problems.push(format!("the git index differs from `public/{key}`"));
        }
    }
    for rel in tree.keys() {
        if !pending.contains(format!("index/{rel}").as_str()) {
            problems.push(format!(
                "the git index has `{rel}`, which the sparse index does not"
            ));
        }
    }
    let info = reg
        .store
        .read(Area::Public, &format!("{}/info/refs", git::DIR))?;
    if git.expected_info_refs().map(String::into_bytes) != info && pending.is_empty() {
        problems.push(
            "`public/index.git/info/refs` is stale; dumb-HTTP git clients would see an old index"
                .into(),
        );
    }
    Ok(())
}
