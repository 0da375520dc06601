//! The pull-through's HTTP side: requests below `/mirror/` go to [`PullThrough`] before the
//! static files, so a missing index file or crate file is filled from the upstream.

use crate::mirror::pull::PullThrough;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

const INDEX_PREFIX: &str = "mirror/index/";
const CRATES_PREFIX: &str = "mirror/crates/";

/// What the pull-through does with a request path (relative to `public/`).
pub enum Route<'a> {
    /// An upstream index file, for this crate name.
    Index(&'a str),
    /// A crate file to make sure of, then serve as a static file.
    Crate(&'a str),
    /// Not the pull-through's business: a static file.
    Static,
}

pub fn route(rel: &str) -> Route<'_> {
    if let Some(path) = rel.strip_prefix(INDEX_PREFIX) {
        if path == "config.json" {
            return Route::Static;
        }
        let name = path.rsplit('/').next().unwrap_or(path);
        return if crate::index::path::index_path(name).is_ok_and(|p| p == path) {
            Route::Index(name)
        } else {
            Route::Static
        };
    }
    match rel.strip_prefix(CRATES_PREFIX) {
        Some(file) if !file.contains('/') => Route::Crate(file),
        _ => Route::Static,
    }
}

/// Answers an index request with the upstream's file (ETag from its content).
pub async fn index(
    pull: &PullThrough,
    name: &str,
    method: &Method,
    headers: &HeaderMap,
) -> Response {
    let body = match pull.index_file(name).await {
        Ok(Some(body)) => body,
        Ok(None) => return (StatusCode::NOT_FOUND, "not found\n").into_response(),
        Err(e) => return bad_gateway(pull, &e),
    };
    let etag = format!("\"{:x}\"", Sha256::digest(&body));
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else if method == Method::HEAD {
        StatusCode::OK.into_response()
    } else {
        body.into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex is a valid header"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Fills the mirror with a crate file if needed; `Some` is the response when it cannot be.
pub async fn ensure_crate(pull: &PullThrough, file: &str) -> Option<Response> {
    match pull.ensure_crate(file).await {
        Ok(true) => None,
        Ok(false) => Some((StatusCode::NOT_FOUND, "not found\n").into_response()),
        Err(e) => Some(bad_gateway(pull, &e)),
    }
}

fn bad_gateway(pull: &PullThrough, e: &anyhow::Error) -> Response {
    (
        StatusCode::BAD_GATEWAY,
        format!("the mirror's upstream failed: {}\n", pull.public_error(e)),
    )
        .into_response()
}
