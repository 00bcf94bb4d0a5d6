//! Tidy checks, run as tests: module docs, no unfinished code, the crate graph that
//! ARCHITECTURE.md draws, and the examples' build backend in step with the pinned uv.

use std::collections::{BTreeMap, BTreeSet};

use camino::{Utf8Path, Utf8PathBuf};

/// The workspace under test: `cargo test` runs the tests with `CARGO_MANIFEST_DIR` set
/// to xtask's directory, read when they run like everything else here.
fn root() -> Utf8PathBuf {
    let dir = std::env::var(pad_layout::EnvVars::CARGO_MANIFEST_DIR).expect("cargo test sets CARGO_MANIFEST_DIR");
    Utf8Path::new(&dir).parent().unwrap().to_owned()
}

/// Every Rust file of the workspace, relative to the root.
fn rust_files() -> Vec<Utf8PathBuf> {
    let root = root();
    let mut files = Vec::new();
    let mut stack: Vec<Utf8PathBuf> = ["crates", "xtask", "tests"].iter().map(|d| root.join(d)).collect();
    while let Some(dir) = stack.pop() {
        for entry in dir.read_dir_utf8().unwrap() {
            let path = entry.unwrap().into_path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension() == Some("rs") {
                files.push(path.strip_prefix(&root).unwrap().to_owned());
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_module_opens_with_a_doc_line() {
    let root = root();
    let missing: Vec<_> = rust_files()
        .into_iter()
        .filter(|file| {
            let text = std::fs::read_to_string(root.join(file)).unwrap();
            !text.trim_start().starts_with("//!")
        })
        .collect();
    assert!(missing.is_empty(), "these files need a `//!` line saying what they are for: {missing:?}");
}

#[test]
fn no_unfinished_or_skipped_code() {
    let root = root();
    // Spelled in pieces so this file does not match itself.
    let banned = [
        concat!("todo", "!("),
        concat!("unimplemented", "!("),
        concat!("dbg", "!("),
        concat!("#[", "ignore"),
        concat!("#[", "should_panic"),
    ];
    let mut found = Vec::new();
    for file in rust_files() {
        let text = std::fs::read_to_string(root.join(&file)).unwrap();
        for (i, line) in text.lines().enumerate() {
            for pattern in banned {
                if line.contains(pattern) {
                    found.push(format!("{file}:{}: {pattern}", i + 1));
                }
            }
        }
    }
    assert!(found.is_empty(), "unfinished or skipped code:\n{}", found.join("\n"));
}

/// Whether a file holds only tests: `tests.rs`, `tidy.rs`, or anything under `tests/`.
fn is_test_file(file: &Utf8Path) -> bool {
    matches!(file.file_name(), Some("tests.rs" | "tidy.rs")) || file.components().any(|c| c.as_str() == "tests")
}

#[test]
fn no_build_time_paths_in_shipped_code() {
    // A path baked in at compile time names the checkout the binary was built in, and
    // with a shared target directory one binary serves every checkout: the front end
    // finds the repository at run time instead.
    let banned = concat!("env!(\"", "CARGO_MANIFEST_DIR");
    let root = root();
    let found: Vec<String> = rust_files()
        .into_iter()
        .filter(|file| !is_test_file(file) && !file.starts_with("tests"))
        .filter(|file| std::fs::read_to_string(root.join(file)).unwrap().contains(banned))
        .map(|file| file.to_string())
        .collect();
    assert!(found.is_empty(), "a build-time path in code that ships: {found:?}; find the path at run time");
}

/// `crate -> dependency` edges between workspace members, from `cargo metadata`
/// (normal and build dependencies; dev-dependencies may reach anywhere).
fn actual_graph(root: &Utf8Path) -> BTreeMap<String, BTreeSet<String>> {
    let json =
        pad_testkit::cargo(root).args(["metadata", "--format-version", "1", "--no-deps", "--offline"]).read().unwrap();
    let metadata: serde_json::Value = serde_json::from_str(&json).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let members: BTreeSet<String> = packages.iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect();
    packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].as_str() != Some("dev"))
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .filter(|name| members.contains(name))
                .collect();
            (p["name"].as_str().unwrap().to_owned(), deps)
        })
        .collect()
}

/// The graph drawn in ARCHITECTURE.md's `text` block under "## Crate graph": lines of
/// `crate -> dep, dep` (or `crate -> (none)`).
fn documented_graph(root: &Utf8Path) -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let section = text.split("## Crate graph").nth(1).expect("ARCHITECTURE.md has a `## Crate graph` section");
    let block = section.split("```text").nth(1).and_then(|b| b.split("```").next()).expect("a ```text block in it");
    block
        .lines()
        .filter_map(|line| line.split_once("->"))
        .map(|(krate, deps)| {
            let deps =
                deps.split(',').map(str::trim).filter(|d| !d.is_empty() && *d != "(none)").map(str::to_owned).collect();
            (krate.trim().to_owned(), deps)
        })
        .collect()
}

#[test]
fn crate_graph_matches_architecture_md() {
    let root = root();
    let actual = actual_graph(&root);
    let documented = documented_graph(&root);
    assert_eq!(
        actual, documented,
        "the dependencies between workspace crates (left, from cargo metadata) differ from ARCHITECTURE.md's crate graph (right): update one of them"
    );
}

#[test]
fn every_crate_is_described_in_crates_readme() {
    let root = root();
    let readme = std::fs::read_to_string(root.join("crates/README.md")).unwrap();
    let undocumented: Vec<String> = root
        .join("crates")
        .read_dir_utf8()
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_owned())
        .filter(|name| !readme.contains(&format!("`{name}`")))
        .collect();
    assert!(undocumented.is_empty(), "crates/README.md needs a line for {undocumented:?}");
}

#[test]
fn crate_folders_are_named_like_their_packages() {
    let root = root();
    for entry in root.join("crates").read_dir_utf8().unwrap() {
        let dir = entry.unwrap().into_path();
        let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else { continue };
        let name = dir.file_name().unwrap();
        assert!(manifest.contains(&format!("name = \"{name}\"")), "crates/{name} must hold package `{name}`");
        assert!(name.starts_with("pad-"), "crates/{name}: every crate takes the `pad-` prefix");
        assert!(manifest.contains("[lints]\nworkspace = true"), "crates/{name} must use the workspace lints");
    }
}

/// The scaffold and the example projects build with `uv_build` in a range holding the
/// pinned uv, so that uv builds them directly rather than in a Python build environment.
#[test]
fn scaffolded_and_example_projects_build_with_the_pinned_uvs_backend() {
    let minor: Vec<u32> = pad_venv::PINNED_UV_VERSION.split('.').take(2).map(|p| p.parse().unwrap()).collect();
    let wanted = format!(r#"requires = ["uv_build>={}.{},<{}.{}"]"#, minor[0], minor[1], minor[0], minor[1] + 1);
    let root = root();
    for path in [
        "crates/pad-layout/src/templates/pyproject.toml",
        "projects/image-matching/pyproject.toml",
        "projects/archive-sync/pyproject.toml",
    ] {
        let text = std::fs::read_to_string(root.join(path)).unwrap();
        assert!(text.contains(&wanted), "{path} does not require `{wanted}`:\n{text}");
        assert!(text.contains(r#"build-backend = "uv_build""#), "{path}");
    }
}
