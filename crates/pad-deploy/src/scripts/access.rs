//! Getting in: [`Preflight`] checks that commands run as the service user; [`Lock`]
//! takes the host's deploy lock and holds it while its standard input stays open.

use pad_process::shell_quote as q;

use super::{has_line, values};

/// Checks that `sudo -n -u <service user>` works, before anything is written.
pub(crate) struct Preflight;

impl Preflight {
    pub(crate) fn text(&self) -> String {
        "echo pad-sudo-ok; id -un\n".to_owned()
    }

    /// Whether the script ran.
    pub(crate) fn parse(output: &str) -> bool {
        has_line(output, "pad-sudo-ok")
    }
}

/// Takes the lock `.pad/lock/` and holds it while standard input stays open; each line
/// read renews it. A lock whose holder is dead, or silent for `stale_secs`, is cleared.
///
/// In a namespace (`home` under `root`) it first links the namespace's `.pad/store` to
/// the shared store of `root`. Once the lock is taken it waits while another run
/// collects the shared store's unused objects (`root/.pad/gc`, see
/// [`super::inventory`]), so nothing it is about to reuse disappears under it.
pub(crate) struct Lock<'a> {
    /// Where the releases live: `AIRFLOW_HOME`, or a namespace's home under it.
    pub(crate) home: &'a str,
    /// `AIRFLOW_HOME` on the host, which holds the shared store.
    pub(crate) root: &'a str,
    /// Who takes it, as the lock records it.
    pub(crate) owner: &'a str,
    pub(crate) stale_secs: u64,
}

/// A line the lock script prints as it goes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LockLine<'a> {
    /// A stale lock was cleared: its owner, pid and time, and why it was stale.
    Stale(&'a str),
    /// The lock is taken; the script holds it from now on.
    Taken,
    /// A live deploy holds the lock: its owner, pid and time.
    Held(&'a str),
    /// Anything else: what a failing command printed.
    Other,
}

impl Lock<'_> {
    pub(crate) fn text(&self) -> String {
        let mut s = format!(
            "set -u\nexport LC_ALL=C\nAH={}\nROOT={}\nOWNER={}\nSTALE={}\n",
            q(self.home),
            q(self.root),
            q(self.owner),
            self.stale_secs
        );
        s.push_str(
            r#"for m in .git Cargo.toml; do
  if [ -e "$ROOT/$m" ]; then echo "pad-not-airflow-home $m"; exit 2; fi
done
if ! mkdir -p "$ROOT/.pad/store" "$AH/.pad" 2>/dev/null; then
  echo "pad-lock-error cannot create $AH/.pad as $(id -un)"; exit 2
fi
if [ "$AH" != "$ROOT" ] && [ ! -L "$AH/.pad/store" ]; then
  if [ -e "$AH/.pad/store" ]; then echo "pad-lock-error $AH/.pad/store is not the link to the shared store"; exit 2; fi
  ln -s ../../../.pad/store "$AH/.pad/store.tmp.$$" && mv -T "$AH/.pad/store.tmp.$$" "$AH/.pad/store"
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
G="$ROOT/.pad/gc"
waited=0
while [ -d "$G" ]; do
  gp=$(cat "$G/pid" 2>/dev/null || true)
  if { [ -n "$gp" ] && ! kill -0 "$gp" 2>/dev/null; } || [ "$waited" -gt 300 ]; then rm -rf "$G"; break; fi
  echo pad-lock-waiting-gc
  sleep 1
  waited=$((waited + 1))
done
echo "pad-lock-taken $(describe)"
while IFS= read -r line; do touch "$L/info" 2>/dev/null || true; done
"#,
        );
        s
    }

    pub(crate) fn parse_line(line: &str) -> LockLine<'_> {
        if let Some(stale) = line.strip_prefix("pad-lock-stale ") {
            LockLine::Stale(stale)
        } else if line.starts_with("pad-lock-taken") {
            LockLine::Taken
        } else if let Some(holder) = line.strip_prefix("pad-lock-held ") {
            LockLine::Held(holder)
        } else {
            LockLine::Other
        }
    }

    /// What marks `AIRFLOW_HOME` as a source checkout (`.git`, `Cargo.toml`), from the
    /// output of a lock script that ended without the lock.
    pub(crate) fn not_airflow_home(output: &str) -> Option<&str> {
        values(output, "pad-not-airflow-home").next()
    }
}
