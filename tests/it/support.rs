//! Shared test helpers: running the front end, building repositories in temp dirs.

use camino::{Utf8Path, Utf8PathBuf};
use pad_process::{Cmd, Finished};

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
    let Finished { status, stdout, stderr } = Cmd::new(env!("CARGO_BIN_EXE_pad-xtask"), cwd)
        .args(args)
        .env_remove(pad_layout::EnvVars::PAD_REPO)
        .env_remove(pad_layout::EnvVars::PAD_VERSION)
        .run_unchecked()
        .unwrap();
    XtaskRun { code: status.code(), stdout, stderr }
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

    /// A copy of the example DAG repository (dags/, projects/, deploy/).
    pub(crate) fn example() -> TestRepo {
        let repo = TestRepo::empty();
        for dir in ["dags", "projects", "deploy"] {
            copy_tree(&workspace_root().join(dir), &repo.root.join(dir));
        }
        repo
    }

    pub(crate) fn write(&self, path: &str, text: &str) -> &TestRepo {
        let path = self.root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    pub(crate) fn xtask(&self, args: &[&str]) -> XtaskRun {
        let mut full = vec!["--repo", self.root.as_str()];
        full.extend_from_slice(args);
        xtask(&self.root, &full)
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
