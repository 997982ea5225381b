"""Entry-point wrapper and argument types shared by every script in scripts/."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from harness.errors import EXIT_ROWS_FAILED, UserError


def run_main(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> None:
    """Run a script's main; a UserError becomes one line on stderr and exit status 1 (3 for
    RowsFailed); main's return value is the exit status otherwise.

    Ctrl-C exits 130 without a traceback: every long run has already written what it finished.
    """
    try:
        code = main(argv)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(getattr(exc, "exit_status", 1))
    except KeyboardInterrupt:
        print("interrupted: finished results are saved; rerun the same command to resume.",
              file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)


def rows_failed_status(failed: int, what: str = "row(s)",
                       fix: str = "rerun the same command with --retry-errors to redo them"
                       ) -> int:
    """A run's exit status; when rows failed, print the last line saying how many and how to
    redo them. A run exits 0 only when every row is done."""
    if not failed:
        return 0
    print(f"{failed} {what} failed; {fix}")
    return EXIT_ROWS_FAILED


def positive(kind: type) -> object:
    """An argparse type: `kind(text)`, refused unless above zero."""
    def parse(text: str) -> object:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse
