//! Users and tokens, managed from the command line (there is no self-registration): add and
//! remove users, create tokens (the secret is returned once, only its hash is kept), list and
//! revoke them. Every change is made under the registry lock (on object storage: with conditional
//! writes) and written to the audit log.

use super::writer::Writer;
use crate::auth::{self, Scope, TokenRecord, User, store};
use crate::printer::Printer;
use crate::registry::Registry;
use anyhow::{Result, anyhow, bail};
use serde_json::json;
use std::time::Duration;

pub fn add_user(
    reg: &Registry,
    login: &str,
    name: Option<String>,
    printer: Printer,
) -> Result<User> {
    auth::check_login(login).map_err(|e| anyhow!(e))?;
    let _writer = Writer::begin_for_state(reg, printer)?;
    if store::user(reg.state()?, login)?.is_some() {
        bail!("user `{login}` already exists");
    }
    let mut id = store::users(reg.state()?)?
        .iter()
        .map(|u| u.id)
        .max()
        .unwrap_or(0)
        + 1;
    // Users added at once on object storage would see the same largest id.
    while !store::reserve_user_id(reg.state()?, id, login)? {
        id += 1;
    }
    let user = User {
        id,
        login: login.to_owned(),
        name,
        created: auth::now(),
    };
    if !store::create_user(reg.state()?, &user)? {
        // Another writer added the login since the check above (object storage).
        bail!("user `{login}` already exists");
    }
    store::audit(
        reg.state()?,
        json!({ "event": "user-added", "login": login }),
    )?;
    Ok(user)
}

/// Removes a user and revokes every token of theirs.
pub fn remove_user(reg: &Registry, login: &str, printer: Printer) -> Result<usize> {
    let _writer = Writer::begin_for_state(reg, printer)?;
    if store::user(reg.state()?, login)?.is_none() {
        bail!("user `{login}` does not exist");
    }
    let mut revoked = 0;
    for (hash, rec) in store::tokens(reg.state()?)? {
        if rec.login == login {
            store::remove_token(reg.state()?, &hash)?;
            store::audit(
                reg.state()?,
                json!({ "event": "token-revoked", "login": login, "token": rec.id, "reason": "user removed" }),
            )?;
            revoked += 1;
        }
    }
    store::remove_user(reg.state()?, login)?;
    store::audit(
        reg.state()?,
        json!({ "event": "user-removed", "login": login }),
    )?;
    Ok(revoked)
}

pub struct NewToken {
    pub login: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub crates: Vec<String>,
    pub lifetime: Option<Duration>,
}

/// Creates a token; returns the secret (shown once) and its record.
pub fn create_token(
    reg: &Registry,
    new: NewToken,
    printer: Printer,
) -> Result<(String, TokenRecord)> {
    for glob in &new.crates {
        globset::Glob::new(glob)
            .map_err(|e| anyhow!("`--crate {glob}` is not a valid glob: {e}"))?;
    }
    let _writer = Writer::begin_for_state(reg, printer)?;
    if store::user(reg.state()?, &new.login)?.is_none() {
        bail!(
            "user `{}` does not exist (add it with `ktra user add {}`)",
            new.login,
            new.login
        );
    }
    let secret = auth::new_token()?;
    let hash = auth::token_hash(&secret);
    let created = auth::now();
    let record = TokenRecord {
        id: hash[..12].to_owned(),
        login: new.login,
        name: new.name,
        scopes: new.scopes,
        crates: new.crates,
        created,
        expires: new.lifetime.map(|d| created + d.as_secs()),
    };
    if !store::create_token(reg.state()?, &hash, &record)? {
        bail!("failed to create a token: its hash is already recorded (try again)");
    }
    store::audit(
        reg.state()?,
        json!({ "event": "token-created", "login": record.login, "token": record.id, "name": record.name }),
    )?;
    Ok((secret, record))
}

/// Revokes the token with this id (as shown by `token list`).
pub fn revoke_token(reg: &Registry, id: &str, printer: Printer) -> Result<TokenRecord> {
    let _writer = Writer::begin_for_state(reg, printer)?;
    let matches: Vec<(String, TokenRecord)> = store::tokens(reg.state()?)?
        .into_iter()
        .filter(|(_, r)| r.id == id)
        .collect();
    let [(hash, record)] = matches.as_slice() else {
        bail!("no token has the id `{id}` (see `ktra token list`)");
    };
    store::remove_token(reg.state()?, hash)?;
    store::audit(
        reg.state()?,
        json!({ "event": "token-revoked", "login": record.login, "token": record.id }),
    )?;
    Ok(record.clone())
}
