//! URLs found in READMEs: which schemes survive, and how relative ones are made absolute against
//! the crate's repository (links to `<repo>/blob/HEAD/<path>`, images to `<repo>/raw/HEAD/<path>`).
//! Without a repository a relative URL is dropped, so no README can link to a page of this site
//! that does not exist. Pure string work; ammonia calls [`filter_attribute`] for every attribute.

use std::borrow::Cow;

/// Prefix of every `id` in README HTML, so a README cannot clobber the page's own ids (`main`,
/// `q`, ...) nor the globals they create in scripts. Fragment links get it too.
pub const ID_PREFIX: &str = "user-content-";

/// ammonia's attribute filter: rewrite URL attributes, prefix ids, keep the rest (the attribute
/// was already allowed by ammonia's lists). `None` removes the attribute.
pub fn filter_attribute<'a>(
    element: &str,
    attribute: &str,
    value: &'a str,
    base: Option<&str>,
) -> Option<Cow<'a, str>> {
    match attribute {
        "href" | "cite" | "xlink:href" => rewrite_url(value, UrlUse::Link, base).map(Cow::Owned),
        "src" => {
            let use_ = if element == "img" {
                UrlUse::Image
            } else {
                UrlUse::Link
            };
            rewrite_url(value, use_, base).map(Cow::Owned)
        }
        "id" => prefix_id(value).map(Cow::Owned),
        _ => Some(Cow::Borrowed(value)),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum UrlUse {
    Link,
    Image,
}

fn prefix_id(id: &str) -> Option<String> {
    let id = id.trim();
    if id.is_empty() {
        None
    } else if id.starts_with(ID_PREFIX) {
        Some(id.to_owned())
    } else {
        Some(format!("{ID_PREFIX}{id}"))
    }
}

/// What a browser would see: leading and trailing C0 controls and spaces removed, tabs and
/// newlines removed everywhere (the URL standard ignores them, `java\tscript:` is `javascript:`).
fn clean(url: &str) -> String {
    url.trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

/// The scheme, when the URL has one (`[a-z][a-z0-9+.-]*:` before any `/`, `?` or `#`).
fn scheme(url: &str) -> Option<String> {
    let end = url.find(':')?;
    let candidate = &url[..end];
    let mut chars = candidate.chars();
    let first = chars.next()?;
    let valid = first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then(|| candidate.to_ascii_lowercase())
}

/// The URL to put in the attribute instead, or `None` to drop it.
fn rewrite_url(raw: &str, use_: UrlUse, base: Option<&str>) -> Option<String> {
    let url = clean(raw);
    if url.is_empty() {
        return None;
    }
    if let Some(scheme) = scheme(&url) {
        let rest = &url[scheme.len() + 1..];
        return match scheme.as_str() {
            // `https:foo` is relative to the page in browsers: only `scheme://` counts.
            "http" | "https" if rest.starts_with("//") => Some(url),
            "mailto" if use_ == UrlUse::Link => Some(url),
            _ => None,
        };
    }
    let bytes = url.as_bytes();
    if bytes.len() > 2 && matches!(bytes[0], b'/' | b'\\') && matches!(bytes[1], b'/' | b'\\') {
        // Protocol-relative: another host, never this site.
        return Some(format!(
            "https://{}",
            url[2..].trim_start_matches(['/', '\\'])
        ));
    }
    if let Some(fragment) = url.strip_prefix('#') {
        return match use_ {
            UrlUse::Link if !fragment.is_empty() => prefix_id(fragment).map(|id| format!("#{id}")),
            _ => None,
        };
    }
    join(base?, &url, use_)
}

/// `<repo>/blob/HEAD/<path>` (links) or `<repo>/raw/HEAD/<path>` (images), dot segments
/// resolved inside the repository; `None` when the base is not an http(s) URL.
fn join(base: &str, relative: &str, use_: UrlUse) -> Option<String> {
    let base = clean(base);
    let base = base.split(['?', '#']).next().unwrap_or_default();
    let base = base.trim_end_matches('/');
    let base = base
        .strip_suffix(".git")
        .unwrap_or(base)
        .trim_end_matches('/');
    let scheme = scheme(base)?;
    let rest = &base[scheme.len() + 1..];
    if !matches!(scheme.as_str(), "http" | "https") || !rest.starts_with("//") || rest.len() <= 2 {
        return None;
    }
    let split = relative.find(['?', '#']).unwrap_or(relative.len());
    let (path, suffix) = relative.split_at(split);
    if path.is_empty() {
        return None;
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split(['/', '\\']) {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    if segments.is_empty() {
        return Some(base.to_owned());
    }
    let kind = match use_ {
        UrlUse::Link => "blob",
        UrlUse::Image => "raw",
    };
    Some(format!("{base}/{kind}/HEAD/{}{suffix}", segments.join("/")))
}

/// ammonia's policy for relative URLs left after [`filter_attribute`]: only in-page fragments.
pub fn keep_fragment(url: &str) -> Option<Cow<'_, str>> {
    url.starts_with('#').then_some(Cow::Borrowed(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPO: Option<&str> = Some("https://github.com/o/r");

    fn link(url: &str, base: Option<&str>) -> Option<String> {
        rewrite_url(url, UrlUse::Link, base)
    }

    #[test]
    fn schemes() {
        assert_eq!(
            link("https://x.test/a", None).as_deref(),
            Some("https://x.test/a")
        );
        assert_eq!(
            link("mailto:a@b.test", None).as_deref(),
            Some("mailto:a@b.test")
        );
        assert_eq!(rewrite_url("mailto:a@b.test", UrlUse::Image, REPO), None);
        for bad in [
            "javascript:alert(1)",
            " JaVaScRiPt:x",
            "java\tscript:x",
            "data:text/html,x",
        ] {
            assert_eq!(link(bad, REPO), None, "{bad:?}");
        }
        assert_eq!(link("vbscript:x", REPO), None);
        assert_eq!(link("https:evil", REPO), None);
    }

    #[test]
    fn relative_with_and_without_base() {
        let cases = [
            ("docs/a.md", "https://github.com/o/r/blob/HEAD/docs/a.md"),
            (
                "./docs/a.md#x",
                "https://github.com/o/r/blob/HEAD/docs/a.md#x",
            ),
            ("/LICENSE", "https://github.com/o/r/blob/HEAD/LICENSE"),
            (
                "../../etc/x?y=1",
                "https://github.com/o/r/blob/HEAD/etc/x?y=1",
            ),
            ("./", "https://github.com/o/r"),
        ];
        for (from, to) in cases {
            assert_eq!(link(from, REPO).as_deref(), Some(to), "{from}");
            assert_eq!(
                link(from, Some("https://github.com/o/r.git/")).as_deref(),
                Some(to)
            );
            assert_eq!(link(from, None), None, "{from}");
        }
        let img = rewrite_url("img/logo.png", UrlUse::Image, REPO);
        assert_eq!(
            img.as_deref(),
            Some("https://github.com/o/r/raw/HEAD/img/logo.png")
        );
        assert_eq!(link("?tab=1", REPO), None);
        assert_eq!(link("a", Some("javascript:alert(1)//")), None);
        assert_eq!(link("a", Some("not a url")), None);
        assert_eq!(
            link("//cdn.test/x", None).as_deref(),
            Some("https://cdn.test/x")
        );
        assert_eq!(
            link("/\\evil.test", None).as_deref(),
            Some("https://evil.test")
        );
    }

    #[test]
    fn fragments_and_ids() {
        assert_eq!(link("#usage", None).as_deref(), Some("#user-content-usage"));
        assert_eq!(
            link("#user-content-usage", None).as_deref(),
            Some("#user-content-usage")
        );
        assert_eq!(rewrite_url("#x", UrlUse::Image, REPO), None);
        assert_eq!(link("#", None), None);
        let id = filter_attribute("h2", "id", "main", None);
        assert_eq!(id.as_deref(), Some("user-content-main"));
        assert_eq!(
            filter_attribute("td", "align", "left", None).as_deref(),
            Some("left")
        );
    }
}
