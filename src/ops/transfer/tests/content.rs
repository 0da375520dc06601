//! Index files checked line by line, against crate files, and put in dependency order.

use super::{line, listing};
use crate::ops::transfer::content::{self, IndexFacts};
use std::collections::BTreeMap;

fn facts(files: &[(&str, String)]) -> Result<BTreeMap<String, IndexFacts>, String> {
    files
        .iter()
        .map(|(k, text)| content::check_index(k, text.as_bytes()).map(|f| (k.to_string(), f)))
        .collect()
}

#[test]
fn index_files_are_checked_line_by_line() {
    let ok = format!(
        "{}\n{}\n",
        line("a", "1.0.0", "A1", &[]),
        line("a", "1.1.0", "A2", &[])
    );
    assert_eq!(
        content::check_index("index/1/a", ok.as_bytes())
            .unwrap()
            .lines
            .len(),
        2
    );
    let cases = [
        (
            "index/1/b",
            line("a", "1.0.0", "A1", &[]),
            "belongs in `index/1/a`",
        ),
        (
            "index/1/a",
            format!(
                "{}\n{}",
                line("a", "1.0.0", "x", &[]),
                line("a", "1.0.0+b", "y", &[])
            ),
            "appears twice",
        ),
        (
            "index/1/a",
            "{\"name\":\"a\"}".into(),
            "not a valid index line",
        ),
        ("index/1/a", "\n\n".into(), "no index lines"),
        ("index/3/s/std", line("std", "1.0.0", "s", &[]), "reserved"),
        (
            "crates/a-1.0.0.crate",
            line("a", "1.0.0", "A1", &[]),
            "not an index file",
        ),
    ];
    for (key, text, want) in cases {
        let e = content::check_index(key, text.as_bytes()).unwrap_err();
        assert!(e.contains(want), "{key}: {e}");
    }
    // A mirror holds whatever its upstream has.
    assert!(
        content::check_index(
            "mirror/index/3/s/std",
            line("std", "1.0.0", "s", &[]).as_bytes()
        )
        .is_ok()
    );
}

#[test]
fn every_line_needs_its_crate_file_and_every_crate_file_a_line() {
    let index = facts(&[("index/1/a", line("a", "1.0.0", "A1", &[]))]).unwrap();
    let good = listing(&[("crates/a-1.0.0.crate", "A1"), ("index/1/a", "")]);
    content::check_references(&index, &good).unwrap();
    let e = content::check_references(&index, &listing(&[("crates/a-1.0.0.crate", "tampered")]))
        .unwrap_err();
    assert!(e.contains("checksum"), "{e}");
    let e = content::check_references(&index, &listing(&[])).unwrap_err();
    assert!(e.contains("in neither the archive nor the registry"), "{e}");
    let orphan = listing(&[
        ("crates/a-1.0.0.crate", "A1"),
        ("crates/z-1.0.0.crate", "Z"),
    ]);
    let e = content::check_references(&index, &orphan).unwrap_err();
    assert!(e.contains("`crates/z-1.0.0.crate` is not listed"), "{e}");
    // Mirror crate files may outlive their pruned lines.
    let mirror = listing(&[
        ("crates/a-1.0.0.crate", "A1"),
        ("mirror/crates/z-1.0.0.crate", "Z"),
    ]);
    content::check_references(&index, &mirror).unwrap();
}

#[test]
fn index_files_are_written_after_their_dependencies() {
    let index = facts(&[
        ("index/3/a/app", line("app", "1.0.0", "x", &["lib", "std2"])),
        ("index/3/l/lib", line("lib", "1.0.0", "y", &["core2"])),
        ("index/co/re/core2", line("core2", "1.0.0", "z", &[])),
        ("mirror/index/3/l/lib", line("lib", "1.0.0", "y", &[])),
    ])
    .unwrap();
    let keys: Vec<String> = index.keys().cloned().collect();
    let order = content::dependency_order(&keys, &index);
    assert_eq!(
        order,
        [
            "index/co/re/core2",
            "index/3/l/lib",
            "index/3/a/app",
            "mirror/index/3/l/lib"
        ]
    );
}
