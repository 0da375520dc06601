//! Waiting between the attempts of a conditional write that lost a race to another writer.

/// Waits a random time that grows with the attempt of a conditional write that lost a race
/// (full jitter, capped at about 0.5 s).
pub fn backoff(attempt: u32) {
    let cap_ms = (10u64 << attempt.min(6)).min(500);
    let mut seed = [0u8; 8];
    let _ = getrandom::fill(&mut seed);
    let ms = u64::from_le_bytes(seed) % (cap_ms + 1);
    std::thread::sleep(std::time::Duration::from_millis(ms));
}
