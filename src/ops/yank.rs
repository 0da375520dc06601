//! Yank and unyank: flip `yanked` on one index line and change nothing else.

use super::writer::Writer;
use crate::index::IndexFile;
use crate::printer::Printer;
use crate::registry::{Registry, keys};
use crate::storage::{Area, Journal};
use anyhow::{Context, Result, bail};

/// Whether the flag changed (false when it already had the wanted value).
pub fn set_yanked(
    reg: &Registry,
    name: &str,
    vers: &semver::Version,
    yanked: bool,
    printer: Printer,
) -> Result<bool> {
    let writer = Writer::begin(reg, printer)?;
    let (key, mut file) = read_index(reg, name)?;
    let display = file.crate_name().unwrap_or(name).to_owned();
    let Some(before) = file.set_yanked(vers, yanked) else {
        bail!("crate `{display}` has no version `{vers}`");
    };
    let verb = if yanked { "Yank" } else { "Unyank" };
    if before == yanked {
        let state = if yanked {
            "already yanked"
        } else {
            "not yanked"
        };
        printer.status("Unchanged", format!("{display} v{vers} is {state}"));
        return Ok(false);
    }
    writer.journal(&Journal {
        op: verb.to_lowercase(),
        index_files: vec![key.clone()],
        ..Journal::default()
    })?;
    let mut batch = reg.store.batch().named("index");
    batch.put(Area::Public, &key, &file.to_bytes())?;
    batch.commit()?;
    writer.sync_git(&[key], &format!("{verb} {display} {vers}"))?;
    writer.done()?;
    crate::ops::site::after_change(reg, std::slice::from_ref(&display), printer);
    printer.status(
        if yanked { "Yanked" } else { "Unyanked" },
        format!("{display} v{vers}"),
    );
    Ok(true)
}

/// The index file of a crate, which must exist.
pub fn read_index(reg: &Registry, name: &str) -> Result<(String, IndexFile)> {
    // Checked before it becomes a path: a name like `../x` must not reach outside the index.
    crate::index::CrateName::new(name).with_context(|| format!("`{name}` is not a crate name"))?;
    let key = keys::index(name)?;
    let Some(bytes) = reg.store.read(Area::Public, &key)? else {
        bail!("crate `{name}` is not in the registry");
    };
    let file = IndexFile::parse(&bytes)
        .with_context(|| format!("failed to read the index file of `{name}`"))?;
    if file.crate_name().is_some_and(|n| n != name) {
        bail!(
            "crate `{name}` is not in the registry (did you mean `{}`?)",
            file.crate_name().unwrap_or_default()
        );
    }
    Ok((key, file))
}
