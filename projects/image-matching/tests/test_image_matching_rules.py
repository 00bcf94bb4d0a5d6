import unicodedata

import pandas as pd
import pytest

from image_matching import (
    OUTPUT_COLUMNS,
    confidence_bucket,
    is_excluded_file,
    match_images,
    normalize_file_name,
    normalize_title,
    score_candidate,
)
from image_matching.pipeline import to_tsv


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Lake_Tana", "Lake Tana"),
        ("  lake   Tana ", "Lake Tana"),
        ("bahir_Dar", "Bahir Dar"),
        (unicodedata.normalize("NFD", "Îles_Chausey"), "Îles Chausey"),
        ("None", "None"),
        ("Taal (bulkan)", "Taal (bulkan)"),
    ],
)
def test_normalize_title(raw, expected):
    assert normalize_title(raw) == expected
    assert unicodedata.is_normalized("NFC", normalize_title(raw))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("File:Lake_Tana,_Ethiopia_(2).jpg", "Lake Tana, Ethiopia (2).jpg"),
        ("image: chocolate_Hills_overview.JPG", "Chocolate Hills overview.JPG"),
        ("Pont_du_Gard_Oct_2007.jpg", "Pont du Gard Oct 2007.jpg"),
        ("Filet mignon.jpg", "Filet mignon.jpg"),
    ],
)
def test_normalize_file_name(raw, expected):
    assert normalize_file_name(raw) == expected


@pytest.mark.parametrize(
    "name",
    [
        "Flag of Ethiopia.svg",
        "Flag-map of Bohol.png",
        "Ethiopia icon.png",
        "Icon-building.svg",
        "Logo Chambord.png",
        "Wadi Rum placeholder.png",
        "No image available.svg",
        "Noimage.png",
        "Wiki letter w.svg",
        "Question book-new.svg",
        "Disambig gray.svg",
        "Gondar city sounds.ogg",
        "Caño Cristales guide.pdf",
        "Bondinho Pão de Açúcar.webm",
        "README",
        ".jpg",
    ],
)
def test_excluded_files(name):
    assert is_excluded_file(name)


@pytest.mark.parametrize(
    "name",
    [
        "Flagstaff Arizona downtown.jpg",
        "Iconic Tower Cairo 2023.jpg",
        "Zege Peninsula monastery.JPG",
        "Pont-du-Gard-aerial.tif",
        "Bromo crater.jpeg",
        "Map.webp",
    ],
)
def test_kept_files(name):
    assert not is_excluded_file(name)


def test_score_weights_sources_and_wikis():
    assert score_candidate(["wikidata_p18"], 0) == 1.0
    assert score_candidate(["commons_category"], 0) == 0.6
    assert score_candidate(["lead_image"], 1) == 0.45
    # a second source adds 0.2, each other wiki 0.05
    assert score_candidate(["wikidata_p18", "lead_image"], 4) == 1.4
    assert score_candidate(["commons_category", "lead_image", "lead_image"], 1) == 0.85
    # at most 10 wikis count
    assert score_candidate(["lead_image"], 10) == score_candidate(["lead_image"], 25) == 0.9


def test_score_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown"):
        score_candidate(["infobox"], 0)
    with pytest.raises(ValueError):
        score_candidate([], 0)
    with pytest.raises(ValueError):
        score_candidate(["lead_image"], -1)


def test_confidence_buckets():
    assert confidence_bucket(1.7) == "high"
    assert confidence_bucket(1.0) == "high"
    assert confidence_bucket(0.999) == "medium"
    assert confidence_bucket(0.6) == "medium"
    assert confidence_bucket(0.55) == "low"
    # 0.6 + 0.2 + 4 * 0.05 is not exactly 1.0 in floating point; scores are rounded
    assert confidence_bucket(score_candidate(["commons_category", "lead_image"], 4)) == "high"


def _articles(rows):
    return pd.DataFrame(rows, columns=["wiki", "page_id", "page_title", "page_qid"])


def _candidates(rows):
    frame = pd.DataFrame(rows, columns=["wiki", "page_title", "image_name", "source", "found_on"])
    frame["found_on"] = frame["found_on"].map(frozenset)
    return frame


def test_match_images_merges_sources_filters_and_ranks():
    articles = _articles(
        [
            ("enwiki", "1", "Lake Tana", "Q5505"),
            ("enwiki", "2", "Gondar", "Q191078"),
            ("dewiki", "3", "Lake Tana", "Q5505"),
        ]
    )
    candidates = _candidates(
        [
            ("enwiki", "Lake Tana", "B.jpg", "commons_category", []),
            ("enwiki", "Lake Tana", "A.jpg", "commons_category", []),
            ("enwiki", "Lake Tana", "C.jpg", "wikidata_p18", ["dewiki"]),
            ("enwiki", "Lake Tana", "C.jpg", "lead_image", ["enwiki", "frwiki"]),
            ("enwiki", "Lake Tana", "Flag of Ethiopia.svg", "wikidata_p18", []),
            ("enwiki", "Gondar", "Ethiopia icon.png", "wikidata_p18", []),
            ("enwiki", "Addis Ababa", "D.jpg", "wikidata_p18", []),  # unknown article
        ]
    )
    result = match_images(articles, candidates, top=2, snapshot="2024-05-06")
    assert list(result.columns) == list(OUTPUT_COLUMNS)
    rows = [tuple(r) for r in result.itertuples(index=False, name=None)]
    assert rows == [
        # own wiki (enwiki) does not count in found_on
        ("2024-05-06", "enwiki", "1", "Lake Tana", "Q5505", 1, "C.jpg", 1.3, "high",
         "lead_image,wikidata_p18", 2),
        # tie on score: image name decides
        ("2024-05-06", "enwiki", "1", "Lake Tana", "Q5505", 2, "A.jpg", 0.6, "medium",
         "commons_category", 0),
    ]


def test_match_images_empty_and_bad_top():
    articles = _articles([("enwiki", "1", "Gondar", "Q1")])
    candidates = _candidates([("enwiki", "Gondar", "Flag.svg", "lead_image", [])])
    result = match_images(articles, candidates)
    assert result.empty
    assert list(result.columns) == list(OUTPUT_COLUMNS)
    assert to_tsv(result) == "\t".join(OUTPUT_COLUMNS) + "\n"
    with pytest.raises(ValueError):
        match_images(articles, candidates, top=0)
