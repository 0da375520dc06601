//! `ktra verify --fix`: removes orphan crate files (`crates/NAME-VERS.crate` that no index line
//! names), the one kind of debris a killed writer leaves that nothing else removes. Nothing
//! else is repaired.
//!
//! - **Local tree:** an orphan the journal does not explain (an interrupted change's files are
//!   the next writer's to roll back) is removed under the registry lock, held exclusively, once
//!   its crate's index file, read again, does not name it. Writers hold the same lock, so none
//!   is half-way.
//! - **Object storage:** there is no lock, and a crate file is put before the index line that
//!   names it, so an orphan may be the file of a writer still running. Only orphans older
//!   than the grace period (their `Last-Modified`, by a HEAD) are removed, once their crate's
//!   index file, read again, does not name them.
//!
//!   A writer may also find an old orphan with its own bytes already there and name it (the
//!   put-if-absent of the same bytes is a success), no matter its age. Both sides check after
//!   the other could have acted, so the file is never lost: this side reads the index file
//!   again after the delete and puts the bytes (read before the delete) back if a line names
//!   the file now; the writer, after its lines are written, puts such a file back if it is
//!   gone (`change::remote`).
//!
//! Removal is refused while verify finds any other problem: an index file that does not parse
//! makes every crate file it names look orphaned.

use super::{Report, orphan_pending, orphan_problem};
use crate::printer::Printer;
use crate::registry::{Registry, keys};
use crate::storage::{Area, Journal};
use anyhow::Result;
use std::time::Duration;

/// How old an orphan crate file in object storage must be before `--fix` removes it.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

#[derive(Default)]
struct Outcome {
    removed: Vec<String>,
    /// Orphans kept because they are younger than the grace period, with their age.
    young: Vec<(String, Duration)>,
    /// Something changed since the reading the report comes from: read again.
    changed: bool,
}

/// [`super::verify`], then the removal of orphan crate files (see the module's documentation):
/// the report is what is left, with `removed` set. Each removal is printed as it happens.
pub fn verify_and_fix(reg: &Registry, grace: Duration, printer: Printer) -> Result<Report> {
    let mut report = super::verify(reg)?;
    let orphans = std::mem::take(&mut report.orphans);
    let fixable: Vec<String> = orphans
        .iter()
        .filter(|k| is_crate_key(k))
        .cloned()
        .collect();
    let other_problems = report
        .problems
        .iter()
        .filter(|p| !orphans.iter().any(|k| **p == orphan_problem(k)))
        .count();
    if fixable.is_empty() || other_problems > 0 {
        if !fixable.is_empty() {
            printer.note(format!(
                "`--fix` removed no orphan crate file: the registry has {other_problems} other \
                 problem(s), and an index file that does not parse makes the crate files it \
                 names look orphaned; fix those first"
            ));
        }
        report.orphans = orphans;
        report.removed = Some(Vec::new());
        return Ok(report);
    }
    let outcome = if reg.store.is_remote() {
        remote(reg, &fixable, grace, printer)?
    } else {
        local(reg, &fixable, printer)?
    };
    if outcome.changed {
        // A writer got there first: the first reading is out of date.
        report = super::verify(reg)?;
    } else {
        let gone: Vec<(String, String)> = outcome
            .removed
            .iter()
            .map(|k| (orphan_problem(k), orphan_pending(k)))
            .collect();
        report
            .problems
            .retain(|p| !gone.iter().any(|(problem, _)| p == problem));
        report
            .pending
            .retain(|p| !gone.iter().any(|(_, pending)| p == pending));
        report.orphans = orphans
            .into_iter()
            .filter(|k| !outcome.removed.contains(k))
            .collect();
    }
    for (key, age) in &outcome.young {
        let generic = orphan_pending(key);
        for p in report.pending.iter_mut().filter(|p| **p == generic) {
            *p = format!(
                "`{key}` is not referenced by any index line and is {} old: kept, as it may \
                 belong to a writer still running (`--fix` removes such files once they are \
                 older than `--grace`, {})",
                humantime::format_duration(Duration::from_secs(age.as_secs())),
                humantime::format_duration(grace)
            );
        }
    }
    report.removed = Some(outcome.removed);
    Ok(report)
}

/// `crates/FILE.crate`: what `--fix` may remove (anything else under `crates/` stays reported).
fn is_crate_key(key: &str) -> bool {
    key.strip_prefix("crates/")
        .is_some_and(|file| !file.contains('/') && file.len() > ".crate".len())
        && key.ends_with(".crate")
}

fn local(reg: &Registry, orphans: &[String], printer: Printer) -> Result<Outcome> {
    let store = &reg.store;
    let _lock = crate::ops::writer::exclusive_lock(reg, printer)?;
    // Files of an interrupted change are the next writer's to roll back or forward.
    let journal = Journal::load(store)?.unwrap_or_default();
    let mut out = Outcome::default();
    for key in orphans {
        let explained = journal.crate_files.iter().any(|p| p.key == *key);
        if explained || !store.exists(Area::Public, key) || !unnamed(reg, key)? {
            out.changed = true;
            continue;
        }
        printer.status("Removing", format!("{key} (orphan)"));
        crate::storage::crash::point("verify-fix-before-delete");
        store.remove(Area::Public, key)?;
        out.removed.push(key.clone());
    }
    if !out.removed.is_empty() {
        store.sync()?;
    }
    Ok(out)
}

#[cfg(feature = "aws")]
fn remote(
    reg: &Registry,
    orphans: &[String],
    grace: Duration,
    printer: Printer,
) -> Result<Outcome> {
    use crate::storage::bucket::Cond;
    let bucket = reg
        .store
        .bucket()
        .expect("a remote fix runs on object storage")
        .area(Area::Public);
    let mut out = Outcome::default();
    for key in orphans {
        let Some(head) = bucket.head(key)? else {
            out.changed = true;
            continue;
        };
        // By this machine's clock against the store's: the grace period absorbs a skew.
        let age = std::time::SystemTime::now()
            .duration_since(head.last_modified)
            .unwrap_or_default();
        if age < grace {
            out.young.push((key.clone(), age));
            continue;
        }
        // Read again: the writer may have written its line since the first reading.
        if !unnamed(reg, key)? {
            out.changed = true;
            continue;
        }
        // The bytes, to put back if a writer names the file while it is being removed.
        let Some(kept) = bucket.get(key)?.filter(|f| f.tag == head.tag) else {
            out.changed = true;
            continue;
        };
        printer.status("Removing", format!("{key} (orphan)"));
        crate::storage::crash::point("verify-fix-before-delete");
        bucket.delete(key)?;
        if !unnamed(reg, key)? {
            // A writer adding the same bytes named it in between: it is not an orphan.
            // (A conflict: that writer put it back already.)
            bucket.put(key, kept.bytes, Cond::IfAbsent)?;
            printer.note(format!(
                "put `{key}` back: a writer named it in an index line while it was being removed"
            ));
            out.changed = true;
            continue;
        }
        out.removed.push(key.clone());
    }
    Ok(out)
}

#[cfg(not(feature = "aws"))]
fn remote(_: &Registry, _: &[String], _: Duration, _: Printer) -> Result<Outcome> {
    unreachable!("object storage needs the `aws` feature")
}

/// Whether no index line names `key` now, by its crate's index file read again. A line or
/// file that does not read as one names it, for all this can tell.
fn unnamed(reg: &Registry, key: &str) -> Result<bool> {
    for (name, _) in candidates(key) {
        let index = keys::index(name)?;
        let Some(bytes) = reg.store.read(Area::Public, &index)? else {
            continue;
        };
        let Ok(text) = std::str::from_utf8(&bytes) else {
            return Ok(false);
        };
        for line in text.split('\n').filter(|l| !l.trim().is_empty()) {
            let Ok(line) = serde_json::from_str::<serde_json::Value>(line) else {
                return Ok(false);
            };
            match (line["name"].as_str(), line["vers"].as_str()) {
                (Some(n), Some(v)) if keys::crate_file(n, v) != key => {}
                _ => return Ok(false),
            }
        }
    }
    Ok(true)
}

/// The (name, version) pairs a crate file's key can be the file of: `crates/a-b-1.0.0-rc.1.crate`
/// splits at each `-` into a crate name and a version, and only valid pairs count.
fn candidates(key: &str) -> Vec<(&str, &str)> {
    let Some(stem) = key
        .strip_prefix("crates/")
        .and_then(|f| f.strip_suffix(".crate"))
    else {
        return Vec::new();
    };
    stem.match_indices('-')
        .map(|(i, _)| (&stem[..i], &stem[i + 1..]))
        .filter(|(name, vers)| {
            crate::index::name::CrateName::new(name).is_ok() && semver::Version::parse(vers).is_ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crate_key_splits_into_every_valid_name_and_version() {
        assert_eq!(candidates("crates/serde-1.0.0.crate"), [("serde", "1.0.0")]);
        assert_eq!(
            candidates("crates/a-b-1.0.0-rc.1.crate"),
            [("a-b", "1.0.0-rc.1")]
        );
        // Only `x` with a pre-release: `x-1.0.0` is no crate name.
        assert_eq!(
            candidates("crates/x-1.0.0-1.0.0.crate"),
            [("x", "1.0.0-1.0.0")]
        );
        assert!(candidates("crates/junk.crate").is_empty());
        assert!(candidates("crates/serde-1.0.crate").is_empty());
        assert!(candidates("index/se/rd/serde").is_empty());
    }

    #[test]
    fn only_files_directly_in_crates_ending_in_crate_are_removable() {
        assert!(is_crate_key("crates/serde-1.0.0.crate"));
        assert!(is_crate_key("crates/junk.crate"));
        assert!(!is_crate_key("crates/.crate"));
        assert!(!is_crate_key("crates/notes.txt"));
        assert!(!is_crate_key("crates/sub/serde-1.0.0.crate"));
        assert!(!is_crate_key("mirror/crates/serde-1.0.0.crate"));
    }
}
