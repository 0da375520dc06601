//! The transferable content of a tree as it is now: every file in the four folders that
//! travel, with its sha256 and size. Files whose path breaks the rules are left out (and
//! named), never exported and never compared.

use super::manifest::{FileSum, Listing};
use super::paths;
use crate::mirror::layout;
use crate::registry::keys;
use crate::storage::{Area, Store};
use anyhow::Result;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// What a tree holds: its listing, and the paths left out because they may not travel.
pub struct Scan {
    pub files: Listing,
    pub skipped: Vec<String>,
}

/// Lists and hashes every transferable file. `known` may give the sum of a file without
/// reading it (it is passed the path and the size on disk).
pub fn scan(store: &Store, known: &(dyn Fn(&str, u64) -> Option<FileSum> + Sync)) -> Result<Scan> {
    let mut keys = Vec::new();
    let mut skipped = Vec::new();
    for folder in paths::FOLDERS {
        for key in store.walk(Area::Public, folder)? {
            // Each tree writes its own `config.json` (it holds the tree's URL).
            if key == keys::CONFIG_JSON || key == layout::CONFIG_JSON {
                continue;
            }
            match paths::classify(&key) {
                Ok(_) => keys.push(key),
                Err(_) => skipped.push(key),
            }
        }
    }
    let sums: Vec<Result<(String, FileSum)>> = keys
        .into_par_iter()
        .map(|key| {
            let size = store.metadata(Area::Public, &key)?.len();
            if let Some(sum) = known(&key, size) {
                return Ok((key, sum));
            }
            let sum = hash(store, &key)?;
            Ok((key, sum))
        })
        .collect();
    let files = sums.into_iter().collect::<Result<Listing>>()?;
    Ok(Scan { files, skipped })
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
        anyhow::bail!(
            "`{}` disappeared while being read",
            store.path(Area::Public, key).display()
        );
    }
    Ok(FileSum {
        sha256: format!("{:x}", h.finalize()),
        size,
    })
}
