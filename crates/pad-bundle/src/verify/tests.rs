//! Tests of verification against the manifest: a package round trip through
//! `verify` and `extract`, and packages whose manifest does not match them.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use camino::{Utf8Path, Utf8PathBuf};
use expect_test::{Expect, expect};
use sha2::{Digest, Sha256};
use walkdir::WalkDir;

use crate::hash::hex;
use crate::testing::{RawTar, listing, tempdir, tree};
use crate::{
    ArchiveBuilder, BundleError, Contents, ExtractOptions, LinkEntry, Manifest, PackOptions, ProjectEntry, extract,
    verify,
};

const VERIFYING: ExtractOptions = ExtractOptions { allow_absolute_symlinks: false, verify_manifest: true };

/// Every entry under `root`, one a line: `d PATH`, `f MODE PATH SHA256`, `l PATH -> TARGET`.
fn snapshot(root: &Utf8Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in WalkDir::new(root).follow_links(false).sort_by_file_name().min_depth(1) {
        let entry = entry.unwrap();
        let path = Utf8Path::from_path(entry.path()).unwrap();
        let rel = path.strip_prefix(root).unwrap();
        let meta = fs::symlink_metadata(path).unwrap();
        if meta.is_dir() {
            out.push(format!("d {:o} {rel}", meta.permissions().mode() & 0o7777));
        } else if meta.is_symlink() {
            out.push(format!("l {rel} -> {}", fs::read_link(path).unwrap().display()));
        } else {
            let sha = hex(&Sha256::digest(fs::read(path).unwrap()));
            out.push(format!("f {:o} {rel} {sha}", meta.permissions().mode() & 0o7777));
        }
    }
    out
}

const TREE: &str = "
    exec bin/run #!/bin/sh
    file bin/data.txt hello
    link bin/alias run
    link bin/up ../pkg
    dir empty/inner
    file pkg/m.py print(1)
    hardlink pkg/same.py pkg/m.py
    file pkg/__pycache__/m.cpython-311.pyc x
    file pkg/deep/deeper/x.json {}
";

#[test]
fn package_round_trip() {
    let tree = tree(TREE);
    // Directory modes are not recorded; make the source match what extraction gives.
    for dir in ["bin", "empty", "empty/inner", "pkg", "pkg/deep", "pkg/deep/deeper"] {
        fs::set_permissions(tree.root.join(dir), fs::Permissions::from_mode(0o755)).unwrap();
    }
    let options = PackOptions::default();
    let mut contents = Contents::default();
    contents.add_dir_tree("projects/demo".into(), &tree.root, &options).unwrap();
    contents.add_bytes("dags/demo.py".into(), b"from airflow import DAG\n", false).unwrap();
    contents.projects.push(ProjectEntry {
        name: "demo".into(),
        env_key: "k".into(),
        interpreter_path: "/usr/bin/python3".into(),
        interpreter_version: "3.11.2".into(),
        package: None,
        venv_sha256: "0".repeat(64),
    });
    let manifest = Manifest::new("platform-airflow-dags", "main-abc1234", Some("abc1234"), false, contents).unwrap();

    let mut builder = ArchiveBuilder::new(Vec::new(), &options).unwrap();
    builder.add_manifest(&manifest).unwrap();
    builder.add_bytes("dags/demo.py".into(), b"from airflow import DAG\n", false).unwrap();
    builder.add_dir_tree("projects/demo".into(), &tree.root).unwrap();
    let (bytes, _) = builder.finish().unwrap();
    let archive = tree.out.join("p.tar.gz");
    fs::write(&archive, bytes).unwrap();

    let report = verify(&archive).unwrap();
    assert_eq!((report.files, report.bytes), (6, 56));

    let dest = tree.out.join("release");
    let extracted = extract(&archive, &dest, &VERIFYING).unwrap();
    assert_eq!(extracted.manifest.as_ref(), Some(&manifest));
    assert_eq!((extracted.files, extracted.bytes), (7, 56 + manifest.to_json_bytes().len() as u64));
    let mut expected = snapshot(&tree.root);
    expected.retain(|line| !line.contains("__pycache__"));
    assert_eq!(snapshot(&dest.join("projects/demo")), expected);
    assert_eq!(fs::read(dest.join("MANIFEST.json")).unwrap(), manifest.to_json_bytes());
    assert_eq!(fs::read_to_string(dest.join("projects/demo/bin/up/m.py")).unwrap(), "print(1)");
    // Only the release is new beside the archive.
    assert_eq!(fs::read_dir(&tree.out).unwrap().count(), 2);
}

/// A package at `DIR/p.tar.gz` whose manifest lists `listed` while the archive holds
/// what `add` writes after it.
struct Package {
    _tmp: tempfile::TempDir,
    dir: Utf8PathBuf,
    archive: Utf8PathBuf,
}

fn package(
    listed: impl FnOnce(&mut Contents),
    lie: impl FnOnce(&mut Manifest),
    add: impl FnOnce(&mut ArchiveBuilder<Vec<u8>>) -> Result<(), BundleError>,
) -> Package {
    let (tmp, dir) = tempdir();
    let mut contents = Contents::default();
    listed(&mut contents);
    let mut manifest = Manifest::new("p", "v1", None, false, contents).unwrap();
    lie(&mut manifest);
    let mut builder = ArchiveBuilder::new(Vec::new(), &PackOptions::default()).unwrap();
    builder.add_manifest(&manifest).unwrap();
    add(&mut builder).unwrap();
    let (bytes, _) = builder.finish().unwrap();
    let archive = dir.join("p.tar.gz");
    fs::write(&archive, bytes).unwrap();
    Package { _tmp: tmp, dir, archive }
}

/// `verify` fails with `expect`, and so does a verifying `extract`, which leaves
/// nothing behind.
#[track_caller]
fn check_mismatch(package: Package, expect: Expect) {
    let err = verify(&package.archive).unwrap_err();
    let message = err.to_string().replace(package.dir.as_str(), "DIR");
    expect.assert_eq(&message);
    let BundleError::Verify { problems, .. } = &err else { panic!("{err:?}") };

    let before = listing(&package.dir);
    let err = extract(&package.archive, &package.dir.join("dest"), &VERIFYING).unwrap_err();
    match &err {
        // Extraction stops at an unsafe entry; anything else it finds as verify does.
        BundleError::UnsafeEntry { entry, .. } => assert!(problems[0].starts_with(&format!("`{entry}`"))),
        BundleError::Verify { problems: found, .. } => assert_eq!(found, problems),
        other => panic!("{other:?}"),
    }
    assert_eq!(listing(&package.dir), before, "extraction left something behind");
}

fn two_files(c: &mut Contents) {
    c.add_bytes("a.txt".into(), b"hello", false).unwrap();
    c.add_bytes("bin/run".into(), b"#!/bin/sh", true).unwrap();
}

fn no_lie(_: &mut Manifest) {}

#[test]
fn tampered_contents() {
    check_mismatch(
        package(two_files, no_lie, |b| {
            b.add_bytes("a.txt".into(), b"hellO", false)?;
            b.add_bytes("bin/run".into(), b"#!/bin/sh", true)
        }),
        expect![[r#"
            `DIR/p.tar.gz` does not match its manifest (1 problem):
              `a.txt`: sha256 04a6f55face2f46be8c23f627d539827615851e10751b63ec59db6d2c706b770, the manifest says 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"#]],
    );
    check_mismatch(
        package(two_files, no_lie, |b| {
            b.add_bytes("a.txt".into(), b"hello!", false)?;
            b.add_bytes("bin/run".into(), b"#!/bin/sh", false)?;
            b.add_bytes("extra".into(), b"", false)
        }),
        expect![[r#"
            `DIR/p.tar.gz` does not match its manifest (4 problems):
              `a.txt`: 6 bytes, the manifest says 5
              `a.txt`: sha256 ce06092fb948d9ffac7d1a376e404b26b7575bcc11ee05a4615fef4fec3a308b, the manifest says 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
              `bin/run`: mode 644, the manifest says 755
              `extra`: not in the manifest"#]],
    );
    check_mismatch(
        package(two_files, no_lie, |b| b.add_bytes("a.txt".into(), b"hello", false)),
        expect![[r#"
            `DIR/p.tar.gz` does not match its manifest (1 problem):
              `bin/run`: in the manifest, missing from the archive"#]],
    );
}

#[test]
fn tampered_links_and_kinds() {
    let listed = |c: &mut Contents| {
        c.add_bytes("f".into(), b"x", false).unwrap();
        c.add_symlink("l".into(), "f".into()).unwrap();
        c.add_symlink("m".into(), "f".into()).unwrap();
    };
    check_mismatch(
        package(listed, no_lie, |b| {
            b.add_symlink("f".into(), "l".into())?;
            b.add_bytes("l".into(), b"x", false)?;
            b.add_symlink("m".into(), "./f".into())
        }),
        expect![[r#"
            `DIR/p.tar.gz` does not match its manifest (3 problems):
              `f`: a symlink in the archive, a file in the manifest
              `l`: a file in the archive, a symlink in the manifest
              `m`: a symlink to `./f`, the manifest says `f`"#]],
    );
}

#[test]
fn a_manifest_that_lies_about_itself() {
    check_mismatch(
        package(
            two_files,
            |m| m.inputs_sha256 = "0".repeat(64),
            |b| {
                b.add_bytes("a.txt".into(), b"hello", false)?;
                b.add_bytes("bin/run".into(), b"#!/bin/sh", true)
            },
        ),
        expect![[r#"
            `DIR/p.tar.gz` does not match its manifest (1 problem):
              `MANIFEST.json`: its inputs_sha256 is 0000000000000000000000000000000000000000000000000000000000000000, but its lists hash to 4f3ccba8f3bc2e4409c9c245f22571055b0cd116b2b33bf6e9aefeef0d7956ca"#]],
    );
    // Changing an entry and the inputs hash together still fails on the contents.
    check_mismatch(
        package(
            two_files,
            |m| {
                m.files[0].sha256 = hex(&Sha256::digest(b"HELLO"));
                m.inputs_sha256 = m.compute_inputs_sha256();
            },
            |b| {
                b.add_bytes("a.txt".into(), b"hello", false)?;
                b.add_bytes("bin/run".into(), b"#!/bin/sh", true)
            },
        ),
        expect![[r#"
            `DIR/p.tar.gz` does not match its manifest (1 problem):
              `a.txt`: sha256 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824, the manifest says 3733cd977ff8eb18b987357e22ced99f46097f31ecb239e878ae63760e83e4d5"#]],
    );
    check_mismatch(
        package(
            two_files,
            |m| {
                m.files.reverse();
                m.links.push(LinkEntry { path: "a.txt".into(), target: "x".into() });
                m.inputs_sha256 = m.compute_inputs_sha256();
            },
            |b| {
                b.add_bytes("a.txt".into(), b"hello", false)?;
                b.add_bytes("bin/run".into(), b"#!/bin/sh", true)
            },
        ),
        expect![[r#"
            `DIR/p.tar.gz` does not match its manifest (3 problems):
              `MANIFEST.json`: its files are not sorted by path, or listed twice
              `MANIFEST.json`: it lists `a.txt` as a file and as a link
              `a.txt`: in the manifest, missing from the archive"#]],
    );
}

#[test]
fn long_problem_lists_are_cut_short() {
    check_mismatch(
        package(
            |c| {
                for i in 0..25 {
                    c.add_bytes(format!("f{i:02}").as_str().into(), b"x", false).unwrap();
                }
            },
            no_lie,
            |_| Ok(()),
        ),
        expect![[r#"
            `DIR/p.tar.gz` does not match its manifest (25 problems):
              `f00`: in the manifest, missing from the archive
              `f01`: in the manifest, missing from the archive
              `f02`: in the manifest, missing from the archive
              `f03`: in the manifest, missing from the archive
              `f04`: in the manifest, missing from the archive
              `f05`: in the manifest, missing from the archive
              `f06`: in the manifest, missing from the archive
              `f07`: in the manifest, missing from the archive
              `f08`: in the manifest, missing from the archive
              `f09`: in the manifest, missing from the archive
              `f10`: in the manifest, missing from the archive
              `f11`: in the manifest, missing from the archive
              `f12`: in the manifest, missing from the archive
              `f13`: in the manifest, missing from the archive
              `f14`: in the manifest, missing from the archive
              `f15`: in the manifest, missing from the archive
              `f16`: in the manifest, missing from the archive
              `f17`: in the manifest, missing from the archive
              `f18`: in the manifest, missing from the archive
              `f19`: in the manifest, missing from the archive
              ... and 5 more"#]],
    );
}

/// A package written header by header: its manifest lists `files` and `links` as
/// given, then come `entries`.
fn raw_package(listed: impl FnOnce(&mut Contents), entries: impl FnOnce(RawTar) -> RawTar) -> Package {
    let (tmp, dir) = tempdir();
    let mut contents = Contents::default();
    listed(&mut contents);
    let manifest = Manifest::new("p", "v1", None, false, contents).unwrap();
    let archive = dir.join("p.tar.gz");
    let tar = entries(RawTar::new().file(b"MANIFEST.json", &manifest.to_json_bytes()));
    fs::write(&archive, tar.gz()).unwrap();
    Package { _tmp: tmp, dir, archive }
}

#[test]
fn unsafe_entries_are_problems() {
    check_mismatch(
        raw_package(
            |c| c.add_bytes("a".into(), b"x", false).unwrap(),
            |t| t.file(b"../a", b"x").symlink(b"s", b".").symlink(b"l", b"s/../x").file(b"a", b"x"),
        ),
        expect![[r#"
            `DIR/p.tar.gz` does not match its manifest (4 problems):
              `../a`: unsafe entry: the path has a `..` component
              `s`: not in the manifest
              `l`: not in the manifest
              `l`: unsafe entry: a symlink to `s/../x`, which leads outside the archive through other symlinks"#]],
    );
    check_mismatch(
        raw_package(|_| {}, |t| t.file(b"MANIFEST.json", b"{}")),
        expect![[r#"
            `DIR/p.tar.gz` does not match its manifest (1 problem):
              `MANIFEST.json`: unsafe entry: the archive has this path twice"#]],
    );
}

#[test]
fn hard_links_are_checked_as_files() {
    let package = raw_package(
        |c| {
            c.add_bytes("a".into(), b"x", false).unwrap();
            c.add_bytes("b".into(), b"x", false).unwrap();
        },
        |t| t.file(b"a", b"x").hardlink(b"b", b"a"),
    );
    assert_eq!(verify(&package.archive).unwrap().files, 2);
    extract(&package.archive, &package.dir.join("dest"), &VERIFYING).unwrap();
    check_mismatch(
        raw_package(
            |c| {
                c.add_bytes("a".into(), b"x", false).unwrap();
                c.add_bytes("b".into(), b"y", true).unwrap();
            },
            |t| t.file(b"a", b"x").hardlink(b"b", b"a"),
        ),
        expect![[r#"
            `DIR/p.tar.gz` does not match its manifest (2 problems):
              `b`: sha256 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881, the manifest says a1fce4363854ff888cff4b8e7875d600c2682390412a8cf79b37d0b11148b0fa
              `b`: mode 644, the manifest says 755"#]],
    );
}

#[test]
fn verifying_needs_a_manifest() {
    let (_tmp, dir) = tempdir();
    let archive = dir.join("venv.tar.gz");
    fs::write(&archive, RawTar::new().file(b"bin/x", b"").gz()).unwrap();
    let err = verify(&archive).unwrap_err();
    assert!(matches!(err, BundleError::NoManifest { .. }), "{err:?}");
    let err = extract(&archive, &dir.join("dest"), &VERIFYING).unwrap_err();
    assert!(matches!(err, BundleError::NoManifest { .. }), "{err:?}");
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    // Without `verify_manifest` a manifest is neither needed nor read.
    let report = extract(&archive, &dir.join("dest"), &ExtractOptions::default()).unwrap();
    assert_eq!((report.files, report.manifest), (1, None));
}
