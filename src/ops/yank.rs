//! Yank and unyank: flip `yanked` on one index line and change nothing else.

use super::change::SiteEffect;
use crate::index::IndexFile;
use crate::printer::Printer;
use crate::registry::{Registry, keys};
use crate::storage::Area;
use anyhow::{Context, Result, bail};

/// Whether the flag changed (false when it already had the wanted value).
pub fn set_yanked(
    reg: &Registry,
    name: &str,
    vers: &semver::Version,
    yanked: bool,
    printer: Printer,
) -> Result<bool> {
    let op = if yanked { "yank" } else { "unyank" };
    let display = reg.change(op, printer, |tx| {
        let (_, file) = read_index(reg, name)?;
        let display = file.crate_name().unwrap_or(name).to_owned();
        let Some(line) = file.get(vers) else {
            bail!("crate `{display}` has no version `{vers}`");
        };
        if line.head.yanked == yanked {
            let state = if yanked {
                "already yanked"
            } else {
                "not yanked"
            };
            printer.status("Unchanged", format!("{display} v{vers} is {state}"));
            return Ok(None);
        }
        // Re-checked by the edit: on object storage another writer may have changed the file.
        tx.modify_index(name, None, |file| match file.set_yanked(vers, yanked) {
            Some(_) => Ok(()),
            None => bail!("crate `{display}` has no version `{vers}`"),
        })?;
        let verb = if yanked { "Yank" } else { "Unyank" };
        tx.message(format!("{verb} {display} {vers}"));
        tx.site(SiteEffect::Crates(vec![display.clone()]));
        Ok(Some(display))
    })?;
    let Some(display) = display else {
        return Ok(false);
    };
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
