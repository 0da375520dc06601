//! The pending-change journal. Before a change touches the tree it records which files it may
//! leave half-done (crate files not yet in the index, index files the git index does not have
//! yet); the record is removed when the change is complete. After a crash, the
//! next writer rolls the change back or forward, and `ktra verify` knows which differences are
//! an interrupted change rather than damage.

use super::{Area, Store};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    /// What the change was ("add", "yank", ...).
    pub op: String,
    /// Crate files that may exist without an index line.
    pub crate_files: Vec<PendingCrate>,
    /// Index files (relative to `index/`) whose git copy may be stale.
    pub index_files: Vec<String>,
    /// The whole git index may be stale (a rebuild was interrupted).
    #[serde(default)]
    pub whole_git: bool,
}

/// A crate file written by the change, and the version whose line makes it legitimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingCrate {
    pub name: String,
    pub vers: String,
    /// Public key of the file.
    pub key: String,
}

impl Journal {
    pub const KEY: &'static str = "pending.json";

    pub fn load(store: &Store) -> Result<Option<Self>> {
        let Some(bytes) = store.read(Area::State, Self::KEY)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes).map(Some).with_context(|| {
            format!(
                "failed to parse `{}`",
                store.path(Area::State, Self::KEY).display()
            )
        })
    }

    /// Writes the journal durably before the change starts.
    pub fn begin(&self, store: &Store) -> Result<()> {
        let mut batch = store.batch().named("journal");
        batch.put(Area::State, Self::KEY, &serde_json::to_vec(self)?)?;
        // Durable before anything else moves: the batch that follows syncs first.
        batch.commit()
    }

    /// Makes the change durable, then removes the journal.
    pub fn finish(store: &Store) -> Result<()> {
        store.sync()?;
        store.remove(Area::State, Self::KEY)
    }
}
