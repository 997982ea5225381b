"""Entry-point wrapper and argument types shared by every script in scripts/."""

from __future__ import annotations

import argparse
import copy
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from core.errors import EXIT_ROWS_FAILED, EXIT_USAGE, UserError
from core.progress import quiet_library_bars
from core.suggest import did_you_mean
from harness.redact import install_log_redaction, redact
from harness.results import SET_ASIDE_FLAG, set_aside_bad_lines, side_file


def call_main(main: Callable[[list[str] | None], int | None], argv: list[str] | None) -> int:
    """A command's exit status: main's return value, or for a UserError one line on stderr
    and its status (1; 3 for RowsFailed)."""
    try:
        return main(argv) or 0
    except UserError as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return getattr(exc, "exit_status", 1)


#: exit statuses of a run stopped by a signal (128 + its number), as shells report them
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's or `kill`'s stop), raised where the run is, so the run stops
    as it does on Ctrl-C: what it finished is saved."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


def run_main(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> None:
    """Run a script's main and exit with its status (`call_main`).

    Ctrl-C exits 130 and SIGTERM 143, each with one line and no traceback: every long run
    has already written what it finished.
    """
    install_log_redaction()
    quiet_library_bars()
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        code = call_main(main, argv)
    except KeyboardInterrupt as exc:
        how, status = (("stopped by SIGTERM", EXIT_TERMINATED) if isinstance(exc, Terminated)
                       else ("interrupted", EXIT_INTERRUPTED))
        print(f"{how}: finished results are saved; rerun the same command to resume.",
              file=sys.stderr)
        sys.exit(status)
    sys.exit(code)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """--help shows every option's default, even an option without a help text. A help text
    that already names its default is left as it is (so a secret read from the environment is
    never printed); flags that are off, options without a value and empty lists show none."""

    @staticmethod
    def shows_default(action: argparse.Action) -> bool:
        default = action.default
        return bool(action.option_strings) and not (
            default in (None, argparse.SUPPRESS, [], ())
            or (default is False and action.nargs == 0))

    def add_argument(self, action: argparse.Action) -> None:
        if action.help is None and self.shows_default(action):
            action = copy.copy(action)
            action.help = "(default: %(default)s)"
        super().add_argument(action)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text.lower() or not self.shows_default(action):
            return text
        return f"{text} (default: %(default)s)"


class ScriptParser(argparse.ArgumentParser):
    """A script's parser. One rule for spelling: every long flag takes '-' or '_' between its
    words (`--max-tokens` or `--max_tokens`, as the studies' scripts wrote them), whichever
    `--help` shows. A usage error is one line on stderr, with the closest flags for a mistyped
    one, and exit status 2 (EXIT_USAGE)."""

    def _spelled(self, token: str) -> str:
        if not token.startswith("--") or token == "--":
            return token
        name, eq, value = token.partition("=")
        if name in self._option_string_actions:
            return token
        for other in (name[:2] + name[2:].replace("_", "-"),
                      name[:2] + name[2:].replace("-", "_")):
            # startswith: argparse's own abbreviations (--max_tok) still work
            if any(flag.startswith(other) for flag in self._option_string_actions):
                return other + eq + value
        return token

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def]
        args = sys.argv[1:] if args is None else list(args)
        return super().parse_known_args([self._spelled(str(a)) for a in args], namespace)

    def error(self, message: str) -> NoReturn:
        flags = [f for f in self._option_string_actions if f.startswith("--")]
        hints = ""
        if message.startswith("unrecognized arguments:"):
            for word in message.split(":", 1)[1].split():
                suggestion = did_you_mean(word.split("=")[0], flags)
                if word.startswith("-") and suggestion:
                    hints += f" {word}:{suggestion}"
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message};{hints} "
                              f"`{self.prog} --help` lists the flags\n")


def script_parser(doc: str | None, **kwargs: object) -> argparse.ArgumentParser:
    """The parser of a script: its docstring's first line as the description, every default
    in --help, one spelling rule and one-line usage errors (ScriptParser)."""
    return ScriptParser(description=(doc or "").strip().splitlines()[0] if doc else None,
                        formatter_class=HelpFormatter, **kwargs)


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


def add_set_aside_argument(p: argparse.ArgumentParser) -> None:
    """--set-aside-bad-lines: the explicit way past a corrupt line in a JSONL file."""
    p.add_argument(SET_ASIDE_FLAG, action="store_true",
                   help="move lines of the JSONL files read that are not JSON objects to "
                        "<file>.bad, say how many, and go on (default: stop at the first)")


def set_aside(args: argparse.Namespace, *paths: Path) -> None:
    """With --set-aside-bad-lines, move each file's bad lines aside and say how many moved."""
    if not getattr(args, "set_aside_bad_lines", False):
        return
    for path in paths:
        moved = set_aside_bad_lines(path)
        if moved:
            print(f"moved {moved} bad line(s) from {path} to {side_file(path)}", file=sys.stderr)
