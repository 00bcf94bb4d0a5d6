//! The POSIX `sh` scripts a deploy runs on a host, as the service user. They assume only
//! `sh`, `tar` (with `gzip`) and coreutils; every value from outside is shell-quoted, and
//! file lists travel as data (standard input or uploaded files), never as script text.
//!
//! Scripts answer with lines that start with `pad-` (or a one-letter tag in `inspect`),
//! so what a failing command prints cannot be mistaken for an answer.

use std::fmt::Write as _;

use pad_process::shell_quote as q;

/// The line a long script prints every few seconds so that a silent host can be told
/// from a lost one; readers drop it.
pub(crate) const TICK: &str = "pad-tick";

/// The start of every script: strict mode, C locale, `AIRFLOW_HOME` in `$AH`.
fn prelude(airflow_home: &str) -> String {
    format!("set -eu\nexport LC_ALL=C\numask 022\nAH={}\n", q(airflow_home))
}

/// Prints [`TICK`] every 2 s until the script ends, well within the shortest I/O timeout
/// a deploy accepts (5 s), so silence means a lost host, not a slow step. `sleep` gets
/// no copy of stdout, so the command's output ends when the script does.
const TICKER: &str = "( while sleep 2 </dev/null >/dev/null 2>&1; do echo pad-tick; done ) &
PAD_TICKER=$!
trap 'kill $PAD_TICKER 2>/dev/null' EXIT
";

/// [`TICKER`], and a watcher that stops the script (its whole process group) when its
/// standard input ends: the client keeps it open, so it ends when the client dies or its
/// connection drops, and a script of a killed deploy does not go on writing while the
/// next deploy cleans up. (An asynchronous list reads /dev/null, hence fd 3.)
const GUARD: &str = "exec 3<&0
( cat <&3 >/dev/null 2>&1; kill -TERM 0 2>/dev/null ) >/dev/null 2>&1 &
PAD_WATCH=$!
exec 3<&-
( while sleep 2 </dev/null >/dev/null 2>&1; do echo pad-tick; done ) &
PAD_TICKER=$!
trap 'kill $PAD_TICKER $PAD_WATCH 2>/dev/null' EXIT
";

/// Checks that `sudo -n -u <service user>` works, before anything is written.
pub(crate) fn preflight() -> String {
    "echo pad-sudo-ok; id -un\n".to_owned()
}

/// Takes the lock and holds it while standard input stays open; each line read renews it.
pub(crate) fn lock(airflow_home: &str, owner: &str, stale_secs: u64) -> String {
    let mut s = format!("set -u\nexport LC_ALL=C\nAH={}\nOWNER={}\nSTALE={stale_secs}\n", q(airflow_home), q(owner));
    s.push_str(
        r#"for m in .git Cargo.toml; do
  if [ -e "$AH/$m" ]; then echo "pad-not-airflow-home $m"; exit 2; fi
done
if ! mkdir -p "$AH/.pad" 2>/dev/null; then
  echo "pad-lock-error cannot create $AH/.pad as $(id -un)"; exit 2
fi
L="$AH/.pad/lock"
field() { v=; [ -f "$L/info" ] || return 0; while IFS='=' read -r k x; do [ "$k" = "$1" ] && v=$x; done < "$L/info"; return 0; }
describe() { field owner; o=$v; field pid; p=$v; field since; t=$v; echo "owner=$o pid=$p since=$t"; }
take() {
  mkdir "$L" 2>/dev/null || return 1
  printf 'owner=%s\npid=%s\nsince=%s\n' "$OWNER" "$$" "$(date +%s)" > "$L/info.tmp" && mv -f "$L/info.tmp" "$L/info"
  return 0
}
mine() { field pid; [ "$v" = "$$" ]; }
tries=0
until take; do
  tries=$((tries + 1))
  if [ "$tries" -gt 3 ]; then echo "pad-lock-held $(describe)"; exit 3; fi
  [ -d "$L" ] || continue
  now=$(date +%s)
  field pid; pid=$v
  if [ -f "$L/info" ]; then m=$(stat -c %Y "$L/info" 2>/dev/null || echo "$now"); else m=$(stat -c %Y "$L" 2>/dev/null || echo "$now"); fi
  age=$((now - m))
  stale=
  if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
    stale="its process $pid is gone"
  elif [ "$age" -gt "$STALE" ]; then
    stale="no sign of life for ${age}s"
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; sleep 1; fi
  elif [ -z "$pid" ] && [ "$age" -gt 30 ]; then
    stale="it records no owner"
  fi
  if [ -z "$stale" ]; then echo "pad-lock-held $(describe)"; exit 3; fi
  echo "pad-lock-stale $(describe) ($stale)"
  rm -rf "$L"
done
trap 'mine && rm -rf "$L"' EXIT
trap 'exit 1' HUP INT TERM PIPE
echo "pad-lock-taken $(describe)"
while IFS= read -r line; do touch "$L/info" 2>/dev/null || true; done
"#,
    );
    s
}

/// Removes what interrupted runs left, then lists the store (`S key`), the releases
/// (`R id`), `current` (`C target`) and the history (`H time id`).
pub(crate) fn inspect(airflow_home: &str) -> String {
    let mut s = prelude(airflow_home);
    s.push_str(TICKER);
    s.push_str(
        r#"cd "$AH"
mkdir -p .pad/store releases
for d in releases/.tmp-* .pad/staging-* .pad/*.tmp .pad/verified/*.tmp current.tmp; do
  [ -e "$d" ] || [ -L "$d" ] || continue
  chmod -R u+w "$d" 2>/dev/null || true
  # A script of a killed run may take a moment to stop writing there.
  rm -rf "$d" 2>/dev/null || { sleep 2; rm -rf "$d"; }
  echo "pad-cleaned $d"
done
for f in .pad/store/*; do [ -e "$f" ] && echo "S ${f##*/}"; done
for r in releases/*; do [ -d "$r" ] && echo "R ${r##*/}"; done
if [ -L current ]; then echo "C $(readlink current)"; fi
if [ -f .pad/history ]; then while IFS= read -r l; do echo "H $l"; done < .pad/history; fi
echo pad-inspected
"#,
    );
    s
}

/// Unpacks the gzipped tar on standard input (`meta/…` and `objects/<key>`) into the
/// staging directory, checks every object against its name and moves it into the store.
pub(crate) fn upload(airflow_home: &str, staging: &str) -> String {
    let mut s = prelude(airflow_home);
    s.push_str(TICKER);
    let _ = writeln!(s, "ST={}", q(staging));
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

/// Builds the release in `tmp` (under `releases/`) from the store and the staged lists,
/// unpacks each environment beside its tarball and writes `.env`.
pub(crate) fn unpack(airflow_home: &str, staging: &str, tmp: &str, envs: &[&str], fail_midway: bool) -> String {
    let mut s = prelude(airflow_home);
    s.push_str(GUARD);
    let _ = writeln!(s, "ST=\"$AH\"/{}\nT={}", q(staging), q(tmp));
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
    if fail_midway {
        s.push_str(&crate::fault::stop_script("unpack"));
    }
    // An environment whose venv.tar.gz is the very store object the current release
    // unpacked (same inode) is hard-linked from there instead of unpacked again: a
    // DAG-only change then costs no unpacking. Anything else is unpacked afresh, by
    // `tar` as the service user, never keeping the archive's owners or modes.
    for project in envs {
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
for f in files links keys sha256sums info MANIFEST.json; do cp "$ST/meta/$f" ".pad-release/$f"; done
(umask 077; cp "$ST/meta/env" .env)
echo pad-unpacked
"#,
    );
    s
}

/// Checks a release (a directory under `releases/`, to be `releases/<id>`) against its
/// checksums and links, then prints the hash of the checksum list (`pad-sums <sha256>`).
///
/// A full check hashes every file and records a stamp of the files' sizes, modification
/// times and inodes in `.pad/verified/<id>`. With `quick`, a release whose stamp still
/// matches is taken as checked without hashing (`pad-verified-quick`): an unchanged
/// redeploy then costs a `stat` of each file. Any difference, or a host without GNU
/// `stat -c` or `xargs -0`, falls back to the full check.
pub(crate) fn verify(airflow_home: &str, release_dir: &str, id: &str, envs: &[&str], quick: bool) -> String {
    let mut s = prelude(airflow_home);
    s.push_str(GUARD);
    let _ = writeln!(s, "cd \"$AH\"/releases/{}\nSTAMP=\"$AH\"/.pad/verified/{}", q(release_dir), q(id));
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
    for project in envs {
        let venv = format!("projects/{project}/venv");
        let _ = writeln!(
            s,
            "[ -d {v} ] || {{ echo {m}; bad=1; }}",
            v = q(&venv),
            m = q(&format!("./{venv}: FAILED missing"))
        );
    }
    if quick {
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

/// Runs a project's shipped interpreter as the service user: its version
/// (`pad-python X.Y.Z`), then `import <package>`.
pub(crate) fn smoke(airflow_home: &str, release_dir: &str, project: &str, package: Option<&str>) -> String {
    let mut s = prelude(airflow_home);
    s.push_str(GUARD);
    let _ = writeln!(s, "cd \"$AH\"/releases/{}/projects/{}", q(release_dir), q(project));
    s.push_str(
        r#"export PYTHONDONTWRITEBYTECODE=1 PYTHONNOUSERSITE=1
if [ ! -x venv/bin/python ]; then
  echo "pad-no-interpreter venv/bin/python -> $(readlink venv/bin/python 2>/dev/null || echo nothing)"
  exit 3
fi
venv/bin/python -c 'import sys; print("pad-python %d.%d.%d" % sys.version_info[:3])' || exit 3
"#,
    );
    if let Some(package) = package {
        let _ = writeln!(s, "venv/bin/python -c {} || exit 4", q(&format!("import {package}")));
    }
    s.push_str("echo pad-smoke-ok\n");
    s
}

/// Renames the finished `tmp` release to its id.
pub(crate) fn finish(airflow_home: &str, tmp: &str, id: &str) -> String {
    let mut s = prelude(airflow_home);
    let _ = writeln!(s, "cd \"$AH\"/releases\nmv -T {} {}\necho pad-finished", q(tmp), q(id));
    s
}

/// Switches `current` to `releases/<id>`, records it in the history, and makes the
/// `dags` and project links, moving aside whatever else stands at their names.
pub(crate) fn switch(airflow_home: &str, id: &str, stamp: &str, projects: &[&str], fail_midway: bool) -> String {
    let mut s = prelude(airflow_home);
    let _ = writeln!(s, "ID={}\nSTAMP={}", q(id), q(stamp));
    s.push_str(
        r#"cd "$AH"
[ -d "releases/$ID" ] || { echo "pad-no-release $ID"; exit 3; }
{ if [ -f .pad/history ]; then tail -n 99 .pad/history; fi; printf '%s %s\n' "$STAMP" "$ID"; } > .pad/history.tmp
rm -f current.tmp
ln -s "releases/$ID" current.tmp
mv -T current.tmp current
mv -f .pad/history.tmp .pad/history
"#,
    );
    if fail_midway {
        s.push_str(&crate::fault::stop_script("switch"));
    }
    s.push_str(
        r#"link() {
  if [ -L "$1" ] && [ "$(readlink "$1")" = "$2" ]; then return 0; fi
  if [ -e "$1" ] || [ -L "$1" ]; then
    aside="$1.pre-pad-$STAMP"
    mv -T "$1" "$aside"
    echo "pad-moved-aside $1 -> $aside"
  fi
  rm -f "$1.tmp"
  ln -s "$2" "$1.tmp"
  mv -T "$1.tmp" "$1"
}
link dags current/dags
"#,
    );
    for project in projects {
        let _ = writeln!(s, "link {} {}", q(project), q(&format!("current/projects/{project}")));
    }
    s.push_str(
        r#"for l in *; do
  [ -L "$l" ] || continue
  case $(readlink "$l") in current/projects/*) [ -e "$l" ] || rm -f "$l" ;; esac
done
echo pad-switched
"#,
    );
    s
}

/// Undoes a first deploy's switch: removes `current` and the links, and moves back what
/// was moved aside (`asides`: name and where it went).
pub(crate) fn unswitch(airflow_home: &str, projects: &[&str], asides: &[(String, String)]) -> String {
    let mut s = prelude(airflow_home);
    s.push_str("cd \"$AH\"\nrm -f current\n");
    for name in std::iter::once("dags").chain(projects.iter().copied()) {
        let _ = writeln!(s, "if [ -L {n} ]; then rm -f {n}; fi", n = q(name));
    }
    for (name, aside) in asides {
        let _ = writeln!(s, "if [ ! -e {n} ] && [ -e {a} ]; then mv -T {a} {n}; fi", n = q(name), a = q(aside));
    }
    s.push_str("echo pad-unswitched\n");
    s
}

/// Removes the releases `ids` (renamed to a temporary name first, so a half-removed one
/// is never seen under its id), then the store objects no release lists.
pub(crate) fn prune(airflow_home: &str, ids: &[&str], nonce: &str) -> String {
    let mut s = prelude(airflow_home);
    s.push_str(GUARD);
    s.push_str("cd \"$AH\"/releases\n");
    for id in ids {
        let gone = format!(".tmp-prune-{id}-{nonce}");
        let _ = writeln!(
            s,
            "if [ -d {i} ]; then mv -T {i} {g}; chmod -R u+w {g} 2>/dev/null || true; rm -rf {g}; echo {m}; fi; rm -f ../.pad/verified/{i}",
            i = q(id),
            g = q(&gone),
            m = q(&format!("pad-pruned {id}"))
        );
    }
    s.push_str(DROP_UNUSED_OBJECTS);
    s
}

/// Removes the store objects no release under `releases/` lists; prints
/// `pad-pruned-objects <count>`.
const DROP_UNUSED_OBJECTS: &str = r#"cd "$AH"
: > .pad/keys-want.tmp
for r in releases/*; do
  if [ -f "$r/.pad-release/keys" ]; then cat "$r/.pad-release/keys" >> .pad/keys-want.tmp; fi
done
sort -u .pad/keys-want.tmp -o .pad/keys-want.tmp
ls .pad/store | sort > .pad/keys-have.tmp
n=0
comm -23 .pad/keys-have.tmp .pad/keys-want.tmp > .pad/keys-drop.tmp
while IFS= read -r k; do rm -f ".pad/store/$k"; n=$((n + 1)); done < .pad/keys-drop.tmp
rm -f .pad/keys-want.tmp .pad/keys-have.tmp .pad/keys-drop.tmp
echo "pad-pruned-objects $n"
"#;

/// Removes what a failed run wrote, while it still holds the lock: its staging
/// directory and its unfinished release (`pad-cleaned <path>` for each); with
/// `drop_unused`, also the store objects no release lists, which a run that filled the
/// disk may have added.
pub(crate) fn clean_up(airflow_home: &str, staging: &str, tmp: &str, drop_unused: bool) -> String {
    let mut s = prelude(airflow_home);
    s.push_str(TICKER);
    let _ = writeln!(s, "cd \"$AH\"\nset -- {} releases/{}", q(staging), q(tmp));
    s.push_str(
        r#"for d in "$@"; do
  [ -e "$d" ] || [ -L "$d" ] || continue
  chmod -R u+w "$d" 2>/dev/null || true
  rm -rf "$d"
  echo "pad-cleaned $d"
done
"#,
    );
    if drop_unused {
        s.push_str(DROP_UNUSED_OBJECTS);
    }
    s.push_str("echo pad-clean\n");
    s
}

/// Removes store objects whose content proved wrong, so the next upload replaces them,
/// and moves a damaged release out of the way.
pub(crate) fn discard(airflow_home: &str, keys: &[&str], release: Option<(&str, &str)>) -> String {
    let mut s = prelude(airflow_home);
    s.push_str(TICKER);
    s.push_str("cd \"$AH\"\n");
    for key in keys {
        let _ = writeln!(s, "rm -f .pad/store/{}", q(key));
    }
    if let Some((id, nonce)) = release {
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

/// Lists releases without taking the lock: `C`, `H` and `R` lines as in [`inspect`],
/// and `I id key=value` from each release's info.
pub(crate) fn list(airflow_home: &str) -> String {
    let mut s = prelude(airflow_home);
    s.push_str(
        r#"if ! cd "$AH" 2>/dev/null; then echo pad-no-home; exit 0; fi
if [ -L current ]; then echo "C $(readlink current)"; fi
if [ -f .pad/history ]; then while IFS= read -r l; do echo "H $l"; done < .pad/history; fi
for r in releases/*; do
  [ -d "$r" ] || continue
  id=${r##*/}
  echo "R $id"
  if [ -f "$r/.pad-release/info" ]; then while IFS= read -r l; do echo "I $id $l"; done < "$r/.pad-release/info"; fi
done
echo pad-listed
"#,
    );
    s
}

/// `pad-df <filesystem> <blocks> <used> <available KB> <use%> <mount>` for `AIRFLOW_HOME`.
pub(crate) fn free_space(airflow_home: &str) -> String {
    let mut s = prelude(airflow_home);
    s.push_str("df -Pk \"$AH\" | tail -n 1 | { read -r line; echo \"pad-df $line\"; }\n");
    s
}

/// Prints a release's manifest.
pub(crate) fn read_manifest(airflow_home: &str, id: &str) -> String {
    let mut s = prelude(airflow_home);
    let _ = writeln!(s, "cat \"$AH\"/releases/{}/.pad-release/MANIFEST.json", q(id));
    s
}
