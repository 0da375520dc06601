//! The SQL schema of the records, as numbered migrations in both dialects.
//!
//! Tables (all prefixed `ktra_`, so a database may be shared with other applications):
//! - `ktra_schema`: one row per migration applied (`version`, `applied_at`); the schema's
//!   version is the highest.
//! - `ktra_records`: `record_key` (primary key, compared byte by byte: PostgreSQL `COLLATE "C"`,
//!   MySQL `VARBINARY`, so the order is the order of Rust's strings and MySQL's trailing-space
//!   padding never makes two keys equal), `bytes`, `version` (a random 64-bit number, new with
//!   every write, so a record removed and written again never comes back with a version someone
//!   still holds).
//! - `ktra_audit`: `id` (increasing), `stamp` (the caller's time, to the millisecond),
//!   `recorded_at` (the server's clock), `line` (one JSON event).
//!
//! A migration is never changed once released: a change of schema is a new migration at the
//! end. Every statement of a migration is idempotent (`IF NOT EXISTS`), because MySQL commits
//! DDL on its own, outside any transaction, so a migration cut short is applied again whole.

/// One step of the schema.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub postgres: &'static [&'static str],
    pub mysql: &'static [&'static str],
}

/// The table that says which migrations were applied; created before any migration runs.
#[cfg(feature = "postgres")]
pub const POSTGRES_SCHEMA_TABLE: &str = "CREATE TABLE IF NOT EXISTS ktra_schema (\
     version BIGINT PRIMARY KEY, \
     name TEXT NOT NULL, \
     applied_at TIMESTAMPTZ NOT NULL DEFAULT now())";
#[cfg(feature = "mysql")]
pub const MYSQL_SCHEMA_TABLE: &str = "CREATE TABLE IF NOT EXISTS ktra_schema (\
     version BIGINT PRIMARY KEY, \
     name VARCHAR(200) NOT NULL, \
     applied_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)\
     ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "records and audit",
    postgres: &[
        "CREATE TABLE IF NOT EXISTS ktra_records (\
             record_key TEXT COLLATE \"C\" PRIMARY KEY, \
             bytes BYTEA NOT NULL, \
             version BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS ktra_audit (\
             id BIGSERIAL PRIMARY KEY, \
             stamp TEXT NOT NULL, \
             recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(), \
             line TEXT NOT NULL)",
    ],
    mysql: &[
        "CREATE TABLE IF NOT EXISTS ktra_records (\
             record_key VARBINARY(1024) NOT NULL PRIMARY KEY, \
             bytes LONGBLOB NOT NULL, \
             version BIGINT NOT NULL\
             ) ENGINE=InnoDB",
        "CREATE TABLE IF NOT EXISTS ktra_audit (\
             id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, \
             stamp VARCHAR(64) NOT NULL, \
             recorded_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), \
             line LONGTEXT NOT NULL\
             ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    ],
}];

/// The schema version this binary writes and reads.
pub fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_one_by_one_in_both_dialects() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "{}", m.name);
            assert_eq!(m.postgres.len(), m.mysql.len(), "{}", m.name);
        }
        assert_eq!(latest(), MIGRATIONS.len() as i64);
    }
}
