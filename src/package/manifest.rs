//! The packaged (normalized) `Cargo.toml` of a `.crate`, turned into the index line crates.io
//! would write for it: every dependency table of every kind and target, renames, features with
//! the `features2` split, `links`, `rust_version`. Pure: text in, entry out.

use crate::index::entry::{CRATES_IO_INDEX, FeatureMap};
use crate::index::{DependencyKind, IndexPackage, RegistryDependency, features, name};
use toml::{Table, Value};

/// How to tell a dependency on this registry from one on another registry.
#[derive(Debug, Clone, Default)]
pub struct RegistryIdentity {
    /// The registry's name as users write it in `registry = "..."`.
    pub name: String,
    /// Index URLs (canonical form) that mean "this registry".
    pub index_urls: Vec<String>,
}

impl RegistryIdentity {
    fn is_same(&self, url: &str) -> bool {
        let c = crate::index::path::canonical_index_url(url);
        self.index_urls.contains(&c) || crate::index::path::is_packaging_url(url)
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ManifestError {
    #[error("`Cargo.toml` is not valid TOML: {0}")]
    Toml(String),
    #[error("`Cargo.toml` has no [package] table")]
    NoPackage,
    #[error("`Cargo.toml` field `{0}` is missing or not a string")]
    Field(&'static str),
    #[error("`Cargo.toml` version `{0}` is not valid semver: {1}")]
    Version(String, String),
    #[error("`Cargo.toml` still inherits `{0}` from a workspace; it was not packaged by cargo")]
    Inherited(String),
    #[error("dependency `{0}` {1}")]
    Dependency(String, String),
    #[error("`Cargo.toml` rust-version: {0}")]
    RustVersion(String),
}

/// The name and version a manifest declares, and the entry built from it (without `cksum`,
/// which the caller fills from the file's bytes, and without `pubtime`).
pub fn to_entry(text: &str, me: &RegistryIdentity) -> Result<IndexPackage, ManifestError> {
    to_entry_parsed(&super::archive::parse_manifest(text), me)
}

/// [`to_entry`] from a manifest already parsed.
pub fn to_entry_parsed(
    doc: &super::archive::ParsedManifest,
    me: &RegistryIdentity,
) -> Result<IndexPackage, ManifestError> {
    let doc = doc.as_ref().map_err(|e| ManifestError::Toml(e.clone()))?;
    let package = doc
        .get("package")
        .or_else(|| doc.get("project"))
        .and_then(Value::as_table)
        .ok_or(ManifestError::NoPackage)?;
    let name = string_field(package, "name")?;
    let raw_version = package
        .get("version")
        .ok_or(ManifestError::Field("version"))?;
    if raw_version.as_table().is_some() {
        return Err(ManifestError::Inherited("package.version".into()));
    }
    let vers = raw_version
        .as_str()
        .ok_or(ManifestError::Field("version"))?;
    let version = semver::Version::parse(vers)
        .map_err(|e| ManifestError::Version(vers.to_owned(), e.to_string()))?;
    let rust_version = match package.get("rust-version") {
        None => None,
        Some(Value::String(s)) => {
            crate::index::entry::check_rust_version(s).map_err(ManifestError::RustVersion)?;
            Some(s.clone())
        }
        Some(_) => return Err(ManifestError::Inherited("package.rust-version".into())),
    };
    let links = package
        .get("links")
        .and_then(Value::as_str)
        .map(str::to_owned);

    let mut deps = Vec::new();
    collect_deps(doc, None, me, &mut deps)?;
    if let Some(targets) = doc.get("target").and_then(Value::as_table) {
        for (target, table) in targets {
            if let Some(table) = table.as_table() {
                collect_deps(table, Some(target), me, &mut deps)?;
            }
        }
    }
    deps.sort_by(RegistryDependency::sort_key_cmp);

    let all_features = read_features(doc);
    let (features, features2) = features::split(all_features);
    let has2 = !features2.is_empty();
    Ok(IndexPackage {
        name,
        vers: version.to_string(),
        deps,
        cksum: String::new(),
        features,
        features2: has2.then_some(features2),
        yanked: false,
        links,
        rust_version,
        pubtime: None,
        v: has2.then_some(2),
    })
}

fn string_field(table: &Table, key: &'static str) -> Result<String, ManifestError> {
    table
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(ManifestError::Field(key))
}

const KINDS: [(&str, &str, DependencyKind); 3] = [
    ("dependencies", "dependencies", DependencyKind::Normal),
    (
        "build-dependencies",
        "build_dependencies",
        DependencyKind::Build,
    ),
    ("dev-dependencies", "dev_dependencies", DependencyKind::Dev),
];

fn collect_deps(
    table: &Table,
    target: Option<&str>,
    me: &RegistryIdentity,
    out: &mut Vec<RegistryDependency>,
) -> Result<(), ManifestError> {
    for (key, legacy, kind) in KINDS {
        for spelling in [key, legacy] {
            let Some(deps) = table.get(spelling).and_then(Value::as_table) else {
                continue;
            };
            for (name, spec) in deps {
                out.push(dependency(name, spec, kind, target, me)?);
            }
            if key == legacy {
                break;
            }
        }
    }
    Ok(())
}

fn dependency(
    name: &str,
    spec: &Value,
    kind: DependencyKind,
    target: Option<&str>,
    me: &RegistryIdentity,
) -> Result<RegistryDependency, ManifestError> {
    let err = |why: String| ManifestError::Dependency(name.to_owned(), why);
    let empty = Table::new();
    let (req, table) = match spec {
        Value::String(s) => (s.as_str(), &empty),
        Value::Table(t) => {
            if t.get("workspace").and_then(Value::as_bool) == Some(true) {
                return Err(ManifestError::Inherited(format!("dependency `{name}`")));
            }
            (t.get("version").and_then(Value::as_str).unwrap_or("*"), t)
        }
        _ => return Err(err("is neither a version string nor a table".into())),
    };
    let req = semver::VersionReq::parse(req)
        .map_err(|e| err(format!("has an invalid version requirement `{req}`: {e}")))?
        .to_string();
    let flag = |a: &str, b: &str, default: bool| {
        table
            .get(a)
            .or_else(|| table.get(b))
            .and_then(Value::as_bool)
            .unwrap_or(default)
    };
    let features = strings(table.get("features"));
    let registry = if let Some(url) = table.get("registry-index").and_then(Value::as_str) {
        (!me.is_same(url)).then(|| url.to_owned())
    } else if let Some(reg) = table.get("registry").and_then(Value::as_str) {
        if reg != me.name {
            return Err(err(format!(
                "names registry `{reg}`, which is not this registry, without its index URL"
            )));
        }
        None
    } else {
        Some(CRATES_IO_INDEX.to_owned())
    };
    let package = match table.get("package") {
        None => None,
        Some(Value::String(p)) => Some(p.clone()),
        Some(_) => return Err(err("has a `package` that is not a string".into())),
    };
    check_dependency_names(name, package.as_deref(), registry.as_deref()).map_err(err)?;
    Ok(RegistryDependency {
        name: name.to_owned(),
        req,
        features,
        optional: flag("optional", "optional", false),
        default_features: flag("default-features", "default_features", true),
        target: target.map(super::cfg::normalize_target),
        kind: Some(kind),
        registry,
        package,
    })
}

/// crates.io's rules for the names of a dependency, checked before the names are used for
/// anything (one of them becomes the path of an index file that is read): the name in the
/// dependent's code follows the dependency-name rules (it may start with `_`); the real package
/// name follows the crate-name rules when the package is on crates.io or on this registry, and
/// the dependency-name rules on another registry (whose names crates.io would accept as
/// dependency names).
fn check_dependency_names(
    key: &str,
    package: Option<&str>,
    registry: Option<&str>,
) -> Result<(), String> {
    let elsewhere = registry.is_some_and(|r| r != CRATES_IO_INDEX);
    let real = |n: &str| match elsewhere {
        true => name::check_dependency_name(n),
        false => name::check_syntax(n),
    };
    match package {
        Some(p) => {
            name::check_dependency_name(key).map_err(|e| format!("is not allowed: {e}"))?;
            real(p).map_err(|e| format!("names a package that is not allowed: {e}"))
        }
        None => real(key).map_err(|e| format!("is not allowed: {e}")),
    }
}

fn read_features(doc: &Table) -> FeatureMap {
    let Some(table) = doc.get("features").and_then(Value::as_table) else {
        return FeatureMap::new();
    };
    table
        .iter()
        .map(|(k, v)| (k.clone(), strings(Some(v))))
        .collect()
}

/// The strings of a TOML array (anything else reads as empty).
fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> RegistryIdentity {
        RegistryIdentity {
            name: "demo".into(),
            index_urls: vec![crate::index::path::canonical_index_url(
                "sparse+http://127.0.0.1:9/index/",
            )],
        }
    }

    const NORMALIZED: &str = r#"
[package]
edition = "2021"
rust-version = "1.70"
name = "app"
version = "0.2.0"
links = "app"

[dependencies.base]
version = "1.0"
registry-index = "sparse+http://127.0.0.1:9/index"

[dependencies.renamed]
version = "1"
package = "base"
optional = true
default-features = false
features = ["x"]
registry-index = "sparse+http://127.0.0.1:9/index/"

[dependencies.itoa]
version = "1.0.1"

[dependencies.other]
version = "=0.3"
registry-index = "sparse+https://elsewhere.example/index/"

[build-dependencies.codegen]
version = "0.1"
registry-index = "sparse+http://127.0.0.1:9/index/"

[dev-dependencies.itoa]
version = "1"

[target.'cfg(unix)'.dependencies.sys]
version = "0.1"
registry-index = "sparse+http://127.0.0.1:9/index/"

[features]
default = ["std"]
std = []
opt = ["dep:renamed"]
weak = ["renamed?/x"]
uses-opt = ["opt"]
"#;

    #[test]
    fn builds_the_line_crates_io_would_write() {
        let e = to_entry(NORMALIZED, &me()).unwrap();
        let line = e.to_line();
        let want = concat!(
            r#"{"name":"app","vers":"0.2.0","deps":["#,
            r#"{"name":"base","req":"^1.0","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal"},"#,
            r#"{"name":"codegen","req":"^0.1","features":[],"optional":false,"default_features":true,"target":null,"kind":"build"},"#,
            r#"{"name":"itoa","req":"^1.0.1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal","registry":"https://github.com/rust-lang/crates.io-index"},"#,
            r#"{"name":"itoa","req":"^1","features":[],"optional":false,"default_features":true,"target":null,"kind":"dev","registry":"https://github.com/rust-lang/crates.io-index"},"#,
            r#"{"name":"other","req":"=0.3","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal","registry":"sparse+https://elsewhere.example/index/"},"#,
            r#"{"name":"renamed","req":"^1","features":["x"],"optional":true,"default_features":false,"target":null,"kind":"normal","package":"base"},"#,
            r#"{"name":"sys","req":"^0.1","features":[],"optional":false,"default_features":true,"target":"cfg(unix)","kind":"normal"}],"#,
            r#""cksum":"","features":{"default":["std"],"std":[]},"#,
            r#""features2":{"opt":["dep:renamed"],"uses-opt":["opt"],"weak":["renamed?/x"]},"#,
            r#""yanked":false,"links":"app","rust_version":"1.70","v":2}"#,
        );
        assert_eq!(line, want);
    }

    #[test]
    fn names_crates_io_allows_as_dependency_names_are_kept() {
        let text = "[package]\nname = \"a\"\nversion = \"1.0.0\"\n[dependencies]\n\
            _alias = { version = \"1\", package = \"real-name\" }\n\
            core = { version = \"1\", package = \"rustc-std-workspace-core\" }\n\
            other = { version = \"1\", package = \"_private\", registry-index = \"sparse+https://elsewhere.example/index/\" }\n";
        let e = to_entry(text, &me()).unwrap();
        let names: Vec<_> = e
            .deps
            .iter()
            .map(|d| (d.name.as_str(), d.package_name()))
            .collect();
        assert_eq!(
            names,
            [
                ("_alias", "real-name"),
                ("core", "rustc-std-workspace-core"),
                ("other", "_private")
            ]
        );
    }

    #[test]
    fn plain_features_give_no_v_field() {
        let e = to_entry(
            "[package]\nname = \"a\"\nversion = \"1.0.0\"\n[features]\nx = []\n",
            &me(),
        )
        .unwrap();
        assert!(e.features2.is_none() && e.v.is_none());
        assert!(!e.to_line().contains("\"v\""));
    }

    #[test]
    fn refuses_what_cannot_become_an_entry() {
        let bad = [
            ("not toml [", "not valid TOML"),
            ("[lib]\n", "no [package]"),
            (
                "[package]\nname = \"a\"\nversion = \"one\"\n",
                "not valid semver",
            ),
            (
                "[package]\nname = \"a\"\nversion.workspace = true\n",
                "inherits",
            ),
            (
                "[package]\nname = \"a\"\nversion = \"1.0.0\"\n[dependencies]\nb = { workspace = true }\n",
                "inherits",
            ),
            (
                "[package]\nname = \"a\"\nversion = \"1.0.0\"\n[dependencies]\nb = \"not a req\"\n",
                "invalid version requirement",
            ),
            (
                "[package]\nname = \"a\"\nversion = \"1.0.0\"\n[dependencies]\nb = { version = \"1\", registry = \"other\" }\n",
                "not this registry",
            ),
            (
                "[package]\nname = \"a\"\nversion = \"1.0.0\"\nrust-version = \">=1.70\"\n",
                "rust-version",
            ),
            (
                "[package]\nname = \"a\"\nversion = \"1.0.0\"\n[dependencies]\nz = { version = \"1\", package = \"../../../dev/zero\", registry-index = \"sparse+http://127.0.0.1:9/index/\" }\n",
                "dependency `z` names a package that is not allowed",
            ),
            (
                "[package]\nname = \"a\"\nversion = \"1.0.0\"\n[dependencies]\nz = { version = \"1\", package = \"../../evil\" }\n",
                "names a package that is not allowed: the name `../../evil` must start",
            ),
            (
                "[package]\nname = \"a\"\nversion = \"1.0.0\"\n[dependencies]\n\"a/b\" = \"1\"\n",
                "dependency `a/b` is not allowed",
            ),
            (
                "[package]\nname = \"a\"\nversion = \"1.0.0\"\n[dependencies]\n_x = \"1\"\n",
                "must start with an ASCII letter",
            ),
            (
                "[package]\nname = \"a\"\nversion = \"1.0.0\"\n[dependencies]\nx = { version = \"1\", package = 7 }\n",
                "not a string",
            ),
        ];
        for (text, want) in bad {
            let err = to_entry(text, &me()).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }
}
