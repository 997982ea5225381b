"""Where the project's data and results live."""

from __future__ import annotations

from pathlib import Path


def _workspace() -> Path:
    """The checkout this package sits in; for an installed copy, the current folder.

    Data/ and results/ live under it, so an installed copy never writes into site-packages.
    """
    checkout = Path(__file__).resolve().parent.parent
    return checkout if (checkout / "pyproject.toml").is_file() else Path.cwd()


REPO_ROOT = _workspace()
DATA_DIR = REPO_ROOT / "Data"
