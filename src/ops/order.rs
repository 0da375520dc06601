//! Dependency order for index writes: a crate's index file is written after the index files of
//! the same-registry crates it depends on, so a crash between two writes never leaves a line
//! whose dependency is missing.

use super::inspect::Prepared;
use std::collections::{BTreeMap, BTreeSet};

pub fn dependency_order(groups: Vec<(String, Vec<Prepared>)>) -> Vec<(String, Vec<Prepared>)> {
    let names: BTreeSet<String> = groups.iter().map(|(n, _)| n.clone()).collect();
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, list) in &groups {
        let set = deps.entry(name.clone()).or_default();
        for p in list {
            for d in &p.entry.deps {
                let target = d.package_name();
                if d.registry.is_none() && target != name && names.contains(target) {
                    set.insert(target.to_owned());
                }
            }
        }
    }
    // Kahn's algorithm over "depends on"; ties and cycles (possible only through
    // dev-dependencies) resolve in name order.
    let mut waiting: BTreeMap<&str, usize> =
        deps.iter().map(|(n, d)| (n.as_str(), d.len())).collect();
    let mut users: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (n, d) in &deps {
        for dep in d {
            users.entry(dep.as_str()).or_default().push(n.as_str());
        }
    }
    let mut ready: BTreeSet<&str> = waiting
        .iter()
        .filter(|(_, c)| **c == 0)
        .map(|(n, _)| *n)
        .collect();
    let mut order: Vec<String> = Vec::with_capacity(groups.len());
    while order.len() < names.len() {
        let next = match ready.pop_first() {
            Some(n) => n,
            None => *waiting.keys().next().expect("names remain"),
        };
        waiting.remove(next);
        order.push(next.to_owned());
        for user in users.get(next).into_iter().flatten() {
            if let Some(count) = waiting.get_mut(user) {
                *count -= 1;
                if *count == 0 {
                    ready.insert(user);
                }
            }
        }
    }
    let mut by_name: BTreeMap<String, Vec<Prepared>> = groups.into_iter().collect();
    order
        .into_iter()
        .map(|n| {
            let list = by_name.remove(&n).expect("every name has a group");
            (n, list)
        })
        .collect()
}
