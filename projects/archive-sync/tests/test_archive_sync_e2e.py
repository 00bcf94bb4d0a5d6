"""End-to-end: ``python -m archive_sync plan``, ``sh bin/sync.sh``, ``verify``."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SYNC_SH = Path(__file__).resolve().parents[1] / "bin" / "sync.sh"


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def archive_sync(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "archive_sync", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, check=False,
    )


def sync_sh(*args, cwd):
    return subprocess.run(
        ["sh", str(SYNC_SH), *map(str, args)],
        cwd=cwd, capture_output=True, text=True, check=False,
    )


def summary(proc):
    lines = proc.stdout.splitlines()
    return json.loads(lines[-1])


@pytest.fixture
def archive(tmp_path):
    src = tmp_path / "source dir"
    dst = tmp_path / "dest dir"
    write(src / "volume 1" / "page 001.tif", os.urandom(200_000))
    write(src / "volume 1" / "page 002.tif", os.urandom(1234))
    write(src / "volume 2" / "deep" / "er" / "notes.txt", "notes\n")
    write(src / "-starts-with-dash.txt", "dash")
    write(src / " leading and trailing ", "spaces")
    write(src / "quote's \"and\" $dollar `tick`.txt", "shell chars")
    write(src / "back\\slash.txt", "bs")
    write(src / "ünïcödé.txt", "unicode")
    write(src / "empty", b"")
    write(src / "unchanged.txt", "same")
    write(src / "changed.txt", "new content")
    write(dst / "unchanged.txt", "same")
    write(dst / "changed.txt", "old content")
    write(dst / "extra.txt", "only in dest")
    return src, dst


def test_plan_sync_verify(archive, tmp_path):
    src, dst = archive
    manifest = tmp_path / "run" / "manifest.txt"
    cwd = tmp_path  # not the project directory

    proc = archive_sync("verify", "--source", src, "--dest", dst, cwd=cwd)
    assert proc.returncode == 1
    assert "changed\tchanged.txt" in proc.stdout.splitlines()
    assert "missing\tvolume 1/page 001.tif" in proc.stdout.splitlines()
    assert summary(proc)["problems"] == 10

    proc = archive_sync("plan", "--source", src, "--dest", dst, "--manifest", manifest, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 1
    info = summary(proc)
    assert info["command"] == "plan"
    assert (info["files"], info["to_sync"], info["missing"], info["changed"], info["same"]) == (
        11, 10, 9, 1, 1,
    )
    # sorted by code point; "unchanged.txt" is already identical in dest
    assert manifest.read_text(encoding="utf-8").split("\n") == [
        " leading and trailing ",
        "-starts-with-dash.txt",
        "back\\slash.txt",
        "changed.txt",
        "empty",
        "quote's \"and\" $dollar `tick`.txt",
        "volume 1/page 001.tif",
        "volume 1/page 002.tif",
        "volume 2/deep/er/notes.txt",
        "ünïcödé.txt",
        "",
    ]

    proc = sync_sh(src, dst, manifest, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    assert "copied 10, skipped 0" in proc.stdout

    proc = archive_sync("verify", "--source", src, "--dest", dst, cwd=cwd)
    assert proc.returncode == 0, proc.stdout
    assert summary(proc) == {
        "command": "verify", "source": str(src), "dest": str(dst),
        "files": 11, "ok": 11, "problems": 0,
    }
    assert (dst / "extra.txt").read_text() == "only in dest"
    assert not [p for p in dst.rglob(".sync-tmp.*")]

    # a second pass finds nothing to do; replaying the old manifest skips everything
    proc = archive_sync("plan", "--source", src, "--dest", dst, "--manifest", manifest, cwd=cwd)
    assert summary(proc)["to_sync"] == 0
    assert manifest.read_bytes() == b""
    write(manifest, "volume 1/page 001.tif\nchanged.txt")  # no final newline
    proc = sync_sh(src, dst, manifest, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    assert "copied 0, skipped 2" in proc.stdout


def test_include_globs(archive, tmp_path):
    src, dst = archive
    manifest = tmp_path / "m.txt"
    proc = archive_sync(
        "plan", "--source", src, "--dest", dst, "--manifest", manifest,
        "--include", "*.tif", "--include", "volume 2/*", cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert manifest.read_text().splitlines() == [
        "volume 1/page 001.tif",
        "volume 1/page 002.tif",
        "volume 2/deep/er/notes.txt",
    ]
    assert sync_sh(src, dst, manifest, cwd=tmp_path).returncode == 0
    proc = archive_sync(
        "verify", "--source", src, "--dest", dst, "--include", "*.tif", "--include", "volume 2/*",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout
    assert archive_sync("verify", "--source", src, "--dest", dst, cwd=tmp_path).returncode == 1


def test_plan_conflict_fails(archive, tmp_path):
    src, dst = archive
    write(dst / "volume 1", "a file where a directory should be")
    manifest = tmp_path / "m.txt"
    proc = archive_sync("plan", "--source", src, "--dest", dst, "--manifest", manifest, cwd=tmp_path)
    assert proc.returncode == 1
    assert summary(proc)["conflict"] == 2
    assert "conflict: 'volume 1/page 001.tif'" in proc.stderr
    assert "volume 1/page 001.tif" not in manifest.read_text()


def test_plan_missing_source(tmp_path):
    proc = archive_sync(
        "plan", "--source", tmp_path / "nope", "--dest", tmp_path / "d", "--manifest",
        tmp_path / "m", cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "source is not a directory" in proc.stderr
    assert not (tmp_path / "m").exists()


def test_sync_sh_refuses_unsafe_paths(archive, tmp_path):
    src, dst = archive
    manifest = tmp_path / "m.txt"
    for bad in ("../escape.txt", "/etc/passwd", "volume 1/../../x"):
        manifest.write_text(bad + "\n")
        proc = sync_sh(src, dst, manifest, cwd=tmp_path)
        assert proc.returncode == 1
        assert "refusing path outside SOURCE" in proc.stderr


def test_sync_sh_errors(archive, tmp_path):
    src, dst = archive
    manifest = tmp_path / "m.txt"
    manifest.write_text("no such file\n")
    proc = sync_sh(src, dst, manifest, cwd=tmp_path)
    assert proc.returncode == 1 and "not a file in SOURCE" in proc.stderr

    manifest.write_text("a.txt\n")
    write(src / "a.txt", "a")
    (dst / "a.txt").mkdir()
    proc = sync_sh(src, dst, manifest, cwd=tmp_path)
    assert proc.returncode == 1 and "directory is in the way" in proc.stderr
    assert not list(dst.rglob(".sync-tmp.*"))

    proc = sync_sh(src, dst, cwd=tmp_path)
    assert proc.returncode == 2 and "usage" in proc.stderr


@pytest.mark.skipif(shutil.which("dash") is None, reason="dash not installed")
def test_sync_sh_is_posix(tmp_path):
    # Debian's sh is dash; also make sure the script parses under `dash -n`.
    proc = subprocess.run(["dash", "-n", str(SYNC_SH)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    first = SYNC_SH.read_text().splitlines()[:12]
    assert first[0] == "#!/bin/sh"
    assert "set -eu" in first
