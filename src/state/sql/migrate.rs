//! The schema of a database: its version, the check `ktra serve` makes at start, and the
//! migrations `ktra init` and `ktra state migrate` apply (each dialect's under its own lock).

use super::{Sql, dialect, schema};
use crate::state::Migrated;
use anyhow::{Result, bail};

/// What a migration found under its lock.
pub(super) enum MigrateOutcome {
    Done(Migrated),
    Newer(i64),
}

impl Sql {
    /// The schema version of the database: `None` when ktra's schema table is not there.
    pub fn schema_version(&self) -> Result<Option<i64>> {
        dialect!(self, "read the schema version", schema_version())
    }

    /// Refuses a database this binary cannot use: no schema, an older one (migrate it), or a
    /// newer one (written by a newer ktra).
    pub fn check(&self) -> Result<()> {
        crate::state::judge(
            &crate::state::Records::describe(self),
            schema::latest(),
            self.schema_version()?,
        )
    }

    /// Applies the migrations the database lacks, under a database lock (two migrating at
    /// once apply each step once). Refuses a schema newer than this binary's.
    pub fn migrate(&self) -> Result<Migrated> {
        let latest = schema::latest();
        let outcome = dialect!(
            self,
            "apply the migrations",
            migrate(schema::MIGRATIONS, latest)
        )?;
        match outcome {
            MigrateOutcome::Done(m) => Ok(m),
            MigrateOutcome::Newer(v) => bail!(
                "the {} state at {} has schema version {v}, newer than this ktra's ({latest}): \
                 it was migrated by a newer ktra; use that version (or newer)",
                self.dialect.name(),
                self.shown
            ),
        }
    }

    /// Records the schema as migrated to `version` without changing anything else (tests: a
    /// database "from a newer ktra").
    #[doc(hidden)]
    pub fn mark_schema_version_for_tests(&self, version: i64) -> Result<()> {
        dialect!(
            self,
            "mark the schema version",
            mark_schema_version(version)
        )
    }
}

/// `Ok(None)` for "no such table" (ktra's tables not created yet; SQLSTATE 42P01 on
/// PostgreSQL, 42S02 on MySQL/MariaDB).
pub(super) fn missing_table_as_none(
    r: std::result::Result<Option<i64>, sqlx::Error>,
) -> std::result::Result<Option<i64>, sqlx::Error> {
    match r {
        Ok(v) => Ok(Some(v.unwrap_or(0))),
        Err(e)
            if e.as_database_error()
                .and_then(|d| d.code())
                .is_some_and(|c| c == "42P01" || c == "42S02") =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
