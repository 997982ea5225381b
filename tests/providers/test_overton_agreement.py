"""overton_agreement.py against a fake judge whose answers are known: right on every clear
pair of our labelled set, wrong on every hard one; accuracy and kappa by hand."""

from __future__ import annotations

import json
import re

import pytest

from annotations.coverage_agreement import DEFAULT_LABELLED
from tests.script_entry import script_main


def labelled():
    return json.loads(DEFAULT_LABELLED.read_text())["answers"]


def test_the_labelled_set_has_clear_yes_clear_no_and_hard_pairs():
    answers = labelled()
    pairs = [(label, i in a["hard"]) for a in answers for i, label in enumerate(a["labels"])]
    assert len(pairs) >= 40
    assert sum(label and not hard for label, hard in pairs) >= 10
    assert sum(not label and not hard for label, hard in pairs) >= 10
    assert sum(hard for _, hard in pairs) >= 8


def test_agreement_with_a_judge_of_known_answers(fake, tmp_path, capsys):
    answers = {a["response"]: a for a in labelled()}

    def reply(provider, prompt):
        answer = answers[re.search(r'Answer: "(.*?)"\n\n', prompt, re.S).group(1)]
        view = re.search(r'View: "(.*?)"', prompt)
        if view is None:
            return '{"answer": "no"}'  # the refusal question
        i = answer["options"].index(view.group(1))
        label = answer["labels"][i] != (i in answer["hard"])  # wrong on the hard pairs
        return '{"answer": "%s"}' % ("yes" if label else "no")

    fake.state.reply = reply
    out = tmp_path / "agreement.jsonl"
    argv = ["--judge", "gpt-4o", "--out", str(out), "--reps", "200", "--base-url",
            fake.url + "/v1", "--no-cache", "--no-progress", "--rpm", "60000", "--tpm", "1e9"]
    assert script_main("overton_agreement")([*argv, "--dry-run"]) == 0
    assert not fake.state.requests and not out.exists()
    assert script_main("overton_agreement")(argv) == 0
    result = json.loads(out.with_name("agreement.agreement.json").read_text())

    truth, judged = [], []
    for a in labelled():
        for i, label in enumerate(a["labels"]):
            truth.append(label)
            judged.append(label != (i in a["hard"]))
    n = len(truth)
    accuracy = sum(t == j for t, j in zip(truth, judged, strict=True)) / n
    p_yes_t, p_yes_j = sum(truth) / n, sum(judged) / n
    chance = p_yes_t * p_yes_j + (1 - p_yes_t) * (1 - p_yes_j)
    kappa = (accuracy - chance) / (1 - chance)
    assert result["pairs"] == n and result["unreadable"] == 0
    assert result["all"]["accuracy"] == pytest.approx(accuracy)
    assert result["all"]["cohen_kappa"] == pytest.approx(kappa)
    lo, hi = result["all"]["accuracy_ci"]
    assert lo <= accuracy <= hi and hi - lo > 0
    assert result["clear"]["accuracy"] == 1.0 and result["hard"]["accuracy"] == 0.0
    printed = capsys.readouterr().out
    assert f"accuracy {accuracy:.3f}" in printed and "Cohen's kappa" in printed
    # a rerun sends nothing
    sent = len(fake.state.requests)
    assert script_main("overton_agreement")(argv) == 0
    assert len(fake.state.requests) == sent
