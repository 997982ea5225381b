"""The installable package: the wheel's contents and metadata, an installed copy, the `contested`
command, and load_results.

The wheel is built offline (--no-build-isolation: the venv's setuptools) from a copy of the
checkout, so a stale build/ folder can neither hide nor add a module.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from packaging.requirements import Requirement

from contested_questions import api
from contested_questions.cli import COMMANDS
from core.errors import UserError
from harness.export import export_results

REPO = Path(__file__).resolve().parents[1]
#: top-level folders that are not the project's code (or are not shipped: tests)
NOT_SHIPPED = {"tests", "benchmarks", "build", "results", "reports", "Data", "configs", "docs"}


def code_folders() -> set[str]:
    """Folders at the repository root holding Python modules: each must be a shipped package."""
    return {p.parent.name for p in REPO.glob("*/*.py")
            if not p.parent.name.startswith(".") and p.parent.name not in NOT_SHIPPED}


def requirement_names(lines: list[str]) -> dict[str, Requirement]:
    reqs = [Requirement(line.split("#")[0]) for line in lines if line.split("#")[0].strip()]
    return {r.name.lower(): r for r in reqs}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    src = tmp_path_factory.mktemp("src")
    shutil.copytree(REPO, src, dirs_exist_ok=True, ignore=lambda folder, names: [
        n for n in names if n == "__pycache__" or n.endswith(".egg-info") or (
            Path(folder) == REPO and (n.startswith(".") or n in NOT_SHIPPED))])
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps",
                           "--no-build-isolation", "-q", "-w", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    (path,) = out.glob("contested_questions-*.whl")
    return zipfile.ZipFile(path)


def dist_info(wheel: zipfile.ZipFile, name: str) -> str:
    (member,) = [n for n in wheel.namelist() if n.endswith(".dist-info/" + name)]
    return wheel.read(member).decode()


def test_every_code_folder_is_a_package():
    missing = [f for f in sorted(code_folders()) if not (REPO / f / "__init__.py").is_file()]
    assert not missing, f"add an __init__.py to {missing}: pip install . leaves them out"


def test_wheel_holds_every_package_and_the_data_files_the_code_reads(wheel):
    names = wheel.namelist()
    shipped = {n.split("/")[0] for n in names if n.endswith(".py")}
    assert code_folders() | {"contested_questions"} <= shipped
    assert "backends/__init__.py" in names  # the packaging bug: backends/ was left out
    data = {str(p.relative_to(REPO)) for f in code_folders() for p in (REPO / f).rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts}
    assert {"backends/registry.json", "prompts/judge_template.json", "analysis/html/report.js"
            } <= data
    assert data <= set(names)
    assert not {n for n in names if n.startswith(("tests/", "benchmarks/", "Data/"))}


def test_wheel_declares_the_tested_dependencies_and_the_extras(wheel):
    meta = [line.removeprefix("Requires-Dist: ") for line in dist_info(wheel, "METADATA")
            .splitlines() if line.startswith("Requires-Dist: ")]
    declared = requirement_names(meta)
    tested = requirement_names((REPO / "requirements.txt").read_text().splitlines())
    assert set(declared) == set(tested), (
        "pyproject.toml and requirements.txt name different packages: "
        f"only in pyproject {sorted(set(declared) - set(tested))}, "
        f"only in requirements.txt {sorted(set(tested) - set(declared))}")
    for name, req in tested.items():
        assert declared[name].specifier == req.specifier, name
    runtime = {n for n, r in declared.items() if r.marker is None}
    assert {"torch", "transformers", "openai", "anthropic", "google-genai", "pandas"} <= runtime
    extra = {n: str(r.marker) for n, r in declared.items() if r.marker is not None}
    assert extra["pytest"] == extra["ruff"] == 'extra == "dev"'
    # 4-bit quantization: only on Linux, and only when asked for (a CUDA machine)
    assert extra["bitsandbytes"] == 'sys_platform == "linux" and extra == "gpu"'


def test_wheel_has_the_contested_console_command(wheel):
    entry_points = dist_info(wheel, "entry_points.txt")
    assert "[console_scripts]" in entry_points
    assert "contested = contested_questions.cli:main" in entry_points


def test_an_installed_copy_reads_its_data_files_and_works_in_the_current_folder(wheel, tmp_path):
    site = tmp_path / "site"
    wheel.extractall(site)  # what pip install --no-deps puts in site-packages
    work = tmp_path / "work"
    work.mkdir()
    probe = (
        "import json, backends.registry as r, core.paths as m\n"
        "from annotations.prompts import load_judge_template\n"
        "from contested_questions.cli import usage\n"
        "print(json.dumps({'registry': r.__file__, 'root': str(m.REPO_ROOT),\n"
        "  'backends': len(r.load_registry()), 'judge': str(load_judge_template(None).path),\n"
        "  'usage': usage()}))\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-c", probe], cwd=work, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    assert Path(seen["registry"]).is_relative_to(site)  # the installed copy, not the checkout
    assert Path(seen["judge"]).is_relative_to(site)
    assert seen["backends"] >= 5
    # Data/ and results/ go under the working folder, never into site-packages
    assert Path(seen["root"]) == work.resolve()
    assert "collect-mpi" in seen["usage"] and "Collect a model's answer" in seen["usage"]


def contested(*args: str) -> subprocess.CompletedProcess:
    command = Path(sys.executable).parent / "contested"
    assert command.is_file(), f"{command} is missing: run setup.sh (pip install -e .)"
    return subprocess.run([str(command), *args], capture_output=True, text=True, timeout=120)


def test_console_command_lists_every_script_and_passes_flags_through():
    listing = contested("--help")
    assert listing.returncode == 0, listing.stderr
    scripts = {p.stem for p in (REPO / "scripts").glob("*.py") if p.stem != "__init__"}
    assert set(COMMANDS.values()) == scripts  # one subcommand per script
    for name in COMMANDS:
        assert f"\n  {name} " in listing.stdout
    helped = contested("generate", "--help")
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: contested generate")
    assert "--backend" in helped.stdout and "--batch-api" in helped.stdout


def test_console_command_exit_status_is_the_scripts():
    refused = contested("export", str(REPO / "no-such-results.jsonl"))
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: ") and len(refused.stderr.splitlines()) == 1
    unknown = contested("generat")
    assert unknown.returncode == 2 and "unknown command 'generat'" in unknown.stderr


def test_flags_are_the_scripts_spelling():
    assert api.flags({"max_tokens": 20, "dry_run": True, "no_cache": False, "model": None,
                      "tasks": ["voting_questions", "unsafe_questions"]}) == [
        "--max-tokens", "20", "--dry-run", "--tasks", "voting_questions,unsafe_questions"]


def test_load_results_reads_a_results_file_and_its_exports_alike(tmp_path):
    rows = [{"id": i, "sample": 0, "backend": "m", "response": f"text {i}",
             "usage": {"input_tokens": 3 + i, "output_tokens": 2}, "probs": [0.25, 0.75],
             "error": None if i else "timeout"} for i in range(3)]
    src = tmp_path / "m.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    frame = api.load_results(src)
    assert list(frame["id"]) == [0, 1, 2]
    assert list(frame["usage.input_tokens"]) == [3, 4, 5]  # dict fields become columns
    assert json.loads(frame["probs"][1]) == [0.25, 0.75]
    for fmt in ("csv", "parquet"):
        dest, _ = export_results(src, tmp_path / f"m.{fmt}")
        again = api.load_results(dest)
        assert list(again.columns) == list(frame.columns)
        pd.testing.assert_frame_equal(again.fillna("-"), frame.fillna("-"), check_dtype=False)


@pytest.mark.parametrize("name, message", [("nothing.jsonl", "no results file at"),
                                           ("notes.txt", "takes .jsonl, .csv or .parquet")])
def test_load_results_refuses_with_one_line(tmp_path, name, message):
    if name.endswith(".txt"):
        (tmp_path / name).write_text("hello\n")
    with pytest.raises(UserError, match=message):
        api.load_results(tmp_path / name)
