"""Where the tests find the study data mirror (see ../shared/data/README.md).

$CONTESTED_DATA_MIRROR when set; else `shared/data` beside this checkout; else, for a clone of
a local checkout (a CI job's fresh clone in a temporary folder), `shared/data` beside the
checkout it was cloned from.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from core.paths import REPO_ROOT
from sources.manifest import MIRROR_ENV


def _origin_checkout() -> Path | None:
    """The local folder this checkout was cloned from, if it was cloned from one."""
    try:
        url = subprocess.run(["git", "remote", "get-url", "origin"], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(url.removeprefix("file://")) if url else None
    return path.resolve() if path is not None and path.is_dir() else None


def find_mirror() -> Path:
    """The mirror folder (absolute); the first candidate when none holds the data."""
    given = os.environ.get(MIRROR_ENV)
    if given:
        return Path(given).resolve()
    candidates = [REPO_ROOT.parent / "shared" / "data"]
    origin = _origin_checkout()
    if origin is not None:
        candidates.append(origin.parent / "shared" / "data")
    return next((c.resolve() for c in candidates if (c / "neutrality").is_dir()), candidates[0])


def mpi_items_file() -> Path:
    """The mirror's 120 MPI items."""
    return find_mirror() / "pluralism" / "mpi_questions.tsv"
