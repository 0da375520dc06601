//! Serving the files of a registry in object storage: the request's token checked (a private
//! registry), then the object read from the bucket on a blocking thread, with the bucket's
//! `ETag`; a matching `If-None-Match` is passed on to the bucket as a conditional GET and
//! answered with 304 (the bytes are not fetched). Public reads of such a registry normally go
//! to the bucket or a CDN directly; this is how a private (`auth-required`) one is read, and how
//! any one may be served through `ktra serve` too.

use super::error::ApiError;
use super::{auth, paths};
use crate::registry::Registry;
use crate::storage::Area;
use crate::storage::bucket::{Fetched, Served, Tag};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Objects other than crate files (index files, pages, search shards) are read whole up to
/// this size; crate files up to the registry's `max-crate-size`. ktra writes nothing larger.
const MAX_OTHER: u64 = 64 * 1024 * 1024;

pub async fn serve(
    reg: Arc<Registry>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response {
    if let Some(refused) = paths::refuse_method(method) {
        return refused;
    }
    let head = method == Method::HEAD;
    let Some(rel) = paths::relative(uri.path()) else {
        return not_found();
    };
    let asked = single_tag(headers);
    let max = reg.config.max_crate_size.max(MAX_OTHER);
    let headers = headers.clone();
    let key = rel.clone();
    let found = tokio::task::spawn_blocking(move || -> Result<Found, ApiError> {
        auth::check_read(&reg, &headers)?;
        let bucket = reg
            .store
            .bucket()
            .expect("served from a bucket only in object storage")
            .area(Area::Public);
        let failed = |e: anyhow::Error| ApiError::internal(&e);
        if head {
            return Ok(match bucket.head(&key).map_err(failed)? {
                None => Found::Missing,
                Some(h) if asked.as_deref() == Some(h.tag.as_str()) => Found::NotModified(h.tag),
                Some(h) => Found::Head(h.size, h.tag),
            });
        }
        Ok(
            match bucket.get_for_serving(&key, asked, max).map_err(failed)? {
                None => Found::Missing,
                Some(Served::NotModified(tag)) => Found::NotModified(tag),
                Some(Served::Fetched(f)) => Found::Body(f),
                Some(Served::TooLarge(size)) => Found::TooLarge(size),
            },
        )
    })
    .await;
    let found = match found {
        Ok(Ok(found)) => found,
        Ok(Err(refusal)) => return refusal.into_response(),
        Err(e) => return ApiError::internal(&e).into_response(),
    };
    let (mut response, len, tag) = match found {
        Found::Missing => return not_found(),
        Found::TooLarge(size) => {
            let e = format!("`{rel}` in the bucket is larger ({size} bytes) than ktra serves");
            return ApiError::internal(&e).into_response();
        }
        Found::NotModified(tag) => (StatusCode::NOT_MODIFIED.into_response(), None, tag),
        Found::Head(size, tag) => (Response::new(Body::empty()), Some(size), tag),
        Found::Body(f) => {
            let len = f.bytes.len() as u64;
            let body = Body::from(Bytes::from(f.bytes));
            (Response::new(body), Some(len), f.tag)
        }
    };
    let h = response.headers_mut();
    if let Some(len) = len {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(paths::content_type(&rel)),
        );
    }
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(paths::cache_control(&rel)),
    );
    response
}

/// What the bucket had for a request.
enum Found {
    Missing,
    NotModified(Tag),
    /// A HEAD: the size and tag.
    Head(u64, Tag),
    Body(Fetched),
    TooLarge(u64),
}

/// The client's `If-None-Match` when it names one tag (what cargo sends); a list or `*` is
/// not passed on, and the object is then sent whole.
fn single_tag(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::IF_NONE_MATCH)?.to_str().ok()?.trim();
    let tag = value.strip_prefix("W/").unwrap_or(value);
    let quoted = tag.len() >= 2 && tag.starts_with('"') && tag.ends_with('"');
    (quoted && !tag[1..tag.len() - 1].contains('"')).then(|| tag.to_owned())
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CACHE_CONTROL, "no-cache")],
        "not found\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_quoted_tag_is_passed_to_the_bucket() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
            single_tag(&h)
        };
        assert_eq!(with("\"abc\"").as_deref(), Some("\"abc\""));
        assert_eq!(with("W/\"abc\"").as_deref(), Some("\"abc\""));
        assert_eq!(with("*"), None);
        assert_eq!(with("\"a\", \"b\""), None);
        assert_eq!(with("abc"), None);
        assert_eq!(single_tag(&HeaderMap::new()), None);
    }
}
