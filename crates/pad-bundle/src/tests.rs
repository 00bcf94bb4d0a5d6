//! Tests of the parallel gzip writer and of archives built from trees in temporary
//! directories, read back with the `tar` crate, GNU tar, gzip and Python.

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

use camino::Utf8Path;
use expect_test::{Expect, expect};
use sha2::{Digest, Sha256};

use crate::archive::stays_inside;
use crate::testing::{Tree, run, tempdir, tree};
use crate::{
    ArchiveBuilder, BundleError, FileMode, GzOptions, PackOptions, PackStats, ParallelGzWriter, SymlinkPolicy, pack_dir,
};
use pad_stdx::hex;

// ---------------------------------------------------------------------------------------
// Helpers

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Text-like bytes that compress about as well as source code.
fn text(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: &[&str] =
        &["import", "def", "self", "return", "site-packages", "venv", "(", ")", "\n", "    ", "numpy", "0x1f8b"];
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        state = lcg(state);
        out.extend_from_slice(WORDS[(state >> 33) as usize % WORDS.len()].as_bytes());
        out.push(b' ');
    }
    out.truncate(len);
    out
}

/// Bytes that do not compress.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = lcg(state);
            (state >> 56) as u8
        })
        .collect()
}

fn lcg(state: u64) -> u64 {
    state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407)
}

// ---------------------------------------------------------------------------------------
// Parallel gzip

/// Compresses `data` in chunks of awkward sizes, so block boundaries fall mid-write.
fn gzip(data: &[u8], options: GzOptions) -> Vec<u8> {
    let mut writer = ParallelGzWriter::new(Vec::new(), options).unwrap();
    for chunk in data.chunks(7777) {
        writer.write_all(chunk).unwrap();
    }
    assert_eq!(writer.total_in(), data.len() as u64);
    writer.finish().unwrap()
}

/// Gzip members holding exactly `data`, one per block, the same with 1 and 4 threads.
#[track_caller]
fn check_gz(data: &[u8], level: u32, block_size: usize) -> Vec<u8> {
    let options = GzOptions { level, block_size };
    let one = in_pool(1, || gzip(data, options));
    let four = in_pool(4, || gzip(data, options));
    assert!(one == four, "output depends on the thread count");

    // Member by member: each a fixed header, then exactly one block of the input.
    let blocks: Vec<&[u8]> = if data.is_empty() { vec![&[][..]] } else { data.chunks(block_size).collect() };
    let mut rest = &one[..];
    for (i, block) in blocks.iter().enumerate() {
        assert_eq!(rest[..10], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255], "member {i}");
        let mut decoder = flate2::bufread::GzDecoder::new(rest);
        let mut out = Vec::new();
        decoder.read_to_end(&mut out).unwrap();
        assert!(out == *block, "member {i} holds {} bytes, not its block's {}", out.len(), block.len());
        rest = decoder.into_inner();
    }
    assert!(rest.is_empty(), "{} bytes after the last member", rest.len());

    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&one[..]).read_to_end(&mut out).unwrap();
    assert!(out == data, "MultiGzDecoder read {} bytes, not the {} written", out.len(), data.len());
    one
}

#[test]
fn gzip_edge_cases() {
    const K: usize = 1024;
    check_gz(b"", 6, 64 * K);
    check_gz(b"x", 6, 64 * K);
    check_gz(&text(64 * K, 1), 6, 64 * K); // exactly one block
    check_gz(&text(128 * K, 2), 6, 64 * K); // exactly two blocks
    check_gz(&text(3 * 64 * K + 123, 3), 6, 64 * K); // not a multiple of the block size
    check_gz(&text(300 * K + 1, 4), 6, K); // many small members
    check_gz(&text(2 * K, 5), 6, 1); // one byte per block
    check_gz(&noise(200 * K, 6), 6, 64 * K);
    for level in [0, 1, 9] {
        check_gz(&text(150 * K, 7), level, 32 * K);
    }
}

#[test]
fn gzip_output_reads_with_gzip_and_python() {
    let (_tmp, dir) = tempdir();
    let inputs = [Vec::new(), text(100_000, 1), text(3 * 65_536, 2), noise(70_000, 3)];
    let mut files = Vec::new();
    for (i, data) in inputs.iter().enumerate() {
        for level in [0, 6] {
            let name = format!("in{i}-{level}");
            fs::write(dir.join(format!("{name}.gz")), check_gz(data, level, 65_536)).unwrap();
            files.push((name, data));
        }
    }
    let gz_names: Vec<String> = files.iter().map(|(name, _)| format!("{name}.gz")).collect();
    let gz_args: Vec<&str> = gz_names.iter().map(String::as_str).collect();

    run("gzip", &dir, &[&["-t"], &gz_args[..]].concat());
    let script =
        "import gzip, hashlib, sys\nfor f in sys.argv[1:]: print(hashlib.sha256(gzip.open(f).read()).hexdigest())";
    let hashes = run("python3", &dir, &[&["-c", script], &gz_args[..]].concat());
    let expected: Vec<String> = files.iter().map(|(_, data)| sha256_hex(data)).collect();
    assert_eq!(hashes.lines().collect::<Vec<_>>(), expected);

    run("gzip", &dir, &[&["-d"], &gz_args[..]].concat());
    for (name, data) in &files {
        assert!(fs::read(dir.join(name)).unwrap() == **data, "gzip -d changed {name}");
    }
}

#[track_caller]
fn check_level_size(level: u32, len: usize, expect_stored: bool) {
    let out = check_gz(&vec![0u8; len], level, 64 * 1024);
    assert_eq!(out.len() > len, expect_stored, "level {level}: {} bytes from {len} zeros", out.len());
}

#[test]
fn gzip_levels() {
    check_level_size(0, 200_000, true);
    check_level_size(1, 200_000, false);
    check_level_size(9, 200_000, false);
    assert!(ParallelGzWriter::new(Vec::new(), GzOptions { level: 10, block_size: 1024 }).is_err());
    assert!(ParallelGzWriter::new(Vec::new(), GzOptions { level: 6, block_size: 0 }).is_err());
}

/// Writes `parts` at their levels, switching with `set_level`.
fn gzip_levels_between(parts: &[(u32, &[u8])]) -> Vec<u8> {
    let mut writer = ParallelGzWriter::new(Vec::new(), GzOptions { level: 6, block_size: 64 * 1024 }).unwrap();
    for (level, data) in parts {
        writer.set_level(*level).unwrap();
        assert_eq!(writer.level(), *level);
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap()
}

#[test]
fn gzip_level_changes_between_writes() {
    let zeros = vec![0u8; 100_000];
    let compressible = text(100_000, 1);
    let parts: [(u32, &[u8]); 3] = [(6, &compressible), (0, &zeros), (6, &compressible)];
    let one = in_pool(1, || gzip_levels_between(&parts));
    let four = in_pool(4, || gzip_levels_between(&parts));
    assert!(one == four);
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&one[..]).read_to_end(&mut out).unwrap();
    assert!(out == [&compressible[..], &zeros, &compressible].concat());
    // Only the stored zeros take their full size.
    assert!((100_000..140_000).contains(&one.len()), "{} bytes", one.len());

    let mut writer = ParallelGzWriter::new(Vec::new(), GzOptions::default()).unwrap();
    assert!(writer.set_level(10).is_err());
}

// ---------------------------------------------------------------------------------------
// Trees and archives

/// One line per entry, `TYPE MODE PATH [SIZE | -> TARGET]`, checking that every
/// header carries no time, owner or group.
fn render(archive: &[u8]) -> String {
    let mut out = String::new();
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(archive));
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let header = entry.header();
        let path = entry.path().unwrap().to_str().unwrap().trim_end_matches('/').to_owned();
        assert!(header.as_gnu().is_some(), "{path}: not a GNU header");
        assert_eq!(header.mtime().unwrap(), 0, "{path}");
        assert_eq!((header.uid().unwrap(), header.gid().unwrap()), (0, 0), "{path}");
        assert_eq!((header.username_bytes(), header.groupname_bytes()), (Some(&b""[..]), Some(&b""[..])), "{path}");
        let mode = header.mode().unwrap();
        let line = match header.entry_type() {
            tar::EntryType::Directory => format!("d {mode:o} {path}/"),
            tar::EntryType::Regular => format!("f {mode:o} {path} {}", header.size().unwrap()),
            tar::EntryType::Symlink => {
                format!("l {mode:o} {path} -> {}", entry.link_name().unwrap().unwrap().to_str().unwrap())
            }
            other => panic!("{path}: unexpected entry type {other:?}"),
        };
        writeln!(out, "{line}").unwrap();
    }
    out
}

/// The same listing as [`render`], made by Python's `tarfile`.
fn render_with_python(archive: &Utf8Path) -> String {
    let script = r#"
import sys, tarfile
with tarfile.open(sys.argv[1], "r:gz") as t:
    for m in t.getmembers():
        assert (m.mtime, m.uid, m.gid, m.uname, m.gname) == (0, 0, 0, "", ""), m
        name = m.name.rstrip("/")
        if m.isdir(): print(f"d {m.mode:o} {name}/")
        elif m.issym(): print(f"l {m.mode:o} {name} -> {m.linkname}")
        elif m.isfile(): print(f"f {m.mode:o} {name} {m.size}")
        else: raise SystemExit(f"unexpected member {m}")
"#;
    run("python3", archive.parent().unwrap(), &["-c", script, archive.as_str()])
}

fn pack(tree: &Tree, options: &PackOptions) -> (Vec<u8>, PackStats) {
    let dest = tree.out.join("t.tar.gz");
    let stats = pack_dir(&tree.root, &dest, options).unwrap();
    let bytes = fs::read(&dest).unwrap();
    (bytes, stats)
}

#[track_caller]
fn check_pack(fixture: &str, options: &PackOptions, expect: Expect) {
    let tree = tree(fixture);
    let (bytes, stats) = pack(&tree, options);
    let listing = render(&bytes);
    expect.assert_eq(&listing);
    assert_eq!(stats.entries, listing.lines().count() as u64);
    assert_eq!(stats.output_bytes, bytes.len() as u64);
    assert_eq!(stats.sha256, sha256_hex(&bytes));
}

const VENV: &str = "
    file pyvenv.cfg home = /usr/bin
    exec bin/activate-ish #!/bin/sh
    link bin/python /usr/bin/python3.11
    link bin/python3 python
    dir include
    file lib/python3.11/site-packages/pkg/__init__.py import os
    file lib/python3.11/site-packages/pkg/__pycache__/__init__.cpython-311.pyc xx
    file lib/python3.11/site-packages/pkg/stale.pyc xx
    file lib/python3.11/site-packages/pkg-1.0.dist-info/RECORD pkg/__init__.py
    file lib/python3.11/site-packages/pkg_a.py a
    hardlink lib/python3.11/site-packages/pkg_b.py lib/python3.11/site-packages/pkg_a.py
    link lib64 lib
";

#[test]
fn venv_layout_with_symlinks_kept() {
    let options = PackOptions { symlinks: SymlinkPolicy::Keep, ..PackOptions::default() };
    check_pack(
        VENV,
        &options,
        expect![[r#"
            d 755 bin/
            f 755 bin/activate-ish 9
            l 777 bin/python -> /usr/bin/python3.11
            l 777 bin/python3 -> python
            d 755 include/
            d 755 lib/
            d 755 lib/python3.11/
            d 755 lib/python3.11/site-packages/
            d 755 lib/python3.11/site-packages/pkg/
            f 644 lib/python3.11/site-packages/pkg/__init__.py 9
            d 755 lib/python3.11/site-packages/pkg-1.0.dist-info/
            f 644 lib/python3.11/site-packages/pkg-1.0.dist-info/RECORD 15
            f 644 lib/python3.11/site-packages/pkg_a.py 1
            f 644 lib/python3.11/site-packages/pkg_b.py 1
            l 777 lib64 -> lib
            f 644 pyvenv.cfg 15
        "#]],
    );
}

#[test]
fn prefix_exclusions_and_pyc_option() {
    let options = PackOptions {
        prefix: Some("projects/demo/venv".into()),
        exclude_names: vec!["pkg-1.0.dist-info".into(), "lib64".into()],
        exclude_pyc: false,
        symlinks: SymlinkPolicy::Keep,
        ..PackOptions::default()
    };
    check_pack(
        VENV,
        &options,
        expect![[r#"
            d 755 projects/
            d 755 projects/demo/
            d 755 projects/demo/venv/
            d 755 projects/demo/venv/bin/
            f 755 projects/demo/venv/bin/activate-ish 9
            l 777 projects/demo/venv/bin/python -> /usr/bin/python3.11
            l 777 projects/demo/venv/bin/python3 -> python
            d 755 projects/demo/venv/include/
            d 755 projects/demo/venv/lib/
            d 755 projects/demo/venv/lib/python3.11/
            d 755 projects/demo/venv/lib/python3.11/site-packages/
            d 755 projects/demo/venv/lib/python3.11/site-packages/pkg/
            f 644 projects/demo/venv/lib/python3.11/site-packages/pkg/__init__.py 9
            d 755 projects/demo/venv/lib/python3.11/site-packages/pkg/__pycache__/
            f 644 projects/demo/venv/lib/python3.11/site-packages/pkg/__pycache__/__init__.cpython-311.pyc 2
            f 644 projects/demo/venv/lib/python3.11/site-packages/pkg/stale.pyc 2
            f 644 projects/demo/venv/lib/python3.11/site-packages/pkg_a.py 1
            f 644 projects/demo/venv/lib/python3.11/site-packages/pkg_b.py 1
            f 644 projects/demo/venv/pyvenv.cfg 15
        "#]],
    );
}

#[test]
fn sorted_by_path_components() {
    // `a-b` sorts after everything under `a`, as `tar --sort=name` has it.
    check_pack(
        "
        file a-b 1
        file a/x 22
        file a.txt 333
        dir a/empty
        file B 4
        link a/z ../a.txt
        ",
        &PackOptions::default(),
        expect![[r#"
            f 644 B 1
            d 755 a/
            d 755 a/empty/
            f 644 a/x 2
            l 777 a/z -> ../a.txt
            f 644 a-b 1
            f 644 a.txt 3
        "#]],
    );
}

#[test]
fn empty_tree() {
    check_pack("", &PackOptions::default(), expect![""]);
}

const MIXED: &str = "
    exec bin/run #!/bin/sh
    file bin/data.txt hello
    link bin/alias run
    dir empty/inner
    file pkg/__pycache__/m.cpython-311.pyc x
    file pkg/m.py print(1)
";

#[test]
fn identical_after_touching_metadata_and_with_any_thread_count() {
    let tree = tree(MIXED);
    let options = PackOptions { block_size: 4096, ..PackOptions::default() };
    let (first, _) = pack(&tree, &options);

    // Permission bits other than "executable or not" and all times are not recorded.
    let long_ago = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    for rel in ["bin/run", "bin/data.txt", "pkg/m.py"] {
        let file = fs::File::options().write(true).open(tree.root.join(rel)).unwrap();
        file.set_modified(long_ago).unwrap();
    }
    fs::set_permissions(tree.root.join("bin/data.txt"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(tree.root.join("bin/run"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::set_permissions(tree.root.join("empty/inner"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(tree.root.join("bin/transient"), "").unwrap();
    fs::remove_file(tree.root.join("bin/transient")).unwrap();

    let (second, _) = in_pool(1, || pack(&tree, &options));
    let (third, _) = in_pool(4, || pack(&tree, &options));
    assert!(first == second, "metadata changed the archive");
    assert!(first == third, "the thread count changed the archive");
}

#[test]
fn gnu_tar_and_python_extract_it() {
    let tree = tree(MIXED);
    let dest = tree.out.join("t.tar.gz");
    pack_dir(&tree.root, &dest, &PackOptions::default()).unwrap();
    assert_eq!(render_with_python(&dest), render(&fs::read(&dest).unwrap()));

    let x = tree.out.join("x");
    fs::create_dir(&x).unwrap();
    run("tar", &x, &["-xzf", dest.as_str()]);
    let mode = |rel: &str| fs::symlink_metadata(x.join(rel)).unwrap().permissions().mode() & 0o777;
    assert_eq!(fs::read_to_string(x.join("bin/run")).unwrap(), "#!/bin/sh");
    assert_eq!(mode("bin/run"), 0o755);
    assert_eq!(mode("bin/data.txt") & 0o111, 0);
    assert_eq!(fs::read_link(x.join("bin/alias")).unwrap().to_str(), Some("run"));
    assert!(x.join("empty/inner").is_dir());
    assert!(x.join("pkg/m.py").is_file());
    assert!(!x.join("pkg/__pycache__").exists());

    let y = tree.out.join("y");
    let script = "import sys, tarfile\nwith tarfile.open(sys.argv[1]) as t: t.extractall(sys.argv[2])";
    run("python3", &tree.out, &["-c", script, dest.as_str(), y.as_str()]);
    assert_eq!(fs::read_to_string(y.join("pkg/m.py")).unwrap(), "print(1)");
    assert_eq!(fs::read_link(y.join("bin/alias")).unwrap().to_str(), Some("run"));
    assert!(y.join("empty/inner").is_dir());

    run("gzip", &tree.out, &["-t", dest.as_str()]);
}

#[test]
fn long_paths_round_trip() {
    let name_120 = "n".repeat(120);
    let long_file = format!("deep/{}/{}/{}.py", "a".repeat(100), "b".repeat(100), "c".repeat(80));
    let long_target = format!("../{name_120}");
    assert!(long_file.len() > 255);
    let fixture = format!("file {name_120} x\nfile {long_file} body\nlink deep/l {long_target}");
    let tree = tree(&fixture);
    let (bytes, _) = pack(&tree, &PackOptions::default());
    let listing = render(&bytes);
    assert!(listing.contains(&format!("f 644 {long_file} 4\n")), "{listing}");
    assert!(listing.contains(&format!("l 777 deep/l -> {long_target}\n")), "{listing}");

    let dest = tree.out.join("t.tar.gz");
    assert_eq!(render_with_python(&dest), listing);
    let x = tree.out.join("x");
    fs::create_dir(&x).unwrap();
    run("tar", &x, &["-xzf", dest.as_str()]);
    assert_eq!(fs::read_to_string(x.join(&long_file)).unwrap(), "body");
    assert_eq!(fs::read_to_string(x.join("deep/l")).unwrap(), "x");
}

/// Packing fails with a message containing each of `needles`, leaving nothing behind.
#[track_caller]
fn check_refused(fixture: &str, options: &PackOptions, needles: &[&str]) {
    let tree = tree(fixture);
    let dest = tree.out.join("t.tar.gz");
    let err = pack_dir(&tree.root, &dest, options).unwrap_err();
    let message = err.to_string().replace(tree.root.as_str(), "ROOT");
    for needle in needles {
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }
    let left: Vec<_> = fs::read_dir(&tree.out).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn refused_trees_leave_nothing() {
    let default = PackOptions::default();
    check_refused("file a x\nfifo sub/pipe", &default, &["`ROOT/sub/pipe` is a FIFO"]);
    check_refused("socket s", &default, &["`ROOT/s` is a socket"]);
    check_refused("link bin/python /usr/bin/python3", &default, &["symlink `ROOT/bin/python`", "`/usr/bin/python3`"]);
    check_refused("link a/up ../../etc", &default, &["symlink `ROOT/a/up` points to `../../etc`, outside"]);
    // Excluded names are never looked at.
    let tree = tree("fifo __pycache__/pipe\nfile a x");
    pack_dir(&tree.root, &tree.out.join("t.tar.gz"), &default).unwrap();
}

#[test]
fn missing_source_or_destination_directory() {
    let tree = tree("file a x");
    let err = pack_dir(&tree.root.join("nope"), &tree.out.join("t.tar.gz"), &PackOptions::default()).unwrap_err();
    assert!(matches!(err, BundleError::Read { .. }), "{err:?}");
    let err = pack_dir(&tree.root, &tree.out.join("nope/t.tar.gz"), &PackOptions::default()).unwrap_err();
    assert!(err.to_string().starts_with("failed to create a temporary file in"), "{err}");
    let err = pack_dir(&tree.root.join("a"), &tree.out.join("t.tar.gz"), &PackOptions::default()).unwrap_err();
    assert!(err.to_string().ends_with("/tree/a` is not a directory"), "{err}");
    let err = pack_dir(&tree.root, &tree.root.join("t.tar.gz"), &PackOptions::default()).unwrap_err();
    assert!(matches!(err, BundleError::DestInsideSource { .. }), "{err:?}");
    assert!(!tree.root.join("t.tar.gz").exists());
}

#[test]
fn destination_is_replaced_and_readable() {
    let tree = tree("file a x");
    let dest = tree.out.join("t.tar.gz");
    fs::write(&dest, "old").unwrap();
    let stats = pack_dir(&tree.root, &dest, &PackOptions::default()).unwrap();
    assert_eq!(fs::read(&dest).unwrap().len() as u64, stats.output_bytes);
    // A new file's mode under the current umask, which the archive should match
    // rather than a temporary file's 0o600.
    let probe = tree.out.join("probe");
    fs::write(&probe, "").unwrap();
    let fresh = fs::metadata(&probe).unwrap().permissions().mode() & 0o777;
    assert_eq!(fs::metadata(&dest).unwrap().permissions().mode() & 0o777, fresh & 0o644);
    assert_eq!(fs::read_dir(&tree.out).unwrap().count(), 2);
}

#[test]
fn symlink_policies() {
    let fixture = "link bin/python /usr/bin/python3\nlink a/up ../../etc";
    let options = PackOptions { symlinks: SymlinkPolicy::Keep, ..PackOptions::default() };
    check_pack(
        fixture,
        &options,
        expect![[r#"
            d 755 a/
            l 777 a/up -> ../../etc
            d 755 bin/
            l 777 bin/python -> /usr/bin/python3
        "#]],
    );
}

#[track_caller]
fn check_inside(link: &str, target: &str, inside: bool) {
    assert_eq!(stays_inside(Utf8Path::new(link), Utf8Path::new(target)), inside, "{link} -> {target}");
}

#[test]
fn lexical_symlink_resolution() {
    check_inside("l", "x", true);
    check_inside("l", ".", true);
    check_inside("l", "..", false);
    check_inside("l", "../x", false);
    check_inside("a/l", "../x", true);
    check_inside("a/l", "..", true);
    check_inside("a/b/l", "../../x", true);
    check_inside("a/b/l", "../../../x", false);
    check_inside("a/l", "x/../../..", false);
    check_inside("a/l", "./x/./y", true);
    check_inside("a/l", "/usr/bin/python3", false);
}

// ---------------------------------------------------------------------------------------
// ArchiveBuilder

fn build(steps: impl FnOnce(&mut ArchiveBuilder<Vec<u8>>) -> Result<(), BundleError>) -> Result<String, String> {
    let mut builder = ArchiveBuilder::new(Vec::new(), &PackOptions::default()).unwrap();
    steps(&mut builder).map_err(|err| err.to_string())?;
    let (bytes, stats) = builder.finish().unwrap();
    assert_eq!(stats.sha256, sha256_hex(&bytes));
    Ok(render(&bytes))
}

#[test]
fn builder_adds_parents_and_mixes_sources() {
    let tree = tree("exec run #!/bin/sh\nfile sub/f y\nfile lone z");
    let listing = build(|b| {
        b.add_bytes("MANIFEST.json".into(), b"{}", false)?;
        b.add_file("bin/tool".into(), &tree.root.join("run"), FileMode::FromSource)?;
        b.add_file("bin/tool.txt".into(), &tree.root.join("run"), FileMode::Regular)?;
        b.add_dir("dags".into())?;
        b.add_dir("dags".into())?; // the directory just added: nothing to do
        b.add_bytes("dags/x.py".into(), b"import y", false)?;
        b.add_dir_tree("projects/p/venv".into(), &tree.root)?;
        b.add_file("projects/q/lone".into(), &tree.root.join("lone"), FileMode::Executable)?;
        b.add_symlink("projects/q/self".into(), "lone".into())?;
        b.add_bytes("z".into(), b"", true)
    })
    .unwrap();
    expect![[r#"
        f 644 MANIFEST.json 2
        d 755 bin/
        f 755 bin/tool 9
        f 644 bin/tool.txt 9
        d 755 dags/
        f 644 dags/x.py 8
        d 755 projects/
        d 755 projects/p/
        d 755 projects/p/venv/
        f 644 projects/p/venv/lone 1
        f 755 projects/p/venv/run 9
        d 755 projects/p/venv/sub/
        f 644 projects/p/venv/sub/f 1
        d 755 projects/q/
        f 755 projects/q/lone 1
        l 777 projects/q/self -> lone
        f 755 z 0
    "#]]
    .assert_eq(&listing);
}

#[track_caller]
fn check_builder_error(steps: impl FnOnce(&mut ArchiveBuilder<Vec<u8>>) -> Result<(), BundleError>, expect: Expect) {
    expect.assert_eq(&build(steps).unwrap_err());
}

#[test]
fn builder_errors() {
    check_builder_error(
        |b| {
            b.add_bytes("b".into(), b"", false)?;
            b.add_bytes("a".into(), b"", false)
        },
        expect!["archive entry `a` added after `b`: entries must be added in sorted order"],
    );
    check_builder_error(
        |b| {
            b.add_bytes("a".into(), b"", false)?;
            b.add_bytes("a".into(), b"", false)
        },
        expect!["archive entry `a` added after `a`: entries must be added in sorted order"],
    );
    check_builder_error(
        |b| {
            b.add_bytes("a/x".into(), b"", false)?;
            b.add_bytes("a-b".into(), b"", false)?;
            b.add_bytes("a/y".into(), b"", false)
        },
        expect!["archive entry `a/y` added after `a-b`: entries must be added in sorted order"],
    );
    check_builder_error(
        |b| {
            b.add_bytes("a".into(), b"", false)?;
            b.add_bytes("a/x".into(), b"", false)
        },
        expect!["archive entry `a` is not a directory, so `a/x` cannot go under it"],
    );
    check_builder_error(
        |b| b.add_bytes("../x".into(), b"", false),
        expect!["invalid archive path `../x`: archive paths must not contain `..`"],
    );
    check_builder_error(
        |b| b.add_bytes("/etc/x".into(), b"", false),
        expect!["invalid archive path `/etc/x`: archive paths must be relative"],
    );
    check_builder_error(
        |b| b.add_bytes("./".into(), b"", false),
        expect!["invalid archive path `./`: archive paths must not be empty"],
    );
    check_builder_error(
        |b| b.add_symlink("a/l".into(), "../../x".into()),
        expect!["symlink `a/l` points to `../../x`, outside the archive"],
    );
    check_builder_error(
        |b| b.add_file("f".into(), "/nonexistent/pad-bundle".into(), FileMode::FromSource),
        expect!["failed to read `/nonexistent/pad-bundle`"],
    );
    check_builder_error(|b| b.set_level(11), expect!["invalid archive options: gzip level 11 is not in 0..=9"]);
    let err = ArchiveBuilder::new(Vec::new(), &PackOptions { block_size: 0, ..PackOptions::default() }).err().unwrap();
    expect!["invalid archive options: the gzip block size must not be 0"].assert_eq(&err.to_string());
}

#[test]
fn builder_stores_precompressed_members_at_level_zero() {
    let nested = noise(300_000, 4);
    let with_levels = |stored: bool| {
        let mut builder = ArchiveBuilder::new(Vec::new(), &PackOptions::default()).unwrap();
        builder.add_bytes("a.txt".into(), &text(50_000, 1), false).unwrap();
        if stored {
            builder.set_level(0).unwrap();
        }
        builder.add_bytes("venv.tar.gz".into(), &nested, false).unwrap();
        builder.set_level(6).unwrap();
        builder.add_bytes("z.txt".into(), &text(50_000, 2), false).unwrap();
        builder.finish().unwrap()
    };
    let (stored, stats) = with_levels(true);
    let (compressed, _) = with_levels(false);
    assert_eq!(render(&stored), render(&compressed));
    assert_eq!(stats.input_bytes, 400_000);
    // Storing costs a few bytes per 64 KiB over the data itself.
    assert!(stored.len() < compressed.len() + 1024, "{} vs {}", stored.len(), compressed.len());
    let mut out = Vec::new();
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(&stored[..]));
    let mut entry = archive.entries().unwrap().nth(1).unwrap().unwrap();
    entry.read_to_end(&mut out).unwrap();
    assert!(out == nested);
}
