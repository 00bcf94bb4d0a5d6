//! Tests for children that run alongside us.

use std::time::{Duration, Instant};

use camino::Utf8PathBuf;

use crate::{Cmd, Sink};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn utf8(dir: &tempfile::TempDir) -> Utf8PathBuf {
    Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap()
}

#[test]
fn output_goes_to_the_file_given() {
    let dir = tmp();
    let log = utf8(&dir).join("log");
    let file = std::fs::File::create(&log).unwrap();
    let err = file.try_clone().unwrap();
    let mut child = Cmd::new("sh", &utf8(&dir))
        .args(["-c", "echo out; echo err >&2; pwd; echo \"$PAD_SPAWN_TEST\""])
        .env("PAD_SPAWN_TEST", "set")
        .spawn(Sink::File(file), Sink::File(err))
        .unwrap();
    assert!(child.wait().unwrap().success());
    let text = std::fs::read_to_string(&log).unwrap();
    let dir = std::fs::canonicalize(dir.path()).unwrap();
    assert_eq!(text, format!("out\nerr\n{}\nset\n", dir.display()));
}

#[test]
fn stop_ends_a_child_that_runs_on() {
    let dir = tmp();
    let mut child = Cmd::new("sleep", &utf8(&dir)).arg("60").spawn(Sink::Null, Sink::Null).unwrap();
    assert!(child.try_wait().unwrap().is_none());
    let started = Instant::now();
    child.stop(Duration::from_secs(5));
    assert!(started.elapsed() < Duration::from_secs(5), "TERM did not stop sleep");
    // Stopped once, it is not signalled again.
    child.stop(Duration::from_secs(5));
}

#[test]
fn a_child_that_ignores_term_is_killed_after_the_grace() {
    let dir = tmp();
    let mut child = Cmd::new("sh", &utf8(&dir))
        .args(["-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"])
        .spawn(Sink::Null, Sink::Null)
        .unwrap();
    // Let the shell install its trap before it is signalled.
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    child.stop(Duration::from_millis(300));
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_some());
}

#[test]
fn a_dropped_child_is_killed() {
    let dir = tmp();
    let child = Cmd::new("sleep", &utf8(&dir)).arg("60").spawn(Sink::Null, Sink::Null).unwrap();
    let proc_dir = format!("/proc/{}", child.id());
    drop(child);
    assert!(!std::path::Path::new(&proc_dir).exists(), "the child outlived its Running");
}

#[test]
fn a_missing_program_is_named() {
    let dir = tmp();
    let err = Cmd::new("pad-no-such-program", &utf8(&dir)).spawn(Sink::Null, Sink::Null).unwrap_err();
    assert!(err.to_string().contains("`pad-no-such-program` was not found on PATH"), "{err}");
}

#[test]
fn a_detached_child_outlives_its_running_until_stopped_by_its_id() {
    let dir = tmp();
    let child = Cmd::new("sleep", &utf8(&dir)).arg("60").own_process_group().spawn(Sink::Null, Sink::Null).unwrap();
    let pid = child.detach();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the detached child still runs");
    assert!(!stat.contains(") Z "), "not a zombie: {stat}");
    Cmd::new("kill", &utf8(&dir)).args(["-KILL", "--", &format!("-{pid}")]).run().unwrap();
}
