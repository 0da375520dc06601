//! The `[mirror]` table of `ktra.toml`, and what a run makes of it together with its flags:
//! the upstream's token (read from the environment, never stored), the hosts a redirect may
//! lead to, and the size limits of what is read from the upstream.

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// Largest upstream index file read unless `max-index-file-size` says otherwise.
pub const DEFAULT_MAX_INDEX_FILE_SIZE: u64 = 32 * 1024 * 1024;
/// Largest upstream `config.json` read.
pub const MAX_CONFIG_JSON_SIZE: u64 = 64 * 1024;

/// Where `ktra sync-mirror` and the pull-through copy crates from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct MirrorSettings {
    /// The upstream's sparse index URL (`sparse+https://.../` or a plain http(s) URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// The upstream's git index URL: where `--all` learns every crate name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_git: Option<String>,
    /// The cargo source the mirror stands in for (`crates-io` unless set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// Hosts (`cdn.example.com`, `cdn.example.com:8443` or `*.example.com`) the upstream may
    /// redirect to; a redirect to any other host is refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_redirect_hosts: Vec<String>,
    /// The environment variable holding the upstream's token (sent as `Authorization`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_token_env: Option<String>,
    /// Largest upstream index file read, in bytes (32 MiB unless set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_index_file_size: Option<u64>,
}

impl MirrorSettings {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// How one run talks to the upstream: settings and flags resolved, the token read.
#[derive(Clone)]
pub struct Access {
    /// Retries of a failed request (with backoff).
    pub retries: u32,
    /// The `Authorization` value for the upstream's own origin.
    pub token: Option<String>,
    /// Hosts a cross-origin redirect may lead to.
    pub redirect_hosts: Vec<String>,
    pub max_index_file_size: u64,
    pub max_config_size: u64,
    pub max_crate_size: u64,
    /// The longest index line kept (`[limits] max-index-line-size`).
    pub max_line_size: u64,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("retries", &self.retries)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("redirect_hosts", &self.redirect_hosts)
            .field("max_index_file_size", &self.max_index_file_size)
            .finish()
    }
}

impl Access {
    /// The access a registry's settings give, `token_env` (a flag) overriding the setting.
    pub fn new(
        config: &crate::config::Config,
        retries: u32,
        token_env: Option<&str>,
    ) -> Result<Self> {
        let settings = &config.mirror;
        for host in &settings.allow_redirect_hosts {
            check_host_entry(host)?;
        }
        let token = match token_env.or(settings.upstream_token_env.as_deref()) {
            Some(var) => Some(read_token(var)?),
            None => None,
        };
        Ok(Self {
            retries,
            token,
            redirect_hosts: settings.allow_redirect_hosts.clone(),
            max_index_file_size: settings
                .max_index_file_size
                .unwrap_or(DEFAULT_MAX_INDEX_FILE_SIZE),
            max_config_size: MAX_CONFIG_JSON_SIZE,
            max_crate_size: config.max_crate_size,
            max_line_size: config.limits.max_index_line_size,
        })
    }

    /// No token, no redirect hosts, default limits.
    #[cfg(test)]
    pub fn plain(retries: u32) -> Self {
        Self {
            retries,
            token: None,
            redirect_hosts: Vec::new(),
            max_index_file_size: DEFAULT_MAX_INDEX_FILE_SIZE,
            max_config_size: MAX_CONFIG_JSON_SIZE,
            max_crate_size: 10 * 1024 * 1024,
            max_line_size: crate::limits::Limits::default().max_index_line_size,
        }
    }
}

/// The token in environment variable `var`. Its value never appears in a message.
fn read_token(var: &str) -> Result<String> {
    let value = match std::env::var(var) {
        Ok(value) => value,
        Err(std::env::VarError::NotPresent) => bail!(
            "the upstream token's environment variable `{var}` is not set (named by \
             `--upstream-token-env` or `upstream-token-env` under `[mirror]` in ktra.toml)"
        ),
        Err(std::env::VarError::NotUnicode(_)) => {
            bail!("the upstream token in environment variable `{var}` is not valid UTF-8")
        }
    };
    let value = value.trim().to_owned();
    if value.is_empty() {
        bail!("the upstream token's environment variable `{var}` is empty");
    }
    if reqwest::header::HeaderValue::from_str(&value).is_err() {
        bail!(
            "the upstream token in environment variable `{var}` holds characters an HTTP header \
             cannot carry"
        );
    }
    Ok(value)
}

fn check_host_entry(entry: &str) -> Result<()> {
    let host = entry.strip_prefix("*.").unwrap_or(entry);
    let ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if !ok {
        bail!(
            "`{entry}` in `allow-redirect-hosts` under `[mirror]` is not a host: write \
             `cdn.example.com`, `cdn.example.com:8443` or `*.example.com`"
        );
    }
    Ok(())
}

/// Whether `entry` of `allow-redirect-hosts` admits `host` on `port` (`host` alone: any port;
/// `*.example.com`: any subdomain).
pub fn host_allowed(entry: &str, host: &str, port: Option<u16>) -> bool {
    let entry = entry.to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    let (entry_host, entry_port) = match entry.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && p.parse::<u16>().is_ok() => (h, p.parse().ok()),
        _ => (entry.as_str(), None),
    };
    if entry_port.is_some() && entry_port != port {
        return false;
    }
    match entry_host.strip_prefix("*.") {
        Some(suffix) => host
            .strip_suffix(suffix)
            .is_some_and(|sub| sub.ends_with('.') && sub.len() > 1),
        None => entry_host == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_hosts_match_by_host_port_and_subdomain() {
        assert!(host_allowed(
            "cdn.example.com",
            "CDN.example.com",
            Some(443)
        ));
        assert!(host_allowed(
            "cdn.example.com:8443",
            "cdn.example.com",
            Some(8443)
        ));
        assert!(!host_allowed(
            "cdn.example.com:8443",
            "cdn.example.com",
            Some(443)
        ));
        assert!(host_allowed("*.example.com", "a.b.example.com", Some(443)));
        assert!(!host_allowed("*.example.com", "example.com", Some(443)));
        assert!(!host_allowed("*.example.com", "evilexample.com", Some(443)));
        assert!(!host_allowed(
            "cdn.example.com",
            "cdn.example.com.evil",
            Some(443)
        ));
        assert!(host_allowed("127.0.0.1:9", "127.0.0.1", Some(9)));
    }

    #[test]
    fn host_entries_must_be_hosts_not_urls() {
        for ok in [
            "cdn.example.com",
            "cdn.example.com:8443",
            "*.example.com",
            "[::1]:8080",
        ] {
            assert!(check_host_entry(ok).is_ok(), "{ok}");
        }
        for bad in ["https://cdn.example.com", "cdn.example.com/x", "", "*."] {
            assert!(check_host_entry(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_mirror_table_reads_its_new_keys_strictly() {
        let base = "version = 1\nname = \"r\"\nurl = \"http://127.0.0.1:9\"\n[mirror]\n";
        let text = format!(
            "{base}allow-redirect-hosts = [\"cdn.example.com\"]\nupstream-token-env = \"T\"\n\
             max-index-file-size = 1024\n"
        );
        let config = crate::config::Config::parse(&text).unwrap();
        assert_eq!(config.mirror.allow_redirect_hosts, ["cdn.example.com"]);
        assert_eq!(config.mirror.upstream_token_env.as_deref(), Some("T"));
        assert_eq!(config.mirror.max_index_file_size, Some(1024));
        let again = crate::config::Config::parse(&config.to_toml()).unwrap();
        assert_eq!(again, config);
        assert!(crate::config::Config::parse(&format!("{base}upstream-token = \"x\"\n")).is_err());
        let plain = crate::config::Config::parse(base).unwrap();
        assert!(plain.mirror.is_default() && !plain.to_toml().contains("[mirror]"));
    }

    #[test]
    fn a_missing_token_variable_is_named_and_a_value_is_never_shown() {
        let err = read_token("KTRA_TEST_SURELY_UNSET_VARIABLE").unwrap_err();
        assert!(format!("{err}").contains("KTRA_TEST_SURELY_UNSET_VARIABLE"));
        let access = Access {
            token: Some("s3cr3t".into()),
            ..Access::plain(0)
        };
        assert!(!format!("{access:?}").contains("s3cr3t"));
    }
}
