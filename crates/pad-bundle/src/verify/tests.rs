//! Tests of verification against the manifest: a package round trip through
//! `verify` and `extract`, and packages whose manifest does not match them.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use camino::{Utf8Path, Utf8PathBuf};
use expect_test::{Expect, expect};
use sha2::{Digest, Sha256};
use walkdir::WalkDir;

use crate::testing::{RawTar, listing, tempdir, tree};
use crate::{
    ArchiveBuilder, BundleError, Contents, ExtractOptions, LinkEntry, Manifest, PackOptions, ProjectEntry, extract,
    verify,
};
use pad_stdx::hex;

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

/// The hostile corpus's base: an environment of one link, `bin/python`.
fn craft_base() -> crate::craft::Base {
    crate::craft::Base {
        env: RawTar::new().dir(b"bin/").symlink(b"bin/python", b"/usr/bin/python3").gz(),
        interpreter_path: "/usr/bin/python3".to_owned(),
        interpreter_version: "3.11.2".to_owned(),
    }
}

#[test]
fn the_hostile_corpus_is_refused_for_what_it_tries() {
    let (_tmp, dir) = tempdir();
    let base = craft_base();
    let benign = dir.join("benign.tar.gz");
    fs::write(&benign, crate::craft::benign_package(&base)).unwrap();
    assert_eq!(verify(&benign).unwrap().nested, 1);
    let outside = dir.join("outside");
    let mut verdicts = Vec::new();
    for (i, hostile) in crate::craft::hostile_packages(&base, &outside).into_iter().enumerate() {
        let path = dir.join(format!("{i}.tar.gz"));
        fs::write(&path, &hostile.bytes).unwrap();
        let verdict = match verify(&path) {
            Ok(_) => "passes the archive rules".to_owned(),
            Err(BundleError::Verify { problems, .. }) => problems.join("; "),
            Err(err) => err.to_string(),
        };
        assert_eq!(verdict != "passes the archive rules", hostile.refused_by_verify, "{}: {verdict}", hostile.name);
        verdicts.push(format!("{}: {verdict}", hostile.name).replace(dir.as_str(), "DIR"));
    }
    assert!(!outside.exists());
    expect![[r#"
        the entry `../x`: `../x`: unsafe entry: the path has a `..` component; `../x`: in the manifest, missing from the archive
        the entry `dags/../../x`: `dags/../../x`: unsafe entry: the path has a `..` component; `dags/../../x`: in the manifest, missing from the archive
        the entry `DIR/outside/abs`: `DIR/outside/abs`: unsafe entry: the path is absolute; `DIR/outside/abs`: in the manifest, missing from the archive
        a link out, then a link through it: `dags/lnk`: unsafe entry: a symlink to the absolute path `DIR/outside`; `dags/lnk/pwned`: unsafe entry: a symlink to the absolute path `/etc/passwd`; `dags/lnk`: in the manifest, missing from the archive; `dags/lnk/pwned`: in the manifest, missing from the archive
        a relative link out, then a file through it: `dags/up`: unsafe entry: a symlink to `../..`, outside the archive; `dags/up`: in the manifest, missing from the archive
        a link where the environment is unpacked: passes the archive rules
        an absolute link: `dags/abs`: unsafe entry: a symlink to the absolute path `/etc/passwd`; `dags/abs`: in the manifest, missing from the archive
        a link leading out through another link: `dags/l`: unsafe entry: a symlink to `s/../../x`, which leads outside the archive through other symlinks
        a hard link to /etc/passwd: `dags/passwd`: unsafe entry: a hard link to `/etc/passwd`: the path is absolute; `dags/passwd`: in the manifest, missing from the archive
        a hard link out of the archive: `dags/h`: unsafe entry: a hard link to `../x`: the path has a `..` component; `dags/h`: in the manifest, missing from the archive
        a character device: `dags/special`: unsafe entry: a character device; only files, directories and links can be extracted; `dags/special`: in the manifest, missing from the archive
        a block device: `dags/special`: unsafe entry: a block device; only files, directories and links can be extracted; `dags/special`: in the manifest, missing from the archive
        a FIFO: `dags/special`: unsafe entry: a FIFO; only files, directories and links can be extracted; `dags/special`: in the manifest, missing from the archive
        a size lie: `dags/lie.py`: 10 bytes, the manifest says 5
        a 5-byte file backed by a 64 MiB body: `dags/small.py`: 67108864 bytes, the manifest says 5; `dags/small.py`: sha256 3b6a07d0d404fab4e23b6d34bc6696a6a312dd92821332385e5af7c01c421351, the manifest says 8855508aade16ec573d21e6a485dfd0a7624085c1a14b5ecdd6485de0c6839a4
        a sha256 lie: `dags/sum.py`: sha256 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881, the manifest says 0000000000000000000000000000000000000000000000000000000000000000
        a mode lie: `dags/mode.py`: mode 755, the manifest says 644
        an extra file: `dags/extra.py`: not in the manifest
        a missing file: `dags/missing.py`: in the manifest, missing from the archive
        a duplicate entry whose second copy differs: `dags/dup.py`: unsafe entry: the archive has this path twice
        an inputs_sha256 that is not hex: `MANIFEST.json`: its inputs_sha256 `ffffffffffff` is not 64 lowercase hex digits
        an empty inputs_sha256: `MANIFEST.json`: its inputs_sha256 `` is not 64 lowercase hex digits
        a non-ASCII inputs_sha256: `MANIFEST.json`: its inputs_sha256 `éééééééééééééééééééééééééééééééééééééééé` is not 64 lowercase hex digits
        an uppercase inputs_sha256: `MANIFEST.json`: its inputs_sha256 `09EABF8BC1ECFC7D5A8800D151857C93FDFB33C81382C570AC8CCE6697EA8423` is not 64 lowercase hex digits
        another manifest format: invalid manifest in `DIR/24.tar.gz`: it has format 2, and this version reads format 1 only
        the manifest not first: `DIR/25.tar.gz` has no manifest: its first entry is `dags/p_dag.py`, not `MANIFEST.json`
        a project named `airflow.cfg`: passes the archive rules
        a project named `data`: passes the archive rules
        a project named `store`: passes the archive rules
        a project named `airflow`: passes the archive rules
        a project named `dags`: passes the archive rules
        a project named `current`: passes the archive rules
        a project named `../x`: passes the archive rules
        a project named `.pad`: passes the archive rules
        a project named `-rf`: passes the archive rules
        a link named `.env`: passes the archive rules
        a file in `.pad-release/`: passes the archive rules
        a file where the environment is unpacked: passes the archive rules
        a path with a line break: passes the archive rules
        an environment entry `../x`: `projects/p/venv.tar.gz`: unsafe entry `../x` inside it: the path has a `..` component
        an absolute environment entry: `projects/p/venv.tar.gz`: unsafe entry `DIR/outside/abs` inside it: the path is absolute
        an environment link out, then a file through it: `projects/p/venv.tar.gz`: unsafe entry `lib/pwned` inside it: `lib` is a symlink in the archive, and nothing may be written through one
        an environment hard link to /etc/passwd: `projects/p/venv.tar.gz`: unsafe entry `passwd` inside it: a hard link to `/etc/passwd`: the path is absolute
        a setuid file in the environment: `projects/p/venv.tar.gz`: unsafe entry `bin/su` inside it: it has the setuid, setgid or sticky bit
        a FIFO in the environment: `projects/p/venv.tar.gz`: unsafe entry `fifo` inside it: a FIFO; only files, directories and links can be extracted
        an environment passed off under another's hash: `projects/p/venv.tar.gz`: unsafe entry `../x` inside it: the path has a `..` component; `projects/p/venv.tar.gz`: 90 bytes, the manifest says 137; `projects/p/venv.tar.gz`: sha256 3d7c386adbdb4adfb270c4f90ce483f1c7117f29fca987def99662e7107f2e28, the manifest says 7d4d05357584220e84e69631fdb2135d52c246b82402d8728a2eddeb43e4e997
        an environment that is not a tar.gz: `projects/p/venv.tar.gz`: not a readable tar.gz: invalid gzip header"#]].assert_eq(&verdicts.join("\n"));
}

#[test]
fn a_checked_environment_is_remembered_by_its_hash() {
    let (_tmp, dir) = tempdir();
    let known = dir.join("checked-envs");
    let options = crate::VerifyOptions { checked_envs: Some(&known) };
    let base = craft_base();
    let package = dir.join("p.tar.gz");
    fs::write(&package, crate::craft::benign_package(&base)).unwrap();
    let first = crate::verify_with(&package, &options).unwrap();
    assert_eq!((first.nested, first.nested_known), (1, 0));
    let second = crate::verify_with(&package, &options).unwrap();
    assert_eq!((second.nested, second.nested_known), (0, 1));

    // A hostile environment under the remembered hash is still hashed, and refused.
    let swapped = dir.join("swapped.tar.gz");
    fs::write(&swapped, crate::craft::swapped_env_package(&base, &RawTar::new().file(b"../x", b"x").gz())).unwrap();
    let err = crate::verify_with(&swapped, &options).unwrap_err().to_string();
    assert!(err.contains("`projects/p/venv.tar.gz`: sha256"), "{err}");
}
