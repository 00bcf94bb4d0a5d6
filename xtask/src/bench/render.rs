//! `cargo xtask bench render`: `render` and `render --check` of N generated YAML DAGs,
//! and the pinned Airflow's DagBag parsing the generated files, against dag-factory
//! building the same DAGs from its YAML while the DagBag parses (its way of working).

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use camino::{Utf8Path, Utf8PathBuf};
use pad_process::Cmd;
use pad_render::RenderMode;
use serde::{Deserialize, Serialize};

use super::{Target, median, note, print_targets, timed};
use crate::flags::BenchRenderArgs;
use crate::progress::Steps;

/// dag-factory, pinned for the bench; Airflow comes from deploy/airflow/2.10's lock.
const DAG_FACTORY: &str = "dag-factory==1.1.0";
const AIRFLOW_SERIES: &str = "2.10";

/// Times a DagBag over a folder, in a fresh interpreter, Airflow imported first (not
/// timed: both sides pay it alike).
const DAGBAG_DRIVER: &str = r#"
import json, sys, time
from airflow.models import DagBag
folder, out = sys.argv[1], sys.argv[2]
started = time.perf_counter()
bag = DagBag(dag_folder=folder, include_examples=False)
seconds = time.perf_counter() - started
tasks = sum(len(d.tasks) for d in bag.dags.values())
errors = {k: v[-400:] for k, v in bag.import_errors.items()}
json.dump({"seconds": seconds, "dags": len(bag.dags), "tasks": tasks, "import_errors": errors}, open(out, "w"))
"#;

#[derive(Serialize)]
struct Report {
    dags: u32,
    tasks_per_dag: usize,
    render_seconds: f64,
    check_seconds: f64,
    render_runs: Vec<f64>,
    parse: Vec<ParseRow>,
    /// dag-factory's DagBag seconds over ours.
    parse_ratio: f64,
    targets: Vec<Target>,
    airflow: String,
    dag_factory: &'static str,
}

#[derive(Serialize)]
struct ParseRow {
    what: &'static str,
    seconds: f64,
    runs: Vec<f64>,
    dags: usize,
    tasks: usize,
}

#[derive(Deserialize)]
struct BagResult {
    seconds: f64,
    dags: usize,
    tasks: usize,
    import_errors: std::collections::BTreeMap<String, String>,
}

const TASKS: &[(&str, Option<&str>)] = &[
    ("extract", None),
    ("transform", Some("extract")),
    ("load", Some("transform")),
    ("validate", Some("load")),
    ("notify", Some("validate")),
];
const SCHEDULES: &[&str] = &["@daily", "0 3 * * *", "*/30 6-18 * * MON-FRI", "@hourly", "15 2 1 * *"];

fn our_yaml(i: u32) -> String {
    let mut text = format!(
        "description: Bench DAG {i}.\nschedule: \"{}\"\nstart_date: 2024-01-01\ncatchup: false\ntags: [bench]\nmax_active_runs: 1\ndefault_args: {{owner: data, retries: 1, retry_delay: 5m}}\ntasks:\n",
        SCHEDULES[i as usize % SCHEDULES.len()]
    );
    for (id, dep) in TASKS {
        let _ = writeln!(text, "  - id: {id}\n    type: bash\n    command: \"echo {id} {i} {{{{ ds }}}}\"");
        if let Some(dep) = dep {
            let _ = writeln!(text, "    depends_on: {dep}");
        }
    }
    text
}

fn dag_factory_yaml(i: u32) -> String {
    let mut text = format!(
        "bench_{i:03}:\n  description: Bench DAG {i}.\n  default_args:\n    owner: data\n    retries: 1\n    retry_delay_sec: 300\n    start_date: 2024-01-01\n  schedule: \"{}\"\n  catchup: false\n  tags: [bench]\n  max_active_runs: 1\n  tasks:\n",
        SCHEDULES[i as usize % SCHEDULES.len()]
    );
    for (id, dep) in TASKS {
        let _ = writeln!(
            text,
            "    - task_id: {id}\n      operator: airflow.operators.bash.BashOperator\n      bash_command: \"echo {id} {i} {{{{ ds }}}}\""
        );
        if let Some(dep) = dep {
            let _ = writeln!(text, "      dependencies: [{dep}]");
        }
    }
    text
}

fn write(path: &Utf8Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {path}"))
}

pub(crate) fn run(root: &Utf8Path, args: &BenchRenderArgs) -> Result<ExitCode> {
    let ws = crate::workspace(root);
    let scratch = ws.target_dir.join("bench/render");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch).with_context(|| format!("removing {scratch}"))?;
    }
    let repo = scratch.join("repo");
    let df_dags = scratch.join("dag-factory/dags");
    let df_configs = scratch.join("dag-factory/configs");
    for dir in [repo.join("dags"), repo.join("projects"), df_dags.clone(), df_configs.clone()] {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir}"))?;
    }
    note(&format!("writing {} YAML DAGs in our format and in dag-factory's", args.dags));
    for i in 0..args.dags {
        write(&repo.join(format!("dags/bench_{i:03}.dag.yaml")), &our_yaml(i))?;
        write(&df_configs.join(format!("bench_{i:03}.yml")), &dag_factory_yaml(i))?;
    }
    // dag-factory's loader: one Python file in the DAGs folder reads every YAML at parse time.
    write(
        &df_dags.join("load_yaml_dags.py"),
        &format!(
            "# airflow DAG loader: dag-factory builds every DAG of {df_configs} while the DagBag parses.\nfrom dagfactory import load_yaml_dags\n\nload_yaml_dags(globals_dict=globals(), dags_folder={:?})\n",
            df_configs.as_str()
        ),
    )?;

    // Render, then check, in process: what `cargo xtask render` and `render --check` do.
    let mut render_runs = Vec::new();
    let mut check_runs = Vec::new();
    for run in 0..args.runs {
        note(&format!("render and render --check, run {} of {}", run + 1, args.runs));
        for file in std::fs::read_dir(repo.join("dags"))? {
            let path = file?.path();
            if path.extension().is_some_and(|e| e == "py") {
                std::fs::remove_file(path)?;
            }
        }
        let (report, seconds) = timed(|| pad_render::render(&repo, &[], RenderMode::Write));
        let report = report?;
        report.check()?;
        render_runs.push(seconds);
        let (report, seconds) = timed(|| pad_render::render(&repo, &[], RenderMode::Check));
        report?.check()?;
        check_runs.push(seconds);
    }
    let (render_seconds, check_seconds) = (median(&render_runs), median(&check_runs));

    note(&format!("building (or reusing) the bench environment: Airflow {AIRFLOW_SERIES} with {DAG_FACTORY}"));
    let env_dir = ws.target_dir.join("bench/render-env");
    std::fs::create_dir_all(&env_dir)?;
    let lock = root.join("deploy/airflow").join(AIRFLOW_SERIES).join("requirements.lock");
    write(
        &env_dir.join("requirements.txt"),
        &format!(
            "# The bench's own environment: the pinned Airflow, and dag-factory.\n-c {lock}\napache-airflow\n{DAG_FACTORY}\n"
        ),
    )?;
    let ctx = ws.venv_context(false, false)?;
    let env = pad_venv::build(
        &ctx,
        &pad_venv::EnvSpec {
            name: "bench-dag-factory",
            dir: &env_dir,
            shown_dir: Utf8Path::new("target/bench/render-env"),
            requirements: "requirements.txt",
            python: None,
            install_project: false,
            package: Some("dagfactory"),
            pack: false,
            compile_bytecode: true,
        },
        &Steps::new(),
    )?;
    let python = env.venv.join("bin/python");
    let airflow = Cmd::new(python.as_str(), &scratch)
        .args(["-c", "import airflow; print(airflow.__version__)"])
        .run()?
        .stdout
        .trim()
        .to_owned();
    let driver = scratch.join("dagbag.py");
    write(&driver, DAGBAG_DRIVER)?;

    let mut parse = Vec::new();
    for (what, folder) in
        [("ours: the generated files", repo.join("dags")), ("dag-factory: YAML built at parse time", df_dags)]
    {
        let mut runs = Vec::new();
        let mut last = None;
        for run in 0..args.runs {
            note(&format!("DagBag, {what}, run {} of {}", run + 1, args.runs));
            let result = dagbag(&python, &scratch, &folder)?;
            if !result.import_errors.is_empty() {
                bail!("{what}: import errors: {:#?}", result.import_errors);
            }
            if result.dags != args.dags as usize {
                bail!("{what}: {} DAGs loaded, {} expected", result.dags, args.dags);
            }
            runs.push(result.seconds);
            last = Some(result);
        }
        let last = last.expect("at least one run");
        parse.push(ParseRow { what, seconds: median(&runs), runs, dags: last.dags, tasks: last.tasks });
    }
    let parse_ratio = parse[1].seconds / parse[0].seconds;
    let targets = vec![
        Target {
            target: "render + check of 500 under 1 s",
            measured: format!("{:.3} s for {}", render_seconds + check_seconds, args.dags),
            met: Some(render_seconds + check_seconds < 1.0),
        },
        Target {
            target: "DagBag parse no slower than dag-factory's",
            measured: format!("{:.2} s against {:.2} s", parse[0].seconds, parse[1].seconds),
            met: Some(parse[0].seconds <= parse[1].seconds),
        },
    ];
    let report = Report {
        dags: args.dags,
        tasks_per_dag: TASKS.len(),
        render_seconds,
        check_seconds,
        render_runs,
        parse,
        parse_ratio,
        targets,
        airflow,
        dag_factory: DAG_FACTORY,
    };
    if args.json {
        crate::print_json(&report)?;
    } else {
        print_table(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn dagbag(python: &Utf8Path, scratch: &Utf8Path, folder: &Utf8Path) -> Result<BagResult> {
    let out: Utf8PathBuf = scratch.join("dagbag.json");
    let home = scratch.join("airflow-home");
    Cmd::new(python.as_str(), scratch)
        .args([scratch.join("dagbag.py").as_str(), folder.as_str(), out.as_str()])
        .env("AIRFLOW_HOME", home.as_str())
        .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        .env("AIRFLOW__CORE__DAGS_FOLDER", folder.as_str())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .run()?;
    let bytes = std::fs::read(&out).with_context(|| format!("reading {out}"))?;
    Ok(serde_json::from_slice(&bytes)?)
}

fn print_table(report: &Report) {
    println!(
        "{} YAML DAGs, {} bash tasks each; Airflow {}, {}",
        report.dags, report.tasks_per_dag, report.airflow, report.dag_factory
    );
    println!("\nrender (ours, in process, median of {})", report.render_runs.len());
    println!("  cargo xtask render            {:>8.3} s  (writes {} dags/*.py)", report.render_seconds, report.dags);
    println!("  cargo xtask render --check    {:>8.3} s", report.check_seconds);
    println!("\nAirflow DagBag parse of the same {} DAGs (Airflow imported first, not timed)", report.dags);
    for row in &report.parse {
        println!("  {:<40} {:>8.2} s  ({} DAGs, {} tasks)", row.what, row.seconds, row.dags, row.tasks);
    }
    println!("  ratio: dag-factory's parse time over ours' (the generated files): {:.2}x", report.parse_ratio);
    println!();
    print_targets(&report.targets);
}
