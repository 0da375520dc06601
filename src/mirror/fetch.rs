//! The rules of every request to the upstream: redirects stay on the request's origin unless
//! `allow-redirect-hosts` lists the target, the token goes only to the upstream's own origin,
//! and bodies are read with a byte counter that stops at a limit (nothing unbounded is
//! buffered on behalf of a client that may not even hold a token).

use super::settings::{Access, host_allowed};
use anyhow::{Result, bail};
use reqwest::Url;
use reqwest::redirect::{Attempt, Policy};
use std::time::Duration;

/// Redirects followed for one request at most.
const MAX_REDIRECTS: usize = 10;

/// The HTTP client of one upstream, with the redirect rule of `access`.
pub fn client(access: &Access) -> Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let hosts = access.redirect_hosts.clone();
    let policy = Policy::custom(move |attempt| redirect(attempt, &hosts));
    let client = reqwest::Client::builder()
        .user_agent(concat!("ktra/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .pool_max_idle_per_host(64)
        .redirect(policy)
        .build()?;
    Ok(client)
}

fn redirect(attempt: Attempt<'_>, hosts: &[String]) -> reqwest::redirect::Action {
    let Some(first) = attempt.previous().first().cloned() else {
        return attempt.follow();
    };
    if attempt.previous().len() > MAX_REDIRECTS {
        let error = format!("the upstream redirected more than {MAX_REDIRECTS} times");
        return attempt.error(error);
    }
    let next = attempt.url();
    let downgrade = first.scheme() == "https" && next.scheme() != "https";
    let allowed = same_origin(&first, next)
        || (!downgrade
            && next.host_str().is_some_and(|host| {
                let port = next.port_or_known_default();
                hosts.iter().any(|entry| host_allowed(entry, host, port))
            }));
    if allowed {
        return attempt.follow();
    }
    let refused = RefusedRedirect {
        from: origin_text(&first),
        to: origin_text(next),
        host: host_port(next),
        downgrade,
    };
    attempt.error(refused)
}

/// A redirect the mirror will not follow; says which setting admits it.
#[derive(Debug)]
pub struct RefusedRedirect {
    from: String,
    to: String,
    host: String,
    downgrade: bool,
}

impl std::fmt::Display for RefusedRedirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.downgrade {
            return write!(
                f,
                "refused a redirect from `{}` to `{}`: it leaves https",
                self.from, self.to
            );
        }
        write!(
            f,
            "refused a redirect from `{}` to another host, `{}`: to follow it, list \"{}\" in \
             `allow-redirect-hosts` under `[mirror]` in ktra.toml",
            self.from, self.to, self.host
        )
    }
}

impl std::error::Error for RefusedRedirect {}

/// Scheme, host and port are the same (ports compared with their defaults filled in).
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

/// `scheme://host[:port]` of a URL: never its path, query or credentials.
pub fn origin_text(url: &Url) -> String {
    format!("{}://{}", url.scheme(), host_port(url))
}

fn host_port(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// A body too large for its limit.
#[derive(Debug)]
pub struct TooLarge {
    pub what: String,
    pub limit: u64,
    pub setting: &'static str,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is larger than {} bytes, the limit {}",
            self.what, self.limit, self.setting
        )
    }
}

impl std::error::Error for TooLarge {}

/// Reads a whole body, refusing it as soon as it passes `limit` bytes (or says it will).
pub async fn read_limited(
    mut response: reqwest::Response,
    limit: u64,
    what: &str,
    setting: &'static str,
) -> Result<Vec<u8>> {
    let too_large = || TooLarge {
        what: what.to_owned(),
        limit,
        setting,
    };
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(too_large().into());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(too_large().into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Checks a running count against a limit (for bodies streamed elsewhere than memory).
pub fn count(
    size: &mut u64,
    add: usize,
    limit: u64,
    what: &str,
    setting: &'static str,
) -> Result<()> {
    *size += add as u64;
    if *size > limit {
        bail!(TooLarge {
            what: what.to_owned(),
            limit,
            setting,
        });
    }
    Ok(())
}

/// `WHAT answered STATUS`, with what to do when the upstream wants a token (`token_sent`: one
/// was sent, and refused).
pub fn status_error(what: &str, status: reqwest::StatusCode, token_sent: bool) -> String {
    let what = if what.starts_with("http") {
        format!("`{what}`")
    } else {
        what.to_owned()
    };
    let denied = matches!(
        status,
        reqwest::StatusCode::UNAUTHORIZED | reqwest::StatusCode::FORBIDDEN
    );
    if denied && token_sent {
        format!("{what} answered {status}: the upstream refused the token")
    } else if denied {
        format!(
            "{what} answered {status}: if the upstream needs a token, put it in an environment \
             variable and name it with `--upstream-token-env VAR` (or `upstream-token-env` under \
             `[mirror]` in ktra.toml)"
        )
    } else {
        format!("{what} answered {status}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn origins_compare_scheme_host_and_effective_port() {
        assert!(same_origin(
            &url("https://a.example/x"),
            &url("https://A.example:443/y")
        ));
        assert!(!same_origin(
            &url("https://a.example/"),
            &url("http://a.example/")
        ));
        assert!(!same_origin(
            &url("http://127.0.0.1:1/"),
            &url("http://127.0.0.1:2/")
        ));
        assert!(!same_origin(
            &url("http://a.example/"),
            &url("http://b.example/")
        ));
        assert_eq!(
            origin_text(&url("https://user:pw@a.example:8443/p?q=1")),
            "https://a.example:8443"
        );
    }

    #[test]
    fn a_count_past_the_limit_is_refused_with_the_setting_named() {
        let mut size = 0;
        let setting = "set by `max-crate-size`";
        count(&mut size, 10, 15, "`x`", setting).unwrap();
        let err = count(&mut size, 10, 15, "`x`", setting).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`x` is larger than 15 bytes, the limit set by `max-crate-size`"
        );
    }
}
