//! Unit tests: artifacts.yaml parsing and merging, Maven paths, checksum files.

use camino::Utf8PathBuf;

use crate::config::{CacheKind, Config, SourceKind, parse_texts};
use crate::maven_path;
use crate::source::{Algorithm, parse_checksum};

fn parse(files: &[(&str, &str)]) -> Result<Config, String> {
    let texts: Vec<(Utf8PathBuf, String, Utf8PathBuf)> = files
        .iter()
        .map(|(name, text)| (Utf8PathBuf::from(*name), (*text).to_owned(), Utf8PathBuf::from("/repo/projects/p")))
        .collect();
    parse_texts(&texts).map_err(|e| e.to_string())
}

#[track_caller]
fn check_err(files: &[(&str, &str)], expected: &[&str]) {
    let err = parse(files).expect_err("expected a config error");
    for part in expected {
        assert!(err.contains(part), "`{part}` not in:\n{err}");
    }
}

const SPEC_EXAMPLE: &str = r#"
artifact_sources:
  wmf_archiva_releases: {class_name: maven, base_uri: "https://archiva.example.org/repository/releases"}
  url: {class_name: url}
artifact_caches:
  hdfs: {class_name: webhdfs, base_uri: "webhdfs://namenode:9870/wmf/cache/artifacts/airflow/analytics"}
default_artifact_source: url
default_artifact_caches: [hdfs]
artifacts:
  refinery-job-0.2.1-shaded.jar:
    id: org.wikimedia.analytics.refinery.job:refinery-job:jar:shaded:0.2.1
    source: wmf_archiva_releases
  my_env-0.1.0.tgz:
    id: https://gitlab.example.org/api/v4/projects/1/packages/generic/my_env/0.1.0/my_env-0.1.0.tgz
"#;

#[test]
fn spec_example_parses() {
    let config = parse(&[("artifacts.yaml", SPEC_EXAMPLE)]).unwrap();
    assert_eq!(config.artifacts.len(), 2);
    let env = &config.artifacts[0];
    assert_eq!(env.name, "my_env-0.1.0.tgz");
    assert_eq!(env.source, "url");
    assert_eq!(env.caches, ["hdfs"]);
    let jar = &config.artifacts[1];
    assert_eq!(jar.source, "wmf_archiva_releases");
    assert_eq!((jar.place.line, jar.place.column), (11, 5));
    assert_eq!(
        config.sources["wmf_archiva_releases"].kind,
        SourceKind::Maven { base_uri: "https://archiva.example.org/repository/releases".to_owned() }
    );
}

#[test]
fn workflow_utils_class_names() {
    let text = r#"
artifact_sources:
  archiva: {class_name: workflow_utils.artifact.maven.MavenArtifactSource, base_uri: "https://a.example.org/m2/"}
  files: {class_name: workflow_utils.artifact.FsArtifactSource}
artifact_caches:
  hdfs: {class_name: workflow_utils.artifact.FsArtifactCache, base_uri: "hdfs:///wmf/cache", endpoint: "http://nn:9870"}
  s3: {class_name: workflow_utils.artifact.FsArtifactCache, base_uri: "s3://bucket/cache"}
  dav: {class_name: workflow_utils.artifact.FsArtifactCache, base_uri: "https://dav.example.org/cache"}
  local: {class_name: workflow_utils.artifact.FsArtifactCache, base_uri: "file:///srv/cache"}
  relative: {class_name: workflow_utils.artifact.FsArtifactCache, base_uri: "cache"}
default_artifact_caches: [local]
artifacts:
  a.jar: {id: "g:a:1", source: archiva}
"#;
    let config = parse(&[("artifacts.yaml", text)]).unwrap();
    assert_eq!(config.sources["archiva"].kind, SourceKind::Maven { base_uri: "https://a.example.org/m2".to_owned() });
    assert_eq!(config.sources["files"].kind, SourceKind::ByScheme);
    assert!(matches!(config.caches["hdfs"].kind, CacheKind::Webhdfs { .. }));
    assert!(matches!(config.caches["s3"].kind, CacheKind::S3 { .. }));
    assert!(matches!(config.caches["dav"].kind, CacheKind::Webdav { .. }));
    assert_eq!(config.caches["local"].kind, CacheKind::Fs { path: "/srv/cache".to_owned() });
    assert_eq!(config.caches["relative"].kind, CacheKind::Fs { path: "/repo/projects/p/cache".to_owned() });
}

#[test]
fn malformed_yaml_has_a_position() {
    check_err(&[("bad.yaml", "artifacts:\n  a.jar:\n    id: [unclosed\n")], &["bad.yaml:", "invalid YAML"]);
}

#[test]
fn unknown_keys_are_errors() {
    check_err(
        &[("a.yaml", "artifacts:\n  a.jar:\n    id: x\n    sha265: abc\n")],
        &["a.yaml:4:", "unknown key `sha265`"],
    );
    check_err(&[("a.yaml", "artifact_source: {}\n")], &["a.yaml:1:1", "unknown key `artifact_source`"]);
    check_err(
        &[("a.yaml", "artifact_sources:\n  m: {class_name: maven, base_uri: 'http://x', token_env: T}\n")],
        &["a.yaml:2:", "`token_env` is not a setting of a `maven` class"],
    );
}

#[test]
fn unknown_source_and_cache_are_named() {
    let text = "artifact_sources:\n  url: {class_name: url}\nartifact_caches:\n  local: {class_name: fs, base_uri: /c}\nartifacts:\n  a.jar:\n    id: http://x/a.jar\n    source: archiva\n    caches: [local, hdfs]\n";
    check_err(
        &[("a.yaml", text)],
        &[
            "a.yaml:8:13: unknown source `archiva` (declared: `url`)",
            "a.yaml:9:21: unknown cache `hdfs` (declared: `local`)",
        ],
    );
}

#[test]
fn unknown_class_is_an_error() {
    check_err(
        &[("a.yaml", "artifact_sources:\n  s: {class_name: ftp}\n")],
        &["a.yaml:2:", "unknown source class `ftp`"],
    );
    check_err(
        &[(
            "a.yaml",
            "artifact_caches:\n  c: {class_name: workflow_utils.artifact.FsArtifactCache, base_uri: 'ftp://x'}\n",
        )],
        &["cannot tell the cache class"],
    );
    check_err(
        &[("a.yaml", "artifact_caches:\n  c: {class_name: webhdfs, base_uri: 'hdfs://nn:8020/x'}\n")],
        &["RPC address"],
    );
}

#[test]
fn shared_definitions_merge_and_conflicts_are_reported() {
    let shared = "artifact_sources:\n  url: {class_name: url}\nartifact_caches:\n  local: {class_name: fs, base_uri: /cache}\ndefault_artifact_source: url\ndefault_artifact_caches: [local]\n";
    let project = "artifacts:\n  a.jar: {id: 'http://x/a.jar'}\n";
    let config = parse(&[("artifacts.yaml", shared), ("projects/p/artifacts.yaml", project)]).unwrap();
    assert_eq!(config.artifacts[0].source, "url");
    assert_eq!(config.artifacts[0].caches, ["local"]);

    let other = "artifact_caches:\n  local: {class_name: fs, base_uri: /elsewhere}\n";
    check_err(
        &[("artifacts.yaml", shared), ("projects/q/artifacts.yaml", other)],
        &["projects/q/artifacts.yaml:2:", "cache `local` is defined differently at artifacts.yaml:4:"],
    );
}

#[test]
fn two_artifacts_with_one_name_in_one_cache() {
    let shared = "artifact_sources:\n  url: {class_name: url}\nartifact_caches:\n  local: {class_name: fs, base_uri: /cache}\ndefault_artifact_source: url\ndefault_artifact_caches: [local]\n";
    let a = "artifacts:\n  env.tgz: {id: 'http://x/one/env.tgz'}\n";
    let b = "artifacts:\n  env.tgz: {id: 'http://x/two/env.tgz'}\n";
    check_err(
        &[("artifacts.yaml", shared), ("projects/a/artifacts.yaml", a), ("projects/b/artifacts.yaml", b)],
        &[
            "projects/b/artifacts.yaml:2:12: two artifacts named `env.tgz` go to cache `local`",
            "projects/a/artifacts.yaml:2:12",
        ],
    );
    // The same artifact listed twice is one artifact.
    let config =
        parse(&[("artifacts.yaml", shared), ("projects/a/artifacts.yaml", a), ("projects/c/artifacts.yaml", a)])
            .unwrap();
    assert_eq!(config.artifacts.len(), 1);
    // In one file, a repeated name is a duplicate key.
    check_err(&[("a.yaml", "artifacts:\n  a.jar: {id: x}\n  a.jar: {id: y}\n")], &["a.yaml:3:", "duplicate"]);
}

#[test]
fn artifact_names_are_file_names() {
    let base = "artifact_sources:\n  url: {class_name: url}\nartifact_caches:\n  c: {class_name: fs, base_uri: /c}\ndefault_artifact_source: url\ndefault_artifact_caches: [c]\nartifacts:\n";
    check_err(&[("a.yaml", &format!("{base}  dir/a.jar: {{id: x}}\n"))], &["path separator"]);
    check_err(&[("a.yaml", &format!("{base}  .hidden: {{id: x}}\n"))], &["starts with `.`"]);
    check_err(&[("a.yaml", &format!("{base}  a.jar: {{id: x, sha256: abc}}\n"))], &["is not a sha256"]);
}

#[test]
fn missing_defaults_are_explained() {
    check_err(
        &[("a.yaml", "artifacts:\n  a.jar: {id: x}\n")],
        &["names no `source`, and no `default_artifact_source` is set"],
    );
}

#[test]
fn maven_paths() {
    assert_eq!(maven_path("org.example:lib:1.0").unwrap(), "org/example/lib/1.0/lib-1.0.jar");
    assert_eq!(maven_path("org.example:lib:pom:1.0").unwrap(), "org/example/lib/1.0/lib-1.0.pom");
    assert_eq!(
        maven_path("org.wikimedia.analytics.refinery.job:refinery-job:jar:shaded:0.2.1").unwrap(),
        "org/wikimedia/analytics/refinery/job/refinery-job/0.2.1/refinery-job-0.2.1-shaded.jar"
    );
    assert!(maven_path("lib:1.0").unwrap_err().contains("2 parts"));
    assert!(maven_path("a:b:c:d:e:f").is_err());
}

#[test]
fn checksum_files() {
    let sha1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
    assert_eq!(parse_checksum(&format!("{sha1}  lib-1.0.jar\n"), Algorithm::Sha1).as_deref(), Some(sha1));
    assert_eq!(parse_checksum(&sha1.to_uppercase(), Algorithm::Sha1).as_deref(), Some(sha1));
    assert_eq!(parse_checksum(sha1, Algorithm::Sha256), None);
    assert_eq!(parse_checksum("", Algorithm::Sha1), None);
}
