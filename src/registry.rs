//! An opened registry: its settings and its tree. Finds the registry (`--registry`,
//! `KTRA_REGISTRY`, or the nearest ancestor holding `ktra.toml`) and knows the keys of
//! everything in it.

use crate::config::{self, Config};
use crate::index::{RegistryConfig, path};
use crate::package::manifest::RegistryIdentity;
use crate::storage::git::{self, GitIndex};
use crate::storage::{Area, Store};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

pub struct Registry {
    pub config: Config,
    pub store: Store,
    /// The records (users, tokens, owners, audit), opened at first use.
    records: std::sync::OnceLock<std::sync::Arc<dyn crate::state::Records>>,
}

impl Registry {
    pub fn new(config: Config, store: Store) -> Self {
        Self {
            config,
            store,
            records: std::sync::OnceLock::new(),
        }
    }

    /// The same registry with other settings, sharing its opened records (a receiver whose
    /// settings were reloaded keeps its connection pool).
    pub fn with_config(&self, config: Config, store: Store) -> Self {
        let next = Self::new(config, store);
        if let Some(records) = self.records.get() {
            let _ = next.records.set(records.clone());
        }
        next
    }

    /// Whether the tree and the records are local files (reads of microseconds), rather than
    /// a bucket or a database across the network.
    pub fn records_are_local(&self) -> bool {
        !self.store.is_remote() && self.state().is_ok_and(|s| !s.shared())
    }

    /// Uses these (already opened) records from now on: `ktra init`, which opened the
    /// database with a password it does not write down.
    pub fn use_state(&self, records: std::sync::Arc<dyn crate::state::Records>) {
        let _ = self.records.set(records);
    }

    /// The registry's records, wherever its settings keep them; opened (connected) once.
    pub fn state(&self) -> Result<&dyn crate::state::Records> {
        if let Some(records) = self.records.get() {
            return Ok(records.as_ref());
        }
        let opened = crate::state::open(&self.config, &self.store)?;
        Ok(self.records.get_or_init(|| opened).as_ref())
    }

    /// The registry named on the command line or by `KTRA_REGISTRY`, else the nearest
    /// ancestor of the working directory holding `ktra.toml`.
    // reason: looks for ktra.toml (the settings), not registry data.
    #[allow(clippy::disallowed_methods)]
    pub fn discover(explicit: Option<&Path>) -> Result<Self> {
        if let Some(dir) = explicit {
            if !dir.join(config::FILE_NAME).is_file() {
                bail!(
                    "`{}` is not a ktra registry (it has no `{}`)",
                    dir.display(),
                    config::FILE_NAME
                );
            }
            return Self::open(dir);
        }
        let cwd = std::env::current_dir().context("failed to read the working directory")?;
        for dir in cwd.ancestors() {
            if dir.join(config::FILE_NAME).is_file() {
                return Self::open(dir);
            }
        }
        bail!(
            "no registry found: pass `--registry DIR`, set KTRA_REGISTRY, or run inside a folder \
             holding `{}` (create one with `ktra init`)",
            config::FILE_NAME
        )
    }

    pub fn open(root: &Path) -> Result<Self> {
        let root = std::path::absolute(root)
            .with_context(|| format!("failed to resolve `{}`", root.display()))?;
        let config = Config::load(&root)?;
        let store = Self::store_for(&config, root)?;
        Ok(Self::new(config, store))
    }

    /// The tree of a registry with these settings: the folder, or object storage.
    pub fn store_for(config: &Config, root: PathBuf) -> Result<Store> {
        let private = config.state.as_ref().and_then(|s| s.files_location());
        match (&config.storage, &private) {
            #[cfg(feature = "aws")]
            (Some(public), Some(state)) => {
                let buckets =
                    crate::storage::objects::Buckets::new(public.connect()?, state.connect()?);
                Ok(Store::in_buckets(root, buckets))
            }
            (None, _) => Ok(Store::new(root)),
            #[allow(unreachable_patterns)]
            _ => bail!("this ktra was built without object storage (the `aws` feature)"),
        }
    }

    pub fn root(&self) -> &Path {
        self.store.root()
    }

    /// `config.json` as this registry's settings say it should be.
    pub fn registry_config(&self) -> RegistryConfig {
        RegistryConfig {
            dl: path::dl_template(&self.config.url),
            api: self.config.api.clone(),
            auth_required: self.config.auth_required,
        }
    }

    pub fn sparse_url(&self) -> String {
        path::sparse_index_url(&self.config.url)
    }

    pub fn git_dir(&self) -> PathBuf {
        self.store.path(Area::Public, git::DIR)
    }

    pub fn git_file_url(&self) -> String {
        format!("file://{}", self.git_dir().display())
    }

    /// The git index, when enabled.
    pub fn git(&self) -> Result<Option<GitIndex>> {
        if !self.config.git.enabled {
            return Ok(None);
        }
        GitIndex::open(&self.git_dir()).map(Some)
    }

    /// Every URL by which a packaged crate may refer to this registry.
    pub fn identity(&self, extra: &[String]) -> RegistryIdentity {
        let mut urls = vec![
            self.sparse_url(),
            self.git_file_url(),
            format!("{}/{}", self.config.url, git::DIR),
        ];
        urls.extend(self.config.git.remote.iter().cloned());
        urls.extend(self.config.index_aliases.iter().cloned());
        urls.extend(extra.iter().cloned());
        RegistryIdentity {
            name: self.config.name.clone(),
            index_urls: urls.iter().map(|u| path::canonical_index_url(u)).collect(),
        }
    }
}

/// Keys of the files that make up a registry.
pub mod keys {
    use crate::index::path;

    pub const CONFIG_JSON: &str = "index/config.json";

    /// Public key of a crate's index file; a name that is not one is refused (see
    /// [`path::index_path`]).
    pub fn index(name: &str) -> Result<String, crate::index::name::NameError> {
        Ok(format!("index/{}", path::index_path(name)?))
    }

    /// Public key of a crate file.
    pub fn crate_file(name: &str, version: &str) -> String {
        path::crate_path(name, version)
    }
}
