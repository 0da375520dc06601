//! The records in a PostgreSQL or MySQL/MariaDB database (issue 13): one implementation of
//! [`Records`] with the two dialects' differences (placeholders, column types, the migration
//! lock, the duplicate-key error) kept side by side.
//!
//! The trait is synchronous and called from blocking threads, so, like
//! [`crate::storage::bucket::Bucket`], an [`Sql`] owns a small tokio runtime and waits for each
//! statement on a channel (it may be called from any thread, also one of another runtime). The
//! driver is sqlx: one crate, one bounded pool with an acquire timeout, for both dialects.
//!
//! Conditions map to single statements, so any number of receivers share the records without a
//! lock: [`Expect::Absent`] is an `INSERT` that the primary key refuses (`false`), and
//! [`Expect::Version`] an `UPDATE ... WHERE record_key = ? AND version = ?` that matches no row
//! (`false`). A version is a random 64-bit number written with every change.
//!
//! Errors say which backend, which operation and where (the URL without its credentials), and
//! never carry the password: every driver message is scrubbed of it.

mod schema;

pub use schema::{MIGRATIONS, latest as latest_schema};

use super::{Expect, Migrated, Record, Records, Unavailable};
use anyhow::{Context, Result, anyhow, bail};
use std::time::Duration;

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

#[derive(Clone)]
enum Pool {
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "mysql")]
    Mysql(sqlx::MySqlPool),
}

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

/// What a migration found under its lock.
enum MigrateOutcome {
    Done(Migrated),
    Newer(i64),
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
            Ok(Ok(Err(e))) => scrubbed(&e.to_string(), &self.secrets),
            Ok(Err(_elapsed)) => format!("no answer within {limit:?}"),
            Err(_) => "the client stopped in the middle of a request".to_owned(),
        };
        Err(anyhow::Error::new(Unavailable(cause)).context(format!(
            "failed to {op} in the {} state at {}",
            self.dialect.name(),
            self.shown
        )))
    }

    /// The schema version of the database: `None` when ktra's schema table is not there.
    pub fn schema_version(&self) -> Result<Option<i64>> {
        match self.pool.clone() {
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => self.run("read the schema version", async move {
                missing_table_as_none(
                    sqlx::query_scalar::<_, Option<i64>>("SELECT max(version) FROM ktra_schema")
                        .fetch_one(&pool)
                        .await,
                )
            }),
            #[cfg(feature = "mysql")]
            Pool::Mysql(pool) => self.run("read the schema version", async move {
                missing_table_as_none(
                    sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(version) FROM ktra_schema")
                        .fetch_one(&pool)
                        .await,
                )
            }),
        }
    }

    /// Refuses a database this binary cannot use: no schema, an older one (migrate it), or a
    /// newer one (written by a newer ktra).
    pub fn check(&self) -> Result<()> {
        super::judge(&self.describe(), schema::latest(), self.schema_version()?)
    }

    /// Applies the migrations the database lacks, under a database lock (two migrating at
    /// once apply each step once). Refuses a schema newer than this binary's.
    pub fn migrate(&self) -> Result<Migrated> {
        let migrations = schema::MIGRATIONS;
        let latest = schema::latest();
        let outcome = match self.pool.clone() {
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => self.run(
                "apply the migrations",
                pg::migrate(pool, migrations, latest),
            )?,
            #[cfg(feature = "mysql")]
            Pool::Mysql(pool) => self.run(
                "apply the migrations",
                my::migrate(pool, migrations, latest),
            )?,
        };
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
        match self.pool.clone() {
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => self.run("mark the schema version", async move {
                sqlx::query("INSERT INTO ktra_schema (version, name) VALUES ($1, 'test')")
                    .bind(version)
                    .execute(&pool)
                    .await
                    .map(drop)
            }),
            #[cfg(feature = "mysql")]
            Pool::Mysql(pool) => self.run("mark the schema version", async move {
                sqlx::query("INSERT INTO ktra_schema (version, name) VALUES (?, 'test')")
                    .bind(version)
                    .execute(&pool)
                    .await
                    .map(drop)
            }),
        }
    }
}

/// A random version for a write.
fn new_version() -> Result<i64> {
    let mut seed = [0u8; 8];
    getrandom::fill(&mut seed).map_err(|e| anyhow!("no randomness: {e}"))?;
    Ok(i64::from_le_bytes(seed))
}

/// The range of keys below a folder-like prefix: `users` is `users/` up to `users0` (`0`
/// follows `/`), compared byte by byte; `""` is every key. A range, not a `LIKE`: no pattern
/// characters (`%`, `_`) to escape, and the primary key's index serves it.
fn key_range(prefix: &str) -> Option<(String, String)> {
    let dir = prefix.trim_end_matches('/');
    (!dir.is_empty()).then(|| (format!("{dir}/"), format!("{dir}0")))
}

/// Whether a driver error says that the row's primary key is taken.
fn is_duplicate(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

/// `Ok(None)` for "no such table" (ktra's tables not created yet; SQLSTATE 42P01 on
/// PostgreSQL, 42S02 on MySQL/MariaDB).
fn missing_table_as_none(
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

/// The URL as shown: no userinfo, no query (which may carry a password too).
fn shown_url(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or_default();
    crate::redact::url_credentials(without_query)
}

/// The password of a URL, as written and percent-decoded, and any `password=` in its query.
fn secrets_of(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && let Some((_, password)) = userinfo.split_once(':')
        {
            out.push(password.to_owned());
        }
        if let Some((_, query)) = rest.split_once('?') {
            for pair in query.split('&') {
                if let Some((k, v)) = pair.split_once('=')
                    && k.contains("password")
                {
                    out.push(v.to_owned());
                }
            }
        }
    }
    let decoded: Vec<String> = out
        .iter()
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    out.extend(decoded);
    out.retain(|s| !s.is_empty());
    out.sort();
    out.dedup();
    out
}

/// A driver's message without credentials: URLs' userinfo hidden, and the password itself
/// taken out wherever it appears.
fn scrubbed(text: &str, secrets: &[String]) -> String {
    let mut out = crate::redact::url_credentials(text);
    for s in secrets {
        out = out.replace(s.as_str(), "***");
    }
    out
}

impl Records for Sql {
    fn describe(&self) -> String {
        format!("the {} state at {}", self.dialect.name(), self.shown)
    }

    fn check(&self) -> Result<()> {
        Sql::check(self)
    }

    fn migrate(&self) -> Result<Migrated> {
        Sql::migrate(self)
    }

    fn get(&self, key: &str) -> Result<Option<Record>> {
        let key = key.to_owned();
        let op = format!("read `{key}`");
        let row = match self.pool.clone() {
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => self.run(&op, async move {
                sqlx::query_as::<_, (Vec<u8>, i64)>(
                    "SELECT bytes, version FROM ktra_records WHERE record_key = $1",
                )
                .bind(key)
                .fetch_optional(&pool)
                .await
            })?,
            #[cfg(feature = "mysql")]
            Pool::Mysql(pool) => self.run(&op, async move {
                sqlx::query_as::<_, (Vec<u8>, i64)>(
                    "SELECT bytes, version FROM ktra_records WHERE record_key = ?",
                )
                .bind(key.into_bytes())
                .fetch_optional(&pool)
                .await
            })?,
        };
        Ok(row.map(|(bytes, version)| Record {
            bytes,
            version: version.to_string(),
        }))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let range = key_range(prefix);
        let op = format!("list `{prefix}`");
        let keys: Vec<Vec<u8>> = match self.pool.clone() {
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => {
                let keys = self.run(&op, async move {
                    match range {
                        Some((from, to)) => {
                            sqlx::query_scalar::<_, String>(
                                "SELECT record_key FROM ktra_records \
                                 WHERE record_key >= $1 AND record_key < $2 \
                                 ORDER BY record_key",
                            )
                            .bind(from)
                            .bind(to)
                            .fetch_all(&pool)
                            .await
                        }
                        None => {
                            sqlx::query_scalar::<_, String>(
                                "SELECT record_key FROM ktra_records ORDER BY record_key",
                            )
                            .fetch_all(&pool)
                            .await
                        }
                    }
                })?;
                keys.into_iter().map(String::into_bytes).collect()
            }
            #[cfg(feature = "mysql")]
            Pool::Mysql(pool) => self.run(&op, async move {
                match range {
                    Some((from, to)) => {
                        sqlx::query_scalar::<_, Vec<u8>>(
                            "SELECT record_key FROM ktra_records \
                             WHERE record_key >= ? AND record_key < ? \
                             ORDER BY record_key",
                        )
                        .bind(from.into_bytes())
                        .bind(to.into_bytes())
                        .fetch_all(&pool)
                        .await
                    }
                    None => {
                        sqlx::query_scalar::<_, Vec<u8>>(
                            "SELECT record_key FROM ktra_records ORDER BY record_key",
                        )
                        .fetch_all(&pool)
                        .await
                    }
                }
            })?,
        };
        keys.into_iter()
            .map(|k| {
                String::from_utf8(k).map_err(|e| {
                    anyhow!(
                        "the {} state at {} has a key that is not UTF-8: {:?}",
                        self.dialect.name(),
                        self.shown,
                        String::from_utf8_lossy(e.as_bytes())
                    )
                })
            })
            .collect()
    }

    fn put(&self, key: &str, bytes: &[u8], expect: Expect) -> Result<bool> {
        let version = new_version()?;
        let (key, bytes) = (key.to_owned(), bytes.to_vec());
        let op = format!("write `{key}`");
        match expect {
            Expect::Absent => match self.pool.clone() {
                #[cfg(feature = "postgres")]
                Pool::Postgres(pool) => self.run(&op, async move {
                    let r = sqlx::query(
                        "INSERT INTO ktra_records (record_key, bytes, version) \
                         VALUES ($1, $2, $3)",
                    )
                    .bind(key)
                    .bind(bytes)
                    .bind(version)
                    .execute(&pool)
                    .await;
                    match r {
                        Ok(_) => Ok(true),
                        Err(e) if is_duplicate(&e) => Ok(false),
                        Err(e) => Err(e),
                    }
                }),
                #[cfg(feature = "mysql")]
                Pool::Mysql(pool) => self.run(&op, async move {
                    let r = sqlx::query(
                        "INSERT INTO ktra_records (record_key, bytes, version) \
                         VALUES (?, ?, ?)",
                    )
                    .bind(key.into_bytes())
                    .bind(bytes)
                    .bind(version)
                    .execute(&pool)
                    .await;
                    match r {
                        Ok(_) => Ok(true),
                        Err(e) if is_duplicate(&e) => Ok(false),
                        Err(e) => Err(e),
                    }
                }),
            },
            Expect::Version(v) => {
                // A version this backend never wrote matches no record.
                let Ok(old) = v.parse::<i64>() else {
                    return Ok(false);
                };
                let changed = match self.pool.clone() {
                    #[cfg(feature = "postgres")]
                    Pool::Postgres(pool) => self.run(&op, async move {
                        sqlx::query(
                            "UPDATE ktra_records SET bytes = $3, version = $4 \
                             WHERE record_key = $1 AND version = $2",
                        )
                        .bind(key)
                        .bind(old)
                        .bind(bytes)
                        .bind(version)
                        .execute(&pool)
                        .await
                        .map(|r| r.rows_affected())
                    })?,
                    #[cfg(feature = "mysql")]
                    Pool::Mysql(pool) => self.run(&op, async move {
                        // The version changes with every write, so a matched row is a changed
                        // row (MySQL counts changed rows).
                        sqlx::query(
                            "UPDATE ktra_records SET bytes = ?, version = ? \
                             WHERE record_key = ? AND version = ?",
                        )
                        .bind(bytes)
                        .bind(version)
                        .bind(key.into_bytes())
                        .bind(old)
                        .execute(&pool)
                        .await
                        .map(|r| r.rows_affected())
                    })?,
                };
                Ok(changed == 1)
            }
        }
    }

    fn remove(&self, key: &str) -> Result<()> {
        let key = key.to_owned();
        let op = format!("remove `{key}`");
        match self.pool.clone() {
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => self.run(&op, async move {
                sqlx::query("DELETE FROM ktra_records WHERE record_key = $1")
                    .bind(key)
                    .execute(&pool)
                    .await
                    .map(drop)
            }),
            #[cfg(feature = "mysql")]
            Pool::Mysql(pool) => self.run(&op, async move {
                sqlx::query("DELETE FROM ktra_records WHERE record_key = ?")
                    .bind(key.into_bytes())
                    .execute(&pool)
                    .await
                    .map(drop)
            }),
        }
    }

    fn append_audit(&self, stamp: &str, line: &[u8]) -> Result<()> {
        let line = String::from_utf8(line.to_vec())
            .map_err(|_| anyhow!("failed to write an audit event: it is not UTF-8 text"))?;
        let stamp = stamp.to_owned();
        let op = "append to the audit log";
        match self.pool.clone() {
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => self.run(op, async move {
                sqlx::query("INSERT INTO ktra_audit (stamp, line) VALUES ($1, $2)")
                    .bind(stamp)
                    .bind(line)
                    .execute(&pool)
                    .await
                    .map(drop)
            }),
            #[cfg(feature = "mysql")]
            Pool::Mysql(pool) => self.run(op, async move {
                sqlx::query("INSERT INTO ktra_audit (stamp, line) VALUES (?, ?)")
                    .bind(stamp)
                    .bind(line)
                    .execute(&pool)
                    .await
                    .map(drop)
            }),
        }
    }

    /// The `ktra_audit` table by increasing id, a page at a time (keyset: each page one
    /// indexed range read).
    fn audit_events(&self, each: &mut dyn FnMut(&str, &[u8]) -> Result<()>) -> Result<()> {
        let mut after = i64::MIN;
        loop {
            let page = self.audit_page(after)?;
            for (_, stamp, line) in &page {
                each(stamp, line.as_bytes())?;
            }
            match page.last() {
                Some((id, _, _)) if page.len() as i64 == AUDIT_PAGE => after = *id,
                _ => return Ok(()),
            }
        }
    }
}

/// How many audit events one query reads.
const AUDIT_PAGE: i64 = 500;

impl Sql {
    /// One page of the audit log: the events after the id `after`, oldest first.
    fn audit_page(&self, after: i64) -> Result<Vec<(i64, String, String)>> {
        let op = "read the audit log";
        match self.pool.clone() {
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => self.run(op, async move {
                sqlx::query_as::<_, (i64, String, String)>(
                    "SELECT id, stamp, line FROM ktra_audit WHERE id > $1 ORDER BY id LIMIT $2",
                )
                .bind(after)
                .bind(AUDIT_PAGE)
                .fetch_all(&pool)
                .await
            }),
            #[cfg(feature = "mysql")]
            Pool::Mysql(pool) => self.run(op, async move {
                sqlx::query_as::<_, (i64, String, String)>(
                    "SELECT id, stamp, line FROM ktra_audit WHERE id > ? ORDER BY id LIMIT ?",
                )
                .bind(after)
                .bind(AUDIT_PAGE)
                .fetch_all(&pool)
                .await
            }),
        }
    }
}

#[cfg(feature = "postgres")]
mod pg {
    use super::{MigrateOutcome, Migrated, schema};

    /// Any number given to `pg_advisory_xact_lock`, the same in every ktra ("ktramig").
    const MIGRATION_LOCK: i64 = 0x006b_7472_616d_6967;

    /// All pending migrations in one transaction under an advisory lock (PostgreSQL's DDL is
    /// transactional: a failed migration leaves nothing).
    pub(super) async fn migrate(
        pool: sqlx::PgPool,
        migrations: &'static [schema::Migration],
        latest: i64,
    ) -> Result<MigrateOutcome, sqlx::Error> {
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
        sqlx::query(schema::POSTGRES_SCHEMA_TABLE)
            .execute(&mut *tx)
            .await?;
        let from = sqlx::query_scalar::<_, Option<i64>>("SELECT max(version) FROM ktra_schema")
            .fetch_one(&mut *tx)
            .await?
            .unwrap_or(0);
        if from > latest {
            return Ok(MigrateOutcome::Newer(from));
        }
        for m in migrations.iter().filter(|m| m.version > from) {
            for statement in m.postgres {
                sqlx::query(*statement).execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO ktra_schema (version, name) VALUES ($1, $2)")
                .bind(m.version)
                .bind(m.name)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(MigrateOutcome::Done(Migrated { from, to: latest }))
    }
}

#[cfg(feature = "mysql")]
mod my {
    use super::{MigrateOutcome, Migrated, schema};

    /// Migrations under `GET_LOCK` on one connection (MySQL commits DDL by itself, so each
    /// step's statements are idempotent and its row is written after them).
    pub(super) async fn migrate(
        pool: sqlx::MySqlPool,
        migrations: &'static [schema::Migration],
        latest: i64,
    ) -> Result<MigrateOutcome, sqlx::Error> {
        let mut conn = pool.acquire().await?;
        let got = sqlx::query_scalar::<_, Option<i64>>("SELECT GET_LOCK('ktra_migrate', 30)")
            .fetch_one(&mut *conn)
            .await?;
        if got != Some(1) {
            return Err(sqlx::Error::Protocol(
                "another ktra held the migration lock (`ktra_migrate`) for 30 s".into(),
            ));
        }
        let result: Result<MigrateOutcome, sqlx::Error> = async {
            sqlx::query(schema::MYSQL_SCHEMA_TABLE)
                .execute(&mut *conn)
                .await?;
            let from = sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(version) FROM ktra_schema")
                .fetch_one(&mut *conn)
                .await?
                .unwrap_or(0);
            if from > latest {
                return Ok(MigrateOutcome::Newer(from));
            }
            for m in migrations.iter().filter(|m| m.version > from) {
                for statement in m.mysql {
                    sqlx::query(*statement).execute(&mut *conn).await?;
                }
                sqlx::query("INSERT INTO ktra_schema (version, name) VALUES (?, ?)")
                    .bind(m.version)
                    .bind(m.name)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(MigrateOutcome::Done(Migrated { from, to: latest }))
        }
        .await;
        let released = sqlx::query("SELECT RELEASE_LOCK('ktra_migrate')")
            .execute(&mut *conn)
            .await;
        let outcome = result?;
        released?;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_a_folder_and_nothing_else() {
        assert_eq!(key_range("users"), Some(("users/".into(), "users0".into())));
        assert_eq!(
            key_range("users/"),
            Some(("users/".into(), "users0".into()))
        );
        assert_eq!(key_range(""), None);
        let (from, to) = key_range("users").unwrap();
        for inside in ["users/a", "users/zz/y", "users/\u{10ffff}"] {
            assert!(inside >= from.as_str() && inside < to.as_str(), "{inside}");
        }
        for outside in [
            "users",
            "users.json",
            "users0",
            "usersa",
            "user/x",
            "users-x/y",
        ] {
            assert!(
                !(outside >= from.as_str() && outside < to.as_str()),
                "{outside}"
            );
        }
    }

    #[test]
    fn passwords_never_show() {
        let url = "postgres://ktra:s%40cret@127.0.0.1:5432/ktra?sslpassword=other";
        assert_eq!(shown_url(url), "postgres://***@127.0.0.1:5432/ktra");
        let secrets = secrets_of(url);
        let text = format!("bad s%40cret s@cret other {url}");
        let out = scrubbed(&text, &secrets);
        for s in ["s%40cret", "s@cret", "other"] {
            assert!(!out.contains(s), "{out}");
        }
    }

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
