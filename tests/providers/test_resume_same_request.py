"""A results file holds one run: generate.py (online and --batch-api) reuses a row only if it
was made from the same request (backend, model, prompt text, settings); anything else stops
the run before a request is sent, in one line naming what differs and the two ways out, or
with --redo-stale is asked again."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from core.errors import UserError
from harness.results import read_jsonl
from tests.fakes.batch_server import FakeBatchServer
from tests.fakes.prompt_files import write_prompts_csv
from tests.fakes.server import FakeServer
from tests.providers.test_api_generation_e2e import generate

N = 4


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    return write_prompts_csv(tmp_path / "prompts.csv", N)


def reword(prompts: Path, ids: set[int]) -> None:
    """The test set rebuilt: the prompts of `ids` get another wording."""
    with prompts.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        if int(r["id"]) in ids:
            r["input"] = f"Reworded question {r['id']}?"
    with prompts.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def sent(fake: FakeServer) -> int:
    return len(fake.state.requests)


@pytest.fixture
def first_run(fake: FakeServer, prompts: Path, tmp_path: Path) -> Path:
    out = tmp_path / "gen.jsonl"
    assert generate(fake, prompts, out, "--no-cache", "--max-tokens", "64",
                    "--temperature", "0", "--seed", "1") == 0
    assert sent(fake) == N
    return out


# (flags of the second run, backend, words the stop line holds)
MISMATCHES = {
    "backend": (["--max-tokens", "64", "--temperature", "0", "--seed", "1"], "gpt-4o-mini",
                "backend 'gpt-4o' there, 'gpt-4o-mini' now"),
    "model": (["--model", "gpt-4o-2024-11-20", "--max-tokens", "64", "--temperature", "0",
               "--seed", "1"], "gpt-4o",
              "model 'gpt-4o-2024-08-06' there, 'gpt-4o-2024-11-20' now"),
    "max_tokens": (["--max-tokens", "7", "--temperature", "0", "--seed", "1"], "gpt-4o",
                   "max_tokens 64 there, 7 now"),
    "temperature": (["--max-tokens", "64", "--temperature", "0.9", "--seed", "1"], "gpt-4o",
                    "temperature 0.0 there, 0.9 now"),
    "seed": (["--max-tokens", "64", "--temperature", "0", "--seed", "2"], "gpt-4o",
             "seed 1 there, 2 now"),
}


@pytest.mark.parametrize("kind", sorted(MISMATCHES))
def test_a_row_of_another_request_stops_the_run_before_sending(fake, prompts, first_run,
                                                               kind) -> None:
    flags, backend, words = MISMATCHES[kind]
    before = first_run.read_bytes()
    with pytest.raises(UserError) as info:
        generate(fake, prompts, first_run, "--no-cache", *flags, backend=backend)
    line = str(info.value)
    assert words in line and "\n" not in line
    assert "--out" in line and "--redo-stale" in line
    assert sent(fake) == N  # nothing sent
    assert first_run.read_bytes() == before
    # the dry run says the same line
    with pytest.raises(UserError) as dry:
        generate(fake, prompts, first_run, "--no-cache", "--dry-run", *flags, backend=backend)
    assert str(dry.value) == line


@pytest.mark.parametrize("kind", sorted(MISMATCHES))
def test_redo_stale_asks_again_with_this_runs_request(fake, prompts, first_run, kind,
                                                      capsys) -> None:
    flags, backend, _ = MISMATCHES[kind]
    assert generate(fake, prompts, first_run, "--no-cache", "--redo-stale", *flags,
                    backend=backend) == 0
    assert sent(fake) == 2 * N
    rows = list(read_jsonl(first_run))
    assert sorted(r["id"] for r in rows) == list(range(N))
    assert {r["backend"] for r in rows} == {backend}
    # a third run with the same flags finds every row done
    assert generate(fake, prompts, first_run, "--no-cache", *flags, backend=backend) == 0
    assert sent(fake) == 2 * N
    assert "skipped as already done: 4" in capsys.readouterr().out


def test_a_rebuilt_test_set_stops_the_run_naming_the_prompt_text(fake, prompts,
                                                                 first_run) -> None:
    reword(prompts, {1, 3})
    with pytest.raises(UserError) as info:
        generate(fake, prompts, first_run, "--no-cache", "--max-tokens", "64",
                 "--temperature", "0", "--seed", "1")
    assert "2 row(s) made from another request" in str(info.value)
    assert "another prompt text (2 rows, first id 1, sample 0)" in str(info.value)
    assert sent(fake) == N
    assert generate(fake, prompts, first_run, "--no-cache", "--max-tokens", "64",
                    "--temperature", "0", "--seed", "1", "--redo-stale") == 0
    assert sent(fake) == N + 2  # only the two reworded prompts
    by_id = {r["id"]: r for r in read_jsonl(first_run)}
    assert by_id[1]["response"] == "echo: Reworded question 1?"
    assert by_id[0]["response"] == "echo: Question number 0?"


def test_rows_of_other_settings_outside_this_selection_stop_the_run(fake, prompts,
                                                                    tmp_path) -> None:
    out = tmp_path / "gen.jsonl"
    generate(fake, prompts, out, "--no-cache", "--max-tokens", "64", "--limit", "2")
    with pytest.raises(UserError, match="max_tokens 64 there, 7 now"):
        generate(fake, prompts, out, "--no-cache", "--max-tokens", "7", "--tasks",
                 "unsafe_questions", "--sample", "1", "--seed", "5")
    assert sent(fake) == 2


def test_rows_written_before_the_hash_compare_their_input_text(fake, prompts,
                                                               first_run) -> None:
    old = [json.loads(line) for line in first_run.read_text().splitlines()]
    for r in old:
        r.pop("prompt_sha256")
    first_run.write_text("".join(json.dumps(r) + "\n" for r in old))
    flags = ["--no-cache", "--max-tokens", "64", "--temperature", "0", "--seed", "1"]
    assert generate(fake, prompts, first_run, *flags) == 0
    assert sent(fake) == N  # same input text and settings: done
    reword(prompts, {2})
    with pytest.raises(UserError, match="another prompt text"):
        generate(fake, prompts, first_run, *flags)


@pytest.fixture
def batches(api_keys: dict[str, str]):
    server = FakeBatchServer().start()
    try:
        yield server
    finally:
        server.stop()


def test_a_batch_run_checks_the_rows_before_submitting(batches, prompts, tmp_path) -> None:
    out = tmp_path / "gen.jsonl"
    common = ["--no-cache", "--batch-api", "--poll-interval", "0.001"]
    generate(batches, prompts, out, *common, "--max-tokens", "64")
    assert len(batches.state.created) == 1
    with pytest.raises(UserError, match="max_tokens 64 there, 7 now"):
        generate(batches, prompts, out, *common, "--max-tokens", "7")
    assert len(batches.state.created) == 1  # nothing submitted
    reword(prompts, {0})
    with pytest.raises(UserError, match="another prompt text"):
        generate(batches, prompts, out, *common, "--max-tokens", "64")
    generate(batches, prompts, out, *common, "--max-tokens", "64", "--redo-stale")
    assert [len(batches.state.entries(b)) for b in batches.state.created] == [N, 1]


class Crash(Exception):
    """A kill while the driver waits between polls."""


def test_a_batch_in_flight_is_read_back_only_into_the_request_it_was_sent(
        batches, prompts, tmp_path, monkeypatch) -> None:
    import harness.batch

    out = tmp_path / "gen.jsonl"
    common = ["--no-cache", "--batch-api", "--poll-interval", "0.001"]
    batches.state.hold = True

    async def crash(_: float) -> None:
        raise Crash

    with monkeypatch.context() as m, pytest.raises(Crash):
        m.setattr(harness.batch, "_sleep", crash)
        generate(batches, prompts, out, *common, "--max-tokens", "64")
    assert len(batches.state.created) == 1
    batches.state.hold = False
    # the batch was sent max_tokens 64: its answers are not rows of a max_tokens 7 run
    with pytest.raises(UserError, match="submitted with another prompt text or settings"):
        generate(batches, prompts, out, *common, "--max-tokens", "7")
    assert len(batches.state.created) == 1 and not out.exists()
    generate(batches, prompts, out, *common, "--max-tokens", "7", "--redo-stale")
    assert len(batches.state.created) == 2
    assert {r["params"]["max_tokens"] for r in read_jsonl(out)} == {7}
    assert all(e["body"]["max_tokens"] == 7
               for e in batches.state.entries(batches.state.created[1]))
    # done now: nothing more is submitted, and the old batch's answers are never read in
    generate(batches, prompts, out, *common, "--max-tokens", "7")
    assert len(batches.state.created) == 2


def test_a_batch_run_of_another_backend_is_stopped_before_submitting(batches, prompts,
                                                                     tmp_path) -> None:
    out = tmp_path / "gen.jsonl"
    common = ["--no-cache", "--batch-api", "--poll-interval", "0.001"]
    generate(batches, prompts, out, *common)
    with pytest.raises(UserError, match="backend 'gpt-4o' there, 'gpt-4o-mini' now"):
        generate(batches, prompts, out, *common, backend="gpt-4o-mini")
    assert len(batches.state.created) == 1
