//! Users and token records on disk, in the private folder: `state/users/LOGIN.json` and
//! `state/tokens/HASH.json` (a token is found by its hash with one read), plus the append-only
//! audit log `state/audit.jsonl`. Writes are atomic and made under the registry lock by the
//! callers.

use super::{TokenRecord, User};
use crate::storage::{Area, Store};
use anyhow::{Context, Result};
use std::io::Write;

fn user_key(login: &str) -> String {
    format!("users/{login}.json")
}

fn token_key(hash: &str) -> String {
    format!("tokens/{hash}.json")
}

pub fn user(store: &Store, login: &str) -> Result<Option<User>> {
    read_json(store, &user_key(login))
}

pub fn users(store: &Store) -> Result<Vec<User>> {
    let mut out = Vec::new();
    for key in store.walk(Area::State, "users")? {
        out.extend(read_json::<User>(store, &key)?);
    }
    out.sort_by_key(|u| u.id);
    Ok(out)
}

pub fn put_user(store: &Store, user: &User) -> Result<()> {
    put_json(store, &user_key(&user.login), user)
}

pub fn remove_user(store: &Store, login: &str) -> Result<()> {
    store.remove(Area::State, &user_key(login))?;
    store.sync()
}

/// The record of the token with this hash, if any.
pub fn token(store: &Store, hash: &str) -> Result<Option<TokenRecord>> {
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    read_json(store, &token_key(hash))
}

/// Every token record with the hash it is stored under.
pub fn tokens(store: &Store) -> Result<Vec<(String, TokenRecord)>> {
    let mut out = Vec::new();
    for key in store.walk(Area::State, "tokens")? {
        let hash = key
            .trim_start_matches("tokens/")
            .trim_end_matches(".json")
            .to_owned();
        if let Some(rec) = read_json::<TokenRecord>(store, &key)? {
            out.push((hash, rec));
        }
    }
    out.sort_by_key(|(_, r)| r.created);
    Ok(out)
}

pub fn put_token(store: &Store, hash: &str, record: &TokenRecord) -> Result<()> {
    put_json(store, &token_key(hash), record)
}

pub fn remove_token(store: &Store, hash: &str) -> Result<()> {
    store.remove(Area::State, &token_key(hash))?;
    store.sync()
}

fn owners_key(crate_name: &str) -> String {
    format!("owners/{}.json", crate_name.to_ascii_lowercase())
}

/// The logins owning a crate, or `None` when no owner was ever recorded.
pub fn owners(store: &Store, crate_name: &str) -> Result<Option<Vec<String>>> {
    read_json(store, &owners_key(crate_name))
}

pub fn put_owners(store: &Store, crate_name: &str, logins: &[String]) -> Result<()> {
    put_json(store, &owners_key(crate_name), &logins)
}

/// Appends one event to the audit log and syncs it.
pub fn audit(store: &Store, event: serde_json::Value) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = store.path(Area::State, "audit.jsonl");
    let mut line = serde_json::json!({ "time": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string() });
    if let (Some(obj), serde_json::Value::Object(extra)) = (line.as_object_mut(), event) {
        obj.extend(extra);
    }
    let mut file = std::fs::File::options()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("failed to open `{}`", path.display()))?;
    writeln!(file, "{line}").with_context(|| format!("failed to write `{}`", path.display()))?;
    file.sync_data()
        .with_context(|| format!("failed to sync `{}`", path.display()))
}

fn read_json<T: serde::de::DeserializeOwned>(store: &Store, key: &str) -> Result<Option<T>> {
    let Some(bytes) = store.read(Area::State, key)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).with_context(|| {
        format!(
            "failed to parse `{}`",
            store.path(Area::State, key).display()
        )
    })
}

fn put_json<T: serde::Serialize>(store: &Store, key: &str, value: &T) -> Result<()> {
    let mut batch = store.batch();
    batch.put(Area::State, key, &serde_json::to_vec_pretty(value)?)?;
    batch.commit()?;
    store.sync()
}
