"""run_study.py --dry-run: every stage priced (the judge too, before any answer exists), totals
online and with --batch-api, missing keys and retired models named, and nothing written."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from core.paths import REPO_ROOT
from study.estimate import estimate_neutrality
from study.stages import load_config, read_from_mirror, study_stages
from tests.script_entry import script_main

SKIP_DIRS = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache"}
TASKS = 14  # the neutrality test set's tasks
JUDGE_PRICE = (2.5, 10.0)  # gpt-4o, USD per 1M tokens in / out (backends/registry.json)


def run_study(argv: list[str]) -> int:
    return script_main("run_study")(argv)


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under root (caches and the environment aside): size and modification time."""
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        for name in files:
            stat = (Path(folder) / name).stat()
            found[str(Path(folder, name).relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return found


def write_config(tmp_path: Path, mirror: Path | None, **neutrality) -> Path:
    block = {"templates": str(tmp_path / "Data/neutrality/study_templates.json"),
             "models": ["gpt-4o-mini", "claude-3.5-sonnet", "olmo-2-13b"],
             "judge": "gpt-4o", "sample_per_task": 2,
             "generation": {"max_tokens": 1024},
             "annotation": {"n_evals": 3}}
    block.update(neutrality)
    config = {"name": "priced", "results_dir": str(tmp_path / "results"),
              "reports_dir": str(tmp_path / "reports"), "data_dir": str(tmp_path / "Data"),
              "neutrality": block}
    if mirror is not None:
        config["mirror"] = str(mirror)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def dollars(line: str, after: str) -> float:
    return float(re.search(re.escape(after) + r"\$([\d,.]+)", line).group(1).replace(",", ""))


def test_paper_dry_run_prices_the_judge_names_keys_and_writes_nothing(
        tmp_path, mirror_dir, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # run_study moves to the repository root
    for env in ("OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(env, raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    config = write_config(tmp_path, mirror_dir)
    before_repo, before_tmp = tree(REPO_ROOT), tree(tmp_path)

    assert run_study(["--config", str(config), "--dry-run"]) == 0

    out = capsys.readouterr().out
    assert tree(REPO_ROOT) == before_repo and tree(tmp_path) == before_tmp
    lines = out.splitlines()
    judge = next(x for x in lines if x.startswith("[annotate:gpt-4o-mini]"))
    responses = 2 * TASKS
    assert f"{responses * 3:,} requests" in judge
    # each judged answer is counted at the 1024-token generation budget: the judge's input is
    # at least that, its output at most its own budget (1024), per request
    floor = responses * 3 * (1024 * JUDGE_PRICE[0] + 1024 * JUDGE_PRICE[1]) / 1e6
    assert floor <= dollars(judge, "; ") <= floor + responses * 3 * 4000 * JUDGE_PRICE[0] / 1e6
    total = next(x for x in lines if x.startswith("total:"))
    online, batch = dollars(total, "total: "), dollars(total, "online, ")
    stage_costs = [dollars(x, "; ") for x in lines
                   if x.startswith(("[generate:gpt", "[generate:claude", "[annotate:"))]
    assert online == pytest.approx(sum(stage_costs), abs=0.01 * len(stage_costs))
    assert batch == pytest.approx(online / 2, abs=0.01 * len(stage_costs))
    assert "wall time at the rate limits: at least" in out
    keys = next(x for x in lines if x.startswith("missing keys:"))
    assert "OPENAI_API_KEY (for gpt-4o-mini, judge gpt-4o)" in keys
    assert "GEMINI" not in keys and "ANTHROPIC_API_KEY" not in keys  # set, or not needed
    retired = [x for x in lines if x.startswith("retired:")]
    assert len(retired) == 1 and "claude-sonnet-4.5" in retired[0]


def test_judge_is_priced_from_real_answers_once_they_exist(tmp_path, mirror_dir):
    config = load_config(write_config(tmp_path, mirror_dir, models=["gpt-4o-mini"]))
    before = estimate_neutrality(config).stages[-1]
    generations = tmp_path / "results/generations/gpt-4o-mini.jsonl"
    generations.parent.mkdir(parents=True)
    rows = [{"id": i, "sample": 0, "input": "Q?", "response": "Short answer.", "error": None}
            for i in range(5)]
    generations.write_text("".join(json.dumps(r) + "\n" for r in rows))
    after = estimate_neutrality(config).stages[-1]
    assert "5 answers in" in after.detail and "15 requests" in after.detail
    assert after.cost_usd < before.cost_usd / 5


def test_without_data_the_total_is_unknown_and_the_fetch_is_named(tmp_path, capsys,
                                                                   monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONTESTED_DATA_MIRROR", raising=False)
    config = write_config(tmp_path, None)
    assert run_study(["--config", str(config), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "fetch_data.py" in out and "total: unknown" in out
    assert not (tmp_path / "Data").exists() and not (tmp_path / "results").exists()


def test_a_dry_run_reads_unfetched_pluralism_data_from_the_mirror(tmp_path, mirror_dir):
    config = {"name": "p", "results_dir": str(tmp_path / "results"),
              "data_dir": str(tmp_path / "Data"), "mirror": str(mirror_dir),
              "fetch_with": ["globalqa"],
              "pluralism": {"mpi": {"models": ["gpt-3.5-turbo"]},
                            "globalqa": {"models": ["gpt-3.5-turbo"],
                                         "data": str(tmp_path / "Data/pluralism/"
                                                     "global_opinions.csv")}}}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(config))
    loaded = load_config(path)
    stages = study_stages(loaded)
    assert stages[0].args[-2:] == ("--with", "globalqa")  # the config asks the fetch for it
    globalqa = next(s for s in stages if s.name == "globalqa:gpt-3.5-turbo")
    assert globalqa.optional_reason is None  # the fetch stage brings its data
    mpi = next(s for s in read_from_mirror(stages, loaded) if s.name == "mpi:gpt-3.5-turbo")
    assert str(mirror_dir / "pluralism/mpi_questions.tsv") in mpi.args
    assert all(p.exists() for p in mpi.inputs)
