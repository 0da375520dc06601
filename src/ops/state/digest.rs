//! The check of a copy: counts and SHA-256 digests of the source's records and audit events,
//! and of the same in the destination.
//!
//! Records: the digest runs over the records sorted by key, each as its key and its bytes
//! (both length-prefixed), so the source's digest equals the destination's when the
//! destination holds every record of the source with the same bytes (the destination's other
//! records, which the copy leaves alone, are not counted).
//!
//! Audit events: an event is its line (the JSON text); its stamp is carried by the copy but is
//! not part of what is compared, because the state folder keeps no stamp beside the line (its
//! stamp is the line's `time`, to the second), so a stamp-sensitive comparison would find a
//! copy into a folder different from its source. The log is a multiset of lines: the digest
//! runs over the sorted SHA-256 of the lines, and the destination's side counts each line at
//! most as often as the source has it.

use crate::state::Records;
use anyhow::Result;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// How many there are, and the digest of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figures {
    pub count: usize,
    pub sha256: String,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} sha256 {}", self.count, self.sha256)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of an audit event's line: its identity in a copy.
pub fn line_hash(line: &[u8]) -> [u8; 32] {
    Sha256::digest(line).into()
}

/// Records by key, in key order, digested as they are read.
#[derive(Default)]
pub struct RecordDigest {
    hasher: Sha256,
    count: usize,
}

impl RecordDigest {
    /// Adds one record; keys come in increasing order.
    pub fn add(&mut self, key: &str, bytes: &[u8]) {
        self.hasher.update((key.len() as u64).to_le_bytes());
        self.hasher.update(key.as_bytes());
        self.hasher.update((bytes.len() as u64).to_le_bytes());
        self.hasher.update(bytes);
        self.count += 1;
    }

    pub fn finish(self) -> Figures {
        Figures {
            count: self.count,
            sha256: hex(&self.hasher.finalize()),
        }
    }
}

/// The records of `keys` (sorted) that `records` holds: the keys found, and their figures.
pub fn records(records: &dyn Records, keys: &[String]) -> Result<(Vec<String>, Figures)> {
    let mut digest = RecordDigest::default();
    let mut found = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some(record) = records.get(key)? {
            digest.add(key, &record.bytes);
            found.push(key.clone());
        }
    }
    Ok((found, digest.finish()))
}

/// The hashes of every audit event's line, in the log's order.
pub fn audit_lines(records: &dyn Records) -> Result<Vec<[u8; 32]>> {
    let mut out = Vec::new();
    records.audit_events(&mut |_, line| {
        out.push(line_hash(line));
        Ok(())
    })?;
    Ok(out)
}

/// How many times each line is in a log.
pub fn counts(lines: &[[u8; 32]]) -> HashMap<[u8; 32], usize> {
    let mut out = HashMap::new();
    for line in lines {
        *out.entry(*line).or_insert(0) += 1;
    }
    out
}

/// The figures of the source's audit events, and of the destination's restricted to them
/// (each line at most as often as the source has it).
pub fn audit(source: &[[u8; 32]], destination: &[[u8; 32]]) -> (Figures, Figures) {
    let mut wanted = source.to_vec();
    wanted.sort_unstable();
    let mut held = counts(destination);
    let mut present = Vec::with_capacity(wanted.len());
    for line in &wanted {
        if let Some(n) = held.get_mut(line).filter(|n| **n > 0) {
            *n -= 1;
            present.push(*line);
        }
    }
    (multiset(&wanted), multiset(&present))
}

/// The figures of sorted line hashes.
fn multiset(sorted: &[[u8; 32]]) -> Figures {
    let mut hasher = Sha256::new();
    for line in sorted {
        hasher.update(line);
    }
    Figures {
        count: sorted.len(),
        sha256: hex(&hasher.finalize()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_digest_tells_keys_from_bytes() {
        let digest = |pairs: &[(&str, &[u8])]| {
            let mut d = RecordDigest::default();
            for (k, b) in pairs {
                d.add(k, b);
            }
            d.finish()
        };
        let a = digest(&[("users/a.json", b"1"), ("users/b.json", b"2")]);
        assert_eq!(a.count, 2);
        assert_eq!(a, digest(&[("users/a.json", b"1"), ("users/b.json", b"2")]));
        assert_ne!(a, digest(&[("users/a.json", b"1"), ("users/b.json", b"3")]));
        // The same bytes split differently between key and value are another digest.
        assert_ne!(
            digest(&[("ab", b"c")]).sha256,
            digest(&[("a", b"bc")]).sha256
        );
    }

    #[test]
    fn the_destination_counts_each_line_at_most_as_often_as_the_source() {
        let (x, y, z) = (line_hash(b"x"), line_hash(b"y"), line_hash(b"z"));
        let (src, dst) = audit(&[x, y, x], &[z, x, y, x, x]);
        assert_eq!(src, dst);
        assert_eq!(src.count, 3);
        let (src, dst) = audit(&[x, y, x], &[y, x]);
        assert_eq!((src.count, dst.count), (3, 2));
        assert_ne!(src.sha256, dst.sha256);
        // The order of the log does not matter.
        assert_eq!(audit(&[x, y], &[]).0, audit(&[y, x], &[]).0);
    }
}
