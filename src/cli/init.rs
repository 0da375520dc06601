//! `ktra init`: create a registry and print the cargo configuration for it.

use super::Context;
use crate::ops::init::{self, InitOptions};
use crate::storage::Location;
use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct InitArgs {
    /// Folder to create the registry in.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Base URL where the `public/` folder will be served.
    #[arg(long)]
    url: String,
    /// The name users give the registry in cargo's configuration.
    #[arg(long, default_value = "ktra")]
    name: String,
    /// Base URL of the web API (`ktra serve`), written to config.json.
    #[arg(long)]
    api: Option<String>,
    /// Every download and index request needs a token.
    #[arg(long)]
    auth_required: bool,
    /// Do not keep a git index.
    #[arg(long)]
    no_git: bool,
    /// Do not write the browsable site (`[site] enabled = false`).
    #[arg(long)]
    no_site: bool,
    /// Keep the served files in object storage, `s3://BUCKET[/PREFIX]`, instead of `public/`
    /// (credentials, region and endpoint from the standard AWS variables). Needs `--state`;
    /// there is no git index.
    #[arg(long, value_name = "S3_URL", requires = "state")]
    storage: Option<String>,
    /// Where the records (users, token hashes, owners, the audit log) live instead of
    /// `state/`: `postgres://`, `mysql://`, `redis://` or `mongodb://` (migrated now; a
    /// password is used but not written to ktra.toml: give it later in KTRA_STATE_URL), or
    /// with `--storage` a private `s3://` location, never publicly readable.
    #[arg(long, value_name = "URL")]
    state: Option<String>,
    /// With `--storage` and a database `--state`: the private location in object storage for
    /// the other private files (site metadata, the mirror's state).
    #[arg(long, value_name = "S3_URL", requires = "storage")]
    state_files: Option<String>,
}

pub fn run(args: InitArgs, ctx: &Context) -> Result<()> {
    let reg = init::init(
        &args.dir,
        InitOptions {
            url: args.url,
            name: args.name,
            api: args.api,
            auth_required: args.auth_required,
            git: !args.no_git,
            site: !args.no_site,
            storage: args.storage.as_deref().map(Location::new),
            state: args.state.clone(),
            state_files: args.state_files,
        },
    )?;
    ctx.printer.status(
        "Created",
        format!("registry `{}` in {}", reg.config.name, reg.root().display()),
    );
    let served = match &reg.config.storage {
        Some(s) => s.url.clone(),
        None => reg.store.public_dir().display().to_string(),
    };
    ctx.printer.note(format!(
        "serve `{served}` at {}, and add this to .cargo/config.toml:",
        reg.config.url
    ));
    ctx.printer.data(init::cargo_snippet(&reg).trim_end());
    if let Some(url) = &args.state
        && crate::state::without_password(url).1
    {
        ctx.printer.note(format!(
            "the state's password is not kept in {}: run ktra with {}=URL (the whole URL, \
             password included) in its environment",
            crate::config::FILE_NAME,
            crate::state::settings::URL_VAR
        ));
    }
    Ok(())
}
