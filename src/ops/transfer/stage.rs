//! Reading an archive: its manifest (the first entry), and every carried file copied to a
//! temporary file while its size and sha256 are checked against the manifest. Nothing but the
//! temporary files is written, and they go away unless an import moves them into place.

use super::manifest::{self, Manifest};
use super::paths;
use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;
use tempfile::{NamedTempFile, TempPath};

/// Largest manifest read (a listing of millions of files fits).
const MAX_MANIFEST: u64 = 1 << 30;

/// An archive read through: its manifest and its carried files, checked.
pub struct Staged {
    pub manifest: Manifest,
    /// Carried path to the temporary file holding its bytes.
    pub files: BTreeMap<String, TempPath>,
}

type Entries<'a> = tar::Entries<'a, BufReader<File>>;

// reason: the archive given to `ktra import` (the user's input).
#[allow(clippy::disallowed_methods)]
fn open(path: &Path) -> Result<tar::Archive<BufReader<File>>> {
    let file = File::open(path).with_context(|| format!("failed to open `{}`", path.display()))?;
    Ok(tar::Archive::new(BufReader::new(file)))
}

/// The manifest of an archive, reading nothing after it.
pub fn read_manifest(path: &Path) -> Result<Manifest> {
    let mut archive = open(path)?;
    let mut entries = archive.entries().context("failed to read the archive")?;
    first_entry(&mut entries)
}

fn first_entry(entries: &mut Entries<'_>) -> Result<Manifest> {
    let mut entry = match entries.next() {
        None => bail!("the archive is empty: it has no `{}`", manifest::NAME),
        Some(e) => {
            e.context("failed to read the archive (is it a tar archive written by `ktra export`?)")?
        }
    };
    let name = entry.path_bytes().into_owned();
    if name != manifest::NAME.as_bytes() || !entry.header().entry_type().is_file() {
        bail!(
            "the archive does not start with `{}`: it was not written by `ktra export`",
            manifest::NAME
        );
    }
    let mut bytes = Vec::new();
    (&mut entry)
        .take(MAX_MANIFEST)
        .read_to_end(&mut bytes)
        .with_context(|| format!("failed to read `{}` in the archive", manifest::NAME))?;
    if entry.header().size().ok() != Some(bytes.len() as u64) {
        bail!(
            "`{}` is cut short in the archive (it is truncated)",
            manifest::NAME
        );
    }
    Manifest::parse(&bytes).map_err(anyhow::Error::msg)
}

/// Reads the whole archive, copying carried files into temporary files made by `temp` (the
/// registry's [`crate::storage::Store::temp_file`], on the file system of the registry, so
/// that they can be moved into place).
pub fn stage(path: &Path, temp: &dyn Fn() -> Result<NamedTempFile>) -> Result<Staged> {
    let mut archive = open(path)?;
    let mut entries = archive.entries().context("failed to read the archive")?;
    let manifest = first_entry(&mut entries)?;
    let mut files: BTreeMap<String, TempPath> = BTreeMap::new();
    for entry in entries {
        let mut entry = entry.context("failed to read the archive (is it truncated?)")?;
        let raw = entry.path_bytes().into_owned();
        let Ok(p) = String::from_utf8(raw) else {
            bail!("the archive holds a file whose name is not UTF-8");
        };
        paths::classify(&p).map_err(|e| {
            anyhow::anyhow!("the archive holds a file that may not be imported: {e}")
        })?;
        let Some(want) = manifest
            .files
            .get(&p)
            .filter(|_| manifest.carried.contains(&p))
        else {
            bail!("the archive holds `{p}`, which its manifest does not list as carried");
        };
        if files.contains_key(&p) {
            bail!("the archive holds `{p}` twice");
        }
        if !entry.header().entry_type().is_file() {
            bail!("`{p}` in the archive is not a regular file");
        }
        let size = entry
            .header()
            .size()
            .with_context(|| format!("`{p}` has a damaged tar header"))?;
        if size != want.size {
            bail!(
                "`{p}` in the archive has {size} bytes, but the manifest says {}",
                want.size
            );
        }
        let tmp = temp()?;
        let mut out = HashingWriter {
            file: tmp.as_file(),
            hash: Sha256::new(),
            len: 0,
        };
        io::copy(&mut entry, &mut out)
            .with_context(|| format!("failed to copy `{p}` out of the archive"))?;
        if out.len != want.size {
            bail!("`{p}` is cut short in the archive (it is truncated)");
        }
        let got = format!("{:x}", out.hash.finalize());
        if got != want.sha256 {
            bail!(
                "`{p}` in the archive has sha256 {got}, but the manifest says {}: the archive was altered or damaged",
                want.sha256
            );
        }
        files.insert(p, tmp.into_temp_path());
    }
    if let Some(p) = manifest.carried.iter().find(|p| !files.contains_key(*p)) {
        bail!("the archive ends before `{p}`, which its manifest lists (is it truncated?)");
    }
    Ok(Staged { manifest, files })
}

impl Staged {
    /// The bytes of a carried file.
    pub fn read(&self, key: &str) -> Result<Vec<u8>> {
        let tmp = self
            .files
            .get(key)
            .ok_or_else(|| anyhow::anyhow!("`{key}` was not staged"))?;
        read(tmp)
    }
}

/// The bytes of a staged file.
// reason: a temp file staged from the archive, not registry data.
#[allow(clippy::disallowed_methods)]
pub fn read(tmp: &Path) -> Result<Vec<u8>> {
    std::fs::read(tmp).with_context(|| format!("failed to read `{}`", tmp.display()))
}

/// A temporary file in `dir` readable by all (it may become a served file), for an import
/// that creates the registry.
pub fn temp_file(dir: &Path) -> Result<NamedTempFile> {
    tempfile::Builder::new()
        .prefix(".import-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .tempfile_in(dir)
        .with_context(|| format!("failed to create a temporary file in `{}`", dir.display()))
}

struct HashingWriter<'a> {
    file: &'a File,
    hash: Sha256,
    len: u64,
}

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hash.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
