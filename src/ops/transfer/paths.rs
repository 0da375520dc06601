//! Which files an export may carry, by path (relative to `public/`): index files and crate
//! files of the registry (`index/`, `crates/`) and of the mirror (`mirror/index/`,
//! `mirror/crates/`), each at the one path its crate name gives it. Pure string rules.

use crate::index::path;
use crate::mirror::layout;

/// The folders (relative to `public/`) whose files travel: index files, and crate files.
pub const INDEX_FOLDERS: [&str; 2] = ["index", layout::INDEX_DIR];
pub const CRATE_FOLDERS: [&str; 2] = ["crates", layout::CRATES_DIR];

/// Whose file it is: the registry's own, or the mirror's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    Registry,
    Mirror,
}

/// What a transferable path holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// An index file; the lowercase crate name is its file name.
    Index { side: Side, name: String },
    /// A crate file, named `NAME-VERSION.crate`.
    Crate {
        side: Side,
        name: String,
        vers: String,
    },
}

impl Kind {
    pub fn side(&self) -> Side {
        match self {
            Kind::Index { side, .. } | Kind::Crate { side, .. } => *side,
        }
    }

    pub fn is_crate(&self) -> bool {
        matches!(self, Kind::Crate { .. })
    }
}

/// Public key of a crate's index file on one side.
pub fn index_key(side: Side, name: &str) -> Result<String, crate::index::name::NameError> {
    match side {
        Side::Registry => crate::registry::keys::index(name),
        Side::Mirror => layout::index(name),
    }
}

/// Public key of a crate file on one side.
pub fn crate_key(side: Side, name: &str, vers: &str) -> String {
    match side {
        Side::Registry => crate::registry::keys::crate_file(name, vers),
        Side::Mirror => layout::crate_file(name, vers),
    }
}

/// The characters crate names are made of (crates.io's rules, without its reserved words: a
/// mirror holds whatever its upstream has).
pub fn is_name(name: &str) -> bool {
    name.len() <= crate::index::name::MAX_NAME_LEN
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Checks a path from an archive or a tree and says what it holds, or why it may not travel.
pub fn classify(p: &str) -> Result<Kind, String> {
    let bad = |why: &str| Err(format!("`{p}` {why}"));
    if p.is_empty()
        || p.starts_with('/')
        || p.contains('\\')
        || p.contains('\0')
        || p.split('/').any(|c| c.is_empty() || c == "." || c == "..")
    {
        return bad("is not a plain relative path");
    }
    let (side, rest) = match p.strip_prefix("mirror/") {
        Some(rest) => (Side::Mirror, rest),
        None => (Side::Registry, p),
    };
    if let Some(rel) = rest.strip_prefix("index/") {
        let name = rel.rsplit('/').next().unwrap_or_default();
        if !is_name(name) || name != name.to_ascii_lowercase() {
            return bad("is not an index file (its name is not a lowercase crate name)");
        }
        if path::index_path(name).ok().as_deref() != Some(rel) {
            return bad(&format!(
                "is not where the index file of `{name}` belongs (`{}`)",
                index_key(side, name).unwrap_or_default()
            ));
        }
        return Ok(Kind::Index {
            side,
            name: name.to_owned(),
        });
    }
    if let Some(file) = rest.strip_prefix("crates/") {
        return match split_crate_file(file) {
            Some((name, vers)) => Ok(Kind::Crate {
                side,
                name: name.to_owned(),
                vers: vers.to_owned(),
            }),
            None => bad("is not a crate file (`NAME-VERSION.crate`)"),
        };
    }
    bad("is outside `index/`, `crates/`, `mirror/index/` and `mirror/crates/`")
}

/// `NAME-VERSION.crate` into its name and version. Names hold no `.` and versions start with
/// `MAJOR.`, so the separator is the last `-` before the first `.`.
fn split_crate_file(file: &str) -> Option<(&str, &str)> {
    let stem = file.strip_suffix(".crate")?;
    let dot = stem.find('.')?;
    let dash = stem[..dot].rfind('-')?;
    let (name, vers) = (&stem[..dash], &stem[dash + 1..]);
    (is_name(name) && semver::Version::parse(vers).is_ok()).then_some((name, vers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_files_sit_where_their_name_puts_them() {
        let k = classify("index/se/rd/serde").unwrap();
        assert_eq!(
            k,
            Kind::Index {
                side: Side::Registry,
                name: "serde".into()
            }
        );
        assert_eq!(classify("mirror/index/1/a").unwrap().side(), Side::Mirror);
        assert!(classify("index/3/a/abc").is_ok());
        for bad in [
            "index/se/rd/xserde",
            "index/xx/rd/serde",
            "index/serde",
            "index/se/rd/Serde",
            "index/config.json",
            "mirror/index/config.json",
            "index/2/a",
        ] {
            assert!(classify(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn crate_files_name_a_crate_and_a_version() {
        let k = classify("crates/foo-2-1.0.0-rc.1+b.crate").unwrap();
        assert_eq!(
            k,
            Kind::Crate {
                side: Side::Registry,
                name: "foo-2".into(),
                vers: "1.0.0-rc.1+b".into()
            }
        );
        let k = classify("mirror/crates/My_Crate-0.1.0.crate").unwrap();
        assert!(k.is_crate() && k.side() == Side::Mirror);
        assert_eq!(
            crate_key(Side::Mirror, "My_Crate", "0.1.0"),
            "mirror/crates/My_Crate-0.1.0.crate"
        );
        for bad in [
            "crates/foo-1.0.crate",
            "crates/foo.crate",
            "crates/1foo-1.0.0.crate",
            "crates/foo-1.0.0.tar",
            "crates/sub/foo-1.0.0.crate",
        ] {
            assert!(classify(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_plain_paths_in_the_four_folders() {
        for bad in [
            "",
            "/index/1/a",
            "index/../index/1/a",
            "./index/1/a",
            "index//1/a",
            "crates\\a-1.0.0.crate",
            "state/users/x",
            "ktra.toml",
            "index.git/HEAD",
            "mirror/upstream/1/a",
            "public/index/1/a",
        ] {
            assert!(classify(bad).is_err(), "{bad:?}");
        }
        assert!(CRATE_FOLDERS.contains(&"mirror/crates"));
    }
}
