//! The local Airflow of a workspace: which pinned series, its tool environment (the one
//! the DAG check builds, built or reused here), the local target's `AIRFLOW_HOME`, and
//! the state directory `<target>/airflow-local/<key of the home>`, joined into a [`pad_airflow::Setup`];
//! and whether the working tree still matches the release `current` points to.

use camino::{Utf8Path, Utf8PathBuf};

use crate::{FlowError, Progress, Workspace};

/// `<target>/airflow-local/<key>`: the local Airflow's state, databases and logs for the
/// `AIRFLOW_HOME` `home`, whose path the key is made from (12 hex digits of its
/// SHA-256), so checkouts that share a target directory never share an Airflow.
pub fn airflow_state_dir(ws: &Workspace, home: &Utf8Path) -> Utf8PathBuf {
    let key = pad_stdx::sha256_hex(home.as_str().as_bytes());
    ws.target_dir.join("airflow-local").join(&key[..12])
}

/// The local target's `AIRFLOW_HOME` (`deploy/local.toml`, or `$AIRFLOW_HOME`, or
/// `target/airflow` in the repository).
pub fn local_airflow_home(ws: &Workspace) -> Result<Utf8PathBuf, FlowError> {
    let repo = crate::discover(&ws.root)?;
    let target = repo.target("local").ok_or(FlowError::NoLocalTarget)?;
    target
        .resolve_airflow_home(&ws.root, &pad_layout::vars::from_process_env)
        .map_err(|err| FlowError::AirflowHome(err.to_string()))
}

/// The setup of the local Airflow of `series`: by default the series Airflow is up with
/// now, else the newest pinned one. Builds (or reuses) the series' tool environment.
pub fn local_airflow(
    ws: &Workspace,
    series: Option<&str>,
    progress: &dyn Progress,
) -> Result<pad_airflow::Setup, FlowError> {
    let home = local_airflow_home(ws)?;
    let state_dir = airflow_state_dir(ws, &home);
    let running = pad_airflow::State::load(&state_dir)?.map(|state| state.series.to_string());
    let pins = pad_venv::airflow_pins(&ws.root);
    let wanted = series.map(str::to_owned).or(running);
    let pin = match &wanted {
        Some(series) => pins.iter().find(|pin| &pin.series == series).ok_or_else(|| FlowError::NoAirflowSeries {
            series: series.clone(),
            known: pins.iter().map(|pin| pin.series.clone()).collect(),
        })?,
        None => pins.iter().max_by_key(|pin| series_key(&pin.series)).ok_or(FlowError::NoAirflowPin)?,
    };
    let ctx = ws.venv_context(false, false)?;
    let env = pad_venv::airflow_env(&ctx, &ws.root, pin, progress)?;
    Ok(pad_airflow::Setup { series: pad_airflow::Series::new(&pin.series), venv: env.venv, home, state_dir })
}

/// `2.10` before `3.3`, `3.10` after `3.9`.
fn series_key(series: &str) -> Vec<u32> {
    series.split('.').map(|part| part.parse().unwrap_or(0)).collect()
}

/// The files of the working tree that differ from the release `current` points to in
/// `home` (`dags/…`, `projects/<name>/…`), with those only one side has; empty when they
/// match.
pub fn release_differences(ws: &Workspace, home: &Utf8Path) -> Result<Vec<String>, FlowError> {
    let repo = crate::discover(&ws.root)?;
    let current = home.join("current");
    let shipped = pad_layout::release_files(&repo).map_err(FlowError::ReleaseFiles)?;
    let mut differ = Vec::new();
    for file in &shipped {
        let deployed = std::fs::read(current.join(&file.archive_path)).ok();
        let here = std::fs::read(&file.src).ok();
        if deployed != here {
            differ.push(file.archive_path.to_string());
        }
    }
    // DAG files the release has and the tree no longer does.
    let dags = current.join("dags");
    if let Ok(deployed) = pad_layout::dag_files(&dags) {
        for file in deployed {
            let path = Utf8Path::new("dags").join(&file);
            if !shipped.iter().any(|s| s.archive_path == path) {
                differ.push(path.to_string());
            }
        }
    }
    differ.sort();
    differ.dedup();
    Ok(differ)
}

#[cfg(test)]
mod tests {
    use crate::Workspace;
    use crate::tests::one_project;

    #[test]
    fn the_working_tree_is_compared_with_the_deployed_release() {
        let repo = one_project(&[("dags/etl.py", "# v1\n"), ("projects/etl/src/etl/__init__.py", "")]);
        let ws = Workspace::new(&repo.root);
        let home = repo.root.join("home");
        let release = home.join("releases/r1");
        for (path, text) in [
            ("dags/etl.py", "# v1\n"),
            ("dags/gone.py", "# removed from the tree\n"),
            ("projects/etl/requirements.txt", ""),
            ("projects/etl/src/etl/__init__.py", ""),
        ] {
            std::fs::create_dir_all(release.join(path).parent().unwrap()).unwrap();
            std::fs::write(release.join(path), text).unwrap();
        }
        std::os::unix::fs::symlink("releases/r1", home.join("current")).unwrap();
        assert_eq!(super::release_differences(&ws, &home).unwrap(), ["dags/gone.py"]);
        std::fs::remove_file(release.join("dags/gone.py")).unwrap();
        assert!(super::release_differences(&ws, &home).unwrap().is_empty());
        std::fs::write(repo.root.join("dags/etl.py"), "# v2\n").unwrap();
        assert_eq!(super::release_differences(&ws, &home).unwrap(), ["dags/etl.py"]);
    }

    #[test]
    fn the_newest_series_sorts_last() {
        let mut series = vec!["3.10", "2.10", "3.3", "3.9"];
        series.sort_by_key(|s| super::series_key(s));
        assert_eq!(series, ["2.10", "3.3", "3.9", "3.10"]);
    }
}
