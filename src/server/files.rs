//! Serving `public/` read-only: GET and HEAD, with `ETag` and `Last-Modified`, 304 on a
//! matching conditional request, cache lifetimes by kind of file, and 404 for anything missing
//! or outside `public/` (escaping paths and symbolic links included).

use super::paths;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Answers one request for a file under `public` (an absolute, canonical path).
pub async fn serve(public: &Path, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
        )
            .into_response();
    }
    let Some(rel) = paths::relative(uri.path()) else {
        return not_found();
    };
    let Some((path, meta)) = resolve(public, &rel).await else {
        return not_found();
    };
    let modified = meta.modified().unwrap_or(UNIX_EPOCH);
    let etag = format!(
        "\"{:x}-{:x}-{:x}\"",
        meta.ino(),
        meta.len(),
        nanos(modified)
    );
    let last_modified = httpdate::fmt_http_date(modified);
    let mut response = if not_modified(headers, &etag, modified) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if method == Method::HEAD {
        let mut r = Response::new(Body::empty());
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(meta.len()));
        r
    } else {
        match tokio::fs::File::open(&path).await {
            Ok(file) => {
                let mut r =
                    Response::new(Body::from_stream(tokio_util::io::ReaderStream::new(file)));
                r.headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(meta.len()));
                r
            }
            Err(_) => return not_found(),
        }
    };
    let ok = response.status() == StatusCode::OK;
    let h = response.headers_mut();
    h.insert(header::ETAG, header_value(&etag));
    h.insert(header::LAST_MODIFIED, header_value(&last_modified));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(paths::cache_control(&rel)),
    );
    if ok {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(paths::content_type(&rel)),
        );
    }
    response
}

/// The file for `rel` if it is a regular file reached without any symbolic link.
async fn resolve(public: &Path, rel: &str) -> Option<(PathBuf, std::fs::Metadata)> {
    let joined = public.join(rel);
    let canonical = tokio::fs::canonicalize(&joined).await.ok()?;
    if canonical != joined || !canonical.starts_with(public) {
        return None;
    }
    let meta = tokio::fs::symlink_metadata(&canonical).await.ok()?;
    meta.is_file().then_some((canonical, meta))
}

fn not_modified(headers: &HeaderMap, etag: &str, modified: SystemTime) -> bool {
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        return inm
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t == etag || t.strip_prefix("W/") == Some(etag));
    }
    if let Some(since) = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
    {
        // HTTP dates have whole seconds.
        let secs = modified
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        return UNIX_EPOCH + Duration::from_secs(secs) <= since;
    }
    false
}

fn nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos()
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CACHE_CONTROL, "no-cache")],
        "not found\n",
    )
        .into_response()
}
