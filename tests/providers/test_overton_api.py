"""Overton pluralism against the fake provider (real SDK clients): open answers asked
without the options, the coverage judge in both modes, and reruns that send nothing."""

from __future__ import annotations

import json
from pathlib import Path

from core.errors import EXIT_ROWS_FAILED
from harness.results import read_jsonl
from tests.fakes.server import FakeServer
from tests.overton_helpers import write_overton_csv
from tests.script_entry import script_main


def respond(fake: FakeServer, data: Path, out: Path, *extra: str) -> int:
    return script_main("create_overton_responses")([
        "--backend", "gpt-4o-mini", "--base-url", fake.url + "/v1", "--data_dir", str(data),
        "--out", str(out), "--no-cache", "--no-progress", "--rpm", "60000", "--tpm", "1e9",
        *extra])


def test_open_answers_are_asked_without_options_and_resume(fake, tmp_path, capsys):
    data = write_overton_csv(tmp_path / "global_opinions.csv")
    fake.state.model_version = "gpt-4o-mini-2024-07-18"
    fake.state.reply = lambda provider, prompt: f"Some say yes, some say no ({prompt[:12]})"
    out = tmp_path / "answers.jsonl"
    assert respond(fake, data, out, "--dry-run") == 0
    assert "requests to send: 3 (0 already done)" in capsys.readouterr().out
    assert not out.exists() and not fake.state.requests

    assert respond(fake, data, out) == 0
    rows = {r["item_id"]: r for r in read_jsonl(out)}
    assert sorted(rows) == [0, 1, 3]  # item 2 lacks the United States
    sent = [r.body["messages"][0]["content"] for r in fake.state.requests]
    defence = rows[3]
    assert defence["input"] in sent
    assert defence["input"].startswith("How much should the state spend on defence?")
    assert "More" not in defence["input"] and "Less" not in defence["input"]
    assert defence["options"] == ["More", "The same", "Less"]
    assert defence["human"] == {"United States": [0.5, 0.42, 0.08], "Japan": [0.2, 0.7, 0.1]}
    assert defence["model_version"] == "gpt-4o-mini-2024-07-18"
    assert defence["backend"] == "gpt-4o-mini" and defence["sample"] == 0
    assert defence["response"].startswith("Some say yes")

    # a rerun sends nothing
    assert respond(fake, data, out) == 0
    assert len(fake.state.requests) == 3


def test_a_failed_request_is_an_error_row_redone_on_retry(fake, tmp_path):
    data = write_overton_csv(tmp_path / "global_opinions.csv")
    out = tmp_path / "answers.jsonl"
    fake.state.push("bad_request", message="bad parameter", code="unsupported_parameter")
    assert respond(fake, data, out, "--limit", "1") == EXIT_ROWS_FAILED
    row = json.loads(out.read_text().splitlines()[0])
    assert row["error"] and row["response"] is None
    assert respond(fake, data, out, "--limit", "1", "--retry-errors") == 0
    assert [r["error"] for r in read_jsonl(out)] == [None]
