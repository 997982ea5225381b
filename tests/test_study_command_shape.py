"""The pluralism study's own commands run with the study's meaning of each flag (issue 23,
item 1): `--model-name` is the model to load, `--model` only names the saved output; a model
neither cached nor reachable fails in seconds with one line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from tests.distribution_helpers import (  # noqa: E402
    GLOBALQA_ROWS,
    build_letter_model,
    write_globalqa_csv,
)
from tests.script_entry import script_main  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return build_letter_model(tmp_path_factory.mktemp("letter-llama"))


@pytest.mark.parametrize("dataset", ["mpi", "globalqa"])
def test_the_study_command_loads_model_name_and_names_the_file_after_model(
        dataset, tiny_model, fetched_data, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "unused")  # the script sets it from --huggingface_token
    data = (fetched_data if dataset == "mpi" else
            write_globalqa_csv(tmp_path / "global_opinions.csv", GLOBALQA_ROWS))
    label = f"llama2_7b_{dataset}"
    # the study's README: --model-name MODEL --model LABEL --huggingface_token TOKEN
    status = script_main(f"create_model_response_{dataset}")(
        ["--model-name", str(tiny_model), "--model", label, "--huggingface_token", "hf_x",
         "--data_dir", str(data), "--save_dir", str(tmp_path / "out"), "--limit", "2",
         "--reps", "1", "--no-progress"])
    assert status == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.jsonl")) == [f"{label}.jsonl"]
    rows = [json.loads(line) for line in (tmp_path / "out" / f"{label}.jsonl").open()]
    assert len(rows) == 2
    for row in rows:
        assert row["label"] == label
        assert row["model"] == str(tiny_model)  # what was loaded, not the label
        assert row["model_version"] == str(tiny_model.resolve())
        assert row["probs"] is not None


def test_without_model_the_output_is_named_after_the_backend(tiny_model, fetched_data,
                                                              tmp_path) -> None:
    assert script_main("create_model_response_mpi")(
        ["--model_name", str(tiny_model), "--data_dir", str(fetched_data), "--save_dir",
         str(tmp_path), "--limit", "1", "--reps", "1", "--no-progress"]) == 0
    rows = [json.loads(line) for line in (tmp_path / f"{tiny_model.name}.jsonl").open()]
    assert rows[0]["label"] == rows[0]["backend"] == tiny_model.name


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_model_neither_cached_nor_reachable_fails_in_seconds_with_one_line(
        fetched_data, tmp_path) -> None:
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"),
           "HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}",  # nothing listens there
           "CONTESTED_MODEL_CACHE": str(tmp_path / "models")}
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE"):
        env.pop(name, None)
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "create_model_response_mpi.py"),
         "--model-name", "nobody/llama2-7b-hf", "--model", "llama2_7b_mpi",
         "--data_dir", str(fetched_data), "--save_dir", str(tmp_path / "out"),
         "--limit", "1", "--no-progress"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - start
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: cannot load model nobody/llama2-7b-hf: it is not in the "
                               "Hugging Face cache and the hub cannot be reached")
    assert elapsed < 30, f"took {elapsed:.0f} s"


def test_model_name_naming_a_registry_api_model_asks_that_api(fetched_data, tmp_path,
                                                               capsys) -> None:
    # the study's GPT-3 scripts: --model-name gpt-3.5-turbo --model gpt-3.5-turbo_mpi
    assert script_main("create_model_response_mpi")(
        ["--model-name", "gpt-3.5-turbo", "--model", "gpt-3.5-turbo_mpi", "--data_dir",
         str(fetched_data), "--save_dir", str(tmp_path), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "with gpt-3.5-turbo (gpt-3.5-turbo-0125); method: top_logprobs" in printed
    assert f"output: {tmp_path / 'gpt-3.5-turbo_mpi.jsonl'}" in printed


def test_the_study_data_dir_value_for_globalqa_is_the_hub_dataset_file(tmp_path,
                                                                        monkeypatch) -> None:
    from pluralism import globalqa

    local = write_globalqa_csv(tmp_path / "global_opinions.csv", GLOBALQA_ROWS)
    monkeypatch.setattr(globalqa, "DEFAULT_PATH", local)  # the fetched copy of its CSV
    assert globalqa.resolve_globalqa_path("Anthropic/llm_global_opinions",
                                          download=False) == local


def test_a_missing_model_folder_is_named_as_a_folder(fetched_data, tmp_path) -> None:
    from core.errors import UserError

    missing = tmp_path / "no-such-model"
    with pytest.raises(UserError, match=f"cannot load model {missing}: no such folder"):
        script_main("create_model_response_mpi")(
            ["--model-name", str(missing), "--data_dir", str(fetched_data), "--save_dir",
             str(tmp_path / "out"), "--limit", "1", "--no-progress"])
