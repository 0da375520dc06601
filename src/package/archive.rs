//! Reading a `.crate` in one streaming pass: every byte is hashed and copied to a sink while the
//! gzip'd tar is walked, each entry is checked (inside `NAME-VERSION/`, relative, regular file
//! or directory only, no file where a folder is or the other way round) and only `Cargo.toml`
//! is kept in memory, whole or not at all.

use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};

/// Cargo refuses to unpack more than this (it uses max(512 MiB, 20x the file)).
pub const MAX_UNPACKED: u64 = 512 * 1024 * 1024;
/// A normalized manifest larger than this is refused unless the caller allows more.
pub const MAX_MANIFEST: u64 = 1024 * 1024;
/// At most this many distinct paths (files and the folders they imply) are tracked to find
/// a file where a folder is; an archive with more is refused (no real crate comes close).
pub const MAX_PATHS: usize = 1 << 20;

/// What one pass over a `.crate` learned.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// Lowercase hex SHA-256 of the exact bytes.
    pub cksum: String,
    pub size: u64,
    /// The top directory every entry lives in (`NAME-VERSION`).
    pub root: String,
    /// Text of the packaged (normalized) `Cargo.toml`.
    pub manifest: String,
    /// The same, parsed once for everything that reads it (or the parser's message).
    pub doc: ParsedManifest,
    /// Files that may be the README (by name), with their bytes, for the site.
    pub readmes: Vec<(String, Vec<u8>)>,
    /// Files that may be the README (by name) and their sizes, kept or not.
    pub readme_sizes: Vec<(String, u64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("failed to read the file")]
    Io(#[from] io::Error),
    #[error("it is not a gzip'd tar archive: {0}")]
    NotTarGz(String),
    #[error("the archive is empty")]
    Empty,
    #[error("entry `{0}` {1}")]
    BadEntry(String, &'static str),
    #[error("entry `{0}` is outside the archive's top directory `{1}`")]
    OutsideRoot(String, String),
    #[error("entry `{0}` is a {1}; only regular files and directories are allowed")]
    BadType(String, &'static str),
    #[error("it unpacks to more than {} MiB", MAX_UNPACKED / 1024 / 1024)]
    TooLarge,
    #[error("it is larger than the limit of {0} bytes")]
    FileTooLarge(u64),
    #[error("it holds no `Cargo.toml` in `{0}/`")]
    NoManifest(String),
    #[error("it holds more than one `Cargo.toml` in `{0}/`")]
    TwoManifests(String),
    #[error("its `Cargo.toml` is not UTF-8")]
    BadManifest,
    #[error(
        "its `Cargo.toml` is {0} bytes, over the limit of {1} bytes (setting `limits.max-manifest-size`)"
    )]
    ManifestTooLarge(u64, u64),
    #[error("entry `{0}` is a file where the archive's top directory must be")]
    TopIsFile(String),
    #[error("entry `{0}` is both a file and a directory (or is there twice)")]
    Conflict(String),
    #[error("it holds more than {MAX_PATHS} files and directories")]
    TooManyPaths,
}

/// Reads `src` to its end, writing every byte to `sink`, and inspects it as a `.crate`.
/// `max_size` bounds the compressed size (publish limits); `None` means unbounded.
pub fn inspect<R: Read, W: Write>(
    src: R,
    sink: W,
    max_size: Option<u64>,
) -> Result<Inspection, ArchiveError> {
    inspect_limited(src, sink, max_size, MAX_MANIFEST)
}

/// [`inspect`], refusing a `Cargo.toml` larger than `max_manifest` bytes (never cut short).
pub fn inspect_limited<R: Read, W: Write>(
    src: R,
    sink: W,
    max_size: Option<u64>,
    max_manifest: u64,
) -> Result<Inspection, ArchiveError> {
    let mut tee = Tee {
        inner: src,
        sink,
        hasher: Sha256::new(),
        size: 0,
        max_size,
    };
    let walked = walk_tar(&mut tee, max_manifest);
    // Copy whatever the tar walk did not consume (gzip trailer, padding), even on failure, so
    // an I/O error wins over a format error that it caused.
    let drained = io::copy(&mut tee, &mut io::sink());
    if let Some(max) = max_size.filter(|m| tee.size > *m) {
        return Err(ArchiveError::FileTooLarge(max));
    }
    drained?;
    let Walked {
        root,
        manifest: (manifest, doc),
        readmes,
        readme_sizes,
    } = walked?;
    tee.sink.flush()?;
    let cksum = format!("{:x}", tee.hasher.finalize());
    Ok(Inspection {
        cksum,
        size: tee.size,
        root,
        manifest,
        doc,
        readmes,
        readme_sizes,
    })
}

/// A README larger than this is not kept for the site.
const MAX_README: u64 = 1024 * 1024;
/// At most this many README candidates are kept.
const MAX_READMES: usize = 8;

/// Whether a path inside the crate may be its README: the file its manifest names (when the
/// manifest came first, as cargo writes it), else a file named `README*`.
fn is_readme_candidate(rest: &str, named: Option<&str>) -> bool {
    if let Some(named) = named {
        return rest == named;
    }
    let file = rest.rsplit('/').next().unwrap_or(rest).to_ascii_lowercase();
    rest.matches('/').count() <= 3 && file.starts_with("readme")
}

/// A manifest as TOML, or why it is not.
pub type ParsedManifest = Result<toml::Table, String>;

/// Parses a manifest's text.
pub fn parse_manifest(text: &str) -> ParsedManifest {
    toml::from_str(text).map_err(|e| e.message().to_owned())
}

/// The `package.readme` path of a manifest (`None`: not a path, or unreadable).
fn readme_path(doc: &ParsedManifest) -> Option<String> {
    let path = doc.as_ref().ok()?.get("package")?.get("readme")?.as_str()?;
    Some(path.trim_start_matches("./").to_owned())
}

/// What a walk over the entries found: the top folder, the manifest, README candidates.
pub(super) struct Walked {
    pub root: String,
    pub manifest: (String, ParsedManifest),
    pub readmes: Vec<(String, Vec<u8>)>,
    pub readme_sizes: Vec<(String, u64)>,
}

fn walk_tar<R: Read>(src: &mut R, max_manifest: u64) -> Result<Walked, ArchiveError> {
    let gz = flate2::read::GzDecoder::new(src);
    let mut archive = tar::Archive::new(Limit {
        inner: gz,
        left: MAX_UNPACKED,
    });
    let walked = walk_entries(archive.entries().map_err(not_tar)?, max_manifest)?;
    // The gzip stream must end as gzip streams do: its trailer checks the length and CRC of
    // everything inflated, so a file cut short after the tar's last entry is refused too.
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(not_tar)?;
    Ok(walked)
}

/// Checks every entry of a tar archive (streamed or in memory) and keeps what [`Walked`] holds.
pub(super) fn walk_entries<R: Read>(
    entries: tar::Entries<'_, R>,
    max_manifest: u64,
) -> Result<Walked, ArchiveError> {
    let mut root: Option<String> = None;
    let mut manifest: Option<(String, ParsedManifest)> = None;
    let mut legacy_manifest: Option<(String, ParsedManifest)> = None;
    let mut readmes = Vec::new();
    let mut readme_sizes = Vec::new();
    let mut readme_named: Option<String> = None;
    let mut paths = Paths::default();
    for entry in entries {
        let mut entry = entry.map_err(not_tar)?;
        let path_bytes = entry.path_bytes().into_owned();
        let path = String::from_utf8(path_bytes).map_err(|e| {
            ArchiveError::BadEntry(
                String::from_utf8_lossy(e.as_bytes()).into_owned(),
                "is not UTF-8",
            )
        })?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            continue;
        }
        let (top, rest) = split_checked(&path)?;
        let root = root.get_or_insert_with(|| top.to_owned());
        if top != root {
            return Err(ArchiveError::OutsideRoot(path, root.clone()));
        }
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous if rest.is_empty() => {
                return Err(ArchiveError::TopIsFile(path));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            tar::EntryType::Directory => {
                paths.dir(rest, &path)?;
                continue;
            }
            other => return Err(ArchiveError::BadType(path, type_name(other))),
        }
        let slot = match rest {
            "Cargo.toml" => &mut manifest,
            "cargo.toml" => &mut legacy_manifest,
            _ => {
                paths.file(rest, &path)?;
                let size = entry.size();
                let named = readme_named.as_deref();
                if readme_sizes.len() < MAX_READMES && is_readme_candidate(rest, named) {
                    readme_sizes.push((rest.to_owned(), size));
                    if size <= MAX_README {
                        let mut bytes = Vec::new();
                        (&mut entry).take(MAX_README).read_to_end(&mut bytes)?;
                        readmes.push((rest.to_owned(), bytes));
                    }
                }
                continue;
            }
        };
        if slot.is_some() {
            return Err(ArchiveError::TwoManifests(root.clone()));
        }
        paths.file(rest, &path)?;
        if entry.size() > max_manifest {
            return Err(ArchiveError::ManifestTooLarge(entry.size(), max_manifest));
        }
        // One byte more than allowed is read, so that a size the header understates is seen.
        let mut bytes = Vec::new();
        (&mut entry)
            .take(max_manifest.saturating_add(1))
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 > max_manifest {
            return Err(ArchiveError::ManifestTooLarge(
                bytes.len() as u64,
                max_manifest,
            ));
        }
        let text = String::from_utf8(bytes).map_err(|_| ArchiveError::BadManifest)?;
        let doc = parse_manifest(&text);
        readme_named = readme_path(&doc);
        *slot = Some((text, doc));
    }
    let root = root.ok_or(ArchiveError::Empty)?;
    match manifest.or(legacy_manifest) {
        Some(manifest) => Ok(Walked {
            root,
            manifest,
            readmes,
            readme_sizes,
        }),
        None => Err(ArchiveError::NoManifest(root)),
    }
}

/// The paths seen so far under the top folder, as hashes (bounded memory whatever the names):
/// a file may not be where a folder is (explicit or implied by a deeper entry), nor twice.
#[derive(Default)]
struct Paths {
    hasher: std::collections::hash_map::RandomState,
    files: std::collections::HashSet<u64>,
    dirs: std::collections::HashSet<u64>,
}

impl Paths {
    fn hash(&self, path: &str) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(path)
    }

    fn file(&mut self, rest: &str, path: &str) -> Result<(), ArchiveError> {
        let h = self.hash(rest);
        if self.dirs.contains(&h) || !self.files.insert(h) {
            return Err(ArchiveError::Conflict(path.to_owned()));
        }
        self.parents(rest, path)
    }

    fn dir(&mut self, rest: &str, path: &str) -> Result<(), ArchiveError> {
        if rest.is_empty() {
            return Ok(());
        }
        let h = self.hash(rest);
        if self.files.contains(&h) {
            return Err(ArchiveError::Conflict(path.to_owned()));
        }
        self.dirs.insert(h);
        self.parents(rest, path)
    }

    /// Records the folders `rest` implies, deepest first, stopping at one already known.
    fn parents(&mut self, rest: &str, path: &str) -> Result<(), ArchiveError> {
        let mut at = rest;
        while let Some((parent, _)) = at.rsplit_once('/') {
            let h = self.hash(parent);
            if self.files.contains(&h) {
                return Err(ArchiveError::Conflict(path.to_owned()));
            }
            if !self.dirs.insert(h) {
                break;
            }
            at = parent;
        }
        if self.files.len() + self.dirs.len() > MAX_PATHS {
            return Err(ArchiveError::TooManyPaths);
        }
        Ok(())
    }
}

/// Splits `top/rest`, refusing absolute paths, `..`, `.`, empty components and backslashes.
fn split_checked(path: &str) -> Result<(&str, &str), ArchiveError> {
    let bad = |why| ArchiveError::BadEntry(path.to_owned(), why);
    if path.starts_with('/') {
        return Err(bad("is an absolute path"));
    }
    if path.contains('\\') {
        return Err(bad("contains a backslash"));
    }
    let trimmed = path.trim_end_matches('/');
    for part in trimmed.split('/') {
        match part {
            ".." => return Err(bad("climbs out with `..`")),
            "." | "" => return Err(bad("has an empty or `.` component")),
            _ => {}
        }
    }
    Ok(trimmed.split_once('/').unwrap_or((trimmed, "")))
}

fn type_name(kind: tar::EntryType) -> &'static str {
    match kind {
        tar::EntryType::Symlink => "symbolic link",
        tar::EntryType::Link => "hard link",
        tar::EntryType::Char | tar::EntryType::Block => "device file",
        tar::EntryType::Fifo => "named pipe",
        _ => "special entry",
    }
}

fn not_tar(e: io::Error) -> ArchiveError {
    if e.kind() == io::ErrorKind::Other && e.to_string().contains("unpack limit") {
        return ArchiveError::TooLarge;
    }
    ArchiveError::NotTarGz(e.to_string())
}

/// Hashes and copies everything read through it.
struct Tee<R, W> {
    inner: R,
    sink: W,
    hasher: Sha256,
    size: u64,
    max_size: Option<u64>,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.sink.write_all(&buf[..n])?;
        self.size += n as u64;
        if let Some(max) = self.max_size
            && self.size > max
        {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!("over {max} bytes"),
            ));
        }
        Ok(n)
    }
}

/// Fails reads once more than `left` bytes came out (a gzip bomb stops here).
struct Limit<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Limit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self
            .left
            .checked_sub(n as u64)
            .ok_or_else(|| io::Error::other("unpack limit"))?;
        Ok(n)
    }
}

impl From<ArchiveError> for io::Error {
    fn from(e: ArchiveError) -> Self {
        io::Error::other(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::testing::{Entry, manifest, simple, tarball};

    fn check(bytes: &[u8]) -> Result<Inspection, ArchiveError> {
        let mut copy = Vec::new();
        let r = inspect(bytes, &mut copy, None);
        assert_eq!(copy, bytes, "every byte is copied, even on failure");
        r
    }

    #[test]
    fn reads_the_manifest_and_hashes_the_exact_bytes() {
        let bytes = simple("foo", "1.0.0", "");
        let got = check(&bytes).unwrap();
        assert_eq!(got.root, "foo-1.0.0");
        assert!(got.manifest.contains("name = \"foo\""));
        assert_eq!(got.size, bytes.len() as u64);
        assert_eq!(got.cksum, format!("{:x}", Sha256::digest(&bytes)));
    }

    #[test]
    fn refuses_a_gzip_stream_cut_short() {
        let bytes = simple("foo", "1.0.0", "");
        // Without its 8-byte trailer (CRC and length), or with a wrong CRC.
        assert!(matches!(
            check(&bytes[..bytes.len() - 8]),
            Err(ArchiveError::NotTarGz(_))
        ));
        let mut bad_crc = bytes.clone();
        let at = bad_crc.len() - 8;
        bad_crc[at] ^= 0xff;
        assert!(matches!(check(&bad_crc), Err(ArchiveError::NotTarGz(_))));
        assert!(check(&bytes).is_ok());
    }

    #[test]
    fn refuses_entries_outside_the_top_folder() {
        let m = manifest("foo", "1.0.0", "");
        let cases: [(&str, &str); 4] = [
            ("foo-1.0.0/../evil", "climbs out"),
            ("/etc/passwd", "absolute"),
            ("other/file", "outside"),
            ("foo-1.0.0/./x", "`.` component"),
        ];
        for (path, want) in cases {
            let bytes = tarball(&[
                Entry::File("foo-1.0.0/Cargo.toml", m.as_bytes()),
                Entry::File(path, b"x"),
            ]);
            let err = check(&bytes).unwrap_err().to_string();
            assert!(err.contains(want), "{path}: {err}");
        }
    }

    #[test]
    fn refuses_links() {
        let m = manifest("foo", "1.0.0", "");
        let sym = tarball(&[
            Entry::File("foo-1.0.0/Cargo.toml", m.as_bytes()),
            Entry::Symlink("foo-1.0.0/l", "/etc/passwd"),
        ]);
        assert!(matches!(
            check(&sym),
            Err(ArchiveError::BadType(_, "symbolic link"))
        ));
        let hard = tarball(&[
            Entry::File("foo-1.0.0/Cargo.toml", m.as_bytes()),
            Entry::HardLink("foo-1.0.0/h", "foo-1.0.0/Cargo.toml"),
        ]);
        assert!(matches!(
            check(&hard),
            Err(ArchiveError::BadType(_, "hard link"))
        ));
    }

    #[test]
    fn refuses_missing_or_doubled_manifests_and_garbage() {
        let no_manifest = tarball(&[
            Entry::Dir("foo-1.0.0/"),
            Entry::File("foo-1.0.0/src/lib.rs", b""),
        ]);
        assert!(matches!(
            check(&no_manifest),
            Err(ArchiveError::NoManifest(_))
        ));
        let m = manifest("foo", "1.0.0", "");
        let two = tarball(&[
            Entry::File("foo-1.0.0/Cargo.toml", m.as_bytes()),
            Entry::File("foo-1.0.0/Cargo.toml", m.as_bytes()),
        ]);
        assert!(matches!(check(&two), Err(ArchiveError::TwoManifests(_))));
        assert!(matches!(
            check(b"not a crate at all"),
            Err(ArchiveError::NotTarGz(_))
        ));
        assert!(matches!(check(&tarball(&[])), Err(ArchiveError::Empty)));
    }

    #[test]
    fn refuses_a_file_where_the_top_folder_or_another_folder_is() {
        let m = manifest("foo", "1.0.0", "");
        let top_file = tarball(&[
            Entry::File("foo-1.0.0", b"x"),
            Entry::File("foo-1.0.0/Cargo.toml", m.as_bytes()),
        ]);
        let err = check(&top_file).unwrap_err();
        assert!(matches!(err, ArchiveError::TopIsFile(_)), "{err}");
        let cases: [&[Entry<'_>]; 4] = [
            &[
                Entry::File("foo-1.0.0/src", b"x"),
                Entry::File("foo-1.0.0/src/lib.rs", b""),
            ],
            &[
                Entry::File("foo-1.0.0/src/lib.rs", b""),
                Entry::File("foo-1.0.0/src", b"x"),
            ],
            &[
                Entry::Dir("foo-1.0.0/src/"),
                Entry::File("foo-1.0.0/src", b"x"),
            ],
            &[
                Entry::File("foo-1.0.0/a/b", b""),
                Entry::File("foo-1.0.0/a/b", b"again"),
            ],
        ];
        for entries in cases {
            let mut all = vec![Entry::File("foo-1.0.0/Cargo.toml", m.as_bytes())];
            all.extend(entries.iter().map(|e| match e {
                Entry::File(p, d) => Entry::File(p, d),
                Entry::Dir(p) => Entry::Dir(p),
                _ => unreachable!(),
            }));
            let err = check(&tarball(&all)).unwrap_err();
            assert!(matches!(err, ArchiveError::Conflict(_)), "{err}");
        }
        let fine = tarball(&[
            Entry::Dir("foo-1.0.0/"),
            Entry::Dir("foo-1.0.0/src/"),
            Entry::File("foo-1.0.0/Cargo.toml", m.as_bytes()),
            Entry::File("foo-1.0.0/src/lib.rs", b""),
            Entry::File("foo-1.0.0/src/a/b.rs", b""),
            Entry::Dir("foo-1.0.0/src/a/"),
            Entry::File("foo-1.0.0/src/ab", b""),
        ]);
        check(&fine).unwrap();
    }

    #[test]
    fn a_manifest_over_the_limit_is_refused_never_cut() {
        let big = manifest("foo", "1.0.0", &format!("# {}\n", "x".repeat(2000)));
        let bytes = tarball(&[Entry::File("foo-1.0.0/Cargo.toml", big.as_bytes())]);
        let err = inspect_limited(bytes.as_slice(), io::sink(), None, 1000).unwrap_err();
        assert!(
            matches!(err, ArchiveError::ManifestTooLarge(n, 1000) if n == big.len() as u64),
            "{err}"
        );
        assert!(err.to_string().contains("limits.max-manifest-size"));
        let got = inspect_limited(bytes.as_slice(), io::sink(), None, big.len() as u64).unwrap();
        assert_eq!(got.manifest, big, "at the limit the whole text is read");
    }

    #[test]
    fn enforces_the_size_limit() {
        let bytes = simple("foo", "1.0.0", "");
        let err = inspect(bytes.as_slice(), std::io::sink(), Some(10)).unwrap_err();
        assert!(matches!(err, ArchiveError::FileTooLarge(10)), "{err}");
    }
}
