//! The records in MongoDB, with the official driver's blocking API.
//!
//! - Collection `records`: one document a record, `{_id: KEY, value: <binary>, version:
//!   <string>}`; a version is a new ObjectId's hex at every write, so it is never reused, not
//!   even by a record removed and made again.
//! - `Expect::Absent` is an insert: the unique `_id` makes a second one fail with a
//!   duplicate-key error (code 11000), which is `Ok(false)`. `Expect::Version` is an
//!   `update_one` filtered on `_id` and `version`: it changes the record only if nobody wrote
//!   it since it was read. Both are single-document operations, atomic on any server, a
//!   standalone included (no multi-document transactions).
//! - `list(prefix)` is a query on an anchored, escaped regex `^prefix/` over `_id` (which the
//!   `_id` index serves), sorted by `_id`, only `_id` returned.
//! - The audit log is the collection `audit`: one document an event, `{stamp, event}`.
//!
//! The database is the URL's (`mongodb://HOST:PORT/DB`), `ktra` when the URL names none. The
//! driver keeps its own bounded pool ([`POOL`] connections), reconnects by itself, and waits at
//! most [`SELECTION_TIMEOUT`] for a server; an operation sent to a server that then stops
//! answering is interrupted when a heartbeat ([`HEARTBEAT`]) times out.

use super::{Expect, Migrated, Record, Records, Unavailable, redact, scrub};
use anyhow::{Result, anyhow};
use mongodb::bson::{Binary, Document, doc, oid::ObjectId, spec::BinarySubtype};
use mongodb::error::{Error, ErrorKind, WriteFailure};
use mongodb::options::ClientOptions;
use mongodb::sync::{Client, Collection};
use std::time::Duration;

/// The driver's pool size.
pub const POOL: u32 = 8;
/// How long an operation waits for a usable server (down, unreachable, wrong address).
pub const SELECTION_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the driver checks the server (its default is 10 s). An operation waits for a
/// server that accepts connections and never answers at most about this plus
/// [`CONNECT_TIMEOUT`] (the check's own timeout), then fails.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// The database when the URL names none.
pub const DEFAULT_DATABASE: &str = "ktra";
const DUPLICATE_KEY: i32 = 11000;
/// The layout's version (the `records` and `audit` collections).
pub const SCHEMA: i64 = 1;

/// The records in one MongoDB database.
pub struct MongoRecords {
    records: Collection<Document>,
    schema: Collection<Document>,
    audit: Collection<Document>,
    /// The URL without its password, for messages.
    shown: String,
    /// The password, only to scrub it from a driver's message should one ever quote it.
    secret: Option<String>,
}

impl MongoRecords {
    /// Records at `url` (`mongodb://[USER:PASSWORD@]HOST[:PORT][/DB][?OPTIONS]`). Talks to the
    /// server once (a `ping`), so a wrong address or password shows here.
    pub fn connect(url: &str) -> Result<Self> {
        let shown = redact(url);
        let secret = super::password_of(url).map(str::to_owned);
        let fail = |op: &str, e: Error| {
            let cause = Unavailable(scrub(&e.to_string(), secret.as_deref()));
            anyhow::Error::new(cause)
                .context(format!("failed to {op} the MongoDB state at {shown}"))
        };
        let mut options = ClientOptions::parse(url)
            .run()
            .map_err(|e| fail("read the URL of", e))?;
        options.app_name.get_or_insert_with(|| "ktra".into());
        options.max_pool_size.get_or_insert(POOL);
        options
            .server_selection_timeout
            .get_or_insert(SELECTION_TIMEOUT);
        options.connect_timeout.get_or_insert(CONNECT_TIMEOUT);
        // The driver has no timeout for an operation's reply: a server that stopped answering
        // is found by the heartbeat, which then interrupts the operations waiting on it.
        options.heartbeat_freq.get_or_insert(HEARTBEAT);
        let database = options
            .default_database
            .clone()
            .unwrap_or_else(|| DEFAULT_DATABASE.into());
        let client = Client::with_options(options).map_err(|e| fail("connect to", e))?;
        let db = client.database(&database);
        db.run_command(doc! { "ping": 1 })
            .run()
            .map_err(|e| fail("connect to", e))?;
        Ok(Self {
            records: db.collection("records"),
            schema: db.collection("ktra_schema"),
            audit: db.collection("audit"),
            shown,
            secret,
        })
    }

    fn error(&self, op: &str, key: Option<&str>, e: &Error) -> anyhow::Error {
        let cause = Unavailable(scrub(&e.to_string(), self.secret.as_deref()));
        anyhow::Error::new(cause).context(super::failed_to(op, key, &self.describe()))
    }

    /// The schema version kept in the `ktra_schema` collection, if any.
    fn schema_version(&self) -> Result<Option<i64>> {
        let found = self
            .schema
            .find_one(doc! { "_id": "schema" })
            .run()
            .map_err(|e| self.error("read", Some("schema"), &e))?;
        // A server may keep a small number as a 32-bit one (the stand-in does).
        Ok(found.and_then(|d| match d.get("version") {
            Some(mongodb::bson::Bson::Int64(v)) => Some(*v),
            Some(mongodb::bson::Bson::Int32(v)) => Some(i64::from(*v)),
            _ => None,
        }))
    }
}

fn binary(bytes: &[u8]) -> Binary {
    Binary {
        subtype: BinarySubtype::Generic,
        bytes: bytes.to_vec(),
    }
}

fn is_duplicate_key(e: &Error) -> bool {
    matches!(
        e.kind.as_ref(),
        ErrorKind::Write(WriteFailure::WriteError(w)) if w.code == DUPLICATE_KEY
    )
}

/// `text` with every regex metacharacter escaped, to match itself.
fn escape_regex(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\^$.|?*+()[]{}-/#&~ ".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Records for MongoRecords {
    fn get(&self, key: &str) -> Result<Option<Record>> {
        let found = self
            .records
            .find_one(doc! { "_id": key })
            .run()
            .map_err(|e| self.error("read", Some(key), &e))?;
        let Some(found) = found else {
            return Ok(None);
        };
        let bytes = found
            .get_binary_generic("value")
            .map_err(|e| {
                anyhow!(
                    "failed to read `{key}` in {}: bad `value`: {e}",
                    self.describe()
                )
            })?
            .clone();
        let version = found
            .get_str("version")
            .map_err(|e| {
                anyhow!(
                    "failed to read `{key}` in {}: bad `version`: {e}",
                    self.describe()
                )
            })?
            .to_owned();
        Ok(Some(Record { bytes, version }))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let dir = prefix.trim_end_matches('/');
        let filter = if dir.is_empty() {
            doc! {}
        } else {
            doc! { "_id": { "$regex": format!("^{}/", escape_regex(dir)) } }
        };
        let cursor = self
            .records
            .find(filter)
            .sort(doc! { "_id": 1 })
            .projection(doc! { "_id": 1 })
            .run()
            .map_err(|e| self.error("list", Some(prefix), &e))?;
        let mut keys = Vec::new();
        for found in cursor {
            let found = found.map_err(|e| self.error("list", Some(prefix), &e))?;
            let key = found
                .get_str("_id")
                .map_err(|e| anyhow!("failed to list `{prefix}` in {}: {e}", self.describe()))?;
            keys.push(key.to_owned());
        }
        // The server sorted them; a server whose string order differs (another collation)
        // must not change what callers see.
        keys.sort();
        Ok(keys)
    }

    fn put(&self, key: &str, bytes: &[u8], expect: Expect) -> Result<bool> {
        let version = ObjectId::new().to_hex();
        match expect {
            Expect::Absent => {
                let inserted = self
                    .records
                    .insert_one(doc! { "_id": key, "value": binary(bytes), "version": &version })
                    .run();
                match inserted {
                    Ok(_) => Ok(true),
                    Err(e) if is_duplicate_key(&e) => Ok(false),
                    Err(e) => Err(self.error("create", Some(key), &e)),
                }
            }
            Expect::Version(old) => {
                let updated = self
                    .records
                    .update_one(
                        doc! { "_id": key, "version": old },
                        doc! { "$set": { "value": binary(bytes), "version": &version } },
                    )
                    .run()
                    .map_err(|e| self.error("write", Some(key), &e))?;
                Ok(updated.matched_count == 1)
            }
        }
    }

    fn remove(&self, key: &str) -> Result<()> {
        self.records
            .delete_one(doc! { "_id": key })
            .run()
            .map_err(|e| self.error("remove", Some(key), &e))?;
        Ok(())
    }

    fn describe(&self) -> String {
        format!("the MongoDB state at {}", self.shown)
    }

    fn check(&self) -> Result<()> {
        super::judge(&self.describe(), SCHEMA, self.schema_version()?)
    }

    /// Version 1 is the two collections above (the `_id` index is all they need).
    fn migrate(&self) -> Result<Migrated> {
        let from = self.schema_version()?.unwrap_or(0);
        if from < SCHEMA {
            self.schema
                .update_one(
                    doc! { "_id": "schema" },
                    doc! { "$set": { "version": SCHEMA } },
                )
                .upsert(true)
                .run()
                .map_err(|e| self.error("write", Some("schema"), &e))?;
        }
        self.check()?;
        Ok(Migrated { from, to: SCHEMA })
    }

    fn append_audit(&self, stamp: &str, line: &[u8]) -> Result<()> {
        let event = String::from_utf8_lossy(line);
        self.audit
            .insert_one(doc! { "stamp": stamp, "event": event.as_ref() })
            .run()
            .map_err(|e| self.error("append to the audit log", None, &e))?;
        Ok(())
    }

    /// The `audit` collection in insertion order (`_id`, an ObjectId, grows with time), read
    /// through the driver's cursor a batch at a time.
    fn audit_events(&self, each: &mut dyn FnMut(&str, &[u8]) -> Result<()>) -> Result<()> {
        let op = "read the audit log";
        let cursor = self
            .audit
            .find(doc! {})
            .sort(doc! { "_id": 1 })
            .run()
            .map_err(|e| self.error(op, None, &e))?;
        for found in cursor {
            let found = found.map_err(|e| self.error(op, None, &e))?;
            let stamp = found.get_str("stamp").unwrap_or("");
            let event = found
                .get_str("event")
                .map_err(|e| anyhow!("failed to {op} in {}: bad `event`: {e}", self.describe()))?;
            each(stamp, event.as_bytes())?;
        }
        Ok(())
    }
}
