"""The project's commands: one module a command, each with the main() that parses its flags,
runs the library functions and prints. `python scripts/<module>.py`, `contested <command>`,
the Python API (contested_questions.api) and a study's stages (study.stages) all run these.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

from core.errors import UserError
from harness.cli import call_main

#: subcommand -> module in commands/ (in the order `contested --help` lists them)
COMMANDS: dict[str, str] = {
    "fetch-data": "fetch_data",
    "create-test-dataset": "create_test_dataset",
    "generate": "generate",
    "annotate": "annotate",
    "create-annotate-prompts": "create_annotate_prompts",
    "agreement": "agreement",
    "analyze-neutrality": "analyze_neutrality",
    "collect-mpi": "create_model_response_mpi",
    "collect-globalqa": "create_model_response_globalqa",
    "overton-responses": "create_overton_responses",
    "annotate-overton": "annotate_overton",
    "overton-agreement": "overton_agreement",
    "analyze-distributions": "analyze_distributions",
    "export": "export",
    "run-study": "run_study",
}

Main = Callable[[list[str] | None], int | None]


def command_main(module: str) -> Main:
    """The main() of commands/<module>.py (imported on use: `--help` loads no torch)."""
    if module not in COMMANDS.values():
        raise UserError(f"unknown command module {module!r}; known: "
                        f"{', '.join(COMMANDS.values())}")
    return importlib.import_module(f"commands.{module}").main


def run_command(script: str, arguments: list[str]) -> int:
    """Run the command of `script` (e.g. "generate.py") in this process, as `python
    scripts/<script> ARGS` would: its output, and its exit status returned (a study stage)."""
    main = command_main(script.removesuffix(".py"))
    program, sys.argv[0] = sys.argv[0], script  # argparse's usage line names the command
    try:
        return call_main(main, arguments)
    except SystemExit as exc:  # argparse refused a flag and printed why
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv[0] = program
