"""A dry run counts and prices exactly what the real run would send (issue 23, item 6): an
error row is done for a run without --retry-errors, so its dry run must not price it; with the
flag both redo it."""

from __future__ import annotations

import re

from core.errors import EXIT_ROWS_FAILED
from tests.fakes.prompt_files import write_prompts_csv
from tests.providers.test_api_generation_e2e import N, generate, prompts, rows_by_id

__all__ = ["prompts"]  # the fixture, imported for these tests


def dry_run(fake, prompts_path, out, capsys, *extra: str) -> tuple[int, int]:
    """(requests to send, already done) as generate.py --dry-run prints them."""
    capsys.readouterr()
    assert generate(fake, prompts_path, out, "--no-cache", "--dry-run", *extra) == 0
    found = re.search(r"requests to send: (\d+) \((\d+) already done\)", capsys.readouterr().out)
    return int(found.group(1)), int(found.group(2))


def test_a_dry_run_without_retry_errors_leaves_error_rows_out_as_the_run_does(
        fake, prompts, tmp_path, capsys) -> None:
    fake.state.push("bad_request", message="Unsupported parameter: 'max_tokens'.",
                    code="unsupported_parameter")
    out = tmp_path / "gen.jsonl"
    assert generate(fake, prompts, out, "--no-cache", "--concurrency", "1") == EXIT_ROWS_FAILED
    assert sum(1 for r in rows_by_id(out).values() if r["error"]) == 1
    write_prompts_csv(prompts, N + 2)  # two new prompts beside the N done (one an error)
    sent = len(fake.state.requests)

    assert dry_run(fake, prompts, out, capsys) == (2, N)  # the error row counts as done
    assert dry_run(fake, prompts, out, capsys, "--retry-errors") == (3, N - 1)
    # the run sends what its dry run counted: the two new prompts only
    assert generate(fake, prompts, out, "--no-cache") == EXIT_ROWS_FAILED
    assert len(fake.state.requests) - sent == 2
    assert dry_run(fake, prompts, out, capsys, "--retry-errors") == (1, N + 1)
