//! The trust boundary of a deploy, through the local transport: hostile packages are
//! refused before any host is touched, the host's scripts refuse on their own, a failed
//! run removes what it wrote, the `.env` reads alike in `sh` and by systemd's rules,
//! and `AIRFLOW_HOME` can never be the repository.

use std::collections::BTreeMap;
use std::fs;

use camino::{Utf8Path, Utf8PathBuf};
use expect_test::expect;
use pad_bundle::craft::{Base, RawTar, benign_package, hostile_packages};
use pad_process::Cmd;
use sha2::{Digest, Sha256};

use super::{Fixture, Spec, assert_ok, error_of, local_shell};
use crate::{DeployError, Step};

/// Every path under `dir` with its kind, and the SHA-256 of each file: equal before and
/// after means nothing under `dir` was written.
fn snapshot(dir: &Utf8Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(here) = stack.pop() {
        for entry in fs::read_dir(&here).unwrap() {
            let path = Utf8PathBuf::from_path_buf(entry.unwrap().path()).unwrap();
            let meta = fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(dir).unwrap();
            if meta.is_symlink() {
                out.push(format!("l {rel} -> {}", fs::read_link(&path).unwrap().display()));
            } else if meta.is_dir() {
                out.push(format!("d {rel}"));
                stack.push(path);
            } else {
                out.push(format!("f {rel} {}", pad_stdx::hex(&Sha256::digest(fs::read(&path).unwrap()))));
            }
        }
    }
    out.sort();
    out
}

impl Fixture {
    /// What the hostile packages are made of: a real environment whose interpreter is
    /// this machine's, so the benign package deploys.
    fn hostile_base(&self) -> Base {
        let venv = self.root.join("hostile-venv");
        fs::create_dir_all(venv.join("bin")).unwrap();
        std::os::unix::fs::symlink(&self.python, venv.join("bin/python")).unwrap();
        let home = Utf8Path::new(&self.python).parent().unwrap();
        fs::write(venv.join("pyvenv.cfg"), format!("home = {home}\nversion_info = {}\n", self.python_version)).unwrap();
        let tarball = self.root.join("hostile-venv.tar.gz");
        let options = pad_bundle::PackOptions { symlinks: pad_bundle::SymlinkPolicy::Keep, ..Default::default() };
        pad_bundle::pack_dir(&venv, &tarball, &options).unwrap();
        Base {
            env: fs::read(&tarball).unwrap(),
            interpreter_path: self.python.clone(),
            interpreter_version: self.python_version.clone(),
        }
    }
}

#[test]
fn hostile_packages_are_refused_before_any_host_is_touched() {
    let f = Fixture::new();
    let base = f.hostile_base();
    let benign = f.root.join("benign.tar.gz");
    fs::write(&benign, benign_package(&base)).unwrap();
    let report = f.deploy_with(&f.target(), &f.options(&benign));
    assert_ok(&report);
    let before = snapshot(&f.home);
    let outside = f.root.join("outside");
    let passwd = fs::read("/etc/passwd").unwrap();

    let mut refusals = Vec::new();
    for (i, hostile) in hostile_packages(&base, &outside).into_iter().enumerate() {
        let package = f.root.join(format!("hostile-{i}.tar.gz"));
        fs::write(&package, &hostile.bytes).unwrap();
        let err = match crate::deploy(&f.target(), &f.options(&package), &()) {
            Err(err) => err,
            Ok(report) => panic!("{}: deployed: {:?}", hostile.name, report.hosts[0]),
        };
        match &err {
            DeployError::Package { source: pad_bundle::BundleError::Verify { .. }, .. } => {
                assert!(hostile.refused_by_verify, "{}: {err}", hostile.name)
            }
            DeployError::Package { .. } => assert!(hostile.refused_by_verify, "{}: {err}", hostile.name),
            DeployError::BadPackage { reason, .. } => {
                assert!(!hostile.refused_by_verify, "{}: {err}", hostile.name);
                refusals.push(format!("{}: {reason}", hostile.name));
            }
            other => panic!("{}: refused for another reason: {other}", hostile.name),
        }
        assert_eq!(snapshot(&f.home), before, "{}: AIRFLOW_HOME changed", hostile.name);
        assert!(!outside.exists(), "{}: wrote outside AIRFLOW_HOME", hostile.name);
    }
    assert_eq!(fs::read("/etc/passwd").unwrap(), passwd);
    expect![[r#"
        a link where the environment is unpacked: `projects/p/venv/` is where the environment is unpacked, and the package has files or links there
        a project named `airflow.cfg`: invalid project name `airflow.cfg`: use lowercase letters, digits and single `-`, starting with a letter (for example `airflow-cfg`)
        a project named `data`: `data` is reserved: `$AIRFLOW_HOME/data` is used by Airflow or by releases; choose another name
        a project named `store`: `store` is reserved: `$AIRFLOW_HOME/store` is used by Airflow or by releases; choose another name
        a project named `airflow`: `airflow` is reserved: `$AIRFLOW_HOME/airflow` is used by Airflow or by releases; choose another name
        a project named `dags`: `dags` is reserved: `$AIRFLOW_HOME/dags` is used by Airflow or by releases; choose another name
        a project named `current`: `current` is reserved: `$AIRFLOW_HOME/current` is used by Airflow or by releases; choose another name
        a project named `../x`: invalid project name `../x`: use lowercase letters, digits and single `-`, starting with a letter (for example `x`)
        a project named `.pad`: invalid project name `.pad`: use lowercase letters, digits and single `-`, starting with a letter (for example `pad`)
        a project named `-rf`: invalid project name `-rf`: use lowercase letters, digits and single `-`, starting with a letter (for example `rf`)
        a link named `.env`: `.pad-release/` and `.env` are written by the deploy; the package may not hold them
        a file in `.pad-release/`: `.pad-release/` and `.env` are written by the deploy; the package may not hold them
        a file where the environment is unpacked: `projects/p/venv/` is where the environment is unpacked, and the package has files or links there
        a path with a line break: file `dags/a\nb.py`: the path holds a line break or backslash"#]]
    .assert_eq(&refusals.join("\n"));
}

/// Runs the unpack script of a release whose file and link lists are `files` and
/// `links`, as a deploy would after its upload, and returns its exit status and output.
fn unpack_with(f: &Fixture, files: &[(&str, &[u8])], links: &[(&str, &str)], envs: &[&str]) -> (i32, String) {
    let staging = ".pad/staging-test";
    let store = f.home.join(".pad/store");
    let meta = f.home.join(staging).join("meta");
    fs::create_dir_all(&store).unwrap();
    fs::create_dir_all(&meta).unwrap();
    let mut list = String::new();
    for (path, data) in files {
        let key = format!("{}-644", pad_stdx::hex(&Sha256::digest(data)));
        fs::write(store.join(&key), data).unwrap();
        list.push_str(&format!("{key} {path}\n"));
    }
    fs::write(meta.join("files"), list).unwrap();
    let links: String = links.iter().map(|(path, target)| format!("{path}\n{target}\n")).collect();
    fs::write(meta.join("links"), links).unwrap();
    for name in ["keys", "sha256sums", "info", "runtime.json", "MANIFEST.json", "env"] {
        fs::write(meta.join(name), "").unwrap();
    }
    let script = crate::scripts::Unpack {
        home: f.home.as_str(),
        root: f.home.as_str(),
        staging,
        tmp: ".tmp-test",
        envs: &envs
            .iter()
            .map(|e| crate::plan::EnvKey { project: e, env: "no-such-key", tested: String::new() })
            .collect::<Vec<_>>(),
        fail_midway: false,
    }
    .text();
    // As a deploy runs it: through the local transport, which keeps its input open.
    let exec = local_shell().run(Step::Unpack, &script, None).unwrap();
    (exec.status, exec.output)
}

#[test]
fn the_hosts_unpack_script_never_writes_through_a_link() {
    let f = Fixture::new();
    let outside = f.root.join("outside");
    fs::create_dir(&outside).unwrap();
    let dag: &[u8] = b"x\n";

    // A link out, then a link and a file through it.
    let (status, output) = unpack_with(
        &f,
        &[("dags/a.py", dag)],
        &[("dags/lnk", outside.as_str()), ("dags/lnk/pwned", "/etc/passwd")],
        &[],
    );
    assert_eq!(status, 6, "{output}");
    assert!(output.contains("pad-unsafe dags/lnk: a link to the absolute path"), "{output}");

    // A relative link out, then a link through it.
    fs::remove_dir_all(f.home.join("releases")).unwrap();
    let (status, output) =
        unpack_with(&f, &[("dags/a.py", dag)], &[("dags/up", "../../../outside"), ("dags/up/pwned", "x")], &[]);
    assert_eq!(status, 6, "{output}");
    assert!(output.contains("pad-unsafe dags/up/pwned: dags/up is a link"), "{output}");

    // A link where the environment was unpacked: the environment comes first.
    fs::remove_dir_all(f.home.join("releases")).unwrap();
    let env = RawTar::new().file(b"bin/tool", b"#!/bin/sh\n").gz();
    let (status, output) =
        unpack_with(&f, &[("projects/p/venv.tar.gz", &env)], &[("projects/p/venv", "../../dags")], &["p"]);
    assert_eq!(status, 6, "{output}");
    assert!(output.contains("pad-unsafe projects/p/venv: something is there already"), "{output}");
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0, "something was written outside");
}

#[test]
fn a_failed_deploy_removes_what_it_wrote() {
    let f = Fixture::new();
    let one = f.deploy(&Spec::new("1.0")).release_id;
    let report =
        f.deploy(&Spec::new("2.0").with("projects/etl/etl/__init__.py", "raise SystemExit('broken package')\n"));
    assert!(matches!(error_of(&report), DeployError::Import { .. }));
    assert_eq!(f.current(), format!("releases/{one}"));
    assert_eq!(f.leftovers(), Vec::<String>::new(), "the failed run left its staging or release behind");
    let notes = &report.hosts[0].notes;
    assert!(notes.iter().any(|n| n.contains("releases/.tmp-2.0-")), "{notes:?}");
}

/// The value systemd reads from one `.env` line, by the rules `systemd.exec(5)` gives
/// for `EnvironmentFile=`: single quotes verbatim; in double quotes a backslash before
/// one of `"\`$` keeps that character, before anything else both are kept.
fn systemd_value(line: &str) -> String {
    let (_, raw) = line.split_once('=').unwrap();
    if let Some(inner) = raw.strip_prefix('\'') {
        return inner.strip_suffix('\'').expect("closing quote").to_owned();
    }
    let inner = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')).expect("quoted");
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(next @ ('"' | '\\' | '`' | '$')) => out.push(next),
            Some(next) => {
                out.push('\\');
                out.push(next);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Values `.env` carries, and the ones it refuses with the reason.
pub(super) const ENV_VALUES: &[&str] = &[
    "plain",
    "with spaces and \"double\" quotes",
    "it's",
    "back\\slash and \"quotes\" and it's",
    "$HOME and $(touch /pad-pwned) and `id`",
    "tab\there",
    "",
    "\\n is not a line break",
];

#[test]
fn the_env_file_reads_alike_in_sh_and_systemd() {
    let f = Fixture::new();
    let env: BTreeMap<String, String> =
        ENV_VALUES.iter().enumerate().map(|(i, v)| (format!("V{i}"), (*v).to_owned())).collect();
    let text = crate::plan::env_text(&env).unwrap();
    fs::write(f.root.join(".env"), &text).unwrap();
    for (line, (key, value)) in text.lines().zip(&env) {
        assert_eq!(systemd_value(line), *value, "systemd reads {line}");
        let script = format!(". ./.env; printf %s \"${key}\"");
        let read = Cmd::new("sh", &f.root).args(["-c", &script]).run().unwrap().stdout;
        assert_eq!(read, *value, "sh reads {line}");
    }
    assert!(!Utf8Path::new("/pad-pwned").exists());

    let refused: Vec<String> = [
        ("${HOME}", "A"),
        ("it's $HOME", "B"),
        ("back\\slash $x", "C"),
        ("line\nbreak", "D"),
        ("carriage\rreturn", "E"),
    ]
    .into_iter()
    .map(|(value, key)| crate::plan::env_text(&BTreeMap::from([(key.to_owned(), value.to_owned())])).unwrap_err())
    .chain([crate::plan::env_text(&BTreeMap::from([("NOT A NAME".to_owned(), "x".to_owned())])).unwrap_err()])
    .collect();
    expect![[r#"
        `[env]` value of `A` holds `${`, which python-dotenv expands as a variable whatever the quoting, with no escape for it; keep `${` out of the value
        `[env]` value of `B` holds `'` or `\` together with `$` or `` ` ``, which no quoting makes sh, systemd and python-dotenv read alike; drop one of the two kinds
        `[env]` value of `C` holds `'` or `\` together with `$` or `` ` ``, which no quoting makes sh, systemd and python-dotenv read alike; drop one of the two kinds
        `[env]` value of `D` holds a line break or another control character, which a .env file cannot carry
        `[env]` value of `E` holds a line break or another control character, which a .env file cannot carry
        `[env]` key `NOT A NAME` is not a variable name: use letters, digits and `_`, not starting with a digit"#]]
    .assert_eq(&refused.join("\n"));
}

#[test]
fn airflow_home_is_never_the_repository() {
    let f = Fixture::new();
    let package = f.package(&Spec::new("1.0"));
    let mut options = f.options(&package);
    let mut target = f.target();
    target.airflow_home = "${AIRFLOW_HOME:-target/airflow}".to_owned();

    // Set but empty is unset, as in a POSIX shell: the default, not the repository.
    options.connect.vars = Some(BTreeMap::from([("AIRFLOW_HOME".to_owned(), String::new())]));
    assert_ok(&f.deploy_with(&target, &options));
    assert!(f.root.join("target/airflow/current/dags/etl_dag.py").is_file());
    assert!(!f.root.join("releases").exists() && !f.root.join("current").exists());

    // The repository itself, or a directory holding it, is refused before anything.
    for home in [f.root.to_string(), f.root.parent().unwrap().to_string(), format!("{}/./", f.root)] {
        options.connect.vars = Some(BTreeMap::from([("AIRFLOW_HOME".to_owned(), home.clone())]));
        let err = crate::deploy(&target, &options, &()).unwrap_err();
        assert!(matches!(err, DeployError::Config { .. }), "{home}: {err}");
        assert!(err.to_string().contains("is the repository"), "{err}");
    }

    // Another checkout, found by what it holds, on any host.
    let checkout = f.root.join("elsewhere");
    fs::create_dir_all(checkout.join(".git")).unwrap();
    target.airflow_home = checkout.to_string();
    let report = f.deploy_with(&target, &options);
    let err = error_of(&report);
    assert!(matches!(err, DeployError::NotAirflowHome { .. }), "{err}");
    assert_eq!(crate::host_names(&target), ["local"]);
    assert_eq!(fs::read_dir(&checkout).unwrap().count(), 1, "the deploy wrote into the checkout");
}
