//! Step 8 on the host: [`Switch`] makes a release current and links `dags` and the
//! projects to it, moving aside whatever else stands at their names; [`Unswitch`]
//! undoes a first deploy's switch.

use std::fmt::Write as _;

use pad_process::shell_quote as q;

use super::{prelude, values};

/// Switches `current` to `releases/<id>`, records it in the history, and makes the
/// `dags` and project links, moving aside whatever else stands at their names.
pub(crate) struct Switch<'a> {
    /// `AIRFLOW_HOME` on the host.
    pub(crate) home: &'a str,
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
link dags current/dags
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
echo pad-switched
"#,
        );
        s
    }

    pub(crate) fn parse(output: &str) -> SwitchResult {
        SwitchResult { moved_aside: values(output, "pad-moved-aside").map(str::to_owned).collect() }
    }
}

/// Undoes a first deploy's switch: removes `current` and the links, and moves back what
/// was moved aside.
pub(crate) struct Unswitch<'a> {
    /// `AIRFLOW_HOME` on the host.
    pub(crate) home: &'a str,
    pub(crate) projects: &'a [&'a str],
    /// Each moved-aside name and where it went ([`SwitchResult::asides`]).
    pub(crate) asides: &'a [(String, String)],
}

impl Unswitch<'_> {
    pub(crate) fn text(&self) -> String {
        let mut s = prelude(self.home);
        s.push_str("cd \"$AH\"\nrm -f current\n");
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
