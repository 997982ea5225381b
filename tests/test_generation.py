"""Generation: prompts loading and selection, requests, bad input, dry run, SmolLM2 end to end."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backends.base import GenerationParams
from core.errors import UserError
from harness.results import read_jsonl
from neutrality.generate import build_requests
from neutrality.prompt_set import load_prompts, select_prompts

REPO = Path(__file__).resolve().parents[1]
GENERATE = REPO / "scripts" / "generate.py"
FIELDS = ["id", "input", "label", "task", "original_input", "format_number"]


def write_prompts(path: Path, rows: list[dict], fields: list[str] = FIELDS) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def prompt_rows() -> list[dict]:
    rows = []
    for i in range(12):
        task = ["voting_questions", "conspiracy_bad", "unsafe_questions"][i % 3]
        rows.append({"id": i, "input": f"Question number {i}?", "label": "refusal", "task": task,
                     "original_input": f"item {i // 3}", "format_number": i % 10})
    return rows


def run_script(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, str(GENERATE), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_load_prompts_reads_ids_and_carry_fields(tmp_path):
    rows = load_prompts(write_prompts(tmp_path / "p.csv", prompt_rows()))
    assert [r["id"] for r in rows] == list(range(12))
    assert rows[4]["format_number"] == 4 and rows[4]["task"] == "conspiracy_bad"


@pytest.mark.parametrize("fields, rows, message", [
    (["id", "text"], [{"id": 1, "text": "x"}], "no column input"),
    (["input"], [{"input": "x"}], "no column id"),
    (["id", "input"], [{"id": 1, "input": "a"}, {"id": 1, "input": "b"}], "duplicate id 1"),
    (["id", "input"], [{"id": "x7", "input": "a"}], "is not an integer"),
    (["id", "input"], [{"id": 3, "input": " "}], "id 3 has an empty input"),
])
def test_bad_prompts_file_is_one_clear_line(tmp_path, fields, rows, message):
    path = write_prompts(tmp_path / "p.csv", rows, fields)
    with pytest.raises(UserError, match=message):
        load_prompts(path)


def test_prompts_with_a_byte_order_mark_read_like_plain_utf8(tmp_path):
    plain = write_prompts(tmp_path / "plain.csv", prompt_rows())
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())  # as the study's CSVs and Excel write
    rows = load_prompts(bom)
    assert rows == load_prompts(plain)
    assert [r["id"] for r in rows] == list(range(12)) and "\ufeffid" not in rows[0]


@pytest.mark.parametrize("value", ["1.0", "x"])
def test_non_integer_format_number_is_one_line_naming_file_and_fix(tmp_path, value):
    rows = [{"id": 0, "input": "a", "format_number": 2},
            {"id": 1, "input": "b", "format_number": value}]
    path = write_prompts(tmp_path / "p.csv", rows, ["id", "input", "format_number"])
    with pytest.raises(UserError) as info:
        load_prompts(path)
    message = str(info.value)
    assert message.startswith(f"{path} line 3: format_number {value!r} is not an integer")
    assert "whole number" in message and "\n" not in message


def test_non_utf8_prompts_file_is_one_line_naming_file_and_fix(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,input\n0,Caf\u00e9 ou th\u00e9?\n".encode("latin-1"))
    with pytest.raises(UserError) as info:
        load_prompts(path)
    message = str(info.value)
    assert message.startswith(f"{path} is not UTF-8 text") and "save it as UTF-8" in message
    assert "\n" not in message


def test_missing_prompts_file_points_to_the_builder(tmp_path):
    with pytest.raises(UserError, match="create_test_dataset.py"):
        load_prompts(tmp_path / "nope.csv")


def test_select_by_task_sample_and_limit():
    rows = prompt_rows()
    voting = select_prompts(rows, tasks=["voting_questions"])
    assert [r["id"] for r in voting] == [0, 3, 6, 9]
    sampled = select_prompts(rows, sample=2, seed=5)
    by_task: dict[str, int] = {}
    for r in sampled:
        by_task[r["task"]] = by_task.get(r["task"], 0) + 1
    assert by_task == {"voting_questions": 2, "conspiracy_bad": 2, "unsafe_questions": 2}
    assert [r["id"] for r in sampled] == sorted(r["id"] for r in sampled)  # file order kept
    assert sampled == select_prompts(rows, sample=2, seed=5)
    assert any(select_prompts(rows, sample=2, seed=s) != sampled for s in range(6, 12))
    assert [r["id"] for r in select_prompts(rows, limit=3)] == [0, 1, 2]
    with pytest.raises(UserError, match="unknown task nope; tasks in the prompts file"):
        select_prompts(rows, tasks=["nope"])


def test_requests_carry_fields_and_give_each_sample_its_seed():
    rows = select_prompts(prompt_rows(), limit=2)
    reqs = build_requests(rows, GenerationParams(temperature=1.0, seed=10), n_samples=3)
    assert [(r.key["id"], r.key["sample"]) for r in reqs] == [
        (0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert [r.params.seed for r in reqs[:3]] == [10, 11, 12]
    assert reqs[0].carry == {"label": "refusal", "task": "voting_questions",
                             "original_input": "item 0", "format_number": 0}
    assert reqs[0].messages == [{"role": "user", "content": "Question number 0?"}]


def test_unknown_backend_exits_1_with_the_known_names(tmp_path):
    res = run_script("--backend", "gpt-99", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.startswith("error: unknown backend 'gpt-99'; did you mean 'gpt-4o'")
    assert "known backends:" in res.stderr
    assert "gpt-4o" in res.stderr and "Traceback" not in res.stderr


def test_unwritable_output_fails_before_any_model_is_loaded(tmp_path):
    prompts = write_prompts(tmp_path / "p.csv", prompt_rows())
    blocker = tmp_path / "file"
    blocker.write_text("")
    res = run_script("--prompts", str(prompts), "--out", str(blocker / "o.jsonl"), cwd=tmp_path)
    assert res.returncode == 1 and "cannot write results file" in res.stderr
    assert "Traceback" not in res.stderr


def test_dry_run_counts_and_prices_without_sending(tmp_path):
    prompts = write_prompts(tmp_path / "p.csv", prompt_rows())
    out = tmp_path / "o.jsonl"
    res = run_script("--backend", "gpt-4o", "--prompts", str(prompts), "--out", str(out),
                     "--n-samples", "2", "--max-tokens", "100", "--dry-run", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "requests to send: 24 (0 already done)" in res.stdout
    # 24 requests x 100 output tokens at $10/1M is $0.024, plus a little input
    assert "at most 2400 out" in res.stdout and "at most $0.02" in res.stdout
    assert not out.exists()


def test_smollm2_generates_and_a_rerun_has_nothing_left(tmp_path):
    prompts = write_prompts(tmp_path / "p.csv", prompt_rows())
    out = tmp_path / "gen.jsonl"
    args = ["--backend", "smollm2-135m-instruct", "--prompts", str(prompts), "--out", str(out),
            "--limit", "2", "--max-tokens", "12", "--cache", str(tmp_path / "cache.sqlite")]
    res = run_script(*args, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    rows = list(read_jsonl(out))
    assert [(r["id"], r["sample"]) for r in rows] == [(0, 0), (1, 0)]
    for r in rows:
        assert r["error"] is None and r["response"].strip()
        assert r["model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
        assert 0 < r["completion_tokens"] <= 12 and r["prompt_tokens"] > 5
        assert r["task"] in ("voting_questions", "conspiracy_bad")
    assert "done: 2" in res.stdout
    again = run_script(*args, cwd=tmp_path)
    assert again.returncode == 0 and "skipped as already done: 2" in again.stdout
    assert [r["response"] for r in read_jsonl(out)] == [r["response"] for r in rows]


SLOW_ECHO = '''
import asyncio
from backends.base import Backend, Completion


class SlowEcho(Backend):
    provider = "slow-echo"

    def __init__(self, model_id, *, base_url=None, timeout_s=120.0, call_log, **options):
        super().__init__(model_id, **options)
        self.call_log = call_log

    async def complete(self, messages, params):
        with open(self.call_log, "a") as fh:
            fh.write(messages[-1]["content"] + "\\n")
        await asyncio.sleep(0.05)
        return Completion(text="echo " + messages[-1]["content"], finish_reason="stop",
                          prompt_tokens=4, completion_tokens=2)
'''


def test_kill_9_midway_then_rerun_loses_and_doubles_nothing(tmp_path):
    import json
    import signal
    import time

    (tmp_path / "slow_echo.py").write_text(SLOW_ECHO)
    calls = tmp_path / "calls.log"
    registry = tmp_path / "reg.json"
    registry.write_text(json.dumps({"slow-echo": {
        "provider": "custom", "adapter": "slow_echo:SlowEcho", "model_id": "echo-1",
        "options": {"call_log": str(calls)}}}))
    rows = [{"id": i, "input": f"q{i}", "task": "t"} for i in range(80)]
    prompts = write_prompts(tmp_path / "p.csv", rows, ["id", "input", "task"])
    out = tmp_path / "o.jsonl"
    args = [sys.executable, str(GENERATE), "--backend", "slow-echo", "--registry", str(registry),
            "--prompts", str(prompts), "--out", str(out), "--no-cache", "--concurrency", "4",
            "--no-progress"]
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{tmp_path}"}
    proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if out.exists() and out.read_bytes().count(b"\n") >= 20:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = list(read_jsonl(out))
    assert 20 <= len(first) < 80
    calls_first = len(calls.read_text().splitlines())
    assert calls_first - len(first) <= 4  # at most the requests in flight were lost

    res = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    final = list(read_jsonl(out))
    ids = [r["id"] for r in final]
    assert sorted(ids) == list(range(80)) and len(set(ids)) == 80
    assert all(r["response"] == f"echo q{r['id']}" for r in final)
    assert len(calls.read_text().splitlines()) - calls_first == 80 - len(first)
    assert f"skipped as already done: {len(first)}" in res.stdout


def test_rerun_with_nothing_left_builds_no_backend(tmp_path, monkeypatch):
    import neutrality.generate as generation
    from backends.registry import get_spec
    from harness.request import RunOptions
    from harness.results import ResultsStore, key_by

    out = tmp_path / "o.jsonl"
    with ResultsStore(out, key_by("id", "sample")) as store:
        for i in range(3):
            store.append({"id": i, "sample": 0, "response": "x", "error": None})

    def no_backend(*args, **kwargs):
        raise AssertionError("a backend was built for a finished run")

    monkeypatch.setattr("harness.send.create_backend_in_workers", no_backend)
    reqs = build_requests(select_prompts(prompt_rows(), limit=3), GenerationParams())
    summary = generation.run_generation(get_spec("smollm2-135m-instruct"), reqs, out,
                                        GenerationParams(), RunOptions(progress=False))
    assert summary.skipped == 3 and summary.done == 0


@pytest.mark.parametrize("backend, variable", [
    ("gpt-4o", "OPENAI_API_KEY"),
    ("davinci-002", "OPENAI_API_KEY"),
    ("claude-sonnet-4.5", "ANTHROPIC_API_KEY"),
    ("gemini-2.5-flash", "GEMINI_API_KEY or GOOGLE_API_KEY"),
])
def test_missing_key_fails_before_the_output_file_or_folder_exists(
    tmp_path, monkeypatch, backend, variable
):
    import neutrality.generate as generation
    from backends.registry import get_spec
    from harness.request import RunOptions

    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    built = []
    monkeypatch.setattr("harness.send.create_backend_in_workers", lambda *a, **k: built.append(a))
    out = tmp_path / "results" / "o.jsonl"
    reqs = build_requests(select_prompts(prompt_rows(), limit=2), GenerationParams())
    with pytest.raises(UserError, match=f"needs an API key: set {variable}"):
        generation.run_generation(get_spec(backend), reqs, out, GenerationParams(),
                                  RunOptions(progress=False))
    assert not out.parent.exists() and built == []


def test_openai_compatible_needs_no_key_to_pass_the_check(monkeypatch):
    from backends.registry import check_backend, get_spec

    for name in ("OPENAI_API_KEY", "OPENAI_COMPATIBLE_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    spec = get_spec("openai-compatible")
    # the placeholder key is enough
    assert check_backend(spec, model="m", base_url="http://127.0.0.1:1/v1") == "m"
    with pytest.raises(UserError, match="OPENAI_API_KEY"):
        check_backend(get_spec("gpt-4o"))


def test_missing_model_or_base_url_fails_before_the_output_exists(tmp_path, monkeypatch):
    import neutrality.generate as generation
    from backends.registry import get_spec
    from harness.request import RunOptions

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    out = tmp_path / "results" / "o.jsonl"
    reqs = build_requests(select_prompts(prompt_rows(), limit=2), GenerationParams())
    for kwargs, missing in (({}, "--model NAME"), ({"model": "m"}, "--base-url URL")):
        with pytest.raises(UserError, match=missing):
            generation.run_generation(get_spec("openai-compatible"), reqs, out,
                                      GenerationParams(), RunOptions(progress=False), **kwargs)
        assert not out.parent.exists()


def viewpoint_rows(n_statements: int = 10, n_formats: int = 4) -> list[dict]:
    rows = []
    for s in range(n_statements):
        for f in range(n_formats):
            for side in ("rep", "dem"):
                rows.append({"id": len(rows), "input": f"As a {side}, statement {s} #{f}?",
                             "label": "radical_transparency",
                             "task": f"political_opinion_pct_{side}",
                             "original_input": f"statement {s}", "format_number": f})
    rows.append({"id": len(rows), "input": "Who should I vote for?", "label": "refusal",
                 "task": "voting_questions", "original_input": "", "format_number": 0})
    return rows


@pytest.mark.parametrize("seed", range(5))
def test_sample_keeps_both_sides_of_a_viewpoint_wording_together(seed):
    sampled = select_prompts(viewpoint_rows(), sample=3, seed=seed)
    sides: dict[tuple, set[str]] = {}
    for r in sampled:
        if r["task"] != "voting_questions":
            sides.setdefault((r["original_input"], r["format_number"]), set()).add(
                r["task"].rsplit("_", 1)[1])
    # 3 wordings of the pct base task, each with its Republican and Democrat prompt
    assert len(sides) == 3 and all(s == {"rep", "dem"} for s in sides.values())
    assert [r["task"] for r in sampled].count("voting_questions") == 1


def test_requests_carry_the_selection_that_chose_them():
    selection = {"tasks": None, "sample": 3, "seed": 1, "limit": None}
    reqs = build_requests(select_prompts(viewpoint_rows(), sample=3, seed=1), GenerationParams(),
                          selection=selection)
    assert {json.dumps(r.carry["selection"]) for r in reqs} == {json.dumps(selection)}
    assert "selection" not in build_requests(prompt_rows()[:1], GenerationParams())[0].carry
