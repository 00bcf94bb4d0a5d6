//! The one retry policy: how many tries, how long to wait between them, and the loop
//! that applies it to any operation whose error knows whether it is transient.

use std::time::Duration;

/// How many times a request is tried when the server fails (5xx, 429) or cannot be
/// reached. Other 4xx are never retried.
pub const ATTEMPTS: u32 = 4;

/// The wait after failed attempt `attempt` (1-based): 0.5 s, 1 s, 2 s, …, at most 8 s,
/// so [`ATTEMPTS`] tries wait 3.5 s in all.
pub fn backoff(attempt: u32) -> Duration {
    let millis = 500u64.saturating_mul(1 << attempt.saturating_sub(1).min(4));
    Duration::from_millis(millis.min(8_000))
}
