"""Suggest images for Wikipedia articles that lack one.

A small, self-contained take on Wikimedia's image-matching pipeline: candidate
images found for unillustrated articles (the Wikidata P18 image of the
article's item, images from the item's Commons category, lead images of the
same article on other wikis) are normalised, filtered, scored and ranked.
"""

from image_matching.normalize import normalize_file_name, normalize_title
from image_matching.pipeline import (
    OUTPUT_COLUMNS,
    load_articles,
    load_candidates,
    match_images,
    write_tsv_atomic,
)
from image_matching.scoring import confidence_bucket, is_excluded_file, score_candidate

__version__ = "0.1.0"

__all__ = [
    "OUTPUT_COLUMNS",
    "confidence_bucket",
    "is_excluded_file",
    "load_articles",
    "load_candidates",
    "match_images",
    "normalize_file_name",
    "normalize_title",
    "score_candidate",
    "write_tsv_atomic",
]
