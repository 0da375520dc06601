//! `ktra export`: the registry's index and crate files (and the mirror's) as one tar archive,
//! one consistent state, read through the store: under the registry and mirror locks on the
//! local tree; on object storage the index files as read once, then the crate files their lines
//! name. The archive is the same whichever backend. With a previous archive, only what changed
//! since it travels.

use super::listing::{self, ScanOptions};
use super::manifest::{self, Listing, Manifest};
use super::stage;
use crate::ops::writer::Writer;
use crate::printer::Printer;
use crate::registry::Registry;
use crate::storage::Area;
use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
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
    // On the local tree the registry and mirror locks are held to the end: nothing changes
    // while the state is read and written out. Object storage has no lock (and nothing may be
    // written beside its `ktra.toml`): the index files go into the archive exactly as read, and
    // crate files are never rewritten, so the archive is one state all the same.
    let _locks = match reg.store.is_remote() {
        true => None,
        false => Some((
            Writer::begin(reg, printer)?,
            crate::mirror::commit::lock_for_command(reg, printer)?,
        )),
    };
    let known: Vec<&Listing> = since.iter().map(|m| &m.files).collect();
    let scan = listing::scan(
        &reg.store,
        &ScanOptions {
            known: &known,
            keep_index: reg.store.is_remote(),
        },
    )?;
    for key in &scan.skipped {
        printer.warn(format!(
            "`public/{key}` is not an index or crate file; not exported"
        ));
    }
    for key in &scan.unnamed {
        printer.warn(format!(
            "`public/{key}` is named by no index line (an add in progress, or left by a killed \
             writer: `ktra verify` reports it); not exported"
        ));
    }
    let mut missing: Vec<&String> = scan
        .named
        .keys()
        .filter(|k| !scan.files.contains_key(*k))
        .collect();
    missing.sort();
    if let Some(key) = missing.first() {
        bail!(
            "an index line names `public/{key}`, which is missing: it was removed while being \
             exported (run the export again), or the registry is damaged (`ktra verify` tells)"
        );
    }
    let now = SystemTime::now();
    let created = humantime::format_rfc3339_seconds(now).to_string();
    let m = Manifest::new(&reg.config.name, created, scan.files, since.as_ref());
    let mtime = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    write_archive(reg, &m, &scan.index, out, opts.force, mtime)?;
    Ok(ExportReport {
        id: m.id.clone(),
        base: m.base.clone(),
        files: m.files.len(),
        carried: m.carried.len(),
        bytes: m.carried_bytes(),
        removed: m.removed.len(),
    })
}

/// Writes the archive to a temporary file next to `out`, then moves it into place.
/// Index files held in `index` are written as held; every other file is read through the
/// store and must still have the sum the manifest lists.
fn write_archive(
    reg: &Registry,
    m: &Manifest,
    index: &BTreeMap<String, Vec<u8>>,
    out: &Path,
    force: bool,
    mtime: u64,
) -> Result<()> {
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
        let file: Box<dyn Read + Send> = match index.get(p) {
            Some(bytes) => Box::new(bytes.as_slice()),
            None => match reg.store.open(Area::Public, p)? {
                Some(file) => file,
                None => bail!("`public/{p}` disappeared while being exported"),
            },
        };
        let mut reader = HashingReader {
            inner: file.take(want.size),
            hash: Sha256::new(),
            len: 0,
        };
        tar.append_data(&mut header(want.size), p, &mut reader)
            .with_context(|| format!("failed to add `public/{p}` to the archive"))?;
        if reader.len != want.size || format!("{:x}", reader.hash.finalize()) != want.sha256 {
            bail!("`public/{p}` changed while being exported");
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
