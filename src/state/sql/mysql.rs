//! MySQL's and MariaDB's statements: `?` placeholders, keys as `VARBINARY` (bound as bytes, so
//! they compare byte by byte), and the migrations under `GET_LOCK` (MySQL commits DDL by
//! itself, outside any transaction).

use super::migrate::{MigrateOutcome, missing_table_as_none};
use super::schema;
use crate::state::Migrated;
use sqlx::MySqlPool;

type Result<T> = std::result::Result<T, sqlx::Error>;

pub(super) async fn schema_version(pool: MySqlPool) -> Result<Option<i64>> {
    missing_table_as_none(
        sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(version) FROM ktra_schema")
            .fetch_one(&pool)
            .await,
    )
}

pub(super) async fn mark_schema_version(pool: MySqlPool, version: i64) -> Result<()> {
    sqlx::query("INSERT INTO ktra_schema (version, name) VALUES (?, 'test')")
        .bind(version)
        .execute(&pool)
        .await
        .map(drop)
}

/// Migrations under `GET_LOCK` on one connection (MySQL commits DDL by itself, so each step's
/// statements are idempotent and its row is written after them).
pub(super) async fn migrate(
    pool: MySqlPool,
    migrations: &'static [schema::Migration],
    latest: i64,
) -> Result<MigrateOutcome> {
    let mut conn = pool.acquire().await?;
    let got = sqlx::query_scalar::<_, Option<i64>>("SELECT GET_LOCK('ktra_migrate', 30)")
        .fetch_one(&mut *conn)
        .await?;
    if got != Some(1) {
        return Err(sqlx::Error::Protocol(
            "another ktra held the migration lock (`ktra_migrate`) for 30 s".into(),
        ));
    }
    let result: Result<MigrateOutcome> = async {
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

pub(super) async fn get(pool: MySqlPool, key: String) -> Result<Option<(Vec<u8>, i64)>> {
    sqlx::query_as::<_, (Vec<u8>, i64)>(
        "SELECT bytes, version FROM ktra_records WHERE record_key = ?",
    )
    .bind(key.into_bytes())
    .fetch_optional(&pool)
    .await
}

/// The keys in `[from, to)`, or every key, in order.
pub(super) async fn list(pool: MySqlPool, range: Option<(String, String)>) -> Result<Vec<Vec<u8>>> {
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
}

/// A new record; `false` when the key is taken.
pub(super) async fn insert(
    pool: MySqlPool,
    key: String,
    bytes: Vec<u8>,
    version: i64,
) -> Result<bool> {
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
        Err(e) if super::records::is_duplicate(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The record changed if it still has version `old`: the rows changed (0 or 1). The version
/// changes with every write, so a matched row is a changed row (MySQL counts changed rows).
pub(super) async fn update(
    pool: MySqlPool,
    key: String,
    old: i64,
    bytes: Vec<u8>,
    version: i64,
) -> Result<u64> {
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
}

pub(super) async fn remove(pool: MySqlPool, key: String) -> Result<()> {
    sqlx::query("DELETE FROM ktra_records WHERE record_key = ?")
        .bind(key.into_bytes())
        .execute(&pool)
        .await
        .map(drop)
}

pub(super) async fn append_audit(pool: MySqlPool, stamp: String, line: String) -> Result<()> {
    sqlx::query("INSERT INTO ktra_audit (stamp, line) VALUES (?, ?)")
        .bind(stamp)
        .bind(line)
        .execute(&pool)
        .await
        .map(drop)
}

/// The audit events after the id `after`, oldest first, at most `limit` (keyset paging).
pub(super) async fn audit_page(
    pool: MySqlPool,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, String, String)>> {
    sqlx::query_as::<_, (i64, String, String)>(
        "SELECT id, stamp, line FROM ktra_audit WHERE id > ? ORDER BY id LIMIT ?",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(&pool)
    .await
}
