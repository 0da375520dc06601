//! `ktra state migrate|check|copy`: the records' schema, a token lookup's latency, and moving
//! every record and the audit log between backends (see [`crate::ops::state`]).

use super::Context;
use crate::ops::state::{self as ops, Action, CopyReport, Place};
use anyhow::{Context as _, Result};

#[derive(clap::Subcommand)]
pub enum StateCommand {
    /// Apply the schema migrations the records lack (refusing a schema newer than this ktra's).
    Migrate {
        /// A state URL (postgres://, mysql://, redis://, mongodb://, s3://) or a registry folder,
        /// instead of this registry's records.
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
    /// Check that this ktra can use the records' schema; with `--samples N`, also time N
    /// lookups of a token record by its hash (one line on stdout).
    Check {
        /// How many timed token lookups (after 100 untimed ones); 0: none.
        #[arg(long, default_value_t = 0, value_name = "N")]
        samples: usize,
        /// A state URL or a registry folder, instead of this registry's records.
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
    /// Copy every record and the audit log from one place to another (any two backends), then
    /// check the copy by counts and content hashes. Copying again copies nothing.
    Copy {
        /// A state URL, or a registry folder (its records, as its ktra.toml says).
        #[arg(long, value_name = "URL_OR_DIR")]
        from: String,
        /// A state URL, or a registry folder; migrated first.
        #[arg(long, value_name = "URL_OR_DIR")]
        to: String,
        /// Say what would be copied; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

pub fn run(cmd: StateCommand, ctx: &Context) -> Result<()> {
    match cmd {
        StateCommand::Migrate { url } => {
            let place = place(url.as_deref(), false, ctx)?;
            let migrated = place.records.migrate()?;
            let (verb, message) = ops::migrated_message(&place.describe(), migrated);
            ctx.printer.status(verb, message);
        }
        StateCommand::Check { samples, url } => {
            let place = place(url.as_deref(), samples > 0, ctx)?;
            place.records.check()?;
            ctx.printer.status(
                "Checked",
                format!("{}: its schema is this ktra's", place.describe()),
            );
            if samples > 0 {
                let latency = ops::sample_token_lookups(place.records.as_ref(), samples)
                    .with_context(|| {
                        format!("failed to time token lookups in {}", place.describe())
                    })?;
                ctx.printer.data(latency.line(&place.describe()));
            }
        }
        StateCommand::Copy { from, to, dry_run } => {
            let report = ops::copy(&from, &to, dry_run, ctx.printer).with_context(|| {
                format!(
                    "failed to copy the state from {} to {}",
                    crate::state::redact(&from),
                    crate::state::redact(&to)
                )
            })?;
            print_copy(&report, ctx);
            report.verdict()?;
            if !dry_run {
                ctx.printer.status(
                    "Checked",
                    format!(
                        "the copy: {} holds every record and audit event of {}",
                        report.to, report.from
                    ),
                );
            }
        }
    }
    Ok(())
}

/// The records named by `--url`, else the registry's own.
fn place(url: Option<&str>, lock: bool, ctx: &Context) -> Result<Place> {
    match url {
        Some(url) => Place::open(url, lock, ctx.printer),
        None => Place::of(&ctx.open()?, lock, ctx.printer),
    }
}

fn print_copy(r: &CopyReport, ctx: &Context) {
    let p = ctx.printer;
    if let Some(m) = r.migrated.filter(|m| m.from != m.to) {
        let (verb, message) = ops::migrated_message(&r.to, m);
        p.status(verb, message);
    }
    if let Some(why) = &r.unreadable {
        p.note(format!(
            "{why}\n(a copy would migrate it first: everything counts as new here)"
        ));
    }
    if !r.extra.is_empty() {
        const SHOWN: usize = 10;
        let mut keys: Vec<&str> = r.extra.iter().take(SHOWN).map(String::as_str).collect();
        let more = format!("and {} more", r.extra.len().saturating_sub(SHOWN));
        if r.extra.len() > SHOWN {
            keys.push(&more);
        }
        p.warn(format!(
            "{} record(s) in {} are not in {}, left alone: {}",
            r.extra.len(),
            r.to,
            r.from,
            keys.join(", ")
        ));
    }
    let created = r
        .copied
        .iter()
        .filter(|(_, a)| *a == Action::Create)
        .count();
    let overwritten = r.copied.len() - created;
    if r.dry_run {
        for (key, action) in &r.copied {
            let verb = match action {
                Action::Create => "create",
                Action::Overwrite => "overwrite",
            };
            p.data(format!("would {verb} {key}"));
        }
        p.data(format!("would append {} audit event(s)", r.events_appended));
        p.status(
            "Dry run",
            format!(
                "{} record(s) ({created} new, {overwritten} to overwrite, {} already there) and \
                 {} audit event(s) ({} already there) would be copied from {} to {}; nothing \
                 was written",
                r.copied.len(),
                r.unchanged,
                r.events_appended,
                r.events_held,
                r.from,
                r.to
            ),
        );
        return;
    }
    if r.nothing_to_copy() {
        p.status(
            "Fresh",
            format!(
                "nothing to copy: {} already holds the {} record(s) and {} audit event(s) of {}",
                r.to, r.unchanged, r.events_held, r.from
            ),
        );
    } else {
        p.status(
            "Copied",
            format!(
                "{} record(s) ({created} new, {overwritten} overwritten, {} already there) and \
                 {} audit event(s) ({} already there) from {} to {}",
                r.copied.len(),
                r.unchanged,
                r.events_appended,
                r.events_held,
                r.from,
                r.to
            ),
        );
    }
    if let Some([records, events]) = &r.check {
        p.data(format!(
            "records: source {}, destination {}",
            records.0, records.1
        ));
        p.data(format!(
            "audit events: source {}, destination {}",
            events.0, events.1
        ));
    }
}
