//! `ktra state copy --from A --to B`: every record and the audit log, from one place that keeps
//! them to another, whatever the two backends.
//!
//! The destination is migrated first. A record is written only when the destination lacks it
//! (`Expect::Absent`) or holds other bytes (`Expect::Version` of what it holds), so a second
//! copy writes nothing; the destination's records that the source lacks are left alone (and
//! reported). An audit event is appended only when the destination does not hold its line yet
//! (as many times as the source has it). Then the copy is checked: the counts and digests of
//! [`super::digest`], read again from both sides. `--dry-run` reads both and writes nothing,
//! not even the destination's schema.

use super::Place;
use super::digest::{self, Figures};
use crate::printer::Printer;
use crate::state::{ATTEMPTS, Expect, Migrated, Records, Unavailable};
use anyhow::{Context, Result, bail};
use std::collections::BTreeSet;

/// What a record copy did (or would do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The destination lacked the record.
    Create,
    /// The destination held other bytes under the key.
    Overwrite,
}

/// What a copy did, and what its check found.
#[derive(Debug)]
pub struct CopyReport {
    /// The source and the destination, described (no password).
    pub from: String,
    pub to: String,
    pub dry_run: bool,
    /// The destination's migration (`None` on a dry run).
    pub migrated: Option<Migrated>,
    /// Why a dry run took the destination for empty: it has no schema this ktra can read.
    pub unreadable: Option<String>,
    /// The records written (or that would be), by key.
    pub copied: Vec<(String, Action)>,
    /// Records the destination already held with the same bytes.
    pub unchanged: usize,
    /// Records of the destination that the source lacks (left alone).
    pub extra: Vec<String>,
    /// Audit events appended (or that would be), and those the destination already held.
    pub events_appended: usize,
    pub events_held: usize,
    /// Source, then destination: records, and audit events (`None` on a dry run).
    pub check: Option<[(Figures, Figures); 2]>,
}

impl CopyReport {
    /// Whether the destination already held everything.
    pub fn nothing_to_copy(&self) -> bool {
        self.copied.is_empty() && self.events_appended == 0
    }

    /// The check's verdict: an error when the destination does not hold what the source does.
    pub fn verdict(&self) -> Result<()> {
        let Some([records, events]) = &self.check else {
            return Ok(());
        };
        let mut wrong = Vec::new();
        for ((source, destination), what) in [(records, "records"), (events, "audit events")] {
            if source != destination {
                wrong.push(format!(
                    "{what}: the source has {} (sha256 {}), the destination {} of them (sha256 {})",
                    source.count, source.sha256, destination.count, destination.sha256
                ));
            }
        }
        if !wrong.is_empty() {
            bail!(
                "the copy does not match the source ({} to {}): {}",
                self.from,
                self.to,
                wrong.join("; ")
            );
        }
        Ok(())
    }
}

/// Copies every record and audit event from the place `from` to the place `to` (state URLs or
/// registry folders), then checks the copy; see the module's description.
pub fn copy(from: &str, to: &str, dry_run: bool, printer: Printer) -> Result<CopyReport> {
    let src = Place::open(from, false, printer)?;
    let dst = Place::open(to, !dry_run, printer)?;
    let (source, destination) = (src.records.as_ref(), dst.records.as_ref());
    if src.describe() == dst.describe() {
        bail!(
            "the source and the destination are the same: {}",
            src.describe()
        );
    }
    source.check()?;
    let mut report = CopyReport {
        from: src.describe(),
        to: dst.describe(),
        dry_run,
        migrated: None,
        unreadable: None,
        copied: Vec::new(),
        unchanged: 0,
        extra: Vec::new(),
        events_appended: 0,
        events_held: 0,
        check: None,
    };
    if dry_run {
        match destination.check() {
            Ok(()) => {}
            Err(e) if e.chain().any(|c| c.is::<Unavailable>()) => return Err(e),
            Err(e) => report.unreadable = Some(format!("{e:#}")),
        }
    } else {
        report.migrated = Some(destination.migrate()?);
    }
    let readable = report.unreadable.is_none();

    let mut keys = source.list("")?;
    keys.sort();
    let held: BTreeSet<String> = match readable {
        true => destination.list("")?.into_iter().collect(),
        false => BTreeSet::new(),
    };
    let bar = printer.progress(keys.len() as u64, "Copying");
    for key in &keys {
        bar.inc(1);
        // A record removed since the listing is not part of the source any more.
        let Some(record) = source.get(key)? else {
            continue;
        };
        let action = match readable {
            true => copy_record(destination, key, &record.bytes, dry_run)?,
            false => Some(Action::Create),
        };
        match action {
            Some(action) => report.copied.push((key.clone(), action)),
            None => report.unchanged += 1,
        }
    }
    bar.finish_and_clear();
    let listed: BTreeSet<&String> = keys.iter().collect();
    report.extra = held
        .iter()
        .filter(|k| !listed.contains(k))
        .cloned()
        .collect();

    let held_lines = match readable {
        true => digest::audit_lines(destination)?,
        false => Vec::new(),
    };
    let mut held_lines = digest::counts(&held_lines);
    source.audit_events(&mut |stamp, line| {
        match held_lines
            .get_mut(&digest::line_hash(line))
            .filter(|n| **n > 0)
        {
            Some(n) => {
                *n -= 1;
                report.events_held += 1;
            }
            None => {
                if !dry_run {
                    destination.append_audit(stamp, line)?;
                }
                report.events_appended += 1;
            }
        }
        Ok(())
    })?;

    if !dry_run {
        report.check = Some(check(source, destination)?);
    }
    Ok(report)
}

/// Writes one record unless the destination holds the same bytes: `None` when it does. A
/// destination shared with other writers may change between the read and the write; the
/// decision is then made again.
fn copy_record(
    destination: &dyn Records,
    key: &str,
    bytes: &[u8],
    dry_run: bool,
) -> Result<Option<Action>> {
    for attempt in 0..ATTEMPTS {
        let (action, expect) = match destination.get(key)? {
            None => (Action::Create, Expect::Absent),
            Some(held) if held.bytes == bytes => return Ok(None),
            Some(held) => (Action::Overwrite, Expect::Version(held.version)),
        };
        if dry_run || destination.put(key, bytes, expect)? {
            return Ok(Some(action));
        }
        crate::storage::backoff(attempt);
    }
    bail!(
        "failed to write `{key}` in {}: it kept changing under {ATTEMPTS} attempts (other \
         writers); try again",
        destination.describe()
    )
}

/// The figures of the source's records and audit events and of the destination's, restricted
/// to the source's, all read again.
fn check(source: &dyn Records, destination: &dyn Records) -> Result<[(Figures, Figures); 2]> {
    let mut keys = source.list("")?;
    keys.sort();
    let (found, source_records) = digest::records(source, &keys)
        .with_context(|| format!("failed to check the copy's source, {}", source.describe()))?;
    let (_, destination_records) = digest::records(destination, &found).with_context(|| {
        format!(
            "failed to check the copy's destination, {}",
            destination.describe()
        )
    })?;
    let events = digest::audit(
        &digest::audit_lines(source)?,
        &digest::audit_lines(destination)?,
    );
    Ok([(source_records, destination_records), events])
}
