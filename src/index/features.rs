//! The `features` / `features2` split crates.io applies, so that cargo older than 1.60 skips
//! entries using `dep:` or `?/` syntax instead of failing on them.

use super::entry::FeatureMap;

/// Rounds after which the transitive move stops (crates.io's limit).
const ROUNDS: usize = 100;

fn has_new_syntax(value: &str) -> bool {
    value.starts_with("dep:") || value.contains("?/")
}

/// Returns `(features, features2)`: a feature goes to `features2` if it uses new syntax, or
/// (transitively) enables a feature that went there.
pub fn split(all: FeatureMap) -> (FeatureMap, FeatureMap) {
    let (mut old, mut new): (FeatureMap, FeatureMap) = all
        .into_iter()
        .partition(|(_, vals)| !vals.iter().any(|v| has_new_syntax(v)));
    for _ in 0..ROUNDS {
        let (stay, moved): (FeatureMap, FeatureMap) = old
            .into_iter()
            .partition(|(_, vals)| !vals.iter().any(|v| new.contains_key(v)));
        old = stay;
        if moved.is_empty() {
            break;
        }
        new.extend(moved);
    }
    (old, new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(rows: &[(&str, &[&str])]) -> FeatureMap {
        rows.iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn plain_features_stay() {
        let (old, new) = split(map(&[("a", &["b"]), ("b", &[])]));
        assert_eq!(old, map(&[("a", &["b"]), ("b", &[])]));
        assert!(new.is_empty());
    }

    #[test]
    fn namespaced_and_weak_move_with_their_dependents() {
        let all = map(&[
            ("plain", &["x"]),
            ("ns", &["dep:log"]),
            ("weak", &["memchr?/std"]),
            ("uses_ns", &["ns"]),
            ("uses_uses", &["uses_ns"]),
        ]);
        let (old, new) = split(all);
        assert_eq!(old, map(&[("plain", &["x"])]));
        let keys: Vec<_> = new.keys().map(String::as_str).collect();
        assert_eq!(keys, ["ns", "uses_ns", "uses_uses", "weak"]);
    }
}
