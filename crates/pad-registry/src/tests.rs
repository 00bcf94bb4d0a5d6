//! Unit tests: reading `registries.toml`, opening registries without a network, names
//! and redaction.

use std::collections::BTreeMap;

use camino::Utf8Path;
use expect_test::{Expect, expect};

use crate::{Registries, Registry, RegistryConfig, RegistryError};

const FILE: &str = "/repo/deploy/registries.toml";

/// The error of parsing `text`, as a person reads it (with its causes).
#[track_caller]
fn check_error(text: &str, expected: Expect) {
    match Registries::parse(text, Utf8Path::new(FILE)) {
        Ok(registries) => panic!("expected an error, got {registries:?}"),
        Err(err) => expected.assert_eq(&pad_layout::error_chain(&err)),
    }
}

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: BTreeMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    move |name| vars.get(name).cloned()
}

/// The error of opening registry `name` of `text` with `vars` as the environment.
#[track_caller]
fn check_open_error(text: &str, name: &str, vars: &[(&str, &str)], expected: Expect) {
    let registries = Registries::parse(text, Utf8Path::new(FILE)).unwrap();
    match registries.open(name, &env(vars)) {
        Ok(registry) => panic!("expected an error, got {registry:?}"),
        Err(err) => expected.assert_eq(&pad_layout::error_chain(&err)),
    }
}

const EXAMPLE: &str = r#"
[gitlab]
kind = "gitlab"
api_url = "${CI_API_V4_URL:-https://gitlab.example.org/api/v4}"
project = "${CI_PROJECT_ID:-1234}"

[webdav]
kind = "webdav"
url = "http://127.0.0.1:8088/packages"
username_env = "DAV_USER"
password_env = "DAV_PASSWORD"

[s3]
kind = "s3"
bucket = "airflow-packages"
endpoint = "${S3_ENDPOINT:-}"
prefix = "/releases/"

[local]
kind = "fs"
path = "target/registry"
"#;

#[test]
fn example_parses() {
    let registries = Registries::parse(EXAMPLE, Utf8Path::new(FILE)).unwrap();
    assert_eq!(registries.names(), ["gitlab", "local", "s3", "webdav"]);
    assert_eq!(
        registries.get("local").unwrap(),
        &RegistryConfig::Fs(crate::FsConfig { path: "target/registry".into() })
    );
    assert_eq!(registries.get("s3").unwrap().kind(), "s3");
}

#[test]
fn unknown_registry_lists_the_known_ones() {
    let registries = Registries::parse(EXAMPLE, Utf8Path::new(FILE)).unwrap();
    expect![[r#"unknown registry `nexus`: `/repo/deploy/registries.toml` defines `gitlab`, `local`, `s3`, `webdav`; pass one of them, or add a `[nexus]` table to that file"#]]
        .assert_eq(&registries.get("nexus").unwrap_err().to_string());
}

#[test]
fn syntax_error_has_line_and_column() {
    check_error(
        "[gitlab]\nkind = \"gitlab\"\nproject = 12\"\n",
        expect![[r#"
            /repo/deploy/registries.toml:3:11: registry `gitlab`: missing opening quote, expected `"`
              help: each registry is a table such as `[gitlab]` with `kind = "gitlab"` (`api_url`, `project`, `token_env`, `job_token_env`, `deploy_token_env`), `kind = "webdav"` (`url`, `username_env`, `password_env`), `kind = "s3"` (`bucket`, `endpoint`, `region`, `prefix`, `access_key_id_env`, `secret_access_key_env`, `session_token_env`, `virtual_host_style`) or `kind = "fs"` (`path`)"#]],
    );
}

#[test]
fn unknown_key() {
    check_error(
        "[dav]\nkind = \"webdav\"\nurl = \"http://x\"\npasword_env = \"P\"\n",
        expect![[r#"
            /repo/deploy/registries.toml:4:1: registry `dav`: unknown field `pasword_env`, expected one of `url`, `username_env`, `password_env`
              help: each registry is a table such as `[gitlab]` with `kind = "gitlab"` (`api_url`, `project`, `token_env`, `job_token_env`, `deploy_token_env`), `kind = "webdav"` (`url`, `username_env`, `password_env`), `kind = "s3"` (`bucket`, `endpoint`, `region`, `prefix`, `access_key_id_env`, `secret_access_key_env`, `session_token_env`, `virtual_host_style`) or `kind = "fs"` (`path`)"#]],
    );
}

#[test]
fn unknown_kind() {
    check_error(
        "[dav]\nkind = \"ftp\"\nurl = \"ftp://x\"\n",
        expect![[r#"
        /repo/deploy/registries.toml:2:8: registry `dav`: unknown variant `ftp`, expected one of `gitlab`, `webdav`, `s3`, `fs`
          help: each registry is a table such as `[gitlab]` with `kind = "gitlab"` (`api_url`, `project`, `token_env`, `job_token_env`, `deploy_token_env`), `kind = "webdav"` (`url`, `username_env`, `password_env`), `kind = "s3"` (`bucket`, `endpoint`, `region`, `prefix`, `access_key_id_env`, `secret_access_key_env`, `session_token_env`, `virtual_host_style`) or `kind = "fs"` (`path`)"#]],
    );
}

#[test]
fn missing_kind() {
    check_error(
        "[dav]\nurl = \"http://x\"\n",
        expect![[r#"
        /repo/deploy/registries.toml:1:1: registry `dav`: missing field `kind`
          help: each registry is a table such as `[gitlab]` with `kind = "gitlab"` (`api_url`, `project`, `token_env`, `job_token_env`, `deploy_token_env`), `kind = "webdav"` (`url`, `username_env`, `password_env`), `kind = "s3"` (`bucket`, `endpoint`, `region`, `prefix`, `access_key_id_env`, `secret_access_key_env`, `session_token_env`, `virtual_host_style`) or `kind = "fs"` (`path`)"#]],
    );
}

#[test]
fn missing_required_key() {
    check_error(
        "[s3]\nkind = \"s3\"\nregion = \"eu-west-1\"\n",
        expect![[r#"
        /repo/deploy/registries.toml:1:1: registry `s3`: missing field `bucket`
          help: each registry is a table such as `[gitlab]` with `kind = "gitlab"` (`api_url`, `project`, `token_env`, `job_token_env`, `deploy_token_env`), `kind = "webdav"` (`url`, `username_env`, `password_env`), `kind = "s3"` (`bucket`, `endpoint`, `region`, `prefix`, `access_key_id_env`, `secret_access_key_env`, `session_token_env`, `virtual_host_style`) or `kind = "fs"` (`path`)"#]],
    );
}

#[test]
fn secret_in_an_env_key() {
    check_error(
        "[gitlab]\nkind = \"gitlab\"\ntoken_env = \"glpat-abcdef\"\n",
        expect![[r#"
            /repo/deploy/registries.toml:3:1: registry `gitlab`: `token_env` = "glpat-abcdef" is not an environment variable name
              help: `*_env` keys name a variable (letters, digits and `_`), such as `token_env = "GITLAB_TOKEN"`; the secret itself never goes in the file"#]],
    );
}

#[test]
fn bad_variable_syntax() {
    check_error(
        "[gitlab]\nkind = \"gitlab\"\napi_url = \"$CI_API_V4_URL\"\n",
        expect![[r#"
        /repo/deploy/registries.toml:3:1: registry `gitlab`: `api_url`: write variables as `${NAME}` (braces required), or `$$` for a literal `$` at byte 0 of `$CI_API_V4_URL`
          help: write variables as `${VAR}` or `${VAR:-default}`, and `$$` for a literal `$`"#]],
    );
}

#[test]
fn half_of_basic_auth() {
    check_error(
        "[dav]\nkind = \"webdav\"\nurl = \"http://x\"\nusername_env = \"U\"\n",
        expect![[r#"
        /repo/deploy/registries.toml:4:1: registry `dav`: `username_env` and `password_env` go together
          help: set both (basic auth), or neither (no authentication)"#]],
    );
}

#[test]
fn bad_registry_name() {
    check_error(
        "[\"my registry\"]\nkind = \"fs\"\npath = \"/x\"\n",
        expect![[r#"
        /repo/deploy/registries.toml:1:1: `my registry` is not a registry name
          help: name registries with letters, digits, `-` and `_`, such as `[gitlab]` or `[nightly-s3]`"#]],
    );
}

#[test]
fn missing_file_says_how_to_create_it() {
    let err = Registries::load(Utf8Path::new("/nonexistent/deploy/registries.toml")).unwrap_err();
    expect![[r#"no registries are configured: `/nonexistent/deploy/registries.toml` does not exist; create it with one table per registry, such as `[gitlab]` with `kind = "gitlab"` (see README.md, "Registries")"#]].assert_eq(&err.to_string());
}

#[test]
fn gitlab_without_a_token_names_the_variables() {
    check_open_error(
        EXAMPLE,
        "gitlab",
        &[],
        expect![
            "registry `gitlab` needs credentials: set GITLAB_TOKEN to an access token with the `api` scope (sent as PRIVATE-TOKEN), or run in GitLab CI, where CI_JOB_TOKEN is set (JOB-TOKEN), or set GITLAB_DEPLOY_TOKEN to a deploy token (DEPLOY-TOKEN)"
        ],
    );
}

#[test]
fn gitlab_token_order() {
    let registries = Registries::parse(EXAMPLE, Utf8Path::new(FILE)).unwrap();
    for (vars, header) in [
        (&[("GITLAB_TOKEN", "a"), ("CI_JOB_TOKEN", "b"), ("GITLAB_DEPLOY_TOKEN", "c")][..], "PRIVATE-TOKEN"),
        (&[("GITLAB_TOKEN", ""), ("CI_JOB_TOKEN", "b")][..], "JOB-TOKEN"),
        (&[("GITLAB_DEPLOY_TOKEN", "c")][..], "DEPLOY-TOKEN"),
    ] {
        let registry = registries.open("gitlab", &env(vars)).unwrap();
        let crate::Backend::Gitlab(gitlab) = &registry.backend else { panic!("not gitlab") };
        assert!(format!("{gitlab:?}").contains(header), "{vars:?}: {gitlab:?}");
    }
}

#[test]
fn gitlab_in_ci_uses_ci_variables() {
    let registries = Registries::parse("[gl]\nkind = \"gitlab\"\n", Utf8Path::new(FILE)).unwrap();
    let registry = registries
        .open(
            "gl",
            &env(&[("CI_API_V4_URL", "https://gitlab.ci/api/v4/"), ("CI_PROJECT_ID", "42"), ("CI_JOB_TOKEN", "t")]),
        )
        .unwrap();
    assert_eq!(
        registry.location("platform-airflow-dags", "1.2.0", "platform-airflow-dags-1.2.0.tar.gz"),
        "https://gitlab.ci/api/v4/projects/42/packages/generic/platform-airflow-dags/1.2.0/platform-airflow-dags-1.2.0.tar.gz"
    );
}

#[test]
fn gitlab_project_path_is_encoded() {
    let registries = Registries::parse(
        "[gl]\nkind = \"gitlab\"\napi_url = \"https://g/api/v4\"\nproject = \"data/airflow dags\"\n",
        Utf8Path::new(FILE),
    )
    .unwrap();
    let registry = registries.open("gl", &env(&[("GITLAB_TOKEN", "t")])).unwrap();
    expect!["https://g/api/v4/projects/data%2Fairflow%20dags/packages/generic/p/1/f.tar.gz"]
        .assert_eq(&registry.location("p", "1", "f.tar.gz"));
}

#[test]
fn gitlab_outside_ci_without_api_url() {
    check_open_error(
        "[gl]\nkind = \"gitlab\"\n",
        "gl",
        &[("GITLAB_TOKEN", "t")],
        expect![
            "registry `gl` in `/repo/deploy/registries.toml`: cannot expand `api_url`: environment variable `CI_API_V4_URL` is not set, and a missing variable is never read as empty: export CI_API_V4_URL=…, or give a default with ${CI_API_V4_URL:-value}"
        ],
    );
}

#[test]
fn webdav_missing_password() {
    check_open_error(
        EXAMPLE,
        "webdav",
        &[("DAV_USER", "u")],
        expect![
            "registry `webdav` needs credentials: set DAV_PASSWORD (the basic-auth password named by `username_env` and `password_env` in `/repo/deploy/registries.toml`)"
        ],
    );
}

#[test]
fn s3_missing_credentials() {
    check_open_error(
        EXAMPLE,
        "s3",
        &[("AWS_ACCESS_KEY_ID", "k")],
        expect![
            "registry `s3` needs credentials: set AWS_SECRET_ACCESS_KEY (the S3 access key id and secret access key)"
        ],
    );
}

#[test]
fn url_with_credentials_is_refused() {
    check_open_error(
        "[dav]\nkind = \"webdav\"\nurl = \"https://user:secret@dav.example.org/p\"\n",
        "dav",
        &[],
        expect![[
            r#"registry `dav` in `/repo/deploy/registries.toml`: `url` = "https://***@dav.example.org/p" holds credentials: never put them in the file; name the variables that hold them instead"#
        ]],
    );
}

#[test]
fn relative_fs_path_is_taken_from_the_repository_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = Utf8Path::from_path(dir.path()).unwrap();
    let file = root.join("deploy/registries.toml");
    let registries = Registries::parse("[local]\nkind = \"fs\"\npath = \"target/registry\"\n", &file).unwrap();
    let registry = registries.open("local", &env(&[])).unwrap();
    assert_eq!(registry.location("p", "1", "f"), root.join("target/registry/p/1/f").as_str());
}

#[test]
fn relative_fs_path_needs_a_registries_file() {
    let config = RegistryConfig::Fs(crate::FsConfig { path: "target/registry".into() });
    let err = Registry::open("local", &config, &env(&[])).unwrap_err();
    expect![[r#"registry `local` in `registries.toml`: `path` = "target/registry" is relative, and only a registries file gives it a base: use an absolute path"#]].assert_eq(&pad_layout::error_chain(&err));
}

#[test]
fn names_are_path_segments() {
    let dir = tempfile::tempdir().unwrap();
    let config = RegistryConfig::Fs(crate::FsConfig { path: dir.path().to_str().unwrap().into() });
    let registry = Registry::open("local", &config, &env(&[])).unwrap();
    for (package, version, file) in
        [("../x", "1", "f"), ("p", "..", "f"), ("p", "1", "a/b"), ("p", "1 2", "f"), ("", "1", "f")]
    {
        let err = registry.exists(package, version, file).unwrap_err();
        assert!(matches!(err, RegistryError::InvalidName { .. }), "{package} {version} {file}: {err}");
    }
}

#[test]
fn secrets_never_show_in_debug() {
    let registries = Registries::parse(EXAMPLE, Utf8Path::new(FILE)).unwrap();
    let token = "glpat-DoNotShowThis0123";
    let registry = registries.open("gitlab", &env(&[("GITLAB_TOKEN", token)])).unwrap();
    let crate::Backend::Gitlab(gitlab) = &registry.backend else { panic!("not gitlab") };
    for shown in [format!("{registry:?}"), format!("{gitlab:?}"), format!("{registry:#?}")] {
        assert!(!shown.contains(token), "{shown}");
    }
    let registry = registries.open("webdav", &env(&[("DAV_USER", "u"), ("DAV_PASSWORD", token)])).unwrap();
    assert!(!format!("{registry:?}").contains(token));
}

#[test]
fn backoff_grows_and_is_bounded() {
    let waits: Vec<u128> = (1..=6).map(|a| crate::http::backoff(a).as_millis()).collect();
    assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 8000]);
}
