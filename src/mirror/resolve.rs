//! One round of a sync, as an async driver: fetch the index files of the wanted crates (each
//! at most once, conditionally), pick their versions, follow dependencies as they are found, and
//! download every picked version the mirror lacks while other index files are still arriving.

use super::cache;
use super::layout;
use super::select::{self, Want};
use super::upstream::{IndexFetch, Upstream, Validator};
use crate::index::file::IndexFile;
use crate::storage::{Area, Store};
use anyhow::{Context, Result};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tempfile::TempPath;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// What the round learned about one crate.
pub struct CrateRound {
    pub name: String,
    /// The mirror's current file for it (what it holds already).
    pub have: IndexFile,
    /// A newly fetched upstream file, staged as a cache file, when the upstream had changes.
    pub fresh: Option<TempPath>,
    /// Versions picked by this round that the mirror's file does not list yet.
    pub new: HashSet<String>,
    /// Versions picked in all (already mirrored or new).
    pub picked: usize,
    /// The mirror's new file for it, computed from the upstream file while it was at hand
    /// (`None` when unchanged).
    pub pruned: Option<Vec<u8>>,
    /// Whether `pruned` was computed.
    pub computed: bool,
    /// Crates (lowercase) the picked versions depend on: they are committed first.
    pub deps: Vec<String>,
    upstream: Option<IndexFile>,
    pending: Vec<(Want, Option<String>)>,
    fetched: bool,
    seen: HashSet<String>,
}

#[derive(Default)]
pub struct Counts {
    pub index_fetched: usize,
    pub index_unchanged: usize,
    pub downloaded: usize,
    pub reused: usize,
    pub bytes: u64,
}

pub struct Shared {
    pub store: Store,
    pub upstream: Upstream,
    pub jobs: Semaphore,
    pub dev: bool,
    pub progress: indicatif::ProgressBar,
}

enum Done {
    /// A crate's index file: the mirror's (read first) and the upstream's.
    Index(String, Result<IndexFile>, Result<IndexFetch>),
    Download(String, Result<Option<u64>>),
    /// Whether a mirrored version's crate file is there (name, version, checksum).
    Present(String, String, String, bool),
}

pub struct Round {
    shared: Arc<Shared>,
    /// Crates by lowercase name, and the order they were first wanted in.
    pub crates: HashMap<String, CrateRound>,
    pub order: Vec<String>,
    pub counts: Counts,
    pub failures: Vec<String>,
    pub warnings: Vec<String>,
    tasks: JoinSet<Done>,
    /// Keep parsed upstream files for later wants (only needed when following dependencies).
    keep_parsed: bool,
}

impl Round {
    pub fn new(shared: Arc<Shared>, keep_parsed: bool) -> Self {
        Self {
            shared,
            crates: HashMap::new(),
            order: Vec::new(),
            counts: Counts::default(),
            failures: Vec::new(),
            warnings: Vec::new(),
            tasks: JoinSet::new(),
            keep_parsed,
        }
    }

    /// Runs until every index file and download the wants lead to is done.
    pub async fn run(mut self, roots: Vec<(String, Want)>) -> Self {
        for (name, want) in roots {
            self.want(&name, want, None);
        }
        while let Some(done) = self.tasks.join_next().await {
            match done {
                Ok(Done::Index(key, have, result)) => self.index_arrived(&key, have, result),
                Ok(Done::Download(label, result)) => self.download_done(&label, result),
                Ok(Done::Present(name, vers, cksum, present)) => {
                    if !present {
                        self.download(name, vers, cksum);
                    }
                }
                Err(e) => self.failures.push(format!("a mirror task failed: {e}")),
            }
        }
        for c in self.crates.values_mut() {
            c.compute_pruned();
        }
        self
    }

    /// Records a want; `from` names the dependent for messages (`None` for roots).
    fn want(&mut self, name: &str, want: Want, from: Option<&str>) {
        if !select::is_safe_name(name) {
            let msg = format!("`{name}` is not a crate name the mirror can store");
            self.failures.push(msg);
            return;
        }
        let key = name.to_ascii_lowercase();
        if !self.crates.contains_key(&key) {
            self.crates.insert(
                key.clone(),
                CrateRound {
                    name: name.to_owned(),
                    // Read with the upstream's file, off this loop (the store may be remote).
                    have: IndexFile::default(),
                    fresh: None,
                    new: HashSet::new(),
                    picked: 0,
                    pruned: None,
                    computed: false,
                    deps: Vec::new(),
                    upstream: None,
                    pending: Vec::new(),
                    fetched: false,
                    seen: HashSet::new(),
                },
            );
            self.order.push(key.clone());
            let shared = self.shared.clone();
            let name = name.to_owned();
            let task_key = key.clone();
            self.tasks.spawn(async move {
                let _permit = shared.jobs.acquire().await;
                let store = shared.store.clone();
                let read_name = name.clone();
                let read = tokio::task::spawn_blocking(move || {
                    read_have(&store, &read_name)
                        .map(|have| (have, read_validator(&store, &read_name)))
                })
                .await
                .unwrap_or_else(|e| Err(anyhow::anyhow!("reading the mirror failed: {e}")));
                match read {
                    Ok((have, validator)) => Done::Index(
                        task_key,
                        Ok(have),
                        shared.upstream.index_file(&name, &validator).await,
                    ),
                    Err(e) => Done::Index(task_key, Err(e), Ok(IndexFetch::NotModified)),
                }
            });
        }
        let c = self.crates.get_mut(&key).expect("inserted above");
        if !c.seen.insert(format!("{want:?}")) {
            return;
        }
        let from = from.map(str::to_owned);
        if c.fetched {
            self.apply(&key, &want, from.as_deref());
        } else {
            c.pending.push((want, from));
        }
    }

    fn index_arrived(&mut self, key: &str, have: Result<IndexFile>, result: Result<IndexFetch>) {
        let c = self.crates.get_mut(key).expect("fetched crates are known");
        c.fetched = true;
        let pending = std::mem::take(&mut c.pending);
        match have {
            Ok(have) => c.have = have,
            Err(e) => return self.failures.push(format!("{e:#}")),
        }
        match result {
            Err(e) => {
                let msg = format!("failed to fetch the index file of `{}`: {e:#}", c.name);
                self.failures.push(msg);
                return;
            }
            Ok(IndexFetch::NotFound) => {
                let name = c.name.clone();
                for (_, from) in pending {
                    self.not_found(&name, from.as_deref());
                }
                return;
            }
            Ok(IndexFetch::NotModified) => self.counts.index_unchanged += 1,
            Ok(IndexFetch::Fresh {
                body,
                file,
                validator,
                dropped,
            }) => {
                self.counts.index_fetched += 1;
                self.warnings.extend(dropped);
                match stage_cache(&self.shared.store, &validator, &body) {
                    Ok(tmp) => {
                        c.fresh = Some(tmp);
                        c.upstream = Some(file);
                    }
                    Err(e) => return self.failures.push(format!("{e:#}")),
                }
            }
        }
        for (want, from) in pending {
            self.apply(key, &want, from.as_deref());
        }
        if !self.keep_parsed {
            // No later want can pick more versions: the new file is known now.
            let c = self.crates.get_mut(key).expect("known");
            c.compute_pruned();
            c.upstream = None;
        }
    }

    fn not_found(&mut self, name: &str, from: Option<&str>) {
        match from {
            None => self
                .failures
                .push(format!("the upstream has no crate `{name}`")),
            Some(dependent) => self.warnings.push(format!(
                "`{dependent}` depends on `{name}`, which the upstream does not have"
            )),
        }
    }

    /// Picks the versions `want` selects, schedules their downloads and follows their
    /// dependencies.
    fn apply(&mut self, key: &str, want: &Want, from: Option<&str>) {
        let c = self.crates.get_mut(key).expect("known");
        // A pinned version the mirror holds already needs no upstream file.
        if let Want::Exact { version, checksum } = want
            && let Some(line) = c.have.get(version)
        {
            if checksum.as_ref().is_some_and(|ck| *ck != line.head.cksum) {
                let msg = checksum_mismatch(&c.name, &line.head.vers);
                return self.failures.push(msg);
            }
            c.picked += 1;
            let (name, vers, cksum) = (
                line.head.name.clone(),
                line.head.vers.clone(),
                line.head.cksum.clone(),
            );
            self.repair_if_missing(name, vers, cksum);
            return;
        }
        if *want == Want::Refresh {
            // On object storage two syncs at once can leave a crate's lines behind the
            // upstream copy they stored (no lock orders their commits): a refresh that got a
            // 304 reconciles the lines with that copy (computing the pruned file from it).
            if self.shared.store.is_remote() && c.upstream.is_none() {
                match load_cached(&self.shared.store, &c.name) {
                    Ok(file) => c.upstream = Some(file),
                    Err(e) => self.failures.push(format!("{e:#}")),
                }
            }
            return;
        }
        if c.upstream.is_none() {
            match load_cached(&self.shared.store, &c.name) {
                Ok(file) => c.upstream = Some(file),
                Err(e) => return self.failures.push(format!("{e:#}")),
            }
        }
        let upstream = c.upstream.as_ref().expect("loaded above");
        let picked: Vec<(String, String, String, String)> = select::pick(upstream, want)
            .into_iter()
            .map(|l| {
                (
                    l.head.name.clone(),
                    l.head.vers.clone(),
                    l.head.cksum.clone(),
                    l.raw.clone(),
                )
            })
            .collect();
        if picked.is_empty() {
            let name = c.name.clone();
            let what = match want {
                Want::Exact { version, .. } => format!("version {version}"),
                Want::Req { req, .. } => format!("a version matching `{req}`"),
                Want::Refresh => unreachable!(),
            };
            return match from {
                None => self
                    .failures
                    .push(format!("the upstream has no {what} of `{name}`")),
                Some(d) => self.warnings.push(format!(
                    "`{d}` needs {what} of `{name}`, which the upstream does not have"
                )),
            };
        }
        let follow = matches!(want, Want::Req { follow: true, .. });
        for (name, vers, cksum, raw) in picked {
            let c = self.crates.get_mut(key).expect("known");
            if let Want::Exact {
                checksum: Some(ck), ..
            } = want
                && *ck != cksum
            {
                let msg = checksum_mismatch(&name, &vers);
                self.failures.push(msg);
                continue;
            }
            let first_time = !c.new.contains(&vers) && !c.seen.contains(&format!("picked {vers}"));
            if !first_time {
                continue;
            }
            c.seen.insert(format!("picked {vers}"));
            c.picked += 1;
            let have = c.have.lines.iter().any(|l| l.head.vers == vers);
            if have {
                self.repair_if_missing(name.clone(), vers.clone(), cksum);
            } else {
                c.new.insert(vers.clone());
                self.download(name.clone(), vers.clone(), cksum);
            }
            let dependent = format!("{name}@{vers}");
            let deps = match select::dependencies(&raw, self.shared.dev) {
                Ok(deps) => deps,
                Err(e) => {
                    self.failures.push(format!("`{dependent}`: {e:#}"));
                    continue;
                }
            };
            let c = self.crates.get_mut(key).expect("known");
            c.deps
                .extend(deps.follow.iter().map(|d| d.name.to_ascii_lowercase()));
            if follow {
                for dep in deps.follow {
                    let want = Want::Req {
                        req: dep.req,
                        all: false,
                        follow: true,
                    };
                    self.want(&dep.name, want, Some(&dependent));
                }
                for foreign in deps.foreign {
                    let msg = format!(
                        "`{dependent}` depends on `{foreign}` from another registry: not mirrored"
                    );
                    self.warnings.push(msg);
                }
            }
        }
    }

    /// Fetches again a mirrored version whose crate file was deleted.
    fn repair_if_missing(&mut self, name: String, vers: String, cksum: String) {
        let shared = self.shared.clone();
        self.tasks.spawn(async move {
            let _permit = shared.jobs.acquire().await;
            let store = shared.store.clone();
            let key = layout::crate_file(&name, &vers);
            let present = tokio::task::spawn_blocking(move || store.exists(Area::Public, &key))
                .await
                .unwrap_or(false);
            Done::Present(name, vers, cksum, present)
        });
    }

    fn download(&mut self, name: String, vers: String, cksum: String) {
        let shared = self.shared.clone();
        shared.progress.inc_length(1);
        self.tasks.spawn(async move {
            let label = format!("{name}@{vers}");
            let result = fetch_crate(&shared, &name, &vers, &cksum).await;
            Done::Download(label, result)
        });
    }

    fn download_done(&mut self, label: &str, result: Result<Option<u64>>) {
        self.shared.progress.inc(1);
        match result {
            Ok(Some(bytes)) => {
                self.counts.downloaded += 1;
                self.counts.bytes += bytes;
                let mib = self.counts.bytes as f64 / (1024.0 * 1024.0);
                self.shared.progress.set_message(format!("{mib:.1} MiB"));
            }
            Ok(None) => self.counts.reused += 1,
            Err(e) => self
                .failures
                .push(format!("failed to mirror `{label}`: {e:#}")),
        }
    }
}

impl CrateRound {
    /// Computes the pruned file while the upstream file is parsed.
    fn compute_pruned(&mut self) {
        let Some(upstream) = &self.upstream else {
            return;
        };
        let mut keep: HashSet<String> = self
            .have
            .lines
            .iter()
            .map(|l| l.head.vers.clone())
            .collect();
        keep.extend(self.new.iter().cloned());
        let bytes = super::prune::prune(upstream, &keep, &self.have);
        self.pruned = (bytes != self.have.to_bytes()).then_some(bytes);
        self.computed = true;
    }
}

fn checksum_mismatch(name: &str, vers: &str) -> String {
    format!("the lock file's checksum of `{name}@{vers}` differs from the upstream's")
}

/// The mirror's current index file for a crate (empty when it has none).
fn read_have(store: &Store, name: &str) -> Result<IndexFile> {
    let key = layout::index(name)?;
    let bytes = store.read(Area::Public, &key)?.unwrap_or_default();
    IndexFile::parse(&bytes).with_context(|| format!("failed to read the mirror's `{key}`"))
}

/// The validator of the cached upstream file, if there is a usable one.
fn read_validator(store: &Store, name: &str) -> Validator {
    let Ok(key) = layout::upstream_index(name) else {
        return Validator::None;
    };
    // Its first line (a longer one is no validator of ours: the file is fetched again).
    let Ok(Some(head)) = store.read_prefix(Area::State, &key, VALIDATOR_LINE) else {
        return Validator::None;
    };
    cache::decode(&head).map_or(Validator::None, |(v, _)| v)
}

/// The most bytes of a cache file's first line that are read for its validator.
const VALIDATOR_LINE: usize = 8 * 1024;

/// The cached upstream file (after a 304).
fn load_cached(store: &Store, name: &str) -> Result<IndexFile> {
    let key = layout::upstream_index(name)?;
    let bytes = store.read(Area::State, &key)?.unwrap_or_default();
    let (_, body) = cache::decode(&bytes).with_context(|| {
        format!("the cached upstream file `{key}` is damaged: delete it and sync again")
    })?;
    parse_upstream(name, body)
}

/// Parses an upstream index file, refusing lines for another crate.
pub fn parse_upstream(name: &str, body: &[u8]) -> Result<IndexFile> {
    let file = IndexFile::parse(body)
        .with_context(|| format!("the upstream's index file of `{name}` is invalid"))?;
    if let Some(bad) = file
        .lines
        .iter()
        .find(|l| !l.head.name.eq_ignore_ascii_case(name))
    {
        anyhow::bail!(
            "the upstream's index file of `{name}` lists crate `{}`",
            bad.head.name
        );
    }
    Ok(file)
}

fn stage_cache(store: &Store, validator: &Validator, body: &[u8]) -> Result<TempPath> {
    use std::io::Write;
    let mut tmp = store.temp_file()?;
    tmp.write_all(&cache::encode(validator, body))
        .context("failed to write a temporary file")?;
    Ok(tmp.into_temp_path())
}

/// Puts one verified crate file in place (not yet synced); `None` when a verified copy was
/// already there (a resumed sync).
async fn fetch_crate(shared: &Shared, name: &str, vers: &str, cksum: &str) -> Result<Option<u64>> {
    let store = shared.store.clone();
    let key = layout::crate_file(name, vers);
    let (sum_store, sum_key) = (store.clone(), key.clone());
    let there =
        tokio::task::spawn_blocking(move || super::verify::file_sha256(&sum_store, &sum_key))
            .await
            .context("reading the mirror was interrupted")??;
    if there.as_deref() == Some(cksum) {
        return Ok(None);
    }
    let _permit = shared.jobs.acquire().await;
    let mut tmp = store.temp_file()?;
    let size = shared
        .upstream
        .download(name, vers, cksum, tmp.as_file_mut())
        .await?;
    let tmp = tmp.into_temp_path();
    // In place at once, with no line yet: a sync that fails or is killed later keeps it, and
    // the next one finds it verified (`reused`). On object storage: only if absent.
    tokio::task::spawn_blocking(move || store.put_new(Area::Public, &key, tmp))
        .await
        .context("storing a crate file was interrupted")??;
    Ok(Some(size))
}
