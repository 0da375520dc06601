//! The records in Redis, under a key prefix (`ktra:` unless told otherwise) so a shared Redis
//! is safe.
//!
//! - A record is a hash `PREFIX rec:KEY` with the fields `val` (the bytes) and `ver` (its
//!   version: a number from the counter `PREFIX version`, incremented by every write, so a
//!   version is never reused, not even by a record removed and made again).
//! - Every folder-like prefix of a key (and the root) has a sorted set `PREFIX index:FOLDER`
//!   of the keys below it (all scores 0, so Redis orders them bytewise): `list` is one
//!   `ZRANGE`, never a `KEYS` or `SCAN` of the keyspace.
//! - A conditional write (`Expect::Absent`, `Expect::Version`) is one Lua script (`EVALSHA`,
//!   `EVAL` when the server does not have it yet): the check, the new version, the record and
//!   the folder sets change together or not at all. Removal is one script too.
//! - The audit log is a stream `PREFIX audit` (`XADD`, the server's time-based ids), each
//!   entry with the fields `stamp` and `event`.
//!
//! Connections: a bounded pool (at most [`POOL`] calls at once, each on one connection, so at
//! most [`POOL`] connections are ever open; a call beyond it waits for a free one up to the
//! connect timeout), opened on demand with a
//! connect timeout (the handshake included) and read/write timeouts, so no call waits longer
//! than [`CONNECT_TIMEOUT`] plus [`IO_TIMEOUT`] for a server that accepts connections and never
//! answers. A connection that failed is dropped, and with it every idle one (they all went to
//! the same server: after a restart they are all dead), so the next call connects again: a
//! restarted server is picked up by itself. Reads and removals are tried once more on a fresh
//! connection when a pooled one turns out to be closed (not when it timed out: the server is
//! there but hung, and a second wait would only double the first). Writes are never sent
//! twice (a write that reached the server must not be applied twice): a pooled connection is
//! checked with a `PING` before a write, so a write after a restart goes to a live one.

use super::{Expect, Migrated, Record, Records, Unavailable, redact};
use ::redis::{Client, Connection, RedisError, Script};
use anyhow::{Result, anyhow};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// The key prefix when none is given.
pub const DEFAULT_PREFIX: &str = "ktra:";
/// At most this many connections are open (calls beyond it wait for one, up to
/// [`CONNECT_TIMEOUT`]).
pub const POOL: usize = 8;
/// The layout's version (records as hashes, folder sets, the audit stream).
pub const SCHEMA: i64 = 1;
/// How many audit events one `XRANGE` reads.
const AUDIT_PAGE: usize = 500;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const IO_TIMEOUT: Duration = Duration::from_secs(10);

// KEYS[1] the record, KEYS[2] the version counter, KEYS[3..] the folder sets;
// ARGV[1] `absent` or `version`, ARGV[2] the version expected, ARGV[3] the bytes,
// ARGV[4] the key (the member of the folder sets).
const PUT: &str = r#"
local current = redis.call('HGET', KEYS[1], 'ver')
if ARGV[1] == 'absent' then
  if current then return 0 end
elseif current ~= ARGV[2] then
  return 0
end
local version = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'val', ARGV[3], 'ver', tostring(version))
for i = 3, #KEYS do
  redis.call('ZADD', KEYS[i], 0, ARGV[4])
end
return 1
"#;

// KEYS[1] the record, KEYS[2..] the folder sets; ARGV[1] the key.
const REMOVE: &str = r#"
redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  redis.call('ZREM', KEYS[i], ARGV[1])
end
return 1
"#;

/// The records in one Redis database.
pub struct RedisRecords {
    client: Client,
    /// The URL without its password, for messages.
    shown: String,
    /// The password, only to scrub it from a driver's message should one ever quote it.
    secret: Option<String>,
    prefix: String,
    idle: Mutex<Vec<Connection>>,
    /// How many calls are running (each holds one connection).
    busy: Mutex<usize>,
    freed: Condvar,
    put: Script,
    remove: Script,
}

impl RedisRecords {
    /// Records at `url` (`redis://[USER:PASSWORD@]HOST[:PORT][/DB]`) under the prefix `ktra:`.
    /// Connects and PINGs once, so a wrong address or password shows here.
    pub fn connect(url: &str) -> Result<Self> {
        Self::connect_with_prefix(url, DEFAULT_PREFIX)
    }

    /// Records at `url` under another key prefix.
    pub fn connect_with_prefix(url: &str, prefix: &str) -> Result<Self> {
        let shown = redact(url);
        let secret = super::password_of(url).map(str::to_owned);
        let client = Client::open(url).map_err(|e| {
            anyhow!(
                "failed to read the Redis state's URL {shown}: {}",
                clean(&e, secret.as_deref())
            )
        })?;
        let records = Self {
            client,
            shown,
            secret,
            prefix: prefix.to_owned(),
            idle: Mutex::new(Vec::new()),
            busy: Mutex::new(0),
            freed: Condvar::new(),
            put: Script::new(PUT),
            remove: Script::new(REMOVE),
        };
        // A PING: a server that wants a password refuses commands, not connections.
        let con = records
            .open()
            .and_then(|mut con| {
                ::redis::cmd("PING").query::<String>(&mut con)?;
                Ok(con)
            })
            .map_err(|e| records.error("connect to", None, &e))?;
        records.give_back(con);
        Ok(records)
    }

    fn open(&self) -> ::redis::RedisResult<Connection> {
        let con = self.client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
        con.set_read_timeout(Some(IO_TIMEOUT))?;
        con.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(con)
    }

    fn give_back(&self, con: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < POOL {
            idle.push(con);
        }
    }

    /// An idle connection, if any.
    fn take_idle(&self) -> Option<Connection> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    /// Drops every idle connection: one of them failed, so the server went away (and maybe
    /// came back), and the others are just as dead.
    fn forget_idle(&self) {
        let dropped = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|e| e.into_inner()));
        drop(dropped);
    }

    /// A connection for a write: an idle one that answers a `PING`, else a new one.
    fn for_write(&self) -> ::redis::RedisResult<(Connection, bool)> {
        if let Some(mut con) = self.take_idle() {
            match ::redis::cmd("PING").query::<String>(&mut con) {
                Ok(_) => return Ok((con, true)),
                Err(e) if e.is_timeout() => return Err(e),
                Err(_) => self.forget_idle(),
            }
        }
        Ok((self.open()?, false))
    }

    fn error(&self, op: &str, key: Option<&str>, e: &RedisError) -> anyhow::Error {
        let cause = if e.is_timeout() {
            Unavailable(format!("no answer within {IO_TIMEOUT:?}"))
        } else {
            Unavailable(clean(e, self.secret.as_deref()))
        };
        anyhow::Error::new(cause).context(super::failed_to(op, key, &self.describe()))
    }

    /// Runs `f` on a connection from the pool (or a new one). With `retry` (reads and
    /// removals), a pooled connection that turns out to be closed is replaced by a new one
    /// and `f` runs again; without (writes), `f` runs once, on a connection that answered a
    /// `PING` just before.
    fn with<T>(
        &self,
        op: &str,
        key: Option<&str>,
        retry: bool,
        mut f: impl FnMut(&mut Connection) -> ::redis::RedisResult<T>,
    ) -> Result<T> {
        let _slot = self.slot().map_err(|e| {
            anyhow::Error::new(Unavailable(e)).context(super::failed_to(op, key, &self.describe()))
        })?;
        let (mut con, was_pooled) = if retry {
            match self.take_idle() {
                Some(con) => (con, true),
                None => (self.open().map_err(|e| self.error(op, key, &e))?, false),
            }
        } else {
            self.for_write().map_err(|e| {
                self.forget_idle();
                self.error(op, key, &e)
            })?
        };
        match f(&mut con) {
            Ok(v) => {
                self.give_back(con);
                Ok(v)
            }
            Err(e) if e.is_io_error() || e.is_connection_dropped() => {
                drop(con);
                self.forget_idle();
                if !(retry && was_pooled) || e.is_timeout() {
                    return Err(self.error(op, key, &e));
                }
                let mut con = self.open().map_err(|e| self.error(op, key, &e))?;
                let v = f(&mut con).map_err(|e| self.error(op, key, &e))?;
                self.give_back(con);
                Ok(v)
            }
            Err(e) => Err(self.error(op, key, &e)),
        }
    }

    /// Waits (up to [`CONNECT_TIMEOUT`]) until fewer than [`POOL`] calls are running, and
    /// counts this one until the returned guard is dropped.
    fn slot(&self) -> std::result::Result<Slot<'_>, String> {
        let busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        let (mut busy, waited) = self
            .freed
            .wait_timeout_while(busy, CONNECT_TIMEOUT, |n| *n >= POOL)
            .unwrap_or_else(|e| e.into_inner());
        if waited.timed_out() && *busy >= POOL {
            return Err(format!(
                "all {POOL} connections stayed busy for {CONNECT_TIMEOUT:?}"
            ));
        }
        *busy += 1;
        Ok(Slot(self))
    }

    /// The schema version kept at `PREFIX schema` (outside the records), if any.
    fn schema_version(&self) -> Result<Option<i64>> {
        let key = format!("{}schema", self.prefix);
        self.with("read", Some("schema"), true, |con| {
            ::redis::cmd("GET").arg(&key).query(con)
        })
    }

    fn record_key(&self, key: &str) -> String {
        format!("{}rec:{key}", self.prefix)
    }

    fn index_key(&self, folder: &str) -> String {
        format!("{}index:{folder}", self.prefix)
    }

    /// The sets of every folder the key is below: the root (``), then `a`, `a/b`, ...
    fn index_keys(&self, key: &str) -> Vec<String> {
        let mut keys = vec![self.index_key("")];
        for (i, c) in key.char_indices() {
            if c == '/' && i > 0 {
                keys.push(self.index_key(&key[..i]));
            }
        }
        keys
    }
}

/// One running call of [`RedisRecords::with`]; frees its place when dropped.
struct Slot<'a>(&'a RedisRecords);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.busy.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.0.freed.notify_one();
    }
}

/// A driver's message, with the password taken out should it ever appear in it.
fn clean(e: &RedisError, secret: Option<&str>) -> String {
    super::scrub(&e.to_string(), secret)
}

impl Records for RedisRecords {
    fn get(&self, key: &str) -> Result<Option<Record>> {
        let rec = self.record_key(key);
        let (bytes, version): (Option<Vec<u8>>, Option<String>) =
            self.with("read", Some(key), true, |con| {
                ::redis::cmd("HMGET")
                    .arg(&rec)
                    .arg("val")
                    .arg("ver")
                    .query(con)
            })?;
        Ok(match (bytes, version) {
            (Some(bytes), Some(version)) => Some(Record { bytes, version }),
            _ => None,
        })
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let set = self.index_key(prefix.trim_end_matches('/'));
        self.with("list", Some(prefix), true, |con| {
            ::redis::cmd("ZRANGE").arg(&set).arg(0).arg(-1).query(con)
        })
    }

    fn put(&self, key: &str, bytes: &[u8], expect: Expect) -> Result<bool> {
        let (mode, expected) = match &expect {
            Expect::Absent => ("absent", ""),
            Expect::Version(v) => ("version", v.as_str()),
        };
        let mut invocation = self.put.prepare_invoke();
        invocation
            .key(self.record_key(key))
            .key(format!("{}version", self.prefix));
        for set in self.index_keys(key) {
            invocation.key(set);
        }
        invocation.arg(mode).arg(expected).arg(bytes).arg(key);
        let done: i64 = self.with("write", Some(key), false, |con| invocation.invoke(con))?;
        Ok(done == 1)
    }

    fn remove(&self, key: &str) -> Result<()> {
        let mut invocation = self.remove.prepare_invoke();
        invocation.key(self.record_key(key));
        for set in self.index_keys(key) {
            invocation.key(set);
        }
        invocation.arg(key);
        let _: i64 = self.with("remove", Some(key), true, |con| invocation.invoke(con))?;
        Ok(())
    }

    fn describe(&self) -> String {
        format!("the Redis state at {}", self.shown)
    }

    fn check(&self) -> Result<()> {
        super::judge(&self.describe(), SCHEMA, self.schema_version()?)
    }

    /// Version 1 is the layout above; later ones will rewrite it under the same key.
    fn migrate(&self) -> Result<Migrated> {
        let key = format!("{}schema", self.prefix);
        let from = self.schema_version()?.unwrap_or(0);
        if from < SCHEMA {
            let _: () = self.with("write", Some("schema"), false, |con| {
                ::redis::cmd("SET").arg(&key).arg(SCHEMA).query(con)
            })?;
        }
        self.check()?;
        Ok(Migrated { from, to: SCHEMA })
    }

    fn append_audit(&self, stamp: &str, line: &[u8]) -> Result<()> {
        let stream = format!("{}audit", self.prefix);
        let _: String = self.with("append to the audit log", None, false, |con| {
            ::redis::cmd("XADD")
                .arg(&stream)
                .arg("*")
                .arg("stamp")
                .arg(stamp)
                .arg("event")
                .arg(line)
                .query(con)
        })?;
        Ok(())
    }

    /// The stream by `XRANGE`, [`AUDIT_PAGE`] entries a call, each page after the last id
    /// read (exclusive, `(ID`).
    fn audit_events(&self, each: &mut dyn FnMut(&str, &[u8]) -> Result<()>) -> Result<()> {
        let stream = format!("{}audit", self.prefix);
        let mut start = "-".to_owned();
        loop {
            let page: Vec<(String, Vec<Vec<u8>>)> =
                self.with("read the audit log", None, true, |con| {
                    ::redis::cmd("XRANGE")
                        .arg(&stream)
                        .arg(&start)
                        .arg("+")
                        .arg("COUNT")
                        .arg(AUDIT_PAGE)
                        .query(con)
                })?;
            for (_, fields) in &page {
                let field = |name: &[u8]| {
                    fields
                        .chunks(2)
                        .find(|pair| pair[0] == name)
                        .and_then(|pair| pair.get(1))
                };
                let stamp = field(b"stamp").map(|s| String::from_utf8_lossy(s));
                let line = field(b"event").map_or(&[][..], Vec::as_slice);
                each(stamp.as_deref().unwrap_or(""), line)?;
            }
            match page.last() {
                Some((id, _)) if page.len() == AUDIT_PAGE => start = format!("({id}"),
                _ => return Ok(()),
            }
        }
    }
}
