//! The first half of adding crates, needing no lock: each input is streamed once into a
//! temporary file in the registry's private area while it is hashed and checked, and its index
//! entry is built from the packaged `Cargo.toml`. Runs in parallel across inputs.

use crate::index::{CrateName, IndexPackage};
use crate::package::{archive, manifest};
use crate::storage::{Area, Store};
use anyhow::{Context, Result, bail};
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use tempfile::TempPath;

/// Where a crate's bytes come from: a file (CLI) or a request body (receiver).
pub enum CrateSource {
    File(PathBuf),
    Bytes(Vec<u8>),
}

pub struct CrateInput {
    /// How to name this input in messages (the file path, or `name@version` for a publish).
    pub label: String,
    pub source: CrateSource,
    /// The name and version a publish request claims; the package must agree.
    pub expect: Option<(String, String)>,
}

impl CrateInput {
    pub fn file(path: PathBuf) -> Self {
        Self {
            label: path.display().to_string(),
            source: CrateSource::File(path),
            expect: None,
        }
    }
}

/// A checked crate, its bytes already in a temporary file, ready to be written.
pub struct Prepared {
    pub label: String,
    pub entry: IndexPackage,
    pub size: u64,
    /// Closed, so that many prepared crates do not hold many open files.
    pub temp: TempPath,
    /// The crate's index file as it will be if this is its first and only version, written
    /// ahead so that file creation overlaps other crates' inspection (`None` when the crate
    /// already had an index file).
    pub index_temp: Option<TempPath>,
    /// What the site shows about this version.
    pub meta: crate::package::meta::VersionMeta,
    pub readme: Option<crate::package::meta::Readme>,
}

pub struct InspectOptions<'a> {
    pub identity: &'a manifest::RegistryIdentity,
    /// What one version may carry (`[limits]` in `ktra.toml`).
    pub limits: &'a crate::limits::Limits,
    pub max_size: Option<u64>,
    /// Publication time of every version this call adds.
    pub pubtime: &'a str,
    /// Buffers to inspect crates in memory (a batch); `None` streams each (flat memory).
    pub pool: Option<&'a crate::package::whole::Pool>,
}

pub fn prepare(store: &Store, input: CrateInput, opts: &InspectOptions<'_>) -> Result<Prepared> {
    let label = input.label.clone();
    prepare_inner(store, input, opts).with_context(|| format!("failed to add `{label}`"))
}

fn prepare_inner(store: &Store, input: CrateInput, opts: &InspectOptions<'_>) -> Result<Prepared> {
    let mut temp = store.temp_file()?;
    let (inspection, file_stem) = {
        let sink = BufWriter::with_capacity(256 * 1024, temp.as_file_mut());
        match &input.source {
            CrateSource::File(path) => {
                // reason: the `.crate` file given to `ktra add` (the user's input, not the registry).
                #[allow(clippy::disallowed_methods)]
                let file = std::fs::File::open(path)
                    .with_context(|| format!("failed to open `{}`", path.display()))?;
                let size = file.metadata().map_or(u64::MAX, |m| m.len());
                let reader = std::io::BufReader::with_capacity(256 * 1024, file);
                let stem = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".crate"))
                    .map(str::to_owned);
                (run(reader, sink, opts, size)?, stem)
            }
            CrateSource::Bytes(bytes) => {
                (run(bytes.as_slice(), sink, opts, bytes.len() as u64)?, None)
            }
        }
    };
    let mut entry = manifest::to_entry_parsed(&inspection.doc, opts.identity)
        .context("failed to read the packaged `Cargo.toml`")?;
    CrateName::new(&entry.name).context("the crate name is not allowed")?;
    let expected = format!("{}-{}", entry.name, entry.vers);
    if inspection.root != expected {
        bail!(
            "the archive's top directory is `{}`, but its `Cargo.toml` says `{}` version `{}` \
             (expected `{expected}/`)",
            inspection.root,
            entry.name,
            entry.vers
        );
    }
    if let Some(stem) = file_stem
        && stem != expected
    {
        bail!(
            "the file is named `{stem}.crate`, but it holds `{}` version `{}`",
            entry.name,
            entry.vers
        );
    }
    if let Some((name, vers)) = &input.expect {
        let same_version = semver::Version::parse(vers).is_ok_and(|v| v.to_string() == entry.vers);
        if *name != entry.name || !same_version {
            bail!(
                "the publish request names `{name}` version `{vers}`, but the packaged `Cargo.toml` says `{}` version `{}`",
                entry.name,
                entry.vers
            );
        }
    }
    entry.cksum = inspection.cksum.clone();
    let (meta, readme) =
        crate::package::meta::read_parsed(inspection.doc.as_ref().ok(), &inspection.readmes);
    entry.pubtime = Some(opts.pubtime.to_owned());
    let line = entry.to_line();
    let doc = inspection.doc.as_ref().ok();
    let facts = crate::limits::ManifestFacts {
        keywords: &meta.keywords,
        categories: &meta.categories,
        description: meta.description.as_deref(),
        readme_size: crate::package::meta::readme_size(doc, &inspection.readme_sizes),
    };
    crate::limits::check(&entry, line.len(), Some(&facts), opts.limits)
        .context("the crate is over a limit of this registry")?;
    // The folder of its index file, made now so that the (slow) directory creation overlaps
    // the inspection of other crates. An empty folder changes nothing for cargo.
    let index_key = crate::registry::keys::index(&entry.name)?;
    store.make_parent(Area::Public, &index_key)?;
    // Object storage writes index files by conditional writes, never from this file.
    let index_temp = if store.is_remote() || store.exists(Area::Public, &index_key) {
        None
    } else {
        let mut t = store.temp_file()?;
        writeln!(t, "{line}").context("failed to write a temporary index file")?;
        Some(t.into_temp_path())
    };
    Ok(Prepared {
        label: input.label,
        entry,
        size: inspection.size,
        temp: temp.into_temp_path(),
        index_temp,
        meta,
        readme,
    })
}

fn run<R: Read, W: std::io::Write>(
    src: R,
    sink: W,
    opts: &InspectOptions<'_>,
    size: u64,
) -> Result<archive::Inspection> {
    let max_manifest = opts.limits.max_manifest_size;
    match opts.pool {
        Some(pool) => {
            crate::package::whole::inspect(pool, src, sink, opts.max_size, max_manifest, size)
        }
        None => archive::inspect_limited(src, sink, opts.max_size, max_manifest),
    }
    .context("it is not a valid `.crate` file")
}

/// The index entry of a crate file already in place at `key` of the served tree (no copy is
/// made; the local tree only, as [`Store::open`]).
pub fn entry_of_file(
    store: &Store,
    key: &str,
    identity: &manifest::RegistryIdentity,
) -> Result<IndexPackage> {
    let path = store.path(Area::Public, key);
    let file = store
        .open(Area::Public, key)?
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        .with_context(|| format!("failed to open `{}`", path.display()))?;
    let reader = std::io::BufReader::with_capacity(256 * 1024, file);
    entry_of_reader(reader, &path.display().to_string(), identity)
}

/// [`entry_of_file`] for a crate file of the registry, wherever the registry lives.
pub fn entry_of_stored(
    store: &Store,
    key: &str,
    identity: &manifest::RegistryIdentity,
) -> Result<IndexPackage> {
    if !store.is_remote() {
        return entry_of_file(store, key, identity);
    }
    let bytes = store
        .read(Area::Public, key)?
        .with_context(|| format!("`{key}` is missing"))?;
    entry_of_reader(std::io::Cursor::new(bytes), key, identity)
}

fn entry_of_reader(
    reader: impl std::io::Read,
    label: &str,
    identity: &manifest::RegistryIdentity,
) -> Result<IndexPackage> {
    // A file already in the registry was admitted under the limits of its day.
    let inspection = archive::inspect_limited(reader, std::io::sink(), None, u64::MAX)
        .context("it is not a valid `.crate` file")
        .with_context(|| format!("failed to read `{label}`"))?;
    let mut entry = manifest::to_entry_parsed(&inspection.doc, identity)
        .with_context(|| format!("failed to read the packaged `Cargo.toml` of `{label}`"))?;
    entry.cksum = inspection.cksum;
    Ok(entry)
}
