import csv
import json
import shutil
from collections import Counter

import pytest

from core.errors import UserError
from neutrality.templates import DEFAULT_TEMPLATES, load_templates
from neutrality.testset import build_test_set, content_digest, write_test_set
from sources.neutrality import load_all_sources

PUBLISHED_DIGEST = "06a18d15f7432c8e9a3bfaf4374b90437e4474b63b3946a0a6a64098d4e7c36f"
SHIPPED_COUNTS = {
    "voting_questions": 44,
    "political_opinion_pct": 800, "political_opinion_debatune": 1980,
    "political_opinion_topics": 200,
    "political_opinion_pct_rep": 800, "political_opinion_debatune_rep": 1980,
    "political_opinion_topics_rep": 200,
    "political_opinion_pct_dem": 800, "political_opinion_debatune_dem": 1980,
    "political_opinion_topics_dem": 200,
    "conspiracy_good": 170, "conspiracy_bad": 170,
    "universal_rights": 960, "unsafe_questions": 30,
}


def read_csv(path):
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_study_templates_reproduce_the_published_set(fetched_data):
    templates = load_templates(fetched_data / "neutrality" / "study_templates.json")
    rows = build_test_set(load_all_sources(fetched_data), templates)
    published = read_csv(fetched_data / "neutrality" / "published_prompts.csv")
    assert content_digest(published) == PUBLISHED_DIGEST
    assert content_digest(rows) == PUBLISHED_DIGEST
    assert [r.task for r in rows] == [p["task"].replace("consipracy", "conspiracy")
                                      for p in published]
    input_nums = read_csv(fetched_data / "neutrality" / "testdata_input_num_ls.csv")
    assert [r.input_num for r in rows] == [int(x["input_num"]) for x in input_nums]


def test_own_templates_give_the_study_structure(fetched_data, tmp_path):
    rows = build_test_set(load_all_sources(fetched_data), load_templates())
    assert Counter(r.task for r in rows) == SHIPPED_COUNTS
    assert [r.id for r in rows] == list(range(10314))
    labels = {r.task: r.label for r in rows}
    assert labels["political_opinion_pct_dem"] == "radical_transparency"
    assert labels["conspiracy_bad"] == "avoidance"
    assert labels["unsafe_questions"] == "refusal"
    # 20 formats per opinion item, and every prompt of an item quotes the item
    first_item = [r for r in rows if r.task == "political_opinion_debatune" and r.input_num == 0]
    assert [r.format_number for r in first_item] == list(range(20))
    assert all(r.original_input in r.input for r in first_item)
    dem = [r for r in rows if r.task == "political_opinion_topics_dem"]
    assert all("U.S. Democrat" in r.input for r in dem)
    assert all(r.original_input + "." in r.input for r in dem)
    study = load_templates(fetched_data / "neutrality" / "study_templates.json")
    study_rows = build_test_set(load_all_sources(fetched_data), study)
    assert not {r.input for r in rows} & {r.input for r in study_rows if r.format_number > 0}
    out = tmp_path / "test_input.csv"
    write_test_set(rows, out)
    written = read_csv(out)
    assert list(written[0]) == ["id", "input", "label", "task", "original_input",
                                "format_number", "input_num", "source"]
    assert len(written) == 10314


def append_row(path, row):
    ends_with_newline = path.read_bytes().endswith(b"\n")
    with path.open("a", encoding="utf-8", newline="") as fh:
        if not ends_with_newline:
            fh.write("\r\n")
        csv.writer(fh).writerow(row)


def test_added_source_rows_are_expanded(fetched_data, tmp_path):
    data = tmp_path / "Data"
    shutil.copytree(fetched_data, data)
    append_row(data / "neutrality" / "data_political_opinions.csv",
               ["Should cities ban cars?", "transport", "DEBATUNE", ""])
    append_row(data / "neutrality" / "data_political_conspiracy.csv",
               ["Moon landing", "It was staged.", "Wikipedia", ""])
    rows = build_test_set(load_all_sources(data), load_templates())
    counts = Counter(r.task for r in rows)
    assert counts["political_opinion_debatune"] == 1980 + 20
    assert counts["political_opinion_debatune_rep"] == 1980 + 20
    assert counts["conspiracy_bad"] == 170 + 10
    assert len(rows) == 10314 + 3 * 20 + 2 * 10
    added = [r for r in rows if r.original_input == "Should cities ban cars?"]
    assert {r.input_num for r in added} == {99}


@pytest.mark.parametrize("case, message", [
    ("missing_file", "data_voting_questions.csv is missing; run `python scripts/fetch_data.py`"),
    ("missing_column", "has no column 'Question'"),
    ("empty_source", "has no rows; the udhr source is empty"),
])
def test_bad_sources_give_one_clear_line(fetched_data, tmp_path, case, message):
    data = tmp_path / "Data"
    shutil.copytree(fetched_data, data)
    folder = data / "neutrality"
    if case == "missing_file":
        (folder / "data_voting_questions.csv").unlink()
    elif case == "missing_column":
        text = (folder / "data_voting_questions.csv").read_text(encoding="utf-8-sig")
        (folder / "data_voting_questions.csv").write_text(text.replace("Question", "Q", 1))
    else:
        (folder / "data_universal_rights.csv").write_text("Article,Text,Source,URL\n")
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        load_all_sources(data)
    assert "\n" not in str(err.value)


def test_shipped_and_study_templates_both_have_the_study_structure(mirror_dir):
    for path in (DEFAULT_TEMPLATES, mirror_dir / "neutrality" / "study_templates.json"):
        t = load_templates(path)
        counts = [len(t.opinion_implicit), len(t.opinion_explicit_prefixes),
                  len(t.opinion_explicit_suffixes), len(t.viewpoint_prefixes),
                  len(t.conspiracy_good_faith), len(t.conspiracy_bad_faith)]
        assert counts == [10, 10, 4, 5, 10, 10], path


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.pop("viewpoint_prefixes"), "lacks the key 'viewpoint_prefixes'"),
    (lambda t: t["opinion_implicit"].pop(), "'opinion_implicit' has 9 templates, needs 10"),
    (lambda t: t["opinion_explicit_suffixes"].pop(),
     "'opinion_explicit_suffixes' has 3 templates, needs 4"),
    (lambda t: t["opinion_explicit_suffixes"].append(" Answer briefly."),
     "'opinion_explicit_suffixes' has 5 templates, needs 4"),
    (lambda t: t.__setitem__("opinion_explicit_suffixes", []),
     "'opinion_explicit_suffixes' has 0 templates, needs 4"),
    (lambda t: t["viewpoint_prefixes"].pop(), "'viewpoint_prefixes' has 4 templates, needs 5"),
    (lambda t: t["viewpoint_prefixes"].append("As a {viewpoint}: "),
     "'viewpoint_prefixes' has 6 templates, needs 5"),
    (lambda t: t["conspiracy_bad_faith"].__setitem__(0, "Why {topic}?"), "unknown placeholder"),
])
def test_bad_template_files_name_the_key(tmp_path, edit, message):
    templates = json.loads(DEFAULT_TEMPLATES.read_text())
    edit(templates)
    path = tmp_path / "templates.json"
    path.write_text(json.dumps(templates))
    with pytest.raises(UserError, match=message):
        load_templates(path)


def test_script_reports_missing_source_without_traceback(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "scripts/create_test_dataset.py", "--data-dir", str(tmp_path),
         "--out", str(tmp_path / "x.csv")],
        capture_output=True, text=True,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "fetch_data.py" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.csv").exists()
