//! `cargo xtask package`, `verify`, `publish` and `fetch` end to end: reproducible
//! packages of the example repository, what they leave out, reuse, bad input (a
//! missing environment, a full or read-only disk, an unknown registry, missing
//! credentials, a refusing server, a corrupted download), and publish → fetch round
//! trips through a directory, nginx WebDAV, an S3 server and the GitLab contract server.

use camino::{Utf8Path, Utf8PathBuf};
use pad_process::Cmd;

use pad_testkit::services::{GitlabContract, GitlabOptions, Nginx, S3Server};

use crate::support::{TestRepo, XtaskRun, e2e_enabled, names_in, shared_target, tools_dir, xtask_with_env};

const FILE: &str = "platform-airflow-dags-0.0.0-unversioned.tar.gz";

fn package(repo: &TestRepo, target: &Utf8Path, extra: &[&str]) -> XtaskRun {
    let mut args = vec!["package", "--json"];
    args.extend_from_slice(extra);
    repo.xtask_in(target, &args)
}

fn manifest_paths(file: &Utf8Path) -> Vec<String> {
    let manifest = pad_bundle_manifest(file);
    manifest["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap().to_owned()).collect()
}

/// The manifest, read with plain `tar` so the test does not trust our reader.
fn pad_bundle_manifest(file: &Utf8Path) -> serde_json::Value {
    let text = Cmd::new("tar", file.parent().unwrap()).args(["-xzOf", file.as_str(), "MANIFEST.json"]).read().unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn two_packages_from_clean_are_byte_identical() {
    if !e2e_enabled("two_packages_from_clean_are_byte_identical") {
        return;
    }
    let repo = TestRepo::example();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Utf8Path::from_path(a.path()).unwrap().to_owned();
    let b = Utf8Path::from_path(b.path()).unwrap().to_owned();
    let first = package(&repo, &a, &[]).success().json();
    let second = package(&repo, &b, &[]).success().json();
    assert_eq!(first["reused"], false);
    assert_eq!(second["reused"], false);
    let (p1, p2) = (first["path"].as_str().unwrap(), second["path"].as_str().unwrap());
    assert_ne!(p1, p2);
    assert!(p1.ends_with(&format!("dist/{FILE}")), "{p1}");
    assert_eq!(std::fs::read(p1).unwrap(), std::fs::read(p2).unwrap(), "packages from clean differ");
    assert_eq!(first["sha256"], second["sha256"]);
    // The `.sha256` beside it checks out with the standard tool.
    let dist = Utf8Path::new(p1).parent().unwrap();
    let ok = Cmd::new("sha256sum", dist).args(["-c", &format!("{FILE}.sha256")]).read().unwrap();
    assert!(ok.ends_with(": OK"), "{ok}");
}

#[test]
fn package_ships_code_and_envs_and_leaves_out_tests_caches_and_ignored_files() {
    if !e2e_enabled("package_ships_code_and_envs_and_leaves_out_tests_caches_and_ignored_files") {
        return;
    }
    let repo = TestRepo::example();
    repo.write("projects/image-matching/src/image_matching/__pycache__/cli.cpython-311.pyc", "cache")
        .write("projects/image-matching/.pytest_cache/v/cache/lastfailed", "{}")
        .write("projects/image-matching/.gitignore", "*.log\nscratch/\n")
        .write("projects/image-matching/run.log", "noise")
        .write("projects/image-matching/scratch/notes.txt", "notes")
        .write("projects/image-matching/venv/bin/python", "an unpacked env")
        .write("dags/.git/HEAD", "ref: refs/heads/main")
        .write("dags/__pycache__/image_matching.cpython-311.pyc", "cache");
    let target = shared_target();
    let report = package(&repo, &target, &["--out-dir", repo.root.join("out").as_str()]).success().json();
    let file = Utf8PathBuf::from(report["path"].as_str().unwrap());
    assert_eq!(file, repo.root.join("out").join(FILE));
    let paths = manifest_paths(&file);
    for expected in [
        "dags/image_matching.py",
        "dags/archive_sync.py",
        "projects/image-matching/src/image_matching/pipeline.py",
        "projects/image-matching/requirements.lock",
        "projects/image-matching/project.toml",
        "projects/image-matching/venv.tar.gz",
        "projects/archive-sync/bin/sync.sh",
        "projects/archive-sync/venv.tar.gz",
    ] {
        assert!(paths.iter().any(|p| p == expected), "{expected} missing from {paths:#?}");
    }
    for path in &paths {
        for banned in
            ["/tests/", "__pycache__", ".pytest_cache", ".log", "scratch/", "/venv/", ".git/", "requirements-test"]
        {
            assert!(!path.contains(banned), "{path} should not ship ({banned})");
        }
    }
    let manifest = pad_bundle_manifest(&file);
    let projects = manifest["projects"].as_array().unwrap();
    assert_eq!(projects.len(), 2);
    let image = projects.iter().find(|p| p["name"] == "image-matching").unwrap();
    assert_eq!(image["package"], "image_matching");
    assert!(image["interpreter_path"].as_str().unwrap().starts_with('/'));
    // `verify` agrees, and catches a package whose bytes no longer match.
    repo.xtask(&["verify", file.as_str()]).success();
    let tampered = repo.root.join("tampered.tar.gz");
    retar_with_changed_dag(&file, &tampered);
    let run = repo.xtask(&["verify", tampered.as_str()]).failure();
    assert!(run.stderr.contains("dags/image_matching.py"), "{}", run.stderr);
}

/// Unpacks `file`, changes a DAG, and packs it again with plain tar, manifest first.
fn retar_with_changed_dag(file: &Utf8Path, out: &Utf8Path) {
    let dir = tempfile::tempdir().unwrap();
    let dir = Utf8Path::from_path(dir.path()).unwrap();
    Cmd::new("tar", dir).args(["-xzf", file.as_str()]).run().unwrap();
    std::fs::write(dir.join("dags/image_matching.py"), "changed after packaging\n").unwrap();
    Cmd::new("tar", dir).args(["-czf", out.as_str(), "MANIFEST.json", "dags", "projects"]).run().unwrap();
}

#[test]
fn unchanged_inputs_reuse_the_package_and_a_dag_change_rewrites_it() {
    if !e2e_enabled("unchanged_inputs_reuse_the_package_and_a_dag_change_rewrites_it") {
        return;
    }
    let repo = TestRepo::example();
    let out = repo.root.join("out");
    let extra = ["--out-dir", out.as_str()];
    let first = package(&repo, &shared_target(), &extra).success().json();
    let modified = std::fs::metadata(out.join(FILE)).unwrap().modified().unwrap();
    let second = package(&repo, &shared_target(), &extra).success().json();
    assert_eq!(second["reused"], true);
    assert_eq!(second["sha256"], first["sha256"]);
    assert_eq!(std::fs::metadata(out.join(FILE)).unwrap().modified().unwrap(), modified);

    repo.write("dags/image_matching.py", &format!("{}\n# tuned\n", read(&repo.root.join("dags/image_matching.py"))));
    let third = package(&repo, &shared_target(), &extra).success().json();
    assert_eq!(third["reused"], false);
    assert_ne!(third["sha256"], first["sha256"]);
    assert_ne!(third["inputs_sha256"], first["inputs_sha256"]);
    assert_eq!(names_in(&out), [FILE.to_owned(), format!("{FILE}.sha256")]);

    // Text output: path, version, size and hash.
    let text = repo.xtask_in(&shared_target(), &["package", "--out-dir", out.as_str()]).success();
    for expected in ["(unchanged)", "version 0.0.0-unversioned", "sha256  ", "MiB"] {
        assert!(text.stdout.contains(expected), "{expected} not in:\n{}", text.stdout);
    }
}

fn file_sha256(path: &Utf8Path) -> String {
    let line = Cmd::new("sha256sum", path.parent().unwrap()).arg(path.as_str()).read().unwrap();
    line.split_whitespace().next().unwrap().to_owned()
}

fn read(path: &Utf8Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn a_project_without_an_environment_is_named_and_nothing_is_written() {
    if !e2e_enabled("a_project_without_an_environment_is_named_and_nothing_is_written") {
        return;
    }
    let repo = TestRepo::example();
    repo.write("projects/archive-sync/requirements.txt", "this-package-does-not-exist-pad==1.0\n");
    let out = repo.root.join("out");
    let run = repo.xtask_in(&shared_target(), &["package", "--out-dir", out.as_str()]).failure();
    assert!(run.stderr.contains("project `archive-sync` has no environment to package"), "{}", run.stderr);
    assert!(run.stderr.contains("this-package-does-not-exist-pad"), "{}", run.stderr);
    assert!(names_in(&out).is_empty(), "{:?}", names_in(&out));
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Mount {
    dir: tempfile::TempDir,
}

impl Mount {
    #[track_caller]
    fn tmpfs(options: &str) -> Mount {
        let dir = tempfile::tempdir().unwrap();
        let path = Utf8Path::from_path(dir.path()).unwrap();
        Cmd::new("mount", path)
            .args(["-t", "tmpfs", "-o", options, "tmpfs", path.as_str()])
            .run()
            .unwrap_or_else(|e| panic!("this test mounts a tmpfs and needs root (or CAP_SYS_ADMIN): {e}"));
        Mount { dir }
    }

    fn path(&self) -> &Utf8Path {
        Utf8Path::from_path(self.dir.path()).unwrap()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Cmd::new("umount", self.path()).arg(self.path().as_str()).run();
    }
}

#[test]
fn a_full_or_read_only_disk_is_named_and_leaves_no_partial_package() {
    if !e2e_enabled("a_full_or_read_only_disk_is_named_and_leaves_no_partial_package") {
        return;
    }
    let repo = TestRepo::example();
    // Build the environments first so the failure is the package's own.
    package(&repo, &shared_target(), &["--out-dir", repo.root.join("warm").as_str()]).success();

    let full = Mount::tmpfs("size=1m");
    let run = repo.xtask_in(&shared_target(), &["package", "--out-dir", full.path().as_str()]).failure();
    assert!(run.stderr.contains("no package written"), "{}", run.stderr);
    assert!(run.stderr.contains("is full"), "{}", run.stderr);
    assert!(names_in(full.path()).is_empty(), "left behind: {:?}", names_in(full.path()));

    let read_only = Mount::tmpfs("ro,size=1m");
    let run = repo.xtask_in(&shared_target(), &["package", "--out-dir", read_only.path().as_str()]).failure();
    assert!(run.stderr.contains("is not writable"), "{}", run.stderr);
    assert!(names_in(read_only.path()).is_empty());
}

// ---------------------------------------------------------------------------------------
// Registries

/// A repository holding only `deploy/registries.toml` and a package to publish.
fn registry_repo(toml: &str) -> (TestRepo, Utf8PathBuf) {
    let repo = TestRepo::example();
    repo.write("deploy/registries.toml", toml);
    let out = repo.root.join("out");
    let report = package(&repo, &shared_target(), &["--out-dir", out.as_str()]).success().json();
    (repo, Utf8PathBuf::from(report["path"].as_str().unwrap()))
}

fn run(repo: &TestRepo, args: &[&str], env: &[(&str, &str)]) -> XtaskRun {
    let mut full = vec!["--repo", repo.root.as_str()];
    full.extend_from_slice(args);
    let target = shared_target();
    let mut all = vec![(pad_layout::EnvVars::PAD_TARGET_DIR, target.as_str())];
    all.extend_from_slice(env);
    xtask_with_env(&repo.root, &full, &all)
}

/// publish, publish again, a different package under the same version (refused, then
/// forced), fetch and check; through the registry `name`.
fn publish_fetch_round_trip(repo: &TestRepo, file: &Utf8Path, name: &str, env: &[(&str, &str)]) {
    let publish = |extra: &[&str], file: &Utf8Path| {
        let mut args = vec!["publish", "--registry", name, "--json", "--file", file.as_str()];
        args.extend_from_slice(extra);
        run(repo, &args, env)
    };
    let first = publish(&[], file).success().json();
    assert_eq!(first["outcome"], "uploaded", "{first}");
    assert_eq!(first["version"], "0.0.0-unversioned");
    let sha = first["sha256"].as_str().unwrap().to_owned();
    let again = publish(&[], file).success().json();
    assert_eq!(again["outcome"], "already-present");
    assert_eq!(again["bytes"], 0);

    // The same version with other bytes: a conflict, unless forced.
    let other_dir = repo.root.join("other");
    std::fs::create_dir_all(&other_dir).unwrap();
    let other = other_dir.join(FILE);
    retar_with_changed_dag(file, &other);
    let refused = publish(&[], &other).failure();
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    let forced = publish(&["--force"], &other).success().json();
    assert_eq!(forced["outcome"], "replaced");
    let forced_sha = forced["sha256"].as_str().unwrap().to_owned();
    assert_ne!(forced_sha, sha);

    let fetched_dir = repo.root.join(format!("fetched-{name}"));
    let fetched = run(
        repo,
        &["fetch", "0.0.0-unversioned", "--registry", name, "--out-dir", fetched_dir.as_str(), "--json"],
        env,
    )
    .success()
    .json();
    assert_eq!(fetched["sha256"].as_str().unwrap(), forced_sha);
    assert_eq!(std::fs::read(fetched_dir.join(FILE)).unwrap(), std::fs::read(&other).unwrap());

    let missing = run(repo, &["fetch", "9.9.9", "--registry", name, "--out-dir", fetched_dir.as_str()], env).failure();
    assert!(missing.stderr.contains("9.9.9"), "{}", missing.stderr);
    assert_eq!(names_in(&fetched_dir), [FILE.to_owned(), format!("{FILE}.sha256")]);
}

#[test]
fn publish_and_fetch_through_a_directory_with_a_corrupted_copy_refused() {
    if !e2e_enabled("publish_and_fetch_through_a_directory_with_a_corrupted_copy_refused") {
        return;
    }
    let (repo, file) = registry_repo("[default]\nkind = \"fs\"\npath = \"registry\"\n");
    publish_fetch_round_trip(&repo, &file, "default", &[]);
    // With no `--registry`, `default`; with no `--file`, the package of the tree, which
    // differs from the one the round trip left there.
    let refused = run(&repo, &["publish"], &[]).failure();
    assert!(refused.stderr.contains("registry `default` already has"), "{}", refused.stderr);
    let report = run(&repo, &["publish", "--json", "--force"], &[]).success().json();
    assert_eq!(report["registry"], "default");
    assert_eq!(report["outcome"], "replaced");
    assert_eq!(report["sha256"], file_sha256(&file));

    // What deploy-from-registry does: fetch it (checked), then deploy it.
    let home = repo.root.join("airflow");
    let deployed = run(
        &repo,
        &["deploy", "--target", "local", "--from-registry", "0.0.0-unversioned", "--json"],
        &[("AIRFLOW_HOME", home.as_str())],
    )
    .success()
    .json();
    assert_eq!(deployed["hosts"][0]["state"], "switched", "{deployed}");
    assert!(home.join("dags/image_matching.py").is_file());

    // Bits rot in the registry: the download is refused and nothing stays.
    let stored = repo.root.join("registry/platform-airflow-dags/0.0.0-unversioned").join(FILE);
    let mut bytes = std::fs::read(&stored).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&stored, bytes).unwrap();
    let dest = repo.root.join("fetch-corrupt");
    let failed = run(&repo, &["fetch", "0.0.0-unversioned", "--out-dir", dest.as_str()], &[]).failure();
    assert!(failed.stderr.contains("checksum mismatch"), "{}", failed.stderr);
    assert!(names_in(&dest).is_empty(), "{:?}", names_in(&dest));
}

#[test]
fn publish_and_fetch_through_nginx_webdav() {
    if !e2e_enabled("publish_and_fetch_through_nginx_webdav") {
        return;
    }
    let nginx = Nginx::start().unwrap();
    let toml = format!("[dav]\nkind = \"webdav\"\nurl = \"{}\"\n", nginx.url("packages"));
    let (repo, file) = registry_repo(&toml);
    publish_fetch_round_trip(&repo, &file, "dav", &[]);
}

#[test]
fn publish_and_fetch_through_an_s3_server() {
    if !e2e_enabled("publish_and_fetch_through_an_s3_server") {
        return;
    }
    let s3 = S3Server::start(&tools_dir(), "releases").unwrap();
    let toml = format!(
        "[s3]\nkind = \"s3\"\nbucket = \"releases\"\nendpoint = \"{}\"\nprefix = \"airflow/\"\n",
        s3.endpoint()
    );
    let (repo, file) = registry_repo(&toml);
    let env = [("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing-secret-7f3a")];
    publish_fetch_round_trip(&repo, &file, "s3", &env);
    let keys = s3.keys("releases", "airflow/").unwrap();
    assert!(keys.iter().any(|k| k.ends_with(&format!("0.0.0-unversioned/{FILE}.sha256"))), "{keys:?}");
}

#[test]
fn publish_and_fetch_through_the_gitlab_contract_server_never_show_the_token() {
    if !e2e_enabled("publish_and_fetch_through_the_gitlab_contract_server_never_show_the_token") {
        return;
    }
    let token = "glpat-CliDistinctive-Token-93f1";
    // A Maintainer's token: the round trip replaces a file with --force.
    let server =
        GitlabContract::start_with_tokens(GitlabOptions::default(), &[(token, "PRIVATE-TOKEN", "maintain")]).unwrap();
    let toml = "[gitlab]\nkind = \"gitlab\"\napi_url = \"${CI_API_V4_URL}\"\nproject = \"42\"\n";
    let (repo, file) = registry_repo(toml);
    let api = server.api_url();
    let env = [("CI_API_V4_URL", api.as_str()), ("GITLAB_TOKEN", token), ("PAD_LOG", "trace")];
    publish_fetch_round_trip(&repo, &file, "gitlab", &env);

    // Everything the front end prints, at the most verbose log level, on success and on
    // the failures a wrong token or project gives.
    let mut outputs = Vec::new();
    // The round trip left the changed package there.
    let published = repo.root.join("other").join(FILE);
    let verbose = ["publish", "-vv", "--registry", "gitlab", "--file", published.as_str()];
    outputs.push(run(&repo, &verbose, &env).success());
    let revoked = format!("{token}-revoked");
    let rejected = run(&repo, &verbose, &[("CI_API_V4_URL", api.as_str()), ("GITLAB_TOKEN", &revoked)]).failure();
    assert!(rejected.stderr.contains("rejected the credentials from `GITLAB_TOKEN`"), "{}", rejected.stderr);
    assert!(rejected.stderr.contains("401"), "{}", rejected.stderr);
    outputs.push(rejected);
    let fetch = ["fetch", "0.0.0-unversioned", "-vv", "--registry", "gitlab", "--out-dir", "f"];
    outputs.push(run(&repo, &fetch, &env).success());
    for output in &outputs {
        for text in [&output.stdout, &output.stderr] {
            assert!(!text.contains(token), "the token leaked:\n{text}");
        }
    }
    assert!(server.log().contains(" token"), "the server saw no token:\n{}", server.log());
    // The job token works the same way in CI.
    let ci_env = [("CI_API_V4_URL", api.as_str()), ("CI_JOB_TOKEN", pad_testkit::services::GITLAB_JOB_TOKEN)];
    let ci =
        run(&repo, &["publish", "--registry", "gitlab", "--json", "--file", published.as_str()], &ci_env).success();
    assert_eq!(ci.json()["outcome"], "already-present");
}

#[test]
fn registry_errors_name_the_fix() {
    let repo = TestRepo::empty();
    repo.write(
        "deploy/registries.toml",
        "[gitlab]\nkind = \"gitlab\"\napi_url = \"http://127.0.0.1:9/api/v4\"\nproject = \"42\"\n\n[store]\nkind = \"fs\"\npath = \"r\"\n",
    );
    let empty_env = [("GITLAB_TOKEN", ""), ("CI_JOB_TOKEN", ""), ("GITLAB_DEPLOY_TOKEN", "")];
    let unknown = run(&repo, &["publish", "--registry", "nexus", "--file", "x.tar.gz"], &[]).failure();
    assert!(unknown.stderr.contains("unknown registry `nexus`"), "{}", unknown.stderr);
    assert!(unknown.stderr.contains("`gitlab`, `store`"), "{}", unknown.stderr);
    let no_default = run(&repo, &["fetch", "1.0"], &[]).failure();
    assert!(no_default.stderr.contains("pass --registry NAME"), "{}", no_default.stderr);
    let no_creds = xtask_with_env(
        &repo.root,
        &["--repo", repo.root.as_str(), "fetch", "1.0", "--registry", "gitlab"],
        &empty_env.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(),
    )
    .failure();
    assert!(no_creds.stderr.contains("GITLAB_TOKEN"), "{}", no_creds.stderr);
    assert!(no_creds.stderr.contains("CI_JOB_TOKEN"), "{}", no_creds.stderr);
    let no_file = TestRepo::empty();
    let missing = run(&no_file, &["publish"], &[]).failure();
    assert!(missing.stderr.contains("registries.toml"), "{}", missing.stderr);
}
