//! `cargo xtask cache warm|status` against real servers the tests start themselves: a
//! Maven repository and a WebDAV cache in nginx, moto's S3, the GitLab contract server, a
//! fault-injecting HTTP source, and a contract test of WebHDFS (no HDFS can run here:
//! `webhdfs_contract_server.py` implements its documented REST calls).

use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use pad_process::Cmd;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use pad_testkit::random_bytes;
use pad_testkit::services::{
    FaultServer, GITLAB_BEFORE_CHECKSUM_HEADER, GITLAB_JOB_TOKEN, GITLAB_PROJECT, GITLAB_WRITE_TOKEN, GitlabContract,
    GitlabOptions, Nginx, S3_ACCESS_KEY, S3_SECRET_KEY, S3Server, WEBHDFS_OWNER, WebhdfsContract,
};

use crate::support::{Spawned, TestRepo, XtaskRun, e2e_enabled, names_in, tools_dir, xtask_cmd, xtask_with_env};

fn sha256(data: &[u8]) -> String {
    format!("{:x}", Sha256::digest(data))
}

fn sha1(data: &[u8]) -> String {
    format!("{:x}", Sha1::digest(data))
}

fn write(path: &Utf8Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

/// Publishes `data` in a Maven repository laid out under `root` with the checksum files
/// named (`sha1`, `sha256`, `sha512` is not needed here); returns its repository path.
pub(crate) fn maven_publish(root: &Utf8Path, coordinates: &str, data: &[u8], checksums: &[&str]) -> Utf8PathBuf {
    let path = root.join(pad_cache::maven_path(coordinates).unwrap());
    write(&path, data);
    for checksum in checksums {
        let text = match *checksum {
            "sha1" => sha1(data),
            "sha256" => format!("{}  {}", sha256(data), path.file_name().unwrap()),
            other => other.to_owned(),
        };
        let name = if checksum.len() > 6 { "sha1" } else { checksum };
        write(&Utf8PathBuf::from(format!("{path}.{name}")), text.as_bytes());
    }
    path
}

/// Runs the front end on `repo` with `env`.
fn run(repo: &TestRepo, args: &[&str], env: &[(&str, &str)]) -> XtaskRun {
    let mut full = vec!["--repo", repo.root.as_str()];
    full.extend_from_slice(args);
    xtask_with_env(&repo.root, &full, env)
}

/// The S3 credentials of the moto server.
const S3_ENV: [(&str, &str); 2] = [("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY), ("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY)];

/// The state of every (artifact, cache) pair in `cache status --json`.
fn states(run: &XtaskRun) -> Vec<(String, String, String)> {
    let json = run.json();
    let mut out = Vec::new();
    for artifact in json["artifacts"].as_array().unwrap() {
        for cache in artifact["caches"].as_array().unwrap() {
            out.push((
                artifact["name"].as_str().unwrap().to_owned(),
                cache["cache"].as_str().unwrap().to_owned(),
                cache["state"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out.sort();
    out
}

/// The outcome of every (artifact, cache) pair in `cache warm --json`, with the error.
fn outcomes(run: &XtaskRun) -> Vec<(String, String, String, String)> {
    let json = run.json();
    let mut out = Vec::new();
    for artifact in json["artifacts"].as_array().unwrap() {
        for cache in artifact["caches"].as_array().unwrap() {
            out.push((
                artifact["name"].as_str().unwrap().to_owned(),
                cache["cache"].as_str().unwrap().to_owned(),
                cache["outcome"].as_str().unwrap().to_owned(),
                cache["error"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    out.sort();
    out
}

fn count(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

/// The files of a directory cache other than its hidden temporary directory.
fn visible(dir: &Utf8Path) -> Vec<String> {
    names_in(dir).into_iter().filter(|n| !n.starts_with('.')).collect()
}

#[test]
fn config_errors_name_file_line_and_fix() {
    let repo = TestRepo::empty();
    let cache = repo.root.join("cache");
    let head = format!(
        "artifact_sources:\n  files: {{class_name: fs, base_uri: {src}}}\nartifact_caches:\n  local: {{class_name: fs, base_uri: {cache}}}\ndefault_artifact_source: files\ndefault_artifact_caches: [local]\n",
        src = repo.root.join("src"),
    );
    write(&repo.root.join("src/a.jar"), b"a");

    // Malformed YAML.
    repo.write("bad.yaml", "artifacts:\n  a.jar:\n    id: [a.jar\n");
    let out = run(&repo, &["cache", "warm", repo.root.join("bad.yaml").as_str()], &[]).failure();
    assert!(out.stderr.contains("bad.yaml:3:") && out.stderr.contains("invalid YAML"), "{}", out.stderr);

    // An unknown key.
    repo.write("key.yaml", &format!("{head}artifacts:\n  b.jar:\n    id: b.jar\n    sha265: abc\n"));
    let out = run(&repo, &["cache", "warm", repo.root.join("key.yaml").as_str()], &[]).failure();
    assert!(out.stderr.contains("key.yaml:10:5: unknown key `sha265`, expected one of id"), "{}", out.stderr);

    // An unknown source name.
    repo.write("unknown.yaml", &format!("{head}artifacts:\n  a.jar:\n    id: a.jar\n    source: archiva\n"));
    let out = run(&repo, &["cache", "warm", repo.root.join("unknown.yaml").as_str()], &[]).failure();
    assert!(out.stderr.contains("unknown.yaml:10:13: unknown source `archiva` (declared: `files`)"), "{}", out.stderr);
    assert!(out.stderr.contains("help: declare `archiva` under `artifact_sources`"), "{}", out.stderr);

    let out = run(&repo, &["cache", "status", repo.root.join("unknown.yaml").as_str()], &[]).failure();
    assert!(out.stderr.contains("unknown.yaml:"), "{}", out.stderr);

    // Two artifacts with one name in one cache, from two files.
    repo.write("shared.yaml", &head);
    repo.write("p/artifacts.yaml", "artifacts:\n  env.tgz: {id: one/env.tgz}\n");
    repo.write("q/artifacts.yaml", "artifacts:\n  env.tgz: {id: two/env.tgz}\n");
    let files = ["shared.yaml", "p/artifacts.yaml", "q/artifacts.yaml"].map(|f| repo.root.join(f).to_string());
    let mut args = vec!["cache", "warm"];
    args.extend(files.iter().map(String::as_str));
    let out = run(&repo, &args, &[]).failure();
    assert!(
        out.stderr.contains("q/artifacts.yaml:2:12: two artifacts named `env.tgz` go to cache `local`")
            && out.stderr.contains("p/artifacts.yaml:2:12"),
        "{}",
        out.stderr
    );
    // Nothing was copied by any of the refused runs.
    assert!(!cache.exists(), "{:?}", names_in(&cache));
}

#[test]
fn unreachable_cache_fails_that_cache_only() {
    let repo = TestRepo::empty();
    let data = random_bytes(100_000, 7);
    write(&repo.root.join("src/tool.jar"), &data);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    repo.write(
        "artifacts.yaml",
        &format!(
            "artifact_sources:\n  files: {{class_name: fs, base_uri: src}}\nartifact_caches:\n  local: {{class_name: fs, base_uri: cache}}\n  dav: {{class_name: webdav, base_uri: 'http://127.0.0.1:{closed}/cache'}}\nartifacts:\n  tool.jar: {{id: tool.jar, source: files, caches: [local, dav]}}\n"
        ),
    );
    let out = run(&repo, &["cache", "warm", "--json", repo.root.join("artifacts.yaml").as_str()], &[]).failure();
    let outcomes = outcomes(&out);
    assert_eq!(outcomes[1].0, "tool.jar");
    assert_eq!((outcomes[1].1.as_str(), outcomes[1].2.as_str()), ("local", "copied"));
    assert_eq!((outcomes[0].1.as_str(), outcomes[0].2.as_str()), ("dav", "failed"));
    assert!(
        outcomes[0].3.contains(&format!("cache `dav` at http://127.0.0.1:{closed}/cache/tool.jar: cannot stat"))
            && outcomes[0].3.contains("onnect"),
        "{}",
        outcomes[0].3
    );
    assert_eq!(std::fs::read(repo.root.join("cache/tool.jar")).unwrap(), data);
    assert!(out.stderr.contains("error: tool.jar -> dav:"), "{}", out.stderr);
}

/// Every source class into every cache class, then a second run that copies nothing,
/// a damaged copy found and replaced, and `--force`.
#[test]
fn warm_fills_every_cache_kind_and_then_copies_nothing() {
    if !e2e_enabled("warm_fills_every_cache_kind_and_then_copies_nothing") {
        return;
    }
    let nginx = Nginx::start().unwrap();
    let s3 = S3Server::start(&tools_dir(), "artifacts").unwrap();
    let hdfs = WebhdfsContract::start().unwrap();
    let gitlab = GitlabContract::start(GitlabOptions::default()).unwrap();
    let repo = TestRepo::empty();

    // Sources: a Maven repository (two jars, one with .sha1 and one with .sha256, one of
    // them over an S3 part), a URL, a GitLab generic package and a local file.
    let maven = nginx.root.join("maven");
    let jar = random_bytes(9 * 1024 * 1024 + 3, 1);
    maven_publish(&maven, "org.example.spark:udfs:jar:shaded:1.2.0", &jar, &["sha1"]);
    let small = random_bytes(20_000, 2);
    maven_publish(&maven, "org.example:small:0.1", &small, &["sha256"]);
    let page = random_bytes(5_000, 3);
    write(&nginx.root.join("maven/files/page.bin"), &page);
    let env = random_bytes(300_000, 4);
    write(&repo.root.join("build/env.tgz"), &env);
    let url =
        format!("{}/projects/{GITLAB_PROJECT}/packages/generic/image-env/0.1.0/image-env-0.1.0.tgz", gitlab.api_url());
    Cmd::new("curl", &repo.root)
        .args(["-sf", "-X", "PUT", "-H", &format!("PRIVATE-TOKEN: {GITLAB_WRITE_TOKEN}"), "--upload-file"])
        .arg(repo.root.join("build/env.tgz").as_str())
        .arg(&url)
        .run()
        .unwrap();
    let local = random_bytes(1234, 5);
    write(&repo.root.join("files/local.bin"), &local);

    let dir_cache = repo.root.join("cache-dir");
    repo.write(
        "artifacts.yaml",
        &format!(
            r#"artifact_sources:
  maven: {{class_name: workflow_utils.artifact.maven.MavenArtifactSource, base_uri: "{maven_url}"}}
  url: {{class_name: workflow_utils.artifact.FsArtifactSource}}
  gitlab: {{class_name: gitlab, base_uri: "${{API}}/projects/{GITLAB_PROJECT}/packages/generic", token_env: JOB_TOKEN, token_header: JOB-TOKEN}}
  files: {{class_name: fs, base_uri: files}}
artifact_caches:
  dir: {{class_name: fs, base_uri: "{dir_cache}"}}
  s3: {{class_name: s3, base_uri: "s3://artifacts/airflow/cache", endpoint: "{s3_endpoint}"}}
  dav: {{class_name: workflow_utils.artifact.FsArtifactCache, base_uri: "{dav}"}}
  hdfs: {{class_name: workflow_utils.artifact.FsArtifactCache, base_uri: "webhdfs://127.0.0.1:{hdfs_port}/wmf/cache/artifacts", user_name: airflow}}
default_artifact_source: url
default_artifact_caches: [dir, s3, dav, hdfs]
artifacts:
  udfs-1.2.0-shaded.jar: {{id: "org.example.spark:udfs:jar:shaded:1.2.0", source: maven}}
  small-0.1.jar: {{id: "org.example:small:0.1", source: maven, caches: [dir, hdfs]}}
  page.bin: {{id: "{page_url}", sha256: "{page_sha}"}}
  image-env-0.1.0.tgz: {{id: image-env/0.1.0/image-env-0.1.0.tgz, source: gitlab}}
  local.bin: {{id: local.bin, source: files, caches: [dir]}}
"#,
            maven_url = nginx.url("maven"),
            s3_endpoint = s3.endpoint(),
            dav = nginx.url("cache/artifacts"),
            hdfs_port = hdfs.port,
            page_url = nginx.url("maven/files/page.bin"),
            page_sha = sha256(&page),
        ),
    );
    let file = repo.root.join("artifacts.yaml");
    let api = gitlab.api_url();
    let env_vars: Vec<(&str, &str)> =
        S3_ENV.iter().copied().chain([("API", api.as_str()), ("JOB_TOKEN", GITLAB_JOB_TOKEN)]).collect();

    let status = run(&repo, &["cache", "status", "--json", file.as_str()], &env_vars).failure();
    assert!(states(&status).iter().all(|(_, _, state)| state == "missing"), "{}", status.stdout);

    let warm = run(&repo, &["cache", "warm", "--json", file.as_str()], &env_vars);
    let copied_all = outcomes(&warm);
    assert!(copied_all.iter().all(|o| o.2 == "copied"), "{copied_all:#?}\n{}", warm.stderr);
    assert_eq!(copied_all.len(), 4 + 2 + 4 + 4 + 1);
    let warm = warm.success();
    assert_eq!(
        warm.json()["bytes"].as_u64().unwrap(),
        (jar.len() + small.len() + page.len() + env.len() + local.len()) as u64
    );

    // Each source was read once for all its caches, and the Maven checksum fetched.
    let access = std::fs::read_to_string(nginx.root.parent().unwrap().join("access.log")).unwrap();
    assert_eq!(count(&access, "GET /maven/org/example/spark/udfs/1.2.0/udfs-1.2.0-shaded.jar HTTP"), 1, "{access}");
    assert_eq!(count(&access, "udfs-1.2.0-shaded.jar.sha1 HTTP"), 1, "{access}");
    assert_eq!(
        count(
            gitlab.log().as_str(),
            "GET /api/v4/projects/42/packages/generic/image-env/0.1.0/image-env-0.1.0.tgz 200"
        ),
        1,
        "{}",
        gitlab.log()
    );

    // What each cache holds: the objects under their names and a sha256 beside each.
    let expected: [(&str, &[u8]); 5] = [
        ("udfs-1.2.0-shaded.jar", &jar),
        ("small-0.1.jar", &small),
        ("page.bin", &page),
        ("image-env-0.1.0.tgz", &env),
        ("local.bin", &local),
    ];
    for (name, data) in expected {
        assert_eq!(std::fs::read(dir_cache.join(name)).unwrap(), data, "{name}");
        let sums = std::fs::read_to_string(dir_cache.join(format!("{name}.sha256"))).unwrap();
        assert_eq!(sums, format!("{}  {name}\n", sha256(data)));
    }
    let hdfs_dir = hdfs.data.join("wmf/cache/artifacts");
    for (name, data) in &expected[..4] {
        assert_eq!(std::fs::read(hdfs_dir.join(name)).unwrap(), *data, "{name}");
    }
    assert_eq!(names_in(&hdfs_dir.join(pad_cache::TMP_DIR)), Vec::<String>::new());
    let dav_dir = nginx.root.join("cache/artifacts");
    for name in ["udfs-1.2.0-shaded.jar", "page.bin", "image-env-0.1.0.tgz"] {
        assert!(dav_dir.join(name).is_file() && dav_dir.join(format!("{name}.sha256")).is_file(), "{name}");
    }
    assert_eq!(std::fs::read(dav_dir.join("udfs-1.2.0-shaded.jar")).unwrap(), jar);
    let mut keys = s3.keys("artifacts", "airflow/cache/").unwrap();
    keys.sort();
    assert_eq!(
        keys,
        [
            "image-env-0.1.0.tgz",
            "image-env-0.1.0.tgz.sha256",
            "page.bin",
            "page.bin.sha256",
            "udfs-1.2.0-shaded.jar",
            "udfs-1.2.0-shaded.jar.sha256"
        ]
        .map(|k| format!("airflow/cache/{k}"))
    );
    assert!(count(&hdfs.log(), "namenode PUT /webhdfs/v1/wmf/cache/artifacts/.pad-tmp/") >= 4, "{}", hdfs.log());
    assert!(count(&hdfs.log(), "op=RENAME 200") >= 4, "{}", hdfs.log());

    // A second run copies nothing, and says so.
    let again = run(&repo, &["cache", "warm", file.as_str()], &env_vars).success();
    assert!(again.stdout.contains("nothing to copy: all 5 artifacts already warm"), "{}", again.stdout);
    let status = run(&repo, &["cache", "status", "--json", file.as_str()], &env_vars).success();
    assert!(states(&status).iter().all(|(_, _, state)| state == "present"), "{}", status.stdout);

    // A copy whose checksum is gone or different is wrong, and only it is copied again.
    std::fs::remove_file(dir_cache.join("local.bin.sha256")).unwrap();
    // page.bin has a `sha256:` in artifacts.yaml: a stored checksum that differs is wrong.
    std::fs::write(hdfs_dir.join("page.bin.sha256"), format!("{}  page.bin\n", sha256(b"other"))).unwrap();
    let status = run(&repo, &["cache", "status", file.as_str()], &env_vars).failure();
    assert!(status.stdout.contains("local.bin") && status.stdout.contains("wrong"), "{}", status.stdout);
    assert!(status.stdout.contains(": 13 present, 0 missing, 2 wrong, 0 unreachable"), "{}", status.stdout);
    assert!(status.stdout.contains("its stored sha256 is"), "{}", status.stdout);
    let repair = run(&repo, &["cache", "warm", "--json", file.as_str()], &env_vars).success();
    let copied: Vec<(String, String)> =
        outcomes(&repair).into_iter().filter(|o| o.2 == "copied").map(|o| (o.0, o.1)).collect();
    assert_eq!(copied, [("local.bin".to_owned(), "dir".to_owned()), ("page.bin".to_owned(), "hdfs".to_owned())]);
    assert_eq!(std::fs::read(hdfs_dir.join("page.bin")).unwrap(), page);
    run(&repo, &["cache", "status", file.as_str()], &env_vars).success();

    // --force copies everything again.
    let forced = run(&repo, &["cache", "warm", "--force", "--json", file.as_str()], &env_vars).success();
    assert!(outcomes(&forced).iter().all(|o| o.2 == "copied"));
}

/// `cargo xtask cache warm` with no file: every artifacts.yaml of the example repository
/// (the image-matching Spark JAR and environment) into its S3 and directory caches.
#[test]
fn example_repo_warms_into_s3_and_a_directory() {
    if !e2e_enabled("example_repo_warms_into_s3_and_a_directory") {
        return;
    }
    let nginx = Nginx::start().unwrap();
    let s3 = S3Server::start(&tools_dir(), "analytics-artifacts").unwrap();
    let gitlab = GitlabContract::start(GitlabOptions::default()).unwrap();
    let repo = TestRepo::example();
    let jar = random_bytes(2 * 1024 * 1024 + 17, 11);
    maven_publish(&nginx.root.join("maven"), "org.apache.spark:spark-avro_2.12:3.5.1", &jar, &["sha1"]);
    let env = random_bytes(700_000, 12);
    write(&repo.root.join("target/venv.tgz"), &env);
    let url = format!(
        "{}/projects/{GITLAB_PROJECT}/packages/generic/image-matching-venv/0.1.0/image-matching-venv-0.1.0.tgz",
        gitlab.api_url()
    );
    Cmd::new("curl", &repo.root)
        .args(["-sf", "-X", "PUT", "-H", &format!("PRIVATE-TOKEN: {GITLAB_WRITE_TOKEN}"), "--upload-file"])
        .arg(repo.root.join("target/venv.tgz").as_str())
        .arg(&url)
        .run()
        .unwrap();
    let cache_dir = repo.root.join("shared-cache");
    let (maven, api, endpoint) = (nginx.url("maven"), gitlab.api_url(), s3.endpoint());
    let vars: Vec<(&str, &str)> = S3_ENV
        .iter()
        .copied()
        .chain([
            ("PAD_MAVEN_URL", maven.as_str()),
            ("CI_API_V4_URL", api.as_str()),
            ("IMAGE_MATCHING_PROJECT_ID", GITLAB_PROJECT),
            ("CI_JOB_TOKEN", GITLAB_JOB_TOKEN),
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("PAD_ARTIFACT_CACHE_DIR", cache_dir.as_str()),
        ])
        .collect();

    let warm = run(&repo, &["cache", "warm"], &vars).success();
    assert!(warm.stdout.contains("2 artifacts: 2 copied"), "{}\n{}", warm.stdout, warm.stderr);
    let dir = cache_dir.join("image-matching");
    assert_eq!(std::fs::read(dir.join("spark-avro_2.12-3.5.1.jar")).unwrap(), jar);
    assert_eq!(std::fs::read(dir.join("image-matching-venv-0.1.0.tgz")).unwrap(), env);
    let mut keys = s3.keys("analytics-artifacts", "airflow/image-matching/").unwrap();
    keys.sort();
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert!(keys.contains(&"airflow/image-matching/spark-avro_2.12-3.5.1.jar".to_owned()), "{keys:?}");

    let again = run(&repo, &["cache", "warm"], &vars).success();
    assert!(again.stdout.contains("nothing to copy: all 2 artifacts already warm"), "{}", again.stdout);
    let status = run(&repo, &["cache", "status"], &vars).success();
    assert!(status.stdout.contains("2 artifacts: 4 present, 0 missing"), "{}", status.stdout);

    // Without the job token, the package cannot be fetched, and the error says why.
    let without: Vec<(&str, &str)> = vars.iter().copied().filter(|(k, _)| *k != "CI_JOB_TOKEN").collect();
    let failed = run(&repo, &["cache", "warm", "--force"], &without).failure();
    assert!(failed.stdout.contains("`CI_JOB_TOKEN` is not set"), "{}", failed.stdout);
}

/// A source that answers 404, 500 twice, a truncated body, or bytes that do not match
/// its checksum: each is reported, retried or not as it should be, and the cache holds
/// nothing it should not.
#[test]
fn source_failures_are_reported_and_leave_no_object() {
    if !e2e_enabled("source_failures_are_reported_and_leave_no_object") {
        return;
    }
    let hdfs = WebhdfsContract::start().unwrap();
    let repo = TestRepo::empty();
    let files = repo.root.join("www");
    let flaky = random_bytes(300_000, 21);
    let truncated = random_bytes(400_000, 22);
    let wrong = random_bytes(50_000, 23);
    maven_publish(&files.join("maven"), "org.example:flaky:1.0", &flaky, &["sha1"]);
    maven_publish(&files.join("maven"), "org.example:truncated:1.0", &truncated, &[]);
    // A .sha1 that is not the jar's.
    maven_publish(&files.join("maven"), "org.example:wrong:1.0", &wrong, &[&sha1(b"something else")]);
    let declared = random_bytes(10_000, 24);
    write(&files.join("declared.bin"), &declared);
    let rules = serde_json::json!({
        "/maven/org/example/flaky/1.0/flaky-1.0.jar": {"fail": 2, "status": 500},
        "/maven/org/example/truncated/1.0/truncated-1.0.jar": {"truncate": 100_000},
    });
    let server = FaultServer::start(&files, &rules).unwrap();
    let cache = repo.root.join("cache");
    repo.write(
        "artifacts.yaml",
        &format!(
            r#"artifact_sources:
  maven: {{class_name: maven, base_uri: "{maven}"}}
  url: {{class_name: url}}
artifact_caches:
  dir: {{class_name: fs, base_uri: cache}}
  hdfs: {{class_name: webhdfs, base_uri: "webhdfs://127.0.0.1:{port}/cache", user_name: airflow}}
default_artifact_source: maven
default_artifact_caches: [dir, hdfs]
artifacts:
  missing-1.0.jar: {{id: "org.example:missing:1.0"}}
  flaky-1.0.jar: {{id: "org.example:flaky:1.0"}}
  truncated-1.0.jar: {{id: "org.example:truncated:1.0"}}
  wrong-1.0.jar: {{id: "org.example:wrong:1.0"}}
  declared.bin: {{id: "{declared_url}", source: url, sha256: "{bad_sha}"}}
"#,
            maven = server.url("maven"),
            port = hdfs.port,
            declared_url = server.url("declared.bin"),
            bad_sha = sha256(b"not the file"),
        ),
    );
    let file = repo.root.join("artifacts.yaml");
    let started = Instant::now();
    let out = run(&repo, &["cache", "warm", "--json", file.as_str()], &[]).failure();
    let elapsed = started.elapsed();
    let results = outcomes(&out);
    let find = |name: &str| results.iter().filter(|o| o.0 == name).cloned().collect::<Vec<_>>();
    let log = server.log();

    // 404: final at once, the message names the URL and the id.
    for (_, _, outcome, error) in find("missing-1.0.jar") {
        assert_eq!(outcome, "failed");
        assert!(
            error.contains("/maven/org/example/missing/1.0/missing-1.0.jar answered 404 Not Found")
                && error.contains("check the id `org.example:missing:1.0`"),
            "{error}"
        );
    }
    assert_eq!(count(&log, "GET /maven/org/example/missing/1.0/missing-1.0.jar 404"), 1, "{log}");

    // 500 twice, then the file: copied, after three requests.
    assert!(find("flaky-1.0.jar").iter().all(|o| o.2 == "copied"), "{results:#?}");
    assert_eq!(count(&log, "GET /maven/org/example/flaky/1.0/flaky-1.0.jar 500"), 2, "{log}");
    assert_eq!(count(&log, "GET /maven/org/example/flaky/1.0/flaky-1.0.jar 200"), 1, "{log}");
    assert_eq!(std::fs::read(cache.join("flaky-1.0.jar")).unwrap(), flaky);

    // A truncated body: retried, then failed with what was missing.
    for (_, _, outcome, error) in find("truncated-1.0.jar") {
        assert_eq!(outcome, "failed");
        assert!(error.contains("truncated-1.0.jar") && error.contains("100000"), "{error}");
    }
    assert_eq!(
        count(&log, "GET /maven/org/example/truncated/1.0/truncated-1.0.jar truncated"),
        pad_cache::ATTEMPTS as usize,
        "{log}"
    );

    // A checksum mismatch: final, named, nothing stored.
    for (_, _, outcome, error) in find("wrong-1.0.jar") {
        assert_eq!(outcome, "failed");
        assert!(
            error.contains("checksum mismatch")
                && error.contains(&format!("has sha1 {}", sha1(&wrong)))
                && error.contains("wrong-1.0.jar.sha1 says"),
            "{error}"
        );
    }
    assert_eq!(count(&log, "GET /maven/org/example/wrong/1.0/wrong-1.0.jar 200"), 1, "{log}");
    for (_, _, outcome, error) in find("declared.bin") {
        assert_eq!(outcome, "failed");
        assert!(error.contains("checksum mismatch") && error.contains("the `sha256` of `declared.bin`"), "{error}");
    }

    // Only the good artifact is in either cache, and no temporary object is left.
    assert_eq!(visible(&cache), ["flaky-1.0.jar", "flaky-1.0.jar.sha256"]);
    assert_eq!(names_in(&cache.join(pad_cache::TMP_DIR)), Vec::<String>::new());
    assert_eq!(visible(&hdfs.data.join("cache")), ["flaky-1.0.jar", "flaky-1.0.jar.sha256"]);
    // On HDFS an abandoned upload's file may outlive the warm's own clean-up: its DELETE
    // can reach the namenode before the datanode has created the file it was sent, as on
    // a real cluster. Such a file is only ever a failed copy under the temporary name,
    // and a later warm sweeps it once stale (see killed_warm_leaves_no_partial_object…).
    let left = names_in(&hdfs.data.join("cache").join(pad_cache::TMP_DIR));
    let failed = ["missing-1.0.jar.", "truncated-1.0.jar.", "wrong-1.0.jar.", "declared.bin."];
    assert!(
        left.iter().all(|n| n.ends_with(".part") && failed.iter().any(|f| n.starts_with(f))),
        "{left:?}\n{}",
        hdfs.log()
    );
    // Retries wait 0.5 s, 1 s, 2 s: the whole run stays well under a minute.
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
    assert!(out.stderr.contains("error: missing-1.0.jar -> dir:"), "{}", out.stderr);
}

/// `kill -9` in the middle of a warm leaves no partial object under its final name, and
/// the next run completes.
#[test]
fn killed_warm_leaves_no_partial_object_and_reruns() {
    if !e2e_enabled("killed_warm_leaves_no_partial_object_and_reruns") {
        return;
    }
    let hdfs = WebhdfsContract::start().unwrap();
    let nginx = Nginx::start().unwrap();
    let repo = TestRepo::empty();
    let www = repo.root.join("www");
    let big = random_bytes(6 * 1024 * 1024, 31);
    write(&www.join("big.tgz"), &big);
    // 3 MB/s: two seconds for the whole file.
    let server = FaultServer::start(&www, &serde_json::json!({"/big.tgz": {"rate": 3_000_000}})).unwrap();
    let cache = repo.root.join("cache");
    repo.write(
        "artifacts.yaml",
        &format!(
            "artifact_sources:\n  url: {{class_name: url}}\nartifact_caches:\n  dir: {{class_name: fs, base_uri: cache}}\n  hdfs: {{class_name: webhdfs, base_uri: 'webhdfs://127.0.0.1:{}/cache', user_name: airflow}}\n  dav: {{class_name: webdav, base_uri: '{}'}}\ndefault_artifact_source: url\ndefault_artifact_caches: [dir, hdfs, dav]\nartifacts:\n  big.tgz: {{id: '{}'}}\n",
            hdfs.port,
            nginx.url("cache/k"),
            server.url("big.tgz")
        ),
    );
    let file = repo.root.join("artifacts.yaml");
    let args = ["--repo", repo.root.as_str(), "cache", "warm", file.as_str()];
    // A child we can kill.
    let cmd = xtask_cmd(&repo.root, &args, &[]);
    let child = Spawned::start(cmd.clone());
    let started = Instant::now();
    let tmp = cache.join(pad_cache::TMP_DIR);
    // Wait until the copy is under way: a temporary file with some bytes in it.
    loop {
        let writing = tmp
            .read_dir_utf8()
            .map(|entries| entries.filter_map(Result::ok).any(|e| e.metadata().is_ok_and(|m| m.len() > 1_000_000)))
            .unwrap_or(false);
        if writing {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the warm never started writing");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill();

    // Nothing under the final names, in any cache.
    assert_eq!(visible(&cache), Vec::<String>::new());
    assert!(!hdfs.data.join("cache/big.tgz").exists());
    // HDFS keeps what an upload wrote before it broke off: the partial file stays under
    // its temporary name.
    let hdfs_tmp = hdfs.data.join("cache").join(pad_cache::TMP_DIR);
    let hdfs_left = names_in(&hdfs_tmp);
    assert_eq!(hdfs_left.len(), 1, "{hdfs_left:?}\n{}", hdfs.log());
    assert!(hdfs_left[0].starts_with("big.tgz.") && hdfs_left[0].ends_with(".part"), "{hdfs_left:?}");
    assert!(!nginx.root.join("cache/k/big.tgz").exists());
    let status = run(&repo, &["cache", "status", "--json", file.as_str()], &[]).failure();
    assert!(states(&status).iter().all(|(_, _, state)| state == "missing"), "{}", status.stdout);

    // The killed run's temporary file stays until it is stale (a young one may belong to a
    // warm still running); aged past pad_cache::STALE_TMP, the rerun removes it.
    let left = names_in(&tmp);
    assert_eq!(left.len(), 1, "{left:?}");
    let aged = std::time::SystemTime::now() - pad_cache::STALE_TMP - Duration::from_secs(60);
    std::fs::File::options().write(true).open(tmp.join(&left[0])).unwrap().set_modified(aged).unwrap();
    std::fs::File::options().write(true).open(hdfs_tmp.join(&hdfs_left[0])).unwrap().set_modified(aged).unwrap();

    // The rerun completes.
    let rerun = cmd.run_unchecked().unwrap();
    assert_eq!(rerun.status.code(), Some(0), "{}\n{}", rerun.stdout, rerun.stderr);
    assert!(rerun.stdout.contains(&format!("{}`, left by an interrupted run", left[0])), "{}", rerun.stdout);
    let swept_hdfs = format!("webhdfs://127.0.0.1:{}/cache/{}/{}`", hdfs.port, pad_cache::TMP_DIR, hdfs_left[0]);
    assert!(rerun.stdout.contains(&swept_hdfs), "{swept_hdfs} not in:\n{}", rerun.stdout);
    assert_eq!(names_in(&tmp), Vec::<String>::new());
    assert_eq!(names_in(&hdfs_tmp), Vec::<String>::new());
    assert_eq!(std::fs::read(cache.join("big.tgz")).unwrap(), big);
    assert_eq!(std::fs::read(hdfs.data.join("cache/big.tgz")).unwrap(), big);
    assert_eq!(std::fs::read(nginx.root.join("cache/k/big.tgz")).unwrap(), big);
    run(&repo, &["cache", "status", file.as_str()], &[]).success();
}

/// HDFS without `user.name` takes the caller for `dr.who`, who may not write into a
/// directory another user owns: the warm fails with the 403 the datanode relays from the
/// namenode (step two of `CREATE`) and says what to set. `user_name`, or a delegation token
/// of the owner through `delegation_env`, writes; an unknown token is refused.
#[test]
fn webhdfs_writes_as_the_configured_user_or_token() {
    if !e2e_enabled("webhdfs_writes_as_the_configured_user_or_token") {
        return;
    }
    let token = "hdfs-delegation-owner-3f9a";
    let hdfs = WebhdfsContract::start_with_tokens(&[(token, WEBHDFS_OWNER)]).unwrap();
    let repo = TestRepo::empty();
    let data = random_bytes(100_000, 41);
    write(&repo.root.join("files/tool.jar"), &data);
    let config = |name: &str, dir: &str, extra: &str| {
        let text = format!(
            "artifact_sources:\n  files: {{class_name: fs, base_uri: files}}\nartifact_caches:\n  hdfs: {{class_name: webhdfs, base_uri: 'webhdfs://127.0.0.1:{}/{dir}'{extra}}}\ndefault_artifact_source: files\ndefault_artifact_caches: [hdfs]\nartifacts:\n  tool.jar: {{id: tool.jar}}\n",
            hdfs.port
        );
        repo.write(name, &text);
        repo.root.join(name).to_string()
    };
    let warm = |file: &str, env: &[(&str, &str)]| run(&repo, &["cache", "warm", "--json", file], env);

    // No user: dr.who, refused where HDFS refuses it: making a directory at the namenode,
    // creating a file in step two, at the datanode.
    let anonymous = config("anonymous.yaml", "a", "");
    let failed = warm(&anonymous, &[]).failure();
    let [(_, _, _, error)] = &outcomes(&failed)[..] else { panic!("{}", failed.stdout) };
    assert!(error.contains("403") && error.contains("Permission denied: user=dr.who, access=WRITE"), "{error}");
    let log = hdfs.log();
    assert!(log.lines().any(|l| l.starts_with("namenode PUT /webhdfs/v1/a") && l.ends_with("op=MKDIRS 403")), "{log}");
    // The directories there (made by their owner), the file is refused at the datanode.
    std::fs::create_dir_all(hdfs.data.join("a").join(pad_cache::TMP_DIR)).unwrap();
    let failed = warm(&anonymous, &[]).failure();
    let [(_, _, outcome, error)] = &outcomes(&failed)[..] else { panic!("{}", failed.stdout) };
    assert_eq!(outcome, "failed");
    assert!(error.contains("403") && error.contains("Permission denied: user=dr.who, access=WRITE"), "{error}");
    assert!(error.contains("HDFS takes the caller for `dr.who`") && error.contains("set `user_name`"), "{error}");
    let log = hdfs.log();
    assert!(
        log.lines().any(|l| l.starts_with("namenode PUT /webhdfs/v1/a/.pad-tmp/") && l.ends_with("op=CREATE 307")),
        "{log}"
    );
    assert!(
        log.lines().any(|l| l.starts_with("datanode PUT /webhdfs/v1/a/.pad-tmp/") && l.ends_with("op=CREATE 403")),
        "{log}"
    );
    assert!(!hdfs.data.join("a/tool.jar").exists());

    // The owner, by name.
    let named = config("named.yaml", "b", ", user_name: airflow");
    let out = warm(&named, &[]).success();
    assert!(outcomes(&out).iter().all(|o| o.2 == "copied"), "{}", out.stdout);
    assert_eq!(std::fs::read(hdfs.data.join("b/tool.jar")).unwrap(), data);

    // "Already exists" comes where Hadoop raises it: not from the namenode's redirect
    // (step one of CREATE), from the file's creation at the datanode (step two).
    let url =
        format!("http://127.0.0.1:{}/webhdfs/v1/b/tool.jar?op=CREATE&overwrite=false&user.name=airflow", hdfs.port);
    let curl = |args: &[&str]| Cmd::new("curl", &repo.root).args(args).read().unwrap();
    assert_eq!(curl(&["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", &url]), "307");
    let jar = repo.root.join("files/tool.jar");
    let answer = curl(&["-s", "-L", "-w", " %{http_code}", "-X", "PUT", "-T", jar.as_str(), &url]);
    assert!(answer.contains("FileAlreadyExistsException") && answer.ends_with(" 403"), "{answer}");
    assert_eq!(std::fs::read(hdfs.data.join("b/tool.jar")).unwrap(), data);

    // The owner, by delegation token; an unknown token is refused.
    let delegated = config("delegated.yaml", "c", ", delegation_env: HDFS_TOKEN");
    let failed = warm(&delegated, &[("HDFS_TOKEN", "hdfs-delegation-unknown-77aa")]).failure();
    let [(_, _, _, error)] = &outcomes(&failed)[..] else { panic!("{}", failed.stdout) };
    assert!(error.contains("403") && error.contains("InvalidToken"), "{error}");
    assert!(!hdfs.data.join("c/tool.jar").exists());
    let out = warm(&delegated, &[("HDFS_TOKEN", token)]).success();
    assert!(outcomes(&out).iter().all(|o| o.2 == "copied"), "{}", out.stdout);
    assert_eq!(std::fs::read(hdfs.data.join("c/tool.jar")).unwrap(), data);
}

/// A GitLab before 18.6 sends no `X-Checksum-SHA256`: a GitLab source then checks the
/// `<file>.sha256` published beside the file, so a damaged download is caught there too.
#[test]
fn gitlab_source_before_the_checksum_header_verifies_with_the_published_sha256() {
    if !e2e_enabled("gitlab_source_before_the_checksum_header_verifies_with_the_published_sha256") {
        return;
    }
    let options = || GitlabOptions { version: Some(GITLAB_BEFORE_CHECKSUM_HEADER), ..GitlabOptions::default() };
    // The second time the stored file is not what the `.sha256` beside it says (a damaged
    // or replaced object): it must not be cached.
    for corrupt in [false, true] {
        let gitlab = GitlabContract::start(options()).unwrap();
        let repo = TestRepo::empty();
        let env = random_bytes(200_000, 51);
        write(&repo.root.join("build/env.tgz"), &env);
        let published = if corrupt { sha256(b"other bytes") } else { sha256(&env) };
        write(&repo.root.join("build/env.tgz.sha256"), format!("{published}  env.tgz\n").as_bytes());
        let base = format!("{}/projects/{GITLAB_PROJECT}/packages/generic/env/0.1.0", gitlab.api_url());
        for name in ["env.tgz", "env.tgz.sha256"] {
            Cmd::new("curl", &repo.root)
                .args(["-sf", "-X", "PUT", "-H", &format!("PRIVATE-TOKEN: {GITLAB_WRITE_TOKEN}"), "--upload-file"])
                .arg(repo.root.join("build").join(name).as_str())
                .arg(format!("{base}/{name}"))
                .run()
                .unwrap();
        }
        repo.write(
            "artifacts.yaml",
            &format!(
                "artifact_sources:\n  gitlab: {{class_name: gitlab, base_uri: \"{}/projects/{GITLAB_PROJECT}/packages/generic\", token_env: JOB_TOKEN, token_header: JOB-TOKEN}}\nartifact_caches:\n  dir: {{class_name: fs, base_uri: cache}}\ndefault_artifact_source: gitlab\ndefault_artifact_caches: [dir]\nartifacts:\n  env.tgz: {{id: env/0.1.0/env.tgz}}\n",
                gitlab.api_url()
            ),
        );
        let file = repo.root.join("artifacts.yaml");
        let warm = run(&repo, &["cache", "warm", "--json", file.as_str()], &[("JOB_TOKEN", GITLAB_JOB_TOKEN)]);
        let [(_, _, outcome, error)] = &outcomes(&warm)[..] else { panic!("{}\n{}", warm.stdout, warm.stderr) };
        // The checksum came from the `.sha256` beside the file.
        let sidecar =
            format!("GET /api/v4/projects/{GITLAB_PROJECT}/packages/generic/env/0.1.0/env.tgz.sha256 200 token");
        assert!(gitlab.log().lines().any(|l| l == sidecar), "{}", gitlab.log());
        if corrupt {
            assert_eq!(outcome, "failed", "a damaged download was cached");
            assert!(error.contains("checksum mismatch") && error.contains("env.tgz.sha256"), "{error}");
            assert!(!repo.root.join("cache/env.tgz").exists());
        } else {
            assert_eq!(outcome, "copied", "{error}");
            assert_eq!(std::fs::read(repo.root.join("cache/env.tgz")).unwrap(), env);
        }
    }
}
