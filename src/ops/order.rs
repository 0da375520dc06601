//! Dependency order for index writes: a crate's index file is written after the index files of
//! the crates it depends on that the same change writes, so a crash between two writes never
//! leaves a line whose dependency is missing. One sort for every change that writes several
//! index files (`add`, `import`, the mirror's sync).

use super::inspect::Prepared;
use std::collections::{BTreeMap, BTreeSet};

/// `nodes` ordered so that each comes after the nodes it depends on (`deps`; dependencies on
/// nodes not in `nodes`, and on itself, are ignored). Kahn's algorithm: ties, and cycles (only
/// dev-dependencies can make one), resolve in key order, so the order never depends on the
/// order of `nodes`.
pub fn dependencies_first<K: Ord + Clone>(nodes: &[K], deps: impl Fn(&K) -> Vec<K>) -> Vec<K> {
    let set: BTreeSet<&K> = nodes.iter().collect();
    let mut waiting: BTreeMap<&K, usize> = BTreeMap::new();
    let mut users: BTreeMap<K, Vec<&K>> = BTreeMap::new();
    for node in &set {
        let mine: BTreeSet<K> = deps(node)
            .into_iter()
            .filter(|d| d != *node && set.contains(d))
            .collect();
        waiting.insert(node, mine.len());
        for dep in mine {
            users.entry(dep).or_default().push(node);
        }
    }
    let mut ready: BTreeSet<&K> = waiting
        .iter()
        .filter(|(_, c)| **c == 0)
        .map(|(k, _)| *k)
        .collect();
    let mut order = Vec::with_capacity(set.len());
    while !waiting.is_empty() {
        let next = match ready.pop_first() {
            Some(k) => k,
            // A cycle: cut it at its first key.
            None => *waiting.keys().next().expect("not empty"),
        };
        waiting.remove(next);
        for user in users.get(next).into_iter().flatten() {
            if let Some(count) = waiting.get_mut(user) {
                *count -= 1;
                if *count == 0 {
                    ready.insert(user);
                }
            }
        }
        order.push(next.clone());
    }
    order
}

/// The crates of one `ktra add`, dependencies first (same-registry dependencies only).
pub fn dependency_order(groups: Vec<(String, Vec<Prepared>)>) -> Vec<(String, Vec<Prepared>)> {
    let names: Vec<String> = groups.iter().map(|(n, _)| n.clone()).collect();
    let mut by_name: BTreeMap<String, Vec<Prepared>> = groups.into_iter().collect();
    let order = dependencies_first(&names, |name| {
        by_name[name]
            .iter()
            .flat_map(|p| &p.entry.deps)
            .filter(|d| d.registry.is_none())
            .map(|d| d.package_name().to_owned())
            .collect()
    });
    order
        .into_iter()
        .map(|n| {
            let list = by_name.remove(&n).expect("every name has a group");
            (n, list)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::dependencies_first;

    #[test]
    fn dependencies_come_first_ties_and_cycles_in_key_order() {
        let deps = |k: &&str| -> Vec<&str> {
            match *k {
                "app" => vec!["lib", "util", "elsewhere"],
                "lib" => vec!["util", "lib"],
                "x" => vec!["y"],
                "y" => vec!["x"],
                _ => vec![],
            }
        };
        let order = dependencies_first(&["x", "app", "util", "lib", "y"], deps);
        assert_eq!(order, ["util", "lib", "app", "x", "y"]);
        let again = dependencies_first(&["y", "lib", "util", "app", "x"], deps);
        assert_eq!(again, order, "the order does not depend on the input's");
    }
}
