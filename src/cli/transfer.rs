//! `ktra export` and `ktra import`: a registry's content as one archive, to carry where no
//! network reaches, and back into a tree there.

use super::Context;
use crate::ops::transfer::{self, ExportOptions, ImportOptions, human_bytes, manifest::short};
use crate::registry::Registry;
use anyhow::{Context as _, Result};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ExportArgs {
    /// The archive to write (a tar file).
    #[arg(value_name = "OUT.tar")]
    out: PathBuf,
    /// Carry only what changed since this earlier archive of the registry.
    #[arg(long, value_name = "PREVIOUS.tar")]
    since: Option<PathBuf>,
    /// Replace OUT.tar if it exists.
    #[arg(long)]
    force: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// An archive written by `ktra export`.
    #[arg(value_name = "ARCHIVE")]
    archive: PathBuf,
    /// Create the registry, to be served at this URL, if it does not exist.
    #[arg(long, value_name = "URL")]
    init_url: Option<String>,
    /// Let a full export delete the registry's files that it does not have.
    #[arg(long)]
    prune: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub fn export(args: ExportArgs, ctx: &Context) -> Result<()> {
    let run = || {
        let reg = ctx.open()?;
        let opts = ExportOptions {
            out: &args.out,
            since: args.since.as_deref(),
            force: args.force,
        };
        transfer::export(&reg, &opts, ctx.printer)
    };
    let r = run().with_context(|| format!("failed to export to `{}`", args.out.display()))?;
    if args.json {
        ctx.printer.data(serde_json::to_string_pretty(&r)?);
    }
    let base = match &r.base {
        Some(b) => format!(", continuing {}", short(b)),
        None => String::new(),
    };
    ctx.printer.status(
        "Exported",
        format!(
            "{} of {} files ({}), {} removed, to `{}` (export {}{base})",
            r.carried,
            r.files,
            human_bytes(r.bytes),
            r.removed,
            args.out.display(),
            short(&r.id)
        ),
    );
    Ok(())
}

pub fn import(args: ImportArgs, ctx: &Context) -> Result<()> {
    let run = || {
        let root = match &ctx.registry {
            Some(dir) => dir.clone(),
            None => Registry::discover(None)?.root().to_owned(),
        };
        let opts = ImportOptions {
            init_url: args.init_url.clone(),
            prune: args.prune,
        };
        transfer::import(&root, &args.archive, &opts, ctx.printer)
    };
    let r = run().with_context(|| format!("failed to import `{}`", args.archive.display()))?;
    if args.json {
        ctx.printer.data(serde_json::to_string_pretty(&r)?);
    }
    if r.written == 0 && r.removed == 0 && !r.created {
        ctx.printer.status(
            "Fresh",
            format!("the registry already holds export {}", short(&r.id)),
        );
    } else {
        ctx.printer.status(
            "Imported",
            format!(
                "export {}: {} files written ({}), {} removed",
                short(&r.id),
                r.written,
                human_bytes(r.bytes),
                r.removed
            ),
        );
    }
    Ok(())
}
