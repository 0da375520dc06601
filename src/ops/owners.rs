//! Changing who owns a crate (the logins allowed to publish new versions of it, yank it and
//! change its owners). Every new owner must be a user; a crate keeps at least one owner.

use super::writer::Writer;
use crate::auth::store;
use crate::printer::Printer;
use crate::registry::{Registry, keys};
use crate::storage::Area;
use anyhow::{Result, bail};

/// Adds or removes `logins`; returns the sentence cargo shows.
pub fn change(
    reg: &Registry,
    crate_name: &str,
    logins: &[String],
    add: bool,
    printer: Printer,
) -> Result<String> {
    let _writer = Writer::begin(reg, printer)?;
    if !reg.store.exists(Area::Public, &keys::index(crate_name)?) {
        bail!("crate `{crate_name}` does not exist");
    }
    let mut owners = store::owners(&reg.store, crate_name)?.unwrap_or_default();
    for login in logins {
        if add {
            if store::user(&reg.store, login)?.is_none() {
                bail!("`{login}` is not a user of this registry");
            }
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
    store::put_owners(&reg.store, crate_name, &owners)?;
    let verb = if add { "added to" } else { "removed from" };
    Ok(format!(
        "{} {verb} the owners of `{crate_name}`",
        logins.join(", ")
    ))
}
