"""Entry-point wrapper and argument types shared by every script in scripts/."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from harness.errors import UserError
from harness.redact import install_log_redaction, redact


def run_main(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> None:
    """Run a script's main; a UserError becomes one line on stderr and exit status 1.

    Ctrl-C exits 130 without a traceback: every long run has already written what it finished.
    """
    install_log_redaction()
    try:
        code = main(argv)
    except UserError as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted: finished results are saved; rerun the same command to resume.",
              file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)


def positive(kind: type) -> object:
    """An argparse type: `kind(text)`, refused unless above zero."""
    def parse(text: str) -> object:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse
