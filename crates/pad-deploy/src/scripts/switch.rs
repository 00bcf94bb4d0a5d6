//! Step 8 on the host: [`Switch`] makes a release current and links `dags` and the
//! projects to it, moving aside whatever else stands at their names; [`Unswitch`]
//! undoes a first deploy's switch.
//!
//! The `dags` folder Airflow reads, `$AIRFLOW_HOME/dags`, has two shapes. With no
//! namespace it is the link `dags -> current/dags` (the plain deploy's DAGs). Once a
//! namespace is deployed it becomes a directory the deploy owns (marked by
//! `.pad-dags`): `dags/prod -> ../current/dags` for the plain deploy and
//! `dags/<NS> -> ../namespaces/<NS>/current/dags` for each namespace, beside a copy of
//! the runtime helper `pad_runtime.py` (so `import pad_runtime` works from every DAG
//! file) and an `.airflowignore` that keeps Airflow from parsing the helper. Each entry
//! is a link to a `current`, which a rename switches, so Airflow sees every namespace's
//! current DAGs and never an old release's.

use std::fmt::Write as _;

use pad_process::shell_quote as q;

use super::{prelude, values};

/// Switches `current` to `releases/<id>`, records it in the history, and makes the
/// `dags` and project links, moving aside whatever else stands at their names.
pub(crate) struct Switch<'a> {
    /// Where the releases live: `AIRFLOW_HOME`, or a namespace's home under it.
    pub(crate) home: &'a str,
    /// `AIRFLOW_HOME` on the host, which holds the `dags` folder.
    pub(crate) root: &'a str,
    /// The namespace, `None` for the plain deploy.
    pub(crate) namespace: Option<&'a str>,
    pub(crate) id: &'a str,
    /// The time stamp of the history line and of moved-aside names.
    pub(crate) stamp: &'a str,
    pub(crate) projects: &'a [&'a str],
    /// For a test's fail point: stop after `current` switched, before the links.
    pub(crate) fail_midway: bool,
}

/// What [`Switch`] did besides switching.
#[derive(Debug)]
pub(crate) struct SwitchResult {
    /// What stood where a link goes, moved aside: `<name> -> <where it went>`.
    pub(crate) moved_aside: Vec<String>,
}

impl SwitchResult {
    /// Each moved-aside name and where it went.
    pub(crate) fn asides(&self) -> Vec<(String, String)> {
        self.moved_aside
            .iter()
            .filter_map(|line| line.split_once(" -> "))
            .map(|(name, aside)| (name.to_owned(), aside.to_owned()))
            .collect()
    }
}

impl Switch<'_> {
    pub(crate) fn text(&self) -> String {
        let mut s = prelude(self.home);
        let _ = writeln!(s, "ID={}\nSTAMP={}", q(self.id), q(self.stamp));
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
        if self.fail_midway {
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
"#,
        );
        for project in self.projects {
            let _ = writeln!(s, "link {} {}", q(project), q(&format!("current/projects/{project}")));
        }
        s.push_str(
            r#"for l in *; do
  [ -L "$l" ] || continue
  case $(readlink "$l") in current/projects/*) [ -e "$l" ] || rm -f "$l" ;; esac
done
"#,
        );
        let _ = writeln!(s, "R={}", q(self.root));
        s.push_str(DAGS_DIR);
        match self.namespace {
            None => s.push_str("plain_dags\n"),
            Some(ns) => {
                let _ =
                    writeln!(s, "make_dags_dir\nentry {} {}", q(ns), q(&format!("../namespaces/{ns}/current/dags")));
            }
        }
        s.push_str("echo pad-switched\n");
        s
    }

    pub(crate) fn parse(output: &str) -> SwitchResult {
        SwitchResult { moved_aside: values(output, "pad-moved-aside").map(str::to_owned).collect() }
    }
}

/// Shell functions over `$R/dags` (`$R` is `AIRFLOW_HOME`, `$AH` the release home, the
/// current directory `$AH`): `is_dags_dir` (is it the namespaced directory?),
/// `make_dags_dir` (make it so, keeping the plain deploy's DAGs visible as `prod`) and
/// `entry NAME TARGET` (the link `dags/NAME`, replaced by a rename, and the helper copy
/// refreshed from the release just switched to).
const DAGS_DIR: &str = r#"is_dags_dir() { [ -d "$R/dags" ] && [ ! -L "$R/dags" ] && [ -f "$R/dags/.pad-dags" ]; }
# Deploys of several namespaces switch at once: what `dags` is changes only under a lock.
dags_lock() {
  L="$R/.pad/dags.lock"
  n=0
  while ! mkdir "$L" 2>/dev/null; do
    n=$((n + 1))
    p=$(cat "$L/pid" 2>/dev/null || true)
    if { [ -n "$p" ] && ! kill -0 "$p" 2>/dev/null; } || [ "$n" -gt 300 ]; then rm -rf "$L"; continue; fi
    sleep 0.1
  done
  echo $$ > "$L/pid"
}
dags_unlock() { rm -rf "$R/.pad/dags.lock"; }
plain_dags() {
  dags_lock
  if is_dags_dir; then
    dags_unlock
    entry prod ../current/dags
  else
    link dags current/dags
    dags_unlock
  fi
}
make_dags_dir() {
  is_dags_dir && return 0
  dags_lock
  if ! is_dags_dir; then
    t="$R/dags.tmp-$$"
    rm -rf "$t"
    mkdir "$t"
    echo "made by the deploy: one link per namespace (prod: the plain deploy)" > "$t/.pad-dags"
    printf '%s\n' 'pad_runtime\.py' > "$t/.airflowignore"
    if [ -L "$R/dags" ] && [ "$(readlink "$R/dags")" = current/dags ]; then
      ln -s ../current/dags "$t/prod"
      rm -f "$R/dags"
    elif [ -e "$R/dags" ] || [ -L "$R/dags" ]; then
      mv -T "$R/dags" "$R/dags.pre-pad-$STAMP"
      echo "pad-moved-aside dags -> dags.pre-pad-$STAMP"
    fi
    mv -T "$t" "$R/dags"
  fi
  dags_unlock
  is_dags_dir || { echo "pad-no-dags-dir $R/dags"; exit 7; }
}
entry() {
  if [ ! -L "$R/dags/$1" ] || [ "$(readlink "$R/dags/$1")" != "$2" ]; then
    rm -f "$R/dags/.$1.tmp"
    ln -s "$2" "$R/dags/.$1.tmp"
    mv -T "$R/dags/.$1.tmp" "$R/dags/$1"
  fi
  if [ -f "current/dags/pad_runtime.py" ]; then
    cp "current/dags/pad_runtime.py" "$R/dags/.pad_runtime.py.tmp-$$"
    mv -f "$R/dags/.pad_runtime.py.tmp-$$" "$R/dags/pad_runtime.py"
  fi
}
"#;

/// Undoes a first deploy's switch: removes `current` and the links, and moves back what
/// was moved aside.
pub(crate) struct Unswitch<'a> {
    /// Where the releases live: `AIRFLOW_HOME`, or a namespace's home under it.
    pub(crate) home: &'a str,
    /// `AIRFLOW_HOME` on the host, which holds the `dags` folder.
    pub(crate) root: &'a str,
    /// The namespace, `None` for the plain deploy.
    pub(crate) namespace: Option<&'a str>,
    pub(crate) projects: &'a [&'a str],
    /// Each moved-aside name and where it went ([`SwitchResult::asides`]).
    pub(crate) asides: &'a [(String, String)],
}

impl Unswitch<'_> {
    pub(crate) fn text(&self) -> String {
        let mut s = prelude(self.home);
        s.push_str("cd \"$AH\"\nrm -f current\n");
        // The entry a first switch made in the namespaced `dags` directory.
        let entry = self.namespace.unwrap_or("prod");
        let _ = writeln!(
            s,
            "if [ -d {d} ] && [ ! -L {d} ] && [ -L {e} ]; then rm -f {e}; fi",
            d = q(&format!("{}/dags", self.root)),
            e = q(&format!("{}/dags/{entry}", self.root))
        );
        for name in std::iter::once("dags").chain(self.projects.iter().copied()) {
            let _ = writeln!(s, "if [ -L {n} ]; then rm -f {n}; fi", n = q(name));
        }
        for (name, aside) in self.asides {
            let _ = writeln!(s, "if [ ! -e {n} ] && [ -e {a} ]; then mv -T {a} {n}; fi", n = q(name), a = q(aside));
        }
        s.push_str("echo pad-unswitched\n");
        s
    }
}
