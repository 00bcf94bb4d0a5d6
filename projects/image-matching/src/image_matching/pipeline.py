"""Load, join, score and rank image candidates; write the result as TSV."""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import Iterator, Union

import pandas as pd

from image_matching.normalize import normalize_file_name, normalize_title
from image_matching.scoring import (
    SOURCE_WEIGHTS,
    confidence_bucket,
    is_excluded_file,
    score_candidate,
)

PathLike = Union[str, "os.PathLike[str]"]

ARTICLE_COLUMNS = ("wiki", "page_id", "page_title", "page_qid")
CANDIDATE_COLUMNS = ("wiki", "page_title", "image_name", "source", "found_on")
OUTPUT_COLUMNS = (
    "snapshot",
    "wiki",
    "page_id",
    "page_title",
    "page_qid",
    "rank",
    "image_name",
    "score",
    "confidence",
    "sources",
    "found_on_count",
)


@contextlib.contextmanager
def packaged_data(name: str) -> Iterator[Path]:
    """Path of a data file shipped inside the package (e.g. ``articles.tsv``)."""
    with resources.as_file(resources.files("image_matching").joinpath("data", name)) as path:
        yield path


def _read_tsv(path: PathLike, required: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.read_csv(
        path,
        sep="\t",
        dtype=str,
        keep_default_na=False,  # a page called "None" or "NA" is not missing
        na_filter=False,
        quoting=csv.QUOTE_NONE,  # quotes are part of titles, not TSV syntax
        encoding="utf-8",
    )
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{os.fspath(path)}: missing column(s): {', '.join(missing)}")
    frame = frame.loc[:, list(required)].copy()
    for column in required:
        frame[column] = frame[column].str.strip()
    return frame


def load_articles(path: PathLike | None = None) -> pd.DataFrame:
    """Articles without an image: ``wiki, page_id, page_title, page_qid``.

    Titles are normalised; duplicate (wiki, title) rows keep the first one.
    """
    if path is None:
        with packaged_data("articles.tsv") as default:
            return load_articles(default)
    frame = _read_tsv(path, ARTICLE_COLUMNS)
    frame["page_title"] = frame["page_title"].map(normalize_title)
    empty = frame[(frame["wiki"] == "") | (frame["page_title"] == "")]
    if not empty.empty:
        raise ValueError(
            f"{os.fspath(path)}: {len(empty)} article row(s) without wiki or title"
        )
    return frame.drop_duplicates(["wiki", "page_title"], keep="first").reset_index(drop=True)


def _split_wikis(value: str) -> frozenset[str]:
    return frozenset(w.strip() for w in value.split(",") if w.strip())


def load_candidates(path: PathLike | None = None) -> pd.DataFrame:
    """Candidate images: ``wiki, page_title, image_name, source, found_on``.

    Titles and file names are normalised and ``found_on`` (a comma-separated
    list of wikis the image is used on) becomes a frozenset.
    """
    if path is None:
        with packaged_data("candidates.tsv") as default:
            return load_candidates(default)
    frame = _read_tsv(path, CANDIDATE_COLUMNS)
    unknown = sorted(set(frame["source"]) - SOURCE_WEIGHTS.keys())
    if unknown:
        raise ValueError(f"{os.fspath(path)}: unknown source(s): {', '.join(unknown)}")
    frame["page_title"] = frame["page_title"].map(normalize_title)
    frame["image_name"] = frame["image_name"].map(normalize_file_name)
    frame["found_on"] = frame["found_on"].map(_split_wikis)
    empty = frame[(frame["page_title"] == "") | (frame["image_name"] == "")]
    if not empty.empty:
        raise ValueError(
            f"{os.fspath(path)}: {len(empty)} candidate row(s) without title or image"
        )
    return frame


def match_images(
    articles: pd.DataFrame,
    candidates: pd.DataFrame,
    *,
    top: int = 3,
    snapshot: str = "",
) -> pd.DataFrame:
    """Rank candidate images for each article and keep the best ``top``.

    Returns a frame with :data:`OUTPUT_COLUMNS`, sorted by wiki, page title
    and rank. Ties in score are broken by image name, so the result only
    depends on the inputs.
    """
    if top < 1:
        raise ValueError("top must be at least 1")

    usable = candidates[~candidates["image_name"].map(is_excluded_file)]
    joined = usable.merge(articles, on=["wiki", "page_title"], how="inner", validate="m:1")
    if joined.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in OUTPUT_COLUMNS})

    # One row per (article, image): the same file may be proposed by several
    # sources and under differently spelled names.
    grouped = (
        joined.groupby(["wiki", "page_title", "image_name"], sort=True)
        .agg(
            page_id=("page_id", "first"),
            page_qid=("page_qid", "first"),
            sources=("source", lambda s: tuple(sorted(set(s)))),
            found_on=("found_on", lambda s: frozenset().union(*s)),
        )
        .reset_index()
    )
    # The article has no image on its own wiki, so usage there would be stale.
    grouped["found_on_count"] = [
        len(found - {wiki}) for found, wiki in zip(grouped["found_on"], grouped["wiki"])
    ]
    grouped["score"] = [
        score_candidate(sources, count)
        for sources, count in zip(grouped["sources"], grouped["found_on_count"])
    ]
    grouped["confidence"] = grouped["score"].map(confidence_bucket)

    ranked = grouped.sort_values(
        ["wiki", "page_title", "score", "image_name"],
        ascending=[True, True, False, True],
        kind="mergesort",
    )
    ranked["rank"] = ranked.groupby(["wiki", "page_title"], sort=False).cumcount() + 1
    ranked = ranked[ranked["rank"] <= top].copy()

    ranked["snapshot"] = snapshot
    ranked["sources"] = ranked["sources"].map(",".join)
    return ranked.loc[:, list(OUTPUT_COLUMNS)].reset_index(drop=True)


def _format_row(row: tuple) -> str:
    fields = []
    for column, value in zip(OUTPUT_COLUMNS, row):
        text = f"{value:.3f}" if column == "score" else str(value)
        if "\t" in text or "\n" in text or "\r" in text:
            raise ValueError(f"cannot write {column}={text!r} to a TSV file")
        fields.append(text)
    return "\t".join(fields) + "\n"


def to_tsv(matches: pd.DataFrame) -> str:
    """Serialise :func:`match_images` output (header line included)."""
    lines = ["\t".join(OUTPUT_COLUMNS) + "\n"]
    lines.extend(
        _format_row(row)
        for row in matches.loc[:, list(OUTPUT_COLUMNS)].itertuples(index=False, name=None)
    )
    return "".join(lines)


def write_tsv_atomic(matches: pd.DataFrame, output: PathLike) -> Path:
    """Write ``matches`` to ``output`` atomically.

    The parent directory is created; data goes to a temporary file in the same
    directory which is then renamed over ``output``, so readers never see a
    partial file.
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    text = to_tsv(matches)
    fd, tmp_name = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, output)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return output
