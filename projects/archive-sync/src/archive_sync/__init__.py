"""Plan and verify a one-way sync of an archive tree.

``plan`` lists the files of SOURCE that are missing from DEST or differ from
it (by size, then SHA-256) and writes them to a manifest; ``bin/sync.sh``
copies the listed files; ``verify`` checks that DEST now matches SOURCE.
Files that exist only in DEST are left alone.
"""

from archive_sync.core import (
    Plan,
    Problem,
    SyncError,
    compare,
    iter_source_files,
    plan,
    read_manifest,
    sha256_file,
    verify,
    write_manifest,
)

__version__ = "0.1.0"

__all__ = [
    "Plan",
    "Problem",
    "SyncError",
    "compare",
    "iter_source_files",
    "plan",
    "read_manifest",
    "sha256_file",
    "verify",
    "write_manifest",
]
