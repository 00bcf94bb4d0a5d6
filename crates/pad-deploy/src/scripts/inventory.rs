//! What a host holds, and what it lets go. [`Inspect`] (after removing what interrupted
//! runs left) and [`List`] read the store, the releases, `current` and the history into
//! [`HostContents`]; [`Prune`] removes the releases [`prune_list`] picks and the store
//! objects no release uses; [`CleanUp`] removes what a failed run wrote; [`FreeSpace`]
//! reads how much room `AIRFLOW_HOME` has left.
//!
//! [`Inspect`] and [`List`] tag their lines `S key`, `R id`, `C target`, `H time id` and
//! (`List` only) `I id key=value`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use pad_process::shell_quote as q;

use super::{GUARD, TICKER, has_line, prelude, values};
use crate::ReleaseInfo;

/// What a host holds: its store, its releases, `current` and the history.
#[derive(Debug, Default)]
pub(crate) struct HostContents {
    /// The store's objects, `<sha256>-<mode>`.
    pub(crate) store: BTreeSet<String>,
    pub(crate) releases: BTreeSet<String>,
    pub(crate) current: Option<String>,
    /// Release ids in the order they were made current, oldest first.
    pub(crate) history: Vec<(u64, String)>,
}

impl HostContents {
    fn parse(output: &str) -> HostContents {
        let mut contents = HostContents::default();
        for line in output.lines() {
            if let Some(key) = line.strip_prefix("S ") {
                contents.store.insert(key.to_owned());
            } else if let Some(id) = line.strip_prefix("R ") {
                contents.releases.insert(id.to_owned());
            } else if let Some(target) = line.strip_prefix("C ") {
                contents.current = Some(target.strip_prefix("releases/").unwrap_or(target).to_owned());
            } else if let Some(entry) = line.strip_prefix("H ")
                && let Some((time, id)) = entry.split_once(' ')
                && let Ok(time) = time.parse()
            {
                contents.history.push((time, id.to_owned()));
            }
        }
        contents
    }

    /// The release made current before the current one that still exists.
    pub(crate) fn previous(&self) -> Option<String> {
        let current = self.current.as_deref();
        self.history
            .iter()
            .rev()
            .map(|(_, id)| id)
            .find(|id| Some(id.as_str()) != current && self.releases.contains(*id))
            .cloned()
    }
}

/// Removes what interrupted runs left, then lists what the host holds.
pub(crate) struct Inspect<'a> {
    /// `AIRFLOW_HOME` on the host.
    pub(crate) home: &'a str,
}

/// What [`Inspect`] found.
#[derive(Debug)]
pub(crate) struct InspectResult {
    /// What interrupted runs left, removed.
    pub(crate) cleaned: Vec<String>,
    /// Whether the script got to its end; if not, its listing is incomplete.
    pub(crate) complete: bool,
    pub(crate) contents: HostContents,
}

impl Inspect<'_> {
    pub(crate) fn text(&self) -> String {
        let mut s = prelude(self.home);
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

    pub(crate) fn parse(output: &str) -> InspectResult {
        InspectResult {
            cleaned: cleaned(output),
            complete: has_line(output, "pad-inspected"),
            contents: HostContents::parse(output),
        }
    }
}

/// The paths a script removed (`pad-cleaned <path>`), as [`Inspect`] and [`CleanUp`]
/// print them.
fn cleaned(output: &str) -> Vec<String> {
    values(output, "pad-cleaned").map(str::to_owned).collect()
}

/// Lists the releases without taking the lock: what [`Inspect`] lists but the store,
/// and `I id key=value` from each release's info.
pub(crate) struct List<'a> {
    /// `AIRFLOW_HOME` on the host.
    pub(crate) home: &'a str,
}

impl List<'_> {
    pub(crate) fn text(&self) -> String {
        let mut s = prelude(self.home);
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

    /// What the host holds.
    pub(crate) fn contents(output: &str) -> HostContents {
        HostContents::parse(output)
    }

    /// The releases, oldest first (by when they were first made current).
    pub(crate) fn parse(output: &str) -> Vec<ReleaseInfo> {
        let contents = HostContents::parse(output);
        let previous = contents.previous();
        let mut infos: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
        for line in output.lines() {
            if let Some(rest) = line.strip_prefix("I ")
                && let Some((id, pair)) = rest.split_once(' ')
                && let Some((key, value)) = pair.split_once('=')
            {
                infos.entry(id).or_default().insert(key, value);
            }
        }
        let mut first_used: BTreeMap<&str, u64> = BTreeMap::new();
        for (time, id) in &contents.history {
            first_used.entry(id.as_str()).or_insert(*time);
        }
        let mut releases: Vec<ReleaseInfo> = contents
            .releases
            .iter()
            .map(|id| {
                let info = infos.get(id.as_str());
                let field =
                    |key: &str| info.and_then(|i| i.get(key)).filter(|v| !v.is_empty()).map(|v| (*v).to_owned());
                ReleaseInfo {
                    id: id.clone(),
                    version: field("version"),
                    commit: field("commit"),
                    deployed_at: first_used.get(id.as_str()).copied(),
                    deployed_by: field("built_by"),
                    current: contents.current.as_deref() == Some(id.as_str()),
                    previous: previous.as_deref() == Some(id.as_str()),
                }
            })
            .collect();
        releases.sort_by_key(|r| (r.deployed_at.unwrap_or(u64::MAX), r.id.clone()));
        releases
    }
}

/// The releases to remove so that at most `keep` remain: the oldest by when they were
/// last made current (never-current ones first), never `current`, the previous one or
/// `fresh` (the release just deployed).
pub(crate) fn prune_list(contents: &HostContents, keep: usize, fresh: &str) -> Vec<String> {
    let mut last_used: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, (_, id)) in contents.history.iter().enumerate() {
        last_used.insert(id, index + 1);
    }
    let mut order: Vec<&String> = contents.releases.iter().collect();
    order.sort_by_key(|id| (last_used.get(id.as_str()).copied().unwrap_or(0), (*id).clone()));
    let previous = contents.previous();
    let protected =
        |id: &str| Some(id) == contents.current.as_deref() || Some(id) == previous.as_deref() || id == fresh;
    let excess = order.len().saturating_sub(keep);
    order.into_iter().filter(|id| !protected(id)).take(excess).cloned().collect()
}

/// Removes the releases `ids` (renamed to a temporary name first, so a half-removed one
/// is never seen under its id), then the store objects no release lists.
pub(crate) struct Prune<'a> {
    /// Where the releases live: `AIRFLOW_HOME`, or a namespace's home under it.
    pub(crate) home: &'a str,
    /// `AIRFLOW_HOME` on the host, which holds the shared store.
    pub(crate) root: &'a str,
    pub(crate) ids: &'a [&'a str],
    /// A name part no other run uses.
    pub(crate) nonce: &'a str,
}

/// What [`Prune`] removed.
#[derive(Debug)]
pub(crate) struct PruneResult {
    pub(crate) releases: Vec<String>,
    pub(crate) objects: usize,
}

impl Prune<'_> {
    pub(crate) fn text(&self) -> String {
        let mut s = prelude(self.home);
        s.push_str(GUARD);
        s.push_str("cd \"$AH\"/releases\n");
        for id in self.ids {
            let gone = format!(".tmp-prune-{id}-{}", self.nonce);
            let _ = writeln!(
                s,
                "if [ -d {i} ]; then mv -T {i} {g}; chmod -R u+w {g} 2>/dev/null || true; rm -rf {g}; echo {m}; fi; rm -f ../.pad/verified/{i}",
                i = q(id),
                g = q(&gone),
                m = q(&format!("pad-pruned {id}"))
            );
        }
        s.push_str(&drop_unused_objects(self.root, self.home));
        s
    }

    pub(crate) fn parse(output: &str) -> PruneResult {
        PruneResult { releases: values(output, "pad-pruned").map(str::to_owned).collect(), objects: dropped(output) }
    }
}

/// Removes the store objects of `root` (`AIRFLOW_HOME`, whose store every namespace
/// shares) that no release lists, the plain deploy's or any namespace's; prints
/// `pad-pruned-objects <count>` ([`dropped`] reads it).
///
/// The store is shared, so this runs only while no other deploy could be using it: it
/// takes `root/.pad/gc` (a deploy that takes its lock then waits until it is gone, see
/// [`super::Lock`]), then gives up (`pad-gc-skipped`, the next prune does it) if any
/// lock but the caller's own is held.
///
/// `own` is the release home whose lock the caller holds.
pub(super) fn drop_unused_objects(root: &str, own: &str) -> String {
    let mut s = format!("R={}\nOWN={}\n", q(root), q(own));
    s.push_str(
        r#"cd "$AH"
n=0
if mkdir "$R/.pad/gc" 2>/dev/null; then
  echo $$ > "$R/.pad/gc/pid"
  busy=
  for l in "$R/.pad/lock" "$R"/namespaces/*/.pad/lock; do
    [ -d "$l" ] || continue
    [ "$l" = "$OWN/.pad/lock" ] && continue
    busy=$l
  done
  if [ -n "$busy" ]; then
    echo "pad-gc-skipped $busy"
  else
    ls "$R/.pad/store" | sort > .pad/keys-have.tmp
    : > .pad/keys-want.tmp
    for k in "$R"/releases/*/.pad-release/keys "$R"/namespaces/*/releases/*/.pad-release/keys; do
      if [ -f "$k" ]; then cat "$k" >> .pad/keys-want.tmp; fi
    done
    sort -u .pad/keys-want.tmp -o .pad/keys-want.tmp
    comm -23 .pad/keys-have.tmp .pad/keys-want.tmp > .pad/keys-drop.tmp
    while IFS= read -r k; do rm -f "$R/.pad/store/$k"; n=$((n + 1)); done < .pad/keys-drop.tmp
    # Verified environments no release ships any more, and halves of interrupted copies.
    for e in "$R"/.pad/envs/* "$R"/.pad/envs/.tmp-*; do
      [ -e "$e" ] || continue
      case ${e##*/} in .tmp-*) ;; *) if grep -qxF "${e##*/}" .pad/keys-want.tmp; then continue; fi ;; esac
      chmod -R u+w "$e" 2>/dev/null || true
      rm -rf "$e"
    done
    rm -f .pad/keys-want.tmp .pad/keys-have.tmp .pad/keys-drop.tmp
  fi
  rm -rf "$R/.pad/gc"
else
  echo "pad-gc-skipped $R/.pad/gc"
fi
echo "pad-pruned-objects $n"
"#,
    );
    s
}

/// How many store objects [`drop_unused_objects`] removed.
fn dropped(output: &str) -> usize {
    values(output, "pad-pruned-objects").next().and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// Removes what a failed run wrote, while it still holds the lock: its staging
/// directory and its unfinished release; with `drop_unused`, also the store objects no
/// release lists, which a run that filled the disk may have added.
pub(crate) struct CleanUp<'a> {
    /// Where the releases live: `AIRFLOW_HOME`, or a namespace's home under it.
    pub(crate) home: &'a str,
    /// `AIRFLOW_HOME` on the host, which holds the shared store.
    pub(crate) root: &'a str,
    /// The run's staging directory, under `AIRFLOW_HOME`.
    pub(crate) staging: &'a str,
    /// The run's unfinished release, under `releases/`.
    pub(crate) tmp: &'a str,
    pub(crate) drop_unused: bool,
}

/// What [`CleanUp`] removed.
#[derive(Debug)]
pub(crate) struct CleanUpResult {
    pub(crate) cleaned: Vec<String>,
    /// Store objects no release uses.
    pub(crate) objects: usize,
}

impl CleanUp<'_> {
    pub(crate) fn text(&self) -> String {
        let mut s = prelude(self.home);
        s.push_str(TICKER);
        let _ = writeln!(s, "cd \"$AH\"\nset -- {} releases/{}", q(self.staging), q(self.tmp));
        s.push_str(
            r#"for d in "$@"; do
  [ -e "$d" ] || [ -L "$d" ] || continue
  chmod -R u+w "$d" 2>/dev/null || true
  rm -rf "$d"
  echo "pad-cleaned $d"
done
"#,
        );
        if self.drop_unused {
            s.push_str(&drop_unused_objects(self.root, self.home));
        }
        s.push_str("echo pad-clean\n");
        s
    }

    pub(crate) fn parse(output: &str) -> CleanUpResult {
        CleanUpResult { cleaned: cleaned(output), objects: dropped(output) }
    }
}

/// `df` for `AIRFLOW_HOME`.
pub(crate) struct FreeSpace<'a> {
    /// `AIRFLOW_HOME` on the host.
    pub(crate) home: &'a str,
}

/// The room left where `AIRFLOW_HOME` is.
#[derive(Debug)]
pub(crate) struct DiskSpace {
    /// `df -Pk`'s line: filesystem, blocks, used, available KiB, use%, mount.
    pub(crate) line: String,
    pub(crate) available_kib: u64,
}

impl FreeSpace<'_> {
    pub(crate) fn text(&self) -> String {
        let mut s = prelude(self.home);
        s.push_str("df -Pk \"$AH\" | tail -n 1 | { read -r line; echo \"pad-df $line\"; }\n");
        s
    }

    pub(crate) fn parse(output: &str) -> Option<DiskSpace> {
        let line = values(output, "pad-df").next()?;
        let available_kib = line.split_whitespace().nth(3)?.parse().ok()?;
        Some(DiskSpace { line: line.to_owned(), available_kib })
    }
}
