//! Unit tests: GitLab's expressions, script splitting, `extends`/`default`, which jobs
//! each pipeline runs, and every kind of problem `check` reports, at its line.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};

use crate::check::Facts;
use crate::{CiError, Event, Pipeline, When, expr, parse, ref_slug, xtask_calls};

fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    move |name| map.get(name).cloned()
}

#[test]
fn expressions_follow_gitlab() {
    let lookup = vars(&[("CI_PIPELINE_SOURCE", "merge_request_event"), ("EMPTY", ""), ("A", "x"), ("B", "x")]);
    let cases = [
        ("$CI_PIPELINE_SOURCE == \"merge_request_event\"", true),
        ("$CI_PIPELINE_SOURCE == 'push'", false),
        ("$CI_PIPELINE_SOURCE != 'push'", true),
        ("$A == $B", true),
        ("$A", true),
        // Set but empty, and not set: both false on their own.
        ("$EMPTY", false),
        ("$UNSET", false),
        ("$UNSET == null", true),
        ("$EMPTY == null", false),
        ("$EMPTY == ''", true),
        ("${A} == \"x\"", true),
        // && binds tighter than ||.
        ("$UNSET || $A && $B", true),
        ("($UNSET || $A) && $UNSET", false),
        ("$A && ($UNSET || $B == 'x')", true),
    ];
    for (text, expected) in cases {
        assert_eq!(expr::evaluate(text, &lookup), Ok(expected), "{text}");
    }
    for (bad, at) in [("$A ==", 5), ("$A == 'x", 6), ("($A", 3), ("$A =~ /x/", 3), ("A == 'x'", 0), ("$A 'x'", 3)] {
        let err = expr::evaluate(bad, &lookup).unwrap_err();
        assert_eq!(err.at, at, "{bad}: {err}");
    }
}

#[test]
fn script_lines_yield_their_xtask_calls() {
    let calls = |text: &str| -> Vec<Vec<String>> { xtask_calls(text).unwrap().into_iter().map(|c| c.args).collect() };
    let words = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(calls("cargo xtask test --locked"), vec![words(&["test", "--locked"])]);
    assert_eq!(
        calls("cargo xtask package --json > target/p.json && cargo xtask publish --file \"target/dist/a b.tar.gz\""),
        vec![words(&["package", "--json"]), words(&["publish", "--file", "target/dist/a b.tar.gz"])]
    );
    assert_eq!(calls("PAD_LOG=debug env X=1 cargo +stable xtask layout 2>&1 | tee log"), vec![words(&["layout"])]);
    assert_eq!(calls("echo cargo xtask nope; cargo xtask layout;"), vec![words(&["layout"])]);
    assert_eq!(
        calls("cargo xtask deploy \\\n  --target staging\ncargo xtask layout"),
        vec![words(&["deploy", "--target", "staging"]), words(&["layout"])]
    );
    assert_eq!(
        calls("cargo xtask deploy --namespace \"$CI_COMMIT_REF_SLUG\""),
        vec![words(&["deploy", "--namespace", "$CI_COMMIT_REF_SLUG"])]
    );
    assert!(calls("cargo build --release").is_empty());
    assert!(xtask_calls("cargo xtask deploy --target 'staging").is_err());
}

#[test]
fn ref_slugs_are_gitlabs() {
    assert_eq!(ref_slug("Feature/ABC_12.x"), "feature-abc-12-x");
    assert_eq!(ref_slug("-main-"), "main");
    assert_eq!(ref_slug(&"a".repeat(80)).len(), 63);
}

const PIPELINE: &str = r#"
workflow:
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS
      when: never
    - if: $CI_COMMIT_BRANCH
    - if: $CI_COMMIT_TAG

stages: [test, package, deploy]

variables:
  GLOBAL: "1"

default:
  before_script:
    - cargo xtask layout
  cache:
    key: pad-target
    paths: [target/]

.deploy:
  stage: deploy
  variables:
    LOCK: "300"

test:
  stage: test
  script:
    - cargo xtask test --locked --junit target/junit
  artifacts:
    reports:
      junit: target/junit/*.xml

package:
  stage: package
  needs: [test]
  script: [cargo xtask package --locked]

review:
  extends: .deploy
  needs: [package]
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
  script:
    - cargo xtask deploy --target staging --namespace "$CI_COMMIT_REF_SLUG"
  environment:
    name: review/$CI_COMMIT_REF_SLUG
    on_stop: stop_review

stop_review:
  extends: .deploy
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
      when: manual
  script:
    - cargo xtask namespace rm "$CI_COMMIT_REF_SLUG" --target staging
  environment:
    name: review/$CI_COMMIT_REF_SLUG
    action: stop

production:
  extends: .deploy
  rules:
    - if: $CI_COMMIT_TAG
      when: manual
  script:
    - cargo xtask deploy --target prod --from-registry "$CI_COMMIT_TAG"

publish:
  stage: deploy
  rules:
    - if: $CI_COMMIT_TAG
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
  script:
    - cargo xtask publish
"#;

fn pipeline(text: &str) -> Pipeline {
    parse(text, Utf8Path::new(".gitlab-ci.yml")).unwrap_or_else(|e| panic!("{e}"))
}

fn plan_names(p: &Pipeline, event: &Event) -> Option<Vec<String>> {
    let vars = event.variables("main", "0123456789abcdef0123456789abcdef01234567");
    p.plan(&vars).unwrap().map(|jobs| {
        jobs.iter()
            .map(|j| if j.when == When::Manual { format!("{}(manual)", j.job.name) } else { j.job.name.clone() })
            .collect()
    })
}

#[test]
fn each_pipeline_runs_the_jobs_its_rules_choose_in_stage_order() {
    let p = pipeline(PIPELINE);
    let [mr, main, tag] = Event::canonical("main");
    assert_eq!(plan_names(&p, &mr).unwrap(), ["test", "package", "review", "stop_review(manual)"]);
    assert_eq!(plan_names(&p, &main).unwrap(), ["test", "package", "publish"]);
    assert_eq!(plan_names(&p, &tag).unwrap(), ["test", "package", "production(manual)", "publish"]);
    // A branch with an open merge request: workflow:rules start no branch pipeline.
    let mut vars = Event::Push { branch: "feature".to_owned() }.variables("main", "0123456789abcdef");
    vars.insert("CI_OPEN_MERGE_REQUESTS".to_owned(), "group/project!1".to_owned());
    assert!(p.plan(&vars).unwrap().is_none());
}

#[test]
fn default_and_extends_are_applied() {
    let p = pipeline(PIPELINE);
    let review = p.job("review").unwrap();
    assert_eq!(review.stage, "deploy", "from .deploy");
    assert_eq!(review.variables.get("LOCK").map(String::as_str), Some("300"));
    assert_eq!(review.before_script.first().map(|l| l.text.as_str()), Some("cargo xtask layout"), "from default:");
    assert_eq!(review.cache_paths, ["target/"]);
    assert_eq!(review.script[0].line, 46, "the line of the script entry in the file");
    assert_eq!(review.line, 40);
    let env = review.environment.as_ref().unwrap();
    assert_eq!(
        (env.name.as_str(), env.action.as_str(), env.on_stop.as_deref()),
        ("review/$CI_COMMIT_REF_SLUG", "start", Some("stop_review"))
    );
    assert!(p.job(".deploy").is_none(), "hidden jobs are templates, not jobs");
}

fn facts() -> Facts {
    Facts {
        targets: vec!["local".to_owned(), "staging".to_owned(), "prod".to_owned()],
        remote_targets: vec!["staging".to_owned(), "prod".to_owned()],
        namespace_targets: vec!["local".to_owned(), "staging".to_owned()],
        registries: vec!["default".to_owned(), "gitlab".to_owned()],
        artifacts_files: Vec::new(),
        default_branch: "main".to_owned(),
    }
}

/// A stand-in for the front end's parser: these commands and flags exist.
fn parser(args: &[String]) -> Result<(), String> {
    const KNOWN: &[(&str, &[&str])] = &[
        ("layout", &[]),
        ("test", &["--locked", "--junit"]),
        ("package", &["--locked", "--json"]),
        ("publish", &["--registry", "--locked"]),
        ("deploy", &["--target", "--namespace", "--from-registry", "--registry"]),
        ("namespace", &["--target"]),
        ("cache", &["--json"]),
    ];
    let command = args.first().ok_or("a command is required")?;
    let (_, flags) = KNOWN
        .iter()
        .find(|(c, _)| c == command)
        .ok_or_else(|| format!("error: unrecognized subcommand '{command}'"))?;
    match args.iter().find(|a| a.starts_with("--") && !flags.contains(&a.as_str())) {
        Some(flag) => {
            Err(format!("error: unexpected argument '{flag}' found\n\n  tip: a similar argument exists: '--locked'\n"))
        }
        None => Ok(()),
    }
}

fn problems(text: &str, facts: &Facts) -> Vec<String> {
    crate::check(&pipeline(text), facts, &parser).iter().map(|p| p.to_string()).collect()
}

#[test]
fn a_complete_pipeline_has_no_problems() {
    assert_eq!(problems(PIPELINE, &facts()), Vec::<String>::new());
}

#[track_caller]
fn assert_one(found: &[String], needles: &[&str]) {
    assert!(
        found.iter().any(|p| needles.iter().all(|n| p.contains(n))),
        "expected a problem with {needles:?}, got:\n{}",
        found.join("\n")
    );
}

#[test]
fn an_unknown_flag_or_command_names_its_line_and_the_help_to_read() {
    let text = PIPELINE.replace("--locked --junit", "--lockd --junit").replace("namespace rm", "namespaces rm");
    let found = problems(&text, &facts());
    assert_one(
        &found,
        &[
            ".gitlab-ci.yml:30: job `test`",
            "unexpected argument '--lockd'",
            "tip: a similar argument exists",
            "see `cargo xtask test --help`",
        ],
    );
    assert_one(&found, &[".gitlab-ci.yml:57: job `stop_review`", "unrecognized subcommand 'namespaces'"]);
}

#[test]
fn unknown_targets_and_registries_are_named() {
    let text = PIPELINE
        .replace("--target prod", "--target production")
        .replace("cargo xtask publish", "cargo xtask publish --registry gitlb");
    let found = problems(&text, &facts());
    assert_one(
        &found,
        &[
            ":68: job `production`: deploy target `production` is not configured (known: local, staging, prod)",
            "add `deploy/production.toml`",
        ],
    );
    assert_one(&found, &["job `publish`: registry `gitlb` is not configured", "deploy/registries.toml"]);
}

#[test]
fn a_namespace_deploy_needs_a_target_with_a_data_root() {
    let text = PIPELINE.replace("deploy --target staging --namespace", "deploy --target prod --namespace");
    assert_one(
        &problems(&text, &facts()),
        &[
            ":46: job `review` deploys into a namespace, but target `prod` sets no `data_root`",
            "add `data_root = \"/srv/data/${namespace}\"` to deploy/prod.toml",
        ],
    );
}

#[test]
fn a_repository_with_artifacts_needs_a_warm_job() {
    let mut with_artifacts = facts();
    with_artifacts.artifacts_files = vec![Utf8PathBuf::from("projects/p/artifacts.yaml")];
    let found = problems(PIPELINE, &with_artifacts);
    assert_one(&found, &["no job calls `cargo xtask cache warm`", "artifacts.yaml", "cargo xtask cache warm"]);
    let with_warm = format!(
        "{PIPELINE}\nwarm:\n  stage: deploy\n  rules:\n    - if: $CI_COMMIT_TAG\n  script:\n    - cargo xtask cache warm --json\n"
    );
    // Present, but only on tags: it must run on the default branch.
    assert_one(
        &problems(&with_warm, &with_artifacts),
        &["`warm` does not run in default-branch pipelines", "widen its `rules:`"],
    );
    let fixed = with_warm.replace(
        "- if: $CI_COMMIT_TAG\n  script:\n    - cargo xtask cache warm",
        "- if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH\n  script:\n    - cargo xtask cache warm",
    );
    assert_eq!(problems(&fixed, &with_artifacts), Vec::<String>::new());
}

#[test]
fn missing_jobs_manual_production_needs_and_stop_jobs_are_reported() {
    let no_review = PIPELINE.replace("--namespace \"$CI_COMMIT_REF_SLUG\"", "");
    assert_one(
        &problems(&no_review, &facts()),
        &["no job calls `cargo xtask deploy` with --namespace", "review:", "on_stop: stop_review"],
    );
    // Without remote targets, no review or production job is needed.
    let mut local_only = facts();
    local_only.remote_targets.clear();
    assert!(problems(&no_review, &local_only).is_empty());

    let automatic = PIPELINE.replace("    - if: $CI_COMMIT_TAG\n      when: manual", "    - if: $CI_COMMIT_TAG");
    assert_one(
        &problems(&automatic, &facts()),
        &["job `production` runs without a person pressing play", "when: manual"],
    );

    let needs_publish =
        PIPELINE.replace("production:\n  extends: .deploy\n", "production:\n  extends: .deploy\n  needs: [review]\n");
    assert_one(
        &problems(&needs_publish, &facts()),
        &["job `production` needs `review`, which a tag pipeline (`v1.0.0`) does not run"],
    );

    let no_stop = PIPELINE.replace("on_stop: stop_review", "on_stop: stop_it");
    assert_one(&problems(&no_stop, &facts()), &["job `review`: `on_stop: stop_it` names no job"]);
    let wrong_stop = PIPELINE.replace("    action: stop\n", "");
    assert_one(
        &problems(&wrong_stop, &facts()),
        &["job `stop_review` is `review`'s on_stop job but does not stop environment"],
    );

    let no_cache = PIPELINE.replace("  cache:\n    key: pad-target\n    paths: [target/]\n", "");
    assert_one(&problems(&no_cache, &facts()), &["job `test` does not cache `target/`"]);

    let no_report = PIPELINE.replace("      junit: target/junit/*.xml", "      junit: junit.xml");
    assert_one(
        &problems(&no_report, &facts()),
        &["job `test` writes JUnit to `target/junit` but does not report it", "junit: target/junit/*.xml"],
    );
}

#[test]
fn the_file_itself_is_checked_with_lines_and_suggestions() {
    let invalid = |text: &str| match parse(text, Utf8Path::new(".gitlab-ci.yml")) {
        Err(CiError::Invalid(problems)) => problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        other => panic!("expected problems, got {other:?}"),
    };
    let typo = invalid("stages: [test]\ntest:\n  stage: test\n  scirpt:\n    - cargo xtask test\n");
    assert_one(&typo, &[".gitlab-ci.yml:4:3: job `test`: unknown key `scirpt`", "did you mean `script`?"]);
    assert_one(&typo, &["job `test` has no `script:`"]);
    assert_one(&invalid("test:\n  stage: lint\n  script: [x]\n"), &["stage `lint` is not in `stages:`"]);
    assert_one(
        &invalid("test:\n  script: [x]\n  rules:\n    - if: $A =~ /x/\n"),
        &[".gitlab-ci.yml:4", "regular expression"],
    );
    assert_one(&invalid("test:\n  script: [x]\n  only: [main]\n"), &["use `rules:`"]);
    assert_one(
        &invalid("test:\n  extends: .missing\n  script: [x]\n"),
        &["extends `.missing`, which is not in the file"],
    );
    assert_one(&invalid("test:\n  script:\n    - key: value\n"), &["quote the line"]);
    assert_one(
        &invalid("include: other.yml\ntest:\n  script: [x]\n"),
        &[".gitlab-ci.yml:1:1", "`include:` is not followed"],
    );
    assert_one(&invalid("test: [\n"), &["invalid YAML"]);
}
