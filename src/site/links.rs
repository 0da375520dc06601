//! URLs found in READMEs: which schemes survive, and how relative ones are made absolute against
//! the crate's repository (links to `<repo>/blob/HEAD/<path>`, images to `<repo>/raw/HEAD/<path>`).
//! Without a repository a relative URL is dropped, so no README can link to a page of this site
//! that does not exist. Pure string work; ammonia calls [`filter_attribute`] for every attribute.

use std::borrow::Cow;

/// Prefix of every `id` in README HTML, so a README cannot clobber the page's own ids (`main`,
/// `q`, ...) nor the globals they create in scripts. Fragment links get it too.
pub const ID_PREFIX: &str = "user-content-";

/// ammonia's attribute filter: rewrite URL attributes, prefix ids, keep the rest (the attribute
/// was already allowed by ammonia's lists). `None` removes the attribute. `dir` is the README's
/// folder in the repository (`""` at its root).
pub fn filter_attribute<'a>(
    element: &str,
    attribute: &str,
    value: &'a str,
    base: Option<&str>,
    dir: &str,
) -> Option<Cow<'a, str>> {
    match attribute {
        "href" | "cite" | "xlink:href" => {
            rewrite_url(value, UrlUse::Link, base, dir).map(Cow::Owned)
        }
        "src" => {
            let use_ = if element == "img" {
                UrlUse::Image
            } else {
                UrlUse::Link
            };
            rewrite_url(value, use_, base, dir).map(Cow::Owned)
        }
        "id" => prefix_id(value).map(Cow::Owned),
        _ => Some(Cow::Borrowed(value)),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum UrlUse {
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
pub(super) fn rewrite_url(
    raw: &str,
    use_: UrlUse,
    base: Option<&str>,
    dir: &str,
) -> Option<String> {
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
    join(base?, dir, &url, use_)
}

/// `<repo>/blob/HEAD/<path>` (links) or `<repo>/raw/HEAD/<path>` (images), the path taken from
/// `dir` (unless it starts with `/`) and dot segments resolved inside the repository; `None`
/// when the base is not an http(s) URL.
fn join(base: &str, dir: &str, relative: &str, use_: UrlUse) -> Option<String> {
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
    let dir = if path.starts_with(['/', '\\']) {
        ""
    } else {
        dir
    };
    for segment in dir.split(['/', '\\']).chain(path.split(['/', '\\'])) {
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
