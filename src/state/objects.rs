//! The records at a private location in object storage: one object a record, its ETag its
//! version, conditional writes with `If-None-Match: *` and `If-Match`. Any number of receivers
//! and CLI writers share them; the audit log is one object per event under `audit/`, named by
//! time and a random part, so appends never race.

use super::{Expect, Record, Records};
use crate::storage::bucket::{Bucket, Cond, Written};
use anyhow::{Result, bail};

pub struct Objects {
    bucket: Bucket,
}

impl Objects {
    pub fn new(bucket: Bucket) -> Self {
        Self { bucket }
    }
}

impl Records for Objects {
    fn describe(&self) -> String {
        format!("the state at {}", self.bucket.url())
    }

    fn get(&self, key: &str) -> Result<Option<Record>> {
        Ok(self.bucket.get(key)?.map(|f| Record {
            bytes: f.bytes,
            version: f.tag,
        }))
    }

    /// `""` lists the record folders only: the location holds the audit events (`audit/`) and
    /// other private files too.
    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let dir = prefix.trim_end_matches('/');
        let mut keys = self.bucket.list(dir)?;
        keys.retain(|k| match dir {
            "" => super::is_record_key(k),
            _ => k.starts_with(&format!("{dir}/")),
        });
        keys.sort();
        Ok(keys)
    }

    fn put(&self, key: &str, bytes: &[u8], expect: Expect) -> Result<bool> {
        let cond = match expect {
            Expect::Absent => Cond::IfAbsent,
            Expect::Version(tag) => Cond::IfMatch(tag),
        };
        Ok(match self.bucket.put(key, bytes.to_vec(), cond)? {
            Written::Done(_) => true,
            Written::Conflict => false,
        })
    }

    fn remove(&self, key: &str) -> Result<()> {
        self.bucket.delete(key)
    }

    fn append_audit(&self, stamp: &str, line: &[u8]) -> Result<()> {
        for _ in 0..4 {
            let mut seed = [0u8; 6];
            getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            let random: String = seed.iter().map(|b| format!("{b:02x}")).collect();
            let key = format!("audit/{stamp}-{random}.json");
            if self.put(&key, line, Expect::Absent)? {
                return Ok(());
            }
        }
        bail!("failed to write an audit event: every name tried was taken")
    }

    /// The objects under `audit/`, in the order of their names (their stamps), one read each.
    fn audit_events(&self, each: &mut dyn FnMut(&str, &[u8]) -> Result<()>) -> Result<()> {
        for key in self.list("audit")? {
            // `audit/STAMP-RANDOM.json`: the random part is hex, the stamp has dashes.
            let name = key.trim_start_matches("audit/").trim_end_matches(".json");
            let stamp = name.rsplit_once('-').map_or("", |(stamp, _)| stamp);
            // An event removed since the listing (by hand) is no longer part of the log.
            if let Some(found) = self.bucket.get(&key)? {
                each(stamp, &found.bytes)?;
            }
        }
        Ok(())
    }
}
