//! `ktra state`: the records' schema (`migrate`, `check`), how fast a token is found
//! (`check --samples`), and moving every record and the audit log from one place that keeps
//! them to another (`copy`), checked by counts and content hashes.
//!
//! A place is a state URL (`s3://`, `postgres://`, `mysql://`, `redis://`, `mongodb://`) or a
//! registry folder, whose records are wherever its `ktra.toml` says ([`crate::state::open_at`]).
//! Records in a local state folder are written under that registry's lock, as every other
//! writer of them does; the other places are shared without a lock.

mod copy;
mod digest;
mod latency;

pub use copy::{Action, CopyReport, copy};
pub use digest::Figures;
pub use latency::{Latency, sample_token_lookups};

use crate::printer::Printer;
use crate::registry::Registry;
use crate::state::{self, Migrated, Records};
use crate::storage::RegistryLock;
use anyhow::{Context, Result};
use std::path::Path;
use std::sync::Arc;

/// Records opened by a place's name, with the registry lock when they are a local state
/// folder's (held until dropped).
pub struct Place {
    pub records: Arc<dyn Records>,
    /// The name as given, password hidden: for messages before the records are described.
    pub shown: String,
    _lock: Option<RegistryLock>,
}

impl Place {
    /// The records of a state URL or of the registry in a folder; `lock` takes that
    /// registry's lock when its records are its local state folder (to write them).
    pub fn open(name: &str, lock: bool, printer: Printer) -> Result<Place> {
        let shown = state::redact(name);
        if name.contains("://") {
            let records = state::open_at(name)
                .with_context(|| format!("failed to open the state at {shown}"))?;
            return Ok(Place {
                records,
                shown,
                _lock: None,
            });
        }
        let reg = Registry::open(Path::new(name))?;
        let records = state::open_in(&reg)
            .with_context(|| format!("failed to open the state of the registry `{name}`"))?;
        Place::of_registry(&reg, records, lock, printer)
    }

    /// A registry's own records (as [`Registry::state`] opened them, `KTRA_STATE_URL` first).
    pub fn of(reg: &Registry, lock: bool, printer: Printer) -> Result<Place> {
        let records = reg.state_arc()?;
        Place::of_registry(reg, records, lock, printer)
    }

    fn of_registry(
        reg: &Registry,
        records: Arc<dyn Records>,
        lock: bool,
        printer: Printer,
    ) -> Result<Place> {
        let lock = match lock && !records.shared() {
            true => Some(crate::ops::writer::exclusive_lock(reg, printer)?),
            false => None,
        };
        Ok(Place {
            shown: records.describe(),
            records,
            _lock: lock,
        })
    }

    pub fn describe(&self) -> String {
        self.records.describe()
    }
}

/// What `ktra state migrate` says: `Migrated the ... from schema 0 to 1`, or `... is at
/// schema 1, nothing to do` (the status verb, then the message).
pub fn migrated_message(describe: &str, m: Migrated) -> (&'static str, String) {
    if m.from == m.to {
        (
            "Fresh",
            format!("{describe} is at schema {}, nothing to do", m.to),
        )
    } else {
        (
            "Migrated",
            format!("{describe} from schema {} to {}", m.from, m.to),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_messages() {
        let at = "the PostgreSQL state at postgres://u:***@h/db";
        assert_eq!(
            migrated_message(at, Migrated { from: 0, to: 1 }),
            ("Migrated", format!("{at} from schema 0 to 1"))
        );
        assert_eq!(
            migrated_message(at, Migrated { from: 1, to: 1 }).1,
            format!("{at} is at schema 1, nothing to do")
        );
    }
}
