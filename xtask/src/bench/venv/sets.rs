//! The requirement sets the venv benchmark measures, and the scratch repository that
//! holds them as projects (copies without locks or build leftovers), with the file
//! helpers the benchmark uses.

use anyhow::{Context as _, Result, bail};
use camino::Utf8Path;

const IMAGE_MATCHING: &str = "image-matching";
pub(super) const LARGE: &str = "bench-large";
pub(super) const SETS: &[&str] = &[IMAGE_MATCHING, LARGE];

/// The larger set: pinned direct requirements with manylinux wheels for CPython 3.11;
/// uv and pip resolve the rest.
const LARGE_REQUIREMENTS: &str = "\
# bench-large: a larger requirement set for `cargo xtask bench venv`.
numpy==2.1.3
pandas==2.2.3
scikit-learn==1.5.2
pytest==8.3.4
";
const LARGE_SETTINGS: &str = "python = \"3.11\"\n";

/// Files copied from a project but not into the scratch one: locks (so the cold run
/// resolves, as pip does) and what builds and test runs leave behind.
const SKIPPED_AT_TOP: &[&str] = &[pad_venv::LOCK_FILE, pad_venv::TEST_LOCK_FILE];
const SKIPPED_ANYWHERE: &[&str] = &["__pycache__", "build", ".pytest_cache"];

/// The sets named with `--set`, each once, or all of them.
pub(super) fn select(names: &[String]) -> Result<Vec<&'static str>> {
    if names.is_empty() {
        return Ok(SETS.to_vec());
    }
    let mut chosen = Vec::new();
    for name in names {
        let Some(set) = SETS.iter().find(|s| **s == name.as_str()) else {
            bail!("no requirement set `{name}`: the sets are {}", SETS.join(", "))
        };
        if !chosen.contains(set) {
            chosen.push(*set);
        }
    }
    Ok(chosen)
}

/// Writes the scratch repository: `dags/`, and under `projects/` a copy of the real
/// image-matching project and the synthetic bench-large one.
pub(super) fn write_repo(real: &pad_layout::Repo, repo: &Utf8Path, sets: &[&str]) -> Result<()> {
    create_dir(&repo.join("dags"))?;
    let projects = repo.join("projects");
    for set in sets {
        let dest = projects.join(set);
        if *set == LARGE {
            create_dir(&dest)?;
            write(&dest.join(pad_layout::REQUIREMENTS_FILE), LARGE_REQUIREMENTS)?;
            write(&dest.join(pad_layout::PROJECT_SETTINGS_FILE), LARGE_SETTINGS)?;
        } else {
            let Some(project) = real.project(set) else {
                bail!("{}/projects has no `{set}` project to benchmark: run with `--set {LARGE}`", real.root)
            };
            copy_project(&project.dir, &dest)?;
        }
    }
    pad_layout::discover(repo).with_context(|| format!("the scratch repository {repo} does not pass `layout`"))?;
    Ok(())
}

/// Copies a project's files, without its locks and build or test leftovers.
pub(super) fn copy_project(from: &Utf8Path, to: &Utf8Path) -> Result<()> {
    let mut stack = vec![(from.to_owned(), to.to_owned(), true)];
    while let Some((src, dest, top)) = stack.pop() {
        create_dir(&dest)?;
        let entries = src.read_dir_utf8().with_context(|| format!("reading {src}"))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("reading {src}"))?;
            let name = entry.file_name();
            let skipped = SKIPPED_ANYWHERE.contains(&name)
                || name.ends_with(".egg-info")
                || (top && SKIPPED_AT_TOP.contains(&name));
            if skipped {
                continue;
            }
            let target = dest.join(name);
            if entry.path().is_dir() {
                stack.push((entry.path().to_owned(), target, false));
            } else {
                std::fs::copy(entry.path(), &target)
                    .with_context(|| format!("copying {} to {target}", entry.path()))?;
            }
        }
    }
    Ok(())
}

/// Regular files, their bytes, and how many are `*.pyc`, under `dir`.
pub(super) fn dir_stats(dir: &Utf8Path) -> Result<(u64, u64, u64)> {
    let (mut files, mut bytes, mut pyc) = (0, 0, 0);
    let mut stack = vec![dir.to_owned()];
    while let Some(current) = stack.pop() {
        for entry in current.read_dir_utf8().with_context(|| format!("reading {current}"))? {
            let entry = entry.with_context(|| format!("reading {current}"))?;
            let meta = entry.path().symlink_metadata().with_context(|| format!("reading {}", entry.path()))?;
            if meta.is_dir() {
                stack.push(entry.path().to_owned());
            } else if meta.is_file() {
                files += 1;
                bytes += meta.len();
                pyc += u64::from(entry.file_name().ends_with(".pyc"));
            }
        }
    }
    Ok((files, bytes, pyc))
}

pub(super) fn create_dir(dir: &Utf8Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {dir}"))
}

pub(super) fn write(path: &Utf8Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {path}"))
}

pub(super) fn remove_dir_if_exists(dir: &Utf8Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err).with_context(|| format!("removing {dir}")),
        _ => Ok(()),
    }
}

pub(super) fn remove_file_if_exists(path: &Utf8Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err).with_context(|| format!("removing {path}")),
        _ => Ok(()),
    }
}
