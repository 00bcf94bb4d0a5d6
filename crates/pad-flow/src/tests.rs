//! Unit tests of the flows' own logic, on small repositories built in temporary
//! directories. The flows end to end (with uv, Airflow, registries and hosts) are
//! covered by `tests/`.

use camino::Utf8PathBuf;

/// A repository in a temporary directory: `(path, text)` files; a path ending in `/`
/// is an empty directory.
pub(crate) struct Fixture {
    _dir: tempfile::TempDir,
    pub(crate) root: Utf8PathBuf,
}

pub(crate) fn fixture(files: &[(&str, &str)]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
    for (path, text) in files {
        let path = root.join(path);
        if path.as_str().ends_with('/') {
            std::fs::create_dir_all(&path).unwrap();
        } else {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        }
    }
    Fixture { _dir: dir, root }
}

/// A repository with one project, `etl`, and no DAGs.
pub(crate) fn one_project(extra: &[(&str, &str)]) -> Fixture {
    let mut files = vec![("dags/", ""), ("projects/etl/requirements.txt", "")];
    files.extend_from_slice(extra);
    fixture(&files)
}

#[test]
fn the_check_reads_every_artifacts_yaml_with_the_layout() {
    let good = one_project(&[]);
    assert!(crate::scan(&good.root).errors.is_empty());
    assert_eq!(crate::discover(&good.root).unwrap().projects.len(), 1);

    let broken = one_project(&[("projects/etl/artifacts.yaml", "artifacts:\n  a.jar: {id: x, source: nowhere}\n")]);
    let err = crate::discover(&broken.root).unwrap_err().to_string();
    assert!(err.contains("projects/etl/artifacts.yaml") && err.contains("nowhere"), "{err}");
}

#[track_caller]
fn check_select(names: &[&str], expected: Result<&[&str], &str>) {
    let repo = fixture(&[("dags/", ""), ("projects/etl/requirements.txt", ""), ("projects/ml/requirements.txt", "")]);
    let repo = crate::discover(&repo.root).unwrap();
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    match (crate::select_projects(&repo, &names), expected) {
        (Ok(projects), Ok(expected)) => {
            assert_eq!(projects.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), expected)
        }
        (Err(err), Err(expected)) => assert!(err.to_string().contains(expected), "{err}"),
        (found, expected) => panic!("found {found:?}, expected {expected:?}"),
    }
}

#[test]
fn projects_are_selected_by_name_or_all() {
    check_select(&[], Ok(&["etl", "ml"]));
    check_select(&["ml"], Ok(&["ml"]));
    check_select(&["ml", "etl"], Ok(&["ml", "etl"]));
    check_select(&["nope"], Err("no project `nope` in"));
    check_select(&["etl", "nope"], Err("(projects: etl, ml)"));
}

#[test]
fn failures_become_one_error_or_several() {
    use crate::FlowError;
    let failure = |name: &str| FlowError::NoTarball { project: name.to_owned(), dir: "d".into() };
    assert!(FlowError::from_failures(Vec::new()).is_ok());
    let one = FlowError::from_failures(vec![failure("a")]).unwrap_err();
    assert!(matches!(one, FlowError::NoTarball { .. }), "{one}");
    let two = FlowError::from_failures(vec![failure("a"), failure("b")]).unwrap_err();
    assert_eq!(two.to_string(), "2 projects failed");
}

#[test]
fn the_target_directory_is_the_callers_choice() {
    let ws = crate::Workspace::new("/repo".into());
    assert_eq!(ws.dist_dir(), "/repo/target/dist");
    let ws = ws.with_target_dir("/shared".into());
    assert_eq!((ws.root.as_str(), ws.dist_dir().as_str()), ("/repo", "/shared/dist"));
    assert_eq!(crate::package_path(&ws, "v1"), "/shared/dist/platform-airflow-dags-v1.tar.gz");
}

fn dag_report(problems: &[(&str, &str, &str)]) -> pad_venv::DagReport {
    pad_venv::DagReport {
        series: "2.10".into(),
        airflow_version: "2.10.5".into(),
        dags: vec![pad_venv::DagInfo { dag_id: "etl_daily".into(), file: "dags/etl.py".into(), tasks: 2 }],
        problems: problems
            .iter()
            .map(|(file, kind, message)| pad_venv::DagProblem {
                file: (*file).into(),
                kind: (*kind).into(),
                message: (*message).into(),
                detail: "Traceback <&>".into(),
            })
            .collect(),
        notes: Vec::new(),
        seconds: 1.5,
        cached: false,
    }
}

fn test_report(project: &str, failures: &[&str]) -> pad_venv::TestReport {
    pad_venv::TestReport {
        project: project.into(),
        passed: failures.is_empty(),
        cached: false,
        summary: if failures.is_empty() { "3 passed".into() } else { format!("{} failed", failures.len()) },
        failures: failures.iter().map(|f| (*f).into()).collect(),
        output: String::new(),
        junit: None,
        seconds: 0.5,
        notes: Vec::new(),
    }
}

#[test]
fn a_test_run_lists_each_failure_on_a_line() {
    let clean = crate::TestRun {
        projects: vec![test_report("etl", &[])],
        dags: vec![dag_report(&[])],
        lint: None,
        errors: Vec::new(),
        notes: Vec::new(),
    };
    assert!(clean.ok() && clean.failures().is_empty() && clean.check().is_ok());

    let run = crate::TestRun {
        projects: vec![
            test_report("etl", &["tests/test_a.py::test_x", "tests/test_a.py::test_y"]),
            test_report("ml", &[]),
        ],
        dags: vec![dag_report(&[("dags/broken.py", "import error", "No module named 'x'")])],
        lint: None,
        errors: vec![crate::FlowError::NoEnvironmentToTest { project: "web".into(), cause: "uv failed".into() }],
        notes: Vec::new(),
    };
    assert!(!run.ok());
    assert_eq!(
        run.check().unwrap_err().to_string(),
        "3 failures:\n  project etl: tests/test_a.py::test_x; tests/test_a.py::test_y\n  \
         Airflow 2.10.5: dags/broken.py: No module named 'x' (import error)\n  \
         web: no environment to test in: uv failed"
    );
}

#[test]
fn the_dag_check_as_junit_has_a_case_per_dag_and_problem() {
    let xml = crate::junit::dag_report_xml(&dag_report(&[("dags/b.py", "cycle", "a -> b -> a")]));
    assert_eq!(
        xml,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <testsuite name=\"dags (Airflow 2.10.5)\" tests=\"2\" failures=\"1\" time=\"1.500\">\n  \
         <testcase classname=\"dags/etl.py\" name=\"etl_daily\"/>\n  \
         <testcase classname=\"dags/b.py\" name=\"cycle\">\n    \
         <failure message=\"a -&gt; b -&gt; a\">Traceback &lt;&amp;&gt;</failure>\n  </testcase>\n\
         </testsuite>\n"
    );
}

#[test]
fn a_deploy_uses_the_package_it_is_told_or_names_the_fix() {
    use crate::PackageChoice;
    let repo = one_project(&[("target/dist/platform-airflow-dags-v1.tar.gz", "not really a package")]);
    let ws = crate::Workspace::new(&repo.root);
    let choose = |choice: PackageChoice| crate::choose_package(&ws, &choice, &Recorder::default());

    assert_eq!(choose(PackageChoice::File("/any/file.tar.gz".into())).unwrap(), "/any/file.tar.gz");
    assert_eq!(choose(PackageChoice::Version("v1".into())).unwrap(), crate::package_path(&ws, "v1"));
    let missing = choose(PackageChoice::Version("v2".into())).unwrap_err().to_string();
    assert!(missing.contains("no package for version `v2`") && missing.contains("--from-registry v2"), "{missing}");
    // Outside git the current version is `0.0.0-unversioned`, never built here.
    let current = choose(PackageChoice::Current).unwrap_err().to_string();
    assert!(current.contains("cargo xtask package"), "{current}");
    // A registry is opened from deploy/registries.toml, which this repository lacks.
    let registry = PackageChoice::Registry { version: "v1".into(), registry: None };
    let err = pad_layout::error_chain(&choose(registry).unwrap_err());
    assert!(err.contains("registries.toml"), "{err}");
}

#[test]
fn a_deploy_of_a_missing_package_or_target_names_the_fix() {
    let repo = one_project(&[]);
    let ws = crate::Workspace::new(&repo.root);
    let discovered = crate::discover(&repo.root).unwrap();
    let err = crate::find_target(&discovered, "prod").unwrap_err().to_string();
    assert_eq!(err, "there is no target `prod`: add deploy/prod.toml, or use one of: local");

    let target = crate::find_target(&discovered, "local").unwrap();
    let options = crate::deploy_options(&ws, &repo.root.join("nope.tar.gz"));
    assert_eq!(options.checked_envs, Some(ws.target_dir.join("checked-envs")));
    let err = crate::deploy(target, &options, &Recorder::default()).unwrap_err().to_string();
    assert!(err.starts_with("the package `") && err.contains("does not exist"), "{err}");
}

/// Progress that records the stages of deploy-local-build and the reports it shows, and
/// nothing else.
#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<String>>);

impl Recorder {
    fn push(&self, event: String) {
        self.0.lock().unwrap().push(event);
    }
}

impl pad_venv::Progress for Recorder {
    fn step(&self, _name: &str, _step: &str) {}
}

impl pad_deploy::Progress for Recorder {
    fn step(&self, _host: &str, _step: pad_deploy::Step) {}
    fn note(&self, _host: &str, _message: &str) {}
}

impl crate::Progress for Recorder {
    fn done(&self, _name: &str, _outcome: &str) {}
    fn warning(&self, _message: &str) {}
    fn transfer(&self, _transfer: &crate::Transfer<'_>) -> Box<dyn pad_registry::TransferProgress + '_> {
        Box::new(())
    }
    fn stage(&self, stage: crate::Stage) {
        self.push(format!("stage {stage:?}"));
    }
    fn tested(&self, run: &crate::TestRun) {
        self.push(format!("tested ok={}", run.ok()));
    }
    fn packaged(&self, _package: &pad_bundle::Package) {
        self.push("packaged".to_owned());
    }
}

#[test]
fn deploy_local_build_stops_before_packaging_when_the_test_stage_fails() {
    let repo = one_project(&[("projects/etl/artifacts.yaml", "artifacts:\n  a.jar: {id: x, source: nowhere}\n")]);
    let recorder = Recorder::default();
    let options = crate::LocalBuildOptions::default();
    let err = crate::deploy_local_build(&crate::Workspace::new(&repo.root), &options, &recorder).unwrap_err();
    assert!(
        matches!(&err, crate::FlowError::StoppedBeforePackaging(inner) if matches!(**inner, crate::FlowError::Layout(_)))
    );
    let text = pad_layout::error_chain(&err);
    assert!(
        text.starts_with("deploy-local-build stopped before packaging: the tests failed: the repository at"),
        "{text}"
    );
    assert_eq!(*recorder.0.lock().unwrap(), ["stage Test"]);
    assert!(!repo.root.join("target/dist").exists(), "nothing was packaged");
}

/// `pad_runtime.artifact()` is told where each artifacts.yaml artifact is cached: its
/// first `fs` cache, else its first cache's URL, `${VAR}`s expanded.
#[test]
fn artifact_locations_come_from_each_projects_artifacts_yaml() {
    let yaml = r#"artifact_sources:
  central:
    class_name: maven
    base_uri: https://repo1.maven.org/maven2
artifact_caches:
  s3:
    class_name: s3
    base_uri: s3://${BUCKET:-bucket}/jobs
  shared:
    class_name: fs
    base_uri: ${CACHE_DIR:-/srv/cache}/etl
default_artifact_caches: [s3, shared]
artifacts:
  spark-avro_2.12-3.5.1.jar:
    id: org.apache.spark:spark-avro_2.12:3.5.1
    source: central
  only-s3.jar:
    id: org.example:only:1.0
    source: central
    caches: [s3]
"#;
    let repo = one_project(&[("projects/etl/artifacts.yaml", yaml)]);
    assert!(crate::scan(&repo.root).errors.is_empty(), "{:?}", crate::scan(&repo.root).errors);
    let lookup = |name: &str| (name == "BUCKET").then(|| "analytics".to_owned());
    let found = crate::artifact_locations(&repo.root, &lookup);
    let etl = &found["etl"];
    assert_eq!(etl["spark-avro_2.12-3.5.1.jar"], "/srv/cache/etl/spark-avro_2.12-3.5.1.jar");
    assert_eq!(etl["only-s3.jar"], "s3://analytics/jobs/only-s3.jar");
    assert_eq!(found.len(), 1);
}
