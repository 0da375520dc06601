//! `ktra serve`: serve the registry (loopback by default).

use super::Context;
use anyhow::Result;
use std::net::SocketAddr;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; a port of 0 picks a free one (printed on start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Fill the mirror on demand from this upstream sparse index (a pull-through cache).
    #[arg(long, value_name = "URL")]
    mirror_upstream: Option<String>,
    /// How long the pull-through serves an upstream index file before asking again.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    mirror_ttl: std::time::Duration,
    /// The environment variable holding the upstream's token for the pull-through (default:
    /// `upstream-token-env` under `[mirror]`).
    #[arg(long, value_name = "VAR", requires = "mirror_upstream")]
    upstream_token_env: Option<String>,
}

#[derive(clap::Args)]
pub struct NginxArgs {
    /// What nginx listens on.
    #[arg(long, default_value = "80")]
    listen: String,
    /// Where `ktra serve` runs, for the web API (and token checks of a private registry).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    upstream: String,
}

pub fn nginx(args: NginxArgs, ctx: &Context) -> Result<()> {
    let reg = ctx.open()?;
    ctx.printer.data(crate::server::nginx::server_block(
        &reg,
        &args.listen,
        &args.upstream,
    ));
    Ok(())
}

pub fn run(args: ServeArgs, ctx: &Context) -> Result<()> {
    let reg = ctx.open()?;
    let opts = crate::server::ServeOptions {
        mirror_upstream: args.mirror_upstream,
        mirror_ttl: args.mirror_ttl,
        upstream_token_env: args.upstream_token_env,
    };
    crate::server::run(&reg, args.listen, opts, ctx.printer)
}
