"""The docs' examples run where the docs say they do: every file docs/python_api.md's first
example reads is one that the README's main job (configs/demo.yaml) writes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from study.stages import load_config, study_stages

REPO = Path(__file__).resolve().parents[1]


def first_python_block(doc: Path) -> str:
    return re.search(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S).group(1)


def files_read(code: str) -> list[str]:
    """The string paths given to `prompts=` (the only file the example reads itself)."""
    return [kw.value.value for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Call)
            for kw in node.keywords
            if kw.arg == "prompts" and isinstance(kw.value, ast.Constant)]


def written_by(config: Path) -> set[str]:
    """Every file a stage of the config writes with --out."""
    written = set()
    for stage in study_stages(load_config(config)):
        args = list(stage.args)
        written |= {args[i + 1] for i, a in enumerate(args[:-1]) if a == "--out"}
    return written


def test_the_python_api_first_example_reads_what_the_main_job_wrote():
    code = first_python_block(REPO / "docs" / "python_api.md")
    read = files_read(code)
    assert read, "the example names the test set it reads (prompts=...)"
    assert set(read) <= written_by(REPO / "configs" / "demo.yaml")
