//! `ktra sync-mirror`: copy crates from an upstream registry into the tree's mirror.

use super::Context;
use crate::mirror::{SyncOptions, sync};
use anyhow::{Result, bail};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct SyncMirrorArgs {
    /// Crates to mirror with their dependencies: NAME (newest version) or NAME@REQ (`serde@^1.0`).
    #[arg(value_name = "CRATE[@REQ]")]
    specs: Vec<String>,
    /// The upstream's sparse index URL (default: `upstream` under `[mirror]` in ktra.toml).
    #[arg(long, value_name = "URL")]
    upstream: Option<String>,
    /// Mirror exactly the registry packages of a Cargo.lock (repeatable).
    #[arg(long = "lockfile", value_name = "PATH")]
    lockfiles: Vec<PathBuf>,
    /// Mirror every version of every crate of the upstream.
    #[arg(long)]
    all: bool,
    /// The upstream's git index URL, where `--all` finds every crate name (default:
    /// `upstream-git` under `[mirror]`).
    #[arg(long, value_name = "URL")]
    upstream_git: Option<String>,
    /// Take every version matching each CRATE@REQ, not only the newest.
    #[arg(long)]
    all_versions: bool,
    /// Follow dev-dependencies too.
    #[arg(long)]
    dev: bool,
    /// Downloads in flight at once.
    #[arg(short, long, default_value_t = 16, value_name = "N")]
    jobs: usize,
    /// Retries of a failed request (with backoff) before giving up.
    #[arg(long, default_value_t = 3, value_name = "N")]
    retries: u32,
    /// The environment variable holding the upstream's token, sent as `Authorization` to the
    /// upstream's own host (default: `upstream-token-env` under `[mirror]`).
    #[arg(long, value_name = "VAR")]
    upstream_token_env: Option<String>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub fn run(args: SyncMirrorArgs, ctx: &Context) -> Result<()> {
    let reg = ctx.open()?;
    let settings = &reg.config.mirror;
    let Some(upstream) = args.upstream.or_else(|| settings.upstream.clone()) else {
        bail!("no upstream: pass `--upstream URL` or set `upstream` under `[mirror]` in ktra.toml");
    };
    let opts = SyncOptions {
        upstream: upstream.clone(),
        specs: args.specs,
        lockfiles: args.lockfiles,
        all: args.all,
        upstream_git: args.upstream_git.or_else(|| settings.upstream_git.clone()),
        all_versions: args.all_versions,
        dev: args.dev,
        jobs: args.jobs,
        retries: args.retries,
        upstream_token_env: args.upstream_token_env,
    };
    let summary = crate::mirror::sync_mirror(&reg, opts, ctx.printer)?;
    let mib = summary.bytes as f64 / (1024.0 * 1024.0);
    ctx.printer.status(
        "Mirrored",
        format!(
            "{} versions of {} crates in {:.2}s: {} downloaded ({mib:.1} MiB, {:.1} MiB/s), \
             {} index files fetched, {} unchanged, {} updated",
            summary.versions,
            summary.crates,
            summary.seconds,
            summary.downloaded,
            mib / summary.seconds.max(1e-3),
            summary.index_fetched,
            summary.index_unchanged,
            summary.updated,
        ),
    );
    let snippet = sync::cargo_snippet(&reg, &upstream);
    if args.json {
        let mut value = serde_json::to_value(&summary)?;
        value["cargo_config"] = serde_json::Value::String(snippet);
        ctx.printer.data(value);
    } else {
        ctx.printer
            .note("to build from the mirror, add to .cargo/config.toml:");
        ctx.printer.data(snippet.trim_end());
    }
    Ok(())
}
