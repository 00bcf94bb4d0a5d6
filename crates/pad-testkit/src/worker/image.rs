//! The worker image: `recipe.sh` (debootstrap) into `<work>/rootfs/<hash>`, then
//! `docker import` as `pad-worker:<hash>`, where `<hash>` is that of the recipe. Built
//! once under a file lock, so parallel tests wait for one build and then reuse it.

use std::time::Instant;

use camino::{Utf8Path, Utf8PathBuf};
use pad_process::Cmd;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{create_dir, docker, lock, write_atomic};
use crate::KitError;
use crate::error::Context as _;

/// The recipe: a shell script run as root with the root filesystem's path and the mirror.
pub const RECIPE: &str = include_str!("recipe.sh");
const REPOSITORY: &str = "pad-worker";
/// Used when apt's own sources name no bookworm mirror (another distribution).
const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";

/// The image workers run.
#[derive(Debug, Clone, Serialize)]
pub struct ImageInfo {
    pub tag: String,
    /// Whether this call built it (else it existed).
    pub built: bool,
    /// The time this call took.
    pub seconds: f64,
}

/// `pad-worker:<first 16 hex digits of sha256(recipe)>`.
pub fn image_tag() -> String {
    let hash = format!("{:x}", Sha256::digest(RECIPE.as_bytes()));
    format!("{REPOSITORY}:{}", &hash[..16])
}

/// Makes sure the image of the current recipe exists, building it when it does not.
pub fn ensure_image(work_dir: &Utf8Path) -> Result<ImageInfo, KitError> {
    let started = Instant::now();
    let tag = image_tag();
    if image_exists(&tag) {
        return Ok(ImageInfo { tag, built: false, seconds: started.elapsed().as_secs_f64() });
    }
    create_dir(work_dir)?;
    let _guard = lock(&work_dir.join("image.lock"))?;
    // Another process may have built it while this one waited for the lock.
    if image_exists(&tag) {
        return Ok(ImageInfo { tag, built: false, seconds: started.elapsed().as_secs_f64() });
    }
    let hash = tag.rsplit_once(':').map(|(_, h)| h.to_owned()).unwrap_or_default();
    let rootfs_dir = work_dir.join("rootfs");
    create_dir(&rootfs_dir)?;
    let rootfs = rootfs_dir.join(&hash);
    if !rootfs.join("usr/bin/python3.11").exists() {
        debootstrap(work_dir, &rootfs, &hash)?;
    }
    let import_started = Instant::now();
    Cmd::new("bash", work_dir)
        .args([
            "-c",
            r#"set -o pipefail; tar -C "$1" --numeric-owner -c . | docker import --message "$3" - "$2""#,
            "bash",
            rootfs.as_str(),
            &tag,
            "pad worker: debootstrap bookworm (crates/pad-testkit/src/worker/recipe.sh)",
        ])
        .run()
        .with_context(|| format!("importing {rootfs} as the Docker image {tag}"))?;
    tracing::info!("imported {tag} in {:.1} s", import_started.elapsed().as_secs_f64());
    remove_old(&rootfs_dir, &hash);
    Ok(ImageInfo { tag, built: true, seconds: started.elapsed().as_secs_f64() })
}

fn image_exists(tag: &str) -> bool {
    docker::docker(&["image", "inspect", "--format", "{{.Id}}", tag]).is_ok()
}

/// Runs the recipe into `<rootfs>.tmp` and renames it to `rootfs` when it succeeded.
fn debootstrap(work_dir: &Utf8Path, rootfs: &Utf8Path, hash: &str) -> Result<(), KitError> {
    let started = Instant::now();
    let tmp = Utf8PathBuf::from(format!("{rootfs}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("removing the unfinished {tmp}"))?;
    }
    if rootfs.exists() {
        std::fs::remove_dir_all(rootfs).with_context(|| format!("removing the incomplete {rootfs}"))?;
    }
    let script = work_dir.join(format!("recipe-{hash}.sh"));
    write_atomic(&script, RECIPE.as_bytes())?;
    let mirror = apt_mirror();
    tracing::info!("building the worker root filesystem with debootstrap from {mirror}");
    let result = Cmd::new("sh", work_dir).args([script.as_str(), tmp.as_str(), &mirror]).run();
    let _ = std::fs::remove_file(&script);
    result.with_context(|| {
        format!(
            "building the worker root filesystem (crates/pad-testkit/src/worker/recipe.sh) in {tmp}: it needs root and \
             debootstrap (apt-get install debootstrap), and reaches the mirror {mirror}"
        )
    })?;
    std::fs::rename(&tmp, rootfs).with_context(|| format!("renaming {tmp} to {rootfs}"))?;
    tracing::info!("debootstrap took {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Removes root filesystems and images of older recipes (best effort: an image still in
/// use by a container stays).
fn remove_old(rootfs_dir: &Utf8Path, hash: &str) {
    if let Ok(entries) = rootfs_dir.read_dir_utf8() {
        for entry in entries.flatten() {
            if entry.file_name() != hash {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    if let Ok(tags) = docker::docker(&["image", "ls", REPOSITORY, "--format", "{{.Tag}}"]) {
        for old in tags.lines().filter(|t| !t.is_empty() && *t != hash) {
            let _ = docker::docker(&["image", "rm", &format!("{REPOSITORY}:{old}")]);
        }
    }
}

/// The Debian mirror apt already uses for bookworm (deb822 `.sources` or one-line
/// `.list` entries), or deb.debian.org.
fn apt_mirror() -> String {
    let mut files: Vec<Utf8PathBuf> = vec![Utf8PathBuf::from("/etc/apt/sources.list")];
    if let Ok(entries) = Utf8Path::new("/etc/apt/sources.list.d").read_dir_utf8() {
        let mut more: Vec<Utf8PathBuf> = entries.flatten().map(|e| e.into_path()).collect();
        more.sort();
        files.extend(more);
    }
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        let found = match file.extension() {
            Some("sources") => mirror_in_deb822(&text),
            Some("list") => mirror_in_one_line(&text),
            _ => None,
        };
        if let Some(mirror) = found {
            return mirror;
        }
    }
    DEFAULT_MIRROR.to_owned()
}

fn is_http(uri: &str) -> bool {
    uri.starts_with("http://") || uri.starts_with("https://")
}

fn mirror_in_deb822(text: &str) -> Option<String> {
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
            })
        };
        if field("Enabled").is_some_and(|v| v.eq_ignore_ascii_case("no")) {
            continue;
        }
        let types = field("Types").unwrap_or_default();
        let suites = field("Suites").unwrap_or_default();
        if types.split_whitespace().any(|t| t == "deb") && suites.split_whitespace().any(|s| s == "bookworm") {
            let uris = field("URIs").unwrap_or_default();
            if let Some(uri) = uris.split_whitespace().find(|u| is_http(u)) {
                return Some(uri.to_owned());
            }
        }
    }
    None
}

fn mirror_in_one_line(text: &str) -> Option<String> {
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        if words.next() != Some("deb") {
            continue;
        }
        let mut rest: Vec<&str> = words.collect();
        if rest.first().is_some_and(|w| w.starts_with('[')) {
            let end = rest.iter().position(|w| w.ends_with(']')).unwrap_or(0);
            rest.drain(..=end);
        }
        if let [uri, suite, ..] = rest.as_slice()
            && *suite == "bookworm"
            && is_http(uri)
        {
            return Some((*uri).to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_bookworm_mirror_in_deb822() {
        let text = "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n\
                    Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n";
        assert_eq!(mirror_in_deb822(text).as_deref(), Some("http://mirror.example/debian"));
        assert_eq!(mirror_in_deb822("Types: deb\nURIs: http://x/\nSuites: jammy\n"), None);
    }

    #[test]
    fn finds_the_bookworm_mirror_in_a_list() {
        let text = "# deb http://old/ bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main\n";
        assert_eq!(mirror_in_one_line(text).as_deref(), Some("http://m.example/debian"));
        assert_eq!(mirror_in_one_line("deb http://m/ bookworm-security main\n"), None);
    }

    #[test]
    fn the_tag_follows_the_recipe() {
        let tag = image_tag();
        assert!(tag.starts_with("pad-worker:") && tag.len() == "pad-worker:".len() + 16, "{tag}");
    }
}
