//! What importing an archive changes in a registry, decided from listings alone. An
//! incremental archive applies to the state it continues, to the state it leads to (a no-op)
//! and to anything in between (an import that was interrupted); a full one to any registry
//! whose crate files agree with it. After the import the registry holds exactly the
//! archive's listing. Pure.

use super::manifest::{Listing, Manifest, short};
use super::paths;

#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Carried paths whose bytes the registry lacks.
    pub writes: Vec<String>,
    /// Paths to delete.
    pub removals: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.removals.is_empty()
    }
}

/// The changes that take a registry whose transferable files are `current` to `m.files`, or
/// why the archive does not apply to it. `prune`: a full import may delete files the export
/// does not have.
pub fn plan(m: &Manifest, current: &Listing, prune: bool) -> Result<Plan, String> {
    let after = &m.files;
    let removals: Vec<String> = match m.base_listing() {
        Some(base) => {
            let paths = current.keys().chain(base.keys()).chain(after.keys());
            for p in paths {
                let (c, b, a) = (current.get(p), base.get(p), after.get(p));
                if c == b || c == a {
                    continue;
                }
                let how = match (c, b) {
                    (Some(_), None) => "is in the registry but not in that export",
                    (None, _) => "is missing from the registry",
                    (Some(_), Some(_)) => "differs from that export's",
                };
                return Err(format!(
                    "this archive continues export {}, but the registry is at {}: `public/{p}` {how}; \
                     import the archives in the order they were made, or import a full export",
                    short(m.base.as_deref().unwrap_or_default()),
                    short(&super::manifest::listing_id(current)),
                ));
            }
            m.removed
                .iter()
                .filter(|p| current.contains_key(*p))
                .cloned()
                .collect()
        }
        None => {
            for (p, a) in after {
                let crate_file = paths::classify(p).is_ok_and(|k| k.is_crate());
                if crate_file && current.get(p).is_some_and(|c| c != a) {
                    return Err(format!(
                        "`public/{p}` in the registry differs from the archive's: a published crate \
                         file never changes (was the export made from another registry?)"
                    ));
                }
            }
            let extra: Vec<String> = current
                .keys()
                .filter(|p| !after.contains_key(*p))
                .cloned()
                .collect();
            if !extra.is_empty() && !prune {
                return Err(format!(
                    "the registry has `public/{}`{}, which export {} does not; a full import makes the \
                     registry a copy of the exported one: pass `--prune` to delete such files",
                    extra[0],
                    match extra.len() {
                        1 => String::new(),
                        n => format!(" and {} more files", n - 1),
                    },
                    short(&m.id)
                ));
            }
            extra
        }
    };
    let writes = m
        .carried
        .iter()
        .filter(|p| current.get(*p) != after.get(*p))
        .cloned()
        .collect();
    Ok(Plan { writes, removals })
}
