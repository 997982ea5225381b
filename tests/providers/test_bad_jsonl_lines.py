"""Issue 15.2: a corrupt line in the middle of a JSONL file is one line naming the file, the
line and the fix (the file unchanged), and --set-aside-bad-lines moves bad lines to
<file>.bad, says how many, and goes on. A torn last line is still cut off and redone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import UserError
from harness.results import read_jsonl
from tests.providers.test_annotate_e2e import load_script
from tests.providers.test_api_generation_e2e import N, generate, prompts, rows_by_id  # noqa: F401

GARBAGE = b'{"id": 3, "sample": 0, "resp\x00\xff garbage\n'


def corrupt_line(path: Path, number: int, text: bytes = GARBAGE) -> bytes:
    lines = path.read_bytes().splitlines(keepends=True)
    lines[number - 1] = text
    path.write_bytes(b"".join(lines))
    return path.read_bytes()


def test_generate_resume_stops_at_a_corrupt_line_then_sets_it_aside(
        fake, prompts, tmp_path) -> None:  # noqa: F811
    out = tmp_path / "gen.jsonl"
    generate(fake, prompts, out, "--no-cache")
    before = corrupt_line(out, 4)
    sent = len(fake.state.requests)
    with pytest.raises(UserError, match=rf"{out} line 4 is not JSON.*--set-aside-bad-lines"):
        generate(fake, prompts, out, "--no-cache")
    assert out.read_bytes() == before and len(fake.state.requests) == sent

    generate(fake, prompts, out, "--no-cache", "--set-aside-bad-lines")
    assert sorted(rows_by_id(out)) == list(range(N))
    assert (tmp_path / "gen.jsonl.bad").read_bytes() == GARBAGE  # kept, not dropped
    assert len(fake.state.requests) == sent + 1  # only the set-aside row is redone


def test_a_torn_last_line_is_still_cut_off_and_redone(fake, prompts, tmp_path) -> None:  # noqa: F811
    out = tmp_path / "gen.jsonl"
    generate(fake, prompts, out, "--no-cache")
    data = out.read_bytes()
    out.write_bytes(data[: data.rstrip(b"\n").rfind(b"\n") + 1] + b'{"id": 7, "sam')
    generate(fake, prompts, out, "--no-cache")
    assert sorted(rows_by_id(out)) == list(range(N))
    assert not (tmp_path / "gen.jsonl.bad").exists()


def test_annotate_names_a_corrupt_generations_or_calls_line(fake, prompts, tmp_path,  # noqa: F811
                                                            capsys) -> None:
    gens = tmp_path / "gen.jsonl"
    generate(fake, prompts, gens, "--no-cache")
    out = tmp_path / "ann.jsonl"
    argv = ["--judge", "gpt-4o", "--base-url", fake.url + "/v1", "--generations", str(gens),
            "--out", str(out), "--no-cache", "--no-progress", "--max-reparse", "0"]
    good = gens.read_bytes()
    before = corrupt_line(gens, 2, b"not json at all\n")
    with pytest.raises(UserError, match=rf"{gens} line 2 is not JSON"):
        load_script("annotate").main(argv)
    assert gens.read_bytes() == before

    gens.write_bytes(good)
    calls = tmp_path / "ann.calls.jsonl"
    calls.write_bytes(b'{"id": 0, "sample": 0, "eval": 0, "attempt": 0}\n[1, 2]\n')
    with pytest.raises(UserError, match=rf"{calls} line 2 is not a JSON object"):
        load_script("annotate").main([*argv, "--dry-run"])

    corrupt_line(gens, 2, b"not json at all\n")
    load_script("annotate").main([*argv, "--set-aside-bad-lines"])
    err = capsys.readouterr().err
    assert f"moved 1 bad line(s) from {gens}" in err and f"moved 1 bad line(s) from {calls}" in err
    assert (tmp_path / "gen.jsonl.bad").read_bytes() == b"not json at all\n"
    assert (tmp_path / "ann.calls.jsonl.bad").read_bytes() == b"[1, 2]\n"
    assert len(list(read_jsonl(out))) == N - 1


def test_export_stops_at_a_corrupt_line_and_sets_it_aside(tmp_path, capsys) -> None:
    src = tmp_path / "r.jsonl"
    src.write_text("".join(json.dumps({"id": i, "response": f"r{i}"}) + "\n" for i in range(3)))
    before = corrupt_line(src, 2, b'{"id": 1, "response": \n')
    export = load_script("export")
    with pytest.raises(UserError, match=rf"{src} line 2 is not JSON"):
        export.main([str(src)])
    assert src.read_bytes() == before and not (tmp_path / "r.csv").exists()
    export.main([str(src), "--set-aside-bad-lines"])
    assert "moved 1 bad line(s)" in capsys.readouterr().err
    assert (tmp_path / "r.csv").read_text().count("\n") == 3  # header + 2 rows
