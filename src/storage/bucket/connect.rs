//! How to reach a bucket: the non-secret settings of `ktra.toml` over the standard AWS
//! environment variables, and the object_store client built from them (path-style requests to a
//! given endpoint, conditional puts by ETag, bounded retries and timeouts).

use super::BucketUrl;
use anyhow::{Context, Result, bail};
use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut};
use object_store::{BackoffConfig, ClientOptions, RetryConfig};
use std::time::Duration;

/// Non-secret connection settings from ktra.toml's [storage]/[state] tables; each overrides the
/// standard AWS environment variable when set.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BucketSettings {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub allow_http: Option<bool>,
}

/// The region when neither a setting nor the environment names one (what AWS's tools assume,
/// and what MinIO and moto accept).
const DEFAULT_REGION: &str = "us-east-1";

/// One request (connecting, sending, the whole answer) may take this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Failed requests (5xx, 429, a dropped connection) are retried with backoff, at most this
/// often and never starting a new attempt after this long: an operation gives up within about
/// RETRY_TIMEOUT + REQUEST_TIMEOUT.
const MAX_RETRIES: usize = 5;
const RETRY_TIMEOUT: Duration = Duration::from_secs(60);

/// What [`resolve`] decided, before any client exists. No `Debug`: it holds the secret key.
pub(super) struct Resolved {
    pub endpoint: Option<String>,
    pub region: String,
    pub allow_http: bool,
    /// Access key id, secret access key, session token.
    pub credentials: Option<(String, String, Option<String>)>,
}

/// Settings win over the environment (`env` looks a variable up; empty counts as unset).
pub(super) fn resolve(
    settings: &BucketSettings,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Resolved> {
    let env = |name: &str| env(name).filter(|v| !v.is_empty());
    let endpoint = settings
        .endpoint
        .clone()
        .map(|e| (e, "the `endpoint` setting"))
        .or_else(|| env("AWS_ENDPOINT_URL").map(|e| (e, "AWS_ENDPOINT_URL")));
    let region = settings
        .region
        .clone()
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| DEFAULT_REGION.to_owned());
    let allow_http = match settings.allow_http {
        Some(b) => b,
        None => match env("AWS_ALLOW_HTTP").as_deref() {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => true,
            Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => false,
            Some(v) => bail!("AWS_ALLOW_HTTP is `{v}`: expected `true` or `false`"),
        },
    };
    let endpoint = match endpoint {
        None => None,
        Some((e, from)) => {
            let shown = crate::redact::url_credentials(&e);
            let e = e.trim_end_matches('/').to_owned();
            if e.starts_with("http://") {
                if !allow_http {
                    bail!(
                        "{from} is `{shown}`, plain HTTP: set `allow-http = true` in the \
                         settings or AWS_ALLOW_HTTP=true to use it"
                    );
                }
            } else if !e.starts_with("https://") {
                bail!("{from} is `{shown}`: expected an `https://` or `http://` URL");
            }
            Some(e)
        }
    };
    let key_id = env("AWS_ACCESS_KEY_ID");
    let secret = env("AWS_SECRET_ACCESS_KEY");
    let credentials = match (key_id, secret) {
        (Some(id), Some(secret)) => Some((id, secret, env("AWS_SESSION_TOKEN"))),
        (Some(_), None) => bail!("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"),
        (None, Some(_)) => bail!("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"),
        // object_store then asks the instance metadata service (an EC2 instance's role).
        (None, None) => None,
    };
    Ok(Resolved {
        endpoint,
        region,
        allow_http,
        credentials,
    })
}

/// The object_store client for `url` (its prefix is applied by the caller, key by key).
pub(super) fn client(url: &BucketUrl, r: Resolved) -> Result<AmazonS3> {
    // reqwest is built without a default TLS provider; the process uses ring's.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let options = ClientOptions::new()
        .with_allow_http(r.allow_http)
        .with_timeout(REQUEST_TIMEOUT)
        .with_connect_timeout(CONNECT_TIMEOUT);
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            base: 2.0,
        },
        max_retries: MAX_RETRIES,
        retry_timeout: RETRY_TIMEOUT,
    };
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(&url.bucket)
        .with_region(&r.region)
        .with_client_options(options)
        .with_retry(retry)
        .with_conditional_put(S3ConditionalPut::ETagMatch)
        // One key is deleted at a time: a plain `DELETE` (the core API every S3-compatible
        // store has) instead of a one-key `POST ?delete`.
        .with_disable_bulk_delete(true);
    if let Some(endpoint) = &r.endpoint {
        // MinIO, moto, Ceph and most others are addressed path-style: ENDPOINT/BUCKET/KEY.
        builder = builder
            .with_endpoint(endpoint)
            .with_virtual_hosted_style_request(false);
    }
    if let Some((id, secret, token)) = r.credentials {
        builder = builder
            .with_access_key_id(id)
            .with_secret_access_key(secret);
        if let Some(token) = token {
            builder = builder.with_token(token);
        }
    }
    builder
        .build()
        .with_context(|| format!("failed to set up a client for {url}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn err(settings: &BucketSettings, pairs: &[(&str, &str)]) -> String {
        match resolve(settings, env(pairs)) {
            Ok(_) => panic!("expected an error"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn environment_fills_in_and_settings_win() {
        let vars = [
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/"),
            ("AWS_DEFAULT_REGION", "eu-west-3"),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "id"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "tok"),
        ];
        let r = resolve(&BucketSettings::default(), env(&vars)).unwrap();
        assert_eq!(r.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(r.region, "eu-west-3");
        assert!(r.allow_http);
        let creds = r.credentials.unwrap();
        assert_eq!((creds.0.as_str(), creds.1.as_str()), ("id", "secret"));
        assert_eq!(creds.2.as_deref(), Some("tok"));

        let settings = BucketSettings {
            endpoint: Some("https://minio.example.com".into()),
            region: Some("auto".into()),
            allow_http: Some(false),
        };
        let r = resolve(&settings, env(&vars)).unwrap();
        assert_eq!(r.endpoint.as_deref(), Some("https://minio.example.com"));
        assert_eq!(r.region, "auto");
        assert!(!r.allow_http);

        let r = resolve(
            &BucketSettings::default(),
            env(&[("AWS_REGION", "a"), ("AWS_DEFAULT_REGION", "b")]),
        )
        .unwrap();
        assert_eq!(r.region, "a");
        let r = resolve(&BucketSettings::default(), env(&[("AWS_REGION", "")])).unwrap();
        assert_eq!(
            (r.region.as_str(), r.endpoint, r.credentials.is_none()),
            (DEFAULT_REGION, None, true)
        );
    }

    #[test]
    fn refuses_what_would_fail_later() {
        let none = BucketSettings::default();
        let e = err(
            &none,
            &[("AWS_ENDPOINT_URL", "http://user:pw@10.0.0.1:9000")],
        );
        assert!(
            e.contains("plain HTTP") && e.contains("AWS_ALLOW_HTTP"),
            "{e}"
        );
        assert!(!e.contains("pw"), "no credentials in messages: {e}");
        let e = err(&none, &[("AWS_ENDPOINT_URL", "minio:9000")]);
        assert!(e.contains("expected an `https://`"), "{e}");
        let e = err(&none, &[("AWS_ALLOW_HTTP", "yes")]);
        assert!(e.contains("AWS_ALLOW_HTTP is `yes`"), "{e}");
        let e = err(&none, &[("AWS_ACCESS_KEY_ID", "id")]);
        assert!(e.contains("AWS_SECRET_ACCESS_KEY is not"), "{e}");
        let e = err(&none, &[("AWS_SECRET_ACCESS_KEY", "s3cr3t")]);
        assert!(
            e.contains("AWS_ACCESS_KEY_ID is not") && !e.contains("s3cr3t"),
            "{e}"
        );
        let settings = BucketSettings {
            endpoint: Some("http://127.0.0.1:9000".into()),
            allow_http: Some(false),
            ..Default::default()
        };
        let e = err(&settings, &[("AWS_ALLOW_HTTP", "true")]);
        assert!(e.contains("the `endpoint` setting"), "{e}");
    }

    #[test]
    fn settings_are_kebab_case_and_strict() {
        let s: BucketSettings =
            toml::from_str("endpoint = \"https://e\"\nregion = \"r\"\nallow-http = true").unwrap();
        assert_eq!(s.allow_http, Some(true));
        assert!(toml::from_str::<BucketSettings>("allow_http = true").is_err());
        assert!(toml::from_str::<BucketSettings>("bucket = \"b\"").is_err());
    }
}
