//! Building a release: [`Upload`] moves the objects the host lacks into its store,
//! [`Unpack`] assembles the release under `releases/.tmp-*` from the store, [`Finish`]
//! gives it its name and [`RemoveStaging`] removes what the upload staged. Their exit
//! status is their answer.

use std::fmt::Write as _;

use pad_process::shell_quote as q;

use super::{GUARD, TICKER, prelude};
use crate::plan::EnvKey;

/// Unpacks the gzipped tar on standard input (`meta/…` and `objects/<key>`) into the
/// staging directory, checks every object against its name and moves it into the store.
pub(crate) struct Upload<'a> {
    /// `AIRFLOW_HOME` on the host.
    pub(crate) home: &'a str,
    /// The run's staging directory, under `AIRFLOW_HOME`.
    pub(crate) staging: &'a str,
}

impl Upload<'_> {
    pub(crate) fn text(&self) -> String {
        let mut s = prelude(self.home);
        s.push_str(TICKER);
        let _ = writeln!(s, "ST={}", q(self.staging));
        s.push_str(
            r#"cd "$AH"
mkdir -p .pad/store
mkdir "$ST"
cd "$ST"
tar -xzmf -
if [ -d objects ]; then
  cd objects
  for k in *; do [ -e "$k" ] && printf '%s  %s\n' "${k%-*}" "$k"; done > ../objects.sha256
  sha256sum -c --quiet ../objects.sha256
  # The modes came with the tar headers; move in batches, not a process per object.
  set --
  for k in *; do
    [ -e "$k" ] || continue
    set -- "$@" "$k"
    if [ "$#" -ge 500 ]; then mv -f -t ../../store -- "$@"; set --; fi
  done
  if [ "$#" -gt 0 ]; then mv -f -t ../../store -- "$@"; fi
fi
echo pad-uploaded
"#,
        );
        s
    }
}

/// Builds the release in `tmp` (under `releases/`) from the store and the staged lists,
/// unpacks each environment beside its tarball and writes `.env`. It refuses (exit 6,
/// `pad-unsafe <why>`) to make anything through a link.
///
/// An environment whose `venv.tar.gz` is a store object already unpacked and
/// smoke-tested on this host (`<root>/.pad/envs/<key>/`, see [`RecordEnvs`]) is linked
/// to there (`venv -> <root>/.pad/envs/<key>/venv`, `pad-env-verified <project>`); when the smoke test passed
/// with the same project files too (`tested-<hash>` there), it says so
/// (`pad-env-tested <project>`): a DAG-only change then costs neither unpacking nor a
/// smoke test.
pub(crate) struct Unpack<'a> {
    /// Where the releases live: `AIRFLOW_HOME`, or a namespace's home under it.
    pub(crate) home: &'a str,
    /// `AIRFLOW_HOME` on the host, which holds the shared store and verified environments.
    pub(crate) root: &'a str,
    /// The run's staging directory, under `AIRFLOW_HOME`.
    pub(crate) staging: &'a str,
    /// The release being built, under `releases/`.
    pub(crate) tmp: &'a str,
    /// The projects whose `venv.tar.gz` is unpacked, with its keys.
    pub(crate) envs: &'a [EnvKey<'a>],
    /// For a test's fail point: stop after the files are linked.
    pub(crate) fail_midway: bool,
}

impl Unpack<'_> {
    pub(crate) fn text(&self) -> String {
        let mut s = prelude(self.home);
        s.push_str(GUARD);
        let _ = writeln!(s, "ST=\"$AH\"/{}\nT={}\nR={}", q(self.staging), q(self.tmp), q(self.root));
        // Files first, then the environments, then links: until the links loop no link
        // exists in the new release, so nothing can be written through one; and each link
        // is made only where no earlier link lies on its path. The package passed
        // `pad_bundle::verify`'s rules before; these checks make the host refuse on its own.
        s.push_str(
            r#"S="$AH/.pad/store"
cd "$AH"
mkdir -p releases
mkdir "releases/$T"
cd "releases/$T"
unsafe() { echo "pad-unsafe $1"; exit 6; }
last=
while IFS= read -r line; do
  key=${line%% *}
  path=${line#* }
  dir=${path%/*}
  if [ "$dir" != "$path" ] && [ "$dir" != "$last" ]; then mkdir -p "./$dir"; last=$dir; fi
  ln -T "$S/$key" "./$path" 2>/dev/null || cp -T "$S/$key" "./$path"
done < "$ST/meta/files"
"#,
        );
        if self.fail_midway {
            s.push_str(&crate::fault::stop_script("unpack"));
        }
        // An environment already unpacked and smoke-tested on this host from the same
        // store object is that copy, by a link (`venv -> <root>/.pad/envs/<key>/venv`,
        // which the shared store's collection keeps while a release ships the key); one
        // whose venv.tar.gz is the
        // very store object the current release unpacked (same inode) from there. Anything
        // else is unpacked afresh, by `tar` as the service user, never keeping the
        // archive's owners or modes.
        for EnvKey { project, env: key, tested } in self.envs {
            let dir = format!("projects/{project}");
            let _ = writeln!(
                s,
                "P={v}; PT={t}; C=\"$AH/current/$P\"; CT=\"$AH/current/$PT\"; E=\"$R/.pad/envs/\"{k}
if [ -e \"./$P\" ] || [ -L \"./$P\" ]; then unsafe \"$P: something is there before the environment is unpacked\"; fi
got=
if [ -f \"$E/ok\" ] && [ -d \"$E/venv\" ] && [ ! -L \"$E/venv\" ]; then
  ln -s \"$E/venv\" \"./$P\"
  echo {verified}; got=1
  if [ -f \"$E/\"{tm} ]; then echo {tested_line}; fi
fi
if [ -z \"$got\" ] && [ -d \"$C\" ] && [ -f \"$CT\" ] && [ \"$(stat -c %d:%i \"$CT\")\" = \"$(stat -c %d:%i \"./$PT\")\" ]; then
  if cp -al \"$C\" \"./$P\" 2>/dev/null; then echo {reused}; got=1; else rm -rf \"./$P\"; fi
fi
if [ -z \"$got\" ]; then
  mkdir \"./$P\"
  tar -xzf \"./$PT\" -C \"./$P\" --no-same-owner --no-same-permissions
fi",
                v = q(&format!("{dir}/venv")),
                t = q(&format!("{dir}/venv.tar.gz")),
                k = q(key),
                verified = q(&format!("pad-env-verified {project}")),
                tm = q(&format!("tested-{tested}")),
                tested_line = q(&format!("pad-env-tested {project}")),
                reused = q(&format!("pad-env-reused {project}")),
            );
        }
        s.push_str(
            r#"while IFS= read -r path && IFS= read -r target; do
  case $target in /*) unsafe "$path: a link to the absolute path $target" ;; esac
  p=$path
  while [ "${p%/*}" != "$p" ]; do
    p=${p%/*}
    if [ -L "./$p" ]; then unsafe "$path: $p is a link, and nothing is made through one"; fi
  done
  if [ -e "./$path" ] || [ -L "./$path" ]; then unsafe "$path: something is there already"; fi
  dir=${path%/*}
  if [ "$dir" != "$path" ]; then mkdir -p "./$dir"; fi
  ln -s "$target" "./$path"
done < "$ST/meta/links"
"#,
        );
        s.push_str(
            r#"mkdir .pad-release
for f in files links keys sha256sums info runtime.json MANIFEST.json; do cp "$ST/meta/$f" ".pad-release/$f"; done
(umask 077; cp "$ST/meta/env" .env)
echo pad-unpacked
"#,
        );
        s
    }
}

/// Which environments [`Unpack`] took from the host's verified copies, and which of
/// those passed their smoke test with the same project files before.
pub(crate) fn verified_envs(output: &str) -> (Vec<String>, Vec<String>) {
    let of = |marker| super::values(output, marker).map(str::to_owned).collect();
    (of("pad-env-verified"), of("pad-env-tested"))
}

/// Keeps a hard-linked copy of each environment of the release `tmp` that just passed
/// its smoke test, as `<root>/.pad/envs/<key>/venv` with the marker `ok` written last
/// and the directory renamed into place, and `tested-<hash>` for the project files it
/// passed with: [`Unpack`] reuses them for any later release (of any namespace)
/// shipping the same `venv.tar.gz`. Failing to keep one only costs the next deploy an
/// unpack and a smoke test.
pub(crate) struct RecordEnvs<'a> {
    /// Where the releases live: `AIRFLOW_HOME`, or a namespace's home under it.
    pub(crate) home: &'a str,
    /// `AIRFLOW_HOME` on the host.
    pub(crate) root: &'a str,
    /// The release, under `releases/`.
    pub(crate) tmp: &'a str,
    /// Each project that passed its smoke test, with its keys.
    pub(crate) envs: &'a [EnvKey<'a>],
}

impl RecordEnvs<'_> {
    pub(crate) fn text(&self) -> String {
        let mut s = prelude(self.home);
        let _ = writeln!(s, "R={}\nT={}\nmkdir -p \"$R/.pad/envs\"", q(self.root), q(self.tmp));
        for EnvKey { project, env: key, tested } in self.envs {
            let _ = writeln!(
                s,
                "K={k}; V=\"$AH/releases/$T/\"{v}; E=\"$R/.pad/envs/$K\"; W=\"$R/.pad/envs/.tmp-$K-$$\"
if [ ! -f \"$E/ok\" ] && [ -d \"$V\" ]; then
  rm -rf \"$W\"
  if [ -e \"$E\" ]; then rm -rf \"$E\"; fi
  if mkdir \"$W\" && cp -al \"$V\" \"$W/venv\" && echo {p} > \"$W/ok\" && mv -T \"$W\" \"$E\" 2>/dev/null; then
    echo {m}
  else
    rm -rf \"$W\"
  fi
fi
if [ -f \"$E/ok\" ]; then echo {p} > \"$E/.\"{tm}.$$ && mv -f \"$E/.\"{tm}.$$ \"$E/\"{tm}; fi",
                k = q(key),
                v = q(&format!("projects/{project}/venv")),
                p = q(project),
                m = q(&format!("pad-env-recorded {project}")),
                tm = q(&format!("tested-{tested}")),
            );
        }
        s.push_str("echo pad-envs-recorded\n");
        s
    }
}

/// Renames the finished `tmp` release to its id.
pub(crate) struct Finish<'a> {
    /// `AIRFLOW_HOME` on the host.
    pub(crate) home: &'a str,
    /// The release built, under `releases/`.
    pub(crate) tmp: &'a str,
    pub(crate) id: &'a str,
}

impl Finish<'_> {
    pub(crate) fn text(&self) -> String {
        let mut s = prelude(self.home);
        let _ = writeln!(s, "cd \"$AH\"/releases\nmv -T {} {}\necho pad-finished", q(self.tmp), q(self.id));
        s
    }
}

/// Removes the staging directory of a finished upload.
pub(crate) struct RemoveStaging<'a> {
    /// `AIRFLOW_HOME` on the host.
    pub(crate) home: &'a str,
    /// The run's staging directory, under `AIRFLOW_HOME`.
    pub(crate) staging: &'a str,
}

impl RemoveStaging<'_> {
    pub(crate) fn text(&self) -> String {
        format!("set -eu\nAH={}\ncd \"$AH\" && rm -rf {}\n", q(self.home), q(self.staging))
    }
}
