//! Creating a registry: settings, the served tree with `config.json`, the private state folder,
//! (unless disabled) the git index with its first commit, and the site's home page.

use crate::config::{self, Config, GitSettings};
use crate::registry::{Registry, keys};
use crate::storage::Area;
use crate::storage::git::GitIndex;
use anyhow::{Context, Result, bail};
use std::path::Path;

pub struct InitOptions {
    pub url: String,
    pub name: String,
    pub api: Option<String>,
    pub auth_required: bool,
    pub git: bool,
    /// Write the browsable site.
    pub site: bool,
    /// Object storage for the served files (needs a private location in object storage too).
    pub storage: Option<crate::storage::Location>,
    /// Where the records live: `s3://` (the private location), or a database URL (its
    /// password, if any, is used now and never written into `ktra.toml`).
    pub state: Option<String>,
    /// With `storage` and a database `state`: the private files' location in object storage.
    pub state_files: Option<String>,
}

pub fn init(dir: &Path, opts: InitOptions) -> Result<Registry> {
    // reason: ktra.toml in the settings folder, not registry data.
    #[allow(clippy::disallowed_methods)]
    let taken = dir.join(config::FILE_NAME).exists();
    if taken {
        bail!("`{}` is already a ktra registry", dir.display());
    }
    check_registry_name(&opts.name)?;
    let url = opts.url.trim_end_matches('/').to_owned();
    config::check_url(&url).context("invalid `--url`")?;
    if let Some(api) = &opts.api {
        config::check_url(api).context("invalid `--api`")?;
    }
    let config = Config {
        version: config::SCHEMA_VERSION,
        name: opts.name,
        url,
        api: opts.api,
        auth_required: opts.auth_required,
        index_aliases: Vec::new(),
        max_crate_size: 10 * 1024 * 1024,
        git: GitSettings {
            // Object storage has no git index (see `storage::location::check`).
            enabled: opts.git && opts.storage.is_none(),
            remote: None,
        },
        mirror: Default::default(),
        site: config::SiteSettings { enabled: opts.site },
        lock_timeout: Default::default(),
        limits: Default::default(),
        serve: Default::default(),
        storage: opts.storage,
        state: opts.state.as_deref().map(|url| {
            let mut state =
                crate::state::StateSettings::new(&crate::state::without_password(url).0);
            state.files = opts.state_files.clone();
            state
        }),
    };
    crate::storage::location::check(
        config.storage.as_ref(),
        config.state.as_ref(),
        config.git.enabled,
    )?;
    // A database is migrated before anything is made: one that cannot be used leaves no
    // registry behind.
    let records = match opts.state.as_deref() {
        Some(url) if crate::state::Kind::of_url(url)?.is_database() => {
            let records = crate::state::open_at(url)?;
            records.migrate()?;
            Some(records)
        }
        _ => None,
    };
    let root = std::path::absolute(dir)?;
    let store = Registry::store_for(&config, root.clone())?;
    // reason: the settings folder (the registry's root, holding ktra.toml), not registry data.
    #[allow(clippy::disallowed_methods)]
    std::fs::create_dir_all(dir)
        .with_context(|| format!("failed to create `{}`", dir.display()))?;
    let reg = Registry::new(config, store);
    if let Some(records) = records {
        reg.use_state(records);
    }
    if reg.store.is_remote() {
        return init_remote(reg);
    }
    if reg.config.git.enabled {
        GitIndex::init(&reg.git_dir())?;
    }
    let mut batch = reg.store.batch();
    batch.put(Area::Public, ".nojekyll", b"")?;
    batch.put(
        Area::Public,
        keys::CONFIG_JSON,
        &reg.registry_config().to_bytes(),
    )?;
    batch.commit()?;
    reg.store.make_private_area()?;
    if let Some(git) = reg.git()? {
        let config_json = reg.registry_config().to_bytes();
        git.commit(
            &reg.store,
            &[("config.json".into(), Some(config_json))],
            "Create the registry",
            false,
        )?;
    }
    // The (empty) site: the home page shows the setup from the start, and the first add
    // updates the site as any later one does.
    if crate::ops::site::enabled(&reg) {
        crate::ops::site::build_all(&reg)?;
    }
    // Settings last: a registry is a registry once `ktra.toml` exists.
    write_settings(&reg)?;
    Ok(reg)
}

/// A registry in object storage: `config.json` is put only if the location holds no registry
/// yet; the folder gets only `ktra.toml`.
#[cfg(feature = "aws")]
fn init_remote(reg: Registry) -> Result<Registry> {
    use crate::storage::bucket::{Cond, Written};
    let buckets = reg.store.bucket().expect("a remote store has buckets");
    let config_json = reg.registry_config().to_bytes();
    if let Written::Conflict = buckets
        .public
        .put(keys::CONFIG_JSON, config_json, Cond::IfAbsent)?
    {
        bail!(
            "`{}` already holds a registry (it has `{}`)",
            buckets.public.url(),
            keys::CONFIG_JSON
        );
    }
    if crate::ops::site::enabled(&reg) {
        crate::ops::site::build_all(&reg)?;
    }
    write_settings(&reg)?;
    Ok(reg)
}

#[cfg(not(feature = "aws"))]
fn init_remote(_: Registry) -> Result<Registry> {
    bail!("this ktra was built without object storage (the `aws` feature)")
}

/// Writes `ktra.toml` atomically (a temporary file beside it, renamed).
pub fn write_settings(reg: &Registry) -> Result<()> {
    let mut tmp = match reg.store.is_remote() {
        true => tempfile::NamedTempFile::new_in(reg.root())
            .with_context(|| format!("failed to create a file in `{}`", reg.root().display()))?,
        false => reg.store.temp_file()?,
    };
    std::io::Write::write_all(&mut tmp, reg.config.to_toml().as_bytes())?;
    tmp.as_file().sync_all()?;
    let target = reg.root().join(config::FILE_NAME);
    tmp.persist(&target)
        .with_context(|| format!("failed to write `{}`", target.display()))?;
    reg.store.sync()
}

/// Cargo registry names: ASCII letters, digits, `-` and `_`.
pub fn check_registry_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if !ok {
        bail!(
            "`{name}` is not a usable registry name: use ASCII letters, digits, `-` and `_`, starting with a letter"
        );
    }
    Ok(())
}

/// The `.cargo/config.toml` lines users need.
pub fn cargo_snippet(reg: &Registry) -> String {
    let name = &reg.config.name;
    let mut s = format!("[registries.{name}]\nindex = \"{}\"\n", reg.sparse_url());
    if reg.config.auth_required {
        s.push_str("credential-provider = \"cargo:token\"\n");
    }
    if reg.config.git.enabled {
        s.push_str(&format!(
            "# git protocol instead: index = \"{}\" (local), or \"{}/index.git\"\n\
             # served as static files with [net] git-fetch-with-cli = true\n",
            reg.git_file_url(),
            reg.config.url
        ));
    }
    s
}
