//! The environment variables this crate reads, declared in one place (to move into
//! `pad_layout::EnvVars`).

/// Names of the environment variables read by `pad-registry`, besides the ones a
/// `registries.toml` names itself (`${VAR}` in a value, `username_env`, …).
pub struct RegistryEnvVars;

impl RegistryEnvVars {
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
