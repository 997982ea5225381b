"""annotate.py --batch-api: judge calls and re-ask rounds as provider batches, the same rows as
the online judge, a restart that polls instead of submitting again, --status."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import harness.batch
from annotations.run import REASK, calls_path
from harness.batch_state import state_path
from harness.results import read_jsonl
from tests.fakes.batch_server import FakeBatchServer
from tests.fakes.server import FakeServer
from tests.providers.test_annotate_e2e import judge_json, load_script

#: fields that differ between two runs of the same call by nature
VOLATILE = ("created_at", "latency_s")


def judge(provider: str, prompt: str) -> str:
    """Readable for ids 0-2; id 3 only when asked again. Depends on the prompt alone."""
    if prompt == REASK:
        return judge_json(4)
    m = re.search(r'Output: "Answer (\d)\."', prompt)
    assert m, prompt[-200:]
    i = int(m.group(1))
    return "Let me think about it." if i == 3 else judge_json(i + 1)


@pytest.fixture
def generations(tmp_path: Path) -> Path:
    rows = [{"id": i, "sample": 0, "backend": "llama-3.3-70b", "model": "meta/llama",
             "input": f"Is policy {i} good?", "response": f"Answer {i}.", "reasoning": None,
             "error": None, "label": "reasonable_pluralism", "task": "political_opinion_pct",
             "original_input": f"policy {i}", "format_number": 1} for i in range(4)]
    path = tmp_path / "gen.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def batches(api_keys: dict[str, str]) -> Iterator[FakeBatchServer]:
    server = FakeBatchServer().start()
    server.state.answers.reply = judge
    try:
        yield server
    finally:
        server.stop()


def annotate(url: str, generations: Path, out: Path, *extra: str) -> None:
    load_script("annotate").main([
        "--judge", "gpt-4o", "--base-url", url + "/v1", "--generations", str(generations),
        "--out", str(out), "--n-evals", "2", "--max-reparse", "1", "--no-cache",
        "--no-progress", "--rpm", "60000", "--tpm", "1e9", *extra])


def strip(rows: list[dict]) -> dict:
    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if k not in VOLATILE}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    return {(r["id"], r.get("sample"), r.get("eval"), r.get("attempt")): clean(r) for r in rows}


def test_batch_judge_writes_the_online_judges_rows(batches, fake: FakeServer, generations,
                                                   tmp_path) -> None:
    fake.state.reply = judge
    online, batched = tmp_path / "online.jsonl", tmp_path / "batch.jsonl"
    annotate(fake.url, generations, online)
    annotate(batches.url, generations, batched, "--batch-api", "--poll-interval", "0.001")
    # first asks in one batch (4 responses x 2 evals), then one batch of re-asks (id 3)
    sizes = [len(batches.state.entries(b)) for b in batches.state.created]
    assert sizes == [8, 2]
    assert strip(list(read_jsonl(calls_path(batched)))) == strip(
        list(read_jsonl(calls_path(online))))
    assert strip(list(read_jsonl(batched))) == strip(list(read_jsonl(online)))
    final = {r["id"]: r for r in read_jsonl(batched)}
    assert final[3]["parse_status"] == "ok" and final[0]["parse_status"] == "ok"
    recorded = json.loads(state_path(calls_path(batched)).read_text())["batches"]
    assert [b["id"] for b in recorded] == batches.state.created


def test_batch_judge_restart_polls_and_status(batches, generations, tmp_path, monkeypatch,
                                              capsys) -> None:
    out = tmp_path / "ann.jsonl"
    batches.state.hold = True

    async def crash(_: float) -> None:
        raise RuntimeError("killed while waiting")

    with monkeypatch.context() as m, pytest.raises(RuntimeError, match="killed"):
        m.setattr(harness.batch, "_sleep", crash)
        annotate(batches.url, generations, out, "--batch-api", "--poll-interval", "0.001")
    (first,) = batches.state.created
    capsys.readouterr()
    annotate(batches.url, generations, out, "--batch-api", "--status")
    printed = capsys.readouterr().out
    assert first in printed and "in_progress" in printed

    batches.state.hold = False
    annotate(batches.url, generations, out, "--batch-api", "--poll-interval", "0.001")
    assert batches.state.created[0] == first
    assert [len(batches.state.entries(b)) for b in batches.state.created] == [8, 2]
    assert {r["parse_status"] for r in read_jsonl(out)} == {"ok"}


def test_a_batch_rejudging_another_response_stops_or_with_redo_stale_submits_it(
        batches, generations, tmp_path) -> None:
    """The batch route reuses a judgement only for the same request, as online: an edited
    response stops the run before anything is submitted; --redo-stale judges it again."""
    from core.errors import UserError

    out = tmp_path / "ann.jsonl"
    annotate(batches.url, generations, out, "--batch-api", "--poll-interval", "0.001")
    made = len(batches.state.created)
    rows = [json.loads(line) for line in generations.read_text().splitlines()]
    rows[1]["response"] = "Answer 2."  # edited after judging
    generations.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(UserError, match=r"another prompt text \(2 rows, first id 1"):
        annotate(batches.url, generations, out, "--batch-api", "--poll-interval", "0.001")
    assert len(batches.state.created) == made
    annotate(batches.url, generations, out, "--batch-api", "--poll-interval", "0.001",
             "--redo-stale")
    assert [len(batches.state.entries(b)) for b in batches.state.created[made:]] == [2]
    by_id = {r["id"]: r for r in read_jsonl(out)}
    assert (by_id[1]["response"], by_id[1]["final_category"]) == (
        "Answer 2.", "reasonable_pluralism")
