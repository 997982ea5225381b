"""The coverage judge's agreement with the labelled set: an interval that collapses (a judge
right on every pair) or rests on too few answers says why it is missing, and a failed judge
call is counted apart from an unreadable answer (issue 23 §2 and §3)."""

from __future__ import annotations

from annotations.coverage_agreement import agreement, format_agreement


def labelled(n: int) -> list[dict]:
    return [{"id": k, "response": f"answer {k}", "options": ["A", "B"], "labels": [True, False],
             "hard": []} for k in range(n)]


def judged(n: int, status: str = "ok") -> list[dict]:
    return [{"item_id": k, "covered": [True, False], "status": status} for k in range(n)]


def test_a_judge_right_on_every_pair_gets_no_bare_nan_interval():
    result = agreement(labelled(8), judged(8), reps=100)
    assert result["all"]["accuracy"] == 1.0
    assert "every resample" in result["all"]["accuracy_ci_note"]
    text = format_agreement(result)
    assert "nan" not in text and "no interval: every resample gives the same value" in text


def test_too_few_answers_say_so():
    text = format_agreement(agreement(labelled(3), judged(3), reps=100))
    assert "nan" not in text and "fewer than 5" in text


def test_a_failed_judge_call_is_not_counted_unreadable():
    rows = judged(6)
    rows[0] = {"item_id": 0, "covered": [None, None], "status": "error"}
    rows[1] = {"item_id": 1, "covered": [None, None], "status": "unreadable"}
    result = agreement(labelled(6), rows, reps=50)
    assert (result["judge_failed"], result["unreadable"]) == (2, 2)
    assert "2 unreadable, 2 judge call failed" in format_agreement(result)
