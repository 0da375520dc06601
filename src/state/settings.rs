//! The `[state]` table of `ktra.toml`: where the registry's records live (`url`: a database,
//! or a private location in object storage) and, for a registry in object storage whose
//! records are in a database, where its other private files go (`files`). The URL may come
//! from `KTRA_STATE_URL` instead, so that a password never has to be written down; that value
//! is read when the records are opened and never written back into the settings.

use crate::storage::Location;
use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// The variable that overrides `[state] url` (with its password, if any).
pub const URL_VAR: &str = "KTRA_STATE_URL";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct StateSettings {
    /// `s3://BUCKET[/PREFIX]`, `postgres://`, `mysql://`, `redis://` or `mongodb://`.
    pub url: String,
    /// With `[storage]` and a database `url`: `s3://BUCKET[/PREFIX]` for the private files
    /// (site metadata, the mirror's state) that are not records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<String>,
    /// For `s3://` locations: as in `[storage]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_http: Option<bool>,
}

/// Which kind of place keeps the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Objects,
    Postgres,
    Mysql,
    Redis,
    Mongo,
}

impl Kind {
    /// The kind a URL names by its scheme.
    pub fn of_url(url: &str) -> Result<Kind> {
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        Ok(match scheme.as_deref() {
            Some("s3") => Kind::Objects,
            Some("postgres" | "postgresql") => Kind::Postgres,
            Some("mysql" | "mariadb") => Kind::Mysql,
            Some("redis" | "rediss") => Kind::Redis,
            Some("mongodb") => Kind::Mongo,
            _ => bail!(
                "`{}` is not a state URL: it starts with s3://, postgres://, mysql://, \
                 redis:// or mongodb://",
                super::redact(url)
            ),
        })
    }

    pub fn is_database(self) -> bool {
        self != Kind::Objects
    }
}

impl StateSettings {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            files: None,
            endpoint: None,
            region: None,
            allow_http: None,
        }
    }

    /// Where the private files live in object storage: `url` when it is an `s3://` one, else
    /// `files`.
    pub fn files_location(&self) -> Option<Location> {
        let url = match Kind::of_url(&self.url) {
            Ok(Kind::Objects) => &self.url,
            _ => self.files.as_ref()?,
        };
        Some(Location {
            url: url.clone(),
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            allow_http: self.allow_http,
        })
    }

    /// The rules that need no other table: a known scheme; `files` only beside a database.
    pub fn check(&self) -> Result<()> {
        let kind = Kind::of_url(&self.url)?;
        if self.files.is_some() && !kind.is_database() {
            bail!("`[state] files` is only used with a database `url` (the records live there)");
        }
        Ok(())
    }
}

/// The URL of the records: `KTRA_STATE_URL` when set, else `[state] url`.
pub fn url(state: Option<&StateSettings>) -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_owned()),
        _ => state.map(|s| s.url.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_pick_the_backend_and_others_are_refused() {
        assert_eq!(Kind::of_url("postgres://h/db").unwrap(), Kind::Postgres);
        assert_eq!(Kind::of_url("MARIADB://h/db").unwrap(), Kind::Mysql);
        assert_eq!(Kind::of_url("redis://h").unwrap(), Kind::Redis);
        assert_eq!(Kind::of_url("mongodb://h").unwrap(), Kind::Mongo);
        assert_eq!(Kind::of_url("s3://b/p").unwrap(), Kind::Objects);
        let err = Kind::of_url("ftp://u:hunter2@h").unwrap_err().to_string();
        assert!(
            err.contains("not a state URL") && !err.contains("hunter2"),
            "{err}"
        );
    }

    #[test]
    fn the_password_is_taken_out_for_the_settings_file() {
        assert_eq!(
            super::super::without_password("postgres://ktra:p%40ss@db:5432/ktra"),
            ("postgres://ktra@db:5432/ktra".to_owned(), true)
        );
        assert_eq!(
            super::super::without_password("redis://127.0.0.1:6379/0"),
            ("redis://127.0.0.1:6379/0".to_owned(), false)
        );
    }

    #[test]
    fn private_files_come_from_the_url_or_files() {
        let s3 = StateSettings::new("s3://priv/x");
        assert_eq!(s3.files_location().unwrap().url, "s3://priv/x");
        let mut pg = StateSettings::new("postgres://db/ktra");
        assert!(pg.files_location().is_none());
        pg.files = Some("s3://priv".into());
        assert_eq!(pg.files_location().unwrap().url, "s3://priv");
        assert!(pg.check().is_ok());
        let mut bad = StateSettings::new("s3://priv");
        bad.files = Some("s3://other".into());
        assert!(bad.check().is_err());
    }
}
