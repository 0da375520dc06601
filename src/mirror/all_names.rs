//! Every crate name of the upstream, for `--all`: a sparse index cannot be listed, so the names
//! come from the upstream's git index, fetched with the git command line (it speaks every
//! transport, dumb HTTP included) into a private bare repository and read with libgit2.

// reason: that repository is the mirror's cache of the upstream, run by the git command line;
// it is no registry data.
#![allow(clippy::disallowed_methods)]

use super::layout;
use super::select::is_safe_name;
use crate::printer::Printer;
use crate::registry::Registry;
use crate::storage::Area;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;

const REF: &str = "refs/ktra/upstream";

/// The upstream's crate names (lowercase, as its index files are named), sorted.
pub fn list(reg: &Registry, git_url: &str, printer: Printer) -> Result<Vec<String>> {
    // Kept in the state folder for the next run; a registry in object storage has none on
    // this machine (only `ktra.toml`), so there it is a temporary folder, fetched anew.
    let scratch = match reg.store.is_remote() {
        true => Some(
            tempfile::Builder::new()
                .prefix("ktra-upstream-git-")
                .tempdir()
                .context("failed to create a temporary folder")?,
        ),
        false => None,
    };
    let dir = match &scratch {
        Some(t) => t.path().join("upstream.git"),
        None => reg
            .store
            .path(Area::State, &format!("{}/upstream.git", layout::LOCK_DIR)),
    };
    if !dir.join("HEAD").exists() {
        git(&dir, &["init", "--quiet", "--bare", "."], true)?;
    }
    printer.status("Fetching", format!("the crate list from {git_url}"));
    let refspec = format!("+HEAD:{REF}");
    // A shallow fetch is far smaller; dumb HTTP cannot do it, so fall back to a full one.
    if git(
        &dir,
        &["fetch", "--quiet", "--depth", "1", git_url, &refspec],
        false,
    )
    .is_err()
    {
        git(&dir, &["fetch", "--quiet", git_url, &refspec], true)?;
    }
    names_in(&dir)
}

fn git(dir: &Path, args: &[&str], report: bool) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("failed to create `{}`", dir.display()))?;
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .context("failed to run `git` (is git installed?)")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if report {
            bail!("`git {}` failed: {}", args.join(" "), err.trim());
        }
        bail!("git failed");
    }
    Ok(())
}

fn names_in(dir: &Path) -> Result<Vec<String>> {
    let repo = git2::Repository::open_bare(dir)
        .with_context(|| format!("failed to open `{}`", dir.display()))?;
    let tree = repo
        .find_reference(REF)
        .and_then(|r| r.peel_to_tree())
        .context("failed to read the upstream's git index")?;
    let mut names = Vec::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
        let is_file = entry.kind() == Some(git2::ObjectType::Blob);
        if let (true, Some(name)) = (is_file, entry.name()) {
            // Index files sit one or two folders down; `config.json` and dot files are not crates.
            if !parent.is_empty() && is_safe_name(name) {
                names.push(name.to_ascii_lowercase());
            }
        }
        git2::TreeWalkResult::Ok
    })
    .context("failed to list the upstream's git index")?;
    names.sort();
    names.dedup();
    Ok(names)
}
