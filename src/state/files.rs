//! The records in the local state folder (`state/`): one file a record, written atomically.
//! The callers hold the registry lock while they write, so a condition checked before the write
//! still holds at the write; a record's version is the SHA-256 of its bytes.

use super::{Expect, Record, Records};
use crate::storage::{Area, Store};
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// The audit log: one JSON line an event.
const AUDIT_LOG: &str = "audit.jsonl";

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

    /// `""` lists the record folders only: the state folder holds other files too.
    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        if !prefix.trim_end_matches('/').is_empty() {
            return self.store.walk(Area::State, prefix);
        }
        let mut keys = Vec::new();
        for folder in super::RECORD_FOLDERS {
            keys.extend(self.store.walk(Area::State, folder)?);
        }
        keys.sort();
        Ok(keys)
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
            .append_private(Area::State, AUDIT_LOG, &with_newline)
    }

    /// The lines of `audit.jsonl`, read as a stream.
    fn audit_events(&self, each: &mut dyn FnMut(&str, &[u8]) -> Result<()>) -> Result<()> {
        use std::io::BufRead;
        let Some(file) = self.store.open(Area::State, AUDIT_LOG)? else {
            return Ok(());
        };
        let path = self.store.path(Area::State, AUDIT_LOG);
        let mut reader = std::io::BufReader::new(file);
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = reader
                .read_until(b'\n', &mut line)
                .with_context(|| format!("failed to read `{}`", path.display()))?;
            if read == 0 {
                return Ok(());
            }
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            if !text.is_empty() {
                each(&super::stamp_of_line(text), text)?;
            }
        }
    }
}
