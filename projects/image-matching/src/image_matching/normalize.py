"""Normalisation of MediaWiki page titles and Commons file names."""

from __future__ import annotations

import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")
_FILE_NAMESPACE = re.compile(r"^(?:file|image)\s*:\s*", re.IGNORECASE)


def _ucfirst(text: str) -> str:
    # MediaWiki (with $wgCapitalLinks, the default on Wikipedia and Commons)
    # treats the first character of a title case-insensitively.
    return text[:1].upper() + text[1:]


def normalize_title(title: str) -> str:
    """Return the display form of a page title.

    Unicode is NFC-normalised, underscores become spaces, runs of whitespace
    collapse to a single space, and the first character is upper-cased:
    ``"lake_Tana "`` -> ``"Lake Tana"``.
    """
    text = unicodedata.normalize("NFC", str(title))
    text = _WHITESPACE.sub(" ", text.replace("_", " ")).strip()
    return _ucfirst(text)


def normalize_file_name(name: str) -> str:
    """Return the display form of a Commons file name, without namespace.

    ``"File:Lake_Tana,_Ethiopia_(2).jpg"`` -> ``"Lake Tana, Ethiopia (2).jpg"``.
    """
    text = normalize_title(name)
    text = _FILE_NAMESPACE.sub("", text)
    return _ucfirst(text)
