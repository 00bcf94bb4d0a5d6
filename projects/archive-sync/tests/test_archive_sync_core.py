import hashlib
import os

import pytest

from archive_sync import (
    SyncError,
    compare,
    iter_source_files,
    plan,
    read_manifest,
    sha256_file,
    verify,
    write_manifest,
)


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


@pytest.fixture
def trees(tmp_path):
    src = tmp_path / "src"
    dst = tmp_path / "dst"
    write(src / "a.txt", "alpha")
    write(src / "dir one" / "b c.tif", b"\x00\x01tiff")
    write(src / "dir one" / "nested" / "d.txt", "delta")
    write(src / "same.txt", "same")
    write(src / "changed-same-size.txt", "aaaa")
    write(src / "changed-size.txt", "short")
    write(dst / "same.txt", "same")
    write(dst / "changed-same-size.txt", "bbbb")
    write(dst / "changed-size.txt", "much longer")
    write(dst / "only-in-dest.txt", "kept")
    return src, dst


def test_sha256_file(tmp_path):
    f = write(tmp_path / "f", b"x" * 3_000_000)
    assert sha256_file(f) == hashlib.sha256(b"x" * 3_000_000).hexdigest()


def test_iter_source_files_sorted_and_filtered(trees):
    src, _ = trees
    assert iter_source_files(src) == [
        "a.txt",
        "changed-same-size.txt",
        "changed-size.txt",
        "dir one/b c.tif",
        "dir one/nested/d.txt",
        "same.txt",
    ]
    assert iter_source_files(src, ["*.tif"]) == ["dir one/b c.tif"]
    assert iter_source_files(src, ["dir one/*", "a.*"]) == [
        "a.txt",
        "dir one/b c.tif",
        "dir one/nested/d.txt",
    ]


def test_iter_source_files_links(tmp_path):
    src = tmp_path / "src"
    write(src / "real.txt", "r")
    write(tmp_path / "outside" / "x.txt", "x")
    os.symlink(src / "real.txt", src / "link.txt")
    os.symlink(tmp_path / "outside", src / "linked-dir")
    os.symlink(tmp_path / "nowhere", src / "dangling")
    assert iter_source_files(src) == ["link.txt", "real.txt"]


def test_compare(trees):
    src, dst = trees
    assert compare(src, dst, "a.txt") == "missing"
    assert compare(src, dst, "same.txt") == "same"
    assert compare(src, dst, "changed-same-size.txt") == "changed"
    assert compare(src, dst, "changed-size.txt") == "changed"
    (dst / "a.txt").mkdir()
    assert compare(src, dst, "a.txt") == "conflict"
    write(dst / "dir one", "a file where a directory should be")
    assert compare(src, dst, "dir one/b c.tif") == "conflict"


def test_plan(trees):
    src, dst = trees
    result = plan(src, dst)
    assert result.to_sync == [
        "a.txt",
        "changed-same-size.txt",
        "changed-size.txt",
        "dir one/b c.tif",
        "dir one/nested/d.txt",
    ]
    assert result.counts == {"missing": 3, "changed": 2, "same": 1, "conflict": 0, "unsupported": 0}
    assert result.files == 6
    assert result.bytes_to_sync == 5 + 4 + 5 + 6 + 5
    assert result.problems == []


def test_plan_with_missing_dest_and_includes(trees, tmp_path):
    src, _ = trees
    result = plan(src, tmp_path / "does-not-exist-yet", ["*.txt"])
    assert result.to_sync == [
        "a.txt",
        "changed-same-size.txt",
        "changed-size.txt",
        "dir one/nested/d.txt",
        "same.txt",
    ]
    assert result.counts["missing"] == 5


def test_plan_reports_conflicts_and_unsupported_names(trees):
    src, dst = trees
    (dst / "a.txt").mkdir()
    write(src / "new\nline.txt", "nl")
    result = plan(src, dst)
    assert "a.txt" not in result.to_sync
    assert [(p.path, p.status) for p in result.problems] == [
        ("a.txt", "conflict"),
        ("new\nline.txt", "unsupported"),
    ]


def test_plan_rejects_bad_directories(trees, tmp_path):
    src, dst = trees
    with pytest.raises(SyncError, match="source is not a directory"):
        plan(tmp_path / "nope", dst)
    with pytest.raises(SyncError, match="dest is not a directory"):
        plan(src, src / "a.txt")
    with pytest.raises(SyncError, match="inside"):
        plan(src, src / "backup")
    with pytest.raises(SyncError, match="inside"):
        plan(src, src)


def test_verify(trees):
    src, dst = trees
    checked, problems = verify(src, dst)
    assert checked == 6
    assert [(p.status, p.path) for p in problems] == [
        ("missing", "a.txt"),
        ("changed", "changed-same-size.txt"),
        ("changed", "changed-size.txt"),
        ("missing", "dir one/b c.tif"),
        ("missing", "dir one/nested/d.txt"),
    ]
    checked, problems = verify(src, dst, ["same*"])
    assert (checked, problems) == (1, [])


def test_manifest_roundtrip(tmp_path):
    paths = ["a b/c.txt", " leading space", "trailing space ", "back\\slash", "ünï.txt"]
    manifest = write_manifest(paths, tmp_path / "deep" / "manifest.txt")
    assert manifest.read_bytes() == ("\n".join(paths) + "\n").encode()
    assert read_manifest(manifest) == paths
    assert os.listdir(manifest.parent) == ["manifest.txt"]
    write_manifest([], manifest)
    assert manifest.read_bytes() == b""
    assert read_manifest(manifest) == []
