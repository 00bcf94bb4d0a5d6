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

/// An error that knows whether another try may succeed.
pub trait Transient: std::fmt::Display {
    fn is_transient(&self) -> bool;

    /// Records how many tries were made, for errors that tell.
    fn set_attempts(&mut self, _attempts: u32) {}
}

/// Runs `f` (given the 1-based attempt) up to [`ATTEMPTS`] times while it fails with a
/// transient error, waiting [`backoff`] between tries; returns its last result and how
/// many tries were made (also recorded in the error, see [`Transient::set_attempts`]).
pub fn retry<T, E: Transient>(mut f: impl FnMut(u32) -> Result<T, E>) -> (Result<T, E>, u32) {
    let mut attempt = 1;
    loop {
        match f(attempt) {
            Err(err) if err.is_transient() && attempt < ATTEMPTS => {
                tracing::debug!(%err, attempt, "transient failure, retrying");
                std::thread::sleep(backoff(attempt));
                attempt += 1;
            }
            Err(mut err) => {
                err.set_attempts(attempt);
                return (Err(err), attempt);
            }
            Ok(value) => return (Ok(value), attempt),
        }
    }
}
