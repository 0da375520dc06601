//! Where things live: the index file path of a crate, the crate file path, and the `dl`
//! template that makes cargo ask for exactly that crate file. Pure string functions.

use super::name::NameError;

/// The directory part of an index path (`1`, `2`, `3/a`, `ab/cd`) for a name as given.
/// Names are ASCII (checked by `CrateName`), so byte slicing is safe; a non-ASCII name
/// falls back to character slicing rather than panicking.
pub fn prefix(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let take = |a: usize, b: usize| chars[a..b].iter().collect::<String>();
    match chars.len() {
        0 => String::new(),
        1 => "1".to_owned(),
        2 => "2".to_owned(),
        3 => format!("3/{}", take(0, 1)),
        n if n >= 4 => format!("{}/{}", take(0, 2), take(2, 4)),
        _ => unreachable!(),
    }
}

/// Path of a crate's index file relative to the index root: always lowercase. The one way a
/// name becomes an index path: a name that breaks crates.io's character rules (`..`, `/`, a
/// NUL, non-ASCII, too long) is refused, never turned into a path.
pub fn index_path(name: &str) -> Result<String, NameError> {
    super::name::check_syntax(name)?;
    let lower = name.to_ascii_lowercase();
    Ok(format!("{}/{}", prefix(&lower), lower))
}

/// The index directories (relative to the index root) that can hold a crate whose name equals
/// `name` after folding case and `-`/`_`. Only the first four characters pick the directory, so
/// there are at most eight.
pub fn collision_dirs(name: &str) -> Vec<String> {
    let lower = name.to_ascii_lowercase();
    let mut variants = vec![lower.clone()];
    for (i, c) in lower.char_indices().take(4) {
        if c == '-' || c == '_' {
            let other = if c == '-' { "_" } else { "-" };
            let extra: Vec<String> = variants
                .iter()
                .map(|v| format!("{}{other}{}", &v[..i], &v[i + 1..]))
                .collect();
            variants.extend(extra);
        }
    }
    let mut dirs: Vec<String> = variants.iter().map(|v| prefix(v)).collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

/// Path of a crate file relative to the served root, matching [`dl_template`]. One flat
/// folder: crate names hold no `.` and versions start with a digit, so `NAME-VERSION` is
/// unambiguous, and adding a crate never has to create a directory.
pub fn crate_path(name: &str, version: &str) -> String {
    format!("crates/{name}-{version}.crate")
}

/// The `dl` value for `config.json` when the served root is at `base_url`.
pub fn dl_template(base_url: &str) -> String {
    format!(
        "{}/crates/{{crate}}-{{version}}.crate",
        base_url.trim_end_matches('/')
    )
}

/// The sparse index URL users put in `.cargo/config.toml`.
pub fn sparse_index_url(base_url: &str) -> String {
    format!("sparse+{}/index/", base_url.trim_end_matches('/'))
}

/// The path under which `ktra add` shows a registry to `cargo package` on a loopback port.
pub const PACKAGING_PATH: &str = "/.ktra-local";

/// Whether `url` is the index URL of a `ktra add` packaging server. Crates packaged by ktra
/// carry it in their `Cargo.toml` for dependencies on their own registry; the port differs each
/// time, so it is recognised by its shape.
pub fn is_packaging_url(url: &str) -> bool {
    let c = canonical_index_url(url);
    c.strip_prefix("sparse+http://127.0.0.1:")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(port, path)| {
            port.bytes().all(|b| b.is_ascii_digit())
                && format!("/{path}") == format!("{PACKAGING_PATH}/index")
        })
}

/// Canonical form of an index URL for comparing "is this the same registry": trailing `/`
/// dropped, and for git URLs (no `sparse+`) a trailing `.git` dropped, as cargo does.
pub fn canonical_index_url(url: &str) -> String {
    let mut u = url.trim().trim_end_matches('/').to_owned();
    if !u.starts_with("sparse+")
        && let Some(stripped) = u.strip_suffix(".git")
    {
        u = stripped.to_owned();
    }
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_follow_cargo_layout() {
        let rows = [
            ("a", "1/a"),
            ("ab", "2/ab"),
            ("abc", "3/a/abc"),
            ("Abc", "3/a/abc"),
            ("serde", "se/rd/serde"),
            ("Serde_JSON", "se/rd/serde_json"),
            ("cargo", "ca/rg/cargo"),
        ];
        for (name, want) in rows {
            assert_eq!(index_path(name).unwrap(), want, "{name}");
        }
    }

    #[test]
    fn index_paths_are_never_built_from_what_is_not_a_name() {
        for bad in [
            "../../evil",
            "../../../dev/zero",
            "a/b",
            "",
            "ab\0",
            "..",
            "é1234",
        ] {
            assert!(index_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn collision_dirs_cover_separator_variants() {
        assert_eq!(collision_dirs("serde"), ["se/rd"]);
        assert_eq!(collision_dirs("a-b"), ["3/a"]);
        assert_eq!(collision_dirs("Ab-cd"), ["ab/-c", "ab/_c"]);
        assert_eq!(collision_dirs("a_b-x_y").len(), 4);
    }

    #[test]
    fn prefix_keeps_case() {
        assert_eq!(prefix("MyCrate"), "My/Cr");
        assert_eq!(prefix("Abc"), "3/A");
    }

    #[test]
    fn crate_path_matches_dl_template() {
        let name = "MyCrate";
        let version = "1.0.0+build.5";
        let expanded = dl_template("http://h/base/")
            .replace("{crate}", name)
            .replace("{version}", version);
        assert_eq!(
            expanded,
            format!("http://h/base/{}", crate_path(name, version))
        );
        assert_eq!(crate_path("ab", "0.1.0"), "crates/ab-0.1.0.crate");
    }

    #[test]
    fn packaging_urls_are_recognised_by_shape() {
        assert!(is_packaging_url(
            "sparse+http://127.0.0.1:41234/.ktra-local/index/"
        ));
        assert!(is_packaging_url(
            "sparse+http://127.0.0.1:9/.ktra-local/index"
        ));
        assert!(!is_packaging_url("sparse+http://127.0.0.1:9/index/"));
        assert!(!is_packaging_url(
            "sparse+http://10.0.0.1:9/.ktra-local/index/"
        ));
        assert!(!is_packaging_url(
            "sparse+http://127.0.0.1:9x/.ktra-local/index/"
        ));
    }

    #[test]
    fn canonical_urls_ignore_trailing_slash_and_git_suffix() {
        assert_eq!(
            canonical_index_url("sparse+http://x/index/"),
            canonical_index_url("sparse+http://x/index")
        );
        assert_eq!(
            canonical_index_url("file:///r/public/index.git"),
            "file:///r/public/index"
        );
        assert_eq!(
            sparse_index_url("https://c.example/"),
            "sparse+https://c.example/index/"
        );
    }
}
