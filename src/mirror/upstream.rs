//! The upstream registry over HTTP: its `config.json`, its index files (conditional requests,
//! so an unchanged file costs one 304), and its crate files, streamed to a temporary file and
//! checked against the index checksum. Transient failures are retried with backoff. Every
//! request follows the rules of [`super::fetch`] (redirects, token, body limits).

use super::dl::download_url;
use super::fetch::{self, count, read_limited, same_origin, status_error};
use super::settings::Access;
use anyhow::{Context, Result, anyhow, bail};
use futures_util::StreamExt;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::time::Duration;

/// How an index file was last fetched: the validator to send next time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validator {
    ETag(String),
    LastModified(String),
    None,
}

pub enum IndexFetch {
    NotFound,
    NotModified,
    /// The body holds only the lines that passed [`super::lines::check_line`]; `dropped` says
    /// which did not.
    Fresh {
        body: Vec<u8>,
        /// The body parsed.
        file: crate::index::IndexFile,
        validator: Validator,
        dropped: Vec<String>,
    },
}

pub struct Upstream {
    client: reqwest::Client,
    /// The index URL without `sparse+`, ending in `/`.
    base: String,
    /// `base` parsed: its origin is the only one the token is sent to.
    base_url: reqwest::Url,
    access: Access,
    dl: tokio::sync::OnceCell<String>,
}

impl Upstream {
    /// `url` is the upstream's sparse index URL, with or without `sparse+`.
    pub fn new(url: &str, access: Access) -> Result<Self> {
        let base = url.strip_prefix("sparse+").unwrap_or(url);
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!("the upstream `{url}` is not an http(s) sparse index URL");
        }
        let base = format!("{}/", base.trim_end_matches('/'));
        let base_url = reqwest::Url::parse(&base)
            .ok()
            .filter(|u| u.host_str().is_some())
            .ok_or_else(|| anyhow!("the upstream `{url}` is not a valid URL"))?;
        let client = fetch::client(&access).context("failed to set up the HTTP client")?;
        Ok(Self {
            client,
            base,
            base_url,
            access,
            dl: tokio::sync::OnceCell::new(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `user:password@` when the upstream URL carries credentials (to keep them out of what
    /// clients are shown).
    pub fn userinfo(&self) -> Option<String> {
        let (user, password) = (self.base_url.username(), self.base_url.password());
        match (user, password) {
            ("", None) => None,
            (user, Some(password)) => Some(format!("{user}:{password}@")),
            (user, None) => Some(format!("{user}@")),
        }
    }

    /// The upstream's `dl` template, fetched once.
    pub async fn dl(&self) -> Result<&str> {
        self.dl
            .get_or_try_init(|| async {
                let url = format!("{}config.json", self.base);
                let response = self.get(&url, &[]).await?;
                if response.status() != StatusCode::OK {
                    bail!(status_error(
                        &url,
                        response.status(),
                        self.sends_token(&url)
                    ));
                }
                let what = format!("`{url}`");
                let limit = self.access.max_config_size;
                let bytes = read_limited(response, limit, &what, "for a `config.json`")
                    .await
                    .with_context(|| format!("failed to read `{url}`"))?;
                let config: serde_json::Value = serde_json::from_slice(&bytes)
                    .with_context(|| format!("`{url}` is not valid JSON"))?;
                let dl = config["dl"]
                    .as_str()
                    .ok_or_else(|| anyhow!("`{url}` has no `dl` string"))?;
                Ok(dl.to_owned())
            })
            .await
            .map(String::as_str)
    }

    /// Fetches a crate's index file; bad lines are dropped.
    pub async fn index_file(&self, name: &str, validator: &Validator) -> Result<IndexFetch> {
        let url = format!("{}{}", self.base, crate::index::path::index_path(name)?);
        let headers: Vec<(&str, &str)> = match validator {
            Validator::ETag(v) => vec![("if-none-match", v.as_str())],
            Validator::LastModified(v) => vec![("if-modified-since", v.as_str())],
            Validator::None => vec![],
        };
        let response = self.get(&url, &headers).await?;
        match response.status() {
            StatusCode::NOT_FOUND
            | StatusCode::GONE
            | StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS => Ok(IndexFetch::NotFound),
            StatusCode::NOT_MODIFIED if *validator != Validator::None => {
                Ok(IndexFetch::NotModified)
            }
            StatusCode::OK => {
                let header = |name: &str| {
                    response
                        .headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let validator = match (header("etag"), header("last-modified")) {
                    (Some(etag), _) => Validator::ETag(etag),
                    (None, Some(date)) => Validator::LastModified(date),
                    (None, None) => Validator::None,
                };
                let what = format!("`{url}`");
                let limit = self.access.max_index_file_size;
                let setting = "set by `max-index-file-size` under `[mirror]` in ktra.toml";
                let body = read_limited(response, limit, &what, setting)
                    .await
                    .with_context(|| format!("failed to read `{url}`"))?;
                let checked = super::lines::filter(name, &body, self.access.max_line_size);
                Ok(IndexFetch::Fresh {
                    body: checked.body,
                    file: checked.file,
                    validator,
                    dropped: checked.dropped,
                })
            }
            status => bail!(status_error(&url, status, self.sends_token(&url))),
        }
    }

    /// Downloads a crate file into `out`, checking its SHA-256 against `cksum`. Returns the size.
    pub async fn download(
        &self,
        name: &str,
        version: &str,
        cksum: &str,
        out: &mut std::fs::File,
    ) -> Result<u64> {
        let url = download_url(self.dl().await?, name, version, cksum);
        let mut attempt = 0;
        loop {
            let result = self.download_once(&url, cksum, out).await;
            match result {
                Err(e)
                    if attempt < self.access.retries && e.downcast_ref::<Transient>().is_some() =>
                {
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                    out.set_len(0)?;
                    std::io::Seek::rewind(out)?;
                }
                other => return other.with_context(|| format!("failed to download `{url}`")),
            }
        }
    }

    async fn download_once(&self, url: &str, cksum: &str, out: &mut std::fs::File) -> Result<u64> {
        let response = self.get(url, &[]).await?;
        if response.status() != StatusCode::OK {
            // `get` already retried transient statuses.
            let sent = self.sends_token(url);
            bail!(status_error("the upstream", response.status(), sent));
        }
        let limit = self.access.max_crate_size;
        let setting = "set by `max-crate-size` in ktra.toml";
        if response.content_length().is_some_and(|n| n > limit) {
            let what = "the crate file".to_owned();
            bail!(fetch::TooLarge {
                what,
                limit,
                setting
            });
        }
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| anyhow!(e).context(Transient))?;
            count(&mut size, chunk.len(), limit, "the crate file", setting)?;
            hasher.update(&chunk);
            out.write_all(&chunk)
                .context("failed to write a temporary file")?;
        }
        let got = format!("{:x}", hasher.finalize());
        if got != cksum {
            bail!("checksum mismatch: the index says {cksum}, the file has {got}");
        }
        Ok(size)
    }

    /// Whether a request to `url` carries the token: only on the upstream's own origin.
    fn sends_token(&self, url: &str) -> bool {
        self.access.token.is_some()
            && reqwest::Url::parse(url).is_ok_and(|u| same_origin(&u, &self.base_url))
    }

    /// A GET with retries on connection failures, 5xx and 429. The token goes along only when
    /// `url` is on the upstream's own origin (a redirect to another host drops it).
    async fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<reqwest::Response> {
        let token = match &self.access.token {
            Some(token) if self.sends_token(url) => {
                let mut value = reqwest::header::HeaderValue::from_str(token)
                    .map_err(|_| anyhow!("the upstream token cannot be sent as a header"))?;
                value.set_sensitive(true);
                Some(value)
            }
            _ => None,
        };
        let mut attempt = 0;
        loop {
            let mut request = self.client.get(url);
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            if let Some(token) = &token {
                request = request.header(reqwest::header::AUTHORIZATION, token.clone());
            }
            let result = request.send().await;
            let retry = match &result {
                Ok(r) => is_transient_status(r.status()),
                Err(e) => !e.is_builder() && !e.is_redirect(),
            };
            if retry && attempt < self.access.retries {
                attempt += 1;
                tokio::time::sleep(backoff(attempt)).await;
                continue;
            }
            return match result {
                Ok(r) => Ok(r),
                Err(e) => Err(anyhow!(e)
                    .context(Transient)
                    .context(format!("failed to fetch `{url}`"))),
            };
        }
    }
}

/// Marks an error worth retrying.
#[derive(Debug)]
struct Transient;

impl std::fmt::Display for Transient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a transient network failure")
    }
}

fn is_transient_status(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200u64 << attempt.min(6))
}
