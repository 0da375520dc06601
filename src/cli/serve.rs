//! `ktra serve`: serve the registry (loopback by default).

use super::Context;
use anyhow::Result;
use std::net::SocketAddr;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; a port of 0 picks a free one (printed on start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

pub fn run(args: ServeArgs, ctx: &Context) -> Result<()> {
    let reg = ctx.open()?;
    crate::server::run(&reg, args.listen, ctx.printer)
}
