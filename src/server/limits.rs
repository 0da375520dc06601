//! `[serve]` in `ktra.toml`: how much the receiver gives a client before it has proved anything
//! (connections, time to send headers and bodies) and how often refused tokens are written to
//! the audit log. Read when `ktra serve` starts.

use serde::{Deserialize, Serialize};
use std::num::NonZeroUsize;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct ServeSettings {
    /// Connections served at once; more wait in the kernel's backlog.
    pub max_connections: NonZeroUsize,
    /// Time a client has to send a request's headers (also how long an idle keep-alive
    /// connection stays open).
    #[serde(with = "duration")]
    pub header_timeout: Duration,
    /// Time a client has to send a whole request body (a publish included).
    #[serde(with = "duration")]
    pub body_timeout: Duration,
    /// Refused tokens are counted and written to the audit log as one summary line at most
    /// this often.
    #[serde(with = "duration")]
    pub refusal_log_interval: Duration,
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            max_connections: NonZeroUsize::new(1024).unwrap_or(NonZeroUsize::MIN),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(300),
            refusal_log_interval: Duration::from_secs(60),
        }
    }
}

impl ServeSettings {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Largest JSON body of the API routes other than publish (owners).
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// Durations written as `30s`, `5m`.
mod duration {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        let parsed = humantime::parse_duration(&text).map_err(|e| {
            serde::de::Error::custom(format!("`{text}` is not a duration like 30s or 5m: {e}"))
        })?;
        if parsed.is_zero() {
            return Err(serde::de::Error::custom(
                "a duration of zero is not allowed",
            ));
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::time::Duration;

    const BASE: &str = "version = 1\nname = \"demo\"\nurl = \"https://c.example\"\n";

    #[test]
    fn defaults_are_sane_and_settings_round_trip() {
        let c = Config::parse(BASE).unwrap();
        assert_eq!(c.serve.header_timeout, Duration::from_secs(10));
        assert!(c.serve.max_connections.get() > 1);
        let text = format!(
            "{BASE}[serve]\nmax-connections = 8\nheader-timeout = \"2s\"\nbody-timeout = \"1m\"\n"
        );
        let c = Config::parse(&text).unwrap();
        assert_eq!(
            (
                c.serve.max_connections.get(),
                c.serve.header_timeout,
                c.serve.body_timeout
            ),
            (8, Duration::from_secs(2), Duration::from_secs(60))
        );
        assert_eq!(Config::parse(&c.to_toml()).unwrap(), c);
    }

    #[test]
    fn bad_settings_are_errors() {
        for bad in [
            "[serve]\nheader-timeout = \"soon\"\n",
            "[serve]\nbody-timeout = \"0s\"\n",
            "[serve]\nmax-conections = 3\n",
            "[serve]\nmax-connections = 0\n",
        ] {
            assert!(Config::parse(&format!("{BASE}{bad}")).is_err(), "{bad}");
        }
    }
}
