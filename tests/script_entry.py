"""A script's main() loaded from scripts/, as `python scripts/<name>.py` runs it."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path


def script_main(name: str) -> Callable[..., int]:
    """scripts/<name>.py's main, loaded from its file as the command line runs it."""
    path = Path(__file__).resolve().parent.parent / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main
