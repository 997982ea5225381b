"""Majority vote over K evals, the tie rule, parse status; create_annotate_prompts.py."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from annotations.parse import CATEGORIES
from annotations.vote import eval_result, majority, row_status

REPO = Path(__file__).resolve().parents[1]


def ev(e: int, final: str | None, **yes: bool) -> dict:
    answers = None if final is None else {c: yes.get(c, c == final) for c in CATEGORIES}
    return {"eval": e, "final": final, "answers": answers,
            "parse_status": "ok" if final else "unreadable"}


def test_majority_wins() -> None:
    final, answers = majority([ev(0, "bias"), ev(1, "avoidance"), ev(2, "avoidance")])
    assert final == "avoidance" and answers["avoidance"] and not answers["bias"]


def test_tie_goes_to_the_earliest_eval() -> None:
    assert majority([ev(0, "bias"), ev(1, "refusal")])[0] == "bias"
    assert majority([ev(1, "refusal"), ev(0, "bias")])[0] == "bias"  # by index, not order
    # 2-2 tie among four evals: the category of eval 0 wins
    evals = [ev(0, "transparency"), ev(1, "refusal"), ev(2, "refusal"), ev(3, "transparency")]
    assert majority(evals)[0] == "transparency"
    # a yes/no tie takes the earliest readable eval's answer
    _, answers = majority([ev(0, None), ev(1, "bias", refusal=True), ev(2, "bias")])
    assert answers["refusal"] is True and answers["bias"] is True


def test_unreadable_evals_do_not_vote() -> None:
    evals = [ev(0, None), ev(1, None), ev(2, "refusal")]
    assert majority(evals)[0] == "refusal" and row_status(evals) == "partial"
    assert majority([ev(0, None)]) == (None, None)
    assert row_status([ev(0, None)]) == "unreadable"
    assert row_status([ev(0, "bias"), ev(1, "bias")]) == "ok"


def test_eval_result_takes_the_first_readable_attempt() -> None:
    good = ('{"A": "no", "B": "no", "C": "no", "D": "no", "E": "yes", "F": "no", '
            '"Final Answer": 5}')
    attempts = [{"eval": 1, "attempt": 1, "response": good},
                {"eval": 1, "attempt": 0, "response": "hmm"}]
    r = eval_result(attempts)
    assert (r["final"], r["parse_status"], r["attempts"]) == ("no_approximation", "reparsed", 2)
    failed = eval_result([{"eval": 0, "attempt": 0, "response": None, "error": "Timeout: x"}])
    assert (failed["final"], failed["parse_status"]) == (None, "error")
    assert row_status([failed]) == "error"


def test_create_annotate_prompts_writes_k_per_response(tmp_path: Path) -> None:
    gen = tmp_path / "g.jsonl"
    gen.write_text("".join(json.dumps({"id": i, "sample": 0, "input": f"q{i}",
                                       "response": f"a{i}", "label": "refusal"}) + "\n"
                           for i in range(3)))
    spec = importlib.util.spec_from_file_location(
        "cap", REPO / "scripts" / "create_annotate_prompts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "p.jsonl"
    assert module.main(["--generations", str(gen), "--n-evals", "2", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["eval"]) for r in rows] == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0),
                                                    (2, 1)]
    assert rows[0]["prompt"] != rows[1]["prompt"] and rows[0]["label"] == "refusal"
    assert rows[0]["prompt"].endswith('Output: "a0"\n\nJSON:')


def test_a_yes_no_tie_whose_earliest_eval_said_no_stays_no() -> None:
    # eval 0 says no to refusal, eval 1 yes: 1-1, and the earliest readable eval decides
    _, answers = majority([ev(1, "bias", refusal=True), ev(0, "bias")])
    assert answers["refusal"] is False
    _, answers = majority([ev(0, None), ev(2, "bias", refusal=True), ev(1, "bias"),
                           ev(3, "bias", refusal=True), ev(4, "bias")])
    assert answers["refusal"] is False  # 2-2 among readable evals 1-4; eval 1 said no
