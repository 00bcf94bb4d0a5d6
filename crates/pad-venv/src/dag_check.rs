//! The DAG integrity check: every file of `dags/` loaded by real Airflow's `DagBag`
//! (`include_examples=False`) in a tool environment whose Airflow version is pinned in
//! the repository under `deploy/airflow/<series>/requirements.txt`.

use std::collections::BTreeMap;
use std::time::Instant;

use camino::{Utf8Path, Utf8PathBuf};
use pad_process::Cmd;
use serde::{Deserialize, Serialize};

use crate::env::{Context, EnvSpec};
use crate::{Progress, VenvError, fsutil};

/// Where the Airflow versions the DAGs are checked against are pinned.
pub const AIRFLOW_PINS_DIR: &str = "deploy/airflow";
const DRIVER: &str = include_str!("dag_check.py");

/// One pinned Airflow series, such as `2.10`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AirflowPin {
    pub series: String,
    /// `deploy/airflow/<series>`, holding `requirements.txt` and its lock.
    pub dir: Utf8PathBuf,
}

/// Every series pinned in the repository at `root`, sorted.
pub fn airflow_pins(root: &Utf8Path) -> Vec<AirflowPin> {
    let Ok(entries) = root.join(AIRFLOW_PINS_DIR).read_dir_utf8() else { return Vec::new() };
    let mut pins: Vec<AirflowPin> = entries
        .flatten()
        .filter(|e| e.path().join("requirements.txt").is_file())
        .map(|e| AirflowPin { series: e.file_name().to_owned(), dir: e.path().to_owned() })
        .collect();
    pins.sort_by(|a, b| a.series.cmp(&b.series));
    pins
}

/// Variables and connections the DAGs read while they load, given to Airflow the
/// standard way (`AIRFLOW_VAR_<KEY>`, `AIRFLOW_CONN_<ID>`).
#[derive(Debug, Clone, Default)]
pub struct DagCheckOptions {
    pub variables: BTreeMap<String, String>,
    pub connections: BTreeMap<String, String>,
    /// Load the DAGs even when the same files passed with the same Airflow before.
    pub force: bool,
    /// The repository deploys into namespaces (a remote target sets `data_root`, or this
    /// run deploys into one): a DAG id that is the same in every namespace, or a literal
    /// path outside the data root, is a problem. Otherwise it is a note, so a repository
    /// that never uses namespaces (one not written for this tool) still deploys.
    pub namespaces: bool,
}

/// What Airflow made of the DAG files.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DagReport {
    #[serde(default)]
    pub series: String,
    pub airflow_version: String,
    pub dags: Vec<DagInfo>,
    pub problems: Vec<DagProblem>,
    /// The namespace findings of a repository that does not deploy into namespaces
    /// ([`DagCheckOptions::namespaces`]): worth fixing before it does, no failure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<DagProblem>,
    #[serde(default)]
    pub seconds: f64,
    /// Whether this is the result of an earlier clean check of the same inputs.
    #[serde(default)]
    pub cached: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DagInfo {
    pub dag_id: String,
    pub file: String,
    pub tasks: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DagProblem {
    pub file: String,
    /// `import error`, `duplicate dag_id`, `cycle`, `namespace collision` (the same DAG id
    /// in the plain deploy and a test namespace) or `outside data root` (a literal
    /// absolute path in an operator argument).
    pub kind: String,
    /// The exception, one line.
    pub message: String,
    /// The traceback.
    pub detail: String,
}

/// The tool environment of `pin` (`airflow-<series>`, its Airflow as pinned), built or
/// reused: the one the DAG check loads the DAGs in, and the one the local Airflow runs
/// on. Its interpreter is `<venv>/bin/python`, its `airflow` command `<venv>/bin/airflow`.
pub fn airflow_env(
    ctx: &Context,
    root: &Utf8Path,
    pin: &AirflowPin,
    progress: &dyn Progress,
) -> Result<crate::BuiltEnv, VenvError> {
    let name = format!("airflow-{}", pin.series);
    let shown_dir = pin.dir.strip_prefix(root).unwrap_or(&pin.dir);
    crate::env::build(
        ctx,
        &EnvSpec {
            name: &name,
            dir: &pin.dir,
            shown_dir,
            requirements: "requirements.txt",
            python: None,
            install_project: false,
            package: Some("airflow"),
            pack: false,
            compile_bytecode: true,
        },
        progress,
    )
}

/// Loads `dags_dir` with the Airflow of `pin`, building its tool environment first.
pub fn check_dags(
    ctx: &Context,
    root: &Utf8Path,
    pin: &AirflowPin,
    dags_dir: &Utf8Path,
    options: &DagCheckOptions,
    progress: &dyn Progress,
) -> Result<DagReport, VenvError> {
    let started = Instant::now();
    let name = format!("airflow-{}", pin.series);
    let env = airflow_env(ctx, root, pin, progress)?;

    // A clean result is kept, keyed by everything that can change it: the Airflow
    // environment, the driver, every file under dags/ (DagBag reads more than the
    // shipped ones: `.airflowignore`, helpers beside the DAGs) and the variables and
    // connections given.
    let key = result_key(&env.key, root, dags_dir, options)?;
    let cached_at = ctx.options.work_dir.join("test-results").join(format!("{name}-{key}.json"));
    if !options.force
        && let Ok(bytes) = std::fs::read(&cached_at)
        && let Ok(mut report) = serde_json::from_slice::<DagReport>(&bytes)
    {
        report.cached = true;
        report.seconds = started.elapsed().as_secs_f64();
        return Ok(report);
    }

    progress.step(&name, "load DAGs");
    let scratch = tempfile::Builder::new()
        .prefix("pad-dag-check-")
        .tempdir()
        .map_err(|source| VenvError::io(Utf8Path::new("/tmp"), source))?;
    let scratch_dir =
        Utf8Path::from_path(scratch.path()).ok_or_else(|| VenvError::NotUtf8(scratch.path().display().to_string()))?;
    let driver = scratch_dir.join("dag_check.py");
    fsutil::write_atomic(&driver, DRIVER.as_bytes())?;
    // Found after the DAG folder: a repository's own copy of the helper wins.
    fsutil::write_atomic(&scratch_dir.join("pad_runtime.py"), pad_layout::RUNTIME_HELPER.as_bytes())?;
    let out = scratch_dir.join("report.json");
    let home = scratch_dir.join("airflow-home");
    let mut cmd = Cmd::new(env.venv.join("bin/python").as_str(), scratch_dir)
        .args([driver.as_str(), dags_dir.as_str(), out.as_str()])
        .env("AIRFLOW_HOME", home.as_str())
        .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        .env("AIRFLOW__CORE__DAGS_FOLDER", dags_dir.as_str())
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for (key, value) in &options.variables {
        cmd = cmd.env(format!("AIRFLOW_VAR_{}", key.to_uppercase()), value);
    }
    for (id, uri) in &options.connections {
        cmd = cmd.env(format!("AIRFLOW_CONN_{}", id.to_uppercase()), uri);
    }
    cmd.run().map_err(|source| VenvError::Build {
        project: name.clone(),
        step: "load the DAGs with DagBag",
        source: Box::new(source),
    })?;
    let bytes = std::fs::read(&out).map_err(|source| VenvError::io(&out, source))?;
    let mut report: DagReport = serde_json::from_slice(&bytes)
        .map_err(|err| VenvError::io(&out, std::io::Error::new(std::io::ErrorKind::InvalidData, err)))?;
    report.series = pin.series.clone();
    report.seconds = started.elapsed().as_secs_f64();
    for problem in &mut report.problems {
        if let Ok(rel) = Utf8Path::new(&problem.file).strip_prefix(root) {
            problem.file = rel.to_string();
        }
    }
    for dag in &mut report.dags {
        if let Ok(rel) = Utf8Path::new(&dag.file).strip_prefix(root) {
            dag.file = rel.to_string();
        }
    }
    if !options.namespaces {
        let (notes, problems) = std::mem::take(&mut report.problems).into_iter().partition(is_namespace_finding);
        report.problems = problems;
        report.notes = notes;
    }
    if report.problems.is_empty() {
        let json = serde_json::to_vec_pretty(&report).expect("a report always serialises");
        if let Some(dir) = cached_at.parent() {
            std::fs::create_dir_all(dir).map_err(|source| VenvError::io(dir, source))?;
        }
        fsutil::write_atomic(&cached_at, &json)?;
    }
    Ok(report)
}

/// What only matters once DAGs of several namespaces share one Airflow.
fn is_namespace_finding(problem: &DagProblem) -> bool {
    matches!(problem.kind.as_str(), "namespace collision" | "outside data root")
}

/// The cache key of a DAG check (16 hex digits).
pub(crate) fn result_key(
    env_key: &str,
    root: &Utf8Path,
    dags_dir: &Utf8Path,
    options: &DagCheckOptions,
) -> Result<String, VenvError> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in [env_key, DRIVER, pad_layout::RUNTIME_HELPER, root.as_str(), dags_dir.as_str()] {
        hasher.update(part.len().to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.update(if options.namespaces { b"namespaces\n" as &[u8] } else { b"plain only\n" });
    for (kind, pairs) in [("var", &options.variables), ("conn", &options.connections)] {
        for (key, value) in pairs {
            hasher.update(format!("{kind} {} {key} {} {value}\n", key.len(), value.len()).as_bytes());
        }
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dags_dir).sort_by_file_name() {
        let entry = entry.map_err(|err| VenvError::io(dags_dir, std::io::Error::other(err)))?;
        if entry.file_type().is_file() {
            let path = Utf8Path::from_path(entry.path())
                .ok_or_else(|| VenvError::NotUtf8(entry.path().display().to_string()))?;
            files.push(path.strip_prefix(dags_dir).expect("walked from dags_dir").to_owned());
        }
    }
    fsutil::hash_files(&mut hasher, dags_dir, &files)?;
    Ok(pad_stdx::hex(&hasher.finalize())[..16].to_owned())
}
