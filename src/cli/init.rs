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
    /// Where the private files (users, token hashes, owners) live with `--storage`: a location
    /// that is never publicly readable, outside the served one.
    #[arg(long, value_name = "S3_URL", requires = "storage")]
    state: Option<String>,
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
            state: args.state.as_deref().map(Location::new),
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
    Ok(())
}
