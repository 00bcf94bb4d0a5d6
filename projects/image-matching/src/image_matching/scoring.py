"""Candidate filtering and scoring rules."""

from __future__ import annotations

import re
from typing import Iterable

#: Confidence of each candidate source. Keys are the values of the
#: ``source`` column of the candidates file.
SOURCE_WEIGHTS: dict[str, float] = {
    "wikidata_p18": 1.0,  # the image (P18) of the article's Wikidata item
    "commons_category": 0.6,  # an image from the item's Commons category
    "lead_image": 0.4,  # the lead image of the same article on another wiki
}

#: Added once for every source beyond the first that proposes the same image.
MULTI_SOURCE_BONUS = 0.2
#: Added for every other wiki the image is found on ...
PER_WIKI_BONUS = 0.05
#: ... counting at most this many wikis.
MAX_WIKIS_COUNTED = 10

#: Lower bounds (inclusive) of the confidence buckets.
HIGH_CONFIDENCE = 1.0
MEDIUM_CONFIDENCE = 0.6

#: File types that can illustrate an article.
IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "gif", "svg", "tif", "tiff", "webp"})

#: Names of icons, flags, logos and placeholders: never good article images.
_EXCLUDED_NAME = re.compile(
    r"""
      \bflags?\b
    | \bicons?\b
    | \blogos?\b
    | placeholder
    | \bno[ -]?image\b
    | \bimage[ -]?missing\b
    | \bwiki[ -]letter\b
    | \bquestion[ -]book\b
    | \bdisambig
    """,
    re.IGNORECASE | re.VERBOSE,
)


def is_excluded_file(file_name: str) -> bool:
    """True when ``file_name`` (normalised) should never be suggested.

    Excludes non-image media (by extension) and icons, flags, logos and
    placeholder images (by name). Words are matched whole, so
    ``"Flagstaff Arizona.jpg"`` and ``"Iconic Tower.jpg"`` are kept.
    """
    stem, dot, extension = file_name.rpartition(".")
    if not dot or not stem or extension.lower() not in IMAGE_EXTENSIONS:
        return True
    return _EXCLUDED_NAME.search(stem) is not None


def score_candidate(sources: Iterable[str], found_on_count: int) -> float:
    """Score one image for one article.

    ``sources`` are the distinct sources proposing the image and
    ``found_on_count`` is the number of other wikis it is used on.
    """
    distinct = set(sources)
    if not distinct:
        raise ValueError("a candidate needs at least one source")
    unknown = distinct - SOURCE_WEIGHTS.keys()
    if unknown:
        raise ValueError(f"unknown candidate source(s): {', '.join(sorted(unknown))}")
    if found_on_count < 0:
        raise ValueError("found_on_count must not be negative")
    score = max(SOURCE_WEIGHTS[s] for s in distinct)
    score += MULTI_SOURCE_BONUS * (len(distinct) - 1)
    score += PER_WIKI_BONUS * min(found_on_count, MAX_WIKIS_COUNTED)
    return round(score, 3)


def confidence_bucket(score: float) -> str:
    """Map a score to ``"high"``, ``"medium"`` or ``"low"``."""
    if score >= HIGH_CONFIDENCE:
        return "high"
    if score >= MEDIUM_CONFIDENCE:
        return "medium"
    return "low"
