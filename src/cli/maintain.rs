//! `ktra verify`, `ktra rebuild` and `ktra set-url`: keeping a registry sound.

use super::Context;
use crate::ops;
use anyhow::{Result, bail};

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Print the report as JSON on stdout (with `--fix`, a `removed` list too).
    #[arg(long)]
    json: bool,
    /// Remove orphan crate files (no index line names them). Nothing else is fixed.
    ///
    /// An orphan crate file (`crates/NAME-VERS.crate`) is removed once its crate's index file,
    /// read again, does not name it. On a local registry: those no interrupted change explains,
    /// under the registry lock. On object storage: those older than `--grace` (a younger one
    /// may be the file of a writer still running). Nothing else is fixed (`ktra rebuild`
    /// regenerates derived files, and on a local registry indexes orphans instead of removing
    /// them), and nothing is removed while verify finds any other problem.
    #[arg(long)]
    fix: bool,
    /// With `--fix` on object storage: how old an orphan crate file must be (by its
    /// Last-Modified) before it is removed, e.g. `1h`, `10m`, `0s`.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "1h", requires = "fix")]
    grace: std::time::Duration,
}

#[derive(clap::Args)]
pub struct RebuildArgs {}

#[derive(clap::Args)]
pub struct SiteArgs {}

pub fn site(_: SiteArgs, ctx: &Context) -> Result<()> {
    let reg = ctx.open()?;
    // Object storage has no lock: there the site's state is updated by conditional writes,
    // and a full build is a change like any other.
    let _lock = match reg.store.is_remote() {
        true => None,
        false => Some(crate::storage::RegistryLock::acquire(
            &reg.store.path(crate::storage::Area::State, ""),
            reg.config.lock_timeout.effective(),
            || {
                ctx.printer.status(
                    "Blocking",
                    "waiting for another ktra process to finish with the registry",
                )
            },
        )?),
    };
    if !ops::site::enabled(&reg) {
        let removed = ops::site::remove_all(&reg)?;
        ctx.printer.status(
            "Removed",
            format!("the site ({removed} files): it is turned off (`[site] enabled = false` in ktra.toml)"),
        );
        return Ok(());
    }
    let started = std::time::Instant::now();
    let r = ops::site::build_all(&reg)?;
    ctx.printer.status(
        "Built",
        format!(
            "the site: {} crates, {} pages in {:.2}s ({})",
            r.crates,
            r.pages,
            started.elapsed().as_secs_f64(),
            match reg.store.is_remote() {
                true => format!("{}/index.html", reg.config.url.trim_end_matches('/')),
                false => reg
                    .store
                    .public_dir()
                    .join("index.html")
                    .display()
                    .to_string(),
            }
        ),
    );
    Ok(())
}

#[derive(clap::Args)]
pub struct SetUrlArgs {
    /// The new base URL of `public/`.
    url: String,
    /// The new base URL of the web API (`ktra serve`), written to config.json as `api`.
    #[arg(long)]
    api: Option<String>,
}

pub fn verify(args: VerifyArgs, ctx: &Context) -> Result<()> {
    let reg = ctx.open()?;
    let report = match args.fix {
        true => ops::verify::verify_and_fix(&reg, args.grace, ctx.printer)?,
        false => ops::verify::verify(&reg)?,
    };
    if args.json {
        ctx.printer.data(serde_json::to_string_pretty(&report)?);
    }
    if let Some(op) = &report.interrupted {
        ctx.printer.warn(format!(
            "an interrupted `{op}` change is pending; the next command that writes to the registry completes it"
        ));
    }
    for debris in &report.pending {
        ctx.printer.warn(debris);
    }
    for gap in report.mirror.iter().flat_map(|m| &m.gaps) {
        ctx.printer
            .warn(format!("mirror not self-contained: {gap}"));
    }
    for p in &report.problems {
        ctx.printer.error(p);
    }
    if !report.problems.is_empty() {
        bail!("the registry has {} problem(s)", report.problems.len());
    }
    let mirror = report.mirror.as_ref().map_or(String::new(), |m| {
        format!(
            ", and {} versions of {} crates in the mirror",
            m.versions, m.crates
        )
    });
    ctx.printer.status(
        "Verified",
        format!(
            "{} crates, {} versions{mirror}",
            report.crates, report.versions
        ),
    );
    Ok(())
}

pub fn rebuild(_: RebuildArgs, ctx: &Context) -> Result<()> {
    let reg = ctx.open()?;
    let r = ops::rebuild::rebuild(&reg, ctx.printer)?;
    ctx.printer.status(
        "Rebuilt",
        format!("{} crates, {} versions", r.crates, r.versions),
    );
    Ok(())
}

pub fn set_url(args: SetUrlArgs, ctx: &Context) -> Result<()> {
    let mut reg = ctx.open()?;
    ops::set_url::set_url(&mut reg, &args.url, args.api.as_deref(), ctx.printer)
}
