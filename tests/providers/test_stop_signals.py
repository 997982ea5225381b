"""A run stopped by a signal: one line on stderr, the documented exit status, rows kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.fakes.prompt_files import write_prompts_csv

REPO = Path(__file__).resolve().parents[2]


def test_sigterm_stops_the_run_as_ctrl_c_does_with_one_line_and_status_143(fake, tmp_path
                                                                         ) -> None:
    fake.state.latency_s = 0.3
    prompts = write_prompts_csv(tmp_path / "prompts.csv", 50)
    out = tmp_path / "gen.jsonl"
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "generate.py"), "--backend", "gpt-4o",
         "--base-url", fake.url + "/v1", "--prompts", str(prompts), "--out", str(out),
         "--no-progress", "--no-cache", "--concurrency", "1", "--rpm", "60000", "--tpm", "1e9"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (out.exists() and out.read_text().count("\n") >= 2):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 143
    assert err.strip().splitlines() == [
        "stopped by SIGTERM: finished results are saved; rerun the same command to resume."]
    kept = out.read_text().splitlines()
    assert 2 <= len(kept) < 50
