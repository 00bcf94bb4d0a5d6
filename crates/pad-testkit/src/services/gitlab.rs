//! The GitLab generic packages contract server (`gitlab_contract_server.py`): project
//! `42` (path `data/airflow-dags`) and the tokens below, with switches for the failures
//! a real GitLab shows.

use super::{python_server, server_dir};
use crate::KitError;
use crate::error::Context as _;
use crate::server::{Server, free_port};

const SOURCE: &str = include_str!("gitlab_contract_server.py");

pub const GITLAB_PROJECT: &str = "42";
/// A Maintainer's personal access token: publishes, and deletes (`publish --force`).
pub const GITLAB_WRITE_TOKEN: &str = "glpat-contract-write-5d1e";
/// A Developer's personal access token: publishes, may not delete.
pub const GITLAB_DEVELOPER_TOKEN: &str = "glpat-contract-developer-4a07";
/// A Reporter's personal access token: reads only.
pub const GITLAB_READ_TOKEN: &str = "glpat-contract-read-93ab";
/// A CI job token of a pipeline a Developer started: it has that user's role.
pub const GITLAB_JOB_TOKEN: &str = "glcbt-contract-job-77c0";
/// A deploy token with `read_package_registry` only.
pub const GITLAB_DEPLOY_TOKEN: &str = "gldt-contract-deploy-1f6b";
/// A deploy token with `write_package_registry`.
pub const GITLAB_DEPLOY_WRITE_TOKEN: &str = "gldt-contract-deploy-write-2c8e";

/// Switches of the GitLab contract server (see `gitlab_contract_server.py`).
#[derive(Debug, Default)]
pub struct GitlabOptions {
    pub fail_puts: u32,
    pub corrupt_downloads: bool,
    pub no_duplicates: bool,
    pub max_file_size: Option<u64>,
    pub stale_listing: bool,
    pub direct_download: bool,
    /// The GitLab version to behave as, `MAJOR.MINOR`; `None` is 18.6, the first to send
    /// `X-Checksum-SHA256` on downloads.
    pub version: Option<&'static str>,
}

/// A GitLab release before downloads carried `X-Checksum-SHA256` (18.6): 17.11, the
/// last minor of the 17 series.
pub const GITLAB_BEFORE_CHECKSUM_HEADER: &str = "17.11";

/// The GitLab generic packages contract server on 127.0.0.1.
pub struct GitlabContract {
    server: Server,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl GitlabContract {
    pub fn start(options: GitlabOptions) -> Result<GitlabContract, KitError> {
        GitlabContract::start_with_tokens(options, &[])
    }

    /// With extra `(token, header, access)` entries; `access` is `read`, `write` (a
    /// Developer) or `maintain` (a Maintainer).
    pub fn start_with_tokens(options: GitlabOptions, extra: &[(&str, &str, &str)]) -> Result<GitlabContract, KitError> {
        let (dir, path) = server_dir()?;
        let mut tokens = serde_json::json!({
            GITLAB_WRITE_TOKEN: {"header": "PRIVATE-TOKEN", "access": "maintain"},
            GITLAB_DEVELOPER_TOKEN: {"header": "PRIVATE-TOKEN", "access": "write"},
            GITLAB_READ_TOKEN: {"header": "PRIVATE-TOKEN", "access": "read"},
            GITLAB_JOB_TOKEN: {"header": "JOB-TOKEN", "access": "write"},
            GITLAB_DEPLOY_TOKEN: {"header": "DEPLOY-TOKEN", "access": "read"},
            GITLAB_DEPLOY_WRITE_TOKEN: {"header": "DEPLOY-TOKEN", "access": "write"},
        });
        for (token, header, access) in extra {
            tokens[*token] = serde_json::json!({"header": header, "access": access});
        }
        let config = serde_json::json!({"projects": {GITLAB_PROJECT: "data/airflow-dags"}, "tokens": tokens});
        let config_file = path.join("config.json");
        std::fs::write(&config_file, config.to_string()).with_context(|| format!("writing {config_file}"))?;
        let data = path.join("data");
        std::fs::create_dir_all(&data).with_context(|| format!("creating {data}"))?;
        let port = free_port()?;
        let mut args: Vec<String> = vec![
            "--port".into(),
            port.to_string(),
            "--data".into(),
            data.to_string(),
            "--config".into(),
            config_file.to_string(),
            "--fail-puts".into(),
            options.fail_puts.to_string(),
            "--gitlab-version".into(),
            options.version.unwrap_or("18.6").to_owned(),
        ];
        for (on, flag) in [
            (options.corrupt_downloads, "--corrupt-downloads"),
            (options.no_duplicates, "--no-duplicates"),
            (options.stale_listing, "--stale-listing"),
            (options.direct_download, "--direct-download"),
        ] {
            if on {
                args.push(flag.into());
            }
        }
        if let Some(max) = options.max_file_size {
            args.extend(["--max-file-size".into(), max.to_string()]);
        }
        let mut server = python_server("gitlab-contract", SOURCE, &path, &args)?;
        server.wait_for(port)?;
        Ok(GitlabContract { server, port, _dir: dir })
    }

    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}/api/v4", self.port)
    }

    /// One line per request: `METHOD /path STATUS token|no-token`.
    pub fn log(&self) -> String {
        self.server.log_text()
    }
}
