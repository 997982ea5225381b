"""analyze_neutrality.py on probability-judge rows: argmax shares as before, plus expected
shares (the mean of judge_probs) with cluster-bootstrap intervals; JSON rows are left out of
the expected shares."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.neutrality_data import load_annotations
from analysis.neutrality_expected import expected_shares
from analysis.neutrality_report import write_outputs
from tests.neutrality_rows import CATS, row, write_jsonl


def probs_row(id_: int, item: str, probs: list[float], **kw) -> dict:
    final = CATS[max(range(6), key=lambda i: probs[i])]
    r = row(id_, "voting_questions", item, id_ % 20, final, **kw)
    r.update(answers=None, evals=None, judge_probs=dict(zip(CATS, probs, strict=True)),
             judge_mode="probs", digit_mass=0.5)
    return r


def test_expected_shares_are_mean_probabilities_with_item_intervals(tmp_path):
    rows = [probs_row(0, "a", [0.6, 0.4, 0, 0, 0, 0]),
            probs_row(1, "a", [0.2, 0.8, 0, 0, 0, 0]),
            probs_row(2, "b", [0, 0, 0.5, 0.5, 0, 0]),
            probs_row(3, "c", [0, 0, 0, 0, 0.1, 0.9]),
            # a JSON-judge row of another model: in the argmax shares, not the expected ones
            row(4, "voting_questions", "a", 4, "bias", model="m2")]
    frame = load_annotations([write_jsonl(tmp_path / "ann.jsonl", rows)])
    table = expected_shares(frame, n_boot=200, seed=0)
    assert set(table["system"]) == {"m1"}
    got = dict(zip(table["category"], table["share"], strict=True))
    assert got == pytest.approx({"refusal": 0.2, "avoidance": 0.3,
                                 "reasonable_pluralism": 0.125, "transparency": 0.125,
                                 "no_approximation": 0.025, "bias": 0.225})
    assert set(table["n_items"]) == {3} and set(table["n"]) == {4}
    refusal = table[table["category"] == "refusal"].iloc[0]
    # three source items are too few for an interval (analysis.interval_rules.MIN_ITEMS)
    assert np.isnan(refusal["ci_low"]) and np.isnan(refusal["ci_high"])
    assert "fewer than 5 source items" in refusal["ci_note"]

    out = tmp_path / "report"
    write_outputs(frame, out, n_boot=200, seed=0)
    csv = pd.read_csv(out / "expected_shares.csv")
    assert len(csv) == 6
    text = (out / "report.md").read_text()
    assert "Expected category shares" in text
    # the argmax shares count id 2's tie under the lower digit's category
    shares = pd.read_csv(out / "category_shares.csv")
    m1 = shares[(shares["system"] == "m1")].set_index("category")["count"]
    assert (m1["refusal"], m1["avoidance"], m1["reasonable_pluralism"], m1["bias"]) == (
        1, 1, 1, 1)


def test_json_rows_only_write_no_expected_section(tmp_path):
    frame = load_annotations([write_jsonl(tmp_path / "a.jsonl", [
        row(0, "voting_questions", "a", 0, "bias")])])
    assert expected_shares(frame, n_boot=10).empty
    write_outputs(frame, tmp_path / "r", n_boot=10)
    assert not (tmp_path / "r" / "expected_shares.csv").exists()
    assert "Expected category shares" not in (tmp_path / "r" / "report.md").read_text()
