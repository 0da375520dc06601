//! The client for one database: its bounds ([`Settings`]), its private runtime and its pool,
//! made without connecting (an unreachable server shows at the first operation).

use super::secrets::{scrubbed, secrets_of, shown_url};
use super::{Dialect, Pool, Sql};
use crate::state::Unavailable;
use anyhow::{Context, Result, anyhow, bail};
use std::time::Duration;

/// Bounds of the connection pool and of each operation.
#[derive(Debug, Clone)]
pub struct Settings {
    /// At most this many connections (a receiver's pool; the database's limit is shared by
    /// every receiver).
    pub max_connections: u32,
    /// How long getting a connection may take (a connect included).
    pub connect_timeout: Duration,
    /// How long one operation may take from start to answer (waiting for a connection
    /// included); PostgreSQL is also told (`statement_timeout`).
    pub statement_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_connections: 4,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(10),
        }
    }
}

impl Sql {
    /// A client for `url` (`postgres://USER:PASSWORD@HOST:PORT/DB`, `mysql://...`). Connects
    /// lazily: an unreachable server shows at the first operation ([`Sql::check`]).
    pub fn connect(url: &str, settings: &Settings) -> Result<Sql> {
        let shown = shown_url(url);
        let secrets = secrets_of(url);
        let dialect = Dialect::of_url(url).ok_or_else(|| {
            anyhow!("`{shown}` is not a PostgreSQL or MySQL/MariaDB URL (postgres://, mysql://)")
        })?;
        let what = || format!("failed to set up the {} state at {shown}", dialect.name());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("ktra-sql")
            .build()
            .with_context(what)?;
        let scrub = |e: sqlx::Error| Unavailable(scrubbed(&e.to_string(), &secrets));
        // The pool starts its maintenance tasks on the runtime it is made in.
        let entered = runtime.enter();
        let pool = match dialect {
            #[cfg(feature = "postgres")]
            Dialect::Postgres => {
                use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
                let options: PgConnectOptions = url.parse().map_err(scrub).with_context(what)?;
                let ms = settings.statement_timeout.as_millis().to_string();
                let options = options
                    .options([("statement_timeout", ms.as_str())])
                    .application_name("ktra");
                Pool::Postgres(
                    PgPoolOptions::new()
                        .max_connections(settings.max_connections)
                        .min_connections(0)
                        .acquire_timeout(settings.connect_timeout)
                        .idle_timeout(Duration::from_secs(60))
                        .connect_lazy_with(options),
                )
            }
            #[cfg(feature = "mysql")]
            Dialect::Mysql => {
                use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
                let options: MySqlConnectOptions = url.parse().map_err(scrub).with_context(what)?;
                let lock_wait = settings.statement_timeout.as_secs().max(1);
                Pool::Mysql(
                    MySqlPoolOptions::new()
                        .max_connections(settings.max_connections)
                        .min_connections(0)
                        .acquire_timeout(settings.connect_timeout)
                        .idle_timeout(Duration::from_secs(60))
                        .after_connect(move |conn, _| {
                            Box::pin(async move {
                                // Both MySQL and MariaDB know this one (row lock waits).
                                sqlx::query(sqlx::AssertSqlSafe(format!(
                                    "SET SESSION innodb_lock_wait_timeout = {lock_wait}"
                                )))
                                .execute(&mut *conn)
                                .await?;
                                Ok(())
                            })
                        })
                        .connect_lazy_with(options),
                )
            }
            #[allow(unreachable_patterns)]
            _ => bail!(
                "this ktra was built without the {} state backend (cargo feature `{}`)",
                dialect.name(),
                match dialect {
                    Dialect::Postgres => "postgres",
                    Dialect::Mysql => "mysql",
                }
            ),
        };
        drop(entered);
        Ok(Sql {
            dialect,
            shown,
            secrets,
            pool,
            settings: settings.clone(),
            runtime: Some(runtime),
        })
    }
}
