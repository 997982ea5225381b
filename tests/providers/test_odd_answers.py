"""Odd but well-formed-JSON answers from a provider, through scripts/generate.py and the
runner: a lone surrogate, content parts, objects of the wrong type, an empty answer without
a reason. Each becomes a row (its fields strings) or an error row saying what was wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.prompt_files import write_prompts_csv
from tests.fakes.server import FakeServer
from tests.script_entry import script_main

N = 4
BACKENDS = {"openai": "gpt-4o", "anthropic": "claude-sonnet-4.5", "gemini": "gemini-2.5-flash"}


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    return write_prompts_csv(tmp_path / "prompts.csv", N)


def generate(fake: FakeServer, prompts: Path, out: Path, protocol: str, *extra: str) -> int:
    backend = BACKENDS[protocol]
    base = fake.url + "/v1" if protocol == "openai" else fake.url
    return script_main("generate")([
        "--backend", backend, "--base-url", base, "--prompts", str(prompts), "--out", str(out),
        "--no-progress", "--rpm", "60000", "--tpm", "1e9", "--concurrency", "1",
        "--cache", str(out.with_suffix(".cache.sqlite")), *extra])


def answer_body(protocol: str, text: object = "x", *, finish: object = None,
                **fields: object) -> str:
    """A 200 answer's JSON text in `protocol`, with `text` as the answer (any JSON value)
    and top-level `fields` replaced."""
    if protocol == "openai":
        message = {"role": "assistant", "content": text, "refusal": None}
        body = {"id": "c", "object": "chat.completion", "model": "gpt-4o-x",
                "choices": [{"index": 0, "message": fields.pop("message", message),
                             "finish_reason": finish or "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1}}
    elif protocol == "anthropic":
        body = {"id": "m", "type": "message", "role": "assistant", "model": "claude-x",
                "content": [{"type": "text", "text": text}], "stop_reason": finish or "end_turn",
                "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 1}}
    else:
        body = {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"},
                                "finishReason": finish or "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1},
                "modelVersion": "gemini-x"}
    body.update(fields)
    return json.dumps(body)  # ensure_ascii: "\ud800" travels as its escape, as a server sends it


def push_answer(fake: FakeServer, body: str, times: int = 1) -> None:
    fake.state.push("status", times=times, status=200, body=body)


def rows(out: Path) -> dict[int, dict]:
    """The rows by id, read as strict UTF-8."""
    text = out.read_bytes().decode("utf-8")
    return {r["id"]: r for r in map(json.loads, text.splitlines())}


@pytest.mark.parametrize("protocol", list(BACKENDS))
def test_a_lone_surrogate_in_an_answer_becomes_a_replacement_character(
        fake, prompts, tmp_path, protocol) -> None:
    push_answer(fake, answer_body(protocol, "half \ud800 a pair"))
    out = tmp_path / "gen.jsonl"
    assert generate(fake, prompts, out, protocol) == 0
    got = rows(out)
    assert got[0]["response"] == "half \ufffd a pair" and got[0]["error"] is None
    assert got[1]["response"] == "echo: Question number 1?"
    # a rerun finds every row done; nothing is sent again
    sent = len(fake.state.requests)
    assert generate(fake, prompts, out, protocol) == 0
    assert len(fake.state.requests) == sent


def test_content_sent_as_text_parts_is_stored_as_one_string(fake, prompts, tmp_path) -> None:
    push_answer(fake, answer_body("openai", [{"type": "text", "text": "first "},
                                             {"type": "text", "text": "second"}]))
    out = tmp_path / "gen.jsonl"
    assert generate(fake, prompts, out, "openai") == 0
    assert rows(out)[0]["response"] == "first second"


@pytest.mark.parametrize(("protocol", "fields", "what"), [
    ("openai", {"message": "hello"}, "choices[0].message is a string, not an object"),
    ("openai", {"usage": [1, 2]}, "usage is a list, not an object"),
    ("openai", {"message": {"role": "assistant", "content": {"text": "x"}}},
     "choices[0].message.content is an object, not text"),
    ("anthropic", {"usage": [1, 2]}, "usage is a list, not an object"),
    ("anthropic", {"content": ["hello"]}, "content[0] is a string, not an object"),
    ("anthropic", {"content": [{"type": "text", "text": ["x"]}]},
     "content[0].text is a list, not text"),
])
def test_an_answer_of_the_wrong_shape_is_an_error_row_saying_what_was_wrong(
        fake, prompts, tmp_path, protocol, fields, what) -> None:
    push_answer(fake, answer_body(protocol, **fields))
    out = tmp_path / "gen.jsonl"
    assert generate(fake, prompts, out, protocol, "--max-attempts", "1") == 3
    row = rows(out)[0]
    assert row["response"] is None
    assert row["error"] == f"MalformedResponse: malformed response: {what}"
    assert rows(out)[1]["error"] is None


def test_a_gemini_answer_of_the_wrong_shape_is_an_error_row_saying_so(
        fake, prompts, tmp_path) -> None:
    push_answer(fake, answer_body("gemini", candidates=[{"content": "hello"}]))
    out = tmp_path / "gen.jsonl"
    assert generate(fake, prompts, out, "gemini", "--max-attempts", "1") == 3
    error = rows(out)[0]["error"]
    assert error.startswith("MalformedResponse: malformed response:")
    assert "candidates.0.content is str" in error


@pytest.mark.parametrize("protocol", list(BACKENDS))
def test_an_empty_answer_without_a_reason_is_flagged(fake, prompts, tmp_path, protocol) -> None:
    push_answer(fake, answer_body(protocol, None if protocol == "openai" else ""))
    push_answer(fake, answer_body(protocol, "", finish={"openai": "length",
                                                         "anthropic": "max_tokens",
                                                         "gemini": "MAX_TOKENS"}[protocol]))
    fake.state.push("safety_finish" if protocol == "gemini" else "refusal")
    out = tmp_path / "gen.jsonl"
    assert generate(fake, prompts, out, protocol) == 0
    got = rows(out)
    assert (got[0]["response"], got[0]["error"], got[0]["provider_message"]) == ("", None, None)
    assert got[0]["unexplained_empty"] is True
    # cut off by the token budget, or blocked: a reason given; an ordinary answer: no flag
    assert got[2]["response"] == "" and got[2]["provider_message"]
    assert not any("unexplained_empty" in got[i] for i in (1, 2, 3))


def judge_json(final: int) -> str:
    return json.dumps({"answers": {str(q): q == final for q in range(1, 7)}})


def old_generations(path: Path) -> Path:
    """A generations file as an older generate.py wrote it: one response stored as content
    parts, one empty answer flagged as unexplained."""
    base = {"sample": 0, "backend": "m", "error": None, "label": "reasonable_pluralism",
            "task": "political_opinion_pct", "format_number": 1}
    rows = [{**base, "id": 0, "input": "Is policy 0 good?", "original_input": "policy 0",
             "response": [{"type": "text", "text": "Parts "}, {"type": "text", "text": "joined."}]},
            {**base, "id": 1, "input": "Is policy 1 good?", "original_input": "policy 1",
             "response": "", "unexplained_empty": True}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("mode", ["json", "probs"])
def test_annotate_reads_a_response_stored_as_parts_and_keeps_the_empty_flag(
        fake, tmp_path, mode) -> None:
    generations = old_generations(tmp_path / "gen.jsonl")
    fake.state.reply = lambda provider, prompt: judge_json(3) if mode == "json" else "3"
    fake.state.logprobs = {"3": -0.1, "1": -2.5}
    out = tmp_path / "ann.jsonl"
    assert script_main("annotate")([
        "--judge", "gpt-4o", "--judge-mode", mode, "--base-url", fake.url + "/v1",
        "--generations", str(generations), "--out", str(out), "--no-cache", "--no-progress",
        "--rpm", "60000", "--tpm", "1e9"]) == 0
    got = rows(out)
    assert got[0]["response"] == "Parts joined."
    assert any("Parts joined." in json.dumps(r.body) for r in fake.state.requests)
    assert got[1]["unexplained_empty"] is True and "unexplained_empty" not in got[0]


@pytest.mark.parametrize("protocol", list(BACKENDS))
@pytest.mark.parametrize("http_transport", ["aiohttp", "httpx"], indirect=True)
def test_a_server_closing_mid_answer_is_an_error_row_saying_so(
        fake, prompts, tmp_path, protocol, http_transport) -> None:
    fake.state.push("truncated")
    out = tmp_path / "gen.jsonl"
    assert generate(fake, prompts, out, protocol, "--max-attempts", "1") == 3
    row = rows(out)[0]
    assert row["error_kind"] == "ConnectionClosed"
    assert row["error"].startswith(f"ConnectionClosed: the connection to {fake.url}")
    assert "closed before the answer was complete" in row["error"]


def test_a_server_closing_mid_answer_says_so_through_worker_processes(fake, prompts, tmp_path
                                                                      ) -> None:
    fake.state.push("truncated")
    out = tmp_path / "gen.jsonl"
    assert generate(fake, prompts, out, "openai", "--max-attempts", "1", "--workers", "2") == 3
    [row] = [r for r in rows(out).values() if r["error"]]  # whichever request came first
    assert row["error_kind"] == "ConnectionClosed"
    assert "closed before the answer was complete" in row["error"]
