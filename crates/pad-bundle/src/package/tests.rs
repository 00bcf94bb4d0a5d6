//! Tests of [`write_package`]: reproducible bytes, reuse, rewrites on change, stored
//! nested archives, and nothing left behind on failure.

use std::fs;

use camino::{Utf8Path, Utf8PathBuf};

use crate::testing::{run, tempdir};
use crate::{
    BundleError, PackOptions, Package, PackageFile, PackageSpec, ProjectEntry, pack_dir, read_manifest, verify,
    write_package, write_pending,
};

/// A small repository: a DAG, a project with code and a packed environment.
struct Fixture {
    _dir: tempfile::TempDir,
    root: Utf8PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let (dir, root) = tempdir();
        let write = |rel: &str, text: &str| {
            let path = root.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        };
        write("dags/etl.py", "from airflow import DAG\n");
        write("projects/etl/etl/__init__.py", "VALUE = 1\n");
        write("projects/etl/requirements.lock", "pandas==2.2.3\n");
        // A packed environment: already compressed.
        let venv = root.join("env/venv");
        let noise: String =
            (0..200_000u32).map(|i| char::from(b'a' + (i.wrapping_mul(2_654_435_761) >> 27) as u8 % 26)).collect();
        fs::create_dir_all(venv.join("lib")).unwrap();
        fs::write(venv.join("lib/big.py"), noise).unwrap();
        pack_dir(&venv, &root.join("env/venv.tar.gz"), &PackOptions::default()).unwrap();
        Fixture { _dir: dir, root }
    }

    fn spec(&self, version: &str) -> PackageSpec {
        let file = |archive: &str, src: &str, precompressed| PackageFile {
            archive_path: archive.into(),
            src: self.root.join(src),
            precompressed,
        };
        PackageSpec {
            name: "platform-airflow-dags".to_owned(),
            version: version.to_owned(),
            commit: Some("0123456789abcdef0123456789abcdef01234567".to_owned()),
            dirty: false,
            files: vec![
                file("projects/etl/venv.tar.gz", "env/venv.tar.gz", true),
                file("dags/etl.py", "dags/etl.py", false),
                file("projects/etl/etl/__init__.py", "projects/etl/etl/__init__.py", false),
                file("projects/etl/requirements.lock", "projects/etl/requirements.lock", false),
            ],
            projects: vec![ProjectEntry {
                name: "etl".to_owned(),
                env_key: "k".repeat(16),
                interpreter_path: "/usr/bin/python3.11".to_owned(),
                interpreter_version: "3.11.2".to_owned(),
                package: Some("etl".to_owned()),
                venv_sha256: crate::sha256_of(&self.root.join("env/venv.tar.gz")).unwrap().0,
            }],
        }
    }
}

fn entries(dir: &Utf8Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|rd| rd.map(|e| e.unwrap().file_name().into_string().unwrap()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn write(spec: &PackageSpec, dir: &Utf8Path) -> Package {
    write_package(spec, dir).unwrap()
}

#[test]
fn same_inputs_give_the_same_bytes_and_a_checkable_sha256_file() {
    let fixture = Fixture::new();
    let spec = fixture.spec("main-0123456");
    let (_a, a) = tempdir();
    let (_b, b) = tempdir();
    let first = write(&spec, &a.join("dist"));
    let second = write(&spec, &b.join("dist"));
    assert!(!first.reused && !second.reused);
    assert_eq!(fs::read(&first.path).unwrap(), fs::read(&second.path).unwrap());
    assert_eq!(first.sha256, second.sha256);
    assert_eq!(
        entries(&a.join("dist")),
        ["platform-airflow-dags-main-0123456.tar.gz", "platform-airflow-dags-main-0123456.tar.gz.sha256"]
    );
    // `sha256sum -c` accepts the file beside the package.
    let out = run("sha256sum", &a.join("dist"), &["-c", "platform-airflow-dags-main-0123456.tar.gz.sha256"]);
    assert!(out.contains(": OK"), "{out}");
    // The manifest comes first and lists every file; the package verifies.
    let manifest = read_manifest(&first.path).unwrap();
    let paths: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        ["dags/etl.py", "projects/etl/etl/__init__.py", "projects/etl/requirements.lock", "projects/etl/venv.tar.gz"]
    );
    assert_eq!(manifest.projects[0].package.as_deref(), Some("etl"));
    assert_eq!(verify(&first.path).unwrap().manifest, first.manifest);
    // GNU tar reads it, and the nested archive comes out byte for byte.
    let out_dir = a.join("x");
    fs::create_dir(&out_dir).unwrap();
    run("tar", &out_dir, &["-xzf", first.path.as_str()]);
    assert_eq!(
        fs::read(out_dir.join("projects/etl/venv.tar.gz")).unwrap(),
        fs::read(fixture.root.join("env/venv.tar.gz")).unwrap()
    );
}

#[test]
fn nested_archives_are_stored_not_deflated_again() {
    let fixture = Fixture::new();
    let mut spec = fixture.spec("v1");
    let (_d, dir) = tempdir();
    let stored = write(&spec, &dir.join("stored"));
    for file in &mut spec.files {
        file.precompressed = false;
    }
    let deflated = write(&spec, &dir.join("deflated"));
    // Same contents, same manifest.
    assert_eq!(stored.manifest, deflated.manifest);
    let venv = fs::metadata(fixture.root.join("env/venv.tar.gz")).unwrap().len();
    // Stored blocks cost a few bytes per 64 KiB; deflating random-looking gzip data
    // again cannot shrink it much either, but it must not be what we do.
    assert!(stored.size >= venv, "stored {} < nested archive {venv}", stored.size);
    assert!(stored.size < venv + venv / 50 + 4096, "stored package {} too large for {venv}", stored.size);
}

#[test]
fn unchanged_inputs_reuse_the_package_and_changes_rewrite_it() {
    let fixture = Fixture::new();
    let spec = fixture.spec("v1");
    let (_d, dir) = tempdir();
    let first = write(&spec, &dir);
    let modified = fs::metadata(&first.path).unwrap().modified().unwrap();
    let again = write(&spec, &dir);
    assert!(again.reused);
    assert_eq!(again.sha256, first.sha256);
    assert_eq!(fs::metadata(&first.path).unwrap().modified().unwrap(), modified);

    // A corrupted package (its manifest intact) is not reused.
    let mut bytes = fs::read(&first.path).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 0xff;
    fs::write(&first.path, &bytes).unwrap();
    let repaired = write(&spec, &dir);
    assert!(!repaired.reused);
    assert_eq!(repaired.sha256, first.sha256);

    // A changed DAG makes a new package with a new inputs hash.
    fs::write(fixture.root.join("dags/etl.py"), "from airflow import DAG  # changed\n").unwrap();
    let changed = write(&spec, &dir);
    assert!(!changed.reused);
    assert_ne!(changed.manifest.inputs_sha256, first.manifest.inputs_sha256);
    assert_ne!(changed.sha256, first.sha256);
    let line = fs::read_to_string(&changed.sha256_path).unwrap();
    assert!(line.starts_with(&changed.sha256), "{line}");
    assert_eq!(entries(&dir).len(), 2, "{:?}", entries(&dir));
}

/// A pending package can be read under its temporary name and nothing else is visible;
/// committed, it is under its own name while the temporary name still reads; dropped
/// uncommitted, it leaves the directory as it was.
#[test]
fn a_pending_package_is_visible_only_once_committed() {
    let fixture = Fixture::new();
    let spec = fixture.spec("v1");
    let (_d, dir) = tempdir();
    let name = "platform-airflow-dags-v1.tar.gz";

    let pending = write_pending(&spec, &dir).unwrap();
    let hidden = entries(&dir);
    assert_eq!(hidden.len(), 1, "{hidden:?}");
    assert!(hidden[0].starts_with(&format!(".{name}.")) && hidden[0].ends_with(".tmp"), "{hidden:?}");
    assert_eq!(verify(pending.path()).unwrap().manifest, pending.package().manifest);
    drop(pending);
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));

    let pending = write_pending(&spec, &dir).unwrap();
    let committed = pending.commit().unwrap();
    assert_eq!(committed.path, dir.join(name));
    assert_eq!(fs::read(&committed.path).unwrap(), fs::read(pending.path()).unwrap());
    let out = run("sha256sum", &dir, &["-c", &format!("{name}.sha256")]);
    assert!(out.contains(": OK"), "{out}");
    drop(pending);
    assert_eq!(entries(&dir), [name.to_owned(), format!("{name}.sha256")]);
    assert_eq!(crate::sha256_of(&committed.path).unwrap().0, committed.sha256);

    // The same again is the package already there, readable under its own name.
    let again = write_pending(&spec, &dir).unwrap();
    assert_eq!(again.path(), committed.path);
    assert!(again.commit().unwrap().reused);
    drop(again);
    assert_eq!(entries(&dir), [name.to_owned(), format!("{name}.sha256")]);
}

#[test]
fn a_missing_input_is_named_and_leaves_nothing() {
    let fixture = Fixture::new();
    let spec = fixture.spec("v1");
    fs::remove_file(fixture.root.join("env/venv.tar.gz")).unwrap();
    let (_d, dir) = tempdir();
    let err = write_package(&spec, &dir).unwrap_err();
    assert!(matches!(&err, BundleError::Read { path, .. } if path.ends_with("env/venv.tar.gz")), "{err:?}");
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
}

#[test]
fn a_rewrite_that_fails_keeps_the_old_package_intact() {
    let fixture = Fixture::new();
    let spec = fixture.spec("v1");
    let (_d, dir) = tempdir();
    let first = write(&spec, &dir);
    let before = fs::read(&first.path).unwrap();
    // The same version with a file that vanishes: refused before anything is replaced.
    let mut broken = spec.clone();
    broken.files.push(PackageFile {
        archive_path: "dags/gone.py".into(),
        src: fixture.root.join("dags/gone.py"),
        precompressed: false,
    });
    write_package(&broken, &dir).unwrap_err();
    assert_eq!(fs::read(&first.path).unwrap(), before);
    assert_eq!(entries(&dir).len(), 2, "{:?}", entries(&dir));
}

#[test]
fn a_path_given_twice_is_refused() {
    let fixture = Fixture::new();
    let mut spec = fixture.spec("v1");
    spec.files.push(spec.files[1].clone());
    let (_d, dir) = tempdir();
    let err = write_package(&spec, &dir).unwrap_err();
    assert!(err.to_string().contains("dags/etl.py"), "{err}");
    assert!(entries(&dir).is_empty());
}

#[test]
fn a_version_that_is_no_file_name_is_refused() {
    let fixture = Fixture::new();
    let (_d, dir) = tempdir();
    for version in ["main/feature x", "", ".."] {
        let err = write_package(&fixture.spec(version), &dir).unwrap_err();
        assert!(err.to_string().contains("cannot be part of the file name"), "{err}");
    }
    assert!(entries(&dir).is_empty());
}
