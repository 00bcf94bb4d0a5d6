"""Walk, hash and compare two directory trees."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Iterable, Sequence, Union

PathLike = Union[str, "os.PathLike[str]"]

_CHUNK = 1 << 20

# Outcomes of comparing one source file with its counterpart in DEST.
MISSING = "missing"  # not in DEST
CHANGED = "changed"  # in DEST with other content
SAME = "same"  # identical in DEST
CONFLICT = "conflict"  # DEST has something that is not a regular file there
UNSUPPORTED = "unsupported"  # name cannot be written to a line-based manifest


class SyncError(Exception):
    """A problem with the arguments (e.g. SOURCE is not a directory)."""


@dataclass(frozen=True)
class Problem:
    path: str
    status: str


@dataclass
class Plan:
    """What a sync from ``source`` to ``dest`` has to do."""

    source: str
    dest: str
    to_sync: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: {MISSING: 0, CHANGED: 0, SAME: 0, CONFLICT: 0, UNSUPPORTED: 0}
    )
    bytes_to_sync: int = 0

    @property
    def files(self) -> int:
        return sum(self.counts.values())


def sha256_file(path: PathLike) -> str:
    """Hex SHA-256 digest of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _matches(rel: str, includes: Sequence[str]) -> bool:
    # fnmatch semantics on the relative POSIX path: "*" also matches "/",
    # so "*.tif" selects TIFF files at any depth.
    return not includes or any(fnmatchcase(rel, pattern) for pattern in includes)


def _require_dir(path: PathLike, what: str) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise SyncError(f"{what} is not a directory: {os.fspath(path)}")
    return path


def iter_source_files(source: PathLike, includes: Sequence[str] = ()) -> list[str]:
    """Relative POSIX paths of the regular files under ``source``, sorted.

    Symbolic links to files count as files (their target is copied);
    symbolic links to directories are not followed.
    """
    root = _require_dir(source, "source")
    found = []
    for dirpath, _dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        for name in filenames:
            full = base / name
            if not full.is_file():  # sockets, fifos, dangling links ...
                continue
            rel = full.relative_to(root).as_posix()
            if _matches(rel, includes):
                found.append(rel)
    return sorted(found)


def compare(source: PathLike, dest: PathLike, rel: str) -> str:
    """Compare ``source/rel`` with ``dest/rel`` by content.

    Returns ``missing``, ``changed``, ``same`` or ``conflict``.
    """
    src = Path(source, rel)
    dst = Path(dest, rel)
    try:
        dst_stat = os.stat(dst)
    except FileNotFoundError:
        return MISSING
    except NotADirectoryError:  # a parent of dst is a file
        return CONFLICT
    if not stat.S_ISREG(dst_stat.st_mode):
        return CONFLICT
    if dst_stat.st_size != os.stat(src).st_size:
        return CHANGED
    return SAME if sha256_file(src) == sha256_file(dst) else CHANGED


def plan(source: PathLike, dest: PathLike, includes: Sequence[str] = ()) -> Plan:
    """Work out which files of ``source`` need copying to ``dest``."""
    dest_path = Path(dest)
    if dest_path.exists() and not dest_path.is_dir():
        raise SyncError(f"dest is not a directory: {os.fspath(dest_path)}")
    source_real = Path(_require_dir(source, "source")).resolve()
    dest_real = dest_path.resolve()
    if dest_real == source_real or source_real in dest_real.parents:
        raise SyncError("dest must not be source or lie inside it")
    result = Plan(source=os.fspath(source), dest=os.fspath(dest))
    for rel in iter_source_files(source, includes):
        # bin/sync.sh reads the manifest line by line
        status = UNSUPPORTED if "\n" in rel else compare(source, dest, rel)
        result.counts[status] += 1
        if status in (MISSING, CHANGED):
            result.to_sync.append(rel)
            result.bytes_to_sync += os.stat(Path(source, rel)).st_size
        elif status != SAME:
            result.problems.append(Problem(rel, status))
    return result


def verify(source: PathLike, dest: PathLike, includes: Sequence[str] = ()) -> tuple[int, list[Problem]]:
    """Check every source file against ``dest`` by content.

    Returns ``(number of files checked, problems)``; a problem's status is
    ``missing``, ``changed`` or ``conflict``.
    """
    checked = 0
    problems = []
    for rel in iter_source_files(source, includes):
        checked += 1
        status = compare(source, dest, rel)
        if status != SAME:
            problems.append(Problem(rel, status))
    return checked, problems



def write_manifest(paths: Iterable[str], manifest: PathLike) -> Path:
    """Write one relative path per line, atomically (temp file + rename)."""
    manifest = Path(manifest)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{p}\n" for p in paths)
    fd, tmp = tempfile.mkstemp(dir=manifest.parent, prefix=f".{manifest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, manifest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return manifest


def read_manifest(manifest: PathLike) -> list[str]:
    """Paths listed in a manifest (empty lines ignored)."""
    with open(manifest, encoding="utf-8", errors="surrogateescape", newline="\n") as fh:
        return [line[:-1] if line.endswith("\n") else line for line in fh if line != "\n"]
