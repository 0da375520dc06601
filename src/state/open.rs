//! Opens the records a registry's settings name: the local state folder (the default), the
//! private location in object storage, or a database by its URL (`KTRA_STATE_URL` first). One
//! process opens them once (a pool per receiver) and shares them.

use super::Records;
use super::settings::{self, Kind};
use crate::config::Config;
use crate::storage::Store;
use anyhow::{Result, bail};
use std::sync::Arc;

/// The records of the registry with these settings and tree.
pub fn open(config: &Config, store: &Store) -> Result<Arc<dyn Records>> {
    open_with(settings::url(config.state.as_ref()), config, store)
}

/// The records named by a state URL, or those of the registry in the folder `target` (as its
/// `ktra.toml` says, `KTRA_STATE_URL` aside): for `ktra state copy`.
pub fn open_at(target: &str) -> Result<Arc<dyn Records>> {
    if target.contains("://") {
        return open_url(target, None);
    }
    open_in(&crate::registry::Registry::open(std::path::Path::new(
        target,
    ))?)
}

/// The records of an opened registry as its `ktra.toml` says (`KTRA_STATE_URL` aside: it is
/// the running registry's, not every registry's).
pub fn open_in(reg: &crate::registry::Registry) -> Result<Arc<dyn Records>> {
    let url = reg.config.state.as_ref().map(|s| s.url.clone());
    open_with(url, &reg.config, &reg.store)
}

fn open_with(url: Option<String>, config: &Config, store: &Store) -> Result<Arc<dyn Records>> {
    match url {
        Some(url) if Kind::of_url(&url)?.is_database() => open_url(&url, config.state.as_ref()),
        _ => Ok(private_area(store)),
    }
}

/// The records in the registry's private area: its state folder, or its private bucket.
fn private_area(store: &Store) -> Arc<dyn Records> {
    #[cfg(feature = "aws")]
    if let Some(buckets) = store.bucket() {
        let bucket = buckets.area(crate::storage::Area::State).clone();
        return Arc::new(super::objects::Objects::new(bucket));
    }
    Arc::new(super::files::Files::new(store.clone()))
}

/// The records at a state URL (an `s3://` one takes its endpoint and region from `state`, or
/// from the standard AWS variables).
fn open_url(url: &str, state: Option<&settings::StateSettings>) -> Result<Arc<dyn Records>> {
    let kind = Kind::of_url(url)?;
    match kind {
        #[cfg(any(feature = "postgres", feature = "mysql"))]
        Kind::Postgres | Kind::Mysql => Ok(Arc::new(super::sql::Sql::connect(
            url,
            &super::sql::Settings::default(),
        )?)),
        #[cfg(feature = "redis")]
        Kind::Redis => Ok(Arc::new(super::redis::RedisRecords::connect(url)?)),
        #[cfg(feature = "mongodb")]
        Kind::Mongo => Ok(Arc::new(super::mongo::MongoRecords::connect(url)?)),
        #[cfg(feature = "aws")]
        Kind::Objects => {
            let mut at = settings::StateSettings::new(url);
            if let Some(s) = state {
                (at.endpoint, at.region, at.allow_http) =
                    (s.endpoint.clone(), s.region.clone(), s.allow_http);
            }
            let location = at.files_location().expect("an s3 URL is its own location");
            Ok(Arc::new(super::objects::Objects::new(location.connect()?)))
        }
        #[allow(unreachable_patterns)]
        _ => bail!("this ktra was built without the {kind:?} state backend"),
    }
}
