//! `ktra migrate`: copy a local registry into object storage (`--to s3://…`), or a registry in
//! object storage into a new local folder (`--to DIR`), verified.
//!
//! The source is never modified; a local one is read under its lock (held exclusively, so no
//! change and no second migrate can run meanwhile). The index files are read once, first (a
//! snapshot); the crate files copied are exactly those the snapshot's lines point at.
//!
//! Order on the target, so that it only looks like a registry once it is complete:
//! a marker (`migrate.json` in the private location) naming the source, then the crate files
//! (put-if-absent on object storage), the mirror's crate files, the private files (users, token
//! hashes, owners, crate metadata, the site's state, the audit log), the site's pages as they
//! are, the index files, the mirror's index files and its `config.json`, the upstream's index
//! files as last fetched (what lets the next `sync-mirror` revalidate), `config.json` (written
//! from the target's settings), then a `ktra verify` of the target, the settings (`ktra.toml`),
//! and last the marker's removal. Every object written is read back and compared with the source
//! by size and sha256 (crate files also against their line's `cksum`).
//!
//! The mirror keeps its own invariants on the way: no mirrored line is written before its crate
//! file, and the upstream copies are never newer than the mirrored lines (a copy newer than its
//! lines would make the next sync's 304 skip a change the lines lack): they are written after
//! the mirror's index files and, from object storage (no lock), read before them.
//!
//! A target holding a registry, or anything but an earlier, unfinished migrate of the same
//! source, is refused before anything is written. Re-running an interrupted migrate skips what
//! is already there with the same bytes, overwrites derived files that changed, refuses a crate
//! file with other bytes, and removes what the source no longer has.

mod copy;

use crate::config::{self, Config, GitSettings};
use crate::index::file::IndexFile;
use crate::mirror::layout;
use crate::printer::Printer;
use crate::registry::{Registry, keys};
use crate::storage::{Area, Location, LockMode, RegistryLock, Store, crash};
use anyhow::{Context, Result, bail};
pub use copy::Counts;
use copy::Item;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The private key of the marker an unfinished migrate leaves on its target.
pub const MARKER: &str = "migrate.json";

/// Where a registry is migrated to.
pub enum Destination {
    /// Object storage: the served files and the private files, and the folder that gets the
    /// new `ktra.toml` (`None`: beside the source folder, `NAME-s3/`).
    Buckets {
        storage: String,
        state: String,
        settings_dir: Option<PathBuf>,
    },
    /// A new local folder; `git`: keep a git index there (built from the copied index).
    Folder { dir: PathBuf, git: bool },
}

pub struct MigrateOptions {
    pub to: Destination,
    /// The base URL the copy is served at (default: the source's).
    pub url: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct MigrateReport {
    /// Where the registry now is (`s3://…` or a folder).
    pub target: String,
    /// The new registry's settings file.
    pub settings: PathBuf,
    /// An earlier, unfinished migrate of the same source was continued.
    pub resumed: bool,
    pub crate_files: Counts,
    pub index_files: Counts,
    pub private_files: Counts,
    pub site_files: Counts,
    /// Objects of an earlier, unfinished migrate that the source no longer has.
    pub removed: usize,
    /// The site was rebuilt on the target (its URL changed) instead of copied as it is.
    pub site_rebuilt: bool,
    /// A git index was built in the target folder.
    pub git_index: bool,
    /// The registry has a mirror (`public/mirror/`), copied with it.
    pub mirror: bool,
    pub mirror_crate_files: Counts,
    pub mirror_index_files: Counts,
    /// The upstream's index files as last fetched (`mirror/upstream/` in the private location).
    pub mirror_upstream_files: Counts,
    /// The mirror's `config.json` was written for the new URL instead of copied.
    pub mirror_config_rewritten: bool,
    /// What was deliberately not copied, and why.
    pub not_copied: Vec<String>,
    /// What `ktra verify` found on the target.
    pub crates: usize,
    pub versions: usize,
    pub mirror_crates: usize,
    pub mirror_versions: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Marker {
    /// The source: its folder, or its `s3://` location.
    source: String,
    /// The registry's name.
    name: String,
}

/// The registry being written.
struct Target {
    reg: Registry,
    /// `s3://…` or the folder, for messages.
    shown: String,
    settings_file: PathBuf,
    /// What the target held before this run (an unfinished migrate's objects).
    existing: BTreeSet<(Area, String)>,
    resumed: bool,
}

pub fn migrate(src: &Registry, opts: MigrateOptions, printer: Printer) -> Result<MigrateReport> {
    let remote = src.store.is_remote();
    match (&opts.to, remote) {
        (Destination::Buckets { .. }, true) => bail!(
            "the registry already lives in object storage (`{}`): migrate it to a folder \
             (`--to DIR`) first",
            src.config.storage.as_ref().map_or("", |s| s.url.as_str())
        ),
        (Destination::Folder { .. }, false) => bail!(
            "the registry is already a local folder: `--to DIR` copies a registry in object \
             storage into a folder (copy the folder itself, or use `ktra export` and `ktra import`)"
        ),
        _ => {}
    }
    // A local source is read under its lock: no change lands while it is copied. The mirror's
    // lock too, when it has one (taken after the registry's, as every command does): no
    // `sync-mirror` or pull-through lands while the mirror is copied.
    let _lock = match remote {
        true => None,
        false => Some(RegistryLock::acquire_within(
            &src.store.path(Area::State, ""),
            LockMode::Exclusive,
            src.config.lock_timeout.effective(),
            || {
                printer.status(
                    "Blocking",
                    "waiting for another ktra process to finish with the registry",
                )
            },
        )?),
    };
    let mirror_lock = format!("{}/lock", layout::LOCK_DIR);
    let _mirror_lock =
        match !remote && (src.store.exists(Area::State, &mirror_lock) || layout::exists(src)) {
            true => Some(crate::mirror::commit::lock_for_command(src, printer)?),
            false => None,
        };
    let checked = match remote {
        true => crate::ops::verify::verify(src)?,
        false => crate::ops::verify::verify_held(src)?,
    };
    if let Some(op) = &checked.interrupted {
        bail!(
            "an interrupted `{op}` change is pending in the registry: complete it first (any \
             change does, or `ktra rebuild`), then migrate"
        );
    }
    if let Some(first) = checked.problems.first() {
        bail!(
            "the registry does not verify ({} problems; see `ktra verify`), so it is not copied: \
             {first}",
            checked.problems.len()
        );
    }
    let marker = Marker {
        source: describe(src),
        name: src.config.name.clone(),
    };
    let target = open_target(src, &opts, &marker, printer)?;
    let mut report = MigrateReport {
        target: target.shown.clone(),
        settings: target.settings_file.clone(),
        resumed: target.resumed,
        ..MigrateReport::default()
    };
    if target.resumed {
        printer.status(
            "Resuming",
            format!(
                "an unfinished migrate of this registry to {}: what is there with the same bytes \
                 is kept",
                target.shown
            ),
        );
    }
    copy_registry(src, &target, &mut report, printer)?;
    Ok(report)
}

fn copy_registry(
    src: &Registry,
    target: &Target,
    report: &mut MigrateReport,
    printer: Printer,
) -> Result<()> {
    let store = &src.store;
    let dst = &target.reg.store;
    // The upstream's index files as last fetched. From object storage (no lock) they are read
    // now, before the mirror's index files: a sync writes its lines before its copies, so none
    // read here is newer than the lines read next. From a locked folder, when copied.
    let upstream_keys: Vec<String> = store
        .walk(Area::State, layout::UPSTREAM_DIR)?
        .into_iter()
        .filter(|k| is_upstream_copy(k))
        .collect();
    let upstream_held: BTreeMap<String, Vec<u8>> = match store.is_remote() {
        true => copy::read_all(store, Area::State, upstream_keys.clone())?
            .into_iter()
            .filter_map(|(k, b)| Some((k, b?)))
            .collect(),
        false => BTreeMap::new(),
    };
    // The index, once: what is copied is what these lines say.
    let mut index: Vec<(String, Vec<u8>)> = Vec::new();
    let mut crate_files: BTreeMap<String, String> = BTreeMap::new();
    for key in store.walk(Area::Public, "index")? {
        if key == keys::CONFIG_JSON {
            continue;
        }
        let bytes = store.read(Area::Public, &key)?.unwrap_or_default();
        for line in String::from_utf8_lossy(&bytes).lines() {
            if line.trim().is_empty() {
                continue;
            }
            let pkg = crate::index::entry::parse_strict(line)
                .map_err(|e| anyhow::anyhow!("`public/{key}`: {e}"))?;
            crate_files.insert(keys::crate_file(&pkg.name, &pkg.vers), pkg.cksum);
        }
        index.push((key, bytes));
    }
    let mirror = read_mirror(store)?;
    report.mirror = mirror.config.is_some() || !mirror.index.is_empty();
    let mut pages = Vec::new();
    let mut orphans = 0;
    let mut mirror_orphans = 0;
    let mut git = false;
    for key in store.walk(Area::Public, "")? {
        if key.starts_with("crates/") {
            orphans += usize::from(!crate_files.contains_key(&key));
        } else if key.starts_with(&format!("{}/", layout::CRATES_DIR)) {
            mirror_orphans += usize::from(!mirror.crate_files.contains_key(&key));
        } else if key.starts_with(&format!("{}/", crate::storage::git::DIR)) {
            git = true;
        } else if !key.starts_with("index/") && !key.starts_with(&format!("{}/", layout::INDEX_DIR))
        {
            pages.push(Item::plain(Area::Public, key));
        }
    }
    if !dst.is_remote() && !pages.iter().any(|p| p.key == ".nojekyll") {
        // A local registry has it (for GitHub Pages); object storage does not need it.
        pages.push(Item::plain(Area::Public, ".nojekyll".into()));
    }
    if git {
        report.not_copied.push(
            "`public/index.git/`: a registry in object storage has no git index (cargo reads \
             the sparse index)"
                .into(),
        );
    }
    if orphans > 0 {
        report.not_copied.push(format!(
            "{orphans} crate files no index line points at (a writer stopped before its index \
             line)"
        ));
    }
    if mirror_orphans > 0 {
        report.not_copied.push(format!(
            "{mirror_orphans} crate files of the mirror no mirrored line points at (a sync or \
             pull-through stopped before its index line; the next sync downloads them if needed)"
        ));
    }
    let mut upstream_git = false;
    let private: Vec<Item> = store
        .walk(Area::State, "")?
        .into_iter()
        .filter(|k| {
            upstream_git |= k.starts_with(&format!("{}/upstream.git/", layout::LOCK_DIR));
            copied_private(k) && !is_upstream_copy(k)
        })
        .map(|k| Item::plain(Area::State, k))
        .collect();
    report.not_copied.push(
        "private working files (the locks, temporary files, a pending change's journal)".into(),
    );
    if upstream_git {
        report.not_copied.push(format!(
            "`state/{}/upstream.git/`: the local clone of the upstream's git index (`sync-mirror \
             --all` fetches it again)",
            layout::LOCK_DIR
        ));
    }
    let crates: Vec<Item> = crate_files
        .iter()
        .map(|(key, cksum)| Item::crate_file(key.clone(), cksum.clone()))
        .collect();
    let mirror_crates: Vec<Item> = mirror
        .crate_files
        .iter()
        .map(|(key, cksum)| Item::crate_file(key.clone(), cksum.clone()))
        .collect();
    let upstream: Vec<Item> = upstream_keys
        .iter()
        .filter(|k| !store.is_remote() || upstream_held.contains_key(*k))
        .map(|k| Item::plain(Area::State, k.clone()))
        .collect();
    // The mirror's config.json: the source's, unless the address changed.
    let mirror_config = match (&mirror.config, target.reg.config.url == src.config.url) {
        (Some(bytes), true) => bytes.clone(),
        _ => {
            report.mirror_config_rewritten = report.mirror;
            layout::registry_config(&target.reg).to_bytes()
        }
    };

    let copier = copy::Copier::new(store, dst, target.resumed, printer);
    report.crate_files = copier.copy(&crates, "Copying", |_| None)?;
    crash::point("migrate-crates-copied");
    // The mirror's crate files, all before any of its lines.
    report.mirror_crate_files = copier.copy(&mirror_crates, "Copying", |_| None)?;
    crash::point("migrate-mirror-crates-copied");
    report.private_files = copier.copy(&private, "Copying", |_| None)?;
    report.site_files = copier.copy(&pages, "Copying", |item| {
        (item.key == ".nojekyll").then(Vec::new)
    })?;
    // An unfinished migrate's objects the source no longer has.
    let mut wanted: BTreeSet<(Area, String)> = BTreeSet::new();
    for item in crates
        .iter()
        .chain(&mirror_crates)
        .chain(&private)
        .chain(&pages)
        .chain(&upstream)
    {
        wanted.insert((item.area, item.key.clone()));
    }
    for (key, _) in index.iter().chain(&mirror.index) {
        wanted.insert((Area::Public, key.clone()));
    }
    if report.mirror {
        wanted.insert((Area::Public, layout::CONFIG_JSON.to_owned()));
    }
    wanted.insert((Area::Public, keys::CONFIG_JSON.to_owned()));
    wanted.insert((Area::State, MARKER.to_owned()));
    crash::point("migrate-before-index");
    let snapshot = |files: &[(String, Vec<u8>)]| -> Vec<Item> {
        files
            .iter()
            .map(|(k, _)| Item::plain(Area::Public, k.clone()))
            .collect()
    };
    let by_key: BTreeMap<&str, &Vec<u8>> = index
        .iter()
        .chain(&mirror.index)
        .map(|(k, b)| (k.as_str(), b))
        .collect();
    let held = |item: &Item| by_key.get(item.key.as_str()).map(|b| (*b).clone());
    report.index_files = copier.copy(&snapshot(&index), "Copying", held)?;
    if report.mirror {
        report.mirror_index_files = copier.copy(&snapshot(&mirror.index), "Copying", held)?;
        let config = [Item::plain(Area::Public, layout::CONFIG_JSON.to_owned())];
        copier.copy(&config, "Copying", |_| Some(mirror_config.clone()))?;
    }
    // The upstream copies after the lines they go with (as a sync writes them).
    report.mirror_upstream_files = copier.copy(&upstream, "Copying", |item| {
        upstream_held.get(&item.key).cloned()
    })?;
    // An unfinished migrate's objects the source no longer has, now that no index file copied
    // names them: crate files last, after the stale index files that may name them.
    let (stale_crates, stale): (Vec<_>, Vec<_>) = target
        .existing
        .difference(&wanted)
        .partition(|(area, key)| *area == Area::Public && is_crate_file(key));
    for (area, key) in stale.into_iter().chain(stale_crates) {
        dst.remove(*area, key)?;
        report.removed += 1;
    }
    if target.reg.config.url != src.config.url && crate::ops::site::enabled(&target.reg) {
        // The pages show the registry's address: made anew for the new one.
        crate::ops::site::build_all(&target.reg).context("failed to rebuild the site")?;
        report.site_rebuilt = true;
    }
    let config_json = target.reg.registry_config().to_bytes();
    if let Some(git) = target_git(&target.reg)? {
        let mut changes: Vec<crate::storage::git::Change> = index
            .iter()
            .map(|(k, b)| (k.trim_start_matches("index/").to_owned(), Some(b.clone())))
            .collect();
        changes.push(("config.json".into(), Some(config_json.clone())));
        git.commit(
            dst,
            &changes,
            &format!("Migrate the registry from {}", describe(src)),
            true,
        )
        .context("failed to build the git index")?;
        report.git_index = true;
    }
    crash::point("migrate-before-config");
    copier.put_config(&config_json)?;
    let verified = crate::ops::verify::verify(&target.reg)?;
    if let Some(first) = verified.problems.first() {
        // Not a registry until it verifies: the marker stays, so a re-run continues.
        let _ = dst.remove(Area::Public, keys::CONFIG_JSON);
        bail!(
            "the copy in {} does not verify ({} problems), so it was left unfinished (run the \
             same migrate again): {first}",
            target.shown,
            verified.problems.len()
        );
    }
    report.crates = verified.crates;
    report.versions = verified.versions;
    if let Some(m) = &verified.mirror {
        report.mirror_crates = m.crates;
        report.mirror_versions = m.versions;
    }
    crash::point("migrate-before-settings");
    if let Some(dir) = target.settings_file.parent() {
        // reason: the settings folder (it holds only ktra.toml), not registry data.
        #[allow(clippy::disallowed_methods)]
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create `{}`", dir.display()))?;
    }
    crate::ops::init::write_settings(&target.reg)?;
    dst.remove(Area::State, MARKER)?;
    dst.sync()?;
    Ok(())
}

/// The private files that belong to the registry, not to a running process. Of the mirror's
/// private folder only the upstream's index files as last fetched: not its lock, nor the local
/// clone of the upstream's git index (`upstream.git`, fetched again by `sync-mirror --all`).
fn copied_private(key: &str) -> bool {
    let first = key.split('/').next().unwrap_or_default();
    if first == layout::LOCK_DIR {
        return is_upstream_copy(key);
    }
    !(key == "lock" || key == crate::storage::Journal::KEY || key == MARKER || first == "tmp")
}

/// A private key of the upstream's index files as last fetched (`mirror/upstream/...`).
fn is_upstream_copy(key: &str) -> bool {
    key.strip_prefix(layout::UPSTREAM_DIR)
        .is_some_and(|rest| rest.len() > 1 && rest.starts_with('/'))
}

/// A public key of a crate file, the registry's or the mirror's.
fn is_crate_file(key: &str) -> bool {
    key.starts_with("crates/") || key.starts_with(&format!("{}/", layout::CRATES_DIR))
}

/// The mirror of a source, as read once at the start.
struct MirrorSnapshot {
    /// Its index files (`mirror/index/...`, without `config.json`) with their bytes.
    index: Vec<(String, Vec<u8>)>,
    /// The crate files its lines point at, with their `cksum`.
    crate_files: BTreeMap<String, String>,
    config: Option<Vec<u8>>,
}

fn read_mirror(store: &Store) -> Result<MirrorSnapshot> {
    let config = store.read(Area::Public, layout::CONFIG_JSON)?;
    let keys: Vec<String> = store
        .walk(Area::Public, layout::INDEX_DIR)?
        .into_iter()
        .filter(|k| k != layout::CONFIG_JSON)
        .collect();
    let mut index = Vec::new();
    let mut crate_files = BTreeMap::new();
    for (key, bytes) in copy::read_all(store, Area::Public, keys)? {
        // Gone meanwhile: no mirror change removes one, so it never was a mirror's file.
        let Some(bytes) = bytes else { continue };
        let file = IndexFile::parse(&bytes).map_err(|e| anyhow::anyhow!("`public/{key}`: {e}"))?;
        for line in &file.lines {
            crate_files.insert(
                layout::crate_file(&line.head.name, &line.head.vers),
                line.head.cksum.clone(),
            );
        }
        index.push((key, bytes));
    }
    Ok(MirrorSnapshot {
        index,
        crate_files,
        config,
    })
}

/// An entry of a destination folder other than `public/` and `state/` (the last one listed).
// reason: the folder that is to hold the new registry's settings, looked at as a whole before
// it is a registry.
#[allow(clippy::disallowed_methods)]
fn foreign_entry(root: &Path) -> Result<Option<String>> {
    let mut foreign = None;
    if root.exists() {
        for entry in std::fs::read_dir(root)
            .with_context(|| format!("failed to list `{}`", root.display()))?
        {
            let name = entry?.file_name();
            if name != Store::PUBLIC && name != Store::STATE {
                foreign = Some(name.to_string_lossy().into_owned());
            }
        }
    }
    Ok(foreign)
}

fn describe(reg: &Registry) -> String {
    match &reg.config.storage {
        Some(s) => s.url.clone(),
        None => reg.root().display().to_string(),
    }
}

fn target_git(reg: &Registry) -> Result<Option<crate::storage::git::GitIndex>> {
    if !reg.config.git.enabled {
        return Ok(None);
    }
    crate::storage::git::GitIndex::open_or_init(&reg.git_dir()).map(Some)
}

/// The target's settings: the source's, with the new location, URL and git setting.
fn target_config(src: &Registry, opts: &MigrateOptions) -> Result<Config> {
    let mut config = src.config.clone();
    if let Some(url) = &opts.url {
        let url = url.trim_end_matches('/').to_owned();
        config::check_url(&url).context("invalid `--url`")?;
        config.url = url;
    }
    match &opts.to {
        Destination::Buckets { storage, state, .. } => {
            config.storage = Some(Location::new(storage));
            config.state = Some(match config.state.take() {
                // Records in a database stay there; the private files go to `state`.
                Some(mut db) if crate::state::Kind::of_url(&db.url)?.is_database() => {
                    db.files = Some(state.clone());
                    db
                }
                _ => crate::state::StateSettings::new(state),
            });
            config.git = GitSettings {
                enabled: false,
                remote: None,
            };
        }
        Destination::Folder { git, .. } => {
            config.storage = None;
            config.state = match config.state.take() {
                Some(mut db) if crate::state::Kind::of_url(&db.url)?.is_database() => {
                    db.files = None;
                    Some(db)
                }
                _ => None,
            };
            config.git = GitSettings {
                enabled: *git,
                remote: None,
            };
        }
    }
    // The same checks as when it is read back (locations, URLs).
    Config::parse(&config.to_toml())
}

fn open_target(
    src: &Registry,
    opts: &MigrateOptions,
    marker: &Marker,
    printer: Printer,
) -> Result<Target> {
    let config = target_config(src, opts)?;
    let (root, shown) = match &opts.to {
        Destination::Buckets {
            storage,
            settings_dir,
            ..
        } => {
            let dir = match settings_dir {
                Some(d) => d.clone(),
                None => default_settings_dir(src.root()),
            };
            (std::path::absolute(&dir)?, storage.clone())
        }
        Destination::Folder { dir, .. } => {
            let dir = std::path::absolute(dir)?;
            let shown = format!("`{}`", dir.display());
            (dir, shown)
        }
    };
    let settings_file = root.join(config::FILE_NAME);
    // reason: ktra.toml in the settings folder, not registry data.
    #[allow(clippy::disallowed_methods)]
    let settings_text = std::fs::read_to_string(&settings_file);
    if let Ok(text) = settings_text {
        let unfinished = matches!(opts.to, Destination::Buckets { .. }) && text == config.to_toml();
        if !unfinished {
            bail!(
                "`{}` already exists: the new registry's settings need a folder of their own \
                 (nothing was copied)",
                settings_file.display()
            );
        }
    }
    let store = Registry::store_for(&config, root.clone())?;
    let reg = Registry::new(config, store);
    let remote = reg.store.is_remote();
    let mut existing = BTreeSet::new();
    for area in [Area::Public, Area::State] {
        for key in reg.store.walk(area, "")? {
            let local_debris = !remote
                && (area == Area::State && !copied_private(&key) && key != MARKER
                    || area == Area::Public
                        && key.starts_with(&format!("{}/", crate::storage::git::DIR)));
            if !local_debris {
                existing.insert((area, key));
            }
        }
    }
    // A folder holding anything beside public/ and state/ is someone else's.
    let foreign = match remote {
        true => None,
        false => foreign_entry(&root)?,
    };
    let found: Option<Marker> = match reg.store.read(Area::State, MARKER)? {
        Some(bytes) => Some(
            serde_json::from_slice(&bytes)
                .with_context(|| format!("failed to parse `{MARKER}` in {shown}"))?,
        ),
        None => None,
    };
    let resumed = match found {
        Some(m) if m == *marker => true,
        Some(m) => bail!(
            "{shown} holds an unfinished migrate of another registry (`{}` from {}): nothing was \
             copied",
            m.name,
            m.source
        ),
        None => {
            if existing.contains(&(Area::Public, keys::CONFIG_JSON.to_owned())) {
                bail!(
                    "{shown} already holds a registry (it has `{}`): nothing was copied",
                    keys::CONFIG_JSON
                );
            }
            if let Some(name) = &foreign {
                bail!(
                    "{shown} is not empty (it has `{name}`): migrate into a new folder (nothing \
                     was copied)"
                );
            }
            if let Some((area, key)) = existing.iter().next() {
                bail!(
                    "{shown} is not empty ({} {} objects, e.g. `{key}`): migrate into an empty \
                     location (nothing was copied)",
                    existing.len(),
                    match area {
                        Area::Public => "served",
                        Area::State => "private",
                    }
                );
            }
            false
        }
    };
    if !remote {
        reg.store
            .make_private_area()
            .with_context(|| format!("failed to create `{}`", root.display()))?;
    }
    if !resumed {
        copy::put_marker(&reg.store, &serde_json::to_vec_pretty(marker)?, &shown)?;
        printer.status("Migrating", format!("`{}` to {shown}", marker.source));
    }
    Ok(Target {
        reg,
        shown,
        settings_file,
        existing,
        resumed,
    })
}

/// `DIR-s3` beside the source folder.
pub fn default_settings_dir(source_root: &Path) -> PathBuf {
    let name = source_root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "registry".into());
    source_root
        .parent()
        .unwrap_or(source_root)
        .join(format!("{name}-s3"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_registrys_own_private_files_are_copied() {
        for kept in [
            "users/alice.json",
            "tokens/ab.json",
            "owners/x.json",
            "meta/x.json",
            "site/pages.json",
            "audit.jsonl",
            "mirror/upstream/se/rd/serde",
            "mirror/upstream/1/a",
        ] {
            assert!(copied_private(kept), "{kept}");
        }
        for left in [
            "lock",
            "pending.json",
            "migrate.json",
            "tmp/p-1-x/f",
            "mirror/lock",
            "mirror/upstream.git/HEAD",
            "mirror/upstream.git/objects/pack/p.pack",
            "mirror/upstream",
            "mirror/tmp-x",
        ] {
            assert!(!copied_private(left), "{left}");
        }
    }

    #[test]
    fn settings_go_beside_the_registry_folder_by_default() {
        assert_eq!(
            default_settings_dir(Path::new("/srv/registry")),
            Path::new("/srv/registry-s3")
        );
    }
}
