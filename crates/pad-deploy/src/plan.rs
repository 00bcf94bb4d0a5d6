//! What a package asks of every host, worked out once before any host is touched: the
//! release id, the store objects (`<sha256>-<mode>`), the file and link lists the hosts
//! assemble releases from, the `.env`, and the checksums the hosts verify.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use camino::{Utf8Path, Utf8PathBuf};
use pad_bundle::{Manifest, ProjectEntry};

use crate::DeployError;

/// Where a release keeps what the deploy knows about it.
pub(crate) const RELEASE_META: &str = ".pad-release";

/// The runtime helper's facts about a release, in [`RELEASE_META`]: namespace, data
/// root, data profile (JSON).
pub(crate) const RUNTIME_FILE: &str = "runtime.json";

/// A project's environment as the host's verified copies know it.
#[derive(Debug, Clone)]
pub(crate) struct EnvKey<'a> {
    pub(crate) project: &'a str,
    /// The store key of its `venv.tar.gz`.
    pub(crate) env: &'a str,
    /// 16 hex digits naming the project's files and package: a smoke test that passed
    /// with the same ones need not run again.
    pub(crate) tested: String,
}

/// One file of the release.
#[derive(Debug, Clone)]
pub(crate) struct PlanFile {
    pub(crate) path: Utf8PathBuf,
    /// `<sha256>-<mode>`, its name in the host's store.
    pub(crate) key: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Object {
    pub(crate) size: u64,
}

#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) package: Utf8PathBuf,
    pub(crate) manifest: Manifest,
    pub(crate) release_id: String,
    pub(crate) files: Vec<PlanFile>,
    /// Every object the release needs, by key.
    pub(crate) objects: BTreeMap<String, Object>,
    /// Projects with a `venv.tar.gz` to unpack.
    pub(crate) envs: Vec<ProjectEntry>,
    pub(crate) sums_sha256: String,
    /// The release's metadata files, uploaded with the objects: name and contents.
    pub(crate) meta: Vec<(&'static str, Vec<u8>)>,
}

/// The id of a release: the version (safe characters only) and 12 hex digits of the
/// package's inputs hash, or, when the target writes a `.env`, of the inputs hash and
/// the `.env` together, so changed values make a new release.
pub(crate) fn release_id(manifest: &Manifest, env_text: &str) -> String {
    let hash = if env_text.is_empty() {
        manifest.inputs_sha256.clone()
    } else {
        pad_stdx::sha256_hex(format!("{}\n{env_text}", manifest.inputs_sha256).as_bytes())
    };
    format!("{}-{}", pad_stdx::safe_token(&manifest.version), &hash[..12.min(hash.len())])
}

/// The `.env` of a release: `KEY=value` lines, each value quoted so that POSIX `sh`
/// (`. ./.env`), systemd's `EnvironmentFile=` and python-dotenv (which Airflow and
/// most Python tools use) all read the same string; or why a value cannot be written.
pub(crate) fn env_text(env: &BTreeMap<String, String>) -> Result<String, String> {
    let mut text = String::new();
    for (key, value) in env {
        if !pad_layout::vars::is_var_name(key) {
            return Err(format!(
                "`[env]` key `{key}` is not a variable name: use letters, digits and `_`, not starting with a digit"
            ));
        }
        let quoted = env_value(value).map_err(|why| format!("`[env]` value of `{key}` {why}"))?;
        let _ = writeln!(text, "{key}={quoted}");
    }
    Ok(text)
}

/// One `.env` value, quoted for `sh`, systemd and python-dotenv alike.
///
/// The three agree on single quotes for text without `'` and `\` (systemd and `sh`
/// take it verbatim; python-dotenv would decode `\\` and `\'`), and on double quotes
/// for text without `$` and `` ` `` once `\` and `"` are escaped (python-dotenv does not
/// unescape `\$` or `` \` ``, which `sh` needs). python-dotenv expands `${NAME}` in
/// either quoting and has no escape for it, so that cannot be written at all, nor can
/// text holding both kinds of character, nor control characters other than tab.
fn env_value(value: &str) -> Result<String, &'static str> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err("holds a line break or another control character, which a .env file cannot carry");
    }
    if value.contains("${") {
        return Err(
            "holds `${`, which python-dotenv expands as a variable whatever the quoting, with no escape for it; keep `${` out of the value",
        );
    }
    if !value.contains(['\'', '\\']) {
        return Ok(format!("'{value}'"));
    }
    if !value.contains(['$', '`']) {
        return Ok(format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")));
    }
    Err(
        "holds `'` or `\\` together with `$` or `` ` ``, which no quoting makes sh, systemd and python-dotenv read alike; drop one of the two kinds",
    )
}

fn is_import_name(name: &str) -> bool {
    name.split('.').all(|part| {
        let mut chars = part.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

impl Plan {
    pub(crate) fn new(
        package: &Utf8Path,
        manifest: Manifest,
        env_text: &str,
        runtime_text: &str,
        info: &str,
    ) -> Result<Plan, DeployError> {
        let bad = |reason: String| DeployError::BadPackage { path: package.to_owned(), reason };
        // The release id is made of it, and `pad_bundle::verify` checked it already.
        if !pad_stdx::is_sha256_hex(&manifest.inputs_sha256) {
            return Err(bad("its manifest's inputs_sha256 is not 64 hex digits".to_owned()));
        }
        // What the release says about itself to the runtime helper (namespace, data root,
        // profile) is part of it: a release is never shared by two namespaces or profiles.
        let release_id = release_id(&manifest, &format!("{env_text}{runtime_text}"));

        let mut files = Vec::with_capacity(manifest.files.len());
        let mut objects = BTreeMap::new();
        let mut sums = String::new();
        let mut list = String::new();
        for file in &manifest.files {
            check_path(&file.path)
                .map_err(|reason| bad(format!("file `{}`: {reason}", file.path.as_str().escape_debug())))?;
            if file.sha256.len() != 64 || !file.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(format!("file `{}` has no valid sha256 in the manifest", file.path)));
            }
            let mode = if file.mode & 0o111 != 0 { 755 } else { 644 };
            let key = format!("{}-{mode}", file.sha256.to_ascii_lowercase());
            objects.entry(key.clone()).or_insert_with(|| Object { size: file.size });
            let _ = writeln!(sums, "{}  ./{}", &key[..64], file.path);
            let _ = writeln!(list, "{key} {}", file.path);
            files.push(PlanFile { path: file.path.clone(), key });
        }
        let _ = writeln!(sums, "{}  ./.env", pad_stdx::sha256_hex(env_text.as_bytes()));
        let _ = writeln!(sums, "{}  ./{RELEASE_META}/{RUNTIME_FILE}", pad_stdx::sha256_hex(runtime_text.as_bytes()));

        let mut links = String::new();
        for link in &manifest.links {
            check_path(&link.path)
                .map_err(|reason| bad(format!("link `{}`: {reason}", link.path.as_str().escape_debug())))?;
            if link.target.as_str().contains(['\n', '\0']) || link.target.as_str().is_empty() {
                return Err(bad(format!("link `{}` has a target a host cannot hold", link.path)));
            }
            let _ = write!(links, "{}\n{}\n", link.path, link.target);
        }

        let paths: BTreeSet<&Utf8Path> = files.iter().map(|f| f.path.as_path()).collect();
        let mut envs = Vec::new();
        for project in &manifest.projects {
            // The layout's own rule: the name becomes `$AIRFLOW_HOME/<name>`.
            pad_layout::check_project_name(&project.name).map_err(bad)?;
            if let Some(package) = &project.package
                && !is_import_name(package)
            {
                return Err(bad(format!("project `{}`: `{package}` is not a Python import name", project.name)));
            }
            let dir = Utf8PathBuf::from(format!("projects/{}", project.name));
            let venv = dir.join("venv");
            let link_paths = manifest.links.iter().map(|l| l.path.as_path());
            if paths.iter().copied().chain(link_paths).any(|p| p.starts_with(&venv)) {
                return Err(bad(format!(
                    "`{venv}/` is where the environment is unpacked, and the package has files or links there"
                )));
            }
            if paths.contains(pad_bundle::env_archive_path(&project.name).as_path()) {
                envs.push(project.clone());
            }
        }
        let link_paths = manifest.links.iter().map(|l| l.path.as_path());
        if paths.iter().copied().chain(link_paths).any(|p| p.starts_with(RELEASE_META) || p.as_str() == ".env") {
            return Err(bad(format!(
                "`{RELEASE_META}/` and `.env` are written by the deploy; the package may not hold them"
            )));
        }

        let keys: String = objects.keys().map(|k| format!("{k}\n")).collect();
        let sums_sha256 = pad_stdx::sha256_hex(sums.as_bytes());
        let meta = vec![
            ("files", list.into_bytes()),
            ("links", links.into_bytes()),
            ("keys", keys.into_bytes()),
            ("env", env_text.as_bytes().to_vec()),
            ("sha256sums", sums.into_bytes()),
            ("info", info.as_bytes().to_vec()),
            (RUNTIME_FILE, runtime_text.as_bytes().to_vec()),
            ("MANIFEST.json", manifest.to_json_bytes()),
        ];
        Ok(Plan { package: package.to_owned(), manifest, release_id, files, objects, envs, sums_sha256, meta })
    }
}

impl Plan {
    /// Each project with an environment: its name, the store key of its `venv.tar.gz`,
    /// and a hash of every file of the project (the environment included), which names
    /// what its smoke test (`import <package>`) depended on.
    pub(crate) fn env_keys(&self) -> Vec<EnvKey<'_>> {
        self.envs
            .iter()
            .filter_map(|p| {
                let archive = pad_bundle::env_archive_path(&p.name);
                let file = self.files.iter().find(|f| f.path == archive)?;
                let dir = format!("projects/{}/", p.name);
                let listing: String = self
                    .files
                    .iter()
                    .filter(|f| f.path.as_str().starts_with(&dir))
                    .map(|f| format!("{} {}\n", f.key, f.path))
                    .collect();
                let tested =
                    pad_stdx::sha256_hex(format!("{}\n{listing}", p.package.as_deref().unwrap_or("")).as_bytes());
                Some(EnvKey { project: p.name.as_str(), env: file.key.as_str(), tested: tested[..16].to_owned() })
            })
            .collect()
    }
}

/// Paths a host's `sh` loops and `sha256sum` read line by line must hold no line break
/// or backslash, and no part may be empty, `.` or `..`.
fn check_path(path: &Utf8Path) -> Result<(), String> {
    let text = path.as_str();
    if text.contains(['\n', '\r', '\\', '\0']) {
        return Err("the path holds a line break or backslash".into());
    }
    if text.is_empty()
        || text.starts_with('/')
        || text.split('/').any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err("the path is not a plain relative path".into());
    }
    Ok(())
}
