"""An API judge's top log-probabilities that list fewer than the six digits (issue 23, item
5): the row is flagged `missing_digits` with the digits left out and the most probability they
could hold, and the run says so, instead of counting them 0 silently."""

from __future__ import annotations

import math

import pytest

from harness.results import read_jsonl
from tests.fakes.server import FakeServer
from tests.providers.test_probs_judge_api import annotate, generations  # noqa: F401

ALL_SIX = {"1": 0.3, "2": 0.2, "3": 0.2, "4": 0.1, "5": 0.1, " 6": 0.05, "Sure": 0.05}
# listed: 0.9 in all, so at most 0.1 outside the list (less than 4 digits x 0.1 listed)
OUTSIDE_BOUND = {"3": 0.5, " 3": 0.1, "1": 0.2, "Sure": 0.1}
# listed: 0.91, so 0.09 outside; but no absent digit beats the least listed 0.01: 4 x 0.01
LEAST_BOUND = {"3": 0.6, "1": 0.3, "Sure": 0.01}


@pytest.mark.parametrize("top, missing, mass_max", [
    (ALL_SIX, [], 0.0),
    (OUTSIDE_BOUND, ["2", "4", "5", "6"], 0.1),
    (LEAST_BOUND, ["2", "4", "5", "6"], 0.04),
])
def test_digits_left_out_of_the_top_list_flag_the_row_with_the_mass_they_could_hold(
        fake: FakeServer, generations, tmp_path, capsys, top, missing, mass_max):  # noqa: F811
    fake.state.logprobs = {t: math.log(p) for t, p in top.items()}
    fake.state.reply = lambda provider, prompt: "3"
    out = tmp_path / "ann.jsonl"
    assert annotate(fake, "gpt-4o", generations, out) == 0
    rows = list(read_jsonl(out))
    assert len(rows) == 3
    for row in rows:
        assert row["parse_status"] == "ok"
        assert row["flags"] == (["missing_digits"] if missing else [])
        assert row["missing_digits"] == missing
        assert row["missing_digit_mass_max"] == pytest.approx(mass_max, abs=1e-9)
    printed = capsys.readouterr().out
    if missing:
        assert ("3 answer(s) listed fewer than the six digits among the top log-probabilities "
                "(flag missing_digits)") in printed
        assert f"at most {mass_max:.4f}" in printed
    else:
        assert "missing_digits" not in printed
