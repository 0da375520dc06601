//! The index line parsers (`index::file::IndexFile::parse`, `index::entry::parse_strict`) on
//! random bytes and on mutated real lines: they never panic; a file that parses writes back to
//! bytes that parse to the same lines; a strict line serializes to a line that parses to itself.

use super::{mutate, run};
use crate::index::IndexFile;
use crate::index::entry::parse_strict;
use arbitrary::Unstructured;

const REAL: &str = include_str!("../../tests/fixtures/crates-io-lines.jsonl");

fn check_bytes(bytes: &[u8]) -> bool {
    let parsed = IndexFile::parse(bytes);
    let accepted = parsed.is_ok();
    if let Ok(mut file) = parsed {
        let again = IndexFile::parse(&file.to_bytes()).expect("written lines parse");
        let raw = |f: &IndexFile| f.lines.iter().map(|l| l.raw.clone()).collect::<Vec<_>>();
        assert_eq!(raw(&again), raw(&file));
        if let Some(v) = file.lines.first().map(|l| l.version.clone()) {
            file.set_yanked(&v, true);
            IndexFile::parse(&file.to_bytes()).expect("a yanked line parses");
        }
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return accepted;
    };
    for line in text.lines() {
        if let Ok(pkg) = parse_strict(line) {
            let out = pkg.to_line();
            let back = parse_strict(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
            assert_eq!(back.to_line(), out);
        }
    }
    accepted
}

fn mutated(u: &mut Unstructured<'_>) -> bool {
    let lines: Vec<&str> = REAL.lines().collect();
    let mut bytes = Vec::new();
    for _ in 0..u.int_in_range(1..=3u8).unwrap_or(1) {
        bytes.extend_from_slice(u.choose(&lines).copied().unwrap_or_default().as_bytes());
        bytes.push(b'\n');
    }
    mutate(u, &mut bytes);
    check_bytes(&bytes)
}

#[test]
fn random_bytes() {
    run("index-line-bytes", 512, |u| {
        check_bytes(u.bytes(u.len()).unwrap_or_default())
    });
}

#[test]
fn mutated_real_lines() {
    run("index-line-mutated", 256, mutated);
}
