"""The `contested` command: one subcommand per module in commands/, running its main().

    contested generate --backend smollm2-135m-instruct --sample 5
    contested annotate --judge gpt-4o --generations results/generations/gpt-4o.jsonl
    contested collect-mpi --backend llama-2-13b

`contested X ARGS` does exactly what `python scripts/<x>.py ARGS` does (both run the same
commands/<x>.py main): the flags, output and exit status are the same.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys

from commands import COMMANDS, command_main
from core.suggest import did_you_mean
from harness.cli import run_main

#: the scripts' own names work too, e.g. `contested create_model_response_mpi`
ALIASES = {module: command for command, module in COMMANDS.items()}


def summary(module: str) -> str:
    """A command's first docstring line, read without importing it (no torch for --help)."""
    spec = importlib.util.find_spec(f"commands.{module}")
    if spec is None or spec.origin is None:
        return ""
    with open(spec.origin, encoding="utf-8") as fh:
        doc = ast.get_docstring(ast.parse(fh.read())) or ""
    return doc.splitlines()[0] if doc else ""


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: contested COMMAND [ARGS...]   (contested COMMAND --help for its flags)",
             "", "commands:"]
    lines += [f"  {name:<{width}}  {summary(module)}" for name, module in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `contested` console script; exits with the script's status."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        try:
            print(usage(), flush=True)
        except BrokenPipeError:  # `contested --help | head`
            sys.stdout = None  # nothing left to flush at exit
        sys.exit(0 if args else 2)
    name, rest = args[0], args[1:]
    command = ALIASES.get(name, name)
    if command not in COMMANDS:
        print(f"contested: unknown command {name!r};"
              f"{did_you_mean(name, [*COMMANDS, *ALIASES])} the commands are: "
              f"{', '.join(COMMANDS)}", file=sys.stderr)
        sys.exit(2)
    main_of_command = command_main(COMMANDS[command])
    sys.argv[0] = f"contested {command}"  # argparse's usage line names the subcommand
    run_main(main_of_command, rest)
