//! Reading a `.crate` in one streaming pass: every byte is hashed and copied to a sink while the
//! gzip'd tar is walked, each entry is checked (inside `NAME-VERSION/`, relative, regular file
//! or directory only) and only `Cargo.toml` is kept in memory.

use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};

/// Cargo refuses to unpack more than this (it uses max(512 MiB, 20x the file)).
pub const MAX_UNPACKED: u64 = 512 * 1024 * 1024;
/// A normalized manifest larger than this is not a manifest.
const MAX_MANIFEST: u64 = 8 * 1024 * 1024;

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
    #[error("its `Cargo.toml` is not UTF-8 or is too large")]
    BadManifest,
}

/// Reads `src` to its end, writing every byte to `sink`, and inspects it as a `.crate`.
/// `max_size` bounds the compressed size (publish limits); `None` means unbounded.
pub fn inspect<R: Read, W: Write>(
    src: R,
    sink: W,
    max_size: Option<u64>,
) -> Result<Inspection, ArchiveError> {
    let mut tee = Tee {
        inner: src,
        sink,
        hasher: Sha256::new(),
        size: 0,
        max_size,
    };
    let walked = walk_tar(&mut tee);
    // Copy whatever the tar walk did not consume (gzip trailer, padding), even on failure, so
    // an I/O error wins over a format error that it caused.
    let drained = io::copy(&mut tee, &mut io::sink());
    if let Some(max) = max_size.filter(|m| tee.size > *m) {
        return Err(ArchiveError::FileTooLarge(max));
    }
    drained?;
    let (root, (manifest, doc), readmes) = walked?;
    tee.sink.flush()?;
    let cksum = format!("{:x}", tee.hasher.finalize());
    Ok(Inspection {
        cksum,
        size: tee.size,
        root,
        manifest,
        doc,
        readmes,
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
pub(super) type Walked = (String, (String, ParsedManifest), Vec<(String, Vec<u8>)>);

fn walk_tar<R: Read>(src: &mut R) -> Result<Walked, ArchiveError> {
    let gz = flate2::read::GzDecoder::new(src);
    let mut archive = tar::Archive::new(Limit {
        inner: gz,
        left: MAX_UNPACKED,
    });
    walk_entries(archive.entries().map_err(not_tar)?)
}

/// Checks every entry of a tar archive (streamed or in memory) and keeps what [`Walked`] holds.
pub(super) fn walk_entries<R: Read>(entries: tar::Entries<'_, R>) -> Result<Walked, ArchiveError> {
    let mut root: Option<String> = None;
    let mut manifest: Option<(String, ParsedManifest)> = None;
    let mut legacy_manifest: Option<(String, ParsedManifest)> = None;
    let mut readmes = Vec::new();
    let mut readme_named: Option<String> = None;
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
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            tar::EntryType::Directory => continue,
            other => return Err(ArchiveError::BadType(path, type_name(other))),
        }
        let slot = match rest {
            "Cargo.toml" => &mut manifest,
            "cargo.toml" => &mut legacy_manifest,
            _ => {
                let size = entry.header().size().unwrap_or(u64::MAX);
                let named = readme_named.as_deref();
                if readmes.len() < MAX_READMES
                    && size <= MAX_README
                    && is_readme_candidate(rest, named)
                {
                    let mut bytes = Vec::new();
                    (&mut entry).take(MAX_README).read_to_end(&mut bytes)?;
                    readmes.push((rest.to_owned(), bytes));
                }
                continue;
            }
        };
        if slot.is_some() {
            return Err(ArchiveError::TwoManifests(root.clone()));
        }
        let mut text = String::new();
        (&mut entry)
            .take(MAX_MANIFEST)
            .read_to_string(&mut text)
            .map_err(|_| ArchiveError::BadManifest)?;
        let doc = parse_manifest(&text);
        readme_named = readme_path(&doc);
        *slot = Some((text, doc));
    }
    let root = root.ok_or(ArchiveError::Empty)?;
    match manifest.or(legacy_manifest) {
        Some(m) => Ok((root, m, readmes)),
        None => Err(ArchiveError::NoManifest(root)),
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
    fn enforces_the_size_limit() {
        let bytes = simple("foo", "1.0.0", "");
        let err = inspect(bytes.as_slice(), std::io::sink(), Some(10)).unwrap_err();
        assert!(matches!(err, ArchiveError::FileTooLarge(10)), "{err}");
    }
}
