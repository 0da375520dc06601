//! `ktra sync-mirror`: turns the selection (names, lock files, everything, or a refresh of what
//! the mirror holds) into rounds, runs them on a small tokio runtime, commits each, and sums up.

use super::commit;
use super::resolve::{Round, Shared};
use super::select::{self, Want};
use super::{all_names, layout, lockfile};
use crate::printer::Printer;
use crate::registry::Registry;
use crate::storage::Area;
use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Crates per round of a full mirror: bounds memory whatever the upstream's size.
const ALL_CHUNK: usize = 1000;

pub struct SyncOptions {
    pub upstream: String,
    pub specs: Vec<String>,
    pub lockfiles: Vec<PathBuf>,
    pub all: bool,
    pub upstream_git: Option<String>,
    pub all_versions: bool,
    pub dev: bool,
    pub jobs: usize,
    pub retries: u32,
    /// The environment variable holding the upstream's token (`--upstream-token-env`).
    pub upstream_token_env: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// Crates and versions the selection covers (mirrored before or now).
    pub crates: usize,
    pub versions: usize,
    /// Crate files fetched by this run, and their bytes.
    pub downloaded: usize,
    pub bytes: u64,
    /// Crate files a previous, interrupted run had already verified.
    pub reused: usize,
    /// Index files the upstream sent, and those it said were unchanged (304).
    pub index_fetched: usize,
    pub index_unchanged: usize,
    /// Mirror index files rewritten.
    pub updated: usize,
    pub warnings: Vec<String>,
    pub seconds: f64,
}

pub fn sync_mirror(reg: &Registry, opts: SyncOptions, printer: Printer) -> Result<Summary> {
    let started = Instant::now();
    let mut roots: Vec<(String, Want)> = Vec::new();
    for spec in &opts.specs {
        roots.push(select::parse_spec(spec, opts.all_versions)?);
    }
    let replaces = reg.config.mirror.replaces.as_deref().unwrap_or("crates-io");
    let mut urls = vec![opts.upstream.as_str()];
    urls.extend(opts.upstream_git.as_deref());
    let mirrored = |s: &str| lockfile::is_mirrored_source(s, replaces == "crates-io", &urls);
    let mut elsewhere = 0;
    for path in &opts.lockfiles {
        let (wants, others) = lockfile::read(path, &mirrored)?;
        roots.extend(wants);
        elsewhere += others;
    }
    if elsewhere > 0 {
        printer.note(format!(
            "{elsewhere} locked package(s) come from registries other than the one the mirror \
             replaces (`{replaces}`): left out"
        ));
    }
    let follow = !opts.specs.is_empty();
    if opts.all && opts.upstream_git.is_none() {
        bail!(
            "`--all` needs the upstream's git index to list every crate: pass `--upstream-git URL` \
             or set `upstream-git` under `[mirror]` in ktra.toml"
        );
    }
    if roots.is_empty() && !opts.all {
        roots = mirrored_names(reg)?
            .into_iter()
            .map(|n| (n, Want::Refresh))
            .collect();
        if roots.is_empty() {
            bail!(
                "nothing to mirror: name crates (`NAME[@REQ]`), pass `--lockfile PATH`, or `--all`"
            );
        }
    }
    let token_env = opts.upstream_token_env.as_deref();
    let access = super::settings::Access::new(&reg.config, opts.retries, token_env)?;
    if commit::write_config(reg, printer)? {
        // The home page shows the mirror's setup: at once, so that a sync that fails or is
        // killed later does not leave it out.
        reg.refresh_site(printer)?;
    }
    reg.store
        .clean_stale_temp(std::time::Duration::from_secs(3600));
    let progress = printer.progress(0, "Mirroring");
    let shared = Arc::new(Shared {
        store: reg.store.clone(),
        upstream: super::upstream::Upstream::new(&opts.upstream, access)?,
        jobs: tokio::sync::Semaphore::new(opts.jobs.max(1)),
        dev: opts.dev,
        progress: progress.clone(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("failed to start the mirror's runtime")?;
    let mut summary = Summary::default();
    let mut run_round = |roots: Vec<(String, Want)>, keep_parsed: bool| -> Result<()> {
        let round = runtime.block_on(Round::new(shared.clone(), keep_parsed).run(roots));
        let c = &round.counts;
        summary.downloaded += c.downloaded;
        summary.bytes += c.bytes;
        summary.reused += c.reused;
        summary.index_fetched += c.index_fetched;
        summary.index_unchanged += c.index_unchanged;
        summary.warnings.extend(round.warnings.iter().cloned());
        if !round.failures.is_empty() {
            let shown: Vec<&str> = round.failures.iter().take(20).map(String::as_str).collect();
            let more = round.failures.len().saturating_sub(shown.len());
            let tail = if more > 0 {
                format!("\n... and {more} more")
            } else {
                String::new()
            };
            bail!(
                "failed to sync the mirror from `{}`; nothing new was added to its index (run again to resume)\n{}{tail}",
                opts.upstream,
                shown.join("\n")
            );
        }
        let mut crates = round.crates;
        let rounds: Vec<_> = round
            .order
            .iter()
            .filter_map(|k| crates.remove(k))
            .collect();
        for c in &rounds {
            let held = if c.picked > 0 {
                c.picked
            } else {
                c.have.lines.len()
            };
            summary.crates += usize::from(held > 0);
            summary.versions += held;
        }
        summary.updated += commit::commit(reg, rounds, printer)?;
        Ok(())
    };
    if opts.all {
        let git = opts.upstream_git.as_deref().expect("checked above");
        let names = all_names::list(reg, git, printer)?;
        let every = |n: &String| {
            let want = Want::Req {
                req: semver::VersionReq::STAR,
                all: true,
                follow: false,
            };
            (n.clone(), want)
        };
        for chunk in names.chunks(ALL_CHUNK) {
            run_round(chunk.iter().map(every).collect(), false)?;
        }
    } else {
        run_round(roots, follow)?;
    }
    progress.finish_and_clear();
    for w in &summary.warnings {
        printer.warn(w);
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Names of every crate the mirror holds (from its index files).
fn mirrored_names(reg: &Registry) -> Result<Vec<String>> {
    let prefix = format!("{}/", layout::INDEX_DIR);
    let mut names = Vec::new();
    for key in reg.store.walk(Area::Public, layout::INDEX_DIR)? {
        let rel = key.strip_prefix(&prefix).unwrap_or(&key);
        if rel != "config.json" {
            names.extend(rel.rsplit('/').next().map(str::to_owned));
        }
    }
    Ok(names)
}

/// The `.cargo/config.toml` lines that make cargo use the mirror.
pub fn cargo_snippet(reg: &Registry, upstream: &str) -> String {
    let mirror = format!("{}-mirror", reg.config.name);
    let url = layout::sparse_url(reg);
    let replaces = reg.config.mirror.replaces.as_deref().unwrap_or("crates-io");
    let mut out = format!("[source.{replaces}]\n");
    if replaces != "crates-io" {
        let up = if upstream.starts_with("sparse+") {
            upstream.to_owned()
        } else {
            format!("sparse+{upstream}")
        };
        out.push_str(&format!("registry = \"{up}\"\n"));
    }
    out.push_str(&format!("replace-with = \"{mirror}\"\n\n"));
    if reg.config.auth_required {
        out.push_str(&format!(
            "[registries.{mirror}]\nindex = \"{url}\"\ncredential-provider = \"cargo:token\"\n"
        ));
    } else {
        out.push_str(&format!("[source.{mirror}]\nregistry = \"{url}\"\n"));
    }
    out
}
