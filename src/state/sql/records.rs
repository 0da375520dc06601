//! The records operations: one statement each, in the pool's dialect, bounded and named.

use super::{Sql, dialect};
use crate::state::{Expect, Migrated, Record, Records};
use anyhow::{Result, anyhow};

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
        let row = dialect!(self, &format!("read `{key}`"), get(key.to_owned()))?;
        Ok(row.map(|(bytes, version)| Record {
            bytes,
            version: version.to_string(),
        }))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let keys = dialect!(self, &format!("list `{prefix}`"), list(key_range(prefix)))?;
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
        let (op, key, bytes) = (format!("write `{key}`"), key.to_owned(), bytes.to_vec());
        match expect {
            Expect::Absent => dialect!(self, &op, insert(key, bytes, version)),
            Expect::Version(v) => {
                // A version this backend never wrote matches no record.
                let Ok(old) = v.parse::<i64>() else {
                    return Ok(false);
                };
                let changed = dialect!(self, &op, update(key, old, bytes, version))?;
                Ok(changed == 1)
            }
        }
    }

    fn remove(&self, key: &str) -> Result<()> {
        dialect!(self, &format!("remove `{key}`"), remove(key.to_owned()))
    }

    fn append_audit(&self, stamp: &str, line: &[u8]) -> Result<()> {
        let line = String::from_utf8(line.to_vec())
            .map_err(|_| anyhow!("failed to write an audit event: it is not UTF-8 text"))?;
        dialect!(
            self,
            "append to the audit log",
            append_audit(stamp.to_owned(), line)
        )
    }

    /// The `ktra_audit` table by increasing id, a page at a time (each page one indexed range
    /// read).
    fn audit_events(&self, each: &mut dyn FnMut(&str, &[u8]) -> Result<()>) -> Result<()> {
        let mut after = i64::MIN;
        loop {
            let page = dialect!(self, "read the audit log", audit_page(after, AUDIT_PAGE))?;
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
pub(super) fn is_duplicate(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
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
}
