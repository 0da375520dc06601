//! A registry in S3-compatible object storage (AWS S3, MinIO, Ceph RGW, R2, ...): a small,
//! synchronous client over object_store's `AmazonS3`, addressed by keys relative to an
//! `s3://BUCKET/PREFIX` location, with the conditional writes that let any number of writers
//! share a bucket without a lock server (`If-None-Match: *` to create, `If-Match: ETAG` to
//! replace what was read).
//!
//! ktra's commands are synchronous, so each [`Bucket`] owns a small tokio runtime and waits for
//! its requests on a channel: it may be called from any thread, also from a thread of another
//! runtime (`ktra serve`; there, call it from `spawn_blocking`, as any blocking work).

mod connect;
mod headers;
mod ops;
#[cfg(test)]
pub(crate) mod tests;
mod url;

pub use connect::BucketSettings;
pub use headers::headers_for;
pub use url::BucketUrl;

use anyhow::{Context, Result, anyhow, bail};
use object_store::aws::AmazonS3;
use object_store::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// An object's ETag, exactly as the store sent it (quotes included).
pub type Tag = String;

/// The condition a [`Bucket::put`] is made under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// Write whatever is there.
    Any,
    /// Write only if no object has the key (`If-None-Match: *`).
    IfAbsent,
    /// Write only if the object still has this ETag (`If-Match`).
    IfMatch(Tag),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Written; the new object's ETag.
    Done(Tag),
    /// The condition failed (412 / 409 / AlreadyExists / Precondition): nothing was written.
    Conflict,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub tag: Tag,
}

/// What [`Bucket::get_for_serving`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
    Fetched(Fetched),
    /// The client's copy is current: its ETag.
    NotModified(Tag),
    /// Larger than the caller's bound: its size (nothing was read).
    TooLarge(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub size: u64,
    pub tag: Tag,
    /// When the object was last written, as the store says (`Last-Modified`: whole seconds,
    /// by the store's clock).
    pub last_modified: std::time::SystemTime,
}

/// What the store answered to a failed operation (a network failure, a 5xx, a refusal of the
/// credentials): a failure of the store, not of the request that caused the operation, so the
/// web API answers it with 500 and logs it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreFailure(pub String);

#[derive(Clone)]
pub struct Bucket {
    inner: Arc<Inner>,
}

struct Inner {
    url: BucketUrl,
    store: Arc<AmazonS3>,
    /// Always `Some` until dropped (see `Drop`).
    runtime: Option<tokio::runtime::Runtime>,
    /// Whether the bucket is known to exist: a HEAD's 404 has no body to tell a missing key
    /// from a missing bucket, so until then a missing key is checked once with a GET.
    exists: AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping a runtime waits for its threads, which panics inside another runtime (the
        // last clone may go away in `ktra serve`); this does not wait.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Bucket")
            .field(&self.inner.url.to_string())
            .finish()
    }
}

impl Bucket {
    /// A client for `url`. Makes no request: a missing bucket shows at the first operation.
    pub fn connect(url: &BucketUrl, settings: &BucketSettings) -> Result<Bucket> {
        Self::connect_with_env(url, settings, |name| std::env::var(name).ok())
    }

    /// [`Bucket::connect`] with the environment looked up by `env` (tests run in parallel and
    /// cannot set variables of their own process).
    fn connect_with_env(
        url: &BucketUrl,
        settings: &BucketSettings,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Bucket> {
        let what = || format!("failed to set up object storage at {url}");
        let resolved = connect::resolve(settings, env).with_context(what)?;
        let store = connect::client(url, resolved).with_context(what)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("ktra-bucket")
            .build()
            .with_context(what)?;
        Ok(Bucket {
            inner: Arc::new(Inner {
                url: url.clone(),
                store: Arc::new(store),
                runtime: Some(runtime),
                exists: AtomicBool::new(false),
            }),
        })
    }

    pub fn url(&self) -> &BucketUrl {
        &self.inner.url
    }

    /// The object_store path of a key: the URL's prefix, then the key, checked.
    pub(super) fn path(&self, key: &str) -> Result<Path> {
        check_key(key)?;
        let full = match self.url().prefix.as_str() {
            "" => key.to_owned(),
            prefix => format!("{prefix}/{key}"),
        };
        Path::parse(&full).with_context(|| format!("invalid object key `{key}`"))
    }

    pub(super) fn store(&self) -> Arc<AmazonS3> {
        Arc::clone(&self.inner.store)
    }

    /// Runs a request on the bucket's runtime and waits for it on this thread.
    pub(super) fn run<T: Send + 'static>(
        &self,
        request: impl Future<Output = T> + Send + 'static,
    ) -> Result<T> {
        let runtime = self
            .inner
            .runtime
            .as_ref()
            .expect("runtime lives until drop");
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = tx.send(request.await);
        });
        rx.recv()
            .map_err(|_| anyhow!("the object storage client stopped in the middle of a request"))
    }
}

/// A key is relative: not empty, no leading or trailing `/`, no empty, `.` or `..` segment, no
/// control characters.
fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        bail!("an object key cannot be empty");
    }
    let bad_segment = key
        .split('/')
        .find(|s| s.is_empty() || *s == "." || *s == "..");
    if let Some(segment) = bad_segment {
        bail!("invalid object key `{key}`: it has an empty, `.` or `..` segment ({segment:?})");
    }
    if key.chars().any(|c| c.is_control()) {
        bail!("invalid object key {key:?}: it has a control character");
    }
    Ok(())
}

pub use super::retry::backoff;
