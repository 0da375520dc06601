//! `ktra.toml`: the registry's settings. A versioned, strict schema (unknown keys are errors, so
//! a typo never silently does nothing), parsed by a pure function.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const FILE_NAME: &str = "ktra.toml";
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Config {
    /// Schema version of this file.
    pub version: u32,
    /// The name users give this registry in `.cargo/config.toml` and `registry = "..."`.
    pub name: String,
    /// Base URL where `public/` is served (no trailing slash).
    pub url: String,
    /// Base URL of the web API (`ktra serve`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// Every request needs a token (private registry).
    #[serde(default)]
    pub auth_required: bool,
    /// Other index URLs that mean this registry (for crates packaged against an old address).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub index_aliases: Vec<String>,
    /// Largest `.crate` the publish API accepts, in bytes.
    #[serde(default = "default_max_crate_size")]
    pub max_crate_size: u64,
    /// How long a change waits for the registry lock (`lock-timeout = "60s"`).
    #[serde(default, skip_serializing_if = "crate::storage::LockWait::is_default")]
    pub lock_timeout: crate::storage::LockWait,
    #[serde(default)]
    pub git: GitSettings,
    #[serde(default, skip_serializing_if = "MirrorSettings::is_default")]
    pub mirror: MirrorSettings,
    #[serde(default, skip_serializing_if = "SiteSettings::is_default")]
    pub site: SiteSettings,
    #[serde(default, skip_serializing_if = "crate::limits::Limits::is_default")]
    pub limits: crate::limits::Limits,
    #[serde(
        default,
        skip_serializing_if = "crate::server::limits::ServeSettings::is_default"
    )]
    pub serve: crate::server::limits::ServeSettings,
    /// The served files in object storage instead of `public/` (`[storage] url = "s3://..."`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<crate::storage::Location>,
    /// Where the records live (a database, or object storage with `storage`) instead of
    /// `state/` (`[state] url = "postgres://..."`; `KTRA_STATE_URL` overrides it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<crate::state::StateSettings>,
}

/// The browsable site in `public/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SiteSettings {
    /// Write the site (and the crate metadata it is made from) on every change.
    pub enabled: bool,
}

impl Default for SiteSettings {
    fn default() -> Self {
        Self { enabled: true }
    }
}

impl SiteSettings {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

fn default_max_crate_size() -> u64 {
    10 * 1024 * 1024
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GitSettings {
    /// Keep a git index at `public/index.git`.
    pub enabled: bool,
    /// A git remote to push `main` to after every change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
}

impl Default for GitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            remote: None,
        }
    }
}

pub use crate::mirror::settings::MirrorSettings;

impl Config {
    pub fn parse(text: &str) -> Result<Self> {
        let config: Self = toml::from_str(text)?;
        if config.version != SCHEMA_VERSION {
            bail!(
                "`version = {}` is not a settings version this ktra understands (expected {SCHEMA_VERSION})",
                config.version
            );
        }
        check_url(&config.url).context("in `url`")?;
        if let Some(api) = &config.api {
            check_url(api).context("in `api`")?;
        }
        if let Some(remote) = &config.git.remote {
            check_git_remote(remote).context("in `git.remote`")?;
        }
        crate::storage::location::check(
            config.storage.as_ref(),
            config.state.as_ref(),
            config.git.enabled,
        )?;
        Ok(config)
    }

    // reason: ktra.toml itself, the settings, not registry data.
    #[allow(clippy::disallowed_methods)]
    pub fn load(root: &Path) -> Result<Self> {
        let path = root.join(FILE_NAME);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("failed to read `{}`", path.display()))?;
        Self::parse(&text).with_context(|| format!("failed to parse `{}`", path.display()))
    }

    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).expect("settings always serialize");
        format!("# ktra registry settings: see `ktra --help`.\n{body}")
    }
}

/// A git remote is a URL or a path given to `git push`: one that starts with `-` would be read
/// as an option (`--receive-pack=...` runs a command), and control characters have no place.
fn check_git_remote(remote: &str) -> Result<()> {
    if remote.is_empty() || remote.starts_with('-') {
        bail!("`{remote}` is not a git remote (it must not be empty or start with `-`)");
    }
    if remote.chars().any(char::is_control) {
        bail!("the git remote contains a control character");
    }
    Ok(())
}

/// A base URL: http(s) or file, no trailing slash, no query.
pub fn check_url(url: &str) -> Result<()> {
    let ok_scheme = ["http://", "https://", "file://"]
        .iter()
        .any(|s| url.starts_with(s));
    if !ok_scheme {
        bail!("`{url}` is not an http://, https:// or file:// URL");
    }
    if url.ends_with('/') || url.contains(['?', '#', ' ']) {
        bail!("`{url}` must not end with `/` or contain `?`, `#` or spaces");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "version = 1\nname = \"demo\"\nurl = \"https://c.example\"\n";

    #[test]
    fn parses_minimal_and_round_trips() {
        let c = Config::parse(GOOD).unwrap();
        assert!(c.git.enabled && !c.auth_required && c.api.is_none());
        assert_eq!(Config::parse(&c.to_toml()).unwrap(), c);
    }

    #[test]
    fn typos_and_unknown_versions_are_errors() {
        assert!(Config::parse(&format!("{GOOD}auth-requird = true\n")).is_err());
        assert!(Config::parse(&GOOD.replace("version = 1", "version = 2")).is_err());
        assert!(Config::parse(&GOOD.replace("https://c.example", "https://c.example/")).is_err());
        assert!(Config::parse(&GOOD.replace("https://c.example", "c.example")).is_err());
    }

    #[test]
    fn a_git_remote_is_never_an_option() {
        let with = |remote: &str| {
            Config::parse(&format!(
                "{GOOD}[git]\nenabled = true\nremote = {remote:?}\n"
            ))
        };
        assert!(with("https://git.example/index.git").is_ok());
        assert!(with("/srv/remote.git").is_ok());
        for bad in ["--receive-pack=touch /tmp/x", "-v", "", "a\nb"] {
            assert!(with(bad).is_err(), "{bad:?}");
        }
    }
}
