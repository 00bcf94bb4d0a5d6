//! Every environment variable the toolchain reads, declared in one place.

/// Names of the environment variables read by the `pad-*` crates and `cargo xtask`.
pub struct EnvVars;

impl EnvVars {
    /// Overrides the version computed from git (`1.4.0`, `main-abc1234`).
    pub const PAD_VERSION: &'static str = "PAD_VERSION";
    /// The repository root, when not the checkout `cargo xtask` runs in (`--repo` wins).
    pub const PAD_REPO: &'static str = "PAD_REPO";
    /// Set by `cargo run` (so by `cargo xtask`) to the directory of the manifest of the
    /// package it runs: how the front end knows which checkout it was run in. Read at run
    /// time, never baked in at build time (one binary may serve several checkouts).
    pub const CARGO_MANIFEST_DIR: &'static str = "CARGO_MANIFEST_DIR";
    /// Set by cargo for the programs it runs: the cargo binary, which `cargo xtask ci` and
    /// the tests run again (default: `cargo` from `PATH`).
    pub const CARGO: &'static str = "CARGO";
    /// Where programs are looked up: uv is taken from it when present, before the pinned
    /// one is installed.
    pub const PATH: &'static str = "PATH";
    /// Where environments, tools and test results go (default: the repository's
    /// `target/`). Environments are keyed by content, so repositories may share one.
    pub const PAD_TARGET_DIR: &'static str = "PAD_TARGET_DIR";
    /// Log filter for `tracing` (`info`, `debug`, `pad_layout=trace`).
    pub const PAD_LOG: &'static str = "PAD_LOG";
    /// Set to `1` by `cargo xtask ci`: runs the slow tests that build environments and
    /// start real services.
    pub const PAD_E2E: &'static str = "PAD_E2E";
    /// How `cargo xtask worker` and the tests run worker hosts: `docker` (a container
    /// each) or `sshd` (one sshd each on a loopback address); default: Docker when an
    /// engine answers.
    pub const PAD_WORKER_BACKEND: &'static str = "PAD_WORKER_BACKEND";
    /// Set to `1` by `cargo xtask ci` when a Docker engine answers: the worker tests must
    /// then run in containers, and fail rather than fall back to sshd workers.
    pub const PAD_REQUIRE_DOCKER: &'static str = "PAD_REQUIRE_DOCKER";
    /// Set (to anything but empty or `false`) by CI services (GitLab CI, GitHub Actions,
    /// …): `cargo xtask ci` then refuses to run without a Docker engine.
    pub const CI: &'static str = "CI";
    /// Where Airflow lives; the local deploy target defaults to it.
    pub const AIRFLOW_HOME: &'static str = "AIRFLOW_HOME";
    /// GitLab CI's branch or tag name, used for the version when HEAD is detached.
    pub const CI_COMMIT_REF_NAME: &'static str = "CI_COMMIT_REF_NAME";
    /// GitLab CI's default branch: the branch `ci-config --check` takes merge requests to
    /// target (else `origin/HEAD`, else `main`).
    pub const CI_DEFAULT_BRANCH: &'static str = "CI_DEFAULT_BRANCH";
    /// The namespace `cargo xtask deploy` (and `releases`, `rollback`) works in when
    /// --namespace is not given; `auto` chooses one as --namespace auto does.
    pub const PAD_NAMESPACE: &'static str = "PAD_NAMESPACE";
    /// GitLab CI's branch or tag name made safe for URLs: the name `--namespace auto`
    /// takes (sanitized), else the short SHA of HEAD.
    pub const CI_COMMIT_REF_SLUG: &'static str = "CI_COMMIT_REF_SLUG";
    /// GitHub Actions' branch or tag name, used for the version when HEAD is detached.
    pub const GITHUB_REF_NAME: &'static str = "GITHUB_REF_NAME";

    // Registries (pad-registry), besides the variables a `registries.toml` names itself
    // (`${VAR}` in a value, `username_env`, …).
    /// A GitLab personal, project or group access token (scope `api`), sent as
    /// `PRIVATE-TOKEN`. Tried first.
    pub const GITLAB_TOKEN: &'static str = "GITLAB_TOKEN";
    /// GitLab CI's job token, sent as `JOB-TOKEN` when `GITLAB_TOKEN` is not set.
    pub const CI_JOB_TOKEN: &'static str = "CI_JOB_TOKEN";
    /// A GitLab deploy token (scopes `read_package_registry`, `write_package_registry`),
    /// sent as `DEPLOY-TOKEN` when neither of the above is set.
    pub const GITLAB_DEPLOY_TOKEN: &'static str = "GITLAB_DEPLOY_TOKEN";
    /// GitLab CI's API root (`https://gitlab.example.org/api/v4`): a GitLab registry's
    /// `api_url` when the file gives none.
    pub const CI_API_V4_URL: &'static str = "CI_API_V4_URL";
    /// GitLab CI's project id: a GitLab registry's `project` when the file gives none.
    pub const CI_PROJECT_ID: &'static str = "CI_PROJECT_ID";
    /// The S3 access key id (an S3 registry's default `access_key_id_env`).
    pub const AWS_ACCESS_KEY_ID: &'static str = "AWS_ACCESS_KEY_ID";
    /// The S3 secret access key (an S3 registry's default `secret_access_key_env`).
    pub const AWS_SECRET_ACCESS_KEY: &'static str = "AWS_SECRET_ACCESS_KEY";
    /// An optional S3 session token, for temporary credentials.
    pub const AWS_SESSION_TOKEN: &'static str = "AWS_SESSION_TOKEN";
}
