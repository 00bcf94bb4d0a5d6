//! The rules every archive entry must pass before it is extracted or trusted, shared
//! by [`extract`](crate::extract) and [`verify`](crate::verify): a relative path with
//! no `..`, a known type, no duplicate, nothing under a link or file, links that stay
//! inside the archive.

use std::borrow::Cow;
use std::collections::HashMap;

use camino::{Utf8Component, Utf8Path, Utf8PathBuf};
use tar::EntryType;

use crate::archive::stays_inside;

/// How many symlinks one resolution may pass through, as Linux allows.
const MAX_SYMLINK_HOPS: usize = 40;

/// The parts of a tar entry the rules look at.
pub(crate) struct Raw<'a> {
    pub(crate) path: Cow<'a, [u8]>,
    pub(crate) entry_type: EntryType,
    pub(crate) link: Option<Cow<'a, [u8]>>,
    /// `None` when the header's mode field is unreadable.
    pub(crate) mode: Option<u32>,
}

impl<'a> Raw<'a> {
    pub(crate) fn of<R: std::io::Read>(entry: &'a tar::Entry<'_, R>) -> Self {
        Raw {
            path: entry.path_bytes(),
            entry_type: entry.header().entry_type(),
            link: entry.link_name_bytes(),
            mode: entry.header().mode().ok(),
        }
    }
}

/// Why an entry is refused, naming it as the archive spells it.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) entry: String,
    pub(crate) reason: String,
}

/// What to do with an entry that passed.
#[derive(Debug)]
pub(crate) enum Step {
    /// Nothing: the root's own entry (`./`), or a directory already created for an
    /// earlier entry under it.
    Skip,
    Dir {
        path: Utf8PathBuf,
        new_dirs: Vec<Utf8PathBuf>,
    },
    /// `mode` is normalised: 0o755 with any execute bit, else 0o644.
    File {
        path: Utf8PathBuf,
        mode: u32,
        new_dirs: Vec<Utf8PathBuf>,
    },
    /// `target` is an archive path, a regular file earlier in the archive.
    HardLink {
        path: Utf8PathBuf,
        target: Utf8PathBuf,
        new_dirs: Vec<Utf8PathBuf>,
    },
    Symlink {
        path: Utf8PathBuf,
        target: Utf8PathBuf,
        new_dirs: Vec<Utf8PathBuf>,
    },
}

/// What the archive has put at a path so far.
#[derive(Debug)]
enum Node {
    /// `explicit` when the archive had an entry for it, not only entries under it.
    Dir {
        explicit: bool,
    },
    File(FileInfo),
    Symlink(Utf8PathBuf),
}

/// A regular file's normalised mode, size and hash (when it was hashed).
#[derive(Debug, Clone)]
pub(crate) struct FileInfo {
    pub(crate) mode: u32,
    pub(crate) size: u64,
    pub(crate) sha256: Option<String>,
}

/// The archive's namespace as its entries build it, checked entry by entry.
pub(crate) struct Namespace {
    allow_absolute_symlinks: bool,
    refuse_special_modes: bool,
    nodes: HashMap<Utf8PathBuf, Node>,
    /// Symlinks in archive order, for [`Namespace::check_symlinks`].
    symlinks: Vec<Utf8PathBuf>,
}

impl Namespace {
    pub(crate) fn new(allow_absolute_symlinks: bool) -> Self {
        Namespace { allow_absolute_symlinks, refuse_special_modes: false, nodes: HashMap::new(), symlinks: Vec::new() }
    }

    /// Also refuses setuid, setgid and sticky bits. [`extract`](crate::extract) drops
    /// them, but an archive unpacked by `tar` (a packed environment on a host) keeps
    /// them when `tar` runs as root: a setuid file in a release would be a way up.
    pub(crate) fn refusing_special_modes(mut self) -> Self {
        self.refuse_special_modes = true;
        self
    }

    /// Checks the next entry and records it. On a refusal nothing is recorded.
    pub(crate) fn plan(&mut self, raw: &Raw<'_>) -> Result<Step, Refusal> {
        let refuse = |reason: String| Refusal { entry: shown(&raw.path), reason };
        let path = entry_path(&raw.path).map_err(|reason| refuse(reason.to_owned()))?;
        let kind = kind(raw.entry_type).map_err(refuse)?;
        let Some(path) = path else {
            return if kind == Kind::Dir { Ok(Step::Skip) } else { Err(refuse("the path is empty".to_owned())) };
        };

        match self.nodes.get_mut(&path) {
            None => {}
            Some(Node::Dir { explicit }) if !*explicit && kind == Kind::Dir => {
                // A directory entry after entries under it, as `tar` writes with some
                // options: it exists already.
                *explicit = true;
                return Ok(Step::Skip);
            }
            Some(_) => return Err(refuse("the archive has this path twice".to_owned())),
        }

        let mut new_dirs = Vec::new();
        let ancestors: Vec<&Utf8Path> = path.ancestors().skip(1).filter(|a| !a.as_str().is_empty()).collect();
        for ancestor in ancestors.into_iter().rev() {
            match self.nodes.get(ancestor) {
                Some(Node::Dir { .. }) => {}
                Some(Node::Symlink(_)) => {
                    return Err(refuse(format!(
                        "`{ancestor}` is a symlink in the archive, and nothing may be written through one"
                    )));
                }
                Some(Node::File(_)) => return Err(refuse(format!("`{ancestor}` is a file in the archive"))),
                None => new_dirs.push(ancestor.to_owned()),
            }
        }

        if self.refuse_special_modes
            && matches!(kind, Kind::Dir | Kind::File)
            && raw.mode.is_some_and(|mode| mode & 0o7000 != 0)
        {
            return Err(refuse("it has the setuid, setgid or sticky bit".to_owned()));
        }
        let (step, node) = match kind {
            Kind::Dir => (Step::Dir { path: path.clone(), new_dirs: new_dirs.clone() }, Node::Dir { explicit: true }),
            Kind::File => {
                let Some(mode) = raw.mode else { return Err(refuse("its mode cannot be read".to_owned())) };
                let mode = if mode & 0o111 != 0 { 0o755 } else { 0o644 };
                let node = Node::File(FileInfo { mode, size: 0, sha256: None });
                (Step::File { path: path.clone(), mode, new_dirs: new_dirs.clone() }, node)
            }
            Kind::HardLink => {
                let target = raw.link.as_deref().unwrap_or_default();
                if target.is_empty() {
                    return Err(refuse("a hard link with an empty target".to_owned()));
                }
                let target = match entry_path(target) {
                    Ok(Some(target)) => target,
                    Ok(None) => return Err(refuse("a hard link with an empty target".to_owned())),
                    Err(reason) => return Err(refuse(format!("a hard link to `{}`: {reason}", shown(target)))),
                };
                let Some(Node::File(info)) = self.nodes.get(&target) else {
                    return Err(refuse(format!(
                        "a hard link to `{target}`, which is not a file earlier in the archive"
                    )));
                };
                let node = Node::File(info.clone());
                (Step::HardLink { path: path.clone(), target, new_dirs: new_dirs.clone() }, node)
            }
            Kind::Symlink => {
                let target = self.symlink_target(&path, raw.link.as_deref().unwrap_or_default()).map_err(refuse)?;
                self.symlinks.push(path.clone());
                (
                    Step::Symlink { path: path.clone(), target: target.clone(), new_dirs: new_dirs.clone() },
                    Node::Symlink(target),
                )
            }
        };
        for dir in new_dirs {
            self.nodes.insert(dir, Node::Dir { explicit: false });
        }
        self.nodes.insert(path, node);
        Ok(step)
    }

    fn symlink_target(&self, path: &Utf8Path, target: &[u8]) -> Result<Utf8PathBuf, String> {
        if target.is_empty() {
            return Err("a symlink with an empty target".to_owned());
        }
        if target.contains(&0) {
            return Err(format!("a symlink to `{}`, which contains a NUL byte", shown(target)));
        }
        let Ok(target) = std::str::from_utf8(target) else {
            return Err(format!("a symlink to `{}`, which is not valid UTF-8", shown(target)));
        };
        let target = Utf8PathBuf::from(target);
        if target.is_absolute() {
            if !self.allow_absolute_symlinks {
                return Err(format!("a symlink to the absolute path `{target}`"));
            }
        } else if !stays_inside(path, &target) {
            return Err(format!("a symlink to `{target}`, outside the archive"));
        }
        Ok(target)
    }

    /// Records the size and hash of the regular file just written at `path`.
    pub(crate) fn file_written(&mut self, path: &Utf8Path, size: u64, sha256: Option<String>) {
        if let Some(Node::File(info)) = self.nodes.get_mut(path) {
            info.size = size;
            info.sha256 = sha256;
        }
    }

    /// What is known of the regular file at `path`.
    pub(crate) fn file(&self, path: &Utf8Path) -> Option<&FileInfo> {
        match self.nodes.get(path) {
            Some(Node::File(info)) => Some(info),
            _ => None,
        }
    }

    /// Resolves every symlink through the archive's other symlinks, now that all are
    /// known, and refuses those that lead outside it.
    ///
    /// Each link's own target was checked lexically as it came, but `..` after a link
    /// climbs from where that link points: with `s -> .`, the link `l -> s/../x` looks
    /// inside yet points beside the archive root.
    pub(crate) fn check_symlinks(&self) -> Vec<Refusal> {
        let mut refusals = Vec::new();
        for path in &self.symlinks {
            let Some(Node::Symlink(target)) = self.nodes.get(path) else { continue };
            if let Err(reason) = self.resolve(path, target) {
                refusals.push(Refusal { entry: path.to_string(), reason });
            }
        }
        refusals
    }

    /// Follows `target` from the directory of the link `link` inside the archive.
    fn resolve(&self, link: &Utf8Path, target: &Utf8Path) -> Result<(), String> {
        let mut dir: Vec<&str> = link.parent().map(|p| p.iter().collect()).unwrap_or_default();
        // Components still to walk, the next one last.
        let mut pending: Vec<Utf8Component<'_>> = target.components().rev().collect();
        let mut hops = 0;
        while let Some(component) = pending.pop() {
            match component {
                Utf8Component::RootDir | Utf8Component::Prefix(_) => {
                    if self.allow_absolute_symlinks {
                        // It points at the host's file system, as it may.
                        return Ok(());
                    }
                    return Err(format!(
                        "a symlink to `{target}`, which leads to an absolute path through other symlinks"
                    ));
                }
                Utf8Component::CurDir => {}
                Utf8Component::ParentDir => {
                    if dir.pop().is_none() {
                        return Err(format!(
                            "a symlink to `{target}`, which leads outside the archive through other symlinks"
                        ));
                    }
                }
                Utf8Component::Normal(name) => {
                    dir.push(name);
                    let here: Utf8PathBuf = dir.iter().collect();
                    if let Some(Node::Symlink(next)) = self.nodes.get(&here) {
                        hops += 1;
                        if hops > MAX_SYMLINK_HOPS {
                            return Err(format!("a symlink to `{target}`, which goes round a loop of symlinks"));
                        }
                        dir.pop();
                        pending.extend(next.components().rev());
                    }
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    HardLink,
    Symlink,
}

fn kind(entry_type: EntryType) -> Result<Kind, String> {
    let what = match entry_type {
        EntryType::Regular => return Ok(Kind::File),
        EntryType::Directory => return Ok(Kind::Dir),
        EntryType::Link => return Ok(Kind::HardLink),
        EntryType::Symlink => return Ok(Kind::Symlink),
        EntryType::Char => "a character device".to_owned(),
        EntryType::Block => "a block device".to_owned(),
        EntryType::Fifo => "a FIFO".to_owned(),
        EntryType::Continuous => "a contiguous file".to_owned(),
        EntryType::GNUSparse => "a sparse file".to_owned(),
        EntryType::XGlobalHeader => "a pax global header".to_owned(),
        other => format!("an entry of type {:?}", char::from(other.as_byte())),
    };
    Err(format!("{what}; only files, directories and links can be extracted"))
}

/// The entry path as plain `a/b/c`, `None` for the root itself (`.`, `./`).
///
/// Refuses what could reach outside the root: an absolute path, a `..` component.
/// Also refuses an empty path, a NUL byte (the name a system call sees would differ
/// from the one checked) and names that are not UTF-8.
pub(crate) fn entry_path(bytes: &[u8]) -> Result<Option<Utf8PathBuf>, &'static str> {
    if bytes.is_empty() {
        return Err("the path is empty");
    }
    if bytes.contains(&0) {
        return Err("the path contains a NUL byte");
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err("the path is not valid UTF-8");
    };
    if text.starts_with('/') {
        return Err("the path is absolute");
    }
    let mut out = Utf8PathBuf::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("the path has a `..` component"),
            name => out.push(name),
        }
    }
    Ok(if out.as_str().is_empty() { None } else { Some(out) })
}

/// An entry name for messages: lossy UTF-8 with control characters (NUL, newline)
/// escaped, so the name shown is the name in the archive.
pub(crate) fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
