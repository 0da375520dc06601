//! The only code that reads or writes a registry tree. Everything is addressed by a key relative
//! to the served root (`public/`) or to the private state folder, so a different backend (object
//! storage) can stand behind the same calls later.
//!
//! ```text
//! REGISTRY/
//! ├── ktra.toml              settings
//! ├── public/                the only folder a web server sees
//! │   ├── .nojekyll
//! │   ├── index/config.json  sparse index root
//! │   ├── index/se/rd/serde  one file per crate
//! │   ├── crates/serde-1.0.0.crate
//! │   └── index.git/         bare git index (unless --no-git)
//! └── state/                 private: lock, journal, names, temp files
//! ```

// reason: this module is the storage interface; the rest of the crate is fenced off raw file
// access by `disallowed-methods` in clippy.toml and comes through here.
#![allow(clippy::disallowed_methods)]

mod batch;
#[cfg(feature = "aws")]
pub mod bucket;
pub mod crash;
pub mod git;
mod git_objects;
mod git_pack;
mod journal;
pub mod location;
pub mod lock;
mod lock_settings;
#[cfg(feature = "aws")]
pub mod objects;
mod retry;
mod temp;

pub use batch::Batch;
pub use journal::{Journal, PendingCrate};
pub use location::Location;
pub use lock::{LockMode, LockTimeout, RegistryLock};
pub use lock_settings::LockWait;
pub use retry::backoff;
pub use temp::release as release_temp_dirs;

use anyhow::{Context, Result};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Which of the two trees a key lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Area {
    Public,
    State,
}

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    /// Set when the registry lives in object storage: `root` then holds only `ktra.toml`.
    #[cfg(feature = "aws")]
    buckets: Option<std::sync::Arc<objects::Buckets>>,
}

impl Store {
    pub const PUBLIC: &'static str = "public";
    pub const STATE: &'static str = "state";

    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            #[cfg(feature = "aws")]
            buckets: None,
        }
    }

    /// A registry in object storage whose settings live in `root`.
    #[cfg(feature = "aws")]
    pub fn in_buckets(root: impl Into<PathBuf>, buckets: objects::Buckets) -> Self {
        Self {
            root: root.into(),
            buckets: Some(std::sync::Arc::new(buckets)),
        }
    }

    /// The object storage the registry lives in, if it does.
    #[cfg(feature = "aws")]
    pub fn bucket(&self) -> Option<&objects::Buckets> {
        self.buckets.as_deref()
    }

    /// Whether the registry lives in object storage.
    pub fn is_remote(&self) -> bool {
        #[cfg(feature = "aws")]
        return self.buckets.is_some();
        #[cfg(not(feature = "aws"))]
        false
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, area: Area, key: &str) -> PathBuf {
        let dir = match area {
            Area::Public => Self::PUBLIC,
            Area::State => Self::STATE,
        };
        self.root.join(dir).join(key)
    }

    pub fn public_dir(&self) -> PathBuf {
        self.root.join(Self::PUBLIC)
    }

    pub fn tmp_dir(&self) -> PathBuf {
        if self.is_remote() {
            // Nothing but `ktra.toml` lives beside a registry in object storage.
            return std::env::temp_dir().join("ktra-tmp");
        }
        self.root.join(Self::STATE).join("tmp")
    }

    /// Reads a whole file; `None` when it does not exist.
    pub fn read(&self, area: Area, key: &str) -> Result<Option<Vec<u8>>> {
        #[cfg(feature = "aws")]
        if let Some(b) = self.bucket() {
            return b.read(area, key);
        }
        let path = self.path(area, key);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("failed to read `{}`", path.display())),
        }
    }

    /// Opens a file for reading; `None` when it does not exist. On object storage the object
    /// is fetched whole (one request) and read from memory.
    pub fn open(&self, area: Area, key: &str) -> Result<Option<Box<dyn Read + Send>>> {
        #[cfg(feature = "aws")]
        if let Some(b) = self.bucket() {
            return Ok(b
                .read(area, key)?
                .map(|bytes| Box::new(io::Cursor::new(bytes)) as Box<dyn Read + Send>));
        }
        let path = self.path(area, key);
        match fs::File::open(&path) {
            Ok(f) => Ok(Some(Box::new(f))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("failed to open `{}`", path.display())),
        }
    }

    /// The file system's facts about a file (its size, its modification time), with the path in
    /// the error. The local tree only, as [`Store::open`]: on object storage nothing is found.
    pub fn metadata(&self, area: Area, key: &str) -> Result<fs::Metadata> {
        let path = self.path(area, key);
        fs::metadata(&path).with_context(|| format!("failed to read `{}`", path.display()))
    }

    /// Appends `bytes` to a private file (created readable by the owner only) and syncs it.
    /// The local tree only: object storage has no appends (write an object of its own).
    pub fn append_private(&self, area: Area, key: &str, bytes: &[u8]) -> Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.path(area, key);
        let mut file = fs::File::options()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("failed to open `{}`", path.display()))?;
        file.write_all(bytes)
            .with_context(|| format!("failed to write `{}`", path.display()))?;
        file.sync_data()
            .with_context(|| format!("failed to sync `{}`", path.display()))
    }

    /// A file's size in bytes without reading it (a `stat`; a `HEAD` on object storage);
    /// `None` when it does not exist.
    pub fn size(&self, area: Area, key: &str) -> Result<Option<u64>> {
        #[cfg(feature = "aws")]
        if let Some(b) = self.bucket() {
            return Ok(b.area(area).head(key)?.map(|h| h.size));
        }
        let path = self.path(area, key);
        match fs::metadata(&path) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("failed to read `{}`", path.display())),
        }
    }

    /// The first bytes of a file, at most `max` (a header line); `None` when it does not exist.
    /// On object storage the object is read whole and cut.
    pub fn read_prefix(&self, area: Area, key: &str, max: usize) -> Result<Option<Vec<u8>>> {
        if self.is_remote() {
            return Ok(self.read(area, key)?.map(|mut b| {
                b.truncate(max);
                b
            }));
        }
        let Some(file) = self.open(area, key)? else {
            return Ok(None);
        };
        let mut head = Vec::new();
        file.take(max as u64)
            .read_to_end(&mut head)
            .with_context(|| format!("failed to read `{}`", self.path(area, key).display()))?;
        Ok(Some(head))
    }

    /// When a file was last written (or touched, see [`Store::touch`]); `None` when it does
    /// not exist or the time is unknown.
    pub fn modified(&self, area: Area, key: &str) -> Option<std::time::SystemTime> {
        #[cfg(feature = "aws")]
        if let Some(b) = self.bucket() {
            return b
                .area(area)
                .head(key)
                .ok()
                .flatten()
                .map(|h| h.last_modified);
        }
        fs::metadata(self.path(area, key))
            .and_then(|m| m.modified())
            .ok()
    }

    /// Marks a file as written now without changing it, where that costs nothing: on the
    /// local tree its modification time; on object storage nothing (an object's time changes
    /// only with a new upload). `false` when nothing was marked.
    pub fn touch(&self, area: Area, key: &str) -> bool {
        if self.is_remote() {
            return false;
        }
        fs::File::options()
            .append(true)
            .open(self.path(area, key))
            .and_then(|f| f.set_modified(std::time::SystemTime::now()))
            .is_ok()
    }

    /// Puts a file that never changes once written (a mirrored crate file) from a temporary
    /// file of [`Store::temp_file`]. On the local tree it is moved into place, replacing what
    /// is there, and not synced (sync before anything names it). On object storage it is
    /// written only if absent: the same bytes already there are a success, other bytes an
    /// error (an object there is whole, and may be named by an index line already).
    pub fn put_new(&self, area: Area, key: &str, tmp: tempfile::TempPath) -> Result<()> {
        #[cfg(feature = "aws")]
        if let Some(b) = self.bucket() {
            let bytes = fs::read(&tmp)
                .with_context(|| format!("failed to read the temporary file for `{key}`"))?;
            return b.put_new(area, key, bytes);
        }
        self.make_parent(area, key)?;
        let target = self.path(area, key);
        tmp.persist(&target)
            .with_context(|| format!("failed to move a new file into `{}`", target.display()))?;
        Ok(())
    }

    /// Whether `key` holds exactly `bytes` (the size is compared first, so a changed file
    /// usually costs one `stat`). An unreadable file holds nothing.
    pub fn holds(&self, area: Area, key: &str, bytes: &[u8]) -> bool {
        if self.is_remote() {
            // Reading to compare costs a round trip, as much as the write it would save.
            return false;
        }
        let path = self.path(area, key);
        let same_size = fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64);
        same_size && fs::read(&path).is_ok_and(|old| old == bytes)
    }

    pub fn exists(&self, area: Area, key: &str) -> bool {
        #[cfg(feature = "aws")]
        if let Some(b) = self.bucket() {
            return b.exists(area, key);
        }
        self.path(area, key).exists()
    }

    /// A new temporary file in the private area, on the same file system as the tree, to be
    /// moved into place by a [`Batch`]: in this process's own folder of `state/tmp`, so that
    /// what a killed process leaves is recognised and removed by the next writer.
    /// Created readable by all (0644 before the umask): it becomes a served file.
    pub fn temp_file(&self) -> Result<tempfile::NamedTempFile> {
        self.temp_file_mode(0o644)
    }

    /// A new temporary file for the private area: readable by the owner only (0600).
    pub fn private_temp_file(&self) -> Result<tempfile::NamedTempFile> {
        self.temp_file_mode(0o600)
    }

    fn temp_file_mode(&self, mode: u32) -> Result<tempfile::NamedTempFile> {
        let root = self.tmp_dir();
        let create = || {
            let dir = temp::own_dir(&root)?;
            tempfile::Builder::new()
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))
                .tempfile_in(&dir)
        };
        create()
            .or_else(|_| {
                // If the folder was removed from outside, a new one is made.
                temp::forget_if_gone(&root);
                create()
            })
            .with_context(|| format!("failed to create a temporary file in `{}`", root.display()))
    }

    /// Removes what killed processes left in `state/tmp`: the folders of processes that are
    /// gone at once, loose files older than `age`. Safe while other processes write theirs.
    pub fn clean_stale_temp(&self, age: std::time::Duration) {
        temp::clean(&self.tmp_dir(), age);
    }

    /// Creates the folder a key will live in.
    pub fn make_parent(&self, area: Area, key: &str) -> Result<()> {
        if self.is_remote() {
            return Ok(());
        }
        let path = self.path(area, key);
        let parent = path.parent().expect("keys have a parent");
        fs::create_dir_all(parent)
            .with_context(|| format!("failed to create `{}`", parent.display()))
    }

    /// Creates a folder of an area (nothing to do on object storage, which has no folders).
    pub fn make_dir(&self, area: Area, dir: &str) -> Result<()> {
        if self.is_remote() {
            return Ok(());
        }
        let path = self.path(area, dir);
        fs::create_dir_all(&path).with_context(|| format!("failed to create `{}`", path.display()))
    }

    /// Creates the private folder of a new local tree with its temp folder, and makes it
    /// private (0700): later it holds users and token hashes.
    pub fn make_private_area(&self) -> Result<()> {
        let tmp = self.tmp_dir();
        fs::create_dir_all(&tmp)
            .with_context(|| format!("failed to create `{}`", tmp.display()))?;
        let state = self.path(Area::State, "");
        fs::set_permissions(&state, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .with_context(|| format!("failed to make `{}` private", state.display()))
    }

    pub fn batch(&self) -> Batch<'_> {
        Batch::new(self)
    }

    /// Flushes everything written to the file system holding the tree to disk.
    pub fn sync(&self) -> Result<()> {
        if self.is_remote() {
            // Every object write is durable when the store acknowledges it.
            return Ok(());
        }
        let dir = fs::File::open(&self.root)
            .with_context(|| format!("failed to open `{}`", self.root.display()))?;
        rustix::fs::syncfs(&dir)
            .with_context(|| format!("failed to sync `{}`", self.root.display()))
    }

    /// The file names directly inside a folder of an area (empty when it does not exist).
    pub fn list_dir(&self, area: Area, dir: &str) -> Result<Vec<String>> {
        #[cfg(feature = "aws")]
        if let Some(b) = self.bucket() {
            return b.list_dir(area, dir);
        }
        let path = self.path(area, dir);
        let entries = match fs::read_dir(&path) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(e).with_context(|| format!("failed to list `{}`", path.display()));
            }
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.with_context(|| format!("failed to list `{}`", path.display()))?;
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                names.extend(entry.file_name().into_string().ok());
            }
        }
        Ok(names)
    }

    /// Every file below a folder of an area, as keys relative to that area, sorted.
    pub fn walk(&self, area: Area, dir: &str) -> Result<Vec<String>> {
        #[cfg(feature = "aws")]
        if let Some(b) = self.bucket() {
            return b.walk(area, dir);
        }
        let base = self.path(area, "");
        let start = self.path(area, dir);
        if !start.exists() {
            return Ok(Vec::new());
        }
        let mut keys = Vec::new();
        for entry in walkdir::WalkDir::new(&start).sort_by_file_name() {
            let entry = entry.with_context(|| format!("failed to list `{}`", start.display()))?;
            if entry.file_type().is_dir() {
                continue;
            }
            let rel = entry
                .path()
                .strip_prefix(&base)
                .expect("walk stays below its start");
            keys.push(rel.to_string_lossy().replace('\\', "/"));
        }
        Ok(keys)
    }

    /// Removes a file if it exists (not synced: callers sync once per change).
    pub fn remove(&self, area: Area, key: &str) -> Result<()> {
        #[cfg(feature = "aws")]
        if let Some(b) = self.bucket() {
            return b.remove(area, key);
        }
        let path = self.path(area, key);
        match fs::remove_file(&path) {
            Ok(()) => {
                remove_empty_parents(&path, &self.path(area, ""));
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("failed to remove `{}`", path.display())),
        }
    }

    /// Removes the folders a key would live in, as far up as they are empty (for folders made
    /// ahead for a change that did not happen). Call under the registry lock: a writer's batch
    /// may be about to move a file into such a folder.
    pub fn remove_empty_parents(&self, area: Area, key: &str) {
        if self.is_remote() {
            return;
        }
        remove_empty_parents(&self.path(area, key), &self.path(area, ""));
    }

    /// Reads a file in chunks into `f` (for hashing without loading it whole).
    pub fn stream(&self, area: Area, key: &str, mut f: impl FnMut(&[u8])) -> Result<bool> {
        if self.is_remote() {
            let Some(bytes) = self.read(area, key)? else {
                return Ok(false);
            };
            f(&bytes);
            return Ok(true);
        }
        let Some(mut file) = self.open(area, key)? else {
            return Ok(false);
        };
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file
                .read(&mut buf)
                .with_context(|| format!("failed to read `{}`", self.path(area, key).display()))?;
            if n == 0 {
                return Ok(true);
            }
            f(&buf[..n]);
        }
    }
}

fn remove_empty_parents(path: &Path, stop: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == stop || !d.starts_with(stop) || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}
