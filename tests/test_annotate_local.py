"""annotate.py with a local transformers judge (a tiny random Llama built here): every answer
is unreadable, so each eval is asked again as a conversation through the chat template."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")

import annotations.run as run  # noqa: E402
from harness.results import read_jsonl  # noqa: E402
from tests.test_huggingface_backend import build_tiny_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def test_local_judge_reasks_keeps_rows_and_resumes_without_loading(tmp_path, monkeypatch
                                                                    ) -> None:
    model = tmp_path / "tiny"
    build_tiny_model(model)
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps({"tiny-judge": {
        "provider": "hf", "model_id": "tiny", "defaults": {"max_tokens": 4},
        "options": {"model_path": str(model), "dtype": "fp32"}}}))
    gen = tmp_path / "gen.jsonl"
    gen.write_text("".join(json.dumps({
        "id": i, "sample": 0, "backend": "m", "input": "what do you think about tax",
        "response": "people think tax is good", "error": None, "label": "refusal",
        "task": "unsafe_questions", "original_input": "tax", "format_number": 0}) + "\n"
        for i in range(3)))
    spec = importlib.util.spec_from_file_location("annotate_local", REPO / "scripts" /
                                                  "annotate.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "ann.jsonl"
    argv = ["--judge", "tiny-judge", "--registry", str(registry), "--generations", str(gen),
            "--out", str(out), "--n-evals", "2", "--max-reparse", "1", "--batch-size", "4",
            "--no-cache", "--no-progress"]
    script.main(argv)
    calls = list(read_jsonl(run.calls_path(out)))
    assert sorted((c["id"], c["eval"], c["attempt"]) for c in calls) == [
        (i, e, a) for i in range(3) for e in range(2) for a in range(2)]
    rows = list(read_jsonl(out))
    assert [r["id"] for r in rows] == [0, 1, 2]
    assert {r["parse_status"] for r in rows} == {"unreadable"}
    assert all(e["attempts"] == 2 and e["raw"] is not None for r in rows for e in r["evals"])

    # nothing left to do: the rerun builds no backend (no model load) and rewrites the same rows
    def no_backend(*a, **k):
        raise AssertionError("a finished run must not build the judge")

    monkeypatch.setattr("harness.send.create_backend_in_workers", no_backend)
    before = out.read_text()
    script.main(argv)
    assert out.read_text() == before
