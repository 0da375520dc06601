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
use crate::state::{self, Expect, Records};
use anyhow::{Context, Result};

fn user_key(login: &str) -> String {
    format!("users/{login}.json")
}

fn token_key(hash: &str) -> String {
    format!("tokens/{hash}.json")
}

pub fn user(records: &dyn Records, login: &str) -> Result<Option<User>> {
    read_json(records, &user_key(login))
}

pub fn users(records: &dyn Records) -> Result<Vec<User>> {
    let mut out = Vec::new();
    for key in records.list("users")? {
        out.extend(read_json::<User>(records, &key)?);
    }
    out.sort_by_key(|u| u.id);
    Ok(out)
}

/// Takes a user id for `login`; `false` when another writer took it first (object storage;
/// on the local tree the caller holds the lock and the id is free).
pub fn reserve_user_id(records: &dyn Records, id: u32, login: &str) -> Result<bool> {
    if !records.shared() {
        return Ok(true);
    }
    create_json(records, &format!("user-ids/{id}.json"), login)
}

/// Records a new user; `false` (nothing written) when the login is taken.
pub fn create_user(records: &dyn Records, user: &User) -> Result<bool> {
    create_json(records, &user_key(&user.login), user)
}

pub fn remove_user(records: &dyn Records, login: &str) -> Result<()> {
    records.remove(&user_key(login))
}

/// The record of the token with this hash, if any.
pub fn token(records: &dyn Records, hash: &str) -> Result<Option<TokenRecord>> {
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    read_json(records, &token_key(hash))
}

/// Every token record with the hash it is stored under.
pub fn tokens(records: &dyn Records) -> Result<Vec<(String, TokenRecord)>> {
    let mut out = Vec::new();
    for key in records.list("tokens")? {
        let hash = key
            .trim_start_matches("tokens/")
            .trim_end_matches(".json")
            .to_owned();
        if let Some(rec) = read_json::<TokenRecord>(records, &key)? {
            out.push((hash, rec));
        }
    }
    out.sort_by_key(|(_, r)| r.created);
    Ok(out)
}

/// Records a new token; `false` (nothing written) when its hash is already recorded.
pub fn create_token(records: &dyn Records, hash: &str, record: &TokenRecord) -> Result<bool> {
    create_json(records, &token_key(hash), record)
}

pub fn remove_token(records: &dyn Records, hash: &str) -> Result<()> {
    records.remove(&token_key(hash))
}

fn owners_key(crate_name: &str) -> String {
    format!("owners/{}.json", crate_name.to_ascii_lowercase())
}

/// The logins owning a crate, or `None` when no owner was ever recorded.
pub fn owners(records: &dyn Records, crate_name: &str) -> Result<Option<Vec<String>>> {
    read_json(records, &owners_key(crate_name))
}

/// Makes `login` the owner of a crate that has no owners recorded. When another publisher
/// recorded owners first (a race on object storage), nothing is written and those owners are
/// returned, for the caller to check.
pub fn claim_owners(
    records: &dyn Records,
    crate_name: &str,
    login: &str,
) -> Result<Option<Vec<String>>> {
    let key = owners_key(crate_name);
    if create_json(records, &key, &[login])? {
        return Ok(None);
    }
    Ok(Some(read_json(records, &key)?.unwrap_or_default()))
}

/// Changes a crate's owners: `edit` gets the current ones (empty when none are recorded) and
/// changes them; re-run on the new ones when another writer changed them meanwhile.
pub fn update_owners(
    records: &dyn Records,
    crate_name: &str,
    mut edit: impl FnMut(&mut Vec<String>) -> Result<()>,
) -> Result<Vec<String>> {
    update_json(
        records,
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
pub fn audit(records: &dyn Records, event: serde_json::Value) -> Result<()> {
    let now = std::time::SystemTime::now();
    let mut line =
        serde_json::json!({ "time": humantime::format_rfc3339_seconds(now).to_string() });
    if let (Some(obj), serde_json::Value::Object(extra)) = (line.as_object_mut(), event) {
        obj.extend(extra);
    }
    let stamp = state::stamp(now);
    records.append_audit(&stamp, line.to_string().as_bytes())
}

fn read_json<T: serde::de::DeserializeOwned>(
    records: &dyn Records,
    key: &str,
) -> Result<Option<T>> {
    let Some(record) = records.get(key)? else {
        return Ok(None);
    };
    serde_json::from_slice(&record.bytes)
        .map(Some)
        .with_context(|| format!("failed to parse the record `{key}`"))
}

/// Writes a record that must not exist yet; `false` (nothing written) when it does.
fn create_json<T: serde::Serialize + ?Sized>(
    records: &dyn Records,
    key: &str,
    value: &T,
) -> Result<bool> {
    let bytes = serde_json::to_vec_pretty(value)?;
    records.put(key, &bytes, Expect::Absent)
}

/// Read, change, write back one record, only if nobody wrote it since the read (re-run on a
/// conflict).
fn update_json<T: serde::Serialize + serde::de::DeserializeOwned>(
    records: &dyn Records,
    key: &str,
    mut edit: impl FnMut(Option<T>) -> Result<T>,
) -> Result<T> {
    let mut new = None;
    state::update(records, key, |old| {
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
