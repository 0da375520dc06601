//! What to mirror, as pure functions: parsing `NAME[@REQ]`, picking the versions a want selects
//! from an upstream index file, and the dependencies of a version the closure follows.

use crate::index::entry::{DependencyKind, RegistryDependency};
use crate::index::file::{IndexFile, IndexLine};
use anyhow::{Context, Result, bail};
use semver::{Version, VersionReq};
use serde::Deserialize;

/// Which versions of one crate are wanted.
#[derive(Debug, Clone, PartialEq)]
pub enum Want {
    /// The newest matching version (newest non-yanked first), or every match with `all`.
    /// `follow` pulls in its dependencies too.
    Req {
        req: VersionReq,
        all: bool,
        follow: bool,
    },
    /// Exactly this version (from a lock file), with the checksum the lock file recorded.
    Exact {
        version: Version,
        checksum: Option<String>,
    },
    /// No new version: only refresh the lines already mirrored.
    Refresh,
}

/// `NAME` or `NAME@REQ` from the command line.
pub fn parse_spec(spec: &str, all_versions: bool) -> Result<(String, Want)> {
    let (name, req) = match spec.split_once('@') {
        Some((name, req)) => {
            let req = VersionReq::parse(req)
                .with_context(|| format!("`{req}` in `{spec}` is not a version requirement"))?;
            (name, req)
        }
        None => (spec, VersionReq::STAR),
    };
    crate::index::CrateName::new(name)
        .with_context(|| format!("`{spec}` does not name a crate"))?;
    let want = Want::Req {
        req,
        all: all_versions,
        follow: true,
    };
    Ok((name.to_owned(), want))
}

/// The lines of `file` that `want` selects. An empty result means nothing matched.
pub fn pick<'a>(file: &'a IndexFile, want: &Want) -> Vec<&'a IndexLine> {
    match want {
        Want::Refresh => Vec::new(),
        Want::Exact { version, .. } => file.get(version).into_iter().collect(),
        Want::Req { req, all: true, .. } => file
            .lines
            .iter()
            .filter(|l| req.matches(&l.version))
            .collect(),
        Want::Req { req, .. } => {
            let newest = |yanked: bool| {
                file.lines
                    .iter()
                    .filter(|l| l.head.yanked == yanked && req.matches(&l.version))
                    .max_by(|a, b| a.version.cmp(&b.version))
            };
            newest(false).or_else(|| newest(true)).into_iter().collect()
        }
    }
}

/// Whether a name from the upstream is safe to use as a file name (the upstream is not
/// trusted: a name like `../x` must never reach the file system).
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A dependency the closure follows: the real package name and its requirement.
#[derive(Debug, Clone, PartialEq)]
pub struct DepWant {
    pub name: String,
    pub req: VersionReq,
    pub optional: bool,
}

/// What following one line's dependencies found.
#[derive(Debug, Default, PartialEq)]
pub struct Deps {
    pub follow: Vec<DepWant>,
    /// Dependencies on other registries (not mirrored), as `name (registry)`.
    pub foreign: Vec<String>,
}

#[derive(Deserialize)]
struct LineDeps {
    #[serde(default)]
    deps: Vec<RegistryDependency>,
}

/// The dependencies of a version that a self-contained mirror needs: normal and build ones
/// for every target, optional ones too, dev ones only when asked.
pub fn dependencies(raw_line: &str, dev: bool) -> Result<Deps> {
    let line: LineDeps =
        serde_json::from_str(raw_line).context("failed to read the dependencies of a line")?;
    let mut deps = Deps::default();
    for dep in line.deps {
        let kind = dep.kind.unwrap_or(DependencyKind::Normal);
        if kind == DependencyKind::Dev && !dev {
            continue;
        }
        if let Some(registry) = &dep.registry {
            deps.foreign
                .push(format!("{} ({registry})", dep.package_name()));
            continue;
        }
        let req = match VersionReq::parse(&dep.req) {
            Ok(req) => req,
            Err(e) => bail!(
                "dependency `{}` has an unreadable requirement `{}`: {e}",
                dep.name,
                dep.req
            ),
        };
        deps.follow.push(DepWant {
            name: dep.package_name().to_owned(),
            req,
            optional: dep.optional,
        });
    }
    Ok(deps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(vers: &str, yanked: bool, deps: &str) -> String {
        format!(
            r#"{{"name":"a","vers":"{vers}","deps":[{deps}],"cksum":"00","features":{{}},"yanked":{yanked}}}"#
        )
    }

    fn file(lines: &[String]) -> IndexFile {
        IndexFile::parse(lines.join("\n").as_bytes()).unwrap()
    }

    fn versions(lines: Vec<&IndexLine>) -> Vec<String> {
        lines.iter().map(|l| l.head.vers.clone()).collect()
    }

    #[test]
    fn picks_newest_unyanked_then_newest_yanked_or_all() {
        let f = file(&[
            line("1.0.0", false, ""),
            line("1.2.0", true, ""),
            line("1.1.0", false, ""),
            line("2.0.0-rc.1", false, ""),
        ]);
        let (_, w) = parse_spec("a@1", false).unwrap();
        assert_eq!(versions(pick(&f, &w)), ["1.1.0"]);
        let (_, w) = parse_spec("a@=1.2.0", false).unwrap();
        assert_eq!(versions(pick(&f, &w)), ["1.2.0"]);
        let (_, w) = parse_spec("a@1", true).unwrap();
        assert_eq!(versions(pick(&f, &w)), ["1.0.0", "1.2.0", "1.1.0"]);
        let (_, w) = parse_spec("a", false).unwrap();
        assert_eq!(
            versions(pick(&f, &w)),
            ["1.1.0"],
            "no pre-release without asking"
        );
        let (_, w) = parse_spec("a@^3", false).unwrap();
        assert!(pick(&f, &w).is_empty());
        assert!(parse_spec("a@x.y", false).is_err());
        assert!(parse_spec("not a name", false).is_err());
    }

    #[test]
    fn follows_normal_build_optional_and_target_deps_and_renames() {
        let deps = r#"{"name":"b","req":"^1","kind":"normal","optional":true,"target":"cfg(windows)"},
            {"name":"c","req":">=0.2, <0.4","kind":"build"},
            {"name":"alias","package":"real","req":"1.0"},
            {"name":"t","req":"*","kind":"dev"},
            {"name":"x","req":"1","registry":"https://other.example/index"}"#;
        let raw = line("1.0.0", false, deps);
        let got = dependencies(&raw, false).unwrap();
        let names: Vec<_> = got.follow.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["b", "c", "real"]);
        assert_eq!(got.foreign, ["x (https://other.example/index)"]);
        let with_dev = dependencies(&raw, true).unwrap();
        assert!(with_dev.follow.iter().any(|d| d.name == "t"));
    }
}
