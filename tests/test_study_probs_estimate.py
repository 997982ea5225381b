"""The study's dry run prices the probability judge as annotate.py does (issue 23, item 4):
`annotation.judge_mode: probs` is one call per response with one output token, and no batch
price, since the probability judge refuses --batch-api."""

from __future__ import annotations

import json
import re

from study.estimate import estimate_neutrality
from study.stages import load_config
from tests.script_entry import script_main
from tests.test_study_dry_run import TASKS, write_config

PROBS = {"judge_mode": "probs", "n_evals": 1}


def test_the_probability_judge_is_priced_at_one_output_token_per_response_and_no_batch(
        tmp_path, mirror_dir):
    config = load_config(write_config(tmp_path, mirror_dir, models=["gpt-4o-mini"],
                                      annotation=PROBS))
    estimate = estimate_neutrality(config)
    judge = estimate.stages[-1]
    responses = 2 * TASKS
    assert judge.name == "annotate:gpt-4o-mini"
    assert f"{responses:,} requests" in judge.detail
    assert f"at most {responses:,} out" in judge.detail  # one token each, not 1,024
    assert "with --batch-api" not in judge.detail and not judge.batchable
    generation = estimate.stages[1]
    assert estimate.total(batch_api=True) == (
        generation.cost_usd * 0.5 + judge.cost_usd)  # the judge at its online price


def test_the_study_prices_the_probability_judge_as_annotate_does(tmp_path, mirror_dir,
                                                                  capsys):
    config = load_config(write_config(tmp_path, mirror_dir, models=["gpt-4o-mini"],
                                      annotation=PROBS))
    generations = tmp_path / "results/generations/gpt-4o-mini.jsonl"
    generations.parent.mkdir(parents=True)
    # answers to prompts outside the config's draw (ids past the test set's), so the
    # generation stage's resume check has no prompt of its own to compare them with
    rows = [{"id": 20_000 + i, "sample": 0, "input": f"Question {i}?",
             "response": "An answer. " * (20 * i), "error": None} for i in range(40)]
    generations.write_text("".join(json.dumps(r) + "\n" for r in rows))
    judge = estimate_neutrality(config).stages[-1]

    assert script_main("annotate")(["--judge", "gpt-4o", "--generations", str(generations),
                                    "--judge-mode", "probs", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    annotate_cost = float(re.search(r"estimated cost: at most \$([\d.]+)", printed).group(1))
    assert "40 requests" in judge.detail
    assert round(judge.cost_usd, 2) == annotate_cost
