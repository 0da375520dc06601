//! The records in a PostgreSQL or MySQL/MariaDB database (issue 13): one implementation of
//! [`Records`](super::Records) with the two dialects' differences (placeholders, column types,
//! the migration lock, the duplicate-key error) kept in a module each.
//!
//! The trait is synchronous and called from blocking threads, so, like
//! [`crate::storage::bucket::Bucket`], an [`Sql`] owns a small tokio runtime and waits for each
//! statement on a channel (it may be called from any thread, also one of another runtime). The
//! driver is sqlx: one crate, one bounded pool with an acquire timeout, for both dialects.
//!
//! Conditions map to single statements, so any number of receivers share the records without a
//! lock: [`Expect::Absent`](super::Expect::Absent) is an `INSERT` that the primary key refuses
//! (`false`), and [`Expect::Version`](super::Expect::Version) an `UPDATE ... WHERE record_key = ?
//! AND version = ?` that matches no row (`false`). A version is a random 64-bit number written
//! with every change.
//!
//! Errors say which backend, which operation and where (the URL without its credentials), and
//! never carry the password: every driver message is scrubbed of it.
//!
//! - `connect.rs`: [`Settings`] and [`Sql::connect`] (the runtime and the pool);
//! - `records.rs`: the [`Records`](super::Records) operations;
//! - `migrate.rs`: the schema version, its check and the migrations;
//! - `postgres.rs`, `mysql.rs`: each dialect's statements;
//! - `schema.rs`: the tables, as numbered migrations in both dialects;
//! - `secrets.rs`: the URL as shown, and a driver's message without the password.

mod connect;
mod migrate;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
mod records;
mod schema;
mod secrets;

pub use connect::Settings;
pub use schema::{MIGRATIONS, latest as latest_schema};

use super::Unavailable;
use anyhow::Result;

/// The SQL dialect, from the URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `postgres://` or `postgresql://`.
    Postgres,
    /// `mysql://` or `mariadb://`.
    Mysql,
}

impl Dialect {
    /// The dialect of a URL, if it is an SQL one.
    pub fn of_url(url: &str) -> Option<Dialect> {
        let scheme = url.split_once("://")?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "postgres" | "postgresql" => Some(Dialect::Postgres),
            "mysql" | "mariadb" => Some(Dialect::Mysql),
            _ => None,
        }
    }

    /// The backend's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::Mysql => "MySQL/MariaDB",
        }
    }
}

#[derive(Clone)]
enum Pool {
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "mysql")]
    Mysql(sqlx::MySqlPool),
}

/// Runs the statement function `NAME` of the pool's dialect (`postgres::NAME` or
/// `mysql::NAME`, given the pool and `ARGS`) as the operation `OP` of `SQL`: `dialect!(SQL, OP,
/// NAME(ARGS))`.
macro_rules! dialect {
    ($sql:expr, $op:expr, $name:ident($($arg:expr),* $(,)?)) => {
        match $sql.pool.clone() {
            #[cfg(feature = "postgres")]
            $crate::state::sql::Pool::Postgres(pool) => {
                $sql.run($op, $crate::state::sql::postgres::$name(pool, $($arg),*))
            }
            #[cfg(feature = "mysql")]
            $crate::state::sql::Pool::Mysql(pool) => {
                $sql.run($op, $crate::state::sql::mysql::$name(pool, $($arg),*))
            }
        }
    };
}
use dialect;

/// The records in one SQL database.
pub struct Sql {
    dialect: Dialect,
    /// The URL as shown: no credentials, no query.
    shown: String,
    /// What must never be shown (the password, as written and decoded).
    secrets: Vec<String>,
    pool: Pool,
    settings: Settings,
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Sql {
    fn drop(&mut self) {
        // As `Bucket`: dropping a runtime inside another runtime panics; this does not wait.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for Sql {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Sql").field(&self.shown).finish()
    }
}

impl Sql {
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The URL as shown in messages (no credentials).
    pub fn shown_url(&self) -> &str {
        &self.shown
    }

    /// Runs one operation on the client's runtime, bounded by the statement timeout, and
    /// waits for it here; its errors name the backend, the operation and the place.
    fn run<T: Send + 'static>(
        &self,
        op: &str,
        request: impl Future<Output = std::result::Result<T, sqlx::Error>> + Send + 'static,
    ) -> Result<T> {
        let runtime = self.runtime.as_ref().expect("runtime lives until drop");
        let limit = self.settings.statement_timeout;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = tx.send(tokio::time::timeout(limit, request).await);
        });
        let cause = match rx.recv() {
            Ok(Ok(Ok(value))) => return Ok(value),
            Ok(Ok(Err(e))) => secrets::scrubbed(&e.to_string(), &self.secrets),
            Ok(Err(_elapsed)) => format!("no answer within {limit:?}"),
            Err(_) => "the client stopped in the middle of a request".to_owned(),
        };
        Err(anyhow::Error::new(Unavailable(cause)).context(format!(
            "failed to {op} in the {} state at {}",
            self.dialect.name(),
            self.shown
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialects_from_urls() {
        assert_eq!(Dialect::of_url("postgres://x/y"), Some(Dialect::Postgres));
        assert_eq!(Dialect::of_url("PostgreSQL://x/y"), Some(Dialect::Postgres));
        assert_eq!(Dialect::of_url("mysql://x/y"), Some(Dialect::Mysql));
        assert_eq!(Dialect::of_url("mariadb://x/y"), Some(Dialect::Mysql));
        assert_eq!(Dialect::of_url("redis://x/"), None);
        assert_eq!(Dialect::of_url("postgres"), None);
    }
}
