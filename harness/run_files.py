"""A run's files are distinct: refuse, in one line, a run where two of them are one file.

`--cache` equal to `--out` would turn the results file into a SQLite database; an output
equal to its own input overwrites what it reads. Each file is compared with the others and
with the files kept beside them (a results file's .tmp, .bad and .batches.json, a SQLite
file's -wal and -shm), by resolved path and, where both exist, by identity on disk.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import UserError

#: files a results writer or a batch run keeps beside its results file
RESULTS_SIDE_FILES = (".tmp", ".bad", ".batches.json")
#: files SQLite keeps beside a database in WAL mode
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def _same(a: Path, b: Path) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links, or two names of one mount
    except OSError:
        return False


def check_distinct(files: dict[str, Path | None], *, sqlite: tuple[str, ...] = ()) -> None:
    """`files` maps each file's name for the user (a flag such as "--out") to its path; None
    is a file not used. Names in `sqlite` are SQLite databases, the rest results or inputs."""
    claimed: list[tuple[str, Path]] = []
    for role, path in files.items():
        if path is None:
            continue
        side = SQLITE_SIDE_FILES if role in sqlite else RESULTS_SIDE_FILES
        claimed.append((role, Path(path)))
        claimed.extend((f"{role}'s side file", Path(str(path) + s)) for s in side)
    for i, (role_a, a) in enumerate(claimed):
        for role_b, b in claimed[i + 1:]:
            if role_a.split("'")[0] != role_b.split("'")[0] and _same(a, b):
                raise UserError(f"{role_a} and {role_b} are the same file ({a}); give each "
                                "its own path")


def inside(folder: Path, name: str) -> Path:
    """`folder / name`, refused when `name` would lead out of `folder` (a default output path
    built from a name someone else chose)."""
    path = folder / name
    if Path(name).name != name or name in ("", ".", "..") or not os.path.realpath(
            path).startswith(os.path.realpath(folder) + os.sep):
        raise UserError(f"the default output {path} would leave {folder}; give --out "
                        "explicitly, or rename the entry")
    return path
