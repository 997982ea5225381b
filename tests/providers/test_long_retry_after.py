"""A provider asking for a wait longer than the runner's cap (Retry-After: 3600): said once,
the requests it asked it for stop early as error rows, the rest of the run goes on."""

from __future__ import annotations

import json
import time

import pytest

from harness.runner import MAX_WAIT_S
from tests.fakes.prompt_files import write_prompts_csv
from tests.script_entry import script_main


@pytest.mark.parametrize("backend", ["gpt-4o", "claude-sonnet-4.5", "gemini-2.5-flash"])
def test_a_wait_over_the_cap_is_said_once_and_stops_those_requests_early(
        fake, tmp_path, capsys, backend) -> None:
    prompts = write_prompts_csv(tmp_path / "prompts.csv", 10)
    fake.state.push("rate_limit", times=8, retry_after=3600)
    out = tmp_path / "gen.jsonl"
    base = fake.url + "/v1" if backend == "gpt-4o" else fake.url
    t0 = time.monotonic()
    status = script_main("generate")([
        "--backend", backend, "--base-url", base, "--prompts", str(prompts), "--out", str(out),
        "--no-progress", "--no-cache", "--max-attempts", "2", "--rpm", "60000", "--tpm", "1e9"])
    assert time.monotonic() - t0 < 20  # not 600 s of waiting
    assert status == 3
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    failed = [r for r in rows if r["error"]]
    assert len(rows) == 10 and len(failed) == 8
    assert all(f"asked to wait 3600 s, over the {MAX_WAIT_S:.0f} s" in r["error"]
               for r in failed)
    assert all(r["attempts"] == 1 for r in failed)  # not retried
    err = capsys.readouterr().err
    assert err.count("asks to wait 3600 s") == 1
    assert "--retry-errors" in err
