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
