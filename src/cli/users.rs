//! `ktra user add|remove|list` and `ktra token create|list|revoke`.

use super::Context;
use crate::auth::{self, Scope, store};
use crate::ops::users::{self, NewToken};
use anyhow::{Result, anyhow};

#[derive(clap::Subcommand)]
pub enum UserCommand {
    /// Add a user (there is no self-registration).
    Add {
        login: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Remove a user and revoke all of their tokens.
    Remove { login: String },
    /// List users.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Subcommand)]
pub enum TokenCommand {
    /// Create a token for a user; the token is printed once, on stdout, and stored only as a hash.
    Create {
        login: String,
        /// A name to recognise the token by in `token list`.
        #[arg(long, default_value = "cli")]
        name: String,
        /// What the token may do (repeat or separate with commas). Default: publish-new,
        /// publish-update, yank, read.
        #[arg(long = "scope", value_enum, value_delimiter = ',')]
        scopes: Vec<Scope>,
        /// Limit the token to crates matching this glob (repeatable), e.g. `acme-*`.
        #[arg(long = "crate", value_name = "GLOB")]
        crates: Vec<String>,
        /// Lifetime, e.g. 90d or 12h. Default: no expiry.
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// List tokens (never the secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by the id `token list` shows.
    Revoke { id: String },
}

pub fn user(cmd: UserCommand, ctx: &Context) -> Result<()> {
    let reg = ctx.open()?;
    match cmd {
        UserCommand::Add { login, name } => {
            let u = users::add_user(&reg, &login, name, ctx.printer)?;
            ctx.printer
                .status("Added", format!("user `{}` (id {})", u.login, u.id));
        }
        UserCommand::Remove { login } => {
            let revoked = users::remove_user(&reg, &login, ctx.printer)?;
            ctx.printer.status(
                "Removed",
                format!("user `{login}` and revoked {revoked} token(s)"),
            );
        }
        UserCommand::List { json } => {
            let all = store::users(reg.state()?)?;
            if json {
                ctx.printer.data(serde_json::to_string_pretty(&all)?);
            } else {
                for u in all {
                    ctx.printer.data(format!(
                        "{:>4}  {:20}  {}",
                        u.id,
                        u.login,
                        u.name.unwrap_or_default()
                    ));
                }
            }
        }
    }
    Ok(())
}

pub fn token(cmd: TokenCommand, ctx: &Context) -> Result<()> {
    let reg = ctx.open()?;
    match cmd {
        TokenCommand::Create {
            login,
            name,
            scopes,
            crates,
            expires_in,
        } => {
            let lifetime = expires_in
                .as_deref()
                .map(auth::parse_lifetime)
                .transpose()
                .map_err(|e| anyhow!(e))?;
            let scopes = if scopes.is_empty() {
                vec![
                    Scope::PublishNew,
                    Scope::PublishUpdate,
                    Scope::Yank,
                    Scope::Read,
                ]
            } else {
                scopes
            };
            let new = NewToken {
                login,
                name,
                scopes,
                crates,
                lifetime,
            };
            let (secret, rec) = users::create_token(&reg, new, ctx.printer)?;
            let scopes: Vec<&str> = rec.scopes.iter().map(|s| s.name()).collect();
            ctx.printer.status(
                "Created",
                format!(
                    "token `{}` ({}) for `{}`: {}; it is shown only now",
                    rec.name,
                    rec.id,
                    rec.login,
                    scopes.join(", ")
                ),
            );
            ctx.printer.data(secret);
        }
        TokenCommand::List { json } => {
            let all: Vec<auth::TokenRecord> = store::tokens(reg.state()?)?
                .into_iter()
                .map(|(_, r)| r)
                .collect();
            if json {
                ctx.printer.data(serde_json::to_string_pretty(&all)?);
            } else {
                for r in all {
                    let scopes: Vec<&str> = r.scopes.iter().map(|s| s.name()).collect();
                    let expires = r.expires.map_or("never".to_owned(), |e| {
                        humantime::format_rfc3339_seconds(
                            std::time::UNIX_EPOCH + std::time::Duration::from_secs(e),
                        )
                        .to_string()
                    });
                    let crates = if r.crates.is_empty() {
                        "*".to_owned()
                    } else {
                        r.crates.join(",")
                    };
                    ctx.printer.data(format!(
                        "{}  {:12}  {:10}  {}  crates {}  expires {}",
                        r.id,
                        r.login,
                        r.name,
                        scopes.join(","),
                        crates,
                        expires
                    ));
                }
            }
        }
        TokenCommand::Revoke { id } => {
            let rec = users::revoke_token(&reg, &id, ctx.printer)?;
            ctx.printer.status(
                "Revoked",
                format!("token `{}` ({}) of `{}`", rec.name, rec.id, rec.login),
            );
        }
    }
    Ok(())
}
