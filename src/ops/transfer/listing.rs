//! The transferable content of a tree as it is now: every file in the four folders that
//! travel, with its sha256 and size, read through the store (a folder or object storage).
//! Files whose path breaks the rules are left out (and named), never exported and never
//! compared.
//!
//! Index files are listed and read first, crate files listed after. On object storage, where
//! writers take no lock, a crate file is put before the line that names it, so every line read
//! names a crate file the later listing finds (unless a removal took it meanwhile). A crate
//! file of the registry that no line names is not part of the state: an add in progress, what
//! a killed writer left (`ktra verify` reports it), or damage. An index file without lines is a
//! crate without versions (object storage keeps such files): it is not listed either.

use super::manifest::{FileSum, Listing};
use super::paths::{self, Kind, Side};
use crate::index::IndexFile;
use crate::mirror::layout;
use crate::registry::keys;
use crate::storage::{Area, Store};
use anyhow::Result;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

/// What a tree holds.
pub struct Scan {
    /// Every transferable file of the state.
    pub files: Listing,
    /// Paths left out because they may not travel.
    pub skipped: Vec<String>,
    /// Crate files of the registry that no index line names (not in `files`).
    pub unnamed: Vec<String>,
    /// Crate files the index lines name, with the checksum their line gives.
    pub named: HashMap<String, String>,
    /// The bytes of every listed index file as read, when [`ScanOptions::keep_index`] asks.
    pub index: BTreeMap<String, Vec<u8>>,
}

#[derive(Default)]
pub struct ScanOptions<'a> {
    /// Listings that give a crate file's sum without reading it: one they list with the
    /// checksum its index line gives and with the size the file has (crate files are never
    /// rewritten in place).
    pub known: &'a [&'a Listing],
    /// Keep the bytes of the index files (what was read, for a caller that must use exactly
    /// that: on object storage a file read again may have changed).
    pub keep_index: bool,
}

/// Lists and sums every transferable file.
pub fn scan(store: &Store, opts: &ScanOptions<'_>) -> Result<Scan> {
    let mut skipped = Vec::new();
    let mut walk = |folders: &[&str]| -> Result<Vec<String>> {
        let mut out = Vec::new();
        for folder in folders {
            for key in store.walk(Area::Public, folder)? {
                // Each tree writes its own `config.json` (it holds the tree's URL).
                if key == keys::CONFIG_JSON || key == layout::CONFIG_JSON {
                    continue;
                }
                match paths::classify(&key) {
                    Ok(_) => out.push(key),
                    Err(_) => skipped.push(key),
                }
            }
        }
        Ok(out)
    };

    // 1. Index files, read whole.
    let index_keys = walk(&paths::INDEX_FOLDERS)?;
    let read: Vec<Result<(String, Vec<u8>)>> = index_keys
        .into_par_iter()
        .map(|key| {
            let bytes = store
                .read(Area::Public, &key)?
                .ok_or_else(|| anyhow::anyhow!("`public/{key}` disappeared while being read"))?;
            Ok((key, bytes))
        })
        .collect();
    let mut files = Listing::new();
    let mut named = HashMap::new();
    let mut index = BTreeMap::new();
    for r in read {
        let (key, bytes) = r?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if let (Ok(Kind::Index { side, .. }), Ok(file)) =
            (paths::classify(&key), IndexFile::parse(&bytes))
        {
            for l in file.lines {
                let crate_key = paths::crate_key(side, &l.head.name, &l.head.vers);
                named.insert(crate_key, l.head.cksum);
            }
        }
        files.insert(key.clone(), sum(&bytes));
        if opts.keep_index {
            index.insert(key, bytes);
        }
    }

    // 2. Crate files, listed after the index was read.
    let mut unnamed = Vec::new();
    let mut crate_keys = walk(&paths::CRATE_FOLDERS)?;
    crate_keys.retain(|key| {
        let registry = matches!(
            paths::classify(key),
            Ok(Kind::Crate {
                side: Side::Registry,
                ..
            })
        );
        if registry && !named.contains_key(key) {
            unnamed.push(key.clone());
            return false;
        }
        true
    });
    let sums: Vec<Result<(String, FileSum)>> = crate_keys
        .into_par_iter()
        .map(|key| {
            if let Some(sum) = known(store, &key, named.get(&key), opts.known)? {
                return Ok((key, sum));
            }
            let sum = hash(store, &key)?;
            Ok((key, sum))
        })
        .collect();
    for r in sums {
        let (key, sum) = r?;
        files.insert(key, sum);
    }
    Ok(Scan {
        files,
        skipped,
        unnamed,
        named,
        index,
    })
}

/// The sum of a crate file from a listing that has it with its index line's checksum, when
/// the file still has the size listed.
fn known(
    store: &Store,
    key: &str,
    cksum: Option<&String>,
    listings: &[&Listing],
) -> Result<Option<FileSum>> {
    let Some(cksum) = cksum else {
        return Ok(None);
    };
    let Some(listed) = listings
        .iter()
        .find_map(|l| l.get(key).filter(|s| s.sha256 == *cksum))
    else {
        return Ok(None);
    };
    Ok((store.size(Area::Public, key)? == Some(listed.size)).then(|| listed.clone()))
}

fn sum(bytes: &[u8]) -> FileSum {
    FileSum {
        sha256: format!("{:x}", Sha256::digest(bytes)),
        size: bytes.len() as u64,
    }
}

/// Reads one file through and sums it.
pub fn hash(store: &Store, key: &str) -> Result<FileSum> {
    let mut h = Sha256::new();
    let mut size = 0u64;
    let found = store.stream(Area::Public, key, |chunk| {
        h.update(chunk);
        size += chunk.len() as u64;
    })?;
    if !found {
        anyhow::bail!("`public/{key}` disappeared while being read");
    }
    Ok(FileSum {
        sha256: format!("{:x}", h.finalize()),
        size,
    })
}
