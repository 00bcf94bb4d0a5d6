//! The host scripts' parsers on sample output: each answer line read into its typed
//! result, and anything else (what a failing command prints, ticks) left alone.

use crate::scripts::{
    CleanUp, FreeSpace, Inspect, LockLine, Preflight, Prune, ReadManifest, Smoke, Switch, Verify, strip_ticks,
};

#[test]
fn lock_lines() {
    let check = |line: &str, expected: LockLine<'_>| assert_eq!(crate::scripts::Lock::parse_line(line), expected);
    check("pad-lock-taken owner=me pid=1 since=2", LockLine::Taken);
    check(
        "pad-lock-stale owner=a pid=3 since=4 (its process 3 is gone)",
        LockLine::Stale("owner=a pid=3 since=4 (its process 3 is gone)"),
    );
    check("pad-lock-held owner=b pid=5 since=6", LockLine::Held("owner=b pid=5 since=6"));
    check("mkdir: cannot create directory: Permission denied", LockLine::Other);
    assert_eq!(crate::scripts::Lock::not_airflow_home("x\npad-not-airflow-home .git\n"), Some(".git"));
    assert_eq!(crate::scripts::Lock::not_airflow_home("pad-lock-error cannot create\n"), None);
    assert!(Preflight::parse("pad-sudo-ok\nairflow\n"));
    assert!(!Preflight::parse("sudo: a password is required\n"));
}

#[test]
fn inspect_reads_what_the_host_holds() {
    let out = "pad-cleaned releases/.tmp-1.0-abc-1\nS aa-644\nS bb-755\nR 1.0-a\nR 2.0-b\nC releases/2.0-b\nH 10 1.0-a\nH 20 2.0-b\npad-inspected\n";
    let inspected = Inspect::parse(out);
    assert_eq!(inspected.cleaned, ["releases/.tmp-1.0-abc-1"]);
    assert!(inspected.complete);
    let contents = inspected.contents;
    assert_eq!(contents.store.iter().collect::<Vec<_>>(), ["aa-644", "bb-755"]);
    assert_eq!(contents.current.as_deref(), Some("2.0-b"));
    assert_eq!(contents.history, [(10, "1.0-a".to_owned()), (20, "2.0-b".to_owned())]);
    assert_eq!(contents.previous().as_deref(), Some("1.0-a"));
    assert!(!Inspect::parse("S aa-644\n").complete, "cut off before its end");
}

#[test]
fn verify_names_what_differs() {
    let out = "./dags/a.py: FAILED\n./dags/l: FAILED link\n./projects/p/venv: FAILED missing\nsha256sum: WARNING: 1 computed checksum did NOT match\npad-sums 0123\n";
    let verified = Verify::parse(out);
    assert_eq!(verified.failed, ["dags/a.py", "dags/l", "projects/p/venv"]);
    assert_eq!((verified.sums.as_str(), verified.quick), ("0123", false));
    let quick = Verify::parse("pad-sums 4567\npad-verified-quick\n");
    assert!(quick.failed.is_empty() && quick.quick && quick.sums == "4567");
    assert_eq!(Verify::parse("sh: cd: can't cd\n").sums, "");
}

#[test]
fn smoke_tells_interpreter_from_import() {
    let ok = Smoke::parse(0, "pad-python 3.11.2\npad-smoke-ok\n");
    assert_eq!((ok.no_interpreter, ok.python.as_deref(), ok.import_failed), (false, Some("3.11.2"), false));
    let missing = Smoke::parse(3, "pad-no-interpreter venv/bin/python -> nothing\n");
    assert_eq!((missing.no_interpreter, missing.python.as_deref(), missing.import_failed), (true, None, false));
    let import = Smoke::parse(4, "pad-python 3.11.2\nModuleNotFoundError: No module named 'etl'\n");
    assert_eq!((import.no_interpreter, import.python.as_deref(), import.import_failed), (false, Some("3.11.2"), true));
}

#[test]
fn switch_prune_and_clean_up_report_what_they_did() {
    let switched = Switch::parse("pad-moved-aside dags -> dags.pre-pad-12\npad-switched\n");
    assert_eq!(switched.moved_aside, ["dags -> dags.pre-pad-12"]);
    assert_eq!(switched.asides(), [("dags".to_owned(), "dags.pre-pad-12".to_owned())]);
    let pruned = Prune::parse("pad-pruned 1.0-a\npad-pruned 1.1-b\npad-pruned-objects 7\n");
    assert_eq!((pruned.releases, pruned.objects), (vec!["1.0-a".to_owned(), "1.1-b".to_owned()], 7));
    let cleaned = CleanUp::parse("pad-cleaned .pad/staging-1\npad-pruned-objects 0\npad-clean\n");
    assert_eq!((cleaned.cleaned, cleaned.objects), (vec![".pad/staging-1".to_owned()], 0));
}

#[test]
fn free_space_and_the_manifest_are_read_back() {
    let space = FreeSpace::parse("pad-df /dev/sda1 1000 990 10 99% /\n").unwrap();
    assert_eq!((space.line.as_str(), space.available_kib), ("/dev/sda1 1000 990 10 99% /", 10));
    assert!(FreeSpace::parse("df: /x: No such file or directory\n").is_none());
    assert_eq!(ReadManifest::parse("noise\n{\"a\": 1}\n"), "{\"a\": 1}\n");
}

#[test]
fn ticks_are_dropped_and_nothing_else() {
    assert_eq!(strip_ticks("a\npad-tick\nb\npad-tick\n".to_owned()), "a\nb\n");
    assert_eq!(strip_ticks("no ticks".to_owned()), "no ticks");
}
