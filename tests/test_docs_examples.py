"""The docs' examples run where the docs say they do: every file docs/python_api.md's first
example reads is one that the README's main job (configs/demo.yaml) writes."""

from __future__ import annotations

import ast
import json
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


def test_the_python_api_example_counts_unreadable_and_failed_judgements(tmp_path):
    """`value_counts()` on final_category alone drops the rows no eval could read."""
    import contested_questions as cq
    from annotations.vote import annotation_row

    generation = {"id": 0, "sample": 0, "backend": "m", "input": "q", "response": "r"}
    readable = "{" + ", ".join(f'"Answer {k}": "{"yes" if k == "A" else "no"}"'
                               for k in "ABCDEF") + ', "Final Answer": 1}'

    def call(i: int, response: str | None, error: str | None = None) -> dict:
        return {"id": i, "sample": 0, "eval": 0, "attempt": 0, "response": response,
                "error": error}

    rows = [annotation_row({**generation, "id": i}, [c], judge="j", judge_model="j",
                           judged_text="r", template="t")
            for i, c in enumerate([call(0, readable), call(1, "I cannot say."),
                                   call(2, None, "APIConnectionError: down")])]
    path = tmp_path / "ann.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    frame = cq.load_results(path)
    code = first_python_block(REPO / "docs" / "python_api.md")
    line = next(x for x in code.splitlines() if "value_counts" in x)
    counts = eval(line, {"frame": frame})
    assert counts.to_dict() == {"refusal": 1, "unreadable": 1, "error": 1}
