//! `ktra add`: every PATH is a `.crate` file, a crate or workspace folder (packaged with
//! `cargo package`), or a folder of `.crate` files. Paths are added in the order given, so a
//! crate can depend on one named before it.

use super::Context;
use crate::ops::add::{AddOptions, AddedCrate, add_crates};
use crate::ops::inspect::CrateInput;
use crate::package::cargo_package::{PackageOptions, package_dir};
use anyhow::{Context as _, Result, bail};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args)]
pub struct AddArgs {
    /// A .crate file, a crate or workspace folder (packaged with `cargo package`), or a folder
    /// of .crate files. Added in the order given.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Package folders without building them (cargo package --no-verify).
    #[arg(long)]
    no_verify: bool,
    /// Package folders with uncommitted changes (cargo package --allow-dirty).
    #[arg(long)]
    allow_dirty: bool,
    /// Print what was added as JSON on stdout.
    #[arg(long)]
    json: bool,
}

// reason: the paths given to `ktra add` are the user's crate files and folders; the registry
// is reached through `add_crates`.
#[allow(clippy::disallowed_methods)]
pub fn run(args: AddArgs, ctx: &Context) -> Result<()> {
    let reg = ctx.open()?;
    let start = Instant::now();
    let mut all: Vec<AddedCrate> = Vec::new();
    let mut pending_files: Vec<CrateInput> = Vec::new();
    let flush =
        |files: &mut Vec<CrateInput>, all: &mut Vec<AddedCrate>, urls: Vec<String>| -> Result<()> {
            if files.is_empty() {
                return Ok(());
            }
            let opts = AddOptions {
                same_registry_urls: urls,
                ..AddOptions::default()
            };
            all.extend(add_crates(&reg, std::mem::take(files), &opts, ctx.printer)?);
            Ok(())
        };
    for path in &args.paths {
        let meta = std::fs::metadata(path)
            .with_context(|| format!("failed to read `{}`", path.display()))?;
        if meta.is_file() {
            pending_files.push(CrateInput::file(path.clone()));
            continue;
        }
        flush(&mut pending_files, &mut all, vec![])?;
        if path.join("Cargo.toml").is_file() {
            let opts = PackageOptions {
                no_verify: args.no_verify,
                allow_dirty: args.allow_dirty,
                quiet: ctx.printer.is_quiet(),
            };
            let packaged = package_dir(&reg.store, &reg.config.name, path, &opts)?;
            let mut inputs = packaged.files.into_iter().map(CrateInput::file).collect();
            flush(&mut inputs, &mut all, vec![packaged.index_url])?;
        } else {
            let mut inputs: Vec<CrateInput> = crate_files_in(path)?
                .into_iter()
                .map(CrateInput::file)
                .collect();
            if inputs.is_empty() {
                bail!(
                    "`{}` holds no Cargo.toml and no .crate files",
                    path.display()
                );
            }
            flush(&mut inputs, &mut all, vec![])?;
        }
    }
    flush(&mut pending_files, &mut all, vec![])?;
    summarize(&all, start, ctx);
    if args.json {
        ctx.printer.data(serde_json::to_string_pretty(&all)?);
    }
    Ok(())
}

// reason: a folder of `.crate` files given to `ktra add` (the user's input).
#[allow(clippy::disallowed_methods)]
fn crate_files_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.with_context(|| format!("failed to list `{}`", dir.display()))?;
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "crate") {
            out.push(entry.into_path());
        }
    }
    Ok(out)
}

fn summarize(all: &[AddedCrate], start: Instant, ctx: &Context) {
    for a in all.iter().filter(|a| !a.new) {
        ctx.printer.status(
            "Unchanged",
            format!(
                "{} v{} (identical file already in the registry)",
                a.name, a.vers
            ),
        );
    }
    let new: Vec<&AddedCrate> = all.iter().filter(|a| a.new).collect();
    let bytes: u64 = new.iter().map(|a| a.size).sum();
    ctx.printer.status(
        "Finished",
        format!(
            "{} new version{} ({:.1} MB) in {:.2}s",
            new.len(),
            if new.len() == 1 { "" } else { "s" },
            bytes as f64 / 1e6,
            start.elapsed().as_secs_f64()
        ),
    );
}
