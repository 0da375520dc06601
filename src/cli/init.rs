//! `ktra init`: create a registry and print the cargo configuration for it.

use super::Context;
use crate::ops::init::{self, InitOptions};
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
        },
    )?;
    ctx.printer.status(
        "Created",
        format!("registry `{}` in {}", reg.config.name, reg.root().display()),
    );
    ctx.printer.note(format!(
        "serve `{}` at {}, and add this to .cargo/config.toml:",
        reg.store.public_dir().display(),
        reg.config.url
    ));
    ctx.printer.data(init::cargo_snippet(&reg).trim_end());
    Ok(())
}
