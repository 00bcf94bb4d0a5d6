//! The command line itself: every command answers `--help`, bad flags fail clearly.

use crate::support::{workspace_root, xtask};

/// The subcommands listed by `cargo xtask --help`.
fn commands() -> Vec<String> {
    let help = xtask(&workspace_root(), &["--help"]).success().stdout;
    let listing = help.split("Commands:").nth(1).expect("a Commands: section");
    listing
        .lines()
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_command_has_help() {
    let commands = commands();
    for expected in ["layout", "new-project", "ci"] {
        assert!(commands.iter().any(|c| c == expected), "`{expected}` missing from {commands:?}");
    }
    for command in &commands {
        let run = xtask(&workspace_root(), &[command, "--help"]).success();
        assert!(run.stdout.contains("Usage: cargo xtask"), "{command} --help:\n{}", run.stdout);
    }
}

#[test]
fn an_unknown_command_fails_with_usage() {
    let run = xtask(&workspace_root(), &["deploy-the-moon"]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("unrecognized subcommand 'deploy-the-moon'"), "{}", run.stderr);
}

#[test]
fn namespace_commands_check_their_arguments() {
    let root = workspace_root();
    for sub in ["list", "rm"] {
        let run = xtask(&root, &["namespace", sub, "--help"]).success();
        assert!(run.stdout.contains("--target"), "namespace {sub} --help:\n{}", run.stdout);
    }
    let neither = xtask(&root, &["namespace", "rm", "--target", "local"]);
    assert_eq!(neither.code, Some(2), "{}", neither.stderr);
    assert!(neither.stderr.contains("<NS>") || neither.stderr.contains("--older-than"), "{}", neither.stderr);
    let both = xtask(&root, &["namespace", "rm", "mr-1", "--older-than", "7d", "--target", "local"]);
    assert_eq!(both.code, Some(2), "{}", both.stderr);
    let bad_age = xtask(&root, &["namespace", "rm", "--older-than", "7x", "--target", "local"]);
    assert_eq!(bad_age.code, Some(2));
    assert!(bad_age.stderr.contains("such as 12h or 7d"), "{}", bad_age.stderr);
    let help = xtask(&root, &["deploy", "--help"]).success().stdout;
    assert!(help.contains("--namespace <NS>") && help.contains("--data-profile <NAME>"), "{help}");
}

/// The deploy's test hooks (`FailPoint`, the `Injected` error, the `pad-injected` script
/// marker) are `cfg(test)` in pad-deploy, so no build of the front end carries them: this
/// binary is built without `cfg(test)` for its libraries, as a release build is.
#[test]
fn the_front_end_carries_no_test_hooks() {
    let exe = env!("CARGO_BIN_EXE_pad-xtask");
    let binary = std::fs::read(exe).unwrap();
    let text = String::from_utf8_lossy(&binary);
    let contains = |needle: &str| text.contains(needle);
    // What the deploy does compile in is there: the search reads the real binary.
    for present in ["the host answered something unexpected", "smoke test"] {
        assert!(contains(present), "`{present}` is not in {exe}: the search is broken");
    }
    for hook in ["pad-injected", "FailPoint", "injected failure at", "test hook", "fail_at"] {
        assert!(!contains(hook), "{exe} carries the test hook `{hook}`: keep it under #[cfg(test)] in pad-deploy");
    }
}
