//! The flows a CI runner or a deployment host runs, each one call over the crates
//! below: pad-layout and pad-cache (the repository), pad-venv (environments, tests),
//! pad-bundle (the package), pad-registry (publish, fetch) and pad-deploy.
//!
//! - [`check`]: the whole-repository check every flow starts with: the layout, and every
//!   artifacts.yaml read by pad-cache's parser.
//!
//! Nothing here prints or reads flags: flows return data and typed errors that name the
//! object and the fix.

mod check;

#[cfg(test)]
mod tests;

pub use check::{discover, scan};
