"""Run a study's stages in order, resumably.

The stages run in this process through the runner the caller gives (`commands.run_command`:
each command's main() with the stage's arguments). A finished stage is recorded with a
fingerprint of its command and of its input files; a rerun skips it while both are unchanged,
and each command resumes its own partial work, so an interrupted study loses nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import EXIT_ROWS_FAILED, RowsFailed, UserError
from core.files import write_bytes_atomic
from study.stages import Stage

#: runs one stage's command: (its script's file name, e.g. "generate.py", and its
#: arguments) -> the command's exit status
StageRunner = Callable[[str, list[str]], int]
#: scripts that skip their error rows unless told --retry-errors (the collection scripts
#: always redo failed requests)
RETRY_ERRORS_SCRIPTS = ("generate.py", "annotate.py")
#: scripts that stop on rows made from another request unless told --redo-stale (a config
#: edited between runs: other settings, prompts or judge)
REDO_STALE_SCRIPTS = ("generate.py", "annotate.py", "create_model_response_mpi.py",
                      "create_model_response_globalqa.py", "create_overton_responses.py",
                      "annotate_overton.py")


def fingerprint(stage: Stage) -> str:
    """Changes when the command or any input file (size, modification time) changes."""
    digest = hashlib.sha256(json.dumps([stage.script, *stage.args]).encode())
    for path in stage.inputs:
        stat = path.stat() if path.exists() else None
        digest.update(f"{path}:{stat.st_size if stat else -1}:{stat.st_mtime_ns if stat else -1}"
                      .encode())
    return digest.hexdigest()


class StageLog:
    """<results_dir>/stages.json: the fingerprint of every finished stage."""

    def __init__(self, results_dir: Path) -> None:
        self.path = results_dir / "stages.json"
        self.done: dict[str, dict[str, Any]] = (
            json.loads(self.path.read_text()) if self.path.exists() else {}
        )

    def is_done(self, stage: Stage) -> bool:
        return self.done.get(stage.name, {}).get("fingerprint") == fingerprint(stage)

    def mark_done(self, stage: Stage, seconds: float) -> None:
        self.done[stage.name] = {"fingerprint": fingerprint(stage), "seconds": round(seconds, 1),
                                 "command": stage.display()}
        write_bytes_atomic(self.path, json.dumps(self.done, indent=1).encode("utf-8"))


def run_stages(
    stages: list[Stage],
    results_dir: Path,
    *,
    dry_run: bool = False,
    runner: StageRunner,
    echo: Callable[[str], None] = print,
    retry_errors: bool = False,
    redo_stale: bool = False,
) -> dict[str, str]:
    """Run each stage in order with `runner`; returns stage name -> "ran" |
    "skipped (done)" | reason.

    A stage that ends with failed rows stops the study (RowsFailed): later stages would work
    on incomplete input. `retry_errors` passes --retry-errors to the stages that take it,
    `redo_stale` --redo-stale; neither is part of a stage's fingerprint.
    """
    def run(stage: Stage, arguments: list[str]) -> int:
        return runner(stage.script, arguments)

    log = StageLog(results_dir)
    outcome: dict[str, str] = {}
    for stage in stages:
        if stage.optional_reason:
            echo(f"[{stage.name}] skipped: {stage.optional_reason}")
            outcome[stage.name] = stage.optional_reason
            continue
        if dry_run and stage.free:  # a dry run writes nothing, not even free stages' output
            echo(f"[{stage.name}] {stage.display()} (free; not run by a dry run)")
            outcome[stage.name] = "dry run"
            continue
        if dry_run:
            echo(f"[{stage.name}] {stage.display()}")
            missing = [str(p) for p in stage.inputs if not p.exists()]
            if stage.dry_run_args is not None and missing:
                echo(f"  no estimate yet: {', '.join(missing)} is written by an earlier stage")
            elif stage.dry_run_args is not None and run(stage, stage.arguments(dry_run=True)) != 0:
                raise UserError(f"stage '{stage.name}' cannot run (see the error above); fix "
                                "it before spending anything")
            outcome[stage.name] = "dry run"
            continue
        if log.is_done(stage):
            echo(f"[{stage.name}] done already")
            outcome[stage.name] = "skipped (done)"
            continue
        echo(f"[{stage.name}] {stage.display()}")
        start = time.monotonic()
        arguments = stage.arguments()
        if retry_errors and stage.script in RETRY_ERRORS_SCRIPTS:
            arguments.append("--retry-errors")
        if redo_stale and stage.script in REDO_STALE_SCRIPTS:
            arguments.append("--redo-stale")
        code = run(stage, arguments)
        if code == EXIT_ROWS_FAILED:
            raise RowsFailed(f"stage '{stage.name}' ended with failed rows (its last line above "
                             "says how many); rerun the same command with --retry-errors to "
                             "redo them: finished work is kept")
        if code != 0:
            raise UserError(f"stage '{stage.name}' failed (exit {code}); fix the error above and "
                            "rerun the same command: finished work is kept")
        log.mark_done(stage, time.monotonic() - start)
        outcome[stage.name] = "ran"
    return outcome
