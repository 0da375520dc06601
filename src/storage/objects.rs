//! The registry's two areas in object storage: the served files in one bucket location and the
//! private files in another. [`Store`](super::Store) hands every read and plain write to these
//! when the registry lives there; conditional writes (crate files, index files) are made by the
//! change pipeline through [`Buckets::area`].

use super::Area;
use super::bucket::{Bucket, Cond, Fetched, Written};
use anyhow::{Result, bail};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct Buckets {
    pub public: Bucket,
    pub state: Bucket,
    /// Index files this process read lately, as read (`None`: absent), so that a change's
    /// conditional write can start from what its validation read instead of reading it
    /// again. Possibly stale: a stale entry only costs the write a conflict and a re-read.
    seen: Arc<Mutex<HashMap<String, Option<Fetched>>>>,
}

/// Most index files remembered in [`Buckets::seen`] (a bulk add reads more; those are read
/// again when written).
const SEEN: usize = 64;

impl std::fmt::Debug for Buckets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Buckets({}, {})", self.public.url(), self.state.url())
    }
}

impl Buckets {
    pub fn new(public: Bucket, state: Bucket) -> Self {
        Self {
            public,
            state,
            seen: Arc::default(),
        }
    }

    /// What [`Buckets::read`] last read of a public index file, forgotten once taken.
    pub fn take_seen(&self, key: &str) -> Option<Option<Fetched>> {
        self.seen.lock().ok()?.remove(key)
    }

    pub fn area(&self, area: Area) -> &Bucket {
        match area {
            Area::Public => &self.public,
            Area::State => &self.state,
        }
    }

    pub fn read(&self, area: Area, key: &str) -> Result<Option<Vec<u8>>> {
        let found = self.area(area).get(key)?;
        if area == Area::Public
            && key.starts_with("index/")
            && let Ok(mut seen) = self.seen.lock()
            && (seen.len() < SEEN || seen.contains_key(key))
        {
            seen.insert(key.to_owned(), found.clone());
        }
        Ok(found.map(|f| f.bytes))
    }

    pub fn exists(&self, area: Area, key: &str) -> bool {
        self.area(area).head(key).is_ok_and(|h| h.is_some())
    }

    /// A plain write (last writer wins): for derived files and private records that have
    /// no concurrent writers of their own.
    pub fn put(&self, area: Area, key: &str, bytes: Vec<u8>) -> Result<()> {
        match self.area(area).put(key, bytes, Cond::Any)? {
            Written::Done(_) => Ok(()),
            Written::Conflict => {
                bail!("failed to write `{key}`: the store refused an unconditional write")
            }
        }
    }

    /// A write only if the key is absent (`If-None-Match: *`): the same bytes already there
    /// are a success, other bytes an error. See [`super::Store::put_new`].
    pub fn put_new(&self, area: Area, key: &str, bytes: Vec<u8>) -> Result<()> {
        let bucket = self.area(area);
        // Twice at most: an object there at the put may be gone at the read.
        for _ in 0..2 {
            if let Written::Done(_) = bucket.put(key, bytes.clone(), Cond::IfAbsent)? {
                return Ok(());
            }
            match bucket.get(key)? {
                Some(f) if f.bytes == bytes => return Ok(()),
                Some(_) => bail!("`{key}` already exists with different content"),
                None => {}
            }
        }
        bail!("failed to write `{key}`: it kept appearing and disappearing; try again")
    }

    pub fn remove(&self, area: Area, key: &str) -> Result<()> {
        self.area(area).delete(key)
    }

    /// Every key below `dir`, sorted.
    pub fn walk(&self, area: Area, dir: &str) -> Result<Vec<String>> {
        let dir = dir.trim_end_matches('/');
        let mut keys = self.area(area).list(dir)?;
        keys.retain(|k| dir.is_empty() || k.starts_with(&format!("{dir}/")));
        keys.sort();
        Ok(keys)
    }

    /// The names of the files directly inside `dir`.
    pub fn list_dir(&self, area: Area, dir: &str) -> Result<Vec<String>> {
        let dir = dir.trim_end_matches('/');
        let prefix = match dir.is_empty() {
            true => String::new(),
            false => format!("{dir}/"),
        };
        Ok(self
            .walk(area, dir)?
            .into_iter()
            .filter_map(|k| {
                let rest = k.strip_prefix(&prefix)?;
                (!rest.contains('/')).then(|| rest.to_owned())
            })
            .collect())
    }
}
