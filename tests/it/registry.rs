//! Publishing and fetching packages through real servers the tests start themselves:
//! a directory, nginx's WebDAV, moto's S3, and a contract test of GitLab's generic
//! packages API (GitLab cannot run here; `gitlab_contract_server.py` implements its
//! documented behaviour, status codes included).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use camino::{Utf8Path, Utf8PathBuf};
use pad_registry::{PublishOutcome, Registries, Registry, RegistryError, TransferProgress};

use pad_testkit::random_bytes;
use pad_testkit::services::{self, GitlabContract, GitlabOptions, Nginx, S3Server};

use crate::support::{TestRepo, e2e_enabled, names_in, tools_dir};

const PACKAGE: &str = "platform-airflow-dags";
const VERSION: &str = "1.4.0";
const FILE: &str = "platform-airflow-dags-1.4.0.tar.gz";

/// More than one S3 part (8 MiB), so multipart uploads are exercised.
const SIZE: usize = 9 * 1024 * 1024 + 12345;

/// Writes `contents` as `<dir>/<FILE>`.
fn package_file(dir: &Utf8Path, contents: &[u8]) -> Utf8PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(FILE);
    std::fs::File::create(&path).unwrap().write_all(contents).unwrap();
    path
}

fn sha256(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = Utf8Path::from_path(dir.path()).unwrap().join("f");
    std::fs::write(&path, bytes).unwrap();
    pad_registry::sha256_file(&path).unwrap().0
}

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: BTreeMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    move |name| vars.get(name).cloned()
}

/// Counts what a transfer reports.
#[derive(Default)]
struct Recorder {
    starts: AtomicU64,
    total: AtomicU64,
    bytes: AtomicU64,
}

impl TransferProgress for Recorder {
    fn start(&self, total: Option<u64>) {
        self.starts.fetch_add(1, Ordering::SeqCst);
        self.total.store(total.unwrap_or(0), Ordering::SeqCst);
        self.bytes.store(0, Ordering::SeqCst);
    }
    fn advance(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::SeqCst);
    }
}

/// A repository with `deploy/registries.toml`, and the registry `name` opened from it.
fn open(toml: &str, name: &str, vars: &[(&str, &str)]) -> (TestRepo, Registry) {
    let repo = TestRepo::empty();
    repo.write("deploy/registries.toml", toml);
    let registries = Registries::load(&repo.root.join("deploy/registries.toml")).unwrap();
    let registry = registries.open(name, &env(vars)).unwrap_or_else(|e| panic!("{}", pad_layout::error_chain(&e)));
    (repo, registry)
}

/// How a test reaches behind a registry to damage what it stores.
trait Backdoor {
    /// Overwrites the object `<package>/<version>/<file>` (or its `.sha256`).
    fn overwrite(&self, key: &str, contents: &[u8]);
}

/// A generic store (fs, WebDAV or S3) on disk or reachable behind its back.
struct DirBackdoor(Utf8PathBuf);

impl Backdoor for DirBackdoor {
    fn overwrite(&self, key: &str, contents: &[u8]) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.0.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        // What we make must stay writable by nginx's worker (nobody).
        let mut dir = path.parent().unwrap();
        while dir.starts_with(&self.0) && dir != self.0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
            dir = dir.parent().unwrap();
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    }
}

struct S3Backdoor<'a>(&'a S3Server, &'a str, &'a str);

impl Backdoor for S3Backdoor<'_> {
    fn overwrite(&self, key: &str, contents: &[u8]) {
        self.0.put_object(self.1, &format!("{}{key}", self.2), contents).unwrap();
    }
}

/// The whole life of a version in a generic store: publish (streamed, with progress),
/// idempotent re-publish, fetch and verify, refusal of other bytes, `force`, a damaged
/// remote caught on fetch, and a half-written upload taken as absent.
fn round_trip(registry: &Registry, backdoor: &dyn Backdoor) {
    let work = tempfile::tempdir().unwrap();
    let work = Utf8Path::from_path(work.path()).unwrap();
    let first = random_bytes(SIZE, 1);
    let second = random_bytes(SIZE, 2);
    let (first_sha, second_sha) = (sha256(&first), sha256(&second));
    let file = package_file(&work.join("a"), &first);

    let progress = Recorder::default();
    let outcome = registry.publish(&file, PACKAGE, VERSION, false, &progress).unwrap();
    assert_eq!(
        outcome,
        PublishOutcome::Uploaded {
            location: registry.location(PACKAGE, VERSION, FILE),
            bytes: SIZE as u64,
            sha256: first_sha.clone()
        }
    );
    assert_eq!(progress.bytes.load(Ordering::SeqCst), SIZE as u64);
    assert_eq!(progress.total.load(Ordering::SeqCst), SIZE as u64);
    assert_eq!(registry.exists(PACKAGE, VERSION, FILE).unwrap(), Some(first_sha.clone()));

    // The same bytes again: nothing is sent.
    let progress = Recorder::default();
    let outcome = registry.publish(&file, PACKAGE, VERSION, false, &progress).unwrap();
    assert!(
        matches!(outcome, PublishOutcome::AlreadyPresent { ref sha256, .. } if *sha256 == first_sha),
        "{outcome:?}"
    );
    assert_eq!(progress.starts.load(Ordering::SeqCst), 0);

    // Fetch: the same bytes, with a `sha256sum`-style checksum beside them.
    let dest = work.join("fetched");
    let progress = Recorder::default();
    let fetched = registry.fetch(PACKAGE, VERSION, FILE, &dest, &progress).unwrap();
    assert_eq!(fetched.path, dest.join(FILE));
    assert_eq!(fetched.sha256, first_sha);
    assert_eq!(fetched.bytes, SIZE as u64);
    assert!(std::fs::read(&fetched.path).unwrap() == first, "fetched bytes differ");
    assert_eq!(std::fs::read_to_string(&fetched.checksum_path).unwrap(), format!("{first_sha}  {FILE}\n"));
    assert_eq!(names_in(&dest), [FILE.to_owned(), format!("{FILE}.sha256")]);
    assert_eq!(progress.bytes.load(Ordering::SeqCst), SIZE as u64);

    // Other bytes under the same version: refused without force, replaced with it.
    let other = package_file(&work.join("b"), &second);
    let err = registry.publish(&other, PACKAGE, VERSION, false, &()).unwrap_err();
    assert!(matches!(err, RegistryError::Conflict { .. }), "{}", pad_layout::error_chain(&err));
    let message = err.to_string();
    assert!(message.contains(&first_sha) && message.contains(&second_sha) && message.contains("--force"), "{message}");
    assert_eq!(registry.exists(PACKAGE, VERSION, FILE).unwrap(), Some(first_sha.clone()));
    let outcome = registry.publish(&other, PACKAGE, VERSION, true, &()).unwrap();
    assert!(
        matches!(outcome, PublishOutcome::Replaced { ref sha256, ref previous_sha256, .. }
            if *sha256 == second_sha && *previous_sha256 == first_sha),
        "{outcome:?}"
    );
    let fetched = registry.fetch(PACKAGE, VERSION, FILE, &work.join("fetched-2"), &()).unwrap();
    assert!(std::fs::read(&fetched.path).unwrap() == second, "fetched bytes differ after --force");

    // A damaged object: the checksum no longer matches; nothing lands in the destination.
    let mut damaged = second.clone();
    damaged[SIZE / 2] ^= 0xFF;
    backdoor.overwrite(&format!("{PACKAGE}/{VERSION}/{FILE}"), &damaged);
    let dest = work.join("fetched-damaged");
    let err = registry.fetch(PACKAGE, VERSION, FILE, &dest, &()).unwrap_err();
    assert!(matches!(err, RegistryError::ChecksumMismatch { .. }), "{}", pad_layout::error_chain(&err));
    assert_eq!(names_in(&dest), Vec::<String>::new(), "a failed fetch left files behind");

    // A damaged checksum object is named as such.
    backdoor.overwrite(&format!("{PACKAGE}/{VERSION}/{FILE}.sha256"), b"garbage\n");
    let err = registry.fetch(PACKAGE, VERSION, FILE, &dest, &()).unwrap_err();
    assert!(matches!(err, RegistryError::BadChecksumFile { .. }), "{}", pad_layout::error_chain(&err));

    // An upload interrupted before its `.sha256`: absent for exists, fetch and publish.
    backdoor.overwrite(&format!("{PACKAGE}/2.0.0/{FILE}"), b"half a package");
    assert_eq!(registry.exists(PACKAGE, "2.0.0", FILE).unwrap(), None);
    let err = registry.fetch(PACKAGE, "2.0.0", FILE, &dest, &()).unwrap_err();
    assert!(matches!(err, RegistryError::NotPublished { .. }), "{}", pad_layout::error_chain(&err));
    let outcome = registry.publish(&file, PACKAGE, "2.0.0", false, &()).unwrap();
    assert!(matches!(outcome, PublishOutcome::Uploaded { .. }), "{outcome:?}");
    let fetched = registry.fetch(PACKAGE, "2.0.0", FILE, &dest, &()).unwrap();
    assert!(std::fs::read(&fetched.path).unwrap() == first);

    // A version never published.
    let err = registry.fetch(PACKAGE, "9.9.9", FILE, &work.join("none"), &()).unwrap_err();
    assert!(matches!(err, RegistryError::NotPublished { .. }), "{}", pad_layout::error_chain(&err));
    assert!(err.to_string().contains("9.9.9"), "{err}");
}

#[test]
fn fs_registry_round_trip() {
    if !e2e_enabled("fs_registry_round_trip") {
        return;
    }
    let (repo, registry) = open("[local]\nkind = \"fs\"\npath = \"target/registry\"\n", "local", &[]);
    let root = repo.root.join("target/registry");
    round_trip(&registry, &DirBackdoor(root.clone()));
    // Uploads are written beside the registry and renamed: no temporary file is left.
    assert_eq!(names_in(&root.join(".pad-upload-tmp")), Vec::<String>::new());
}

#[test]
fn webdav_registry_round_trip_through_nginx() {
    if !e2e_enabled("webdav_registry_round_trip_through_nginx") {
        return;
    }
    let nginx = Nginx::start().unwrap();
    let toml = format!("[dav]\nkind = \"webdav\"\nurl = \"{}\"\n", nginx.url("packages"));
    let (_repo, registry) = open(&toml, "dav", &[]);
    round_trip(&registry, &DirBackdoor(nginx.root.join("packages")));
    // nginx's worker (nobody, when we are root) wrote the files.
    assert!(nginx.root.join("packages").join(PACKAGE).join(VERSION).join(FILE).is_file(), "{}", nginx.log());
}

#[test]
fn webdav_registry_makes_collections_on_a_strict_server() {
    if !e2e_enabled("webdav_registry_makes_collections_on_a_strict_server") {
        return;
    }
    let nginx = Nginx::start().unwrap();
    let toml = format!("[dav]\nkind = \"webdav\"\nurl = \"{}\"\n", nginx.url("strict"));
    let (repo, registry) = open(&toml, "dav", &[]);
    let file = package_file(&repo.root.join("dist"), &random_bytes(100_000, 3));
    let access_log = || std::fs::read_to_string(nginx.root.parent().unwrap().join("access.log")).unwrap();
    let outcome = registry
        .publish(&file, PACKAGE, VERSION, false, &())
        .unwrap_or_else(|e| panic!("{}\naccess log:\n{}\n{}", pad_layout::error_chain(&e), access_log(), nginx.log()));
    assert!(matches!(outcome, PublishOutcome::Uploaded { .. }), "{outcome:?}");
    let fetched = registry.fetch(PACKAGE, VERSION, FILE, &repo.root.join("fetched"), &()).unwrap();
    assert_eq!(std::fs::read(&fetched.path).unwrap(), random_bytes(100_000, 3));
    // Without create_full_put_path, nginx needs the collections made first (MKCOL).
    let access = access_log();
    assert!(access.contains("\"MKCOL /strict/"), "{access}");
}

#[test]
fn webdav_registry_with_basic_auth() {
    if !e2e_enabled("webdav_registry_with_basic_auth") {
        return;
    }
    let nginx = Nginx::start().unwrap();
    let toml = format!(
        "[dav]\nkind = \"webdav\"\nurl = \"{}\"\nusername_env = \"DAV_USER\"\npassword_env = \"DAV_PASSWORD\"\n",
        nginx.url("private")
    );
    let good = [("DAV_USER", services::DAV_USER), ("DAV_PASSWORD", services::DAV_PASSWORD)];
    let (repo, registry) = open(&toml, "dav", &good);
    let file = package_file(&repo.root.join("dist"), &random_bytes(200_000, 4));
    registry.publish(&file, PACKAGE, VERSION, false, &()).unwrap();
    registry.fetch(PACKAGE, VERSION, FILE, &repo.root.join("fetched"), &()).unwrap();

    let wrong_password = "not-the-password-0b9d";
    let (_repo, registry) = open(&toml, "dav", &[("DAV_USER", services::DAV_USER), ("DAV_PASSWORD", wrong_password)]);
    let err = registry.publish(&file, PACKAGE, "1.5.0", false, &()).unwrap_err();
    let shown = format!("{}\n{err:?}\n{registry:?}", pad_layout::error_chain(&err));
    assert!(matches!(err, RegistryError::Denied { .. }), "{shown}");
    assert!(err.to_string().contains("check the user and password in DAV_USER/DAV_PASSWORD"), "{shown}");
    assert!(!shown.contains(wrong_password), "the password leaked:\n{shown}");

    // Without the variables, opening fails first and names them.
    let repo = TestRepo::empty();
    repo.write("deploy/registries.toml", &toml);
    let registries = Registries::load(&repo.root.join("deploy/registries.toml")).unwrap();
    let err = registries.open("dav", &env(&[])).unwrap_err();
    assert!(matches!(err, RegistryError::MissingCredentials { .. }), "{err}");
    assert!(err.to_string().contains("DAV_USER and DAV_PASSWORD"), "{err}");
}

#[test]
fn s3_registry_round_trip_through_moto() {
    if !e2e_enabled("s3_registry_round_trip_through_moto") {
        return;
    }
    let bucket = "airflow-packages";
    let s3 = S3Server::start(&tools_dir(), bucket).unwrap();
    let toml = format!(
        "[s3]\nkind = \"s3\"\nbucket = \"{bucket}\"\nendpoint = \"${{S3_ENDPOINT:-}}\"\nprefix = \"releases\"\n"
    );
    let vars = [
        ("S3_ENDPOINT", s3.endpoint()),
        ("AWS_ACCESS_KEY_ID", services::S3_ACCESS_KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", services::S3_SECRET_KEY.to_owned()),
    ];
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (_repo, registry) = open(&toml, "s3", &vars);
    round_trip(&registry, &S3Backdoor(&s3, bucket, "releases/"));
    // The package went up in parts (multipart upload), never whole in memory.
    assert!(s3.log().contains("?uploads"), "no multipart upload in moto's log:\n{}", s3.log());
    let keys = s3.keys(bucket, "releases/").unwrap();
    assert!(keys.contains(&format!("releases/{PACKAGE}/{VERSION}/{FILE}.sha256")), "{keys:?}");

    // Credentials come from the environment only, and opening says which are missing.
    let repo = TestRepo::empty();
    repo.write("deploy/registries.toml", &toml);
    let registries = Registries::load(&repo.root.join("deploy/registries.toml")).unwrap();
    let err = registries.open("s3", &env(&[("AWS_ACCESS_KEY_ID", "k")])).unwrap_err();
    assert!(err.to_string().contains("set AWS_SECRET_ACCESS_KEY"), "{err}");
}

/// A GitLab registry against the contract server, authenticated with `vars`.
fn gitlab(server: &GitlabContract, project: &str, vars: &[(&str, &str)]) -> (TestRepo, Registry) {
    let toml = format!("[gitlab]\nkind = \"gitlab\"\napi_url = \"${{CI_API_V4_URL}}\"\nproject = \"{project}\"\n");
    let mut all = vec![("CI_API_V4_URL", server.api_url())];
    all.extend(vars.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let all: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    open(&toml, "gitlab", &all)
}

fn count(log: &str, prefix: &str) -> usize {
    log.lines().filter(|l| l.starts_with(prefix)).count()
}

#[test]
fn gitlab_contract_round_trip() {
    if !e2e_enabled("gitlab_contract_round_trip") {
        return;
    }
    gitlab_round_trip(None);
}

/// GitLab before 18.6 sends no `X-Checksum-SHA256`: access and job tokens verify with the
/// packages API's `file_sha256`, deploy tokens with the `.sha256` published beside the file.
#[test]
fn gitlab_contract_round_trip_before_the_checksum_header() {
    if !e2e_enabled("gitlab_contract_round_trip_before_the_checksum_header") {
        return;
    }
    gitlab_round_trip(Some(services::GITLAB_BEFORE_CHECKSUM_HEADER));
}

/// The whole life of a version on a GitLab of that version (`None`: 18.6).
fn gitlab_round_trip(version: Option<&'static str>) {
    let server = GitlabContract::start(GitlabOptions { version, ..GitlabOptions::default() }).unwrap();
    let old = version.is_some();
    let (repo, registry) = gitlab(&server, "data/airflow-dags", &[("GITLAB_TOKEN", services::GITLAB_WRITE_TOKEN)]);
    let first = random_bytes(SIZE, 5);
    let second = random_bytes(SIZE, 6);
    let file = package_file(&repo.root.join("a"), &first);
    let progress = Recorder::default();
    let outcome = registry.publish(&file, PACKAGE, VERSION, false, &progress).unwrap();
    assert!(matches!(outcome, PublishOutcome::Uploaded { bytes, .. } if bytes == SIZE as u64), "{outcome:?}");
    assert_eq!(progress.bytes.load(Ordering::SeqCst), SIZE as u64);
    assert_eq!(registry.exists(PACKAGE, VERSION, FILE).unwrap(), Some(sha256(&first)));

    // Idempotent: the packages API says the same sha256 is there, nothing is sent. The
    // file went up once, its `.sha256` after it.
    let outcome = registry.publish(&file, PACKAGE, VERSION, false, &()).unwrap();
    assert!(matches!(outcome, PublishOutcome::AlreadyPresent { .. }), "{outcome:?}");
    let log = server.log();
    let puts: Vec<&str> = log.lines().filter(|l| l.starts_with("PUT ")).collect();
    let base = format!("PUT /api/v4/projects/data%2Fairflow-dags/packages/generic/{PACKAGE}/{VERSION}/{FILE}");
    assert_eq!(puts, [format!("{base} 200 token"), format!("{base}.sha256 201 token")], "{}", server.log());

    let fetched = registry.fetch(PACKAGE, VERSION, FILE, &repo.root.join("fetched"), &progress).unwrap();
    assert!(std::fs::read(&fetched.path).unwrap() == first);
    assert_eq!(fetched.sha256, sha256(&first));
    // Without the header, the sha256 came from the package files list.
    let files_listed = count(&server.log(), "GET /api/v4/projects/data%2Fairflow-dags/packages/1/package_files");
    assert_eq!(files_listed > 2, old, "{}", server.log());

    // Other bytes: refused, then replaced with force (the old package file is deleted).
    let other = package_file(&repo.root.join("b"), &second);
    let err = registry.publish(&other, PACKAGE, VERSION, false, &()).unwrap_err();
    assert!(matches!(err, RegistryError::Conflict { .. }), "{}", pad_layout::error_chain(&err));
    let outcome = registry.publish(&other, PACKAGE, VERSION, true, &()).unwrap();
    assert!(matches!(outcome, PublishOutcome::Replaced { .. }), "{outcome:?}");
    // The old file and its `.sha256` are deleted (a Maintainer's token).
    assert_eq!(count(&server.log(), "DELETE "), 2, "{}", server.log());
    assert_eq!(count(&server.log(), "DELETE /api/v4/projects/data%2Fairflow-dags/packages/1/package_files/"), 2);
    let fetched = registry.fetch(PACKAGE, VERSION, FILE, &repo.root.join("fetched-2"), &()).unwrap();
    assert!(std::fs::read(&fetched.path).unwrap() == second);

    // A CI job token publishes, a read-only deploy token fetches.
    let (_r, job) = gitlab(&server, "42", &[("CI_JOB_TOKEN", services::GITLAB_JOB_TOKEN)]);
    job.publish(&file, PACKAGE, "1.5.0", false, &()).unwrap();
    let (_r, deploy) = gitlab(&server, "42", &[("GITLAB_DEPLOY_TOKEN", services::GITLAB_DEPLOY_TOKEN)]);
    let fetched = deploy.fetch(PACKAGE, "1.5.0", FILE, &repo.root.join("fetched-3"), &()).unwrap();
    assert!(std::fs::read(&fetched.path).unwrap() == first);

    // A deploy token may not use the packages API: it learns what is published from the
    // download's checksum header, and stays idempotent.
    let (_r, deploy) = gitlab(&server, "42", &[("GITLAB_DEPLOY_TOKEN", services::GITLAB_DEPLOY_WRITE_TOKEN)]);
    let outcome = deploy.publish(&file, PACKAGE, "1.6.0", false, &()).unwrap();
    assert!(matches!(outcome, PublishOutcome::Uploaded { .. }), "{outcome:?}");
    let outcome = deploy.publish(&file, PACKAGE, "1.6.0", false, &()).unwrap();
    assert!(matches!(outcome, PublishOutcome::AlreadyPresent { .. }), "{outcome:?}");
    let err = deploy.publish(&other, PACKAGE, "1.6.0", false, &()).unwrap_err();
    assert!(matches!(err, RegistryError::Conflict { .. }), "{}", pad_layout::error_chain(&err));
    let fetched = deploy.fetch(PACKAGE, "1.6.0", FILE, &repo.root.join("fetched-4"), &()).unwrap();
    assert!(std::fs::read(&fetched.path).unwrap() == first);
    // Without the header, a deploy token read the `.sha256`, never the packages API.
    let sidecar = format!("GET /api/v4/projects/42/packages/generic/{PACKAGE}/1.6.0/{FILE}.sha256 200 token");
    assert_eq!(count(&server.log(), &sidecar) > 0, old, "{}", server.log());
    let deploy_listed = server.log().lines().any(|l| l.starts_with("GET /api/v4/projects/42/packages?"));
    assert!(!deploy_listed, "{}", server.log());

    // A version published by another tool, without a `.sha256`: a deploy token cannot
    // verify it without the header, and says so before downloading anything.
    let plain = format!("{}/projects/42/packages/generic/{PACKAGE}/1.7.0/{FILE}", server.api_url());
    pad_process::Cmd::new("curl", &repo.root)
        .args(["-sf", "-X", "PUT", "-H", &format!("PRIVATE-TOKEN: {}", services::GITLAB_WRITE_TOKEN), "--upload-file"])
        .arg(file.as_str())
        .arg(&plain)
        .run()
        .unwrap();
    let dest = repo.root.join("fetched-5");
    let fetched = deploy.fetch(PACKAGE, "1.7.0", FILE, &dest, &());
    if old {
        let err = fetched.unwrap_err();
        assert!(matches!(err, RegistryError::Protocol { .. }), "{}", pad_layout::error_chain(&err));
        assert!(err.to_string().contains("GitLab before 18.6") && err.to_string().contains(".sha256"), "{err}");
        assert_eq!(names_in(&dest), Vec::<String>::new());
    } else {
        assert!(std::fs::read(&fetched.unwrap().path).unwrap() == first);
    }
}

/// Replacing a file deletes the old one, which GitLab allows a Maintainer only: a
/// Developer's token and a Developer's job token get a 403 that says what to do, and
/// nothing changes.
#[test]
fn gitlab_contract_force_needs_a_maintainer() {
    if !e2e_enabled("gitlab_contract_force_needs_a_maintainer") {
        return;
    }
    let server = GitlabContract::start(GitlabOptions::default()).unwrap();
    let (repo, maintainer) = gitlab(&server, "42", &[("GITLAB_TOKEN", services::GITLAB_WRITE_TOKEN)]);
    let (first, second) = (random_bytes(20_000, 14), random_bytes(20_000, 15));
    let file = package_file(&repo.root.join("a"), &first);
    let other = package_file(&repo.root.join("b"), &second);
    maintainer.publish(&file, PACKAGE, VERSION, false, &()).unwrap();

    let (_r, developer) = gitlab(&server, "42", &[("GITLAB_TOKEN", services::GITLAB_DEVELOPER_TOKEN)]);
    // A Developer publishes a new version...
    let outcome = developer.publish(&other, PACKAGE, "1.5.0", false, &()).unwrap();
    assert!(matches!(outcome, PublishOutcome::Uploaded { .. }), "{outcome:?}");
    // ...but may not replace one.
    let err = developer.publish(&other, PACKAGE, VERSION, true, &()).unwrap_err();
    let shown = pad_layout::error_chain(&err);
    assert!(matches!(err, RegistryError::Forbidden { .. }), "{shown}");
    assert!(shown.contains("403") && shown.contains("`GITLAB_TOKEN` may not delete from it"), "{shown}");
    assert!(shown.contains("needs the Maintainer role") && shown.contains("Maintainer's access token"), "{shown}");

    let (_r, job) = gitlab(&server, "42", &[("CI_JOB_TOKEN", services::GITLAB_JOB_TOKEN)]);
    let err = job.publish(&other, PACKAGE, VERSION, true, &()).unwrap_err();
    let shown = pad_layout::error_chain(&err);
    assert!(matches!(err, RegistryError::Forbidden { .. }), "{shown}");
    assert!(shown.contains("`CI_JOB_TOKEN` may not delete from it"), "{shown}");
    assert!(shown.contains("role of the user who started the pipeline"), "{shown}");

    // Nothing was uploaded after the refused deletes: the first bytes are still served.
    let log = server.log();
    assert_eq!(count(&log, "DELETE "), 2, "{log}");
    assert!(log.lines().filter(|l| l.starts_with("DELETE ")).all(|l| l.ends_with(" 403 token")), "{log}");
    assert_eq!(count(&log, &format!("PUT /api/v4/projects/42/packages/generic/{PACKAGE}/{VERSION}/{FILE}?")), 0);
    assert_eq!(maintainer.exists(PACKAGE, VERSION, FILE).unwrap(), Some(sha256(&first)));
    let fetched = developer.fetch(PACKAGE, VERSION, FILE, &repo.root.join("fetched"), &()).unwrap();
    assert!(std::fs::read(&fetched.path).unwrap() == first);

    // A Maintainer replaces it.
    let outcome = maintainer.publish(&other, PACKAGE, VERSION, true, &()).unwrap();
    assert!(matches!(outcome, PublishOutcome::Replaced { .. }), "{outcome:?}");
    assert_eq!(maintainer.exists(PACKAGE, VERSION, FILE).unwrap(), Some(sha256(&second)));
}

#[test]
fn gitlab_contract_retries_server_errors() {
    if !e2e_enabled("gitlab_contract_retries_server_errors") {
        return;
    }
    // GitLab answers 500 when concurrent first uploads race to create the package.
    let server = GitlabContract::start(GitlabOptions { fail_puts: 2, ..GitlabOptions::default() }).unwrap();
    let (repo, registry) = gitlab(&server, "42", &[("GITLAB_TOKEN", services::GITLAB_WRITE_TOKEN)]);
    let file = package_file(&repo.root.join("a"), &random_bytes(300_000, 7));
    let progress = Recorder::default();
    let outcome = registry.publish(&file, PACKAGE, VERSION, false, &progress).unwrap();
    assert!(matches!(outcome, PublishOutcome::Uploaded { .. }), "{outcome:?}");
    let log = server.log();
    // Three tries of the file, then its `.sha256`.
    assert_eq!(count(&log, "PUT "), 4, "{log}");
    assert_eq!(
        count(&log, &format!("PUT /api/v4/projects/42/packages/generic/{PACKAGE}/{VERSION}/{FILE}.sha256 201")),
        1,
        "{log}"
    );
    assert_eq!(
        count(
            &log,
            "PUT /api/v4/projects/42/packages/generic/platform-airflow-dags/1.4.0/platform-airflow-dags-1.4.0.tar.gz 500"
        ),
        2,
        "{log}"
    );
    // Each retry starts the transfer over.
    assert_eq!(progress.starts.load(Ordering::SeqCst), 3);
    assert_eq!(progress.bytes.load(Ordering::SeqCst), 300_000);

    // A server that keeps failing: bounded tries, then an error naming the status.
    let server = GitlabContract::start(GitlabOptions { fail_puts: 100, ..GitlabOptions::default() }).unwrap();
    let (repo, registry) = gitlab(&server, "42", &[("GITLAB_TOKEN", services::GITLAB_WRITE_TOKEN)]);
    let file = package_file(&repo.root.join("a"), &random_bytes(1000, 8));
    let err = registry.publish(&file, PACKAGE, VERSION, false, &()).unwrap_err();
    assert!(matches!(err, RegistryError::Server { status: 500, attempts: 4, .. }), "{}", pad_layout::error_chain(&err));
    assert_eq!(count(&server.log(), "PUT "), 4, "{}", server.log());
}

#[test]
fn gitlab_contract_status_errors() {
    if !e2e_enabled("gitlab_contract_status_errors") {
        return;
    }
    let write = [("GITLAB_TOKEN", services::GITLAB_WRITE_TOKEN)];
    let small = random_bytes(5000, 9);

    // 400: a duplicate, when the project forbids them and another publisher got there
    // between our check and our upload.
    let server =
        GitlabContract::start(GitlabOptions { no_duplicates: true, stale_listing: true, ..GitlabOptions::default() })
            .unwrap();
    let (repo, registry) = gitlab(&server, "42", &write);
    let file = package_file(&repo.root.join("a"), &small);
    registry.publish(&file, PACKAGE, VERSION, false, &()).unwrap();
    let err = registry.publish(&file, PACKAGE, VERSION, false, &()).unwrap_err();
    assert!(matches!(err, RegistryError::Duplicate { .. }), "{}", pad_layout::error_chain(&err));
    assert!(err.to_string().contains("Duplicate package is not allowed"), "{err}");

    // 400: too large.
    let server =
        GitlabContract::start(GitlabOptions { max_file_size: Some(1000), ..GitlabOptions::default() }).unwrap();
    let (_r, registry) = gitlab(&server, "42", &write);
    let err = registry.publish(&file, PACKAGE, VERSION, false, &()).unwrap_err();
    assert!(matches!(err, RegistryError::TooLarge { .. }), "{}", pad_layout::error_chain(&err));
    assert!(err.to_string().contains("File is too large"), "{err}");

    let server = GitlabContract::start(GitlabOptions::default()).unwrap();
    // 401: a token GitLab does not know; the message names the variable to fix.
    let (_r, registry) = gitlab(&server, "42", &[("GITLAB_TOKEN", "glpat-revoked")]);
    let err = registry.publish(&file, PACKAGE, VERSION, false, &()).unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{}", pad_layout::error_chain(&err));
    assert!(err.to_string().contains("set GITLAB_TOKEN to a valid one"), "{err}");

    // 403: a token that may read but not write.
    let (_r, registry) = gitlab(&server, "42", &[("GITLAB_TOKEN", services::GITLAB_READ_TOKEN)]);
    let err = registry.publish(&file, PACKAGE, VERSION, false, &()).unwrap_err();
    assert!(matches!(err, RegistryError::Forbidden { .. }), "{}", pad_layout::error_chain(&err));
    assert!(err.to_string().contains("`GITLAB_TOKEN` may not publish to it"), "{err}");
    assert!(err.to_string().contains("Developer role"), "{err}");

    // 404: an unknown project, then an unknown version.
    let (_r, registry) = gitlab(&server, "4242", &write);
    let err = registry.publish(&file, PACKAGE, VERSION, false, &()).unwrap_err();
    assert!(matches!(err, RegistryError::NotFound { .. }), "{}", pad_layout::error_chain(&err));
    assert!(err.to_string().contains("Project Not Found") && err.to_string().contains("`project`"), "{err}");
    let (_r, registry) = gitlab(&server, "42", &write);
    let err = registry.fetch(PACKAGE, "0.0.1", FILE, &repo.root.join("none"), &()).unwrap_err();
    assert!(matches!(err, RegistryError::NotPublished { .. }), "{}", pad_layout::error_chain(&err));
    assert_eq!(names_in(&repo.root.join("none")), Vec::<String>::new());
}

#[test]
fn gitlab_contract_checksum_mismatch_on_download() {
    if !e2e_enabled("gitlab_contract_checksum_mismatch_on_download") {
        return;
    }
    let server = GitlabContract::start(GitlabOptions { corrupt_downloads: true, ..GitlabOptions::default() }).unwrap();
    let (repo, registry) = gitlab(&server, "42", &[("GITLAB_TOKEN", services::GITLAB_WRITE_TOKEN)]);
    let contents = random_bytes(2 * 1024 * 1024, 10);
    let file = package_file(&repo.root.join("a"), &contents);
    registry.publish(&file, PACKAGE, VERSION, false, &()).unwrap();
    let dest = repo.root.join("fetched");
    let err = registry.fetch(PACKAGE, VERSION, FILE, &dest, &()).unwrap_err();
    match &err {
        RegistryError::ChecksumMismatch { expected, actual, .. } => {
            assert_eq!(*expected, sha256(&contents));
            assert_ne!(expected, actual);
        }
        other => panic!("{}", pad_layout::error_chain(other)),
    }
    assert_eq!(names_in(&dest), Vec::<String>::new(), "a failed fetch left files behind");
}

#[test]
fn gitlab_contract_direct_download_keeps_the_token_home() {
    if !e2e_enabled("gitlab_contract_direct_download_keeps_the_token_home") {
        return;
    }
    // With object storage direct download, GitLab redirects to the storage and the
    // checksum header is lost: the token must not follow, the packages API gives the sha256.
    let server = GitlabContract::start(GitlabOptions { direct_download: true, ..GitlabOptions::default() }).unwrap();
    let (repo, registry) = gitlab(&server, "42", &[("GITLAB_TOKEN", services::GITLAB_WRITE_TOKEN)]);
    let contents = random_bytes(3 * 1024 * 1024, 13);
    let file = package_file(&repo.root.join("a"), &contents);
    registry.publish(&file, PACKAGE, VERSION, false, &()).unwrap();
    let fetched = registry.fetch(PACKAGE, VERSION, FILE, &repo.root.join("fetched"), &()).unwrap();
    assert!(std::fs::read(&fetched.path).unwrap() == contents);
    let log = server.log();
    let generic = format!("GET /api/v4/projects/42/packages/generic/{PACKAGE}/{VERSION}/{FILE} 302 token");
    assert_eq!(count(&log, &generic), 1, "{log}");
    let objects: Vec<&str> = log.lines().filter(|l| l.starts_with("GET /objects/")).collect();
    assert_eq!(objects.len(), 1, "{log}");
    assert!(objects[0].ends_with(" 200 no-token"), "the token followed the redirect:\n{log}");

    // A deploy token cannot ask the packages API: it reads the `.sha256` published beside
    // the file (through the same redirect) to stay idempotent and to verify.
    let (_r, deploy) = gitlab(&server, "42", &[("GITLAB_DEPLOY_TOKEN", services::GITLAB_DEPLOY_WRITE_TOKEN)]);
    let outcome = deploy.publish(&file, PACKAGE, VERSION, false, &()).unwrap();
    assert!(matches!(outcome, PublishOutcome::AlreadyPresent { .. }), "{outcome:?}");
    let fetched = deploy.fetch(PACKAGE, VERSION, FILE, &repo.root.join("fetched-deploy"), &()).unwrap();
    assert!(std::fs::read(&fetched.path).unwrap() == contents);
    let log = server.log();
    let sidecar = format!("GET /api/v4/projects/42/packages/generic/{PACKAGE}/{VERSION}/{FILE}.sha256 302 token");
    assert_eq!(count(&log, &sidecar), 2, "{log}");
    assert!(log.lines().filter(|l| l.starts_with("GET /objects/")).all(|l| l.ends_with(" 200 no-token")), "{log}");
}

/// Collects this thread's log lines, at every level.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn gitlab_contract_never_shows_the_token() {
    if !e2e_enabled("gitlab_contract_never_shows_the_token") {
        return;
    }
    use tracing_subscriber::util::SubscriberInitExt;
    let token = "glpat-Distinctive-Token-4e2f9a";
    let server = GitlabContract::start_with_tokens(
        GitlabOptions { corrupt_downloads: true, ..GitlabOptions::default() },
        &[(token, "PRIVATE-TOKEN", "write")],
    )
    .unwrap();
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let _guard = tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish()
        .set_default();

    let mut shown = Vec::new();
    let (repo, registry) = gitlab(&server, "42", &[("GITLAB_TOKEN", token)]);
    shown.push(format!("{registry:?} {registry:#?}"));
    let file = package_file(&repo.root.join("a"), &random_bytes(10_000, 11));
    shown.push(format!("{:?}", registry.publish(&file, PACKAGE, VERSION, false, &())));
    let mut errors = vec![
        registry.fetch(PACKAGE, VERSION, FILE, &repo.root.join("f"), &()).unwrap_err(),
        registry.fetch(PACKAGE, "0.0.9", FILE, &repo.root.join("f"), &()).unwrap_err(),
    ];
    let other = package_file(&repo.root.join("b"), &random_bytes(10_000, 12));
    errors.push(registry.publish(&other, PACKAGE, VERSION, false, &()).unwrap_err());
    let (_r, wrong_project) = gitlab(&server, "7", &[("GITLAB_TOKEN", token)]);
    errors.push(wrong_project.publish(&file, PACKAGE, VERSION, false, &()).unwrap_err());
    // The same distinctive string as a token the server rejects (401).
    let rejected = format!("{token}-revoked");
    let (_r, unauthorized) = gitlab(&server, "42", &[("GITLAB_TOKEN", &rejected)]);
    errors.push(unauthorized.publish(&file, PACKAGE, VERSION, false, &()).unwrap_err());
    errors.push(unauthorized.fetch(PACKAGE, VERSION, FILE, &repo.root.join("f"), &()).unwrap_err());
    // A server that is gone: transport errors.
    let api = server.api_url();
    drop(server);
    errors.push(registry.publish(&other, PACKAGE, "3.0.0", false, &()).unwrap_err());
    for err in &errors {
        shown.push(format!("{}\n{err:?}", pad_layout::error_chain(err)));
    }
    let expected = [
        "checksum mismatch",
        "has no `platform-airflow-dags-1.4.0.tar.gz` for platform-airflow-dags 0.0.9",
        "--force",
        "404: 404 Project Not Found",
        "rejected the credentials from `GITLAB_TOKEN`",
        "cannot reach",
    ];
    let all = shown.join("\n");
    for phrase in expected {
        assert!(all.contains(phrase), "expected `{phrase}` among:\n{all}");
    }
    assert!(all.contains(&api));
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(!all.contains(token), "the token leaked into an error or Debug output:\n{all}");
    assert!(!logs.contains(token), "the token leaked into the log:\n{logs}");
}

#[test]
fn gitlab_without_credentials_names_the_variables() {
    // Opening needs no server: credentials are resolved before any transfer.
    let repo = TestRepo::empty();
    repo.write(
        "deploy/registries.toml",
        "[gitlab]\nkind = \"gitlab\"\napi_url = \"https://gitlab.example.org/api/v4\"\nproject = \"1\"\n",
    );
    let registries = Registries::load(&repo.root.join("deploy/registries.toml")).unwrap();
    let err = registries.open("gitlab", &env(&[])).unwrap_err();
    assert!(matches!(err, RegistryError::MissingCredentials { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("GITLAB_TOKEN") && message.contains("CI_JOB_TOKEN"), "{message}");
    let err = registries.get("nexus").unwrap_err();
    assert!(err.to_string().contains("unknown registry `nexus`") && err.to_string().contains("`gitlab`"), "{err}");
}
