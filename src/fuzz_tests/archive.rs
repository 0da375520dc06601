//! The `.crate` reader (`package::archive::inspect`) on random bytes, on valid crates whose
//! tar or gzip bytes were mutated, and on tarballs of random entries: it never panics, copies
//! and hashes every byte it read, and what it accepts has a top folder and a whole manifest.

use super::{mutate, run, word};
use crate::package::archive::{self, MAX_MANIFEST};
use arbitrary::Unstructured;
use sha2::{Digest, Sha256};
use std::io::Write;

/// Inspects `bytes` and checks the properties that hold for any input.
fn check_bytes(bytes: &[u8]) -> bool {
    let mut copy = Vec::new();
    let got = archive::inspect(bytes, &mut copy, None);
    assert_eq!(copy, bytes, "every byte is copied, even on failure");
    let accepted = got.is_ok();
    if let Ok(i) = got {
        assert_eq!(i.size, bytes.len() as u64);
        assert_eq!(i.cksum, format!("{:x}", Sha256::digest(bytes)));
        assert!(!i.root.is_empty() && !i.root.contains('/'), "{}", i.root);
        assert!(i.manifest.len() as u64 <= MAX_MANIFEST);
        let limited = archive::inspect_limited(bytes, std::io::sink(), Some(1), MAX_MANIFEST);
        assert!(limited.is_err() || bytes.len() <= 1, "the size limit holds");
    }
    accepted
}

const PATHS: &[&str] = &[
    "foo-1.0.0",
    "foo-1.0.0/",
    "foo-1.0.0/Cargo.toml",
    "foo-1.0.0/cargo.toml",
    "foo-1.0.0/src",
    "foo-1.0.0/src/",
    "foo-1.0.0/src/lib.rs",
    "foo-1.0.0/README.md",
    "foo-1.0.0/docs/README",
    "foo-1.0.0/../x",
    "foo-1.0.0/./x",
    "foo-1.0.0//x",
    "/etc/passwd",
    "bar-1.0.0/x",
    "foo-1.0.0/a\\b",
];

const MANIFESTS: &[&str] = &[
    "[package]\nname = \"foo\"\nversion = \"1.0.0\"\n",
    "[package]\nname = \"foo\"\nversion = \"1.0.0\"\nreadme = \"docs/README\"\n",
    "[package]\nname = \"foo\"\nversion = \"1.0.0\"\nreadme = false\n",
    "[package\n",
];

/// A tar (not yet gzip'd) of random entries drawn from paths and kinds that matter.
fn random_tar(u: &mut Unstructured<'_>) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let n = u.int_in_range(0..=6u8).unwrap_or(0);
    for _ in 0..n {
        let path = word(u, PATHS);
        let kind = match u.int_in_range(0..=9u8).unwrap_or(0) {
            0 => tar::EntryType::Directory,
            1 => tar::EntryType::Symlink,
            2 => tar::EntryType::Link,
            3 => tar::EntryType::Fifo,
            4 => tar::EntryType::XGlobalHeader,
            _ => tar::EntryType::Regular,
        };
        let data: Vec<u8> = match path.ends_with("Cargo.toml") {
            true => word(u, MANIFESTS).into_bytes(),
            false => u.arbitrary::<&[u8]>().unwrap_or_default().to_vec(),
        };
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        let name = &mut h.as_old_mut().name;
        let len = path.len().min(name.len());
        name[..len].copy_from_slice(&path.as_bytes()[..len]);
        h.set_cksum();
        let _ = tar.append(&h, data.as_slice());
    }
    tar.into_inner().unwrap_or_default()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = gz.write_all(bytes);
    gz.finish().unwrap_or_default()
}

fn structured(u: &mut Unstructured<'_>) -> bool {
    let mut tar = match u.ratio(1u8, 3u8).unwrap_or(false) {
        true => {
            let good = crate::package::testing::simple("foo", "1.0.0", "");
            let mut raw = Vec::new();
            let mut gz = flate2::read::GzDecoder::new(good.as_slice());
            let _ = std::io::Read::read_to_end(&mut gz, &mut raw);
            raw
        }
        false => random_tar(u),
    };
    mutate(u, &mut tar);
    let mut bytes = gzip(&tar);
    if u.ratio(1u8, 4u8).unwrap_or(false) {
        mutate(u, &mut bytes);
    }
    check_bytes(&bytes)
}

#[test]
fn random_bytes() {
    run("archive-bytes", 4096, |u| {
        let mut bytes = u.bytes(u.len()).unwrap_or_default().to_vec();
        if u.ratio(1u8, 2u8).unwrap_or(false) || bytes.len() < 2 {
            bytes.splice(0..0, [0x1f, 0x8b, 8, 0]);
        }
        check_bytes(&bytes)
    });
}

#[test]
fn mutated_and_random_tarballs() {
    run("archive-tar", 2048, structured);
}

#[test]
fn regression_cases() {
    // A regular file named like the top folder, and a file where a folder is: refused.
    let m = MANIFESTS[0].as_bytes();
    use crate::package::testing::{Entry, tarball};
    for entries in [
        vec![
            Entry::File("foo-1.0.0", b"x"),
            Entry::File("foo-1.0.0/Cargo.toml", m),
        ],
        vec![
            Entry::File("foo-1.0.0/Cargo.toml", m),
            Entry::File("foo-1.0.0/src", b""),
            Entry::File("foo-1.0.0/src/lib.rs", b""),
        ],
    ] {
        let bytes = tarball(&entries);
        assert!(!check_bytes(&bytes));
        assert!(archive::inspect(bytes.as_slice(), std::io::sink(), None).is_err());
    }
}
