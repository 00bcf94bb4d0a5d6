//! `cargo xtask bench deploy`: our deploy (first, no-op, DAG-only change, a second
//! namespace that differs by one DAG) against the PoC's way (`scp` the whole archive, then `ssh … sudo -u … tar -xzf` over the old
//! directories) on the same worker host, and `deploy-local-build` on an unchanged tree.
//!
//! Everything happens in `target/bench/deploy/` (wiped first): the packages, a scratch
//! repository holding only the worker's target file (`repo/deploy/bench.toml`), and the
//! `AIRFLOW_HOME` of the `deploy-local-build` runs. One worker is started with
//! `pad_testkit::worker` and torn down at the end, also on an error.

use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use camino::{Utf8Path, Utf8PathBuf};
use pad_deploy::{DeployReport, HostState};
use pad_process::{Cmd, shell_quote};
use pad_testkit::worker::{self, Backend, Worker, WorkerSet};
use serde::Serialize;

use super::{Target, median, note, print_targets, timed, tool_version};
use crate::flags::BenchDeployArgs;
use crate::progress::Steps;
use pad_stdx::human_size;

/// The target's name in the scratch repository.
const TARGET: &str = "bench";
/// What the DAG-only change appends to one DAG file.
const DAG_EDIT: &str = "# bench deploy: a DAG-only change\n";
/// What the second namespace's package appends to the same DAG file instead.
const NS_EDIT: &str = "# bench deploy: the review namespace's change\n";
/// The second namespace.
const NAMESPACE: &str = "bench-review";
/// Where the PoC's way copies the archive on the worker.
const POC_ARCHIVE: &str = "/tmp/pkg.tar.gz";
/// The allowance over the changed bytes a DAG-only change may move.
const DAG_SLACK: u64 = 64 * 1024;

#[derive(Serialize)]
struct Report {
    package: PackageInfo,
    dag_change: DagChange,
    rows: Vec<Row>,
    targets: Vec<Target>,
    notes: Vec<String>,
    machine: Machine,
}

#[derive(Serialize)]
struct PackageInfo {
    path: Utf8PathBuf,
    size: u64,
    files: usize,
    projects: Vec<String>,
}

#[derive(Serialize)]
struct DagChange {
    /// The DAG file changed, as the package holds it.
    file: Utf8PathBuf,
    /// Its size after the change.
    file_bytes: u64,
    /// Bytes that differ from the original (appended).
    changed_bytes: u64,
}

#[derive(Serialize)]
struct Row {
    step: String,
    /// Wall time; the median of `runs` when the step was repeated.
    seconds: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    runs: Vec<f64>,
    /// Bytes sent to the host (ours: `bytes_uploaded`, gzipped tar on the wire; the
    /// PoC's way: the archive); `None` for a local deploy.
    bytes_moved: Option<u64>,
    /// Where the time went: our deploy's steps (of the last run), or scp and unpack.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    parts: Vec<Part>,
    /// Our deploy's store figures (of the last run).
    #[serde(skip_serializing_if = "Option::is_none")]
    deploy: Option<DeployFigures>,
}

#[derive(Serialize)]
struct Part {
    name: String,
    seconds: f64,
}

#[derive(Serialize)]
struct DeployFigures {
    state: HostState,
    release_id: String,
    objects_uploaded: usize,
    /// The uploaded files' size before compression.
    object_bytes: u64,
    objects_reused: usize,
}

#[derive(Serialize)]
struct Machine {
    nproc: usize,
    xtask_profile: &'static str,
    worker_backend: Backend,
    ssh: Option<String>,
}

/// Stops the worker set when dropped, also when the benchmark fails part way.
struct WorkerGuard {
    set: WorkerSet,
    poc_home: String,
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        note(&format!("stopping worker set {}", self.set.id));
        // The sshd fallback shares this machine's /tmp and /srv: leave nothing there.
        if let Some(worker) = self.set.workers.first() {
            let _ = worker.exec_root(&format!("rm -rf {} {POC_ARCHIVE}", shell_quote(&self.poc_home)));
        }
        if let Err(err) = self.set.stop() {
            eprintln!("warning: tearing down worker set {}: {}", self.set.id, pad_layout::error_chain(&err));
        }
    }
}

pub(crate) fn run(root: &Utf8Path, args: &BenchDeployArgs) -> Result<ExitCode> {
    let runs = args.runs as usize;
    note("building (or reusing) the environments");
    let pad_flow::Prepared { spec, dist } = pad_flow::prepare(&crate::workspace(root), false, &Steps::new())?;
    let scratch = dist.parent().context("the target directory")?.join("bench/deploy");
    if scratch.exists() {
        note(&format!("wiping {scratch}"));
        std::fs::remove_dir_all(&scratch).with_context(|| format!("removing {scratch}"))?;
    }
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {scratch}"))?;

    note("writing the package and the DAG-only change");
    let base = pad_bundle::write_package(&spec, &scratch.join("package"))?;
    let dag = spec
        .files
        .iter()
        .position(|f| f.archive_path.starts_with("dags") && f.archive_path.extension() == Some("py"))
        .context("the example repository has no DAG file under dags/ to change")?;
    let original = std::fs::read(&spec.files[dag].src).with_context(|| format!("reading {}", spec.files[dag].src))?;
    let edited = |edit: &str, name: &str| -> Result<(pad_bundle::Package, Vec<u8>)> {
        let mut changed_spec = spec.clone();
        let src = scratch.join(name).join(spec.files[dag].archive_path.file_name().expect("a file name"));
        std::fs::create_dir_all(src.parent().expect("a parent"))?;
        let mut changed = original.clone();
        changed.extend_from_slice(edit.as_bytes());
        std::fs::write(&src, &changed).with_context(|| format!("writing {src}"))?;
        changed_spec.files[dag].src = src;
        Ok((pad_bundle::write_package(&changed_spec, &scratch.join(format!("package-{name}")))?, changed))
    };
    let (dag_package, changed) = edited(DAG_EDIT, "dag-change")?;
    let (ns_package, _) = edited(NS_EDIT, "namespace")?;
    let dag_change = DagChange {
        file: spec.files[dag].archive_path.clone(),
        file_bytes: changed.len() as u64,
        changed_bytes: DAG_EDIT.len() as u64,
    };

    let backend = Backend::detect()?;
    let work = crate::workspace(root).target_dir.join("worker");
    if backend == Backend::Docker {
        note("building (or reusing) the worker image");
        let image = worker::ensure_image(&work)?;
        if image.built {
            note(&format!("built the worker image {} in {:.1} s", image.tag, image.seconds));
        }
    }
    note(&format!("starting one worker ({backend:?})"));
    let options = worker::Options { count: 1, sudo_rule: true, airflow_home_tmpfs: None, backend, persistent: false };
    let set = worker::start(&work, &options)?;
    let poc_home = format!("{}-poc", set.workers[0].airflow_home);
    let guard = WorkerGuard { set, poc_home };
    let host = guard.set.workers[0].clone();

    // A repository holding only the target file, read by the same parser as deploy/*.toml.
    let repo_dir = scratch.join("repo");
    for dir in ["dags", "projects", "deploy"] {
        std::fs::create_dir_all(repo_dir.join(dir))?;
    }
    let toml = repo_dir.join(format!("deploy/{TARGET}.toml"));
    let data_root = format!("data_root = \"{}/data/${{namespace}}\"\n", guard.set.workers[0].airflow_home);
    std::fs::write(&toml, guard.set.target_toml(TARGET) + &data_root).with_context(|| format!("writing {toml}"))?;
    note(&format!("target file {toml}"));
    let repo = pad_layout::discover(&repo_dir)?;
    let target = repo.target(TARGET).context("the scratch repository lost its target")?;

    let mut rows = Vec::new();
    note("ours: first deploy");
    let (report, seconds) = timed(|| deploy(root, target, &base.path, None));
    rows.push(ours_row("ours: first deploy", seconds, Vec::new(), &report?));

    let mut noop_runs = Vec::new();
    let mut last = None;
    for run in 0..runs {
        note(&format!("ours: no-op redeploy, run {} of {runs}", run + 1));
        let (report, seconds) = timed(|| deploy(root, target, &base.path, None));
        noop_runs.push(seconds);
        last = Some(report?);
    }
    let noop = median(&noop_runs);
    rows.push(ours_row("ours: no-op redeploy", noop, noop_runs, &last.expect("at least one run")));

    // The same no-op as a user runs it: `cargo xtask deploy`, a process of its own that
    // starts, reads the repository and connects, as the PoC's way pays for its scp and ssh.
    let process_row = deploy_process_runs(root, &repo_dir, &base.path, runs, false)?;
    let noop_process = process_row.seconds;
    rows.push(process_row);
    let through_cargo = deploy_process_runs(root, &repo_dir, &base.path, runs, true)?;
    let noop_cargo = through_cargo.seconds;
    rows.push(through_cargo);

    note("ours: DAG-only change");
    let (report, seconds) = timed(|| deploy(root, target, &dag_package.path, None));
    let dag_row = ours_row("ours: DAG-only change", seconds, Vec::new(), &report?);
    let dag_bytes = dag_row.bytes_moved.unwrap_or_default();
    let dag_seconds = dag_row.seconds;
    rows.push(dag_row);

    note(&format!("ours: a second namespace ({NAMESPACE}) that differs by one DAG"));
    let (report, seconds) = timed(|| deploy(root, target, &ns_package.path, Some(NAMESPACE)));
    let ns_row = ours_row(&format!("ours: namespace {NAMESPACE}, one DAG differs"), seconds, Vec::new(), &report?);
    let ns_bytes = ns_row.bytes_moved.unwrap_or_default();
    let ns_seconds = ns_row.seconds;
    rows.push(ns_row);

    let projects: Vec<String> = spec.projects.iter().map(|p| p.name.clone()).collect();
    host.exec_root(&format!(
        "mkdir -p {home} && chown {user} {home}",
        home = shell_quote(&guard.poc_home),
        user = worker::SERVICE_USER
    ))?
    .status
    .success()
    .then_some(())
    .with_context(|| format!("creating {} on the worker", guard.poc_home))?;
    note("the PoC's way: first run");
    let first = poc_deploy(&host, &scratch, &base.path, &guard.poc_home, &projects)?;
    rows.push(poc_row("PoC: scp + ssh tar -xzf, first", vec![first], base.size));
    let mut repeated = Vec::new();
    for run in 0..runs {
        note(&format!("the PoC's way: repeated run {} of {runs}", run + 1));
        repeated.push(poc_deploy(&host, &scratch, &base.path, &guard.poc_home, &projects)?);
    }
    let poc_repeated = poc_row("PoC: scp + ssh tar -xzf, repeated", repeated, base.size);
    let poc_seconds = poc_repeated.seconds;
    rows.push(poc_repeated);
    drop(guard);

    let mut notes = Vec::new();
    let local = deploy_local_build(root, &scratch, &mut notes)?;
    if let Some(row) = local {
        rows.push(row);
    }

    let mut targets = vec![
        Target {
            target: "no-op redeploy >= 20x faster than the PoC's way (ours in process)",
            measured: format!("{:.1}x ({:.2} s vs {:.2} s repeated)", poc_seconds / noop, noop, poc_seconds),
            met: Some(poc_seconds / noop >= 20.0),
        },
        Target {
            target: "no-op redeploy >= 20x faster than the PoC's way (ours as a `cargo xtask deploy` process)",
            measured: format!(
                "{:.1}x ({:.2} s vs {:.2} s repeated)",
                poc_seconds / noop_process,
                noop_process,
                poc_seconds
            ),
            met: Some(poc_seconds / noop_process >= 20.0),
        },
        Target {
            target: "no-op redeploy >= 20x faster than the PoC's way (ours typed as `cargo xtask deploy`, cargo's start included)",
            measured: format!(
                "{:.1}x ({:.2} s vs {:.2} s repeated)",
                poc_seconds / noop_cargo,
                noop_cargo,
                poc_seconds
            ),
            met: Some(poc_seconds / noop_cargo >= 20.0),
        },
    ];
    let allowed = dag_change.changed_bytes + DAG_SLACK;
    targets.push(Target {
        target: "DAG-only change moves <= changed bytes + 64 KiB",
        measured: format!("{dag_bytes} B vs {} + {DAG_SLACK} = {allowed} B", dag_change.changed_bytes),
        met: Some(dag_bytes <= allowed),
    });
    targets.push(Target {
        target: "DAG-only change < 1 s (ours vs the PoC's way, repeated)",
        measured: format!(
            "{dag_seconds:.2} s; {:.1}x the no-op's {noop:.2} s; the PoC's way {poc_seconds:.2} s = {:.1}x ours",
            dag_seconds / noop,
            poc_seconds / dag_seconds
        ),
        met: Some(dag_seconds < 1.0),
    });
    let ns_allowed = NS_EDIT.len() as u64 + DAG_SLACK;
    targets.push(Target {
        target: "second namespace, one DAG differs: moves <= changed bytes + 64 KiB, < 1 s",
        measured: format!(
            "{ns_bytes} B (allowed {ns_allowed} B); {ns_seconds:.2} s = {:.1}x the no-op's {noop:.2} s; \
             the PoC's way (a full copy) {poc_seconds:.2} s = {:.1}x ours",
            ns_seconds / noop,
            poc_seconds / ns_seconds
        ),
        met: Some(ns_bytes <= ns_allowed && ns_seconds < 1.0),
    });
    let local_row = rows.iter().find(|r| r.step.starts_with("deploy-local-build"));
    targets.push(Target {
        target: "deploy-local-build, unchanged tree, <= 1 s",
        measured: local_row.map_or_else(|| "not measured (see notes)".to_owned(), |r| format!("{:.2} s", r.seconds)),
        met: local_row.map(|r| r.seconds <= 1.0),
    });
    notes.push(format!(
        "ours = pad_deploy::deploy in process over SSH (ssh2) to one worker, wall time, except the row \
         `as a process` (this binary run as `deploy --target {TARGET} --package …`, what `cargo xtask deploy` \
         runs once built) and the row `cargo xtask deploy` (the same typed through cargo: its start and \
         freshness check included), process start to exit; the PoC's way = \
         system scp of the archive to {POC_ARCHIVE}, then ssh + sudo -n -u {} sh -c 'rm -rf dags projects, \
         tar -xzf, tar -xzf each venv.tar.gz' in a directory beside AIRFLOW_HOME",
        worker::SERVICE_USER
    ));

    let report = Report {
        package: PackageInfo { path: base.path.clone(), size: base.size, files: spec.files.len(), projects },
        dag_change,
        rows,
        targets,
        notes,
        machine: Machine {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            xtask_profile: if cfg!(debug_assertions) { "debug" } else { "release" },
            worker_backend: backend,
            ssh: tool_version(&Cmd::new("ssh", &scratch).arg("-V")),
        },
    };
    if args.json {
        crate::print_json(&report)?;
    } else {
        print_text(&report);
    }
    Ok(ExitCode::SUCCESS)
}

/// The no-op redeploy of `package` as a child process (`deploy --target … --package …`
/// in the scratch repository): this binary, or with `through_cargo` the command a user
/// types, `cargo xtask deploy …` in this workspace (cargo's start and freshness check
/// included); `runs` times after one run that is not counted; the row has their median.
fn deploy_process_runs(
    root: &Utf8Path,
    repo: &Utf8Path,
    package: &Utf8Path,
    runs: usize,
    through_cargo: bool,
) -> Result<Row> {
    let exe = std::env::current_exe().context("finding this program")?;
    let exe = Utf8PathBuf::from_path_buf(exe).map_err(|p| anyhow::anyhow!("{} is not UTF-8", p.display()))?;
    let target_dir = crate::workspace(root).target_dir;
    let args = ["--repo", repo.as_str(), "deploy", "--target", TARGET, "--package", package.as_str()];
    let (cmd, step) = if through_cargo {
        let cmd = pad_testkit::cargo(root).arg("xtask").args(args);
        (cmd, "ours: no-op redeploy, `cargo xtask deploy`")
    } else {
        (Cmd::new(exe.as_str(), repo).args(args), "ours: no-op redeploy, as a process")
    };
    let cmd = cmd.env(pad_layout::EnvVars::PAD_TARGET_DIR, target_dir.as_str());
    let mut times = Vec::new();
    for run in 0..=runs {
        note(&format!("{step}: run {run} of {runs} (run 0 is not counted)"));
        let (finished, seconds) = timed(|| cmd.run_unchecked());
        let finished = finished?;
        if !finished.status.success() {
            bail!("`{cmd}` failed:\n{}{}", finished.stdout, finished.stderr);
        }
        if run > 0 {
            times.push(seconds);
        }
    }
    Ok(Row {
        step: step.to_owned(),
        seconds: median(&times),
        runs: times,
        bytes_moved: None,
        parts: Vec::new(),
        deploy: None,
    })
}

/// One deploy of `package` to the worker (into `namespace`, if given); any host that does
/// not end serving it is an error.
fn deploy(
    root: &Utf8Path,
    target: &pad_layout::Target,
    package: &Utf8Path,
    namespace: Option<&str>,
) -> Result<DeployReport> {
    let mut options = pad_flow::deploy_options(&crate::workspace(root), package);
    options.connect.namespace = namespace.map(str::to_owned);
    let report =
        pad_deploy::deploy(target, &options, &()).with_context(|| format!("deploying {package} to the worker"))?;
    if !report.success() {
        let errors: Vec<String> = report
            .hosts
            .iter()
            .filter_map(|h| h.error.as_ref().map(|e| format!("{}: {}", h.host, pad_layout::error_chain(e))))
            .collect();
        bail!("the deploy of {package} to the worker failed: {}", errors.join("; "));
    }
    Ok(report)
}

fn ours_row(step: &str, seconds: f64, runs: Vec<f64>, report: &DeployReport) -> Row {
    let host = &report.hosts[0];
    Row {
        step: step.to_owned(),
        seconds,
        runs,
        bytes_moved: Some(host.bytes_uploaded),
        parts: host.steps.iter().map(|s| Part { name: s.step.name().to_owned(), seconds: s.seconds }).collect(),
        deploy: Some(DeployFigures {
            state: host.state,
            release_id: host.release_id.clone(),
            objects_uploaded: host.objects_uploaded,
            object_bytes: host.object_bytes,
            objects_reused: host.objects_reused,
        }),
    }
}

/// The seconds of one PoC deploy: the copy, then the unpack.
struct PocRun {
    scp: f64,
    unpack: f64,
}

/// The PoC's way: the whole archive over `scp`, then the old directories replaced by
/// `tar -xzf` as the service user, and each environment unpacked.
fn poc_deploy(host: &Worker, dir: &Utf8Path, package: &Utf8Path, home: &str, projects: &[String]) -> Result<PocRun> {
    let options = |flag_port: &str| {
        vec![
            "-i".to_owned(),
            host.identity.to_string(),
            flag_port.to_owned(),
            host.port.to_string(),
            "-o".to_owned(),
            format!("UserKnownHostsFile={}", host.known_hosts),
            "-o".to_owned(),
            "StrictHostKeyChecking=yes".to_owned(),
            "-o".to_owned(),
            "BatchMode=yes".to_owned(),
            "-o".to_owned(),
            "LogLevel=ERROR".to_owned(),
        ]
    };
    let login = format!("{}@{}", host.ssh_user, host.host);
    let scp =
        Cmd::new("scp", dir).arg("-q").args(options("-P")).arg(package.as_str()).arg(format!("{login}:{POC_ARCHIVE}"));
    let (result, scp_seconds) = timed(|| scp.run());
    result.context("copying the archive with scp (the PoC's way)")?;

    let mut script = format!("cd {} && rm -rf dags projects && tar -xzf {POC_ARCHIVE}", shell_quote(home));
    for project in projects {
        let venv = format!("projects/{project}/venv");
        script.push_str(&format!(
            " && mkdir -p {venv} && tar -xzf {tarball} -C {venv}",
            venv = shell_quote(&venv),
            tarball = shell_quote(&format!("projects/{project}/venv.tar.gz"))
        ));
    }
    let remote = format!("sudo -n -u {} sh -c {}", host.service_user, shell_quote(&script));
    let ssh = Cmd::new("ssh", dir).args(options("-p")).arg(&login).arg(remote);
    let (result, unpack_seconds) = timed(|| ssh.run());
    result.context("unpacking over ssh (the PoC's way)")?;
    Ok(PocRun { scp: scp_seconds, unpack: unpack_seconds })
}

fn poc_row(step: &str, runs: Vec<PocRun>, size: u64) -> Row {
    let totals: Vec<f64> = runs.iter().map(|r| r.scp + r.unpack).collect();
    let scp: Vec<f64> = runs.iter().map(|r| r.scp).collect();
    let unpack: Vec<f64> = runs.iter().map(|r| r.unpack).collect();
    Row {
        step: step.to_owned(),
        seconds: median(&totals),
        runs: if totals.len() > 1 { totals } else { Vec::new() },
        bytes_moved: Some(size),
        parts: vec![
            Part { name: "scp".to_owned(), seconds: median(&scp) },
            Part { name: "ssh tar -xzf".to_owned(), seconds: median(&unpack) },
        ],
        deploy: None,
    }
}

/// `deploy-local-build` twice on the unchanged tree as child processes of this binary,
/// with `AIRFLOW_HOME` in the scratch directory; the second run is the row. `None`, with
/// a note, when this build has no such command or it fails.
fn deploy_local_build(root: &Utf8Path, scratch: &Utf8Path, notes: &mut Vec<String>) -> Result<Option<Row>> {
    let exe = std::env::current_exe().context("finding this program")?;
    let exe = Utf8PathBuf::from_path_buf(exe).map_err(|p| anyhow::anyhow!("{} is not UTF-8", p.display()))?;
    let airflow_home = scratch.join("airflow-local");
    let cmd = |args: &[&str]| {
        Cmd::new(exe.as_str(), root)
            .args(["--repo", root.as_str()])
            .args(args)
            .env("AIRFLOW_HOME", airflow_home.as_str())
    };
    if !cmd(&["deploy-local-build", "--help"]).run_unchecked()?.status.success() {
        notes.push("deploy-local-build is not a command of this build: its row is left out".to_owned());
        return Ok(None);
    }
    note("deploy-local-build, first run (tests, environments, package, deploy; may take minutes)");
    // Each run's output goes to a log in the scratch directory, to see where time went.
    let logged = |run: usize| -> Result<(bool, f64, Utf8PathBuf)> {
        let (finished, seconds) = timed(|| cmd(&["deploy-local-build"]).run_unchecked());
        let finished = finished?;
        let log = scratch.join(format!("deploy-local-build-{run}.log"));
        std::fs::write(&log, format!("{}{}", finished.stdout, finished.stderr))
            .with_context(|| format!("writing {log}"))?;
        Ok((finished.status.success(), seconds, log))
    };
    let (ok, first_seconds, log) = logged(1)?;
    if !ok {
        notes.push(format!("deploy-local-build failed on its first run, so its row is left out; its output: {log}"));
        return Ok(None);
    }
    note(&format!("deploy-local-build, first run: {first_seconds:.2} s; second run, unchanged tree"));
    let (ok, seconds, log) = logged(2)?;
    if !ok {
        notes.push(format!("deploy-local-build failed on its second run, so its row is left out; its output: {log}"));
        return Ok(None);
    }
    notes.push(format!(
        "deploy-local-build: {exe} as a child process, AIRFLOW_HOME={airflow_home}; its first run took \
         {first_seconds:.2} s; the output of the timed run is in {log}"
    ));
    Ok(Some(Row {
        step: "deploy-local-build, unchanged tree".to_owned(),
        seconds,
        runs: Vec::new(),
        bytes_moved: None,
        parts: Vec::new(),
        deploy: None,
    }))
}

fn print_text(report: &Report) {
    let p = &report.package;
    println!("package {} ({}, {} files; projects {})", p.path, human_size(p.size), p.files, p.projects.join(", "));
    let d = &report.dag_change;
    println!("DAG-only change: {} bytes appended to {} (now {} bytes)", d.changed_bytes, d.file, d.file_bytes);
    println!("{:<44} {:>8} {:>14}", "step", "seconds", "bytes moved");
    for row in &report.rows {
        let bytes = row.bytes_moved.map_or_else(|| "-".to_owned(), |b| format!("{b} B"));
        println!("{:<44} {:>8.3} {:>14}", row.step, row.seconds, bytes);
        if !row.parts.is_empty() {
            let parts: Vec<String> = row
                .parts
                .iter()
                .filter(|p| p.seconds >= 0.0005)
                .map(|p| format!("{} {:.3}", p.name, p.seconds))
                .collect();
            println!("    {}", parts.join(", "));
        }
        if let Some(f) = &row.deploy {
            println!(
                "    {:?}: uploaded {} file(s), {} before compression; {} already on the host",
                f.state,
                f.objects_uploaded,
                human_size(f.object_bytes),
                f.objects_reused
            );
        }
        if !row.runs.is_empty() {
            let runs: Vec<String> = row.runs.iter().map(|s| format!("{s:.3}")).collect();
            println!("    median of {} runs: {}", row.runs.len(), runs.join(", "));
        }
    }
    println!();
    print_targets(&report.targets);
    println!();
    for line in &report.notes {
        println!("note: {line}");
    }
    let m = &report.machine;
    println!(
        "machine: {} cores; xtask {}; worker backend {:?}; {}",
        m.nproc,
        m.xtask_profile,
        m.worker_backend,
        m.ssh.as_deref().unwrap_or("ssh ?")
    );
}
