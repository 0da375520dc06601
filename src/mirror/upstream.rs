//! The upstream registry over HTTP: its `config.json`, its index files (conditional requests,
//! so an unchanged file costs one 304), and its crate files, streamed to a temporary file and
//! checked against the index checksum. Transient failures are retried with backoff.

use super::dl::download_url;
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
    Fresh { body: Vec<u8>, validator: Validator },
}

pub struct Upstream {
    client: reqwest::Client,
    /// The index URL without `sparse+`, ending in `/`.
    base: String,
    retries: u32,
    dl: tokio::sync::OnceCell<String>,
}

impl Upstream {
    /// `url` is the upstream's sparse index URL, with or without `sparse+`.
    pub fn new(url: &str, retries: u32) -> Result<Self> {
        let base = url.strip_prefix("sparse+").unwrap_or(url);
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!("the upstream `{url}` is not an http(s) sparse index URL");
        }
        let base = format!("{}/", base.trim_end_matches('/'));
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(concat!("ktra/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .pool_max_idle_per_host(64)
            .build()
            .context("failed to set up the HTTP client")?;
        Ok(Self {
            client,
            base,
            retries,
            dl: tokio::sync::OnceCell::new(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The upstream's `dl` template, fetched once.
    pub async fn dl(&self) -> Result<&str> {
        self.dl
            .get_or_try_init(|| async {
                let url = format!("{}config.json", self.base);
                let response = self.get(&url, &[]).await?;
                if response.status() != StatusCode::OK {
                    bail!("`{url}` answered {}", response.status());
                }
                let bytes = response
                    .bytes()
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

    /// Fetches a crate's index file (`index_path` relative to the index root).
    pub async fn index_file(&self, index_path: &str, validator: &Validator) -> Result<IndexFetch> {
        let url = format!("{}{index_path}", self.base);
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
                let body = response
                    .bytes()
                    .await
                    .with_context(|| format!("failed to read `{url}`"))?;
                Ok(IndexFetch::Fresh {
                    body: body.to_vec(),
                    validator,
                })
            }
            status => bail!("`{url}` answered {status}"),
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
                Err(e) if attempt < self.retries && e.downcast_ref::<Transient>().is_some() => {
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
            bail!("the upstream answered {}", response.status());
        }
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| anyhow!(e).context(Transient))?;
            hasher.update(&chunk);
            out.write_all(&chunk)
                .context("failed to write a temporary file")?;
            size += chunk.len() as u64;
        }
        let got = format!("{:x}", hasher.finalize());
        if got != cksum {
            bail!("checksum mismatch: the index says {cksum}, the file has {got}");
        }
        Ok(size)
    }

    /// A GET with retries on connection failures, 5xx and 429.
    async fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<reqwest::Response> {
        let mut attempt = 0;
        loop {
            let mut request = self.client.get(url);
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            let result = request.send().await;
            let retry = match &result {
                Ok(r) => is_transient_status(r.status()),
                Err(e) => !e.is_builder(),
            };
            if retry && attempt < self.retries {
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
