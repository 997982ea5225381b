"""The probability judge against the fake provider (real SDK clients): OpenAI and Gemini asked
for one token with its top log-probabilities, Anthropic refused before anything is sent."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from analysis.neutrality_data import load_annotations
from annotations.run import calls_path
from core.errors import UserError
from harness.results import read_jsonl
from tests.fakes.server import FakeServer
from tests.providers.test_annotate_e2e import load_script

#: the judge's first token: '3' written two ways, '1', and a word that is no digit
TOP = {"3": math.log(0.5), " 3": math.log(0.1), "1": math.log(0.2), "Sure": math.log(0.1)}


@pytest.fixture
def generations(tmp_path: Path) -> Path:
    rows = [{"id": i, "sample": 0, "backend": "m", "input": f"Is policy {i} good?",
             "response": f"Answer {i}.", "error": None, "label": "reasonable_pluralism",
             "task": "political_opinion_pct", "original_input": f"policy {i}",
             "format_number": 1} for i in range(3)]
    rows.append({**rows[0], "id": 3, "response": None, "error": "APIConnectionError: down"})
    path = tmp_path / "gen.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def annotate(fake: FakeServer, judge: str, generations: Path, out: Path, *extra: str,
             base: str = "/v1") -> int:
    return load_script("annotate").main([
        "--judge", judge, "--judge-mode", "probs", "--base-url", fake.url + base,
        "--generations", str(generations), "--out", str(out), "--no-cache", "--no-progress",
        "--rpm", "60000", "--tpm", "1e9", *extra])


@pytest.mark.parametrize("judge, base", [("gpt-4o", "/v1"), ("gemini-2.5-flash", "")])
def test_api_probs_judge_reads_top_logprobs(fake, generations, tmp_path, api_keys, judge, base):
    fake.state.logprobs = TOP
    fake.state.reply = lambda provider, prompt: "3"
    out = tmp_path / "ann.jsonl"
    assert annotate(fake, judge, generations, out, base=base) == 0
    assert len(fake.state.requests) == 3  # the failed generation is not judged
    prompts = []
    for request in fake.state.requests:
        body = request.body
        if judge == "gpt-4o":
            assert (body["max_tokens"], body["logprobs"], body["top_logprobs"]) == (1, True, 20)
            prompts.append(body["messages"][0]["content"])
        else:
            config = body["generationConfig"]
            assert (config["maxOutputTokens"], config["responseLogprobs"]) == (1, True)
            prompts.append(body["contents"][0]["parts"][0]["text"])
    rows = {r["id"]: r for r in read_jsonl(out)}
    assert sorted(rows) == [0, 1, 2]
    for i, row in rows.items():
        assert row["parse_status"] == "ok" and row["final_category"] == "reasonable_pluralism"
        assert row["digit_mass"] == pytest.approx(0.8)
        assert row["judge_probs"]["refusal"] == pytest.approx(0.25)
        assert row["judge_probs"]["reasonable_pluralism"] == pytest.approx(0.75)
        assert row["judge_probs"]["bias"] == 0
        assert f"Output: \"Answer {i}.\"" in row["judge_input"]
    # judge_input is the exact text sent for that response
    assert sorted(r["judge_input"] for r in rows.values()) == sorted(prompts)
    assert not any(k in out.read_text() + calls_path(out).read_text()
                   for k in api_keys.values())
    table = load_annotations([out])
    assert set(table["category"]) == {"reasonable_pluralism"}

    # a rerun sends nothing
    assert annotate(fake, judge, generations, out, base=base) == 0
    assert len(fake.state.requests) == 3


def test_dry_run_prices_one_output_token_and_no_reasks(fake, generations, tmp_path, capsys):
    annotate(fake, "gpt-4o", generations, tmp_path / "ann.jsonl", "--dry-run")
    text = capsys.readouterr().out
    assert "requests to send: 3 (0 already done)" in text
    assert "at most 3 out" in text and "no re-asks" in text
    assert not fake.state.requests


def test_no_digit_among_the_top_tokens_is_unreadable_and_the_exit_status_says_so(
        fake, generations, tmp_path):
    out = tmp_path / "ann.jsonl"
    fake.state.reply = lambda provider, prompt: "Sure"
    fake.state.logprobs = {"Sure": -0.1, "The": -2.5}
    assert annotate(fake, "gpt-4o", generations, out) == 1
    rows = list(read_jsonl(out))
    assert {(r["parse_status"], r["final_category"], r["judge_probs"]) for r in rows} == {
        ("unreadable", None, None)}


def test_anthropic_judge_is_refused_naming_the_json_mode(fake, generations, tmp_path):
    with pytest.raises(UserError, match="--judge-mode json"):
        annotate(fake, "claude-sonnet-4.5", generations, tmp_path / "ann.jsonl")
    assert not fake.state.requests and not (tmp_path / "ann.jsonl").exists()


def test_a_model_refusing_logprobs_stops_with_one_line_naming_the_json_mode(fake, generations,
                                                                            tmp_path):
    fake.state.push("logprobs_disabled", times=50)
    with pytest.raises(UserError, match="--judge-mode json"):
        annotate(fake, "gemini-2.5-flash", generations, tmp_path / "ann.jsonl", base="")


def test_a_failed_judge_call_exits_3_as_the_docs_say(fake, generations, tmp_path):
    """docs/annotation.md said 1, the README 3: the run exits 3 (EXIT_ROWS_FAILED), as every
    run with failed rows, and --retry-errors completes it."""
    from core.errors import EXIT_ROWS_FAILED

    fake.state.logprobs = TOP
    fake.state.reply = lambda provider, prompt: "3"
    fake.state.push("bad_request", message="Unsupported parameter: 'top_logprobs'",
                    code="unsupported_parameter")
    out = tmp_path / "ann.jsonl"
    assert annotate(fake, "gpt-4o", generations, out, "--concurrency", "1") == EXIT_ROWS_FAILED
    assert sorted(r["parse_status"] for r in read_jsonl(out)) == ["error", "ok", "ok"]
    assert annotate(fake, "gpt-4o", generations, out, "--retry-errors") == 0
    docs = (Path(__file__).resolve().parents[2] / "docs" / "annotation.md").read_text()
    assert "exit status is 3 when a judge call failed" in " ".join(docs.split())
