//! The registry's private records (users, token hashes, crate owners, name reservations, the
//! audit log) behind one interface, whatever keeps them: the local state folder, or a private
//! location in object storage; the database backends (PostgreSQL, MariaDB, Redis, MongoDB)
//! implement the same trait. A record is a key and bytes with a version; a write can be made
//! conditional on the version read (or on the record being absent), which is all that several
//! receivers need to share the records without a lock: create-if-absent decides who gets a
//! name, and a changed record is written back only if nobody wrote it since it was read.

#[doc(hidden)]
pub mod contract;
mod files;
#[cfg(feature = "mongodb")]
pub mod mongo;
#[cfg(feature = "aws")]
mod objects;
mod open;
#[cfg(feature = "redis")]
pub mod redis;
mod schema;
pub mod settings;
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub mod sql;

pub use open::{open, open_at, open_in};
pub use schema::{Migrated, judge};
pub use settings::{Kind, StateSettings};

use anyhow::Result;

/// A record as read: its bytes and its version (an opaque token that changes with every
/// write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub bytes: Vec<u8>,
    pub version: String,
}

/// The condition a [`Records::put`] is made under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Only if no record has the key.
    Absent,
    /// Only if the record still has this version.
    Version(String),
}

/// A place that keeps the registry's private records.
pub trait Records: Send + Sync {
    /// The record with this key, if any.
    fn get(&self, key: &str) -> Result<Option<Record>>;
    /// The keys below `prefix` (a folder-like `users`), sorted.
    fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// Writes a record if `expect` holds: `false` (nothing written) when it does not.
    fn put(&self, key: &str, bytes: &[u8], expect: Expect) -> Result<bool>;
    /// Removes a record (nothing when there is none).
    fn remove(&self, key: &str) -> Result<()>;
    /// Appends one event (a JSON line without its newline) to the audit log; `stamp` is its
    /// time to the millisecond, for backends that name events by time.
    fn append_audit(&self, stamp: &str, line: &[u8]) -> Result<()>;
    /// Hands every event of the audit log to `each`, oldest first, as `(stamp, line)`, a page
    /// at a time where the backend pages (`ktra state copy`). The state folder keeps no stamp
    /// of its own: its stamp is the line's `time` in the stamps' form, or empty.
    fn audit_events(&self, each: &mut dyn FnMut(&str, &[u8]) -> Result<()>) -> Result<()>;
    /// The backend and where it is, for messages, never with a password (`the PostgreSQL
    /// state at postgres://ktra:***@db/ktra`).
    fn describe(&self) -> String;
    /// Refuses a store this ktra cannot use: no schema yet, or an older or a newer one.
    fn check(&self) -> Result<()> {
        Ok(())
    }
    /// Applies the schema migrations the store lacks (refusing a newer schema).
    fn migrate(&self) -> Result<Migrated> {
        Ok(Migrated { from: 1, to: 1 })
    }
    /// Whether writers share these records without the registry lock (so a record that must
    /// be unique is created only if absent): every backend but the local state folder.
    fn shared(&self) -> bool {
        true
    }
}

/// The folders records live in. The state folder and the private location in object storage
/// hold other private files beside them (the lock, the audit log, the site's and the mirror's
/// files): there [`Records::list`] of `""` lists only these folders, so a new kind of record
/// gets its folder here, or `ktra state copy` leaves it behind.
pub const RECORD_FOLDERS: &[&str] = &["owners", "tokens", "user-ids", "users"];

/// Whether a key is a record's (below one of [`RECORD_FOLDERS`]).
pub fn is_record_key(key: &str) -> bool {
    key.split_once('/')
        .is_some_and(|(folder, rest)| !rest.is_empty() && RECORD_FOLDERS.contains(&folder))
}

/// An audit event's stamp (`2026-12-06T040000.123Z`: RFC 3339 to the millisecond, without
/// colons) from the `time` of its line, or empty when it has none.
pub fn stamp_of_line(line: &[u8]) -> String {
    let time = serde_json::from_slice::<serde_json::Value>(line)
        .ok()
        .and_then(|v| v.get("time")?.as_str().map(str::to_owned));
    match time.and_then(|t| humantime::parse_rfc3339_weak(&t).ok()) {
        Some(at) => stamp(at),
        None => String::new(),
    }
}

/// The stamp of an audit event at `at`.
pub fn stamp(at: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(at)
        .to_string()
        .replace(':', "")
}

/// A failure of the server keeping the records (unreachable, refused credentials, a driver
/// error, a timeout), not of the request that needed them: the API answers 503.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

/// `failed to read `KEY` in the Redis state at ...` (`connect to` takes no key: `failed to
/// connect to the ...`): the context of a backend's error.
pub fn failed_to(op: &str, key: Option<&str>, describe: &str) -> String {
    match key {
        Some(key) => format!("failed to {op} `{key}` in {describe}"),
        None if op.ends_with(" to") => format!("failed to {op} {describe}"),
        None => format!("failed to {op} in {describe}"),
    }
}

/// A database URL as it may be shown: its password (if any) replaced by `***`.
pub fn redact(url: &str) -> String {
    match userinfo_span(url) {
        Some((start, end)) => match url[start..end].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..start], &url[end..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// `url` without its password, and whether it had one (for `ktra.toml`, which must not keep
/// it).
pub fn without_password(url: &str) -> (String, bool) {
    let Some((start, end)) = userinfo_span(url) else {
        return (url.to_owned(), false);
    };
    match url[start..end].split_once(':') {
        Some(("", _)) => (format!("{}{}", &url[..start], &url[end + 1..]), true),
        Some((user, _)) => (format!("{}{user}{}", &url[..start], &url[end..]), true),
        None => (url.to_owned(), false),
    }
}

/// The password of a database URL (`scheme://user:password@host/...`), as written.
pub fn password_of(url: &str) -> Option<&str> {
    let (start, end) = userinfo_span(url)?;
    url[start..end]
        .split_once(':')
        .map(|(_, p)| p)
        .filter(|p| !p.is_empty())
}

/// `text` with every occurrence of `secret` (and of its percent-decoded form) replaced by
/// `***`: for a driver's message that might quote the URL it was given.
pub fn scrub(text: &str, secret: Option<&str>) -> String {
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return text.to_owned();
    };
    let mut out = text.replace(secret, "***");
    if let Ok(decoded) = percent_encoding::percent_decode_str(secret).decode_utf8()
        && !decoded.is_empty()
    {
        out = out.replace(decoded.as_ref(), "***");
    }
    out
}

/// Where the `user:password` of `scheme://user:password@host` lies in `url`.
fn userinfo_span(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let authority = rest.find(['/', '?', '#']).map_or(rest, |end| &rest[..end]);
    let at = authority.rfind('@')?;
    Some((start, start + at))
}

/// How many times a conditional change is tried before giving up (each failure means another
/// writer's change landed, so the registry as a whole progresses).
pub const ATTEMPTS: u32 = 50;

/// Reads, changes and writes back one record, only if nobody wrote it since the read; on a
/// conflict the change is applied again to what the other writer left.
pub fn update(
    records: &dyn Records,
    key: &str,
    mut edit: impl FnMut(Option<&[u8]>) -> Result<Vec<u8>>,
) -> Result<Vec<u8>> {
    for attempt in 0..ATTEMPTS {
        let old = records.get(key)?;
        let expect = old
            .as_ref()
            .map_or(Expect::Absent, |r| Expect::Version(r.version.clone()));
        let new = edit(old.as_ref().map(|r| r.bytes.as_slice()))?;
        if records.put(key, &new, expect)? {
            return Ok(new);
        }
        crate::storage::backoff(attempt);
    }
    anyhow::bail!(
        "failed to change `{key}`: it kept changing under {ATTEMPTS} attempts (other writers); \
         try again"
    )
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // reason: tests read what the backends wrote.
mod tests;
