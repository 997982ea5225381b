"""The distribution scripts against API backends on the fake provider (real SDK clients):
OpenAI chat top_logprobs, the legacy completions endpoint, Gemini (with and without
log-probabilities) and the sampling estimate for Anthropic."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

from analysis.distribution_inputs import load_distribution_files
from core.errors import EXIT_ROWS_FAILED, UserError
from harness.schema import DISTRIBUTION_ITEM_FIELDS, DISTRIBUTION_METHOD_FIELD
from tests.data_mirror import mpi_items_file
from tests.fakes.server import FakeServer

REPO = Path(__file__).resolve().parents[2]


def mpi_main():
    spec = importlib.util.spec_from_file_location(
        "create_model_response_mpi", REPO / "scripts" / "create_model_response_mpi.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def run(fake: FakeServer, tmp_path: Path, backend: str, *extra: str, base: str = "/v1"
        ) -> list[dict]:
    data = mpi_items_file()
    mpi_main()(["--backend", backend, "--base-url", fake.url + base, "--data_dir", str(data),
                "--save_dir", str(tmp_path / "mpi"), "--limit", "2", "--reps", "2",
                "--cache", str(tmp_path / "cache.sqlite"), "--no-progress", *extra])
    out = tmp_path / "mpi" / f"{backend}.jsonl"
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_openai_chat_top_logprobs_with_missing_letters_imputed(fake, tmp_path, api_keys):
    lp = {" B": math.log(0.6), "A": math.log(0.2), "Sure": math.log(0.1)}
    fake.state.logprobs = lp
    rows = run(fake, tmp_path, "gpt-4o-mini")
    body = fake.state.requests[0].body
    assert (body["logprobs"], body["top_logprobs"], body["max_tokens"]) == (True, 20, 1)
    assert body["messages"][0]["content"].endswith("Answer Choice:")
    assert len(fake.state.requests) == 4  # 2 items x 2 repetitions
    # listed 0.9 -> leftover 0.1 over C, D, E: min(0.1, 0.1 / 3) each (OpinionQA's rule)
    raw = [0.2, 0.6, 0.1 / 3, 0.1 / 3, 0.1 / 3]
    for row in rows:
        assert row["method"] == "top_logprobs"
        assert row["flags"] == ["missing_letters_imputed"]
        assert row["rep_letter_probs"][0] == pytest.approx(raw, abs=1e-6)
        assert row["probs"] == pytest.approx([p / 0.9 for p in raw], abs=1e-6)
        # letter mass: only the letters listed, A 0.2 + B 0.6; the fills are not counted
        assert row["letter_mass"] == pytest.approx([0.8, 0.8])
        assert row["model"] == "gpt-4o-mini-2024-07-18"
    items, _ = load_distribution_files([tmp_path / "mpi" / "gpt-4o-mini.jsonl"], "mpi")
    assert len(items) == 2 and "missing_letters_imputed" in items[0].flags
    text = (tmp_path / "mpi" / "gpt-4o-mini.jsonl").read_text()
    text += (tmp_path / "mpi" / "requests" / "gpt-4o-mini.jsonl").read_text()
    assert not any(key in text for key in api_keys.values())
    # a rerun sends nothing
    run(fake, tmp_path, "gpt-4o-mini")
    assert len(fake.state.requests) == 4


def test_legacy_completions_ask_for_five_logprobs(fake, tmp_path):
    fake.state.logprobs = {" A": math.log(0.5), " B": math.log(0.3), " C": math.log(0.1),
                           " D": math.log(0.05), " E": math.log(0.05)}
    rows = run(fake, tmp_path, "davinci-002")
    assert fake.state.requests[0].body["logprobs"] == 5
    assert "messages" not in fake.state.requests[0].body
    assert rows[0]["flags"] == []
    assert rows[0]["probs"] == pytest.approx([0.5, 0.3, 0.1, 0.05, 0.05])


def test_gemini_logprobs_and_the_refusal_naming_the_sampling_fallback(fake, tmp_path):
    fake.state.logprobs = {"A": math.log(0.7), "B": math.log(0.3)}
    rows = run(fake, tmp_path, "gemini-2.5-flash", base="")
    assert rows[0]["probs"][:2] == pytest.approx([0.7 / 1.0, 0.3 / 1.0], abs=1e-6)
    fake.state.push("logprobs_disabled", times=50)
    with pytest.raises(UserError, match="--samples-per-item"):
        run(fake, tmp_path / "again", "gemini-2.5-flash", base="")


def test_an_answer_without_logprobs_stops_but_a_list_without_letters_is_flagged(fake,
                                                                              tmp_path):
    # Gemini answers 200 with a token but no logprobsResult at all: one line, the fallback
    no_logprobs = {"candidates": [{"content": {"parts": [{"text": "B"}], "role": "model"},
                                   "finishReason": "STOP", "index": 0}],
                   "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 1,
                                     "totalTokenCount": 10},
                   "modelVersion": "gemini-2.5-flash", "responseId": "fake"}
    fake.state.push("status", times=50, status=200, body=json.dumps(no_logprobs))
    with pytest.raises(UserError, match=r"without log-probabilities.*--samples-per-item N") as e:
        run(fake, tmp_path / "none", "gemini-2.5-flash", base="")
    assert "\n" not in str(e.value)
    assert not (tmp_path / "none" / "mpi" / "gemini-2.5-flash.jsonl").exists()  # no empty file
    # log-probabilities given, but no option letter among them: kept, flagged, no numbers
    fake.state.faults.clear()
    fake.state.logprobs = {"Sure": math.log(0.6), "The": math.log(0.3)}
    rows = run(fake, tmp_path / "words", "gemini-2.5-flash", base="")
    assert len(rows) == 2
    for row in rows:
        assert row["flags"] == ["no_option_letter"] and row["probs"] is None
        assert row["letter_mass"] == [0.0, 0.0]
    # a prompt the safety system blocked is flagged as the provider's refusal, not a stop
    five = [0.5, 0.2, 0.1, 0.1, 0.1]
    fake.state.logprobs = {c: math.log(q) for c, q in zip("ABCDE", five, strict=True)}
    fake.state.push("safety_block")
    rows = run(fake, tmp_path / "blocked", "gemini-2.5-flash", base="")
    assert sorted(r["flags"] for r in rows) == [[], ["refused"]]
    blocked = next(r for r in rows if r["flags"])
    assert None in blocked["rep_probs"] and blocked["probs"] == pytest.approx(five)


def test_anthropic_needs_sampling_and_is_estimated_from_samples(fake, tmp_path):
    with pytest.raises(UserError, match="gives no log-probabilities.*--samples-per-item"):
        run(fake, tmp_path, "claude-sonnet-4.5")
    assert fake.state.requests == []
    # the first item is answered with a letter, the second never is
    fake.state.reply = lambda provider, prompt: (
        "B. Moderately accurate" if prompt.endswith(_item_end("Worry about things"))
        else "I would rather not say.")
    rows = run(fake, tmp_path, "claude-sonnet-4.5", "--samples-per-item", "3")
    assert len(fake.state.requests) == 2 * 2 * 3
    body = fake.state.requests[0].body
    assert body["temperature"] == 1.0
    first, second = sorted(rows, key=lambda r: r["item_id"])
    assert first["method"] == "sampling" and "sampled_estimate" in first["flags"]
    assert first["probs"] == [0.0, 1.0, 0.0, 0.0, 0.0]
    assert len(first["responses"][0]) == 3
    assert second["probs"] is None and second["letter_mass"] == [0.0, 0.0]
    items, report = load_distribution_files([tmp_path / "mpi" / "claude-sonnet-4.5.jsonl"],
                                            "mpi")
    assert [i.item_id for i in items] == [0] and report.skipped_no_probs == 1


def _item_end(statement: str) -> str:
    """How our template's item part ends for a statement (prompts end with the item)."""
    from pluralism.items import SurveyItem
    from pluralism.prompts import load_templates

    t = load_templates().mpi
    return t.item_text(SurveyItem("mpi", 0, statement).question, t.answer_choices)


def test_dry_run_prices_the_requests_and_sends_nothing(fake, tmp_path, capsys):
    data = mpi_items_file()
    mpi_main()(["--backend", "gpt-4o-mini", "--base-url", fake.url + "/v1", "--data_dir",
                str(data), "--save_dir", str(tmp_path), "--dry-run"])
    out = capsys.readouterr().out
    assert "to do: 600 of 600 requests" in out and "estimated cost: at most $" in out
    assert fake.state.requests == []


def test_a_rejected_request_leaves_its_item_failed_and_the_run_exits_3(fake, tmp_path, capsys):
    fake.state.logprobs = {"A": math.log(0.5), "B": math.log(0.5)}
    fake.state.push("bad_request", message="Unsupported parameter: 'logprobs'",
                    code="unsupported_parameter")
    data = mpi_items_file()
    args = ["--backend", "gpt-4o", "--base-url", fake.url + "/v1", "--data_dir", str(data),
            "--save_dir", str(tmp_path / "mpi"), "--limit", "2", "--reps", "2", "--no-cache",
            "--no-progress", "--concurrency", "1"]
    assert mpi_main()(args) == EXIT_ROWS_FAILED
    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        "1 item(s) failed; rerun the same command to redo their failed requests")
    rows = [json.loads(x) for x in (tmp_path / "mpi" / "gpt-4o.jsonl").read_text().splitlines()]
    failed = [r for r in rows if r["error"]]
    assert len(failed) == 1 and "unsupported_parameter: HTTP 400" in failed[0]["error"]
    assert failed[0]["probs"] is None  # never a distribution, never a refusal
    assert len(fake.state.requests) == 4  # not retried within the run
    assert mpi_main()(args) == 0  # the rerun redoes the failed request
    assert len(fake.state.requests) == 5


def test_workers_flag_sends_through_worker_processes_and_gives_the_same_rows(
        fake, tmp_path, monkeypatch):
    import harness.send

    built = []
    real = harness.send.create_backend_in_workers

    def spy(name, workers=1, **kwargs):
        built.append(workers)
        return real(name, workers, **kwargs)

    monkeypatch.setattr(harness.send, "create_backend_in_workers", spy)
    fake.state.logprobs = {"A": math.log(0.7), "B": math.log(0.2)}
    one = run(fake, tmp_path / "one", "gpt-4o-mini", "--no-cache")
    two = run(fake, tmp_path / "two", "gpt-4o-mini", "--no-cache", "--workers", "2")
    assert built == [1, 2]
    assert len(fake.state.requests) == 2 * 4

    def same(rows):
        return sorted(({k: v for k, v in r.items() if k != "created_at"} for r in rows),
                      key=lambda r: r["item_id"])

    assert same(two) == same(one) and len(two) == 2
    # the item rows are those harness.schema declares
    assert list(one[0]) == [*DISTRIBUTION_ITEM_FIELDS, DISTRIBUTION_METHOD_FIELD["top_logprobs"]]


def test_workers_are_refused_for_a_local_collection(tmp_path):
    data = mpi_items_file()
    with pytest.raises(UserError, match="--workers is for API backends"):
        mpi_main()(["--backend", "smollm2-135m-instruct", "--data_dir", str(data),
                    "--save_dir", str(tmp_path), "--limit", "1", "--workers", "2"])


def test_retry_errors_flag_redoes_the_failed_request_of_a_collection(fake, tmp_path, capsys):
    fake.state.logprobs = {"A": math.log(0.5), "B": math.log(0.5)}
    fake.state.push("server_error", times=50)
    data = mpi_items_file()
    args = ["--backend", "gpt-4o", "--base-url", fake.url + "/v1", "--data_dir", str(data),
            "--save_dir", str(tmp_path / "mpi"), "--limit", "1", "--reps", "1", "--no-cache",
            "--no-progress", "--max-attempts", "1"]
    assert mpi_main()(args) == EXIT_ROWS_FAILED
    sent = len(fake.state.requests)
    fake.state.faults.clear()
    assert mpi_main()([*args, "--retry-errors"]) == 0
    assert len(fake.state.requests) == sent + 1
    (row,) = [json.loads(x) for x in (tmp_path / "mpi" / "gpt-4o.jsonl").read_text()
              .splitlines()[-1:]]
    assert row["error"] is None and row["probs"] == pytest.approx([0.5, 0.5, 0, 0, 0])


def test_a_steered_api_run_sends_each_target_once_and_resumes(fake, tmp_path):
    fake.state.logprobs = {"A": math.log(0.7), "B": math.log(0.3)}
    steer = ("--steer", "group", "--groups", "SEX=1;COUNTRY=USA")
    rows = run(fake, tmp_path, "gpt-4o-mini", *steer)
    sent = [r.body["messages"][0]["content"] for r in fake.state.requests]
    assert len(sent) == 12  # 2 items x 2 repetitions x (unsteered + 2 groups)
    assert sum(s.startswith("Answer the following questions as a man would") for s in sent) == 4
    assert sum("a person from the USA" in s for s in sent) == 4
    assert sorted((r["item_id"], r["steer_to"] or "") for r in rows) == [
        (i, t) for i in (0, 1) for t in ("", "COUNTRY=USA", "SEX=1")]
    assert all(list(r)[:4] == list(DISTRIBUTION_ITEM_FIELDS[:4]) for r in rows)
    run(fake, tmp_path, "gpt-4o-mini", *steer)  # a rerun sends nothing
    assert len(fake.state.requests) == 12
