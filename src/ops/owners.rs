//! Changing who owns a crate (the logins allowed to publish new versions of it, yank it and
//! change its owners). Every new owner must be a user; a crate keeps at least one owner.

use super::writer::Writer;
use crate::auth::store;
use crate::printer::Printer;
use crate::registry::{Registry, keys};
use crate::storage::Area;
use anyhow::{Context, Result, anyhow, bail};

/// Adds or removes `logins`; returns the sentence cargo shows.
pub fn change(
    reg: &Registry,
    crate_name: &str,
    logins: &[String],
    add: bool,
    printer: Printer,
) -> Result<String> {
    // Both become state keys (`owners/NAME.json`, `users/LOGIN.json`): checked before any use.
    crate::index::CrateName::new(crate_name)
        .with_context(|| format!("`{crate_name}` is not a crate name"))?;
    for login in logins {
        crate::auth::check_login(login).map_err(|e| anyhow!(e))?;
    }
    let _writer = Writer::begin_for_state(reg, printer)?;
    if !reg.store.exists(Area::Public, &keys::index(crate_name)?) {
        bail!("crate `{crate_name}` does not exist");
    }
    if add {
        for login in logins {
            if store::user(reg.state()?, login)?.is_none() {
                bail!("`{login}` is not a user of this registry");
            }
        }
    }
    // Re-run on the owners another writer recorded meanwhile (object storage).
    store::update_owners(reg.state()?, crate_name, |owners| {
        for login in logins {
            if add {
                if !owners.contains(login) {
                    owners.push(login.clone());
                }
            } else {
                owners.retain(|o| o != login);
            }
        }
        if owners.is_empty() {
            bail!("crate `{crate_name}` must keep at least one owner");
        }
        Ok(())
    })?;
    let verb = if add { "added to" } else { "removed from" };
    Ok(format!(
        "{} {verb} the owners of `{crate_name}`",
        logins.join(", ")
    ))
}
