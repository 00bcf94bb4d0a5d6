"""Command line: ``python -m archive_sync plan|verify``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from archive_sync.core import SyncError, plan, verify, write_manifest


def _emit(summary: dict) -> None:
    # One JSON line; ASCII-escaped so odd file names can never break it.
    print(json.dumps(summary, sort_keys=True))


def _cmd_plan(args: argparse.Namespace) -> int:
    result = plan(args.source, args.dest, args.include)
    manifest = write_manifest(result.to_sync, args.manifest)
    for problem in result.problems:
        print(f"archive_sync: {problem.status}: {problem.path!r}", file=sys.stderr)
    _emit(
        {
            "command": "plan",
            "source": result.source,
            "dest": result.dest,
            "manifest": str(manifest),
            "files": result.files,
            "to_sync": len(result.to_sync),
            "bytes_to_sync": result.bytes_to_sync,
            **result.counts,
        }
    )
    return 1 if result.problems else 0


def _cmd_verify(args: argparse.Namespace) -> int:
    checked, problems = verify(args.source, args.dest, args.include)
    for problem in problems:
        print(f"{problem.status}\t{problem.path}")
    _emit(
        {
            "command": "verify",
            "source": str(args.source),
            "dest": str(args.dest),
            "files": checked,
            "ok": checked - len(problems),
            "problems": len(problems),
        }
    )
    return 1 if problems else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m archive_sync",
        description="Plan and verify a one-way sync from SOURCE to DEST.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--source", required=True, help="directory to copy from")
        sub.add_argument("--dest", required=True, help="directory to copy to")
        sub.add_argument(
            "--include",
            action="append",
            default=[],
            metavar="GLOB",
            help="only files whose relative path matches GLOB (repeatable; '*' matches '/')",
        )

    plan_cmd = commands.add_parser(
        "plan", help="write the manifest of files that are missing or differ in DEST"
    )
    common(plan_cmd)
    plan_cmd.add_argument("--manifest", required=True, help="manifest file to write")
    plan_cmd.set_defaults(func=_cmd_plan)

    verify_cmd = commands.add_parser(
        "verify", help="check that every SOURCE file is identical in DEST"
    )
    common(verify_cmd)
    verify_cmd.set_defaults(func=_cmd_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # File names are bytes; keep undecodable ones printable.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="surrogateescape")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (SyncError, OSError) as exc:
        print(f"archive_sync: error: {exc}", file=sys.stderr)
        return 2
