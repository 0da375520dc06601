//! Refused tokens, counted in memory and written to the audit log as one summary line at most
//! once per interval: requests without a valid token cannot make the server append (and sync)
//! a line each, so they cannot grow the disk. The first refusal after a quiet interval is
//! written at once.

use crate::registry::Registry;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// Distinct token ids remembered per summary; more are only counted.
const MAX_TOKENS: usize = 32;

#[derive(Default)]
struct Pending {
    /// When the last line was written.
    written: Option<Instant>,
    since: Option<SystemTime>,
    /// Refusals by reason.
    reasons: BTreeMap<String, u64>,
    /// Refusals by token id (or `none`, or the start of an unknown token's hash).
    tokens: BTreeMap<String, u64>,
    other_tokens: u64,
}

static PENDING: Mutex<Option<Pending>> = Mutex::new(None);

/// Counts one refusal; writes the summary if `every` has passed since the last one.
pub fn note(reg: &Registry, every: Duration, token: &str, reason: &str) {
    let line = {
        let mut guard = PENDING.lock().unwrap_or_else(|p| p.into_inner());
        let p = guard.get_or_insert_with(Pending::default);
        p.since.get_or_insert_with(SystemTime::now);
        *p.reasons.entry(reason.to_owned()).or_default() += 1;
        if let Some(n) = p.tokens.get_mut(token) {
            *n += 1;
        } else if p.tokens.len() < MAX_TOKENS {
            p.tokens.insert(token.to_owned(), 1);
        } else {
            p.other_tokens += 1;
        }
        if p.written.is_some_and(|w| w.elapsed() < every) {
            return;
        }
        take(p)
    };
    if let Some(line) = line {
        super::api::audit(reg, line);
    }
}

/// Writes what is counted and not yet written (when the server stops).
pub fn flush(reg: &Registry) {
    let line = {
        let mut guard = PENDING.lock().unwrap_or_else(|p| p.into_inner());
        guard.as_mut().and_then(take)
    };
    if let Some(line) = line {
        super::api::audit(reg, line);
    }
}

fn take(p: &mut Pending) -> Option<serde_json::Value> {
    let count: u64 = p.reasons.values().sum();
    p.written = Some(Instant::now());
    if count == 0 {
        return None;
    }
    let since = p
        .since
        .take()
        .map(|t| humantime::format_rfc3339_seconds(t).to_string());
    let mut line = json!({
        "event": "token-refused",
        "count": count,
        "since": since,
        "reasons": std::mem::take(&mut p.reasons),
        "tokens": std::mem::take(&mut p.tokens),
    });
    if p.other_tokens > 0 {
        line["other-tokens"] = json!(std::mem::take(&mut p.other_tokens));
    }
    Some(line)
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // reason: tests build their own trees.
mod tests {
    use super::*;

    #[test]
    fn refusals_are_summarised_once_per_interval() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("state")).unwrap();
        let config = crate::config::Config::parse(
            "version = 1\nname = \"t\"\nurl = \"http://127.0.0.1:1\"\n",
        )
        .unwrap();
        let store = Registry::new(config, crate::storage::Store::new(dir.path()));
        let log = || std::fs::read_to_string(dir.path().join("state/audit.jsonl")).unwrap();
        let hour = Duration::from_secs(3600);
        for i in 0..500 {
            note(&store, hour, &format!("tok{i}"), "unknown token");
        }
        note(&store, hour, "none", "no token");
        // The first refusal is written at once; the rest wait for the interval (or the end).
        assert_eq!(log().lines().count(), 1, "{}", log());
        flush(&store);
        let lines: Vec<serde_json::Value> = log()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["count"], 1);
        assert_eq!(lines[1]["count"], 500);
        assert_eq!(lines[1]["reasons"]["unknown token"], 499);
        assert_eq!(lines[1]["reasons"]["no token"], 1);
        let named = lines[1]["tokens"].as_object().unwrap().len() as u64;
        assert_eq!(named, MAX_TOKENS as u64);
        assert_eq!(lines[1]["other-tokens"], 500 - named);
        flush(&store);
        assert_eq!(log().lines().count(), 2, "nothing new, nothing written");
    }
}
