//! Users and API tokens. Tokens are 32 bytes of OS randomness behind a recognisable `ktra_`
//! prefix, shown once and stored only as their SHA-256 hash (in the private `state/` folder).
//! Each carries scopes, optional crate globs and an optional expiry, checked on every use. The
//! model here is pure; `store` reads and writes it.

pub mod store;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const TOKEN_PREFIX: &str = "ktra_";

/// What a token may do, named as crates.io names its scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    PublishNew,
    PublishUpdate,
    Yank,
    ChangeOwners,
    Read,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: u32,
    pub login: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Created (seconds since the epoch).
    pub created: u64,
}

/// What is stored for a token: everything but the token itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Short public id (start of the hash), for `token list` and `token revoke`.
    pub id: String,
    pub login: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    /// Crate name globs the token is limited to; empty means every crate.
    #[serde(default)]
    pub crates: Vec<String>,
    pub created: u64,
    #[serde(default)]
    pub expires: Option<u64>,
}

/// Why a token may not be used for something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("the token has expired")]
    Expired,
    #[error("the token does not have the `{0}` scope")]
    Scope(&'static str),
    #[error("the token is not allowed to act on crate `{0}`")]
    Crate(String),
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::PublishNew => "publish-new",
            Scope::PublishUpdate => "publish-update",
            Scope::Yank => "yank",
            Scope::ChangeOwners => "change-owners",
            Scope::Read => "read",
        }
    }
}

impl TokenRecord {
    /// Whether this token may do `scope` (on `krate`, when the action concerns one) at `now`.
    pub fn allows(&self, scope: Scope, krate: Option<&str>, now: u64) -> Result<(), Denied> {
        if self.expires.is_some_and(|e| e <= now) {
            return Err(Denied::Expired);
        }
        if !self.scopes.contains(&scope) {
            return Err(Denied::Scope(scope.name()));
        }
        if let Some(name) = krate.filter(|_| !self.crates.is_empty()) {
            let hit = self
                .crates
                .iter()
                .any(|g| globset::Glob::new(g).is_ok_and(|g| g.compile_matcher().is_match(name)));
            if !hit {
                return Err(Denied::Crate(name.to_owned()));
            }
        }
        Ok(())
    }
}

/// A new random token (the secret, shown once).
pub fn new_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{TOKEN_PREFIX}{hex}"))
}

/// The stored form of a token: its SHA-256, hex. `Authorization` may hold the raw token or
/// `Bearer <token>`.
pub fn token_hash(authorization: &str) -> String {
    let raw = authorization
        .strip_prefix("Bearer ")
        .unwrap_or(authorization)
        .trim();
    format!("{:x}", Sha256::digest(raw.as_bytes()))
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `90d`, `12h`, `1y`: a lifetime for `--expires-in`.
pub fn parse_lifetime(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration like 90d or 12h: {e}"))
}

/// Logins: what crates.io allows for a GitHub login (ASCII letters, digits, `-`, `_`).
pub fn check_login(login: &str) -> Result<(), String> {
    let ok = !login.is_empty()
        && login.len() <= 64
        && login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{login}` is not a valid login: use ASCII letters, digits, `-` and `_`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(scopes: &[Scope], crates: &[&str], expires: Option<u64>) -> TokenRecord {
        TokenRecord {
            id: "abc".into(),
            login: "alice".into(),
            name: "ci".into(),
            scopes: scopes.to_vec(),
            crates: crates.iter().map(|s| s.to_string()).collect(),
            created: 0,
            expires,
        }
    }

    #[test]
    fn tokens_are_random_prefixed_and_hashed_either_way() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("ktra_") && a.len() == 5 + 64);
        assert_eq!(token_hash(&a), token_hash(&format!("Bearer {a}")));
        assert_ne!(token_hash(&a), token_hash(&b));
    }

    #[test]
    fn scopes_globs_and_expiry_are_checked() {
        let t = record(&[Scope::PublishUpdate, Scope::Yank], &["acme-*"], Some(100));
        assert_eq!(t.allows(Scope::Yank, Some("acme-core"), 50), Ok(()));
        assert_eq!(
            t.allows(Scope::Yank, Some("other"), 50),
            Err(Denied::Crate("other".into()))
        );
        assert_eq!(
            t.allows(Scope::PublishNew, Some("acme-core"), 50),
            Err(Denied::Scope("publish-new"))
        );
        assert_eq!(
            t.allows(Scope::Yank, Some("acme-core"), 100),
            Err(Denied::Expired)
        );
        let open = record(&[Scope::Read], &[], None);
        assert_eq!(open.allows(Scope::Read, None, u64::MAX), Ok(()));
    }

    #[test]
    fn lifetimes_and_logins() {
        assert_eq!(
            parse_lifetime("90d").unwrap(),
            Duration::from_secs(90 * 86400)
        );
        assert!(parse_lifetime("soon").is_err());
        assert!(check_login("alice-1_x").is_ok());
        assert!(
            check_login("al ice").is_err()
                && check_login("").is_err()
                && check_login("../x").is_err()
        );
    }
}
