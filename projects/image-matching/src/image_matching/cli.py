"""Command line: ``python -m image_matching --output PATH``."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from typing import Sequence

from image_matching.pipeline import load_articles, load_candidates, match_images, write_tsv_atomic

_SNAPSHOT = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _snapshot(value: str) -> str:
    try:
        if not _SNAPSHOT.match(value):
            raise ValueError
        dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {value!r}") from None
    return value


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer: {value!r}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m image_matching",
        description="Suggest images for Wikipedia articles that lack one.",
    )
    parser.add_argument("--output", required=True, help="TSV file to write")
    parser.add_argument(
        "--articles", help="articles TSV (default: the dataset shipped with the package)"
    )
    parser.add_argument(
        "--candidates", help="candidates TSV (default: the dataset shipped with the package)"
    )
    parser.add_argument(
        "--top", type=_positive, default=3, help="suggestions kept per article (default: 3)"
    )
    parser.add_argument(
        "--snapshot",
        type=_snapshot,
        help="YYYY-MM-DD written in the snapshot column (default: today, UTC)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    snapshot = args.snapshot or dt.datetime.now(dt.timezone.utc).date().isoformat()
    try:
        articles = load_articles(args.articles)
        candidates = load_candidates(args.candidates)
        matches = match_images(articles, candidates, top=args.top, snapshot=snapshot)
        output = write_tsv_atomic(matches, args.output)
    except (OSError, ValueError) as exc:
        print(f"image_matching: error: {exc}", file=sys.stderr)
        return 1
    n_articles = matches[["wiki", "page_title"]].drop_duplicates().shape[0]
    print(f"wrote {len(matches)} matches for {n_articles} articles to {output}")
    return 0
