//! Every environment variable the toolchain reads, declared in one place.

/// Names of the environment variables read by the `pad-*` crates and `cargo xtask`.
pub struct EnvVars;

impl EnvVars {
    /// Overrides the version computed from git (`1.4.0`, `main-abc1234`).
    pub const PAD_VERSION: &'static str = "PAD_VERSION";
    /// The repository root, when the front end should not use its own workspace.
    pub const PAD_REPO: &'static str = "PAD_REPO";
    /// Where environments, tools and test results go (default: the repository's
    /// `target/`). Environments are keyed by content, so repositories may share one.
    pub const PAD_TARGET_DIR: &'static str = "PAD_TARGET_DIR";
    /// Log filter for `tracing` (`info`, `debug`, `pad_layout=trace`).
    pub const PAD_LOG: &'static str = "PAD_LOG";
    /// Set to `1` by `cargo xtask ci`: runs the slow tests that build environments and
    /// start real services.
    pub const PAD_E2E: &'static str = "PAD_E2E";
    /// Where Airflow lives; the local deploy target defaults to it.
    pub const AIRFLOW_HOME: &'static str = "AIRFLOW_HOME";
    /// GitLab CI's branch or tag name, used for the version when HEAD is detached.
    pub const CI_COMMIT_REF_NAME: &'static str = "CI_COMMIT_REF_NAME";
    /// GitHub Actions' branch or tag name, used for the version when HEAD is detached.
    pub const GITHUB_REF_NAME: &'static str = "GITHUB_REF_NAME";
}
