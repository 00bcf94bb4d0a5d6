//! `cargo xtask venv`: real uv builds, reuse by key, byte-identical rebuilds, archives
//! that work wherever they are unpacked, and clean failures.

use std::time::{Duration, Instant};

use camino::Utf8Path;
use pad_process::Cmd;

use crate::support::{Spawned, TestRepo, e2e_enabled, names_in, only_entry, uv_bin_dir, xtask_cmd, xtask_with_env};

/// `(project, reused, tarball path, sha256 of the tarball)` for each project, in order.
fn built(json: &serde_json::Value) -> Vec<(String, bool, String, String)> {
    json.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let path = row["path"].as_str().unwrap().to_owned();
            let sha = Cmd::new("sha256sum", Utf8Path::new("/")).arg(&path).read().unwrap();
            let sha = sha.split_whitespace().next().unwrap().to_owned();
            (row["project"].as_str().unwrap().to_owned(), row["reused"].as_bool().unwrap(), path, sha)
        })
        .collect()
}

#[test]
fn builds_reuses_and_rebuilds_byte_identical() {
    if !e2e_enabled("builds_reuses_and_rebuilds_byte_identical") {
        return;
    }
    let repo = TestRepo::example();
    let first_target = repo.root.join("target-1");
    let first = built(&repo.xtask_in(&first_target, &["venv", "--json"]).success().json());
    let names: Vec<&str> = first.iter().map(|(name, ..)| name.as_str()).collect();
    assert_eq!(names, ["archive-sync", "image-matching"]);
    assert!(first.iter().all(|(_, reused, ..)| !reused), "a fresh target builds: {first:?}");

    let started = Instant::now();
    let again = repo.xtask_in(&first_target, &["venv", "--json"]).success().json();
    let elapsed = started.elapsed();
    assert!(built(&again).iter().all(|(_, reused, ..)| *reused), "{again:#}");
    assert!(elapsed < Duration::from_secs(2), "reusing took {elapsed:?}");

    // A second build from clean gives the same bytes.
    let second = built(&repo.xtask_in(&repo.root.join("target-2"), &["venv", "--json"]).success().json());
    for ((name, _, _, sha1), (_, reused, _, sha2)) in first.iter().zip(&second) {
        assert!(!reused);
        assert_eq!(sha1, sha2, "{name}: venv.tar.gz differs between two builds from clean");
    }
    // The committed locks were up to date: nothing in the copy changed.
    for project in ["image-matching", "archive-sync"] {
        let lock = format!("projects/{project}/requirements.lock");
        let original = std::fs::read(crate::support::workspace_root().join(&lock)).unwrap();
        assert_eq!(std::fs::read(repo.root.join(&lock)).unwrap(), original, "{lock} was rewritten");
    }
}

#[test]
fn a_packed_environment_works_wherever_it_is_unpacked() {
    if !e2e_enabled("a_packed_environment_works_wherever_it_is_unpacked") {
        return;
    }
    let repo = TestRepo::example();
    // `test` builds the environment and the overlay with pytest in it.
    repo.xtask(&["test", "image-matching", "--no-dags"]).success();
    let json = repo.xtask(&["venv", "image-matching", "--json"]).success().json();
    let tarball = Utf8Path::new(json[0]["path"].as_str().unwrap()).to_owned();
    let listing = Cmd::new("tar", &repo.root).args(["-tzf", tarball.as_str()]).read().unwrap();
    assert!(!listing.contains("__pycache__") && !listing.contains(".pyc"), "bytecode in the archive");
    // pytest's bytecode (its CLI tests start `python -m image_matching`, each importing
    // pandas) went to the environment's cache beside the venv: none in the venv, none in
    // the project's sources.
    let env_dir = tarball.parent().unwrap();
    let bytecode_under = |dir: &Utf8Path| -> Vec<String> {
        let found = Cmd::new("find", &repo.root).args([dir.as_str(), "-name", "*.pyc"]).read().unwrap();
        found.lines().map(str::to_owned).collect()
    };
    // (numpy's wheel ships one .pyc of its own; what the tests import is pandas and the project)
    let written: Vec<String> = bytecode_under(&env_dir.join("venv"))
        .into_iter()
        .filter(|p| p.contains("/pandas/") || p.contains("/image_matching/"))
        .collect();
    assert_eq!(written, Vec::<String>::new(), "bytecode written into the venv");
    assert_eq!(bytecode_under(&repo.root.join("projects")), Vec::<String>::new(), "bytecode in the sources");
    let cached = bytecode_under(&env_dir.join(pad_venv::PYCACHE_DIR));
    assert!(cached.iter().any(|p| p.contains("/pandas/")), "no pandas bytecode in the cache: {cached:?}");
    assert!(cached.iter().any(|p| p.contains("/image_matching/cli")), "no bytecode of the project: {cached:?}");
    // What the build's smoke test compiled was moved to the environment's final path.
    let staged: Vec<&String> = cached.iter().filter(|p| p.contains("/.tmp-")).collect();
    assert!(staged.is_empty(), "bytecode left under the build's staging path: {staged:?}");

    let place = TestRepo::empty();
    let venv = place.root.join("a place with spaces/venv");
    std::fs::create_dir_all(&venv).unwrap();
    Cmd::new("tar", &place.root).args(["-xzf", tarball.as_str(), "-C", venv.as_str()]).run().unwrap();
    let python = venv.join("bin/python");

    let imported = Cmd::new(python.as_str(), &place.root)
        .args(["-c", "import image_matching, pandas; print(image_matching.__file__)"])
        .read()
        .unwrap();
    assert!(imported.starts_with(venv.as_str()), "imported from {imported}, not the unpacked environment");

    let out = place.root.join("out/matches.tsv");
    let said = Cmd::new(python.as_str(), &place.root)
        .args(["-m", "image_matching", "--output", out.as_str(), "--snapshot", "2024-01-01"])
        .read()
        .unwrap();
    assert!(said.starts_with("wrote ") && said.contains(" matches for "), "{said}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.lines().count() > 10, "{text}");

    // The project's own tests pass against the unpacked environment (pytest comes from
    // the test overlay's site-packages, on PYTHONPATH, which reads no .pth files).
    let env_dir = Utf8Path::new(&json[0]["path"].as_str().unwrap()).parent().unwrap().to_owned();
    let overlay = only_entry(&env_dir, "test-");
    let overlay_site = only_entry(&overlay.join("lib"), "python3").join("site-packages");
    let summary = Cmd::new(python.as_str(), &place.root)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            repo.root.join("projects/image-matching/tests").as_str(),
        ])
        .env("PYTHONPATH", overlay_site.as_str())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .read()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(summary.contains(" passed") && !summary.contains("failed"), "{summary}");
}

#[test]
fn locked_refuses_a_stale_lock() {
    if !e2e_enabled("locked_refuses_a_stale_lock") {
        return;
    }
    let repo = TestRepo::example();
    let requirements = repo.root.join("projects/archive-sync/requirements.txt");
    let mut text = std::fs::read_to_string(&requirements).unwrap();
    text.push_str("# a change the lock has not seen\n");
    std::fs::write(&requirements, text).unwrap();
    let lock_before = std::fs::read(repo.root.join("projects/archive-sync/requirements.lock")).unwrap();

    let run = repo.xtask(&["venv", "--locked", "archive-sync"]).failure();
    assert!(
        run.stderr.contains("archive-sync: `projects/archive-sync/requirements.lock` is stale")
            && run.stderr.contains("run `cargo xtask venv archive-sync` to update it"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(repo.root.join("projects/archive-sync/requirements.lock")).unwrap(), lock_before);

    // Without --locked the lock is brought up to date.
    let json = repo.xtask(&["venv", "archive-sync", "--json"]).success().json();
    assert_eq!(json[0]["lock_updated"], true);
}

#[test]
fn bad_input_fails_cleanly_and_leaves_nothing_half_built() {
    if !e2e_enabled("bad_input_fails_cleanly_and_leaves_nothing_half_built") {
        return;
    }
    let cases = [
        (
            "requirements.txt",
            "pad-no-such-package-for-tests==1.0\n",
            "archive-sync: uv could not resolve `projects/archive-sync/requirements.txt`",
            "pad-no-such-package-for-tests",
        ),
        (
            "requirements.txt",
            "requests=>2\n",
            "archive-sync: uv could not resolve `projects/archive-sync/requirements.txt`",
            "requests=>2",
        ),
        (
            "project.toml",
            "python = \"3.99\"\n",
            "archive-sync: no interpreter for python = \"3.99\"",
            "/usr/bin/python3.99",
        ),
    ];
    for (file, text, message, detail) in cases {
        let repo = TestRepo::example();
        let target = repo.root.join("target");
        repo.write(&format!("projects/archive-sync/{file}"), text);
        let run = repo.xtask_in(&target, &["venv", "archive-sync"]).failure();
        assert!(run.stderr.contains(message), "{file}: {text}\n{}", run.stderr);
        assert!(run.stderr.contains(detail), "{file}: {text}\n{}", run.stderr);
        let left: Vec<String> =
            names_in(&target.join("venvs/archive-sync")).into_iter().filter(|n| n != ".lock").collect();
        assert!(left.is_empty(), "{file}: left behind {left:?}");
    }
}

#[test]
fn an_interrupted_build_is_cleaned_up_by_the_next() {
    if !e2e_enabled("an_interrupted_build_is_cleaned_up_by_the_next") {
        return;
    }
    let repo = TestRepo::example();
    let target = repo.root.join("target");
    let envs = target.join("venvs/image-matching");
    let args = ["--repo", repo.root.as_str(), "venv", "image-matching"];
    let env = [(pad_layout::EnvVars::PAD_TARGET_DIR, target.as_str())];
    // The first run installs uv and fills the probe cache, so the killed run gets far.
    xtask_cmd(&repo.root, &args, &env).arg("--force").run().unwrap();
    for entry in names_in(&envs).iter().filter(|n| !n.starts_with('.')) {
        std::fs::remove_dir_all(envs.join(entry)).unwrap();
    }

    let child = Spawned::start(xtask_cmd(&repo.root, &args, &env).own_process_group());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !names_in(&envs).iter().any(|n| n.starts_with(".tmp-")) {
        assert!(Instant::now() < deadline, "the build never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    // SIGKILL the whole group: the front end and the uv it started.
    Cmd::new("kill", &repo.root).args(["-KILL", "--", &format!("-{}", child.id())]).run().unwrap();
    child.wait();
    let after_kill = names_in(&envs);
    assert!(after_kill.iter().any(|n| n.starts_with(".tmp-")), "{after_kill:?}");
    assert!(after_kill.iter().all(|n| n.starts_with('.')), "a final name appeared: {after_kill:?}");

    let json = repo.xtask_in(&target, &["venv", "image-matching", "--json"]).success().json();
    assert_eq!(json[0]["reused"], false);
    assert!(Utf8Path::new(json[0]["path"].as_str().unwrap()).is_file());
    let left = names_in(&envs);
    assert!(!left.iter().any(|n| n.starts_with(".tmp-")), "{left:?}");
}

#[test]
fn uv_on_path_and_a_fresh_target_directory() {
    if !e2e_enabled("uv_on_path_and_a_fresh_target_directory") {
        return;
    }
    // The users who already have uv: on PATH, and no target/ yet (not even target/tools).
    let repo = TestRepo::example();
    let target = repo.root.join("fresh/target");
    let path = format!("{}:{}", uv_bin_dir(), std::env::var("PATH").unwrap_or_default());
    let env = [("PATH", path.as_str()), (pad_layout::EnvVars::PAD_TARGET_DIR, target.as_str())];
    let run = |args: &[&str]| {
        let mut full = vec!["--repo", repo.root.as_str()];
        full.extend_from_slice(args);
        xtask_with_env(&repo.root, &full, &env)
    };
    let json = run(&["venv", "archive-sync", "--json"]).success().json();
    assert_eq!(json[0]["reused"], false, "{json:#}");
    let tools = names_in(&target.join("tools"));
    assert!(!tools.iter().any(|n| n.starts_with("uv-")), "uv from PATH was installed again: {tools:?}");
    let tested = run(&["test", "archive-sync", "--no-dags", "--json"]).success().json();
    assert_eq!(tested["ok"], true, "{tested:#}");
}

#[test]
fn a_requirement_range_is_pinned_by_the_lock() {
    if !e2e_enabled("a_requirement_range_is_pinned_by_the_lock") {
        return;
    }
    // Ranges are allowed in requirements.txt (README, "Projects"): the lock pins them.
    let repo = TestRepo::example();
    repo.write("projects/archive-sync/requirements.txt", "six>=1.16,<2\n");
    let json = repo.xtask(&["venv", "archive-sync", "--json"]).success().json();
    assert_eq!(json[0]["lock_updated"], true, "{json:#}");
    let lock = std::fs::read_to_string(repo.root.join("projects/archive-sync/requirements.lock")).unwrap();
    let pin = lock.lines().find(|l| l.starts_with("six==")).unwrap_or_else(|| panic!("six is not pinned:\n{lock}"));
    let version = pin.trim_end_matches(" \\").strip_prefix("six==").unwrap().to_owned();
    assert!(version.split('.').all(|part| part.parse::<u32>().is_ok()), "an exact version: {pin}");
    assert!(lock.contains(&format!("{pin}\n    --hash=sha256:")), "with hashes:\n{lock}");

    // The environment holds that version, and with the lock committed (`--locked`) the
    // same environment is reused: nothing is resolved again.
    let record = Utf8Path::new(json[0]["path"].as_str().unwrap()).parent().unwrap().join("pad-env.json");
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    let packages: Vec<&str> = record["packages"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert!(packages.contains(&format!("six=={version}").as_str()), "{packages:?}");
    let again = repo.xtask(&["venv", "archive-sync", "--locked", "--json"]).success().json();
    assert_eq!((again[0]["reused"].as_bool(), again[0]["lock_updated"].as_bool()), (Some(true), Some(false)));
}
