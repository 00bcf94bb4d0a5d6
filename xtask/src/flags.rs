//! The command line: every task, its flags and their help.

use camino::Utf8PathBuf;
use clap::{Args, Parser, Subcommand};

/// Build, test, package and deploy the Airflow DAGs and pipelines of this repository.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, propagate_version = true)]
pub(crate) struct Cli {
    /// The repository to work on (default: the checkout `cargo xtask` runs in, else the
    /// current directory or its nearest parent holding dags/ and projects/).
    #[arg(long, global = true, env = "PAD_REPO", value_name = "DIR")]
    pub(crate) repo: Option<Utf8PathBuf>,
    /// More logs on stderr (-v info, -vv debug); PAD_LOG takes a full filter.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List projects, DAGs, artifacts.yaml files and deploy targets; fail on a broken layout.
    Layout(LayoutArgs),
    /// Scaffold a project (package, test, requirements) and its DAG stub.
    NewProject(NewProjectArgs),
    /// Write dags/<name>.py from each dags/<name>.dag.yaml through its templates.
    ///
    /// Every YAML is checked on its own: a broken one is reported (file, line, column and
    /// the fix) while the others still render. Generated files whose YAML is gone are
    /// removed. --check writes nothing and fails on a stale or hand-edited file.
    Render(RenderArgs),
    /// Run ruff (pinned in deploy/lint/requirements.txt, configured by ruff.toml) over
    /// dags/ and projects/, with Airflow's AIR rules; the AIR3 migration rules too when a
    /// 3.x series is pinned under deploy/airflow/.
    Lint(LintArgs),
    /// Build (or reuse) each project's Python environment and its venv.tar.gz.
    Venv(VenvArgs),
    /// Run each project's pytest suite in its environment, and load every DAG in real Airflow.
    Test(TestArgs),
    /// Build or reuse the environments, then write target/dist/platform-airflow-dags-<version>.tar.gz.
    Package(PackageArgs),
    /// Upload the package to a registry from deploy/registries.toml.
    Publish(PublishArgs),
    /// Download a published package and check its SHA-256.
    Fetch(FetchArgs),
    /// Check a package file against the manifest inside it.
    Verify(VerifyArgs),
    /// The main job: test, build the environments, package, deploy to the local target.
    ///
    /// Runs `test`, then `package`, then `deploy --target local`: deploy/local.toml, or
    /// the built-in local target (AIRFLOW_HOME, default target/airflow). Stops at the
    /// first failing step; a failed deploy leaves the previous release serving.
    DeployLocalBuild(DeployLocalBuildArgs),
    /// Deploy the package to every host of a target, in parallel, as its service user.
    ///
    /// Each host: connect (SSH host key checked), lock, read what it has, upload only the
    /// missing files, unpack into a temporary release, verify every file, smoke-test each
    /// environment, switch `current`, prune, unlock. A failure leaves the previous release
    /// serving. Without --version, --package or --from-registry it deploys the package of
    /// the current version from target/dist.
    #[command(disable_version_flag = true)]
    Deploy(DeployArgs),
    /// List the releases on each host of a target (current and previous marked).
    Releases(ReleasesArgs),
    /// Switch each host of a target back to the previous release, or to --to ID.
    Rollback(RollbackArgs),
    /// List or remove the namespaces (side-by-side deploys) on a target's hosts.
    #[command(subcommand)]
    Namespace(NamespaceCommand),
    /// Run every check CI runs: format, clippy, the unit and end-to-end tests.
    Ci(CiArgs),
    /// Show the GitLab pipelines `.gitlab-ci.yml` runs; with --check, fail on a command or
    /// flag that does not exist or a job the repository needs that is missing.
    ///
    /// The pipelines shown are those of a merge request, the default branch and a tag,
    /// with GitLab's rules applied. --check parses every `cargo xtask` call in the file
    /// with this very command line, checks `--target` and `--registry` names, `needs`,
    /// environments' stop jobs, and that the jobs the repository needs run when they
    /// must (test, package, publish; cache warm when there is an artifacts.yaml; review
    /// and production deploys when there is a remote target).
    CiConfig(CiConfigArgs),
    /// Measure the toolchain against the alternatives and print the numbers side by side.
    Bench(BenchArgs),
    /// Warm or check the artifact caches of every artifacts.yaml (or of the files given).
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Start or stop worker hosts to deploy to: containers built here (or sshd on loopback).
    Worker(WorkerArgs),
    /// Run real Airflow locally on the release deploy-local-build installed.
    ///
    /// The services run from the pinned tool environment of one series
    /// (deploy/airflow/<series>) against the local target's AIRFLOW_HOME, whose
    /// `dags -> current/dags` is the deployed release; their state, database and logs are
    /// under target/airflow-local.
    Airflow(AirflowArgs),
    /// Work with the DAGs of the deployed release in the local AIRFLOW_HOME.
    #[command(subcommand)]
    Dags(DagsCommand),
}

#[derive(Debug, Args)]
pub(crate) struct AirflowArgs {
    #[command(subcommand)]
    pub(crate) action: AirflowAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AirflowAction {
    /// Migrate the database, make sure the admin user exists, start the services and wait
    /// until they are healthy.
    ///
    /// 3.x: api-server, scheduler, dag-processor, triggerer; 2.10: webserver, scheduler,
    /// triggerer. Prints the URL, the user and the file holding the password. Already up:
    /// says so and changes nothing; a service that died is started again.
    Up(AirflowUpArgs),
    /// Stop exactly the processes `up` started (by their recorded PIDs and process groups).
    Down,
    /// Each service (pid, alive, port, health), the version, the database, the release
    /// `current` points to, and the DAGs Airflow parsed with their import errors.
    Status(AirflowStatusArgs),
    /// Stop, wipe the metadata database, logs and run history (never the releases), and
    /// migrate again.
    Reset(AirflowResetArgs),
    /// Show the services' logs.
    Logs(AirflowLogsArgs),
}

#[derive(Debug, Args)]
pub(crate) struct AirflowUpArgs {
    /// The Airflow series, as pinned under deploy/airflow/ (default: the newest).
    #[arg(long, value_name = "SERIES")]
    pub(crate) airflow: Option<String>,
    /// The metadata database: sqlite (a file, nothing to set up) or postgres (a cluster of
    /// its own under target/airflow-local, LocalExecutor: DAG runs in parallel on 2.10 too).
    #[arg(long, default_value = "sqlite", value_name = "DB")]
    pub(crate) db: pad_airflow::Db,
    /// The api-server's (3.x) or webserver's (2.10) port on 127.0.0.1 (default: a free one).
    #[arg(long, value_name = "N")]
    pub(crate) port: Option<u16>,
    /// Print JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct AirflowStatusArgs {
    /// Print JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct AirflowResetArgs {
    /// The Airflow series whose database is wiped (default: the one up, else the newest).
    #[arg(long, value_name = "SERIES")]
    pub(crate) airflow: Option<String>,
    /// The database to migrate again: sqlite or postgres.
    #[arg(long, default_value = "sqlite", value_name = "DB")]
    pub(crate) db: pad_airflow::Db,
}

#[derive(Debug, Args)]
pub(crate) struct AirflowLogsArgs {
    /// One service (scheduler, triggerer, dag-processor, api-server, webserver, postgres);
    /// default: all.
    pub(crate) service: Option<String>,
    /// Keep showing what is appended, until interrupted.
    #[arg(short, long)]
    pub(crate) follow: bool,
    /// How many lines of each log to show first.
    #[arg(short = 'n', long, default_value_t = 50)]
    pub(crate) lines: usize,
    /// The Airflow series (default: the one up, else the newest).
    #[arg(long, value_name = "SERIES")]
    pub(crate) airflow: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DagsCommand {
    /// Run one DAG once (`airflow dags test`) on the deployed release, without `airflow up`.
    ///
    /// Prints each task's final state and a failed task's log tail; exits non-zero
    /// unless the run succeeded. Says so when the working tree differs from the deployed
    /// release (or deploys first with --build).
    Test(DagsTestArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DagsTestArgs {
    /// The DAG to run.
    pub(crate) dag_id: String,
    /// The logical date of the run (default: now).
    #[arg(long, value_name = "D")]
    pub(crate) date: Option<String>,
    /// The run's configuration, a JSON object.
    #[arg(long, value_name = "JSON")]
    pub(crate) conf: Option<String>,
    /// An Airflow Variable for the run (AIRFLOW_VAR_<KEY>).
    #[arg(long, value_name = "K=V")]
    pub(crate) var: Vec<String>,
    /// An Airflow Connection for the run (AIRFLOW_CONN_<ID>).
    #[arg(long, value_name = "ID=URI")]
    pub(crate) conn: Vec<String>,
    /// The Airflow series (default: the one up, else the newest).
    #[arg(long, value_name = "SERIES")]
    pub(crate) airflow: Option<String>,
    /// Run deploy-local-build first.
    #[arg(long)]
    pub(crate) build: bool,
    /// Print JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CiConfigArgs {
    /// Fail, naming the line and the fix, on every problem of the file.
    #[arg(long)]
    pub(crate) check: bool,
    /// Print JSON on stdout: the jobs of each pipeline and the problems.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct VenvArgs {
    /// Projects to build (default: all).
    pub(crate) projects: Vec<String>,
    /// Fail when a lock file is stale instead of updating it (for CI).
    #[arg(long)]
    pub(crate) locked: bool,
    /// Rebuild even when an environment with the same key exists.
    #[arg(long)]
    pub(crate) force: bool,
    /// Print JSON on stdout: per project its key, reused or built, seconds, size and path.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PackageArgs {
    /// Fail when a lock file is stale instead of updating it (for CI).
    #[arg(long)]
    pub(crate) locked: bool,
    /// Where to write the package (default: target/dist).
    #[arg(long, value_name = "DIR")]
    pub(crate) out_dir: Option<Utf8PathBuf>,
    /// Print JSON on stdout: path, version, commit, size, sha256, inputs hash, reused.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// The registry, by its name in deploy/registries.toml (default: the only one, or the
    /// one named `default`).
    #[arg(long, value_name = "NAME")]
    pub(crate) registry: Option<String>,
    /// Replace the same version when it is there with a different SHA-256.
    #[arg(long)]
    pub(crate) force: bool,
    /// Upload this package file instead of building (or reusing) the current one.
    #[arg(long, value_name = "FILE")]
    pub(crate) file: Option<Utf8PathBuf>,
    /// Fail when a lock file is stale instead of updating it (for CI).
    #[arg(long)]
    pub(crate) locked: bool,
    /// Print JSON on stdout: registry, location, version, sha256 and what happened.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    /// The version to download, e.g. `main-1a2b3c4` or a tag.
    #[arg(value_name = "VERSION")]
    pub(crate) package_version: String,
    /// The registry, by its name in deploy/registries.toml.
    #[arg(long, value_name = "NAME")]
    pub(crate) registry: Option<String>,
    /// Where to put the package (default: target/dist).
    #[arg(long, value_name = "DIR")]
    pub(crate) out_dir: Option<Utf8PathBuf>,
    /// Print JSON on stdout: path, size, sha256.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The package file.
    pub(crate) file: Utf8PathBuf,
    /// Print JSON on stdout: files, bytes, problems.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    #[command(subcommand)]
    pub(crate) target: BenchTarget,
}

#[derive(Debug, Subcommand)]
pub(crate) enum BenchTarget {
    /// Environments: ours (cold, warm, unchanged) against the pip flow, and packing against tar.
    ///
    /// On the image-matching project and a larger set (numpy, pandas, scikit-learn, pytest):
    /// `cargo xtask venv` with an empty uv cache, with a warm one, and unchanged; against
    /// `python -m venv`, `pip install -r` and `venv-pack`; and our packing against
    /// `tar -czf` and `tar -I pigz -cf` on the same environment. Works in target/bench/venv/
    /// (wiped first), downloads from PyPI and takes minutes.
    Venv(BenchVenvArgs),
    /// Packages: `cargo xtask package` against `tar -czf` and `tar -I pigz -cf` on the same
    /// files (the repository's shipped files and each project's venv.tar.gz), what a user
    /// would run; and like for like, the peer storing the nested archives too (tar through
    /// gzip or pigz, the venv.tar.gz files through `pigz -0`). With sizes, ratios and a
    /// byte-for-byte reproducibility check. Builds the environments first if needed; works
    /// in target/bench/package/ (wiped first).
    Package(BenchPackageArgs),
    /// Artifact caches: `cache status` over 1,000 warm artifacts and `cache warm` of 200
    /// missing ones (1–20 MB) from a local Maven repository (nginx) into a directory, ours
    /// with `--jobs N` and `--jobs 1`, against a sequential `curl` + `cp` loop doing the
    /// same copies and the same loop `N` at a time (`xargs -P N`); with peak memory.
    /// Works in target/bench/cache/ (wiped first) and takes several minutes.
    Cache(BenchCacheArgs),
    /// Deploys: ours (first, no-op redeploy, a DAG-only change) against the PoC's way
    /// (`scp` the whole archive, then `ssh … sudo -u … tar -xzf` over the old directories)
    /// on one worker host started for it, with times, bytes moved and ratios (the no-op
    /// both in process and as a `deploy` process); and `deploy-local-build` on an
    /// unchanged tree. Works in target/bench/deploy/ (wiped
    /// first); stops the worker at the end.
    Deploy(BenchDeployArgs),
    /// YAML DAGs: `render` and `render --check` of 500 generated YAML DAGs, and Airflow's
    /// DagBag parsing the 500 generated files, against dag-factory (from PyPI, in a
    /// bench-only environment of the pinned Airflow 2.10) building the same 500 DAGs from
    /// its YAML when the DagBag parses. Works in target/bench/render/ (wiped first).
    Render(BenchRenderArgs),
    /// The whole flow: `deploy-local-build` (cold, unchanged, after a DAG-only edit)
    /// against the PoC's (per project `python -m venv`, `pip install`, pytest,
    /// `venv-pack`, then `tar -czf` of the repository and its untar into an AIRFLOW_HOME)
    /// on a copy of this repository. Cold: project environments and results removed, tool
    /// environments (Airflow, ruff) kept. Works in target/bench/flow/ (wiped first).
    Flow(BenchFlowArgs),
    /// The local Airflow: `airflow up` to healthy against `airflow standalone` in the same
    /// tool environment, and a DAG edit until Airflow shows it (`deploy-local-build` and
    /// the refresh, services running) against the PoC's copy-then-restart, with ratios.
    /// Works in target/bench/airflow/ (wiped first) and takes a few minutes.
    Airflow(BenchAirflowArgs),
}

#[derive(Debug, Args)]
pub(crate) struct BenchAirflowArgs {
    /// The Airflow series, as pinned under deploy/airflow/.
    #[arg(long, value_name = "SERIES", default_value = "3.3")]
    pub(crate) airflow: String,
    /// Print the results as JSON on stdout instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct BenchDeployArgs {
    /// Times the no-op redeploy and the PoC's repeated run this many times (the median).
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) runs: u32,
    /// Print the results as JSON on stdout instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct BenchPackageArgs {
    /// Times each packer this many times and reports the median.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) runs: u32,
    /// Print the results as JSON on stdout instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct BenchFlowArgs {
    /// Print the results as JSON on stdout instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct BenchRenderArgs {
    /// How many YAML DAGs to generate.
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) dags: u32,
    /// Times each step this many times and reports the median.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) runs: u32,
    /// Print the results as JSON on stdout instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct BenchVenvArgs {
    /// Only this requirement set: `image-matching` (the project) or `bench-large`
    /// (numpy, pandas, scikit-learn, pytest). Repeatable; default: both.
    #[arg(long = "set", value_name = "SET")]
    pub(crate) sets: Vec<String>,
    /// Times each packing this many times and reports the median.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) pack_runs: u32,
    /// Print the results as JSON on stdout instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Internal: build PROJECT of --repo in PAD_TARGET_DIR and time its packing step.
    #[arg(long, hide = true, value_name = "PROJECT")]
    pub(crate) pack_probe: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct LayoutArgs {
    /// Print JSON on stdout instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RenderArgs {
    /// Write nothing; fail when a generated file is missing, stale or edited by hand.
    #[arg(long, conflicts_with = "schema")]
    pub(crate) check: bool,
    /// Print the JSON Schema of the YAML DAG format (this repository's task types
    /// included) for editors, and render nothing.
    #[arg(long)]
    pub(crate) schema: bool,
    /// Print JSON on stdout: every generated file and its status, and every problem.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct NewProjectArgs {
    /// The project's name: lowercase letters, digits and `-`, starting with a letter.
    pub(crate) name: String,
    /// Print JSON on stdout instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// Projects to test (default: all). The DAG check always covers all of dags/.
    pub(crate) projects: Vec<String>,
    /// Write JUnit XML reports into DIR: <project>.xml, dags-airflow-<series>.xml and lint.xml.
    #[arg(long, value_name = "DIR")]
    pub(crate) junit: Option<Utf8PathBuf>,
    /// Rerun tests whose inputs have not changed since they last passed.
    #[arg(long)]
    pub(crate) force: bool,
    /// Fail when a lock file is stale instead of updating it (for CI).
    #[arg(long)]
    pub(crate) locked: bool,
    /// Only these pinned Airflow series (as named under deploy/airflow/), such as 2.10.
    #[arg(long, value_name = "SERIES")]
    pub(crate) airflow: Vec<String>,
    /// An Airflow Variable the DAGs read while loading (AIRFLOW_VAR_<KEY>).
    #[arg(long, value_name = "KEY=VALUE")]
    pub(crate) var: Vec<String>,
    /// An Airflow Connection the DAGs read while loading (AIRFLOW_CONN_<ID>).
    #[arg(long, value_name = "ID=URI")]
    pub(crate) conn: Vec<String>,
    /// Skip the DAG check.
    #[arg(long)]
    pub(crate) no_dags: bool,
    /// Skip ruff (`cargo xtask lint`).
    #[arg(long)]
    pub(crate) no_lint: bool,
    /// Print JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
    /// After the run, print on stderr when each step began and how long it ran.
    #[arg(long)]
    pub(crate) timings: bool,
}

#[derive(Debug, Args)]
pub(crate) struct LintArgs {
    /// Apply ruff's safe fixes (never its unsafe ones), then report what is left.
    #[arg(long)]
    pub(crate) fix: bool,
    /// Fail when the lock of the pinned ruff is stale instead of updating it (for CI).
    #[arg(long)]
    pub(crate) locked: bool,
    /// Write JUnit XML (lint.xml) into DIR.
    #[arg(long, value_name = "DIR")]
    pub(crate) junit: Option<Utf8PathBuf>,
    /// Print JSON on stdout: ruff's version, the rules added, every finding.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DeployLocalBuildArgs {
    /// Fail when a lock file is stale instead of updating it (for CI).
    #[arg(long)]
    pub(crate) locked: bool,
    /// Work in this namespace: its own releases, `current`, lock and data root, beside
    /// the plain deploy on the same hosts (lowercase letters, digits, `-`; at most 40).
    /// `auto`: CI_COMMIT_REF_SLUG, sanitized, else the short SHA of HEAD.
    #[arg(long, env = "PAD_NAMESPACE", value_name = "NS")]
    pub(crate) namespace: Option<String>,
    /// The test data profile the runtime helper reports.
    #[arg(long, value_name = "NAME")]
    pub(crate) data_profile: Option<String>,
    /// An Airflow Variable the DAGs read while loading in the test step (KEY=VALUE).
    #[arg(long, value_name = "KEY=VALUE")]
    pub(crate) var: Vec<String>,
    /// An Airflow Connection the DAGs read while loading in the test step (ID=URI).
    #[arg(long, value_name = "ID=URI")]
    pub(crate) conn: Vec<String>,
    /// After the run, print on stderr when each step began and how long it ran.
    #[arg(long)]
    pub(crate) timings: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CiArgs {
    /// Do not install missing system packages; fail with the command that would.
    #[arg(long)]
    pub(crate) no_provision: bool,
}

#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    #[command(subcommand)]
    pub(crate) action: WorkerAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum WorkerAction {
    /// Start worker hosts and write a deploy target for them (its path on stdout).
    ///
    /// Each worker is a container of an image built here with debootstrap (once per
    /// recipe), on a private Docker network, with the login user `deployer` (key only),
    /// the service user `airflow-svc`, the rule `deployer ALL=(airflow-svc) NOPASSWD: ALL`
    /// and AIRFLOW_HOME=/srv/airflow. Without a Docker engine, or with
    /// PAD_WORKER_BACKEND=sshd, each is an sshd on 127.0.0.2, 127.0.0.3, … The target
    /// file is target/worker/deploy/workers.toml: copy it to deploy/ to deploy there.
    Up(WorkerUpArgs),
    /// Stop the workers `worker up` started (by the container IDs in target/worker/state.json).
    Down,
    /// Build the worker image if its recipe changed, and print its tag.
    Image,
}

#[derive(Debug, Args)]
pub(crate) struct WorkerUpArgs {
    /// How many workers.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=50))]
    pub(crate) count: u16,
    /// Leave out the sudo rule, so `sudo -n -u airflow-svc` is refused.
    #[arg(long)]
    pub(crate) no_sudo_rule: bool,
    /// Make AIRFLOW_HOME a tmpfs of this size (such as 8m), to see a full disk.
    #[arg(long, value_name = "SIZE")]
    pub(crate) airflow_home_tmpfs: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CacheCommand {
    /// Show per artifact and cache: present, missing or wrong (existence and the stored
    /// sha256 only, no download). Exits 1 unless everything is warm.
    Status(CacheStatusArgs),
    /// Copy every artifact that is missing or wrong into its caches, each source read
    /// once. Exits 1 if any artifact failed.
    Warm(CacheWarmArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CacheStatusArgs {
    /// artifacts.yaml files to read together (default: every one in the repository).
    pub(crate) files: Vec<Utf8PathBuf>,
    /// How many artifacts are checked at once.
    #[arg(long, short, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) jobs: u16,
    /// Print JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CacheWarmArgs {
    /// artifacts.yaml files to read together (default: every one in the repository).
    pub(crate) files: Vec<Utf8PathBuf>,
    /// How many artifacts are copied at once.
    #[arg(long, short, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) jobs: u16,
    /// Copy even what is present and right.
    #[arg(long)]
    pub(crate) force: bool,
    /// Print JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct BenchCacheArgs {
    /// How many missing artifacts `warm` copies.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub(crate) artifacts: usize,
    /// How many warm artifacts `status` checks.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub(crate) status_artifacts: usize,
    /// `cache warm --jobs`.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub(crate) jobs: u16,
    /// Print the results as JSON on stdout instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    /// The target: deploy/<NAME>.toml, or `local`.
    #[arg(long, value_name = "NAME")]
    pub(crate) target: String,
    /// Deploy target/dist/platform-airflow-dags-<V>.tar.gz.
    #[arg(long, value_name = "V", conflicts_with_all = ["package", "from_registry"])]
    pub(crate) version: Option<String>,
    /// Deploy this package file.
    #[arg(long, value_name = "FILE", conflicts_with = "from_registry")]
    pub(crate) package: Option<Utf8PathBuf>,
    /// Fetch version V from the target's registry first.
    #[arg(long, value_name = "V")]
    pub(crate) from_registry: Option<String>,
    /// The registry for --from-registry, instead of the target's `registry`.
    #[arg(long, value_name = "NAME", requires = "from_registry")]
    pub(crate) registry: Option<String>,
    /// Trust and record the host key of a host known_hosts does not list yet.
    #[arg(long)]
    pub(crate) accept_new_host_key: bool,
    /// How many hosts may fail before no host keeps the new release (hosts that switched
    /// are switched back).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) failure_limit: usize,
    /// Wait up to this many seconds for a lock another deploy holds.
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub(crate) lock_wait: u64,
    /// Take a host that answers nothing for this many seconds as lost (at least 5: a
    /// busy host answers every 2 s).
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(5..))]
    pub(crate) io_timeout: u64,
    /// Hash every file of a release already on a host. By default one that passed a full
    /// check is taken as intact while each file's size, mtime and inode are unchanged.
    #[arg(long)]
    pub(crate) full_verify: bool,
    /// Print JSON on stdout: per host its state, release, bytes uploaded and step times.
    #[arg(long)]
    pub(crate) json: bool,
    /// Work in this namespace: its own releases, `current`, lock and data root, beside
    /// the plain deploy on the same hosts (lowercase letters, digits, `-`; at most 40).
    /// `auto`: CI_COMMIT_REF_SLUG, sanitized, else the short SHA of HEAD.
    #[arg(long, env = "PAD_NAMESPACE", value_name = "NS")]
    pub(crate) namespace: Option<String>,
    /// The test data profile the runtime helper reports: `data_path` finds inputs in
    /// projects/<p>/fixtures/<NAME>/ first.
    #[arg(long, value_name = "NAME")]
    pub(crate) data_profile: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ReleasesArgs {
    /// The target: deploy/<NAME>.toml, or `local`.
    #[arg(long, value_name = "NAME")]
    pub(crate) target: String,
    /// Print JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
    /// Work in this namespace: its own releases, `current`, lock and data root, beside
    /// the plain deploy on the same hosts (lowercase letters, digits, `-`; at most 40).
    /// `auto`: CI_COMMIT_REF_SLUG, sanitized, else the short SHA of HEAD.
    #[arg(long, env = "PAD_NAMESPACE", value_name = "NS")]
    pub(crate) namespace: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RollbackArgs {
    /// The target: deploy/<NAME>.toml, or `local`.
    #[arg(long, value_name = "NAME")]
    pub(crate) target: String,
    /// The release to switch to (default: the one before the current one).
    #[arg(long, value_name = "ID")]
    pub(crate) to: Option<String>,
    /// Work in this namespace: its own releases, `current`, lock and data root, beside
    /// the plain deploy on the same hosts (lowercase letters, digits, `-`; at most 40).
    /// `auto`: CI_COMMIT_REF_SLUG, sanitized, else the short SHA of HEAD.
    #[arg(long, env = "PAD_NAMESPACE", value_name = "NS")]
    pub(crate) namespace: Option<String>,

    /// Wait up to this many seconds for a lock another deploy holds.
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub(crate) lock_wait: u64,
    /// Hash every file of a release already on a host. By default one that passed a full
    /// check is taken as intact while each file's size, mtime and inode are unchanged.
    #[arg(long)]
    pub(crate) full_verify: bool,
    /// Print JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum NamespaceCommand {
    /// Each namespace on each host (`prod` is the plain deploy): release, age, size.
    List(NamespaceListArgs),
    /// Remove a namespace (its DAG link, releases and `current`; never a data root), or
    /// every namespace not deployed for --older-than. The plain deploy is never removed.
    Rm(NamespaceRmArgs),
}

#[derive(Debug, Args)]
pub(crate) struct NamespaceListArgs {
    /// The target: deploy/<NAME>.toml, or `local`.
    #[arg(long, value_name = "NAME")]
    pub(crate) target: String,
    /// Print JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct NamespaceRmArgs {
    /// The namespace to remove; `auto`: the one `deploy --namespace auto` chose
    /// (CI_COMMIT_REF_SLUG, sanitized and cut to 40, else the short SHA of HEAD).
    #[arg(value_name = "NS", required_unless_present = "older_than", conflicts_with = "older_than")]
    pub(crate) name: Option<String>,
    /// Remove every namespace whose last deploy is older than this: `90m`, `12h`, `7d`, `2w`.
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub(crate) older_than: Option<std::time::Duration>,
    /// The target: deploy/<NAME>.toml, or `local`.
    #[arg(long, value_name = "NAME")]
    pub(crate) target: String,
    /// Wait up to this many seconds for a deploy of the namespace to finish.
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub(crate) lock_wait: u64,
    /// Print JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `30s`, `90m`, `12h`, `7d`, `2w`.
pub(crate) fn parse_age(text: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("`{text}` is not an age: write a number and a unit, such as 12h or 7d (units s, m, h, d, w)");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    n.checked_mul(secs).map(std::time::Duration::from_secs).ok_or_else(bad)
}
