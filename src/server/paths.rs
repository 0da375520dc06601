//! Which file a request path names, decided before anything touches the disk: percent-decoded
//! once, relative, no `.`/`..`/empty segments, no backslashes or NULs; and the one method
//! check of every file-serving path.

use percent_encoding::percent_decode_str;

/// The path relative to `public/` that a request path names, or `None` if it must not be
/// served. A path ending in `/` names that folder's `index.html`.
pub fn relative(request_path: &str) -> Option<String> {
    let decoded = percent_decode_str(request_path).decode_utf8().ok()?;
    let rest = decoded.strip_prefix('/')?;
    let mut rel = rest.to_owned();
    if rel.is_empty() || rel.ends_with('/') {
        rel.push_str("index.html");
    }
    let ok = rel
        .split('/')
        .all(|seg| !seg.is_empty() && seg != "." && seg != ".." && !seg.contains(['\\', '\0']));
    ok.then_some(rel)
}

/// How long a client or CDN may keep a file: crate files never change; index files and pages
/// change on every publish; the git index is always revalidated.
pub fn cache_control(rel: &str) -> &'static str {
    if rel.starts_with("crates/") || rel.starts_with("mirror/crates/") {
        "public, max-age=31536000, immutable"
    } else if rel.starts_with("index.git/") {
        "no-cache"
    } else {
        "public, max-age=60"
    }
}

pub fn content_type(rel: &str) -> &'static str {
    let ext = rel.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "crate" => "application/gzip",
        "json" => "application/json",
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "xml" => "application/atom+xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        _ if rel.starts_with("index/") || rel.starts_with("mirror/index/") => {
            "text/plain; charset=utf-8"
        }
        _ => "application/octet-stream",
    }
}

/// The answer to a request for a file whose method is neither GET nor HEAD: 405 with
/// `Allow: GET, HEAD` (`None` for GET and HEAD).
pub fn refuse_method(method: &axum::http::Method) -> Option<axum::response::Response> {
    use axum::http::{Method, StatusCode, header};
    use axum::response::IntoResponse;
    (method != Method::GET && method != Method::HEAD).then(|| {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
        )
            .into_response()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_paths_resolve() {
        assert_eq!(
            relative("/index/se/rd/serde").as_deref(),
            Some("index/se/rd/serde")
        );
        assert_eq!(
            relative("/crates/a-1.0.0%2Bb.crate").as_deref(),
            Some("crates/a-1.0.0+b.crate")
        );
        assert_eq!(relative("/").as_deref(), Some("index.html"));
        assert_eq!(relative("/site/").as_deref(), Some("site/index.html"));
    }

    #[test]
    fn escapes_are_refused() {
        for bad in [
            "/../ktra.toml",
            "/index/../../state/lock",
            "/%2e%2e/ktra.toml",
            "/index/%2E%2E/%2e%2e/ktra.toml",
            "/crates/..%2f..%2fktra.toml",
            "/index//x",
            "/./index/config.json",
            "/index/a%5c..%5cb",
            "/index/a%00b",
            "relative",
            "/%ff",
        ] {
            assert_eq!(relative(bad), None, "{bad}");
        }
    }

    #[test]
    fn caching_follows_mutability() {
        assert!(cache_control("crates/a-1.0.0.crate").contains("immutable"));
        assert!(cache_control("index/3/a/abc").contains("max-age=60"));
        assert_eq!(cache_control("index.git/info/refs"), "no-cache");
        assert_eq!(content_type("index/config.json"), "application/json");
        assert_eq!(
            content_type("index/se/rd/serde"),
            "text/plain; charset=utf-8"
        );
    }
}
