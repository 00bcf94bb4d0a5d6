//! What the registry and cache crates share to reach storage: plain HTTP with `ureq`
//! ([`http`]: an agent that follows no redirect by itself, so a credential never travels
//! to another host; URL helpers; the short, redacted message a server put in an error
//! body), one retry policy ([`ATTEMPTS`] tries with [`backoff`], for 5xx, 429 and broken
//! connections), and secrets that never print: each credential is registered when it is
//! read into a [`Secret`], and [`redact`] hides it in any text before it is shown.

pub mod http;
mod retry;
mod secret;
#[cfg(test)]
mod tests;

pub use retry::{ATTEMPTS, backoff};
pub use secret::{MAX_QUOTE, MIN_SECRET_LEN, REDACTED, Redacting, Secret, quote, quote_within, redact, register};
