//! The five operations on objects: read, look up, write (conditionally), delete, list; and what
//! a failed one says: the operation, key and location first (cargo's style), then the store's
//! answer without credentials and with S3's XML cut to its code and message, a missing bucket
//! said plainly.

use super::{Bucket, Cond, Fetched, Head, Served, Tag, Written, headers_for};
use anyhow::{Context, Result, anyhow};
use futures_util::StreamExt;
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, Error as StoreError, GetOptions, ObjectStore, ObjectStoreExt, PutMode,
    PutOptions, UpdateVersion,
};
use std::sync::atomic::Ordering;

impl Bucket {
    /// The object's bytes and ETag; `None` when there is no such key.
    pub fn get(&self, key: &str) -> Result<Option<Fetched>> {
        let what = || format!("failed to read `{key}` from {}", self.url());
        let path = self.path(key).with_context(what)?;
        let store = self.store();
        let got = self.run(async move {
            let got = store.get(&path).await?;
            let tag = got.meta.e_tag.clone();
            Ok((got.bytes().await?, tag))
        });
        match got.with_context(what)? {
            Ok((bytes, tag)) => Ok(Some(Fetched {
                bytes: bytes.into(),
                tag: self.seen(tag).with_context(what)?,
            })),
            Err(e) if self.missing_key(&e) => Ok(None),
            Err(e) => Err(self.fail(e, what())),
        }
    }

    /// A read for serving: `None` when there is no such key; [`Served::NotModified`] when the
    /// object's ETag is `if_none_match` (a conditional GET: the bytes are not sent);
    /// [`Served::TooLarge`] (the body not read) when the object is larger than `max` bytes.
    pub fn get_for_serving(
        &self,
        key: &str,
        if_none_match: Option<String>,
        max: u64,
    ) -> Result<Option<Served>> {
        let what = || format!("failed to read `{key}` from {}", self.url());
        let path = self.path(key).with_context(what)?;
        let store = self.store();
        let asked = if_none_match.clone();
        let got = self.run(async move {
            let options = GetOptions {
                if_none_match: asked,
                ..Default::default()
            };
            let got = store.get_opts(&path, options).await?;
            let tag = got.meta.e_tag.clone();
            if got.meta.size > max {
                return Ok(Err((got.meta.size, tag)));
            }
            Ok(Ok((got.bytes().await?, tag)))
        });
        match got.with_context(what)? {
            Ok(Ok((bytes, tag))) => Ok(Some(Served::Fetched(Fetched {
                bytes: bytes.into(),
                tag: self.seen(tag).with_context(what)?,
            }))),
            Ok(Err((size, _))) => Ok(Some(Served::TooLarge(size))),
            Err(StoreError::NotModified { .. }) => {
                self.inner.exists.store(true, Ordering::Relaxed);
                Ok(Some(Served::NotModified(if_none_match.unwrap_or_default())))
            }
            Err(e) if self.missing_key(&e) => Ok(None),
            Err(e) => Err(self.fail(e, what())),
        }
    }

    /// The object's size, ETag and last-modified time; `None` when there is no such key.
    pub fn head(&self, key: &str) -> Result<Option<Head>> {
        let what = || format!("failed to read the metadata of `{key}` from {}", self.url());
        let path = self.path(key).with_context(what)?;
        let store = self.store();
        let exists = self.inner.exists.load(Ordering::Relaxed);
        let head = self.run(async move {
            match store.head(&path).await {
                Err(StoreError::NotFound { .. }) if !exists => {
                    // Was it the key or the bucket? A GET's 404 says which.
                    store.get(&path).await.map(|got| got.meta)
                }
                other => other,
            }
        });
        match head.with_context(what)? {
            Ok(meta) => Ok(Some(Head {
                size: meta.size,
                tag: self.seen(meta.e_tag).with_context(what)?,
                last_modified: meta.last_modified.into(),
            })),
            Err(e) if self.missing_key(&e) => Ok(None),
            Err(e) => Err(self.fail(e, what())),
        }
    }

    /// Writes `bytes` under `cond`, with the key's `Content-Type` and `Cache-Control`
    /// ([`headers_for`]). A failed condition is [`Written::Conflict`], not an error.
    pub fn put(&self, key: &str, bytes: Vec<u8>, cond: Cond) -> Result<Written> {
        let what = || format!("failed to write `{key}` to {}", self.url());
        let path = self.path(key).with_context(what)?;
        let (content_type, cache_control) = headers_for(key);
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, content_type.into());
        attributes.insert(Attribute::CacheControl, cache_control.into());
        let mode = match cond {
            Cond::Any => PutMode::Overwrite,
            Cond::IfAbsent => PutMode::Create,
            Cond::IfMatch(tag) => PutMode::Update(UpdateVersion {
                e_tag: Some(tag),
                version: None,
            }),
        };
        let options = PutOptions {
            mode,
            attributes,
            ..Default::default()
        };
        let store = self.store();
        let put = self.run(async move { store.put_opts(&path, bytes.into(), options).await });
        match put.with_context(what)? {
            Ok(done) => Ok(Written::Done(self.seen(done.e_tag).with_context(what)?)),
            Err(e) if no_such_bucket(&e) => Err(self.fail(e, what())),
            Err(StoreError::AlreadyExists { .. } | StoreError::Precondition { .. }) => {
                Ok(Written::Conflict)
            }
            Err(e) => Err(self.fail(e, what())),
        }
    }

    /// Removes the object; a key that is not there is fine.
    pub fn delete(&self, key: &str) -> Result<()> {
        let what = || format!("failed to delete `{key}` from {}", self.url());
        let path = self.path(key).with_context(what)?;
        let store = self.store();
        match self
            .run(async move { store.delete(&path).await })
            .with_context(what)?
        {
            Ok(()) => Ok(()),
            Err(e) if self.missing_key(&e) => Ok(()),
            Err(e) => Err(self.fail(e, what())),
        }
    }

    /// Every key below `dir` ("" = everything), relative to the URL's prefix, sorted.
    pub fn list(&self, dir: &str) -> Result<Vec<String>> {
        let what = || format!("failed to list `{dir}` in {}", self.url());
        let dir = dir.trim_end_matches('/');
        let below = match (self.url().prefix.as_str(), dir) {
            ("", "") => None,
            (prefix, "") => Some(Path::parse(prefix).with_context(what)?),
            _ => Some(self.path(dir).with_context(what)?),
        };
        let store = self.store();
        let listed = self.run(async move {
            let mut stream = store.list(below.as_ref());
            let mut keys = Vec::new();
            while let Some(meta) = stream.next().await {
                keys.push(String::from(meta?.location));
            }
            Ok(keys)
        });
        let listed = match listed.with_context(what)? {
            Ok(keys) => keys,
            Err(e) => return Err(self.fail(e, what())),
        };
        self.inner.exists.store(true, Ordering::Relaxed);
        let strip = match self.url().prefix.as_str() {
            "" => String::new(),
            prefix => format!("{prefix}/"),
        };
        let mut keys: Vec<String> = listed
            .into_iter()
            .filter_map(|k| k.strip_prefix(&strip).map(str::to_owned))
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// An answer came: the bucket exists. Every object has an ETag on S3.
    fn seen(&self, tag: Option<String>) -> Result<Tag> {
        self.inner.exists.store(true, Ordering::Relaxed);
        tag.ok_or_else(|| anyhow!("the object storage sent no ETag"))
    }

    /// A 404 that means the key, not the bucket, is missing.
    fn missing_key(&self, e: &StoreError) -> bool {
        let missing = matches!(e, StoreError::NotFound { .. }) && !no_such_bucket(e);
        if missing {
            self.inner.exists.store(true, Ordering::Relaxed);
        }
        missing
    }

    /// The error of an operation: `what`, caused by the store's answer (credentials in a URL
    /// taken out), with a plain cause first when the bucket does not exist.
    fn fail(&self, e: StoreError, what: String) -> anyhow::Error {
        let said = tidy(&crate::redact::url_credentials(&e.to_string()));
        let mut err = anyhow::Error::new(super::StoreFailure(said));
        if no_such_bucket(&e) {
            err = err.context(format!(
                "the bucket `{}` does not exist (create it, or check the endpoint and region)",
                self.url().bucket
            ));
        }
        err.context(what)
    }
}

/// An error's text with S3's XML error document cut down to its code and message.
fn tidy(text: &str) -> String {
    let Some(start) = text.find("<?xml").or_else(|| text.find("<Error>")) else {
        return text.to_owned();
    };
    let element = |name: &str| {
        let open = format!("<{name}>");
        let from = text[start..].find(&open)? + start + open.len();
        let to = text[from..].find('<')? + from;
        Some(text[from..to].trim().to_owned())
    };
    let said = match (element("Code"), element("Message")) {
        (Some(code), Some(message)) => format!("{code} ({message})"),
        (Some(code), None) => code,
        _ => return text.to_owned(),
    };
    format!("{}{said}", &text[..start])
}

/// Whether the store answered S3's `NoSuchBucket` (the error's text carries the response body).
fn no_such_bucket(e: &StoreError) -> bool {
    e.to_string().contains("NoSuchBucket")
}
