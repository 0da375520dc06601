//! Turning a crate or workspace directory into `.crate` files with the user's own
//! `cargo package`, the packaging `cargo publish` does. The registry is shown to cargo on a
//! loopback address under its own name, so same-registry dependencies resolve and verify.

use super::loopback::Loopback;
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct PackageOptions {
    pub no_verify: bool,
    pub allow_dirty: bool,
    pub quiet: bool,
}

pub struct Packaged {
    /// The `.crate` files, one per publishable package.
    pub files: Vec<PathBuf>,
    /// The index URL cargo wrote into their manifests for this registry.
    pub index_url: String,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<MetaPackage>,
    workspace_members: Vec<String>,
    workspace_root: PathBuf,
    target_directory: PathBuf,
}

#[derive(Deserialize)]
struct MetaPackage {
    id: String,
    name: String,
    version: String,
    manifest_path: PathBuf,
    publish: Option<Vec<String>>,
}

pub fn package_dir(
    public: &crate::storage::Store,
    registry: &str,
    dir: &Path,
    opts: &PackageOptions,
) -> Result<Packaged> {
    let manifest = std::path::absolute(dir.join("Cargo.toml"))?;
    let server = Loopback::start(public.clone())?;
    let env_key = format!(
        "CARGO_REGISTRIES_{}_INDEX",
        registry.to_uppercase().replace('-', "_")
    );
    let meta = metadata(&manifest, &env_key, &server.index_url())?;
    let selected = select(&meta, &manifest, registry)?;
    let mut cmd = Command::new(cargo());
    cmd.arg("package")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["--registry", registry]);
    for p in &selected {
        cmd.args(["-p", &format!("{}@{}", p.name, p.version)]);
    }
    if opts.no_verify {
        cmd.arg("--no-verify");
    }
    if opts.allow_dirty {
        cmd.arg("--allow-dirty");
    }
    if opts.quiet {
        cmd.arg("--quiet");
    }
    cmd.env(&env_key, server.index_url());
    let status = cmd.status().context("failed to run `cargo package`")?;
    if !status.success() {
        bail!(
            "`cargo package` failed for `{}` (its output is above)",
            dir.display()
        );
    }
    let files = selected
        .iter()
        .map(|p| {
            meta.target_directory
                .join("package")
                .join(format!("{}-{}.crate", p.name, p.version))
        })
        .collect();
    Ok(Packaged {
        files,
        index_url: server.index_url(),
    })
}

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn metadata(manifest: &Path, env_key: &str, url: &str) -> Result<Metadata> {
    let out = Command::new(cargo())
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(manifest)
        .env(env_key, url)
        .output()
        .context("failed to run `cargo metadata`")?;
    if !out.status.success() {
        bail!(
            "`cargo metadata` failed for `{}`:\n{}",
            manifest.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    serde_json::from_slice(&out.stdout).context("failed to parse `cargo metadata` output")
}

/// The packages to add: the one at `manifest`, or every publishable member when `manifest` is
/// the workspace root (without its own package).
fn select<'a>(meta: &'a Metadata, manifest: &Path, registry: &str) -> Result<Vec<&'a MetaPackage>> {
    let members: Vec<&MetaPackage> = meta
        .packages
        .iter()
        .filter(|p| meta.workspace_members.contains(&p.id))
        .collect();
    let allowed = |p: &MetaPackage| {
        p.publish
            .as_ref()
            .is_none_or(|list| list.iter().any(|r| r == registry))
    };
    if let Some(own) = members.iter().find(|p| p.manifest_path == manifest) {
        let is_root = meta.workspace_root.join("Cargo.toml") == manifest && members.len() > 1;
        if !is_root {
            if !allowed(own) {
                bail!(
                    "`{}` may not be published to registry `{registry}` (see `publish` in its Cargo.toml)",
                    own.name
                );
            }
            return Ok(vec![own]);
        }
    }
    let chosen: Vec<&MetaPackage> = members.into_iter().filter(|p| allowed(p)).collect();
    if chosen.is_empty() {
        bail!(
            "no member of the workspace at `{}` may be published to registry `{registry}`",
            manifest.display()
        );
    }
    Ok(chosen)
}
