//! One line of a sparse index file, in the field order and shape crates.io writes, so that the
//! same `.crate` gives the same bytes here as there. Also the strict check of a line the way
//! cargo parses it (used by `ktra verify`).

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;

pub type FeatureMap = BTreeMap<String, Vec<String>>;

/// The URL cargo uses as crates.io's identity in index entries of other registries.
pub const CRATES_IO_INDEX: &str = "https://github.com/rust-lang/crates.io-index";

/// Highest index format version cargo understands.
pub const MAX_INDEX_V: u32 = 2;

/// An index line. Field order is crates.io's (`pubtime` before `v`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexPackage {
    pub name: String,
    pub vers: String,
    pub deps: Vec<RegistryDependency>,
    pub cksum: String,
    #[serde(default)]
    pub features: FeatureMap,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features2: Option<FeatureMap>,
    #[serde(default)]
    pub yanked: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rust_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pubtime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<u32>,
}

/// A dependency as the index records it. `name` is the name used in the dependent's code (the
/// alias when renamed); `package` is the real name when renamed. `registry` absent means
/// "this same registry".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryDependency {
    pub name: String,
    pub req: String,
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default)]
    pub optional: bool,
    #[serde(default = "yes")]
    pub default_features: bool,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub kind: Option<DependencyKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DependencyKind {
    Normal,
    Build,
    Dev,
}

impl RegistryDependency {
    /// The package this dependency resolves to (the real name, not the alias).
    pub fn package_name(&self) -> &str {
        self.package.as_deref().unwrap_or(&self.name)
    }

    /// crates.io's order: normal before build before dev for equal names, then the rest.
    pub fn sort_key_cmp(&self, other: &Self) -> Ordering {
        (
            &self.name,
            self.kind,
            &self.req,
            self.optional,
            self.default_features,
            &self.target,
            &self.package,
            &self.features,
        )
            .cmp(&(
                &other.name,
                other.kind,
                &other.req,
                other.optional,
                other.default_features,
                &other.target,
                &other.package,
                &other.features,
            ))
    }
}

impl IndexPackage {
    /// The compact one-line JSON form, without the trailing newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("index entries always serialize")
    }

    pub fn version(&self) -> Option<semver::Version> {
        semver::Version::parse(&self.vers).ok()
    }
}

/// Check a line the way cargo would, returning the parsed entry or a sentence saying why cargo
/// would ignore or reject it.
pub fn parse_strict(line: &str) -> Result<IndexPackage, String> {
    let pkg: IndexPackage =
        serde_json::from_str(line).map_err(|e| format!("not a valid index line: {e}"))?;
    semver::Version::parse(&pkg.vers)
        .map_err(|e| format!("version `{}` is not semver: {e}", pkg.vers))?;
    if pkg.cksum.len() != 64
        || !pkg
            .cksum
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(format!(
            "cksum `{}` is not 64 lowercase hex digits",
            pkg.cksum
        ));
    }
    if let Some(v) = pkg.v
        && v > MAX_INDEX_V
    {
        return Err(format!("format version v={v} is newer than cargo reads"));
    }
    if let Some(rv) = &pkg.rust_version {
        check_rust_version(rv)?;
    }
    if let Some(t) = &pkg.pubtime {
        check_pubtime(t)?;
    }
    for dep in &pkg.deps {
        semver::VersionReq::parse(&dep.req).map_err(|e| {
            format!(
                "dependency `{}` has requirement `{}`: {e}",
                dep.name, dep.req
            )
        })?;
    }
    Ok(pkg)
}

/// `MAJOR[.MINOR[.PATCH]]`, digits only.
pub fn check_rust_version(rv: &str) -> Result<(), String> {
    let parts: Vec<&str> = rv.split('.').collect();
    let ok = (1..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(format!("rust_version `{rv}` is not MAJOR[.MINOR[.PATCH]]"))
    }
}

/// Exactly `YYYY-MM-DDTHH:MM:SSZ`.
pub fn check_pubtime(t: &str) -> Result<(), String> {
    let ok = t.len() == 20
        && humantime::parse_rfc3339(t).is_ok()
        && t.as_bytes()[10] == b'T'
        && t.ends_with('Z');
    if ok {
        Ok(())
    } else {
        Err(format!("pubtime `{t}` is not YYYY-MM-DDTHH:MM:SSZ"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERDE_LIKE: &str = r#"{"name":"aho-corasick","vers":"1.1.5","deps":[{"name":"doc-comment","req":"^0.3.3","features":[],"optional":false,"default_features":true,"target":null,"kind":"dev"},{"name":"log","req":"^0.4.17","features":[],"optional":true,"default_features":true,"target":null,"kind":"normal"}],"cksum":"c982642fa9e8606056828ee9a8505737230110bb1099153c79efe865c59d12ba","features":{},"features2":{"default":["std","perf-literal"],"logging":["dep:log"]},"yanked":false,"rust_version":"1.60.0","pubtime":"2026-08-03T11:44:11Z","v":2}"#;

    #[test]
    fn real_lines_round_trip_byte_for_byte() {
        let pkg = parse_strict(SERDE_LIKE).unwrap();
        assert_eq!(pkg.to_line(), SERDE_LIKE);
        let renamed = r#"{"name":"adler2","vers":"2.0.1","deps":[{"name":"core","req":"^1.0.0","features":[],"optional":true,"default_features":true,"target":null,"kind":"normal","package":"rustc-std-workspace-core"}],"cksum":"320119579fcad9c21884f5c4861d16174d0e06250625266f50fe6898340abefa","features":{"default":["std"],"rustc-dep-of-std":["core"],"std":[]},"yanked":false,"pubtime":"2025-06-09T22:31:53Z"}"#;
        assert_eq!(parse_strict(renamed).unwrap().to_line(), renamed);
    }

    #[test]
    fn strict_parse_rejects_what_cargo_rejects() {
        let bad_time = SERDE_LIKE.replace("2026-08-03T11:44:11Z", "2026-08-03 11:44:11");
        assert!(parse_strict(&bad_time).unwrap_err().contains("pubtime"));
        let bad_rv = SERDE_LIKE.replace("1.60.0", ">=1.60");
        assert!(parse_strict(&bad_rv).unwrap_err().contains("rust_version"));
        let v3 = SERDE_LIKE.replace("\"v\":2", "\"v\":3");
        assert!(parse_strict(&v3).unwrap_err().contains("v=3"));
        let upper = SERDE_LIKE.replace("c982642f", "C982642F");
        assert!(parse_strict(&upper).unwrap_err().contains("cksum"));
        assert!(parse_strict("{\"name\":\"x\"}").is_err());
    }

    #[test]
    fn normal_sorts_before_dev_for_the_same_name() {
        let mk = |kind| RegistryDependency {
            name: "a".into(),
            req: "^1".into(),
            features: vec![],
            optional: false,
            default_features: true,
            target: None,
            kind: Some(kind),
            registry: None,
            package: None,
        };
        let mut deps = [
            mk(DependencyKind::Dev),
            mk(DependencyKind::Build),
            mk(DependencyKind::Normal),
        ];
        deps.sort_by(RegistryDependency::sort_key_cmp);
        let kinds: Vec<_> = deps.iter().map(|d| d.kind.unwrap()).collect();
        assert_eq!(
            kinds,
            [
                DependencyKind::Normal,
                DependencyKind::Build,
                DependencyKind::Dev
            ]
        );
    }
}

#[cfg(test)]
mod real_lines {
    /// Lines exactly as crates.io serves them, covering `features2`, renames, targets, `links`,
    /// build dependencies, pre-releases and long dependency lists.
    const FIXTURE: &str = include_str!("../../tests/fixtures/crates-io-lines.jsonl");

    #[test]
    fn every_real_line_parses_strictly_and_serializes_back_unchanged() {
        let mut n = 0;
        for line in FIXTURE.lines() {
            let pkg = super::parse_strict(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert_eq!(pkg.to_line(), line);
            n += 1;
        }
        assert!(n >= 20, "fixture has {n} lines");
    }
}
