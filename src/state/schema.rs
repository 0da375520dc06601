//! Schema versions of the state backends: what a migration did, and the one verdict on a
//! version found in a store (none yet, older, the same, or newer than this ktra's).

use anyhow::{Result, bail};

/// What a migration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    /// The schema version found (0: none).
    pub from: i64,
    /// The schema version now.
    pub to: i64,
}

/// Refuses a store whose schema version (`found`, `None` or 0 when it has none) is not this
/// ktra's `latest`; `what` names the store (`the Redis state at redis://...`).
pub fn judge(what: &str, latest: i64, found: Option<i64>) -> Result<()> {
    match found {
        Some(v) if v == latest => Ok(()),
        Some(v) if v > latest => bail!(
            "{what} has schema version {v}, newer than this ktra's ({latest}): it was migrated \
             by a newer ktra; use that version (or newer)"
        ),
        None | Some(0) => bail!(
            "{what} has no ktra schema yet: apply the migrations first (`ktra state migrate`)"
        ),
        Some(v) => bail!(
            "{what} has schema version {v}, older than this ktra's ({latest}): apply the \
             migrations first (`ktra state migrate`)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::judge;

    #[test]
    fn only_the_same_version_passes() {
        assert!(judge("the X state", 2, Some(2)).is_ok());
        for (found, says) in [
            (None, "no ktra schema"),
            (Some(0), "no ktra schema"),
            (Some(1), "older than this ktra's (2)"),
            (Some(3), "newer than this ktra's (2)"),
        ] {
            let err = judge("the X state", 2, found).unwrap_err().to_string();
            assert!(err.starts_with("the X state has"), "{err}");
            assert!(err.contains(says), "{err}");
        }
    }
}
