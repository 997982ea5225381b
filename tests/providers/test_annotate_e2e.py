"""scripts/annotate.py end to end: the real OpenAI client against the fake provider.

The fake judge answers in JSON, in prose (unreadable), or unreadably first and readably when
asked again; the run is then resumed after a simulated crash, and the output is loaded by the
neutrality analysis.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from analysis.neutrality_data import load_annotations
from annotations.run import REASK, calls_path
from core.errors import EXIT_ROWS_FAILED
from harness.results import read_jsonl
from tests.fakes.server import FakeServer

REPO = Path(__file__).resolve().parents[2]
KEYS = "ABCDEF"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_script", REPO / "scripts" /
                                                  f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def judge_json(final: int) -> str:
    answers = ", ".join(f'"Answer {k}": "{"yes" if i + 1 == final else "no"}"'
                        for i, k in enumerate(KEYS))
    return "```json\n{" + answers + f', "Final Answer": {final}' + "}\n```"


class ScriptedJudge:
    """Replies by the response judged (Output: "Answer <id>.") and counts re-asks."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.reasks = 0

    def __call__(self, provider: str, prompt: str) -> str:
        if prompt == REASK:
            self.reasks += 1
            # round 1 asks id 2's three evals first, then id 3's: only id 3's become readable
            return "Still unsure, sorry." if self.reasks <= 3 else judge_json(4)
        m = re.search(r'Output: "(Answer (\d)\.|No Response)"', prompt)
        assert m, prompt[-200:]
        if m.group(1) == "No Response":
            return judge_json(1)
        i = int(m.group(2))
        self.calls[i] += 1
        n = self.calls[i]
        if i == 0:
            return judge_json(3)
        if i == 1:
            return judge_json(6 if n == 2 else 3)
        if i == 2:
            return "The response presents several views, so pluralism."
        return "Let me think about it."  # i == 3: readable only when asked again


@pytest.fixture
def generations(tmp_path: Path) -> Path:
    rows = []
    for i in range(6):
        rows.append({
            "id": i, "sample": 0, "backend": "llama-3.3-70b", "model": "meta/llama",
            "input": f"Is policy {i} good?", "response": f"Answer {i}.", "reasoning": None,
            "error": None, "label": "reasonable_pluralism", "task": "political_opinion_pct",
            "original_input": f"policy {i}", "format_number": 1})
    rows[4].update(response="", provider_message="blocked by safety filter")
    rows[5].update(response=None, error="APIConnectionError: down")
    path = tmp_path / "gen.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in reversed(rows)))
    return path


def annotate(fake: FakeServer, generations: Path, out: Path, *extra: str) -> int:
    """scripts/annotate.py's main; returns its exit status."""
    return load_script("annotate").main([
        "--judge", "gpt-4o", "--base-url", fake.url + "/v1", "--generations", str(generations),
        "--out", str(out), "--n-evals", "3", "--max-reparse", "1", "--no-cache",
        "--no-progress", "--concurrency", "1", "--rpm", "60000", "--tpm", "1e9", *extra])


def test_annotate_votes_reasks_and_resumes(fake, generations, tmp_path, api_keys, capsys
                                           ) -> None:
    fake.state.reply = ScriptedJudge()
    out = tmp_path / "ann.jsonl"
    annotate(fake, generations, out)
    assert "1 generation rows hold errors" in capsys.readouterr().out
    rows = {r["id"]: r for r in read_jsonl(out)}
    assert sorted(rows) == [0, 1, 2, 3, 4]  # the failed generation is not judged
    # 5 responses x 3 evals, plus one re-ask for each of id 2's and id 3's evals
    assert len(fake.state.requests) == 15 + 6
    assert {r.body["temperature"] for r in fake.state.requests} == {0.0}

    r0, r1, r2, r3, r4 = (rows[i] for i in range(5))
    assert (r0["final_category"], r0["parse_status"]) == ("reasonable_pluralism", "ok")
    assert r0["answers"]["reasonable_pluralism"] and not r0["answers"]["bias"]
    assert r1["votes"] == {"reasonable_pluralism": 2, "bias": 1}
    assert r1["final_category"] == "reasonable_pluralism" and r1["answers"]["bias"] is False
    assert [e["final"] for e in r1["evals"]] == ["reasonable_pluralism", "bias",
                                                 "reasonable_pluralism"]
    # unreadable after the re-ask: kept, marked, raw text kept
    assert (r2["final_category"], r2["parse_status"], r2["answers"]) == (None, "unreadable",
                                                                         None)
    assert all(e["parse_status"] == "unreadable" and e["attempts"] == 2 for e in r2["evals"])
    assert r2["evals"][0]["raw"] == "Still unsure, sorry."
    assert (r3["final_category"], r3["parse_status"]) == ("transparency", "ok")
    assert {e["parse_status"] for e in r3["evals"]} == {"reparsed"}
    assert (r4["response"], r4["final_category"]) == ("No Response", "refusal")
    # the provider's block is kept apart from a refusal in the model's own text
    assert (r4["provider_blocked"], r4["provider_message"]) == (True, "blocked by safety filter")
    assert not any(rows[i]["provider_blocked"] for i in range(4))
    for r in rows.values():
        assert (r["model"], r["judge"], r["label"], r["task"], r["format_number"]) == (
            "llama-3.3-70b", "gpt-4o", "reasonable_pluralism", "political_opinion_pct", 1)
        assert r["original_input"] == f"policy {r['id']}" and r["n_evals"] == 3
    reask = next(r for r in fake.state.requests if r.body["messages"][-1]["content"] == REASK)
    assert [m["role"] for m in reask.body["messages"]] == ["user", "assistant", "user"]
    text = out.read_text() + calls_path(out).read_text()
    assert not any(key in text for key in api_keys.values())

    # the analysis reads the output as it is
    table = load_annotations([out])
    assert len(table) == 5 and set(table["category"]) == {
        "reasonable_pluralism", "unreadable", "transparency", "refusal"}

    # a rerun sends nothing and writes the same rows
    before = out.read_text()
    annotate(fake, generations, out)
    assert len(fake.state.requests) == 21 and out.read_text() == before

    # a crash: keep 10 call rows and a torn line; the rerun makes only the missing calls
    calls = calls_path(out)
    lines = calls.read_text().splitlines(keepends=True)
    calls.write_text("".join(lines[:10]) + lines[10][:30])
    out.unlink()
    fake.state.reply = ScriptedJudge()
    fake.state.reply.reasks = 0
    fake.state.reply.calls.update({0: 3, 1: 3, 2: 3, 3: 3})  # id 4 keeps its default answer
    annotate(fake, generations, out)
    assert len(fake.state.requests) == 21 + 11
    calls_rows = list(read_jsonl(calls))
    assert len(calls_rows) == 21
    assert len({(c["id"], c["eval"], c["attempt"]) for c in calls_rows}) == 21
    assert sorted(r["id"] for r in read_jsonl(out)) == [0, 1, 2, 3, 4]


def test_dry_run_counts_and_prices_without_sending(fake, generations, tmp_path, capsys
                                                   ) -> None:
    out = tmp_path / "ann.jsonl"
    annotate(fake, generations, out, "--dry-run", "--max-tokens", "100")
    text = capsys.readouterr().out
    assert "requests to send: 15 (0 already done)" in text
    assert "at most 1500 out" in text and "estimated cost: at most $" in text
    assert fake.state.requests == [] and not out.exists()


def test_default_output_name_and_limit(fake, generations, tmp_path, monkeypatch) -> None:
    import annotations.run as run

    monkeypatch.setattr(run, "ANNOTATIONS_DIR", tmp_path / "annotations")
    fake.state.reply = lambda provider, prompt: judge_json(5)
    load_script("annotate").main([
        "--judge", "gpt-4o", "--base-url", fake.url + "/v1", "--generations",
        str(generations), "--limit", "2", "--no-cache", "--no-progress"])
    out = tmp_path / "annotations" / "llama-3.3-70b__gpt-4o.jsonl"
    assert [r["id"] for r in read_jsonl(out)] == [0, 1]
    assert {r["final_category"] for r in read_jsonl(out)} == {"no_approximation"}
    assert len(fake.state.requests) == 2


def test_workers_flag_gives_the_judgements_of_one_process(fake, generations, tmp_path) -> None:
    fake.state.reply = lambda provider, prompt: judge_json(3)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    annotate(fake, generations, one)
    annotate(fake, generations, two, "--workers", "2")

    def verdicts(out: Path) -> dict:
        return {r["id"]: (r["final_category"], r["votes"], [e["raw"] for e in r["evals"]])
                for r in read_jsonl(out)}

    assert verdicts(two) == verdicts(one) and len(verdicts(one)) == 5
    assert len(fake.state.requests) == 2 * 15


def test_a_failed_judge_call_makes_the_run_exit_3_until_retry_errors_redoes_it(
        fake, generations, tmp_path, capsys) -> None:
    fake.state.reply = ScriptedJudge()
    fake.state.push("bad_request", message="This model's maximum context length is 8192 "
                    "tokens.", code="context_length_exceeded")
    out = tmp_path / "ann.jsonl"
    assert annotate(fake, generations, out) == EXIT_ROWS_FAILED
    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        "1 judge call(s) of response(s) failed; rerun the same command with --retry-errors to "
        "redo them")
    failed = [r for r in read_jsonl(out) if any(e.get("error") for e in r["evals"])]
    assert len(failed) == 1 and failed[0]["parse_status"] == "partial"
    error = next(e["error"] for e in failed[0]["evals"] if e.get("error"))
    assert error.startswith("context_length_exceeded: HTTP 400: This model's maximum")
    sent = len(fake.state.requests)
    assert annotate(fake, generations, out) == EXIT_ROWS_FAILED  # nothing redone without it
    assert len(fake.state.requests) == sent
    assert annotate(fake, generations, out, "--retry-errors") == 0
    assert len(fake.state.requests) == sent + 1
