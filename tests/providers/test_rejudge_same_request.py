"""annotate.py (--judge-mode json and probs) reuses a judgement only for the same request:
the same response text and input, judge, judge model, judge template and settings, in the
same mode. Anything else stops the run before a call is made, in one line naming what
differs and the two ways out, or with --redo-stale is judged again."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from annotations.run import REASK, calls_path
from core.errors import UserError
from harness.results import read_jsonl
from tests.fakes.server import FakeServer
from tests.providers.test_annotate_e2e import judge_json, load_script

N = 3
REPO = Path(__file__).resolve().parents[2]


def write_generations(path: Path, backend: str, responses: list[str]) -> Path:
    rows = [{"id": i, "sample": 0, "backend": backend, "model": f"{backend}-id",
             "input": f"Is policy {i} good?", "response": text, "error": None,
             "label": "reasonable_pluralism", "task": "political_opinion_pct",
             "original_input": f"policy {i}", "format_number": 1}
            for i, text in enumerate(responses)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def gen_a(tmp_path: Path) -> Path:
    return write_generations(tmp_path / "gen_a.jsonl", "model-a",
                             [f"Answer {i}." for i in range(N)])


def annotate(fake: FakeServer, generations: Path, out: Path, *extra: str,
             judge: str = "gpt-4o") -> int:
    return load_script("annotate").main([
        "--judge", judge, "--base-url", fake.url + "/v1", "--generations", str(generations),
        "--out", str(out), "--no-cache", "--no-progress", "--rpm", "60000", "--tpm", "1e9",
        *extra])


def other_template(tmp_path: Path) -> Path:
    raw = json.loads((REPO / "prompts" / "judge_template.json").read_text())
    raw["instructions"] = "Read carefully. " + raw["instructions"]
    path = tmp_path / "judge_template_b.json"
    path.write_text(json.dumps(raw))
    return path


def sent(fake: FakeServer) -> int:
    return len(fake.state.requests)


MODES = {"json": [], "probs": ["--judge-mode", "probs"]}


@pytest.fixture(params=sorted(MODES))
def mode(request, fake) -> list[str]:
    fake.state.reply = lambda provider, prompt: judge_json(3)
    fake.state.logprobs = {"3": math.log(0.9), "1": math.log(0.1)}
    return MODES[request.param]


@pytest.fixture
def judged(fake, gen_a, tmp_path, mode) -> Path:
    out = tmp_path / "ann.jsonl"
    assert annotate(fake, gen_a, out, *mode) == 0
    assert sent(fake) == N
    return out


def mismatch(kind: str, tmp_path: Path, gen_a: Path) -> tuple[Path, list[str], str, str]:
    """(generations, extra flags, judge, words of the stop line) of a second run that
    differs from the first in `kind`."""
    if kind == "generations of another model":
        gen_b = write_generations(tmp_path / "gen_b.jsonl", "model-b",
                                  [f"B says {i}." for i in range(N)])
        return gen_b, [], "gpt-4o", f"another prompt text ({N} rows"
    if kind == "response text":
        edited = write_generations(tmp_path / "gen_a.jsonl", "model-a",
                                   ["Answer 0.", "Edited answer 1.", "Answer 2."])
        return edited, [], "gpt-4o", "another prompt text (1 row, first id 1"
    if kind == "judge":
        return gen_a, [], "gpt-4o-mini", "backend 'gpt-4o' there, 'gpt-4o-mini' now"
    if kind == "judge model":
        return gen_a, ["--model", "gpt-4o-2024-11-20"], "gpt-4o", "'gpt-4o-2024-11-20' now"
    if kind == "judge template":
        return (gen_a, ["--templates", str(other_template(tmp_path))], "gpt-4o",
                f"another prompt text ({N} rows")
    raise AssertionError(kind)


KINDS = ("generations of another model", "response text", "judge", "judge model",
         "judge template")


@pytest.mark.parametrize("kind", KINDS)
def test_a_judgement_of_another_request_stops_the_run(fake, gen_a, judged, mode, tmp_path,
                                                      kind) -> None:
    generations, flags, judge, words = mismatch(kind, tmp_path, gen_a)
    before = judged.read_bytes()
    with pytest.raises(UserError) as info:
        annotate(fake, generations, judged, *mode, *flags, judge=judge)
    line = str(info.value)
    assert words in line and "\n" not in line and "--redo-stale" in line
    assert sent(fake) == N and judged.read_bytes() == before
    with pytest.raises(UserError) as dry:
        annotate(fake, generations, judged, *mode, *flags, "--dry-run", judge=judge)
    assert str(dry.value) == line


@pytest.mark.parametrize("kind", KINDS)
def test_redo_stale_judges_again(fake, gen_a, judged, mode, tmp_path, kind) -> None:
    generations, flags, judge, _ = mismatch(kind, tmp_path, gen_a)
    assert annotate(fake, generations, judged, *mode, *flags, "--redo-stale",
                    judge=judge) == 0
    again = 1 if kind == "response text" else N
    assert sent(fake) == N + again
    rows = {r["id"]: r for r in read_jsonl(judged)}
    wanted = {r["id"]: r for r in read_jsonl(generations)}
    assert {i: r["response"] for i, r in rows.items()} == {
        i: r["response"] for i, r in wanted.items()}
    assert {r["judge"] for r in rows.values()} == {judge}
    # and now it is done
    assert annotate(fake, generations, judged, *mode, *flags, judge=judge) == 0
    assert sent(fake) == N + again


@pytest.mark.parametrize("flags, words", [
    (["--temperature", "0.5"], "temperature 0.0 there, 0.5 now"),
    (["--max-tokens", "99"], "max_tokens 1024 there, 99 now"),
])
def test_other_judge_settings_stop_the_run(fake, gen_a, tmp_path, flags, words) -> None:
    fake.state.reply = lambda provider, prompt: judge_json(3)
    out = tmp_path / "ann.jsonl"
    annotate(fake, gen_a, out)
    with pytest.raises(UserError, match=words):
        annotate(fake, gen_a, out, *flags)
    assert sent(fake) == N


def test_a_json_judges_calls_are_not_read_as_a_probability_judge(fake, gen_a, tmp_path) -> None:
    fake.state.reply = lambda provider, prompt: judge_json(3)
    out = tmp_path / "ann.jsonl"
    annotate(fake, gen_a, out)
    with pytest.raises(UserError, match="max_tokens 1024 there, 1 now"):
        annotate(fake, gen_a, out, "--judge-mode", "probs")
    assert sent(fake) == N


def test_redoing_a_stale_first_ask_drops_its_reasks(fake, tmp_path) -> None:
    reasks = []

    def reply(provider: str, prompt: str) -> str:
        if prompt == REASK:
            reasks.append(1)
            return judge_json(4 if len(reasks) == 1 else 5)
        return "Not sure." if ("Answer 1." in prompt or "Edited" in prompt) else judge_json(3)

    fake.state.reply = reply
    gen = write_generations(tmp_path / "gen.jsonl", "model-a",
                            [f"Answer {i}." for i in range(N)])
    out = tmp_path / "ann.jsonl"
    annotate(fake, gen, out, "--max-reparse", "1")
    assert {r["id"]: r["final_category"] for r in read_jsonl(out)}[1] == "transparency"
    write_generations(gen, "model-a", ["Answer 0.", "Edited 1.", "Answer 2."])
    annotate(fake, gen, out, "--max-reparse", "1", "--redo-stale")
    row = {r["id"]: r for r in read_jsonl(out)}[1]
    # the new response's own re-ask, not the old response's
    assert (row["final_category"], row["evals"][0]["parse_status"]) == (
        "no_approximation", "reparsed")
    assert len(reasks) == 2
    assert sorted((c["id"], c["attempt"]) for c in read_jsonl(calls_path(out))) == [
        (0, 0), (1, 0), (1, 1), (2, 0)]
