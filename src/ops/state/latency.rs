//! `ktra state check --samples N`: how long the records take to find one token by its hash,
//! the read every authenticated request makes. A throwaway token record (a random hash, no
//! scopes, already expired, of no user) is created, read 100 times to warm the connections up,
//! then timed N times, and removed; the one line printed is parsed by benchmark scripts:
//!
//! `token lookup: p50 0.071 ms, p99 0.190 ms, max 1.234 ms (200 samples) on <describe()>`

use crate::auth::TokenRecord;
use crate::state::{Expect, Records};
use anyhow::{Result, anyhow, bail};
use std::time::{Duration, Instant};

/// Reads before the timed ones (connections opened, statements prepared, caches warm).
pub const WARM_UP: usize = 100;

/// The timed lookups, fastest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Latency {
    sorted: Vec<Duration>,
}

impl Latency {
    pub fn new(mut samples: Vec<Duration>) -> Latency {
        samples.sort();
        Latency { sorted: samples }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The nearest-rank percentile (`p` in 0..=100): the smallest sample that at least `p`
    /// percent of the samples do not exceed.
    pub fn percentile(&self, p: f64) -> Duration {
        let n = self.sorted.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        self.sorted[rank.clamp(1, n) - 1]
    }

    pub fn max(&self) -> Duration {
        self.sorted.last().copied().unwrap_or_default()
    }

    /// `token lookup: p50 0.071 ms, p99 0.190 ms, max 1.234 ms (N samples) on WHERE`.
    pub fn line(&self, describe: &str) -> String {
        format!(
            "token lookup: p50 {}, p99 {}, max {} ({} samples) on {describe}",
            ms(self.percentile(50.0)),
            ms(self.percentile(99.0)),
            ms(self.max()),
            self.len()
        )
    }
}

/// `0.071 ms`: milliseconds, 3 decimals.
fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// The throwaway record, removed when dropped (also on an error on the way).
struct Throwaway<'a> {
    records: &'a dyn Records,
    key: String,
    removed: bool,
}

impl Throwaway<'_> {
    fn remove(mut self) -> Result<()> {
        self.removed = true;
        self.records.remove(&self.key)
    }
}

impl Drop for Throwaway<'_> {
    fn drop(&mut self) {
        if !self.removed {
            let _ = self.records.remove(&self.key);
        }
    }
}

/// Times `samples` lookups of a throwaway token record by its hash (after [`WARM_UP`]
/// untimed ones). The caller holds the registry lock when the records are a local folder's.
pub fn sample_token_lookups(records: &dyn Records, samples: usize) -> Result<Latency> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow!("no randomness: {e}"))?;
    let hash: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    let key = format!("tokens/{hash}.json");
    let now = crate::auth::now();
    // A well-formed record (`ktra token list` reads every one) that grants nothing.
    let record = TokenRecord {
        id: hash[..12].to_owned(),
        login: "ktra-state-check".into(),
        name: "ktra state check (throwaway)".into(),
        scopes: Vec::new(),
        crates: Vec::new(),
        created: now,
        expires: Some(now),
    };
    let bytes = serde_json::to_vec_pretty(&record)?;
    if !records.put(&key, &bytes, Expect::Absent)? {
        bail!(
            "a token record `{key}` already exists in {}",
            records.describe()
        );
    }
    let throwaway = Throwaway {
        records,
        key,
        removed: false,
    };
    let mut timed = Vec::with_capacity(samples);
    for i in 0..WARM_UP + samples {
        let start = Instant::now();
        let found = records.get(&throwaway.key)?;
        let took = start.elapsed();
        if found.is_none_or(|r| r.bytes != bytes) {
            bail!(
                "the throwaway token record `{}` changed or vanished in {} while it was read",
                throwaway.key,
                records.describe()
            );
        }
        if i >= WARM_UP {
            timed.push(took);
        }
    }
    throwaway.remove()?;
    Ok(Latency::new(timed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let us = |n: u64| Duration::from_micros(n);
        let l = Latency::new((1..=200).rev().map(us).collect());
        assert_eq!(l.percentile(50.0), us(100));
        assert_eq!(l.percentile(99.0), us(198));
        assert_eq!(l.max(), us(200));
        let one = Latency::new(vec![us(5)]);
        assert_eq!((one.percentile(50.0), one.percentile(99.0)), (us(5), us(5)));
        assert_eq!(Latency::new(Vec::new()).percentile(50.0), Duration::ZERO);
    }

    #[test]
    fn the_line_has_the_parsed_shape() {
        let l = Latency::new(vec![
            Duration::from_micros(71),
            Duration::from_micros(190),
            Duration::from_nanos(1_234_400),
        ]);
        assert_eq!(
            l.line("the Redis state at redis://h/"),
            "token lookup: p50 0.190 ms, p99 1.234 ms, max 1.234 ms (3 samples) on the Redis \
             state at redis://h/"
        );
    }
}
