//! The `Content-Type` and `Cache-Control` an object is stored with, so that a bucket (or a CDN
//! in front of it) serves the registry the way `ktra serve` does. Pure.

/// Crate files never change once written (a different file for an existing version is
/// refused), so clients and CDNs may keep them for a year. crates.io sends the same.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Index files, `config.json` and pages change with every publish. `max-age=60,
/// must-revalidate` rather than `no-cache`: a CDN may answer from its copy for a minute (the
/// bucket is not asked for every cargo request, and a new version shows within a minute, the
/// same delay as `ktra serve` and the README's nginx recipe), then must revalidate by ETag
/// (cheap 304s) and never serves a stale copy past that, even when the bucket is unreachable.
/// cargo revalidates its own copy of an index file with `If-None-Match` anyway.
const SHORT: &str = "public, max-age=60, must-revalidate";

/// The git index (dumb HTTP): `info/refs` and `HEAD` must never be older than the objects a
/// client then asks for, so everything below `index.git/` is revalidated on every use, as
/// `ktra serve` does.
const REVALIDATE: &str = "no-cache";

/// Content-Type and Cache-Control for a registry key (pure; unit-tested).
pub fn headers_for(key: &str) -> (&'static str, &'static str) {
    let name = key.rsplit('/').next().unwrap_or(key);
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    let in_index = key.starts_with("index/") || key.starts_with("mirror/index/");
    if key.starts_with("index.git/") {
        let content_type = match name {
            "refs" | "HEAD" | "packs" => "text/plain; charset=utf-8",
            _ => "application/octet-stream",
        };
        return (content_type, REVALIDATE);
    }
    if ext == "crate" {
        // What crates.io stores crate files with: they are gzip-compressed tarballs.
        return ("application/gzip", IMMUTABLE);
    }
    let content_type = match ext {
        "json" => "application/json",
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "xml" => "application/atom+xml",
        "txt" => "text/plain; charset=utf-8",
        // Index files have no extension (and crate names may contain no `.`): one JSON object
        // per line, which crates.io serves as text/plain.
        _ if in_index => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    };
    (content_type, SHORT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_files_are_gzip_and_immutable() {
        for key in [
            "crates/serde-1.0.0.crate",
            "crates/a-1.0.0+build.5.crate",
            "mirror/crates/serde-1.0.0.crate",
        ] {
            assert_eq!(headers_for(key), ("application/gzip", IMMUTABLE), "{key}");
        }
        assert!(IMMUTABLE.contains("max-age=31536000") && IMMUTABLE.contains("immutable"));
    }

    #[test]
    fn index_files_are_text_and_revalidated_soon() {
        for key in [
            "index/se/rd/serde",
            "index/1/a",
            "index/3/a/abc",
            "mirror/index/se/rd/serde",
        ] {
            assert_eq!(
                headers_for(key),
                ("text/plain; charset=utf-8", SHORT),
                "{key}"
            );
        }
        for key in ["index/config.json", "mirror/index/config.json"] {
            assert_eq!(headers_for(key), ("application/json", SHORT), "{key}");
        }
        assert!(SHORT.contains("max-age=60") && SHORT.contains("must-revalidate"));
        assert!(!SHORT.contains("immutable"));
    }

    #[test]
    fn site_files_have_their_types_and_a_short_cache() {
        for (key, content_type) in [
            ("index.html", "text/html; charset=utf-8"),
            ("crates/serde/index.html", "text/html; charset=utf-8"),
            ("static/style.css", "text/css; charset=utf-8"),
            ("static/search.js", "text/javascript; charset=utf-8"),
            ("search-index.json", "application/json"),
            ("search/3.json", "application/json"),
            ("static/logo.svg", "image/svg+xml"),
            ("feed.xml", "application/atom+xml"),
            ("robots.txt", "text/plain; charset=utf-8"),
            (".nojekyll", "application/octet-stream"),
            ("users/alice.json", "application/json"),
        ] {
            assert_eq!(headers_for(key), (content_type, SHORT), "{key}");
        }
    }

    #[test]
    fn the_git_index_is_always_revalidated() {
        assert_eq!(
            headers_for("index.git/info/refs"),
            ("text/plain; charset=utf-8", REVALIDATE)
        );
        assert_eq!(
            headers_for("index.git/HEAD"),
            ("text/plain; charset=utf-8", REVALIDATE)
        );
        assert_eq!(
            headers_for("index.git/objects/ab/cdef"),
            ("application/octet-stream", REVALIDATE)
        );
        assert_eq!(
            headers_for("index.git/objects/pack/pack-1.pack"),
            ("application/octet-stream", REVALIDATE)
        );
    }
}
