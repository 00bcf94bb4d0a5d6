//! The protocol on a directory store: what is visible when, replacing, verifying on the
//! way in and out, sweeping, and the retry policy. The other backends run the same code
//! above their requests; the end-to-end tests drive them against real servers.

use std::cell::Cell;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};

use crate::{ATTEMPTS, Backend, Options, Problem, Store, StoreError, Transient, checksum, retry, sha256_file};

const TMP: &str = ".tmp-test";

fn store(root: &Utf8Path) -> Store {
    let options = Options { tmp_dir: TMP, user_agent: "pad-store-test", body_timeout: None };
    Store::open(Backend::Fs { root: root.to_owned() }, &options).unwrap()
}

fn temp_dir() -> (tempfile::TempDir, Utf8PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = Utf8Path::from_path(dir.path()).unwrap().to_owned();
    (dir, path)
}

fn sha256(bytes: &[u8]) -> String {
    let (_dir, root) = temp_dir();
    std::fs::write(root.join("f"), bytes).unwrap();
    sha256_file(&root.join("f")).unwrap().0
}

/// The names under `dir`, sorted, its temporary directory's as `TMP/<name>`.
fn names(dir: &Utf8Path) -> Vec<String> {
    let mut names = Vec::new();
    for entry in walkdir(dir) {
        names.push(entry.strip_prefix(dir).unwrap().to_string());
    }
    names.sort();
    names
}

fn walkdir(dir: &Utf8Path) -> Vec<Utf8PathBuf> {
    let mut files = Vec::new();
    for entry in dir.read_dir_utf8().unwrap() {
        let path = entry.unwrap().into_path();
        if path.is_dir() {
            files.extend(walkdir(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn a_put_is_visible_only_once_committed_and_its_checksum_is_written_last() {
    let (_dir, root) = temp_dir();
    let store = store(&root);
    let data = b"hello, store".repeat(1000);
    let mut put = store.put("p/1/a.bin", Some(data.len() as u64), false).unwrap();
    put.write(&data[..100]).unwrap();
    put.write(&data[100..]).unwrap();
    assert_eq!(store.stat("p/1/a.bin").unwrap(), None);
    put.commit(&sha256(&data)).unwrap();

    assert_eq!(names(&root), ["p/1/a.bin", "p/1/a.bin.sha256"]);
    assert_eq!(std::fs::read(root.join("p/1/a.bin")).unwrap(), data);
    assert_eq!(std::fs::read_to_string(root.join("p/1/a.bin.sha256")).unwrap(), format!("{}  a.bin\n", sha256(&data)));
    assert_eq!(store.stat("p/1/a.bin").unwrap().unwrap().size, Some(data.len() as u64));
    assert_eq!(store.checksum("p/1/a.bin").unwrap(), Some(sha256(&data)));
    // A directory is not an object.
    assert_eq!(store.stat("p/1").unwrap(), None);
    assert_eq!(store.location("p/1/a.bin"), root.join("p/1/a.bin").as_str());
}

#[test]
fn a_dropped_put_leaves_nothing() {
    let (_dir, root) = temp_dir();
    let store = store(&root);
    let mut put = store.put("a.bin", None, false).unwrap();
    put.write(b"half").unwrap();
    drop(put);
    let put = store.put("b.bin", None, false).unwrap();
    put.abort();
    assert_eq!(names(&root), Vec::<String>::new());
    assert_eq!(store.checksum("a.bin").unwrap(), None);
}

#[test]
fn replacing_keeps_the_old_checksum_until_the_new_object_lands() {
    let (_dir, root) = temp_dir();
    let store = store(&root);
    let (old, new) = (b"old bytes".to_vec(), b"new bytes, longer".to_vec());
    let mut put = store.put("a.bin", None, false).unwrap();
    put.write(&old).unwrap();
    put.commit(&sha256(&old)).unwrap();

    // A replace that fails leaves the old object and checksum as they were.
    let mut put = store.put("a.bin", None, true).unwrap();
    put.write(&new).unwrap();
    drop(put);
    assert_eq!(store.checksum("a.bin").unwrap(), Some(sha256(&old)));
    assert_eq!(std::fs::read(root.join("a.bin")).unwrap(), old);

    let mut put = store.put("a.bin", None, true).unwrap();
    put.write(&new).unwrap();
    assert_eq!(store.checksum("a.bin").unwrap(), Some(sha256(&old)));
    put.commit(&sha256(&new)).unwrap();
    assert_eq!(store.checksum("a.bin").unwrap(), Some(sha256(&new)));
    assert_eq!(std::fs::read(root.join("a.bin")).unwrap(), new);
}

#[test]
fn a_checksum_object_that_holds_no_checksum_is_named() {
    let (_dir, root) = temp_dir();
    let store = store(&root);
    std::fs::write(root.join("a.bin.sha256"), "garbage\n").unwrap();
    let err = store.checksum("a.bin").unwrap_err();
    assert!(matches!(err.problem, Problem::BadChecksum { ref found } if found == "garbage"), "{err}");
    assert_eq!(err.location, root.join("a.bin.sha256").as_str());
}

#[test]
fn put_file_verifies_what_it_sent() {
    let (_dir, root) = temp_dir();
    let (_work, work) = temp_dir();
    let store = store(&root);
    let file = work.join("pkg.tar.gz");
    std::fs::write(&file, b"package bytes").unwrap();
    let (sha, size) = sha256_file(&file).unwrap();
    assert_eq!(store.put_file(&file, "p/1/pkg.tar.gz", &sha, false, &()).unwrap(), size);
    assert_eq!(store.checksum("p/1/pkg.tar.gz").unwrap(), Some(sha.clone()));

    // The file changed after it was hashed: nothing is replaced.
    std::fs::write(&file, b"other bytes").unwrap();
    let err = store.put_file(&file, "p/1/pkg.tar.gz", &sha, true, &()).unwrap_err();
    assert!(matches!(err.problem, Problem::Changed { .. }), "{err}");
    assert_eq!((err.attempts, err.is_transient()), (1, false));
    assert_eq!(store.checksum("p/1/pkg.tar.gz").unwrap(), Some(sha));
    assert_eq!(std::fs::read(root.join("p/1/pkg.tar.gz")).unwrap(), b"package bytes");
    assert_eq!(names(&root), ["p/1/pkg.tar.gz", "p/1/pkg.tar.gz.sha256"]);
}

#[test]
fn fetch_lands_only_what_matches_its_checksum() {
    let (_dir, root) = temp_dir();
    let (_work, work) = temp_dir();
    let store = store(&root);
    let data = vec![7u8; 3 * checksum::CHUNK + 5];
    let mut put = store.put("p/1/f.bin", None, false).unwrap();
    put.write(&data).unwrap();
    put.commit(&sha256(&data)).unwrap();

    let fetched = store.fetch("p/1/f.bin", &work.join("a"), "f.bin", &()).unwrap();
    assert_eq!((fetched.path.clone(), fetched.bytes), (work.join("a/f.bin"), data.len() as u64));
    assert_eq!(std::fs::read(&fetched.path).unwrap(), data);
    assert_eq!(names(&work.join("a")), ["f.bin", "f.bin.sha256"]);

    std::fs::write(root.join("p/1/f.bin"), b"damaged").unwrap();
    let err = store.fetch("p/1/f.bin", &work.join("b"), "f.bin", &()).unwrap_err();
    assert!(matches!(err.problem, Problem::Mismatch { .. }), "{err}");
    assert_eq!(names(&work.join("b")), Vec::<String>::new());

    let err = store.fetch("p/2/f.bin", &work.join("c"), "f.bin", &()).unwrap_err();
    assert!(matches!(err.problem, Problem::NotFound), "{err}");
    assert_eq!(err.location, root.join("p/2/f.bin.sha256").as_str());
    std::fs::remove_file(root.join("p/1/f.bin")).unwrap();
    let err = store.fetch("p/1/f.bin", &work.join("c"), "f.bin", &()).unwrap_err();
    assert!(matches!(err.problem, Problem::NotFound), "{err}");
    assert_eq!(err.location, root.join("p/1/f.bin").as_str());
}

#[test]
fn sweep_removes_only_stale_temporary_files() {
    let (_dir, root) = temp_dir();
    let store = store(&root);
    let tmp = root.join(TMP);
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("old.part"), b"x").unwrap();
    std::fs::write(tmp.join("young.part"), b"x").unwrap();
    let aged = std::time::SystemTime::now() - Duration::from_secs(7200);
    std::fs::File::options().write(true).open(tmp.join("old.part")).unwrap().set_modified(aged).unwrap();
    assert_eq!(store.sweep(Duration::from_secs(3600)), [tmp.join("old.part").to_string()]);
    assert_eq!(names(&root), [format!("{TMP}/young.part")]);
}

#[derive(Debug)]
struct Flaky(bool);

impl std::fmt::Display for Flaky {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "flaky (transient: {})", self.0)
    }
}

impl Transient for Flaky {
    fn is_transient(&self) -> bool {
        self.0
    }
}

#[test]
fn retry_tries_again_only_what_is_transient() {
    let calls = Cell::new(0);
    let (result, attempts) = retry(|attempt| {
        calls.set(attempt);
        if attempt < 2 { Err(Flaky(true)) } else { Ok("done") }
    });
    assert_eq!((result.unwrap(), attempts, calls.get()), ("done", 2, 2));
    let (result, attempts) = retry(|_| Err::<(), _>(Flaky(false)));
    assert!(result.is_err());
    assert_eq!(attempts, 1);
    let (result, attempts) = retry(|_| Err::<(), _>(Flaky(true)));
    assert!(result.is_err());
    assert_eq!(attempts, ATTEMPTS);
}

#[test]
fn errors_say_what_where_and_why() {
    let err = StoreError::new("read", "s3://b/k", Problem::NotFound);
    assert_eq!(err.to_string(), "cannot read `s3://b/k`: it does not exist");
    let err = StoreError::new("write", "http://h/k", Problem::Status { status: 503, message: "busy".to_owned() });
    assert!(err.is_transient(), "{err}");
    let err = StoreError::new("write", "http://h/k", Problem::Status { status: 409, message: "conflict".to_owned() });
    assert!(!err.is_transient(), "{err}");
}
