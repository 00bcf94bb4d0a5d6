//! Tests of the manifest: its JSON, its inputs hash, the listing of trees as the
//! builder stores them, and reading it from the first entry of an archive.

use std::error::Error;
use std::fmt::Write as _;
use std::fs;

use camino::Utf8Path;
use expect_test::{Expect, expect};

use crate::testing::{RawTar, tempdir, tree};
use crate::{
    ArchiveBuilder, BundleError, Contents, FileEntry, FileMode, LinkEntry, MANIFEST_FORMAT, Manifest, PackOptions,
    ProjectEntry, SymlinkPolicy, read_manifest, verify,
};

fn project(name: &str) -> ProjectEntry {
    ProjectEntry {
        name: name.to_owned(),
        env_key: format!("{name}-key"),
        interpreter_path: "/usr/bin/python3.11".to_owned(),
        interpreter_version: "3.11.9".to_owned(),
        package: Some(name.replace('-', "_")),
        venv_sha256: "0".repeat(64),
    }
}

fn file(path: &str, size: u64, mode: u32, sha256: &str) -> FileEntry {
    FileEntry { path: path.into(), size, mode, sha256: sha256.to_owned() }
}

fn sample_contents() -> Contents {
    Contents {
        projects: vec![project("zeta"), project("alpha")],
        files: vec![file("projects/alpha/venv.tar.gz", 10, 0o644, "bb"), file("dags/a.py", 3, 0o644, "aa")],
        links: vec![LinkEntry { path: "projects/alpha/current".into(), target: "venv".into() }],
    }
}

fn sample() -> Manifest {
    Manifest::new("platform-airflow-dags", "main-abc1234", Some("abc1234def"), false, sample_contents()).unwrap()
}

/// An error and its causes, `: `-separated, as the front end prints them.
fn chain(err: &dyn Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        write!(out, ": {cause}").unwrap();
        source = cause.source();
    }
    out
}

#[test]
fn json_is_sorted_pretty_and_ends_with_a_newline() {
    let manifest = sample();
    let json = String::from_utf8(manifest.to_json_bytes()).unwrap();
    expect![[r#"
        {
          "format": 1,
          "name": "platform-airflow-dags",
          "version": "main-abc1234",
          "commit": "abc1234def",
          "dirty": false,
          "inputs_sha256": "78cfe14380eb5ccbb91716132ef7b851699c3c27a29cba556cbb202194d5f755",
          "projects": [
            {
              "name": "alpha",
              "env_key": "alpha-key",
              "interpreter_path": "/usr/bin/python3.11",
              "interpreter_version": "3.11.9",
              "package": "alpha",
              "venv_sha256": "0000000000000000000000000000000000000000000000000000000000000000"
            },
            {
              "name": "zeta",
              "env_key": "zeta-key",
              "interpreter_path": "/usr/bin/python3.11",
              "interpreter_version": "3.11.9",
              "package": "zeta",
              "venv_sha256": "0000000000000000000000000000000000000000000000000000000000000000"
            }
          ],
          "files": [
            {
              "path": "dags/a.py",
              "size": 3,
              "mode": 420,
              "sha256": "aa"
            },
            {
              "path": "projects/alpha/venv.tar.gz",
              "size": 10,
              "mode": 420,
              "sha256": "bb"
            }
          ],
          "links": [
            {
              "path": "projects/alpha/current",
              "target": "venv"
            }
          ]
        }
    "#]]
    .assert_eq(&json);
    assert_eq!(Manifest::from_json(json.as_bytes(), "test").unwrap(), manifest);
    assert_eq!(manifest.to_json_bytes(), sample().to_json_bytes());
}

#[track_caller]
fn check_inputs_hash(change: impl FnOnce(&mut Manifest), same: bool) {
    let base = sample();
    let mut changed = sample();
    change(&mut changed);
    assert_eq!(changed.compute_inputs_sha256() == base.inputs_sha256, same);
}

#[test]
fn inputs_hash_covers_contents_but_not_version() {
    assert_eq!(sample().compute_inputs_sha256(), sample().inputs_sha256);
    check_inputs_hash(|m| m.version = "v1.2.0".into(), true);
    check_inputs_hash(|m| m.commit = None, true);
    check_inputs_hash(|m| m.dirty = true, true);
    check_inputs_hash(|m| m.inputs_sha256 = "lie".into(), true);
    check_inputs_hash(|m| m.name = "other".into(), false);
    check_inputs_hash(|m| m.format = 2, false);
    check_inputs_hash(|m| m.files[0].sha256 = "ab".into(), false);
    check_inputs_hash(|m| m.files[0].size = 4, false);
    check_inputs_hash(|m| m.files[0].mode = 0o755, false);
    check_inputs_hash(|m| m.files[0].path = "dags/b.py".into(), false);
    check_inputs_hash(|m| m.links[0].target = "venv2".into(), false);
    check_inputs_hash(|m| m.links.clear(), false);
    check_inputs_hash(|m| m.projects[1].env_key = "new".into(), false);
    check_inputs_hash(|m| m.projects[0].package = None, false);
    // Moving a byte between fields must change the hash.
    check_inputs_hash(
        |m| {
            m.projects[0].interpreter_path.push('3');
            m.projects[0].interpreter_version.remove(0);
        },
        false,
    );
}

#[track_caller]
fn check_from_json(json: &str, expect: Expect) {
    let err = Manifest::from_json(json.as_bytes(), "dist/p.tar.gz").unwrap_err();
    expect.assert_eq(&chain(&err));
}

#[test]
fn from_json_refuses_other_formats_and_unknown_fields() {
    let mut json: serde_json::Value = serde_json::from_slice(&sample().to_json_bytes()).unwrap();
    json["format"] = 2.into();
    check_from_json(
        &json.to_string(),
        expect!["invalid manifest in `dist/p.tar.gz`: it has format 2, and this version reads format 1 only"],
    );
    json["format"] = MANIFEST_FORMAT.into();
    json["files"][0]["owner"] = "root".into();
    check_from_json(
        &json.to_string(),
        expect![
            "invalid manifest in `dist/p.tar.gz`: unknown field `owner`, expected one of `path`, `size`, `mode`, `sha256` at line 1 column 65"
        ],
    );
    check_from_json("{}", expect!["invalid manifest in `dist/p.tar.gz`: missing field `format` at line 1 column 2"]);
    check_from_json("not json", expect!["invalid manifest in `dist/p.tar.gz`: expected ident at line 1 column 2"]);
}

#[track_caller]
fn check_new(contents: Contents, expect: Expect) {
    let err = Manifest::new("p", "v", None, false, contents).unwrap_err();
    expect.assert_eq(&err.to_string());
}

#[test]
fn new_refuses_paths_listed_twice() {
    let mut contents = sample_contents();
    contents.files.push(file("dags/a.py", 1, 0o644, "cc"));
    check_new(contents, expect!["cannot record `dags/a.py` in a manifest: path listed twice"]);
    let mut contents = sample_contents();
    contents.add_symlink("dags/a.py".into(), "b.py".into()).unwrap();
    check_new(contents, expect!["cannot record `dags/a.py` in a manifest: path listed twice"]);
    let mut contents = sample_contents();
    contents.add_bytes("MANIFEST.json".into(), b"{}", false).unwrap();
    check_new(
        contents,
        expect!["cannot record `MANIFEST.json` in a manifest: the path is reserved for the manifest itself"],
    );
    let mut contents = sample_contents();
    contents.projects.push(project("alpha"));
    check_new(contents, expect!["cannot record `alpha` in a manifest: project listed twice"]);
    let mut contents = Contents::default();
    let err = contents.add_bytes("../x".into(), b"", false).unwrap_err();
    expect!["invalid archive path `../x`: archive paths must not contain `..`"].assert_eq(&err.to_string());
}

const TREE: &str = "
    exec bin/run #!/bin/sh
    file bin/data.txt hello
    link bin/alias run
    dir empty/inner
    file pkg/__pycache__/m.cpython-311.pyc x
    file pkg/stale.pyc x
    file pkg/m.py print(1)
    hardlink pkg/same.py pkg/m.py
    file .hidden h
    file AUTHORS me
";

/// One line per file and link of a manifest.
fn render(manifest: &Manifest) -> String {
    let mut out = String::new();
    for f in &manifest.files {
        writeln!(out, "f {:o} {} {} {}", f.mode, f.path, f.size, &f.sha256[..8]).unwrap();
    }
    for l in &manifest.links {
        writeln!(out, "l {} -> {}", l.path, l.target).unwrap();
    }
    out
}

#[test]
fn contents_list_what_the_builder_stores() {
    let tree = tree(TREE);
    let options = PackOptions::default();
    let mut contents = Contents::default();
    contents.add_bytes(".env".into(), b"A=1\n", false).unwrap();
    contents.add_dir_tree("projects/p".into(), &tree.root, &options).unwrap();
    contents.add_file("bin/tool".into(), &tree.root.join("bin/run"), FileMode::FromSource).unwrap();
    contents.add_file("bin/tool.txt".into(), &tree.root.join("bin/run"), FileMode::Regular).unwrap();
    contents.add_dir_tree("zz".into(), &tree.root.join("empty"), &options).unwrap();
    contents.projects.push(project("p"));
    let manifest = Manifest::new("platform-airflow-dags", "v1", None, true, contents).unwrap();
    expect![[r#"
        f 644 .env 4 91d6a3d5
        f 755 bin/tool 9 3af71adb
        f 644 bin/tool.txt 9 3af71adb
        f 644 projects/p/.hidden 1 aaa94026
        f 644 projects/p/AUTHORS 2 2744ccd1
        f 644 projects/p/bin/data.txt 5 2cf24dba
        f 755 projects/p/bin/run 9 3af71adb
        f 644 projects/p/pkg/m.py 8 d287bb7f
        f 644 projects/p/pkg/same.py 8 d287bb7f
        l projects/p/bin/alias -> run
    "#]]
    .assert_eq(&render(&manifest));

    // The builder writes the manifest first, then exactly what it lists.
    let mut builder = ArchiveBuilder::new(Vec::new(), &options).unwrap();
    builder.add_manifest(&manifest).unwrap();
    builder.add_bytes(".env".into(), b"A=1\n", false).unwrap();
    builder.add_file("bin/tool".into(), &tree.root.join("bin/run"), FileMode::FromSource).unwrap();
    builder.add_file("bin/tool.txt".into(), &tree.root.join("bin/run"), FileMode::Regular).unwrap();
    builder.add_dir_tree("projects/p".into(), &tree.root).unwrap();
    builder.add_dir_tree("zz".into(), &tree.root.join("empty")).unwrap();
    let (bytes, _) = builder.finish().unwrap();
    let archive = tree.out.join("p.tar.gz");
    fs::write(&archive, bytes).unwrap();
    let report = verify(&archive).unwrap();
    assert_eq!((report.files, report.bytes, report.nested), (9, 55, 0));
    assert_eq!(read_manifest(&archive).unwrap(), manifest);
}

#[test]
fn contents_refuse_what_the_builder_refuses() {
    let tree = tree("link up ../../etc\nfifo __pycache__/pipe\nfile a x");
    let mut contents = Contents::default();
    let err = contents.add_dir_tree("".into(), &tree.root, &PackOptions::default()).unwrap_err();
    assert!(err.to_string().ends_with("/tree/up` points to `../../etc`, outside the archive"), "{err}");
    let keep = PackOptions { symlinks: SymlinkPolicy::Keep, ..PackOptions::default() };
    contents.add_dir_tree("".into(), &tree.root, &keep).unwrap();
    assert_eq!(contents.links, [LinkEntry { path: "up".into(), target: "../../etc".into() }]);
    let err = contents.add_dir_tree("".into(), &tree.root.join("a"), &keep).unwrap_err();
    assert!(matches!(err, BundleError::NotADirectory { .. }), "{err:?}");
    let err = contents.add_file("x".into(), &tree.root.join("missing"), FileMode::FromSource).unwrap_err();
    assert!(matches!(err, BundleError::Read { .. }), "{err:?}");
}

#[test]
fn the_manifest_comes_first_and_once() {
    let manifest = sample();
    let mut builder = ArchiveBuilder::new(Vec::new(), &PackOptions::default()).unwrap();
    builder.add_bytes("a".into(), b"", false).unwrap();
    expect!["the manifest must be the first entry of an archive"]
        .assert_eq(&builder.add_manifest(&manifest).unwrap_err().to_string());

    let mut builder = ArchiveBuilder::new(Vec::new(), &PackOptions::default()).unwrap();
    builder.add_manifest(&manifest).unwrap();
    // Names sorting before `MANIFEST.json` may follow it.
    builder.add_bytes(".env".into(), b"", false).unwrap();
    builder.add_bytes("AUTHORS".into(), b"", false).unwrap();
    expect!["`MANIFEST.json` is already in the archive, as its manifest"]
        .assert_eq(&builder.add_bytes("MANIFEST.json".into(), b"", false).unwrap_err().to_string());
    let err = builder.add_bytes("MANIFEST.json/x".into(), b"", false).unwrap_err();
    assert!(matches!(err, BundleError::ManifestTwice), "{err:?}");
    builder.add_bytes("MANIFEST.jsonx".into(), b"", false).unwrap();
}

#[test]
fn read_manifest_reads_the_first_entry_only() {
    let (_tmp, dir) = tempdir();
    let manifest = sample();
    let mut builder = ArchiveBuilder::new(Vec::new(), &PackOptions { level: 0, ..PackOptions::default() }).unwrap();
    builder.add_manifest(&manifest).unwrap();
    builder.add_bytes("big".into(), &vec![1u8; 4 << 20], false).unwrap();
    let (mut bytes, _) = builder.finish().unwrap();
    // Cut the archive short: the manifest still reads, the rest does not.
    bytes.truncate(bytes.len() / 2);
    let archive = dir.join("cut.tar.gz");
    fs::write(&archive, &bytes).unwrap();
    assert_eq!(read_manifest(&archive).unwrap(), manifest);
    let err = verify(&archive).unwrap_err();
    assert!(matches!(err, BundleError::ReadEntry { .. }), "{err:?}");
}

#[track_caller]
fn check_read_manifest(archive: RawTar, expect: Expect) {
    let (_tmp, dir) = tempdir();
    let path = dir.join("p.tar.gz");
    fs::write(&path, archive.gz()).unwrap();
    let err = read_manifest(&path).unwrap_err();
    expect.assert_eq(&chain(&err).replace(dir.as_str(), "DIR"));
}

#[test]
fn read_manifest_errors() {
    check_read_manifest(
        RawTar::new().file(b"a", b"").file(b"MANIFEST.json", b"{}"),
        expect!["`DIR/p.tar.gz` has no manifest: its first entry is `a`, not `MANIFEST.json`"],
    );
    check_read_manifest(
        RawTar::new().dir(b"MANIFEST.json/"),
        expect!["`DIR/p.tar.gz` has no manifest: its first entry is `MANIFEST.json/`, not `MANIFEST.json`"],
    );
    check_read_manifest(
        RawTar::new(),
        expect![
            "`DIR/p.tar.gz` has no manifest: its first entry is nothing: the archive is empty, not `MANIFEST.json`"
        ],
    );
    check_read_manifest(
        RawTar::new().file(b"MANIFEST.json", b"{\"format\": 1}"),
        expect!["invalid manifest in `DIR/p.tar.gz`: missing field `name` at line 1 column 13"],
    );
    let err = read_manifest(Utf8Path::new("/nonexistent/p.tar.gz")).unwrap_err();
    expect!["failed to read `/nonexistent/p.tar.gz`: No such file or directory (os error 2)"].assert_eq(&chain(&err));
}
