//! The command line: global flags, the subcommands, and the error report (`error:` then
//! `Caused by:` lines, as cargo prints them). Exit codes: 0 ok, 1 error, 2 usage.

mod add;
mod init;
mod list;
mod maintain;
mod migrate;
mod mirror;
mod owner;
mod serve;
mod state;
mod transfer;
mod users;
mod yank;

use crate::printer::Printer;
use crate::registry::Registry;
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "ktra",
    version,
    about = "A private Cargo registry as plain files"
)]
struct Cli {
    /// The registry folder (default: KTRA_REGISTRY, else the nearest folder holding ktra.toml).
    #[arg(
        short = 'r',
        long,
        global = true,
        env = "KTRA_REGISTRY",
        value_name = "DIR"
    )]
    registry: Option<PathBuf>,
    /// Print no status messages.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a registry.
    Init(init::InitArgs),
    /// Add crates: .crate files, crate or workspace folders, or folders of .crate files.
    Add(add::AddArgs),
    /// Mark a version yanked: cargo no longer picks it for new lock files.
    Yank(yank::YankArgs),
    /// Undo a yank.
    Unyank(yank::YankArgs),
    /// Delete a yanked version for good.
    Remove(yank::RemoveArgs),
    /// List crates, or the versions of one crate.
    List(list::ListArgs),
    /// Check the whole registry the way cargo would use it.
    Verify(maintain::VerifyArgs),
    /// Regenerate every derived file from the crate files and the state.
    Rebuild(maintain::RebuildArgs),
    /// Copy crates (named, from lock files, or all) from an upstream registry into the mirror.
    SyncMirror(mirror::SyncMirrorArgs),
    /// Rebuild the browsable site in public/ (home, crate pages, search index, feed).
    Site(maintain::SiteArgs),
    /// Change the URL the registry is served at (rewrites config.json only).
    SetUrl(maintain::SetUrlArgs),
    /// Serve the registry over HTTP (public/ read-only, with caching headers).
    Serve(serve::ServeArgs),
    /// Print an nginx server block that serves this registry (with `ktra serve` for the API).
    NginxConfig(serve::NginxArgs),
    /// Manage users (for the publish API).
    #[command(subcommand)]
    User(users::UserCommand),
    /// Manage API tokens: hashed, scoped, optionally limited to crates and expiring.
    #[command(subcommand)]
    Token(users::TokenCommand),
    /// Manage crate owners (as an administrator).
    #[command(subcommand)]
    Owner(owner::OwnerCommand),
    /// Write the index and crate files (and the mirror's) to one archive, or the changes since an earlier one.
    Export(transfer::ExportArgs),
    /// Check an archive from `ktra export` and apply it to this registry.
    Import(transfer::ImportArgs),
    /// Copy the registry into object storage (`--to s3://…`), or from there into a folder, verified.
    Migrate(migrate::MigrateArgs),
    /// The records (users, tokens, owners, audit log): schema migrations, checks, copies between backends.
    #[command(subcommand)]
    State(state::StateCommand),
}

pub struct Context {
    registry: Option<PathBuf>,
    printer: Printer,
}

impl Context {
    fn open(&self) -> Result<Registry> {
        Registry::discover(self.registry.as_deref())
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let printer = Printer::new(cli.quiet);
    let ctx = Context {
        registry: cli.registry,
        printer,
    };
    let result = match cli.command {
        Command::Init(a) => init::run(a, &ctx),
        Command::Add(a) => add::run(a, &ctx),
        Command::Yank(a) => yank::run(a, true, &ctx),
        Command::Unyank(a) => yank::run(a, false, &ctx),
        Command::Remove(a) => yank::remove(a, &ctx),
        Command::List(a) => list::run(a, &ctx),
        Command::Verify(a) => maintain::verify(a, &ctx),
        Command::Rebuild(a) => maintain::rebuild(a, &ctx),
        Command::SetUrl(a) => maintain::set_url(a, &ctx),
        Command::Site(a) => maintain::site(a, &ctx),
        Command::SyncMirror(a) => mirror::run(a, &ctx),
        Command::Serve(a) => serve::run(a, &ctx),
        Command::NginxConfig(a) => serve::nginx(a, &ctx),
        Command::User(c) => users::user(c, &ctx),
        Command::Token(c) => users::token(c, &ctx),
        Command::Owner(c) => owner::run(c, &ctx),
        Command::Export(a) => transfer::export(a, &ctx),
        Command::Import(a) => transfer::import(a, &ctx),
        Command::Migrate(a) => migrate::run(a, &ctx),
        Command::State(c) => state::run(c, &ctx),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&printer, &e);
            ExitCode::FAILURE
        }
    }
}

fn report(printer: &Printer, e: &anyhow::Error) {
    printer.error(e);
    for cause in e.chain().skip(1) {
        eprintln!("\nCaused by:");
        for line in cause.to_string().lines() {
            eprintln!("  {line}");
        }
    }
}

/// `NAME@VERSION` as given on the command line.
fn parse_spec(spec: &str) -> Result<(String, semver::Version)> {
    let Some((name, vers)) = spec.split_once('@') else {
        anyhow::bail!("`{spec}` is not NAME@VERSION");
    };
    let version = semver::Version::parse(vers)
        .map_err(|e| anyhow::anyhow!("`{vers}` in `{spec}` is not a semver version: {e}"))?;
    Ok((name.to_owned(), version))
}
