//! The flow ours is measured against, as the PoC ran it: `python -m venv`,
//! `pip install -r requirements.txt` (and the project), then `venv-pack`.

use anyhow::{Context as _, Result};
use camino::{Utf8Path, Utf8PathBuf};
use pad_process::Cmd;

use super::Bench;
use crate::bench::{note, timed};

/// The packer of the PoC flow, installed from PyPI into `target/bench/tools/`.
pub(super) const VENV_PACK: &str = "venv-pack==0.2.0";
/// Set on this machine to a local wheel directory; removed so pip downloads from PyPI
/// like uv does.
pub(super) const PIP_FIND_LINKS: &str = "PIP_FIND_LINKS";

/// One PoC flow: seconds of each step and the size of its tarball.
pub(super) struct PipFlow {
    pub(super) venv: f64,
    pub(super) requirements: f64,
    pub(super) project: Option<f64>,
    pub(super) pack: f64,
    pub(super) size: u64,
}

impl PipFlow {
    pub(super) fn total(&self) -> f64 {
        self.venv + self.requirements + self.project.unwrap_or(0.0) + self.pack
    }
}

/// The venv-pack command, installed from PyPI into a tool environment of its own under
/// `tools` on first use.
pub(super) fn venv_pack(tools: &Utf8Path) -> Result<Utf8PathBuf> {
    note(&format!("finding {VENV_PACK} (installed from PyPI into {tools} once)"));
    let python = pad_testkit::tool_python(tools, VENV_PACK)?;
    Ok(python.with_file_name("venv-pack"))
}

impl Bench {
    /// The PoC flow: `python -m venv`, `pip install -r requirements.txt` (and the project,
    /// non-editable, when it has a pyproject.toml), `venv-pack`.
    pub(super) fn pip_flow(
        &self,
        set: &str,
        label: &str,
        python: &Utf8Path,
        cache: &Utf8Path,
        source: &Utf8Path,
        install_project: bool,
    ) -> Result<PipFlow> {
        let dir = self.scratch.join("pip").join(set);
        let venv = dir.join(format!("{label}-venv"));
        let out = dir.join(format!("{label}.tar.gz"));
        let step = |what: &str| format!("{set}: pip flow {label}: {what}");
        let pip = venv.join("bin/pip");
        let pip_install = |cwd: &Utf8Path| {
            Cmd::new(pip.as_str(), cwd).args(["install", "--cache-dir", cache.as_str()]).env_remove(PIP_FIND_LINKS)
        };

        note(&step("python -m venv"));
        let (result, venv_seconds) =
            timed(|| Cmd::new(python.as_str(), &dir).args(["-m", "venv", venv.as_str()]).run());
        result.with_context(|| step("python -m venv"))?;

        note(&step("pip install -r requirements.txt"));
        let (result, requirements) = timed(|| pip_install(source).args(["-r", pad_layout::REQUIREMENTS_FILE]).run());
        result.with_context(|| step("pip install -r requirements.txt"))?;

        let project = if install_project {
            note(&step("pip install <project>"));
            let (result, seconds) = timed(|| pip_install(&dir).arg(source.as_str()).run());
            result.with_context(|| step("pip install <project>"))?;
            Some(seconds)
        } else {
            None
        };

        note(&step("venv-pack"));
        let (result, pack) =
            timed(|| Cmd::new(self.venv_pack.as_str(), &dir).args(["-p", venv.as_str(), "-o", out.as_str()]).run());
        result.with_context(|| step("venv-pack"))?;
        let size = std::fs::metadata(&out).with_context(|| step("reading the tarball venv-pack wrote"))?.len();
        let flow = PipFlow { venv: venv_seconds, requirements, project, pack, size };
        note(&format!("{}: {:.2} s", step("total"), flow.total()));
        Ok(flow)
    }
}
