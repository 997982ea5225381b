"""The collection scripts reuse a repetition only if it was made from the same request: the
same backend and model, settings (the run's identity) and prompt (its text and drawn
examples, by hash). Anything else stops the run, and its dry run, before a request is sent,
in one line naming what differs and the two ways out; --redo-stale makes those repetitions
and their items again, so an item is never assembled from rows of two runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from core.errors import UserError
from harness.results import read_jsonl
from pluralism.assemble import assemble_item
from pluralism.items import SurveyItem
from pluralism.prompts import load_templates
from tests.data_mirror import mpi_items_file
from tests.fakes.server import FakeServer
from tests.providers.test_distribution_api import mpi_main

LIMIT, REPS = 3, 2


@pytest.fixture
def items(tmp_path: Path) -> Path:
    path = tmp_path / "mpi_questions.tsv"
    path.write_text(mpi_items_file().read_text(encoding="utf-8"), encoding="utf-8")
    return path


def collect(fake: FakeServer, tmp_path: Path, items: Path, *extra: str) -> list[dict]:
    mpi_main()(["--backend", "gpt-4o-mini", "--base-url", fake.url + "/v1", "--data_dir",
                str(items), "--save_dir", str(tmp_path / "mpi"), "--limit", str(LIMIT),
                "--reps", str(REPS), "--no-cache", "--no-progress", *extra])
    return list(read_jsonl(tmp_path / "mpi" / "gpt-4o-mini.jsonl"))


def reword_item(items: Path, index: int) -> None:
    lines = items.read_text(encoding="utf-8").splitlines(keepends=True)
    cells = lines[1 + index].split("\t")
    cells[1] = "Reworded " + cells[1]
    lines[1 + index] = "\t".join(cells)
    items.write_text("".join(lines), encoding="utf-8")


@pytest.fixture
def first(fake, tmp_path, items) -> list[dict]:
    fake.state.logprobs = {"A": math.log(0.6), "B": math.log(0.4)}
    rows = collect(fake, tmp_path, items)
    assert len(rows) == LIMIT and len(fake.state.requests) == LIMIT * REPS
    return rows


def test_an_item_reworded_in_the_data_stops_the_run_and_its_dry_run(fake, tmp_path, items,
                                                                    first) -> None:
    reword_item(items, 1)
    out = tmp_path / "mpi" / "gpt-4o-mini.jsonl"
    before = out.read_text()
    with pytest.raises(UserError) as info:
        collect(fake, tmp_path, items)
    line = str(info.value)
    assert "another prompt text" in line and "first item_id 1" in line and "\n" not in line
    assert "--out-dir" in line and "--redo-stale" in line
    assert len(fake.state.requests) == LIMIT * REPS and out.read_text() == before
    with pytest.raises(UserError) as dry:
        collect(fake, tmp_path, items, "--dry-run")
    assert str(dry.value) == line


def test_redo_stale_asks_the_reworded_item_again_and_reassembles_it(fake, tmp_path, items,
                                                                     first, capsys) -> None:
    reword_item(items, 1)
    rows = {r["item_id"]: r for r in collect(fake, tmp_path, items, "--redo-stale")}
    assert len(fake.state.requests) == LIMIT * REPS + REPS  # only item 1's repetitions
    assert all("Reworded" in p for p in rows[1]["prompts"])
    assert not any("Reworded" in p for p in rows[0]["prompts"])
    reps = list(read_jsonl(tmp_path / "mpi" / "requests" / "gpt-4o-mini.jsonl"))
    assert len(reps) == LIMIT * REPS
    capsys.readouterr()
    collect(fake, tmp_path, items, "--dry-run")
    assert "to do: 0 of 6 requests" in capsys.readouterr().out


def test_another_model_stops_the_run_and_its_dry_run_and_redo_stale_replaces_it(
        fake, tmp_path, items, first) -> None:
    for extra in ([], ["--dry-run"]):
        with pytest.raises(UserError, match="made with other settings.*--redo-stale"):
            collect(fake, tmp_path, items, "--model-name", "gpt-4o-mini-2099", *extra)
    assert len(fake.state.requests) == LIMIT * REPS
    rows = collect(fake, tmp_path, items, "--model-name", "gpt-4o-mini-2099", "--redo-stale")
    assert {r["model"] for r in rows} == {"gpt-4o-mini-2099"} and len(rows) == LIMIT
    assert len(fake.state.requests) == 2 * LIMIT * REPS
    reps = list(read_jsonl(tmp_path / "mpi" / "requests" / "gpt-4o-mini.jsonl"))
    assert {r["model"] for r in reps} == {"gpt-4o-mini-2099"}


def test_rows_written_before_the_hash_compare_their_input_text(fake, tmp_path, items,
                                                               first) -> None:
    requests = tmp_path / "mpi" / "requests" / "gpt-4o-mini.jsonl"
    old = [{k: v for k, v in r.items() if k != "prompt_sha256"} for r in read_jsonl(requests)]
    requests.write_text("".join(json.dumps(r) + "\n" for r in old))
    collect(fake, tmp_path, items)
    assert len(fake.state.requests) == LIMIT * REPS
    reword_item(items, 2)
    with pytest.raises(UserError, match="another prompt text"):
        collect(fake, tmp_path, items)


def test_an_item_is_never_assembled_from_rows_of_two_runs() -> None:
    template = load_templates(None).mpi
    item = SurveyItem("mpi", 0, "Worry about things")
    rows = [{"item_id": 0, "rep": r, "sample": 0, "run_id": run, "error": None,
             "first_token_logprobs": {"A": -0.1}, "provider_message": None}
            for r, run in enumerate(("run-a", "run-b"))]
    with pytest.raises(ValueError, match="another run"):
        assemble_item(item, rows, method="top_logprobs", reps=2, template=template,
                      dataset="mpi", model_id="m", backend="b", params={"run_id": "run-a"},
                      model_version=None, label=None)
