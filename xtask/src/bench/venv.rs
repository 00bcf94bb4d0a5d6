//! `cargo xtask bench venv`: our environments (cold, warm, unchanged) against the PoC
//! flow (`python -m venv`, `pip install -r`, `venv-pack`), and our packing against
//! `tar -czf` and `tar -I pigz`, on the same requirement sets.
//!
//! Everything happens under `target/bench/venv/` (wiped first): a scratch repository
//! with copies of the sets, one uv cache per set, one target directory per run. Our runs
//! are `cargo xtask venv` processes (this binary), so each gets its own `UV_CACHE_DIR`
//! and `PAD_TARGET_DIR` through its environment. This module measures ours and puts the
//! report together; `venv/pip.rs` runs the PoC flow, `venv/sets.rs` holds the
//! requirement sets and writes the scratch repository.

use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use camino::{Utf8Path, Utf8PathBuf};
use pad_layout::EnvVars;
use pad_process::Cmd;
use pad_venv::Uv;
use serde::Deserialize;

use super::probe::ProbeResult;
use super::report::{Machine, Report, Row, SetReport, TargetCheck};
use super::{median, note, timed, tool_version};
use crate::flags::BenchVenvArgs;
use pad_stdx::human_size;

mod pip;
mod sets;

use pip::{PIP_FIND_LINKS, PipFlow, VENV_PACK, venv_pack};
use sets::{copy_project, create_dir, dir_stats, remove_dir_if_exists, remove_file_if_exists, select, write_repo};

const UV_CACHE_DIR: &str = "UV_CACHE_DIR";

/// The fields of `cargo xtask venv --json` the benchmark reads.
#[derive(Debug, Deserialize)]
struct VenvRow {
    reused: bool,
    seconds: f64,
    size: Option<u64>,
    path: Option<Utf8PathBuf>,
    interpreter: Utf8PathBuf,
    python: String,
    lock_updated: bool,
}

/// One `cargo xtask venv` run: its wall time and what it reported.
struct Ours {
    wall: f64,
    row: VenvRow,
}

/// A repeated packing: every run's seconds and the archive size.
struct Packing {
    runs: Vec<f64>,
    size: u64,
}

impl Packing {
    fn median(&self) -> f64 {
        median(&self.runs)
    }
}

/// What a set's measurement gives besides its rows.
struct SetOutcome {
    report: SetReport,
    targets: Vec<TargetCheck>,
    python: String,
    pip: Option<String>,
}

/// Paths and tools shared by every measurement.
struct Bench {
    /// This binary: `cargo xtask` as a process.
    exe: Utf8PathBuf,
    /// `target/bench/venv`.
    scratch: Utf8PathBuf,
    /// The scratch repository holding the sets as projects.
    repo: Utf8PathBuf,
    uv: Uv,
    venv_pack: Utf8PathBuf,
    pigz: Option<String>,
    pack_runs: u32,
}

pub(super) fn run(root: &Utf8Path, args: &BenchVenvArgs) -> Result<ExitCode> {
    let sets = select(&args.sets)?;
    let real = pad_layout::discover(root)?;
    let uv = crate::workspace(&real.root).venv_context(false, false).context("finding uv for the benchmark")?.uv;
    let bench_dir = real.root.join("target/bench");
    let scratch = bench_dir.join("venv");
    note(&format!("wiping {scratch}"));
    remove_dir_if_exists(&scratch)?;
    let repo = scratch.join("repo");
    write_repo(&real, &repo, &sets)?;
    let venv_pack = venv_pack(&bench_dir.join("tools"))?;
    let pigz = tool_version(&Cmd::new("pigz", &scratch).arg("--version"));
    if pigz.is_none() {
        note("pigz is not on PATH: the `tar -I pigz` measurement is skipped (install it: `apt-get install pigz`)");
    }
    let exe = std::env::current_exe().context("finding the running cargo xtask binary")?;
    let exe = Utf8PathBuf::from_path_buf(exe).map_err(|p| anyhow::anyhow!("`{}` is not UTF-8", p.display()))?;
    let bench = Bench { exe, scratch, repo, uv, venv_pack, pigz, pack_runs: args.pack_runs };

    let mut outcomes = Vec::new();
    for set in &sets {
        outcomes.push(bench.measure(set)?);
    }
    let report = bench.report(outcomes);
    if args.json {
        crate::print_json(&report)?;
    } else {
        report.print_text();
    }
    Ok(ExitCode::SUCCESS)
}

impl Bench {
    fn measure(&self, set: &str) -> Result<SetOutcome> {
        let project = self.repo.join("projects").join(set);
        let uv_cache = self.scratch.join("uv-cache").join(set);
        let target_dirs = self.scratch.join("target");

        let cold = self.ours(set, "cold", &uv_cache, &target_dirs.join(format!("{set}-cold")))?;
        let warm_target = target_dirs.join(format!("{set}-warm"));
        let warm = self.ours(set, "warm", &uv_cache, &warm_target)?;
        let unchanged = self.ours(set, "unchanged", &uv_cache, &warm_target)?;
        if cold.row.reused || warm.row.reused {
            bail!("{set}: the cold and warm runs reused an environment; they must build one");
        }
        if !unchanged.row.reused {
            bail!("{set}: the unchanged run built its environment again instead of reusing it");
        }
        let Some(tarball) = &warm.row.path else { bail!("{set}: `cargo xtask venv --json` reported no venv.tar.gz") };
        let env_dir = tarball.with_file_name("venv");

        let probes: Vec<ProbeResult> =
            (0..self.pack_runs).map(|run| self.probe(set, &uv_cache, &target_dirs, run)).collect::<Result<_>>()?;
        let ours_pack = Packing {
            runs: probes.iter().map(|p| p.pack_seconds).collect(),
            size: probes.first().map_or(0, |p| p.size),
        };
        if probes.iter().any(|p| p.sha256 != probes[0].sha256) {
            bail!("{set}: pad-bundle packed the same environment into different bytes across runs");
        }
        let pack_out = self.scratch.join("pack").join(set);
        create_dir(&pack_out)?;
        let tar = self.tar(set, "tar -czf", &["-czf"], &env_dir, &pack_out.join("tar-czf.tar.gz"))?;
        let pigz = match &self.pigz {
            Some(_) => Some(self.tar(
                set,
                "tar -I pigz -cf",
                &["-I", "pigz", "-cf"],
                &env_dir,
                &pack_out.join("pigz.tar.gz"),
            )?),
            None => None,
        };

        let pip_dir = self.scratch.join("pip").join(set);
        let pip_source = pip_dir.join("src");
        copy_project(&project, &pip_source)?;
        let install_project = project.join(pad_layout::PYPROJECT_FILE).is_file();
        let pip_cache = pip_dir.join("cache");
        let python = &cold.row.interpreter;
        let pip_cold = self.pip_flow(set, "cold", python, &pip_cache, &pip_source, install_project)?;
        let pip_cached = if pip_cache.exists() { dir_stats(&pip_cache)?.1 } else { 0 };
        let pip_warm = self.pip_flow(set, "warm", python, &pip_cache, &pip_source, install_project)?;
        let pip = tool_version(&Cmd::new(pip_dir.join("cold-venv/bin/pip").as_str(), &pip_dir).arg("--version"));

        let mut rows = Vec::new();
        let lock = if cold.row.lock_updated { "; lock resolved and written" } else { "" };
        rows.push(
            Row::new("ours cold", cold.wall)
                .size(cold.row.size)
                .vs("pip flow cold", pip_cold.total())
                .note(format!("empty uv cache{lock}; in-process {:.2} s", cold.row.seconds)),
        );
        rows.push(Row::new("ours warm", warm.wall).size(warm.row.size).vs("pip flow warm", pip_warm.total()).note(
            format!(
                "new PAD_TARGET_DIR: no env for the key, uv cache warm, lock kept; in-process {:.2} s",
                warm.row.seconds
            ),
        ));
        rows.extend(step_rows(&probes));
        rows.push(
            Row::new("ours unchanged", unchanged.wall)
                .size(unchanged.row.size)
                .note(format!("reused; in-process {:.3} s", unchanged.row.seconds)),
        );
        let warm_cache = if pip_cached == 0 {
            "pip cache from the cold run, which stored nothing (pip keeps only responses the index lets it cache), so this is not warm"
                .to_owned()
        } else {
            format!("pip cache from the cold run, {}", human_size(pip_cached))
        };
        for (label, flow) in [("cold", &pip_cold), ("warm", &pip_warm)] {
            let cache = if label == "cold" { "empty pip cache" } else { warm_cache.as_str() };
            rows.push(
                Row::new(format!("pip flow {label}"), flow.total())
                    .size(Some(flow.size))
                    .note(format!("python -m venv + pip install ({cache}) + venv-pack")),
            );
            rows.push(Row::new("  python -m venv", flow.venv));
            rows.push(Row::new("  pip install -r", flow.requirements));
            if let Some(seconds) = flow.project {
                rows.push(Row::new("  pip install <project>", seconds));
            }
            rows.push(Row::new("  venv-pack", flow.pack));
        }
        let mut ours_row = Row::new("pack ours", ours_pack.median())
            .size(Some(ours_pack.size))
            .runs(ours_pack.runs.clone())
            .vs("tar -czf", tar.median());
        if let Some(pigz) = &pigz {
            ours_row = ours_row.vs("pigz", pigz.median());
        }
        rows.push(ours_row.note(format!("pad_bundle::pack_dir via pad-venv, median of {}", self.pack_runs)));
        rows.push(Row::new("pack tar -czf", tar.median()).size(Some(tar.size)).runs(tar.runs.clone()));
        if let Some(pigz) = &pigz {
            rows.push(Row::new("pack tar -I pigz -cf", pigz.median()).size(Some(pigz.size)).runs(pigz.runs.clone()));
        }

        let (env_files, env_bytes, env_pyc_files) = dir_stats(&env_dir)?;
        let requirements = std::fs::read_to_string(project.join(pad_layout::REQUIREMENTS_FILE))
            .context("reading the set's requirements.txt")?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect();
        let checks = targets(set, &cold, &unchanged, &pip_cold, &ours_pack, &tar, pigz.as_ref());
        Ok(SetOutcome {
            report: SetReport {
                name: set.to_owned(),
                requirements,
                env_dir,
                env_files,
                env_bytes,
                env_pyc_files,
                rows,
            },
            targets: checks,
            python: format!("{} ({})", cold.row.python, cold.row.interpreter),
            pip,
        })
    }

    /// Runs `cargo xtask venv SET --json` in its own uv cache and target directory.
    fn ours(&self, set: &str, label: &str, uv_cache: &Utf8Path, target: &Utf8Path) -> Result<Ours> {
        note(&format!("{set}: ours {label}"));
        self.seed_uv(target)?;
        let cmd = Cmd::new(self.exe.as_str(), &self.scratch)
            .args(["--repo", self.repo.as_str(), "venv", set, "--json"])
            .env(UV_CACHE_DIR, uv_cache.as_str())
            .env(EnvVars::PAD_TARGET_DIR, target.as_str());
        let (output, wall) = timed(|| cmd.run());
        let output = output.with_context(|| format!("{set}: ours {label} (`cargo xtask venv {set}`)"))?;
        let rows: Vec<VenvRow> = serde_json::from_str(&output.stdout)
            .with_context(|| format!("{set}: ours {label}: reading the JSON of `cargo xtask venv`"))?;
        let Some(row) = rows.into_iter().next() else {
            bail!("{set}: ours {label}: `cargo xtask venv` reported nothing")
        };
        note(&format!("{set}: ours {label}: {wall:.2} s, {}", if row.reused { "reused" } else { "built" }));
        Ok(Ours { wall, row })
    }

    /// Builds the set once more in a fresh target directory with the warm uv cache and
    /// returns how long pad-venv's packing step took.
    fn probe(&self, set: &str, uv_cache: &Utf8Path, targets: &Utf8Path, run: u32) -> Result<ProbeResult> {
        note(&format!("{set}: pack ours, run {} of {}", run + 1, self.pack_runs));
        let target = targets.join(format!("{set}-probe-{run}"));
        self.seed_uv(&target)?;
        let output = Cmd::new(self.exe.as_str(), &self.scratch)
            .args(["--repo", self.repo.as_str(), "bench", "venv", "--pack-probe", set])
            .env(UV_CACHE_DIR, uv_cache.as_str())
            .env(EnvVars::PAD_TARGET_DIR, target.as_str())
            .run()
            .with_context(|| format!("{set}: pack ours (building in {target} to time pad-venv's packing)"))?;
        let probe: ProbeResult = serde_json::from_str(&output.stdout)
            .with_context(|| format!("{set}: pack ours: reading the probe's JSON"))?;
        // Only the timing is needed; the next runs and pip need the disk more.
        remove_dir_if_exists(&target)?;
        Ok(probe)
    }

    /// Times `tar FLAGS OUT -C ENV .` `pack_runs` times.
    fn tar(&self, set: &str, label: &str, flags: &[&str], env_dir: &Utf8Path, out: &Utf8Path) -> Result<Packing> {
        let mut runs = Vec::new();
        let mut size = 0;
        for run in 0..self.pack_runs {
            note(&format!("{set}: pack {label}, run {} of {}", run + 1, self.pack_runs));
            remove_file_if_exists(out)?;
            let cmd = Cmd::new("tar", &self.scratch).args(flags).arg(out.as_str()).args(["-C", env_dir.as_str(), "."]);
            let (result, seconds) = timed(|| cmd.run());
            result.with_context(|| format!("{set}: pack {label}"))?;
            size = std::fs::metadata(out).with_context(|| format!("{set}: pack {label}: reading {out}"))?.len();
            runs.push(seconds);
        }
        Ok(Packing { runs, size })
    }

    /// Lets a fresh target directory use the uv this checkout already has, instead of
    /// installing it again inside the timing, when uv is the pinned one under `tools/`.
    fn seed_uv(&self, target: &Utf8Path) -> Result<()> {
        let pinned = format!("uv-{}", pad_venv::PINNED_UV_VERSION);
        let Some(home) = self.uv.path.parent().and_then(Utf8Path::parent) else { return Ok(()) };
        if home.file_name() != Some(pinned.as_str()) {
            return Ok(()); // uv is on PATH, which the children inherit.
        }
        let tools = target.join("tools");
        let link = tools.join(&pinned);
        if link.exists() {
            return Ok(());
        }
        create_dir(&tools)?;
        std::os::unix::fs::symlink(home, &link).with_context(|| format!("linking {link} to {home}"))
    }

    fn report(&self, outcomes: Vec<SetOutcome>) -> Report {
        let python = outcomes.first().map_or_else(|| "unknown".to_owned(), |o| o.python.clone());
        let pip = outcomes.iter().find_map(|o| o.pip.clone());
        let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|text| {
            text.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim() == "model name").then(|| value.trim().to_owned())
            })
        });
        let machine = Machine {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu,
            xtask_profile: if cfg!(debug_assertions) {
                "debug (workspace crates unoptimised, dependencies at opt-level 2)"
            } else {
                "release"
            },
            uv: format!("{} ({})", self.uv.version, self.uv.path),
            python,
            pip,
            venv_pack: tool_version(&Cmd::new(self.venv_pack.as_str(), &self.scratch).arg("--version")),
            tar: tool_version(&Cmd::new("tar", &self.scratch).arg("--version")),
            pigz: self.pigz.clone(),
        };
        let mut sets = Vec::new();
        let mut targets = Vec::new();
        for outcome in outcomes {
            sets.push(outcome.report);
            targets.extend(outcome.targets);
        }
        let notes = vec![
            "vs: the other's seconds divided by ours; above 1 means ours is faster.".to_owned(),
            "ours rows are whole `cargo xtask venv` processes (wall time); in-process is the `seconds` it reports."
                .to_owned(),
            "ours cold starts with an empty uv cache and no requirements.lock, so it resolves the lock as pip resolves requirements.txt."
                .to_owned(),
            format!(
                "pack ours is pad_bundle::pack_dir as pad-venv calls it (symlinks kept, __pycache__ and *.pyc skipped), timed between pad-venv's progress steps in a fresh build with the warm uv cache; the tar runs read `ours warm`'s venv/ directory. Each packing ran {} times; the median is shown.",
                self.pack_runs
            ),
            format!(
                "the pip flow uses the interpreter ours resolved, {PIP_FIND_LINKS} removed so pip downloads from PyPI, and {VENV_PACK}; the project is installed non-editable from a copy."
            ),
        ];
        Report { machine, sets, targets, notes }
    }
}

/// The steps of the probes' warm builds, each the median over the runs.
fn step_rows(probes: &[ProbeResult]) -> Vec<Row> {
    let Some(first) = probes.first() else { return Vec::new() };
    let mut rows: Vec<Row> = first
        .steps
        .iter()
        .map(|step| {
            let runs: Vec<f64> =
                probes.iter().filter_map(|p| p.steps.iter().find(|s| s.step == step.step).map(|s| s.seconds)).collect();
            Row::new(format!("  {}", step.step), median(&runs))
        })
        .collect();
    if let Some(row) = rows.first_mut() {
        row.note = Some(format!("steps of a warm build (pad-venv progress), median of {} probe builds", probes.len()));
    }
    rows
}

/// The issue's targets, judged on one set.
fn targets(
    set: &str,
    cold: &Ours,
    unchanged: &Ours,
    pip_cold: &PipFlow,
    ours_pack: &Packing,
    tar: &Packing,
    pigz: Option<&Packing>,
) -> Vec<TargetCheck> {
    let check = |target: &'static str, measured: String, met: Option<bool>| TargetCheck {
        set: set.to_owned(),
        target,
        measured,
        met,
    };
    let cold_ratio = pip_cold.total() / cold.wall;
    let pack = ours_pack.median();
    let tar_ratio = tar.median() / pack;
    let mut checks = vec![
        check(
            "cold >= 10x faster than the pip flow (cold)",
            format!("{cold_ratio:.1}x ({:.2} s vs {:.2} s)", cold.wall, pip_cold.total()),
            Some(cold_ratio >= 10.0),
        ),
        check(
            "unchanged <= 0.2 s (whole process)",
            format!("{:.3} s (in-process {:.3} s)", unchanged.wall, unchanged.row.seconds),
            Some(unchanged.wall <= 0.2),
        ),
        check(
            "packing >= 2x faster than tar -czf",
            format!("{tar_ratio:.1}x ({pack:.2} s vs {:.2} s)", tar.median()),
            Some(tar_ratio >= 2.0),
        ),
    ];
    let pigz_check = match pigz {
        Some(pigz) => {
            let ratio = pigz.median() / pack;
            let met = pack <= pigz.median() && ours_pack.size <= pigz.size;
            let larger = (ours_pack.size as f64 / pigz.size as f64 - 1.0) * 100.0;
            let measured = format!(
                "{ratio:.2}x ({pack:.2} s vs {:.2} s); size {larger:+.1}% ({} vs {} bytes)",
                pigz.median(),
                ours_pack.size,
                pigz.size
            );
            check("packing no slower than pigz, equal or smaller size", measured, Some(met))
        }
        None => check(
            "packing no slower than pigz, equal or smaller size",
            "pigz not installed: `apt-get install pigz`".to_owned(),
            None,
        ),
    };
    checks.push(pigz_check);
    checks
}
