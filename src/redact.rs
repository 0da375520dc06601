//! Taking secrets and server internals out of text shown to someone else: the credentials of a
//! URL (`https://user:secret@host/` becomes `https://***@host/`) and the absolute location of
//! the registry on the server. Pure.

use std::path::Path;

/// `text` with the userinfo of every URL in it (`scheme://userinfo@`) replaced by `***`.
pub fn url_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The authority ends at the first `/`, `?`, `#`, quote or white space.
        let end = after
            .find(|c: char| matches!(c, '/' | '?' | '#' | '\'' | '"' | '`') || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rfind('@') {
            Some(userinfo_end) => {
                out.push_str("***");
                out.push_str(&authority[userinfo_end..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// `text` with `root` (the registry's folder, as given and as canonical) taken out of every
/// path: `/srv/registry/state/tmp/x` becomes `state/tmp/x`, `/srv/registry` becomes `.`.
// reason: resolves the registry's folder to take it out of messages; reads no registry data.
#[allow(clippy::disallowed_methods)]
pub fn registry_root(text: &str, root: &Path) -> String {
    let mut roots = vec![root.to_path_buf()];
    if let Ok(canonical) = std::fs::canonicalize(root)
        && canonical != root
    {
        roots.push(canonical);
    }
    let mut out = text.to_owned();
    for r in roots {
        let r = r.display().to_string();
        let r = r.trim_end_matches('/');
        if r.is_empty() {
            continue;
        }
        out = out.replace(&format!("{r}/"), "").replace(r, ".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_hidden() {
        let cases = [
            (
                "`git push https://bob:hunter2@git.example/r.git main` failed",
                "`git push https://***@git.example/r.git main` failed",
            ),
            (
                "fatal: unable to access 'https://tok@git.example:8443/r/': 403",
                "fatal: unable to access 'https://***@git.example:8443/r/': 403",
            ),
            (
                "ssh://git@host/x and http://a:b@c",
                "ssh://***@host/x and http://***@c",
            ),
            ("https://git.example/r.git", "https://git.example/r.git"),
            ("no url: a@b", "no url: a@b"),
            ("x://", "x://"),
            ("https://u:p@w@h/", "https://***@h/"),
        ];
        for (input, want) in cases {
            assert_eq!(url_credentials(input), want, "{input}");
            assert!(!url_credentials(input).contains("hunter2"));
        }
    }

    #[test]
    fn the_registry_root_is_taken_out() {
        let root = Path::new("/srv/the-registry");
        assert_eq!(
            registry_root(
                "failed to open `/srv/the-registry/state/tmp/.tmpX`: denied",
                root
            ),
            "failed to open `state/tmp/.tmpX`: denied"
        );
        assert_eq!(
            registry_root("failed to lock `/srv/the-registry`", root),
            "failed to lock `.`"
        );
        assert_eq!(registry_root("nothing here", root), "nothing here");
    }
}
