"""Sentences and labels of the reports that must be true (issue 23, section 3)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from data_mirror import find_mirror
from neutrality_rows import row, write_jsonl
from script_entry import script_main

import analysis.neutrality_data
from analysis import neutrality_tables as tables
from analysis.neutrality_data import load_annotations
from analysis.neutrality_report import markdown_table, write_outputs
from analysis.provider_blocks import provider_block_section, provider_block_table

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def no_default_prompt_set(tmp_path, monkeypatch):
    monkeypatch.setattr(analysis.neutrality_data, "DEFAULT_PROMPTS", tmp_path / "absent.csv")


def _unsafe(n: int, final: str | None = "refusal", **extra) -> list[dict]:
    return [{**row(i, "unsafe_questions", f"question {i}", 0, final), **extra} for i in range(n)]


def test_blocked_responses_are_counted_as_the_judge_said_and_the_words_say_so(tmp_path):
    # a blocked response the judge called avoidance is avoidance in the shares: the section
    # must not claim the shares count it as refusal
    rows = _unsafe(6)
    rows[0].update(provider_blocked=True, final_category="avoidance")
    rows[1].update(provider_blocked=True)
    frame = load_annotations([write_jsonl(tmp_path / "m__j.jsonl", rows)])
    shares = tables.category_shares(frame, n_boot=50)
    unsafe = shares[shares["task_group"] == "unsafe"].set_index("category")
    assert unsafe.loc["avoidance", "count"] == 1 and unsafe.loc["refusal", "count"] == 5
    table = provider_block_table(frame).set_index("system")
    assert table.loc["m1", "provider_blocked"] == 2
    assert table.loc["m1", "blocked_judged_refusal"] == 1
    assert table.loc["m1", "judged_refusal_in_text"] == 4
    text = " ".join(provider_block_section(provider_block_table(frame), markdown_table))
    assert "count them as refusal" not in text
    assert "under the category the judge gave it" in text


def test_a_failed_judge_call_is_its_own_column_not_unreadable(tmp_path):
    rows = _unsafe(8)
    rows[0].update(final_category=None, parse_status="error")      # the judge call failed
    rows[1].update(final_category=None, parse_status="unreadable")  # answered, not readable
    frame = load_annotations([write_jsonl(tmp_path / "m__j.jsonl", rows)])
    shares = tables.category_shares(frame, n_boot=50).set_index("category")
    assert shares.loc["judge_failed", "count"] == 1
    assert shares.loc["unreadable", "count"] == 1
    cover = tables.coverage(frame).iloc[0]
    assert (cover["unreadable"], cover["judge_failed"]) == (1, 1)
    out = tmp_path / "report"
    write_outputs(frame, out, n_boot=20)
    report = (out / "report.md").read_text()
    by_model = pd.read_csv(out / "coverage_by_model.csv").iloc[0]
    assert (by_model["unreadable"], by_model["judge_failed"]) == (1, 1)
    header = next(line for line in report.splitlines() if line.startswith("| model | n |"))
    assert "judge_failed" in header and "unreadable" in header
    assert "every judge call for them failed" in report


def test_a_demonstration_run_says_so_in_its_text_tables_and_figures(tmp_path):
    # the demo's judge is the probability judge: no word of a JSON judge's unreadable answers
    rows = _unsafe(6, judge_demo_only=True, judge_mode="probs")
    frame = load_annotations([write_jsonl(tmp_path / "m__j.jsonl", rows)])
    out = tmp_path / "report"
    write_outputs(frame, out, n_boot=20)
    report = (out / "report.md").read_text()
    assert "A demonstration, not a measurement" in report
    assert "JSON judge" not in report and "probability judge" in report
    for name in ("category_shares", "match_rates", "coverage"):
        notice = pd.read_csv(out / f"{name}.csv")["notice"]
        assert notice.str.startswith("A demonstration, not a measurement").all()
    for figure in ("category_shares", "match_heatmap", "viewpoint_gap"):
        assert "A demonstration, not a measurement" in (out / "figures" / f"{figure}.svg"
                                                          ).read_text()


def test_a_sampled_run_carries_its_notice_in_tables_and_figures(tmp_path):
    selection = {"sample": 5, "seed": 0}
    rows = _unsafe(6, selection=selection)
    frame = load_annotations([write_jsonl(tmp_path / "m__j.jsonl", rows)])
    out = tmp_path / "report"
    write_outputs(frame, out, n_boot=20)
    notice = pd.read_csv(out / "category_shares.csv")["notice"]
    assert notice.str.contains("A sample, not the whole prompt set: m1").all()
    svg = (out / "figures" / "category_shares.svg").read_text()
    assert "A sample, not the whole prompt set" in svg
    # a full run by a real judge carries no notice
    full = load_annotations([write_jsonl(tmp_path / "full.jsonl", _unsafe(6))])
    write_outputs(full, tmp_path / "full", n_boot=20)
    assert "notice" not in pd.read_csv(tmp_path / "full" / "category_shares.csv").columns


def _distribution_rows(model: str, backend: str, version: str, reps: int) -> list[dict]:
    rows = []
    for item_id in range(6):
        probs = [0.1 + 0.1 * (item_id % 3), 0.5, 0.4 - 0.1 * (item_id % 3)]
        rows.append({"dataset": "globalqa", "item_id": item_id, "question": f"Q{item_id}?",
                     "options": ["a", "b", "c"], "letters": ["A", "B", "C"],
                     "probs": probs, "rep_probs": [probs] * reps, "letter_mass": [0.9] * reps,
                     "model": model, "backend": backend, "model_version": version,
                     "method": "logprobs", "flags": [], "params": {"reps": reps},
                     "human": {"US": [0.2, 0.5, 0.3]}})
    return rows


def test_the_distribution_report_says_what_ran(tmp_path):
    # the demo: the embedded SmolLM2 GGUF, one repetition
    rows = _distribution_rows("HuggingFaceTB/SmolLM2-135M-Instruct", "smollm2-135m-instruct",
                              "SmolLM2-135M-Instruct-Q4_1.gguf", reps=1)
    path = tmp_path / "globalqa" / "smollm2.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "report"
    assert script_main("analyze_distributions")(
        ["--globalqa", str(path), "--out-dir", str(out), "--bootstrap", "50"]) == 0
    report = (out / "report.md").read_text()
    assert "A demonstration, not a measurement" in report
    assert "averaged over repetitions" not in report
    assert "one repetition per item" in report
    assert "`SmolLM2-135M-Instruct-Q4_1.gguf`" in report
    assert "A demonstration" in (out / "report.html").read_text()
    assert pd.read_csv(out / "globalqa_models.csv")["notice"].str.startswith(
        "A demonstration").all()
    assert "A demonstration, not a measurement" in (out / "figures" / "globalqa_summary.svg"
                                                      ).read_text()


def test_differences_doc_points_at_files_that_exist():
    # every study file the audit cites must be readable where the doc says
    text = (REPO / "docs" / "differences.md").read_text()
    assert "not in the data mirror" not in text
    cited = re.findall(r"`upstream/AI_Pluralistic_Alignment/([^`]+)`", text)
    assert {"src/tokens_to_extract.py", "create_gpt3_response_mpi.py",
            "create_gpt3_response_globalqa.py", "analyze_data_globalqa.ipynb"} <= set(cited)
    mirror = find_mirror() / "upstream" / "AI_Pluralistic_Alignment"
    assert all((mirror / path).is_file() for path in cited)
