"""Issue 15.7: a run whose files collide (--cache equal to --out, an output that is its own
input, a symlink to another run file) is refused in one line before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import UserError
from harness.run_files import check_distinct
from tests.providers.test_annotate_e2e import load_script
from tests.providers.test_api_generation_e2e import generate, prompts  # noqa: F401


def test_cache_equal_to_out_is_refused_and_nothing_changes(fake, prompts, tmp_path) -> None:  # noqa: F811
    out = tmp_path / "gen.jsonl"
    generate(fake, prompts, out, "--no-cache")
    before = out.read_bytes()
    sent = len(fake.state.requests)
    with pytest.raises(UserError, match=r"--out and --cache are the same file"):
        generate(fake, prompts, out, "--cache", str(out), "--retry-errors")
    assert out.read_bytes() == before and len(fake.state.requests) == sent
    assert not out.with_name("gen.jsonl-wal").exists()


def test_out_equal_to_prompts_or_linked_to_cache_is_refused(fake, prompts, tmp_path) -> None:  # noqa: F811
    with pytest.raises(UserError, match=r"--out and --prompts are the same file"):
        generate(fake, prompts, prompts, "--no-cache")
    link = tmp_path / "link.sqlite"
    link.symlink_to(tmp_path / "gen.jsonl")
    with pytest.raises(UserError, match=r"--out and --cache are the same file"):
        generate(fake, prompts, tmp_path / "gen.jsonl", "--cache", str(link))
    assert not fake.state.requests


def test_annotate_out_equal_to_generations_is_refused(fake, prompts, tmp_path) -> None:  # noqa: F811
    gens = tmp_path / "gen.jsonl"
    generate(fake, prompts, gens, "--no-cache")
    before, sent = gens.read_bytes(), len(fake.state.requests)
    with pytest.raises(UserError, match=r"--out and --generations are the same file"):
        load_script("annotate").main(["--judge", "gpt-4o", "--base-url", fake.url + "/v1",
                                      "--generations", str(gens), "--out", str(gens)])
    assert gens.read_bytes() == before and len(fake.state.requests) == sent


def test_a_file_equal_to_another_run_files_side_file_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    with pytest.raises(UserError, match=r"--out's side file and --cache are the same file"):
        check_distinct({"--out": out, "--cache": tmp_path / "o.jsonl.tmp"}, sqlite=("--cache",))
    check_distinct({"--out": out, "--cache": tmp_path / "c.sqlite", "--prompts": None},
                   sqlite=("--cache",))  # distinct files pass
