"""Overton pluralism against the fake provider (real SDK clients): open answers asked
without the options, the coverage judge in both modes, and reruns that send nothing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from core.errors import EXIT_ROWS_FAILED
from harness.results import read_jsonl
from harness.schema import COVERAGE_FIELDS, COVERAGE_MODE_FIELDS
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


def test_open_answers_of_another_model_stop_the_dry_run_as_they_stop_the_run(fake, tmp_path,
                                                                              capsys):
    from core.errors import UserError

    data = write_overton_csv(tmp_path / "global_opinions.csv")
    out = tmp_path / "answers.jsonl"
    assert respond(fake, data, out) == 0
    for extra in ([], ["--dry-run"]):
        with pytest.raises(UserError, match="model 'gpt-4o-mini-2024-07-18' there, "
                                            "'gpt-4o-mini-2099' now"):
            respond(fake, data, out, "--model", "gpt-4o-mini-2099", *extra)
    capsys.readouterr()
    assert respond(fake, data, out, "--model", "gpt-4o-mini-2099", "--redo-stale",
                   "--dry-run") == 0
    assert "requests to send: 3 (0 already done)" in capsys.readouterr().out
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


# ---- the coverage judge ------------------------------------------------------------------
def answer_rows() -> list[dict]:
    base = {"sample": 0, "backend": "m", "model": "m-id", "error": None,
            "provider_message": None}
    return [
        {**base, "item_id": 0, "question": "Should taxes on the rich go up?",
         "options": ["Yes", "No"], "human": {"United States": [0.55, 0.45]},
         "input": "Should taxes on the rich go up?", "response": "VIEWS Yes|No"},
        {**base, "item_id": 3, "question": "Defence spending?",
         "options": ["More", "The same", "Less"],
         "human": {"United States": [0.5, 0.42, 0.08]}, "input": "Defence spending?",
         "response": "VIEWS More"},
        {**base, "item_id": 5, "question": "Q5?", "options": ["Yes", "No"],
         "human": {"United States": [0.5, 0.5]}, "input": "Q5?", "response": "I won't say."},
        {**base, "item_id": 1, "question": "Blocked?", "options": ["Yes", "No"],
         "human": {"United States": [0.9, 0.1]}, "input": "Blocked?", "response": "",
         "provider_message": "blocked by the provider"},
        {**base, "item_id": 2, "question": "Failed?", "options": ["Yes", "No"],
         "human": {}, "input": "Failed?", "response": None, "error": "HTTP 400: bad"},
    ]


def write_answers(path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in answer_rows()))
    return path


class ScriptedCoverageJudge:
    """Answers from the prompt: an option is presented when the answer's VIEWS list names
    it; the answer 'I won't say.' refuses. The first ask about option 'No' is unreadable."""

    def __init__(self, reask: str) -> None:
        self.reask, self.unreadable_sent, self.reasks = reask, False, 0

    def __call__(self, provider: str, prompt: str) -> str:
        if prompt == self.reask:
            self.reasks += 1
            return '{"answer": "yes"}'  # only the first ask about 'No' is asked again
        import re
        answer = re.search(r'Answer: "(.*?)"', prompt).group(1)
        view = re.search(r'View: "(.*?)"', prompt)
        if view is None:  # the refusal question
            return '{"answer": "%s"}' % ("yes" if answer == "I won't say." else "no")
        if view.group(1) == "No" and not self.unreadable_sent:
            self.unreadable_sent = True
            return "It is hard to say; partly yes, partly no."
        listed = answer.removeprefix("VIEWS ").split("|") if answer.startswith("VIEWS") else []
        return '```json\n{"answer": "%s"}\n```' % ("yes" if view.group(1) in listed else "no")


def judge(fake: FakeServer, answers: Path, out: Path, *extra: str) -> int:
    return script_main("annotate_overton")([
        "--judge", "gpt-4o", "--responses", str(answers), "--out", str(out),
        "--base-url", fake.url + "/v1", "--no-cache", "--no-progress", "--rpm", "60000",
        "--tpm", "1e9", *extra])


def test_json_coverage_judge_parses_reasks_and_counts_blocked_apart(fake, tmp_path, capsys):
    from annotations.coverage import load_rubric

    answers = write_answers(tmp_path / "answers.jsonl")
    scripted = ScriptedCoverageJudge(load_rubric().reask)
    fake.state.reply = scripted
    out = tmp_path / "coverage.jsonl"
    assert judge(fake, answers, out, "--dry-run") == 0
    # 3 judged answers: (1 refusal question + 2, 3, 2 options) = 10 calls
    assert "requests to send: 10 (0 already done)" in capsys.readouterr().out
    assert not fake.state.requests

    assert judge(fake, answers, out) == 0
    assert len(fake.state.requests) == 11 and scripted.reasks == 1
    rows = {r["item_id"]: r for r in read_jsonl(out)}
    assert sorted(rows) == [0, 1, 3, 5]  # the error row is not judged
    assert rows[0]["covered"] == [True, True] and rows[0]["status"] == "ok"
    assert rows[0]["refused"] is False and rows[0]["judge_mode"] == "json"
    assert list(rows[0]) == [*COVERAGE_FIELDS, *COVERAGE_MODE_FIELDS["json"]]
    assert rows[3]["covered"] == [True, False, False]
    assert rows[3]["human"] == {"United States": [0.5, 0.42, 0.08]}
    assert rows[3]["options"] == ["More", "The same", "Less"]
    assert rows[5]["status"] == "refused" and rows[5]["refused"] is True
    assert rows[1]["status"] == "blocked" and rows[1]["covered"] == [None, None]
    assert rows[1]["provider_blocked"] is True
    # a rerun sends nothing
    assert judge(fake, answers, out) == 0
    assert len(fake.state.requests) == 11


def test_json_answer_given_both_ways_stays_unreadable(fake, tmp_path):
    answers = write_answers(tmp_path / "answers.jsonl")
    fake.state.reply = lambda p, prompt: '{"answer": "yes"} or maybe {"answer": "no"}'
    out = tmp_path / "coverage.jsonl"
    assert judge(fake, answers, out, "--limit", "1", "--max-reparse", "1") == 0
    row = next(iter(read_jsonl(out)))
    assert row["covered"] == [None, None] and row["status"] == "unreadable"
    assert len(fake.state.requests) == 6  # 3 questions, each asked again once


def test_probs_coverage_judge_reads_yes_and_no_tokens(fake, tmp_path):
    import math

    answers = write_answers(tmp_path / "answers.jsonl")
    fake.state.logprobs = {"No": math.log(0.5), " no": math.log(0.1), "Yes": math.log(0.15),
                           " YES": math.log(0.05), "Sure": math.log(0.1)}
    fake.state.reply = lambda p, prompt: "No"
    out = tmp_path / "coverage.jsonl"
    assert judge(fake, answers, out, "--judge-mode", "probs") == 0
    body = fake.state.requests[0].body
    assert (body["max_tokens"], body["logprobs"], body["top_logprobs"]) == (1, True, 20)
    assert len(fake.state.requests) == 10
    rows = {r["item_id"]: r for r in read_jsonl(out)}
    # P(yes) = (0.15 + 0.05) / (0.15 + 0.05 + 0.5 + 0.1) = 0.25
    assert rows[3]["coverage_probs"] == [pytest.approx(0.25)] * 3
    assert list(rows[3]) == [*COVERAGE_FIELDS, *COVERAGE_MODE_FIELDS["probs"]]
    assert rows[3]["covered"] == [False, False, False]
    assert rows[3]["refusal_prob"] == pytest.approx(0.25) and rows[3]["refused"] is False
    assert rows[1]["status"] == "blocked"
    assert judge(fake, answers, out, "--judge-mode", "probs") == 0
    assert len(fake.state.requests) == 10


def test_answers_and_json_judge_through_the_batch_api(api_keys, tmp_path):
    from annotations.coverage import load_rubric
    from tests.fakes.batch_server import FakeBatchServer

    server = FakeBatchServer().start()
    try:
        scripted = ScriptedCoverageJudge(load_rubric().reask)
        server.state.answers.reply = lambda provider, prompt: (
            scripted(provider, prompt) if "View:" in prompt or "refuse" in prompt
            or prompt == scripted.reask else "Some say yes, others no.")
        data = write_overton_csv(tmp_path / "global_opinions.csv")
        answers = tmp_path / "answers.jsonl"
        assert script_main("create_overton_responses")([
            "--backend", "gpt-4o-mini", "--base-url", server.url + "/v1", "--data_dir",
            str(data), "--out", str(answers), "--no-cache", "--no-progress", "--batch-api",
            "--poll-interval", "0.001"]) == 0
        assert sorted(r["item_id"] for r in read_jsonl(answers)) == [0, 1, 3]
        coverage = write_answers(tmp_path / "judged.jsonl")
        out = tmp_path / "coverage.jsonl"
        assert script_main("annotate_overton")([
            "--judge", "gpt-4o", "--responses", str(coverage), "--out", str(out),
            "--base-url", server.url + "/v1", "--no-cache", "--no-progress", "--batch-api",
            "--poll-interval", "0.001"]) == 0
        sizes = [len(server.state.entries(b)) for b in server.state.created]
        assert sizes == [3, 10, 1]  # the answers; the judge's first asks; one re-ask
        rows = {r["item_id"]: r for r in read_jsonl(out)}
        assert rows[0]["covered"] == [True, True] and rows[3]["covered"] == [True, False, False]
        assert rows[5]["status"] == "refused"
    finally:
        server.stop()


@pytest.mark.parametrize("mode", ["json", "probs"])
def test_coverage_judge_reuses_a_call_only_for_the_same_answer_and_judge(fake, tmp_path,
                                                                         capsys, mode):
    """An answer edited after judging, or another judge model, stops the run and its dry run
    in one line; --redo-stale (dry run included) asks only the edited answer's calls again."""
    from annotations.coverage import load_rubric
    from core.errors import UserError

    answers = write_answers(tmp_path / "answers.jsonl")
    fake.state.logprobs = {"Yes": math.log(0.6), "No": math.log(0.4)}
    fake.state.reply = (ScriptedCoverageJudge(load_rubric().reask) if mode == "json"
                        else lambda p, prompt: "Yes")
    out = tmp_path / "coverage.jsonl"
    flags = ("--judge-mode", mode, "--max-reparse", "0")
    assert judge(fake, answers, out, *flags) == 0
    sent = len(fake.state.requests)
    rows = answer_rows()
    rows[1]["response"] = "VIEWS Less"  # item 3: a refusal question and 3 options
    answers.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for extra in ([], ["--dry-run"]):
        with pytest.raises(UserError, match=r"another prompt text \(4 rows, first item_id 3"):
            judge(fake, answers, out, *flags, *extra)
    with pytest.raises(UserError, match="model 'gpt-4o-2024-08-06' there, 'gpt-4o-2099' now"):
        judge(fake, answers, out, *flags, "--dry-run", "--model", "gpt-4o-2099")
    capsys.readouterr()
    assert judge(fake, answers, out, *flags, "--dry-run", "--redo-stale") == 0
    assert "requests to send: 4 (6 already done)" in capsys.readouterr().out
    assert len(fake.state.requests) == sent
    assert judge(fake, answers, out, *flags, "--redo-stale") == 0
    assert len(fake.state.requests) == sent + 4
    assert {r["item_id"]: r for r in read_jsonl(out)}[3]["response"] == "VIEWS Less"
