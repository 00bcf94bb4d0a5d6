//! Building a release: [`Upload`] moves the objects the host lacks into its store,
//! [`Unpack`] assembles the release under `releases/.tmp-*` from the store, [`Finish`]
//! gives it its name and [`RemoveStaging`] removes what the upload staged. Their exit
//! status is their answer.

use std::fmt::Write as _;

use pad_process::shell_quote as q;

use super::{GUARD, TICKER, prelude};

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
pub(crate) struct Unpack<'a> {
    /// `AIRFLOW_HOME` on the host.
    pub(crate) home: &'a str,
    /// The run's staging directory, under `AIRFLOW_HOME`.
    pub(crate) staging: &'a str,
    /// The release being built, under `releases/`.
    pub(crate) tmp: &'a str,
    /// The projects whose `venv.tar.gz` is unpacked.
    pub(crate) envs: &'a [&'a str],
    /// For a test's fail point: stop after the files are linked.
    pub(crate) fail_midway: bool,
}

impl Unpack<'_> {
    pub(crate) fn text(&self) -> String {
        let mut s = prelude(self.home);
        s.push_str(GUARD);
        let _ = writeln!(s, "ST=\"$AH\"/{}\nT={}", q(self.staging), q(self.tmp));
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
        // An environment whose venv.tar.gz is the very store object the current release
        // unpacked (same inode) is hard-linked from there instead of unpacked again: a
        // DAG-only change then costs no unpacking. Anything else is unpacked afresh, by
        // `tar` as the service user, never keeping the archive's owners or modes.
        for project in self.envs {
            let dir = format!("projects/{project}");
            let _ = writeln!(
                s,
                "P={v}; PT={t}; C=\"$AH/current/$P\"; CT=\"$AH/current/$PT\"
if [ -e \"./$P\" ] || [ -L \"./$P\" ]; then unsafe \"$P: something is there before the environment is unpacked\"; fi
if [ -d \"$C\" ] && [ -f \"$CT\" ] && [ \"$(stat -c %d:%i \"$CT\")\" = \"$(stat -c %d:%i \"./$PT\")\" ] \\
  && cp -al \"$C\" \"./$P\" 2>/dev/null; then
  echo {reused}
else
  rm -rf \"./$P\"
  mkdir \"./$P\"
  tar -xzf \"./$PT\" -C \"./$P\" --no-same-owner --no-same-permissions
fi",
                v = q(&format!("{dir}/venv")),
                t = q(&format!("{dir}/venv.tar.gz")),
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
