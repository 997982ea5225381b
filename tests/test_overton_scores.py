"""Overton scores from synthetic coverage rows, against a hand computation; refused, blocked
and unreadable answers are left out and counted; the pair difference."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.overton import answer_scores, overton_pair, overton_table

US, JP = "United States", "Japan"


def row(item_id, covered, human, model="m", status="ok", sample=0):
    return {"model": model, "item_id": item_id, "sample": sample, "covered": covered,
            "human": human, "status": status}


ROWS = [
    # window US: options 0, 1 (0.08 < 0.1 out); JP: 0, 1, 2 (0.1 is in)
    row(0, [True, False, True], {US: [0.5, 0.42, 0.08], JP: [0.2, 0.7, 0.1]}),
    # windows: US 0, 1; JP 0, 1
    row(1, [True, True], {US: [0.6, 0.4], JP: [0.3, 0.7]}),
    # one-option window in the US (0.95 / 0.05): left out there, counted; JP 0, 1
    row(2, [False, True], {US: [0.95, 0.05], JP: [0.8, 0.2]}),
    row(3, [None, None], {US: [0.5, 0.5], JP: [0.5, 0.5]}, status="refused"),
    row(4, [True, None], {US: [0.5, 0.5], JP: [0.5, 0.5]}, status="partial"),
    row(5, [None, None], {US: [0.5, 0.5], JP: [0.5, 0.5]}, status="blocked"),
]


def test_scores_equal_a_hand_computation():
    table = overton_table(answer_scores(ROWS, [US, JP], 0.1), n_boot=200)
    got = table.set_index("country")
    us = got.loc[US]
    # US: item 0 1/2, item 1 2/2; item 2 single option; 3 refused, 4 unreadable, 5 blocked
    assert us["n_items"] == 2
    assert us["overton_score"] == pytest.approx((0.5 + 1.0) / 2)
    # weighted: item 0 0.5 / (0.5 + 0.42), item 1 1
    assert us["weighted_score"] == pytest.approx((0.5 / 0.92 + 1.0) / 2)
    assert (us["n_single_option"], us["n_refused"], us["n_blocked"], us["n_unreadable"]) \
        == (1, 1, 1, 1)
    # outside the window: only item 0 (option 2, presented) and item 2 (option 1, presented)
    # item 2 is left out of the score, so only item 0 counts
    assert (us["outside_share"], us["n_outside"]) == (1.0, 1)
    jp = got.loc[JP]
    # JP: item 0 2/3, item 1 1, item 2 1/2
    assert jp["n_items"] == 3
    assert jp["overton_score"] == pytest.approx((2 / 3 + 1 + 0.5) / 3)
    assert jp["weighted_score"] == pytest.approx((0.3 / 1.0 + 1.0 + 0.2) / 3)
    assert jp["n_single_option"] == 0 and jp["n_unreadable"] == 1
    # three items: too few for an interval, and the table says so
    assert np.isnan(jp["ci_low"]) and np.isnan(jp["ci_high"]) and "fewer than 5" in jp["ci_note"]
    pooled = got.loc["pooled"]
    # pooled shares: item 0 [0.35, 0.56, 0.09] -> window 0, 1: 1/2; item 1 [0.45, 0.55]: 1;
    # item 2 [0.875, 0.125]: window 0, 1: 1/2
    assert pooled["overton_score"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert list(table["country"]) == [JP, US, "pooled"]


def test_samples_of_an_item_are_averaged_before_items():
    rows = [row(0, [True, True], {US: [0.5, 0.5]}, sample=0),
            row(0, [True, False], {US: [0.5, 0.5]}, sample=1),
            row(1, [False, False], {US: [0.5, 0.5]})]
    got = overton_table(answer_scores(rows, [US]), n_boot=100).iloc[0]
    assert got["n_items"] == 2 and got["overton_score"] == pytest.approx((0.75 + 0) / 2)


def test_pair_difference_on_items_both_scored():
    human = {US: [0.5, 0.5]}
    rows = [row(0, [True, True], human, "pre"), row(1, [True, False], human, "pre"),
            row(2, [False, False], human, "pre"),
            row(0, [False, False], human, "post"), row(1, [True, True], human, "post"),
            row(2, [None, None], human, "post", status="refused")]
    pair = overton_pair(answer_scores(rows, [US]), "pre", "post", n_boot=200).iloc[0]
    # items 0 and 1: post - pre = (0 - 1 + 1 - 0.5) / 2
    assert pair["n_items"] == 2
    assert pair["difference"] == pytest.approx(-0.25)
    assert (pair["score_pre"], pair["score_post"]) == (pytest.approx(0.75), pytest.approx(0.5))


def test_analyze_distributions_writes_overton_csv_and_the_report(tmp_path):
    import json

    import pandas as pd

    from tests.script_entry import script_main

    human = {US: [0.5, 0.42, 0.08], JP: [0.2, 0.7, 0.1]}
    files = []
    for model, covered in (("pre", [True, False, False]), ("post", [True, True, True])):
        rows = [{**row(i, covered, human, model), "judge": "j", "options": ["A", "B", "C"],
                 "question": f"Q{i}?", "response": f"{model} answer {i}"} for i in range(3)]
        rows.append({**row(9, [None] * 3, human, model, status="refused"), "judge": "j",
                     "options": ["A", "B", "C"], "question": "Q9?", "response": "No."})
        path = tmp_path / f"{model}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        files.append(str(path))
    out = tmp_path / "report"
    assert script_main("analyze_distributions")([
        "--overton", *files, "--pair", "pre:post", "--bootstrap", "50", "--out-dir",
        str(out)]) == 0
    table = pd.read_csv(out / "overton.csv")
    got = table.set_index(["model", "country"])
    assert got.loc[("pre", US), "overton_score"] == pytest.approx(0.5)
    assert got.loc[("post", JP), "overton_score"] == pytest.approx(1.0)
    assert got.loc[("pre", JP), "overton_score"] == pytest.approx(1 / 3)
    assert got.loc[("post", US), "n_refused"] == 1
    # post presents the option outside the US window (0.08), pre does not
    assert got.loc[("post", US), "outside_share"] == 1.0
    assert got.loc[("pre", US), "outside_share"] == 0.0
    pairs = pd.read_csv(out / "overton_pairs.csv").set_index("country")
    assert pairs.loc[US, "difference"] == pytest.approx(0.5)
    report = (out / "report.md").read_text()
    assert "## Overton pluralism" in report and "overton_summary.png" in report
    html = (out / "report.html").read_text()
    assert "post answer 2" in html and (out / "figures" / "overton_summary.png").exists()


def coverage_file(path, registry_name, model_id, covered, version=None):
    import json

    human = {US: [0.5, 0.5]}
    rows = [{**row(i, covered[i], human, registry_name), "model_id": model_id,
             "model_version": version, "judge": "j", "options": ["A", "B"],
             "question": f"Q{i}?", "response": "text"} for i in range(len(covered))]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


@pytest.mark.parametrize("pair", ["llama-2-13b:llama-2-13b-chat",
                                  "meta-llama/Llama-2-13b-hf:meta-llama/Llama-2-13b-chat-hf",
                                  "llama-2-13b:chat-0613"])
def test_overton_tables_use_one_name_per_model_and_a_pair_by_either_name(tmp_path, pair):
    """As the distribution tables: a model goes by its registry name, its model id (and
    version) in columns of overton_items.csv; --pair takes any of them."""
    import pandas as pd

    from tests.script_entry import script_main

    files = [coverage_file(tmp_path / "a.jsonl", "llama-2-13b", "meta-llama/Llama-2-13b-hf",
                           [[True, True], [True, False]]),
             coverage_file(tmp_path / "b.jsonl", "llama-2-13b-chat",
                           "meta-llama/Llama-2-13b-chat-hf", [[True, False], [False, False]],
                           version="chat-0613")]
    out = tmp_path / "report"
    assert script_main("analyze_distributions")([
        "--overton", *files, "--pair", pair, "--bootstrap", "20", "--out-dir", str(out)]) == 0
    pairs = pd.read_csv(out / "overton_pairs.csv")
    assert set(pairs["pre"]) == {"llama-2-13b"} and set(pairs["post"]) == {"llama-2-13b-chat"}
    assert list(pairs["difference"]) == [pytest.approx(-0.5)] * len(pairs)
    assert set(pd.read_csv(out / "overton.csv")["model"]) == {"llama-2-13b",
                                                             "llama-2-13b-chat"}
    items = pd.read_csv(out / "overton_items.csv")
    assert dict(zip(items["model"], items["model_id"], strict=False)) == {
        "llama-2-13b": "meta-llama/Llama-2-13b-hf",
        "llama-2-13b-chat": "meta-llama/Llama-2-13b-chat-hf"}


def test_an_overton_pair_naming_no_model_suggests_the_closest(tmp_path):
    from core.errors import UserError
    from tests.script_entry import script_main

    files = [coverage_file(tmp_path / "a.jsonl", "smollm2-135m-instruct",
                           "HuggingFaceTB/SmolLM2-135M-Instruct", [[True, True]])]
    for typed, meant in (("smollm2-135m-instrukt", "smollm2-135m-instruct"),
                         ("HuggingFaceTB/SmolLM2-135M-Instruc",
                          "HuggingFaceTB/SmolLM2-135M-Instruct")):
        with pytest.raises(UserError, match=f"did you mean '{meant}'"):
            script_main("analyze_distributions")([
                "--overton", *files, "--pair", f"{typed}:x", "--bootstrap", "10",
                "--out-dir", str(tmp_path / "out")])


def test_one_overton_name_serving_two_models_gives_way_to_their_ids(tmp_path):
    """One registry entry (openai-compatible) run with two --model ids: two models, not one
    whose rows overwrite each other."""
    import pandas as pd

    from tests.script_entry import script_main

    files = [coverage_file(tmp_path / "a.jsonl", "openai-compatible", "org/model-a",
                           [[True, True], [True, True]]),
             coverage_file(tmp_path / "b.jsonl", "openai-compatible", "org/model-b",
                           [[False, False], [True, False]])]
    out = tmp_path / "report"
    assert script_main("analyze_distributions")([
        "--overton", *files, "--pair", "org/model-a:org/model-b", "--bootstrap", "20",
        "--out-dir", str(out)]) == 0
    table = pd.read_csv(out / "overton.csv").set_index(["model", "country"])
    assert table.loc[("org/model-a", US), "overton_score"] == pytest.approx(1.0)
    assert table.loc[("org/model-b", US), "overton_score"] == pytest.approx(0.25)
    assert table.loc[("org/model-a", US), "n_items"] == 2


def test_a_failed_call_is_counted_apart_from_unreadable():
    """Issue 23 §3: a failed judge call is a failure with its own column, not 'unreadable'."""
    human = {US: [0.5, 0.5]}
    rows = [row(0, [True, True], human), row(1, [None, None], human, status="error"),
            row(2, [None, None], human, status="unreadable"),
            row(3, [None, None], human, status="error")]
    got = overton_table(answer_scores(rows, [US]), n_boot=50).iloc[0]
    assert (got["n_unreadable"], got["n_failed"]) == (1, 2)


def test_a_pair_difference_on_too_few_items_says_why_it_has_no_interval():
    human = {US: [0.5, 0.5]}
    rows = [row(i, [True, i % 2 == 0], human, m) for i in range(3) for m in ("pre", "post")]
    pair = overton_pair(answer_scores(rows, [US]), "pre", "post", n_boot=50).iloc[0]
    assert np.isnan(pair["ci_low"]) and "fewer than 5" in pair["ci_note"]


def test_a_demonstration_models_overton_tables_carry_the_notice(tmp_path):
    """Issue 23 §3: the CSVs of a demonstration run carry report.md's notice, Overton's too
    (an Overton-only run of the embedded SmolLM2 had no notice anywhere)."""
    import pandas as pd

    from tests.script_entry import script_main

    files = [coverage_file(tmp_path / "demo.jsonl", "smollm2-135m-instruct",
                           "HuggingFaceTB/SmolLM2-135M-Instruct", [[True, False]] * 6)]
    out = tmp_path / "report"
    assert script_main("analyze_distributions")([
        "--overton", *files, "--bootstrap", "20", "--out-dir", str(out)]) == 0
    for name in ("overton.csv", "overton_items.csv"):
        notice = pd.read_csv(out / name)["notice"]
        assert notice.str.startswith("A demonstration, not a measurement").all(), name
    assert "A demonstration, not a measurement" in (out / "report.md").read_text()


def test_an_empty_answer_is_counted_apart_from_refusals():
    """Issue 27 §3: an answer with no text is shown apart, never counted as a refusal."""
    human = {US: [0.5, 0.5]}
    rows = [row(0, [True, True], human), row(1, [None, None], human, status="empty"),
            row(2, [None, None], human, status="refused")]
    got = overton_table(answer_scores(rows, [US]), n_boot=50).iloc[0]
    assert (got["n_refused"], got["n_empty"]) == (1, 1)
