//! The records in the local state folder (`state/`): one file a record, written atomically.
//! The callers hold the registry lock while they write, so a condition checked before the write
//! still holds at the write; a record's version is the SHA-256 of its bytes.

use super::{Expect, Record, Records};
use crate::storage::{Area, Store};
use anyhow::Result;
use sha2::{Digest, Sha256};

pub struct Files {
    store: Store,
}

impl Files {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn version(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Records for Files {
    fn describe(&self) -> String {
        let folder = self.store.path(Area::State, "");
        format!("the state folder `{}`", folder.display())
    }

    /// The callers hold the registry lock.
    fn shared(&self) -> bool {
        false
    }

    fn get(&self, key: &str) -> Result<Option<Record>> {
        Ok(self.store.read(Area::State, key)?.map(|bytes| Record {
            version: version(&bytes),
            bytes,
        }))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.store.walk(Area::State, prefix)
    }

    fn put(&self, key: &str, bytes: &[u8], expect: Expect) -> Result<bool> {
        let current = self.get(key)?;
        let holds = match (&expect, &current) {
            (Expect::Absent, None) => true,
            (Expect::Version(v), Some(r)) => *v == r.version,
            _ => false,
        };
        if !holds {
            return Ok(false);
        }
        let mut batch = self.store.batch();
        batch.put(Area::State, key, bytes)?;
        batch.commit()?;
        self.store.sync()?;
        Ok(true)
    }

    fn remove(&self, key: &str) -> Result<()> {
        self.store.remove(Area::State, key)?;
        self.store.sync()
    }

    fn append_audit(&self, _stamp: &str, line: &[u8]) -> Result<()> {
        let mut with_newline = line.to_vec();
        with_newline.push(b'\n');
        self.store
            .append_private(Area::State, "audit.jsonl", &with_newline)
    }
}
