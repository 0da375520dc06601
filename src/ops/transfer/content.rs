//! What an imported state must satisfy before it replaces a registry's: every index line
//! parses the way cargo parses it and sits in its crate's file, every line's `cksum` is the
//! sha256 of the crate file it names, and no crate file of the registry is left without a
//! line. Also the order index files are written in (dependencies first). Pure.

use super::manifest::Listing;
use super::paths::{self, Kind, Side};
use crate::index::{entry, file::same_ignoring_build, name};
use std::collections::{BTreeMap, BTreeSet};

/// What an import needs to know of one index file.
#[derive(Debug, Clone)]
pub struct IndexFacts {
    pub side: Side,
    pub lines: Vec<LineFacts>,
}

#[derive(Debug, Clone)]
pub struct LineFacts {
    pub name: String,
    pub vers: String,
    pub cksum: String,
    /// Crates of the same index this version depends on.
    pub deps: Vec<String>,
}

/// Checks one index file (its key relative to `public/`) line by line.
pub fn check_index(key: &str, bytes: &[u8]) -> Result<IndexFacts, String> {
    let Ok(Kind::Index {
        side,
        name: file_name,
    }) = paths::classify(key)
    else {
        return Err(format!("`{key}` is not an index file"));
    };
    let text = std::str::from_utf8(bytes).map_err(|_| format!("`{key}` is not UTF-8"))?;
    let mut lines: Vec<LineFacts> = Vec::new();
    let mut versions: Vec<semver::Version> = Vec::new();
    for (i, line) in text
        .split('\n')
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let at = |why: String| format!("`{key}` line {}: {why}", i + 1);
        let pkg = entry::parse_strict(line).map_err(at)?;
        let named = match side {
            Side::Registry => name::CrateName::new(&pkg.name)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Side::Mirror if paths::is_name(&pkg.name) => Ok(()),
            Side::Mirror => Err(format!("`{}` is not a crate name", pkg.name)),
        };
        named.map_err(at)?;
        if pkg.name.to_ascii_lowercase() != file_name {
            return Err(at(format!(
                "crate `{}` belongs in `{}`",
                pkg.name,
                paths::index_key(side, &pkg.name).map_err(|e| at(e.to_string()))?
            )));
        }
        if let Some(first) = lines.first().filter(|f| f.name != pkg.name) {
            return Err(at(format!(
                "name `{}` differs from `{}` on the first line",
                pkg.name, first.name
            )));
        }
        let v = pkg.version().expect("checked by parse_strict");
        if versions.iter().any(|o| same_ignoring_build(o, &v)) {
            return Err(at(format!("version `{}` appears twice", pkg.vers)));
        }
        versions.push(v);
        let deps = pkg
            .deps
            .iter()
            .filter(|d| d.registry.is_none())
            .map(|d| d.package_name().to_owned())
            .collect();
        lines.push(LineFacts {
            name: pkg.name,
            vers: pkg.vers,
            cksum: pkg.cksum,
            deps,
        });
    }
    if lines.is_empty() {
        return Err(format!("`{key}` holds no index lines"));
    }
    Ok(IndexFacts { side, lines })
}

/// Checks the whole state `files` whose index files are `index`: every line's crate file is
/// there with the line's checksum, every crate file of the registry has a line, and no two
/// crates of the registry collide.
pub fn check_references(
    index: &BTreeMap<String, IndexFacts>,
    files: &Listing,
) -> Result<(), String> {
    let mut named: BTreeSet<String> = BTreeSet::new();
    let mut canonical: BTreeMap<String, &str> = BTreeMap::new();
    for (key, facts) in index {
        let first = &facts.lines[0].name;
        if facts.side == Side::Registry
            && let Some(other) = canonical.insert(name::canonical(first), first)
        {
            return Err(format!(
                "crates `{other}` and `{first}` collide (same name ignoring case and `-`/`_`)"
            ));
        }
        for l in &facts.lines {
            let crate_key = paths::crate_key(facts.side, &l.name, &l.vers);
            match files.get(&crate_key) {
                None => {
                    return Err(format!(
                        "`{key}` lists `{}@{}`, but its crate file `{crate_key}` is in neither the archive nor the registry",
                        l.name, l.vers
                    ));
                }
                Some(s) if s.sha256 != l.cksum => {
                    return Err(format!(
                        "`{key}` gives `{}@{}` the checksum {}, but `{crate_key}` has {}",
                        l.name, l.vers, l.cksum, s.sha256
                    ));
                }
                Some(_) => {}
            }
            named.insert(crate_key);
        }
    }
    for p in files.keys() {
        let registry_crate =
            matches!(paths::classify(p), Ok(k) if k.is_crate() && k.side() == Side::Registry);
        if registry_crate && !named.contains(p) {
            return Err(format!("crate file `{p}` is not listed by any index line"));
        }
    }
    Ok(())
}

/// The order to write index files in: a file after the files of the crates (same side) it
/// depends on; ties, and cycles (only dev-dependencies can make one), in key order.
pub fn dependency_order(keys: &[String], index: &BTreeMap<String, IndexFacts>) -> Vec<String> {
    crate::ops::order::dependencies_first(keys, |key| {
        let Some(f) = index.get(key) else {
            return Vec::new();
        };
        f.lines
            .iter()
            .flat_map(|l| &l.deps)
            .filter_map(|d| paths::index_key(f.side, d).ok())
            .collect()
    })
}
