//! The whole-repository check every flow that reads the repository makes: the layout
//! crate's scan, and every artifacts.yaml read by the cache crate's own parser
//! (`pad-layout` sits below `pad-cache`, so only a crate above both can join them).
//! Syntax and structure are checked; `${VAR}`s are not read: credentials and hosts may be
//! set only where a cache is warmed.

use camino::Utf8Path;
use pad_cache::ConfigFile;
use pad_layout::{LayoutError, Repo, Scan};

/// What the repository at `root` holds, with every problem of its layout and of its
/// artifacts.yaml files.
pub fn scan(root: &Utf8Path) -> Scan {
    let mut scan = pad_layout::scan(root);
    let files: Vec<ConfigFile> =
        scan.repo.artifacts_files.iter().map(|path| ConfigFile::new(&scan.repo.root, path)).collect();
    if !files.is_empty()
        && let Err(err) = pad_cache::load(&files)
    {
        scan.errors.extend(err.problems);
    }
    scan
}

/// [`scan`], failing with every problem at once.
pub fn discover(root: &Utf8Path) -> Result<Repo, LayoutError> {
    let scan = scan(root);
    if scan.errors.is_empty() { Ok(scan.repo) } else { Err(LayoutError::new(&scan.repo.root, scan.errors)) }
}
