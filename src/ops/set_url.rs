//! Moving a registry to a new address: `ktra.toml` and `config.json` change; index lines and
//! crate files do not (they never contain the registry's own URL).

use super::change::SiteEffect;
use crate::config;
use crate::printer::Printer;
use crate::registry::{Registry, keys};
use anyhow::{Context, Result};

/// Moves the registry to `url`, and its web API to `api` when given.
pub fn set_url(reg: &mut Registry, url: &str, api: Option<&str>, printer: Printer) -> Result<()> {
    let url = url.trim_end_matches('/').to_owned();
    config::check_url(&url).context("invalid URL")?;
    let api = api.map(|a| a.trim_end_matches('/').to_owned());
    if let Some(a) = &api {
        config::check_url(a).context("invalid `--api` URL")?;
    }
    let mut next = reg.with_config(reg.config.clone(), reg.store.clone());
    next.config.url = url;
    if api.is_some() {
        next.config.api = api;
    }
    next.change("set-url", printer, |tx| {
        // The settings first: they are what `ktra rebuild` makes `config.json` from.
        super::init::write_settings(&next)?;
        tx.put_public(keys::CONFIG_JSON, &next.registry_config().to_bytes())?;
        if crate::mirror::layout::exists(reg) {
            let mirror_config = crate::mirror::layout::registry_config(&next).to_bytes();
            tx.put_public(crate::mirror::layout::CONFIG_JSON, &mirror_config)?;
        }
        tx.message(format!("Move the registry to {}", next.config.url));
        tx.site(SiteEffect::Rebuild);
        Ok(())
    })?;
    *reg = next;
    printer.status(
        "Updated",
        format!("config.json now points at {}", reg.config.url),
    );
    Ok(())
}
