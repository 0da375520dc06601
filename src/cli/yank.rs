//! `ktra yank`, `ktra unyank` and `ktra remove`.

use super::{Context, parse_spec};
use crate::ops;
use anyhow::Result;

#[derive(clap::Args)]
pub struct YankArgs {
    /// The version, as NAME@VERSION.
    #[arg(value_name = "NAME@VERSION")]
    spec: String,
}

#[derive(clap::Args)]
pub struct RemoveArgs {
    /// The version, as NAME@VERSION.
    #[arg(value_name = "NAME@VERSION")]
    spec: String,
    /// Remove even if not yanked or still required by other crates.
    #[arg(long)]
    force: bool,
}

pub fn run(args: YankArgs, yanked: bool, ctx: &Context) -> Result<()> {
    let (name, vers) = parse_spec(&args.spec)?;
    let reg = ctx.open()?;
    ops::yank::set_yanked(&reg, &name, &vers, yanked, ctx.printer)?;
    Ok(())
}

pub fn remove(args: RemoveArgs, ctx: &Context) -> Result<()> {
    let (name, vers) = parse_spec(&args.spec)?;
    let reg = ctx.open()?;
    ops::remove::remove(&reg, &name, &vers, args.force, ctx.printer)
}
