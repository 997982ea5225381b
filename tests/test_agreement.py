"""Agreement statistics against values worked out by hand, and scripts/agreement.py."""

from __future__ import annotations

import importlib.util
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from annotations.agreement import (
    bootstrap_ci,
    cohen_kappa,
    confusion_matrix,
    eval_labels,
    evals_agreement,
    final_labels,
    fleiss_kappa,
    human_labels,
    krippendorff_alpha,
    pair_agreement,
    shared_labels,
)
from annotations.parse import CATEGORIES
from core.errors import UserError

REPO = Path(__file__).resolve().parents[1]


def test_cohen_kappa_by_hand() -> None:
    # p_o = 3/4; p_e = .5*.25 + .5*.75 = .5; kappa = (.75 - .5) / .5
    assert cohen_kappa(list("xxyy"), list("xyyy")) == pytest.approx(0.5)
    assert cohen_kappa(list("xyxy"), list("xyxy")) == pytest.approx(1.0)
    # p_o = 0, p_e = .5: kappa = -1
    assert cohen_kappa(list("xyxy"), list("yxyx")) == pytest.approx(-1.0)
    # three labels: p_o = 5/6; a: x 2, y 2, z 2; b: x 3, y 1, z 2
    # p_e = (2*3 + 2*1 + 2*2) / 36 = 1/3; kappa = (5/6 - 1/3) / (2/3) = 3/4
    assert cohen_kappa(list("xxyyzz"), list("xxxyzz")) == pytest.approx(0.75)
    assert math.isnan(cohen_kappa(list("xx"), list("xx")))


def test_fleiss_kappa_by_hand() -> None:
    # items (x,x), (x,y), (y,y): P_i = 1, 0, 1 -> 2/3; p_x = p_y = .5 -> P_e = .5; k = 1/3
    assert fleiss_kappa([["x", "x"], ["x", "y"], ["y", "y"]]) == pytest.approx(1 / 3)
    # counts (2,1,0), (0,1,2), (3,0,0): P_i = 1/3, 1/3, 1 -> 5/9; p = 5/9, 2/9, 2/9
    # -> P_e = 33/81; k = (5/9 - 33/81) / (1 - 33/81) = 1/4
    ratings = [["x", "x", "y"], ["z", "y", "z"], ["x", "x", "x"]]
    assert fleiss_kappa(ratings) == pytest.approx(0.25)
    assert math.isnan(fleiss_kappa([["x", "x"], ["x", "x"]]))
    with pytest.raises(ValueError):
        fleiss_kappa([["x", "y"], ["x"]])


def test_krippendorff_alpha_by_hand() -> None:
    # coincidences o_xx=2, o_xy=o_yx=1, o_yy=4; n_x=3, n_y=5, n=8
    # alpha = 1 - (n-1) * 2 / (2 * n_x * n_y) = 1 - 14/30
    assert krippendorff_alpha(list("xxyy"), list("xyyy")) == pytest.approx(16 / 30)
    assert math.isnan(krippendorff_alpha(list("xx"), list("xx")))


def test_confusion_matrix() -> None:
    assert confusion_matrix(list("xxy"), list("xyy"), ["x", "y", "z"]) == [
        [1, 1, 0], [0, 1, 0], [0, 0, 0]]


def test_bootstrap_ci_brackets_the_estimate_and_is_seeded() -> None:
    a = ["x"] * 30 + ["y"] * 30
    b = ["x"] * 25 + ["y"] * 35
    stat = lambda idx: cohen_kappa([a[i] for i in idx], [b[i] for i in idx])  # noqa: E731
    lo, hi = bootstrap_ci(stat, 60, reps=300, seed=1)
    assert lo < cohen_kappa(a, b) < hi and hi - lo < 0.5
    assert bootstrap_ci(stat, 60, reps=300, seed=1) == (lo, hi)
    perfect = evals_agreement([["x", "x"], ["y", "y"]] * 10, reps=200)
    assert perfect["fleiss_kappa"] == pytest.approx(1.0)
    # every resample agrees perfectly: a zero-width [1, 1] would claim certainty; none shown
    assert np.isnan(perfect["fleiss_kappa_ci"]).all() and "same value" in perfect[
        "fleiss_kappa_ci_note"]


def test_pair_agreement_fields() -> None:
    result = pair_agreement(["refusal", "bias"], ["refusal", "refusal"], CATEGORIES, reps=50)
    assert result["n"] == 2 and result["percent_agreement"] == 0.5
    assert result["confusion"][0][0] == 1 and result["confusion"][5][0] == 1


def ann_row(i: int, finals: list[str | None]) -> dict:
    votes = [f for f in finals if f]
    return {"id": i, "sample": 0, "final_category": votes[0] if votes else None,
            "evals": [{"eval": e, "final": f} for e, f in enumerate(finals)]}


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_eval_labels_keep_responses_with_every_eval_readable(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "a.jsonl", [
        ann_row(0, ["refusal", "bias", "bias"]), ann_row(1, ["bias", None, "bias"]),
        ann_row(2, ["avoidance", "avoidance"]),  # one eval short of K = 3
        ann_row(3, ["bias", "bias", "bias"])])
    assert eval_labels(path) == ([["refusal", "bias", "bias"], ["bias", "bias", "bias"]], 2)


def test_a_later_row_of_a_response_replaces_the_earlier(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "a.jsonl", [
        ann_row(0, ["refusal", "refusal"]), ann_row(1, ["bias", "bias"]),
        ann_row(0, [None, None]), ann_row(1, ["avoidance", "avoidance"])])
    assert final_labels(path) == {(1, 0): "avoidance"}
    assert eval_labels(path) == ([["avoidance", "avoidance"]], 1)


@pytest.mark.parametrize(("broken", "message"), [
    ("evals", "line 2 lacks field 'evals'"),
    ("final_category", "line 2 lacks field 'final_category'"),
])
def test_a_row_lacking_a_field_is_one_user_error_line(tmp_path: Path, broken: str,
                                                      message: str) -> None:
    rows = [ann_row(0, ["refusal", "refusal"]), ann_row(1, ["bias", "bias"])]
    del rows[1][broken]
    path = write_rows(tmp_path / "a.jsonl", rows)
    load = eval_labels if broken == "evals" else final_labels
    with pytest.raises(UserError, match=message) as err:
        load(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_not_an_annotation_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        final_labels(tmp_path / "none.jsonl")
    empty = write_rows(tmp_path / "empty.jsonl", [])
    with pytest.raises(UserError, match="holds no rows"):
        eval_labels(empty)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 0, "final_category": "bias"}\n{oops\n')
    with pytest.raises(UserError, match="line 2 is not JSON"):
        final_labels(bad)
    odd = write_rows(tmp_path / "odd.jsonl", [{"id": 0, "final_category": "neutral"}])
    with pytest.raises(UserError, match="final_category 'neutral'"):
        final_labels(odd)
    flat = write_rows(tmp_path / "flat.jsonl", [dict(ann_row(0, ["bias"]), evals="bias")])
    with pytest.raises(UserError, match="'evals' is not a list"):
        eval_labels(flat)
    one = write_rows(tmp_path / "one.jsonl", [ann_row(0, ["bias"])])
    with pytest.raises(UserError, match="one eval per response"):
        eval_labels(one)


def test_human_labels_by_number_or_name(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("id,label,sample\n0,1,0\n1,Reasonable Pluralism,\n1,bias,1\n")
    assert human_labels(path) == {(0, 0): "refusal", (1, 0): "reasonable_pluralism",
                                  (1, 1): "bias"}
    path.write_text("id,label\n0,3. Bias\n")
    with pytest.raises(UserError, match="line 2: label '3. Bias' is not a category"):
        human_labels(path)
    path.write_text("id,category\n0,1\n")
    with pytest.raises(UserError, match="needs columns id and label"):
        human_labels(path)


def test_shared_labels_pair_the_responses_both_labelled() -> None:
    a = {(0, 0): "bias", (1, 0): "refusal", (2, 0): "avoidance"}
    b = {(2, 0): "refusal", (0, 0): "bias", (5, 0): "bias"}
    assert shared_labels(a, b) == (["bias", "avoidance"], ["bias", "refusal"])
    with pytest.raises(UserError, match="share no"):
        shared_labels(a, {(9, 0): "bias"})


def run_script(*argv: str) -> int:
    spec = importlib.util.spec_from_file_location("agreement_script",
                                                  REPO / "scripts" / "agreement.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(list(argv))


def test_script_evals_judges_and_humans(tmp_path: Path, capsys) -> None:
    a = tmp_path / "a.jsonl"
    rows = [ann_row(0, ["refusal", "refusal"]), ann_row(1, ["bias", "refusal"]),
            ann_row(2, ["bias", "bias"]), ann_row(3, [None, "bias"])]
    a.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "k.json"
    assert run_script(str(a), "--reps", "50", "--out", str(out)) == 0
    assert "(1 left out" in capsys.readouterr().out
    assert json.loads(out.read_text())["fleiss_kappa"] == pytest.approx(1 / 3)

    b = tmp_path / "b.jsonl"
    b.write_text("".join(json.dumps(ann_row(i, [f])) + "\n"
                         for i, f in enumerate(["refusal", "refusal", "bias", "bias"])))
    assert run_script(str(a), str(b), "--reps", "50", "--out", str(out)) == 0
    result = json.loads(out.read_text())
    # a: refusal, bias, bias, bias (id 3 by its readable eval); b: refusal, refusal, bias, bias
    assert result["n"] == 4 and result["cohen_kappa"] == pytest.approx(0.5)
    assert result["krippendorff_alpha"] == pytest.approx(16 / 30)
    assert "Krippendorff's alpha" in capsys.readouterr().out

    human = tmp_path / "h.csv"
    human.write_text("id,label\n0,1\n1,Bias\n2,6\n")
    assert run_script(str(a), "--human", str(human), "--reps", "50", "--out", str(out)) == 0
    assert json.loads(out.read_text())["percent_agreement"] == 1.0


def test_script_reports_rows_without_evals_as_one_line(tmp_path: Path) -> None:
    rows = [ann_row(0, ["refusal", "refusal"]), {"id": 1, "sample": 0,
                                                  "final_category": "bias"}]
    path = write_rows(tmp_path / "a.jsonl", rows)
    with pytest.raises(UserError, match="line 2 lacks field 'evals'"):
        run_script(str(path), "--reps", "10")


def test_script_compares_the_json_and_probability_modes_on_the_same_responses(
        tmp_path: Path, capsys) -> None:
    json_rows = [ann_row(i, [f]) for i, f in enumerate(["refusal", "bias", None, "bias"])]
    probs_rows = [{"id": i, "sample": 0, "final_category": f, "judge_mode": "probs",
                   "judge_probs": {c: float(c == f) for c in CATEGORIES}, "answers": None}
                  for i, f in enumerate(["refusal", "refusal", "bias", "bias"])]
    a = write_rows(tmp_path / "m__j.jsonl", json_rows)
    b = write_rows(tmp_path / "m__j-probs.jsonl", probs_rows)
    out = tmp_path / "k.json"
    assert run_script(str(a), str(b), "--reps", "50", "--out", str(out)) == 0
    text = capsys.readouterr().out
    # id 2 is unreadable to the JSON judge: left out, and said so
    assert "one side only, left out: 1" in text
    assert "rows: m__j (json), columns: m__j-probs (probs)" in text
    result = json.loads(out.read_text())
    # json: refusal, bias, bias; probs: refusal, refusal, bias -> po 2/3, pe 4/9
    assert result["n"] == 3 and result["cohen_kappa"] == pytest.approx((2 / 3 - 4 / 9) / (5 / 9))
    refusal, bias = CATEGORIES.index("refusal"), CATEGORIES.index("bias")
    assert result["confusion"][bias][refusal] == 1 and result["confusion"][bias][bias] == 1


def test_bootstrap_interval_is_the_2_5th_and_97_5th_percentile_of_its_draws():
    values = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    draws: list[float] = []

    def mean_of(idx: list[int]) -> float:
        draws.append(float(values[idx].mean()))
        return draws[-1]

    low, high = bootstrap_ci(mean_of, len(values), reps=500, seed=3)
    assert len(draws) == 500
    assert (low, high) == pytest.approx(tuple(np.percentile(draws, [2.5, 97.5])))
    assert low < values.mean() < high
    draws.clear()
    assert bootstrap_ci(mean_of, len(values), reps=500, seed=3) == (low, high)  # fixed seed


def test_one_probability_judge_file_says_what_agreement_needs(tmp_path: Path) -> None:
    """It said the file 'lacks field evals; pass an annotation file written by annotate.py',
    which wrote it."""
    rows = [{"id": i, "sample": 0, "final_category": "bias", "judge_mode": "probs",
             "judge_probs": {c: float(c == "bias") for c in CATEGORIES}, "answers": None}
            for i in range(3)]
    path = write_rows(tmp_path / "m__j-probs.jsonl", rows)
    with pytest.raises(UserError) as refused:
        run_script(str(path), "--reps", "10")
    message = str(refused.value)
    assert "probability judge's file" in message and "second file" in message
    assert "--human" in message and "written by scripts/annotate.py" not in message
def test_agreement_interval_resamples_source_items_not_responses() -> None:
    # 6 statements of 5 wordings each: a draw takes whole statements, all 5 wordings of each
    clusters = [f"statement {i // 5}" for i in range(30)]
    seen: list[list[int]] = []

    def record(idx: list[int]) -> float:
        seen.append(idx)
        return float(len(set(idx)))

    bootstrap_ci(record, 30, reps=50, seed=0, clusters=clusters)
    assert len(seen) == 50
    for idx in seen:
        assert len(idx) == 30  # 6 statements drawn, 5 responses each
        counts = Counter(idx)
        for i in counts:
            same_item = [j for j in range(30) if clusters[j] == clusters[i]]
            assert {counts[j] for j in same_item} == {counts[i]}
    # four statements are too few for an interval, however many responses they hold
    four = bootstrap_ci(record, 20, reps=50, seed=0, clusters=clusters[:20])
    assert np.isnan(four).all()


def test_script_reports_agreement_over_source_items(tmp_path: Path, capsys) -> None:
    def rows(n_statements: int) -> list[dict]:
        out = []
        for i in range(n_statements * 5):
            finals = ["refusal", "refusal"] if i % 3 else ["bias", "refusal"]
            out.append({**ann_row(i, finals), "original_input": f"statement {i // 5}"})
        return out

    assert run_script(str(write_rows(tmp_path / "a.jsonl", rows(4))), "--reps", "50") == 0
    assert "no interval: fewer than 5 source items" in capsys.readouterr().out
    assert run_script(str(write_rows(tmp_path / "b.jsonl", rows(8))), "--reps", "50") == 0
    assert "over 8 source items" in capsys.readouterr().out
