//! Helpers shared by the crate's tests: temporary directories and trees built from
//! fixtures, and raw tar archives written header by header so that they can hold what
//! no careful writer would (`..`, absolute paths, devices, NUL bytes).

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use camino::{Utf8Path, Utf8PathBuf};
use pad_process::Cmd;
use tar::{EntryType, Header};
use walkdir::WalkDir;

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

/// A tar.gz written header by header: paths and link names are raw bytes, stored in
/// the header when they fit and in GNU long-name entries otherwise, with no checks.
pub(crate) struct RawTar {
    tar: tar::Builder<Vec<u8>>,
}

impl RawTar {
    pub(crate) fn new() -> Self {
        RawTar { tar: tar::Builder::new(Vec::new()) }
    }

    pub(crate) fn file(self, path: &[u8], data: &[u8]) -> Self {
        self.entry(EntryType::Regular, path, b"", 0o644, data)
    }

    pub(crate) fn dir(self, path: &[u8]) -> Self {
        self.entry(EntryType::Directory, path, b"", 0o755, b"")
    }

    pub(crate) fn symlink(self, path: &[u8], target: &[u8]) -> Self {
        self.entry(EntryType::Symlink, path, target, 0o777, b"")
    }

    pub(crate) fn hardlink(self, path: &[u8], target: &[u8]) -> Self {
        self.entry(EntryType::Link, path, target, 0o644, b"")
    }

    pub(crate) fn special(self, entry_type: EntryType, path: &[u8]) -> Self {
        self.entry(entry_type, path, b"", 0o644, b"")
    }

    pub(crate) fn entry(mut self, entry_type: EntryType, path: &[u8], link: &[u8], mode: u32, data: &[u8]) -> Self {
        if path.len() > 100 || path.contains(&0) {
            self.long(EntryType::GNULongName, path);
        }
        if link.len() > 100 || link.contains(&0) {
            self.long(EntryType::GNULongLink, link);
        }
        let mut header = Header::new_gnu();
        header.set_entry_type(entry_type);
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        header.set_mtime(0);
        let old = header.as_old_mut();
        let n = path.len().min(100);
        old.name[..n].copy_from_slice(&path[..n]);
        let n = link.len().min(100);
        old.linkname[..n].copy_from_slice(&link[..n]);
        header.set_cksum();
        self.tar.append(&header, data).unwrap();
        self
    }

    /// A GNU long-name entry holding `name` and its terminating NUL.
    fn long(&mut self, entry_type: EntryType, name: &[u8]) {
        let mut header = Header::new_gnu();
        header.set_entry_type(entry_type);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        let data = [name, b"\0"].concat();
        header.set_size(data.len() as u64);
        header.set_cksum();
        self.tar.append(&header, &data[..]).unwrap();
    }

    pub(crate) fn gz(self) -> Vec<u8> {
        let tar = self.tar.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap()
    }
}
