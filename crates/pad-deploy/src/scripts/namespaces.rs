//! The namespaces of one `AIRFLOW_HOME`: [`ListNamespaces`] reads each one's current
//! release, last switch and size (the plain deploy as `prod`); [`RemoveNamespace`]
//! takes one out, its DAG entry first, then its directory by a rename.

use std::fmt::Write as _;

use pad_process::shell_quote as q;

use super::{GUARD, prelude, values};

/// Lists the plain deploy and every namespace: `pad-now <time>`, then
/// `pad-ns <name> <current|-> <last switch|0> <KiB>` each.
pub(crate) struct ListNamespaces<'a> {
    /// `AIRFLOW_HOME` on the host.
    pub(crate) root: &'a str,
}

/// One namespace as [`ListNamespaces`] saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NamespaceLine {
    pub(crate) name: String,
    pub(crate) current: Option<String>,
    pub(crate) switched_at: Option<u64>,
    pub(crate) kib: u64,
}

impl ListNamespaces<'_> {
    pub(crate) fn text(&self) -> String {
        let mut s = prelude(self.root);
        s.push_str(
            r#"if ! cd "$AH" 2>/dev/null; then echo pad-no-home; exit 0; fi
echo "pad-now $(date +%s)"
show() {
  c=-; t=0
  if [ -L "$2/current" ]; then c=$(readlink "$2/current"); c=${c#releases/}; fi
  if [ -f "$2/.pad/history" ]; then t=$(tail -n 1 "$2/.pad/history" | cut -d' ' -f1); fi
  k=0
  if [ -d "$2/releases" ]; then set -- "$1" "$2" $(du -sk "$2/releases" | cut -f1); k=$3; fi
  echo "pad-ns $1 $c ${t:-0} $k"
}
if [ -L current ] || [ -d releases ]; then show prod .; fi
for d in namespaces/*; do
  [ -d "$d" ] && [ ! -L "$d" ] || continue
  show "${d##*/}" "$d"
done
echo pad-listed
"#,
        );
        s
    }

    /// The host's clock, and each namespace.
    pub(crate) fn parse(output: &str) -> (Option<u64>, Vec<NamespaceLine>) {
        let now = values(output, "pad-now").next().and_then(|t| t.parse().ok());
        let lines = values(output, "pad-ns")
            .filter_map(|line| {
                let mut parts = line.split(' ');
                let (name, current, time, kib) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
                Some(NamespaceLine {
                    name: name.to_owned(),
                    current: (current != "-").then(|| current.to_owned()),
                    switched_at: time.parse().ok().filter(|t| *t != 0),
                    kib: kib.parse().unwrap_or(0),
                })
            })
            .collect();
        (now, lines)
    }
}

/// Removes the namespace `name`: its link in `dags/` first (Airflow stops seeing its DAGs
/// at once), then `namespaces/<name>` renamed to a hidden name and deleted. Exits 3
/// (`pad-no-namespace`) when there is none. Nothing outside `namespaces/<name>` and the
/// link `dags/<name>` is touched (but the shared store's objects no release uses any
/// more): never a data root, never another namespace.
pub(crate) struct RemoveNamespace<'a> {
    /// `AIRFLOW_HOME` on the host.
    pub(crate) root: &'a str,
    pub(crate) name: &'a str,
    /// A name part no other run uses.
    pub(crate) nonce: &'a str,
}

impl RemoveNamespace<'_> {
    pub(crate) fn text(&self) -> String {
        let mut s = prelude(self.root);
        s.push_str(GUARD);
        let _ = writeln!(s, "NS={}\nGONE={}", q(self.name), q(&format!(".rm-{}-{}", self.name, self.nonce)));
        s.push_str(
            r#"cd "$AH"
if [ ! -d "namespaces/$NS" ] || [ -L "namespaces/$NS" ]; then echo "pad-no-namespace $NS"; exit 3; fi
if [ -L "dags/$NS" ]; then rm -f "dags/$NS"; fi
mv -T "namespaces/$NS" "namespaces/$GONE"
chmod -R u+w "namespaces/$GONE" 2>/dev/null || true
rm -rf "namespaces/$GONE"
for d in namespaces/.rm-*; do
  [ -e "$d" ] || continue
  chmod -R u+w "$d" 2>/dev/null || true; rm -rf "$d"
done
echo "pad-removed $NS"
"#,
        );
        s.push_str(&super::inventory::drop_unused_objects(
            self.root,
            &format!("{}/namespaces/{}", self.root, self.name),
        ));
        s
    }

    /// Whether the namespace was there.
    pub(crate) fn missing(status: i32, output: &str) -> bool {
        status == 3 && values(output, "pad-no-namespace").next().is_some()
    }
}
