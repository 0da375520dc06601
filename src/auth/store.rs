//! Users and token records: `users/LOGIN.json` and `tokens/HASH.json` (a token is found by its
//! hash with one read), owners in `owners/NAME.json`, plus the audit log, kept by the
//! registry's [`crate::state::Records`].
//!
//! On the local tree writes are made under the registry lock by the callers. On object storage
//! there is no lock: any number of `ktra serve` processes and CLI writers share the records, so
//! a record that must not exist yet is created only if absent ([`create_json`]) and a record
//! that is changed (a crate's owners) is read, changed and written back only if nobody wrote it
//! since the read ([`update_json`]).

use super::{TokenRecord, User};
use crate::state::{self, Expect};
use crate::storage::Store;
use anyhow::{Context, Result};

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
    for key in state::of(store).list("users")? {
        out.extend(read_json::<User>(store, &key)?);
    }
    out.sort_by_key(|u| u.id);
    Ok(out)
}

/// Takes a user id for `login`; `false` when another writer took it first (object storage;
/// on the local tree the caller holds the lock and the id is free).
pub fn reserve_user_id(store: &Store, id: u32, login: &str) -> Result<bool> {
    if !store.is_remote() {
        return Ok(true);
    }
    create_json(store, &format!("user-ids/{id}.json"), login)
}

/// Records a new user; `false` (nothing written) when the login is taken.
pub fn create_user(store: &Store, user: &User) -> Result<bool> {
    create_json(store, &user_key(&user.login), user)
}

pub fn remove_user(store: &Store, login: &str) -> Result<()> {
    state::of(store).remove(&user_key(login))
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
    for key in state::of(store).list("tokens")? {
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

/// Records a new token; `false` (nothing written) when its hash is already recorded.
pub fn create_token(store: &Store, hash: &str, record: &TokenRecord) -> Result<bool> {
    create_json(store, &token_key(hash), record)
}

pub fn remove_token(store: &Store, hash: &str) -> Result<()> {
    state::of(store).remove(&token_key(hash))
}

fn owners_key(crate_name: &str) -> String {
    format!("owners/{}.json", crate_name.to_ascii_lowercase())
}

/// The logins owning a crate, or `None` when no owner was ever recorded.
pub fn owners(store: &Store, crate_name: &str) -> Result<Option<Vec<String>>> {
    read_json(store, &owners_key(crate_name))
}

/// Makes `login` the owner of a crate that has no owners recorded. When another publisher
/// recorded owners first (a race on object storage), nothing is written and those owners are
/// returned, for the caller to check.
pub fn claim_owners(store: &Store, crate_name: &str, login: &str) -> Result<Option<Vec<String>>> {
    let key = owners_key(crate_name);
    if create_json(store, &key, &[login])? {
        return Ok(None);
    }
    Ok(Some(read_json(store, &key)?.unwrap_or_default()))
}

/// Changes a crate's owners: `edit` gets the current ones (empty when none are recorded) and
/// changes them; re-run on the new ones when another writer changed them meanwhile.
pub fn update_owners(
    store: &Store,
    crate_name: &str,
    mut edit: impl FnMut(&mut Vec<String>) -> Result<()>,
) -> Result<Vec<String>> {
    update_json(
        store,
        &owners_key(crate_name),
        |old: Option<Vec<String>>| {
            let mut owners = old.unwrap_or_default();
            edit(&mut owners)?;
            Ok(owners)
        },
    )
}

/// Appends one event to the audit log and syncs it: a line of `audit.jsonl` on the local tree;
/// on object storage an object of its own, `audit/TIME-RANDOM.json` (sorted by time, to the
/// millisecond, without colons), so that writers on many machines never overwrite each
/// other's events.
pub fn audit(store: &Store, event: serde_json::Value) -> Result<()> {
    let now = std::time::SystemTime::now();
    let mut line =
        serde_json::json!({ "time": humantime::format_rfc3339_seconds(now).to_string() });
    if let (Some(obj), serde_json::Value::Object(extra)) = (line.as_object_mut(), event) {
        obj.extend(extra);
    }
    let stamp = humantime::format_rfc3339_millis(now)
        .to_string()
        .replace(':', "");
    state::of(store).append_audit(&stamp, line.to_string().as_bytes())
}

fn read_json<T: serde::de::DeserializeOwned>(store: &Store, key: &str) -> Result<Option<T>> {
    let Some(record) = state::of(store).get(key)? else {
        return Ok(None);
    };
    serde_json::from_slice(&record.bytes)
        .map(Some)
        .with_context(|| format!("failed to parse the record `{key}`"))
}

/// Writes a record that must not exist yet; `false` (nothing written) when it does.
fn create_json<T: serde::Serialize + ?Sized>(store: &Store, key: &str, value: &T) -> Result<bool> {
    let bytes = serde_json::to_vec_pretty(value)?;
    state::of(store).put(key, &bytes, Expect::Absent)
}

/// Read, change, write back one record, only if nobody wrote it since the read (re-run on a
/// conflict).
fn update_json<T: serde::Serialize + serde::de::DeserializeOwned>(
    store: &Store,
    key: &str,
    mut edit: impl FnMut(Option<T>) -> Result<T>,
) -> Result<T> {
    let mut new = None;
    state::update(state::of(store).as_ref(), key, |old| {
        let old = old
            .map(serde_json::from_slice)
            .transpose()
            .with_context(|| format!("failed to parse the record `{key}`"))?;
        let value = edit(old)?;
        let bytes = serde_json::to_vec_pretty(&value)?;
        new = Some(value);
        Ok(bytes)
    })?;
    Ok(new.expect("set by the last edit"))
}
