//! The search index: its size for a realistic registry, and that names and keywords are in it.

use super::*;
use crate::site::search_index;

const WORDS: &[&str] = &[
    "fast",
    "async",
    "runtime",
    "parser",
    "for",
    "the",
    "serialization",
    "framework",
    "with",
    "zero-copy",
    "support",
    "HTTP",
    "client",
    "and",
    "server",
    "library",
    "bindings",
    "to",
    "internal",
    "service",
    "configuration",
    "logging",
    "metrics",
    "derive",
    "macros",
    "a",
    "tracing",
    "database",
    "driver",
    "utilities",
    "used",
    "by",
    "our",
    "platform",
    "team",
];

/// Pseudo-random but repeatable: a simple LCG, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
    fn words(&mut self, count: usize, sep: &str) -> String {
        (0..count)
            .map(|_| WORDS[self.next(WORDS.len())])
            .collect::<Vec<_>>()
            .join(sep)
    }
}

/// Crates as a company registry has them: names of 2-3 words, 0-5 keywords, descriptions of
/// 6-30 words (a few missing), versions like `0.12.3` and `1.2.0-beta.1`.
fn realistic(count: usize) -> Vec<CrateSummary> {
    let mut rng = Rng(7);
    (0..count)
        .map(|i| {
            let words = 2 + rng.next(2);
            let name = format!("{}-{i}", rng.words(words, "-").to_lowercase());
            let version = match rng.next(4) {
                0 => format!("1.{}.0-beta.{}", rng.next(20), rng.next(5)),
                _ => format!("{}.{}.{}", rng.next(3), rng.next(40), rng.next(15)),
            };
            let keywords = (0..rng.next(6)).map(|_| rng.words(1, "").to_lowercase());
            let keywords: Vec<String> = keywords.collect();
            let n = 6 + rng.next(25);
            let description = if rng.next(10) == 0 {
                String::new()
            } else {
                rng.words(n, " ")
            };
            let keywords: Vec<&str> = keywords.iter().map(String::as_str).collect();
            summary(&name, &version, &description, &keywords)
        })
        .collect()
}

#[test]
fn at_most_100_bytes_per_crate_for_a_realistic_registry() {
    let crates = realistic(1000);
    let index = search_index(&crates);
    let per_crate = index.len() as f64 / crates.len() as f64;
    eprintln!("search index: {per_crate:.1} bytes per crate");
    assert!(per_crate <= 100.0, "{per_crate:.1} bytes per crate");
    // Descriptions are kept when there is room, not dropped wholesale.
    let text = String::from_utf8(index).unwrap();
    assert!(
        text.matches('…').count() > 100,
        "descriptions cut, not left out"
    );
}

#[test]
fn holds_names_versions_and_keywords_of_every_crate() {
    let crates = realistic(300);
    let index = search_index(&crates);
    let json: serde_json::Value = serde_json::from_slice(&index).unwrap();
    assert_eq!(json["v"], 1);
    let entries = json["c"].as_array().unwrap();
    assert_eq!(entries.len(), crates.len());
    for (entry, krate) in entries.iter().zip(&crates) {
        assert_eq!(entry[0], krate.name.as_str());
        assert_eq!(entry[1], krate.version.as_str());
        let keywords = entry.get(2).and_then(|k| k.as_str()).unwrap_or("");
        assert_eq!(keywords, krate.keywords.join(" "));
        let description = entry.get(3).and_then(|d| d.as_str()).unwrap_or("");
        if let Some(full) = &krate.description {
            let kept = description.trim_end_matches('…');
            assert!(
                full.starts_with(kept),
                "{kept:?} is not a prefix of {full:?}"
            );
        }
    }
}

#[test]
fn hostile_and_huge_fields_stay_valid_json() {
    let long = "x".repeat(500);
    let crates = vec![
        summary(
            "a\"b",
            "1.0.0",
            "quote \" backslash \\ newline\n control \u{1} é 日本語 🦀",
            &[],
        ),
        summary(&long, "1.0.0", &long, &["k1", "k2", "k3", "k4", "k5"]),
        summary("short", "0.1.0", &"日本語".repeat(100), &["unicode"]),
        summary("empty", "0.1.0", "", &[]),
    ];
    let index = search_index(&crates);
    let json: serde_json::Value = serde_json::from_slice(&index).unwrap();
    let entries = json["c"].as_array().unwrap();
    assert_eq!(entries[0][0], "a\"b");
    assert_eq!(entries[1][0], long.as_str(), "names are never cut");
    assert_eq!(
        entries[1].as_array().unwrap().len(),
        3,
        "no room left for the description"
    );
    let cut = entries[2][3].as_str().unwrap();
    assert!(cut.ends_with('…') && cut.starts_with("日本語"), "{cut}");
    let one = serde_json::to_vec(&entries[2]).unwrap().len() + 1;
    assert!(one <= crate::site::ENTRY_BUDGET, "{one} bytes");
    assert_eq!(entries[3].as_array().unwrap().len(), 2);
}
