//! The local Airflow (`cargo xtask airflow up|down|status`, `cargo xtask dags test`) with
//! real Airflow from the pinned tool environments, on what `deploy-local-build` shipped:
//!
//! - on Airflow 3.3 with SQLite, one deploy and one start shared by the issue's tests
//!   1, 2, 4 and 5: `dags test` of each example DAG and of a DAG made to fail; the REST
//!   API lists the DAGs with no import errors and a triggered run succeeds with the
//!   project's shipped interpreter; a changed schedule shows after a new deploy with no
//!   restart; a `kill -9`ed scheduler is restarted alone; `down` leaves none of the
//!   recorded process groups;
//! - on Airflow 2.10 with PostgreSQL, test 3: two runs of one DAG overlap in time; and
//!   tests 1, 2, 4 and 5 again: the REST API lists the example DAGs with no import
//!   errors, a triggered run succeeds with the release's interpreter, `dags test` runs
//!   beside the services, a new schedule shows with no restart, a `kill -9`ed scheduler
//!   is restarted alone.

use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use serde_json::{Value, json};

use crate::support::{TestRepo, XtaskRun, e2e_enabled, shared_target, xtask_with_env};

/// What the test DAGs below import, on Airflow 2.10 and 3.x alike.
const DAG_IMPORTS: &str = r#"
import pendulum
import pad_runtime
try:
    from airflow.sdk import dag
except ImportError:
    from airflow.decorators import dag
try:
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:
    from airflow.operators.bash import BashOperator
"#;

/// A DAG whose one task fails at once, leaving a line to find in its log (after
/// [`DAG_IMPORTS`]).
const FAILING_DAG: &str = r#"

@dag(dag_id=pad_runtime.dag_id("failing"), schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
     catchup=False, default_args={"retries": 0})
def failing():
    BashOperator(task_id="break", bash_command="echo pad-failing-marker; exit 3")

failing()
"#;

/// A DAG whose task takes a while, two runs of it at a time (after [`DAG_IMPORTS`]).
const SLOW_DAG: &str = r#"

@dag(dag_id=pad_runtime.dag_id("slow"), schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
     catchup=False, max_active_runs=2, default_args={"retries": 0})
def slow():
    BashOperator(task_id="wait", bash_command="sleep 20")

slow()
"#;

/// A copy of the example repository, its AIRFLOW_HOME inside it, run with the shared
/// target directory (the tool environments are reused). Dropped, it stops its Airflow.
struct Local {
    repo: TestRepo,
    home: Utf8PathBuf,
}

impl Local {
    fn new(extra_dags: &[(&str, &str)]) -> Local {
        let repo = TestRepo::example();
        for (name, text) in extra_dags {
            repo.write(&format!("dags/{name}"), text);
        }
        let home = repo.root.join("airflow-home");
        Local { repo, home }
    }

    fn run(&self, args: &[&str]) -> XtaskRun {
        let target = shared_target();
        let mut full = vec!["--repo", self.repo.root.as_str()];
        full.extend_from_slice(args);
        xtask_with_env(
            &self.repo.root,
            &full,
            &[("PAD_TARGET_DIR", target.as_str()), ("AIRFLOW_HOME", self.home.as_str())],
        )
    }

    fn deploy(&self) {
        let out = self.run(&["deploy-local-build"]).success();
        assert!(out.stdout.contains("switched"), "{}", out.stdout);
    }

    /// `airflow up --json`, successful.
    fn up(&self, args: &[&str]) -> Value {
        let mut full = vec!["airflow", "up", "--json"];
        full.extend_from_slice(args);
        self.run(&full).success().json()
    }

    fn status(&self) -> Value {
        self.run(&["airflow", "status", "--json"]).json()
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.run(&["airflow", "down"]);
    }
}

/// Polls `check` until it gives a value, failing with `what` after `limit` (a safety
/// net for a stuck service, not a measurement).
#[track_caller]
fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(started.elapsed() < limit, "gave up waiting for {what} after {} s", limit.as_secs());
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// A run id in a URL path.
fn escape(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The state `up` recorded, and the REST API logged in as its admin user.
/// Test 4: `kill -9` of the scheduler shows in `status` (which then exits 1); `up ARGS`
/// starts it again alone, every other service keeping its process. The state after.
fn kill_the_scheduler_then_up(local: &Local, state: &pad_airflow::State, up_args: &[&str]) -> pad_airflow::State {
    let scheduler = state.services.iter().find(|s| s.name == "scheduler").unwrap().pid;
    pad_process::Cmd::new("kill", &local.repo.root).args(["-KILL", &scheduler.to_string()]).run().unwrap();
    wait_for("status to show the scheduler dead", Duration::from_secs(30), || {
        let status = local.run(&["airflow", "status", "--json"]);
        let value = status.json();
        let dead =
            value["services"].as_array().unwrap().iter().any(|s| s["name"] == "scheduler" && s["alive"] == false);
        (dead && status.code == Some(1)).then_some(())
    });
    let pids_then: Vec<u32> = state.services.iter().map(|s| s.pid).collect();
    let restarted = local.up(up_args);
    assert_eq!(restarted["started"], json!(["scheduler"]), "{restarted}");
    let (state, _) = client_of(&restarted);
    for service in state.services.iter().filter(|s| s.name != "scheduler") {
        assert!(pids_then.contains(&service.pid), "{} kept its process", service.name);
    }
    state
}

fn client_of(up: &Value) -> (pad_airflow::State, pad_airflow::Client) {
    let state_file = Utf8Path::new(up["state_file"].as_str().unwrap());
    let state = pad_airflow::State::load(state_file.parent().unwrap()).unwrap().expect("up recorded its state");
    let client = state.client().unwrap();
    (state, client)
}

/// Unpauses `dag_id` and triggers a run at `logical_date`; returns its run id.
fn trigger(client: &pad_airflow::Client, dag_id: &str, logical_date: &str) -> String {
    client.patch(&format!("/dags/{dag_id}"), &json!({"is_paused": false})).unwrap();
    let run = client.post(&format!("/dags/{dag_id}/dagRuns"), &json!({"logical_date": logical_date})).unwrap();
    run["dag_run_id"].as_str().unwrap_or_else(|| panic!("no dag_run_id in {run}")).to_owned()
}

/// Waits for a run to end; returns it.
fn finished_run(client: &pad_airflow::Client, dag_id: &str, run_id: &str) -> Value {
    wait_for(&format!("run {run_id} of {dag_id} to end"), Duration::from_secs(600), || {
        let run = client.get(&format!("/dags/{dag_id}/dagRuns/{}", escape(run_id))).ok()?;
        matches!(run["state"].as_str(), Some("success" | "failed")).then_some(run)
    })
}

/// The recorded process groups (leader PIDs) of the services `up` started.
fn recorded_groups(state: &pad_airflow::State) -> Vec<(String, u32)> {
    state.services.iter().chain(&state.postgres).map(|s| (s.name.clone(), s.pid)).collect()
}

/// The live processes whose process group is `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    let stat_of = |pid: u32| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            stat_of(*pid).is_some_and(|stat| {
                let rest: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..].split_whitespace().collect();
                rest[2] == pgid.to_string() && !matches!(rest[0], "Z" | "X")
            })
        })
        .collect()
}

#[test]
fn local_airflow_3_runs_the_deployed_release() {
    if !e2e_enabled("local_airflow_3_runs_the_deployed_release") {
        return;
    }
    let local = Local::new(&[("failing.py", &format!("{DAG_IMPORTS}{FAILING_DAG}"))]);

    // Before anything is deployed: say what to do.
    let never = local.run(&["airflow", "up", "--airflow", "3.3"]).failure();
    assert!(never.stderr.contains("run `cargo xtask deploy-local-build` first"), "{}", never.stderr);
    local.deploy();

    // Test 5: `dags test` without `up`, on each example DAG and on one made to fail.
    // The plain deploy's data root: <AIRFLOW_HOME>/data/prod.
    std::fs::create_dir_all(local.home.join("data/prod/archive-sync/source")).unwrap();
    std::fs::write(local.home.join("data/prod/archive-sync/source/a.txt"), "a").unwrap();
    for dag in ["image_matching", "archive_sync"] {
        let run = local.run(&["dags", "test", dag, "--airflow", "3.3", "--date", "2024-01-01"]).success();
        assert!(
            run.stdout.contains(&format!("{dag} on release")) && run.stdout.contains(": success"),
            "{}",
            run.stdout
        );
    }
    let tsv = local.home.join("data/prod/image-matching/2024-01-01/matches.tsv");
    assert!(std::fs::read_to_string(&tsv).is_ok_and(|t| t.starts_with("snapshot\t")), "{tsv}");
    let failed = local.run(&["dags", "test", "failing", "--airflow", "3.3"]).failure();
    assert!(failed.stdout.contains("break") && failed.stdout.contains("failed"), "{}", failed.stdout);
    assert!(
        failed.stdout.contains("the end of its log") && failed.stdout.contains("pad-failing-marker"),
        "{}",
        failed.stdout
    );
    let unknown = local.run(&["dags", "test", "nope", "--airflow", "3.3"]).failure();
    assert!(unknown.stderr.contains("archive_sync, example_pipelines, failing, image_matching"), "{}", unknown.stderr);

    // Test 1: up; the REST API lists both example DAGs with no import errors; a run
    // triggered through it succeeds, its task run by the project's shipped interpreter.
    let up = local.up(&["--airflow", "3.3"]);
    assert_eq!(up["already_up"], false, "{up}");
    assert!(up["password_file"].as_str().unwrap().ends_with("simple_auth_manager_passwords.json"), "{up}");
    let again = local.up(&["--airflow", "3.3"]);
    assert_eq!(again["already_up"], true, "a second up changes nothing: {again}");
    let (state, client) = client_of(&up);
    let status = local.status();
    let dags: Vec<&str> = status["dags"].as_array().unwrap().iter().map(|d| d["dag_id"].as_str().unwrap()).collect();
    for dag in ["archive_sync", "image_matching"] {
        assert!(dags.contains(&dag), "{status}");
    }
    assert_eq!(status["import_errors"], json!([]), "{status}");
    assert_eq!(client.get("/importErrors").unwrap()["total_entries"], 0);
    let run_id = trigger(&client, "image_matching", "2024-01-08T00:00:00Z");
    let run = finished_run(&client, "image_matching", &run_id);
    assert_eq!(run["state"], "success", "{run}");
    let tsv = local.home.join("data/prod/image-matching/2024-01-08/matches.tsv");
    assert!(std::fs::read_to_string(&tsv).is_ok_and(|t| t.starts_with("snapshot\t")), "{tsv}");
    // The release's own copy of the project's environment (pad_runtime.python).
    let current = std::fs::read_link(local.home.join("current")).unwrap();
    let python = format!("{}/{}/projects/image-matching/venv/bin/python", local.home, current.display());
    let logs = state_dir(&up).join("3.3/logs/dag_id=image_matching").join(format!("run_id={run_id}"));
    let log = read_tree(&logs);
    assert!(log.contains(&python), "the task's log names {python}:\n{log}");

    // Test 2: a new schedule, deployed again, shows with no restart.
    let dag_file = local.repo.root.join("dags/image_matching.py");
    let text = std::fs::read_to_string(&dag_file).unwrap().replace("schedule=\"@weekly\"", "schedule=\"@hourly\"");
    assert!(text.contains("@hourly"));
    std::fs::write(&dag_file, text).unwrap();
    local.deploy();
    wait_for("the new schedule in the REST API", Duration::from_secs(300), || {
        let dag = client.get("/dags/image_matching").ok()?;
        (dag["timetable_summary"] == "0 * * * *" || dag["timetable_summary"] == "@hourly").then_some(())
    });
    let pids_now: Vec<u32> =
        local.status()["services"].as_array().unwrap().iter().map(|s| s["pid"].as_u64().unwrap() as u32).collect();
    let pids_then: Vec<u32> = state.services.iter().map(|s| s.pid).collect();
    assert_eq!(pids_now, pids_then, "no service was restarted");

    // Test 4: a `kill -9`ed scheduler shows in status; up restarts it alone.
    let state = kill_the_scheduler_then_up(&local, &state, &[]);
    let logs = local.run(&["airflow", "logs", "scheduler", "-n", "5"]).success();
    assert!(logs.stdout.lines().count() >= 1, "the scheduler's log: {}", logs.stdout);
    let groups = recorded_groups(&state);
    let down = local.run(&["airflow", "down"]).success();
    assert!(down.stderr.contains("stopped Airflow"), "{}", down.stderr);
    for (name, pgid) in groups {
        assert_eq!(group_members(pgid), Vec::<u32>::new(), "{name}'s process group {pgid} is gone");
    }
    let after = local.run(&["airflow", "status"]).failure();
    assert!(after.stderr.contains("Airflow is not up"), "{}", after.stderr);

    // reset: the run history goes, the releases stay, the database is migrated again.
    let data = state_dir(&up).join("3.3");
    let task_logs = data.join("logs/dag_id=image_matching");
    assert!(task_logs.is_dir());
    let release = std::fs::read_link(local.home.join("current")).unwrap();
    let reset = local.run(&["airflow", "reset", "--airflow", "3.3"]).success();
    assert!(reset.stderr.contains("reset"), "{}", reset.stderr);
    assert!(!task_logs.exists() && data.join("airflow.db").is_file(), "{}", reset.stderr);
    assert!(!data.join("dags-test").exists(), "{}", reset.stderr);
    assert_eq!(std::fs::read_link(local.home.join("current")).unwrap(), release);
    assert!(local.home.join("image-matching/venv/bin/python").exists());
}

/// The state directory of the `up` that printed `up`.
fn state_dir(up: &Value) -> Utf8PathBuf {
    Utf8Path::new(up["state_file"].as_str().unwrap()).parent().unwrap().to_owned()
}

/// Every file under `dir`, concatenated.
fn read_tree(dir: &Utf8Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir}: {e}")).flatten() {
        let path = Utf8PathBuf::from_path_buf(entry.path()).unwrap();
        if path.is_dir() {
            text.push_str(&read_tree(&path));
        } else {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
        }
    }
    text
}

#[test]
fn local_airflow_2_on_postgres_runs_two_dag_runs_at_once() {
    if !e2e_enabled("local_airflow_2_on_postgres_runs_two_dag_runs_at_once") {
        return;
    }
    let local = Local::new(&[("slow.py", &format!("{DAG_IMPORTS}{SLOW_DAG}"))]);
    local.deploy();
    let up = local.up(&["--airflow", "2.10", "--db", "postgres"]);
    let (state, client) = client_of(&up);
    assert_eq!(state.db(), pad_airflow::Db::Postgres);
    let first = trigger(&client, "slow", "2024-01-01T00:00:00Z");
    let second = trigger(&client, "slow", "2024-01-02T00:00:00Z");
    let runs = [finished_run(&client, "slow", &first), finished_run(&client, "slow", &second)];
    let times: Vec<(String, String)> = runs
        .iter()
        .map(|run| {
            assert_eq!(run["state"], "success", "{run}");
            (run["start_date"].as_str().unwrap().to_owned(), run["end_date"].as_str().unwrap().to_owned())
        })
        .collect();
    // RFC 3339 times in one zone compare as text.
    let ((start1, end1), (start2, end2)) = (&times[0], &times[1]);
    assert!(start1 < end2 && start2 < end1, "the runs overlap: {times:?}");

    // Test 1 on 2.10 too: the REST API lists the example DAGs with no import errors, and
    // a triggered run of image_matching succeeds with the release's own interpreter.
    let status = local.status();
    let dags: Vec<&str> = status["dags"].as_array().unwrap().iter().map(|d| d["dag_id"].as_str().unwrap()).collect();
    for dag in ["archive_sync", "example_pipelines", "image_matching"] {
        assert!(dags.contains(&dag), "{status}");
    }
    assert_eq!(status["import_errors"], json!([]), "{status}");
    let run_id = trigger(&client, "image_matching", "2024-01-08T00:00:00Z");
    let run = finished_run(&client, "image_matching", &run_id);
    assert_eq!(run["state"], "success", "{run}");
    let tsv = local.home.join("data/prod/image-matching/2024-01-08/matches.tsv");
    assert!(std::fs::read_to_string(&tsv).is_ok_and(|t| t.starts_with("snapshot\t")), "{tsv}");
    let current = std::fs::read_link(local.home.join("current")).unwrap();
    let python = format!("{}/{}/projects/image-matching/venv/bin/python", local.home, current.display());
    let logs = state_dir(&up).join("2.10/logs/dag_id=image_matching").join(format!("run_id={run_id}"));
    let log = read_tree(&logs);
    assert!(log.contains(&python), "the task's log names {python}:\n{log}");

    // Test 5 on 2.10 too: `dags test` beside the running services.
    let run = local.run(&["dags", "test", "image_matching", "--airflow", "2.10", "--date", "2024-01-01"]);
    assert!(run.stdout.contains(": success") && run.code == Some(0), "{}\n{}", run.stdout, run.stderr);

    // Test 2 on 2.10 too: a new schedule, deployed again, shows with no restart.
    let dag_file = local.repo.root.join("dags/image_matching.py");
    let text = std::fs::read_to_string(&dag_file).unwrap().replace("schedule=\"@weekly\"", "schedule=\"@hourly\"");
    assert!(text.contains("@hourly"));
    std::fs::write(&dag_file, text).unwrap();
    local.deploy();
    wait_for("the new schedule in the REST API", Duration::from_secs(300), || {
        let status = local.status();
        let dag = status["dags"].as_array()?.iter().find(|d| d["dag_id"] == "image_matching")?.clone();
        (dag["schedule"] == "@hourly" || dag["schedule"] == "0 * * * *").then_some(())
    });
    let pids_now: Vec<u32> =
        local.status()["services"].as_array().unwrap().iter().map(|s| s["pid"].as_u64().unwrap() as u32).collect();
    for service in &state.services {
        assert!(pids_now.contains(&service.pid), "{} was restarted: {pids_now:?}", service.name);
    }

    // Test 4 on 2.10 too: a `kill -9`ed scheduler shows in status; up restarts it alone.
    let state = kill_the_scheduler_then_up(&local, &state, &["--airflow", "2.10", "--db", "postgres"]);

    let groups = recorded_groups(&state);
    local.run(&["airflow", "down"]).success();
    for (name, pgid) in groups {
        assert_eq!(group_members(pgid), Vec::<u32>::new(), "{name}'s process group {pgid} is gone");
    }
}

/// The newest tool environment of `series` in the shared target (`<key>/venv`).
fn tool_env(series: &str) -> Utf8PathBuf {
    let dir = shared_target().join("venvs").join(format!("airflow-{series}"));
    let mut found: Vec<(std::time::SystemTime, Utf8PathBuf)> = dir
        .read_dir_utf8()
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|entry| {
            let venv = entry.ok()?.path().join("venv");
            Some((std::fs::metadata(venv.join("bin/airflow")).ok()?.modified().ok()?, venv))
        })
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| panic!("no Airflow {series} environment under {dir}")).1
}

#[test]
fn a_scaffolded_dag_runs_itself_with_dag_test() {
    if !e2e_enabled("a_scaffolded_dag_runs_itself_with_dag_test") {
        return;
    }
    let repo = TestRepo::example();
    repo.xtask(&["new-project", "demo"]).success();
    // The DAG check builds (or reuses) the pinned Airflow 3.3 and loads the new DAG.
    repo.xtask(&["test", "demo", "--airflow", "3.3"]).success();
    let venv = tool_env("3.3");
    let home = repo.root.join("home");
    let airflow = |program: &str, args: &[&str]| {
        pad_process::Cmd::new(venv.join("bin").join(program).as_str(), &repo.root)
            .args(args)
            .env("AIRFLOW_HOME", home.as_str())
            .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
            .env("AIRFLOW__CORE__DAGS_FOLDER", repo.root.join("dags").as_str())
            .env("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", format!("sqlite:///{home}/airflow.db"))
            .run_unchecked()
            .unwrap()
    };
    let migrate = airflow("airflow", &["db", "migrate"]);
    assert!(migrate.status.success(), "{}\n{}", migrate.stdout, migrate.stderr);
    // Run as a script, the DAG runs itself once: its one task is started by dag.test()
    // (and fails, as the project was never deployed to this home).
    let run = airflow("python", &[repo.root.join("dags/demo.py").as_str()]);
    let output = format!("{}\n{}", run.stdout, run.stderr);
    assert!(output.contains("[DAG TEST] starting task_id=run"), "{output}");
    // Outside a release, pad_runtime takes the checkout for the release.
    assert!(output.contains(&format!("{}/projects/demo/venv/bin/python", repo.root)), "{output}");
}
