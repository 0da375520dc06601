//! `ktra import`: checks an archive completely (every carried file against the manifest, every
//! index line against the crate file it names, the registry against the state the archive
//! continues) before it changes anything, creating the registry first when asked to.

use super::content::{self, IndexFacts};
use super::manifest::{Listing, short};
use super::paths::{self, Kind, Side};
use super::stage::{self, Staged};
use super::{apply, plan};
use crate::config;
use crate::index::IndexFile;
use crate::ops::init::{self, InitOptions};
use crate::printer::Printer;
use crate::registry::Registry;
use anyhow::{Context, Result, anyhow, bail};
use std::collections::BTreeMap;
use std::path::Path;

pub struct ImportOptions {
    /// Create the registry (with this URL) when it does not exist.
    pub init_url: Option<String>,
    /// A full import deletes files of the registry that the export does not have.
    pub prune: bool,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct ImportReport {
    pub id: String,
    pub base: Option<String>,
    /// Files written and their bytes; files deleted.
    pub written: usize,
    pub bytes: u64,
    pub removed: usize,
    /// The registry was created by this import.
    pub created: bool,
}

pub fn import(
    root: &Path,
    archive: &Path,
    opts: &ImportOptions,
    printer: Printer,
) -> Result<ImportReport> {
    let root = std::path::absolute(root)
        .with_context(|| format!("failed to resolve `{}`", root.display()))?;
    // reason: looks for ktra.toml (the settings), not registry data.
    #[allow(clippy::disallowed_methods)]
    let is_registry = root.join(config::FILE_NAME).is_file();
    let existing = if is_registry {
        if opts.init_url.is_some() {
            printer.note(format!(
                "`{}` is a registry already; `--init-url` is not used",
                root.display()
            ));
        }
        Some(Registry::open(&root)?)
    } else if let Some(url) = &opts.init_url {
        config::check_url(url.trim_end_matches('/')).context("invalid `--init-url`")?;
        None
    } else {
        bail!(
            "`{}` is not a ktra registry; pass `--init-url URL` to create it from the archive \
             (as `ktra init --url URL` would)",
            root.display()
        )
    };
    // Staged inside the registry's private folder, or beside where it is to be created (the
    // registry is created only once the archive has passed every check).
    let outside = match existing {
        Some(_) => None,
        None => {
            // reason: the folder the new registry is to be created in (not one yet).
            #[allow(clippy::disallowed_methods)]
            let near = root
                .ancestors()
                .find(|a| a.is_dir())
                .unwrap_or(Path::new("/"));
            Some(
                tempfile::Builder::new()
                    .prefix(".ktra-import-")
                    .tempdir_in(near)
                    .with_context(|| {
                        format!(
                            "failed to create a temporary folder in `{}`",
                            near.display()
                        )
                    })?,
            )
        }
    };
    let staged = match (&existing, &outside) {
        (Some(reg), _) => stage::stage(archive, &|| reg.store.temp_file())?,
        (None, Some(t)) => stage::stage(archive, &|| stage::temp_file(t.path()))?,
        (None, None) => unreachable!("one of the two is set"),
    };
    let m = &staged.manifest;
    let (reg, created) = match existing {
        Some(reg) => {
            if reg.config.name != m.registry {
                printer.warn(format!(
                    "the archive is an export of registry `{}`; importing it into `{}`",
                    m.registry, reg.config.name
                ));
            }
            (reg, false)
        }
        None => {
            plan::plan(m, &Listing::new(), opts.prune).map_err(|e| anyhow!(e))?;
            check_state(&staged, &|_| Ok(None))?;
            let url = opts.init_url.clone().expect("checked above");
            let reg = init::init(
                &root,
                InitOptions {
                    url,
                    name: m.registry.clone(),
                    api: None,
                    auth_required: false,
                    git: true,
                    site: true,
                    storage: None,
                    state: None,
                    state_files: None,
                },
            )
            .context("failed to create the registry")?;
            printer.status(
                "Created",
                format!("registry `{}` in {}", reg.config.name, root.display()),
            );
            (reg, true)
        }
    };
    let mut report = apply::apply(&reg, staged, opts.prune, printer)?;
    report.created = created;
    Ok(report)
}

/// Checks the index files of the state the import leads to (carried ones from the archive,
/// the others from the registry, which the plan found equal to the listing) and their
/// crate files. Returns what the write order needs.
pub(super) fn check_state(
    staged: &Staged,
    current: &dyn Fn(&str) -> Result<Option<Vec<u8>>>,
) -> Result<BTreeMap<String, IndexFacts>> {
    let m = &staged.manifest;
    let mut facts = BTreeMap::new();
    for key in m.files.keys() {
        if !matches!(paths::classify(key), Ok(Kind::Index { .. })) {
            continue;
        }
        let bytes = match staged.files.contains_key(key) {
            true => staged.read(key)?,
            false => current(key)?
                .ok_or_else(|| anyhow!("`public/{key}` is missing from the registry"))?,
        };
        let f = content::check_index(key, &bytes).map_err(|e| {
            anyhow!(e).context(format!("export {} is not a sound registry", short(&m.id)))
        })?;
        // The change pipeline writes an index file from its lines: a carried one must be
        // exactly that, or the registry would not hold the archive's listing afterwards.
        if f.side == Side::Registry
            && staged.files.contains_key(key)
            && IndexFile::parse(&bytes).map(|f| f.to_bytes()).ok() != Some(bytes)
        {
            bail!(
                "`{key}` in export {} is not laid out as ktra writes index files (one line per \
                 version, each ending in a newline): `ktra rebuild` in the exporting registry \
                 writes it so",
                short(&m.id)
            );
        }
        facts.insert(key.clone(), f);
    }
    content::check_references(&facts, &m.files).map_err(|e| {
        anyhow!(e).context(format!("export {} is not a sound registry", short(&m.id)))
    })?;
    Ok(facts)
}
