//! Where a registry keeps its files: the local folder holding `ktra.toml` (the default), or
//! object storage named by `[storage]` (the served files) and `[state]` (the private files)
//! in `ktra.toml`. Only non-secret settings live here; credentials come from the standard AWS
//! environment variables.

use serde::{Deserialize, Serialize};

/// A `[storage]` or `[state]` table of `ktra.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Location {
    /// `s3://BUCKET[/PREFIX]`.
    pub url: String,
    /// The S3 endpoint (MinIO, R2, a test server); the AWS variable `AWS_ENDPOINT_URL` when
    /// unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Allow a plain `http://` endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_http: Option<bool>,
}

impl Location {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            endpoint: None,
            region: None,
            allow_http: None,
        }
    }
}

#[cfg(feature = "aws")]
impl Location {
    pub fn bucket_url(&self) -> anyhow::Result<super::bucket::BucketUrl> {
        super::bucket::BucketUrl::parse(&self.url)
    }

    pub fn settings(&self) -> super::bucket::BucketSettings {
        super::bucket::BucketSettings {
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            allow_http: self.allow_http,
        }
    }

    pub fn connect(&self) -> anyhow::Result<super::bucket::Bucket> {
        super::bucket::Bucket::connect(&self.bucket_url()?, &self.settings())
    }
}

/// The rules for `[storage]` and `[state]`: object storage needs a private location
/// (`[state] url = "s3://..."`, or `files` beside a database `url`), which a registry in a
/// folder does not use; the private files never inside the public location; no git index on
/// object storage (its objects and refs cannot be moved safely by many writers with plain
/// conditional writes, and cargo's sparse protocol needs none of it).
pub fn check(
    storage: Option<&Location>,
    state: Option<&crate::state::StateSettings>,
    git: bool,
) -> anyhow::Result<()> {
    use anyhow::bail;
    if let Some(state) = state {
        state.check()?;
    }
    let private = state.and_then(|s| s.files_location());
    let (storage, state) = match (storage, private) {
        (None, None) => return Ok(()),
        (Some(_), None) => bail!(
            "`[storage]` needs a private location in object storage: `[state] url = \"s3://...\"`, \
             or `[state] files = \"s3://...\"` beside a database `url`"
        ),
        (None, Some(_)) => bail!(
            "`[state] url = \"s3://...\"` and `[state] files` are only used with `[storage]` \
             (a registry in a folder keeps its private files in `state/`)"
        ),
        (Some(a), Some(b)) => (a, b),
    };
    let state = &state;
    if git {
        bail!(
            "a registry in object storage has no git index: set `[git] enabled = false` \
             (cargo reads the sparse index)"
        );
    }
    check_buckets(storage, state)
}

#[cfg(feature = "aws")]
fn check_buckets(storage: &Location, state: &Location) -> anyhow::Result<()> {
    use anyhow::Context;
    let public = storage.bucket_url().context("in `[storage] url`")?;
    let private = state.bucket_url().context("in `[state] url`")?;
    if public.contains(&private) || private.contains(&public) {
        anyhow::bail!(
            "the state location `{private}` must not overlap the served location `{public}`: \
             it holds token hashes and must never be readable by the public"
        );
    }
    Ok(())
}

#[cfg(not(feature = "aws"))]
fn check_buckets(_: &Location, _: &Location) -> anyhow::Result<()> {
    anyhow::bail!("this ktra was built without object storage (the `aws` feature)")
}
