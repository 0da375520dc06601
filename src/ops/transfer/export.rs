//! `ktra export`: the registry's index and crate files (and the mirror's) as one tar archive,
//! read under the registry and mirror locks so it is one consistent state. With a previous
//! archive, only what changed since it travels.

use super::manifest::{self, FileSum, Manifest};
use super::paths::{self, Kind};
use super::{listing, stage};
use crate::index::IndexFile;
use crate::mirror::layout;
use crate::ops::writer::Writer;
use crate::printer::Printer;
use crate::registry::Registry;
use crate::storage::Area;
use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::time::SystemTime;

pub struct ExportOptions<'a> {
    pub out: &'a Path,
    /// A previous archive of this registry: carry only what changed since.
    pub since: Option<&'a Path>,
    /// Replace `out` if it exists.
    pub force: bool,
}

#[derive(Debug, serde::Serialize)]
pub struct ExportReport {
    pub id: String,
    pub base: Option<String>,
    /// Files in the exported state.
    pub files: usize,
    /// Files the archive carries, and their bytes.
    pub carried: usize,
    pub bytes: u64,
    pub removed: usize,
}

pub fn export(reg: &Registry, opts: &ExportOptions<'_>, printer: Printer) -> Result<ExportReport> {
    let out = opts.out;
    // reason: the archive `ktra export` writes (the user's output).
    #[allow(clippy::disallowed_methods)]
    let taken = !opts.force && out.exists();
    if taken {
        bail!(
            "`{}` already exists; pass `--force` to replace it",
            out.display()
        );
    }
    let since = match opts.since {
        None => None,
        Some(p) => Some(
            stage::read_manifest(p)
                .with_context(|| format!("failed to read the previous export `{}`", p.display()))?,
        ),
    };
    if let Some(prev) = since.as_ref().filter(|p| p.registry != reg.config.name) {
        bail!(
            "the previous export is of registry `{}`, not of `{}`",
            prev.registry,
            reg.config.name
        );
    }
    // Held to the end: nothing changes while the state is read and written out.
    let _writer = Writer::begin(reg, printer)?;
    let _mirror = crate::mirror::commit::lock_for_command(reg, printer)?;
    let unchanged = unchanged_crates(reg, since.as_ref())?;
    let known = |key: &str, size: u64| unchanged.get(key).filter(|s| s.size == size).cloned();
    let scan = listing::scan(&reg.store, &known)?;
    for key in &scan.skipped {
        printer.warn(format!(
            "`public/{key}` is not an index or crate file; not exported"
        ));
    }
    let now = SystemTime::now();
    let created = humantime::format_rfc3339_seconds(now).to_string();
    let m = Manifest::new(&reg.config.name, created, scan.files, since.as_ref());
    let mtime = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    write_archive(reg, &m, out, opts.force, mtime)?;
    Ok(ExportReport {
        id: m.id.clone(),
        base: m.base.clone(),
        files: m.files.len(),
        carried: m.carried.len(),
        bytes: m.carried_bytes(),
        removed: m.removed.len(),
    })
}

/// Crate files are never rewritten in place: one the previous export listed, with the same
/// size and still named with that checksum by the index, is not read again.
fn unchanged_crates(reg: &Registry, since: Option<&Manifest>) -> Result<HashMap<String, FileSum>> {
    let mut out = HashMap::new();
    let Some(prev) = since else {
        return Ok(out);
    };
    for folder in ["index", layout::INDEX_DIR] {
        for key in reg.store.walk(Area::Public, folder)? {
            let Ok(Kind::Index { side, .. }) = paths::classify(&key) else {
                continue;
            };
            let bytes = reg.store.read(Area::Public, &key)?.unwrap_or_default();
            let Ok(file) = IndexFile::parse(&bytes) else {
                continue;
            };
            for l in file.lines {
                let crate_key = paths::crate_key(side, &l.head.name, &l.head.vers);
                if let Some(s) = prev
                    .files
                    .get(&crate_key)
                    .filter(|s| s.sha256 == l.head.cksum)
                {
                    out.insert(crate_key, s.clone());
                }
            }
        }
    }
    Ok(out)
}

/// Writes the archive to a temporary file next to `out`, then moves it into place.
fn write_archive(reg: &Registry, m: &Manifest, out: &Path, force: bool, mtime: u64) -> Result<()> {
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".ktra-export-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .tempfile_in(dir)
        .with_context(|| format!("failed to create a temporary file in `{}`", dir.display()))?;
    let mut tar = tar::Builder::new(BufWriter::new(tmp.as_file()));
    let header = |size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_mtime(mtime);
        h.set_size(size);
        h
    };
    let json = serde_json::to_vec_pretty(m)?;
    tar.append_data(
        &mut header(json.len() as u64),
        manifest::NAME,
        json.as_slice(),
    )
    .context("failed to write the archive")?;
    for p in &m.carried {
        let want = &m.files[p];
        let path = reg.store.path(Area::Public, p);
        let Some(file) = reg.store.open(Area::Public, p)? else {
            bail!("`{}` disappeared while being exported", path.display());
        };
        let mut reader = HashingReader {
            inner: file.take(want.size),
            hash: Sha256::new(),
            len: 0,
        };
        tar.append_data(&mut header(want.size), p, &mut reader)
            .with_context(|| format!("failed to add `{}` to the archive", path.display()))?;
        if reader.len != want.size || format!("{:x}", reader.hash.finalize()) != want.sha256 {
            bail!("`{}` changed while being exported", path.display());
        }
    }
    let mut buffered = tar.into_inner().context("failed to write the archive")?;
    buffered.flush().context("failed to write the archive")?;
    drop(buffered);
    tmp.as_file()
        .sync_all()
        .context("failed to write the archive")?;
    let persisted = if force {
        tmp.persist(out)
    } else {
        tmp.persist_noclobber(out)
    };
    persisted
        .map_err(|e| e.error)
        .with_context(|| format!("failed to write `{}`", out.display()))?;
    // reason: the folder of the archive `ktra export` writes (the user's output).
    #[allow(clippy::disallowed_methods)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("failed to sync `{}`", dir.display()))
}

struct HashingReader<R> {
    inner: R,
    hash: Sha256,
    len: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}
