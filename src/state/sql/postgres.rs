//! PostgreSQL's statements: `$N` placeholders, keys as `TEXT COLLATE "C"`, and every pending
//! migration in one transaction under an advisory lock.

use super::migrate::{MigrateOutcome, missing_table_as_none};
use super::schema;
use crate::state::Migrated;
use sqlx::PgPool;

type Result<T> = std::result::Result<T, sqlx::Error>;

/// Any number given to `pg_advisory_xact_lock`, the same in every ktra ("ktramig").
const MIGRATION_LOCK: i64 = 0x006b_7472_616d_6967;

pub(super) async fn schema_version(pool: PgPool) -> Result<Option<i64>> {
    missing_table_as_none(
        sqlx::query_scalar::<_, Option<i64>>("SELECT max(version) FROM ktra_schema")
            .fetch_one(&pool)
            .await,
    )
}

pub(super) async fn mark_schema_version(pool: PgPool, version: i64) -> Result<()> {
    sqlx::query("INSERT INTO ktra_schema (version, name) VALUES ($1, 'test')")
        .bind(version)
        .execute(&pool)
        .await
        .map(drop)
}

/// All pending migrations in one transaction under an advisory lock (PostgreSQL's DDL is
/// transactional: a failed migration leaves nothing).
pub(super) async fn migrate(
    pool: PgPool,
    migrations: &'static [schema::Migration],
    latest: i64,
) -> Result<MigrateOutcome> {
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

pub(super) async fn get(pool: PgPool, key: String) -> Result<Option<(Vec<u8>, i64)>> {
    sqlx::query_as::<_, (Vec<u8>, i64)>(
        "SELECT bytes, version FROM ktra_records WHERE record_key = $1",
    )
    .bind(key)
    .fetch_optional(&pool)
    .await
}

/// The keys in `[from, to)`, or every key, in order.
pub(super) async fn list(pool: PgPool, range: Option<(String, String)>) -> Result<Vec<Vec<u8>>> {
    let keys = match range {
        Some((from, to)) => {
            sqlx::query_scalar::<_, String>(
                "SELECT record_key FROM ktra_records \
                 WHERE record_key >= $1 AND record_key < $2 \
                 ORDER BY record_key",
            )
            .bind(from)
            .bind(to)
            .fetch_all(&pool)
            .await?
        }
        None => {
            sqlx::query_scalar::<_, String>(
                "SELECT record_key FROM ktra_records ORDER BY record_key",
            )
            .fetch_all(&pool)
            .await?
        }
    };
    Ok(keys.into_iter().map(String::into_bytes).collect())
}

/// A new record; `false` when the key is taken.
pub(super) async fn insert(
    pool: PgPool,
    key: String,
    bytes: Vec<u8>,
    version: i64,
) -> Result<bool> {
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
        Err(e) if super::records::is_duplicate(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The record changed if it still has version `old`: the rows changed (0 or 1).
pub(super) async fn update(
    pool: PgPool,
    key: String,
    old: i64,
    bytes: Vec<u8>,
    version: i64,
) -> Result<u64> {
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
}

pub(super) async fn remove(pool: PgPool, key: String) -> Result<()> {
    sqlx::query("DELETE FROM ktra_records WHERE record_key = $1")
        .bind(key)
        .execute(&pool)
        .await
        .map(drop)
}

pub(super) async fn append_audit(pool: PgPool, stamp: String, line: String) -> Result<()> {
    sqlx::query("INSERT INTO ktra_audit (stamp, line) VALUES ($1, $2)")
        .bind(stamp)
        .bind(line)
        .execute(&pool)
        .await
        .map(drop)
}

/// The audit events after the id `after`, oldest first, at most `limit` (keyset paging).
pub(super) async fn audit_page(
    pool: PgPool,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, String, String)>> {
    sqlx::query_as::<_, (i64, String, String)>(
        "SELECT id, stamp, line FROM ktra_audit WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(&pool)
    .await
}
