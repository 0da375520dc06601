//! Fuzzing on the stable toolchain: each harness feeds a parser of untrusted input with random
//! and mutated inputs (drawn through `arbitrary`) and checks that it never panics, that its
//! errors are errors and that what it accepts round-trips. A few hundred cases per harness run
//! with the unit tests; `KTRA_FUZZ_CASES=N` or `KTRA_FUZZ_SECONDS=S` run longer
//! (`scripts/fuzz.sh`), `KTRA_FUZZ_SEED` repeats a run. A failing input is written to
//! `target/fuzz-findings/` and stays as a regression case in the harness's file.

mod archive;
mod config;
mod index_line;
mod manifest;
mod publish_body;

use arbitrary::Unstructured;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

/// Cases per harness in the default test run.
const DEFAULT_CASES: u64 = 300;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

/// Runs `check` on random inputs of up to `max_len` bytes until the case count or the time
/// budget is used up; `check` says whether the parser accepted the input. A panic names the
/// harness, the seed and the case, and saves the input.
pub fn run(name: &str, max_len: usize, check: impl Fn(&mut Unstructured<'_>) -> bool) {
    let seed = env_u64("KTRA_FUZZ_SEED").unwrap_or_else(|| fastrand::u64(..));
    let budget = env_u64("KTRA_FUZZ_SECONDS").map(Duration::from_secs);
    let cases = env_u64("KTRA_FUZZ_CASES").unwrap_or(match budget {
        Some(_) => u64::MAX,
        None => DEFAULT_CASES,
    });
    let start = Instant::now();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut done = 0;
    let mut accepted = 0;
    while done < cases && budget.is_none_or(|b| start.elapsed() < b) {
        let len = rng.usize(..=max_len);
        let bytes: Vec<u8> = std::iter::repeat_with(|| rng.u8(..)).take(len).collect();
        let outcome = catch_unwind(AssertUnwindSafe(|| check(&mut Unstructured::new(&bytes))));
        accepted += u64::from(outcome.as_ref().is_ok_and(|ok| *ok));
        if let Err(panic) = outcome {
            let saved = save(name, seed, done, &bytes);
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!(
                "fuzz harness `{name}` failed at case {done} (KTRA_FUZZ_SEED={seed}): {why}\ninput saved to {saved}"
            );
        }
        done += 1;
    }
    if budget.is_some() {
        eprintln!(
            "{name}: {done} cases, {accepted} accepted, in {:.1?}",
            start.elapsed()
        );
    }
}

fn save(name: &str, seed: u64, case: u64, bytes: &[u8]) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-findings");
    let path = dir.join(format!("{name}-{seed}-{case}.bin"));
    let _ = std::fs::create_dir_all(&dir);
    match std::fs::write(&path, bytes) {
        Ok(()) => path.display().to_string(),
        Err(e) => format!("(not saved: {e})"),
    }
}

/// Applies a few random edits to `bytes`: flipped bits, changed, inserted or removed bytes,
/// a copied slice, a cut end.
pub fn mutate(u: &mut Unstructured<'_>, bytes: &mut Vec<u8>) {
    let edits = u.int_in_range(0..=8u8).unwrap_or(0);
    for _ in 0..edits {
        if bytes.is_empty() {
            bytes.push(u.arbitrary().unwrap_or(0));
            continue;
        }
        let at = u.choose_index(bytes.len()).unwrap_or(0);
        match u.int_in_range(0..=5u8).unwrap_or(0) {
            0 => bytes[at] ^= 1 << u.int_in_range(0..=7u8).unwrap_or(0),
            1 => bytes[at] = u.arbitrary().unwrap_or(0),
            2 => bytes.insert(at, u.arbitrary().unwrap_or(0)),
            3 => {
                bytes.remove(at);
            }
            4 => {
                let len = u
                    .int_in_range(1..=64usize)
                    .unwrap_or(1)
                    .min(bytes.len() - at);
                let piece = bytes[at..at + len].to_vec();
                let to = u.choose_index(bytes.len()).unwrap_or(0);
                bytes.splice(to..to, piece);
            }
            _ => bytes.truncate(at),
        }
    }
}

/// One of `words`, or a random short string.
pub fn word<'a>(u: &mut Unstructured<'a>, words: &[&'a str]) -> String {
    match u.ratio(1u8, 5u8).unwrap_or(false) {
        true => u
            .arbitrary::<&str>()
            .unwrap_or("")
            .chars()
            .take(24)
            .collect(),
        false => u.choose(words).map(|w| w.to_string()).unwrap_or_default(),
    }
}
