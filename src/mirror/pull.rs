//! The pull-through behind `ktra serve --mirror-upstream`: the upstream's full index files,
//! cached and revalidated at most once per `ttl`, and crate files fetched on first request,
//! verified, stored and added to the mirror's pruned index (one change of the mirror through
//! the change pipeline), so the static tree warms up with exactly what builds use. Every read
//! and write goes through the registry's store, so the mirror may live in object storage,
//! shared by any number of `ktra serve` processes.

use super::select::{Want, is_safe_name};
use super::upstream::{IndexFetch, Upstream, Validator};
use super::{cache, commit, layout, prune::prune, resolve::parse_upstream};
use crate::index::file::IndexFile;
use crate::printer::Printer;
use crate::registry::Registry;
use crate::storage::{Area, Store};
use anyhow::{Context, Result};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

pub struct PullThrough {
    upstream: Upstream,
    /// The registry as the server started (its settings do not matter to the mirror's files).
    reg: Registry,
    store: Store,
    printer: Printer,
    ttl: Duration,
    /// When this process last had an upstream index file confirmed unchanged (a 304), by
    /// cache key: where the store cannot mark the cache file as fresh (object storage).
    confirmed: Mutex<HashMap<String, SystemTime>>,
    /// One fetch per crate file at a time; later requests wait for it.
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Upstream index files read at once: each may hold up to `max-index-file-size` in memory
    /// on behalf of a client, so their number is bounded too.
    index_fetches: tokio::sync::Semaphore,
    /// Credentials written in the upstream URL (`user:password@`), kept out of responses.
    userinfo: Option<String>,
}

/// Upstream index files the pull-through reads at once.
const INDEX_FETCHES: usize = 8;

impl PullThrough {
    /// Sets up the pull-through (and the mirror's `config.json`) for `reg`.
    /// `token_env` (`--upstream-token-env`) names the variable holding the upstream's token.
    pub fn new(
        reg: &Registry,
        upstream: &str,
        ttl: Duration,
        token_env: Option<&str>,
        printer: Printer,
    ) -> Result<Self> {
        let access = super::settings::Access::new(&reg.config, 2, token_env)?;
        if commit::write_config(reg, printer)? {
            // The home page shows the mirror's setup.
            reg.refresh_site(printer)?;
        }
        let upstream = Upstream::new(upstream, access)?;
        let userinfo = upstream.userinfo();
        Ok(Self {
            upstream,
            reg: reg.with_config(reg.config.clone(), reg.store.clone()),
            store: reg.store.clone(),
            printer,
            ttl,
            confirmed: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
            index_fetches: tokio::sync::Semaphore::new(INDEX_FETCHES),
            userinfo,
        })
    }

    /// An error as an HTTP client may read it: without the registry's folder (server paths)
    /// or credentials written in the upstream URL. The whole error goes to the server's log.
    pub fn public_error(&self, e: &anyhow::Error) -> String {
        let full = format!("{e:#}");
        eprintln!("warning: the mirror's upstream failed: {full}");
        let mut text = full.replace(&self.store.root().display().to_string(), "<registry>");
        if let Some(userinfo) = &self.userinfo {
            text = text.replace(userinfo.as_str(), "");
        }
        text
    }

    /// The upstream's index file for `name` (`None`: the upstream has no such crate). When the
    /// upstream cannot be reached, the last copy, or else the mirror's own file, is served.
    pub async fn index_file(&self, name: &str) -> Result<Option<Vec<u8>>> {
        anyhow::ensure!(is_safe_name(name), "`{name}` is not a crate name");
        let key = layout::upstream_index(name)?;
        let store = self.store.clone();
        let read_key = key.clone();
        let (cached, modified) = tokio::task::spawn_blocking(move || {
            let modified = store.modified(Area::State, &read_key);
            store.read(Area::State, &read_key).map(|c| (c, modified))
        })
        .await
        .context("reading the mirror's copy was interrupted")??;
        let decoded = cached.as_deref().and_then(cache::decode);
        let confirmed = self
            .confirmed
            .lock()
            .expect("not poisoned")
            .get(&key)
            .copied();
        let fresh_at = modified.max(confirmed);
        let age = fresh_at.and_then(|t| SystemTime::now().duration_since(t).ok());
        if let (Some((_, body)), Some(age)) = (&decoded, age)
            && age < self.ttl
        {
            return Ok(Some(body.to_vec()));
        }
        let validator = decoded.as_ref().map_or(Validator::None, |(v, _)| v.clone());
        let permit = self.index_fetches.acquire().await;
        let fetched = self.upstream.index_file(name, &validator).await;
        drop(permit);
        match fetched {
            Ok(IndexFetch::NotFound) => Ok(None),
            Ok(IndexFetch::NotModified) => {
                if !self.store.touch(Area::State, &key) {
                    let mut confirmed = self.confirmed.lock().expect("not poisoned");
                    if confirmed.len() >= CONFIRMED {
                        confirmed.clear();
                    }
                    confirmed.insert(key, SystemTime::now());
                }
                Ok(decoded.map(|(_, body)| body.to_vec()))
            }
            Ok(IndexFetch::Fresh {
                body,
                validator,
                dropped,
                ..
            }) => {
                for message in dropped {
                    eprintln!("warning: {message}");
                }
                let store = self.store.clone();
                let bytes = cache::encode(&validator, &body);
                tokio::task::spawn_blocking(move || store_cache(&store, &key, &bytes))
                    .await
                    .context("storing the mirror's copy was interrupted")??;
                Ok(Some(body))
            }
            Err(e) => match decoded {
                Some((_, body)) => Ok(Some(body.to_vec())),
                None => {
                    let store = self.store.clone();
                    let own = layout::index(name)?;
                    let own = tokio::task::spawn_blocking(move || store.read(Area::Public, &own))
                        .await
                        .context("reading the mirror's index file was interrupted")??;
                    match own {
                        Some(own) => Ok(Some(own)),
                        None => Err(e),
                    }
                }
            },
        }
    }

    /// Makes sure the mirror holds the crate file `file_name` (`NAME-VERSION.crate`), fetching
    /// it from the upstream if needed. `false` when the upstream has no such version.
    ///
    /// A crate fetched now brings its required dependencies (normal and build ones, for every
    /// target) along, so a lock file made through the pull-through resolves from the static
    /// tree alone, on any platform.
    pub async fn ensure_crate(&self, file_name: &str) -> Result<bool> {
        let Some((name, vers)) = split_crate_file(file_name) else {
            return Ok(false);
        };
        let key = layout::crate_file(name, vers);
        if self.is_mirrored(name, vers, &key).await? {
            return Ok(true);
        }
        let gate = {
            let mut map = self.inflight.lock().expect("not poisoned");
            map.entry(key.clone()).or_default().clone()
        };
        let held = gate.lock().await;
        let result = self.fetch_crate(name, vers, &key).await;
        self.inflight.lock().expect("not poisoned").remove(&key);
        drop(held);
        match result? {
            Fetched::Absent => Ok(false),
            Fetched::Present => Ok(true),
            Fetched::Added(raw) => {
                // Not holding the gate: a dependency cycle cannot wait on itself.
                if let Err(e) = Box::pin(self.fill_dependencies(&raw)).await {
                    eprintln!(
                        "warning: the mirror could not fetch every dependency of `{name}@{vers}`: {e:#}"
                    );
                }
                Ok(true)
            }
        }
    }

    /// Whether the crate file is there and indexed.
    async fn is_mirrored(&self, name: &str, vers: &str, key: &str) -> Result<bool> {
        let store = self.store.clone();
        let (index, key, vers) = (layout::index(name)?, key.to_owned(), vers.to_owned());
        tokio::task::spawn_blocking(move || {
            if !store.exists(Area::Public, &key) {
                return Ok(false);
            }
            let own = store.read(Area::Public, &index)?.unwrap_or_default();
            let own = IndexFile::parse(&own).unwrap_or_default();
            Ok(own.lines.iter().any(|l| l.head.vers == vers))
        })
        .await
        .context("reading the mirror was interrupted")?
    }

    async fn fetch_crate(&self, name: &str, vers: &str, key: &str) -> Result<Fetched> {
        if self.is_mirrored(name, vers, key).await? {
            return Ok(Fetched::Present);
        }
        let Some(body) = self.index_file(name).await? else {
            return Ok(Fetched::Absent);
        };
        let upstream = parse_upstream(name, &body)?;
        let Some(line) = upstream
            .lines
            .iter()
            .find(|l| l.head.vers == vers && l.head.name == name)
        else {
            return Ok(Fetched::Absent);
        };
        let (cksum, raw) = (line.head.cksum.clone(), line.raw.clone());
        // A file an interrupted sync or fetch left without its line is kept if it verifies.
        let store = self.store.clone();
        let sum_key = key.to_owned();
        let left_behind =
            tokio::task::spawn_blocking(move || super::verify::file_sha256(&store, &sum_key))
                .await
                .context("reading the mirror was interrupted")??;
        let download = match left_behind.as_deref() == Some(cksum.as_str()) {
            true => None,
            false => {
                let mut tmp = self.store.temp_file()?;
                self.upstream
                    .download(name, vers, &cksum, tmp.as_file_mut())
                    .await?;
                Some(tmp.into_temp_path())
            }
        };
        let reg = self
            .reg
            .with_config(self.reg.config.clone(), self.reg.store.clone());
        let printer = self.printer;
        let (name, vers) = (name.to_owned(), vers.to_owned());
        tokio::task::spawn_blocking(move || {
            add_version(&reg, printer, &name, &vers, download, &upstream)
        })
        .await
        .context("the index update was interrupted")??;
        Ok(Fetched::Added(raw))
    }

    /// Mirrors the newest version matching each required dependency of a line.
    async fn fill_dependencies(&self, raw: &str) -> Result<()> {
        let deps = super::select::dependencies(raw, false)?;
        for dep in deps.follow.into_iter().filter(|d| !d.optional) {
            let Some(body) = self.index_file(&dep.name).await? else {
                continue;
            };
            let upstream = parse_upstream(&dep.name, &body)?;
            let want = Want::Req {
                req: dep.req,
                all: false,
                follow: false,
            };
            for line in super::select::pick(&upstream, &want) {
                let file = format!("{}-{}.crate", line.head.name, line.head.vers);
                self.ensure_crate(&file).await?;
            }
        }
        Ok(())
    }
}

/// What fetching one crate file did.
enum Fetched {
    /// The upstream has no such version.
    Absent,
    /// It was mirrored already.
    Present,
    /// It is mirrored now; its index line.
    Added(String),
}

/// Mirrors one version: its crate file (`download`, or the verified file already in place),
/// then its upstream line in the mirror's pruned file, as one change of the mirror.
fn add_version(
    reg: &Registry,
    printer: Printer,
    name: &str,
    vers: &str,
    download: Option<tempfile::TempPath>,
    upstream: &IndexFile,
) -> Result<()> {
    reg.change_mirror("pull-through", printer, |tx| {
        if let Some(temp) = download {
            tx.put_crate(name, vers, temp)?;
        }
        tx.modify_index(name, None, |file| {
            let mut keep: HashSet<String> =
                file.lines.iter().map(|l| l.head.vers.clone()).collect();
            keep.insert(vers.to_owned());
            let bytes = prune(upstream, &keep, file);
            *file = IndexFile::parse(&bytes)
                .with_context(|| format!("the mirror's new index file of `{name}` is invalid"))?;
            Ok(())
        })
    })
}

/// A cache file, replaced whole (not synced: it can always be fetched again).
fn store_cache(store: &Store, key: &str, bytes: &[u8]) -> Result<()> {
    let mut batch = store.batch().named("mirror-upstream").unsynced();
    batch.put(Area::State, key, bytes)?;
    batch.commit()
}

/// Most entries of [`PullThrough::confirmed`] before it is emptied (each is only a shortcut).
const CONFIRMED: usize = 100_000;

/// `NAME-VERSION.crate` split into its parts: names hold no `.`, and a version starts with
/// `MAJOR.`, so the split is the last `-` before the first `.`.
pub fn split_crate_file(file_name: &str) -> Option<(&str, &str)> {
    let stem = file_name.strip_suffix(".crate")?;
    let dot = stem.find('.')?;
    let dash = stem[..dot].rfind('-')?;
    let (name, vers) = (&stem[..dash], &stem[dash + 1..]);
    (is_safe_name(name) && semver::Version::parse(vers).is_ok()).then_some((name, vers))
}

#[cfg(test)]
mod tests {
    use super::split_crate_file;

    #[test]
    fn splits_names_with_dashes_and_digits() {
        assert_eq!(
            split_crate_file("foo-2d-1.0.0.crate"),
            Some(("foo-2d", "1.0.0"))
        );
        assert_eq!(
            split_crate_file("a-0.1.0-rc.1+b.2.crate"),
            Some(("a", "0.1.0-rc.1+b.2"))
        );
        assert_eq!(split_crate_file("../x-1.0.0.crate"), None);
        assert_eq!(split_crate_file("x-1.0.crate"), None);
        assert_eq!(split_crate_file("x-1.0.0.tar"), None);
    }
}
