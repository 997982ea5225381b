"""The README's main job end to end (scripts/run_study.py on the demo config), on a tiny sample.

The config is the shipped demo config with a smaller sample and shorter answers, so this
runs every stage for real: fetch from the mirror, the test set, SmolLM2 generation, SmolLM2 as
probability judge, the MPI distributions, both analyses; then a rerun that has nothing left to do.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from core.paths import REPO_ROOT
from harness.results import read_jsonl

N_TASKS = 14


def tiny_demo_config(tmp_path) -> dict:
    config = yaml.safe_load((REPO_ROOT / "configs" / "demo.yaml").read_text())
    config.update(results_dir=str(tmp_path / "results"), reports_dir=str(tmp_path / "reports"),
                  data_dir=str(tmp_path / "Data"))
    neutrality = config["neutrality"]
    neutrality["sample_per_task"] = 1
    neutrality["generation"].update(max_tokens=6)
    config["pluralism"]["mpi"].update(reps=2, limit=3)
    config["pluralism"]["globalqa"]["data"] = str(tmp_path / "no_global_opinions.csv")
    return config


def run_study(config_path, mirror) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "run_study.py"), "--config", str(config_path),
         "--mirror", str(mirror.resolve())],
        # from another folder: the runner must not depend on the caller's working directory
        cwd=config_path.parent, capture_output=True, text=True, timeout=900)


def test_main_command_runs_every_stage_then_a_rerun_does_nothing(tmp_path, mirror_dir):
    config_path = tmp_path / "demo_tiny.yaml"
    config_path.write_text(yaml.safe_dump(tiny_demo_config(tmp_path)))

    first = run_study(config_path, mirror_dir)
    assert first.returncode == 0, first.stderr[-3000:]

    results, reports = tmp_path / "results", tmp_path / "reports"
    assert (tmp_path / "Data" / "neutrality" / "data_voting_questions.csv").is_file()
    generations = list(read_jsonl(results / "generations" / "smollm2-135m-instruct.jsonl"))
    assert len(generations) == N_TASKS  # one prompt per task
    assert len({g["task"] for g in generations}) == N_TASKS
    assert all(g["error"] is None for g in generations)
    annotations = list(read_jsonl(
        results / "annotations" / "smollm2-135m-instruct__smollm2-135m-instruct.jsonl"))
    assert sorted(a["id"] for a in annotations) == sorted(g["id"] for g in generations)
    # the demo's probability judge: a verdict for every response, never unreadable
    for a in annotations:
        assert (a["judge_mode"], a["parse_status"]) == ("probs", "ok")
        assert sum(a["judge_probs"].values()) == pytest.approx(1.0, abs=1e-6)
        assert a["final_category"] == max(a["judge_probs"], key=a["judge_probs"].get)
        assert 0 < a["digit_mass"] <= 1 and a["judge_input"].startswith("<|im_start|>")
    rows = list(read_jsonl(results / "distributions" / "mpi" / "smollm2-135m-instruct.jsonl"))
    mpi = [r for r in rows if r.get("steer_to") is None]
    assert sorted(r["item_id"] for r in mpi) == [0, 1, 2]
    # the demo's steered collection: the same items (never past the collection's limit), as
    # each of its groups
    steered = sorted((r["steer_to"], r["item_id"]) for r in rows if r.get("steer_to"))
    groups = tiny_demo_config(tmp_path)["pluralism"]["mpi"]["steer"]["groups"]
    assert steered == sorted((g, i) for g in groups for i in range(3))
    for row in mpi:
        assert sum(row["probs"]) == pytest.approx(1.0, abs=1e-6)
        assert len(row["rep_probs"]) == 2

    neutrality_report = (reports / "neutrality" / "report.md").read_text()
    assert "demonstration" in neutrality_report
    assert (reports / "distributions" / "report.md").is_file()
    figures = list((reports / "neutrality" / "figures").glob("*.png")) + list(
        (reports / "distributions" / "figures").glob("*.png"))
    assert figures and all(f.stat().st_size > 0 for f in figures)
    # GlobalQA has no data here: skipped, and said so
    assert "GlobalOpinionQA data" in first.stdout and "not found" in first.stdout

    stamps = {p: p.stat().st_mtime_ns for p in results.rglob("*.jsonl")}
    second = run_study(config_path, mirror_dir)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "0 stage(s) ran" in second.stdout
    assert {p: p.stat().st_mtime_ns for p in results.rglob("*.jsonl")} == stamps
    stages = json.loads((results / "stages.json").read_text())
    assert {"fetch", "test-set", "generate:smollm2-135m-instruct",
            "annotate:smollm2-135m-instruct", "analyze-neutrality",
            "mpi:smollm2-135m-instruct", "analyze-distributions"} <= set(stages)

