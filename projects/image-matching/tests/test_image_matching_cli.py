"""End-to-end tests: run ``python -m image_matching`` as a subprocess."""

import subprocess
import sys

import pytest

HEADER = (
    "snapshot\twiki\tpage_id\tpage_title\tpage_qid\trank\timage_name\tscore\t"
    "confidence\tsources\tfound_on_count"
)


def run_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "image_matching", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )


@pytest.fixture(scope="module")
def packaged_output(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cwd")
    output = tmp_path_factory.mktemp("out") / "nested" / "2024-01-01" / "matches.tsv"
    proc = run_cli("--output", str(output), "--snapshot", "2024-01-01", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    return proc, output


def rows_for(lines, wiki, title):
    return [line for line in lines if line.split("\t")[1:4:2] == [wiki, title]]


def test_summary_line_and_row_count(packaged_output):
    proc, output = packaged_output
    assert proc.stdout == f"wrote 52 matches for 39 articles to {output}\n"
    lines = output.read_text(encoding="utf-8").splitlines()
    assert lines[0] == HEADER
    assert len(lines) == 1 + 52
    # no temporary files left next to the output
    assert [p.name for p in output.parent.iterdir()] == ["matches.tsv"]


def test_exact_rows(packaged_output):
    _, output = packaged_output
    lines = output.read_text(encoding="utf-8").splitlines()[1:]
    assert rows_for(lines, "enwiki", "Lake Tana") == [
        "2024-01-01\tenwiki\t41001\tLake Tana\tQ5505\t1\tLake Tana, Ethiopia (2).jpg\t1.400\thigh\tlead_image,wikidata_p18\t4",
        "2024-01-01\tenwiki\t41001\tLake Tana\tQ5505\t2\tLake Tana map.png\t0.650\tmedium\tcommons_category\t1",
        "2024-01-01\tenwiki\t41001\tLake Tana\tQ5505\t3\tZege Peninsula monastery.JPG\t0.650\tmedium\tcommons_category\t1",
    ]
    assert rows_for(lines, "cebwiki", "Chocolate Hills") == [
        "2024-01-01\tcebwiki\t85002\tChocolate Hills\tQ1075426\t1\tChocolate Hills overview.JPG\t1.700\thigh\tlead_image,wikidata_p18\t12",
    ]
    assert rows_for(lines, "frwiki", "Pont du Gard") == [
        "2024-01-01\tfrwiki\t52004\tPont du Gard\tQ179121\t1\tPont du Gard BLS.jpg\t1.300\thigh\twikidata_p18\t6",
        "2024-01-01\tfrwiki\t52004\tPont du Gard\tQ179121\t2\tPont du Gard Oct 2007.jpg\t0.850\tmedium\tcommons_category,lead_image\t1",
        "2024-01-01\tfrwiki\t52004\tPont du Gard\tQ179121\t3\tPont du Gard (night).jpg\t0.600\tmedium\tcommons_category\t0",
    ]
    assert rows_for(lines, "idwiki", "Gunung Bromo") == [
        "2024-01-01\tidwiki\t96003\tGunung Bromo\tQ1024046\t1\tBromo crater.jpg\t0.600\tmedium\tcommons_category\t0",
        "2024-01-01\tidwiki\t96003\tGunung Bromo\tQ1024046\t2\tBromo horses.jpg\t0.600\tmedium\tcommons_category\t0",
        "2024-01-01\tidwiki\t96003\tGunung Bromo\tQ1024046\t3\tBromo-Semeru-Batok-Widodaren.jpg\t0.600\tmedium\tcommons_category\t0",
    ]
    # decomposed title in the candidates still joins; "None" is a title, not a missing value
    assert len(rows_for(lines, "frwiki", "Îles Chausey")) == 1
    assert len(rows_for(lines, "itwiki", "None")) == 1
    # only filtered candidates, or none at all
    assert rows_for(lines, "enwiki", "Gondar") == []
    assert rows_for(lines, "viwiki", "Hang Sơn Đoòng") == []
    # the candidate for an article not in the list is dropped
    assert not any("Addis Ababa" in line for line in lines)
    assert not any(name in line for line in lines for name in ("Flag of", "icon", "Logo"))


def test_output_is_sorted_and_deterministic(packaged_output, tmp_path):
    _, output = packaged_output
    rows = [line.split("\t") for line in output.read_text(encoding="utf-8").splitlines()[1:]]
    keys = [(r[1], r[3], int(r[5])) for r in rows]
    assert keys == sorted(keys)
    again = tmp_path / "again.tsv"
    proc = run_cli("--output", str(again), "--snapshot", "2024-01-01", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert again.read_bytes() == output.read_bytes()


def test_top_and_custom_inputs(tmp_path):
    articles = tmp_path / "articles.tsv"
    candidates = tmp_path / "candidates.tsv"
    articles.write_text(
        "wiki\tpage_id\tpage_title\tpage_qid\n"
        "enwiki\t7\tNA\tQ7\n"
        "enwiki\t8\tSugarloaf Mountain\tQ8\n",
        encoding="utf-8",
    )
    candidates.write_text(
        "wiki\tpage_title\timage_name\tsource\tfound_on\n"
        "enwiki\tNA\tNA logo.svg\twikidata_p18\t\n"
        "enwiki\tNA\tNA \"street\".jpg\tlead_image\tdewiki\n"
        "enwiki\tSugarloaf_Mountain\tSugarloaf.jpg\tcommons_category\tptwiki,eswiki\n"
        "enwiki\tSugarloaf Mountain\tSugarloaf 2.jpg\tcommons_category\t\n",
        encoding="utf-8",
    )
    output = tmp_path / "out.tsv"
    proc = run_cli(
        "--output", str(output), "--articles", str(articles), "--candidates", str(candidates),
        "--top", "1", "--snapshot", "2023-12-31", cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"wrote 2 matches for 2 articles to {output}\n"
    assert output.read_text(encoding="utf-8").splitlines() == [
        HEADER,
        "2023-12-31\tenwiki\t7\tNA\tQ7\t1\tNA \"street\".jpg\t0.450\tlow\tlead_image\t1",
        "2023-12-31\tenwiki\t8\tSugarloaf Mountain\tQ8\t1\tSugarloaf.jpg\t0.700\tmedium\tcommons_category\t2",
    ]


def test_default_snapshot_is_a_date(tmp_path):
    output = tmp_path / "m.tsv"
    proc = run_cli("--output", str(output), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    snapshots = {line.split("\t")[0] for line in output.read_text(encoding="utf-8").splitlines()[1:]}
    assert len(snapshots) == 1
    (snapshot,) = snapshots
    assert len(snapshot) == 10 and snapshot[4] == snapshot[7] == "-"


@pytest.mark.parametrize(
    "args",
    [
        ["--snapshot", "2024-13-01"],
        ["--snapshot", "20240101"],
        ["--top", "0"],
    ],
)
def test_bad_arguments(tmp_path, args):
    proc = run_cli("--output", str(tmp_path / "x.tsv"), *args, cwd=tmp_path)
    assert proc.returncode == 2
    assert not (tmp_path / "x.tsv").exists()


def test_bad_input_file(tmp_path):
    bad = tmp_path / "articles.tsv"
    bad.write_text("wiki\ttitle\n", encoding="utf-8")
    proc = run_cli("--output", str(tmp_path / "x.tsv"), "--articles", str(bad), cwd=tmp_path)
    assert proc.returncode == 1
    assert "missing column(s): page_id, page_title, page_qid" in proc.stderr
    assert not (tmp_path / "x.tsv").exists()
