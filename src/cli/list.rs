//! `ktra list [NAME]`: a table of crates, or of one crate's versions; `--json` for scripts.

use super::Context;
use crate::ops::list;
use anyhow::Result;

#[derive(clap::Args)]
pub struct ListArgs {
    /// Show every version of this crate.
    name: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ListArgs, ctx: &Context) -> Result<()> {
    let reg = ctx.open()?;
    let out = &ctx.printer;
    match args.name {
        None => {
            let rows = list::crates(&reg)?;
            if args.json {
                return {
                    out.data(serde_json::to_string_pretty(&rows)?);
                    Ok(())
                };
            }
            let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
            out.data(format!(
                "{:w$}  {:12}  {:>8}  {:>6}",
                "NAME", "LATEST", "VERSIONS", "YANKED"
            ));
            for r in rows {
                out.data(format!(
                    "{:w$}  {:12}  {:>8}  {:>6}",
                    r.name, r.latest, r.versions, r.yanked
                ));
            }
        }
        Some(name) => {
            let rows = list::versions(&reg, &name)?;
            if args.json {
                return {
                    out.data(serde_json::to_string_pretty(&rows)?);
                    Ok(())
                };
            }
            out.data(format!(
                "{:16}  {:6}  {:20}  CKSUM",
                "VERSION", "YANKED", "PUBLISHED"
            ));
            for r in rows {
                let yanked = if r.yanked { "yes" } else { "no" };
                let time = r.pubtime.as_deref().unwrap_or("-");
                out.data(format!(
                    "{:16}  {yanked:6}  {time:20}  {}",
                    r.vers,
                    &r.cksum[..r.cksum.len().min(16)]
                ));
            }
        }
    }
    Ok(())
}
