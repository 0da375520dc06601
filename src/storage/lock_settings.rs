//! The `lock-timeout` setting of `ktra.toml`: how long a change waits for the registry lock
//! before it gives up with a clear error (a duration such as `"60s"` or `"2m"`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::time::Duration;

/// `lock-timeout = "60s"`; `KTRA_LOCK_TIMEOUT` overrides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockWait(pub Duration);

impl Default for LockWait {
    fn default() -> Self {
        Self(super::lock::DEFAULT_TIMEOUT)
    }
}

impl LockWait {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// The wait to use: the environment's, else this setting.
    pub fn effective(&self) -> Duration {
        super::lock::timeout(Some(self.0))
    }
}

impl Serialize for LockWait {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for LockWait {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(text.trim())
            .map(Self)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "`{text}` is not a duration such as \"60s\" or \"2m\": {e}"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(rename_all = "kebab-case")]
    struct T {
        #[serde(default)]
        lock_timeout: LockWait,
    }

    #[test]
    fn parses_durations_and_refuses_anything_else() {
        let t: T = toml::from_str("lock-timeout = \"90s\"").unwrap();
        assert_eq!(t.lock_timeout.0, Duration::from_secs(90));
        let t: T = toml::from_str("lock-timeout = \"2m\"").unwrap();
        assert_eq!(t.lock_timeout.0, Duration::from_secs(120));
        let t: T = toml::from_str("").unwrap();
        assert!(t.lock_timeout.is_default());
        assert!(toml::from_str::<T>("lock-timeout = \"soon\"").is_err());
        assert!(toml::from_str::<T>("lock-timeout = 5").is_err());
        let back = toml::to_string(&T {
            lock_timeout: LockWait(Duration::from_secs(5)),
        })
        .unwrap();
        assert_eq!(back.trim(), "lock-timeout = \"5s\"");
    }
}
