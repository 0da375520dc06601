//! Ready responses of small files, one cache per serving thread (each core runs its own
//! single-threaded loop, so no lock). A hit is checked against the disk on every request: the
//! file must still be a regular file with the same device, inode, size, and modification and
//! change times to the nanosecond, reached from `public/` without following a symbolic link.
//! For a file one folder deep (`index/config.json`) that is two `statx` calls that follow no
//! link, one for the file and one for the folder (still a folder, the same inode); deeper, one
//! `openat2` of the file with `O_PATH` beneath `public/` refusing links, its `statx` and a
//! `close`, which measured cheaper than a `statx` per folder. Either replaces `openat2`,
//! `statx`, `read` and `close`, and the headers are built once. Anything else (a change, a
//! symbolic link, an error) drops the entry, and the request takes the ordinary path, which
//! opens the file with `openat2` beneath `public/` without following symbolic links.
//!
//! Files are replaced by rename, so a new version has a new inode; a file written in place
//! gets a new change time. A file whose times are younger than [`SETTLED`] is not cached: two
//! writes within one tick of the file system's clock could leave the same times, and the
//! second would go unseen.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use rustix::fs::{AtFlags, FileType, Statx, StatxFlags};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Files up to this size are cached.
pub const FILE_LIMIT: u64 = 64 * 1024;
/// At most this many files per thread…
const MAX_ENTRIES: usize = 2048;
/// …and this many bytes of them.
const MAX_BYTES: usize = 16 * 1024 * 1024;
/// How old a file's modification and change times must be before it is cached.
const SETTLED: Duration = Duration::from_secs(3);

/// What identifies one version of a file on disk.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Stamp {
    dev: (u32, u32),
    ino: u64,
    size: u64,
    mtime: (i64, u32),
    ctime: (i64, u32),
}

impl Stamp {
    fn of_meta(meta: &std::fs::Metadata) -> Option<Self> {
        Some(Self {
            dev: (rustix::fs::major(meta.dev()), rustix::fs::minor(meta.dev())),
            ino: meta.ino(),
            size: meta.len(),
            mtime: (meta.mtime(), u32::try_from(meta.mtime_nsec()).ok()?),
            ctime: (meta.ctime(), u32::try_from(meta.ctime_nsec()).ok()?),
        })
    }

    fn of_statx(stx: &Statx) -> Self {
        Self {
            dev: (stx.stx_dev_major, stx.stx_dev_minor),
            ino: stx.stx_ino,
            size: stx.stx_size,
            mtime: (stx.stx_mtime.tv_sec, stx.stx_mtime.tv_nsec),
            ctime: (stx.stx_ctime.tv_sec, stx.stx_ctime.tv_nsec),
        }
    }

    /// Whether both times are older than `settled`.
    fn settled(&self, settled: Duration) -> bool {
        let Ok(now) = SystemTime::now().duration_since(UNIX_EPOCH) else {
            return false;
        };
        let newest = self.mtime.max(self.ctime);
        let Ok(secs) = u64::try_from(newest.0) else {
            return false;
        };
        Duration::new(secs, newest.1) + settled < now
    }
}

/// The parts of a file's 200 response that are the same every time.
pub struct Ready {
    pub body: Bytes,
    /// Content-Length, Content-Type, ETag, Last-Modified, Cache-Control.
    pub headers: HeaderMap,
    pub etag: String,
    pub modified: SystemTime,
}

struct Entry {
    /// The path below `public/`.
    path: CString,
    check: Check,
    stamp: Stamp,
    ready: Ready,
}

/// How an entry is checked against the disk.
enum Check {
    /// A `statx` of the file and of each folder above it (with its inode), following no link.
    EachStep(Vec<(CString, u64)>),
    /// An `openat2` with `O_PATH` beneath `public/` refusing links, then its `statx`.
    Beneath,
}

/// Files deeper than this many folders are checked with [`Check::Beneath`].
const MAX_STEPS: usize = 1;

const FILE_FIELDS: StatxFlags = StatxFlags::TYPE
    .union(StatxFlags::INO)
    .union(StatxFlags::SIZE)
    .union(StatxFlags::MTIME)
    .union(StatxFlags::CTIME);
const DIR_FIELDS: StatxFlags = StatxFlags::TYPE.union(StatxFlags::INO);

// reason: the server's file serving, measured and tuned here (see the module's comment).
#[allow(clippy::disallowed_methods)]
fn look(public_dir: &std::fs::File, path: &CString, fields: StatxFlags) -> Option<Statx> {
    let stx = rustix::fs::statx(
        public_dir,
        path.as_c_str(),
        AtFlags::SYMLINK_NOFOLLOW,
        fields,
    )
    .ok()?;
    (stx.stx_mask & fields.bits() == fields.bits()).then_some(stx)
}

fn is(stx: &Statx, kind: FileType) -> bool {
    FileType::from_raw_mode(stx.stx_mode.into()) == kind
}

impl Entry {
    /// Whether the file on disk is still the one cached, reached through folders only.
    // reason: the server's file serving, measured and tuned here (see the module's comment).
    #[allow(clippy::disallowed_methods)]
    fn current(&self, public_dir: &std::fs::File) -> bool {
        let same =
            |stx: Statx| is(&stx, FileType::RegularFile) && Stamp::of_statx(&stx) == self.stamp;
        match &self.check {
            Check::EachStep(dirs) => {
                look(public_dir, &self.path, FILE_FIELDS).is_some_and(same)
                    && dirs.iter().all(|(dir, ino)| {
                        look(public_dir, dir, DIR_FIELDS)
                            .is_some_and(|stx| is(&stx, FileType::Directory) && stx.stx_ino == *ino)
                    })
            }
            Check::Beneath => {
                use rustix::fs::{Mode, OFlags, ResolveFlags};
                let resolve =
                    ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
                let Ok(file) = rustix::fs::openat2(
                    public_dir,
                    self.path.as_c_str(),
                    OFlags::PATH | OFlags::CLOEXEC,
                    Mode::empty(),
                    resolve,
                ) else {
                    return false;
                };
                rustix::fs::statx(&file, c"", AtFlags::EMPTY_PATH, FILE_FIELDS)
                    .ok()
                    .filter(|stx| stx.stx_mask & FILE_FIELDS.bits() == FILE_FIELDS.bits())
                    .is_some_and(same)
            }
        }
    }
}

#[derive(Default)]
struct Cache {
    map: HashMap<Box<str>, Entry>,
    bytes: usize,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::default();
}

/// The answer to a GET (or HEAD) of `request_path` from the cache, if it holds the file and the
/// file has not changed; `respond` builds it.
pub fn answer<R>(
    public_dir: &std::fs::File,
    request_path: &str,
    respond: impl FnOnce(&Ready) -> R,
) -> Option<R> {
    CACHE.with_borrow_mut(|cache| {
        let entry = cache.map.get(request_path)?;
        if entry.current(public_dir) {
            return Some(respond(&entry.ready));
        }
        if let Some(gone) = cache.map.remove(request_path) {
            cache.bytes -= gone.ready.body.len();
        }
        None
    })
}

/// Keeps the response just read for `request_path` (the file `rel` below `public/`, with the
/// metadata of the open file it was read from), if the file is small and settled and every
/// folder above it is a folder.
pub fn keep(
    public_dir: &std::fs::File,
    request_path: &str,
    rel: &str,
    meta: &std::fs::Metadata,
    ready: Ready,
) {
    keep_if_settled(public_dir, request_path, rel, meta, ready, SETTLED);
}

fn keep_if_settled(
    public_dir: &std::fs::File,
    request_path: &str,
    rel: &str,
    meta: &std::fs::Metadata,
    ready: Ready,
    settled: Duration,
) {
    let Some(stamp) = Stamp::of_meta(meta) else {
        return;
    };
    if stamp.size > FILE_LIMIT || ready.body.len() as u64 != stamp.size || !stamp.settled(settled) {
        return;
    }
    let Ok(path) = CString::new(rel) else {
        return;
    };
    let check = if rel.matches('/').count() > MAX_STEPS {
        Check::Beneath
    } else {
        let mut dirs = Vec::new();
        for (at, _) in rel.match_indices('/') {
            let Ok(dir) = CString::new(&rel[..at]) else {
                return;
            };
            let Some(stx) = look(public_dir, &dir, DIR_FIELDS) else {
                return;
            };
            if !is(&stx, FileType::Directory) {
                return;
            }
            dirs.push((dir, stx.stx_ino));
        }
        Check::EachStep(dirs)
    };
    let entry = Entry {
        path,
        check,
        stamp,
        ready,
    };
    // The file must still be the one read (checked the way hits are).
    if !entry.current(public_dir) {
        return;
    }
    CACHE.with_borrow_mut(|cache| {
        let size = entry.ready.body.len();
        if let Some(old) = cache.map.remove(request_path) {
            cache.bytes -= old.ready.body.len();
        }
        while !cache.map.is_empty()
            && (cache.map.len() >= MAX_ENTRIES || cache.bytes + size > MAX_BYTES)
        {
            let Some(victim) = cache.map.keys().next().cloned() else {
                break;
            };
            if let Some(gone) = cache.map.remove(&victim) {
                cache.bytes -= gone.ready.body.len();
            }
        }
        cache.bytes += size;
        cache.map.insert(request_path.into(), entry);
    });
}

/// A 304 for a cached file: its validators and lifetime.
pub fn not_modified_response(ready: &Ready) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    let h = response.headers_mut();
    for name in [header::ETAG, header::LAST_MODIFIED, header::CACHE_CONTROL] {
        if let Some(v) = ready.headers.get(&name) {
            h.insert(name, v.clone());
        }
    }
    response
}

/// A 200 for a cached file (no body for HEAD).
pub fn ok_response(ready: &Ready, head: bool) -> Response {
    let body = if head {
        Body::empty()
    } else {
        Body::from(ready.body.clone())
    };
    let mut response = Response::new(body);
    *response.headers_mut() = ready.headers.clone();
    response
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // reason: tests build their own trees.
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;

    /// The number of cached files and bytes of this thread.
    fn held() -> (usize, usize) {
        CACHE.with_borrow(|c| (c.map.len(), c.bytes))
    }

    /// Reads `rel` below `public` and keeps it (settled or not), as the file handler does.
    fn fill(public: &Path, rel: &str) {
        let dir = fs::File::open(public).unwrap();
        let file = fs::File::open(public.join(rel)).unwrap();
        let meta = file.metadata().unwrap();
        let ready = Ready {
            body: Bytes::from(fs::read(public.join(rel)).unwrap()),
            headers: HeaderMap::new(),
            etag: String::new(),
            modified: meta.modified().unwrap(),
        };
        keep_if_settled(&dir, &format!("/{rel}"), rel, &meta, ready, Duration::ZERO);
    }

    fn cached(public: &Path, rel: &str) -> Option<Vec<u8>> {
        let dir = fs::File::open(public).unwrap();
        answer(&dir, &format!("/{rel}"), |r| r.body.to_vec())
    }

    #[test]
    fn a_hit_is_the_file_until_it_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let public = tmp.path();
        fs::create_dir_all(public.join("a/b")).unwrap();
        fs::write(public.join("a/b/f"), "one").unwrap();
        fill(public, "a/b/f");
        assert_eq!(cached(public, "a/b/f").as_deref(), Some(&b"one"[..]));
        assert_eq!(held(), (1, 3));
        // Replaced by rename: a new inode.
        fs::write(public.join("a/b/new"), "two").unwrap();
        fs::rename(public.join("a/b/new"), public.join("a/b/f")).unwrap();
        assert_eq!(cached(public, "a/b/f"), None);
        assert_eq!(held(), (0, 0));
        // Never cached: a miss.
        assert_eq!(cached(public, "a/b/other"), None);
    }

    #[test]
    fn a_symbolic_link_is_never_followed_from_the_cache() {
        let tmp = tempfile::tempdir().unwrap();
        let public = tmp.path().join("public");
        fs::create_dir_all(public.join("a/b")).unwrap();
        fs::write(public.join("a/b/f"), "file").unwrap();
        fs::write(public.join("a/g"), "g").unwrap();
        // The file itself becomes a link to the same file moved aside.
        fill(&public, "a/g");
        fs::rename(public.join("a/g"), public.join("a/g-aside")).unwrap();
        std::os::unix::fs::symlink("g-aside", public.join("a/g")).unwrap();
        assert_eq!(cached(&public, "a/g"), None);
        // A folder above it becomes a link to the same folder moved aside: the same file.
        fill(&public, "a/b/f");
        assert_eq!(cached(&public, "a/b/f").as_deref(), Some(&b"file"[..]));
        fs::rename(public.join("a/b"), public.join("a/b-aside")).unwrap();
        std::os::unix::fs::symlink("b-aside", public.join("a/b")).unwrap();
        assert_eq!(cached(&public, "a/b/f"), None);
        // And files are not kept when reached through a link.
        fill(&public, "a/b/f");
        assert_eq!(cached(&public, "a/b/f"), None);
        fs::remove_file(public.join("a/b")).unwrap();
        // The folder of a file one deep becomes a link to it moved outside `public/`.
        fs::write(public.join("a/h"), "h").unwrap();
        fill(&public, "a/h");
        assert_eq!(cached(&public, "a/h").as_deref(), Some(&b"h"[..]));
        fs::rename(public.join("a"), tmp.path().join("a-aside")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("a-aside"), public.join("a")).unwrap();
        assert_eq!(cached(&public, "a/h"), None);
        fill(&public, "a/b-aside/f");
        assert_eq!(cached(&public, "a/b-aside/f"), None);
        assert_eq!(held().0, 0);
    }

    #[test]
    fn young_files_are_not_kept_and_the_cache_is_bounded() {
        let tmp = tempfile::tempdir().unwrap();
        let public = tmp.path();
        fs::write(public.join("young"), "y").unwrap();
        let dir = fs::File::open(public).unwrap();
        let meta = fs::metadata(public.join("young")).unwrap();
        let ready = Ready {
            body: Bytes::from_static(b"y"),
            headers: HeaderMap::new(),
            etag: String::new(),
            modified: meta.modified().unwrap(),
        };
        keep(&dir, "/young", "young", &meta, ready);
        assert_eq!(cached(public, "young"), None);

        for i in 0..MAX_ENTRIES + 10 {
            let name = format!("f{i}");
            fs::write(public.join(&name), "12345678").unwrap();
            fill(public, &name);
        }
        let (entries, bytes) = held();
        assert!(entries <= MAX_ENTRIES, "{entries}");
        assert_eq!(bytes, entries * 8);
        let big = vec![b'x'; FILE_LIMIT as usize];
        for i in 0..(MAX_BYTES / big.len()) + 4 {
            let name = format!("big{i}");
            fs::write(public.join(&name), &big).unwrap();
            fill(public, &name);
        }
        let (entries, bytes) = held();
        assert!(bytes <= MAX_BYTES, "{bytes}");
        assert!(entries <= MAX_ENTRIES, "{entries}");
        fs::write(public.join("too-big"), vec![b'x'; FILE_LIMIT as usize + 1]).unwrap();
        fill(public, "too-big");
        assert_eq!(cached(public, "too-big"), None);
    }
}
