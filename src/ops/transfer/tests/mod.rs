//! Unit tests of the pure parts of a transfer: manifests and plans, index checks and the write
//! order. Helpers here build listings and index lines.

mod content;
mod manifest;

use super::manifest::{FileSum, Listing};
use crate::index::{IndexPackage, RegistryDependency};
use sha2::{Digest, Sha256};

pub fn sum(bytes: &[u8]) -> FileSum {
    FileSum {
        sha256: format!("{:x}", Sha256::digest(bytes)),
        size: bytes.len() as u64,
    }
}

pub fn listing(files: &[(&str, &str)]) -> Listing {
    files
        .iter()
        .map(|(p, c)| (p.to_string(), sum(c.as_bytes())))
        .collect()
}

pub fn line(name: &str, vers: &str, crate_bytes: &str, deps: &[&str]) -> String {
    IndexPackage {
        name: name.into(),
        vers: vers.into(),
        deps: deps
            .iter()
            .map(|d| RegistryDependency {
                name: (*d).into(),
                req: "^1".into(),
                features: vec![],
                optional: false,
                default_features: true,
                target: None,
                kind: None,
                registry: None,
                package: None,
            })
            .collect(),
        cksum: sum(crate_bytes.as_bytes()).sha256,
        features: Default::default(),
        features2: None,
        yanked: false,
        links: None,
        rust_version: None,
        pubtime: None,
        v: None,
    }
    .to_line()
}

#[test]
fn byte_counts_read_well() {
    assert_eq!(super::human_bytes(512), "512 B");
    assert_eq!(super::human_bytes(1536), "1.5 KiB");
    assert_eq!(super::human_bytes(3 << 20), "3.0 MiB");
}
