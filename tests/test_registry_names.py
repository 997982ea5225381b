"""Issue 15.8: a registry name is a plain file name, and a default output path never leaves
its folder (an entry named ../../x once wrote its results outside results/)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from backends.registry import load_registry
from core.errors import UserError
from harness.run_files import inside
from neutrality.generate import GENERATIONS_DIR, default_out

REPO = Path(__file__).resolve().parents[1]
ENTRY = {"provider": "openai-compatible", "model_id": "m"}


def extra_registry(tmp_path: Path, name: str) -> Path:
    path = tmp_path / "extra.json"
    path.write_text(json.dumps({name: ENTRY}))
    return path


@pytest.mark.parametrize("name", ["../../x", "a/b", ".hidden", "..", "x y", "a\\b", ""])
def test_names_that_are_not_plain_file_names_are_refused(tmp_path, name) -> None:
    with pytest.raises(UserError, match=r"may hold only letters, digits"):
        load_registry(extra_registry(tmp_path, name))


@pytest.mark.parametrize("name", ["my-model_2.5", "Llama-3.3-70B", "x"])
def test_plain_names_are_accepted(tmp_path, name) -> None:
    assert name in load_registry(extra_registry(tmp_path, name))


def test_generate_refuses_the_entry_before_writing_anything(tmp_path) -> None:
    spec = importlib.util.spec_from_file_location("generate_script", REPO / "scripts" /
                                                  "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    before = set(REPO.rglob("x.jsonl"))
    with pytest.raises(UserError, match=r"'\.\./\.\./x'"):
        module.main(["--backend", "../../x", "--registry", str(extra_registry(tmp_path,
                                                                            "../../x")),
                     "--base-url", "http://127.0.0.1:9/v1", "--no-progress"])
    assert set(REPO.rglob("x.jsonl")) == before


def test_a_default_output_never_leaves_its_folder() -> None:
    assert default_out("gpt-4o", "../../etc/passwd").parent == GENERATIONS_DIR
    for name in ("../x.jsonl", "..", "a/../../b.jsonl"):
        with pytest.raises(UserError, match=r"would leave"):
            inside(GENERATIONS_DIR, name)
    with pytest.raises(UserError, match=r"would leave"):
        default_out("../../x")
