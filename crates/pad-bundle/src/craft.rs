//! Hand-made archives for tests, here and in the crates that read packages (feature
//! `testing`): [`RawTar`] writes a tar.gz header by header, so it can hold what no
//! careful writer would (`..`, absolute paths, devices, NUL bytes), and
//! [`hostile_packages`] is the corpus of crafted packages every installer must refuse.

use std::io::Write;

use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

use crate::{FileEntry, LinkEntry, MANIFEST_FORMAT, MANIFEST_PATH, Manifest, ProjectEntry, env_archive_path};
use pad_stdx::hex;

/// A tar.gz written header by header: paths and link names are raw bytes, stored in
/// the header when they fit and in GNU long-name entries otherwise, with no checks.
pub struct RawTar {
    tar: tar::Builder<Vec<u8>>,
}

impl Default for RawTar {
    fn default() -> Self {
        RawTar::new()
    }
}

impl RawTar {
    pub fn new() -> Self {
        RawTar { tar: tar::Builder::new(Vec::new()) }
    }

    pub fn file(self, path: &[u8], data: &[u8]) -> Self {
        self.entry(EntryType::Regular, path, b"", 0o644, data)
    }

    pub fn dir(self, path: &[u8]) -> Self {
        self.entry(EntryType::Directory, path, b"", 0o755, b"")
    }

    pub fn symlink(self, path: &[u8], target: &[u8]) -> Self {
        self.entry(EntryType::Symlink, path, target, 0o777, b"")
    }

    pub fn hardlink(self, path: &[u8], target: &[u8]) -> Self {
        self.entry(EntryType::Link, path, target, 0o644, b"")
    }

    pub fn special(self, entry_type: EntryType, path: &[u8]) -> Self {
        self.entry(entry_type, path, b"", 0o644, b"")
    }

    pub fn entry(mut self, entry_type: EntryType, path: &[u8], link: &[u8], mode: u32, data: &[u8]) -> Self {
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
        self.tar.append(&header, data).expect("writing to memory");
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
        self.tar.append(&header, &data[..]).expect("writing to memory");
    }

    pub fn gz(self) -> Vec<u8> {
        let tar = self.tar.into_inner().expect("writing to memory");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).expect("writing to memory");
        gz.finish().expect("writing to memory")
    }
}

/// A package crafted to attack whatever installs it.
pub struct Hostile {
    /// What it tries, e.g. "a link, then a file through it".
    pub name: String,
    /// The package, a tar.gz.
    pub bytes: Vec<u8>,
    /// Whether [`verify`](crate::verify) refuses it. The others pass the archive rules
    /// and must be refused by the installer's own rules (names that collide with what it
    /// writes itself, paths its scripts cannot carry).
    pub refused_by_verify: bool,
}

/// What the hostile packages are made from: a well-formed package with the DAG
/// `dags/p_dag.py` and the project `p` (its package `p/__init__.py` and the packed
/// environment `env`), which each attack then bends.
#[derive(Clone)]
pub struct Base {
    /// A `venv.tar.gz`.
    pub env: Vec<u8>,
    pub interpreter_path: String,
    pub interpreter_version: String,
}

impl Base {
    fn files(&self) -> Vec<(String, Vec<u8>)> {
        vec![
            ("dags/p_dag.py".to_owned(), b"PROJECT = \"p\"\n".to_vec()),
            ("projects/p/p/__init__.py".to_owned(), b"VALUE = 1\n".to_vec()),
            (env_archive_path("p").into_string(), self.env.clone()),
        ]
    }

    fn manifest(&self) -> Manifest {
        let files = self.files().into_iter().map(|(path, data)| file_entry(path.as_bytes(), &data, 0o644)).collect();
        let mut manifest = Manifest {
            format: MANIFEST_FORMAT,
            name: "platform-airflow-dags".to_owned(),
            version: "hostile-1".to_owned(),
            commit: None,
            dirty: false,
            inputs_sha256: String::new(),
            projects: vec![ProjectEntry {
                name: "p".to_owned(),
                env_key: "key".to_owned(),
                interpreter_path: self.interpreter_path.clone(),
                interpreter_version: self.interpreter_version.clone(),
                package: Some("p".to_owned()),
                venv_sha256: hex(&Sha256::digest(&self.env)),
            }],
            files,
            links: Vec::new(),
        };
        manifest.inputs_sha256 = manifest.compute_inputs_sha256();
        manifest
    }

    /// The base package with `edit` applied to its manifest (the inputs hash then
    /// recomputed, so that the attack is the only thing wrong) and `extra` entries
    /// after the base ones.
    fn package(&self, edit: impl FnOnce(&mut Manifest), extra: impl FnOnce(RawTar) -> RawTar) -> Vec<u8> {
        let mut manifest = self.manifest();
        edit(&mut manifest);
        manifest.files.sort_by(|a, b| a.path.cmp(&b.path));
        manifest.links.sort_by(|a, b| a.path.cmp(&b.path));
        manifest.inputs_sha256 = manifest.compute_inputs_sha256();
        self.package_as_is(&manifest, extra)
    }

    /// Like [`Base::package`], with the manifest exactly as given.
    fn package_as_is(&self, manifest: &Manifest, extra: impl FnOnce(RawTar) -> RawTar) -> Vec<u8> {
        let mut tar = RawTar::new().file(MANIFEST_PATH.as_bytes(), &manifest.to_json_bytes());
        for (path, data) in self.files() {
            tar = tar.file(path.as_bytes(), &data);
        }
        extra(tar).gz()
    }

    /// The base package whose environment holds `entries` besides a `bin/python` link.
    fn with_env(&self, entries: impl FnOnce(RawTar) -> RawTar) -> Vec<u8> {
        let env = entries(RawTar::new().dir(b"bin/").symlink(b"bin/python", self.interpreter_path.as_bytes())).gz();
        let base = Base { env, ..self.clone() };
        base.package(|_| {}, |t| t)
    }
}

/// The base package itself, which every installer accepts: deployed first, it gives the
/// hostile ones a `current` release to leave alone.
pub fn benign_package(base: &Base) -> Vec<u8> {
    base.package(|_| {}, |t| t)
}

/// The base package, its manifest describing `base.env`, holding `env` in its place: an
/// environment passed off under another's hash.
pub fn swapped_env_package(base: &Base, env: &[u8]) -> Vec<u8> {
    let swapped = Base { env: env.to_vec(), ..base.clone() };
    swapped.package_as_is(&base.manifest(), |t| t)
}

fn file_entry(path: &[u8], data: &[u8], mode: u32) -> FileEntry {
    FileEntry {
        path: Utf8PathBuf::from(String::from_utf8_lossy(path).into_owned()),
        size: data.len() as u64,
        mode,
        sha256: hex(&Sha256::digest(data)),
    }
}

fn link_entry(path: &str, target: &str) -> LinkEntry {
    LinkEntry { path: path.into(), target: target.into() }
}

/// Every hostile package of the corpus, made from `base`. `outside` is a directory
/// (which should not exist) that the attacks try to write into; a test checks it is
/// still absent afterwards. Attacks on `/etc/passwd` only ever read or link it.
pub fn hostile_packages(base: &Base, outside: &Utf8Path) -> Vec<Hostile> {
    let out = outside.as_str();
    let mut corpus = Vec::new();
    let mut add = |name: &str, refused_by_verify: bool, bytes: Vec<u8>| {
        corpus.push(Hostile { name: name.to_owned(), bytes, refused_by_verify });
    };
    let file = |path: &str, data: &[u8]| {
        let (path, data) = (path.to_owned(), data.to_vec());
        move |m: &mut Manifest| m.files.push(file_entry(path.as_bytes(), &data, 0o644))
    };

    // Paths that leave the release.
    for path in ["../x", "dags/../../x", &format!("{out}/abs")] {
        add(&format!("the entry `{path}`"), true, base.package(file(path, b"x"), |t| t.file(path.as_bytes(), b"x")));
    }
    add(
        "a link out, then a link through it",
        true,
        base.package(
            |m| m.links.extend([link_entry("dags/lnk", out), link_entry("dags/lnk/pwned", "/etc/passwd")]),
            |t| t.symlink(b"dags/lnk", out.as_bytes()).symlink(b"dags/lnk/pwned", b"/etc/passwd"),
        ),
    );
    add(
        "a relative link out, then a file through it",
        true,
        base.package(
            |m| {
                m.links.push(link_entry("dags/up", "../.."));
                m.files.push(file_entry(b"dags/up/pwned", b"x", 0o644));
            },
            |t| t.symlink(b"dags/up", b"../..").file(b"dags/up/pwned", b"x"),
        ),
    );
    add(
        "a link where the environment is unpacked",
        false,
        base.package(
            |m| m.links.push(link_entry("projects/p/venv", "../../dags")),
            |t| t.symlink(b"projects/p/venv", b"../../dags"),
        ),
    );
    add(
        "an absolute link",
        true,
        base.package(
            |m| m.links.push(link_entry("dags/abs", "/etc/passwd")),
            |t| t.symlink(b"dags/abs", b"/etc/passwd"),
        ),
    );
    add(
        "a link leading out through another link",
        true,
        base.package(
            |m| m.links.extend([link_entry("dags/s", "."), link_entry("dags/l", "s/../../x")]),
            |t| t.symlink(b"dags/s", b".").symlink(b"dags/l", b"s/../../x"),
        ),
    );
    add(
        "a hard link to /etc/passwd",
        true,
        base.package(file("dags/passwd", b"root:x:0:0"), |t| t.hardlink(b"dags/passwd", b"/etc/passwd")),
    );
    add("a hard link out of the archive", true, base.package(file("dags/h", b"x"), |t| t.hardlink(b"dags/h", b"../x")));

    // Entries that are not files, directories or links.
    for (what, kind) in
        [("a character device", EntryType::Char), ("a block device", EntryType::Block), ("a FIFO", EntryType::Fifo)]
    {
        add(what, true, base.package(file("dags/special", b""), |t| t.special(kind, b"dags/special")));
    }

    // The manifest and the archive disagree.
    add(
        "a size lie",
        true,
        base.package(
            |m| m.files.push(FileEntry { size: 5, ..file_entry(b"dags/lie.py", b"0123456789", 0o644) }),
            |t| t.file(b"dags/lie.py", b"0123456789"),
        ),
    );
    let big = vec![0u8; 64 << 20];
    add(
        "a 5-byte file backed by a 64 MiB body",
        true,
        base.package(
            |m| m.files.push(file_entry(b"dags/small.py", &big[..5], 0o644)),
            |t| t.file(b"dags/small.py", &big),
        ),
    );
    add(
        "a sha256 lie",
        true,
        base.package(
            |m| m.files.push(FileEntry { sha256: "0".repeat(64), ..file_entry(b"dags/sum.py", b"x", 0o644) }),
            |t| t.file(b"dags/sum.py", b"x"),
        ),
    );
    add(
        "a mode lie",
        true,
        base.package(file("dags/mode.py", b"x"), |t| t.entry(EntryType::Regular, b"dags/mode.py", b"", 0o755, b"x")),
    );
    add("an extra file", true, base.package(|_| {}, |t| t.file(b"dags/extra.py", b"x")));
    add("a missing file", true, base.package(file("dags/missing.py", b"x"), |t| t));
    add(
        "a duplicate entry whose second copy differs",
        true,
        base.package(file("dags/dup.py", b"one"), |t| t.file(b"dags/dup.py", b"one").file(b"dags/dup.py", b"two")),
    );
    for (what, value) in [
        ("an inputs_sha256 that is not hex", "ffffffffffff".to_owned()),
        ("an empty inputs_sha256", String::new()),
        ("a non-ASCII inputs_sha256", "é".repeat(40)),
        ("an uppercase inputs_sha256", base.manifest().inputs_sha256.to_ascii_uppercase()),
    ] {
        let mut manifest = base.manifest();
        manifest.inputs_sha256 = value;
        add(what, true, base.package_as_is(&manifest, |t| t));
    }
    let mut manifest = base.manifest();
    manifest.format = MANIFEST_FORMAT + 1;
    add("another manifest format", true, base.package_as_is(&manifest, |t| t));
    add(
        "the manifest not first",
        true,
        RawTar::new()
            .file(b"dags/p_dag.py", b"x")
            .file(MANIFEST_PATH.as_bytes(), &base.manifest().to_json_bytes())
            .gz(),
    );

    // Names the installer writes itself, or that its scripts cannot carry.
    for name in ["airflow.cfg", "data", "store", "airflow", "dags", "current", "../x", ".pad", "-rf"] {
        add(
            &format!("a project named `{name}`"),
            false,
            base.package(
                |m| {
                    let mut project = m.projects[0].clone();
                    project.name = name.to_owned();
                    m.projects.push(project);
                },
                |t| t,
            ),
        );
    }
    add(
        "a link named `.env`",
        false,
        base.package(|m| m.links.push(link_entry(".env", "dags/p_dag.py")), |t| t.symlink(b".env", b"dags/p_dag.py")),
    );
    add(
        "a file in `.pad-release/`",
        false,
        base.package(file(".pad-release/files", b"x"), |t| t.file(b".pad-release/files", b"x")),
    );
    add(
        "a file where the environment is unpacked",
        false,
        base.package(file("projects/p/venv/x", b"x"), |t| t.file(b"projects/p/venv/x", b"x")),
    );
    add("a path with a line break", false, base.package(file("dags/a\nb.py", b"x"), |t| t.file(b"dags/a\nb.py", b"x")));

    // The packed environment, unpacked on the host by `tar`.
    add("an environment entry `../x`", true, base.with_env(|t| t.file(b"../x", b"x")));
    add("an absolute environment entry", true, base.with_env(|t| t.file(format!("{out}/abs").as_bytes(), b"x")));
    add(
        "an environment link out, then a file through it",
        true,
        base.with_env(|t| t.symlink(b"lib", out.as_bytes()).file(b"lib/pwned", b"x")),
    );
    add("an environment hard link to /etc/passwd", true, base.with_env(|t| t.hardlink(b"passwd", b"/etc/passwd")));
    add(
        "a setuid file in the environment",
        true,
        base.with_env(|t| t.entry(EntryType::Regular, b"bin/su", b"", 0o4755, b"#!/bin/sh\n")),
    );
    add("a FIFO in the environment", true, base.with_env(|t| t.special(EntryType::Fifo, b"fifo")));
    add(
        "an environment passed off under another's hash",
        true,
        swapped_env_package(base, &RawTar::new().file(b"../x", b"x").gz()),
    );
    let garbage = Base { env: b"not a gzip stream".to_vec(), ..base.clone() };
    add("an environment that is not a tar.gz", true, garbage.package(|_| {}, |t| t));
    corpus
}
