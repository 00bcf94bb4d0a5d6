//! Checking a release on the host: [`Verify`] its files and links against the
//! manifest, [`Smoke`] each project's interpreter and package; [`ReadManifest`] reads a
//! release's manifest back for a rollback, and [`Discard`] removes what proved wrong.

use std::fmt::Write as _;

use pad_process::shell_quote as q;

use super::{GUARD, TICKER, has_line, prelude, values};

/// Checks a release (a directory under `releases/`, to be `releases/<id>`) against its
/// checksums and links, then prints the hash of the checksum list (`pad-sums <sha256>`).
///
/// A full check hashes every file and records a stamp of the files' sizes, modification
/// times and inodes in `.pad/verified/<id>`. With `quick`, a release whose stamp still
/// matches is taken as checked without hashing (`pad-verified-quick`): an unchanged
/// redeploy then costs a `stat` of each file. Any difference, or a host without GNU
/// `stat -c` or `xargs -0`, falls back to the full check. It exits 5 when a file or
/// link differs (`<path>: FAILED…`).
pub(crate) struct Verify<'a> {
    /// `AIRFLOW_HOME` on the host.
    pub(crate) home: &'a str,
    /// The release's directory under `releases/`.
    pub(crate) release_dir: &'a str,
    pub(crate) id: &'a str,
    /// The projects whose environment must be unpacked.
    pub(crate) envs: &'a [&'a str],
    pub(crate) quick: bool,
}

/// What [`Verify`] found.
#[derive(Debug)]
pub(crate) struct VerifyResult {
    /// The SHA-256 of the release's checksum list; empty when the script printed none.
    pub(crate) sums: String,
    /// The paths that differ, relative to the release.
    pub(crate) failed: Vec<String>,
    /// The stamp of the last full check stood for hashing.
    pub(crate) quick: bool,
}

impl Verify<'_> {
    pub(crate) fn text(&self) -> String {
        let mut s = prelude(self.home);
        s.push_str(GUARD);
        let _ = writeln!(s, "cd \"$AH\"/releases/{}\nSTAMP=\"$AH\"/.pad/verified/{}", q(self.release_dir), q(self.id));
        s.push_str(
            r#"stamp() {
  sed -e 's/^[0-9a-f]\{64\}  //' .pad-release/sha256sums | tr '\n' '\0' \
    | xargs -0 stat -c '%s %.9Y %i %n' -- 2>/dev/null | sha256sum | cut -c1-64
}
bad=0
while IFS= read -r path && IFS= read -r target; do
  if [ "$(readlink "./$path" 2>/dev/null)" != "$target" ]; then echo "./$path: FAILED link"; bad=1; fi
done < .pad-release/links
"#,
        );
        for project in self.envs {
            let venv = format!("projects/{project}/venv");
            let _ = writeln!(
                s,
                "[ -d {v} ] || {{ echo {m}; bad=1; }}",
                v = q(&venv),
                m = q(&format!("./{venv}: FAILED missing"))
            );
        }
        if self.quick {
            s.push_str(
                r#"if [ "$bad" = 0 ] && [ -f "$STAMP" ] && [ "$(stamp)" = "$(cat "$STAMP")" ]; then
  set -- $(sha256sum .pad-release/sha256sums)
  echo "pad-sums $1"
  echo pad-verified-quick
  exit 0
fi
"#,
            );
        }
        s.push_str(
            r#"sha256sum -c --quiet .pad-release/sha256sums || bad=1
set -- $(sha256sum .pad-release/sha256sums)
echo "pad-sums $1"
[ "$bad" = 0 ] || exit 5
mkdir -p "$AH/.pad/verified"
stamp > "$STAMP.tmp" && mv -f "$STAMP.tmp" "$STAMP"
echo pad-verified
"#,
        );
        s
    }

    pub(crate) fn parse(output: &str) -> VerifyResult {
        VerifyResult {
            sums: values(output, "pad-sums").next().unwrap_or("").to_owned(),
            failed: output
                .lines()
                .filter(|l| l.contains(": FAILED"))
                .map(|l| l.split(": FAILED").next().unwrap_or(l).trim_start_matches("./").to_owned())
                .collect(),
            quick: has_line(output, "pad-verified-quick"),
        }
    }
}

/// Runs a project's shipped interpreter as the service user: its version
/// (`pad-python X.Y.Z`), then `import <package>`.
pub(crate) struct Smoke<'a> {
    /// `AIRFLOW_HOME` on the host.
    pub(crate) home: &'a str,
    /// The release's directory under `releases/`.
    pub(crate) release_dir: &'a str,
    pub(crate) project: &'a str,
    /// The package to import, if the project names one.
    pub(crate) package: Option<&'a str>,
}

/// What [`Smoke`] found.
#[derive(Debug)]
pub(crate) struct SmokeResult {
    /// The interpreter is missing or did not run (exit 3).
    pub(crate) no_interpreter: bool,
    /// The version the interpreter gave, `X.Y.Z`.
    pub(crate) python: Option<String>,
    /// `import <package>` failed (exit 4).
    pub(crate) import_failed: bool,
}

impl Smoke<'_> {
    pub(crate) fn text(&self) -> String {
        let mut s = prelude(self.home);
        s.push_str(GUARD);
        let _ = writeln!(s, "cd \"$AH\"/releases/{}/projects/{}", q(self.release_dir), q(self.project));
        s.push_str(
            r#"export PYTHONDONTWRITEBYTECODE=1 PYTHONNOUSERSITE=1
if [ ! -x venv/bin/python ]; then
  echo "pad-no-interpreter venv/bin/python -> $(readlink venv/bin/python 2>/dev/null || echo nothing)"
  exit 3
fi
venv/bin/python -c 'import sys; print("pad-python %d.%d.%d" % sys.version_info[:3])' || exit 3
"#,
        );
        if let Some(package) = self.package {
            let _ = writeln!(s, "venv/bin/python -c {} || exit 4", q(&format!("import {package}")));
        }
        s.push_str("echo pad-smoke-ok\n");
        s
    }

    pub(crate) fn parse(status: i32, output: &str) -> SmokeResult {
        SmokeResult {
            no_interpreter: status == 3,
            python: values(output, "pad-python").next().map(str::to_owned),
            import_failed: status == 4,
        }
    }
}

/// `3.11` of `3.11.2`.
pub(crate) fn minor(version: &str) -> &str {
    let mut dots = version.match_indices('.');
    let end = dots.nth(1).map_or(version.len(), |(i, _)| i);
    &version[..end]
}

/// Prints a release's manifest.
pub(crate) struct ReadManifest<'a> {
    /// `AIRFLOW_HOME` on the host.
    pub(crate) home: &'a str,
    pub(crate) id: &'a str,
}

impl ReadManifest<'_> {
    pub(crate) fn text(&self) -> String {
        let mut s = prelude(self.home);
        let _ = writeln!(s, "cat \"$AH\"/releases/{}/.pad-release/MANIFEST.json", q(self.id));
        s
    }

    /// The manifest's JSON: the output from its first `{`.
    pub(crate) fn parse(output: &str) -> &str {
        output.trim_start_matches(|c: char| c != '{')
    }
}

/// Removes store objects whose content proved wrong, so the next upload replaces them,
/// and moves a damaged release out of the way.
pub(crate) struct Discard<'a> {
    /// `AIRFLOW_HOME` on the host.
    pub(crate) home: &'a str,
    pub(crate) keys: &'a [&'a str],
    /// The damaged release's id, and a name part no other run uses.
    pub(crate) release: Option<(&'a str, &'a str)>,
}

impl Discard<'_> {
    pub(crate) fn text(&self) -> String {
        let mut s = prelude(self.home);
        s.push_str(TICKER);
        s.push_str("cd \"$AH\"\n");
        for key in self.keys {
            let _ = writeln!(s, "rm -f .pad/store/{}", q(key));
        }
        if let Some((id, nonce)) = self.release {
            let _ = writeln!(
                s,
                "if [ -d releases/{i} ]; then mv -T releases/{i} releases/{g}; fi",
                i = q(id),
                g = q(&format!(".tmp-damaged-{id}-{nonce}"))
            );
        }
        s.push_str("echo pad-discarded\n");
        s
    }
}
