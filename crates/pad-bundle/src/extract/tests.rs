//! Tests of safe extraction: adversarial archives written header by header, the modes
//! and links extraction produces, and a property test over random entry names.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use camino::{Utf8Path, Utf8PathBuf};
use expect_test::{Expect, expect};
use proptest::prelude::*;
use tar::EntryType;

use crate::testing::{RawTar, listing, run, tempdir, tree};
use crate::{BundleError, ExtractOptions, extract};

/// An archive at `BASE/in/a.tar.gz` to extract into `BASE/work/dest`, beside a canary
/// file at `BASE/outside/canary` that adversarial entries aim at.
struct Scene {
    _tmp: tempfile::TempDir,
    base: Utf8PathBuf,
    archive: Utf8PathBuf,
    work: Utf8PathBuf,
    dest: Utf8PathBuf,
}

fn scene(archive: impl FnOnce(&Utf8Path) -> RawTar) -> Scene {
    let (tmp, base) = tempdir();
    for dir in ["in", "work", "outside"] {
        fs::create_dir(base.join(dir)).unwrap();
    }
    fs::write(base.join("outside/canary"), "canary").unwrap();
    let path = base.join("in/a.tar.gz");
    fs::write(&path, archive(&base).gz()).unwrap();
    Scene { _tmp: tmp, work: base.join("work"), dest: base.join("work/dest"), archive: path, base }
}

impl Scene {
    fn extract(&self, options: ExtractOptions) -> Result<crate::ExtractReport, BundleError> {
        extract(&self.archive, &self.dest, &options)
    }
}

/// An archive that starts well, so something is written before the bad entry.
fn ok() -> RawTar {
    RawTar::new().dir(b"good/").file(b"good/ok.txt", b"fine")
}

/// Extraction fails with `expect` (the scene's directory shown as `BASE`), leaving no
/// destination, no temporary directory and nothing new anywhere.
#[track_caller]
fn check_refused(archive: impl FnOnce(&Utf8Path) -> RawTar, options: ExtractOptions, expect: Expect) {
    let scene = scene(archive);
    let before = listing(&scene.base);
    let err = scene.extract(options).unwrap_err();
    expect.assert_eq(&err.to_string().replace(scene.base.as_str(), "BASE"));
    assert!(fs::symlink_metadata(&scene.dest).is_err(), "{} exists", scene.dest);
    assert_eq!(listing(&scene.base), before, "extraction left something behind");
    assert_eq!(fs::read_to_string(scene.base.join("outside/canary")).unwrap(), "canary");
}

const STRICT: ExtractOptions = ExtractOptions { allow_absolute_symlinks: false, verify_manifest: false };
const VENV: ExtractOptions = ExtractOptions { allow_absolute_symlinks: true, verify_manifest: false };

#[test]
fn paths_that_leave_the_root() {
    check_refused(
        |base| ok().file(format!("{base}/outside/abs").as_bytes(), b"x"),
        STRICT,
        expect!["refusing to extract `BASE/outside/abs` from `BASE/in/a.tar.gz`: the path is absolute"],
    );
    check_refused(
        |_| ok().file(b"../escape", b"x"),
        STRICT,
        expect!["refusing to extract `../escape` from `BASE/in/a.tar.gz`: the path has a `..` component"],
    );
    check_refused(
        |_| ok().file(b"a/../../escape", b"x"),
        STRICT,
        expect!["refusing to extract `a/../../escape` from `BASE/in/a.tar.gz`: the path has a `..` component"],
    );
    check_refused(
        |_| ok().file(b"good/..", b"x"),
        STRICT,
        expect!["refusing to extract `good/..` from `BASE/in/a.tar.gz`: the path has a `..` component"],
    );
    check_refused(
        |_| ok().dir(b"../"),
        STRICT,
        expect!["refusing to extract `../` from `BASE/in/a.tar.gz`: the path has a `..` component"],
    );
    let long_escape = format!("{}/../../../escape", "d/".repeat(60));
    check_refused(
        |_| ok().file(long_escape.as_bytes(), b"x"),
        STRICT,
        expect![[
            r#"refusing to extract `d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d//../../../escape` from `BASE/in/a.tar.gz`: the path has a `..` component"#
        ]],
    );
}

#[test]
fn malformed_paths() {
    check_refused(
        |_| ok().file(b"a\0/../../escape", b"x"),
        STRICT,
        expect![[r#"refusing to extract `a\u{0}/../../escape` from `BASE/in/a.tar.gz`: the path contains a NUL byte"#]],
    );
    check_refused(
        |_| ok().file(b"bad\xffname", b"x"),
        STRICT,
        expect!["refusing to extract `bad�name` from `BASE/in/a.tar.gz`: the path is not valid UTF-8"],
    );
    check_refused(
        |_| ok().file(b"./", b"x"),
        STRICT,
        expect!["refusing to extract `./` from `BASE/in/a.tar.gz`: the path is empty"],
    );
    check_refused(
        |_| ok().entry(EntryType::Regular, b"", b"", 0o644, b"x"),
        STRICT,
        expect!["refusing to extract `` from `BASE/in/a.tar.gz`: the path is empty"],
    );
}

#[test]
fn symlinks_that_leave_the_root() {
    check_refused(
        |_| ok().symlink(b"passwd", b"/etc/passwd"),
        STRICT,
        expect!["refusing to extract `passwd` from `BASE/in/a.tar.gz`: a symlink to the absolute path `/etc/passwd`"],
    );
    check_refused(
        |_| ok().symlink(b"a", b"../.."),
        STRICT,
        expect!["refusing to extract `a` from `BASE/in/a.tar.gz`: a symlink to `../..`, outside the archive"],
    );
    check_refused(
        |_| ok().symlink(b"good/up", b"../../outside/canary"),
        VENV,
        expect![[
            r#"refusing to extract `good/up` from `BASE/in/a.tar.gz`: a symlink to `../../outside/canary`, outside the archive"#
        ]],
    );
    check_refused(
        |_| ok().symlink(b"good/l", b"x/../../.."),
        STRICT,
        expect!["refusing to extract `good/l` from `BASE/in/a.tar.gz`: a symlink to `x/../../..`, outside the archive"],
    );
    check_refused(
        |_| ok().symlink(b"empty", b""),
        STRICT,
        expect!["refusing to extract `empty` from `BASE/in/a.tar.gz`: a symlink with an empty target"],
    );
    check_refused(
        |_| ok().symlink(b"nul", b"ok\0/../../.."),
        STRICT,
        expect![[
            r#"refusing to extract `nul` from `BASE/in/a.tar.gz`: a symlink to `ok\u{0}/../../..`, which contains a NUL byte"#
        ]],
    );
    // Each target stays inside judged alone, but `s/..` climbs from where `s` points.
    check_refused(
        |_| ok().symlink(b"s", b".").symlink(b"l", b"s/../outside/canary"),
        STRICT,
        expect![[
            r#"refusing to extract `l` from `BASE/in/a.tar.gz`: a symlink to `s/../outside/canary`, which leads outside the archive through other symlinks"#
        ]],
    );
    check_refused(
        |_| ok().symlink(b"good/deep", b"..").symlink(b"l", b"good/deep/../..").symlink(b"x", b"l/.."),
        STRICT,
        expect![[
            r#"refusing to extract `l` from `BASE/in/a.tar.gz`: a symlink to `good/deep/../..`, which leads outside the archive through other symlinks"#
        ]],
    );
    check_refused(
        |_| ok().symlink(b"a", b"b").symlink(b"b", b"a"),
        STRICT,
        expect![
            "refusing to extract `a` from `BASE/in/a.tar.gz`: a symlink to `b`, which goes round a loop of symlinks"
        ],
    );
}

#[test]
fn writes_through_symlinks() {
    // The classic: a link to a directory outside, then a file "inside" the link.
    check_refused(
        |base| ok().symlink(b"a", format!("{base}/outside").as_bytes()).file(b"a/canary", b"owned"),
        VENV,
        expect![[
            r#"refusing to extract `a/canary` from `BASE/in/a.tar.gz`: `a` is a symlink in the archive, and nothing may be written through one"#
        ]],
    );
    // Refused even when the link points inside: the rule does not depend on the target.
    check_refused(
        |_| ok().symlink(b"a", b"good").file(b"a/x", b"x"),
        STRICT,
        expect![[
            r#"refusing to extract `a/x` from `BASE/in/a.tar.gz`: `a` is a symlink in the archive, and nothing may be written through one"#
        ]],
    );
    check_refused(
        |base| ok().symlink(b"a", format!("{base}/outside").as_bytes()).dir(b"a/./sub/"),
        VENV,
        expect![[
            r#"refusing to extract `a/./sub/` from `BASE/in/a.tar.gz`: `a` is a symlink in the archive, and nothing may be written through one"#
        ]],
    );
    check_refused(
        |base| ok().symlink(b"a", format!("{base}/outside").as_bytes()).symlink(b"a/l", b"x"),
        VENV,
        expect![[
            r#"refusing to extract `a/l` from `BASE/in/a.tar.gz`: `a` is a symlink in the archive, and nothing may be written through one"#
        ]],
    );
    check_refused(
        |_| ok().file(b"f", b"x").file(b"f/x", b"y"),
        STRICT,
        expect!["refusing to extract `f/x` from `BASE/in/a.tar.gz`: `f` is a file in the archive"],
    );
}

#[test]
fn hard_links() {
    check_refused(
        |_| ok().hardlink(b"passwd", b"/etc/passwd"),
        STRICT,
        expect![
            "refusing to extract `passwd` from `BASE/in/a.tar.gz`: a hard link to `/etc/passwd`: the path is absolute"
        ],
    );
    check_refused(
        |_| ok().hardlink(b"x", b"../x"),
        STRICT,
        expect![
            "refusing to extract `x` from `BASE/in/a.tar.gz`: a hard link to `../x`: the path has a `..` component"
        ],
    );
    check_refused(
        |_| ok().hardlink(b"x", b"later").file(b"later", b"x"),
        STRICT,
        expect![[
            r#"refusing to extract `x` from `BASE/in/a.tar.gz`: a hard link to `later`, which is not a file earlier in the archive"#
        ]],
    );
    check_refused(
        |_| ok().hardlink(b"x", b"good"),
        STRICT,
        expect![[
            r#"refusing to extract `x` from `BASE/in/a.tar.gz`: a hard link to `good`, which is not a file earlier in the archive"#
        ]],
    );
    check_refused(
        |base| ok().symlink(b"s", format!("{base}/outside/canary").as_bytes()).hardlink(b"x", b"s"),
        VENV,
        expect![[
            r#"refusing to extract `x` from `BASE/in/a.tar.gz`: a hard link to `s`, which is not a file earlier in the archive"#
        ]],
    );
    check_refused(
        |_| ok().hardlink(b"x", b""),
        STRICT,
        expect!["refusing to extract `x` from `BASE/in/a.tar.gz`: a hard link with an empty target"],
    );
}

#[test]
fn special_files_and_other_types() {
    let refused = |entry_type, what: Expect| check_refused(|_| ok().special(entry_type, b"dev"), STRICT, what);
    refused(
        EntryType::Char,
        expect![[
            r#"refusing to extract `dev` from `BASE/in/a.tar.gz`: a character device; only files, directories and links can be extracted"#
        ]],
    );
    refused(
        EntryType::Block,
        expect![[
            r#"refusing to extract `dev` from `BASE/in/a.tar.gz`: a block device; only files, directories and links can be extracted"#
        ]],
    );
    refused(
        EntryType::Fifo,
        expect![[
            r#"refusing to extract `dev` from `BASE/in/a.tar.gz`: a FIFO; only files, directories and links can be extracted"#
        ]],
    );
    refused(
        EntryType::Continuous,
        expect![[
            r#"refusing to extract `dev` from `BASE/in/a.tar.gz`: a contiguous file; only files, directories and links can be extracted"#
        ]],
    );
    refused(
        EntryType::new(b'Z'),
        expect![[
            r#"refusing to extract `dev` from `BASE/in/a.tar.gz`: an entry of type 'Z'; only files, directories and links can be extracted"#
        ]],
    );
}

#[test]
fn duplicates() {
    check_refused(
        |_| ok().file(b"good/ok.txt", b"again"),
        STRICT,
        expect!["refusing to extract `good/ok.txt` from `BASE/in/a.tar.gz`: the archive has this path twice"],
    );
    check_refused(
        |_| ok().file(b"./good//ok.txt", b"again"),
        STRICT,
        expect!["refusing to extract `./good//ok.txt` from `BASE/in/a.tar.gz`: the archive has this path twice"],
    );
    check_refused(
        |_| ok().dir(b"good/"),
        STRICT,
        expect!["refusing to extract `good/` from `BASE/in/a.tar.gz`: the archive has this path twice"],
    );
    check_refused(
        |_| ok().symlink(b"good", b"elsewhere"),
        STRICT,
        expect!["refusing to extract `good` from `BASE/in/a.tar.gz`: the archive has this path twice"],
    );
    check_refused(
        |_| ok().symlink(b"l", b"good").symlink(b"l", b"good/ok.txt"),
        STRICT,
        expect!["refusing to extract `l` from `BASE/in/a.tar.gz`: the archive has this path twice"],
    );
}

#[test]
fn destination_and_archive_problems() {
    let existing = scene(|_| ok());
    fs::create_dir(&existing.dest).unwrap();
    let err = existing.extract(STRICT).unwrap_err();
    assert!(matches!(err, BundleError::DestExists { .. }), "{err:?}");
    assert_eq!(fs::read_dir(&existing.dest).unwrap().count(), 0);

    let scene = scene(|_| ok());
    let err = extract(&scene.base.join("in/missing.tar.gz"), &scene.dest, &STRICT).unwrap_err();
    assert!(matches!(err, BundleError::Read { .. }), "{err:?}");
    let err = extract(&scene.archive, &scene.base.join("no/such/dir"), &STRICT).unwrap_err();
    assert!(err.to_string().starts_with("failed to create a temporary file in"), "{err}");
    let err = extract(&scene.archive, Utf8Path::new("/"), &STRICT).unwrap_err();
    expect!["invalid archive path `/`: an extraction destination must end in a directory name"]
        .assert_eq(&err.to_string());

    // A corrupt archive fails part-way through; nothing is left.
    let mut bytes = ok().file(b"big", &vec![7u8; 200_000]).gz();
    let cut = bytes.len() - 100;
    bytes.truncate(cut);
    let before = listing(&scene.base);
    fs::write(&scene.archive, &bytes).unwrap();
    let err = scene.extract(STRICT).unwrap_err();
    assert!(matches!(err, BundleError::ReadEntry { .. } | BundleError::ReadArchive { .. }), "{err:?}");
    assert_eq!(listing(&scene.base), before);

    fs::write(&scene.archive, b"not gzip at all").unwrap();
    let err = scene.extract(STRICT).unwrap_err();
    assert!(matches!(err, BundleError::ReadArchive { .. }), "{err:?}");
    assert_eq!(listing(&scene.base), before);
}

fn mode(path: &Utf8Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn modes_are_normalised() {
    let scene = scene(|_| {
        RawTar::new()
            .entry(EntryType::Directory, b"open/", b"", 0o1777, b"")
            .entry(EntryType::Directory, b"closed/", b"", 0o700, b"")
            .entry(EntryType::Regular, b"open/setuid", b"", 0o4777, b"#!")
            .entry(EntryType::Regular, b"open/world", b"", 0o666, b"w")
            .entry(EntryType::Regular, b"closed/secret", b"", 0o600, b"s")
            .entry(EntryType::Regular, b"closed/group-exec", b"", 0o610, b"g")
            .entry(EntryType::Regular, b"implicit/dir/file", b"", 0o644, b"i")
    });
    let report = scene.extract(STRICT).unwrap();
    assert_eq!((report.files, report.bytes, report.manifest), (5, 6, None));
    let d = &scene.dest;
    let modes: Vec<(String, u32)> = ["", "open", "closed", "implicit", "implicit/dir"]
        .iter()
        .map(|p| (p.to_string(), mode(&d.join(p))))
        .chain(
            ["open/setuid", "open/world", "closed/secret", "closed/group-exec", "implicit/dir/file"]
                .iter()
                .map(|p| (p.to_string(), mode(&d.join(p)))),
        )
        .collect();
    expect![[r#"
        [
            (
                "",
                493,
            ),
            (
                "open",
                493,
            ),
            (
                "closed",
                493,
            ),
            (
                "implicit",
                493,
            ),
            (
                "implicit/dir",
                493,
            ),
            (
                "open/setuid",
                493,
            ),
            (
                "open/world",
                420,
            ),
            (
                "closed/secret",
                420,
            ),
            (
                "closed/group-exec",
                493,
            ),
            (
                "implicit/dir/file",
                420,
            ),
        ]
    "#]]
    .assert_debug_eq(&modes);
    assert_eq!(fs::read_to_string(d.join("implicit/dir/file")).unwrap(), "i");
}

#[test]
fn links_hard_links_and_late_directory_entries() {
    let scene = scene(|_| {
        RawTar::new()
            .dir(b"./")
            .file(b"a/b/c.txt", b"content")
            .dir(b"a/")
            .hardlink(b"a/d.txt", b"./a/b/c.txt")
            .symlink(b"a/l", b"b/c.txt")
            .symlink(b"bin/python", b"/usr/bin/python3.11")
            .symlink(b"bin/python3", b"python")
            .symlink(b"up", b"a/b/..")
    });
    check_refused(
        |_| RawTar::new().symlink(b"bin/python", b"/usr/bin/python3.11").symlink(b"bin/python3", b"python"),
        STRICT,
        expect![[
            r#"refusing to extract `bin/python` from `BASE/in/a.tar.gz`: a symlink to the absolute path `/usr/bin/python3.11`"#
        ]],
    );
    let report = scene.extract(VENV).unwrap();
    assert_eq!((report.files, report.bytes), (2, 7));
    let d = &scene.dest;
    assert_eq!(fs::read_to_string(d.join("a/l")).unwrap(), "content");
    let (c, hard) = (fs::metadata(d.join("a/b/c.txt")).unwrap(), fs::metadata(d.join("a/d.txt")).unwrap());
    assert_eq!((c.ino(), c.nlink()), (hard.ino(), 2));
    assert_eq!(fs::read_link(d.join("bin/python")).unwrap().to_str(), Some("/usr/bin/python3.11"));
    assert_eq!(fs::read_link(d.join("bin/python3")).unwrap().to_str(), Some("python"));
    assert!(d.join("up/b/c.txt").is_file());
    // Only the destination is new.
    let left: Vec<_> = fs::read_dir(&scene.work).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["dest"]);
}

#[test]
fn relative_destination_and_an_empty_archive() {
    let scene = scene(|_| RawTar::new());
    let report = scene.extract(STRICT).unwrap();
    assert_eq!((report.files, report.bytes), (0, 0));
    assert_eq!(fs::read_dir(&scene.dest).unwrap().count(), 0);
    assert_eq!(mode(&scene.dest), 0o755);
}

/// Every entry under `root`, one a line, with file contents and symlink targets.
fn snapshot(root: &Utf8Path) -> Vec<String> {
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .min_depth(1)
        .into_iter()
        .map(|entry| {
            let entry = entry.unwrap();
            let path = Utf8Path::from_path(entry.path()).unwrap();
            let rel = path.strip_prefix(root).unwrap();
            let meta = fs::symlink_metadata(path).unwrap();
            if meta.is_symlink() {
                format!("l {rel} -> {}", fs::read_link(path).unwrap().display())
            } else if meta.is_dir() {
                format!("d {rel}")
            } else {
                format!("f {:o} {rel} {:?} links={}", mode(path), fs::read_to_string(path).unwrap(), meta.nlink())
            }
        })
        .collect()
}

#[test]
fn archives_from_gnu_tar() {
    let tree = tree(
        "
        exec bin/run #!/bin/sh
        link bin/alias run
        link bin/python /usr/bin/python3
        dir empty
        file pkg/a.py a
        hardlink pkg/b.py pkg/a.py
        file pkg/é日本.txt u
        ",
    );
    for format in ["gnu", "posix"] {
        let archive = tree.out.join(format!("{format}.tar.gz"));
        run(
            "tar",
            &tree.out,
            &[&format!("--format={format}"), "-czf", archive.as_str(), "-C", tree.root.as_str(), "."],
        );
        let dest = tree.out.join(format!("{format}-x"));
        let report = extract(&archive, &dest, &VENV).unwrap();
        assert_eq!((report.files, report.bytes), (4, 11), "{format}");
        expect![[r##"
            [
                "d bin",
                "l bin/alias -> run",
                "l bin/python -> /usr/bin/python3",
                "f 755 bin/run \"#!/bin/sh\" links=1",
                "d empty",
                "d pkg",
                "f 644 pkg/a.py \"a\" links=2",
                "f 644 pkg/b.py \"a\" links=2",
                "f 644 pkg/é日本.txt \"u\" links=1",
            ]
        "##]]
        .assert_debug_eq(&snapshot(&dest));
    }
}

// ---------------------------------------------------------------------------------------
// Random entry names

/// One path component: the dangerous ones, ordinary ones, Unicode and names too long
/// for a file system.
fn component() -> impl Strategy<Value = String> {
    prop_oneof![
        20 => "[a-c]{1,2}",
        4 => "\\PC{1,6}",
        1 => Just("é日本".to_owned()),
        1 => Just("outside".to_owned()),
        1 => Just("..".to_owned()),
        1 => Just(".".to_owned()),
        1 => Just(String::new()),
        1 => Just("nul\0".to_owned()),
        1 => Just("x".repeat(120)),
        1 => Just("n".repeat(300)),
    ]
}

/// A name of one to four components, absolute ones under the scene's directory so an
/// escape would land where the test looks.
fn name() -> impl Strategy<Value = (bool, Vec<String>)> {
    (prop::bool::weighted(0.05), prop::collection::vec(component(), 1..4))
}

/// A link target: like [`name`], but climbing and aiming at `outside` more often.
fn target() -> impl Strategy<Value = (bool, Vec<String>)> {
    let component = prop_oneof![
        4 => Just("..".to_owned()),
        1 => Just(".".to_owned()),
        2 => Just("outside".to_owned()),
        1 => Just("canary".to_owned()),
        4 => component(),
    ];
    (prop::bool::weighted(0.1), prop::collection::vec(component, 1..5))
}

fn render_name(base: &Utf8Path, (absolute, parts): &(bool, Vec<String>)) -> Vec<u8> {
    let joined = parts.join("/");
    // An empty first component makes an absolute name too; keep it under `base` as well.
    if *absolute || joined.starts_with('/') { format!("{base}/{joined}").into_bytes() } else { joined.into_bytes() }
}

#[derive(Debug, Clone)]
enum RandomEntry {
    File((bool, Vec<String>)),
    Dir((bool, Vec<String>)),
    Symlink((bool, Vec<String>), (bool, Vec<String>)),
    HardLink((bool, Vec<String>), (bool, Vec<String>)),
}

fn random_entry() -> impl Strategy<Value = RandomEntry> {
    prop_oneof![
        3 => name().prop_map(RandomEntry::File),
        1 => name().prop_map(RandomEntry::Dir),
        2 => (name(), target()).prop_map(|(p, t)| RandomEntry::Symlink(p, t)),
        1 => (name(), target()).prop_map(|(p, t)| RandomEntry::HardLink(p, t)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Whatever the names, extraction fails cleanly or writes only inside `dest`, and
    /// no link it leaves points out (unless absolute links are allowed).
    #[test]
    fn random_entry_names(entries in prop::collection::vec(random_entry(), 1..7), allow_absolute in any::<bool>()) {
        let scene = scene(|base| {
            entries.iter().fold(RawTar::new(), |tar, entry| match entry {
                RandomEntry::File(p) => tar.file(&render_name(base, p), b"data"),
                RandomEntry::Dir(p) => tar.dir(&render_name(base, p)),
                RandomEntry::Symlink(p, t) => tar.symlink(&render_name(base, p), &render_name(base, t)),
                RandomEntry::HardLink(p, t) => tar.hardlink(&render_name(base, p), &render_name(base, t)),
            })
        });
        let before = listing(&scene.base);
        let options = ExtractOptions { allow_absolute_symlinks: allow_absolute, verify_manifest: false };
        match scene.extract(options) {
            Err(_) => {
                prop_assert!(fs::symlink_metadata(&scene.dest).is_err());
                prop_assert_eq!(listing(&scene.base), before);
            }
            Ok(_) => {
                let dest_prefix = format!("{} {}", "d", scene.dest);
                let inside = |line: &String| line.split_once(' ').is_some_and(|(_, p)| Utf8Path::new(p).starts_with(&scene.dest));
                let after: Vec<String> = listing(&scene.base).into_iter().filter(|l| !inside(l)).collect();
                prop_assert_eq!(after, before);
                prop_assert!(listing(&scene.dest).contains(&dest_prefix));
                if !allow_absolute {
                    let real_dest = scene.dest.canonicalize_utf8().unwrap();
                    for entry in walkdir::WalkDir::new(&scene.dest) {
                        let path = entry.unwrap().into_path();
                        if let Ok(real) = path.canonicalize() {
                            prop_assert!(real.starts_with(&real_dest), "{} resolves to {}", path.display(), real.display());
                        }
                    }
                }
            }
        }
    }
}
