//! `ktra migrate`: copy a local registry into object storage, or one in object storage into a
//! new local folder, verified.

use super::Context;
use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct MigrateArgs {
    /// Where to copy the registry: `s3://BUCKET[/PREFIX]` for the served files (with
    /// `--state-to`), or a new folder when the registry lives in object storage.
    #[arg(long, value_name = "S3_URL|DIR")]
    to: String,
    /// Where the private files (users, token hashes, owners) go with `--to s3://…`: a location
    /// that is never publicly readable, outside the served one.
    #[arg(long, value_name = "S3_URL")]
    state_to: Option<String>,
    /// The folder for the new `ktra.toml` with `--to s3://…` (default: `NAME-s3` beside the
    /// registry folder).
    #[arg(long, value_name = "DIR")]
    settings_dir: Option<PathBuf>,
    /// The base URL the copy will be served at (default: the registry's); `config.json` and
    /// the site are made for it.
    #[arg(long)]
    url: Option<String>,
    /// With `--to DIR`: do not build a git index in the new folder.
    #[arg(long)]
    no_git: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[cfg(not(feature = "aws"))]
pub fn run(_: MigrateArgs, _: &Context) -> Result<()> {
    anyhow::bail!("this ktra was built without object storage (the `aws` feature)")
}

#[cfg(feature = "aws")]
pub fn run(args: MigrateArgs, ctx: &Context) -> Result<()> {
    use crate::ops::migrate::{self, Destination, MigrateOptions};
    use anyhow::bail;
    let to = match args.to.starts_with("s3://") {
        true => {
            let Some(state) = args.state_to else {
                bail!(
                    "`--to {}` needs `--state-to s3://BUCKET[/PREFIX]` for the private files",
                    args.to
                );
            };
            if args.no_git {
                ctx.printer
                    .note("`--no-git` is implied: a registry in object storage has no git index");
            }
            Destination::Buckets {
                storage: args.to,
                state,
                settings_dir: args.settings_dir,
            }
        }
        false => {
            if args.state_to.is_some() || args.settings_dir.is_some() {
                bail!(
                    "`--state-to` and `--settings-dir` go with `--to s3://…`; a folder holds its \
                     own settings and private files"
                );
            }
            Destination::Folder {
                dir: PathBuf::from(args.to),
                git: !args.no_git,
            }
        }
    };
    let src = ctx.open()?;
    let url_given = args.url.is_some();
    let r = migrate::migrate(&src, MigrateOptions { to, url: args.url }, ctx.printer)?;
    if args.json {
        ctx.printer.data(serde_json::to_string_pretty(&r)?);
    }
    let p = &ctx.printer;
    let mut kinds = vec![
        ("crate files", r.crate_files),
        ("index files", r.index_files),
        ("private files", r.private_files),
        ("site files", r.site_files),
    ];
    if r.mirror {
        kinds.extend([
            ("crate files of the mirror", r.mirror_crate_files),
            ("index files of the mirror", r.mirror_index_files),
            (
                "upstream index files as last fetched (the next sync revalidates them)",
                r.mirror_upstream_files,
            ),
        ]);
    }
    for (what, c) in kinds {
        let kept = match c.already_there {
            0 => String::new(),
            n => format!(", {n} already there with the same bytes"),
        };
        p.status(
            "Copied",
            format!("{} {what} ({} bytes){kept}", c.copied, c.bytes),
        );
    }
    if r.removed > 0 {
        p.status(
            "Removed",
            format!(
                "{} objects an earlier migrate had copied that the registry no longer has",
                r.removed
            ),
        );
    }
    if r.mirror_config_rewritten {
        p.status("Wrote", "the mirror's config.json for the new URL");
    }
    if r.site_rebuilt {
        p.status("Rebuilt", "the site for the new URL");
    }
    if r.git_index {
        p.status("Built", "the git index from the copied index files");
    }
    for skipped in &r.not_copied {
        p.note(format!("not copied: {skipped}"));
    }
    let mirror = match r.mirror {
        true => format!(
            ", and {} versions of {} crates in the mirror",
            r.mirror_versions, r.mirror_crates
        ),
        false => String::new(),
    };
    p.status(
        "Verified",
        format!(
            "{}: every file read back and compared (size, sha256), and `ktra verify` passes \
             ({} crates, {} versions{mirror})",
            r.target, r.crates, r.versions
        ),
    );
    p.status(
        "Wrote",
        format!("the settings of the copy: `{}`", r.settings.display()),
    );
    if !url_given {
        p.note(format!(
            "the copy is still to be served at {}: if it is served elsewhere now, run \
             `ktra -r {} set-url URL` (or migrate with `--url`)",
            src.config.url,
            r.settings.parent().expect("a file in a folder").display()
        ));
    }
    let copy = crate::registry::Registry::open(r.settings.parent().expect("a file in a folder"))?;
    p.note(format!(
        "use it with `ktra -r {}`; the source was not changed. Serve it at {} and add this to \
         .cargo/config.toml:",
        copy.root().display(),
        copy.config.url
    ));
    p.data(crate::ops::init::cargo_snippet(&copy).trim_end());
    if r.mirror {
        p.note("and for its mirror (it is served at the copy's address too):");
        let upstream = copy.config.mirror.upstream.as_deref().unwrap_or("");
        p.data(crate::mirror::sync::cargo_snippet(&copy, upstream).trim_end());
    }
    Ok(())
}
