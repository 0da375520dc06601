//! Serving `public/` read-only: GET and HEAD, with `ETag` and `Last-Modified`, 304 on a
//! matching conditional request, cache lifetimes by kind of file, and 404 for anything missing
//! or outside `public/` (escaping paths and symbolic links included). Small files' responses
//! are kept by [`file_cache`] and checked against the disk on every request.

use super::{file_cache, paths};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Answers one request for a file under `public` (an absolute, canonical path, also open as
/// `public_dir`).
pub fn serve(
    public_dir: &std::fs::File,
    public: &Path,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response {
    if let Some(refused) = paths::refuse_method(method) {
        return refused;
    }
    let head = method == Method::HEAD;
    if let Some(response) = file_cache::answer(public_dir, uri.path(), |ready| {
        if not_modified(headers, &ready.etag, ready.modified) {
            file_cache::not_modified_response(ready)
        } else {
            file_cache::ok_response(ready, head)
        }
    }) {
        return response;
    }
    let Some(rel) = paths::relative(uri.path()) else {
        return not_found();
    };
    // Opening and reading a page-cached file takes microseconds: done here rather than handed
    // to a blocking thread and back, which would cost more than the work.
    let Some((file, meta)) = open_below(public_dir, public, &rel) else {
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
    let mut kept = None;
    let mut response = if not_modified(headers, &etag, modified) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if head {
        Response::new(Body::empty())
    } else if meta.len() <= INLINE_LIMIT {
        // The size is known: one read, not a second one to find the end.
        let mut bytes = vec![0u8; meta.len() as usize];
        if (&file).read_exact(&mut bytes).is_err() {
            return not_found();
        }
        let bytes = Bytes::from(bytes);
        if meta.len() <= file_cache::FILE_LIMIT {
            kept = Some(bytes.clone());
        }
        Response::new(Body::from(bytes))
    } else {
        let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
        Response::new(Body::from_stream(stream))
    };
    let ok = response.status() == StatusCode::OK;
    let h = response.headers_mut();
    if ok {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(meta.len()));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(paths::content_type(&rel)),
        );
    }
    h.insert(header::ETAG, header_value(&etag));
    h.insert(header::LAST_MODIFIED, header_value(&last_modified));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(paths::cache_control(&rel)),
    );
    if let Some(body) = kept {
        let ready = file_cache::Ready {
            body,
            headers: h.clone(),
            etag,
            modified,
        };
        file_cache::keep(public_dir, uri.path(), &rel, &meta, ready);
    }
    response
}

/// Files up to this size are read whole; larger ones (crate files) are streamed.
const INLINE_LIMIT: u64 = 256 * 1024;

/// Opens `rel` below `public` as a regular file without following any symbolic link or
/// leaving the folder: one `openat2` (Linux 5.6 and later), else a canonical-path check.
// reason: the server's file serving, measured and tuned here.
#[allow(clippy::disallowed_methods)]
fn open_below(
    public_dir: &std::fs::File,
    public: &Path,
    rel: &str,
) -> Option<(std::fs::File, std::fs::Metadata)> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    let file = match rustix::fs::openat2(
        public_dir,
        rel,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
        resolve,
    ) {
        Ok(fd) => std::fs::File::from(fd),
        Err(rustix::io::Errno::NOSYS) => {
            let joined = public.join(rel);
            let canonical = std::fs::canonicalize(&joined).ok()?;
            if canonical != joined || !canonical.starts_with(public) {
                return None;
            }
            std::fs::File::open(&canonical).ok()?
        }
        Err(_) => return None,
    };
    let meta = file.metadata().ok()?;
    meta.is_file().then_some((file, meta))
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
