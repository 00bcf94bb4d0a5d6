//! Helpers shared by the crate's tests: temporary directories and trees built from
//! fixtures. Raw tar archives written header by header are in [`crate::craft`].

use std::fs;
use std::os::unix::fs::PermissionsExt;

use camino::{Utf8Path, Utf8PathBuf};
use pad_process::Cmd;
use walkdir::WalkDir;

pub(crate) use crate::craft::RawTar;

pub(crate) fn tempdir() -> (tempfile::TempDir, Utf8PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
    (dir, path)
}

pub(crate) fn run(program: &str, dir: &Utf8Path, args: &[&str]) -> String {
    Cmd::new(program, dir).args(args).run().unwrap().stdout
}

/// A tree in a temporary directory from a fixture, one entry a line:
/// `dir PATH`, `file PATH TEXT`, `exec PATH TEXT`, `link PATH TARGET`, `hardlink PATH EXISTING`,
/// `fifo PATH`, `socket PATH`.
pub(crate) struct Tree {
    _dir: tempfile::TempDir,
    /// Holds the tree; archives go to the temporary directory beside it.
    pub(crate) root: Utf8PathBuf,
    pub(crate) out: Utf8PathBuf,
    /// Keeps bound sockets' listeners alive while the test runs.
    _sockets: Vec<std::os::unix::net::UnixListener>,
}

pub(crate) fn tree(fixture: &str) -> Tree {
    let (dir, path) = tempdir();
    let root = path.join("tree");
    let out = path.join("out");
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&out).unwrap();
    let mut sockets = Vec::new();
    for line in fixture.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut words = line.splitn(3, ' ');
        let (kind, rel, rest) = (words.next().unwrap(), words.next().unwrap(), words.next().unwrap_or(""));
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        match kind {
            "dir" => fs::create_dir_all(&path).unwrap(),
            "file" | "exec" => {
                fs::write(&path, rest).unwrap();
                let mode = if kind == "exec" { 0o755 } else { 0o644 };
                fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            }
            "link" => std::os::unix::fs::symlink(rest, &path).unwrap(),
            "hardlink" => fs::hard_link(root.join(rest), &path).unwrap(),
            "fifo" => {
                run("mkfifo", &root, &[path.as_str()]);
            }
            "socket" => sockets.push(std::os::unix::net::UnixListener::bind(&path).unwrap()),
            _ => panic!("unknown fixture line {line:?}"),
        }
    }
    Tree { _dir: dir, root, out, _sockets: sockets }
}

/// Every path under `dir` with its kind, without following links: what a test
/// compares before and after to see that nothing else was created.
pub(crate) fn listing(dir: &Utf8Path) -> Vec<String> {
    WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .map(|entry| {
            let entry = entry.unwrap();
            let kind = if entry.file_type().is_dir() {
                "d"
            } else if entry.file_type().is_symlink() {
                "l"
            } else {
                "f"
            };
            format!("{kind} {}", entry.path().display())
        })
        .collect()
}
