//! `ktra owner add|remove|list CRATE [LOGIN]`: crate owners, for administrators (the API's
//! owner commands need an owner's token; these need access to the registry folder).

use super::Context;
use crate::auth::store;
use anyhow::Result;

#[derive(clap::Subcommand)]
pub enum OwnerCommand {
    /// Make a user an owner of a crate.
    Add { krate: String, login: String },
    /// Remove an owner (a crate keeps at least one).
    Remove { krate: String, login: String },
    /// List a crate's owners.
    List { krate: String },
}

pub fn run(cmd: OwnerCommand, ctx: &Context) -> Result<()> {
    let reg = ctx.open()?;
    match cmd {
        OwnerCommand::Add { krate, login } => change(&reg, &krate, &login, true, ctx)?,
        OwnerCommand::Remove { krate, login } => change(&reg, &krate, &login, false, ctx)?,
        OwnerCommand::List { krate } => {
            crate::ops::yank::read_index(&reg, &krate)?;
            for login in store::owners(reg.state()?, &krate)?.unwrap_or_default() {
                ctx.printer.data(login);
            }
        }
    }
    Ok(())
}

fn change(
    reg: &crate::registry::Registry,
    krate: &str,
    login: &str,
    add: bool,
    ctx: &Context,
) -> Result<()> {
    let msg = crate::ops::owners::change(reg, krate, &[login.to_owned()], add, ctx.printer)?;
    let event = if add { "owner-added" } else { "owner-removed" };
    store::audit(
        reg.state()?,
        serde_json::json!({ "event": event, "by": "cli", "crate": krate, "users": [login] }),
    )?;
    ctx.printer.status("Owners", msg);
    Ok(())
}
