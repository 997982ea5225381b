"""The study config's Overton stage: its commands, and a dry run that prices the open
answers and one judge call per option (plus one per answer) before any answer exists."""

from __future__ import annotations

import json
import re

import yaml

from pluralism.overton import load_overton_prompts
from study.estimate_overton import estimate_overton
from study.stages import load_config, pluralism_stages
from tests.overton_helpers import OVERTON_ROWS, write_overton_csv
from tests.script_entry import script_main


def write_config(tmp_path, **overton):
    data = write_overton_csv(tmp_path / "global_opinions.csv")
    block = {"models": ["gpt-4o-mini"], "judge": "gpt-4o", "data": str(data),
             "countries": ["United States", "Japan"], "window_threshold": 0.15,
             "max_tokens": 100, **overton}
    config = {"name": "o", "results_dir": str(tmp_path / "results"),
              "reports_dir": str(tmp_path / "reports"), "data_dir": str(tmp_path / "Data"),
              "pluralism": {"overton": block}}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_overton_stages_run_answers_judge_and_analysis(tmp_path):
    stages = {s.name: s for s in pluralism_stages(load_config(write_config(tmp_path)))}
    answers = stages["overton:gpt-4o-mini"]
    assert answers.script == "create_overton_responses.py"
    assert answers.args[answers.args.index("--max-tokens"):][:2] == ("--max-tokens", "100")
    judge = stages["overton-judge:gpt-4o-mini"]
    assert judge.script == "annotate_overton.py" and judge.inputs == (
        tmp_path / "results/overton/gpt-4o-mini.jsonl",)
    analysis = stages["analyze-distributions"].args
    assert "--overton" in analysis and "0.15" in analysis
    assert str(tmp_path / "results/overton/coverage/gpt-4o-mini__gpt-4o.jsonl") in analysis


def test_dry_run_prices_answers_and_one_judge_call_per_option(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    path = write_config(tmp_path)
    assert script_main("run_study")(["--config", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    priced = [line for line in out.splitlines() if "requests" in line]
    answers = next(line for line in priced if line.startswith("[overton:"))
    judge = next(line for line in priced if line.startswith("[overton-judge:"))
    assert "3 requests" in answers  # items 0, 1, 3 are kept with both countries
    # per answer: one refusal question and one per option: (1+2) + (1+2) + (1+3)
    assert "10 requests" in judge and "100-token budget" in judge
    assert re.search(r"\$[\d.]+ online", judge)
    assert not (tmp_path / "results").exists()


def test_the_judge_is_priced_from_real_answers_once_they_exist(tmp_path):
    config = load_config(write_config(tmp_path))
    before = estimate_overton(config).stages[-1]
    answers = tmp_path / "results/overton/gpt-4o-mini.jsonl"
    answers.parent.mkdir(parents=True)
    # one answer, made from the request the stage sends for item 0 (a row made from another
    # prompt would stop the dry run as stale)
    question = OVERTON_ROWS[0]["question"]
    answers.write_text(json.dumps({"item_id": 0, "sample": 0, "question": question,
                                   "options": ["Yes", "No"], "human": {},
                                   "input": load_overton_prompts().question(question),
                                   "response": "Short.", "error": None}) + "\n")
    after = estimate_overton(config).stages[-1]
    assert "3 requests" in after.detail and "1 answers in" in after.detail
    assert after.cost_usd < before.cost_usd
