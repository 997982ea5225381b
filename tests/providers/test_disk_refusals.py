"""Issue 15.6: a disk that refuses a write (full, over a size limit, a read-only cache) gives
one line, not a traceback; every finished row stays whole, a rerun with space completes with
no duplicates, and no empty results file is left behind."""

from __future__ import annotations

import errno
import os
import resource
import signal
import subprocess
import sys

import pytest

from core.errors import UserError
from harness.cache import ResponseCache
from tests.providers.test_api_generation_e2e import REPO, N, generate, prompts, rows_by_id  # noqa: F401


def test_a_full_disk_is_one_line_and_a_rerun_completes(fake, prompts, tmp_path,  # noqa: F811
                                                       monkeypatch) -> None:
    out = tmp_path / "gen.jsonl"
    real_write = os.write
    written = []

    def full_after_three(fd: int, data: bytes) -> int:
        if os.readlink(f"/proc/self/fd/{fd}") == str(out):
            if len(written) == 3:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            written.append(fd)
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_after_three)
    with pytest.raises(UserError, match=r"cannot write results file .*No space left on device.*"
                                        r"rerun the same command"):
        generate(fake, prompts, out, "--no-cache", "--concurrency", "1")
    monkeypatch.setattr(os, "write", real_write)
    assert sorted(rows_by_id(out)) == [0, 1, 2]  # whole rows, nothing half-written
    generate(fake, prompts, out, "--no-cache")
    assert sorted(rows_by_id(out)) == list(range(N))


def _limit_file_size(limit: int):  # noqa: ANN202 - a preexec_fn
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_real_refused_write_in_a_fresh_process_is_one_line(fake, prompts, tmp_path,  # noqa: F811
                                                             api_keys) -> None:
    out = tmp_path / "gen.jsonl"
    env = {**os.environ, **api_keys, "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, str(REPO / "scripts" / "generate.py"), "--backend", "gpt-4o",
           "--base-url", fake.url + "/v1", "--prompts", str(prompts), "--out", str(out),
           "--no-progress", "--no-cache", "--concurrency", "1", "--rpm", "60000"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120,
                          preexec_fn=_limit_file_size(1500))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot write results file {out}: File too large")
    kept = rows_by_id(out)
    assert 0 < len(kept) < N and out.read_bytes().endswith(b"\n")
    subprocess.run(cmd, env=env, capture_output=True, timeout=120, check=True)
    assert sorted(rows_by_id(out)) == list(range(N))


def test_an_unwritable_cache_leaves_no_empty_results_file(fake, prompts, tmp_path) -> None:  # noqa: F811
    out = tmp_path / "gen.jsonl"
    (tmp_path / "not-a-folder").write_text("a file where the cache's folder should be")
    with pytest.raises(UserError, match=r"cannot open response cache"):
        generate(fake, prompts, out, "--cache", str(tmp_path / "not-a-folder" / "c.sqlite"))
    assert not out.exists() and not fake.state.requests


def test_a_cache_that_refuses_a_write_is_one_user_error(tmp_path) -> None:
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        cache._db.execute("PRAGMA query_only = ON")  # SQLite now refuses every write
        with pytest.raises(UserError, match=r"cannot write response cache .*--no-cache"):
            cache.put("k", {"text": "answer"})
