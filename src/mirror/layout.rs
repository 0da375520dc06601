//! Where the mirror lives inside a registry tree: its own sparse index (with its own
//! `config.json`) and its crate files under `public/mirror/`, and the private copies of the
//! upstream's full index files (with their HTTP validators) under `state/mirror/`.

use crate::index::name::NameError;
use crate::index::{RegistryConfig, path};
use crate::registry::Registry;

/// Public folder of the mirror.
pub const DIR: &str = "mirror";
/// Public key of the mirror's `config.json`.
pub const CONFIG_JSON: &str = "mirror/index/config.json";
/// Public folder of the mirror's index files.
pub const INDEX_DIR: &str = "mirror/index";
/// Public folder of the mirror's crate files.
pub const CRATES_DIR: &str = "mirror/crates";
/// State folder holding the upstream's full index files, as last fetched.
pub const UPSTREAM_DIR: &str = "mirror/upstream";
/// State key of the lock taken while mirror index files change.
pub const LOCK_DIR: &str = "mirror";

/// Public key of a mirrored crate's (pruned) index file.
pub fn index(name: &str) -> Result<String, NameError> {
    Ok(format!("{INDEX_DIR}/{}", path::index_path(name)?))
}

/// Public key of a mirrored crate file.
pub fn crate_file(name: &str, version: &str) -> String {
    format!("{DIR}/{}", path::crate_path(name, version))
}

/// State key of the cached upstream copy of a crate's index file.
pub fn upstream_index(name: &str) -> Result<String, NameError> {
    Ok(format!("{UPSTREAM_DIR}/{}", path::index_path(name)?))
}

/// The mirror's base URL (what `dl` and the sparse URL are built from).
pub fn base_url(reg: &Registry) -> String {
    format!("{}/{DIR}", reg.config.url.trim_end_matches('/'))
}

/// The mirror's `config.json`: downloads from the mirror's own crate folder; no web API; a
/// token on every request when the registry is private.
pub fn registry_config(reg: &Registry) -> RegistryConfig {
    RegistryConfig {
        dl: path::dl_template(&base_url(reg)),
        api: None,
        auth_required: reg.config.auth_required,
    }
}

/// The sparse URL cargo uses for the mirror.
pub fn sparse_url(reg: &Registry) -> String {
    path::sparse_index_url(&base_url(reg))
}

/// Whether the tree holds a mirror (on object storage, one request).
pub fn exists(reg: &Registry) -> bool {
    reg.store.exists(crate::storage::Area::Public, CONFIG_JSON)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sit_below_the_mirror_folders() {
        assert_eq!(index("Serde").unwrap(), "mirror/index/se/rd/serde");
        assert_eq!(crate_file("a", "1.0.0"), "mirror/crates/a-1.0.0.crate");
        assert_eq!(upstream_index("ab").unwrap(), "mirror/upstream/2/ab");
    }
}
