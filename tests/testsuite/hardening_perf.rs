//! Bulk add's in-memory reading (a batch inflates each crate whole, within a memory budget):
//! the registry it writes is the one that adding the same files one at a time writes, and a
//! bad crate in a batch is refused with the very message it gets when added alone.

use crate::cli::Reg;
use ktra::package::testing::{Entry, manifest, simple, tarball};
use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::Path;

/// A crate with a README and a larger, poorly compressible file.
fn rich(name: &str, version: &str, noise: usize) -> Vec<u8> {
    let root = format!("{name}-{version}");
    let m = manifest(
        name,
        version,
        "readme = \"README.md\"\nkeywords = [\"k\"]\n",
    );
    let mut state = 0x2545_f491_u32;
    let data: Vec<u8> = (0..noise)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state % 251) as u8
        })
        .collect();
    tarball(&[
        Entry::Dir(&format!("{root}/")),
        Entry::File(&format!("{root}/Cargo.toml"), m.as_bytes()),
        Entry::File(&format!("{root}/README.md"), b"# Hello\n\nSome *text*.\n"),
        Entry::File(&format!("{root}/data.bin"), &data),
        Entry::File(&format!("{root}/src/lib.rs"), b"pub fn f() {}\n"),
    ])
}

/// A crate whose tar stops inside its last entry's data (no end-of-archive blocks).
fn truncated(name: &str, version: &str) -> Vec<u8> {
    let root = format!("{name}-{version}");
    let m = manifest(name, version, "");
    let full = tarball(&[
        Entry::File(&format!("{root}/Cargo.toml"), m.as_bytes()),
        Entry::File(&format!("{root}/big.bin"), &[7u8; 64 * 1024]),
    ]);
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&full[..])
        .read_to_end(&mut raw)
        .unwrap();
    let keep = 512 + m.len().div_ceil(512) * 512 + 512 + 4096;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw[..keep]).unwrap();
    gz.finish().unwrap()
}

/// The registry's files a change writes, index lines without their `pubtime`; the site's
/// pages are left out (they show the publication time).
fn contents(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(root).unwrap();
        let rel = rel.to_string_lossy().into_owned();
        let kept = ["public/index/", "public/crates/", "state/meta/"];
        if !entry.file_type().is_file() || !kept.iter().any(|k| rel.starts_with(k)) {
            continue;
        }
        let mut bytes = fs::read(entry.path()).unwrap();
        if rel.starts_with("public/index/") && !rel.ends_with("config.json") {
            let text = String::from_utf8(bytes).unwrap();
            let lines: Vec<String> = text
                .lines()
                .map(|l| {
                    let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                    v.as_object_mut().unwrap().remove("pubtime");
                    v.to_string()
                })
                .collect();
            bytes = lines.join("\n").into_bytes();
        }
        out.insert(rel, bytes);
    }
    out
}

#[test]
fn a_bulk_add_writes_what_adding_the_files_one_by_one_writes() {
    let bulk = Reg::new(true);
    let single = Reg::new(true);
    let dir = bulk.files.join("batch");
    fs::create_dir_all(&dir).unwrap();
    let crates = [
        ("alpha", "1.0.0", rich("alpha", "1.0.0", 300 * 1024)),
        ("beta", "1.0.0", rich("beta", "1.0.0", 10)),
        ("beta", "1.1.0", rich("beta", "1.1.0", 2 * 1024 * 1024)),
        ("gamma", "0.1.0", simple("gamma", "0.1.0", "")),
    ];
    for (name, version, bytes) in &crates {
        fs::write(dir.join(format!("{name}-{version}.crate")), bytes).unwrap();
    }
    bulk.ktra(&["add", dir.to_str().unwrap()]).success();
    for (name, version, _) in &crates {
        let file = dir.join(format!("{name}-{version}.crate"));
        single.ktra(&["add", file.to_str().unwrap()]).success();
    }
    let (a, b) = (contents(&bulk.root), contents(&single.root));
    assert!(
        a.contains_key("public/crates/beta-1.1.0.crate"),
        "{:?}",
        a.keys()
    );
    assert!(a.contains_key("state/meta/alpha.json"), "{:?}", a.keys());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (key, bytes) in &a {
        assert!(
            bytes == &b[key],
            "{key} differs between bulk and single adds"
        );
    }
    bulk.ktra(&["verify"]).success();
}

#[test]
fn a_bad_crate_in_a_batch_is_refused_with_the_message_it_gets_alone() {
    let m = manifest("linked", "1.0.0", "");
    let bad: [(&str, Vec<u8>); 3] = [
        ("cut-1.0.0.crate", truncated("cut", "1.0.0")),
        (
            "linked-1.0.0.crate",
            tarball(&[
                Entry::File("linked-1.0.0/Cargo.toml", m.as_bytes()),
                Entry::File("linked-1.0.0/big.bin", &[1u8; 200 * 1024]),
                Entry::Symlink("linked-1.0.0/l", "/etc/passwd"),
            ]),
        ),
        (
            "noise-1.0.0.crate",
            b"\x1f\x8b\x08\x00not really gzip".to_vec(),
        ),
    ];
    for (file, bytes) in bad {
        let reg = Reg::new(true);
        let dir = reg.files.join("batch");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("good-1.0.0.crate"), simple("good", "1.0.0", "")).unwrap();
        let path = dir.join(file);
        fs::write(&path, &bytes).unwrap();
        let alone = reg.ktra(&["add", path.to_str().unwrap()]).failure();
        let batch = reg.ktra(&["add", dir.to_str().unwrap()]).failure();
        assert_eq!(batch.stderr, alone.stderr, "{file}");
        assert!(
            !reg.root.join("public/crates/good-1.0.0.crate").exists(),
            "{file}: nothing of a refused batch is added"
        );
    }
}

/// A crate with a README of its own text.
fn with_readme(name: &str, version: &str, text: &str) -> Vec<u8> {
    let root = format!("{name}-{version}");
    let m = manifest(name, version, "readme = \"README.md\"\n");
    tarball(&[
        Entry::File(&format!("{root}/Cargo.toml"), m.as_bytes()),
        Entry::File(&format!("{root}/README.md"), text.as_bytes()),
        Entry::File(&format!("{root}/src/lib.rs"), b"pub fn f() {}\n"),
    ])
}

#[test]
fn the_page_shows_the_readme_of_a_version_added_below_a_yanked_newest() {
    // The site is rendered while the change lands (from before its journal), so before the
    // new crate files are in place: the README the page shows comes from the change itself.
    let reg = Reg::new(true);
    for (version, text) in [("1.0.0", "first-readme"), ("2.0.0", "yanked-readme")] {
        let file = reg.file(
            &format!("paged-{version}.crate"),
            &with_readme("paged", version, text),
        );
        reg.ktra(&["add", &file]).success();
    }
    reg.ktra(&["yank", "paged@2.0.0"]).success();
    for round in 0..2 {
        // In a batch with other crates, so that the crate files take a while to land.
        let dir = reg.files.join(format!("round-{round}"));
        fs::create_dir_all(&dir).unwrap();
        for other in 0..10 {
            let name = format!("filler{round}x{other}");
            fs::write(
                dir.join(format!("{name}-1.0.0.crate")),
                rich(&name, "1.0.0", 64 * 1024),
            )
            .unwrap();
        }
        let version = format!("1.{}.0", round + 1);
        let text = format!("shown-readme-{round}");
        fs::write(
            dir.join(format!("paged-{version}.crate")),
            with_readme("paged", &version, &text),
        )
        .unwrap();
        reg.ktra(&["add", dir.to_str().unwrap()]).success();
        let page = fs::read_to_string(reg.root.join("public/c/paged.html")).unwrap();
        assert!(page.contains(&text), "round {round}: {page}");
    }
}
