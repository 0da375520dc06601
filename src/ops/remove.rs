//! Removing a version for good. Refused unless the version is yanked and nothing else in the
//! registry depends on it (both overridable with `force`), since removal breaks every lock file
//! that pins it.

use super::change::SiteEffect;
use crate::index::IndexFile;
use crate::printer::Printer;
use crate::registry::{Registry, keys};
use crate::storage::Area;
use anyhow::{Result, bail};

pub fn remove(
    reg: &Registry,
    crate_name: &str,
    vers: &semver::Version,
    force: bool,
    printer: Printer,
) -> Result<()> {
    reg.change("remove", printer, |tx| {
        let (_, file) = super::yank::read_index(reg, crate_name)?;
        let Some(line) = file.get(vers).cloned() else {
            bail!("crate `{crate_name}` has no version `{vers}`");
        };
        if !force && !line.head.yanked {
            bail!(
                "`{crate_name}@{vers}` is not yanked; yank it first (`ktra yank {crate_name}@{vers}`), \
                 or pass `--force`"
            );
        }
        if !force {
            let users = dependents(reg, crate_name, vers)?;
            if !users.is_empty() {
                bail!(
                    "`{crate_name}@{vers}` is required by {}; pass `--force` to remove it anyway",
                    users.join(", ")
                );
            }
        }
        let mut meta = crate::ops::site::meta_store::load(&reg.store, crate_name)?;
        meta.forget(&vers.to_string());
        tx.put_state(
            &crate::ops::site::meta_store::key(crate_name),
            &meta.to_bytes(),
        )?;
        tx.modify_index(crate_name, None, |file| match file.remove(vers) {
            Some(_) => Ok(()),
            None => bail!("crate `{crate_name}` has no version `{vers}`"),
        })?;
        tx.remove_crate(crate_name, &line.head.vers)?;
        tx.message(format!("Remove {crate_name} {vers}"));
        tx.site(SiteEffect::Crates(vec![crate_name.to_owned()]));
        Ok(())
    })?;
    printer.status("Removed", format!("{crate_name} v{vers}"));
    Ok(())
}

/// Other crates' versions with a same-registry dependency this version satisfies.
fn dependents(reg: &Registry, crate_name: &str, vers: &semver::Version) -> Result<Vec<String>> {
    let mut users = Vec::new();
    for key in reg.store.walk(Area::Public, "index")? {
        if key == keys::CONFIG_JSON {
            continue;
        }
        let Some(bytes) = reg.store.read(Area::Public, &key)? else {
            continue;
        };
        let Ok(file) = IndexFile::parse(&bytes) else {
            continue;
        };
        for line in &file.lines {
            if line.head.name == crate_name {
                continue;
            }
            let Ok(entry) = serde_json::from_str::<crate::index::IndexPackage>(&line.raw) else {
                continue;
            };
            let hit = entry.deps.iter().any(|d| {
                d.registry.is_none()
                    && d.package_name() == crate_name
                    && semver::VersionReq::parse(&d.req).is_ok_and(|r| r.matches(vers))
            });
            if hit {
                users.push(format!("`{}@{}`", line.head.name, line.head.vers));
            }
        }
    }
    Ok(users)
}
