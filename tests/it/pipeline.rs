//! The repository's GitLab pipeline, checked and run.
//!
//! `cargo xtask ci-config --check` accepts the `.gitlab-ci.yml` at the root and names
//! the line and the fix for a broken one.
//!
//! GitLab cannot run here, so the pipeline simulation plays a GitLab runner: it reads
//! `.gitlab-ci.yml` with pad-ci, and for each pipeline (a tag, two merge requests, the
//! default branch) runs the script of every job the rules choose, in stage order, in a
//! fresh clone checked out at the commit (detached, as a runner does), with GitLab's
//! predefined variables, the project's CI/CD variables, and the file's own `variables:`.
//! What the simulation stands in for, and nothing more:
//! - `cargo` is a shim that runs `cargo xtask ARGS` as the front end built for the tests
//!   (the alias in `.cargo/config.toml` would build the same code), and refuses any other
//!   cargo command;
//! - GitLab's cache restore of `target/` and `.uv-cache/` is a symlink to the directories
//!   the end-to-end tests share;
//! - GitLab itself is the GitLab contract server (`CI_API_V4_URL`), and the staging and
//!   production Airflow is one worker container.
//!
//! It shows: the production release and two merge requests' review namespaces side by
//! side on one worker; real Airflow there lists all three sets of DAG ids with no import
//! errors; a run in a namespace writes only under that namespace's data root; stopping
//! one review environment leaves the other and production intact.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use pad_ci::{Event, Pipeline, When};
use pad_process::{Cmd, Finished};
use pad_testkit::random_bytes;
use pad_testkit::services::{
    GITLAB_JOB_TOKEN, GITLAB_PROJECT, GITLAB_WRITE_TOKEN, GitlabContract, GitlabOptions, Nginx, S3_ACCESS_KEY,
    S3_SECRET_KEY, S3Server,
};

use crate::support::{TestRepo, e2e_enabled, shared_target, tools_dir, workspace_root, xtask_with_env};
use crate::worker::{WorkerOptions, WorkerSet, airflow_env_tarball};

/// The example repository with the pipeline file beside it.
fn example_with_pipeline() -> TestRepo {
    let repo = TestRepo::example();
    std::fs::copy(workspace_root().join(pad_ci::FILE_NAME), repo.root.join(pad_ci::FILE_NAME)).unwrap();
    repo
}

#[test]
fn ci_config_check_accepts_the_repositorys_pipeline() {
    let repo = example_with_pipeline();
    let args = ["--repo", repo.root.as_str(), "ci-config", "--check"];
    let checked = xtask_with_env(&repo.root, &args, &[]).success();
    assert!(checked.stderr.contains("ci-config: .gitlab-ci.yml is valid"), "{}", checked.stderr);

    let json = xtask_with_env(&repo.root, &["--repo", repo.root.as_str(), "ci-config", "--json"], &[]).success().json();
    let jobs = |i: usize| -> Vec<String> {
        json["pipelines"][i]["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| format!("{}{}", j["name"].as_str().unwrap(), if j["when"] == "manual" { "(manual)" } else { "" }))
            .collect()
    };
    assert_eq!(jobs(0), ["test", "package", "review", "stop_review(manual)"], "merge request: {json:#}");
    assert_eq!(jobs(1), ["test", "package", "publish", "warm"], "default branch: {json:#}");
    assert_eq!(jobs(2), ["test", "package", "publish", "production(manual)"], "tag: {json:#}");
}

#[test]
fn ci_config_check_names_the_line_and_the_fix() {
    let repo = example_with_pipeline();
    let file = repo.root.join(pad_ci::FILE_NAME);
    let text = std::fs::read_to_string(&file).unwrap();
    let test_line = 1 + text.lines().position(|l| l.contains("cargo xtask test --locked")).unwrap();
    let broken = text
        .replace("cargo xtask test --locked", "cargo xtask test --lockd")
        .replace("cargo xtask cache warm --json", "echo no warm");
    std::fs::write(&file, broken).unwrap();
    let out = xtask_with_env(&repo.root, &["--repo", repo.root.as_str(), "ci-config", "--check"], &[]).failure();
    assert!(
        out.stderr.contains(&format!(".gitlab-ci.yml:{test_line}: job `test`: `cargo xtask test --lockd")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("unexpected argument '--lockd' found"), "{}", out.stderr);
    assert!(out.stderr.contains("see `cargo xtask test --help`"), "{}", out.stderr);
    // The test job with --locked is gone, and projects/image-matching/artifacts.yaml
    // needs the warm job.
    assert!(out.stderr.contains("no job calls `cargo xtask test` with --locked"), "{}", out.stderr);
    assert!(out.stderr.contains("no job calls `cargo xtask cache warm`"), "{}", out.stderr);
    assert!(out.stderr.contains("error: 3 problems in .gitlab-ci.yml"), "{}", out.stderr);
}

/// A GitLab runner, as far as this repository's pipeline needs one.
struct Runner {
    origin: Utf8PathBuf,
    /// Holds the `cargo` shim.
    bin: tempfile::TempDir,
    clones: tempfile::TempDir,
    /// The project's CI/CD variables (Settings > CI/CD > Variables).
    project_vars: BTreeMap<String, String>,
    uv_cache: Utf8PathBuf,
}

/// One job's run.
struct JobRun {
    name: String,
    out: Finished,
}

impl JobRun {
    fn log(&self) -> String {
        format!("{}{}", self.out.stdout, self.out.stderr)
    }
}

impl Runner {
    fn new(origin: &Utf8Path, project_vars: BTreeMap<String, String>) -> Runner {
        let bin = tempfile::tempdir().unwrap();
        let shim = bin.path().join("cargo");
        let xtask = env!("CARGO_BIN_EXE_pad-xtask");
        std::fs::write(
            &shim,
            format!(
                "#!/bin/sh\n# cargo, as the pipeline simulation provides it: only the xtask alias.\n\
                 [ \"$1\" = xtask ] || {{ echo \"the pipeline simulation runs only cargo xtask, not: cargo $*\" >&2; exit 127; }}\n\
                 shift\nexec {xtask} \"$@\"\n"
            ),
        )
        .unwrap();
        Cmd::new("chmod", origin).args(["755", shim.to_str().unwrap()]).run().unwrap();
        let uv_cache = shared_target().join("uv-cache");
        std::fs::create_dir_all(&uv_cache).unwrap();
        Runner { origin: origin.to_owned(), bin, clones: tempfile::tempdir().unwrap(), project_vars, uv_cache }
    }

    /// Runs the pipeline of `event` at `sha`: every job its rules choose, in order; a
    /// manual job only when named in `play`. Panics at the first failed job, with its log.
    fn run(&self, pipeline_name: &str, event: &Event, sha: &str, play: &[&str]) -> Vec<JobRun> {
        let clone = Utf8PathBuf::from_path_buf(self.clones.path().join(pipeline_name)).unwrap();
        git(&self.origin, &["clone", "-q", self.origin.as_str(), clone.as_str()]);
        git(&clone, &["checkout", "-q", "--detach", sha]);
        // GitLab's cache, restored.
        std::os::unix::fs::symlink(shared_target(), clone.join("target")).unwrap();
        std::os::unix::fs::symlink(&self.uv_cache, clone.join(".uv-cache")).unwrap();

        let pipeline = pad_ci::load(&clone).unwrap_or_else(|e| panic!("{e}"));
        let mut vars = event.variables("main", sha);
        vars.extend(self.project_vars.clone());
        vars.insert("CI_PROJECT_DIR".into(), clone.to_string());
        vars.insert("CI_PIPELINE_ID".into(), pipeline_name.to_owned());
        let planned = pipeline
            .plan(&vars)
            .unwrap()
            .unwrap_or_else(|| panic!("{pipeline_name}: workflow:rules start no pipeline"));
        let mut runs = Vec::new();
        for job in planned {
            if job.when == When::Manual && !play.contains(&job.job.name.as_str()) {
                continue;
            }
            let run = self.run_job(&pipeline, job.job, &clone, &vars);
            assert!(run.out.status.success(), "{pipeline_name}: job `{}` failed:\n{}", run.name, run.log());
            runs.push(run);
        }
        // A runner's build directory does not outlive the pipeline: nothing built may
        // depend on the path the shared target was reached by.
        std::fs::remove_dir_all(&clone).unwrap();
        runs
    }

    fn run_job(
        &self,
        pipeline: &Pipeline,
        job: &pad_ci::Job,
        clone: &Utf8Path,
        predefined: &BTreeMap<String, String>,
    ) -> JobRun {
        let mut env = predefined.clone();
        env.insert("CI_JOB_NAME".into(), job.name.clone());
        env.insert("CI_JOB_STAGE".into(), job.stage.clone());
        // The file's variables, then the job's, each expanded as GitLab does.
        for (key, value) in pipeline.variables.iter().chain(&job.variables) {
            let expanded = expand(value, &env);
            env.insert(key.clone(), expanded);
        }
        let mut script = String::from("set -eo pipefail\n");
        for line in job.lines() {
            script.push_str(&format!(
                "echo {}\n{}\n",
                pad_process::shell_quote(&format!("$ {}", line.text)),
                line.text
            ));
        }
        let path = format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin.path().display());
        let mut cmd = Cmd::new("bash", clone)
            .args(["-c", &script])
            .env("PATH", path)
            .env_remove(pad_layout::EnvVars::PAD_REPO)
            .env_remove(pad_layout::EnvVars::PAD_TARGET_DIR)
            .env_remove(pad_layout::EnvVars::PAD_VERSION)
            .env_remove(pad_layout::EnvVars::CARGO_MANIFEST_DIR);
        for (key, value) in &env {
            cmd = cmd.env(key, value);
        }
        JobRun { name: job.name.clone(), out: cmd.run_unchecked().unwrap() }
    }
}

/// `$NAME` and `${NAME}` from `env`; unknown ones stay as written (GitLab leaves them).
fn expand(value: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, len) = match after.strip_prefix('{') {
            Some(braced) => match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            },
            None => {
                let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
                (&after[..end], end)
            }
        };
        match env.get(name) {
            Some(found) if !name.is_empty() => out.push_str(found),
            _ => out.push_str(&rest[at..at + 1 + len]),
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

#[track_caller]
fn git(dir: &Utf8Path, args: &[&str]) -> String {
    let out = Cmd::new("git", dir)
        .args(["-c", "user.name=CI", "-c", "user.email=ci@example.org", "-c", "init.defaultBranch=main"])
        .args(args)
        .run()
        .unwrap_or_else(|e| panic!("git {args:?}: {e}"));
    out.stdout.trim().to_owned()
}

#[test]
fn expand_follows_gitlab_variables() {
    let env: BTreeMap<String, String> =
        [("CI_PROJECT_DIR", "/builds/p"), ("SLUG", "mr-1")].map(|(k, v)| (k.to_owned(), v.to_owned())).into();
    assert_eq!(expand("$CI_PROJECT_DIR/.uv-cache", &env), "/builds/p/.uv-cache");
    assert_eq!(expand("review/${SLUG}-x", &env), "review/mr-1-x");
    assert_eq!(expand("$UNKNOWN/a", &env), "$UNKNOWN/a");
}

/// The whole simulation: see the module documentation.
#[test]
fn two_merge_requests_and_production_side_by_side_on_one_worker() {
    if !e2e_enabled("two_merge_requests_and_production_side_by_side_on_one_worker") {
        return;
    }
    let workers = WorkerSet::start(WorkerOptions::default());
    let worker = &workers.workers()[0];
    let gitlab = GitlabContract::start(GitlabOptions::default()).unwrap();

    // The team's repository: the example, its pipeline, and staging and production both
    // on the one worker (CI/CD variables carry the key and the host keys, as in GitLab).
    let origin = example_with_pipeline();
    let staging = staging_toml(worker, "STAGING");
    origin.write("deploy/staging.toml", &staging);
    origin.write("deploy/prod.toml", &format!("{}registry = \"gitlab\"\n", staging_toml(worker, "PROD")));
    std::fs::copy(workspace_root().join(".gitignore"), origin.root.join(".gitignore")).unwrap();
    git(&origin.root, &["init", "-q"]);
    git(&origin.root, &["add", "-A"]);
    git(&origin.root, &["commit", "-qm", "the example repository"]);
    let main_sha = git(&origin.root, &["rev-parse", "HEAD"]);
    origin.write("CHANGELOG.md", "# v1.0.0\n");
    git(&origin.root, &["add", "-A"]);
    git(&origin.root, &["commit", "-qm", "v1.0.0"]);
    git(&origin.root, &["tag", "v1.0.0"]);
    let tag_sha = git(&origin.root, &["rev-parse", "HEAD"]);

    // Two merge requests, each changing one DAG.
    let mut mr_shas = Vec::new();
    for (branch, schedule) in [("feature/faster-sync", "@hourly"), ("fix/matching-window", "@weekly")] {
        git(&origin.root, &["checkout", "-q", "-b", branch, "main"]);
        let dag = origin.root.join("dags/archive_sync.py");
        let text = std::fs::read_to_string(&dag).unwrap();
        std::fs::write(&dag, format!("{text}\n# {branch}: schedule {schedule}\n")).unwrap();
        git(&origin.root, &["commit", "-qam", branch]);
        mr_shas.push((branch, git(&origin.root, &["rev-parse", "HEAD"])));
    }
    git(&origin.root, &["checkout", "-q", "main"]);

    let mut project_vars: BTreeMap<String, String> = BTreeMap::new();
    for prefix in ["STAGING", "PROD"] {
        project_vars.insert(format!("{prefix}_SSH_KEY"), worker.identity.to_string());
        project_vars.insert(format!("{prefix}_KNOWN_HOSTS"), workers.known_hosts_file().to_string());
    }
    project_vars.insert("CI_API_V4_URL".into(), gitlab.api_url());
    project_vars.insert("CI_PROJECT_ID".into(), GITLAB_PROJECT.into());
    project_vars.insert("CI_JOB_TOKEN".into(), GITLAB_JOB_TOKEN.into());

    // What projects/image-matching/artifacts.yaml warms from and into: a Maven
    // repository (nginx), the project's generic packages (GitLab), S3 and a directory.
    let nginx = Nginx::start().unwrap();
    let s3 = S3Server::start(&tools_dir(), "analytics-artifacts").unwrap();
    let jar = random_bytes(300_017, 21);
    crate::cache::maven_publish(&nginx.root.join("maven"), "org.apache.spark:spark-avro_2.12:3.5.1", &jar, &["sha1"]);
    let scratch = TestRepo::empty();
    let env_package = scratch.root.join("image-matching-venv.tgz");
    std::fs::write(&env_package, random_bytes(200_003, 22)).unwrap();
    Cmd::new("curl", &origin.root)
        .args([
            "-sf",
            "-X",
            "PUT",
            "-H",
            &format!("PRIVATE-TOKEN: {GITLAB_WRITE_TOKEN}"),
            "--upload-file",
            env_package.as_str(),
        ])
        .arg(format!(
            "{}/projects/{GITLAB_PROJECT}/packages/generic/image-matching-venv/0.1.0/image-matching-venv-0.1.0.tgz",
            gitlab.api_url()
        ))
        .run()
        .unwrap();
    let artifact_cache = scratch.root.join("artifact-cache");
    for (key, value) in [
        ("PAD_MAVEN_URL", nginx.url("maven")),
        ("IMAGE_MATCHING_PROJECT_ID", GITLAB_PROJECT.to_owned()),
        ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY.to_owned()),
        ("AWS_ENDPOINT_URL", s3.endpoint()),
        ("PAD_ARTIFACT_CACHE_DIR", artifact_cache.to_string()),
    ] {
        project_vars.insert(key.to_owned(), value);
    }
    let runner = Runner::new(&origin.root, project_vars);

    // The default branch: tested, packaged, published under its branch version, and the
    // artifact caches warmed.
    let main = runner.run("main", &Event::Push { branch: "main".into() }, &main_sha, &[]);
    let names: Vec<&str> = main.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["test", "package", "publish", "warm"]);
    let log = gitlab.log();
    assert!(log.contains(&format!("/platform-airflow-dags-main-{}.tar.gz ", &main_sha[..7])), "{log}");
    let warmed = &main[3].out.stdout;
    let report: serde_json::Value = serde_json::from_str(&warmed[warmed.find('{').unwrap()..]).unwrap();
    let outcomes: Vec<&str> = report["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["caches"].as_array().unwrap())
        .map(|c| c["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["copied"; 4], "{warmed}");
    assert_eq!(std::fs::read(artifact_cache.join("image-matching/spark-avro_2.12-3.5.1.jar")).unwrap(), jar);
    assert_eq!(s3.keys("analytics-artifacts", "airflow/image-matching/").unwrap().len(), 4);

    // The tag: tested, packaged, published, then deployed to production by a person.
    let tag = runner.run("tag", &Event::Tag { tag: "v1.0.0".into() }, &tag_sha, &["production"]);
    let names: Vec<&str> = tag.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["test", "package", "publish", "production"]);
    assert!(gitlab.log().contains("/platform-airflow-dags-v1.0.0.tar.gz "), "{}", gitlab.log());

    // Two merge requests, reviewed side by side.
    for (i, (branch, sha)) in mr_shas.iter().enumerate() {
        let event = Event::MergeRequest { branch: (*branch).to_owned(), iid: 1 + i as u32 };
        let runs = runner.run(&format!("mr{i}"), &event, sha, &[]);
        let names: Vec<&str> = runs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["test", "package", "review"]);
    }
    let slugs: Vec<String> = mr_shas.iter().map(|(b, _)| pad_ci::ref_slug(b)).collect();
    let home = &worker.airflow_home;
    let production_current = worker.exec_as_service(&format!("readlink {home}/current")).stdout;
    assert!(production_current.contains("v1.0.0"), "{production_current}");

    // Real Airflow on the worker sees production's DAGs and each review's, suffixed.
    worker.install_airflow(&airflow_env_tarball("2.10"));
    let airflow = |args: &str| {
        worker.exec_as_service(&format!(
            "cd {home} && AIRFLOW_HOME={home} AIRFLOW__CORE__LOAD_EXAMPLES=False /opt/airflow-venv/bin/airflow {args}"
        ))
    };
    let migrate = airflow("db migrate");
    assert!(migrate.status.success(), "{}\n{}", migrate.stdout, migrate.stderr);
    let errors = airflow("dags list-import-errors -o json");
    assert!(
        errors.stdout.contains("No data found") || errors.stdout.trim_end().ends_with("[]"),
        "{}\n{}",
        errors.stdout,
        errors.stderr
    );
    let listed = airflow("dags list -o plain").stdout;
    for id in ["archive_sync", "image_matching"] {
        assert!(
            listed.lines().any(|l| l.split_whitespace().next() == Some(id)),
            "production's `{id}` missing:\n{listed}"
        );
        for slug in &slugs {
            let namespaced = format!("{id}__{slug}");
            assert!(listed.contains(&namespaced), "`{namespaced}` missing:\n{listed}");
        }
    }

    // A run in the first review writes only under that namespace's data root.
    let run = airflow(&format!("dags test image_matching__{} 2024-01-01", slugs[0]));
    assert!(run.status.success(), "{}\n{}", run.stdout, run.stderr);
    let written = worker.exec_as_service(&format!("cd {home}/data && find . -type f | sort")).stdout;
    assert!(written.contains(&format!("./{}/image-matching/2024-01-01/matches.tsv", slugs[0])), "{written}");
    assert!(
        written.lines().all(|f| f.starts_with(&format!("./{}/", slugs[0]))),
        "written outside its data root:\n{written}"
    );

    // Stopping the first review: its namespace goes, the other review and production stay.
    let before_other = worker.exec_as_service(&format!("readlink {home}/namespaces/{}/current", slugs[1])).stdout;
    let event = Event::MergeRequest { branch: mr_shas[0].0.to_owned(), iid: 1 };
    let stop = runner.run("mr0-stop", &event, &mr_shas[0].1, &["stop_review"]);
    assert!(stop.iter().any(|j| j.name == "stop_review"));
    let listed = airflow("dags list -o plain").stdout;
    assert!(!listed.contains(&format!("__{}", slugs[0])), "stopped review still listed:\n{listed}");
    assert!(listed.contains(&format!("archive_sync__{}", slugs[1])), "{listed}");
    assert_eq!(worker.exec_as_service(&format!("readlink {home}/current")).stdout, production_current);
    assert_eq!(
        worker.exec_as_service(&format!("readlink {home}/namespaces/{}/current", slugs[1])).stdout,
        before_other
    );
}

/// A target on `worker` whose key and known_hosts come from CI/CD variables `<PREFIX>_…`.
fn staging_toml(worker: &crate::worker::Worker, prefix: &str) -> String {
    format!(
        "hosts = [\"{host}\"]\nport = {port}\nssh_user = \"{user}\"\nidentity = \"${{{prefix}_SSH_KEY}}\"\n\
         known_hosts = \"${{{prefix}_KNOWN_HOSTS}}\"\nservice_user = \"{service}\"\nairflow_home = \"{home}\"\n\
         data_root = \"{home}/data/${{namespace}}\"\nkeep = 3\n",
        host = worker.host,
        port = worker.port,
        user = worker.ssh_user,
        service = worker.service_user,
        home = worker.airflow_home,
    )
}
