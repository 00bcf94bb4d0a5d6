//! Shared test helpers: running the front end, building repositories in temp dirs.

use std::process::ExitStatus;

use camino::{Utf8Path, Utf8PathBuf};
use pad_process::{Cmd, Finished, Running, Sink};

/// The workspace root: the example DAG repository.
pub(crate) fn workspace_root() -> Utf8PathBuf {
    Utf8Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// Whether the slow end-to-end tests were asked for (`PAD_E2E=1`, set by `cargo xtask ci`).
pub(crate) fn e2e_enabled(test: &str) -> bool {
    let enabled = std::env::var(pad_layout::EnvVars::PAD_E2E).is_ok_and(|v| v == "1");
    if !enabled {
        eprintln!("{test}: not run; set PAD_E2E=1 (cargo xtask ci does) to run it");
    }
    enabled
}

/// The result of running the front end.
pub(crate) struct XtaskRun {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl XtaskRun {
    #[track_caller]
    pub(crate) fn success(self) -> XtaskRun {
        assert_eq!(self.code, Some(0), "expected success\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    #[track_caller]
    pub(crate) fn failure(self) -> XtaskRun {
        assert_eq!(self.code, Some(1), "expected exit code 1\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs `cargo xtask ARGS` in `cwd`.
pub(crate) fn xtask(cwd: &Utf8Path, args: &[&str]) -> XtaskRun {
    xtask_with_env(cwd, args, &[])
}

/// The front end as a command, with a clean environment of our own variables.
pub(crate) fn xtask_cmd(cwd: &Utf8Path, args: &[&str], env: &[(&str, &str)]) -> Cmd {
    let mut cmd = Cmd::new(env!("CARGO_BIN_EXE_pad-xtask"), cwd)
        .args(args)
        .env_remove(pad_layout::EnvVars::PAD_REPO)
        .env_remove(pad_layout::EnvVars::PAD_VERSION)
        .env_remove(pad_layout::EnvVars::PAD_TARGET_DIR)
        // Cargo sets it for the tests; the binary is run by path, as without cargo.
        .env_remove(pad_layout::EnvVars::CARGO_MANIFEST_DIR);
    for (key, value) in env {
        cmd = cmd.env(key, value);
    }
    cmd
}

/// The front end started to run alongside the test, to watch and to kill as a user would
/// (Ctrl-C, `kill -9`); its output goes to files read when asked for.
pub(crate) struct Spawned {
    running: Running,
    _logs: tempfile::TempDir,
    stdout: Utf8PathBuf,
    stderr: Utf8PathBuf,
}

impl Spawned {
    /// Starts `cmd` (see [`xtask_cmd`]).
    pub(crate) fn start(cmd: Cmd) -> Spawned {
        let logs = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(logs.path()).unwrap();
        let (stdout, stderr) = (dir.join("stdout"), dir.join("stderr"));
        let running = cmd
            .spawn(
                Sink::File(std::fs::File::create(&stdout).unwrap()),
                Sink::File(std::fs::File::create(&stderr).unwrap()),
            )
            .unwrap();
        Spawned { running, _logs: logs, stdout, stderr }
    }

    pub(crate) fn id(&self) -> u32 {
        self.running.id()
    }

    /// Its exit status, if it has exited.
    pub(crate) fn try_wait(&mut self) -> Option<ExitStatus> {
        self.running.try_wait().unwrap()
    }

    /// What it printed so far, stdout then stderr.
    pub(crate) fn output(&self) -> String {
        format!("{}{}", self.read(&self.stdout), self.read(&self.stderr))
    }

    /// What it printed on stderr so far.
    pub(crate) fn stderr(&self) -> String {
        self.read(&self.stderr)
    }

    /// `kill -9`, then what it had printed on stderr.
    pub(crate) fn kill(mut self) -> String {
        self.running.kill();
        self.read(&self.stderr)
    }

    /// Waits for it to exit.
    pub(crate) fn wait(mut self) -> XtaskRun {
        let code = self.running.wait().unwrap().code();
        XtaskRun { code, stdout: self.read(&self.stdout), stderr: self.read(&self.stderr) }
    }

    fn read(&self, path: &Utf8Path) -> String {
        String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
    }
}

/// Runs `cargo xtask ARGS` in `cwd` with extra environment variables.
pub(crate) fn xtask_with_env(cwd: &Utf8Path, args: &[&str], env: &[(&str, &str)]) -> XtaskRun {
    let Finished { status, stdout, stderr } = xtask_cmd(cwd, args, env).run_unchecked().unwrap();
    XtaskRun { code: status.code(), stdout, stderr }
}

/// The target directory the end-to-end tests share: environments are keyed by content,
/// so copies of the example repository reuse each other's builds and tool environments.
pub(crate) fn shared_target() -> Utf8PathBuf {
    workspace_root().join("target/e2e")
}

/// A directory holding a `uv` executable, for tests that put uv on `PATH` as its users
/// do: the directory of the uv already on `PATH`, or else that of the pinned uv the
/// toolchain installs into the shared target (installed here on first use).
pub(crate) fn uv_bin_dir() -> Utf8PathBuf {
    let on_path = std::env::var("PATH").unwrap_or_default();
    if let Some(dir) = on_path.split(':').map(Utf8Path::new).find(|dir| dir.join("uv").is_file()) {
        return dir.to_owned();
    }
    let installed = || {
        names_in(&shared_target().join("tools"))
            .into_iter()
            .map(|name| shared_target().join("tools").join(name).join("bin"))
            .find(|dir| dir.join("uv").is_file())
    };
    if let Some(dir) = installed() {
        return dir;
    }
    // Any command that needs uv installs the pinned one, with no uv on PATH.
    TestRepo::example().xtask(&["venv", "archive-sync"]).success();
    installed().expect("`cargo xtask venv` installed uv under the shared target's tools/")
}

/// The one entry of `dir` whose name starts with `prefix`.
#[track_caller]
pub(crate) fn only_entry(dir: &Utf8Path, prefix: &str) -> Utf8PathBuf {
    let found: Vec<Utf8PathBuf> = dir
        .read_dir_utf8()
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.file_name().is_some_and(|n| n.starts_with(prefix)))
        .collect();
    assert_eq!(found.len(), 1, "expected one `{prefix}*` in {dir}: {found:?}");
    found.into_iter().next().unwrap()
}

/// Where the test kit installs the PyPI tools its services need (moto, python-dotenv),
/// once per workspace.
pub(crate) fn tools_dir() -> Utf8PathBuf {
    workspace_root().join("target/tools")
}

/// The names in `dir`, sorted (empty when it does not exist).
pub(crate) fn names_in(dir: &Utf8Path) -> Vec<String> {
    let mut names: Vec<String> = dir
        .read_dir_utf8()
        .map(|entries| entries.map(|e| e.unwrap().file_name().to_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// A repository in a temporary directory.
pub(crate) struct TestRepo {
    _dir: tempfile::TempDir,
    pub(crate) root: Utf8PathBuf,
}

impl TestRepo {
    /// An empty directory.
    pub(crate) fn empty() -> TestRepo {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
        TestRepo { _dir: dir, root }
    }

    /// A copy of the example DAG repository (dags/, projects/, deploy/, ruff.toml).
    pub(crate) fn example() -> TestRepo {
        let repo = TestRepo::empty();
        for dir in ["dags", "projects", "deploy"] {
            copy_tree(&workspace_root().join(dir), &repo.root.join(dir));
        }
        std::fs::copy(workspace_root().join("ruff.toml"), repo.root.join("ruff.toml")).unwrap();
        repo
    }

    pub(crate) fn write(&self, path: &str, text: &str) -> &TestRepo {
        let path = self.root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    pub(crate) fn xtask(&self, args: &[&str]) -> XtaskRun {
        self.xtask_in(&shared_target(), args)
    }

    /// Runs the front end on this repository with the shared target directory, deploying
    /// to `home` as `AIRFLOW_HOME`, and `env` besides.
    pub(crate) fn xtask_home(&self, home: &Utf8Path, args: &[&str], env: &[(&str, &str)]) -> XtaskRun {
        let mut full = vec!["--repo", self.root.as_str()];
        full.extend_from_slice(args);
        let target = shared_target();
        let mut all = vec![
            (pad_layout::EnvVars::PAD_TARGET_DIR, target.as_str()),
            (pad_layout::EnvVars::AIRFLOW_HOME, home.as_str()),
        ];
        all.extend_from_slice(env);
        xtask_with_env(&self.root, &full, &all)
    }

    /// Runs the front end on this repository with environments, tools and test results
    /// in `target`.
    pub(crate) fn xtask_in(&self, target: &Utf8Path, args: &[&str]) -> XtaskRun {
        let mut full = vec!["--repo", self.root.as_str()];
        full.extend_from_slice(args);
        xtask_with_env(&self.root, &full, &[(pad_layout::EnvVars::PAD_TARGET_DIR, target.as_str())])
    }
}

/// Names that are build or cache output, never copied.
const NOT_SOURCE: &[&str] = &["__pycache__", ".pytest_cache", "build", "dist", ".venv", "venv"];

/// Copies a source tree, leaving out build and cache output.
pub(crate) fn copy_tree(from: &Utf8Path, to: &Utf8Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in from.read_dir_utf8().unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if NOT_SOURCE.contains(&name) || name.ends_with(".egg-info") {
            continue;
        }
        let target = to.join(name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
